//! The names of the environment variables the VM bundle writes into
//! `cluster.env` and `sidecar.env`, once: the emitter that writes a key and
//! the ones that read it back (the iptables rules are built from
//! `sidecar.env`'s entries) name the same constant. Each is an [`EnvKey`],
//! so a key that is not a shell name fails to compile.

use super::quote::EnvKey;

/// Inbound capture: `REDIRECT` or `TPROXY`.
pub const ISTIO_INBOUND_INTERCEPTION_MODE: EnvKey = EnvKey::of("ISTIO_INBOUND_INTERCEPTION_MODE");
/// Inbound ports captured (`*` for all).
pub const ISTIO_INBOUND_PORTS: EnvKey = EnvKey::of("ISTIO_INBOUND_PORTS");
/// Inbound ports never captured.
pub const ISTIO_LOCAL_EXCLUDE_PORTS: EnvKey = EnvKey::of("ISTIO_LOCAL_EXCLUDE_PORTS");
/// Outbound ranges captured (`*` for all).
pub const ISTIO_SERVICE_CIDR: EnvKey = EnvKey::of("ISTIO_SERVICE_CIDR");
/// Outbound ranges never captured.
pub const ISTIO_SERVICE_EXCLUDE_CIDR: EnvKey = EnvKey::of("ISTIO_SERVICE_EXCLUDE_CIDR");
/// Outbound ports never captured.
pub const ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE: EnvKey = EnvKey::of("ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE");
/// `true`: the agent installs no rules of its own.
pub const ISTIO_CUSTOM_IP_TABLES: EnvKey = EnvKey::of("ISTIO_CUSTOM_IP_TABLES");
/// The uids whose traffic is never captured.
pub const PROXY_UID: EnvKey = EnvKey::of("PROXY_UID");
/// The gids whose traffic is never captured.
pub const PROXY_GID: EnvKey = EnvKey::of("PROXY_GID");
/// Istio 1.0: the sidecar's `--serviceCluster`.
pub const ISTIO_SERVICE: EnvKey = EnvKey::of("ISTIO_SERVICE");
/// Istio 1.0: the sidecar's namespace.
pub const ISTIO_NAMESPACE: EnvKey = EnvKey::of("ISTIO_NAMESPACE");
/// Istio 1.0: the VM's address.
pub const ISTIO_SVC_IP: EnvKey = EnvKey::of("ISTIO_SVC_IP");
/// Istio 1.0: Pilot's xDS port.
pub const ISTIO_PILOT_PORT: EnvKey = EnvKey::of("ISTIO_PILOT_PORT");
/// Istio 1.0: accept inbound IPv6.
pub const ENABLE_INBOUND_IPV6: EnvKey = EnvKey::of("ENABLE_INBOUND_IPV6");
/// Istio 1.0: the control-plane namespace.
pub const ISTIO_SYSTEM_NAMESPACE: EnvKey = EnvKey::of("ISTIO_SYSTEM_NAMESPACE");
/// Istio 1.0: `MUTUAL_TLS` or `NONE`.
pub const ISTIO_CP_AUTH: EnvKey = EnvKey::of("ISTIO_CP_AUTH");
/// The cluster id the sidecar reports.
pub const ISTIO_META_CLUSTER_ID: EnvKey = EnvKey::of("ISTIO_META_CLUSTER_ID");
/// The workload name the sidecar reports.
pub const ISTIO_META_WORKLOAD_NAME: EnvKey = EnvKey::of("ISTIO_META_WORKLOAD_NAME");
/// The workload's labels, as JSON.
pub const ISTIO_METAJSON_LABELS: EnvKey = EnvKey::of("ISTIO_METAJSON_LABELS");
/// The WorkloadEntry the sidecar reports health for.
pub const ISTIO_META_WORKLOAD_ENTRY: EnvKey = EnvKey::of("ISTIO_META_WORKLOAD_ENTRY");
/// The canonical service name (`service.istio.io/canonical-name`).
pub const CANONICAL_SERVICE: EnvKey = EnvKey::of("CANONICAL_SERVICE");
/// The canonical revision (`service.istio.io/canonical-revision`).
pub const CANONICAL_REVISION: EnvKey = EnvKey::of("CANONICAL_REVISION");
/// The workload's namespace.
pub const POD_NAMESPACE: EnvKey = EnvKey::of("POD_NAMESPACE");
/// The workload's service account.
pub const SERVICE_ACCOUNT: EnvKey = EnvKey::of("SERVICE_ACCOUNT");
/// The mesh's trust domain.
pub const TRUST_DOMAIN: EnvKey = EnvKey::of("TRUST_DOMAIN");
/// The mesh id the sidecar reports.
pub const ISTIO_META_MESH_ID: EnvKey = EnvKey::of("ISTIO_META_MESH_ID");
/// The network the sidecar reports.
pub const ISTIO_META_NETWORK: EnvKey = EnvKey::of("ISTIO_META_NETWORK");
/// The workload's ports, as JSON.
pub const ISTIO_META_POD_PORTS: EnvKey = EnvKey::of("ISTIO_META_POD_PORTS");
/// `true`: the agent's DNS proxy answers.
pub const ISTIO_META_DNS_CAPTURE: EnvKey = EnvKey::of("ISTIO_META_DNS_CAPTURE");
/// The WorkloadGroup istiod auto-registers the VM in.
pub const ISTIO_META_AUTO_REGISTER_GROUP: EnvKey = EnvKey::of("ISTIO_META_AUTO_REGISTER_GROUP");
/// istiod's certificate authority address.
pub const CA_ADDR: EnvKey = EnvKey::of("CA_ADDR");
/// `true` for a VM addressed externally: probes target localhost.
pub const REWRITE_PROBE_LEGACY_LOCALHOST_DESTINATION: EnvKey =
    EnvKey::of("REWRITE_PROBE_LEGACY_LOCALHOST_DESTINATION");
