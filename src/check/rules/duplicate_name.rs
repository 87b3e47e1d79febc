//! E302: two declarations with one name in one scope.

use std::borrow::Cow;

use crate::check::names::Position;
use crate::check::{Context, Names, Rule};
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

/// Reports every name seen before, in order, against its first
/// declaration. A name is (scope, head): services' qualified names split as
/// `Qualified` does; the other kinds have one scope.
fn report<'t>(kind: &str, items: impl Iterator<Item = (Qualified<'t>, Span)>, diags: &mut Vec<Diagnostic>) {
    let mut first: Names<Position> = Names::default();
    let mut spans: Vec<Span> = Vec::new();
    for (name, span) in items {
        if let Some(Position(i)) = first.get_in(&name.tail, name.head) {
            diags.push(
                Diagnostic::new(&CODE, span, format!("{kind} `{name}` is declared twice"))
                    .label("declared again here")
                    .with_secondary(spans[i], "first declared here")
                    .help(format!(
                        "rename one of them, or merge the two {kind} declarations"
                    )),
            );
        } else {
            first.insert_in(&name.tail, name.head, Position(spans.len()));
            spans.push(span);
        }
    }
}

/// A name of one global scope: its own display.
fn global<'t>(name: &'t str) -> Qualified<'t> {
    Qualified {
        head: name,
        tail: Cow::Borrowed(""),
        qualified: false,
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Qualified<'t> {
    head: &'t str,
    tail: Cow<'t, str>,
    /// Shown as `head.tail` (a service), or as `head` alone.
    qualified: bool,
}

impl<'t> Qualified<'t> {
    fn new(name: &'t str, namespace: &'t str) -> Self {
        match name.split_once('.') {
            None => Qualified {
                head: name,
                tail: Cow::Borrowed(namespace),
                qualified: true,
            },
            Some((head, rest)) => Qualified {
                head,
                tail: Cow::Owned(format!("{rest}.{namespace}")),
                qualified: true,
            },
        }
    }
}

impl std::fmt::Display for Qualified<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.qualified {
            true => write!(f, "{}.{}", self.head, self.tail),
            false => f.write_str(self.head),
        }
    }
}

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    report(
        "network",
        t.networks.iter().map(|n| (global(&n.name.value), n.name.span)),
        diags,
    );
    report(
        "cluster",
        t.clusters.iter().map(|n| (global(&n.name.value), n.name.span)),
        diags,
    );
    report(
        "VM",
        t.vms.iter().map(|n| (global(&n.name.value), n.name.span)),
        diags,
    );
    report(
        "namespace",
        t.namespaces.iter().map(|n| (global(&n.name.value), n.name.span)),
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
