//! The topology as a picture: Graphviz DOT or Mermaid.
//!
//! Draws the graph `check` built ([`crate::check::MeshGraph`]), through
//! its plain view (no petgraph types outside `check`): networks are outer
//! groups, clusters and VMs are groups inside them (labelled with how their
//! workloads resolve names), east-west gateways and workloads (service ×
//! version) sit in the group they run on, services stand beside them
//! grouped by namespace. Edges: a service to each of its workloads
//! (labelled with the route weight when routes exist), a service to each
//! service it calls (bold; labelled `authz` when the callee's
//! AuthorizationPolicy admits it), and a gateway to the network it opens to
//! the others. A workload whose traffic no sidecar captures is marked `no
//! sidecar`. Whatever a diagnostic points at is drawn red (error) or orange
//! (warning), so the picture doubles as a map of what `check` found.
//!
//! Unlike the artifact emitters this view also draws topologies that did
//! not check clean (that is when the highlights matter), so it takes an
//! `Analysis` and escapes every name it prints.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::check::graph::{EdgeKind, NodeKind, Resolver};
use crate::check::{Analysis, ServiceId, Target, WorkloadId};
use crate::diagnostic::{Diagnostic, Severity};
use crate::source::Span;

/// The worst finding whose primary span lies inside `span`.
fn flag(span: Span, diags: &[Diagnostic]) -> Option<Severity> {
    diags
        .iter()
        .filter(|d| {
            let s = d.span();
            s.start >= span.start && s.end <= span.end && !span.is_empty()
        })
        .map(|d| d.severity())
        .min()
}

fn color(sev: Option<Severity>) -> &'static str {
    match sev {
        Some(Severity::Error) => "red",
        Some(Severity::Warning) => "orange",
        None => "black",
    }
}

/// A DOT double-quoted string.
fn q(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Route weights per workload, from the graph's routes-to edges.
fn weights(a: &Analysis) -> BTreeMap<WorkloadId, u32> {
    a.graph
        .edges()
        .filter(|(_, _, e)| e.kind == EdgeKind::RoutesTo)
        .filter_map(|(_, to, e)| match to {
            NodeKind::Workload(w) => Some((w, e.weight.unwrap_or(0))),
            _ => None,
        })
        .collect()
}

/// Workloads grouped by the cluster or VM they run on (runs-on edges).
fn by_target(a: &Analysis) -> BTreeMap<Target, Vec<WorkloadId>> {
    let mut out: BTreeMap<Target, Vec<WorkloadId>> = BTreeMap::new();
    for (from, to, e) in a.graph.edges() {
        let (NodeKind::Workload(w), EdgeKind::RunsOn) = (from, e.kind) else {
            continue;
        };
        let target = match to {
            NodeKind::Cluster(c) => Target::Cluster(c),
            NodeKind::Vm(v) => Target::Vm(v),
            _ => continue,
        };
        out.entry(target).or_default().push(w);
    }
    out
}

/// A workload's label: service, version, and `no sidecar` when nothing
/// captures its traffic.
fn workload_label(a: &Analysis, w: WorkloadId) -> String {
    let wl = &a.index.workloads[w];
    let mut label = format!("{} {}", a.topology.services[wl.service].name.value, wl.version);
    let uncaptured = a
        .graph
        .out_edges(NodeKind::Workload(w), EdgeKind::CapturedBy)
        .is_empty();
    if uncaptured {
        label.push_str(" (no sidecar)");
    }
    label
}

/// How a cluster's or VM's workloads resolve names, for its group label.
fn resolver(a: &Analysis, host: NodeKind) -> &'static str {
    match a.graph.out_edges(host, EdgeKind::ResolvesWith).first() {
        Some((NodeKind::Resolver(Resolver::KubeDns(_)), _)) => "dns: kube-dns",
        Some((NodeKind::Resolver(Resolver::DnsProxy(_)), _)) => "dns: istio agent proxy",
        Some((NodeKind::Resolver(Resolver::Dnsmasq(_)), _)) => "dns: dnsmasq",
        Some((NodeKind::Resolver(Resolver::HostsFile(_)), _)) => "dns: hosts file only",
        _ => "dns: unknown",
    }
}

/// Calls as (caller, callee, admitted by the callee's policy), once each.
fn calls(a: &Analysis) -> Vec<(ServiceId, ServiceId, bool)> {
    let mut seen = std::collections::BTreeSet::new();
    a.graph
        .edges()
        .filter(|(_, _, e)| e.kind == EdgeKind::Calls)
        .filter_map(|(from, to, _)| match (from, to) {
            (NodeKind::Service(x), NodeKind::Service(y)) if seen.insert((x, y)) => Some((x, y)),
            _ => None,
        })
        .map(|(x, y)| {
            let admitted = a
                .graph
                .has_edge(NodeKind::Service(x), NodeKind::Service(y), EdgeKind::Admits);
            (x, y, admitted)
        })
        .collect()
}

/// Graphviz DOT.
pub fn dot(a: &Analysis) -> String {
    let t = &a.topology;
    let ix = &a.index;
    let d = &a.diagnostics;
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", q(&t.mesh.name.value));
    out.push_str("  rankdir=LR;\n  compound=true;\n  fontname=\"Helvetica\";\n");
    out.push_str(
        "  node [fontname=\"Helvetica\", shape=box, style=rounded];\n  edge [fontname=\"Helvetica\"];\n",
    );

    // Workloads grouped by target, targets grouped by network.
    let by_target = by_target(a);
    let g = &a.graph;
    let workload_node = |out: &mut String, wi: WorkloadId, indent: &str| {
        let w = &ix.workloads[wi];
        let _ = writeln!(
            out,
            "{indent}{} [label={}, color={}];",
            q(&format!("w{wi}")),
            q(&workload_label(a, wi)),
            color(flag(w.span, d))
        );
    };
    let group = |out: &mut String, target: Target, indent: &str| {
        let (id, label, span, host) = match target {
            Target::Cluster(ci) => {
                let c = &t.clusters[ci];
                let host = NodeKind::Cluster(ci);
                (
                    format!("cluster_k8s_{}", c.name.value),
                    format!("cluster {} · {}", c.name.value, resolver(a, host)),
                    c.span,
                    host,
                )
            }
            Target::Vm(vi) => {
                let v = &t.vms[vi];
                let host = NodeKind::Vm(vi);
                (
                    format!("cluster_vm_{}", v.name.value),
                    format!(
                        "vm {} ({}) · {}",
                        v.name.value,
                        v.address.value,
                        resolver(a, host)
                    ),
                    v.span,
                    host,
                )
            }
        };
        let _ = writeln!(out, "{indent}subgraph {} {{", q(&id));
        let _ = writeln!(
            out,
            "{indent}  label={}; color={};",
            q(&label),
            color(flag(span, d))
        );
        let gateways = g.out_edges(host, EdgeKind::HasGateway);
        for (gw, e) in &gateways {
            let NodeKind::Gateway(ci) = *gw else { continue };
            let Some(addr) = t
                .clusters
                .get(ci.index())
                .and_then(|c| c.east_west_gateway.as_ref())
            else {
                continue;
            };
            let _ = writeln!(
                out,
                "{indent}  {} [label={}, shape=diamond, color={}];",
                q(&format!("g{ci}")),
                q(&format!("east-west gateway {}", addr.value)),
                color(flag(e.span, d))
            );
        }
        let members = by_target.get(&target).map(Vec::as_slice).unwrap_or_default();
        if members.is_empty() && gateways.is_empty() {
            // An empty group would vanish; keep the host visible.
            let _ = writeln!(
                out,
                "{indent}  {} [label=\"(nothing deployed)\", shape=plaintext];",
                q(&format!("{id}_empty"))
            );
        }
        for &wi in members {
            workload_node(out, wi, &format!("{indent}  "));
        }
        let _ = writeln!(out, "{indent}}}");
    };
    let target_of = |n: NodeKind| match n {
        NodeKind::Cluster(c) => Some(Target::Cluster(c)),
        NodeKind::Vm(v) => Some(Target::Vm(v)),
        _ => None,
    };
    for (ni, n) in t.network_ids() {
        let _ = writeln!(
            out,
            "  subgraph {} {{",
            q(&format!("cluster_net_{}", n.name.value))
        );
        let _ = writeln!(
            out,
            "    label={}; style=dashed; color={};",
            q(&format!("network {}", n.name.value)),
            color(flag(n.span, d))
        );
        // Clusters first, then VMs, each in declaration order.
        let mut members: Vec<Target> = g
            .in_edges(NodeKind::Network(ni), EdgeKind::MemberOf)
            .into_iter()
            .filter_map(|(m, _)| target_of(m))
            .collect();
        members.sort();
        for m in members {
            group(&mut out, m, "    ");
        }
        let _ = writeln!(out, "  }}");
    }
    // Clusters and VMs whose network is unknown still appear.
    let homeless = t
        .cluster_ids()
        .map(|(c, _)| NodeKind::Cluster(c))
        .chain(t.vm_ids().map(|(v, _)| NodeKind::Vm(v)))
        .filter(|&h| g.out_edges(h, EdgeKind::MemberOf).is_empty());
    for h in homeless {
        if let Some(target) = target_of(h) {
            group(&mut out, target, "  ");
        }
    }
    for (ni, info) in ix.namespaces.values().enumerate() {
        let _ = writeln!(out, "  subgraph {} {{", q(&format!("cluster_ns_{}", info.name)));
        let _ = writeln!(
            out,
            "    label={}; style=dotted;",
            q(&format!("namespace {}", info.name))
        );
        for (n, _) in g.in_edges(NodeKind::Namespace(ni), EdgeKind::InNamespace) {
            let NodeKind::Service(si) = n else { continue };
            let s = &t.services[si];
            let _ = writeln!(
                out,
                "    {} [label={}, shape=ellipse, color={}];",
                q(&format!("s{si}")),
                q(&s.name.value),
                color(flag(s.span, d))
            );
        }
        let _ = writeln!(out, "  }}");
    }
    let weights = weights(a);
    for (from, to, e) in g.edges() {
        let (NodeKind::Workload(wi), NodeKind::Service(si), EdgeKind::Implements) = (from, to, e.kind) else {
            continue;
        };
        let label = match weights.get(&wi) {
            Some(weight) => format!(
                " [style=dotted, headlabel={}, labeldistance=2.5]",
                q(&format!("{weight}%"))
            ),
            None if g.out_edges(NodeKind::Service(si), EdgeKind::RoutesTo).is_empty() => {
                " [style=dotted]".to_owned()
            }
            None => " [style=dotted, headlabel=\"0%\", labeldistance=2.5]".to_owned(),
        };
        let _ = writeln!(
            out,
            "  {} -> {}{label};",
            q(&format!("s{si}")),
            q(&format!("w{wi}"))
        );
    }
    for (si, callee, admitted) in calls(a) {
        let label = if admitted { ", label=\"authz\"" } else { "" };
        let _ = writeln!(
            out,
            "  {} -> {} [style=bold, color=blue{label}];",
            q(&format!("s{si}")),
            q(&format!("s{callee}"))
        );
    }
    out.push_str("}\n");
    out
}

/// A Mermaid label: quotes and angle brackets become entities.
fn m(s: &str) -> String {
    s.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
        .replace(['\n', '\r'], " ")
}

/// Mermaid `flowchart`.
pub fn mermaid(a: &Analysis) -> String {
    let t = &a.topology;
    let ix = &a.index;
    let d = &a.diagnostics;
    let g = &a.graph;
    let mut out = String::from("flowchart LR\n");
    let by_target = by_target(a);
    let mut flagged: Vec<(String, Severity)> = Vec::new();
    let mut group = |out: &mut String, id: String, label: String, span: Span, target: Target| {
        let host = match target {
            Target::Cluster(c) => NodeKind::Cluster(c),
            Target::Vm(v) => NodeKind::Vm(v),
        };
        let label = format!("{label} · {}", resolver(a, host));
        let _ = writeln!(out, "  subgraph {id}[\"{}\"]", m(&label));
        for (gw, _) in g.out_edges(host, EdgeKind::HasGateway) {
            let NodeKind::Gateway(ci) = gw else { continue };
            if let Some(addr) = t
                .clusters
                .get(ci.index())
                .and_then(|c| c.east_west_gateway.as_ref())
            {
                let _ = writeln!(out, "    g{ci}{{\"east-west gateway {}\"}}", addr.value);
            }
        }
        for &wi in by_target.get(&target).map(Vec::as_slice).unwrap_or_default() {
            let w = &ix.workloads[wi];
            let _ = writeln!(out, "    w{wi}[\"{}\"]", m(&workload_label(a, wi)));
            if let Some(sev) = flag(w.span, d) {
                flagged.push((format!("w{wi}"), sev));
            }
        }
        let _ = writeln!(out, "  end");
        if let Some(sev) = flag(span, d) {
            flagged.push((id, sev));
        }
    };
    for (ci, c) in t.cluster_ids() {
        group(
            &mut out,
            format!("c{ci}"),
            format!("cluster {} ({})", c.name.value, c.network.value),
            c.span,
            Target::Cluster(ci),
        );
    }
    for (vi, v) in t.vm_ids() {
        group(
            &mut out,
            format!("v{vi}"),
            format!("vm {} {} ({})", v.name.value, v.address.value, v.network.value),
            v.span,
            Target::Vm(vi),
        );
    }
    for (ni, info) in ix.namespaces.values().enumerate() {
        let _ = writeln!(out, "  subgraph n{ni}[\"namespace {}\"]", m(&info.name));
        for (n, _) in g.in_edges(NodeKind::Namespace(ni), EdgeKind::InNamespace) {
            let NodeKind::Service(si) = n else { continue };
            let _ = writeln!(out, "    s{si}([\"{}\"])", m(&t.services[si].name.value));
            if let Some(sev) = flag(t.services[si].span, d) {
                flagged.push((format!("s{si}"), sev));
            }
        }
        let _ = writeln!(out, "  end");
    }
    let weights = weights(a);
    for (from, to, e) in g.edges() {
        let (NodeKind::Workload(wi), NodeKind::Service(si), EdgeKind::Implements) = (from, to, e.kind) else {
            continue;
        };
        match weights.get(&wi) {
            Some(weight) => {
                let _ = writeln!(out, "  s{si} -.->|{weight}%| w{wi}");
            }
            None => {
                let _ = writeln!(out, "  s{si} -.-> w{wi}");
            }
        }
    }
    for (si, callee, admitted) in calls(a) {
        if admitted {
            let _ = writeln!(out, "  s{si} ==>|authz| s{callee}");
        } else {
            let _ = writeln!(out, "  s{si} ==> s{callee}");
        }
    }
    for (id, sev) in flagged {
        let stroke = if sev == Severity::Error { "red" } else { "orange" };
        let _ = writeln!(out, "  style {id} stroke:{stroke},stroke-width:3px");
    }
    out
}
