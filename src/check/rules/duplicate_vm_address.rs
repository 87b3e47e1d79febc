//! E504: two VMs with one address on one network.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::lexical::shown;
use crate::check::VmId;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// Two VMs on the same network have the same address.
    ///
    /// An address identifies one host on a network: Istio sends a VM's
    /// traffic to its WorkloadEntry's address, and two WorkloadEntries with
    /// one address make both services' traffic land on whichever host
    /// answers. VMs on different networks may share an address (each
    /// network is its own address space).
    ///
    /// ```kdl
    /// vm a { address "10.0.0.5"; network vpc }
    /// vm b { address "10.0.0.5"; network vpc }   // E504
    /// ```
    pub static CODE = "E504", Error, "duplicate-vm-address", "two VMs on one network share an address";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    for (n, vms) in cx.index.network_vms.iter_enumerated() {
        let mut first: BTreeMap<IpAddr, VmId> = BTreeMap::new();
        for &v in vms {
            let vm = &cx.topo.vms[v];
            // E508 reports a loopback or otherwise unusable address.
            if super::ranges::unusable(vm.address.value).is_some() {
                continue;
            }
            let Some(&earlier) = first.get(&vm.address.value) else {
                first.insert(vm.address.value, v);
                continue;
            };
            let other = &cx.topo.vms[earlier];
            diags.push(
                Diagnostic::new(
                    &CODE,
                    vm.address.span,
                    format!(
                        "VMs `{}` and `{}` both have address {} on network `{}`",
                        shown(&other.name.value),
                        shown(&vm.name.value),
                        vm.address.value,
                        shown(&cx.topo.networks[n].name.value)
                    ),
                )
                .label("address already taken")
                .with_secondary(other.address.span, format!("`{}` has it", shown(&other.name.value)))
                .help(
                    "give each VM its own address; if both names mean one host, declare one VM and deploy every service on it",
                ),
            );
        }
    }
}
