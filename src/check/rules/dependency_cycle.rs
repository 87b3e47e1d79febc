//! W901: services that call each other in a cycle.

use crate::check::ServiceId;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use petgraph::algo::TarjanScc;
use petgraph::graph::NodeIndex;
use petgraph::visit::{EdgeFiltered, EdgeRef};

use super::lexical::shown;
use crate::check::graph::{EdgeKind, NodeKind};
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;
use crate::source::Span;

declare_code! {
    /// Services call each other in a cycle.
    ///
    /// A cycle in `calls` (`a` calls `b`, `b` calls `c`, `c` calls `a`)
    /// means none of them can start serving before the others, a failure
    /// in one cascades around the loop, and retries multiply at every hop.
    /// It is often legitimate (callbacks, a service calling itself), so
    /// this is a warning. The whole cycle is printed, starting from the
    /// service declared first (a cycle of more than 16 services is
    /// abridged in the middle); when several cycles are tangled together,
    /// the shortest through that service is shown and the others in the
    /// tangle are named.
    ///
    /// ```kdl
    /// service a { port http 80; deploy v1 cluster=prod; calls b }
    /// service b { port http 80; deploy v1 cluster=prod; calls a }   // W901: a → b → a
    /// ```
    pub static CODE = "W901", Warning, "dependency-cycle", "services call each other in a cycle";
}

pub static RULE: Rule = Rule { code: &CODE, run };

/// The shortest cycle through `start` using only `succ` edges among
/// `members`, as the list of nodes from `start` back to just before
/// `start`. Breadth-first, visiting successors in the order given, so the
/// answer is deterministic.
pub fn shortest_cycle<N: Copy + Ord>(
    start: N,
    members: &BTreeSet<N>,
    succ: impl Fn(N) -> Vec<N>,
) -> Option<Vec<N>> {
    let mut parent: BTreeMap<N, N> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        for m in succ(n) {
            if !members.contains(&m) {
                continue;
            }
            if m == start {
                let mut path = vec![n];
                let mut at = n;
                while at != start {
                    at = *parent.get(&at)?;
                    path.push(at);
                }
                path.reverse();
                return Some(path);
            }
            if let std::collections::btree_map::Entry::Vacant(e) = parent.entry(m) {
                e.insert(n);
                queue.push_back(m);
            }
        }
    }
    None
}

/// Cycles longer than this are shown by their first `HEAD` and last
/// `TAIL` services, so a pathological topology cannot produce a message
/// thousands of names long.
const LONGEST_SHOWN: usize = 16;
const HEAD: usize = 12;
const TAIL: usize = 3;
/// Secondary labels, one per further call in the cycle, are capped too:
/// rendering each costs a pass over the source.
const MAX_LABELS: usize = 8;

/// `a → b → c → a`; a very long cycle as `a → … (N more) → z → a`.
pub fn format_cycle(names: &[String]) -> String {
    let mut parts: Vec<String> = if names.len() > LONGEST_SHOWN {
        let mut p: Vec<String> = names[..HEAD].to_vec();
        p.push(format!("… ({} more)", names.len() - HEAD - TAIL));
        p.extend_from_slice(&names[names.len() - TAIL..]);
        p
    } else {
        names.to_vec()
    };
    if let Some(first) = names.first() {
        parts.push(first.clone());
    }
    parts.join(" → ")
}

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let g = &cx.graph.graph;
    let calls = EdgeFiltered::from_fn(g, |e| e.weight().kind == EdgeKind::Calls);
    let service = |n: NodeIndex| match g[n] {
        NodeKind::Service(s) => Some(s),
        _ => None,
    };
    // Successors of a service in `calls` order, as service indices.
    let succ = |s: ServiceId| -> Vec<ServiceId> {
        let mut out: Vec<(Span, ServiceId)> = g
            .edges(cx.graph.services[s])
            .filter(|e| e.weight().kind == EdgeKind::Calls)
            .filter_map(|e| service(e.target()).map(|t| (e.weight().span, t)))
            .collect();
        out.sort();
        out.into_iter().map(|(_, t)| t).collect()
    };
    let call_span = |a: ServiceId, b: ServiceId| {
        g.edges_connecting(cx.graph.services[a], cx.graph.services[b])
            .filter(|e| e.weight().kind == EdgeKind::Calls)
            .map(|e| e.weight().span)
            .min()
    };
    let mut found: Vec<(ServiceId, Vec<ServiceId>, BTreeSet<ServiceId>)> = Vec::new();
    // Each component is handed over as a borrowed slice, not collected
    // into a vector of its own: nearly every node of a mesh is a component
    // of one (a workload, a host, a service in no cycle), and a vector and
    // a set per node were most of this rule's cost.
    TarjanScc::new().run(&calls, |scc| {
        if let [n] = scc {
            // One node: a cycle only if it is a service that calls itself.
            match service(*n) {
                Some(s) if call_span(s, s).is_some() => {}
                _ => return,
            }
        }
        let members: BTreeSet<ServiceId> = scc.iter().filter_map(|&n| service(n)).collect();
        let Some(&start) = members.first() else { return };
        if members.len() == 1 && call_span(start, start).is_none() {
            return;
        }
        if let Some(cycle) = shortest_cycle(start, &members, succ) {
            found.push((start, cycle, members));
        }
    });
    found.sort_by_key(|(start, _, _)| *start);
    for (_, cycle, members) in found {
        let services = &cx.topo.services;
        let qualify = cycle
            .iter()
            .any(|&s| services[s].namespace.value != services[cycle[0]].namespace.value);
        let name = |s: ServiceId| {
            let sv = &services[s];
            if qualify {
                format!("{}.{}", shown(&sv.name.value), shown(&sv.namespace.value))
            } else {
                shown(&sv.name.value)
            }
        };
        let names: Vec<String> = cycle.iter().map(|&s| name(s)).collect();
        let hops: Vec<(ServiceId, ServiceId)> = cycle
            .iter()
            .zip(cycle.iter().cycle().skip(1))
            .map(|(&a, &b)| (a, b))
            .collect();
        let Some(first) = hops.first().and_then(|&(a, b)| call_span(a, b)) else {
            continue;
        };
        let mut message = format!("dependency cycle: {}", format_cycle(&names));
        let outside: Vec<String> = members
            .iter()
            .filter(|s| !cycle.contains(s))
            .map(|&s| name(s))
            .collect();
        if !outside.is_empty() {
            let shown_names: Vec<&str> = outside.iter().take(5).map(String::as_str).collect();
            let more = outside.len().saturating_sub(5);
            message.push_str(&format!(
                " (tangled with {}{})",
                shown_names.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ));
        }
        let mut d = Diagnostic::new(&CODE, first, message).label(format!(
            "`{}` calls `{}`",
            names[0],
            name(hops[0].1)
        ));
        for &(a, b) in hops.iter().skip(1).take(MAX_LABELS) {
            if let Some(span) = call_span(a, b) {
                d = d.with_secondary(span, format!("`{}` calls `{}`", name(a), name(b)));
            }
        }
        diags.push(d.help(
            "if the loop is not intended, remove one of these calls; a cycle couples the services' startup and failures",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(u32, u32)]) -> impl Fn(u32) -> Vec<u32> + '_ {
        move |n| edges.iter().filter(|(a, _)| *a == n).map(|(_, b)| *b).collect()
    }

    #[test]
    fn finds_the_shortest_cycle_through_the_start() {
        // 0 → 1 → 2 → 0 and the shortcut 0 → 3 → 0.
        let edges = [(0, 1), (1, 2), (2, 0), (0, 3), (3, 0)];
        let members = BTreeSet::from([0, 1, 2, 3]);
        assert_eq!(shortest_cycle(0, &members, graph(&edges)), Some(vec![0, 3]));
        let edges = [(0, 1), (1, 2), (2, 0)];
        assert_eq!(
            shortest_cycle(0, &BTreeSet::from([0, 1, 2]), graph(&edges)),
            Some(vec![0, 1, 2])
        );
    }

    #[test]
    fn a_self_call_is_a_cycle_of_one() {
        let edges = [(7, 7)];
        assert_eq!(
            shortest_cycle(7, &BTreeSet::from([7]), graph(&edges)),
            Some(vec![7])
        );
        assert_eq!(shortest_cycle(7, &BTreeSet::from([7]), graph(&[])), None);
    }

    #[test]
    fn edges_leaving_the_component_are_ignored() {
        let edges = [(0, 5), (5, 0), (0, 1), (1, 0)];
        assert_eq!(
            shortest_cycle(0, &BTreeSet::from([0, 1]), graph(&edges)),
            Some(vec![0, 1])
        );
    }

    #[test]
    fn cycles_print_back_to_their_start() {
        let names = ["a", "b", "c"].map(String::from);
        assert_eq!(format_cycle(&names), "a → b → c → a");
        assert_eq!(format_cycle(&["a".to_owned()]), "a → a");
        assert_eq!(format_cycle(&[]), "");
        let long: Vec<String> = (0..20).map(|i| format!("s{i}")).collect();
        assert_eq!(
            format_cycle(&long),
            "s0 → s1 → s2 → s3 → s4 → s5 → s6 → s7 → s8 → s9 → s10 → s11 → … (5 more) → s17 → s18 → s19 → s0"
        );
        let sixteen: Vec<String> = (0..16).map(|i| format!("s{i}")).collect();
        assert_eq!(format_cycle(&sixteen).matches('→').count(), 16);
    }
}
