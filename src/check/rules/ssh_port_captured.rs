//! E605: a VM service listening on the port the VM is managed through.

use std::collections::BTreeSet;

use super::lexical::{parse_ssh, shown};
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

/// SSH's port, when `ssh` names none.
const DEFAULT_SSH: u16 = 22;

declare_code! {
    /// A service on a VM listens on the port the VM is managed through.
    ///
    /// meshc keeps a VM's management SSH port out of the sidecar's inbound
    /// capture, so that a broken sidecar cannot lock the operator out: the
    /// port in `ssh` (22 when `ssh` names none). A mesh service on that
    /// port cannot work: its traffic skips the sidecar (no mTLS, no
    /// policy, and callers' mTLS fails), and capturing the port instead
    /// would make every SSH session depend on Envoy.
    ///
    /// A service may use 22 (an SFTP or git-over-SSH server) on a VM that
    /// is managed on another port (`ssh "ops@10.0.0.7:2222"`) or not over
    /// SSH (no `ssh`): meshc then captures 22 like any service port.
    ///
    /// ```kdl
    /// vm git { address "10.0.0.7"; network vpc; ssh "ops@10.0.0.7" }
    /// service git-ssh { port tcp 22; deploy v1 vm=git }   // E605
    /// ```
    pub static CODE = "E605", Error, "ssh-port-captured", "a VM service listens on the VM's management SSH port";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    for (vi, vm) in cx.topo.vm_ids() {
        let Some(ssh) = &vm.ssh else { continue };
        // A malformed `ssh` is E407's finding; its port is then taken to
        // be 22, which meshc keeps out of capture in that case.
        let port = parse_ssh(&ssh.value).map_or(DEFAULT_SSH, |t| t.port);
        let mut services = BTreeSet::new();
        for &wi in &cx.index.vm_workloads[vi] {
            let si = cx.index.workloads[wi].service;
            if !services.insert(si) {
                continue;
            }
            let s = &cx.topo.services[si];
            let Some(p) = s.ports.iter().find(|p| p.target_port() == port) else {
                continue;
            };
            let at = p.target_port.as_ref().unwrap_or(&p.number);
            let other = if port == DEFAULT_SSH { 2222 } else { DEFAULT_SSH };
            diags.push(
                Diagnostic::new(
                    &CODE,
                    at.span,
                    format!(
                        "`{}` listens on port {port}, the SSH port VM `{}` is managed through",
                        shown(&s.name.value),
                        shown(&vm.name.value)
                    ),
                )
                .label("the management SSH port")
                .with_secondary(ssh.span, format!("managed over SSH on port {port}"))
                .help(format!(
                    "meshc keeps the management port out of capture so a broken sidecar cannot lock you out; move the service to another port (`target-port`), or manage the VM on another port (`ssh \"user@host:{other}\"`)"
                )),
            );
        }
    }
}
