//! E307: services on one VM that would run as different service accounts.

use std::collections::BTreeSet;

use super::lexical::shown;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// Services on one VM would run as different service accounts.
    ///
    /// A VM has one sidecar, and istiod issues that sidecar one identity:
    /// one service account (`spiffe://…/ns/NS/sa/SA`). Without a
    /// `service-account` on the VM, each service would run as its own
    /// (its `service-account`, or its name), so all but one of them would
    /// present the wrong identity: the AuthorizationPolicies meshc derives
    /// from `calls` would deny their requests. Give the VM one account for
    /// all of them, or give the services the same one.
    ///
    /// ```kdl
    /// vm box { address "10.0.0.5"; network vpc }          // no service-account
    /// service invoices { port http 8080; deploy v1 vm=box }
    /// service ledger { port http 8081; deploy v1 vm=box }  // E307: runs as `ledger`, not `invoices`
    /// ```
    pub static CODE = "E307", Error, "vm-identity-conflict", "services on one VM would run as different service accounts";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    for (vi, vm) in cx.topo.vm_ids() {
        if vm.service_account.is_some() {
            continue;
        }
        let workloads = &cx.index.vm_workloads[vi];
        let Some(&first) = workloads.first() else { continue };
        let home = &cx.topo.services[cx.index.workloads[first].service];
        let account = |s: &crate::model::Service| {
            s.service_account
                .as_ref()
                .map_or(s.name.value.clone(), |sa| sa.value.clone())
        };
        let home_account = account(home);
        let mut seen = BTreeSet::from([cx.index.workloads[first].service]);
        for &wi in workloads {
            let w = &cx.index.workloads[wi];
            let service = &cx.topo.services[w.service];
            // Another namespace is E304's finding.
            if !seen.insert(w.service) || service.namespace.value != home.namespace.value {
                continue;
            }
            let other = account(service);
            if other == home_account {
                continue;
            }
            diags.push(
                Diagnostic::new(
                    &CODE,
                    w.span,
                    format!(
                        "`{}` would run as service account `{}` on VM `{}`, whose sidecar runs as `{}`",
                        shown(&service.name.value),
                        shown(&other),
                        shown(&vm.name.value),
                        shown(&home_account)
                    ),
                )
                .label(format!("runs as `{}`", shown(&other)))
                .with_secondary(
                    cx.index.workloads[first].span,
                    format!("`{}` runs as `{}`", shown(&home.name.value), shown(&home_account)),
                )
                .with_secondary(vm.name.span, "no `service-account` on the VM")
                .help(format!(
                    "a VM's sidecar has one identity: add `service-account NAME` to VM `{}`, or give its services the same `service-account`",
                    shown(&vm.name.value)
                )),
            );
        }
    }
}
