//! A generator of large, realistic, valid topologies, for benchmarks and
//! scaling tests.
//!
//! ```text
//! cargo run --release --example synth -- --services 10000 --vms 2000 --clusters 20 > big.kdl
//! ```
//!
//! prints a topology that `meshc check` accepts without a finding: several
//! namespaces, one to three versions per service, about a fifth of the
//! services on VMs (some VMs running several services of one namespace on
//! distinct ports, under one VM service account; some services on several
//! VMs), an average of three `calls` per service without cycles (unless
//! `--cycles`, which adds a few and so draws W901 warnings), weighted routes
//! on some services, an entry point wherever nothing calls a service, and
//! VMs spread over address ranges that all have a gateway: east-west
//! gateways on every cluster, and each data centre's range (VMs only)
//! joined to a cluster network, as by an interconnect (a network of VMs
//! alone would have no gateway Istio runs, E709); the legacy flow, which
//! has no east-west gateway, joins every range into one network. Address
//! plan, one `/16` per range (`10.N.0.0/16`): `.1.C` cluster
//! C's east-west gateway, `.2-5.C` its legacy load balancers, `.16.0` and up
//! the VMs; cluster C's pods in `10.(128+C).0.0/16`, its Services in
//! `10.(192+C).0.0/20`, so nothing overlaps.
//!
//! The same seed always gives the same text (a splitmix64 stream, sorted
//! containers only), and `--syntax toml` gives the TOML form of the same
//! model. The benchmarks, the tests and `examples/synth.rs` (the command
//! above) call [`generate`]; it lives in the library so that they share it
//! without including one another's files.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Which surface syntax to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Kdl,
    Toml,
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct Params {
    pub services: usize,
    pub vms: usize,
    pub clusters: usize,
    /// Default: `clusters / 2 + 2`.
    pub networks: Option<usize>,
    pub seed: u64,
    pub format: Format,
    /// Add a few call cycles (each draws a W901 warning).
    pub cycles: bool,
    /// Istio version; before 1.8 the legacy flow.
    pub istio: String,
}

impl Params {
    pub fn new(services: usize, vms: usize, clusters: usize) -> Params {
        Params {
            services,
            vms,
            clusters,
            networks: None,
            seed: 1,
            format: Format::Kdl,
            cycles: false,
            istio: "1.24".to_owned(),
        }
    }
}

/// The most clusters the address plan has room for (pod and service ranges
/// in `10.128.0.0/10`).
pub const MAX_CLUSTERS: usize = 64;
/// The most networks the address plan has room for (`10.0.0.0/9`).
pub const MAX_NETWORKS: usize = 128;
/// VM addresses per network (`10.N.16.1` to `10.N.255.250`).
const VMS_PER_NETWORK: usize = 240 * 250;

/// splitmix64: tiny, fast, and good enough to pick names and shapes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`; `n` must not be 0.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

const REGIONS: &[&str] = &[
    "us-east",
    "us-west",
    "eu-west",
    "eu-central",
    "ap-south",
    "ap-east",
    "sa-east",
    "ca-central",
];
const NAMESPACES: &[&str] = &[
    "shop",
    "billing",
    "identity",
    "search",
    "logistics",
    "media",
    "analytics",
    "support",
    "platform",
    "growth",
];
const NOUNS: &[&str] = &[
    "catalog",
    "orders",
    "cart",
    "checkout",
    "payments",
    "invoices",
    "ledger",
    "accounts",
    "auth",
    "profile",
    "search",
    "recommend",
    "reviews",
    "ratings",
    "inventory",
    "shipping",
    "pricing",
    "promo",
    "notify",
    "email",
    "media",
    "images",
    "session",
    "reports",
    "audit",
    "fraud",
    "tax",
    "loyalty",
    "export",
    "geo",
];
/// Service roles and the ports a service of that role listens on.
const ROLES: &[(&str, &[(&str, u16)])] = &[
    ("api", &[("http", 8080)]),
    ("svc", &[("grpc", 9090)]),
    ("worker", &[("grpc", 50051)]),
    ("db", &[("tcp-postgres", 5432)]),
    ("cache", &[("redis", 6379)]),
    ("web", &[("http", 8000)]),
    ("backend", &[("http", 9080)]),
    ("store", &[("mysql", 3306)]),
    ("sync", &[("grpc", 7000)]),
    ("index", &[("http", 9200)]),
];

/// `list[i]`, then `list[i]-2`, `list[i]-3`… once the list is used up.
fn nth_name(list: &[&str], i: usize) -> String {
    match i / list.len() {
        0 => list[i % list.len()].to_owned(),
        round => format!("{}-{}", list[i % list.len()], round + 1),
    }
}

/// Service `i`'s noun and role (an index into `ROLES`): every pair once per
/// round of `NOUNS × ROLES`, with the roles mixed even in a small topology.
fn name_parts(i: usize) -> (&'static str, usize) {
    let j = i % (NOUNS.len() * ROLES.len());
    let noun = j % NOUNS.len();
    (NOUNS[noun], (noun + j / NOUNS.len()) % ROLES.len())
}

/// Ports no VM workload may listen on: SSH and the sidecar's own range.
fn reserved(port: u16) -> bool {
    port == 22 || (15000..=15099).contains(&port)
}

struct Network {
    name: String,
    cidr: String,
    /// The network this range is part of, when it is not declared as one
    /// of its own (a data centre joined to a cloud network).
    joined: Option<usize>,
}

impl Plan {
    /// The declared network a range belongs to.
    fn network_name(&self, range: usize) -> &str {
        let net = &self.networks[range];
        net.joined.map_or(&net.name, |j| &self.networks[j].name)
    }

    /// The declared networks, each with its ranges.
    fn declared_networks(&self) -> Vec<(&str, Vec<&str>)> {
        let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
        for (i, net) in self.networks.iter().enumerate() {
            if net.joined.is_none() {
                let ranges = self
                    .networks
                    .iter()
                    .enumerate()
                    .filter(|(j, n)| *j == i || n.joined == Some(i))
                    .map(|(_, n)| n.cidr.as_str())
                    .collect();
                out.push((&net.name, ranges));
            }
        }
        out
    }
}

struct Cluster {
    name: String,
    network: usize,
    pod_cidr: String,
    service_cidr: String,
    kube_dns: String,
    control_plane: bool,
    east_west_gateway: Option<String>,
    /// pilot, mixer, citadel, kube-dns (legacy flow).
    ilb: Option<[String; 4]>,
}

#[derive(Default)]
struct Vm {
    name: String,
    address: String,
    network: usize,
    cluster: Option<usize>,
    ssh: Option<String>,
    service_account: Option<String>,
    autoregister: bool,
    dnsmasq: bool,
    zone: Option<String>,
    /// Services deployed on it, in order.
    services: Vec<usize>,
}

struct Port {
    name: &'static str,
    number: u16,
    target: Option<u16>,
}

impl Port {
    fn listen(&self) -> u16 {
        self.target.unwrap_or(self.number)
    }
}

enum Place {
    Cluster(usize),
    Vm(usize),
}

struct Deploy {
    versions: Vec<String>,
    place: Place,
    service_account: Option<String>,
}

enum Probe {
    Http(u16),
    Tcp(u16),
}

#[derive(Default)]
struct Service {
    name: String,
    namespace: usize,
    service_account: Option<String>,
    ports: Vec<Port>,
    deploys: Vec<Deploy>,
    routes: Vec<(String, Option<u32>)>,
    calls: Vec<usize>,
    probe: Option<Probe>,
    service_entry: bool,
    entry_point: bool,
    /// VMs it runs on (its last version), primary first.
    vms: Vec<usize>,
}

struct Plan {
    legacy: bool,
    istio: String,
    networks: Vec<Network>,
    clusters: Vec<Cluster>,
    vms: Vec<Vm>,
    namespaces: Vec<String>,
    services: Vec<Service>,
}

/// Whether an Istio version (`1.24`, `1.0.9`) takes the legacy flow.
fn is_legacy(istio: &str) -> Result<bool, String> {
    let mut parts = istio.split('.').map(str::parse::<u32>);
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => Ok((major, minor) < (1, 8)),
        _ => Err(format!("--istio: expected MAJOR.MINOR[.PATCH], got `{istio}`")),
    }
}

/// The topology text for `p`, or why `p` cannot be satisfied.
pub fn generate(p: &Params) -> Result<String, String> {
    let plan = plan(p)?;
    let header = format!(
        "meshc synthetic topology: {} services, {} VMs, {} clusters, {} address ranges, seed {}{}.\n\
         Generated by `cargo run --example synth`; every name and address is made up.",
        p.services,
        p.vms,
        p.clusters,
        plan.networks.len(),
        p.seed,
        if p.cycles { ", with call cycles" } else { "" }
    );
    Ok(match p.format {
        Format::Kdl => render_kdl(&plan, &header),
        Format::Toml => render_toml(&plan, &header),
    })
}

fn plan(p: &Params) -> Result<Plan, String> {
    let (n, m, k) = (p.services, p.vms, p.clusters);
    if n == 0 {
        return Err("--services must be at least 1".to_owned());
    }
    if k == 0 || k > MAX_CLUSTERS {
        return Err(format!("--clusters must be 1 to {MAX_CLUSTERS}"));
    }
    let w = p.networks.unwrap_or(k / 2 + 2);
    if w == 0 || w > MAX_NETWORKS {
        return Err(format!("--networks must be 1 to {MAX_NETWORKS}"));
    }
    if m > w * VMS_PER_NETWORK {
        return Err(format!("at most {VMS_PER_NETWORK} VMs per network"));
    }
    let legacy = is_legacy(&p.istio)?;
    let mut rng = Rng(p.seed);

    // Networks: the first ones carry the clusters (round robin), the rest
    // (a quarter, at least one when there are two or more) hold only VMs.
    let cluster_nets = if w == 1 { 1 } else { k.min(w - (w / 4).max(1)) };
    let mut vm_only = 0;
    let networks: Vec<Network> = (0..w)
        .map(|i| {
            let (name, has_clusters) = if i < cluster_nets {
                (format!("vpc-{}", nth_name(REGIONS, i)), true)
            } else {
                vm_only += 1;
                (format!("dc-{vm_only}"), false)
            };
            // The legacy flow has no east-west gateway: one network holds
            // every range. A data centre joins a cluster network.
            let joined = if legacy {
                (i > 0).then_some(0)
            } else {
                (!has_clusters).then_some(i % cluster_nets)
            };
            Network {
                name,
                cidr: format!("10.{i}.0.0/16"),
                joined,
            }
        })
        .collect();

    // Clusters: the first one on each network runs a control plane
    // (multi-primary across networks), the others are remote.
    let clusters: Vec<Cluster> = (0..k)
        .map(|c| {
            let net = c % cluster_nets;
            let control_plane = c < cluster_nets;
            let region = networks[net].name.trim_start_matches("vpc-");
            let host = c + 1;
            Cluster {
                name: format!("{region}-{}", c / cluster_nets + 1),
                network: net,
                pod_cidr: format!("10.{}.0.0/16", 128 + c),
                service_cidr: format!("10.{}.0.0/20", 192 + c),
                kube_dns: format!("10.{}.0.10", 192 + c),
                control_plane,
                east_west_gateway: (!legacy).then(|| format!("10.{net}.1.{host}")),
                ilb: (legacy && control_plane)
                    .then(|| [2, 3, 4, 5].map(|third| format!("10.{net}.{third}.{host}"))),
            }
        })
        .collect();
    let planes: Vec<usize> = (0..k).filter(|&c| clusters[c].control_plane).collect();

    let ns_count = (n / 15).clamp(2, 500).min(n);
    let mut services: Vec<Service> = (0..n)
        .map(|i| {
            let (noun, role) = name_parts(i);
            let role = ROLES[role].0;
            let round = i / (NOUNS.len() * ROLES.len());
            let name = match round {
                0 => format!("{noun}-{role}"),
                r => format!("{noun}-{role}-{}", r + 1),
            };
            // Namespaces are contiguous blocks, so that nearby services,
            // which call each other most, mostly share one.
            Service {
                name,
                namespace: i * ns_count / n,
                ..Service::default()
            }
        })
        .collect();

    // VMs: about a fifth of the services run on them, packed in groups of
    // one to three consecutive services per VM; with more groups than VMs
    // the groups wrap around (VMs with more services), with fewer the spare
    // VMs run a second copy of some VM service.
    let mut vms: Vec<Vm> = (0..m).map(|_| Vm::default()).collect();
    if m > 0 {
        let mut order: Vec<usize> = (0..n).collect();
        rng.shuffle(&mut order);
        let mut on_vms: Vec<usize> = order[..(n / 5).max(1)].to_vec();
        on_vms.sort_unstable();
        let mut vm_namespace: Vec<Option<usize>> = vec![None; m];
        let mut g = 0;
        let mut rest = on_vms.as_slice();
        while !rest.is_empty() {
            let size = match rng.below(100) {
                0..65 => 1,
                65..90 => 2,
                _ => 3,
            };
            let (group, tail) = rest.split_at(size.min(rest.len()));
            rest = tail;
            let v = g % m;
            g += 1;
            let ns = *vm_namespace[v].get_or_insert(services[group[0]].namespace);
            for &s in group {
                services[s].namespace = ns;
                services[s].vms.push(v);
                vms[v].services.push(s);
            }
        }
        for (v, vm) in vms.iter_mut().enumerate().skip(g) {
            let s = on_vms[rng.below(on_vms.len())];
            vm.services.push(s);
            services[s].vms.push(v);
        }
    }
    let mut per_network = vec![0usize; w];
    let mut replicas: BTreeMap<usize, usize> = BTreeMap::new();
    for (v, vm) in vms.iter_mut().enumerate() {
        let net = v % w;
        let j = per_network[net];
        per_network[net] += 1;
        vm.network = net;
        vm.address = format!("10.{net}.{}.{}", 16 + j / 250, 1 + j % 250);
        let first = vm.services[0];
        let r = replicas.entry(first).or_insert(0);
        *r += 1;
        vm.name = format!("{}-vm{r}", services[first].name);
        // The control plane on the VM's own network, else any.
        let home = if net < cluster_nets {
            net
        } else {
            planes[v % planes.len()]
        };
        // With one control plane the VM may leave its home implicit.
        vm.cluster = (planes.len() > 1 || rng.chance(50)).then_some(home);
        if rng.chance(60) {
            vm.ssh = Some(format!("root@{}", vm.address));
        }
        if rng.chance(30) {
            let region = networks[net].name.trim_start_matches("vpc-");
            vm.zone = Some(format!("{region}-{}", ["a", "b", "c"][rng.below(3)]));
        }
        // One sidecar, one identity: a VM running several services gets a
        // service account of its own.
        if vm.services.len() > 1 {
            vm.service_account = Some(format!("{}-sa", vm.name));
        }
        vm.dnsmasq = legacy;
    }

    // Ports, versions, deployments, routes.
    let mut vm_ports: Vec<BTreeSet<u16>> = vec![BTreeSet::new(); m];
    for (i, s) in services.iter_mut().enumerate() {
        let role = ROLES[name_parts(i).1];
        let (pname, pnum) = role.1[0];
        let mut ports = vec![Port {
            name: pname,
            number: pnum,
            target: rng.chance(10).then_some(pnum + 10_000),
        }];
        if rng.chance(25) {
            ports.push(Port {
                name: "http-metrics",
                number: 9102,
                target: None,
            });
        }
        // On VMs, every listening port must be free on each of its VMs.
        for pi in 0..ports.len() {
            loop {
                let listen = ports[pi].listen();
                let clash = reserved(listen)
                    || reserved(ports[pi].number)
                    || ports[..pi]
                        .iter()
                        .any(|q| q.number == ports[pi].number || q.listen() == listen)
                    || s.vms.iter().any(|&v| vm_ports[v].contains(&listen));
                if !clash {
                    break;
                }
                ports[pi].number += 1;
                if let Some(t) = &mut ports[pi].target {
                    *t += 1;
                }
            }
            for &v in &s.vms {
                vm_ports[v].insert(ports[pi].listen());
            }
        }
        s.ports = ports;

        let nv = match rng.below(100) {
            0..50 => 1,
            50..85 => 2,
            _ => 3,
        };
        let versions: Vec<String> = (1..=nv).map(|v| format!("v{v}")).collect();
        let home = rng.below(k);
        let on_clusters = if s.vms.is_empty() { nv } else { nv - 1 };
        if on_clusters > 0 {
            s.deploys.push(Deploy {
                versions: versions[..on_clusters].to_vec(),
                place: Place::Cluster(home),
                service_account: rng.chance(3).then(|| "default".to_owned()),
            });
            if k > 1 && rng.chance(20) {
                s.deploys.push(Deploy {
                    versions: versions[..1].to_vec(),
                    place: Place::Cluster((home + 1 + rng.below(k - 1)) % k),
                    service_account: None,
                });
            }
        }
        for &v in &s.vms {
            s.deploys.push(Deploy {
                versions: versions[nv - 1..].to_vec(),
                place: Place::Vm(v),
                service_account: None,
            });
        }
        if nv > 1 {
            match rng.below(100) {
                // A split over every version, summing to 100.
                0..35 => {
                    let mut cuts: Vec<u32> = (1..nv).map(|_| rng.below(101) as u32).collect();
                    cuts.sort_unstable();
                    cuts.push(100);
                    let mut last = 0;
                    for (v, cut) in versions.iter().zip(cuts) {
                        s.routes.push((v.clone(), Some(cut - last)));
                        last = cut;
                    }
                }
                // A cut-over: all traffic to the newest version.
                35..45 => s.routes.push((versions[nv - 1].clone(), None)),
                _ => {}
            }
        }
        if rng.chance(30) {
            s.service_account = Some(format!(
                "{}-{}",
                NAMESPACES[s.namespace % NAMESPACES.len()],
                s.name
            ));
        }
        if !legacy && !s.vms.is_empty() {
            if rng.chance(40) {
                let port = s.ports[0].listen();
                s.probe = Some(if s.ports[0].name.starts_with("http") {
                    Probe::Http(port)
                } else {
                    Probe::Tcp(port)
                });
            }
            s.service_entry = on_clusters == 0 && rng.chance(25);
        }
    }
    for vm in &mut vms {
        let s = &services[vm.services[0]];
        vm.autoregister = !legacy && vm.services.len() == 1 && !s.service_entry && rng.chance(25);
    }

    // Calls: each service calls one to five of the next 32, so the graph
    // is acyclic and mostly local.
    for (i, s) in services.iter_mut().enumerate() {
        let after = n - 1 - i;
        let want = (1 + rng.below(5)).min(after);
        let window = after.min(32);
        let mut calls = Vec::with_capacity(want);
        for _ in 0..want {
            let j = i + 1 + rng.below(window);
            if !calls.contains(&j) {
                calls.push(j);
            }
        }
        s.calls = calls;
    }
    if p.cycles {
        for _ in 0..(n / 200).max(1) {
            let a = rng.below(n);
            let mut b = a;
            for _ in 0..1 + rng.below(3) {
                let callees = &services[b].calls;
                if callees.is_empty() {
                    break;
                }
                b = callees[rng.below(callees.len())];
            }
            if b != a && !services[b].calls.contains(&a) {
                services[b].calls.push(a);
            }
        }
    }
    let mut called = vec![false; n];
    for s in &services {
        for &c in &s.calls {
            called[c] = true;
        }
    }
    for (s, called) in services.iter_mut().zip(called) {
        s.entry_point = !called;
    }

    // Namespaces that hold a service; `namespace_names` keeps the plan's
    // indices, and only these are declared (an empty one is W903).
    let namespaces: Vec<String> = (0..ns_count).map(|i| nth_name(NAMESPACES, i)).collect();
    Ok(Plan {
        legacy,
        istio: p.istio.clone(),
        networks,
        clusters,
        vms,
        namespaces,
        services,
    })
}

impl Plan {
    fn used_namespaces(&self) -> BTreeSet<usize> {
        self.services.iter().map(|s| s.namespace).collect()
    }

    /// How `from` names `to` in `calls`: bare in its own namespace.
    fn call_name(&self, from: &Service, to: usize) -> String {
        let to = &self.services[to];
        if to.namespace == from.namespace {
            to.name.clone()
        } else {
            format!("{}.{}", to.name, self.namespaces[to.namespace])
        }
    }

    fn revision(&self) -> String {
        self.istio.replace('.', "-")
    }
}

/// A KDL value: a bare identifier when it is a plain name, else a string.
fn kv(s: &str) -> String {
    let bare = s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !matches!(s, "true" | "false" | "null" | "inf" | "nan");
    if bare { s.to_owned() } else { quote(s) }
}

/// A double-quoted string, valid in both KDL and TOML.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn render_kdl(plan: &Plan, header: &str) -> String {
    let mut o = String::with_capacity(plan.services.len() * 400 + 4096);
    // Writing to a String cannot fail; the results are ignored throughout.
    for line in header.lines() {
        let _ = writeln!(o, "// {line}");
    }
    let _ = writeln!(o, "mesh synth {{\n    istio {}", quote(&plan.istio));
    if plan.legacy {
        o.push_str("    control-plane-auth MUTUAL_TLS\n");
    } else {
        let _ = writeln!(
            o,
            "    mesh-id synth-mesh\n    revision {}",
            quote(&plan.revision())
        );
    }
    o.push_str("}\n");
    for (name, ranges) in plan.declared_networks() {
        let ranges: Vec<String> = ranges.iter().map(|r| quote(r)).collect();
        let _ = writeln!(o, "\nnetwork {} {{\n    cidr {}", kv(name), ranges.join(" "));
        o.push_str("}\n");
    }
    for c in &plan.clusters {
        let _ = writeln!(
            o,
            "\ncluster {} {{\n    network {}\n    pod-cidr {}\n    service-cidr {}\n    kube-dns {}",
            kv(&c.name),
            kv(plan.network_name(c.network)),
            quote(&c.pod_cidr),
            quote(&c.service_cidr),
            quote(&c.kube_dns)
        );
        if c.control_plane {
            o.push_str("    control-plane #true\n");
        }
        if let Some(g) = &c.east_west_gateway {
            let _ = writeln!(o, "    east-west-gateway {}", quote(g));
        }
        if let Some([pilot, mixer, citadel, dns]) = &c.ilb {
            let _ = writeln!(
                o,
                "    ilb pilot={} mixer={} citadel={} kube-dns={}",
                quote(pilot),
                quote(mixer),
                quote(citadel),
                quote(dns)
            );
        }
        o.push_str("}\n");
    }
    for vm in &plan.vms {
        let _ = writeln!(
            o,
            "\nvm {} {{\n    address {}\n    network {}",
            kv(&vm.name),
            quote(&vm.address),
            kv(plan.network_name(vm.network))
        );
        if let Some(c) = vm.cluster {
            let _ = writeln!(o, "    cluster {}", kv(&plan.clusters[c].name));
        }
        if let Some(ssh) = &vm.ssh {
            let _ = writeln!(o, "    ssh {}", quote(ssh));
        }
        if let Some(sa) = &vm.service_account {
            let _ = writeln!(o, "    service-account {}", kv(sa));
        }
        if vm.dnsmasq {
            o.push_str("    dns dnsmasq\n");
        }
        if vm.autoregister {
            o.push_str("    autoregister #true\n");
        }
        if let Some(z) = &vm.zone {
            let _ = writeln!(o, "    labels zone={}", quote(z));
        }
        o.push_str("}\n");
    }
    o.push('\n');
    for ns in plan.used_namespaces() {
        let _ = writeln!(
            o,
            "namespace {} {{\n    labels team={}\n}}",
            kv(&plan.namespaces[ns]),
            quote(&plan.namespaces[ns])
        );
    }
    for s in &plan.services {
        let _ = writeln!(
            o,
            "\nservice {} namespace={} {{",
            kv(&s.name),
            kv(&plan.namespaces[s.namespace])
        );
        if let Some(sa) = &s.service_account {
            let _ = writeln!(o, "    service-account {}", kv(sa));
        }
        for p in &s.ports {
            let _ = write!(o, "    port {} {}", kv(p.name), p.number);
            if let Some(t) = p.target {
                let _ = write!(o, " target-port={t}");
            }
            o.push('\n');
        }
        for d in &s.deploys {
            o.push_str("    deploy");
            for v in &d.versions {
                let _ = write!(o, " {}", kv(v));
            }
            let _ = match d.place {
                Place::Cluster(c) => write!(o, " cluster={}", kv(&plan.clusters[c].name)),
                Place::Vm(v) => write!(o, " vm={}", kv(&plan.vms[v].name)),
            };
            if let Some(sa) = &d.service_account {
                let _ = write!(o, " service-account={}", kv(sa));
            }
            o.push('\n');
        }
        for (v, weight) in &s.routes {
            let _ = write!(o, "    route {}", kv(v));
            if let Some(w) = weight {
                let _ = write!(o, " weight={w}");
            }
            o.push('\n');
        }
        if !s.calls.is_empty() {
            o.push_str("    calls");
            for &c in &s.calls {
                let _ = write!(o, " {}", kv(&plan.call_name(s, c)));
            }
            o.push('\n');
        }
        match s.probe {
            Some(Probe::Http(port)) => {
                let _ = writeln!(o, "    probe http port={port} path=\"/healthz\"");
            }
            Some(Probe::Tcp(port)) => {
                let _ = writeln!(o, "    probe tcp port={port}");
            }
            None => {}
        }
        if s.service_entry {
            o.push_str("    registration service-entry\n");
        }
        if s.entry_point {
            o.push_str("    entry-point #true\n");
        }
        o.push_str("}\n");
    }
    o
}

fn render_toml(plan: &Plan, header: &str) -> String {
    let mut o = String::with_capacity(plan.services.len() * 500 + 4096);
    for line in header.lines() {
        let _ = writeln!(o, "# {line}");
    }
    let _ = writeln!(o, "\n[mesh]\nname = \"synth\"\nistio = {}", quote(&plan.istio));
    if plan.legacy {
        o.push_str("control-plane-auth = \"MUTUAL_TLS\"\n");
    } else {
        let _ = writeln!(
            o,
            "mesh-id = \"synth-mesh\"\nrevision = {}",
            quote(&plan.revision())
        );
    }
    for (name, ranges) in plan.declared_networks() {
        let ranges: Vec<String> = ranges.iter().map(|r| quote(r)).collect();
        let _ = writeln!(
            o,
            "\n[[network]]\nname = {}\ncidr = [{}]",
            quote(name),
            ranges.join(", ")
        );
    }
    for c in &plan.clusters {
        let _ = writeln!(
            o,
            "\n[[cluster]]\nname = {}\nnetwork = {}\npod-cidr = [{}]\nservice-cidr = [{}]\nkube-dns = {}",
            quote(&c.name),
            quote(plan.network_name(c.network)),
            quote(&c.pod_cidr),
            quote(&c.service_cidr),
            quote(&c.kube_dns)
        );
        if c.control_plane {
            o.push_str("control-plane = true\n");
        }
        if let Some(g) = &c.east_west_gateway {
            let _ = writeln!(o, "east-west-gateway = {}", quote(g));
        }
        if let Some([pilot, mixer, citadel, dns]) = &c.ilb {
            let _ = writeln!(
                o,
                "ilb = {{ pilot = {}, mixer = {}, citadel = {}, kube-dns = {} }}",
                quote(pilot),
                quote(mixer),
                quote(citadel),
                quote(dns)
            );
        }
    }
    for vm in &plan.vms {
        let _ = writeln!(
            o,
            "\n[[vm]]\nname = {}\naddress = {}\nnetwork = {}",
            quote(&vm.name),
            quote(&vm.address),
            quote(plan.network_name(vm.network))
        );
        if let Some(c) = vm.cluster {
            let _ = writeln!(o, "cluster = {}", quote(&plan.clusters[c].name));
        }
        if let Some(ssh) = &vm.ssh {
            let _ = writeln!(o, "ssh = {}", quote(ssh));
        }
        if let Some(sa) = &vm.service_account {
            let _ = writeln!(o, "service-account = {}", quote(sa));
        }
        if vm.dnsmasq {
            o.push_str("dns = \"dnsmasq\"\n");
        }
        if vm.autoregister {
            o.push_str("autoregister = true\n");
        }
        if let Some(z) = &vm.zone {
            let _ = writeln!(o, "labels = {{ zone = {} }}", quote(z));
        }
    }
    for ns in plan.used_namespaces() {
        let name = quote(&plan.namespaces[ns]);
        let _ = writeln!(o, "\n[[namespace]]\nname = {name}\nlabels = {{ team = {name} }}");
    }
    for s in &plan.services {
        let _ = writeln!(
            o,
            "\n[[service]]\nname = {}\nnamespace = {}",
            quote(&s.name),
            quote(&plan.namespaces[s.namespace])
        );
        if let Some(sa) = &s.service_account {
            let _ = writeln!(o, "service-account = {}", quote(sa));
        }
        if !s.calls.is_empty() {
            let calls: Vec<String> = s.calls.iter().map(|&c| quote(&plan.call_name(s, c))).collect();
            let _ = writeln!(o, "calls = [{}]", calls.join(", "));
        }
        if s.service_entry {
            o.push_str("registration = \"service-entry\"\n");
        }
        if s.entry_point {
            o.push_str("entry-point = true\n");
        }
        let ports: Vec<String> = s
            .ports
            .iter()
            .map(|p| match p.target {
                Some(t) => format!(
                    "{{ name = {}, number = {}, target-port = {t} }}",
                    quote(p.name),
                    p.number
                ),
                None => format!("{{ name = {}, number = {} }}", quote(p.name), p.number),
            })
            .collect();
        let _ = writeln!(o, "port = [{}]", ports.join(", "));
        let deploys: Vec<String> = s
            .deploys
            .iter()
            .map(|d| {
                let versions = match d.versions.as_slice() {
                    [one] => quote(one),
                    many => format!(
                        "[{}]",
                        many.iter().map(|v| quote(v)).collect::<Vec<_>>().join(", ")
                    ),
                };
                let place = match d.place {
                    Place::Cluster(c) => format!("cluster = {}", quote(&plan.clusters[c].name)),
                    Place::Vm(v) => format!("vm = {}", quote(&plan.vms[v].name)),
                };
                match &d.service_account {
                    Some(sa) => format!(
                        "{{ version = {versions}, {place}, service-account = {} }}",
                        quote(sa)
                    ),
                    None => format!("{{ version = {versions}, {place} }}"),
                }
            })
            .collect();
        let _ = writeln!(o, "deploy = [{}]", deploys.join(", "));
        if !s.routes.is_empty() {
            let routes: Vec<String> = s
                .routes
                .iter()
                .map(|(v, w)| match w {
                    Some(w) => format!("{{ version = {}, weight = {w} }}", quote(v)),
                    None => format!("{{ version = {} }}", quote(v)),
                })
                .collect();
            let _ = writeln!(o, "route = [{}]", routes.join(", "));
        }
        match s.probe {
            Some(Probe::Http(port)) => {
                let _ = writeln!(
                    o,
                    "probe = {{ kind = \"http\", port = {port}, path = \"/healthz\" }}"
                );
            }
            Some(Probe::Tcp(port)) => {
                let _ = writeln!(o, "probe = {{ kind = \"tcp\", port = {port} }}");
            }
            None => {}
        }
    }
    o
}
