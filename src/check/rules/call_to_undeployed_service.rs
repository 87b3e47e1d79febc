//! E704: a called service that runs nowhere.

use std::collections::BTreeMap;

use super::lexical::shown;
use crate::check::ServiceId;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;
use crate::source::Span;

declare_code! {
    /// A service is called, but no `deploy` places it anywhere.
    ///
    /// meshc would emit a Service (and routing, and policies allowing the
    /// callers) for it, but with no workload behind it every call fails
    /// with "no healthy upstream". Usually the `deploy` line was forgotten,
    /// or the caller means another service.
    ///
    /// ```kdl
    /// service web { port http 80; deploy v1 cluster=prod; calls cache }
    /// service cache { port tcp 6379 }      // E704: no `deploy`
    /// ```
    pub static CODE = "E704", Error, "call-to-undeployed-service", "a called service runs nowhere";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let (t, ix) = (cx.topo, cx.index);
    // callee → (first call site, number of callers).
    let mut called: BTreeMap<ServiceId, (Span, usize)> = BTreeMap::new();
    for (s, targets) in t.services.iter().zip(&ix.call_targets) {
        let mut seen = std::collections::BTreeSet::new();
        for (call, target) in s.calls.iter().zip(targets) {
            let Some(b) = *target else {
                continue;
            };
            // A `deploy` whose target is unknown still places the service
            // (E301 reports the target).
            if !t.services[b].deployments.is_empty() || !seen.insert(b) {
                continue;
            }
            called.entry(b).and_modify(|c| c.1 += 1).or_insert((call.span, 1));
        }
    }
    for (b, (first, n)) in called {
        let s = &t.services[b];
        let callers = match n {
            1 => "it is called".to_owned(),
            n => format!("{n} services call it"),
        };
        diags.push(
            Diagnostic::new(
                &CODE,
                s.name.span,
                format!("service `{}` runs nowhere, but {callers}", shown(&s.name.value)),
            )
            .label("no `deploy` in this service")
            .with_secondary(first, "called here")
            .help(format!(
                "add `deploy VERSION cluster=NAME` or `deploy VERSION vm=NAME` to `{}`, or remove the calls",
                shown(&s.name.value)
            )),
        );
    }
}
