//! `meshc why FROM TO`: can FROM reach TO, and through what?
//!
//! An offline answer from the checked topology: no cluster is asked. FROM
//! and TO are services (`name`, `name.namespace`, optionally `@version`)
//! or VMs (`vm:NAME`, or a bare name that is no service). Every pair of a
//! FROM workload and a TO workload is a *path*, and each path is a chain
//! of links, each read from the graph `check` built ([`MeshGraph`]), which
//! holds the same facts the emitters write:
//!
//! 1. **resolve**: how the caller's host resolves the callee's name
//!    (kube-dns of its cluster, the Istio agent's DNS proxy, dnsmasq, or a
//!    hosts file that cannot);
//! 2. **capture**: whether the caller's sidecar sees the connection (an
//!    injected pod; a VM's iptables, unless `outbound-exclude-ports`
//!    lists the port);
//! 3. **egress**: the caller's Sidecar egress host for the callee;
//! 4. **network**: same network, or the east-west gateway of the callee's
//!    network (port 15443);
//! 5. **inbound**: whether the callee's sidecar captures the connection;
//! 6. **authz**: the callee's AuthorizationPolicy rule that admits the
//!    caller's identity;
//! 7. **route**: the callee's VirtualService weight for that version.
//!
//! A link is `ok`, a `note` (works, with a caveat worth knowing), or
//! `missing` (the connection fails there), with the setting that would fix
//! it. FROM reaches TO when every FROM workload has at least one open path
//! that a route gives traffic to.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::check::graph::{self, EdgeKind, NodeKind, Resolver};
use crate::check::{Checked, NetworkId, ServiceId, VmId, WorkloadId};
use crate::model::{Flow, Topology};
use crate::source::{Source, Span};

/// One end of the question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A service (index), maybe one version of it.
    Service {
        service: ServiceId,
        version: Option<String>,
    },
    /// A VM (index): every workload on it.
    Vm(VmId),
}

/// Resolves `text` (`svc`, `svc.ns`, `svc@version`, `vm:NAME`, or a VM
/// name that is no service's) to an endpoint, or says why it cannot.
pub fn endpoint(checked: &Checked, text: &str) -> Result<Endpoint, String> {
    let (topo, ix) = (checked.topology(), checked.index());
    if let Some(vm) = text.strip_prefix("vm:") {
        return ix
            .vms
            .get(vm)
            .map(Endpoint::Vm)
            .ok_or_else(|| format!("no VM `{vm}` in the topology"));
    }
    let (name, version) = match text.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (text, None),
    };
    if let Some(s) = ix.service("", name) {
        if let Some(v) = version
            && !ix.workloads.iter().any(|w| w.service == s && w.version == v)
        {
            let deployed: BTreeSet<&str> = ix
                .workloads
                .iter()
                .filter(|w| w.service == s)
                .map(|w| w.version.as_str())
                .collect();
            let deployed: Vec<&str> = deployed.into_iter().collect();
            return Err(format!(
                "service `{name}` deploys no version `{v}` (it deploys: {})",
                deployed.join(", ")
            ));
        }
        return Ok(Endpoint::Service {
            service: s,
            version: version.map(str::to_owned),
        });
    }
    if let (Some(v), None) = (ix.vms.get(name), version) {
        return Ok(Endpoint::Vm(v));
    }
    match ix.services_by_name.get(name) {
        Some(first) if ix.name_in_several_namespaces[first] => {
            let mut spelled: Vec<String> = (topo.service_ids())
                .filter(|(s, svc)| ix.service_named(&svc.namespace.value, name) == Some(*s))
                .map(|(_, s)| format!("{name}.{}", s.namespace.value))
                .collect();
            spelled.sort();
            Err(format!(
                "`{name}` names a service in several namespaces: say which ({})",
                spelled.join(", ")
            ))
        }
        _ => {
            let names = topo
                .services
                .iter()
                .map(|s| s.name.value.as_str())
                .chain(topo.vms.iter().map(|v| v.name.value.as_str()));
            let hint = crate::diagnostic::suggest(name, names)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            Err(format!("no service or VM `{name}` in the topology{hint}"))
        }
    }
}

/// How a link of a path fares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Note,
    Missing,
}

/// One link of a path.
#[derive(Clone, Debug, Serialize)]
pub struct Link {
    /// `resolve`, `capture`, `egress`, `network`, `inbound`, `authz` or `route`.
    pub step: &'static str,
    pub status: Status,
    pub detail: String,
    /// What would fix a `missing` link (or settle a `note`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// A workload, named.
#[derive(Clone, Debug, Serialize)]
pub struct End {
    pub service: String,
    pub namespace: String,
    pub version: String,
    /// `cluster` or `vm`.
    pub host_kind: &'static str,
    pub host: String,
    pub network: String,
}

/// How traffic of a path fares as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PathStatus {
    /// Every link holds and a route sends traffic this way.
    Open,
    /// Every link holds, but no route sends traffic to this version.
    Unrouted,
    /// A link is missing.
    Blocked,
}

/// One caller workload to one callee workload.
#[derive(Clone, Debug, Serialize)]
pub struct Path {
    pub from: End,
    pub to: End,
    pub status: PathStatus,
    /// The callee's route weight for this version; `null` when the callee
    /// has no routes (traffic is spread over every version).
    pub weight: Option<u32>,
    pub links: Vec<Link>,
}

/// A declared call between the two services.
#[derive(Clone, Debug, Serialize)]
pub struct Call {
    pub from: String,
    pub to: String,
    /// `file:line:column` of the `calls` entry, or `null` when none declares it.
    pub declared_at: Option<String>,
}

/// The whole answer.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The format of this document; bumped on any incompatible change.
    pub version: u32,
    pub from: String,
    pub to: String,
    pub reachable: bool,
    /// One entry per (caller service, callee service) pair.
    pub calls: Vec<Call>,
    pub paths: Vec<Path>,
    /// Every distinct fix of a missing link, in path order.
    pub fixes: Vec<String>,
}

/// The workloads an endpoint stands for, in declaration order.
fn workloads(checked: &Checked, e: &Endpoint) -> Vec<WorkloadId> {
    let (g, ix) = (checked.graph(), checked.index());
    match e {
        Endpoint::Service { service, version } => g
            .workloads_of(*service)
            .into_iter()
            .filter(|&w| version.as_ref().is_none_or(|v| ix.workloads[w].version == *v))
            .collect(),
        Endpoint::Vm(v) => g
            .in_edges(NodeKind::Vm(*v), EdgeKind::RunsOn)
            .iter()
            .filter_map(|(n, _)| match n {
                NodeKind::Workload(w) => Some(*w),
                _ => None,
            })
            .collect(),
    }
}

/// What every link reads: the checked topology and the names the emitters
/// give things.
struct Cx<'a> {
    checked: &'a Checked,
    topo: &'a Topology,
    source: &'a Source,
    /// The cluster domain of the config clusters (E708 makes them agree),
    /// which names hosts in the Istio objects.
    domain: &'a str,
}

impl Cx<'_> {
    fn at(&self, span: Span) -> String {
        let lc = self.source.line_col(span.start);
        format!("{}:{}:{}", self.source.name, lc.line, lc.column)
    }

    fn fqdn(&self, s: ServiceId) -> String {
        let svc = &self.topo.services[s];
        format!("{}.{}.svc.{}", svc.name.value, svc.namespace.value, self.domain)
    }

    fn qualified(&self, s: ServiceId) -> String {
        let svc = &self.topo.services[s];
        format!("{}/{}", svc.namespace.value, svc.name.value)
    }

    /// How service `a` would write a `calls` entry for `b`.
    fn calls_entry(&self, a: ServiceId, b: ServiceId) -> String {
        let (sa, sb) = (&self.topo.services[a], &self.topo.services[b]);
        if sa.namespace.value == sb.namespace.value {
            format!("calls {}", sb.name.value)
        } else {
            format!("calls \"{}.{}\"", sb.name.value, sb.namespace.value)
        }
    }

    fn host_name(&self, host: NodeKind) -> (&'static str, String) {
        match host {
            NodeKind::Cluster(c) => ("cluster", self.topo.clusters[c].name.value.clone()),
            NodeKind::Vm(v) => ("vm", self.topo.vms[v].name.value.clone()),
            _ => ("", String::new()),
        }
    }

    fn end(&self, w: WorkloadId) -> End {
        let g = self.checked.graph();
        let wl = &self.checked.index().workloads[w];
        let service = &self.topo.services[wl.service];
        let (host_kind, host) = g.host_of(w).map(|h| self.host_name(h)).unwrap_or_default();
        End {
            service: service.name.value.clone(),
            namespace: service.namespace.value.clone(),
            version: wl.version.clone(),
            host_kind,
            host,
            network: g
                .network_of(NodeKind::Workload(w))
                .map(|n| self.topo.networks[n].name.value.clone())
                .unwrap_or_default(),
        }
    }
}

fn ok(step: &'static str, detail: String) -> Link {
    Link {
        step,
        status: Status::Ok,
        detail,
        fix: None,
    }
}

fn note(step: &'static str, detail: String, fix: String) -> Link {
    Link {
        step,
        status: Status::Note,
        detail,
        fix: Some(fix),
    }
}

fn missing(step: &'static str, detail: String, fix: String) -> Link {
    Link {
        step,
        status: Status::Missing,
        detail,
        fix: Some(fix),
    }
}

/// Answers "can `from` reach `to`?".
pub fn why(
    checked: &Checked,
    source: &Source,
    from: &Endpoint,
    to: &Endpoint,
    names: (&str, &str),
) -> Report {
    let topo = checked.topology();
    let ix = checked.index();
    let config = crate::emit::kubernetes::placement::config_clusters(topo, ix);
    let domain = config
        .first()
        .and_then(|&c| topo.clusters.get(c.index()))
        .map_or("cluster.local", |c| c.cluster_domain());
    let cx = Cx {
        checked,
        topo,
        source,
        domain,
    };
    let g = checked.graph();
    let callers = workloads(checked, from);
    let callees = workloads(checked, to);

    let mut calls: Vec<Call> = Vec::new();
    let mut pairs = BTreeSet::new();
    let mut paths = Vec::new();
    for &wa in &callers {
        let a = ix.workloads[wa].service;
        for &wb in &callees {
            let b = ix.workloads[wb].service;
            if pairs.insert((a, b)) {
                let declared = g
                    .out_edges(NodeKind::Service(a), EdgeKind::Calls)
                    .into_iter()
                    .find(|(n, _)| *n == NodeKind::Service(b))
                    .map(|(_, e)| cx.at(e.span));
                calls.push(Call {
                    from: cx.qualified(a),
                    to: cx.qualified(b),
                    declared_at: declared,
                });
            }
            paths.push(path(&cx, wa, wb));
        }
    }
    // Paths come caller by caller: FROM reaches TO when each caller
    // workload has an open one.
    let reachable = !paths.is_empty()
        && paths
            .chunks(callees.len())
            .all(|mine| mine.iter().any(|p| p.status == PathStatus::Open));
    // What is missing; when nothing is, but no route sends traffic the
    // asked way, the route that would.
    let mut fixes: Vec<String> = Vec::new();
    for wanted in [Status::Missing, Status::Note] {
        if reachable || !fixes.is_empty() {
            break;
        }
        for p in &paths {
            for l in &p.links {
                let counts = wanted == Status::Missing || l.step == "route";
                if let (true, Some(f)) = (l.status == wanted && counts, &l.fix)
                    && !fixes.contains(f)
                {
                    fixes.push(f.clone());
                }
            }
        }
    }
    Report {
        version: 1,
        from: names.0.to_owned(),
        to: names.1.to_owned(),
        reachable,
        calls,
        paths,
        fixes,
    }
}

/// The links of one caller workload to one callee workload.
fn path(cx: &Cx<'_>, wa: WorkloadId, wb: WorkloadId) -> Path {
    let (topo, ix, g) = (cx.topo, cx.checked.index(), cx.checked.graph());
    let (a, b) = (ix.workloads[wa].service, ix.workloads[wb].service);
    let (sa, sb) = (&topo.services[a], &topo.services[b]);
    let (host_a, host_b) = (g.host_of(wa), g.host_of(wb));
    let declared = g.has_edge(NodeKind::Service(a), NodeKind::Service(b), EdgeKind::Calls);
    let add_call = format!("add `{}` to service {}", cx.calls_entry(a, b), sa.name.value);
    let fqdn = cx.fqdn(b);
    let mut links = Vec::new();

    // 1. resolve
    let resolver = host_a.and_then(|h| g.out_edges(h, EdgeKind::ResolvesWith).first().map(|(n, _)| *n));
    links.push(match resolver {
        Some(NodeKind::Resolver(Resolver::KubeDns(c))) => {
            let cluster = &topo.clusters[c].name.value;
            let vm_backed = g
                .workloads_of(b)
                .iter()
                .any(|&w| matches!(g.host_of(w), Some(NodeKind::Vm(_))));
            let runs_here = g.workloads_of(b).iter().any(|&w| g.host_of(w) == Some(NodeKind::Cluster(c)));
            let registered_here = g.workloads_of(b).iter().any(|&w| match g.host_of(w) {
                Some(NodeKind::Vm(v)) => ix.vm_cluster.get(v).copied().flatten() == Some(c),
                _ => false,
            });
            let name = format!("kube-dns of cluster {cluster} answers {}", fqdn);
            if vm_backed && (runs_here || registered_here || declared) {
                ok(
                    "resolve",
                    format!("{name} from the Service meshc writes into cluster {cluster}"),
                )
            } else if vm_backed {
                missing(
                    "resolve",
                    format!(
                        "kube-dns of cluster {cluster} has no Service {}: meshc writes it only into the clusters where {} runs or is called from",
                        cx.qualified(b),
                        sb.name.value
                    ),
                    add_call.clone(),
                )
            } else if runs_here {
                ok(
                    "resolve",
                    format!("{name} from the Service your application manifests create there"),
                )
            } else {
                note(
                    "resolve",
                    format!(
                        "{name} only if a Service {} exists in cluster {cluster}: {} runs elsewhere, and meshc writes Services only for services with a VM placement",
                        cx.qualified(b),
                        sb.name.value
                    ),
                    format!("apply the Service of {} in cluster {cluster} too", sb.name.value),
                )
            }
        }
        Some(NodeKind::Resolver(Resolver::DnsProxy(v))) => ok(
            "resolve",
            format!(
                "the Istio agent's DNS proxy on VM {} (port 15053, fed by iptables capture of port 53) answers {fqdn} from istiod's registry",
                topo.vms[v].name.value
            ),
        ),
        Some(NodeKind::Resolver(Resolver::Dnsmasq(v))) => {
            let home = ix.vm_cluster.get(v).copied().flatten().and_then(|c| topo.clusters.get(c.index()));
            match home.and_then(|c| c.ilbs.as_ref().map(|i| (c, i))) {
                Some((c, ilbs)) if topo.mesh.flow() == Flow::Legacy => ok(
                    "resolve",
                    format!(
                        "dnsmasq on VM {} forwards svc.{} to kube-dns of cluster {} through its internal load balancer {}",
                        topo.vms[v].name.value,
                        c.cluster_domain(),
                        c.name.value,
                        ilbs.kube_dns.value
                    ),
                ),
                _ => missing(
                    "resolve",
                    format!(
                        "dnsmasq on VM {} has no kube-dns address it can reach",
                        topo.vms[v].name.value
                    ),
                    "see `meshc explain E804`".to_owned(),
                ),
            }
        }
        Some(NodeKind::Resolver(Resolver::HostsFile(v))) => missing(
            "resolve",
            format!(
                "VM {} resolves only its hosts file (`dns hosts`), which does not list {fqdn}",
                topo.vms[v].name.value
            ),
            match topo.mesh.flow() {
                Flow::Modern => format!("remove `dns hosts` from VM {}", topo.vms[v].name.value),
                Flow::Legacy => format!("use `dns dnsmasq` on VM {}", topo.vms[v].name.value),
            },
        ),
        _ => missing(
            "resolve",
            "the caller's host is unknown".to_owned(),
            "fix the errors `meshc check` reports".to_owned(),
        ),
    });

    // 2. capture (outbound, caller side)
    let captured = host_a.is_some_and(|h| g.has_edge(NodeKind::Workload(wa), h, EdgeKind::CapturedBy));
    links.push(match host_a {
        Some(NodeKind::Vm(v)) => {
            let vm = &topo.vms[v];
            let capture = &g.vm_capture[v];
            let excluded: Vec<u16> = sb
                .ports
                .iter()
                .map(|p| p.number.value)
                .filter(|&n| capture.bypasses_outbound(n))
                .collect();
            let how = match topo.mesh.flow() {
                Flow::Modern => "iptables (ISTIO_OUTPUT) redirect its outbound connections to the sidecar (15001)",
                Flow::Legacy => "iptables redirect its connections to the home cluster's service ranges (ISTIO_SERVICE_CIDR) to the sidecar (15001)",
            };
            if !excluded.is_empty() && excluded.len() == sb.ports.len() {
                missing(
                    "capture",
                    format!(
                        "VM {} keeps port {} out of outbound capture (`outbound-exclude-ports`): the call bypasses the sidecar, without mTLS",
                        vm.name.value,
                        join(&excluded)
                    ),
                    format!("remove {} from `outbound-exclude-ports` of VM {}", join(&excluded), vm.name.value),
                )
            } else {
                ok("capture", format!("on VM {}, {how}", vm.name.value))
            }
        }
        Some(NodeKind::Cluster(_)) if captured => ok(
            "capture",
            format!(
                "the injected sidecar of the {} pods (namespace {} is injected)",
                sa.name.value, sa.namespace.value
            ),
        ),
        _ => missing(
            "capture",
            format!(
                "the {} pods have no sidecar: namespace {} says `injection #false`",
                sa.name.value, sa.namespace.value
            ),
            format!("remove `injection #false` from namespace {}", sa.namespace.value),
        ),
    });

    // 3. egress (the caller's Sidecar)
    let sidecar = cx.qualified(a);
    let egress_host = format!("{}/{fqdn}", sb.namespace.value);
    let off = match topo.mesh.flow() {
        Flow::Legacy => "the legacy flow has none",
        Flow::Modern => "least privilege is off",
    };
    links.push(if !g.least_privilege[a] {
        ok(
            "egress",
            format!("no Sidecar limits {} ({off}): every host is in its configuration", sa.name.value),
        )
    } else if g.has_edge(NodeKind::Service(a), NodeKind::Service(b), EdgeKind::SidecarEgress) {
        ok("egress", format!("Sidecar {sidecar} lists egress host {egress_host}"))
    } else {
        note(
            "egress",
            format!(
                "Sidecar {sidecar} does not list {egress_host}: the proxy has no route for it and passes the connection through as plain TCP (outboundTrafficPolicy ALLOW_ANY), without its mTLS identity"
            ),
            add_call.clone(),
        )
    });

    // 4. network
    let (na, nb) = (
        g.network_of(NodeKind::Workload(wa)),
        g.network_of(NodeKind::Workload(wb)),
    );
    let net_name = |n: NetworkId| topo.networks[n].name.value.clone();
    links.push(match (na, nb) {
        (Some(x), Some(y)) if x == y => ok("network", format!("same network {}: direct", net_name(x))),
        (Some(x), Some(y)) => {
            let gateways = g.gateways_into(y);
            match gateways.first() {
                Some(&c) => {
                    let cluster = &topo.clusters[c];
                    let addr = cluster
                        .east_west_gateway
                        .as_ref()
                        .map(|a| a.value.to_string())
                        .unwrap_or_default();
                    ok(
                        "network",
                        format!(
                            "from network {} into network {} through the east-west gateway of cluster {} ({addr}, port 15443, mTLS passthrough)",
                            net_name(x),
                            net_name(y),
                            cluster.name.value
                        ),
                    )
                }
                None => missing(
                    "network",
                    format!(
                        "from network {} into network {}, which has no east-west gateway (E703)",
                        net_name(x),
                        net_name(y)
                    ),
                    format!("give a cluster on network {} an `east-west-gateway`", net_name(y)),
                ),
            }
        }
        _ => missing(
            "network",
            "a workload's network is unknown".to_owned(),
            "fix the errors `meshc check` reports".to_owned(),
        ),
    });

    // 5. inbound capture (callee side)
    let inbound = host_b.is_some_and(|h| g.has_edge(NodeKind::Workload(wb), h, EdgeKind::CapturedBy));
    links.push(match (host_b, inbound) {
        (Some(NodeKind::Vm(v)), true) => ok(
            "inbound",
            format!(
                "on VM {}, iptables redirect port {} to the sidecar ({})",
                topo.vms[v].name.value,
                join(&sb.ports.iter().map(|p| p.target_port()).collect::<Vec<_>>()),
                // istio-iptables sent inbound traffic to the proxy port
                // itself until 1.3 added the inbound capture port.
                if (topo.mesh.istio.value.major, topo.mesh.istio.value.minor) < (1, 3) {
                    15001
                } else {
                    15006
                }
            ),
        ),
        (Some(NodeKind::Vm(v)), false) => missing(
            "inbound",
            format!(
                "VM {} keeps the ports of {} out of inbound capture (`inbound-exclude-ports`, E604)",
                topo.vms[v].name.value, sb.name.value
            ),
            format!(
                "remove them from `inbound-exclude-ports` of VM {}",
                topo.vms[v].name.value
            ),
        ),
        (_, true) => ok(
            "inbound",
            format!(
                "the injected sidecar of the {} pods (namespace {} is injected)",
                sb.name.value, sb.namespace.value
            ),
        ),
        (_, false) => missing(
            "inbound",
            format!(
                "the {} pods have no sidecar: namespace {} says `injection #false`",
                sb.name.value, sb.namespace.value
            ),
            format!("remove `injection #false` from namespace {}", sb.namespace.value),
        ),
    });

    // 6. authz (the callee's AuthorizationPolicy)
    let principal = graph::workload_principal(topo, ix, wa);
    let policy = cx.qualified(b);
    links.push(if !g.least_privilege[b] {
        ok(
            "authz",
            format!("no AuthorizationPolicy guards {} ({off}): every workload may call it", sb.name.value),
        )
    } else if g.admitted(b).contains(&a) {
        ok(
            "authz",
            format!("AuthorizationPolicy {policy} (ALLOW) admits principal {principal}"),
        )
    } else if graph::admitted_principals(topo, ix, g, b).contains(&principal) {
        // Another admitted caller runs as the same identity (a VM's one
        // service account for several services, say): the policy cannot
        // tell them apart.
        note(
            "authz",
            format!(
                "AuthorizationPolicy {policy} (ALLOW) admits principal {principal}, which {} shares with a service that declares `calls {}`",
                sa.name.value, sb.name.value
            ),
            add_call.clone(),
        )
    } else {
        missing(
            "authz",
            format!(
                "AuthorizationPolicy {policy} (ALLOW) does not admit principal {principal}: only the services that declare `calls {}`",
                sb.name.value
            ),
            add_call.clone(),
        )
    });

    // 7. route (the callee's VirtualService)
    let routes = g.out_edges(NodeKind::Service(b), EdgeKind::RoutesTo);
    let version = &ix.workloads[wb].version;
    let weight = if routes.is_empty() {
        links.push(ok(
            "route",
            format!(
                "{} has no routes: traffic is spread over every version",
                sb.name.value
            ),
        ));
        None
    } else {
        let w = routes
            .iter()
            .find(|(n, _)| *n == NodeKind::Workload(wb))
            .and_then(|(_, e)| e.weight)
            .unwrap_or(0);
        let split: Vec<String> = {
            let mut seen = BTreeSet::new();
            routes
                .iter()
                .filter_map(|(n, e)| match n {
                    NodeKind::Workload(x) => Some((ix.workloads[*x].version.as_str(), e.weight.unwrap_or(0))),
                    _ => None,
                })
                .filter(|(v, _)| seen.insert(*v))
                .map(|(v, w)| format!("{v} {w}%"))
                .collect()
        };
        let vs = cx.qualified(b);
        links.push(if w > 0 {
            ok(
                "route",
                format!(
                    "VirtualService {vs} sends {w}% to {version} (split: {})",
                    split.join(", ")
                ),
            )
        } else {
            note(
                "route",
                format!(
                    "VirtualService {vs} sends nothing to {version} (split: {})",
                    split.join(", ")
                ),
                format!(
                    "add `route {version} weight=N` to service {} to send it traffic",
                    sb.name.value
                ),
            )
        });
        Some(w)
    };

    let status = if links.iter().any(|l| l.status == Status::Missing) {
        PathStatus::Blocked
    } else if weight == Some(0) {
        PathStatus::Unrouted
    } else {
        PathStatus::Open
    };
    Path {
        from: cx.end(wa),
        to: cx.end(wb),
        status,
        weight,
        links,
    }
}

fn join(ports: &[u16]) -> String {
    ports.iter().map(u16::to_string).collect::<Vec<_>>().join(",")
}

/// The report for people.
pub fn human(r: &Report) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let verdict = if r.reachable { "reachable" } else { "NOT reachable" };
    let _ = writeln!(out, "{} → {}: {verdict}", r.from, r.to);
    for c in &r.calls {
        match &c.declared_at {
            Some(at) => {
                let _ = writeln!(out, "  {} calls {} ({at})", c.from, c.to);
            }
            None => {
                let _ = writeln!(out, "  {} does not call {}", c.from, c.to);
            }
        }
    }
    if r.paths.is_empty() {
        out.push_str("  no workloads: nothing is deployed there\n");
    }
    for p in &r.paths {
        let status = match p.status {
            PathStatus::Open => "open",
            PathStatus::Unrouted => "no traffic",
            PathStatus::Blocked => "blocked",
        };
        let _ = writeln!(
            out,
            "\n{} {} on {} {} → {} {} on {} {}: {status}",
            p.from.service,
            p.from.version,
            p.from.host_kind,
            p.from.host,
            p.to.service,
            p.to.version,
            p.to.host_kind,
            p.to.host
        );
        for l in &p.links {
            let mark = match l.status {
                Status::Ok => "ok  ",
                Status::Note => "note",
                Status::Missing => "MISS",
            };
            let _ = writeln!(out, "  {mark} {:<8} {}", l.step, l.detail);
            if let (false, Some(f)) = (l.status == Status::Ok, &l.fix) {
                let _ = writeln!(out, "       {:<8} fix: {f}", "");
            }
        }
    }
    if !r.fixes.is_empty() {
        out.push_str("\nto make it reachable:\n");
        for f in &r.fixes {
            let _ = writeln!(out, "  - {f}");
        }
    }
    out
}

/// Output formats of `meshc why`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Text for people
    #[default]
    Human,
    /// One JSON document (see README, "meshc why")
    Json,
}

/// Why `answer` gave no report.
#[derive(Debug)]
pub enum Failure {
    /// The topology does not check clean: its findings.
    Topology(Vec<crate::diagnostic::Diagnostic>),
    /// FROM or TO names nothing usable.
    Usage(String),
}

/// The whole command on a source already read: check it, resolve FROM and
/// TO, and render the report. `Ok((text, reachable))`.
pub fn answer(source: &Source, from: &str, to: &str, format: Format) -> Result<(String, bool), Failure> {
    let syntax = crate::syntax::Syntax::from_path(&source.name);
    let (checked, diags) = crate::check_source(source, syntax, crate::syntax::Limits::default());
    let Some(checked) = checked else {
        return Err(Failure::Topology(diags));
    };
    let from_end = endpoint(&checked, from).map_err(|e| Failure::Usage(format!("FROM: {e}")))?;
    let to_end = endpoint(&checked, to).map_err(|e| Failure::Usage(format!("TO: {e}")))?;
    let report = why(&checked, source, &from_end, &to_end, (from, to));
    let text = match format {
        Format::Human => human(&report),
        Format::Json => json(&report),
    };
    Ok((text, report.reachable))
}

/// The report as one JSON document (fields in a fixed order).
pub fn json(r: &Report) -> String {
    let mut s = serde_json::to_string_pretty(r).unwrap_or_default();
    s.push('\n');
    s
}
