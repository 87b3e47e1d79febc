//! E503: pod or service ranges of clusters on one network that overlap.

use super::lexical::shown;
use super::ranges::cluster_ranges;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// Pod or service CIDRs of clusters on the same network overlap.
    ///
    /// Clusters on one network reach each other's pods directly, so their
    /// pod ranges must be disjoint, or two pods share an address. Service
    /// ranges must not overlap each other or any pod range either: every
    /// sidecar captures traffic to the service ranges, so a pod whose
    /// address falls in one becomes unreachable, and two clusters handing
    /// out the same ClusterIP make Istio's per-address listeners collide.
    /// This includes a cluster's own pod and service ranges.
    ///
    /// The check sorts all ranges of a network once and sweeps them, so it
    /// stays fast on large topologies.
    ///
    /// ```kdl
    /// cluster east { network vpc; pod-cidr "10.0.0.0/14" }
    /// cluster west { network vpc; pod-cidr "10.2.0.0/16" }   // E503: inside 10.0.0.0/14
    /// ```
    pub static CODE = "E503", Error, "overlapping-cluster-ranges", "pod or service ranges of clusters on one network overlap";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    for (n, clusters) in cx.index.network_clusters.iter_enumerated() {
        if clusters.is_empty() {
            continue;
        }
        let set = cluster_ranges(cx, n);
        let network = &cx.topo.networks[n];
        for (a, b) in set.overlaps() {
            let (c, kind, net, span) = (a.cluster, a.kind, a.net, a.span);
            let (oc, okind, onet, ospan) = (b.cluster, b.kind, b.net, b.span);
            let (cl, other) = (&cx.topo.clusters[c], &cx.topo.clusters[oc]);
            // Report at whichever of the two was written later, pointing
            // back at the earlier one.
            let ((c1, k1, n1, s1), (c2, k2, n2, s2)) = if span >= ospan {
                ((cl, kind, net, span), (other, okind, onet, ospan))
            } else {
                ((other, okind, onet, ospan), (cl, kind, net, span))
            };
            let whose = |c: &crate::model::Cluster| {
                if std::ptr::eq(c1, c2) {
                    "its own".to_owned()
                } else {
                    format!("cluster `{}`'s", shown(&c.name.value))
                }
            };
            diags.push(
                Diagnostic::new(
                    &CODE,
                    s1,
                    format!(
                        "{k1} range {n1} of cluster `{}` overlaps {} {k2} range {n2} on network `{}`",
                        shown(&c1.name.value),
                        whose(c2),
                        shown(&network.name.value)
                    ),
                )
                .label("overlapping range")
                .with_secondary(s2, format!("{k2} range of `{}`", shown(&c2.name.value)))
                .help("give every pod and service range on one network its own, disjoint addresses"),
            );
        }
    }
}
