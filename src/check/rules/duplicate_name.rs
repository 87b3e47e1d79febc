//! E302: two declarations with one name in one scope.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

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

fn report<K: Ord + std::fmt::Display>(
    kind: &str,
    items: impl Iterator<Item = (K, Span)>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut first: BTreeMap<K, Span> = BTreeMap::new();
    for (name, span) in items {
        match first.entry(name) {
            Entry::Occupied(original) => diags.push(
                Diagnostic::new(
                    &CODE,
                    span,
                    format!("{kind} `{}` is declared twice", original.key()),
                )
                .label("declared again here")
                .with_secondary(*original.get(), "first declared here")
                .help(format!(
                    "rename one of them, or merge the two {kind} declarations"
                )),
            ),
            Entry::Vacant(e) => {
                e.insert(span);
            }
        }
    }
}

/// A service's scoped name, `name.namespace`, as a key equal exactly when
/// the joined strings are equal (`a.b` in namespace `c` is the same as `a`
/// in namespace `b.c`) without joining them: the joined string split at
/// its first `.`. That is `(name, namespace)` unless the name has a `.`,
/// which a valid name never has.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Qualified<'t> {
    head: &'t str,
    tail: Cow<'t, str>,
}

impl<'t> Qualified<'t> {
    fn new(name: &'t str, namespace: &'t str) -> Self {
        match name.split_once('.') {
            None => Qualified {
                head: name,
                tail: Cow::Borrowed(namespace),
            },
            Some((head, rest)) => Qualified {
                head,
                tail: Cow::Owned(format!("{rest}.{namespace}")),
            },
        }
    }
}

impl std::fmt::Display for Qualified<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.head, self.tail)
    }
}

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    report(
        "network",
        t.networks.iter().map(|n| (n.name.value.as_str(), n.name.span)),
        diags,
    );
    report(
        "cluster",
        t.clusters.iter().map(|n| (n.name.value.as_str(), n.name.span)),
        diags,
    );
    report(
        "VM",
        t.vms.iter().map(|n| (n.name.value.as_str(), n.name.span)),
        diags,
    );
    report(
        "namespace",
        t.namespaces.iter().map(|n| (n.name.value.as_str(), n.name.span)),
        diags,
    );
    report(
        "service",
        t.services.iter().map(|s| {
            let name = Qualified::new(&s.name.value, &s.namespace.value);
            (name, s.name.span)
        }),
        diags,
    );
}

#[cfg(test)]
mod tests {
    use super::Qualified;

    /// `Qualified` keys are equal exactly when the joined `name.namespace`
    /// strings are, and print as them.
    #[test]
    fn qualified_names_compare_as_joined_strings() {
        let parts = ["", "a", "a.b", "a-b", "b", "b.c", "ab", "a.", ".b", "c", "b.c.d"];
        let mut names = Vec::new();
        for name in parts {
            for namespace in parts {
                names.push((Qualified::new(name, namespace), format!("{name}.{namespace}")));
            }
        }
        for (x, joined_x) in &names {
            assert_eq!(&x.to_string(), joined_x);
            for (y, joined_y) in &names {
                assert_eq!(x == y, joined_x == joined_y, "`{joined_x}` vs `{joined_y}`");
            }
        }
        assert!(Qualified::new("a.b", "c") == Qualified::new("a", "b.c"));
    }
}
