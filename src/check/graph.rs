//! The topology as a graph (petgraph): the view the reachability and
//! dependency rules reason over, and what `meshc graph` draws.
//!
//! Nodes are networks, clusters, VMs, namespaces, services and workloads
//! (service × version × placement). Edges say how they relate, and each edge
//! carries the span of the declaration that made it, so a rule that follows
//! a path can point at every step. Nodes are added in index order, so
//! traversal order, and with it every message, is deterministic.

use petgraph::graph::{DiGraph, NodeIndex};

use super::id::{ClusterId, Id, IdVec, NetworkId, ServiceId, VmId, WorkloadId};
use super::index::{Index, Target};
use crate::model::Topology;
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
}

#[derive(Clone, Copy, Debug)]
pub struct Edge {
    pub kind: EdgeKind,
    pub span: Span,
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
}

impl MeshGraph {
    pub fn build(topo: &Topology, ix: &Index) -> MeshGraph {
        let mut g = MeshGraph::default();
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

        let edge = |kind, span| Edge { kind, span };
        for (i, c) in topo.cluster_ids() {
            if let Some(n) = ix.cluster_network[i] {
                gr.add_edge(
                    g.clusters[i],
                    g.networks[n],
                    edge(EdgeKind::MemberOf, c.network.span),
                );
            }
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
        }
        for (si, s) in topo.service_ids() {
            for (c, target) in s.calls.iter().zip(&ix.call_targets[si]) {
                if let Some(t) = *target {
                    gr.add_edge(g.services[si], g.services[t], edge(EdgeKind::Calls, c.span));
                }
            }
            for r in &s.routes {
                for &wi in &ix.service_workloads[si] {
                    if ix.workloads[wi].version == r.version.value {
                        gr.add_edge(
                            g.services[si],
                            g.workloads[wi],
                            edge(EdgeKind::RoutesTo, r.version.span),
                        );
                    }
                }
            }
        }
        g
    }
}
