//! E409: a label that meshc sets itself, written by hand.

use super::lexical::shown;
use crate::check::{Context, Rule};
use crate::check::{VmId, WorkloadId};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

/// Labels meshc puts on every VM workload, from the service and version.
const VM_RESERVED: &[&str] = &[
    "app",
    "version",
    "service.istio.io/canonical-name",
    "service.istio.io/canonical-revision",
];

/// Labels meshc puts on namespaces, from `injection` and `revision`.
const NAMESPACE_RESERVED: &[(&str, &str)] = &[
    ("istio-injection", "`injection #false` on the namespace"),
    ("istio.io/rev", "`revision` on the mesh"),
];

declare_code! {
    /// A VM or namespace sets a label that meshc derives itself.
    ///
    /// Every workload on a VM gets `app` and
    /// `service.istio.io/canonical-name` from its service, and `version`
    /// and `service.istio.io/canonical-revision` from its version. The
    /// Service (or ServiceEntry) of each service selects its workloads by
    /// these labels. A VM's own labels apply to *every* workload on it, so
    /// `app=reviews` on a VM that runs `details` would make `reviews`'
    /// selector match `details`' WorkloadEntry: traffic for one service
    /// would reach another (a selector overlap), and telemetry would name
    /// the wrong service.
    ///
    /// Restating the value meshc derives is accepted: `app=mysqldb` on a
    /// VM whose every workload belongs to `mysqldb` changes nothing.
    ///
    /// On namespaces, `istio-injection` and `istio.io/rev` are likewise
    /// derived, from `injection` and the mesh's `revision`.
    ///
    /// ```kdl
    /// vm db { address "10.0.0.5"; network vpc; labels app=mysql }   // E409
    /// ```
    pub static CODE = "E409", Error, "reserved-label", "a label that meshc derives is set by hand";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    for (vi, vm) in cx.topo.vm_ids() {
        for (key, value) in &vm.labels.0 {
            if !VM_RESERVED.contains(&key.value.as_str()) {
                continue;
            }
            if restates(cx, vi, &key.value, &value.value) {
                continue;
            }
            let mut d = Diagnostic::new(
                &CODE,
                key.span,
                format!(
                    "label `{}` on VM `{}` would override the one meshc derives for each workload",
                    key.value,
                    shown(&vm.name.value)
                ),
            )
            .label("derived from the service and version");
            // The workload the label misnames: one whose own value differs.
            let misnamed = cx.index.vm_workloads[vi]
                .iter()
                .find(|&&wi| derived(cx, wi, &key.value) != value.value);
            if let Some(&wi) = misnamed {
                let w = &cx.index.workloads[wi];
                d = d.with_secondary(
                    w.span,
                    format!(
                        "meshc gives this workload of `{}` its own `{}`",
                        shown(&cx.topo.services[w.service].name.value),
                        key.value
                    ),
                );
            }
            diags.push(d.help(format!(
                "remove `{}`: a VM's labels apply to every workload on it, so one service's selector would match another's workloads; meshc sets it per workload",
                key.value
            )));
        }
    }
    for ns in &cx.topo.namespaces {
        for (key, _) in &ns.labels.0 {
            let Some((k, instead)) = NAMESPACE_RESERVED.iter().find(|(k, _)| *k == key.value) else {
                continue;
            };
            diags.push(
                Diagnostic::new(
                    &CODE,
                    key.span,
                    format!(
                        "label `{k}` on namespace `{}` is set by meshc",
                        shown(&ns.name.value)
                    ),
                )
                .label("derived by meshc")
                .help(format!("remove the label and use {instead} instead")),
            );
        }
    }
}

/// Whether `key=value` on VM `vi` says exactly what meshc derives for every
/// workload on it (`app=mysqldb` on the VM that runs only `mysqldb`): then
/// it changes nothing and overlaps no other service.
fn restates(cx: &Context<'_>, vi: VmId, key: &str, value: &str) -> bool {
    let workloads = &cx.index.vm_workloads[vi];
    !workloads.is_empty() && workloads.iter().all(|&wi| derived(cx, wi, key) == value)
}

/// The value meshc gives reserved label `key` on workload `wi`.
fn derived<'t>(cx: &Context<'t>, wi: WorkloadId, key: &str) -> &'t str {
    let w = &cx.index.workloads[wi];
    match key {
        "version" | "service.istio.io/canonical-revision" => w.version.as_str(),
        _ => cx.topo.services[w.service].name.value.as_str(),
    }
}
