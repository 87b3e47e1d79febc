//! E601: two ports of one service with the same number or name.

use super::first_seen::FirstSeen;

use super::lexical::shown;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// Two ports of one service have the same number or the same name.
    ///
    /// Kubernetes refuses a Service with two ports of one number or name,
    /// and Istio keys WorkloadEntry ports by name, so the second port would
    /// either break the apply or silently replace the first.
    ///
    /// ```kdl
    /// service web {
    ///     port http 8080
    ///     port http-alt 8080     // E601: 8080 again
    /// }
    /// ```
    pub static CODE = "E601", Error, "duplicate-port", "two ports of a service share a number or a name";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    // Two tables, emptied per service: no fresh memory for each of
    // thousands of services.
    let mut numbers: FirstSeen<u16> = FirstSeen::default();
    let mut names: FirstSeen<&str> = FirstSeen::default();
    for s in &cx.topo.services {
        numbers.clear();
        names.clear();
        for p in &s.ports {
            if let Some(first) = numbers.first(p.number.value, p.number.span) {
                diags.push(
                    Diagnostic::new(
                        &CODE,
                        p.number.span,
                        format!(
                            "service `{}` has two ports numbered {}",
                            shown(&s.name.value),
                            p.number.value
                        ),
                    )
                    .label("number used again")
                    .with_secondary(first, "first used here")
                    .help("give each port its own number; one port can serve only one protocol"),
                );
            }
            if let Some(first) = names.first(p.name.value.as_str(), p.name.span) {
                diags.push(
                    Diagnostic::new(
                        &CODE,
                        p.name.span,
                        format!(
                            "service `{}` has two ports named `{}`",
                            shown(&s.name.value),
                            shown(&p.name.value)
                        ),
                    )
                    .label("name used again")
                    .with_secondary(first, "first used here")
                    .help("give each port its own name, e.g. `http` and `http-admin`"),
                );
            }
        }
    }
}
