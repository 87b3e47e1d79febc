//! E306: a VM's `cluster` names a cluster that runs no control plane.

use super::lexical::shown;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// A VM's `cluster` names a cluster that does not run a control plane.
    ///
    /// `cluster` on a VM names the cluster whose istiod the VM joins: the
    /// one it fetches its certificate and configuration from. A cluster
    /// without `control-plane #true` has no istiod to join, so the VM's
    /// sidecar would never become ready.
    ///
    /// ```kdl
    /// cluster hub { network vpc; control-plane #true; east-west-gateway "10.0.0.100" }
    /// cluster edge { network vpc }
    /// vm db { address "10.0.0.5"; network vpc; cluster edge }   // E306
    /// ```
    pub static CODE = "E306", Error, "home-cluster-without-control-plane", "a VM joins a cluster that runs no control plane";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let planes = &cx.index.control_planes;
    // Without any control plane the topology has a bigger problem (E701).
    if planes.is_empty() {
        return;
    }
    let names: Vec<String> = planes
        .iter()
        .map(|&c| format!("`{}`", shown(&cx.topo.clusters[c].name.value)))
        .collect();
    for vm in &cx.topo.vms {
        let Some(r) = &vm.cluster else { continue };
        let Some(c) = cx.index.clusters.get(&r.value) else {
            continue;
        };
        let cluster = &cx.topo.clusters[c];
        if cluster.runs_control_plane() {
            continue;
        }
        let mut d = Diagnostic::new(
            &CODE,
            r.span,
            format!(
                "VM `{}` joins cluster `{}`, which runs no control plane",
                shown(&vm.name.value),
                shown(&r.value)
            ),
        )
        .label("no istiod in this cluster")
        .with_secondary(cluster.name.span, "declared without `control-plane #true`");
        let help = match planes.as_slice() {
            [one] => {
                let n = shown(&cx.topo.clusters[*one].name.value);
                format!(
                    "write `cluster {n}` (the cluster that runs istiod), or drop `cluster` to join it by default"
                )
            }
            _ => format!("name a cluster that runs a control plane: {}", names.join(", ")),
        };
        d = d.help(help);
        diags.push(d);
    }
}
