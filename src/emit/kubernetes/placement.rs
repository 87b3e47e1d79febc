//! Which clusters receive which objects (the rules are in the parent
//! module's documentation; this is their code).

use std::collections::BTreeSet;

use super::Cx;
use crate::check::{ClusterId, Index, ServiceId};
use crate::model::Topology;

/// Clusters whose istiod reads Istio configuration: those that run a
/// control plane, or every cluster when none says so.
pub fn config_clusters(topo: &Topology, ix: &Index) -> Vec<ClusterId> {
    if ix.control_planes.is_empty() {
        topo.cluster_ids().map(|(c, _)| c).collect()
    } else {
        ix.control_planes.clone()
    }
}

/// Clusters that need a service's registration (its Kubernetes Service, or
/// legacy Service and Endpoints): where it runs and where its callers run.
pub fn registration_clusters(cx: &Cx<'_>, service: ServiceId) -> BTreeSet<ClusterId> {
    let callers = cx.callers[service].iter().copied();
    std::iter::once(service)
        .chain(callers)
        .flat_map(|s| cx.workloads_of(s))
        .map(|w| cx.workload_cluster(w))
        .collect()
}

/// Networks that hold a cluster or a VM.
pub fn networks_in_use(topo: &Topology) -> BTreeSet<&str> {
    topo.clusters
        .iter()
        .map(|c| c.network.value.as_str())
        .chain(topo.vms.iter().map(|v| v.network.value.as_str()))
        .collect()
}
