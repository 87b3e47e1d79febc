//! E602: two workloads on one VM that listen on the same port.

use std::collections::{BTreeMap, BTreeSet};

use super::lexical::shown;
use crate::check::{Context, Rule};
use crate::check::{ServiceId, WorkloadId};
use crate::declare_code;
use crate::diagnostic::Diagnostic;
use crate::model::Port;
use crate::source::Span;

declare_code! {
    /// Two workloads on one VM listen on the same port.
    ///
    /// Every workload on a VM shares the VM's network stack, and its
    /// sidecar sends inbound traffic for a port to whatever listens on it.
    /// Two services whose (target) ports coincide cannot both bind it, and
    /// even if one process served both, the sidecar could not tell their
    /// traffic apart. The same holds for two versions of one service on
    /// one VM: they would listen on the same ports, and the VM's one
    /// address cannot say which version a request is for. Put the second
    /// one on its own VM, or give it another `target-port`.
    ///
    /// ```kdl
    /// service web { port http 8080; deploy v1 vm=vm-1 }
    /// service api { port http 8080; deploy v1 vm=vm-1 }   // E602
    /// ```
    pub static CODE = "E602", Error, "vm-port-conflict", "two workloads on one VM listen on the same port";
}

pub static RULE: Rule = Rule { code: &CODE, run };

/// The span that says which port a workload listens on: `target-port`
/// when written, else the port number.
fn listen_span(p: &Port) -> Span {
    p.target_port.as_ref().map_or(p.number.span, |t| t.span)
}

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let (topo, ix) = (cx.topo, cx.index);
    // A pair of services clashing on one port is reported once, on the
    // first VM where they meet.
    let mut reported: BTreeSet<(ServiceId, ServiceId, u16)> = BTreeSet::new();
    for (vi, workloads) in ix.vm_workloads.iter_enumerated() {
        let vm = shown(&topo.vms[vi].name.value);
        let mut seen: BTreeSet<(ServiceId, &str)> = BTreeSet::new();
        let mut first_of_service: BTreeMap<ServiceId, WorkloadId> = BTreeMap::new();
        // target port → (workload, port) that took it first.
        let mut taken: BTreeMap<u16, (WorkloadId, &Port)> = BTreeMap::new();
        for &wi in workloads {
            let w = &ix.workloads[wi];
            // The same version twice is E303's finding.
            if !seen.insert((w.service, w.version.as_str())) {
                continue;
            }
            let service = &topo.services[w.service];
            if let Some(&earlier) = first_of_service.get(&w.service) {
                if let Some(p) = service.ports.first() {
                    diags.push(
                        Diagnostic::new(
                            &CODE,
                            w.span,
                            format!(
                                "versions `{}` and `{}` of `{}` both run on VM `{vm}` and would listen on the same ports",
                                shown(&ix.workloads[earlier].version),
                                shown(&w.version),
                                shown(&service.name.value)
                            ),
                        )
                        .label("second version on this VM")
                        .with_secondary(ix.workloads[earlier].span, "first version on this VM")
                        .with_secondary(listen_span(p), format!("both listen on {}", p.target_port()))
                        .help("run each version on its own VM; one VM address cannot tell versions apart"),
                    );
                }
                continue;
            }
            first_of_service.insert(w.service, wi);
            for p in &service.ports {
                let port = p.target_port();
                let Some(&(ewi, ep)) = taken.get(&port) else {
                    taken.insert(port, (wi, p));
                    continue;
                };
                let other = ix.workloads[ewi].service;
                if other == w.service || !reported.insert((other, w.service, port)) {
                    continue;
                }
                let other_name = shown(&topo.services[other].name.value);
                diags.push(
                    Diagnostic::new(
                        &CODE,
                        listen_span(p),
                        format!(
                            "`{other_name}` and `{}` both listen on port {port} on VM `{vm}`",
                            shown(&service.name.value)
                        ),
                    )
                    .label(format!("port {port} again"))
                    .with_secondary(listen_span(ep), format!("`{other_name}` listens on {port}"))
                    .with_secondary(w.span, format!("`{}` runs on `{vm}` here", shown(&service.name.value)))
                    .help(
                        "give one of them another `target-port` (the port its process listens on), or run it on another VM",
                    ),
                );
            }
        }
    }
}
