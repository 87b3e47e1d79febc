//! The names of the environment variables the VM bundle writes into
//! `cluster.env` and `sidecar.env`, once: the emitter that writes a key and
//! the ones that read it back (the iptables rules are built from
//! `sidecar.env`'s entries) name the same constant.

/// Inbound capture: `REDIRECT` or `TPROXY`.
pub const ISTIO_INBOUND_INTERCEPTION_MODE: &str = "ISTIO_INBOUND_INTERCEPTION_MODE";
/// Inbound ports captured (`*` for all).
pub const ISTIO_INBOUND_PORTS: &str = "ISTIO_INBOUND_PORTS";
/// Inbound ports never captured.
pub const ISTIO_LOCAL_EXCLUDE_PORTS: &str = "ISTIO_LOCAL_EXCLUDE_PORTS";
/// Outbound ranges captured (`*` for all).
pub const ISTIO_SERVICE_CIDR: &str = "ISTIO_SERVICE_CIDR";
/// Outbound ranges never captured.
pub const ISTIO_SERVICE_EXCLUDE_CIDR: &str = "ISTIO_SERVICE_EXCLUDE_CIDR";
/// Outbound ports never captured.
pub const ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE: &str = "ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE";
/// `true`: the agent installs no rules of its own.
pub const ISTIO_CUSTOM_IP_TABLES: &str = "ISTIO_CUSTOM_IP_TABLES";
/// The uids whose traffic is never captured.
pub const PROXY_UID: &str = "PROXY_UID";
/// The gids whose traffic is never captured.
pub const PROXY_GID: &str = "PROXY_GID";
/// Istio 1.0: the sidecar's `--serviceCluster`.
pub const ISTIO_SERVICE: &str = "ISTIO_SERVICE";
/// Istio 1.0: the sidecar's namespace.
pub const ISTIO_NAMESPACE: &str = "ISTIO_NAMESPACE";
/// Istio 1.0: the VM's address.
pub const ISTIO_SVC_IP: &str = "ISTIO_SVC_IP";
/// Istio 1.0: Pilot's xDS port.
pub const ISTIO_PILOT_PORT: &str = "ISTIO_PILOT_PORT";
/// Istio 1.0: accept inbound IPv6.
pub const ENABLE_INBOUND_IPV6: &str = "ENABLE_INBOUND_IPV6";
/// Istio 1.0: the control-plane namespace.
pub const ISTIO_SYSTEM_NAMESPACE: &str = "ISTIO_SYSTEM_NAMESPACE";
/// Istio 1.0: `MUTUAL_TLS` or `NONE`.
pub const ISTIO_CP_AUTH: &str = "ISTIO_CP_AUTH";
/// The cluster id the sidecar reports.
pub const ISTIO_META_CLUSTER_ID: &str = "ISTIO_META_CLUSTER_ID";
/// The workload name the sidecar reports.
pub const ISTIO_META_WORKLOAD_NAME: &str = "ISTIO_META_WORKLOAD_NAME";
/// The workload's labels, as JSON.
pub const ISTIO_METAJSON_LABELS: &str = "ISTIO_METAJSON_LABELS";
/// The WorkloadEntry the sidecar reports health for.
pub const ISTIO_META_WORKLOAD_ENTRY: &str = "ISTIO_META_WORKLOAD_ENTRY";
