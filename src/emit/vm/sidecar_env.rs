//! `sidecar.env`: the per-machine settings of a VM's sidecar, installed as
//! `/var/lib/istio/envoy/sidecar.env` beside the per-cluster `cluster.env`.
//!
//! Its keys are the inputs of traffic capture (`istio-formats.md` §b.2):
//! which inbound ports go to the proxy, which never do, which outbound
//! ranges and ports are captured, how, and whose traffic is left alone.
//! [`entries`] writes them from the plan's typed values, from which
//! [`super::iptables_rules::config`] builds the rules' configuration too;
//! `tests/vm_bundle.rs` reads the written file back as istio-iptables would
//! and holds the two equal.
//!
//! Who reads the file, and in which order:
//! * modern `istio-start.sh` sources it, then `cluster.env`, under `set -a`:
//!   every key reaches the agent's environment, and `cluster.env` wins a key
//!   both files set. meshc writes `ISTIO_CUSTOM_IP_TABLES=true`, so the agent
//!   runs no istio-iptables at all: the capture keys here describe the rules
//!   meshc's `iptables.sh` installs (through a systemd drop-in), and the
//!   capture keys `cluster.env` repeats (with istioctl's fixed values) are
//!   read by nothing.
//! * Istio 1.0's `istio-iptables.sh`, which `istio-start.sh` runs at every
//!   start, sources `cluster.env` and then this file, so these values win;
//!   meshc writes the keys both files share with the same values anyway.
//!   The 1.0 script ignores `PROXY_UID`/`PROXY_GID` from the environment
//!   (it looks up istio-proxy's uid and adds root), ignores
//!   `ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE`, and with `ENABLE_INBOUND_IPV6`
//!   unset rejects every new inbound IPv6 connection, so meshc sets it on
//!   VMs that use IPv6.
//!
//! Values are quoted like the flow's `cluster.env`: istioctl's quoting in
//! the modern flow, bare-when-plain in the legacy one.

use std::collections::BTreeMap;

use ipnet::IpNet;

use super::env_keys;
use super::plan::VmPlan;
use super::quote::{EnvKey, EnvValue, Quoting, assignment};
use super::text::{comment_text, header};
use crate::model::{Flow, Interception};

/// Where the file is installed.
pub const PATH: &str = "/var/lib/istio/envoy/sidecar.env";

/// The keys and values of the VM's `sidecar.env`.
pub fn entries(plan: &VmPlan<'_>) -> BTreeMap<EnvKey, EnvValue> {
    let vm = plan.vm;
    let mut env = BTreeMap::new();
    env.insert(
        env_keys::ISTIO_INBOUND_INTERCEPTION_MODE,
        EnvValue::literal(plan.interception().as_istio()),
    );
    env.insert(
        env_keys::ISTIO_LOCAL_EXCLUDE_PORTS,
        EnvValue::numbers(&plan.local_exclude_ports),
    );
    let legacy = plan.flow == Flow::Legacy;
    // Istio 1.0 captured IPv4 only: its script hands every CIDR to
    // `iptables`, which refuses an IPv6 one.
    let family = |net: &IpNet| !legacy || matches!(net, IpNet::V4(_));
    let excluded: Vec<EnvValue> = vm
        .outbound_exclude_cidrs
        .iter()
        .map(|c| c.value)
        .filter(family)
        .map(EnvValue::from)
        .collect();
    if !excluded.is_empty() {
        env.insert(
            env_keys::ISTIO_SERVICE_EXCLUDE_CIDR,
            EnvValue::join(&excluded, &COMMA),
        );
    }
    match plan.flow {
        Flow::Modern => {
            // meshc's iptables.sh installs the rules; the agent must not.
            env.insert(env_keys::ISTIO_CUSTOM_IP_TABLES, EnvValue::literal("true"));
            // Every port when the VM serves nothing declared, as istioctl
            // writes for a WorkloadGroup without ports.
            let inbound = if plan.inbound_ports.is_empty() {
                EnvValue::literal("*")
            } else {
                EnvValue::numbers(&plan.inbound_ports)
            };
            env.insert(env_keys::ISTIO_INBOUND_PORTS, inbound);
            // All outbound traffic: the mesh decides what is mesh-bound.
            env.insert(env_keys::ISTIO_SERVICE_CIDR, EnvValue::literal("*"));
            let ports: Vec<u16> = vm.outbound_exclude_ports.iter().map(|p| p.value).collect();
            if !ports.is_empty() {
                env.insert(
                    env_keys::ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE,
                    EnvValue::numbers(&ports),
                );
            }
            // Only pinned ids: otherwise istio-iptables (and meshc's
            // iptables.sh) look up user istio-proxy on the VM.
            if vm.proxy_uid.is_some() || vm.proxy_gid.is_some() {
                let (uid, gid) = owners(plan);
                env.insert(env_keys::PROXY_UID, uid);
                env.insert(env_keys::PROXY_GID, gid);
            }
        }
        Flow::Legacy => {
            // Without ports the 1.0 script captures no inbound traffic, as
            // its docs say for a VM that only calls the mesh.
            if !plan.inbound_ports.is_empty() {
                env.insert(
                    env_keys::ISTIO_INBOUND_PORTS,
                    EnvValue::numbers(&plan.inbound_ports),
                );
            }
            let cidrs = legacy_service_cidrs(plan);
            if !cidrs.is_empty() {
                env.insert(env_keys::ISTIO_SERVICE_CIDR, cidrs);
            }
            // 1.0's istio-start.sh: `--serviceCluster`, POD_NAMESPACE and
            // INSTANCE_IP, which default to `rawvm`, `default` and
            // `hostname --ip-address` (often the wrong NIC).
            env.insert(env_keys::ISTIO_SERVICE, plan.identity.name.clone());
            env.insert(env_keys::ISTIO_NAMESPACE, plan.identity.namespace.clone());
            env.insert(env_keys::ISTIO_SVC_IP, vm.address.value.into());
            // Pilot's xDS port as the 1.0 sidecar injector picks it: 15011
            // (gRPC over mTLS) with MUTUAL_TLS, 15010 (plain gRPC) without;
            // both are on the pilot ILB. 1.0.0's istio-start.sh would
            // otherwise dial 8080, Pilot's plain HTTP port, whatever
            // ISTIO_CP_AUTH says (1.0.9 changed the default to 15011).
            let auth = plan.mesh.control_plane_auth.as_ref().map(|a| a.value.as_str());
            let port: u16 = if auth == Some("NONE") { 15010 } else { 15011 };
            env.insert(env_keys::ISTIO_PILOT_PORT, port.into());
            if plan.ipv6 {
                env.insert(env_keys::ENABLE_INBOUND_IPV6, EnvValue::literal("true"));
            }
        }
    }
    env
}

/// The uids and gids whose traffic is never captured: the proxy's. In TPROXY
/// mode `istio-start.sh` runs the agent (and so Envoy) as root, so root is
/// let through too, as the 1.0 script always did.
pub fn owners(plan: &VmPlan<'_>) -> (EnvValue, EnvValue) {
    let (uid, gid) = (
        EnvValue::from(plan.vm.proxy_uid()),
        EnvValue::from(plan.vm.proxy_gid()),
    );
    match plan.interception() {
        Interception::Tproxy => {
            let root = EnvValue::from(0u32);
            (
                EnvValue::join([&uid, &root], &COMMA),
                EnvValue::join([&gid, &root], &COMMA),
            )
        }
        Interception::Redirect => (uid, gid),
    }
}

const COMMA: EnvValue = EnvValue::literal(",");

/// The legacy `ISTIO_SERVICE_CIDR`: the home cluster's IPv4 service ranges,
/// comma-joined (also the first line of the legacy `cluster.env`).
pub fn legacy_service_cidrs(plan: &VmPlan<'_>) -> EnvValue {
    let cidrs: Vec<EnvValue> = plan
        .service_cidrs()
        .into_iter()
        .filter(|c| matches!(c, IpNet::V4(_)))
        .map(EnvValue::from)
        .collect();
    EnvValue::join(&cidrs, &COMMA)
}

/// The file: header, what reads it, then one `KEY=value` line per entry in
/// key order.
pub fn sidecar_env(plan: &VmPlan<'_>, source_name: &str) -> String {
    let mut out = header(source_name);
    let vm = comment_text(&plan.vm.name.value);
    let about = match plan.flow {
        Flow::Modern => format!(
            "#\n\
             # Per-machine settings of VM {vm}, installed as {PATH}.\n\
             # istio-start.sh sources this file, then cluster.env, with `set -a`.\n\
             # The capture keys are the ones meshc built iptables.rules from;\n\
             # ISTIO_CUSTOM_IP_TABLES=true keeps the agent from installing rules of\n\
             # its own (istio.service runs meshc's iptables.sh instead).\n"
        ),
        Flow::Legacy => format!(
            "#\n\
             # Per-machine settings of VM {vm}, installed as {PATH}.\n\
             # Istio 1.0's istio-iptables.sh reads them (after cluster.env) each time\n\
             # istio.service starts and installs the rules of iptables.rules from them;\n\
             # istio-start.sh reads ISTIO_SERVICE, ISTIO_NAMESPACE, ISTIO_SVC_IP and\n\
             # ISTIO_PILOT_PORT.\n"
        ),
    };
    out.push_str(&about);
    let quoting = match plan.flow {
        Flow::Modern => Quoting::IstioCompatible,
        Flow::Legacy => Quoting::BareWhenPlain,
    };
    for (key, value) in entries(plan) {
        out.push_str(&assignment(&key, &value, quoting));
        out.push('\n');
    }
    out
}
