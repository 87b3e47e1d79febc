//! E304: services of different namespaces on one VM.

use std::collections::BTreeSet;

use super::lexical::shown;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// A VM runs services of more than one namespace.
    ///
    /// A VM has one sidecar, and the sidecar has one identity: a single
    /// namespace (`POD_NAMESPACE` in `cluster.env`) and a single service
    /// account. Its certificate, the WorkloadEntry it registers and the
    /// policies that apply to it all live in that namespace. Services of a
    /// second namespace on the same VM would run with the first namespace's
    /// identity, so their AuthorizationPolicies would never match them.
    ///
    /// ```kdl
    /// service cart namespace=shop { port http 8080; deploy v1 vm=vm-1 }
    /// service ledger namespace=billing {
    ///     port http 8081
    ///     deploy v1 vm=vm-1       // E304: vm-1 already runs `shop` services
    /// }
    /// ```
    pub static CODE = "E304", Error, "vm-namespace-mix", "a VM runs services of more than one namespace";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    for (vi, workloads) in cx.index.vm_workloads.iter_enumerated() {
        let vm = &cx.topo.vms[vi];
        // Each further namespace is reported once, at its first workload.
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let Some(&home) = workloads.first() else { continue };
        let home_ns = cx.topo.services[cx.index.workloads[home].service]
            .namespace
            .value
            .as_str();
        for &wi in workloads {
            let w = &cx.index.workloads[wi];
            let service = &cx.topo.services[w.service];
            let ns = service.namespace.value.as_str();
            if !seen.insert(ns) || ns == home_ns {
                continue;
            }
            let home_service = &cx.topo.services[cx.index.workloads[home].service];
            diags.push(
                Diagnostic::new(
                    &CODE,
                    w.span,
                    format!(
                        "VM `{}` runs services of namespace `{}` and of namespace `{}`",
                        shown(&vm.name.value),
                        shown(home_ns),
                        shown(ns)
                    ),
                )
                .label(format!("`{}` is in namespace `{}`", shown(&service.name.value), shown(ns)))
                .with_secondary(
                    cx.index.workloads[home].span,
                    format!(
                        "`{}` (namespace `{}`) already runs on `{}`",
                        shown(&home_service.name.value),
                        shown(home_ns),
                        shown(&vm.name.value)
                    ),
                )
                .help(format!(
                    "a VM's sidecar has one namespace identity; run `{}` on another VM, or move it into namespace `{}`",
                    shown(&service.name.value),
                    shown(home_ns)
                )),
            );
        }
    }
}
