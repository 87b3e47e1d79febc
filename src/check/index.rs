//! Name resolution: every declared name mapped to its declaration, and every
//! reference in the topology resolved once, here, so that rules and emitters
//! work with indices instead of strings.
//!
//! Scopes: networks, clusters and VMs are global; services are scoped by
//! namespace. A reference to a service is `name` (the caller's namespace
//! first, then a unique match in any namespace) or `name.namespace`.
//! Unresolved references resolve to `None`; the `unknown-reference` rule
//! reports them, and every other rule skips what it cannot resolve.

use std::collections::BTreeMap;

use super::id::{ClusterId, Id, IdVec, NetworkId, ServiceId, VmId, WorkloadId};
use super::names::{Names, Position};
use crate::model::{Placement, Topology};
use crate::source::Span;

/// Where a workload runs, resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Cluster(ClusterId),
    Vm(VmId),
}

/// One service version on one target: the unit that becomes a Deployment,
/// a WorkloadEntry, or a VM sidecar's workload.
#[derive(Clone, Debug)]
pub struct Workload {
    pub service: ServiceId,
    pub version: String,
    pub target: Target,
    /// The `deploy` line's own service account, if it has one.
    pub service_account: Option<String>,
    /// The `deploy` line that placed it (the version name's span).
    pub span: Span,
}

/// A namespace, declared (`namespace NAME`) or implied by a service.
#[derive(Clone, Debug)]
pub struct NamespaceInfo {
    pub name: String,
    /// Index into `Topology::namespaces` when declared.
    pub declared: Option<usize>,
    /// Services in it, by index.
    pub services: Vec<ServiceId>,
}

/// All names and resolved references of a topology.
#[derive(Clone, Debug, Default)]
pub struct Index {
    /// Name → the network first declared with it (so for the others below).
    pub networks: Names<NetworkId>,
    pub clusters: Names<ClusterId>,
    pub vms: Names<VmId>,
    /// (namespace, service name) → service.
    pub services: Names<ServiceId>,
    /// Service name → the first service with that name, of all namespaces:
    /// resolves an unqualified reference to another namespace without
    /// scanning every service.
    pub services_by_name: Names<ServiceId>,
    /// Per service first with its name (`services_by_name`): whether a
    /// service of another namespace has that name too.
    pub name_in_several_namespaces: IdVec<ServiceId, bool>,
    /// Namespaces by name: few, and iterated in this order.
    pub namespaces: BTreeMap<String, NamespaceInfo>,
    /// Per cluster: its network.
    pub cluster_network: IdVec<ClusterId, Option<NetworkId>>,
    /// Per VM: its network.
    pub vm_network: IdVec<VmId, Option<NetworkId>>,
    /// Per VM: the cluster whose control plane it joins.
    pub vm_cluster: IdVec<VmId, Option<ClusterId>>,
    /// Clusters that say `control-plane #true`, in declaration order.
    pub control_planes: Vec<ClusterId>,
    /// Per network: the clusters on it, in declaration order.
    pub network_clusters: IdVec<NetworkId, Vec<ClusterId>>,
    /// Per network: the VMs on it, in declaration order.
    pub network_vms: IdVec<NetworkId, Vec<VmId>>,
    /// Per service, per `calls` entry (same order, same length): the service
    /// it resolves to, or `None`. Every reference is resolved once, here;
    /// the graph and the rules read this instead of resolving again.
    pub call_targets: IdVec<ServiceId, Vec<Option<ServiceId>>>,
    /// Per service: the services it calls (resolved ones, in order, deduplicated).
    pub calls: IdVec<ServiceId, Vec<ServiceId>>,
    /// Per service: the services that call it (the reverse of `calls`), in
    /// caller order, without duplicates.
    pub callers: IdVec<ServiceId, Vec<ServiceId>>,
    /// All workloads, in declaration order.
    pub workloads: IdVec<WorkloadId, Workload>,
    /// Per VM: indices into `workloads` that run on it.
    pub vm_workloads: IdVec<VmId, Vec<WorkloadId>>,
    /// Per service: indices into `workloads` that implement it.
    pub service_workloads: IdVec<ServiceId, Vec<WorkloadId>>,
}

impl Index {
    pub fn build(topo: &Topology) -> Index {
        let mut ix = Index {
            networks: Names::with_capacity(topo.networks.len()),
            clusters: Names::with_capacity(topo.clusters.len()),
            vms: Names::with_capacity(topo.vms.len()),
            services: Names::with_capacity(topo.services.len()),
            services_by_name: Names::with_capacity(topo.services.len()),
            name_in_several_namespaces: IdVec::filled(false, topo.services.len()),
            ..Index::default()
        };
        for (i, n) in topo.network_ids() {
            ix.networks.insert(&n.name.value, i);
        }
        for (i, c) in topo.cluster_ids() {
            ix.clusters.insert(&c.name.value, i);
        }
        for (i, v) in topo.vm_ids() {
            ix.vms.insert(&v.name.value, i);
        }
        // Namespaces in order of first mention, sorted by name at the end.
        let mut namespace_slots: Names<Position> = Names::with_capacity(topo.namespaces.len());
        let mut namespaces: Vec<NamespaceInfo> = Vec::new();
        for (i, ns) in topo.namespaces.iter().enumerate() {
            if namespace_slots.insert(&ns.name.value, Position(namespaces.len())) {
                namespaces.push(NamespaceInfo {
                    name: ns.name.value.clone(),
                    declared: Some(i),
                    services: Vec::new(),
                });
            }
        }
        for (i, s) in topo.service_ids() {
            let (namespace, name) = (s.namespace.value.as_str(), s.name.value.as_str());
            if ix.services.insert_in(namespace, name, i)
                && !ix.services_by_name.insert(name, i)
                && let Some(first) = ix.services_by_name.get(name)
            {
                ix.name_in_several_namespaces[first] = true;
            }
            let slot = match namespace_slots.get(namespace) {
                Some(Position(slot)) => slot,
                None => {
                    namespace_slots.insert(namespace, Position(namespaces.len()));
                    namespaces.push(NamespaceInfo {
                        name: namespace.to_owned(),
                        declared: None,
                        services: Vec::new(),
                    });
                    namespaces.len() - 1
                }
            };
            namespaces[slot].services.push(i);
        }
        ix.namespaces = namespaces.into_iter().map(|n| (n.name.clone(), n)).collect();
        ix.cluster_network = topo
            .clusters
            .iter()
            .map(|c| ix.networks.get(&c.network.value))
            .collect();
        ix.vm_network = topo
            .vms
            .iter()
            .map(|v| ix.networks.get(&v.network.value))
            .collect();
        ix.network_clusters = IdVec::filled(Vec::new(), topo.networks.len());
        for (c, n) in ix.cluster_network.iter_enumerated() {
            if let Some(n) = *n {
                ix.network_clusters[n].push(c);
            }
        }
        ix.network_vms = IdVec::filled(Vec::new(), topo.networks.len());
        for (v, n) in ix.vm_network.iter_enumerated() {
            if let Some(n) = *n {
                ix.network_vms[n].push(v);
            }
        }
        ix.control_planes = topo
            .cluster_ids()
            .filter(|(_, c)| c.runs_control_plane())
            .map(|(i, _)| i)
            .collect();
        ix.vm_cluster = topo
            .vms
            .iter()
            .map(|v| match &v.cluster {
                Some(c) => ix.clusters.get(&c.value),
                None => match ix.control_planes.as_slice() {
                    [only] => Some(*only),
                    // With one cluster and no control-plane flag, that
                    // cluster is the obvious home.
                    [] if topo.clusters.len() == 1 => Some(ClusterId::new(0)),
                    _ => None,
                },
            })
            .collect();
        ix.call_targets = topo
            .services
            .iter()
            .map(|s| {
                s.calls
                    .iter()
                    .map(|c| ix.service(&s.namespace.value, &c.value))
                    .collect()
            })
            .collect();
        // Duplicates are dropped with one stamp per service (the caller
        // that last listed it) instead of a set per caller.
        let mut listed_by: IdVec<ServiceId, Option<ServiceId>> = IdVec::filled(None, topo.services.len());
        ix.calls = ix
            .call_targets
            .iter_enumerated()
            .map(|(caller, targets)| {
                targets
                    .iter()
                    .flatten()
                    .copied()
                    .filter(|&callee| listed_by[callee].replace(caller) != Some(caller))
                    .collect()
            })
            .collect();
        // Each callee's list made at its size, counted first: grown one
        // push at a time, the 10k lists cost 25k reallocations.
        let mut callers_of: IdVec<ServiceId, usize> = IdVec::filled(0, topo.services.len());
        for &callee in ix.calls.iter().flatten() {
            callers_of[callee] += 1;
        }
        ix.callers = callers_of.iter().map(|&n| Vec::with_capacity(n)).collect();
        for (caller, callees) in ix.calls.iter_enumerated() {
            for &callee in callees {
                ix.callers[callee].push(caller);
            }
        }
        ix.vm_workloads = IdVec::filled(Vec::new(), topo.vms.len());
        // A service's workloads are at most its deployments' versions.
        ix.service_workloads = topo
            .services
            .iter()
            .map(|s| Vec::with_capacity(s.deployments.iter().map(|d| d.versions.len()).sum()))
            .collect();
        ix.workloads
            .reserve(ix.service_workloads.iter().map(Vec::capacity).sum());
        for (si, s) in topo.service_ids() {
            for d in &s.deployments {
                let target = match &d.placement {
                    Placement::Cluster(c) => ix.clusters.get(&c.value).map(Target::Cluster),
                    Placement::Vm(v) => ix.vms.get(&v.value).map(Target::Vm),
                };
                let Some(target) = target else { continue };
                for v in &d.versions {
                    let wi = WorkloadId::new(ix.workloads.len());
                    if let Target::Vm(vm) = target {
                        ix.vm_workloads[vm].push(wi);
                    }
                    ix.service_workloads[si].push(wi);
                    ix.workloads.push(Workload {
                        service: si,
                        version: v.value.clone(),
                        target,
                        service_account: d.service_account.as_ref().map(|s| s.value.clone()),
                        span: v.span,
                    });
                }
            }
        }
        ix
    }

    /// The service declared first as `name` in `namespace`.
    pub fn service_named(&self, namespace: &str, name: &str) -> Option<ServiceId> {
        self.services.get_in(namespace, name)
    }

    /// Resolves a service reference written in `from_namespace`.
    pub fn service(&self, from_namespace: &str, reference: &str) -> Option<ServiceId> {
        if let Some(i) = self.service_named(from_namespace, reference) {
            return Some(i);
        }
        if let Some((name, ns)) = reference.split_once('.') {
            return self.service_named(ns, name);
        }
        self.services_by_name
            .get(reference)
            .filter(|&first| !self.name_in_several_namespaces[first])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;
    use crate::syntax::{Limits, Syntax};

    /// An unqualified name resolves in the caller's namespace first, then
    /// to the only namespace that has it, and to nothing when several do.
    #[test]
    fn a_name_in_several_namespaces_needs_its_namespace() {
        let text = "mesh m { istio \"1.24\" }\n\
            service b namespace=x\n\
            service b namespace=y\n\
            service c namespace=y\n\
            service a namespace=z { calls b b.y c }\n\
            service d namespace=x { calls b }\n";
        let (topology, _) = crate::front_end(&Source::new("t.kdl", text), Syntax::Kdl, Limits::default());
        let ix = Index::build(&topology.expect("a topology"));
        let id = ServiceId::new;
        assert_eq!(ix.call_targets[id(3)], [None, Some(id(1)), Some(id(2))]);
        assert_eq!(ix.call_targets[id(4)], [Some(id(0))]);
        assert_eq!(ix.service("", "c"), Some(id(2)));
        assert_eq!(ix.service("", "b"), None);
    }

    /// Each caller's calls, resolved once each and in the order first
    /// written, whoever else calls the same services.
    #[test]
    fn calls_are_deduplicated_per_caller() {
        let text = "mesh m { istio \"1.24\" }\n\
            service a { calls b c b.default b }\n\
            service b\n\
            service c\n\
            service d { calls c b c }\n";
        let (topology, _) = crate::front_end(&Source::new("t.kdl", text), Syntax::Kdl, Limits::default());
        let ix = Index::build(&topology.expect("a topology"));
        let id = ServiceId::new;
        assert_eq!(ix.calls[id(0)], [id(1), id(2)]);
        assert_eq!(ix.calls[id(3)], [id(2), id(1)]);
        assert_eq!(ix.callers[id(1)], [id(0), id(3)]);
        assert_eq!(ix.callers[id(2)], [id(0), id(3)]);
    }
}
