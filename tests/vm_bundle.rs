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
// Serves only: a `dns hosts` VM cannot resolve what it would call (E805).
service cache namespace=apps {
    port redis 6379
    deploy v2 vm=resolver
    deploy v2 vm=plain
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
        for (v, vm) in topo.vm_ids() {
            let plan = plan(&b.checked, v, &meshc::emit::vm::plan::group_names(&b.checked));
            let want = cluster_env(&bundle::workload_env(&plan));
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
        "fetch-credentials.sh",
        ".gitignore",
    ];
    let modern = [&common[..], &["mesh.yaml", "hosts", "meshc-iptables.conf"]].concat();
    let legacy = [&common[..], &["check-ilbs.sh"]].concat();
    assert_eq!(names("bookinfo-vm", "ecs-details"), set(&modern));
    assert_eq!(
        names("bookinfo-legacy", "ecs-db"),
        set(&[&legacy[..], &["dnsmasq.conf"]].concat())
    );
    assert_eq!(
        names("edge-cases", "shared"),
        set(&[&modern[..], &["iptables6.rules"]].concat())
    );
    assert_eq!(
        names("edge-cases", "resolver"),
        set(&[&modern[..], &["iptables6.rules"]].concat())
    );
    assert_eq!(
        names("edge-cases", "plain"),
        set(&[&modern[..], &["iptables6.rules"]].concat())
    );
    assert_eq!(
        names("edge-legacy", "box"),
        set(&[&legacy[..], &["hosts"]].concat())
    );
    assert_eq!(
        names("edge-legacy", "lonely"),
        set(&[&legacy[..], &["dnsmasq.conf"]].concat())
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
            ("ISTIO_LOCAL_EXCLUDE_PORTS", "22"),
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
            ("ISTIO_LOCAL_EXCLUDE_PORTS", "22,2200,9100"),
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

/// A VM managed over SSH on 2222 runs an SSH service on 22, and a VM
/// managed without SSH does too: 22 is captured like any service port, the
/// management port stays out, and the kernel loads the rules that say so.
#[test]
fn port_22_is_captured_when_it_is_not_the_management_port() {
    let text = r#"
mesh shop { istio "1.24" }
network vpc { cidr "10.0.0.0/16" }
cluster prod {
    network vpc
    pod-cidr "10.8.0.0/16"
    service-cidr "10.9.0.0/16"
    control-plane #true
    east-west-gateway "10.0.0.100"
}
vm git { address "10.0.1.7"; network vpc; ssh "ops@10.0.1.7:2222" }
vm sftp { address "10.0.1.8"; network vpc }
vm plain { address "10.0.1.9"; network vpc; ssh "ops@10.0.1.9" }
service git-ssh { port tcp-ssh 22; deploy v1 vm=git; entry-point #true }
service sftp { port tcp-sftp 22; deploy v1 vm=sftp; entry-point #true }
service web { port http 8080; deploy v1 vm=plain; entry-point #true }
"#;
    let checked = checked("port-22", "port-22.kdl", text);
    let mut vms: BTreeMap<String, Vec<Artifact>> = BTreeMap::new();
    for a in bundle::emit(&checked, "port-22.kdl") {
        let vm = a.path.split('/').nth(1).unwrap().to_owned();
        vms.entry(vm).or_default().push(a);
    }
    let excluded = |vm: &str| {
        let env = parse_env(&get(&vms[vm], "sidecar.env").unwrap().contents);
        env["ISTIO_LOCAL_EXCLUDE_PORTS"].clone()
    };
    assert_eq!(excluded("git"), "15090,15021,15020,2222");
    assert_eq!(excluded("sftp"), "15090,15021,15020");
    // No service on 22: it stays out, as does the management port.
    assert_eq!(excluded("plain"), "22,15090,15021,15020");
    if !netns_prerequisites() {
        return;
    }
    for (vm, captured, spared) in [
        ("git", Some(22), Some(2222)),
        ("sftp", Some(22), None),
        ("plain", None, Some(22)),
    ] {
        let dir = write_bundle(&vms[vm]);
        let ns = Netns::new();
        // What apply loads: the rules with this machine's ids filled in.
        let script = dir.path().join("iptables.sh");
        let shown = run(&mut ns.exec(&["bash", script.to_str().unwrap(), "show", "4"]));
        let path = dir.path().join("shown-4");
        std::fs::write(&path, ok(&shown, "iptables.sh show 4")).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        ok(
            &run(ns.exec(&["iptables-restore"]).stdin(file)),
            "iptables-restore",
        );
        let nat = ok(
            &run(&mut ns.exec(&["iptables-save", "-t", "nat"])),
            "iptables-save",
        );
        let redirects = |port: u16| nat.contains(&format!("--dport {port} -j ISTIO_IN_REDIRECT"));
        if let Some(p) = captured {
            assert!(redirects(p), "{vm}: {p} is not captured:\n{nat}");
        }
        if let Some(p) = spared {
            assert!(!redirects(p), "{vm}: {p} is captured:\n{nat}");
        }
    }
}

/// A one-VM WorkloadEntry-flow topology, its control plane in `namespace`
/// (default `istio-system`) at `revision` (default none).
fn discovery_topology(namespace: Option<&str>, revision: Option<&str>) -> String {
    let mut mesh = String::from("    istio \"1.24\"\n");
    if let Some(ns) = namespace {
        mesh.push_str(&format!("    control-plane-namespace {ns}\n"));
    }
    if let Some(rev) = revision {
        mesh.push_str(&format!("    revision {rev}\n"));
    }
    format!(
        r#"
mesh m {{
{mesh}}}
network lan {{
    cidr "10.1.0.0/16"
}}
cluster c {{
    network lan
    pod-cidr "10.244.0.0/16"
    service-cidr "10.96.0.0/16"
    control-plane #true
    east-west-gateway "10.1.0.100"
}}
vm box {{
    address "10.1.0.5"
    network lan
}}
service api namespace=apps {{
    port http 8080
    deploy v1 vm=box
    entry-point #true
}}
"#
    )
}

/// The names a `hosts` file gives addresses to.
fn hosts_names(hosts: &str) -> BTreeSet<String> {
    hosts
        .lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(|l| l.split_whitespace().skip(1))
        .map(str::to_owned)
        .collect()
}

/// `defaultConfig.discoveryAddress` of a ProxyConfig-bearing YAML document
/// (`mesh.yaml`), or of a bare ProxyConfig (`PROXY_CONFIG`).
fn discovery_address(yaml: &str, nested: bool) -> Option<String> {
    let value: serde_json::Value = serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{e}: {yaml}"));
    let config = if nested {
        value.get("defaultConfig")?
    } else {
        &value
    };
    config.get("discoveryAddress")?.as_str().map(str::to_owned)
}

/// #15.5: for the default control plane, one in another namespace, a
/// revision, and both, Istio's own `istio-start.sh` (each release line's, run
/// for real in a temporary root with a stand-in pilot-agent that records its
/// environment) starts the agent with a CA address and a discovery address
/// whose host the bundle's `hosts` file resolves. The discovery address is
/// what pilot-agent makes of it: `PROXY_CONFIG` over `mesh.yaml`'s
/// `defaultConfig` over the built-in `istiod.istio-system.svc:15012`
/// (`ConstructProxyConfig` in `pilot/cmd/pilot-agent/config`).
#[test]
fn the_agent_dials_a_name_the_hosts_file_resolves() {
    let Some(reference) = crate::support::reference_dir() else {
        return;
    };
    let combinations = [
        (None, None),
        (Some("mesh-cp"), None),
        (None, Some("canary")),
        (Some("mesh-cp"), Some("canary")),
    ];
    for release in ["1.24.6", "1.28.10"] {
        let start = reference
            .join("istio/install")
            .join(release)
            .join("istio-start.sh");
        assert!(start.is_file(), "{} is missing", start.display());
        for (namespace, revision) in combinations {
            let what = format!("istio-start.sh {release}, namespace {namespace:?}, revision {revision:?}");
            let text = discovery_topology(namespace, revision);
            let checked = checked(&what, "t.kdl", &text);
            let files = bundle::emit(&checked, "t.kdl");
            let text_of = |name: &str| {
                get(&files, name)
                    .unwrap_or_else(|| panic!("{what}: no {name}"))
                    .contents
                    .to_string()
            };
            let root = tempfile::tempdir().unwrap();
            let put = |path: &str, contents: &str| {
                let path = root.path().join(path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, contents).unwrap();
            };
            put("var/lib/istio/envoy/cluster.env", &text_of("cluster.env"));
            put("var/lib/istio/envoy/sidecar.env", &text_of("sidecar.env"));
            put("etc/istio/config/mesh", &text_of("mesh.yaml"));
            let bin = root.path().join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            let agent = bin.join("pilot-agent");
            std::fs::write(
                &agent,
                "#!/bin/bash\nprintf '%s' \"$CA_ADDR\" >\"$MESHC_OUT/ca\"\nprintf '%s' \"$PROXY_CONFIG\" >\"$MESHC_OUT/proxy-config\"\n",
            )
            .unwrap();
            std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
            let out = tempfile::tempdir().unwrap();
            // As systemd starts it: from /, here the temporary root; as
            // istio-proxy (the script then runs the agent directly).
            ok(
                &run(Command::new("bash")
                    .arg(&start)
                    .current_dir(root.path())
                    .env_clear()
                    .env("PATH", "/usr/bin:/bin")
                    .env("USER", "istio-proxy")
                    .env("POD_NAME", "box")
                    .env("ISTIO_BIN_BASE", &bin)
                    .env("MESHC_OUT", out.path())),
                &what,
            );
            let ca = std::fs::read_to_string(out.path().join("ca")).unwrap();
            let proxy_config = std::fs::read_to_string(out.path().join("proxy-config")).unwrap();
            let discovery = discovery_address(&proxy_config, false)
                .or_else(|| discovery_address(&text_of("mesh.yaml"), true))
                .unwrap_or_else(|| "istiod.istio-system.svc:15012".to_owned());
            let names = hosts_names(&text_of("hosts"));
            let expected = format!(
                "{}.{}.svc",
                revision.map_or_else(|| "istiod".to_owned(), |r| format!("istiod-{r}")),
                namespace.unwrap_or("istio-system")
            );
            assert_eq!(
                names,
                BTreeSet::from([expected]),
                "{what}: the hosts file names the wrong istiod"
            );
            for (role, address) in [("CA", &ca), ("discovery", &discovery)] {
                let (host, port) = address
                    .rsplit_once(':')
                    .unwrap_or_else(|| panic!("{what}: {role} address {address:?} has no port"));
                assert!(
                    names.contains(host),
                    "{what}: the agent's {role} address {address} is not in hosts {names:?}"
                );
                assert_eq!(port, "15012", "{what}: {role} address {address}");
            }
        }
    }
}

/// A stand-in for the sidecar package's `istio.service` (the unit Istio's
/// .deb and .rpm install, `tools/packaging/common/istio.service`): the same
/// directives, for systemd to check meshc's drop-in against.
const ISTIO_SERVICE: &str = "[Unit]
Description=istio-sidecar: The Istio sidecar
Documentation=http://istio.io/
StartLimitIntervalSec=0

[Service]
ExecStart=/usr/local/bin/istio-start.sh
ExecStartPre=+/usr/bin/install -d -o istio-proxy -m 0755 /var/run/secrets
ExecStopPost=/usr/local/bin/istio-start.sh clean
Restart=always
RestartSec=10
KillMode=mixed
TimeoutStopSec=30s

[Install]
WantedBy=multi-user.target
";

/// A stand-in for Istio 1.0's node agent unit.
const NODE_AGENT_SERVICE: &str = "[Unit]
Description=istio-auth-node-agent: The Istio auth node agent

[Service]
ExecStart=/usr/local/bin/node_agent
Restart=always

[Install]
WantedBy=multi-user.target
";

/// A system root for `systemctl --root` and `systemd-analyze verify
/// --root`: this machine's system units, the package's units (stand-ins)
/// and stand-ins for the programs they run.
fn unit_root(legacy: bool) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let units = root.path().join("usr/lib/systemd/system");
    std::fs::create_dir_all(&units).unwrap();
    ok(
        &run(Command::new("cp")
            .arg("-a")
            .arg("/lib/systemd/system/.")
            .arg(&units)),
        "copy the system units",
    );
    std::fs::write(units.join("istio.service"), ISTIO_SERVICE).unwrap();
    let mut programs = vec!["usr/bin/install", "usr/local/bin/istio-start.sh"];
    if legacy {
        std::fs::write(units.join("istio-auth-node-agent.service"), NODE_AGENT_SERVICE).unwrap();
        programs.push("usr/local/bin/node_agent");
    }
    for program in programs {
        let path = root.path().join(program);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    root
}

fn enabled(root: &Path, unit: &str) -> bool {
    std::fs::symlink_metadata(root.join("etc/systemd/system/multi-user.target.wants").join(unit)).is_ok()
}

/// Puts the VM's credentials where the agent reads them, in `root`.
fn place_credentials(root: &Path, legacy: bool) {
    let files: &[&str] = if legacy {
        &[
            "etc/certs/root-cert.pem",
            "etc/certs/cert-chain.pem",
            "etc/certs/key.pem",
        ]
    } else {
        &["var/run/secrets/tokens/istio-token", "etc/certs/root-cert.pem"]
    };
    for f in files {
        let path = root.join(f);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "x\n").unwrap();
    }
}

fn systemd_prerequisites() -> bool {
    prerequisite(
        have_tool("systemctl")
            && have_tool("systemd-analyze")
            && Path::new("/lib/systemd/system/multi-user.target").is_file(),
        "systemd (systemctl, systemd-analyze, the system units) not found",
    )
}

/// #15.3: with its credentials in place, install.sh enables the units the
/// package leaves disabled (offline, `systemctl --root`, the same code path
/// as on a VM); `systemd-analyze verify` accepts the package's unit with
/// meshc's drop-in, whose rules are loaded (`ExecStartPre`) before the
/// agent starts and after the network is up; uninstall disables what
/// install enabled, and only that.
#[test]
fn the_sidecar_survives_a_reboot() {
    if !systemd_prerequisites() || !prerequisite(have_tool("bash"), "bash not found") {
        return;
    }
    let mut seen = 0;
    for b in all_bundles() {
        let legacy = b.checked.topology().mesh.flow() == meshc::model::Flow::Legacy;
        let units: &[&str] = if legacy {
            &["istio-auth-node-agent.service", "istio.service"]
        } else {
            &["istio.service"]
        };
        for (vm, files) in &b.vms {
            let what = format!("{}/{vm}", b.name);
            let bundle_dir = write_bundle(files);
            let script = bundle_dir.path().join("install.sh");
            let root = unit_root(legacy);
            let r = root.path();
            let install_sh = |args: &[&str]| {
                ok(
                    &run(Command::new("bash").arg(&script).args(args).arg("--root").arg(r)),
                    &format!("{what}: install.sh {args:?}"),
                )
            };

            // Without credentials nothing is enabled: the proxy would fail
            // at every boot behind rules that send traffic to it.
            install_sh(&["install"]);
            for unit in units {
                assert!(!enabled(r, unit), "{what}: {unit} enabled without credentials");
            }
            place_credentials(r, legacy);
            let out = install_sh(&["install"]);
            for unit in units {
                assert!(enabled(r, unit), "{what}: {unit} not enabled:\n{out}");
            }

            if !legacy {
                let verify = run(Command::new("systemd-analyze")
                    .arg("verify")
                    .arg(format!("--root={}", r.display()))
                    .arg("istio.service"));
                ok(&verify, &format!("{what}: systemd-analyze verify"));
                assert!(
                    verify.stderr.is_empty(),
                    "{what}: systemd-analyze verify warns:\n{}",
                    String::from_utf8_lossy(&verify.stderr)
                );
                // The unit as systemd loaded it, drop-in merged.
                let dump = run(Command::new("systemd-analyze")
                    .env("SYSTEMD_LOG_LEVEL", "debug")
                    .arg("verify")
                    .arg(format!("--root={}", r.display()))
                    .arg("istio.service"));
                let dump = String::from_utf8_lossy(&dump.stderr).into_owned()
                    + &String::from_utf8_lossy(&dump.stdout);
                let commands: Vec<&str> = dump
                    .lines()
                    .map(str::trim)
                    .filter(|l| l.starts_with("-> Exec") || l.starts_with("Command Line:"))
                    .collect();
                let pos = |line: &str| {
                    commands
                        .iter()
                        .position(|l| *l == line)
                        .unwrap_or_else(|| panic!("{what}: no {line:?} in {commands:#?}"))
                };
                let pre = pos("-> ExecStartPre:");
                let apply = pos("Command Line: /usr/local/lib/meshc/iptables.sh apply");
                let start = pos("-> ExecStart:");
                let agent = pos("Command Line: /usr/local/bin/istio-start.sh");
                assert!(
                    pre < apply && apply < start && start < agent,
                    "{what}: {commands:#?}"
                );
                assert!(
                    dump.lines()
                        .any(|l| l.trim() == "After: network-online.target (origin-file)"),
                    "{what}: the drop-in's ordering is not loaded"
                );
            }

            install_sh(&["uninstall"]);
            for unit in units {
                assert!(!enabled(r, unit), "{what}: {unit} still enabled after uninstall");
            }
            // A unit the operator had enabled stays enabled.
            ok(
                &run(Command::new("systemctl")
                    .arg(format!("--root={}", r.display()))
                    .arg("enable")
                    .arg("istio.service")),
                "systemctl enable",
            );
            install_sh(&["install"]);
            install_sh(&["uninstall"]);
            assert!(
                enabled(r, "istio.service"),
                "{what}: uninstall disabled the operator's istio.service"
            );
            seen += 1;
        }
    }
    assert!(seen >= 4, "saw {seen} VMs");
}

/// The Kubernetes objects of every file of `artifacts` under
/// `kubernetes/`, as JSON.
fn kubernetes_objects(artifacts: &[Artifact]) -> Vec<serde_json::Value> {
    artifacts
        .iter()
        .filter(|a| a.path.starts_with("kubernetes/") && a.path.ends_with(".yaml"))
        .flat_map(|a| {
            a.contents
                .split("\n---\n")
                .filter(|doc| doc.lines().any(|l| l.starts_with("kind:")))
                .map(|doc| {
                    serde_saphyr::from_str::<serde_json::Value>(doc)
                        .unwrap_or_else(|e| panic!("{}: {e}", a.path))
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `KEY`'s value in `mesh.yaml`'s `defaultConfig.proxyMetadata`.
fn proxy_metadata_of(mesh_yaml: &str, key: &str) -> Option<String> {
    let value: serde_json::Value = serde_saphyr::from_str(mesh_yaml).unwrap();
    value
        .get("defaultConfig")?
        .get("proxyMetadata")?
        .get(key)?
        .as_str()
        .map(str::to_owned)
}

/// #15.4: a hand-registered VM running a service with a `probe` names its
/// WorkloadEntry in `ISTIO_META_WORKLOAD_ENTRY` (cluster.env and mesh.yaml),
/// that name is the `metadata.name` of the WorkloadEntry meshc writes for
/// it, and that entry (only) carries `proxy.istio.io/health-checks-enabled:
/// "true"`. A VM without a probe, and an auto-registered one, get neither.
#[test]
fn health_checks_reach_hand_registered_entries() {
    let text = r#"
mesh m { istio "1.24" }
network lan { cidr "10.1.0.0/16" }
cluster c {
    network lan
    pod-cidr "10.244.0.0/16"
    service-cidr "10.96.0.0/16"
    control-plane #true
    east-west-gateway "10.1.0.100"
}
vm probed { address "10.1.0.5"; network lan }
vm plain { address "10.1.0.6"; network lan }
vm auto { address "10.1.0.7"; network lan; autoregister #true }
service api namespace=apps {
    port http 8080
    deploy v1 vm=probed
    probe http port=8080 path="/ready"
    entry-point #true
}
service web namespace=apps {
    port http 9090
    deploy v1 vm=plain
    entry-point #true
}
service jobs namespace=apps {
    port http 7070
    deploy v1 vm=auto
    probe tcp port=7070
    entry-point #true
}
"#;
    let source = Source::new("t.kdl".to_owned(), text.to_owned());
    let (artifacts, diags) = meshc::compile(&source, Syntax::Kdl, Limits::default(), "t.kdl");
    let artifacts = artifacts.unwrap_or_else(|| panic!("{diags:#?}"));
    let objects = kubernetes_objects(&artifacts);
    let entries: BTreeMap<String, &serde_json::Value> = objects
        .iter()
        .filter(|o| o["kind"] == "WorkloadEntry")
        .map(|o| (o["metadata"]["name"].as_str().unwrap().to_owned(), o))
        .collect();
    let file = |vm: &str, name: &str| {
        artifacts
            .iter()
            .find(|a| a.path == format!("vms/{vm}/{name}"))
            .unwrap_or_else(|| panic!("no vms/{vm}/{name}"))
            .contents
            .to_string()
    };
    let named = |vm: &str| {
        let env = parse_env(&file(vm, "cluster.env"))
            .get("ISTIO_META_WORKLOAD_ENTRY")
            .cloned();
        let yaml = proxy_metadata_of(&file(vm, "mesh.yaml"), "ISTIO_META_WORKLOAD_ENTRY");
        assert_eq!(env, yaml, "{vm}: cluster.env and mesh.yaml disagree");
        env
    };
    let name = named("probed").expect("the probed VM names no WorkloadEntry");
    let entry = entries
        .get(&name)
        .unwrap_or_else(|| panic!("no WorkloadEntry named {name}: {:?}", entries.keys()));
    assert_eq!(entry["spec"]["address"], "10.1.0.5");
    assert_eq!(
        entry["metadata"]["annotations"]["proxy.istio.io/health-checks-enabled"], "true",
        "{entry}"
    );
    assert_eq!(named("plain"), None);
    assert_eq!(named("auto"), None);
    for (entry_name, entry) in &entries {
        if *entry_name != name {
            assert!(
                entry["metadata"].get("annotations").is_none(),
                "{entry_name} is annotated: {entry}"
            );
        }
    }
    assert!(entries.len() >= 2, "{:?}", entries.keys());
}

/// #15.8: a legacy bundle lists none of the ports of listeners Istio 1.0
/// did not have, in either env file.
#[test]
fn legacy_env_files_have_no_modern_agent_ports() {
    let mut seen = 0;
    for b in all_bundles() {
        if b.checked.topology().mesh.flow() != meshc::model::Flow::Legacy {
            continue;
        }
        for (vm, files) in &b.vms {
            for name in ["sidecar.env", "cluster.env"] {
                let env = parse_env(&get(files, name).unwrap().contents);
                for (key, value) in &env {
                    for port in ["15090", "15021", "15020"] {
                        assert!(
                            !value.split(',').any(|p| p == port),
                            "{}/{vm}/{name}: {key}={value} lists {port}",
                            b.name
                        );
                    }
                }
            }
            seen += 1;
        }
    }
    assert!(seen >= 3, "saw {seen} legacy VMs");
}

/// A directory with a `kubectl` stand-in first on PATH: it logs its
/// arguments to `kubectl.log` and prints the `answers` line whose key is
/// in its arguments (`key=value`), or nothing.
fn fake_kubectl(answers: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("answers"), answers).unwrap();
    let script = format!(
        "#!/bin/bash\n\
         printf '%s\\n' \"$*\" >>{log}\n\
         while IFS='=' read -r key value; do\n\
         \tfor arg in \"$@\"; do\n\
         \t\tif [ \"$arg\" = \"$key\" ]; then printf '%s' \"$value\"; exit 0; fi\n\
         \tdone\n\
         done <{answers}\n",
        log = posix_quote(&dir.path().join("kubectl.log")),
        answers = posix_quote(&dir.path().join("answers")),
    );
    let path = dir.path().join("kubectl");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn posix_quote(path: &Path) -> String {
    meshc::emit::vm::quote::posix_single_quote(&path.display().to_string())
}

fn path_with(dir: &Path) -> String {
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default())
}

/// #15.8: `check-ilbs.sh` reads each ILB Service's assigned address (a
/// kubectl stand-in answering what the cloud assigned) and passes only when
/// it is the address the bundle's dnsmasq file points at.
#[test]
fn check_ilbs_compares_the_assigned_addresses_with_the_bundle() {
    if !prerequisite(have_tool("bash"), "bash not found") {
        return;
    }
    let bundles = all_bundles();
    let b = bundles.iter().find(|b| b.name == "bookinfo-legacy").unwrap();
    let (vm, files) = b
        .vms
        .iter()
        .find(|(_, f)| get(f, "dnsmasq.conf").is_some())
        .expect("a legacy VM with dnsmasq");
    let dnsmasq = &get(files, "dnsmasq.conf").unwrap().contents;
    // What the VM will dial, read from its dnsmasq file.
    let pinned = |prefix: &str| {
        dnsmasq
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|rest| rest.rsplit('/').next())
            .unwrap_or_else(|| panic!("{vm}: no {prefix} line"))
            .to_owned()
    };
    let assigned = [
        ("istio-pilot-ilb", pinned("address=/istio-pilot/")),
        ("mixer-ilb", pinned("address=/istio-policy/")),
        ("citadel-ilb", pinned("address=/istio-citadel/")),
        ("dns-ilb", pinned("server=/svc.")),
    ];
    let answers = |wrong: Option<&str>| -> String {
        assigned
            .iter()
            .map(|(svc, ip)| {
                let ip = if Some(*svc) == wrong {
                    "10.250.0.9"
                } else {
                    ip.as_str()
                };
                format!("{svc}={ip}\n")
            })
            .collect()
    };
    let dir = write_bundle(files);
    let check = |kubectl: &tempfile::TempDir| {
        run(Command::new("bash")
            .arg(dir.path().join("check-ilbs.sh"))
            .args(["--context", "prod"])
            .env("PATH", path_with(kubectl.path()))
            .env("MESHC_ILB_ATTEMPTS", "2")
            .env("MESHC_ILB_DELAY", "0"))
    };
    let kubectl = fake_kubectl(&answers(None));
    let out = check(&kubectl);
    let stdout = ok(&out, &format!("{vm}: check-ilbs.sh"));
    assert_eq!(stdout.matches("ok ").count(), 4, "{stdout}");
    let log = std::fs::read_to_string(kubectl.path().join("kubectl.log")).unwrap();
    assert!(
        log.lines().all(|l| l.starts_with("--context prod -n ")
            && l.ends_with("-o jsonpath={.status.loadBalancer.ingress[0].ip}")),
        "{log}"
    );
    for &(svc, _) in &assigned {
        let kubectl = fake_kubectl(&answers(Some(svc)));
        let out = check(&kubectl);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{svc} differs, yet check-ilbs.sh passed"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("MISMATCH") && stderr.contains(svc), "{stderr}");
    }
    // An address still pending is retried, then reported.
    let kubectl = fake_kubectl("");
    let out = check(&kubectl);
    assert_eq!(out.status.code(), Some(1));
    let log = std::fs::read_to_string(kubectl.path().join("kubectl.log")).unwrap();
    assert_eq!(log.lines().count(), 8, "two attempts per ILB:\n{log}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("assigned nothing"));
}

/// #15.9: the operator's `fetch-credentials.sh` asks kubectl (a stand-in)
/// for a token with audience istio-ca for the VM's service account and the
/// mesh root certificate, and writes them into the bundle directory;
/// install.sh installs them from there; `rebootstrap` replaces the token,
/// removes the expired workload certificate and refuses without a fresh
/// token.
#[test]
fn credentials_come_from_the_operator_and_rebootstrap_works() {
    if !prerequisite(have_tool("bash"), "bash not found") {
        return;
    }
    let bundles = all_bundles();
    let b = bundles.iter().find(|b| b.name == "bookinfo-vm").unwrap();
    let files = &b.vms["ecs-details"];
    let dir = write_bundle(files);
    let kubectl = fake_kubectl("create=TOKEN-1\nconfigmap=ROOT-CERT\n");
    let fetch = || {
        ok(
            &run(Command::new("bash")
                .arg(dir.path().join("fetch-credentials.sh"))
                .args(["--context", "ack"])
                .env("PATH", path_with(kubectl.path()))),
            "fetch-credentials.sh",
        )
    };
    fetch();
    let log = std::fs::read_to_string(kubectl.path().join("kubectl.log")).unwrap();
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        [
            "--context ack -n bookinfo create token bookinfo-details --audience istio-ca --duration 1h",
            "--context ack -n bookinfo get configmap istio-ca-root-cert -o jsonpath={.data.root-cert\\.pem}",
        ]
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        std::fs::read_to_string(dir.path().join("istio-token")).unwrap(),
        "TOKEN-1\n"
    );
    assert_eq!(mode(&dir.path().join("istio-token")), 0o600);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("root-cert.pem")).unwrap(),
        "ROOT-CERT\n"
    );
    // .gitignore names exactly the files fetch-credentials.sh wrote.
    let ignored: BTreeSet<&str> = get(files, ".gitignore")
        .unwrap()
        .contents
        .lines()
        .filter_map(|l| l.strip_prefix('/'))
        .collect();
    assert_eq!(ignored, BTreeSet::from(["istio-token", "root-cert.pem"]));

    let target = tempfile::tempdir().unwrap();
    let t = target.path();
    let install_sh = |action: &str| {
        run(Command::new("bash")
            .arg(dir.path().join("install.sh"))
            .arg(action)
            .arg("--root")
            .arg(t))
    };
    let out = ok(&install_sh("install"), "install.sh");
    assert!(
        !out.contains("kubectl -n"),
        "credentials in the bundle, yet instructions:\n{out}"
    );
    let token = t.join("var/run/secrets/tokens/istio-token");
    assert_eq!(std::fs::read_to_string(&token).unwrap(), "TOKEN-1\n");
    assert_eq!(mode(&token), 0o640);
    assert_eq!(
        std::fs::read_to_string(t.join("etc/certs/root-cert.pem")).unwrap(),
        "ROOT-CERT\n"
    );

    // Down past its certificate's lifetime: the agent's expired
    // certificate is in /etc/certs. A fresh token comes from the operator.
    for f in ["key.pem", "cert-chain.pem"] {
        std::fs::write(t.join("etc/certs").join(f), "EXPIRED\n").unwrap();
    }
    std::fs::write(
        kubectl.path().join("answers"),
        "create=TOKEN-2\nconfigmap=ROOT-CERT\n",
    )
    .unwrap();
    fetch();
    ok(&install_sh("rebootstrap"), "install.sh rebootstrap");
    assert_eq!(std::fs::read_to_string(&token).unwrap(), "TOKEN-2\n");
    for f in ["key.pem", "cert-chain.pem"] {
        assert!(
            !t.join("etc/certs").join(f).exists(),
            "rebootstrap left the expired {f}"
        );
    }
    std::fs::remove_file(dir.path().join("istio-token")).unwrap();
    let out = install_sh("rebootstrap");
    assert_eq!(
        out.status.code(),
        Some(1),
        "rebootstrap without a fresh token succeeded"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("fetch-credentials.sh"));
}

/// #15.9: credentials the operator fetched into the output directory are
/// the operator's: `meshc build` keeps them across rebuilds, `build
/// --check` does not report them, and git does not see them.
#[test]
fn fetched_credentials_survive_rebuilds_and_stay_out_of_git() {
    let dir = tempfile::tempdir().unwrap();
    let topology = dir.path().join("topology.kdl");
    let text = std::fs::read_to_string(root().join("examples/bookinfo-vm/topology.kdl")).unwrap();
    std::fs::write(&topology, &text).unwrap();
    let build = |args: &[&str]| crate::cli::meshc_in(dir.path(), args);
    ok(&build(&["build", "topology.kdl", "-o", "out"]), "meshc build");
    let vm_dir = dir.path().join("out/vms/ecs-details");
    for (f, body) in [("istio-token", "TOKEN\n"), ("root-cert.pem", "CERT\n")] {
        std::fs::write(vm_dir.join(f), body).unwrap();
        std::fs::set_permissions(vm_dir.join(f), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    ok(
        &build(&["build", "--check", "topology.kdl", "-o", "out"]),
        "meshc build --check",
    );
    // A change that rewrites this VM's bundle.
    std::fs::write(&topology, text.replace("192.168.3.201", "192.168.3.211")).unwrap();
    let o = build(&["build", "topology.kdl", "-o", "out"]);
    ok(&o, "meshc build after a change");
    assert!(
        std::fs::read_to_string(vm_dir.join("cluster.env"))
            .unwrap()
            .contains("192.168.3.211"),
        "the rebuild did not rewrite the bundle"
    );
    assert_eq!(
        std::fs::read_to_string(vm_dir.join("istio-token")).unwrap(),
        "TOKEN\n"
    );
    assert_eq!(
        std::fs::read_to_string(vm_dir.join("root-cert.pem")).unwrap(),
        "CERT\n"
    );
    ok(
        &build(&["build", "--check", "topology.kdl", "-o", "out"]),
        "meshc build --check",
    );
    let manifest = std::fs::read_to_string(dir.path().join("out/.meshc-manifest")).unwrap();
    assert!(
        !manifest.contains("istio-token") && !manifest.contains("root-cert.pem"),
        "{manifest}"
    );

    if !prerequisite(have_tool("git"), "git not found") {
        return;
    }
    let out_dir = dir.path().join("out");
    let git = |args: &[&str]| {
        ok(
            &run(Command::new("git").args(args).current_dir(&out_dir)),
            &format!("git {args:?}"),
        )
    };
    git(&["init", "-q"]);
    let status = git(&["status", "--porcelain", "--untracked-files=all"]);
    assert!(status.contains("vms/ecs-details/cluster.env"), "{status}");
    assert!(
        !status.contains("istio-token") && !status.contains("root-cert.pem"),
        "git would track the credentials:\n{status}"
    );
}

/// The iptables rules are built from the plan's typed values, `sidecar.env`
/// is written from them too: read the written file the way istio-iptables
/// reads its environment, and every capture setting it gives is the one
/// the rules were made from, for every VM of every example and fixture.
#[test]
fn iptables_config_is_what_sidecar_env_says() {
    use meshc::emit::vm::iptables_rules::{PROXY_GID, PROXY_UID, capture};
    use meshc::iptables::InterceptionMode;
    let mut seen = 0;
    for b in all_bundles() {
        let topo = b.checked.topology();
        let groups = meshc::emit::vm::plan::group_names(&b.checked);
        for (v, vm) in topo.vm_ids() {
            let at = format!("{}/{}", b.name, vm.name.value);
            let env = parse_env(&get(&b.vms[&vm.name.value], "sidecar.env").unwrap().contents);
            let get = |key: &str| env.get(key).cloned().unwrap_or_default();
            let config = capture(&plan(&b.checked, v, &groups)).config;
            let mode = match get("ISTIO_INBOUND_INTERCEPTION_MODE").as_str() {
                "TPROXY" => InterceptionMode::Tproxy,
                "REDIRECT" => InterceptionMode::Redirect,
                other => panic!("{at}: interception mode {other:?}"),
            };
            assert_eq!(config.inbound_interception_mode, mode, "{at}");
            assert_eq!(config.inbound_ports_include, get("ISTIO_INBOUND_PORTS"), "{at}");
            assert_eq!(
                config.inbound_ports_exclude,
                get("ISTIO_LOCAL_EXCLUDE_PORTS"),
                "{at}"
            );
            assert_eq!(
                config.outbound_ip_ranges_include,
                get("ISTIO_SERVICE_CIDR"),
                "{at}"
            );
            assert_eq!(
                config.outbound_ip_ranges_exclude,
                get("ISTIO_SERVICE_EXCLUDE_CIDR"),
                "{at}"
            );
            if topo.mesh.flow() == meshc::model::Flow::Modern {
                assert_eq!(
                    config.outbound_ports_exclude,
                    get("ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE"),
                    "{at}"
                );
                // Pinned ids are written; the others are looked up on the VM.
                let ids = |key: &str, placeholder: &str| match env.get(key) {
                    Some(pinned) => pinned.clone(),
                    None => config_ids(placeholder, mode),
                };
                if vm.proxy_uid.is_some() || !env.contains_key("PROXY_UID") {
                    assert_eq!(config.proxy_uid, [ids("PROXY_UID", PROXY_UID)], "{at}");
                }
                if vm.proxy_uid.is_some() || vm.proxy_gid.is_some() || !env.contains_key("PROXY_GID") {
                    assert_eq!(config.proxy_gid, [ids("PROXY_GID", PROXY_GID)], "{at}");
                }
            }
            seen += 1;
        }
    }
    assert!(seen >= 10, "only {seen} VMs");
}

/// The ids of a placeholder in `mode` (root's too in TPROXY mode).
fn config_ids(placeholder: &str, mode: meshc::iptables::InterceptionMode) -> String {
    match mode {
        meshc::iptables::InterceptionMode::Tproxy => format!("{placeholder},0"),
        meshc::iptables::InterceptionMode::Redirect => placeholder.to_owned(),
    }
}
