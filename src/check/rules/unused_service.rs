//! W904: a service nobody calls that is not an entry point.

use super::lexical::shown;
use crate::check::{Context, IdVec, Rule, ServiceId};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// No service calls this one, and it is not marked as an entry point.
    ///
    /// With least privilege on, meshc lets a service receive traffic only
    /// from the services that declare `calls` to it. A service with no
    /// caller therefore receives nothing from the mesh: either it is dead
    /// code, or a caller forgot to list it, or it is reached from outside
    /// the mesh (an ingress gateway), which `entry-point #true` says.
    /// A service calling only itself counts as uncalled.
    ///
    /// ```kdl
    /// service legacy-report { port http 80; deploy v1 cluster=prod }   // W904
    /// service frontend { port http 80; deploy v1 cluster=prod; entry-point #true }   // fine
    /// ```
    pub static CODE = "W904", Warning, "unused-service", "no service calls this one and it is not an entry point";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    // A caller's `calls` or a whole service left out by lowering may be the
    // missing caller: that mistake is reported, this would be its echo.
    let dropped = &cx.topo.dropped;
    if dropped.any_setting("calls") || dropped.declaration("service") {
        return;
    }
    // The services another service calls: the index's resolved calls,
    // which the graph's calls edges are, rather than a pass over every
    // edge of the mesh graph (at 20k services, a quarter of `check`'s
    // cache misses once the cycle rule stopped walking the graph).
    let mut called: IdVec<ServiceId, bool> = IdVec::filled(false, cx.topo.services.len());
    for (caller, callees) in cx.index.calls.iter_enumerated() {
        for &callee in callees {
            if callee != caller {
                called[callee] = true;
            }
        }
    }
    for (si, s) in cx.topo.service_ids() {
        if s.is_entry_point() || called[si] {
            continue;
        }
        // A misspelt or unreadable `entry-point` is already reported.
        if dropped.setting(s.span, "entry-point") {
            continue;
        }
        // A duplicate declaration (E302) is not what calls resolve to.
        if cx.index.service_named(&s.namespace.value, &s.name.value) != Some(si) {
            continue;
        }
        diags.push(
            Diagnostic::new(
                &CODE,
                s.name.span,
                format!("no service calls `{}`", shown(&s.name.value)),
            )
            .label("never called")
            .help(format!(
                "add `calls {}` to its callers, mark it `entry-point #true` if traffic comes from outside the mesh, or remove it",
                shown(&s.name.value)
            )),
        );
    }
}
