//! E820: a VM's proxy uid or gid is 0 (root).

use super::lexical::shown;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// A VM's `proxy-uid` or `proxy-gid` is 0.
    ///
    /// istio-iptables lets the proxy's own traffic out uncaptured with
    /// `-m owner --uid-owner UID -j RETURN` (and `--gid-owner GID`), so
    /// that Envoy does not capture itself. With 0 that rule matches every
    /// process running as root (or in group root): sshd, cron, agents and
    /// usually the application itself bypass the sidecar, with no mTLS and
    /// no policy. Run the proxy as its own user (`istio-proxy`, 1337 by
    /// default).
    ///
    /// ```kdl
    /// vm db { address "10.0.0.5"; network vpc; proxy-uid 0 }   // E820
    /// ```
    pub static CODE = "E820", Error, "proxy-id-root", "the proxy runs as uid or gid 0, exempting every root process from capture";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    for vm in &cx.topo.vms {
        for (id, what, flag) in [
            (&vm.proxy_uid, "proxy-uid", "--uid-owner"),
            (&vm.proxy_gid, "proxy-gid", "--gid-owner"),
        ] {
            let Some(id) = id.as_ref().filter(|i| i.value == 0) else {
                continue;
            };
            diags.push(
                Diagnostic::new(
                    &CODE,
                    id.span,
                    format!(
                        "`{what}` of VM `{}` is 0: `{flag} 0 -j RETURN` would exempt every root process from capture",
                        shown(&vm.name.value)
                    ),
                )
                .label("root")
                .help(format!(
                    "run the proxy as a dedicated user: remove `{what}` for the default 1337, or give the id of the `istio-proxy` account (`id istio-proxy`)"
                )),
            );
        }
    }
}
