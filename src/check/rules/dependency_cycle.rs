//! W901: services that call each other in a cycle.

use crate::check::{Id, IdVec, ServiceId};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;

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

/// The strongly connected components of the services under `calls` (per
/// service, the services it calls), each handed to `each` as a slice in no
/// particular order. Tarjan's algorithm with an explicit stack, so a long
/// chain of calls cannot exhaust the thread's stack.
pub fn components(calls: &IdVec<ServiceId, Vec<ServiceId>>, mut each: impl FnMut(&[ServiceId])) {
    /// Per service, its discovery number and the lowest one it reaches
    /// (`UNSEEN` before it is discovered), and whether it is on `stack`.
    struct Walk {
        order: Vec<u32>,
        low: Vec<u32>,
        on_stack: Vec<bool>,
        stack: Vec<ServiceId>,
        next: u32,
    }
    const UNSEEN: u32 = u32::MAX;
    impl Walk {
        fn discover(&mut self, s: ServiceId) {
            self.order[s.index()] = self.next;
            self.low[s.index()] = self.next;
            self.next += 1;
            self.stack.push(s);
            self.on_stack[s.index()] = true;
        }
    }
    let n = calls.len();
    let mut w = Walk {
        order: vec![UNSEEN; n],
        low: vec![UNSEEN; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
    };
    // The depth-first path: each service with how many of its calls were followed.
    let mut path: Vec<(ServiceId, usize)> = Vec::new();
    for root in (0..n).map(ServiceId::new) {
        if w.order[root.index()] != UNSEEN {
            continue;
        }
        w.discover(root);
        path.push((root, 0));
        while let Some(&mut (s, ref mut followed)) = path.last_mut() {
            if let Some(&t) = calls[s].get(*followed) {
                *followed += 1;
                if w.order[t.index()] == UNSEEN {
                    w.discover(t);
                    path.push((t, 0));
                } else if w.on_stack[t.index()] {
                    w.low[s.index()] = w.low[s.index()].min(w.order[t.index()]);
                }
                continue;
            }
            path.pop();
            if let Some(&(parent, _)) = path.last() {
                w.low[parent.index()] = w.low[parent.index()].min(w.low[s.index()]);
            }
            if w.low[s.index()] == w.order[s.index()] {
                let at = w.stack.iter().rposition(|&m| m == s).unwrap_or(0);
                for m in &w.stack[at..] {
                    w.on_stack[m.index()] = false;
                }
                each(&w.stack[at..]);
                w.stack.truncate(at);
            }
        }
    }
}

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let g = &cx.graph.graph;
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
    // The components of the services' resolved calls (the graph's calls
    // edges, each pair once), not of the whole graph: a walk of every node
    // and edge of the mesh graph, filtered down to calls, was most of this
    // rule's cost, and at 20k services mostly cache misses. Each component
    // is a borrowed slice: nearly every service is a component of one.
    let calls = &cx.index.calls;
    components(calls, |scc| {
        // One service: a cycle only if it calls itself.
        if let [s] = scc
            && !calls[*s].contains(s)
        {
            return;
        }
        let members: BTreeSet<ServiceId> = scc.iter().copied().collect();
        let Some(&start) = members.first() else { return };
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

    /// The components of `calls`, each sorted, the list sorted.
    fn sorted_components(calls: &IdVec<ServiceId, Vec<ServiceId>>) -> Vec<Vec<usize>> {
        let mut out = Vec::new();
        components(calls, |scc| {
            let mut c: Vec<usize> = scc.iter().map(|s| s.index()).collect();
            c.sort_unstable();
            out.push(c);
        });
        out.sort();
        out
    }

    /// The walk over call lists finds the components petgraph's Tarjan
    /// finds in a graph of the same edges, on random call graphs (self
    /// calls and repeated calls included).
    #[test]
    fn components_agree_with_petgraph() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |bound: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % bound as u64) as usize
        };
        for round in 0..300 {
            let n = 1 + round % 40;
            let edges = next(3 * n + 1);
            let mut calls: Vec<Vec<ServiceId>> = vec![Vec::new(); n];
            let mut g = petgraph::Graph::<(), ()>::new();
            let nodes: Vec<_> = (0..n).map(|_| g.add_node(())).collect();
            for _ in 0..edges {
                let (a, b) = (next(n), next(n));
                calls[a].push(ServiceId::new(b));
                g.add_edge(nodes[a], nodes[b], ());
            }
            let calls: IdVec<ServiceId, Vec<ServiceId>> = calls.into_iter().collect();
            let mut theirs: Vec<Vec<usize>> = petgraph::algo::tarjan_scc(&g)
                .into_iter()
                .map(|c| {
                    let mut c: Vec<usize> = c.into_iter().map(|x| x.index()).collect();
                    c.sort_unstable();
                    c
                })
                .collect();
            theirs.sort();
            assert_eq!(sorted_components(&calls), theirs, "round {round}");
        }
    }

    /// A chain of calls a hundred thousand long, closed into one loop: one
    /// component, found without recursion.
    #[test]
    fn a_long_loop_is_one_component() {
        let n = 100_000;
        let calls: IdVec<ServiceId, Vec<ServiceId>> =
            (0..n).map(|i| vec![ServiceId::new((i + 1) % n)]).collect();
        let found = sorted_components(&calls);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].len(), n);
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
