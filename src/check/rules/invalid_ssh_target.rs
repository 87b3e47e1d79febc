//! E407: an `ssh` setting that is not `[user@]host[:port]`.

use super::lexical::{parse_ssh, shown};
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// A VM's `ssh` is not `[user@]host[:port]`.
    ///
    /// `ssh` says how the operator reaches the VM; meshc writes it into the
    /// install instructions and keeps its port out of the sidecar's
    /// capture. It must be a user name (letters, digits, `_`, `.`, `-`,
    /// starting with a letter or `_`), an optional `@`, a host name, an
    /// IPv4 address or an IPv6 address in brackets, and an optional
    /// decimal port.
    ///
    /// The strict form is a safety measure: a value such as
    /// `-oProxyCommand=…` or `root@$(…)` would turn an `ssh` command line
    /// in a generated script into something else entirely.
    ///
    /// ```kdl
    /// vm db { address "10.0.0.5"; network vpc; ssh "root@10.0.0.5:2222" }   // fine
    /// vm db { address "10.0.0.5"; network vpc; ssh "root@fd00::5" }         // E407: write [fd00::5]
    /// ```
    pub static CODE = "E407", Error, "invalid-ssh-target", "`ssh` is not `[user@]host[:port]`";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    for vm in &cx.topo.vms {
        let Some(ssh) = &vm.ssh else { continue };
        if let Err(problem) = parse_ssh(&ssh.value) {
            diags.push(
                Diagnostic::new(
                    &CODE,
                    ssh.span,
                    format!(
                        "`ssh` of VM `{}`, `{}`, {problem}",
                        shown(&vm.name.value),
                        shown(&ssh.value)
                    ),
                )
                .label("not `[user@]host[:port]`")
                .help(
                    "write `[user@]host[:port]`, e.g. \"root@192.168.3.201\", \"ops@vm1.example.com:2222\" or \"root@[fd00::5]\"",
                ),
            );
        }
    }
}
