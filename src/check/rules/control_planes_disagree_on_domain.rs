//! E708: control-plane clusters with different cluster domains.

use super::lexical::shown;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// Clusters that run a control plane have different `cluster-domain`s.
    ///
    /// Each istiod names every service it knows, in its own cluster and in
    /// the others, `<service>.<namespace>.svc.<its cluster domain>`, and the
    /// Istio configuration meshc writes (DestinationRules, VirtualServices,
    /// Sidecars, ServiceEntries) names services that way. meshc writes that
    /// configuration once, in `kubernetes/mesh/`, for every control-plane
    /// cluster to apply, so they must agree on the domain: otherwise the
    /// hosts would be right in one primary and match nothing in another.
    ///
    /// ```kdl
    /// cluster east { network a; control-plane #true }
    /// cluster west { network b; control-plane #true; cluster-domain "west.local" }   // E708
    /// ```
    pub static CODE = "E708", Error, "control-planes-disagree-on-domain", "control-plane clusters have different cluster domains";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let mut planes = cx.index.control_planes.iter().map(|&c| &cx.topo.clusters[c]);
    let Some(first) = planes.next() else { return };
    let domain = first.cluster_domain();
    for cluster in planes {
        if cluster.cluster_domain() == domain {
            continue;
        }
        let span = cluster
            .cluster_domain
            .as_ref()
            .map_or(cluster.name.span, |d| d.span);
        let (first_span, first_label) = match &first.cluster_domain {
            Some(d) => (d.span, "the first control plane's domain".to_owned()),
            None => (
                first.name.span,
                format!("the first control plane, on the default `{domain}`"),
            ),
        };
        let d = Diagnostic::new(
            &CODE,
            span,
            format!(
                "cluster `{}` runs a control plane with cluster domain `{}`, but `{}` uses `{}`",
                shown(&cluster.name.value),
                shown(cluster.cluster_domain()),
                shown(&first.name.value),
                shown(domain)
            ),
        )
        .label("a different domain")
        .with_secondary(first_span, first_label)
        .help(format!(
            "give every control-plane cluster the same `cluster-domain` (here `{}`); meshc writes their Istio configuration once",
            shown(domain)
        ));
        diags.push(d);
    }
}
