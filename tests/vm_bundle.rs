//! The VM bundles (`vms/<vm>/…`) of every example, and of a topology that
//! exercises what the examples do not (several services on one VM, IPv6,
//! TPROXY, dnsmasq and hosts DNS, SSH on another port, exclusions, the
//! 1.8–1.23 rule flavor), proved real:
//!
//! * a snapshot of every file of every example (`snapshots/vm/<example>/`),
//!   no snapshot left over from a VM or file that is gone, and the same
//!   bytes for the same input;
//! * the modern `cluster.env` is the formatter's istioctl-compatible bytes
//!   under the header, and the legacy `kubedns` file has its 11 lines;
//! * bash reads the env files as meant (`set -a; . cluster.env; .
//!   sidecar.env`), for every key, and for the Bookinfo keys that matter;
//! * `bash -n` and `shellcheck` accept every script, `dnsmasq --test` every
//!   dnsmasq file;
//! * in a throwaway network namespace, `iptables-restore --test` (and
//!   `ip6tables-restore`) accepts every rules file, `iptables.sh apply` run
//!   twice leaves each rule once, and `clean` removes exactly what it added;
//! * `install.sh --root DIR` installs every file once, writes one hosts
//!   block across two runs, and `uninstall` puts DIR back as it was.
//!
//! The tools are external: each test skips (printing why) when one is
//! missing, and fails instead under `MESHC_REQUIRE_E2E=1`.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use meshc::artifact::{Artifact, Mode};
use meshc::check::Checked;
use meshc::emit::vm::bundle;
use meshc::emit::vm::cluster_env::cluster_env;
use meshc::emit::vm::plan::plan;
use meshc::source::Source;
use meshc::syntax::{Limits, Syntax};

use crate::support::{have_tool, prerequisite};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A topology exercising the cases the examples leave out.
const EDGE_CASES: &str = r#"
mesh edge {
    istio "1.22"
    mesh-id edge-mesh
    revision "canary"
}
network dual {
    cidr "10.0.0.0/16"
    cidr "fd00:10::/64"
}
cluster main {
    network dual
    pod-cidr "10.0.128.0/17"
    service-cidr "10.96.0.0/16"
    kube-dns "10.96.0.10"
    cluster-domain "corp.internal"
    control-plane #true
    east-west-gateway "10.0.0.100"
}
vm shared {
    address "fd00:10::20"
    network dual
    ssh "admin@[fd00:10::20]:2222"
    service-account shared-sa
    proxy-uid 990
    proxy-gid 991
    interception tproxy
    dns-server "10.0.0.2"
    dns-server "fd00:10::2"
    inbound-exclude-ports 8081
    outbound-exclude-ports 5432
    outbound-exclude-cidrs "10.0.5.0/24"
    labels tier="backend"
}
vm resolver {
    address "10.0.1.30"
    network dual
    dns dnsmasq
}
vm plain {
    address "10.0.1.31"
    network dual
    dns hosts
}
vm idle {
    address "10.0.1.40"
    network dual
}
service api namespace=apps {
    port http 8080
    port grpc 9090
    deploy v1 vm=shared
    probe http port=8080 path="/ready"
}
service worker namespace=apps {
    port http 8000 target-port=8088
    deploy v1 vm=shared
    calls api
}
service cache namespace=apps {
    port redis 6379
    deploy v2 vm=resolver
    deploy v2 vm=plain
    calls api
}
"#;

/// The legacy flow's cases: TPROXY with the 1.0 script, hosts-only DNS,
/// plain-text control plane, two services on one VM, a VM without services.
const EDGE_LEGACY: &str = r#"
mesh old {
    istio "1.4"
    control-plane-auth NONE
}
network lan {
    cidr "172.16.0.0/16"
}
cluster k8s {
    network lan
    pod-cidr "10.244.0.0/16"
    service-cidr "10.96.0.0/12"
    kube-dns "10.96.0.10"
    control-plane #true
    ilb pilot="172.16.0.50" mixer="172.16.0.51" citadel="172.16.0.52" kube-dns="172.16.0.53"
}
vm box {
    address "172.16.5.5"
    network lan
    ssh "ops@172.16.5.5:2200"
    // One sidecar, one identity for both services (E307).
    service-account box
    interception tproxy
    dns hosts
    inbound-exclude-ports 9100
    outbound-exclude-cidrs "172.16.9.0/24"
}
vm lonely {
    address "172.16.5.6"
    network lan
}
service shop namespace=legacy {
    port http 8080
    deploy v1 vm=box
    entry-point #true
}
service stock namespace=legacy {
    port tcp 5000
    deploy v1 vm=box
    calls shop
}
"#;

/// Every example with a `topology.kdl`, by name, and the edge cases.
fn topologies() -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = std::fs::read_dir(root().join("examples"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.join("topology.kdl").is_file())
                .filter_map(|p| {
                    let name = p.file_name()?.to_str()?.to_owned();
                    let text = std::fs::read_to_string(p.join("topology.kdl")).ok()?;
                    Some((name, "topology.kdl".to_owned(), text))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    assert!(
        out.len() >= 2,
        "expected the bundled examples, found {}",
        out.len()
    );
    for (name, text) in [("edge-cases", EDGE_CASES), ("edge-legacy", EDGE_LEGACY)] {
        out.push((name.to_owned(), format!("{name}.kdl"), text.to_owned()));
    }
    out
}

fn checked(name: &str, file: &str, text: &str) -> Checked {
    let source = Source::new(file.to_owned(), text.to_owned());
    let (checked, diags) = meshc::check_source(&source, Syntax::from_path(file), Limits::default());
    checked.unwrap_or_else(|| panic!("{name} does not check: {diags:#?}"))
}

/// One topology's VM bundles: VM name → its artifacts.
struct Bundles {
    name: String,
    checked: Checked,
    vms: BTreeMap<String, Vec<Artifact>>,
}

fn all_bundles() -> Vec<Bundles> {
    topologies()
        .into_iter()
        .map(|(name, file, text)| {
            let checked = checked(&name, &file, &text);
            let mut vms: BTreeMap<String, Vec<Artifact>> = BTreeMap::new();
            for a in bundle::emit(&checked, &file) {
                let vm = a
                    .path
                    .strip_prefix("vms/")
                    .and_then(|rest| rest.split_once('/'))
                    .map(|(vm, _)| vm.to_owned())
                    .unwrap_or_else(|| panic!("{}: artifact outside vms/<vm>/", a.path));
                vms.entry(vm).or_default().push(a);
            }
            assert!(!vms.is_empty(), "{name}: no VM bundle");
            Bundles { name, checked, vms }
        })
        .collect()
}

fn file_name(a: &Artifact) -> &str {
    a.path.rsplit('/').next().unwrap_or_default()
}

fn get<'a>(files: &'a [Artifact], name: &str) -> Option<&'a Artifact> {
    files.iter().find(|a| file_name(a) == name)
}

/// A bundle written out, with its modes, in a fresh temporary directory.
fn write_bundle(files: &[Artifact]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    // Readable by others, for the test that runs the scripts as nobody.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for a in files {
        let path = dir.path().join(file_name(a));
        std::fs::write(&path, &a.contents).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(a.mode.bits())).unwrap();
    }
    dir
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn ok(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn snapshots_of_every_example_bundle() {
    for b in all_bundles().iter().filter(|b| !b.name.starts_with("edge-")) {
        let dir = root().join("snapshots/vm").join(&b.name);
        let mut expected = BTreeSet::new();
        for (vm, files) in &b.vms {
            for a in files {
                let name = format!("{vm}__{}", file_name(a));
                expected.insert(format!("{name}.snap"));
                insta::with_settings!({
                    snapshot_path => &dir,
                    prepend_module_to_snapshot => false,
                    description => format!("{} ({:?})", a.path, a.mode),
                }, {
                    insta::assert_snapshot!(name, a.contents);
                });
            }
        }
        let orphans: Vec<String> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                    .filter(|n| n.ends_with(".snap") && !expected.contains(n))
                    .collect()
            })
            .unwrap_or_default();
        assert!(orphans.is_empty(), "{}: orphan snapshots {orphans:?}", b.name);
    }
}

#[test]
fn output_is_deterministic_and_complete() {
    for b in all_bundles() {
        let again = bundle::emit(&b.checked, "x");
        let first = bundle::emit(&b.checked, "x");
        assert_eq!(again, first, "{}", b.name);
        let mut paths: Vec<&str> = first.iter().map(|a| a.path.as_str()).collect();
        let sorted = {
            let mut p = paths.clone();
            p.sort_unstable();
            p
        };
        assert_eq!(paths, sorted, "{}: artifacts not sorted by path", b.name);
        paths.dedup();
        assert_eq!(paths.len(), first.len(), "{}: duplicate paths", b.name);
        for (vm, files) in &b.vms {
            for needed in [
                "cluster.env",
                "sidecar.env",
                "iptables.rules",
                "iptables.sh",
                "install.sh",
            ] {
                assert!(get(files, needed).is_some(), "{}/{vm}: no {needed}", b.name);
            }
            for a in files {
                let script = file_name(a).ends_with(".sh");
                assert_eq!(
                    a.mode == Mode::Executable,
                    script,
                    "{}: mode {:?}",
                    a.path,
                    a.mode
                );
                assert!(
                    a.contents.contains("# Code generated by meshc from "),
                    "{}: no generated-file header",
                    a.path
                );
            }
        }
    }
}

#[test]
fn modern_cluster_env_is_the_istioctl_bytes_under_the_header() {
    for b in all_bundles() {
        let topo = b.checked.topology();
        if topo.mesh.flow() != meshc::model::Flow::Modern {
            continue;
        }
        for (v, vm) in topo.vms.iter().enumerate() {
            let plan = plan(&b.checked, v, &meshc::emit::vm::plan::group_names(&b.checked)).unwrap();
            let want = cluster_env(&bundle::workload_env(&plan)).unwrap();
            let files = &b.vms[&vm.name.value];
            let got = &get(files, "cluster.env").unwrap().contents;
            let (first, body) = got.split_once('\n').unwrap();
            assert!(first.starts_with("# Code generated by meshc"), "{first}");
            assert_eq!(body, want, "{}/{}", b.name, vm.name.value);
        }
    }
}

#[test]
fn legacy_kubedns_has_the_eleven_lines() {
    let b = all_bundles()
        .into_iter()
        .find(|b| b.name == "bookinfo-legacy")
        .unwrap();
    for vm in ["ecs-details", "ecs-db"] {
        let conf = &get(&b.vms[vm], "dnsmasq.conf").unwrap().contents;
        let lines: Vec<&str> = conf.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                "server=/svc.cluster.local/192.168.0.53",
                "address=/istio-policy/192.168.0.51",
                "address=/istio-telemetry/192.168.0.51",
                "address=/istio-pilot/192.168.0.50",
                "address=/istio-citadel/192.168.0.52",
                "address=/istio-ca/192.168.0.52",
                "address=/istio-policy.istio-system/192.168.0.51",
                "address=/istio-telemetry.istio-system/192.168.0.51",
                "address=/istio-pilot.istio-system/192.168.0.50",
                "address=/istio-citadel.istio-system/192.168.0.52",
                "address=/istio-ca.istio-system/192.168.0.52",
            ],
            "{vm}"
        );
        assert!(get(&b.vms[vm], "mesh.yaml").is_none(), "legacy has no mesh.yaml");
    }
}

#[test]
fn file_sets_follow_flow_and_dns_mode() {
    let bundles = all_bundles();
    let names = |b: &str, vm: &str| -> BTreeSet<String> {
        let b = bundles.iter().find(|x| x.name == b).unwrap();
        b.vms[vm].iter().map(|a| file_name(a).to_owned()).collect()
    };
    let set = |names: &[&str]| -> BTreeSet<String> { names.iter().map(|s| (*s).to_owned()).collect() };
    let common = [
        "cluster.env",
        "sidecar.env",
        "iptables.rules",
        "iptables.sh",
        "install.sh",
    ];
    let modern = [&common[..], &["mesh.yaml", "hosts", "meshc-iptables.conf"]].concat();
    assert_eq!(names("bookinfo-vm", "ecs-details"), set(&modern));
    assert_eq!(
        names("bookinfo-legacy", "ecs-db"),
        set(&[&common[..], &["dnsmasq.conf"]].concat())
    );
    assert_eq!(
        names("edge-cases", "shared"),
        set(&[&modern[..], &["iptables6.rules"]].concat())
    );
    assert_eq!(
        names("edge-cases", "resolver"),
        set(&[&modern[..], &["iptables6.rules", "dnsmasq.conf"]].concat())
    );
    assert_eq!(
        names("edge-cases", "plain"),
        set(&[&modern[..], &["iptables6.rules"]].concat())
    );
    assert_eq!(
        names("edge-legacy", "box"),
        set(&[&common[..], &["hosts"]].concat())
    );
    assert_eq!(
        names("edge-legacy", "lonely"),
        set(&[&common[..], &["dnsmasq.conf"]].concat())
    );
}

/// `KEY=value` lines as a POSIX shell reads them, for the quoting meshc
/// writes: bare safe characters, `'…'`, and `"'"`.
fn parse_env(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (key, raw) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not an assignment: {line}"));
        let mut value = String::new();
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            match c {
                '\'' => value.extend(chars.by_ref().take_while(|&c| c != '\'')),
                '"' => value.extend(chars.by_ref().take_while(|&c| c != '"')),
                c if c.is_ascii_alphanumeric() || "_@%+=:,./-w".contains(c) => value.push(c),
                c => panic!("unquoted {c:?} in {line}"),
            }
        }
        out.insert(key.to_owned(), value);
    }
    out
}

#[test]
fn env_files_source_to_the_intended_values() {
    if !prerequisite(have_tool("bash"), "bash not found") {
        return;
    }
    let mut spot: BTreeMap<(&str, &str), Vec<(&str, &str)>> = BTreeMap::new();
    spot.insert(
        ("bookinfo-vm", "ecs-details"),
        vec![
            ("ISTIO_INBOUND_PORTS", "9080"),
            ("ISTIO_LOCAL_EXCLUDE_PORTS", "22,15090,15021,15020"),
            ("ISTIO_SERVICE_CIDR", "*"),
            ("ISTIO_CUSTOM_IP_TABLES", "true"),
            ("ISTIO_INBOUND_INTERCEPTION_MODE", "REDIRECT"),
            ("ISTIO_SVC_IP", "192.168.3.201"),
            ("ISTIO_META_NETWORK", "vpc-hangzhou"),
            ("ISTIO_META_CLUSTER_ID", "Kubernetes"),
            ("ISTIO_META_MESH_ID", "mesh1"),
            ("ISTIO_META_WORKLOAD_NAME", "details-v1"),
            ("ISTIO_META_DNS_CAPTURE", "true"),
            ("ISTIO_NAMESPACE", "bookinfo"),
            ("SERVICE_ACCOUNT", "bookinfo-details"),
            ("CANONICAL_SERVICE", "details"),
            ("CANONICAL_REVISION", "v1"),
            ("TRUST_DOMAIN", "cluster.local"),
            // Not pinned: looked up on the VM (user istio-proxy), as
            // istio-iptables does.
            ("PROXY_UID", "<unset>"),
        ],
    );
    spot.insert(
        ("bookinfo-legacy", "ecs-db"),
        vec![
            ("ISTIO_SERVICE_CIDR", "172.21.0.0/20"),
            ("ISTIO_SYSTEM_NAMESPACE", "istio-system"),
            ("ISTIO_CP_AUTH", "MUTUAL_TLS"),
            ("ISTIO_INBOUND_PORTS", "3306"),
            ("ISTIO_LOCAL_EXCLUDE_PORTS", "22,15090,15021,15020"),
            ("ISTIO_SERVICE", "mysqldb"),
            ("ISTIO_NAMESPACE", "bookinfo"),
            ("ISTIO_SVC_IP", "192.168.3.202"),
        ],
    );
    spot.insert(
        ("edge-cases", "shared"),
        vec![
            ("ISTIO_INBOUND_PORTS", "8080,8088,9090"),
            ("ISTIO_LOCAL_EXCLUDE_PORTS", "22,15090,15021,15020,2222,8081"),
            ("ISTIO_INBOUND_INTERCEPTION_MODE", "TPROXY"),
            ("ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE", "5432"),
            ("ISTIO_SERVICE_EXCLUDE_CIDR", "10.0.5.0/24"),
            ("PROXY_UID", "990,0"),
            ("PROXY_GID", "991,0"),
            ("ISTIO_META_WORKLOAD_NAME", "shared"),
            ("SERVICE_ACCOUNT", "shared-sa"),
            ("CA_ADDR", "istiod-canary.istio-system.svc:15012"),
            ("ISTIO_SVC_IP", "fd00:10::20"),
        ],
    );
    spot.insert(
        ("edge-cases", "idle"),
        vec![
            ("ISTIO_INBOUND_PORTS", "*"),
            ("ISTIO_META_WORKLOAD_NAME", "idle"),
            ("ISTIO_NAMESPACE", "default"),
            ("SERVICE_ACCOUNT", "default"),
        ],
    );
    spot.insert(
        ("edge-legacy", "box"),
        vec![
            ("ISTIO_INBOUND_PORTS", "5000,8080"),
            ("ISTIO_LOCAL_EXCLUDE_PORTS", "22,15090,15021,15020,2200,9100"),
            ("ISTIO_INBOUND_INTERCEPTION_MODE", "TPROXY"),
            ("ISTIO_SERVICE_CIDR", "10.96.0.0/12"),
            ("ISTIO_SERVICE_EXCLUDE_CIDR", "172.16.9.0/24"),
            ("ISTIO_CP_AUTH", "NONE"),
            ("ISTIO_PILOT_PORT", "15010"),
            ("ISTIO_SERVICE", "box"),
            ("ISTIO_NAMESPACE", "legacy"),
        ],
    );
    spot.insert(
        ("edge-legacy", "lonely"),
        vec![("ISTIO_INBOUND_PORTS", "<unset>"), ("ISTIO_SERVICE", "lonely")],
    );
    let mut checked_spots = 0;
    for b in all_bundles() {
        for (vm, files) in &b.vms {
            let dir = write_bundle(files);
            let cluster = parse_env(&get(files, "cluster.env").unwrap().contents);
            let sidecar = parse_env(&get(files, "sidecar.env").unwrap().contents);
            // Sourced in this order the later file wins, as in 1.0's
            // istio-iptables.sh; the capture keys are meant from sidecar.env.
            let mut want = cluster.clone();
            want.extend(sidecar.clone());
            let spots = spot.get(&(b.name.as_str(), vm.as_str()));
            let mut keys: BTreeSet<&str> = want.keys().map(String::as_str).collect();
            keys.extend(spots.into_iter().flatten().map(|(k, _)| *k));
            let script = "set -a; . ./cluster.env; . ./sidecar.env; for k; do printf '%s=%s\\0' \"$k\" \"${!k-<unset>}\"; done";
            let out = run(Command::new("bash")
                .args(["-c", script, "bash"])
                .args(&keys)
                .current_dir(dir.path()));
            let text = ok(&out, &format!("{}/{vm}: sourcing the env files", b.name));
            let got: BTreeMap<String, String> = text
                .split('\0')
                .filter(|s| !s.is_empty())
                .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
                .collect();
            let read: BTreeMap<String, String> = got
                .iter()
                .filter(|(k, _)| want.contains_key(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            assert_eq!(read, want, "{}/{vm}", b.name);
            if let Some(values) = spots {
                for (key, value) in values {
                    assert_eq!(
                        got.get(*key).map(String::as_str),
                        Some(*value),
                        "{}/{vm}: {key}",
                        b.name
                    );
                }
                checked_spots += 1;
            }
        }
    }
    assert_eq!(checked_spots, spot.len(), "a spot-checked VM is missing");
}

#[test]
fn scripts_pass_bash_n_and_shellcheck() {
    let have_bash = prerequisite(have_tool("bash"), "bash not found");
    let have_shellcheck = prerequisite(have_tool("shellcheck"), "shellcheck not found");
    for b in all_bundles() {
        for (vm, files) in &b.vms {
            let dir = write_bundle(files);
            for a in files.iter().filter(|a| file_name(a).ends_with(".sh")) {
                let path = dir.path().join(file_name(a));
                assert!(a.contents.starts_with("#!/usr/bin/env bash\n"), "{}", a.path);
                assert!(a.contents.contains("\nset -euo pipefail\n"), "{}", a.path);
                if have_bash {
                    ok(
                        &run(Command::new("bash").arg("-n").arg(&path)),
                        &format!("bash -n {}", a.path),
                    );
                }
                if have_shellcheck {
                    let out = run(Command::new("shellcheck").args(["-s", "bash"]).arg(&path));
                    ok(&out, &format!("{}/{vm}: shellcheck {}", b.name, file_name(a)));
                }
            }
        }
    }
}

#[test]
fn dnsmasq_accepts_every_dnsmasq_file() {
    if !prerequisite(have_tool("dnsmasq"), "dnsmasq not found") {
        return;
    }
    let mut seen = 0;
    for b in all_bundles() {
        for (vm, files) in &b.vms {
            let Some(conf) = get(files, "dnsmasq.conf") else {
                continue;
            };
            let dir = write_bundle(std::slice::from_ref(conf));
            let out = run(Command::new("dnsmasq")
                .arg("--test")
                .arg("-C")
                .arg(dir.path().join("dnsmasq.conf")));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && stderr.contains("syntax check OK"),
                "{}/{vm}: dnsmasq --test: {stderr}",
                b.name
            );
            seen += 1;
        }
    }
    assert!(
        seen >= 3,
        "expected the legacy and edge-case dnsmasq files, saw {seen}"
    );
}

/// Whether we may create network namespaces and load rules: root, `ip`,
/// and the iptables tools.
fn netns_prerequisites() -> bool {
    let root = run(Command::new("id").arg("-u")).stdout == b"0\n";
    prerequisite(root, "not root: network-namespace tests need it")
        && [
            "ip",
            "iptables",
            "iptables-restore",
            "ip6tables",
            "ip6tables-restore",
            "iptables-save",
        ]
        .iter()
        .all(|t| prerequisite(have_tool(t), &format!("{t} not found")))
}

/// A network namespace that exists for the guard's lifetime and is deleted
/// when it drops, also when the test fails.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "meshc-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        ok(
            &run(Command::new("ip").args(["netns", "add", &name])),
            "ip netns add",
        );
        let ns = Netns(name);
        // lo is down in a new namespace, never on a machine; TPROXY's local
        // route needs it up.
        ok(
            &run(&mut ns.exec(&["ip", "link", "set", "lo", "up"])),
            "ip link set lo up",
        );
        ns
    }

    fn exec(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.0]).args(args);
        cmd
    }

    fn save(&self, binary: &str) -> String {
        ok(&run(&mut self.exec(&[binary])), binary)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

#[test]
fn rules_load_in_a_network_namespace() {
    if !netns_prerequisites() {
        return;
    }
    for b in all_bundles() {
        for (vm, files) in &b.vms {
            let dir = write_bundle(files);
            for (rules, binary) in [
                ("iptables.rules", "iptables-restore"),
                ("iptables6.rules", "ip6tables-restore"),
            ] {
                if get(files, rules).is_none() {
                    continue;
                }
                let ns = Netns::new();
                // What apply would load here: the file with this machine's
                // proxy ids and resolv.conf servers filled in.
                let family = if rules == "iptables.rules" { "4" } else { "6" };
                let script = dir.path().join("iptables.sh");
                let shown = run(&mut ns.exec(&["bash", script.to_str().unwrap(), "show", family]));
                let shown = ok(&shown, &format!("{}/{vm}: iptables.sh show {family}", b.name));
                let path = dir.path().join(format!("shown-{family}"));
                std::fs::write(&path, shown).unwrap();
                let file = std::fs::File::open(&path).unwrap();
                let out = run(ns.exec(&[binary, "--test", "--noflush"]).stdin(file));
                ok(&out, &format!("{}/{vm}: {binary} --test {rules}", b.name));
            }
        }
    }
}

#[test]
fn iptables_sh_apply_is_idempotent_and_clean_is_exact() {
    if !netns_prerequisites() {
        return;
    }
    for b in all_bundles() {
        for (vm, files) in &b.vms {
            let what = format!("{}/{vm}", b.name);
            let dir = write_bundle(files);
            let script = dir.path().join("iptables.sh");
            let script = script.to_str().unwrap();
            let ns = Netns::new();
            // Someone else's rules, which clean must leave alone.
            for binary in ["iptables", "ip6tables"] {
                ok(
                    &run(&mut ns.exec(&[binary, "-t", "nat", "-N", "OTHER_CHAIN"])),
                    "-N",
                );
                ok(
                    &run(&mut ns.exec(&[
                        binary,
                        "-t",
                        "nat",
                        "-A",
                        "OUTPUT",
                        "-p",
                        "tcp",
                        "--dport",
                        "9999",
                        "-j",
                        "OTHER_CHAIN",
                    ])),
                    "-A",
                );
            }
            let before: Vec<(String, String)> = ["iptables-save", "ip6tables-save"]
                .iter()
                .map(|s| (s.to_string(), ns.save(s)))
                .collect();

            ok(
                &run(&mut ns.exec(&["bash", script, "apply"])),
                &format!("{what}: apply"),
            );
            let once: Vec<String> = before.iter().map(|(s, _)| ns.save(s)).collect();
            ok(
                &run(&mut ns.exec(&["bash", script, "apply"])),
                &format!("{what}: apply again"),
            );
            let twice: Vec<String> = before.iter().map(|(s, _)| ns.save(s)).collect();
            for (a, b2) in once.iter().zip(&twice) {
                assert_eq!(
                    crate::support::rule_lines(a),
                    crate::support::rule_lines(b2),
                    "{what}: a second apply changed the rules"
                );
            }
            assert!(
                once[0].contains("ISTIO_OUTPUT"),
                "{what}: apply loaded no rules:\n{}",
                once[0]
            );
            if get(files, "iptables6.rules").is_some() {
                assert!(
                    once[1].contains("ISTIO_OUTPUT"),
                    "{what}: no IPv6 rules:\n{}",
                    once[1]
                );
            }
            let tproxy = get(files, "sidecar.env").unwrap().contents.contains("TPROXY");
            if tproxy {
                let rules = ok(&run(&mut ns.exec(&["ip", "rule"])), "ip rule");
                assert_eq!(
                    rules.matches("fwmark 0x539 lookup 133").count(),
                    1,
                    "{what}: {rules}"
                );
            }

            ok(
                &run(&mut ns.exec(&["bash", script, "clean"])),
                &format!("{what}: clean"),
            );
            for (save, text) in &before {
                assert_eq!(
                    crate::support::rule_lines(&ns.save(save)),
                    crate::support::rule_lines(text),
                    "{what}: clean left a difference ({save})"
                );
            }
            let rules = ok(&run(&mut ns.exec(&["ip", "rule"])), "ip rule");
            assert!(!rules.contains("lookup 133"), "{what}: {rules}");
            // Cleaning what is not there is fine too.
            ok(
                &run(&mut ns.exec(&["bash", script, "clean"])),
                &format!("{what}: clean again"),
            );
        }
    }
}

fn tree(dir: &Path) -> BTreeMap<String, (u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                stack.push(p);
                out.insert(rel + "/", (meta.permissions().mode() & 0o7777, Vec::new()));
            } else {
                out.insert(
                    rel,
                    (meta.permissions().mode() & 0o7777, std::fs::read(&p).unwrap()),
                );
            }
        }
    }
    out
}

#[test]
fn install_sh_with_a_root_prefix_installs_once_and_uninstalls() {
    if !prerequisite(
        have_tool("bash") && have_tool("awk") && have_tool("install"),
        "bash, awk or install not found",
    ) {
        return;
    }
    for b in all_bundles() {
        for (vm, files) in &b.vms {
            let what = format!("{}/{vm}", b.name);
            let bundle_dir = write_bundle(files);
            let script = bundle_dir.path().join("install.sh");
            let target = tempfile::tempdir().unwrap();
            let t = target.path();
            std::fs::create_dir_all(t.join("etc/dhcp")).unwrap();
            std::fs::write(t.join("etc/hosts"), "127.0.0.1 localhost\n::1 localhost").unwrap();
            std::fs::write(t.join("etc/dhcp/dhclient.conf"), "request subnet-mask;\n").unwrap();
            // The package's commented template, which uninstall must put back.
            std::fs::create_dir_all(t.join("var/lib/istio/envoy")).unwrap();
            std::fs::write(
                t.join("var/lib/istio/envoy/sidecar.env"),
                "# ISTIO_INBOUND_PORTS=\n",
            )
            .unwrap();
            let pristine = tree(t);

            let install = |env_root: bool| {
                let mut cmd = Command::new("bash");
                cmd.arg(&script);
                if env_root {
                    cmd.env("MESHC_ROOT", t);
                } else {
                    cmd.args(["install", "--root"]).arg(t);
                }
                ok(&run(&mut cmd), &format!("{what}: install.sh"))
            };
            let out = install(false);
            assert!(
                out.contains("kubectl"),
                "{what}: no credential instructions:\n{out}"
            );
            install(true);

            let hosts = std::fs::read_to_string(t.join("etc/hosts")).unwrap();
            assert!(
                hosts.starts_with("127.0.0.1 localhost\n::1 localhost\n"),
                "{what}: {hosts}"
            );
            let hosts_file = get(files, "hosts")
                .map(|a| a.contents.as_str())
                .unwrap_or_default();
            let entries: Vec<&str> = hosts_file.lines().filter(|l| !l.starts_with('#')).collect();
            let blocks = hosts.matches("# BEGIN meshc VM bundle").count();
            assert_eq!(blocks, usize::from(!entries.is_empty()), "{what}: {hosts}");
            for entry in &entries {
                assert_eq!(hosts.matches(entry).count(), 1, "{what}: {hosts}");
            }
            let dnsmasq = get(files, "dnsmasq.conf").is_some();
            let dhclient = std::fs::read_to_string(t.join("etc/dhcp/dhclient.conf")).unwrap();
            assert_eq!(
                dhclient.matches("prepend domain-name-servers 127.0.0.1;").count(),
                usize::from(dnsmasq),
                "{what}: {dhclient}"
            );

            let installed = [
                ("cluster.env", "var/lib/istio/envoy/cluster.env", 0o644),
                ("sidecar.env", "var/lib/istio/envoy/sidecar.env", 0o644),
                ("mesh.yaml", "etc/istio/config/mesh", 0o644),
                ("dnsmasq.conf", "etc/dnsmasq.d/kubedns", 0o644),
                ("iptables.rules", "usr/local/lib/meshc/iptables.rules", 0o644),
                ("iptables6.rules", "usr/local/lib/meshc/iptables6.rules", 0o644),
                ("iptables.sh", "usr/local/lib/meshc/iptables.sh", 0o755),
                (
                    "meshc-iptables.conf",
                    "etc/systemd/system/istio.service.d/meshc-iptables.conf",
                    0o644,
                ),
            ];
            for (file, dest, mode) in installed {
                let path = t.join(dest);
                match get(files, file) {
                    Some(a) => {
                        assert_eq!(
                            std::fs::read_to_string(&path).ok().as_deref(),
                            Some(a.contents.as_str()),
                            "{what}: {dest}"
                        );
                        let got = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
                        assert_eq!(got, mode, "{what}: mode of {dest}");
                        // Only what was there before meshc is kept, across
                        // both runs.
                        let kept = std::fs::read_to_string(t.join(format!("{dest}.meshc-orig"))).ok();
                        let want = (file == "sidecar.env").then_some("# ISTIO_INBOUND_PORTS=\n");
                        assert_eq!(kept.as_deref(), want, "{what}: backup of {dest}");
                    }
                    None => assert!(
                        !path.exists(),
                        "{what}: {dest} installed without being in the bundle"
                    ),
                }
            }

            let out = run(Command::new("bash")
                .arg(&script)
                .args(["uninstall", "--root"])
                .arg(t));
            ok(&out, &format!("{what}: install.sh uninstall"));
            let after = tree(t);
            // Directories install created may stay; files may not, and the
            // files that were there are back byte for byte (the hosts file
            // gains the newline it lacked).
            let files_after: BTreeMap<&String, &(u32, Vec<u8>)> =
                after.iter().filter(|(p, _)| !p.ends_with('/')).collect();
            let mut files_before: BTreeMap<&String, &(u32, Vec<u8>)> =
                pristine.iter().filter(|(p, _)| !p.ends_with('/')).collect();
            let fixed_hosts = (0o644, b"127.0.0.1 localhost\n::1 localhost\n".to_vec());
            let key = "etc/hosts".to_owned();
            files_before.insert(&key, &fixed_hosts);
            let strip = |m: BTreeMap<&String, &(u32, Vec<u8>)>| -> BTreeMap<String, Vec<u8>> {
                m.into_iter().map(|(k, (_, v))| (k.clone(), v.clone())).collect()
            };
            assert_eq!(
                strip(files_after),
                strip(files_before),
                "{what}: uninstall left a difference"
            );
        }
    }
}

#[test]
fn install_sh_refuses_non_root_without_a_prefix() {
    let nobody = have_tool("setpriv") && run(Command::new("id").arg("-u")).stdout == b"0\n";
    if !prerequisite(
        nobody,
        "setpriv or root missing: cannot run install.sh as another user",
    ) {
        return;
    }
    let b = all_bundles()
        .into_iter()
        .find(|b| b.name == "bookinfo-vm")
        .unwrap();
    let files = &b.vms["ecs-details"];
    let dir = write_bundle(files);
    let out = run(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "bash"])
        .arg(dir.path().join("install.sh")));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("run as root"),
        "{out:?}"
    );
    let out = run(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "bash"])
        .arg(dir.path().join("iptables.sh"))
        .arg("apply"));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("must run as root"),
        "{out:?}"
    );
}

/// A VM that still carries the jumps an older istio-iptables wrote
/// (`-A OUTPUT -p tcp -j ISTIO_OUTPUT`): `apply` must replace them rather
/// than fail on the chain being in use, and `clean` must still leave other
/// programs' rules alone.
#[test]
fn apply_replaces_jumps_left_by_an_older_istio_iptables() {
    if !netns_prerequisites() {
        return;
    }
    let bundles = all_bundles();
    let b = bundles
        .iter()
        .find(|b| b.name == "bookinfo-vm")
        .expect("bookinfo-vm");
    let dir = write_bundle(&b.vms["ecs-db"]);
    let script = dir.path().join("iptables.sh");
    let script = script.to_str().unwrap();
    let ns = Netns::new();
    for args in [
        &["iptables", "-t", "nat", "-N", "ISTIO_OUTPUT"][..],
        &[
            "iptables",
            "-t",
            "nat",
            "-A",
            "OUTPUT",
            "-p",
            "tcp",
            "-j",
            "ISTIO_OUTPUT",
        ],
        &["iptables", "-t", "nat", "-N", "KEEPME"],
        &[
            "iptables", "-t", "nat", "-A", "OUTPUT", "-p", "udp", "-j", "KEEPME",
        ],
    ] {
        ok(&run(&mut ns.exec(args)), "seeding old rules");
    }
    ok(
        &run(&mut ns.exec(&["bash", script, "apply"])),
        "iptables.sh apply",
    );
    ok(
        &run(&mut ns.exec(&["bash", script, "clean"])),
        "iptables.sh clean",
    );
    let left = crate::support::rule_lines(&ns.save("iptables-save"));
    assert!(!left.iter().any(|l| l.contains("ISTIO_")), "{left:#?}");
    assert!(left.iter().any(|l| l.contains("-j KEEPME")), "{left:#?}");
}
