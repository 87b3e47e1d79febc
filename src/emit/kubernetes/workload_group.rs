//! WorkloadGroups: which VM workloads share one, and its name.
//!
//! A WorkloadGroup is the template istiod copies into the WorkloadEntry of
//! every auto-registered VM, and the input of `istioctl x workload entry
//! configure`; its `template` carries one network and one service account.
//! So VMs of one service version share a group only when they share both.
//! The usual case (one version, one network, one identity) gives one group
//! named `<service>-<version>`; the name grows `-<network>` only when the
//! version's VMs sit on several networks, and `-<service-account>` only when
//! VMs on one network run as different accounts.
//!
//! Public because the VM files must agree on it: an auto-registering VM
//! names its group in `ISTIO_META_AUTO_REGISTER_GROUP`.

use std::collections::{BTreeMap, BTreeSet};

use crate::check::{Index, ServiceId, Target, VmId, WorkloadId};
use crate::model::{Flow, Topology};

/// One WorkloadGroup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    /// The name carries the network (`-<network>`).
    pub by_network: bool,
    /// The name carries the service account (`-<service-account>`).
    pub by_account: bool,
    /// Index into `Topology::services`.
    pub service: ServiceId,
    pub version: String,
    pub network: String,
    pub service_account: String,
    /// Indices into `Index::workloads`, in declaration order.
    pub workloads: Vec<WorkloadId>,
}

/// Every WorkloadGroup of the topology, by service then first member.
pub fn groups(topo: &Topology, ix: &Index) -> Vec<Group> {
    // (service, version, network, service account) → members.
    let mut members: BTreeMap<(ServiceId, &str, &str, &str), Vec<WorkloadId>> = BTreeMap::new();
    for (wi, w) in ix.workloads.iter_enumerated() {
        // A filter, not a fallback: only VM workloads have groups.
        let Target::Vm(v) = w.target else { continue };
        let (service, vm) = (&topo.services[w.service], &topo.vms[v]);
        let sa = crate::emit::service_account(service, Some(vm));
        members
            .entry((w.service, w.version.as_str(), vm.network.value.as_str(), sa))
            .or_default()
            .push(wi);
    }
    let mut networks: BTreeMap<(ServiceId, &str), BTreeSet<&str>> = BTreeMap::new();
    let mut accounts: BTreeMap<(ServiceId, &str, &str), BTreeSet<&str>> = BTreeMap::new();
    for &(s, version, network, sa) in members.keys() {
        networks.entry((s, version)).or_default().insert(network);
        accounts.entry((s, version, network)).or_default().insert(sa);
    }
    let mut out: Vec<Group> = members
        .into_iter()
        .map(|((s, version, network, sa), workloads)| {
            let service = &topo.services[s];
            let mut name = format!("{}-{}", service.name.value, object_name_part(version));
            let by_network = networks.get(&(s, version)).is_some_and(|n| n.len() > 1);
            if by_network {
                name = format!("{name}-{network}");
            }
            let by_account = accounts.get(&(s, version, network)).is_some_and(|a| a.len() > 1);
            if by_account {
                name = format!("{name}-{sa}");
            }
            Group {
                name,
                by_network,
                by_account,
                service: s,
                version: version.to_owned(),
                network: network.to_owned(),
                service_account: sa.to_owned(),
                workloads,
            }
        })
        .collect();
    out.sort_by_key(|g| (g.service, g.workloads.first().copied()));
    out
}

/// A version as part of an object name. `check` (E403) already requires
/// versions to be DNS-1123 labels, which makes this the identity; it stays
/// as the one place that would adapt a looser version (label values may
/// hold `_`, `.` and capitals, object names may not hold `_` or capitals).
pub fn object_name_part(version: &str) -> String {
    version
        .chars()
        .map(|c| if c == '_' { '-' } else { c.to_ascii_lowercase() })
        .collect()
}

/// The name of the WorkloadEntry meshc writes for a VM workload:
/// `<service>-<version>-<vm>`.
pub fn entry_name(service: &str, version: &str, vm: &str) -> String {
    format!("{service}-{}-{vm}", object_name_part(version))
}

/// The annotation that lets istiod take a proxy's health reports for a
/// WorkloadEntry it did not create (`IsEligibleForHealthStatusUpdates` in
/// `pilot/pkg/autoregistration/internal/health`).
pub const HEALTH_CHECKS_ANNOTATION: &str = "proxy.istio.io/health-checks-enabled";

/// The WorkloadEntry whose health the sidecar of VM `v` reports, for a
/// hand-registered VM (WorkloadEntry flow, no `autoregister`) that runs a
/// service with a `probe`: the entry of its first such workload, by
/// (namespace, service, version). Its sidecar names it in
/// `ISTIO_META_WORKLOAD_ENTRY` and the entry carries
/// [`HEALTH_CHECKS_ANNOTATION`]; istiod otherwise drops the reports of a
/// proxy it did not auto-register. A sidecar reports one probe, so a VM
/// with several probed services reports for that entry only.
pub fn health_checked_entry(topo: &Topology, ix: &Index, v: VmId) -> Option<String> {
    health_checked_workload(topo, ix, v).map(|w| {
        let workload = &ix.workloads[w];
        let service = &topo.services[workload.service];
        entry_name(&service.name.value, &workload.version, &topo.vms[v].name.value)
    })
}

/// The workload whose entry [`health_checked_entry`] names.
pub fn health_checked_workload(topo: &Topology, ix: &Index, v: VmId) -> Option<WorkloadId> {
    let vm = &topo.vms[v];
    if topo.mesh.flow() != Flow::Modern || vm.autoregister.as_ref().is_some_and(|a| a.value) {
        return None;
    }
    ix.vm_workloads[v]
        .iter()
        .filter_map(|&w| {
            let workload = &ix.workloads[w];
            let service = &topo.services[workload.service];
            service.probe.as_ref()?;
            Some((
                service.namespace.value.as_str(),
                service.name.value.as_str(),
                workload.version.as_str(),
                w,
            ))
        })
        .min()
        .map(|(_, _, _, w)| w)
}
