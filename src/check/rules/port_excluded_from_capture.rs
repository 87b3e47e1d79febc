//! E604: a VM service port listed in the VM's `inbound-exclude-ports`.

use std::collections::BTreeSet;

use super::lexical::shown;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// A port a service on the VM listens on is excluded from inbound
    /// capture.
    ///
    /// `inbound-exclude-ports` lets traffic to a port bypass the sidecar:
    /// no mTLS, no authorization policy, no telemetry. It exists for ports
    /// that are not part of the mesh (a backup agent, say). Excluding a
    /// mesh service's own port makes every call to it fail: callers'
    /// sidecars speak mTLS to it and find a plain-text server, and the
    /// service's policies are silently bypassed.
    ///
    /// ```kdl
    /// vm db { address "10.0.0.5"; network vpc; inbound-exclude-ports 3306 }
    /// service mysql { port tcp 3306; deploy v1 vm=db }   // E604
    /// ```
    pub static CODE = "E604", Error, "port-excluded-from-capture", "a VM service port bypasses the sidecar";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    for (vi, vm) in cx.topo.vm_ids() {
        if vm.inbound_exclude_ports.is_empty() {
            continue;
        }
        let mut services = BTreeSet::new();
        let mut reported = BTreeSet::new();
        for &wi in &cx.index.vm_workloads[vi] {
            let si = cx.index.workloads[wi].service;
            if !services.insert(si) {
                continue;
            }
            let s = &cx.topo.services[si];
            for p in &s.ports {
                let port = p.target_port();
                let Some(ex) = vm.inbound_exclude_ports.iter().find(|e| e.value == port) else {
                    continue;
                };
                if !reported.insert(port) {
                    continue;
                }
                let at = p.target_port.as_ref().unwrap_or(&p.number);
                diags.push(
                    Diagnostic::new(
                        &CODE,
                        ex.span,
                        format!(
                            "port {port} is excluded from inbound capture on VM `{}`, but `{}` listens on it",
                            shown(&vm.name.value),
                            shown(&s.name.value)
                        ),
                    )
                    .label("bypasses the sidecar")
                    .with_secondary(at.span, format!("`{}` listens here", shown(&s.name.value)))
                    .help(format!(
                        "remove {port} from `inbound-exclude-ports`: traffic to it would skip mTLS and authorization, and callers' mTLS would fail"
                    )),
                );
            }
        }
    }
}
