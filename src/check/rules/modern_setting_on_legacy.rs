//! E803: a setting of the modern (1.8+) flow with a legacy Istio.

use super::unsupported_istio_version::supported;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;
use crate::model::{DnsMode, Flow, Registration};
use crate::source::Span;

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
    /// readiness probes (`probe`). meshc refuses them rather than ignore
    /// them. Settings you did not write (defaults) are never reported.
    ///
    /// ```kdl
    /// mesh m { istio "1.0.9" }
    /// cluster prod { network vpc; control-plane #true; east-west-gateway "10.0.0.100" }  // E803
    /// ```
    pub static CODE = "E803", Error, "modern-setting-on-legacy", "a setting of Istio 1.8+ with an older Istio";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    if t.mesh.flow() != Flow::Legacy || !supported(t.mesh.istio.value) || t.mesh.istio.span.is_empty() {
        return;
    }
    let v = t.mesh.istio.value;
    let mut push = |span: Span, setting: &str, instead: &str| {
        diags.push(
            Diagnostic::new(
                &CODE,
                span,
                format!("`{setting}` needs Istio 1.8 or later, but the mesh runs Istio {v}"),
            )
            .label("Istio 1.8+ only")
            .with_secondary(t.mesh.istio.span, "the legacy flow")
            .help(format!(
                "remove `{setting}`{instead}, or move the mesh to Istio 1.8 or later"
            )),
        );
    };
    let m = &t.mesh;
    if let Some(r) = &m.revision {
        push(r.span, "revision", "");
    }
    if let Some(l) = &m.least_privilege {
        push(l.span, "least-privilege", "");
    }
    if let Some(id) = &m.mesh_id {
        push(id.span, "mesh-id", "");
    }
    for c in &t.clusters {
        if let Some(g) = &c.east_west_gateway {
            push(
                g.span,
                "east-west-gateway",
                " (the legacy flow reaches the control plane through `ilb`)",
            );
        }
    }
    for vm in &t.vms {
        if let Some(a) = &vm.autoregister {
            push(a.span, "autoregister", "");
        }
        if let Some(d) = vm.dns.as_ref().filter(|d| d.value == DnsMode::Capture) {
            push(
                d.span,
                "dns capture",
                " (use `dns dnsmasq`, as the legacy flow did)",
            );
        }
    }
    for ns in &t.namespaces {
        if let Some(l) = &ns.least_privilege {
            push(l.span, "least-privilege", "");
        }
    }
    for s in &t.services {
        if let Some(r) = s
            .registration
            .as_ref()
            .filter(|r| r.value == Registration::ServiceEntry)
        {
            push(r.span, "registration service-entry", "");
        }
        if let Some(p) = &s.probe {
            push(p.span, "probe", "");
        }
    }
}
