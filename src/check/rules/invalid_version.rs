//! E403: a version that cannot name a DestinationRule subset.

use std::collections::BTreeSet;

use super::lexical::{Class, check_name};
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// A version is not a DNS-1123 label.
    ///
    /// A version is the `version` label (and
    /// `service.istio.io/canonical-revision`) of its workloads, and it
    /// names the DestinationRule subset that routes select. Label values
    /// alone would allow `V1`, `v1.2` or `v1_2`, but Istio's validation
    /// rejects a subset whose name is not a DNS-1123 label ("subset name
    /// is invalid"), so a version must be one: 1 to 63 lower-case letters,
    /// digits and `-`, starting and ending with a letter or digit.
    ///
    /// ```kdl
    /// service reviews {
    ///     port http 9080
    ///     deploy v1.2 cluster=prod     // E403: try `v1-2`
    /// }
    /// ```
    pub static CODE = "E403", Error, "invalid-version", "a version is not a DNS-1123 label";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    // One set, emptied per service (its nodes reused).
    let mut seen = BTreeSet::new();
    for s in &cx.topo.services {
        // One report per version of a service, where it is first deployed.
        seen.clear();
        for v in s.deployments.iter().flat_map(|d| &d.versions) {
            // Only a version that is reported needs remembering: a valid
            // one is never reported, so it costs no set.
            if !Class::DnsLabel.accepts(&v.value) && seen.insert(v.value.as_str()) {
                diags.extend(check_name(
                    &CODE,
                    Class::DnsLabel,
                    "version",
                    v,
                    "a version names a DestinationRule subset, which Istio requires to be a DNS-1123 label",
                ));
            }
        }
    }
}
