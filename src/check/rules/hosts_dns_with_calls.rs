//! E805: a `dns hosts` VM runs a service that calls others, whose names it
//! then cannot resolve.

use std::collections::BTreeSet;

use super::unsupported_istio_version::supported;
use crate::check::ServiceId;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;
use crate::model::{DnsMode, Flow};

declare_code! {
    /// A VM with `dns hosts` runs a service that `calls` other services.
    ///
    /// With `dns hosts` the VM resolves only what its `hosts` file lists:
    /// istiod (WorkloadEntry flow) or the control-plane load balancers
    /// (legacy flow). The agent's DNS proxy is off and no dnsmasq forwards
    /// to kube-dns, so `<service>.<namespace>.svc…` does not resolve and
    /// every call fails before it reaches the sidecar. `dns hosts` suits a
    /// VM that only serves. For a VM that calls, use the mode that
    /// resolves service names: `dns capture` (the default) with Istio 1.8+,
    /// `dns dnsmasq` in the legacy flow.
    ///
    /// ```kdl
    /// vm box { address "10.0.1.5"; network vpc; dns hosts }   // E805
    /// service web { port http 8080; deploy v1 vm=box; calls api }
    /// ```
    pub static CODE = "E805", Error, "hosts-dns-with-calls", "a `dns hosts` VM calls services it cannot resolve";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    if !supported(t.mesh.istio.value) {
        return;
    }
    let instead = match t.mesh.flow() {
        Flow::Modern => {
            "remove `dns hosts`: the default, `dns capture`, lets the agent's DNS proxy resolve the services it calls"
        }
        Flow::Legacy => {
            "use `dns dnsmasq`: dnsmasq forwards service names to kube-dns through the cluster's `ilb` kube-dns address"
        }
    };
    for (v, vm) in t.vm_ids() {
        let Some(dns) = vm.dns.as_ref().filter(|d| d.value == DnsMode::Hosts) else {
            continue;
        };
        // The services on the VM, once each, in declaration order.
        let services: BTreeSet<ServiceId> = cx.index.vm_workloads[v]
            .iter()
            .map(|&w| cx.index.workloads[w].service)
            .collect();
        let Some((service, call)) = services
            .iter()
            .map(|&s| &t.services[s])
            .find_map(|s| s.calls.first().map(|c| (s, c)))
        else {
            continue;
        };
        diags.push(
            Diagnostic::new(
                &CODE,
                dns.span,
                format!(
                    "VM `{}` resolves names only from its hosts file, but `{}` on it calls `{}`",
                    vm.name.value, service.name.value, call.value
                ),
            )
            .label("resolves only the names of its hosts file")
            .with_secondary(call.span, "this call needs the name to resolve")
            .help(instead),
        );
    }
}
