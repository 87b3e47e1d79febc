//! W905: a deployed version that no route sends traffic to.

use std::collections::BTreeSet;

use super::lexical::shown;
use crate::check::graph::{EdgeKind, NodeKind};
use crate::check::{Context, Rule, WorkloadId};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// A service splits its traffic over several routes, but a deployed
    /// version is in none of them.
    ///
    /// Routes decide where all of a service's traffic goes. When they split
    /// it (`route v1 weight=90` / `route v2 weight=10`), a deployed version
    /// left out of the split receives nothing while still costing its
    /// Deployment or VM; usually it was forgotten when the split was
    /// written. If it is deliberate (a drained version kept for rollback),
    /// say so with `route VERSION weight=0`.
    ///
    /// A single route (`route v2`) is not checked: it says in so many words
    /// that all traffic goes to one version, the usual way to cut over
    /// while keeping the old version for a rollback. Services without
    /// routes spread traffic over every version and are not checked either.
    ///
    /// ```kdl
    /// service reviews {
    ///     port http 9080
    ///     deploy v1 v2 v3 cluster=prod   // W905 on v3
    ///     route v1 weight=90
    ///     route v2 weight=10
    /// }
    /// ```
    pub static CODE = "W905", Warning, "unreachable-version", "a deployed version is left out of a traffic split";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let (g, ix) = (cx.graph, cx.index);
    for (si, s) in cx.topo.service_ids() {
        // No routes: every version gets traffic. One route: an explicit
        // cut-over to that version.
        if s.routes.len() < 2 || cx.topo.dropped.setting(s.span, "route") {
            continue;
        }
        // The workloads a route sends traffic to: every workload of the
        // routed version (a route to an undeployed version reaches none,
        // E304's finding).
        let routed: BTreeSet<WorkloadId> = g
            .out_edges(NodeKind::Service(si), EdgeKind::RoutesTo)
            .iter()
            .filter_map(|(n, _)| match n {
                NodeKind::Workload(w) => Some(*w),
                _ => None,
            })
            .collect();
        let mut seen = BTreeSet::new();
        for w in g.workloads_of(si) {
            let workload = &ix.workloads[w];
            if routed.contains(&w) || !seen.insert(workload.version.as_str()) {
                continue;
            }
            let v = &workload.version;
            diags.push(
                Diagnostic::new(
                    &CODE,
                    workload.span,
                    format!(
                        "version `{}` of `{}` is deployed, but the routes split traffic without it",
                        shown(v),
                        shown(&s.name.value)
                    ),
                )
                .label("no route reaches this version")
                .with_secondary(s.routes[0].span, "the split starts here")
                .help(format!(
                    "route to it (`route {} weight=N`), say it is drained on purpose (`route {} weight=0`), or stop deploying it",
                    shown(v),
                    shown(v)
                )),
            );
        }
    }
}
