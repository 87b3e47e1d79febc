//! E702: VMs join a cluster that does not expose its control plane.

use super::lexical::shown;
use crate::check::{ClusterId, IdVec, VmId};
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;
use crate::model::Flow;

declare_code! {
    /// VMs join a cluster whose control plane they cannot reach.
    ///
    /// A VM is outside the cluster, so istiod must be exposed to it:
    ///
    /// - from Istio 1.8, through the cluster's east-west gateway, which
    ///   carries istiod's ports 15012 and 15017 (`east-west-gateway`);
    /// - before 1.8, through the internal load balancers in front of
    ///   Pilot, Mixer, Citadel and kube-dns (`ilb`).
    ///
    /// Without it, meshc has no address to write into the VM's `hosts` or
    /// dnsmasq file, and the sidecar could never fetch its certificate.
    ///
    /// ```kdl
    /// mesh m { istio "1.24" }
    /// cluster prod { network vpc; control-plane #true }   // E702: no east-west-gateway
    /// vm db { address "10.0.0.5"; network vpc }
    /// ```
    pub static CODE = "E702", Error, "home-cluster-unreachable", "VMs join a cluster that does not expose istiod to them";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    let flow = t.mesh.flow();
    // cluster → the VMs that join it, in declaration order.
    let mut joiners: IdVec<ClusterId, Vec<VmId>> = IdVec::filled(Vec::new(), t.clusters.len());
    for (v, home) in cx.index.vm_cluster.iter_enumerated() {
        if let Some(c) = *home {
            joiners[c].push(v);
        }
    }
    for (c, vms) in joiners.iter_enumerated() {
        let cluster = &t.clusters[c];
        // A home without istiod is E306's (or E701's) finding.
        if vms.is_empty() || !cluster.runs_control_plane() {
            continue;
        }
        // A gateway or `ilb` that could not be read is already reported.
        let dropped = &t.dropped;
        if ["east-west-gateway", "ilb"]
            .iter()
            .any(|s| dropped.setting(cluster.span, s))
        {
            continue;
        }
        let (missing, what, help) = match flow {
            Flow::Modern => (
                cluster.east_west_gateway.is_none(),
                "no east-west gateway",
                format!(
                    "add `east-west-gateway \"ADDRESS\"` to `{}`: from Istio 1.8 VMs reach istiod (15012, 15017) through it",
                    shown(&cluster.name.value)
                ),
            ),
            Flow::Legacy => (
                cluster.ilbs.is_none(),
                "no internal load balancers",
                format!(
                    "add `ilb pilot=\"…\" mixer=\"…\" citadel=\"…\" kube-dns=\"…\"` to `{}`: before Istio 1.8 VMs reach the control plane through them",
                    shown(&cluster.name.value)
                ),
            ),
        };
        if !missing {
            continue;
        }
        let who = match vms.as_slice() {
            [one] => format!("VM `{}` joins", shown(&t.vms[*one].name.value)),
            _ => format!("{} VMs join", vms.len()),
        };
        let mut d = Diagnostic::new(
            &CODE,
            cluster.name.span,
            format!(
                "{who} cluster `{}`, but it has {what} to reach istiod through",
                shown(&cluster.name.value)
            ),
        )
        .label(what);
        for &v in vms.iter().take(3) {
            let vm = &t.vms[v];
            let span = vm.cluster.as_ref().map_or(vm.name.span, |r| r.span);
            d = d.with_secondary(span, format!("`{}` joins it", shown(&vm.name.value)));
        }
        diags.push(d.help(help));
    }
}
