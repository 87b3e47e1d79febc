//! E502: a VM address inside a pod or service range of a cluster on its
//! network.

use super::lexical::shown;
use super::ranges::{ClusterRange, cluster_ranges, unusable};
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// A VM's address lies inside a pod or service CIDR of a cluster on the
    /// same network.
    ///
    /// On one network, pod addresses are routed directly and service
    /// (ClusterIP) ranges are what every sidecar's outbound capture
    /// intercepts. A VM inside a pod range collides with pods that get the
    /// same address; a VM inside a service range is unreachable, because
    /// traffic to it is swallowed by the capture rules and sent to a
    /// Kubernetes Service that does not exist.
    ///
    /// ```kdl
    /// cluster prod { network vpc; pod-cidr "10.1.0.0/16" }
    /// vm db { address "10.1.3.4"; network vpc }    // E502
    /// ```
    pub static CODE = "E502", Error, "vm-address-in-cluster-range", "a VM address lies inside a cluster's pod or service range";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    for (n, clusters) in cx.index.network_clusters.iter_enumerated() {
        let vms = &cx.index.network_vms[n];
        if clusters.is_empty() || vms.is_empty() {
            continue;
        }
        let ranges = cluster_ranges(cx, n);
        for &v in vms {
            let vm = &cx.topo.vms[v];
            if unusable(vm.address.value).is_some() {
                continue;
            }
            let Some(&ClusterRange {
                cluster: c,
                kind,
                span,
                ..
            }) = ranges.find(vm.address.value)
            else {
                continue;
            };
            let cluster = &cx.topo.clusters[c];
            let consequence = if kind == "pod" {
                "pods can be given the same address"
            } else {
                "the sidecars' outbound capture would swallow traffic to it"
            };
            diags.push(
                Diagnostic::new(
                    &CODE,
                    vm.address.span,
                    format!(
                        "VM `{}` has address {}, inside the {kind} range of cluster `{}`",
                        shown(&vm.name.value),
                        vm.address.value,
                        shown(&cluster.name.value)
                    ),
                )
                .label(format!("inside a {kind} CIDR"))
                .with_secondary(span, format!("{kind} CIDR of `{}`", shown(&cluster.name.value)))
                .help(format!(
                    "{consequence}; give the VM an address outside the cluster's pod and service ranges, or correct the ranges"
                )),
            );
        }
    }
}
