//! E507: a VM address outside every range of its network.

use super::lexical::shown;
use super::ranges::{Family, RangeSet, cluster_ranges, unusable};
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;
use crate::source::Spanned;
use ipnet::IpNet;

declare_code! {
    /// A VM's address is outside every CIDR its network declares.
    ///
    /// When a network lists its ranges with `cidr`, every VM on it should
    /// have an address from them: the mesh reaches the VM at that address
    /// through the network, and an address from elsewhere usually means the
    /// VM was put on the wrong network (or its public address was written
    /// instead of its private one, which istiod would then advertise).
    /// Networks without `cidr` are not checked.
    ///
    /// ```kdl
    /// network vpc { cidr "192.168.0.0/16" }
    /// vm db { address "10.0.3.202"; network vpc }   // E507
    /// ```
    pub static CODE = "E507", Error, "vm-address-outside-network", "a VM address is outside its network's ranges";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    for (n, vms) in cx.index.network_vms.iter_enumerated() {
        let network = &cx.topo.networks[n];
        if network.cidrs.is_empty() || vms.is_empty() {
            continue;
        }
        let set = RangeSet::new(network.cidrs.iter().map(|r| (r.value, ())));
        let clusters = cluster_ranges(cx, n);
        for &v in vms {
            let vm = &cx.topo.vms[v];
            let ip = vm.address.value;
            // Another family altogether is E506's finding, an unusable
            // address E508's, and one inside a cluster's range E502's.
            let in_family = |r: &&Spanned<IpNet>| Family::of_net(&r.value) == Family::of(ip);
            if !network.cidrs.iter().any(|r| in_family(&r))
                || unusable(ip).is_some()
                || set.find(ip).is_some()
                || clusters.find(ip).is_some()
            {
                continue;
            }
            // The ranges are written out only for a VM that is reported.
            let same_family: Vec<String> = network
                .cidrs
                .iter()
                .filter(in_family)
                .map(|r| r.value.to_string())
                .collect();
            let first = network
                .cidrs
                .iter()
                .find(|r| Family::of_net(&r.value) == Family::of(ip));
            let mut d = Diagnostic::new(
                &CODE,
                vm.address.span,
                format!(
                    "VM `{}` has address {ip}, outside network `{}` ({})",
                    shown(&vm.name.value),
                    shown(&network.name.value),
                    same_family.join(", ")
                ),
            )
            .label("not on the network");
            if let Some(r) = first {
                d = d.with_secondary(r.span, format!("`{}`'s range", shown(&network.name.value)));
            }
            diags.push(d.help(
                "use the VM's address on this network (its private address, not a public one), or declare the VM on the network whose range holds this address",
            ));
        }
    }
}
