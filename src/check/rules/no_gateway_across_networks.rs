//! E703: a call that crosses into a network nothing else can reach.

use std::collections::{BTreeMap, BTreeSet};

use super::lexical::shown;
use crate::check::graph::{EdgeKind, NodeKind};
use crate::check::{ClusterId, IdVec, NetworkId, ServiceId, VmId, WorkloadId};
use crate::check::{Context, Rule, Target};
use crate::declare_code;
use crate::diagnostic::Diagnostic;
use crate::source::Span;

declare_code! {
    /// A service is called from another network, but its own network has
    /// no gateway.
    ///
    /// Workloads on one network reach each other directly. Across networks
    /// Istio sends traffic to the callee network's gateway (port 15443),
    /// which forwards it to the workload. A network has a gateway when a
    /// cluster on it has an `east-west-gateway` (meshc writes its install
    /// values and every istiod's `meshNetworks` entry for it). Without one,
    /// Istio takes the network as directly reachable and callers on other
    /// networks dial addresses they cannot route to: a VM in a data centre
    /// called by pods in the cloud, or a VM in the cloud calling a service
    /// in the data centre, fails at the first request. A network of VMs
    /// only has no gateway Istio could run (E709); when the callers can
    /// route to those VMs, declare their addresses under the callers'
    /// network.
    ///
    /// ```kdl
    /// network cloud { cidr "10.0.0.0/16" }
    /// network dc { cidr "192.168.0.0/16" }        // no gateway
    /// vm db { address "192.168.1.5"; network dc; cluster prod }
    /// service db { port tcp 5432; deploy v1 vm=db }
    /// service api { port http 80; deploy v1 cluster=prod; calls db }   // E703
    /// ```
    pub static CODE = "E703", Error, "no-gateway-across-networks", "a service is called across networks into a network without a gateway";
}

pub static RULE: Rule = Rule { code: &CODE, run };

/// The first call into a (service, network) pair, and how many callers
/// make such a call.
struct Crossing {
    call: Span,
    /// The callee's first workload on the network.
    workload: WorkloadId,
    caller: ServiceId,
    callers: usize,
}

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let (t, ix, g) = (cx.topo, cx.index, cx.graph);
    let has_gateway: IdVec<NetworkId, bool> = t
        .network_ids()
        .map(|(n, net)| {
            // A declared `gateway` counts here only so that one mistake
            // gives one diagnostic: E709 refuses every `gateway` that is
            // not a cluster's east-west gateway on the network, so in a
            // topology that passes, only clusters' gateways count.
            net.gateway.is_some() || !g.gateways_into(n).is_empty()
        })
        .collect();
    // Only a call into a network without a gateway is reported: when every
    // network has one (a mesh that spans networks through east-west
    // gateways, as most do), there is nothing to look for.
    if has_gateway.iter().all(|&has| has) {
        return;
    }
    // Each host's network, asked of the graph once per host rather than
    // once per workload.
    let cluster_network: IdVec<ClusterId, Option<NetworkId>> = t
        .cluster_ids()
        .map(|(c, _)| g.network_of(NodeKind::Cluster(c)))
        .collect();
    let vm_network: IdVec<VmId, Option<NetworkId>> =
        t.vm_ids().map(|(v, _)| g.network_of(NodeKind::Vm(v))).collect();
    let network_of = |workload: WorkloadId| match g.host_of(workload)? {
        NodeKind::Cluster(c) => cluster_network[c],
        NodeKind::Vm(v) => vm_network[v],
        other => g.network_of(other),
    };
    // Per service: each network it runs on, with the first workload on
    // it, by network. A short sorted list rather than a map per service:
    // a service runs on one or two networks, and 10k maps were 2 MB of
    // fresh memory at 10k services.
    let networks: IdVec<ServiceId, Vec<(NetworkId, WorkloadId)>> = t
        .service_ids()
        .map(|(s, _)| {
            let mut m: Vec<(NetworkId, WorkloadId)> = Vec::new();
            for wi in g.workloads_of(s) {
                if let Some(n) = network_of(wi)
                    && !m.iter().any(|&(seen, _)| seen == n)
                {
                    m.push((n, wi));
                }
            }
            m.sort_unstable_by_key(|&(n, _)| n);
            m
        })
        .collect();
    let mut crossings: BTreeMap<(ServiceId, NetworkId), Crossing> = BTreeMap::new();
    // One set, emptied per caller (its nodes reused).
    let mut seen = BTreeSet::new();
    for (a, _) in t.service_ids() {
        let from = &networks[a];
        seen.clear();
        for (target, call) in g.out_edges(NodeKind::Service(a), EdgeKind::Calls) {
            let NodeKind::Service(b) = target else {
                continue;
            };
            if !seen.insert(b) {
                continue;
            }
            for &(nb, workload) in &networks[b] {
                let crosses = from.len() > 1 || from.first().is_some_and(|&(na, _)| na != nb);
                if has_gateway[nb] || !crosses {
                    continue;
                }
                crossings
                    .entry((b, nb))
                    .and_modify(|c| c.callers += 1)
                    .or_insert(Crossing {
                        call: call.span,
                        workload,
                        caller: a,
                        callers: 1,
                    });
            }
        }
    }
    for ((b, nb), c) in crossings {
        let callee = &t.services[b];
        let network = &t.networks[nb];
        let w = &ix.workloads[c.workload];
        let place = match w.target {
            Target::Cluster(c) => format!("cluster `{}`", shown(&t.clusters[c].name.value)),
            Target::Vm(v) => format!("VM `{}`", shown(&t.vms[v].name.value)),
        };
        let others = match c.callers {
            1 => String::new(),
            n => format!(" ({} more callers do the same)", n - 1),
        };
        diags.push(
            Diagnostic::new(
                &CODE,
                c.call,
                format!(
                    "`{}` calls `{}` across networks, but network `{}`, where `{}` runs, has no gateway{others}",
                    shown(&t.services[c.caller].name.value),
                    shown(&callee.name.value),
                    shown(&network.name.value),
                    shown(&callee.name.value)
                ),
            )
            .label("call from another network")
            .with_secondary(w.span, format!("runs on {place}, on network `{}`", shown(&network.name.value)))
            .with_secondary(network.name.span, "no cluster on it has an east-west gateway")
            .help(format!(
                "give a cluster on network `{}` an `east-west-gateway`, or run `{}` on its callers' network (if the callers can route to it, declare its addresses under their network)",
                shown(&network.name.value),
                shown(&callee.name.value)
            )),
        );
    }
}
