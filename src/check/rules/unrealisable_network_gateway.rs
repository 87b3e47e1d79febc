//! E709: a network `gateway` that nothing meshc emits would run.

use super::lexical::shown;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// A network's `gateway` is not the east-west gateway of a cluster on
    /// that network, so nothing would answer there.
    ///
    /// Across networks Istio sends traffic to the callee network's gateway
    /// on port 15443, where an Istio gateway in `AUTO_PASSTHROUGH` mode
    /// forwards it by SNI to the workload. Istio runs that gateway in a
    /// Kubernetes cluster on the network (the east-west gateway of its
    /// multicluster and VM guides), and learns its address from the
    /// gateway's Service or from `meshNetworks`. meshc writes both from a
    /// cluster's `east-west-gateway`; for any other address it has nothing
    /// to install, and Istio would never learn one that works: a network of
    /// VMs only, fronted by an address, gets traffic sent to a proxy that
    /// does not exist.
    ///
    /// Give a cluster on the network an `east-west-gateway` (and drop the
    /// network's `gateway`), or, when the callers can route to the VMs (a
    /// VPN or an interconnect), declare the VMs' addresses under the
    /// callers' network instead of a network of their own.
    ///
    /// ```kdl
    /// network dc {
    ///     cidr "192.168.0.0/16"
    ///     gateway "192.168.0.10"      // E709: no cluster on `dc` runs a gateway
    /// }
    /// ```
    pub static CODE = "E709", Error, "unrealisable-network-gateway", "a network `gateway` is not the east-west gateway of a cluster on that network";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let (t, ix) = (cx.topo, cx.index);
    for (n, network) in t.network_ids() {
        let Some(gateway) = &network.gateway else {
            continue;
        };
        let name = shown(&network.name.value);
        let clusters = &ix.network_clusters[n];
        let east_west: Vec<_> = clusters
            .iter()
            .map(|&c| &t.clusters[c])
            .filter_map(|c| c.east_west_gateway.as_ref().map(|g| (c, g)))
            .collect();
        if east_west.iter().any(|(_, g)| g.value == gateway.value) {
            continue;
        }
        let d = match east_west.first() {
            None => Diagnostic::new(
                &CODE,
                gateway.span,
                format!(
                    "network `{name}` declares gateway {}, but no cluster on it runs an east-west gateway: nothing meshc emits would answer there",
                    gateway.value
                ),
            )
            .label("no Istio gateway runs at this address")
            .with_secondary(network.name.span, "no cluster on this network has an `east-west-gateway`")
            .help(format!(
                "give a cluster on network `{name}` an `east-west-gateway` and remove this `gateway`; or, if the callers can route to `{name}` (VPN, interconnect), declare its addresses under the callers' network"
            )),
            Some((cluster, ew)) => Diagnostic::new(
                &CODE,
                gateway.span,
                format!(
                    "network `{name}` declares gateway {}, which is not the east-west gateway of any cluster on it",
                    gateway.value
                ),
            )
            .label("no Istio gateway runs at this address")
            .with_secondary(
                ew.span,
                format!("the east-west gateway of cluster `{}`", shown(&cluster.name.value)),
            )
            .help(format!(
                "remove the network's `gateway`: Istio reaches network `{name}` through its clusters' east-west gateways"
            )),
        };
        diags.push(d);
    }
}
