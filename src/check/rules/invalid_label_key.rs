//! E405: a label key Kubernetes would refuse.

use super::lexical::{Class, check_name};
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// A label key is not a valid Kubernetes label key.
    ///
    /// A key is `name` or `prefix/name`. The name is at most 63 letters,
    /// digits, `-`, `_` and `.`, starting and ending with a letter or
    /// digit; the prefix is a lower-case DNS subdomain such as
    /// `example.com`. Keys are copied onto Kubernetes objects and into the
    /// VM's `ISTIO_METAJSON_LABELS`, so nothing outside that charset may
    /// reach them.
    ///
    /// ```kdl
    /// vm db { address "10.0.0.5"; network vpc; labels { "team name" "core" } }   // E405
    /// ```
    pub static CODE = "E405", Error, "invalid-label-key", "a label key is not a valid Kubernetes label key";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    let keys = t
        .vms
        .iter()
        .flat_map(|v| &v.labels.0)
        .chain(t.namespaces.iter().flat_map(|n| &n.labels.0))
        .map(|(k, _)| k);
    for key in keys {
        diags.extend(check_name(
            &CODE,
            Class::LabelKey,
            "label key",
            key,
            "labels are copied onto Kubernetes objects",
        ));
    }
}
