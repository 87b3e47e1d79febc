//! E701: no cluster runs a control plane.

use super::lexical::shown;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// No cluster runs the Istio control plane.
    ///
    /// Every sidecar, in a pod or on a VM, gets its certificate and its
    /// configuration from istiod. meshc needs to know which cluster runs it
    /// (`control-plane #true`): that is where VMs connect, where their
    /// WorkloadEntries are created, and which cluster's gateway exposes
    /// istiod. A control plane is never assumed, not even for a single
    /// cluster, because a remote cluster of a larger mesh looks the same.
    ///
    /// ```kdl
    /// cluster prod {
    ///     network vpc
    ///     control-plane #true     // without this: E701
    /// }
    /// ```
    pub static CODE = "E701", Error, "no-control-plane", "no cluster runs the Istio control plane";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    if !cx.index.control_planes.is_empty() {
        return;
    }
    // A `control-plane` that could not be read, or a cluster left out, is
    // already reported: saying "add `control-plane #true`" would mislead.
    let dropped = &cx.topo.dropped;
    if dropped.any_setting("control-plane") || dropped.declaration("cluster") {
        return;
    }
    let t = cx.topo;
    let d = match t.clusters.as_slice() {
        [] => Diagnostic::new(
            &CODE,
            t.mesh.name.span,
            "the topology declares no cluster, so nothing runs istiod",
        )
        .label("mesh without a cluster")
        .help("declare the cluster that runs istiod: `cluster NAME { network NET; control-plane #true }`"),
        [one] => Diagnostic::new(
            &CODE,
            one.name.span,
            format!(
                "cluster `{}` does not run a control plane, and it is the only cluster",
                shown(&one.name.value)
            ),
        )
        .label("no `control-plane #true`")
        .help("add `control-plane #true` to the cluster if istiod runs there"),
        [first, rest @ ..] => {
            let mut d = Diagnostic::new(&CODE, first.name.span, "no cluster runs a control plane")
                .label("no `control-plane #true`");
            for c in rest.iter().take(3) {
                d = d.with_secondary(c.name.span, "nor here");
            }
            d.help("add `control-plane #true` to the cluster (or clusters) that run istiod")
        }
    };
    diags.push(d);
}
