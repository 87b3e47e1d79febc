//! E804: `dns dnsmasq` in the WorkloadEntry flow, where it has nothing a VM
//! can reach to forward to.

use super::unsupported_istio_version::supported;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;
use crate::model::{DnsMode, Flow};

declare_code! {
    /// A VM of the WorkloadEntry flow (Istio 1.8+) resolves cluster names
    /// with `dns dnsmasq`.
    ///
    /// The dnsmasq file forwards `svc.<cluster-domain>` to kube-dns, and
    /// in this flow the only kube-dns address the topology has is its
    /// ClusterIP (`kube-dns`), which exists only inside the cluster: the
    /// legacy flow exposed kube-dns on an internal load balancer
    /// (`ilb … kube-dns=`) for exactly this, and 1.8+ has no such load
    /// balancer. The sidecar captures TCP, not the UDP queries dnsmasq
    /// sends, so every cluster name fails to resolve. The mode that works
    /// is the default, `dns capture`: the agent's DNS proxy answers
    /// cluster and ServiceEntry names from istiod's name table, through the
    /// east-west gateway the VM already uses.
    ///
    /// ```kdl
    /// mesh m { istio "1.24" }
    /// vm db { address "10.0.1.5"; network vpc; dns dnsmasq }   // E804
    /// vm db { address "10.0.1.5"; network vpc }                // ok: dns capture
    /// ```
    pub static CODE = "E804", Error, "dnsmasq-in-workload-entry-flow", "`dns dnsmasq` with Istio 1.8+ forwards to a ClusterIP no VM reaches";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    if t.mesh.flow() != Flow::Modern || !supported(t.mesh.istio.value) {
        return;
    }
    for vm in &t.vms {
        let Some(dns) = vm.dns.as_ref().filter(|d| d.value == DnsMode::Dnsmasq) else {
            continue;
        };
        diags.push(
            Diagnostic::new(
                &CODE,
                dns.span,
                format!(
                    "VM `{}` forwards cluster names to kube-dns's ClusterIP, which no VM can reach with Istio {}",
                    vm.name.value, t.mesh.istio.value
                ),
            )
            .label("dnsmasq forwards to a ClusterIP")
            .help(
                "remove `dns dnsmasq`: the default, `dns capture`, lets the agent's DNS proxy answer cluster names",
            ),
        );
    }
}
