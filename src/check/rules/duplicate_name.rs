//! E302: two declarations with one name in one scope.

use std::collections::BTreeMap;

use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;
use crate::source::Span;

declare_code! {
    /// Two declarations share a name in one scope.
    ///
    /// Networks, clusters, VMs and namespaces each have one global scope;
    /// services are scoped by namespace. A second declaration with the same
    /// name would silently shadow the first, and the generated objects
    /// would overwrite each other in the cluster.
    ///
    /// ```kdl
    /// vm db { address "10.0.0.5"; network vpc }
    /// vm db { address "10.0.0.6"; network vpc }   // E302
    /// ```
    pub static CODE = "E302", Error, "duplicate-name", "two declarations share a name in one scope";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn report(kind: &str, items: impl Iterator<Item = (String, Span)>, diags: &mut Vec<Diagnostic>) {
    let mut first: BTreeMap<String, Span> = BTreeMap::new();
    for (name, span) in items {
        match first.get(&name) {
            Some(&original) => diags.push(
                Diagnostic::new(&CODE, span, format!("{kind} `{name}` is declared twice"))
                    .label("declared again here")
                    .with_secondary(original, "first declared here")
                    .help(format!(
                        "rename one of them, or merge the two {kind} declarations"
                    )),
            ),
            None => {
                first.insert(name, span);
            }
        }
    }
}

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    report(
        "network",
        t.networks.iter().map(|n| (n.name.value.clone(), n.name.span)),
        diags,
    );
    report(
        "cluster",
        t.clusters.iter().map(|n| (n.name.value.clone(), n.name.span)),
        diags,
    );
    report(
        "VM",
        t.vms.iter().map(|n| (n.name.value.clone(), n.name.span)),
        diags,
    );
    report(
        "namespace",
        t.namespaces.iter().map(|n| (n.name.value.clone(), n.name.span)),
        diags,
    );
    report(
        "service",
        t.services
            .iter()
            .map(|s| (format!("{}.{}", s.name.value, s.namespace.value), s.name.span)),
        diags,
    );
}
