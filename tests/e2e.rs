//! End to end: every example's VM bundles, installed in a simulated VM, carry
//! traffic where the mesh needs it.
//!
//! Per VM of `examples/bookinfo-vm`, `examples/bookinfo-legacy` and
//! `examples/multicluster`, a pair of throwaway network namespaces: the VM
//! (the topology's address on a veth, a default route to the other side) and
//! the cluster side (an address in the VM's network, the service address
//! and kube-dns on its loopback). Then:
//!
//! 1. `install.sh --root DIR` puts every file where Istio's VM guides say;
//! 2. the installed `iptables.sh apply` loads the rules in the VM namespace,
//!    beside marker rules of "other software";
//! 3. stand-ins listen: the sidecar (as the proxy's uid) on 15001, 15006 and
//!    15053, the workload and SSH-like services on their own ports, the
//!    cluster's services on the other side; each answers a connection with
//!    the `SO_ORIGINAL_DST` it saw (`tests/e2e/probe.py`);
//! 4. real connections, whose answers say where they landed: an application
//!    (uid 4242) reaching a service address lands on 15001 with its original
//!    destination; the proxy's uid, and its gid, each on its own, reach the
//!    real service (no loop);
//!    inbound service ports from the cluster side land on the inbound
//!    capture port, excluded ports reach their own listener; DNS is captured
//!    to 15053 (modern `dns capture`) or answered by the generated dnsmasq
//!    file forwarding to a kube-dns stand-in (legacy);
//! 5. `iptables.sh clean` leaves `iptables-save` exactly as before `apply`,
//!    and traffic flows directly again.
//!
//! Only the namespaces created here carry traffic. Every wait on the network
//! is bounded (0.8 s per socket step, 2 s per probe run); the guard deletes
//! the namespaces and kills every process it started, also on panic. Needs
//! root, iproute2, iptables, dnsmasq, dig, python3, setpriv, unshare and
//! useradd (a private mount namespace with overlays on /etc, /var and
//! /usr/local holds the VM's resolv.conf and users): without them
//! each test skips with one line, or fails under `MESHC_REQUIRE_E2E=1`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net};
use meshc::artifact::Artifact;
use meshc::check::Checked;
use meshc::emit::vm::plan::plan;
use meshc::model::{DnsMode, Flow, Placement};
use meshc::source::Source;
use meshc::syntax::{Limits, Syntax};

use crate::support::{have_tool, prerequisite};

/// The traffic stand-ins, run with `python3 -c` so that any uid can read them.
const PROBE: &str = include_str!("e2e/probe.py");

/// The uid of "an application" on the VM: neither root (which the 1.0 rules
/// let through) nor the proxy.
const APP_UID: u32 = 4242;

/// Waits on the network: a probe run (0.8 s per socket step inside it), a
/// listener getting ready.
const NET_WAIT: Duration = Duration::from_secs(2);

/// Bound on a script run. `iptables.sh` runs a few dozen iptables commands
/// (each `clean` probe is one), which on a loaded two-core machine can take
/// longer than a network wait; it never waits on the network itself.
const SCRIPT_WAIT: Duration = Duration::from_secs(10);

#[test]
fn bookinfo_vm_bundles_carry_traffic() {
    example("bookinfo-vm");
}

#[test]
fn bookinfo_legacy_bundles_carry_traffic() {
    example("bookinfo-legacy");
}

#[test]
fn multicluster_bundles_carry_traffic() {
    example("multicluster");
}

fn example(name: &str) {
    let Some(python) = prerequisites() else {
        return;
    };
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    let text = std::fs::read_to_string(dir.join("topology.kdl")).unwrap();
    let source = Source::new("topology.kdl", text);
    let (checked, diags) = meshc::check_source(&source, Syntax::Kdl, Limits::default());
    let checked = checked.unwrap_or_else(|| panic!("{name} does not check: {diags:#?}"));
    let (artifacts, _) = meshc::compile(&source, Syntax::Kdl, Limits::default(), "topology.kdl");
    let artifacts = artifacts.unwrap();
    let topo = checked.topology();
    assert!(!topo.vms.is_empty(), "{name}: no VM");
    for (v, vm) in topo.vm_ids() {
        let prefix = format!("vms/{}/", vm.name.value);
        let files: Vec<&Artifact> = artifacts.iter().filter(|a| a.path.starts_with(&prefix)).collect();
        assert!(!files.is_empty(), "{name}/{}: no bundle", vm.name.value);
        let expect = Expect::new(&checked, v);
        run_vm(name, &expect, &files, &python);
    }
}

// ---------------------------------------------------------------------------
// Prerequisites

/// The python3 to run the stand-ins with, or `None` (skip) when something is
/// missing.
fn prerequisites() -> Option<PathBuf> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n");
    if !prerequisite(root, "not root: the end-to-end tests create network namespaces") {
        return None;
    }
    for tool in [
        "ip",
        "iptables",
        "iptables-restore",
        "iptables-save",
        "dnsmasq",
        "dig",
        "python3",
        "setpriv",
        "bash",
        "unshare",
        "mount",
        "useradd",
        "groupadd",
    ] {
        if !prerequisite(have_tool(tool), &format!("{tool} not found (end-to-end tests)")) {
            return None;
        }
    }
    let python = python_for_any_uid();
    if !prerequisite(
        python.is_some(),
        "no python3 that an unprivileged uid can run (end-to-end tests)",
    ) {
        return None;
    }
    python
}

/// A python3 that the proxy's and the application's uids can run. The one
/// on PATH may be a shim under root's home (pyenv), which they cannot
/// enter; the system interpreter usually is not.
fn python_for_any_uid() -> Option<PathBuf> {
    let mut candidates = vec![PathBuf::from("/usr/bin/python3")];
    if let Ok(out) = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
    {
        candidates.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    candidates.into_iter().find(|py| {
        py.is_file()
            && as_uid(APP_UID, APP_UID)
                .arg(py)
                .args(["-I", "-S", "-c", "pass"])
                .current_dir("/")
                .output()
                .is_ok_and(|o| o.status.success())
    })
}

/// `setpriv` dropping to `uid`:`gid` with no supplementary groups; the
/// program and its arguments follow.
fn as_uid(uid: u32, gid: u32) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(setpriv_args(uid, gid));
    cmd
}

fn setpriv_args(uid: u32, gid: u32) -> [String; 3] {
    [
        format!("--reuid={uid}"),
        format!("--regid={gid}"),
        "--clear-groups".to_owned(),
    ]
}

// ---------------------------------------------------------------------------
// What the topology says should happen

/// One VM's expected behaviour, read from the topology (not from the
/// bundle: a generator bug must not move the goalposts).
struct Expect {
    vm: String,
    address: Ipv4Addr,
    network: Ipv4Net,
    /// The cluster side's address on the shared link (the VM's gateway).
    peer: Ipv4Addr,
    proxy_uid: u32,
    proxy_gid: u32,
    /// Where captured inbound traffic goes: 15006, or 15001 for 1.0's script.
    inbound_capture: u16,
    /// The ports the VM's workloads listen on (services' target ports).
    inbound: Vec<u16>,
    /// Inbound ports kept out of capture: SSH, the agent's, the VM's own.
    excluded: Vec<u16>,
    /// An address in the home cluster's service range, and every service
    /// port of the mesh.
    service_ip: Ipv4Addr,
    service_ports: Vec<u16>,
    /// The modern flow captures every outbound address (`ISTIO_SERVICE_CIDR=*`);
    /// the legacy one only the service range.
    capture_all_outbound: bool,
    /// DNS capture: the resolvers whose port 53 goes to the agent.
    dns_capture: Option<Vec<Ipv4Addr>>,
    /// Where a dnsmasq file sends `svc.<domain>`: the kube-dns ILB (legacy)
    /// or ClusterIP (modern), and the names a kube-dns stand-in answers there.
    kube_dns: Option<Ipv4Addr>,
    cluster_names: Vec<(String, Ipv4Addr)>,
    /// Legacy dnsmasq answers the control-plane names itself.
    local_names: Vec<(String, Ipv4Addr)>,
}

impl Expect {
    fn new(checked: &Checked, v: meshc::check::VmId) -> Expect {
        let topo = checked.topology();
        let vm = &topo.vms[v];
        let name = vm.name.value.clone();
        let plan = plan(checked, v, &meshc::emit::vm::plan::group_names(checked));
        let home = plan.home;
        let IpAddr::V4(address) = vm.address.value else {
            panic!("{name}: the end-to-end harness handles IPv4 VMs only");
        };
        let network = topo
            .networks
            .iter()
            .find(|n| n.name.value == vm.network.value)
            .and_then(|n| {
                n.cidrs.iter().find_map(|c| match c.value {
                    IpNet::V4(net) if net.contains(&address) => Some(net),
                    _ => None,
                })
            })
            .unwrap_or_else(|| panic!("{name}: no IPv4 network range holds its address"));
        let peer = [1, 2]
            .into_iter()
            .map(|n| nth(network, n))
            .find(|a| *a != address)
            .unwrap();
        let service_range = home
            .service_cidrs
            .iter()
            .find_map(|c| match c.value {
                IpNet::V4(net) => Some(net),
                IpNet::V6(_) => None,
            })
            .unwrap_or_else(|| panic!("{name}: home cluster has no IPv4 service range"));

        let mut inbound = BTreeSet::new();
        for service in &topo.services {
            let here = service
                .deployments
                .iter()
                .any(|d| matches!(&d.placement, Placement::Vm(r) if r.value == name));
            if here {
                inbound.extend(service.ports.iter().map(|p| p.target_port()));
            }
        }
        let service_ports: BTreeSet<u16> = topo
            .services
            .iter()
            .flat_map(|s| s.ports.iter().map(|p| p.number.value))
            .collect();
        let mut excluded = vec![22, 15090, 15021, 15020];
        excluded.extend(vm.inbound_exclude_ports.iter().map(|p| p.value));
        excluded.retain(|p| !inbound.contains(p));

        let legacy = topo.mesh.flow() == Flow::Legacy;
        let dns_capture = (!legacy && vm.dns() == DnsMode::Capture).then(|| {
            let servers: Vec<Ipv4Addr> = vm
                .dns_servers
                .iter()
                .filter_map(|s| match s.value {
                    IpAddr::V4(a) => Some(a),
                    IpAddr::V6(_) => None,
                })
                .collect();
            // Without pinned servers, those of the VM's resolv.conf, which
            // the lab writes: the gateway.
            if servers.is_empty() { vec![peer] } else { servers }
        });
        let v4 = |a: IpAddr| match a {
            IpAddr::V4(a) => a,
            IpAddr::V6(_) => panic!("{name}: IPv6 control-plane address"),
        };
        let kube_dns = if legacy {
            home.ilbs.as_ref().map(|i| v4(i.kube_dns.value))
        } else {
            home.kube_dns.as_ref().map(|k| v4(k.value))
        };
        let domain = home.cluster_domain();
        let cluster_names = topo
            .services
            .iter()
            .zip(100..)
            .map(|(s, n)| {
                let fqdn = format!("{}.{}.svc.{domain}", s.name.value, s.namespace.value);
                (fqdn, nth(service_range, n))
            })
            .collect();
        let ns = topo.mesh.control_plane_namespace();
        let local_names = match (legacy, &home.ilbs) {
            (true, Some(ilbs)) => vec![
                (format!("istio-pilot.{ns}"), v4(ilbs.pilot.value)),
                ("istio-citadel".to_owned(), v4(ilbs.citadel.value)),
            ],
            _ => Vec::new(),
        };
        Expect {
            vm: name,
            address,
            network,
            peer,
            proxy_uid: vm.proxy_uid(),
            proxy_gid: vm.proxy_gid(),
            inbound_capture: if legacy { 15001 } else { 15006 },
            inbound: inbound.into_iter().collect(),
            excluded,
            service_ip: nth(service_range, 20),
            service_ports: service_ports.into_iter().collect(),
            capture_all_outbound: !legacy,
            dns_capture,
            kube_dns,
            cluster_names,
            local_names,
        }
    }
}

/// The `n`th address of `net`.
fn nth(net: Ipv4Net, n: u32) -> Ipv4Addr {
    let a = Ipv4Addr::from(u32::from(net.network()) + n);
    assert!(net.contains(&a), "{net} has no {n}th address");
    a
}

// ---------------------------------------------------------------------------
// The lab: two namespaces, the processes in them, and their teardown

/// The VM's namespace and the cluster side's, joined by a veth pair, and
/// every process started in them. Dropping it kills the processes and
/// deletes both namespaces (the veth pair goes with them), also when the
/// test panics.
struct Lab {
    what: String,
    vm: String,
    cluster: String,
    python: PathBuf,
    children: Vec<Child>,
    dir: tempfile::TempDir,
}

impl Lab {
    fn new(example: &str, e: &Expect, python: &Path) -> Lab {
        let base = unique_base(example, &e.vm);
        let dir = tempfile::tempdir().unwrap();
        // The stand-ins drop to other uids and read nothing here, but
        // dnsmasq (which drops to its own user) writes its log here.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let lab = Lab {
            what: format!("{example}/{} (netns {base}v, {base}c)", e.vm),
            vm: format!("{base}v"),
            cluster: format!("{base}c"),
            python: python.to_owned(),
            children: Vec::new(),
            dir,
        };
        lab.sh(&["ip", "netns", "add", &lab.vm]);
        lab.sh(&["ip", "netns", "add", &lab.cluster]);
        let (veth_vm, veth_cluster) = (format!("{base}a"), format!("{base}b"));
        let prefix = e.network.prefix_len();
        let (vm, cl) = (lab.vm.as_str(), lab.cluster.as_str());
        let steps: Vec<Vec<String>> = vec![
            words(&format!(
                "ip -n {vm} link add {veth_vm} type veth peer name {veth_cluster} netns {cl}"
            )),
            words(&format!("ip -n {vm} link set lo up")),
            words(&format!("ip -n {cl} link set lo up")),
            words(&format!(
                "ip -n {vm} addr add {}/{prefix} dev {veth_vm}",
                e.address
            )),
            words(&format!(
                "ip -n {cl} addr add {}/{prefix} dev {veth_cluster}",
                e.peer
            )),
            words(&format!("ip -n {vm} link set {veth_vm} up")),
            words(&format!("ip -n {cl} link set {veth_cluster} up")),
            // Everything the VM sends off its subnet goes to the cluster
            // side, which never forwards: no packet leaves the pair.
            words(&format!("ip -n {vm} route add default via {}", e.peer)),
        ];
        for step in &steps {
            let step: Vec<&str> = step.iter().map(String::as_str).collect();
            lab.sh(&step);
        }
        // The cluster's addresses live on the cluster side's loopback; in
        // the VM's subnet, the cluster side answers ARP for them.
        let mut extra: BTreeSet<Ipv4Addr> = BTreeSet::from([e.service_ip]);
        extra.extend(e.kube_dns);
        extra.extend(e.dns_capture.iter().flatten());
        extra.remove(&e.peer);
        for a in extra {
            lab.sh(&["ip", "-n", cl, "addr", "add", &format!("{a}/32"), "dev", "lo"]);
        }
        lab
    }

    /// Runs a setup command (bounded), failing the test if it fails.
    fn sh(&self, args: &[&str]) -> String {
        let out = bounded(Command::new(args[0]).args(&args[1..]), SCRIPT_WAIT);
        ok(&out, &format!("{}: {}", self.what, args.join(" ")))
    }

    /// `ip netns exec NS` + `args`, optionally as `uid`:`gid`.
    fn exec(&self, ns: &str, owner: Option<(u32, u32)>, args: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]);
        if let Some((uid, gid)) = owner {
            cmd.arg("setpriv").args(setpriv_args(uid, gid));
        }
        cmd.args(args).current_dir("/");
        cmd
    }

    fn python(&self, ns: &str, owner: Option<(u32, u32)>, args: &[&str]) -> Command {
        let mut cmd = self.exec(ns, owner, &[]);
        cmd.arg(&self.python).args(["-I", "-S", "-c", PROBE]).args(args);
        cmd
    }

    /// Starts a stand-in listener and waits until it is bound.
    fn listen(&mut self, ns: &str, owner: Option<(u32, u32)>, name: &str, specs: &[String]) {
        let mut args = vec!["listen", name];
        args.extend(specs.iter().map(String::as_str));
        let mut cmd = self.python(ns, owner, &args);
        // `ip netns exec` and setpriv exec what they run: the child is
        // python itself, and killing it stops the listener.
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let ready = rx.recv_timeout(NET_WAIT).is_ok_and(|l| l.trim() == "ready");
        if !ready {
            let _ = child.kill();
            let _ = child.wait();
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("{}: listener {name} {specs:?} did not start:\n{err}", self.what);
        }
        self.children.push(child);
    }

    /// Starts a process that runs until the lab drops.
    fn start(&mut self, name: &str, mut cmd: Command) {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: starting {name}: {e}", self.what));
        self.children.push(child);
    }

    /// Connects to every target at once from `ns` as `owner`: what answered
    /// each, or `error: …`.
    fn connect(&self, ns: &str, owner: Option<(u32, u32)>, targets: &[String]) -> Vec<String> {
        let mut args = vec!["connect"];
        args.extend(targets.iter().map(String::as_str));
        let out = bounded(&mut self.python(ns, owner, &args), NET_WAIT);
        let text = ok(&out, &format!("{}: probe {targets:?}", self.what));
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        assert_eq!(lines.len(), targets.len(), "{}: probe output {text}", self.what);
        lines
    }

    /// Runs `script` (bash) as root in network namespace `ns` and a private
    /// mount namespace whose `/etc/resolv.conf` lists `resolvers`, and
    /// whose `/etc`, `/var` and `/usr/local` are overlays on tmpfs: users
    /// added and files installed there vanish with it, the machine's own
    /// are never changed. Fails the test if the script fails; its stdout.
    fn in_private_etc(&self, ns: &str, resolvers: &[Ipv4Addr], script: &str) -> String {
        let dir = self.dir.path().join(format!("etc-{}", self.children.len()));
        std::fs::create_dir_all(&dir).unwrap();
        let resolv: String = resolvers.iter().map(|r| format!("nameserver {r}\n")).collect();
        let resolv_path = dir.join("resolv.conf");
        std::fs::write(
            &resolv_path,
            format!("# lab\nsearch example.test\n{resolv}options edns0\n"),
        )
        .unwrap();
        let ov = dir.join("ov");
        let ov = ov.display();
        let setup = format!(
            "set -euo pipefail\n\
             mkdir -p {ov}\n\
             mount -t tmpfs tmpfs {ov}\n\
             for d in etc var usr/local; do\n\
             \tn=${{d//\\//-}}\n\
             \tmkdir -p {ov}/$n-up {ov}/$n-work\n\
             \tmount -t overlay overlay -o lowerdir=/$d,upperdir={ov}/$n-up,workdir={ov}/$n-work /$d\n\
             done\n\
             rm -f /etc/resolv.conf\n\
             cp {resolv} /etc/resolv.conf\n\
             {script}\n",
            resolv = resolv_path.display()
        );
        let mut cmd = self.exec(ns, None, &["unshare", "-m", "bash", "-c", &setup]);
        let out = bounded(&mut cmd, SCRIPT_WAIT * 3);
        ok(&out, &format!("{}: in a private /etc: {script}", self.what))
    }

    /// `iptables-save` of the VM namespace, reduced to what rules mean.
    fn save(&self) -> Vec<String> {
        let out = bounded(&mut self.exec(&self.vm, None, &["iptables-save"]), SCRIPT_WAIT);
        crate::support::rule_lines(&ok(&out, &format!("{}: iptables-save", self.what)))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in [&self.vm, &self.cluster] {
            let _ = bounded(Command::new("ip").args(["netns", "del", ns]), SCRIPT_WAIT);
        }
    }
}

/// A name prefix no other run or VM shares: a hash of the process id, a
/// counter, the example and the VM, short enough that the longest name made
/// from it (13 characters) fits an interface name (15).
fn unique_base(example: &str, vm: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let key = format!("{}/{n}/{example}/{vm}", std::process::id());
    // FNV-1a: std's hashers are seeded per process, this one is stable.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("me{:010x}", h & 0xff_ffff_ffff)
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

/// Runs `cmd` to completion within `limit`, killing it past that.
fn bounded(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    // Polled every 10 ms, a bounded number of times.
    let rounds = limit.as_millis() / 10;
    for _ in 0..rounds {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("{cmd:?} did not finish within {limit:?}");
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// ---------------------------------------------------------------------------
// One VM

/// Where the bundle's files must land under the install root: the paths of
/// Istio's VM guides (and meshc's own directory for the rules).
const PLACES: [(&str, &str, u32); 8] = [
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

/// What one connection should find.
struct Check {
    /// `tcp:IP:PORT` or `udp:IP:PORT`.
    target: String,
    /// The start of the answer: who answered, as which uid, on which port,
    /// and (when it matters) the original destination it saw.
    want: String,
    why: &'static str,
}

fn tcp(ip: Ipv4Addr, port: u16) -> String {
    format!("tcp:{ip}:{port}")
}

/// The answer a stand-in gives, up to the original destination (TCP) or
/// the payload (UDP).
fn answer(name: &str, uid: u32, port: u16, rest: &str) -> String {
    format!("{name} uid={uid} port={port} {rest}")
}

fn run_vm(example: &str, e: &Expect, files: &[&Artifact], python: &Path) {
    let mut lab = Lab::new(example, e, python);
    let what = lab.what.clone();
    let file = |name: &str| files.iter().find(|a| a.path.ends_with(&format!("/{name}")));

    // The bundle, written out as the operator copies it.
    let bundle = lab.dir.path().join("bundle");
    let root = lab.dir.path().join("root");
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::create_dir_all(&root).unwrap();
    for a in files {
        let path = bundle.join(a.path.rsplit('/').next().unwrap());
        std::fs::write(&path, &a.contents).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(a.mode.bits())).unwrap();
    }

    // 1. install.sh --root: every file in its place, with its mode.
    let install = bundle.join("install.sh");
    let out = bounded(
        Command::new("bash").arg(&install).arg("--root").arg(&root),
        SCRIPT_WAIT,
    );
    ok(&out, &format!("{what}: install.sh --root"));
    for a in files {
        let name = a.path.rsplit('/').next().unwrap();
        // Run where they are (the operator's scripts, on the operator's machine).
        if matches!(
            name,
            "install.sh" | "fetch-credentials.sh" | "check-ilbs.sh" | ".gitignore"
        ) {
            continue;
        }
        if name == "hosts" {
            let hosts = std::fs::read_to_string(root.join("etc/hosts")).unwrap_or_default();
            for line in a
                .contents
                .lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
            {
                assert!(
                    hosts.lines().any(|h| h == line),
                    "{what}: {line:?} not in etc/hosts:\n{hosts}"
                );
            }
            continue;
        }
        let (_, dest, mode) = PLACES
            .iter()
            .find(|(f, _, _)| *f == name)
            .unwrap_or_else(|| panic!("{what}: bundle file {name}: where should it land?"));
        let path = root.join(dest);
        let got = std::fs::read_to_string(&path)
            .unwrap_or_else(|err| panic!("{what}: {name} not installed as /{dest}: {err}"));
        assert_eq!(got, a.contents, "{what}: /{dest} differs from {name}");
        let bits = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(bits, *mode, "{what}: /{dest} has mode {bits:o}");
    }
    let iptables_sh = root.join("usr/local/lib/meshc/iptables.sh");
    let iptables_sh = iptables_sh.to_str().unwrap();

    // 2. The stand-ins. The sidecar runs as the proxy's uid; the workload
    // and the SSH-like services are plain listeners on their own ports; the
    // cluster side serves every service port on the service address and on
    // its link address, and DNS on the latter.
    let (vm_ns, cl_ns) = (lab.vm.clone(), lab.cluster.clone());
    let proxy = (e.proxy_uid, e.proxy_gid);
    let app = (APP_UID, APP_UID);
    // 15006 listens in the legacy flow too, so that traffic sent there by
    // mistake is reported as such rather than refused. The DNS proxy binds
    // 127.0.0.1, as istio-agent's does: a UDP answer then leaves from the
    // address the query was redirected to, which is what lets conntrack
    // undo the redirect (from 0.0.0.0 the answer would leave from the VM's
    // address, and the application would drop it).
    let sidecar = [
        "tcp:15001",
        "tcp:15006",
        "tcp:127.0.0.1:15053",
        "udp:127.0.0.1:15053",
    ]
    .map(str::to_owned);
    lab.listen(&vm_ns, Some(proxy), "sidecar", &sidecar);
    let plain: Vec<String> = e
        .inbound
        .iter()
        .chain(&e.excluded)
        .map(|p| format!("tcp:{p}"))
        .collect();
    lab.listen(&vm_ns, None, "app", &plain);
    let mut cluster: Vec<String> = Vec::new();
    for &p in &e.service_ports {
        cluster.push(tcp(e.service_ip, p));
        cluster.push(tcp(e.peer, p));
    }
    if let Some(resolvers) = &e.dns_capture {
        cluster.extend(resolvers.iter().map(|r| format!("udp:{r}:53")));
    }
    lab.listen(&cl_ns, None, "cluster", &cluster);

    // Without the rules, the application reaches the cluster directly: the
    // lab's network works, so what changes below is the rules' doing.
    let direct: Vec<Check> = e
        .service_ports
        .iter()
        .map(|&p| Check {
            target: tcp(e.service_ip, p),
            want: answer("cluster", 0, p, ""),
            why: "without the rules, the application reaches the service directly",
        })
        .collect();
    let mut failures = run_checks(&lab, &vm_ns, Some(app), &direct);
    assert!(
        failures.is_empty(),
        "{what}: the lab itself is broken:\n{}",
        failures.join("\n")
    );

    // 3. Someone else's rules, which apply and clean must leave alone.
    let vm_ns_ref = vm_ns.as_str();
    for rule in [
        "iptables -t nat -N MESHC_E2E_MARK",
        "iptables -t nat -A OUTPUT -p tcp --dport 9 -j MESHC_E2E_MARK",
        "iptables -t nat -A PREROUTING -p tcp --dport 9 -j MESHC_E2E_MARK",
        "iptables -t raw -A OUTPUT -p udp --dport 9 -j ACCEPT",
        "iptables -t filter -A INPUT -p tcp --dport 9 -j ACCEPT",
    ] {
        let mut args = vec!["ip", "netns", "exec", vm_ns_ref];
        args.extend(rule.split(' '));
        lab.sh(&args);
    }
    let before = lab.save();
    // The VM's resolv.conf names the resolver the checks below use (a
    // private mount namespace's copy: the machine's own file is untouched).
    let resolvers = e.dns_capture.clone().unwrap_or_default();
    lab.in_private_etc(&vm_ns, &resolvers, &format!("bash {iptables_sh} apply"));
    let applied = lab.save();
    let lost: Vec<&String> = before.iter().filter(|l| !applied.contains(l)).collect();
    assert!(
        lost.is_empty(),
        "{what}: apply removed rules it does not own: {lost:?}"
    );
    assert!(
        applied.iter().any(|l| l.contains("ISTIO_")),
        "{what}: apply loaded no ISTIO_ rule:\n{}",
        applied.join("\n")
    );

    // 4. Outbound, from the VM.
    let captured = |ip: Ipv4Addr, p: u16| answer("sidecar", e.proxy_uid, 15001, &format!("orig={ip}:{p}"));
    let mut app_checks = Vec::new();
    let mut proxy_checks = Vec::new();
    for &p in &e.service_ports {
        app_checks.push(Check {
            target: tcp(e.service_ip, p),
            want: captured(e.service_ip, p),
            why: "an application's connection to a service address lands on the sidecar's \
                  outbound port 15001, original destination kept",
        });
        app_checks.push(Check {
            target: tcp(e.peer, p),
            want: if e.capture_all_outbound {
                captured(e.peer, p)
            } else {
                answer("cluster", 0, p, "")
            },
            why: if e.capture_all_outbound {
                "ISTIO_SERVICE_CIDR=*: every outbound address is captured"
            } else {
                "outside the service range (ISTIO_SERVICE_CIDR), traffic is not captured"
            },
        });
        proxy_checks.push(Check {
            target: tcp(e.service_ip, p),
            want: answer("cluster", 0, p, ""),
            why: "the proxy's own traffic is never captured (no loop): it reaches the service",
        });
    }
    if let Some(resolvers) = &e.dns_capture {
        for &r in resolvers {
            app_checks.push(Check {
                target: format!("udp:{r}:53"),
                want: answer("sidecar", e.proxy_uid, 15053, "got=probe-"),
                why: "DNS capture: a UDP query to the resolver lands on the agent's DNS proxy (15053)",
            });
            app_checks.push(Check {
                target: tcp(r, 53),
                want: answer("sidecar", e.proxy_uid, 15053, &format!("orig={r}:53")),
                why: "DNS capture: a TCP query to the resolver lands on the agent's DNS proxy (15053)",
            });
            proxy_checks.push(Check {
                target: format!("udp:{r}:53"),
                want: answer("cluster", 0, 53, "got=probe-"),
                why: "the agent's own DNS queries go to the resolver, not back to itself",
            });
        }
    }
    failures.extend(run_checks(&lab, &vm_ns, Some(app), &app_checks));
    // Envoy runs as the proxy's uid and gid; the rules let each through on
    // its own (a uid rule and a gid rule), so each is tried alone as well.
    for owner in [proxy, (e.proxy_uid, APP_UID), (APP_UID, e.proxy_gid)] {
        failures.extend(run_checks(&lab, &vm_ns, Some(owner), &proxy_checks));
    }

    // 5. Inbound, from the cluster side.
    let mut inbound_checks = Vec::new();
    for &p in &e.inbound {
        inbound_checks.push(Check {
            target: tcp(e.address, p),
            want: answer(
                "sidecar",
                e.proxy_uid,
                e.inbound_capture,
                &format!("orig={}:{p}", e.address),
            ),
            why: "a connection to a service port of the VM lands on the sidecar's inbound \
                  capture port, original port kept",
        });
    }
    for &p in &e.excluded {
        inbound_checks.push(Check {
            target: tcp(e.address, p),
            want: answer("app", 0, p, ""),
            why: "an excluded port (SSH, the agent's own) is not captured: its own listener answers",
        });
    }
    failures.extend(run_checks(&lab, &cl_ns, None, &inbound_checks));

    // 6. dnsmasq: the generated file, with a kube-dns stand-in where it
    // forwards svc.<domain>.
    if let Some(conf) = file("dnsmasq.conf") {
        failures.extend(dnsmasq_checks(&mut lab, e, &root, conf));
    }

    assert!(
        failures.is_empty(),
        "{what}: with the rules applied:\n{}",
        failures.join("\n")
    );

    // 7. clean: exactly the state before apply, and direct traffic again.
    lab.sh(&["ip", "netns", "exec", vm_ns_ref, "bash", iptables_sh, "clean"]);
    let after = lab.save();
    assert_eq!(
        after.join("\n"),
        before.join("\n"),
        "{what}: iptables-save after clean differs from before apply"
    );
    let failures = run_checks(&lab, &vm_ns, Some(app), &direct);
    assert!(
        failures.is_empty(),
        "{what}: after clean:\n{}",
        failures.join("\n")
    );
}

/// Runs `checks` from `ns` as `owner`; one line per failed check.
fn run_checks(lab: &Lab, ns: &str, owner: Option<(u32, u32)>, checks: &[Check]) -> Vec<String> {
    if checks.is_empty() {
        return Vec::new();
    }
    let targets: Vec<String> = checks.iter().map(|c| c.target.clone()).collect();
    let got = lab.connect(ns, owner, &targets);
    let who = owner.map_or("root".to_owned(), |(u, g)| format!("uid {u} gid {g}"));
    checks
        .iter()
        .zip(got)
        .filter(|(c, got)| !got.starts_with(&c.want))
        .map(|(c, got)| {
            format!(
                "  {who} -> {}: {}\n    want: {}…\n    got:  {got}",
                c.target, c.why, c.want
            )
        })
        .collect()
}

fn dnsmasq_checks(lab: &mut Lab, e: &Expect, root: &Path, conf: &Artifact) -> Vec<String> {
    let what = lab.what.clone();
    let kube_dns = e
        .kube_dns
        .unwrap_or_else(|| panic!("{what}: a dnsmasq file, but the topology gives no kube-dns address"));
    let dir = lab.dir.path().to_owned();
    // kube-dns, on the cluster side, at the address the topology gives.
    let mut standin = format!(
        "no-resolv\nno-hosts\nlisten-address={kube_dns}\nbind-interfaces\nport=53\n\
         pid-file={dir}/kube-dns.pid\nlog-facility={dir}/kube-dns.log\n",
        dir = dir.display()
    );
    for (name, ip) in &e.cluster_names {
        standin.push_str(&format!("address=/{name}/{ip}\n"));
    }
    let standin_conf = dir.join("kube-dns.conf");
    std::fs::write(&standin_conf, standin).unwrap();
    let standin_conf = format!("--conf-file={}", standin_conf.display());
    let cmd = lab.exec(
        &lab.cluster,
        None,
        &["dnsmasq", "--keep-in-foreground", &standin_conf],
    );
    lab.start("kube-dns", cmd);

    // The VM's dnsmasq, with the installed file.
    let installed = root.join("etc/dnsmasq.d/kubedns");
    assert_eq!(std::fs::read_to_string(&installed).unwrap(), conf.contents);
    let args = [
        "dnsmasq".to_owned(),
        "--keep-in-foreground".to_owned(),
        format!("--conf-file={}", installed.display()),
        "--no-resolv".to_owned(),
        "--no-hosts".to_owned(),
        "--listen-address=127.0.0.1".to_owned(),
        "--bind-interfaces".to_owned(),
        "--port=5353".to_owned(),
        format!("--pid-file={}/vm-dnsmasq.pid", dir.display()),
        format!("--log-facility={}/vm-dnsmasq.log", dir.display()),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let cmd = lab.exec(&lab.vm, None, &args);
    lab.start("dnsmasq", cmd);

    let dig = |name: &str| -> String {
        let out = bounded(
            &mut lab.exec(
                &lab.vm,
                None,
                &[
                    "dig",
                    "+short",
                    "+time=1",
                    "+tries=1",
                    "@127.0.0.1",
                    "-p",
                    "5353",
                    name,
                ],
            ),
            NET_WAIT,
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let mut wants: Vec<(&str, Ipv4Addr, &str)> = Vec::new();
    for (name, ip) in &e.cluster_names {
        wants.push((name, *ip, "forwarded to kube-dns (server=/svc.<domain>/…)"));
    }
    for (name, ip) in &e.local_names {
        wants.push((name, *ip, "answered by dnsmasq itself (address=/…/ILB)"));
    }
    // dnsmasq writes its pid file once its sockets are bound: then it
    // answers.
    for pid in ["kube-dns.pid", "vm-dnsmasq.pid"] {
        let path = dir.join(pid);
        let rounds = NET_WAIT.as_millis() / 10;
        let written = (0..rounds).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            path.exists()
        });
        assert!(written, "{what}: dnsmasq wrote no {pid} within {NET_WAIT:?}");
    }
    let mut failures = Vec::new();
    for (name, ip, why) in wants {
        let want = ip.to_string();
        let got = dig(name);
        if got != want {
            failures.push(format!(
                "  dig @127.0.0.1 -p 5353 {name}: {why}\n    want: {want}\n    got:  {got:?}"
            ));
        }
    }
    if !failures.is_empty() {
        for log in ["vm-dnsmasq.log", "kube-dns.log"] {
            let text = std::fs::read_to_string(dir.join(log)).unwrap_or_default();
            failures.push(format!("  {log}:\n{text}"));
        }
    }
    failures
}

// ---------------------------------------------------------------------------
// Scenarios of a real VM that the examples do not show

/// The bundle of `examples/bookinfo-vm`'s VM `ecs-db` with `istio "VERSION"`,
/// its expectations, and the lab it is tried in (bundle in `bundle/`,
/// installed under `root/`).
fn bookinfo_db(version: &str, python: &Path) -> (Lab, Expect, PathBuf, PathBuf) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/bookinfo-vm");
    let text = std::fs::read_to_string(dir.join("topology.kdl"))
        .unwrap()
        .replacen("istio \"1.24\"", &format!("istio \"{version}\""), 1);
    let source = Source::new("topology.kdl", text);
    let (checked, diags) = meshc::check_source(&source, Syntax::Kdl, Limits::default());
    let checked = checked.unwrap_or_else(|| panic!("{version}: does not check: {diags:#?}"));
    let v = checked
        .topology()
        .vm_ids()
        .find(|(_, vm)| vm.name.value == "ecs-db")
        .unwrap()
        .0;
    let (artifacts, _) = meshc::compile(&source, Syntax::Kdl, Limits::default(), "topology.kdl");
    let artifacts = artifacts.unwrap();
    let expect = Expect::new(&checked, v);
    let lab = Lab::new(&format!("bookinfo-{version}"), &expect, python);
    let bundle = lab.dir.path().join("bundle");
    let root = lab.dir.path().join("root");
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::create_dir_all(&root).unwrap();
    for a in artifacts.iter().filter(|a| a.path.starts_with("vms/ecs-db/")) {
        let path = bundle.join(a.path.rsplit('/').next().unwrap());
        std::fs::write(&path, &a.contents).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(a.mode.bits())).unwrap();
    }
    (lab, expect, bundle, root)
}

/// A directory any uid may write (for the logs of stand-ins run as the
/// proxy's user).
fn shared_dir(lab: &Lab, name: &str) -> PathBuf {
    let dir = lab.dir.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

/// Waits until dnsmasq has written its pid file (its sockets are bound).
fn wait_for(path: &Path, what: &str) {
    let rounds = NET_WAIT.as_millis() / 10;
    let written = (0..rounds).any(|_| {
        std::thread::sleep(Duration::from_millis(10));
        path.exists()
    });
    assert!(written, "{what}: no {} within {NET_WAIT:?}", path.display());
}

/// `dig +short @server name` from the VM as `owner`.
fn dig_as(lab: &Lab, owner: (u32, u32), server: &str, name: &str) -> String {
    let at = format!("@{server}");
    let out = bounded(
        &mut lab.exec(
            &lab.vm,
            Some(owner),
            &["dig", "+short", "+time=1", "+tries=1", &at, name],
        ),
        NET_WAIT * 2,
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Issue #15.1: a VM resolving through a local stub resolver (dnsmasq on
/// 127.0.0.53, as systemd-resolved on Ubuntu) with the agent's DNS proxy
/// in front: an application's queries reach the agent, which resolves mesh
/// names itself and forwards the rest to the stub, whose upstream query
/// must go out, not back to the agent (capturing all port-53 traffic loops
/// there). Tried with each rule layout: 1.24's and 1.25's.
#[test]
fn dns_capture_leaves_a_local_stub_resolvers_upstream_alone() {
    let Some(python) = prerequisites() else {
        return;
    };
    for version in ["1.24", "1.25"] {
        stub_resolver_scenario(version, &python);
    }
}

fn stub_resolver_scenario(version: &str, python: &Path) {
    let (mut lab, e, _bundle, root) = bookinfo_db(version, python);
    let what = lab.what.clone();
    let (vm_ns, cl_ns) = (lab.vm.clone(), lab.cluster.clone());
    let out = bounded(
        Command::new("bash")
            .arg(_bundle.join("install.sh"))
            .arg("--root")
            .arg(&root),
        SCRIPT_WAIT,
    );
    ok(&out, &format!("{what}: install.sh --root"));
    let logs = shared_dir(&lab, "dns-logs");
    let log = |name: &str| logs.join(name).display().to_string();
    let (external, external_ip) = ("www.external.test", "198.51.100.7");
    let (mesh, mesh_ip) = ("details.bookinfo.svc.cluster.local", "172.21.0.100");

    // The upstream resolver, in the cluster namespace at the gateway.
    let upstream = [
        "dnsmasq".to_owned(),
        "--keep-in-foreground".to_owned(),
        "--no-resolv".to_owned(),
        "--no-hosts".to_owned(),
        format!("--listen-address={}", e.peer),
        "--bind-interfaces".to_owned(),
        format!("--address=/{external}/{external_ip}"),
        "--log-queries".to_owned(),
        format!("--log-facility={}", log("upstream.log")),
        format!("--pid-file={}", log("upstream.pid")),
    ];
    let upstream: Vec<&str> = upstream.iter().map(String::as_str).collect();
    let cmd = lab.exec(&cl_ns, None, &upstream);
    lab.start("upstream resolver", cmd);
    // The stub on 127.0.0.53, run by root (dnsmasq drops to its own user,
    // not the proxy's), forwarding everything upstream.
    let stub = [
        "dnsmasq".to_owned(),
        "--keep-in-foreground".to_owned(),
        "--no-resolv".to_owned(),
        "--no-hosts".to_owned(),
        "--listen-address=127.0.0.53".to_owned(),
        "--bind-interfaces".to_owned(),
        format!("--server={}", e.peer),
        format!("--log-facility={}", log("stub.log")),
        format!("--pid-file={}", log("stub.pid")),
    ];
    let stub: Vec<&str> = stub.iter().map(String::as_str).collect();
    let cmd = lab.exec(&vm_ns, None, &stub);
    lab.start("stub resolver", cmd);
    // The agent's DNS proxy stand-in on 15053, as the proxy's user: it
    // answers mesh names and forwards the rest to resolv.conf's server.
    let agent = [
        "dnsmasq".to_owned(),
        "--keep-in-foreground".to_owned(),
        "--no-resolv".to_owned(),
        "--no-hosts".to_owned(),
        "--listen-address=127.0.0.1".to_owned(),
        "--bind-interfaces".to_owned(),
        "--port=15053".to_owned(),
        "--server=127.0.0.53".to_owned(),
        format!("--address=/{mesh}/{mesh_ip}"),
        "--log-queries".to_owned(),
        format!("--log-facility={}", log("agent.log")),
        format!("--pid-file={}", log("agent.pid")),
    ];
    let agent: Vec<&str> = agent.iter().map(String::as_str).collect();
    let cmd = lab.exec(&vm_ns, Some((e.proxy_uid, e.proxy_gid)), &agent);
    lab.start("agent stand-in", cmd);
    for pid in ["upstream.pid", "stub.pid", "agent.pid"] {
        wait_for(&logs.join(pid), &what);
    }

    // The VM resolves through the stub only.
    let iptables_sh = root.join("usr/local/lib/meshc/iptables.sh");
    let stub_ip = Ipv4Addr::new(127, 0, 0, 53);
    lab.in_private_etc(
        &vm_ns,
        &[stub_ip],
        &format!("bash {} apply", iptables_sh.display()),
    );

    let app = (APP_UID, APP_UID);
    let mut failures = Vec::new();
    for (name, want) in [(external, external_ip), (mesh, mesh_ip)] {
        let got = dig_as(&lab, app, "127.0.0.53", name);
        if got != want {
            failures.push(format!(
                "  dig @127.0.0.53 {name} as uid {APP_UID}: want {want}, got {got:?}"
            ));
        }
    }
    // The application's query reached the agent once; the stub's own
    // upstream query went to the upstream resolver, not to the agent.
    let agent_log = std::fs::read_to_string(logs.join("agent.log")).unwrap_or_default();
    let seen = agent_log.matches(&format!("query[A] {external} from")).count();
    if seen != 1 {
        failures.push(format!(
            "  the agent saw {seen} queries for {external}, want 1:\n{agent_log}"
        ));
    }
    let upstream_log = std::fs::read_to_string(logs.join("upstream.log")).unwrap_or_default();
    if !upstream_log.contains(&format!("query[A] {external} from {}", e.address)) {
        failures.push(format!(
            "  the upstream resolver got no query for {external} from the VM:\n{upstream_log}"
        ));
    }
    assert!(
        failures.is_empty(),
        "{what} (Istio {version}):\n{}",
        failures.join("\n")
    );
    lab.sh(&[
        "ip",
        "netns",
        "exec",
        &vm_ns,
        "bash",
        &iptables_sh.display().to_string(),
        "clean",
    ]);
}

/// Issue #15.2: the sidecar package creates `istio-proxy` with a system uid
/// (`useradd --system`), never 1337. On such a VM (a private mount namespace
/// whose /etc has that user), install.sh and `iptables.sh apply` succeed,
/// and the rules let that user's traffic through while another user's is
/// captured.
#[test]
fn a_system_uid_istio_proxy_is_let_through() {
    let Some(python) = prerequisites() else {
        return;
    };
    let (mut lab, e, bundle, _root) = bookinfo_db("1.24", &python);
    let what = lab.what.clone();
    let (vm_ns, cl_ns) = (lab.vm.clone(), lab.cluster.clone());
    // As the package's postinst does; another system group first, so that
    // the group's gid is not the user's uid.
    let script = format!(
        "groupadd --system meshc-e2e-offset\n\
         groupadd --system istio-proxy\n\
         useradd --system --gid istio-proxy --home-dir /var/lib/istio istio-proxy\n\
         bash {install} >&2\n\
         bash /usr/local/lib/meshc/iptables.sh apply >&2\n\
         echo \"$(id -u istio-proxy) $(id -g istio-proxy)\"",
        install = bundle.join("install.sh").display()
    );
    let ids = lab.in_private_etc(&vm_ns, &[e.peer], &script);
    let ids: Vec<u32> = ids.split_whitespace().map(|n| n.parse().unwrap()).collect();
    let proxy = (ids[0], ids[1]);
    assert!(
        proxy.0 < 1000 && proxy.0 != 1337,
        "{what}: not a system uid: {proxy:?}"
    );

    let sidecar = ["tcp:15001", "tcp:15006"].map(str::to_owned);
    lab.listen(&vm_ns, Some(proxy), "sidecar", &sidecar);
    let port = e.service_ports[0];
    lab.listen(&cl_ns, None, "cluster", &[tcp(e.service_ip, port)]);
    let mut failures = Vec::new();
    let direct = [Check {
        target: tcp(e.service_ip, port),
        want: answer("cluster", 0, port, ""),
        why: "istio-proxy's own traffic is not captured (no loop)",
    }];
    // Envoy runs as istio-proxy; the package's setgid binaries run with its
    // group: each is let through on its own.
    for owner in [proxy, (proxy.0, APP_UID), (APP_UID, proxy.1)] {
        failures.extend(run_checks(&lab, &vm_ns, Some(owner), &direct));
    }
    let captured = [Check {
        target: tcp(e.service_ip, port),
        want: answer(
            "sidecar",
            proxy.0,
            15001,
            &format!("orig={}:{port}", e.service_ip),
        ),
        why: "another user's traffic is captured to the sidecar",
    }];
    failures.extend(run_checks(&lab, &vm_ns, Some((APP_UID, APP_UID)), &captured));
    failures.extend(run_checks(&lab, &vm_ns, Some((1337, 1337)), &captured));
    assert!(failures.is_empty(), "{what}:\n{}", failures.join("\n"));
    let iptables_sh = _root.join("usr/local/lib/meshc/iptables.sh");
    std::fs::create_dir_all(iptables_sh.parent().unwrap()).unwrap();
    std::fs::write(&iptables_sh, std::fs::read(bundle.join("iptables.sh")).unwrap()).unwrap();
    std::fs::copy(
        bundle.join("iptables.rules"),
        _root.join("usr/local/lib/meshc/iptables.rules"),
    )
    .unwrap();
    lab.sh(&[
        "ip",
        "netns",
        "exec",
        &vm_ns,
        "bash",
        &iptables_sh.display().to_string(),
        "clean",
    ]);
    assert!(
        !lab.save().iter().any(|l| l.contains("ISTIO_")),
        "{what}: clean left rules behind"
    );
}

/// `iptables.sh show` on a VM whose resolv.conf holds valid, odd and
/// hostile lines prints, byte for byte, what istio-iptables of the mesh's
/// release writes for that VM's settings with the valid nameservers and
/// the ids of the (absent) istio-proxy user, 1337; nothing else of the file
/// reaches the rules or runs. Releases 1.23 (commands, regrouped), 1.24
/// (old layout) and 1.25 (new layout).
#[test]
fn iptables_sh_show_is_istio_iptables_for_the_vms_resolv_conf() {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n");
    if !prerequisite(
        root,
        "not root: iptables.sh show needs root and a private mount namespace",
    ) || !prerequisite(have_tool("unshare"), "unshare not found")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let canary = dir.path().join("canary");
    let resolv = format!(
        "# nameserver 10.9.9.9\n\
         ; nameserver 10.9.9.8\n\
         search example.test\n\
         nameserver 127.0.0.53\n\
         nameserver   10.0.0.2   # a comment\n\
         nameserver 010.0.0.3\n\
         nameserver 10.0.0.256\n\
         nameserver 10.0.0.4;touch {canary}\n\
         nameserver $(touch {canary})\n\
         nameserver `touch {canary}`\n\
         nameserver fe80::1%eth0\n\
         nameserver resolver.example.test\n\
         nameserver 1:2:3:4:5:6:7:8:9\n\
         nameserver FD00::53\n\
         nameserver ::ffff:10.0.0.5\n\
         options edns0\n\
         nameserver 10.0.0.6",
        canary = canary.display()
    );
    let (v4, v6): (&[&str], &[&str]) = (
        &["127.0.0.53", "10.0.0.2", "10.0.0.6"],
        &["fd00::53", "::ffff:10.0.0.5"],
    );
    std::fs::write(dir.path().join("resolv.conf"), resolv).unwrap();
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/bookinfo-vm/topology.kdl");
    let text = std::fs::read_to_string(base).unwrap();
    for version in ["1.23", "1.24", "1.25"] {
        let text = text.replacen("istio \"1.24\"", &format!("istio \"{version}\""), 1);
        let source = Source::new("topology.kdl", text);
        let (checked, _) = meshc::check_source(&source, Syntax::Kdl, Limits::default());
        let checked = checked.unwrap();
        let (artifacts, _) = meshc::compile(&source, Syntax::Kdl, Limits::default(), "topology.kdl");
        let artifacts = artifacts.unwrap();
        let groups = meshc::emit::vm::plan::group_names(&checked);
        for (v, vm) in checked.topology().vm_ids() {
            let bundle = dir.path().join(format!("{version}-{}", vm.name.value));
            std::fs::create_dir_all(&bundle).unwrap();
            let prefix = format!("vms/{}/", vm.name.value);
            for a in artifacts.iter().filter(|a| a.path.starts_with(&prefix)) {
                std::fs::write(bundle.join(a.path.rsplit('/').next().unwrap()), &a.contents).unwrap();
            }
            let script = format!(
                "mount --bind {} /etc/resolv.conf && bash {}/iptables.sh show 4",
                dir.path().join("resolv.conf").display(),
                bundle.display()
            );
            let out = bounded(
                Command::new("unshare").args(["-m", "bash", "-c", &script]),
                SCRIPT_WAIT,
            );
            let shown = ok(&out, &format!("{version}/{}: iptables.sh show", vm.name.value));

            // What istio-iptables writes for these facts.
            let plan = plan(&checked, v, &groups);
            let capture = meshc::emit::vm::iptables_rules::capture(&plan);
            assert!(
                capture.resolve_dns && capture.resolve_uid,
                "{version}: nothing to read on the VM"
            );
            let owners = |list: &[String]| {
                list.iter()
                    .map(|l| l.replace("@PROXY_UID@", "1337").replace("@PROXY_GID@", "1337"))
                    .collect()
            };
            let config = meshc::iptables::Config {
                proxy_uid: owners(&capture.config.proxy_uid),
                proxy_gid: owners(&capture.config.proxy_gid),
                dns_servers_v4: v4.iter().map(ToString::to_string).collect(),
                dns_servers_v6: v6.iter().map(ToString::to_string).collect(),
                ..capture.config.clone()
            };
            let want = meshc::iptables::rulesets(&config, capture.flavor).v4.restore();
            assert_eq!(shown, want, "{version}/{}: iptables.sh show 4", vm.name.value);
        }
    }
    assert!(!canary.exists(), "resolv.conf text ran as a command");
}

/// `clean` of one release's bundle removes what another release's
/// istio-iptables layout installed (here 1.25's `ISTIO_OUTPUT_DNS` chains
/// and all-protocol jumps, cleaned by a 1.24 bundle, and the reverse),
/// also when nothing recorded what was loaded: upgrading or downgrading
/// Istio leaves no rule behind.
#[test]
fn clean_removes_every_generations_rules() {
    let Some(python) = prerequisites() else {
        return;
    };
    for (loaded, cleaner) in [("1.25", "1.24"), ("1.24", "1.25"), ("1.23", "1.25")] {
        let (lab, e, _bundle, root) = bookinfo_db(loaded, &python);
        // Kept alive: its directory holds the other bundle.
        let (_other_lab, _, other_bundle, _) = bookinfo_db(cleaner, &python);
        let what = format!("{} ({loaded} loaded, {cleaner} cleans)", lab.what);
        let out = bounded(
            Command::new("bash")
                .arg(_bundle.join("install.sh"))
                .arg("--root")
                .arg(&root),
            SCRIPT_WAIT,
        );
        ok(&out, &format!("{what}: install.sh --root"));
        let before = lab.save();
        let script = root.join("usr/local/lib/meshc/iptables.sh");
        // Loaded, then the record of it dropped, as if another tool had
        // installed the rules.
        lab.in_private_etc(
            &lab.vm,
            &[e.peer],
            &format!(
                "bash {} apply && rm -f /run/meshc/iptables-$(stat -L -c %i /proc/self/ns/net)-v4.rules",
                script.display()
            ),
        );
        assert!(
            lab.save().iter().any(|l| l.contains("ISTIO_")),
            "{what}: nothing loaded"
        );
        let other = other_bundle.join("iptables.sh");
        lab.in_private_etc(&lab.vm, &[e.peer], &format!("bash {} clean", other.display()));
        assert_eq!(lab.save(), before, "{what}: clean left rules behind");
    }
}
