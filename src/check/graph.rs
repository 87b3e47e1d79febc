//! The topology as a graph (petgraph): what traffic needs to get from one
//! workload to another. The graph rules (cycles, gateways across networks,
//! versions no route reaches, services nobody calls) reason over it,
//! `meshc graph` draws it and `meshc why` walks it.
//!
//! Nodes are networks, clusters, VMs, namespaces, services, workloads
//! (service × version × placement), east-west gateways and name resolvers.
//! Edges say how they relate:
//!
//! * placement: member-of, runs-on, in-namespace, implements,
//!   reaches-control-plane;
//! * traffic: calls, routes-to (with the route's weight), the gateway a
//!   cluster runs and the network it exposes to the others (15443);
//! * name resolution: each cluster or VM → how its workloads resolve
//!   service names (kube-dns, the Istio agent's DNS proxy, dnsmasq, or a
//!   hosts file only);
//! * capture: each workload → the cluster or VM whose sidecar captures its
//!   traffic (an injected pod; a VM whose iptables redirect the service's
//!   ports);
//! * least privilege (modern flow, least privilege on): the Sidecar egress
//!   host and the AuthorizationPolicy principals meshc emits for each call.
//!
//! The graph is also where the emitters take these facts from, so that
//! what a rule or `meshc why` reads is what the output says: the
//! Kubernetes emitter writes each Sidecar from the sidecar-egress edges
//! ([`MeshGraph::egress`]) and each AuthorizationPolicy from the admits
//! edges ([`admitted_principals`]); each VM's capture ([`VmCapture`]) is
//! computed here once, its workloads' captured-by edges are drawn from it,
//! and the VM bundle writes its inbound ports from it.
//!
//! Each edge carries the span of the declaration that made it, so a rule
//! that follows a path can point at every step. Nodes and edges are added
//! in index order, so traversal order, and with it every message, is
//! deterministic.
//!
//! petgraph stays inside `check`: whatever reads the graph outside it (the
//! picture, `meshc why`, the emitters) goes through the plain view below
//! ([`MeshGraph::nodes`], [`MeshGraph::edges`], [`MeshGraph::out_edges`],
//! [`MeshGraph::in_edges`] and the accessors built on them), which speaks
//! [`NodeKind`], [`Edge`] and ids only.

use std::collections::BTreeSet;

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use super::id::{ClusterId, Id, IdVec, NetworkId, ServiceId, VmId, WorkloadId};
use super::index::{Index, Target};
use crate::model::{DnsMode, Flow, Service, Topology, Vm};
use crate::source::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    Network(NetworkId),
    Cluster(ClusterId),
    Vm(VmId),
    /// Index into `Index::namespaces` in name order.
    Namespace(usize),
    Service(ServiceId),
    Workload(WorkloadId),
    /// The east-west gateway of a cluster (by cluster index).
    Gateway(ClusterId),
    /// How the workloads of a cluster or VM resolve service names.
    Resolver(Resolver),
}

/// A name resolver, by the host whose workloads use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resolver {
    /// A cluster's kube-dns: answers `<svc>.<ns>.svc.<domain>` for the
    /// Services of that cluster.
    KubeDns(ClusterId),
    /// A VM's Istio agent DNS proxy (port 15053, fed by iptables capture
    /// of port 53): answers from istiod's name table.
    DnsProxy(VmId),
    /// A VM's dnsmasq, forwarding `svc.<domain>` to kube-dns.
    Dnsmasq(VmId),
    /// A VM that resolves only its `hosts` file (istiod's name).
    HostsFile(VmId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    /// cluster or VM → network
    MemberOf,
    /// workload → cluster or VM
    RunsOn,
    /// service → namespace
    InNamespace,
    /// workload → service it belongs to
    Implements,
    /// service → service
    Calls,
    /// service → workload that a `route` sends traffic to
    RoutesTo,
    /// VM → cluster whose istiod it joins
    ReachesControlPlane,
    /// cluster → its east-west gateway
    HasGateway,
    /// gateway → the network it lets other networks into
    Exposes,
    /// cluster or VM → the resolver its workloads ask
    ResolvesWith,
    /// workload → the cluster or VM whose sidecar captures its traffic
    /// (pointing this way keeps a host's outgoing edges few: a rule that
    /// asks a workload's network walks them once per workload)
    CapturedBy,
    /// service → service its Sidecar's egress lists
    SidecarEgress,
    /// caller service → callee service whose AuthorizationPolicy admits the
    /// caller's identities
    Admits,
}

#[derive(Clone, Copy, Debug)]
pub struct Edge {
    pub kind: EdgeKind,
    pub span: Span,
    /// `RoutesTo`: the share of the service's traffic (a lone route without
    /// a weight takes 100, a route of several without one 0, as the
    /// VirtualService says).
    pub weight: Option<u32>,
}

/// What a VM's iptables capture, computed once, in `check`: the
/// captured-by edges of its workloads are drawn from it, and the VM bundle
/// (`emit::vm::plan`) and `meshc why` read it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VmCapture {
    /// Inbound: the port every service on the VM listens on (its target
    /// port), ascending, once each, less those `inbound-exclude-ports`
    /// lists (E604 refuses a service port there, so a checked topology
    /// captures them all).
    pub inbound_ports: Vec<u16>,
    /// Outbound: the ports `outbound-exclude-ports` keeps out of capture,
    /// as written; connections to them bypass the sidecar.
    pub outbound_exclude_ports: Vec<u16>,
}

impl VmCapture {
    fn of(topo: &Topology, ix: &Index, v: VmId) -> VmCapture {
        let vm = &topo.vms[v];
        let mut inbound_ports: Vec<u16> = ix.vm_workloads[v]
            .iter()
            .flat_map(|&w| topo.services[ix.workloads[w].service].ports.iter())
            .map(|p| p.target_port())
            .filter(|&p| !vm.inbound_exclude_ports.iter().any(|x| x.value == p))
            .collect();
        inbound_ports.sort_unstable();
        inbound_ports.dedup();
        VmCapture {
            inbound_ports,
            outbound_exclude_ports: vm.outbound_exclude_ports.iter().map(|p| p.value).collect(),
        }
    }

    /// Whether a connection to `port` from the VM bypasses its sidecar.
    pub fn bypasses_outbound(&self, port: u16) -> bool {
        self.outbound_exclude_ports.contains(&port)
    }
}

/// The graph plus the node index of every model element.
#[derive(Clone, Debug, Default)]
pub struct MeshGraph {
    pub graph: DiGraph<NodeKind, Edge>,
    pub networks: IdVec<NetworkId, NodeIndex>,
    pub clusters: IdVec<ClusterId, NodeIndex>,
    pub vms: IdVec<VmId, NodeIndex>,
    pub namespaces: Vec<NodeIndex>,
    pub services: IdVec<ServiceId, NodeIndex>,
    pub workloads: IdVec<WorkloadId, NodeIndex>,
    /// Per cluster: its east-west gateway, if it has one.
    pub gateways: IdVec<ClusterId, Option<NodeIndex>>,
    /// Per cluster, then per VM: the resolver its workloads ask.
    pub resolvers: Vec<(Resolver, NodeIndex)>,
    /// Per service: whether meshc emits its Sidecar and AuthorizationPolicy
    /// (modern flow, least privilege on for its namespace).
    pub least_privilege: IdVec<ServiceId, bool>,
    /// Per VM: what its iptables capture.
    pub vm_capture: IdVec<VmId, VmCapture>,
}

/// Whether least privilege applies to the services of a namespace: the
/// namespace's own `least-privilege`, else the mesh's, else on. The legacy
/// flow has no Sidecar or AuthorizationPolicy to emit.
pub fn least_privilege(topo: &Topology, ix: &Index, namespace: &str) -> bool {
    if topo.mesh.flow() == Flow::Legacy {
        return false;
    }
    let declared = ix
        .namespaces
        .get(namespace)
        .and_then(|info| info.declared)
        .and_then(|i| topo.namespaces.get(i))
        .and_then(|n| n.least_privilege.as_ref());
    declared
        .or(topo.mesh.least_privilege.as_ref())
        .is_none_or(|b| b.value)
}

/// The Kubernetes service account a workload of `service` on `vm` (or in a
/// cluster, `None`) runs as: the VM's own `service-account`, then the
/// service's `service-account`, then the service's name. A cluster
/// `deploy` line's own `service-account` comes before all of these
/// ([`workload_service_account`]).
///
/// The name matters in three places that must agree: the ServiceAccount
/// object (and, in the legacy flow, the `istio.<sa>` secret Citadel creates
/// for it, which `setupMeshEx.sh machineCerts` copies to the VM), the
/// WorkloadEntry/WorkloadGroup `serviceAccount` (the SPIFFE identity istiod
/// issues to the VM), and the principals of the AuthorizationPolicies that
/// let the workload call others ([`admitted_principals`]).
pub fn service_account<'t>(service: &'t Service, vm: Option<&'t Vm>) -> &'t str {
    vm.and_then(|vm| vm.service_account.as_ref())
        .or(service.service_account.as_ref())
        .map_or(service.name.value.as_str(), |sa| sa.value.as_str())
}

/// The service account workload `w` runs as: its `deploy` line's own
/// `service-account` in a cluster, else [`service_account`].
pub fn workload_service_account<'t>(topo: &'t Topology, ix: &'t Index, w: WorkloadId) -> &'t str {
    let wl = &ix.workloads[w];
    let service = &topo.services[wl.service];
    match (wl.target, &wl.service_account) {
        (Target::Cluster(_), Some(sa)) => sa,
        (Target::Cluster(_), None) => service_account(service, None),
        (Target::Vm(v), _) => service_account(service, Some(&topo.vms[v])),
    }
}

/// The SPIFFE identity (without `spiffe://`) of a service account, as
/// AuthorizationPolicy `principals` spell it.
pub fn principal(topo: &Topology, namespace: &str, service_account: &str) -> String {
    format!("{}/ns/{namespace}/sa/{service_account}", topo.mesh.trust_domain())
}

/// The principal workload `w` calls others as.
pub fn workload_principal(topo: &Topology, ix: &Index, w: WorkloadId) -> String {
    let namespace = &topo.services[ix.workloads[w].service].namespace.value;
    principal(topo, namespace, workload_service_account(topo, ix, w))
}

/// The principals the AuthorizationPolicy of service `s` admits (least
/// privilege on for it): the identity of every workload of every service
/// an admits edge brings to `s`, and for an entry point every ingress
/// gateway's. Sorted, each once. The emitted policy lists exactly these,
/// and `meshc why` admits a caller exactly when its principal is one.
pub fn admitted_principals(topo: &Topology, ix: &Index, g: &MeshGraph, s: ServiceId) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for caller in g.admitted(s) {
        for w in g.workloads_of(caller) {
            out.insert(workload_principal(topo, ix, w));
        }
    }
    if topo.services[s].is_entry_point() {
        for (ns, sa) in topo.mesh.ingress_identities() {
            out.insert(principal(topo, &ns, &sa));
        }
    }
    out
}

/// Whether pods in a namespace get a sidecar (`injection`, on by default).
pub fn injected(topo: &Topology, ix: &Index, namespace: &str) -> bool {
    ix.namespaces
        .get(namespace)
        .and_then(|info| info.declared)
        .and_then(|i| topo.namespaces.get(i))
        .and_then(|n| n.injection.as_ref())
        .is_none_or(|b| b.value)
}

impl MeshGraph {
    pub fn build(topo: &Topology, ix: &Index) -> MeshGraph {
        let calls: usize = topo.services.iter().map(|s| s.calls.len()).sum();
        let nodes = topo.networks.len()
            + 3 * topo.clusters.len()
            + 2 * topo.vms.len()
            + ix.namespaces.len()
            + topo.services.len()
            + ix.workloads.len();
        // Per call: calls, sidecar-egress, admits; per workload: runs-on,
        // implements, captured-by, and about one routes-to.
        let edges = 4 * (topo.clusters.len() + topo.vms.len())
            + topo.services.len()
            + 3 * calls
            + 4 * ix.workloads.len();
        let mut g = MeshGraph {
            graph: DiGraph::with_capacity(nodes, edges),
            ..MeshGraph::default()
        };
        let gr = &mut g.graph;
        g.networks = (0..topo.networks.len())
            .map(|i| gr.add_node(NodeKind::Network(Id::new(i))))
            .collect();
        g.clusters = (0..topo.clusters.len())
            .map(|i| gr.add_node(NodeKind::Cluster(Id::new(i))))
            .collect();
        g.vms = (0..topo.vms.len())
            .map(|i| gr.add_node(NodeKind::Vm(Id::new(i))))
            .collect();
        g.namespaces = (0..ix.namespaces.len())
            .map(|i| gr.add_node(NodeKind::Namespace(i)))
            .collect();
        g.services = (0..topo.services.len())
            .map(|i| gr.add_node(NodeKind::Service(Id::new(i))))
            .collect();
        g.workloads = (0..ix.workloads.len())
            .map(|i| gr.add_node(NodeKind::Workload(Id::new(i))))
            .collect();

        g.gateways = topo
            .cluster_ids()
            .map(|(i, c)| {
                c.east_west_gateway
                    .as_ref()
                    .map(|_| gr.add_node(NodeKind::Gateway(i)))
            })
            .collect();
        let modern = topo.mesh.flow() == Flow::Modern;
        for (i, _) in topo.cluster_ids() {
            let r = Resolver::KubeDns(i);
            g.resolvers.push((r, gr.add_node(NodeKind::Resolver(r))));
        }
        for (i, v) in topo.vm_ids() {
            let r = match v.dns() {
                // Istio before 1.8 has no agent DNS proxy: capture there
                // means the dnsmasq file meshc writes.
                DnsMode::Capture if modern => Resolver::DnsProxy(i),
                DnsMode::Capture | DnsMode::Dnsmasq => Resolver::Dnsmasq(i),
                DnsMode::Hosts => Resolver::HostsFile(i),
            };
            g.resolvers.push((r, gr.add_node(NodeKind::Resolver(r))));
        }
        // Both settings belong to the namespace: decided once for each.
        g.least_privilege = IdVec::filled(false, topo.services.len());
        let mut injected_service: IdVec<ServiceId, bool> = IdVec::filled(false, topo.services.len());
        for (name, info) in &ix.namespaces {
            // A namespace only declared (no service in it) decides nothing.
            if info.services.is_empty() {
                continue;
            }
            let (lp, inj) = (least_privilege(topo, ix, name), injected(topo, ix, name));
            for &s in &info.services {
                g.least_privilege[s] = lp;
                injected_service[s] = inj;
            }
        }

        g.vm_capture = (0..topo.vms.len())
            .map(|v| VmCapture::of(topo, ix, Id::new(v)))
            .collect();

        let edge = |kind, span| Edge {
            kind,
            span,
            weight: None,
        };
        for (i, c) in topo.cluster_ids() {
            if let Some(n) = ix.cluster_network[i] {
                gr.add_edge(
                    g.clusters[i],
                    g.networks[n],
                    edge(EdgeKind::MemberOf, c.network.span),
                );
            }
        }
        for (i, c) in topo.cluster_ids() {
            let (Some(gw), Some(addr)) = (g.gateways[i], &c.east_west_gateway) else {
                continue;
            };
            gr.add_edge(g.clusters[i], gw, edge(EdgeKind::HasGateway, addr.span));
            if let Some(n) = ix.cluster_network[i] {
                gr.add_edge(gw, g.networks[n], edge(EdgeKind::Exposes, addr.span));
            }
        }
        for (i, c) in topo.cluster_ids() {
            let span = c.kube_dns.as_ref().map_or(c.name.span, |k| k.span);
            gr.add_edge(
                g.clusters[i],
                g.resolvers[i.index()].1,
                edge(EdgeKind::ResolvesWith, span),
            );
        }
        for (i, v) in topo.vm_ids() {
            let span = v.dns.as_ref().map_or(v.name.span, |d| d.span);
            let r = g.resolvers[topo.clusters.len() + i.index()].1;
            gr.add_edge(g.vms[i], r, edge(EdgeKind::ResolvesWith, span));
        }
        for (i, v) in topo.vm_ids() {
            if let Some(n) = ix.vm_network[i] {
                gr.add_edge(g.vms[i], g.networks[n], edge(EdgeKind::MemberOf, v.network.span));
            }
            if let Some(c) = ix.vm_cluster[i] {
                let span = v.cluster.as_ref().map_or(v.name.span, |c| c.span);
                gr.add_edge(g.vms[i], g.clusters[c], edge(EdgeKind::ReachesControlPlane, span));
            }
        }
        for (ni, info) in ix.namespaces.values().enumerate() {
            for &s in &info.services {
                let span = topo.services[s].namespace.span;
                gr.add_edge(g.services[s], g.namespaces[ni], edge(EdgeKind::InNamespace, span));
            }
        }
        for (wi, w) in ix.workloads.iter_enumerated() {
            let target = match w.target {
                Target::Cluster(c) => g.clusters[c],
                Target::Vm(v) => g.vms[v],
            };
            gr.add_edge(g.workloads[wi], target, edge(EdgeKind::RunsOn, w.span));
            gr.add_edge(
                g.workloads[wi],
                g.services[w.service],
                edge(EdgeKind::Implements, w.span),
            );
            let service = &topo.services[w.service];
            let captured = match w.target {
                // A pod has a sidecar when its namespace is injected.
                Target::Cluster(_) => injected_service[w.service],
                // A VM's iptables redirect the ports its services listen
                // on, unless `inbound-exclude-ports` lists them.
                Target::Vm(v) => {
                    let inbound = &g.vm_capture[v].inbound_ports;
                    service
                        .ports
                        .iter()
                        .any(|p| inbound.binary_search(&p.target_port()).is_ok())
                }
            };
            if captured {
                gr.add_edge(g.workloads[wi], target, edge(EdgeKind::CapturedBy, w.span));
            }
        }
        for (si, s) in topo.service_ids() {
            for (c, target) in s.calls.iter().zip(&ix.call_targets[si]) {
                if let Some(t) = *target {
                    gr.add_edge(g.services[si], g.services[t], edge(EdgeKind::Calls, c.span));
                }
            }
            let single = s.routes.len() == 1;
            for r in &s.routes {
                let weight = r
                    .weight
                    .as_ref()
                    .map_or(if single { 100 } else { 0 }, |w| w.value);
                for &wi in &ix.service_workloads[si] {
                    if ix.workloads[wi].version == r.version.value {
                        gr.add_edge(
                            g.services[si],
                            g.workloads[wi],
                            Edge {
                                kind: EdgeKind::RoutesTo,
                                span: r.version.span,
                                weight: Some(weight),
                            },
                        );
                    }
                }
            }
        }
        // Least privilege, as `emit::kubernetes::policy` writes it: the
        // caller's Sidecar lists each callee's host, the callee's
        // AuthorizationPolicy admits each caller's identities. One edge per
        // (caller, callee), at the first `calls` entry that names it.
        for (si, s) in topo.service_ids() {
            // `ix.calls` lists each callee once, in the order of its first
            // entry: an entry is a first one exactly when it names the
            // next callee of that list.
            let firsts = &ix.calls[si];
            let mut next = 0;
            for (c, target) in s.calls.iter().zip(&ix.call_targets[si]) {
                let Some(t) = *target else { continue };
                if firsts.get(next) != Some(&t) {
                    continue;
                }
                next += 1;
                if g.least_privilege[si] {
                    gr.add_edge(
                        g.services[si],
                        g.services[t],
                        edge(EdgeKind::SidecarEgress, c.span),
                    );
                }
                if g.least_privilege[t] {
                    gr.add_edge(g.services[si], g.services[t], edge(EdgeKind::Admits, c.span));
                }
            }
        }
        g
    }

    /// The graph node of a model element, if it has one.
    fn node(&self, n: NodeKind) -> Option<NodeIndex> {
        match n {
            NodeKind::Network(i) => self.networks.get(i).copied(),
            NodeKind::Cluster(i) => self.clusters.get(i).copied(),
            NodeKind::Vm(i) => self.vms.get(i).copied(),
            NodeKind::Namespace(i) => self.namespaces.get(i).copied(),
            NodeKind::Service(i) => self.services.get(i).copied(),
            NodeKind::Workload(i) => self.workloads.get(i).copied(),
            NodeKind::Gateway(i) => self.gateways.get(i).copied().flatten(),
            NodeKind::Resolver(r) => self.resolvers.iter().find(|(k, _)| *k == r).map(|(_, n)| *n),
        }
    }

    /// Every node, in the order added.
    pub fn nodes(&self) -> impl Iterator<Item = NodeKind> + '_ {
        self.graph.node_weights().copied()
    }

    /// Every edge as (from, to, edge), in the order added.
    pub fn edges(&self) -> impl Iterator<Item = (NodeKind, NodeKind, Edge)> + '_ {
        self.graph
            .edge_references()
            .map(|e| (self.graph[e.source()], self.graph[e.target()], *e.weight()))
    }

    /// The edges of `kind` leaving `from`, as (to, edge), in the order added.
    pub fn out_edges(&self, from: NodeKind, kind: EdgeKind) -> Vec<(NodeKind, Edge)> {
        self.adjacent(from, kind, Direction::Outgoing)
    }

    /// The edges of `kind` arriving at `to`, as (from, edge), in the order added.
    pub fn in_edges(&self, to: NodeKind, kind: EdgeKind) -> Vec<(NodeKind, Edge)> {
        self.adjacent(to, kind, Direction::Incoming)
    }

    /// The cluster or VM a workload runs on.
    pub fn host_of(&self, workload: WorkloadId) -> Option<NodeKind> {
        self.newest_first(
            NodeKind::Workload(workload),
            EdgeKind::RunsOn,
            Direction::Outgoing,
        )
        .last()
        .map(|(n, _)| n)
    }

    /// The network of a cluster or VM (or of a workload's host).
    pub fn network_of(&self, node: NodeKind) -> Option<NetworkId> {
        let host = match node {
            NodeKind::Workload(w) => self.host_of(w)?,
            other => other,
        };
        self.newest_first(host, EdgeKind::MemberOf, Direction::Outgoing)
            .filter_map(|(n, _)| match n {
                NodeKind::Network(i) => Some(i),
                _ => None,
            })
            .last()
    }

    /// The east-west gateways (by cluster) that let other networks into
    /// network `n`.
    pub fn gateways_into(&self, n: NetworkId) -> Vec<ClusterId> {
        self.in_edges(NodeKind::Network(n), EdgeKind::Exposes)
            .iter()
            .filter_map(|(g, _)| match g {
                NodeKind::Gateway(c) => Some(*c),
                _ => None,
            })
            .collect()
    }

    /// The workloads of a service, in declaration order.
    pub fn workloads_of(&self, service: ServiceId) -> Vec<WorkloadId> {
        let mut out: Vec<WorkloadId> = self
            .newest_first(
                NodeKind::Service(service),
                EdgeKind::Implements,
                Direction::Incoming,
            )
            .filter_map(|(w, _)| match w {
                NodeKind::Workload(i) => Some(i),
                _ => None,
            })
            .collect();
        out.reverse();
        out
    }

    /// The services whose host the Sidecar of `s` lists as egress (its
    /// sidecar-egress edges), in the order added.
    pub fn egress(&self, s: ServiceId) -> Vec<ServiceId> {
        self.services_along(NodeKind::Service(s), EdgeKind::SidecarEgress, Direction::Outgoing)
    }

    /// The callers whose identities the AuthorizationPolicy of `s` admits
    /// (its incoming admits edges), in the order added.
    pub fn admitted(&self, s: ServiceId) -> Vec<ServiceId> {
        self.services_along(NodeKind::Service(s), EdgeKind::Admits, Direction::Incoming)
    }

    fn services_along(&self, at: NodeKind, kind: EdgeKind, dir: Direction) -> Vec<ServiceId> {
        let mut out: Vec<ServiceId> = self
            .newest_first(at, kind, dir)
            .filter_map(|(n, _)| match n {
                NodeKind::Service(i) => Some(i),
                _ => None,
            })
            .collect();
        out.reverse();
        out
    }

    /// Whether an edge of `kind` goes from `from` to `to`.
    pub fn has_edge(&self, from: NodeKind, to: NodeKind, kind: EdgeKind) -> bool {
        self.newest_first(from, kind, Direction::Outgoing)
            .any(|(n, _)| n == to)
    }

    /// Removes every edge of `kind` from `from` to `to` (tests sabotage the
    /// graph with it); returns how many there were.
    #[cfg(test)]
    pub(crate) fn remove_edges(&mut self, from: NodeKind, to: NodeKind, kind: EdgeKind) -> usize {
        let (Some(a), Some(b)) = (self.node(from), self.node(to)) else {
            return 0;
        };
        let mut removed = 0;
        while let Some(e) = self
            .graph
            .edges_connecting(a, b)
            .find(|e| e.weight().kind == kind)
            .map(|e| e.id())
        {
            self.graph.remove_edge(e);
            removed += 1;
        }
        removed
    }

    /// Adds an edge (tests forge the graph with it).
    #[cfg(test)]
    pub(crate) fn add_edge(&mut self, from: NodeKind, to: NodeKind, edge: Edge) {
        if let (Some(a), Some(b)) = (self.node(from), self.node(to)) {
            self.graph.add_edge(a, b, edge);
        }
    }

    fn adjacent(&self, at: NodeKind, kind: EdgeKind, dir: Direction) -> Vec<(NodeKind, Edge)> {
        let mut out: Vec<_> = self.newest_first(at, kind, dir).collect();
        out.reverse();
        out
    }

    /// The edges of `kind` at `at`, as (other end, edge), newest first:
    /// petgraph keeps a node's edges in a list it adds to at the front.
    /// Reversed, that is the order added (a test holds it to the edge
    /// index), with no sort and, for a caller that wants one edge, no
    /// allocation.
    fn newest_first(
        &self,
        at: NodeKind,
        kind: EdgeKind,
        dir: Direction,
    ) -> impl Iterator<Item = (NodeKind, Edge)> + '_ {
        self.node(at)
            .into_iter()
            .flat_map(move |n| self.graph.edges_directed(n, dir))
            .filter(move |e| e.weight().kind == kind)
            .map(move |e| {
                let other = if dir == Direction::Outgoing {
                    e.target()
                } else {
                    e.source()
                };
                (self.graph[other], *e.weight())
            })
    }
}
