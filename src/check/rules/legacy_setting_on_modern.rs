//! E802: a setting of the legacy (pre-1.8) flow with a modern Istio.

use super::unsupported_istio_version::supported;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;
use crate::model::Flow;
use crate::source::Span;

declare_code! {
    /// A setting that only the legacy mesh-expansion flow (Istio 0.8–1.7)
    /// uses appears in a topology for Istio 1.8 or later.
    ///
    /// From 1.8, VMs join through WorkloadGroups and an east-west gateway;
    /// the internal load balancers (`ilb`, `ilb-annotation`) and the
    /// `control-plane-auth` policy of the old `cluster.env` no longer
    /// exist. meshc refuses them rather than ignore them, so a topology
    /// never says something its artifacts do not do.
    ///
    /// ```kdl
    /// mesh m { istio "1.24"; control-plane-auth MUTUAL_TLS }   // E802
    /// ```
    pub static CODE = "E802", Error, "legacy-setting-on-modern", "a legacy-flow setting with Istio 1.8 or later";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    if t.mesh.flow() != Flow::Modern || !supported(t.mesh.istio.value) || t.mesh.istio.span.is_empty() {
        return;
    }
    let v = t.mesh.istio.value;
    let mut push = |span: Span, setting: &str, instead: &str| {
        diags.push(
            Diagnostic::new(
                &CODE,
                span,
                format!(
                    "`{setting}` belongs to the legacy flow (Istio 0.8–1.7), but the mesh runs Istio {v}"
                ),
            )
            .label("legacy-only setting")
            .with_secondary(
                t.mesh.istio.span,
                "Istio 1.8+ uses WorkloadEntries and an east-west gateway",
            )
            .help(format!("remove `{setting}`{instead}")),
        );
    };
    if let Some(a) = &t.mesh.control_plane_auth {
        push(
            a.span,
            "control-plane-auth",
            "; from 1.8 the control plane is always reached over mTLS",
        );
    }
    for c in &t.clusters {
        if let Some(i) = &c.ilbs {
            push(
                i.span,
                "ilb",
                "; VMs reach istiod through `east-west-gateway` from 1.8",
            );
        }
        if let Some(a) = &c.ilb_annotation {
            push(a.span, "ilb-annotation", "");
        }
    }
}
