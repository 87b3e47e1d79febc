//! E603: a VM service port that the Istio sidecar itself uses.

use super::lexical::shown;
use crate::check::{Context, Rule, Target};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

/// The ports the sidecar (Envoy and the Istio agent) binds on a VM, and
/// what for.
const RESERVED: &[(u16, &str)] = &[
    (15000, "Envoy's admin interface"),
    (
        15001,
        "Envoy's outbound listener, where all outbound traffic is redirected",
    ),
    (15004, "the agent's debug interface"),
    (
        15006,
        "Envoy's inbound listener, where all inbound traffic is redirected",
    ),
    (15008, "the HBONE mTLS tunnel"),
    (15020, "the agent's merged metrics and status endpoint"),
    (15021, "the sidecar's health check endpoint"),
    (15053, "the agent's DNS proxy"),
    (15090, "Envoy's Prometheus telemetry"),
];

declare_code! {
    /// A service that runs on a VM uses a port the Istio sidecar reserves.
    ///
    /// On a VM the sidecar shares the host's ports with the application.
    /// It binds 15000 (Envoy admin), 15001 (outbound capture), 15004
    /// (debug), 15006 (inbound capture), 15008 (HBONE tunnel), 15020
    /// (merged metrics, status), 15021 (health), 15053 (DNS proxy) and
    /// 15090 (Envoy telemetry), and the capture rules treat traffic to
    /// them specially. An application listening on one of them either
    /// fails to start or steals the sidecar's traffic, and a service port
    /// with that number is never captured as application traffic.
    ///
    /// Older releases used fewer of these ports; meshc reserves the same
    /// set for every version, so a topology stays valid across upgrades.
    ///
    /// ```kdl
    /// service metrics { port http 15090; deploy v1 vm=vm-1 }   // E603
    /// ```
    pub static CODE = "E603", Error, "reserved-sidecar-port", "a VM service uses a port the sidecar reserves";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    for (si, s) in cx.topo.service_ids() {
        let on_vm = cx.index.service_workloads[si].iter().find_map(|&wi| {
            let w = &cx.index.workloads[wi];
            match w.target {
                Target::Vm(v) => Some((v, w.span)),
                Target::Cluster(_) => None,
            }
        });
        let Some((vm, deploy_span)) = on_vm else { continue };
        for p in &s.ports {
            let target = p.target_port.as_ref().unwrap_or(&p.number);
            let hit = [target, &p.number].into_iter().find_map(|n| {
                RESERVED
                    .iter()
                    .find(|(r, _)| *r == n.value)
                    .map(|(r, why)| (n, *r, *why))
            });
            let Some((at, port, why)) = hit else { continue };
            diags.push(
                Diagnostic::new(
                    &CODE,
                    at.span,
                    format!(
                        "port {port} of `{}` is reserved by the Istio sidecar on VM `{}`",
                        shown(&s.name.value),
                        shown(&cx.topo.vms[vm].name.value)
                    ),
                )
                .label(format!("{port} is {why}"))
                .with_secondary(deploy_span, "runs on a VM here")
                .help(format!(
                    "the sidecar binds {port} on every VM; choose a port outside 15000–15090 for the application (`target-port` can keep the service's port as it is)"
                )),
            );
        }
    }
}
