//! The graph is the one source of least privilege and of VM capture: each
//! test changes one edge (or one VM's capture) of a checked example and
//! shows that the emitted objects and `meshc why` both follow the change.
//! An emitter that recomputed these from the model would not.

use std::collections::BTreeMap;

use super::graph::{Edge, EdgeKind, NodeKind};
use super::{Checked, ServiceId, VmId};
use crate::source::Source;
use crate::syntax::{Limits, Syntax};
use crate::why::{self, Endpoint, Status};

const BOOKINFO_VM: &str = include_str!("../../examples/bookinfo-vm/topology.kdl");

fn bookinfo() -> (Source, Checked) {
    let source = Source::new("topology.kdl", BOOKINFO_VM);
    let (checked, diags) = crate::check_source(&source, Syntax::Kdl, Limits::default());
    let Some(checked) = checked else {
        panic!("bookinfo-vm does not check: {diags:#?}");
    };
    (source, checked)
}

/// Every artifact, path → contents.
fn emit(checked: &Checked) -> BTreeMap<String, String> {
    crate::emit::all(checked, "topology.kdl")
        .into_iter()
        .map(|a| (a.path, a.contents))
        .collect()
}

fn service(checked: &Checked, name: &str) -> ServiceId {
    match why::endpoint(checked, name) {
        Ok(Endpoint::Service { service, .. }) => service,
        other => panic!("{name}: {other:?}"),
    }
}

fn vm(checked: &Checked, name: &str) -> VmId {
    match checked.index().vms.get(name) {
        Some(v) => v,
        None => panic!("no VM {name}"),
    }
}

/// The status of link `step` on every path from `from` to `to`.
fn link(checked: &Checked, source: &Source, from: &str, to: &str, step: &str) -> Vec<Status> {
    let (f, t) = match (why::endpoint(checked, from), why::endpoint(checked, to)) {
        (Ok(f), Ok(t)) => (f, t),
        other => panic!("{from} {to}: {other:?}"),
    };
    let report = why::why(checked, source, &f, &t, (from, to));
    report
        .paths
        .iter()
        .flat_map(|p| &p.links)
        .filter(|l| l.step == step)
        .map(|l| l.status)
        .collect()
}

/// The lines of a policy's or Sidecar's list (principals, egress hosts)
/// in the file of `service`, for the object of `kind`.
fn listed(out: &BTreeMap<String, String>, service: &str, kind: &str) -> Vec<String> {
    let path = format!("kubernetes/mesh/bookinfo/service-{service}.yaml");
    let Some(file) = out.get(&path) else {
        panic!("no {path}");
    };
    let Some(doc) = file
        .split("\n---\n")
        .find(|d| d.contains(&format!("kind: {kind}\n")))
    else {
        panic!("no {kind} in {path}:\n{file}");
    };
    doc.lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("- "))
        .map(str::to_owned)
        .collect()
}

const PRODUCTPAGE: &str = "cluster.local/ns/bookinfo/sa/bookinfo-productpage";
const REVIEWS_HOST: &str = "bookinfo/reviews.bookinfo.svc.cluster.local";

/// Removing the admits edge productpage → reviews takes productpage's
/// principal out of the emitted AuthorizationPolicy of reviews, and
/// nothing else; `meshc why` then says the policy refuses the call.
#[test]
fn the_authorization_policy_admits_what_the_admits_edges_say() {
    let (source, mut checked) = bookinfo();
    let before = emit(&checked);
    assert!(listed(&before, "reviews", "AuthorizationPolicy").contains(&PRODUCTPAGE.to_owned()));
    assert_eq!(
        link(&checked, &source, "productpage", "reviews", "authz"),
        [Status::Ok; 3]
    );

    let (pp, reviews) = (service(&checked, "productpage"), service(&checked, "reviews"));
    let removed = checked.graph_mut().remove_edges(
        NodeKind::Service(pp),
        NodeKind::Service(reviews),
        EdgeKind::Admits,
    );
    assert_eq!(removed, 1);
    let after = emit(&checked);
    let principals = listed(&after, "reviews", "AuthorizationPolicy");
    assert!(!principals.contains(&PRODUCTPAGE.to_owned()), "{principals:?}");
    assert_eq!(
        link(&checked, &source, "productpage", "reviews", "authz"),
        [Status::Missing; 3]
    );
    // The Sidecar reads its own edges: productpage still lists reviews.
    assert!(listed(&after, "productpage", "Sidecar").contains(&REVIEWS_HOST.to_owned()));
    // Only that one file changed.
    let changed: Vec<&String> = before
        .keys()
        .filter(|p| before.get(*p) != after.get(*p))
        .collect();
    assert_eq!(changed, ["kubernetes/mesh/bookinfo/service-reviews.yaml"]);
}

/// An admits edge for a call nobody declared (productpage → ratings) puts
/// productpage's principal into the policy of ratings, and `why` agrees.
#[test]
fn a_forged_admits_edge_opens_the_policy_and_why_agrees() {
    let (source, mut checked) = bookinfo();
    assert!(!listed(&emit(&checked), "ratings", "AuthorizationPolicy").contains(&PRODUCTPAGE.to_owned()));
    assert!(link(&checked, &source, "productpage", "ratings", "authz").contains(&Status::Missing));

    let (pp, ratings) = (service(&checked, "productpage"), service(&checked, "ratings"));
    let span = checked.topology().services[pp].name.span;
    checked.graph_mut().add_edge(
        NodeKind::Service(pp),
        NodeKind::Service(ratings),
        Edge {
            kind: EdgeKind::Admits,
            span,
            weight: None,
        },
    );
    assert!(listed(&emit(&checked), "ratings", "AuthorizationPolicy").contains(&PRODUCTPAGE.to_owned()));
    let authz = link(&checked, &source, "productpage", "ratings", "authz");
    assert!(
        !authz.is_empty() && authz.iter().all(|s| *s == Status::Ok),
        "{authz:?}"
    );
}

/// The Sidecar's egress hosts are its sidecar-egress edges: removing the
/// edge productpage → reviews drops the host, and `why` notes it.
#[test]
fn the_sidecar_lists_what_the_egress_edges_say() {
    let (source, mut checked) = bookinfo();
    assert_eq!(
        link(&checked, &source, "productpage", "reviews", "egress"),
        [Status::Ok; 3]
    );
    let (pp, reviews) = (service(&checked, "productpage"), service(&checked, "reviews"));
    let removed = checked.graph_mut().remove_edges(
        NodeKind::Service(pp),
        NodeKind::Service(reviews),
        EdgeKind::SidecarEgress,
    );
    assert_eq!(removed, 1);
    let hosts = listed(&emit(&checked), "productpage", "Sidecar");
    assert!(!hosts.contains(&REVIEWS_HOST.to_owned()), "{hosts:?}");
    assert!(
        hosts.contains(&"bookinfo/details.bookinfo.svc.cluster.local".to_owned()),
        "{hosts:?}"
    );
    assert_eq!(
        link(&checked, &source, "productpage", "reviews", "egress"),
        [Status::Note; 3]
    );
}

/// Two services on one VM under one service account: the callee's policy
/// admits that identity for the one that declares the call, so the other
/// gets in too. `why` says so (a note) instead of calling it refused.
#[test]
fn a_shared_identity_is_admitted_and_why_says_whose_it_is() {
    let text = r#"
mesh m { istio "1.24"; }
network n { cidr "10.0.0.0/16"; }
cluster c { network n; control-plane #true; east-west-gateway "10.0.0.100"; }
vm box { address "10.0.5.1"; network n; service-account box; }
service a { port http 8080; deploy v1 vm=box; calls db; entry-point #true; }
service b { port http 8081; deploy v1 vm=box; entry-point #true; }
service db { port tcp 5432; deploy v1 cluster=c; }
"#;
    let source = Source::new("t.kdl", text);
    let (checked, diags) = crate::check_source(&source, Syntax::Kdl, Limits::default());
    let Some(checked) = checked else {
        panic!("{diags:#?}");
    };
    assert_eq!(link(&checked, &source, "a", "db", "authz"), [Status::Ok]);
    assert_eq!(link(&checked, &source, "b", "db", "authz"), [Status::Note]);
    let out = emit(&checked);
    let policy = &out["kubernetes/mesh/default/service-db.yaml"];
    assert!(policy.contains("- cluster.local/ns/default/sa/box\n"), "{policy}");
}

/// A VM's inbound capture is the graph's: a port added to its capture
/// reaches sidecar.env and the iptables rules, and a port taken out of
/// outbound capture makes `why` report the bypass.
#[test]
fn the_vm_bundle_captures_what_the_graph_says() {
    let (source, mut checked) = bookinfo();
    let details = vm(&checked, "ecs-details");
    assert_eq!(checked.graph().vm_capture[details].inbound_ports, [9080]);
    let before = emit(&checked);
    assert!(before["vms/ecs-details/sidecar.env"].contains("ISTIO_INBOUND_PORTS='9080'\n"));

    checked.graph_mut().vm_capture[details].inbound_ports.push(9443);
    let after = emit(&checked);
    assert!(
        after["vms/ecs-details/sidecar.env"].contains("ISTIO_INBOUND_PORTS='9080,9443'\n"),
        "{}",
        after["vms/ecs-details/sidecar.env"]
    );
    let rules = &after["vms/ecs-details/iptables.rules"];
    assert!(
        rules.contains("-A ISTIO_INBOUND -p tcp --dport 9443 -j ISTIO_IN_REDIRECT\n"),
        "{rules}"
    );

    // details (on the VM) calls nothing; from the VM to mysqldb (3306).
    assert_eq!(
        link(&checked, &source, "vm:ecs-details", "mysqldb", "capture"),
        [Status::Ok]
    );
    checked.graph_mut().vm_capture[details]
        .outbound_exclude_ports
        .push(3306);
    assert_eq!(
        link(&checked, &source, "vm:ecs-details", "mysqldb", "capture"),
        [Status::Missing]
    );
}

/// The captured-by edge of every VM workload agrees with the capture list
/// the bundle is written from, over every example, a synthetic mesh, and
/// the E604 fixture, whose VM keeps a service's port out of capture (its
/// analysis still has a graph, with that workload uncaptured).
#[test]
fn captured_by_edges_follow_the_vm_capture() {
    let synth = match crate::synth::generate(&crate::synth::Params::new(300, 80, 3)) {
        Ok(text) => text,
        Err(e) => panic!("synth: {e}"),
    };
    let sources = [
        ("bookinfo-vm", BOOKINFO_VM.to_owned()),
        (
            "bookinfo-legacy",
            include_str!("../../examples/bookinfo-legacy/topology.kdl").to_owned(),
        ),
        (
            "multicluster",
            include_str!("../../examples/multicluster/topology.kdl").to_owned(),
        ),
        (
            "E604",
            include_str!("../../tests/fail/E604-service-port-excluded-from-capture.kdl").to_owned(),
        ),
        ("synth", synth),
    ];
    let (mut captured_count, mut uncaptured_count) = (0, 0);
    for (name, text) in sources {
        let source = Source::new("t.kdl", text);
        let (topology, diags) = crate::front_end(&source, Syntax::Kdl, Limits::default());
        let Some(topology) = topology else {
            panic!("{name}: {diags:#?}");
        };
        let a = super::analyze(topology);
        let (topo, ix, g) = (&a.topology, &a.index, &a.graph);
        for (wi, w) in ix.workloads.iter_enumerated() {
            let super::Target::Vm(v) = w.target else { continue };
            let captured = g.has_edge(NodeKind::Workload(wi), NodeKind::Vm(v), EdgeKind::CapturedBy);
            let listed = topo.services[w.service]
                .ports
                .iter()
                .any(|p| g.vm_capture[v].inbound_ports.contains(&p.target_port()));
            assert_eq!(captured, listed, "{name}: workload {wi:?}");
            if captured {
                captured_count += 1;
            } else {
                uncaptured_count += 1;
            }
        }
    }
    assert!(
        captured_count > 50 && uncaptured_count > 0,
        "too few cases to prove anything: {captured_count} captured, {uncaptured_count} not"
    );
}

/// The plain view lists a node's edges in the order they were added (the
/// edge index), which is what keeps every rule's messages and `why`'s
/// paths deterministic: checked for every node and kind, both ways, over
/// the examples and a synthetic mesh, and the one-edge helpers with them.
#[test]
fn adjacent_edges_come_in_the_order_added() {
    let synth = match crate::synth::generate(&crate::synth::Params::new(300, 80, 3)) {
        Ok(text) => text,
        Err(e) => panic!("synth: {e}"),
    };
    let mut several = 0;
    for text in [
        BOOKINFO_VM.to_owned(),
        include_str!("../../examples/multicluster/topology.kdl").to_owned(),
        synth,
    ] {
        let source = Source::new("t.kdl", text);
        let (checked, diags) = crate::check_source(&source, Syntax::Kdl, Limits::default());
        let Some(checked) = checked else {
            panic!("{diags:#?}");
        };
        let g = checked.graph();
        // (node, kind) → the other ends, in edge index order.
        let mut out: BTreeMap<String, Vec<NodeKind>> = BTreeMap::new();
        let mut inc: BTreeMap<String, Vec<NodeKind>> = BTreeMap::new();
        for (from, to, e) in g.edges() {
            out.entry(format!("{from:?} {:?}", e.kind)).or_default().push(to);
            inc.entry(format!("{to:?} {:?}", e.kind)).or_default().push(from);
        }
        for node in g.nodes() {
            for kind in ALL_KINDS {
                let key = format!("{node:?} {kind:?}");
                let outgoing: Vec<NodeKind> = g.out_edges(node, kind).into_iter().map(|(n, _)| n).collect();
                assert_eq!(outgoing, out.get(&key).cloned().unwrap_or_default(), "out {key}");
                let incoming: Vec<NodeKind> = g.in_edges(node, kind).into_iter().map(|(n, _)| n).collect();
                assert_eq!(incoming, inc.get(&key).cloned().unwrap_or_default(), "in {key}");
                several += usize::from(outgoing.len() > 1) + usize::from(incoming.len() > 1);
            }
            if let NodeKind::Workload(w) = node {
                let first = out
                    .get(&format!("{node:?} {:?}", EdgeKind::RunsOn))
                    .and_then(|v| v.first());
                assert_eq!(g.host_of(w).as_ref(), first, "{node:?}");
            }
        }
    }
    assert!(
        several > 100,
        "too few lists of several edges to tell an order: {several}"
    );
}

const ALL_KINDS: [EdgeKind; 13] = [
    EdgeKind::MemberOf,
    EdgeKind::RunsOn,
    EdgeKind::InNamespace,
    EdgeKind::Implements,
    EdgeKind::Calls,
    EdgeKind::RoutesTo,
    EdgeKind::ReachesControlPlane,
    EdgeKind::HasGateway,
    EdgeKind::Exposes,
    EdgeKind::ResolvesWith,
    EdgeKind::CapturedBy,
    EdgeKind::SidecarEgress,
    EdgeKind::Admits,
];

/// The graph's calls edges are the index's resolved calls, pair for pair:
/// the rules that read `Index::calls` instead of walking the graph (W901's
/// components, W904's callers) judge the same calls the graph draws.
#[test]
fn the_calls_edges_are_the_index_calls() {
    use std::collections::BTreeSet;
    let synth = match crate::synth::generate(&crate::synth::Params::new(300, 80, 3)) {
        Ok(text) => text,
        Err(e) => panic!("synth: {e}"),
    };
    // A self-call and a call written twice, besides the examples' calls.
    let looped = BOOKINFO_VM.replacen("calls ", "calls productpage productpage ", 1);
    for text in [BOOKINFO_VM, looped.as_str(), synth.as_str()] {
        let source = Source::new("topology.kdl", text);
        let topology = crate::front_end(&source, Syntax::Kdl, Limits::default()).0;
        let analysis = crate::check::analyze(topology.expect("a topology"));
        let drawn: BTreeSet<(ServiceId, ServiceId)> = analysis
            .graph
            .edges()
            .filter(|(_, _, e)| e.kind == EdgeKind::Calls)
            .map(|(from, to, _)| match (from, to) {
                (NodeKind::Service(a), NodeKind::Service(b)) => (a, b),
                other => panic!("a calls edge between {other:?}"),
            })
            .collect();
        let resolved: BTreeSet<(ServiceId, ServiceId)> = analysis
            .index
            .calls
            .iter_enumerated()
            .flat_map(|(a, callees)| callees.iter().map(move |&b| (a, b)))
            .collect();
        assert!(!drawn.is_empty());
        assert_eq!(drawn, resolved);
    }
}
