//! The topology as a picture: Graphviz DOT or Mermaid.
//!
//! Networks are outer groups, clusters and VMs are groups inside them,
//! workloads (service × version) sit in the group they run on, services
//! stand beside them grouped by namespace. Edges: a service to each of its
//! workloads (labelled with the route weight when routes exist) and a
//! service to each service it calls (bold). Whatever a diagnostic points
//! at is drawn red (error) or orange (warning), so the picture doubles as a
//! map of what `check` found.
//!
//! Unlike the artifact emitters this view also draws topologies that did
//! not check clean (that is when the highlights matter), so it takes an
//! `Analysis` and escapes every name it prints.

use std::collections::BTreeMap;
use std::fmt::Write;

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

/// Route weights per (service, version), when the service has routes.
fn weights(a: &Analysis) -> BTreeMap<(ServiceId, String), u32> {
    let mut out = BTreeMap::new();
    for (si, s) in a.topology.service_ids() {
        let single = s.routes.len() == 1;
        for r in &s.routes {
            let w = r
                .weight
                .as_ref()
                .map_or(if single { 100 } else { 0 }, |w| w.value);
            out.insert((si, r.version.value.clone()), w);
        }
    }
    out
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
    let mut by_target: BTreeMap<Target, Vec<WorkloadId>> = BTreeMap::new();
    for (wi, w) in ix.workloads.iter_enumerated() {
        by_target.entry(w.target).or_default().push(wi);
    }
    let workload_node = |out: &mut String, wi: WorkloadId, indent: &str| {
        let w = &ix.workloads[wi];
        let s = &t.services[w.service];
        let _ = writeln!(
            out,
            "{indent}{} [label={}, color={}];",
            q(&format!("w{wi}")),
            q(&format!("{} {}", s.name.value, w.version)),
            color(flag(w.span, d))
        );
    };
    let group = |out: &mut String, target: Target, indent: &str| {
        let (id, label, span) = match target {
            Target::Cluster(c) => {
                let c = &t.clusters[c];
                (
                    format!("cluster_k8s_{}", c.name.value),
                    format!("cluster {}", c.name.value),
                    c.span,
                )
            }
            Target::Vm(v) => {
                let v = &t.vms[v];
                (
                    format!("cluster_vm_{}", v.name.value),
                    format!("vm {} ({})", v.name.value, v.address.value),
                    v.span,
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
        let members = by_target.get(&target).map(Vec::as_slice).unwrap_or_default();
        if members.is_empty() {
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
        for (ci, _) in t
            .cluster_ids()
            .filter(|(ci, _)| ix.cluster_network[*ci] == Some(ni))
        {
            group(&mut out, Target::Cluster(ci), "    ");
        }
        for (vi, _) in t.vm_ids().filter(|(vi, _)| ix.vm_network[*vi] == Some(ni)) {
            group(&mut out, Target::Vm(vi), "    ");
        }
        let _ = writeln!(out, "  }}");
    }
    // Clusters and VMs whose network is unknown still appear.
    for (ci, _) in t
        .cluster_ids()
        .filter(|(ci, _)| ix.cluster_network[*ci].is_none())
    {
        group(&mut out, Target::Cluster(ci), "  ");
    }
    for (vi, _) in t.vm_ids().filter(|(vi, _)| ix.vm_network[*vi].is_none()) {
        group(&mut out, Target::Vm(vi), "  ");
    }
    for info in ix.namespaces.values() {
        let _ = writeln!(out, "  subgraph {} {{", q(&format!("cluster_ns_{}", info.name)));
        let _ = writeln!(
            out,
            "    label={}; style=dotted;",
            q(&format!("namespace {}", info.name))
        );
        for &si in &info.services {
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
    for (wi, w) in ix.workloads.iter_enumerated() {
        let label = match weights.get(&(w.service, w.version.clone())) {
            Some(weight) => format!(
                " [style=dotted, headlabel={}, labeldistance=2.5]",
                q(&format!("{weight}%"))
            ),
            None if t.services[w.service].routes.is_empty() => " [style=dotted]".to_owned(),
            None => " [style=dotted, headlabel=\"0%\", labeldistance=2.5]".to_owned(),
        };
        let _ = writeln!(
            out,
            "  {} -> {}{label};",
            q(&format!("s{}", w.service)),
            q(&format!("w{wi}"))
        );
    }
    for (si, calls) in ix.calls.iter_enumerated() {
        for &callee in calls {
            let _ = writeln!(
                out,
                "  {} -> {} [style=bold, color=blue];",
                q(&format!("s{si}")),
                q(&format!("s{callee}"))
            );
        }
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
    let mut out = String::from("flowchart LR\n");
    let mut by_target: BTreeMap<Target, Vec<WorkloadId>> = BTreeMap::new();
    for (wi, w) in ix.workloads.iter_enumerated() {
        by_target.entry(w.target).or_default().push(wi);
    }
    let mut flagged: Vec<(String, Severity)> = Vec::new();
    let mut group = |out: &mut String, id: String, label: String, span: Span, target: Target| {
        let _ = writeln!(out, "  subgraph {id}[\"{}\"]", m(&label));
        for &wi in by_target.get(&target).map(Vec::as_slice).unwrap_or_default() {
            let w = &ix.workloads[wi];
            let _ = writeln!(
                out,
                "    w{wi}[\"{} {}\"]",
                m(&t.services[w.service].name.value),
                m(&w.version)
            );
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
        for &si in &info.services {
            let _ = writeln!(out, "    s{si}([\"{}\"])", m(&t.services[si].name.value));
            if let Some(sev) = flag(t.services[si].span, d) {
                flagged.push((format!("s{si}"), sev));
            }
        }
        let _ = writeln!(out, "  end");
    }
    let weights = weights(a);
    for (wi, w) in ix.workloads.iter_enumerated() {
        match weights.get(&(w.service, w.version.clone())) {
            Some(weight) => {
                let _ = writeln!(out, "  s{} -.->|{weight}%| w{wi}", w.service);
            }
            None => {
                let _ = writeln!(out, "  s{} -.-> w{wi}", w.service);
            }
        }
    }
    for (si, calls) in ix.calls.iter_enumerated() {
        for &callee in calls {
            let _ = writeln!(out, "  s{si} ==> s{callee}");
        }
    }
    for (id, sev) in flagged {
        let stroke = if sev == Severity::Error { "red" } else { "orange" };
        let _ = writeln!(out, "  style {id} stroke:{stroke},stroke-width:3px");
    }
    out
}
