//! E605: a VM service listening on the port the VM is managed through.

use std::collections::BTreeSet;

use super::lexical::{parse_ssh, shown};
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// A service on a VM listens on the VM's SSH port.
    ///
    /// A VM with `ssh` is managed over SSH, and meshc keeps its SSH port
    /// (22, or the port in `ssh`) out of the sidecar's inbound capture, so
    /// that a broken sidecar cannot lock the operator out. A mesh service
    /// on the same port cannot work: either its traffic skips the sidecar
    /// (no mTLS, no policy, and callers' mTLS fails), or, were the port
    /// captured, every SSH session would depend on Envoy.
    ///
    /// ```kdl
    /// vm git { address "10.0.0.7"; network vpc; ssh "ops@10.0.0.7" }
    /// service git-ssh { port tcp 22; deploy v1 vm=git }   // E605
    /// ```
    pub static CODE = "E605", Error, "ssh-port-captured", "a VM service listens on the VM's SSH port";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    for (vi, vm) in cx.topo.vms.iter().enumerate() {
        let Some(ssh) = &vm.ssh else { continue };
        // A malformed `ssh` is E407's finding.
        let Ok(target) = parse_ssh(&ssh.value) else {
            continue;
        };
        let mut services = BTreeSet::new();
        for &wi in &cx.index.vm_workloads[vi] {
            let si = cx.index.workloads[wi].service;
            if !services.insert(si) {
                continue;
            }
            let s = &cx.topo.services[si];
            let Some(p) = s.ports.iter().find(|p| p.target_port() == target.port) else {
                continue;
            };
            let at = p.target_port.as_ref().unwrap_or(&p.number);
            diags.push(
                Diagnostic::new(
                    &CODE,
                    at.span,
                    format!(
                        "`{}` listens on port {}, the SSH port of VM `{}`",
                        shown(&s.name.value),
                        target.port,
                        shown(&vm.name.value)
                    ),
                )
                .label("the VM's SSH port")
                .with_secondary(ssh.span, "the VM is managed over SSH here")
                .help(
                    "meshc keeps the SSH port out of capture so a broken sidecar cannot lock you out; move the service (`target-port`) or SSH (`ssh \"user@host:PORT\"`) to another port",
                ),
            );
        }
    }
}
