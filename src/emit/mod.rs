//! Emit: `Checked` topology → `Vec<Artifact>`, one module per target.
//!
//! Every emitter is a pure function of the checked topology (and the source
//! file's name, printed in headers): it cannot fail, does no I/O, and reads
//! no clock or environment, so the same input always gives the same bytes.
//! Anything that reaches output is iterated in a fixed order (declaration
//! order, or sorted through `BTreeMap`/`BTreeSet`), never through a hash map.
//!
//! Facts that several targets must agree on (which service account a
//! workload runs as) live here, in one function each, so that the Kubernetes
//! objects and the VM files can never disagree.

pub mod graph;
pub mod kubernetes;
pub mod vm;
pub mod yaml;

use crate::artifact::Artifact;
use crate::check::Checked;
use crate::model::{Service, Vm};

/// Every artifact meshc emits for a topology, sorted by path.
///
/// The Kubernetes and VM emitters share nothing but the read-only checked
/// topology, so they run on two threads (about a third off a 10k-service
/// build's emit time on two cores); the result is sorted, so it does not
/// depend on which finishes first.
pub fn all(checked: &Checked, source_name: &str) -> Vec<Artifact> {
    let (mut out, vms) = std::thread::scope(|scope| {
        let vms = scope.spawn(|| vm::bundle::emit(checked, source_name));
        let kubernetes = kubernetes::emit(checked, source_name);
        (kubernetes, vms.join())
    });
    match vms {
        Ok(vms) => out.extend(vms),
        // An emitter cannot fail; a panic there is a bug, reported as one.
        Err(panic) => std::panic::resume_unwind(panic),
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The Kubernetes service account a workload of `service` runs as (a
/// cluster `deploy` line's own `service-account` comes first, see
/// `kubernetes::Cx::service_account`): on a VM the VM's own
/// `service-account` wins, then the service's
/// `service-account`, then the service's name.
///
/// The name matters in three places that must agree: the ServiceAccount
/// object (and, in the legacy flow, the `istio.<sa>` secret Citadel creates
/// for it, which `setupMeshEx.sh machineCerts` copies to the VM), the
/// WorkloadEntry/WorkloadGroup `serviceAccount` (the SPIFFE identity istiod
/// issues to the VM), and the principals of the AuthorizationPolicies that
/// let the workload call others.
pub fn service_account<'a>(service: &'a Service, vm: Option<&'a Vm>) -> &'a str {
    vm.and_then(|vm| vm.service_account.as_ref())
        .or(service.service_account.as_ref())
        .map_or(service.name.value.as_str(), |sa| sa.value.as_str())
}
