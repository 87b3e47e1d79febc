//! E706: route weights that do not add up to 100.

use super::lexical::shown;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// A service's route weights do not add up to 100, or some of several
    /// routes have no weight.
    ///
    /// Weights are percentages of the service's traffic. A single route
    /// without a weight takes all of it; with several routes, each needs
    /// `weight=` and together they must make 100, or Istio rejects the
    /// VirtualService (or, in old releases, silently rescales it). A weight
    /// of 0 is allowed: it keeps a version deployed but drained.
    ///
    /// ```kdl
    /// service reviews {
    ///     port http 9080
    ///     deploy v1 v2 cluster=prod
    ///     route v1 weight=80
    ///     route v2 weight=10      // E706: 80 + 10 = 90
    /// }
    /// ```
    pub static CODE = "E706", Error, "route-weights", "route weights do not add up to 100";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    for s in &cx.topo.services {
        // Made only for a message: most services have nothing to report.
        let name = || shown(&s.name.value);
        // A weight or route that could not be read is already reported.
        let dropped = &cx.topo.dropped;
        if s.routes.is_empty()
            || dropped.setting(s.span, "route")
            || s.routes.iter().any(|r| dropped.setting(r.span, "weight"))
        {
            continue;
        }
        // Two routes to one version are E707's finding; their weights
        // cannot be judged until one of them goes.
        let mut versions: Vec<&str> = s.routes.iter().map(|r| r.version.value.as_str()).collect();
        versions.sort_unstable();
        if versions.windows(2).any(|pair| pair[0] == pair[1]) {
            continue;
        }
        if let [only] = s.routes.as_slice() {
            if let Some(w) = only.weight.as_ref().filter(|w| w.value != 100) {
                diags.push(
                    Diagnostic::new(
                        &CODE,
                        w.span,
                        format!("the only route of `{}` has weight {}, not 100", name(), w.value),
                    )
                    .label("the only route")
                    .help(format!(
                        "a single route takes all traffic: drop `weight`, or add routes for the other {}%",
                        100 - w.value.min(100)
                    )),
                );
            }
            continue;
        }
        let missing: Vec<_> = s.routes.iter().filter(|r| r.weight.is_none()).collect();
        if let Some((m, rest)) = missing.split_first() {
            let mut d = Diagnostic::new(
                &CODE,
                m.version.span,
                format!(
                    "`{}` has {} routes, but the one to `{}` has no weight",
                    name(),
                    s.routes.len(),
                    shown(&m.version.value)
                ),
            )
            .label("no `weight`");
            for r in rest {
                d = d.with_secondary(r.version.span, "no `weight` either");
            }
            diags.push(d.help("with several routes, give each a `weight=` so that they add up to 100"));
            continue;
        }
        let total: u32 = s
            .routes
            .iter()
            .filter_map(|r| r.weight.as_ref())
            .map(|w| w.value)
            .sum();
        if total == 100 {
            continue;
        }
        let parts: Vec<String> = s
            .routes
            .iter()
            .filter_map(|r| r.weight.as_ref())
            .map(|w| w.value.to_string())
            .collect();
        let weights: Vec<_> = s.routes.iter().filter_map(|r| r.weight.as_ref()).collect();
        let Some((first, rest)) = weights.split_first() else {
            continue;
        };
        let mut d = Diagnostic::new(
            &CODE,
            first.span,
            format!(
                "the route weights of `{}` add up to {total}, not 100 ({})",
                name(),
                parts.join(" + ")
            ),
        )
        .label(format!("{}%, of {total}% in all", first.value));
        for w in rest {
            d = d.with_secondary(w.span, format!("{}%", w.value));
        }
        let fix = if total < 100 {
            format!("{} short", 100 - total)
        } else {
            format!("{} over", total - 100)
        };
        diags.push(d.help(format!("change the weights so that they add up to 100 ({fix})")));
    }
}
