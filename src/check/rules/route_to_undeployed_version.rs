//! E705: a route to a version no `deploy` provides.

use std::collections::BTreeSet;

use super::lexical::shown;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::{Diagnostic, suggest};

declare_code! {
    /// A `route` sends traffic to a version that no `deploy` of the service
    /// provides.
    ///
    /// Routes become a VirtualService whose destinations are the
    /// DestinationRule subsets of the deployed versions. A route to a
    /// version that is not deployed points at an empty subset, and that
    /// share of the traffic fails with 503s.
    ///
    /// ```kdl
    /// service reviews {
    ///     port http 9080
    ///     deploy v1 v2 cluster=prod
    ///     route v1 weight=90
    ///     route v3 weight=10     // E705: v3 is not deployed
    /// }
    /// ```
    pub static CODE = "E705", Error, "route-to-undeployed-version", "a route names a version that is not deployed";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    for s in &cx.topo.services {
        if s.routes.is_empty() {
            continue;
        }
        // Versions as written, whether or not their target resolved (an
        // unknown target is E301's finding, not a missing version).
        let deployed: BTreeSet<&str> = s
            .deployments
            .iter()
            .flat_map(|d| &d.versions)
            .map(|v| v.value.as_str())
            .collect();
        let routed: BTreeSet<&str> = s.routes.iter().map(|r| r.version.value.as_str()).collect();
        for r in &s.routes {
            if deployed.contains(r.version.value.as_str()) {
                continue;
            }
            // A version no route names yet is the likelier meaning.
            let unrouted = deployed.iter().copied().filter(|v| !routed.contains(v));
            let guess = suggest(&r.version.value, unrouted)
                .or_else(|| suggest(&r.version.value, deployed.iter().copied()));
            let help = match guess {
                Some(v) => format!("did you mean `{v}`?"),
                None if deployed.is_empty() => format!(
                    "deploy `{}` first: `deploy {} cluster=NAME`",
                    shown(&r.version.value),
                    shown(&r.version.value)
                ),
                None => format!(
                    "deployed versions of `{}`: {}",
                    shown(&s.name.value),
                    deployed.iter().map(|v| shown(v)).collect::<Vec<_>>().join(", ")
                ),
            };
            diags.push(
                Diagnostic::new(
                    &CODE,
                    r.version.span,
                    format!(
                        "route to version `{}` of `{}`, which is not deployed",
                        shown(&r.version.value),
                        shown(&s.name.value)
                    ),
                )
                .label("no `deploy` provides this version")
                .help(help),
            );
        }
    }
}
