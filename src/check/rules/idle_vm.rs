//! W902: a VM with nothing deployed on it.

use super::lexical::shown;
use crate::check::{Context, Rule};
use crate::check::{IdVec, VmId};
use crate::declare_code;
use crate::diagnostic::Diagnostic;
use crate::model::Placement;

declare_code! {
    /// A VM runs nothing: no `deploy` places a service on it.
    ///
    /// meshc still generates the VM's files (a sidecar with no workload),
    /// which costs a certificate, a connection to istiod and an operator's
    /// attention, for nothing. Usually a `deploy … vm=NAME` is missing or
    /// names the VM differently.
    ///
    /// ```kdl
    /// vm spare { address "10.0.0.9"; network vpc }   // W902
    /// ```
    pub static CODE = "W902", Warning, "idle-vm", "a VM has nothing deployed on it";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let mut used: IdVec<VmId, bool> = IdVec::filled(false, cx.topo.vms.len());
    for s in &cx.topo.services {
        for d in &s.deployments {
            if let Placement::Vm(r) = &d.placement
                && let Some(v) = cx.index.vms.get(&r.value)
            {
                used[v] = true;
            }
        }
    }
    // A `deploy` or a service left out by lowering may be what ran on it.
    let dropped = &cx.topo.dropped;
    if dropped.any_setting("deploy") || dropped.declaration("service") {
        return;
    }
    for (v, vm) in cx.topo.vm_ids() {
        // A second declaration of a name (E302) is not the one deployments
        // resolve to.
        if used[v] || cx.index.vms.get(&vm.name.value) != Some(v) {
            continue;
        }
        diags.push(
            Diagnostic::new(
                &CODE,
                vm.name.span,
                format!("nothing is deployed on VM `{}`", shown(&vm.name.value)),
            )
            .label("no service runs here")
            .help(format!(
                "deploy a service on it (`deploy v1 vm={}` in the service), or remove the VM",
                shown(&vm.name.value)
            )),
        );
    }
}
