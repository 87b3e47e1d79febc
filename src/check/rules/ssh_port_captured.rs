//! E605: a VM service listening on the port the VM is managed through.

use std::collections::BTreeSet;

use super::lexical::{parse_ssh, shown};
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// A service on a VM listens on an SSH port.
    ///
    /// meshc keeps SSH out of the sidecar's inbound capture, so that a
    /// broken sidecar cannot lock the operator out: port 22 on every VM,
    /// and the port in `ssh` when a VM names another one. A mesh service
    /// on such a port cannot work: its traffic skips the sidecar (no mTLS,
    /// no policy, and callers' mTLS fails), and capturing the port instead
    /// would make every SSH session depend on Envoy.
    ///
    /// ```kdl
    /// vm git { address "10.0.0.7"; network vpc; ssh "ops@10.0.0.7" }
    /// service git-ssh { port tcp 22; deploy v1 vm=git }   // E605
    /// ```
    pub static CODE = "E605", Error, "ssh-port-captured", "a VM service listens on an SSH port";
}

pub static RULE: Rule = Rule { code: &CODE, run };

/// Port 22 stays out of capture on every VM, managed over SSH or not.
const DEFAULT_SSH: u16 = 22;

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    for (vi, vm) in cx.topo.vms.iter().enumerate() {
        // A malformed `ssh` is E407's finding; 22 is still kept out.
        let ssh = vm
            .ssh
            .as_ref()
            .and_then(|s| parse_ssh(&s.value).ok().map(|t| (s.span, t.port)));
        let mut services = BTreeSet::new();
        for &wi in &cx.index.vm_workloads[vi] {
            let si = cx.index.workloads[wi].service;
            if !services.insert(si) {
                continue;
            }
            let s = &cx.topo.services[si];
            let hit = s.ports.iter().find_map(|p| {
                let port = p.target_port();
                let via_ssh = ssh.filter(|&(_, sp)| sp == port);
                (port == DEFAULT_SSH || via_ssh.is_some()).then_some((p, port, via_ssh))
            });
            let Some((p, port, via_ssh)) = hit else { continue };
            let at = p.target_port.as_ref().unwrap_or(&p.number);
            let mut d = Diagnostic::new(
                &CODE,
                at.span,
                format!(
                    "`{}` listens on port {port}, which meshc keeps out of capture on VM `{}` for SSH",
                    shown(&s.name.value),
                    shown(&vm.name.value)
                ),
            )
            .label("an SSH port");
            d = match via_ssh {
                Some((span, _)) => d.with_secondary(span, "the VM is managed over SSH here"),
                None => d.with_secondary(vm.name.span, "port 22 is kept out of capture on every VM"),
            };
            diags.push(d.help(
                "meshc keeps SSH ports out of capture so a broken sidecar cannot lock you out; move the service to another port (`target-port`), or SSH to another port (`ssh \"user@host:PORT\"`)",
            ));
        }
    }
}
