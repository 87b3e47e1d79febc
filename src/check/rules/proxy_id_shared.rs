//! W920: a VM's proxy uid or gid that other processes are known to use.

use super::lexical::shown;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// A VM's `proxy-uid` or `proxy-gid` is an id that other processes run
    /// as.
    ///
    /// Every process running as the proxy's uid (or gid) is exempt from
    /// capture (`-m owner --uid-owner UID -j RETURN`). meshc cannot see the
    /// VM's accounts, but some ids are shared by design: 1–99 are the
    /// statically allocated system accounts (`daemon`, `bin`, `mail`,
    /// `www-data` 33 on Debian, …) that daemons and often the application
    /// itself run as, and 65534 is `nobody`/`nogroup`, which many services
    /// use. A proxy with such an id takes those processes out of the mesh
    /// silently. (0 is refused outright: E820.)
    ///
    /// ```kdl
    /// vm web { address "10.0.0.6"; network vpc; proxy-uid 33 }   // W920
    /// ```
    pub static CODE = "W920", Warning, "proxy-id-shared", "the proxy's uid or gid is one other processes run as";
}

pub static RULE: Rule = Rule { code: &CODE, run };

/// Why `id` is known to be shared, if it is.
fn shared(id: u32) -> Option<&'static str> {
    match id {
        1..=99 => Some("a statically allocated system account, which daemons run as"),
        65534 => Some("`nobody`/`nogroup`, which many services run as"),
        _ => None,
    }
}

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    for vm in &cx.topo.vms {
        for (id, what) in [(&vm.proxy_uid, "proxy-uid"), (&vm.proxy_gid, "proxy-gid")] {
            let Some((id, why)) = id.as_ref().and_then(|i| shared(i.value).map(|w| (i, w))) else {
                continue;
            };
            diags.push(
                Diagnostic::new(
                    &CODE,
                    id.span,
                    format!(
                        "`{what}` of VM `{}` is {}, {why}: their traffic would bypass the sidecar",
                        shown(&vm.name.value),
                        id.value
                    ),
                )
                .label("a shared id")
                .help(format!(
                    "run the proxy as a dedicated account: remove `{what}` for the default 1337, or give the id of `istio-proxy` (`id istio-proxy`)"
                )),
            );
        }
    }
}
