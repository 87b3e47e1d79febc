//! E802, E803: a setting of one Istio flow in a mesh that runs the other.
//! One rule, driven by the language table: each setting, choice word and
//! block that belongs to one flow says so in `lower/language.rs`, lowering
//! records where each was written (`Topology::flow_bound`), and this rule
//! judges them against the mesh's Istio version. A new flow-bound setting
//! needs nothing here.

use super::unsupported_istio_version::supported;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::{Code, Diagnostic};
use crate::model::Flow;

declare_code! {
    /// A setting that only the legacy mesh-expansion flow (Istio 0.8–1.7)
    /// uses appears in a topology for Istio 1.8 or later.
    ///
    /// From 1.8, VMs join through WorkloadGroups and an east-west gateway;
    /// the internal load balancers (`ilb`, `ilb-annotation`) and the
    /// `control-plane-auth` policy of the old `cluster.env` no longer
    /// exist. meshc refuses them rather than ignore them, so a topology
    /// never says something its artifacts do not do. The KDL reference
    /// (`schema/topology-kdl.md`) marks every legacy-only setting.
    ///
    /// ```kdl
    /// mesh m { istio "1.24"; control-plane-auth MUTUAL_TLS }   // E802
    /// ```
    pub static LEGACY_CODE = "E802", Error, "legacy-setting-on-modern", "a legacy-flow setting with Istio 1.8 or later";
}

declare_code! {
    /// A setting that only Istio 1.8 and later understand appears in a
    /// topology for the legacy flow (Istio 0.8–1.7).
    ///
    /// These settings describe things the old releases do not have: the
    /// east-west gateway (`east-west-gateway`), revisions (`revision`),
    /// WorkloadEntry auto-registration (`autoregister`), ServiceEntry
    /// registration (`registration service-entry`), the generated Sidecar
    /// and AuthorizationPolicy objects (`least-privilege`), the agent's DNS
    /// proxy (`dns capture`), the mesh id (`mesh-id`) and WorkloadGroup
    /// readiness probes (`probe`); the KDL reference
    /// (`schema/topology-kdl.md`) marks every one. meshc refuses them
    /// rather than ignore them. Settings you did not write (defaults) are
    /// never reported.
    ///
    /// ```kdl
    /// mesh m { istio "1.0.9" }
    /// cluster prod { network vpc; control-plane #true; east-west-gateway "10.0.0.100" }  // E803
    /// ```
    pub static MODERN_CODE = "E803", Error, "modern-setting-on-legacy", "a setting of Istio 1.8+ with an older Istio";
}

pub static LEGACY_RULE: Rule = Rule {
    code: &LEGACY_CODE,
    run: |cx, diags| run(cx, diags, Flow::Legacy, &LEGACY_CODE),
};

pub static MODERN_RULE: Rule = Rule {
    code: &MODERN_CODE,
    run: |cx, diags| run(cx, diags, Flow::Modern, &MODERN_CODE),
};

/// Reports every value written that belongs to `only` when the mesh runs
/// the other flow.
fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>, only: Flow, code: &'static Code) {
    let t = cx.topo;
    let istio = &t.mesh.istio;
    // A version meshc does not support, or no readable mesh, is E801's or
    // lowering's to report: nothing here to judge against.
    if t.mesh.flow() == only || !supported(istio.value) || istio.span.is_empty() {
        return;
    }
    let v = istio.value;
    for b in t.flow_bound.iter().filter(|b| b.flow == only) {
        let what = match b.word {
            Some(word) => format!("{} {word}", b.setting),
            None => b.setting.to_owned(),
        };
        let d = match only {
            Flow::Legacy => Diagnostic::new(
                code,
                b.span,
                format!("`{what}` belongs to the legacy flow (Istio 0.8–1.7), but the mesh runs Istio {v}"),
            )
            .label("legacy-only setting")
            .with_secondary(
                istio.span,
                "Istio 1.8+ uses WorkloadEntries and an east-west gateway",
            )
            .help(format!("remove `{what}`{}", b.instead)),
            Flow::Modern => Diagnostic::new(
                code,
                b.span,
                format!("`{what}` needs Istio 1.8 or later, but the mesh runs Istio {v}"),
            )
            .label("Istio 1.8+ only")
            .with_secondary(istio.span, "the legacy flow")
            .help(format!(
                "remove `{what}`{}, or move the mesh to Istio 1.8 or later",
                b.instead
            )),
        };
        diags.push(d);
    }
}
