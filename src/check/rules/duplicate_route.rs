//! E707: two routes to the same version.

use std::collections::BTreeMap;

use super::lexical::shown;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;
use crate::source::Span;

declare_code! {
    /// A service has two routes to the same version.
    ///
    /// Each version gets one share of the traffic. Two routes to one
    /// version make two destinations with one subset, which reads like a
    /// split but is not one; usually the second route was meant for
    /// another version.
    ///
    /// ```kdl
    /// service reviews {
    ///     port http 9080
    ///     deploy v1 v2 cluster=prod
    ///     route v1 weight=50
    ///     route v1 weight=50     // E707: meant v2?
    /// }
    /// ```
    pub static CODE = "E707", Error, "duplicate-route", "two routes send traffic to the same version";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    for s in &cx.topo.services {
        let mut first: BTreeMap<&str, Span> = BTreeMap::new();
        for r in &s.routes {
            match first.get(r.version.value.as_str()) {
                Some(&earlier) => diags.push(
                    Diagnostic::new(
                        &CODE,
                        r.version.span,
                        format!(
                            "`{}` has two routes to version `{}`",
                            shown(&s.name.value),
                            shown(&r.version.value)
                        ),
                    )
                    .label("second route to this version")
                    .with_secondary(earlier, "first route to it")
                    .help("merge them into one route with the combined weight, or point this one at the version you meant"),
                ),
                None => {
                    first.insert(&r.version.value, r.version.span);
                }
            }
        }
    }
}
