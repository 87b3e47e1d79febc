//! E308: auto-registration on a VM that runs more than one workload.

use super::lexical::shown;
use crate::check::ServiceId;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// A VM with `autoregister #true` runs more than one workload.
    ///
    /// With auto-registration the sidecar names one WorkloadGroup
    /// (`ISTIO_META_AUTO_REGISTER_GROUP`) and istiod creates the VM's
    /// WorkloadEntry from it. A WorkloadGroup describes one service
    /// version, so a VM running several services has no group to name: it
    /// would register as none of them. Let meshc
    /// write the WorkloadEntries instead (drop `autoregister`), or give
    /// each workload a VM of its own.
    ///
    /// ```kdl
    /// vm box { address "10.0.0.5"; network vpc; autoregister #true }   // E308
    /// service web { port http 8080; deploy v1 vm=box }
    /// service api { port http 8081; deploy v1 vm=box }
    /// ```
    pub static CODE = "E308", Error, "autoregister-shared-vm", "a VM that auto-registers runs more than one workload";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    for (vi, vm) in cx.topo.vm_ids() {
        let Some(auto) = vm.autoregister.as_ref().filter(|a| a.value) else {
            continue;
        };
        let workloads = &cx.index.vm_workloads[vi];
        let mut distinct = workloads.iter().map(|&wi| {
            let w = &cx.index.workloads[wi];
            (w.service, w.version.as_str(), w.span)
        });
        let Some(first) = distinct.next() else { continue };
        // Two versions of one service on a VM are E602's finding, the same
        // version twice E303's.
        let Some(second) = distinct.find(|w| w.0 != first.0) else {
            continue;
        };
        let name = |(s, v, _): (ServiceId, &str, _)| {
            format!("`{}` {}", shown(&cx.topo.services[s].name.value), shown(v))
        };
        diags.push(
            Diagnostic::new(
                &CODE,
                auto.span,
                format!(
                    "VM `{}` auto-registers, but runs both {} and {}",
                    shown(&vm.name.value),
                    name(first),
                    name(second)
                ),
            )
            .label("auto-registration names one WorkloadGroup")
            .with_secondary(first.2, "one workload")
            .with_secondary(second.2, "another workload")
            .help(
                "drop `autoregister` so meshc writes the WorkloadEntries, or run each workload on its own VM",
            ),
        );
    }
}
