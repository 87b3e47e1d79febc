//! E705: a route to a version no `deploy` provides.

use std::collections::BTreeSet;

use super::lexical::shown;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::{Diagnostic, edit_distance, suggest};

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
        // A `deploy` that could not be read may provide the version.
        if s.routes.is_empty() || cx.topo.dropped.setting(s.span, "deploy") {
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
            let guess = misspelt(&r.version.value, unrouted)
                .or_else(|| misspelt(&r.version.value, deployed.iter().copied()));
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

/// The one deployed version `word` is a misspelling of, if there is one:
/// the closest name within `suggest`'s distance, when no other is as close.
/// Versions that differ only in their numbers (`v3` and `v1`, `1-24` and
/// `1-23`) are different versions, not typos: suggesting one would send the
/// user to an arbitrary version.
fn misspelt<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let skeleton = |s: &str| -> String {
        let mut out = String::new();
        for c in s.chars() {
            if !c.is_ascii_digit() {
                out.push(c);
            } else if !out.ends_with('#') {
                out.push('#');
            }
        }
        out
    };
    let own = skeleton(word);
    let close: Vec<&str> = candidates
        .filter(|c| skeleton(c) != own)
        .filter(|c| suggest(word, [*c]).is_some())
        .collect();
    let best = close.iter().map(|c| edit_distance(word, c)).min()?;
    match close
        .iter()
        .filter(|c| edit_distance(word, c) == best)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [only] => Some(only),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::misspelt;

    #[test]
    fn suggests_only_a_unique_misspelling() {
        let deployed = ["v1", "v2", "v2-canary"];
        let guess = |w: &str| misspelt(w, deployed.iter().copied());
        // Another number is another version, not a typo.
        assert_eq!(guess("v3"), None);
        assert_eq!(guess("v12"), None);
        assert_eq!(guess("V2"), Some("v2"));
        assert_eq!(guess("v2-canry"), Some("v2-canary"));
        assert_eq!(guess("prod"), None);
        // Two names equally close: neither.
        assert_eq!(misspelt("vx", ["va", "vb"].iter().copied()), None);
    }
}
