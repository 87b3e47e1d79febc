//! `cluster.env`, in both flavours, and the proxy metadata it shares with
//! `mesh.yaml`.
//!
//! **Modern** (Istio 1.8+): the file `istioctl x workload entry configure`
//! writes (`createClusterEnv` and `createMeshConfig` in
//! `istioctl/pkg/workload/workload.go`). [`WorkloadEnv`] holds everything
//! that command reads from the WorkloadGroup, its flags and the mesh config;
//! [`proxy_metadata`] computes the `proxyMetadata` map of `mesh.yaml`, and
//! [`cluster_env`] that map plus the cluster.env-only overrides, one
//! `KEY=value` line each, byte-sorted, with a final newline. The output is
//! byte-identical to Istio's goldens. Where upstream is not deterministic
//! (`ISTIO_INBOUND_PORTS` joins the ports in Go map iteration order), meshc
//! writes them in ascending order, duplicates kept, so the file is always
//! one that istioctl could have written. Quoting is
//! [`quote_env_value`](super::quote::quote_env_value); see
//! [`quote`](super::quote) for why it differs from istioctl only on values
//! containing a backslash.
//!
//! **Legacy** (0.8 to 1.7): exactly the three lines of `setupMeshEx.sh
//! generateClusterEnv` (the inbound ports go to `sidecar.env`).
//! Values are bare, as the script wrote them, unless they fall outside a
//! strict safe charset, in which case they are single-quoted
//! ([`quote_unless_plain`](super::quote::quote_unless_plain)).
//!
//! Both writers are total: they take [`EnvKey`]s and [`EnvValue`]s, which
//! cannot hold what a sourced file cannot carry (a key that is not a shell
//! name, a NUL in a value); the VM emitter builds them from what `check`
//! proved.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::env_keys;
use super::hosts::{ISTIOD_PORT, is_revisioned};
use super::quote::{EnvKey, EnvValue, Quoting, assignment};

/// What `workload entry configure` needs to write `cluster.env` and
/// `mesh.yaml` for one WorkloadGroup. Plain data: no defaults are applied
/// here, the caller passes what istioctl would have resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadEnv {
    /// WorkloadGroup name (`CANONICAL_SERVICE` fallback, `ISTIO_SERVICE`,
    /// `ISTIO_META_WORKLOAD_NAME`).
    pub name: EnvValue,
    /// WorkloadGroup namespace (`POD_NAMESPACE`, `ISTIO_NAMESPACE`).
    pub namespace: EnvValue,
    /// `template.serviceAccount`. istioctl substitutes `default` for an
    /// empty one when it reads the WorkloadGroup from a file; so should the
    /// caller.
    pub service_account: EnvValue,
    /// `spec.metadata.labels` overlaid with `template.labels`.
    pub labels: BTreeMap<String, EnvValue>,
    /// `template.ports`, name to number. Empty means capture every inbound
    /// port (`ISTIO_INBOUND_PORTS=*`).
    pub ports: BTreeMap<String, u16>,
    /// `template.network` (`ISTIO_META_NETWORK`), empty when unset.
    pub network: EnvValue,
    /// `--clusterID` (`ISTIO_META_CLUSTER_ID`).
    pub cluster_id: EnvValue,
    /// Mesh config `defaultConfig.meshId` (`ISTIO_META_MESH_ID`; also
    /// `meshId` in mesh.yaml when non-empty), empty when unset.
    pub mesh_id: EnvValue,
    /// Mesh config `trustDomain` (`TRUST_DOMAIN`), empty when unset.
    pub trust_domain: EnvValue,
    /// `--revision`. `None`, `""` and `"default"` all mean unrevisioned.
    pub revision: Option<EnvValue>,
    /// The control-plane namespace, e.g. `istio-system`.
    pub istio_namespace: EnvValue,
    /// `--internalIP` or `--externalIP` (`ISTIO_SVC_IP`); `None` writes no
    /// `ISTIO_SVC_IP` and lets `istio-start.sh` pick the host's address.
    pub address: Option<WorkloadAddress>,
    /// `--capture-dns` (istioctl's default is true): sets
    /// `ISTIO_META_DNS_CAPTURE=true`, overriding the mesh config. When false
    /// the mesh config's value, if any, stays.
    pub capture_dns: bool,
    /// ProxyConfig `statusPort` from the mesh config or annotation. `None`
    /// (or 0) means the default 15020.
    pub status_port: Option<u16>,
    /// `--autoregister`: adds `ISTIO_META_AUTO_REGISTER_GROUP=<name>`.
    pub autoregister: bool,
    /// `defaultConfig.proxyMetadata` of the mesh config, already merged
    /// key by key with the WorkloadGroup's `proxy.istio.io/config`
    /// annotations (metadata first, then `spec.metadata`). The generated
    /// keys override these.
    pub proxy_metadata: BTreeMap<EnvKey, EnvValue>,
    /// `spec.probe`, written as mesh.yaml `readinessProbe`.
    pub readiness_probe: Option<ReadinessProbe>,
    /// `defaultConfig.discoveryAddress` from the mesh config or annotation.
    /// When `None` and revisioned, mesh.yaml gets `istiod-<rev>…:15012`.
    pub discovery_address: Option<String>,
}

/// How the VM is addressed; the two istioctl flags are mutually exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadAddress {
    /// `--internalIP`: the VM is reached at this address directly.
    Internal(IpAddr),
    /// `--externalIP`: also sets
    /// `REWRITE_PROBE_LEGACY_LOCALHOST_DESTINATION=true`, because probes
    /// must then target localhost rather than the (external) address.
    External(IpAddr),
}

/// Istio's `ReadinessProbe` (networking/v1alpha3 workload_group.proto).
/// Zero and empty fields are omitted from mesh.yaml, as proto3 JSON omits
/// them upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadinessProbe {
    /// `initialDelaySeconds`.
    pub initial_delay_seconds: i32,
    /// `timeoutSeconds`.
    pub timeout_seconds: i32,
    /// `periodSeconds`.
    pub period_seconds: i32,
    /// `successThreshold`.
    pub success_threshold: i32,
    /// `failureThreshold`.
    pub failure_threshold: i32,
    /// The `health_check_method` oneof; `None` when unset.
    pub method: Option<HealthCheck>,
}

/// The `health_check_method` oneof of [`ReadinessProbe`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthCheck {
    /// `httpGet`.
    HttpGet(HttpGet),
    /// `tcpSocket`.
    TcpSocket {
        /// `host`; empty means the workload address.
        host: String,
        /// `port`.
        port: u16,
    },
    /// `exec`.
    Exec {
        /// `command`.
        command: Vec<String>,
    },
    /// `grpc`.
    Grpc {
        /// `port`.
        port: u16,
        /// `service`.
        service: String,
    },
}

/// `HTTPHealthCheckConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpGet {
    /// `path`.
    pub path: String,
    /// `port`.
    pub port: u16,
    /// `host`; empty means the workload address.
    pub host: String,
    /// `scheme`: empty, `HTTP` or `HTTPS`.
    pub scheme: String,
    /// `httpHeaders`, in order.
    pub http_headers: Vec<HttpHeader>,
}

/// One entry of `httpHeaders`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpHeader {
    /// `name`.
    pub name: String,
    /// `value`.
    pub value: String,
}

/// The canonical-service label and its fallbacks, in lookup order
/// (`pkg/kube/labels`). A present label counts even when its value is empty.
const CANONICAL_NAME_LABELS: [&str; 3] = ["service.istio.io/canonical-name", "app.kubernetes.io/name", "app"];
/// The canonical-revision label and its fallbacks, in lookup order.
const CANONICAL_REVISION_LABELS: [&str; 3] = [
    "service.istio.io/canonical-revision",
    "app.kubernetes.io/version",
    "version",
];

/// Ports istio-iptables must never capture on a VM: 22 keeps SSH working if
/// the proxy is broken, 15090 is Envoy's Prometheus port, 15021 the health
/// port. The agent's status port is appended by [`local_exclude_ports`].
const ALWAYS_EXCLUDED_PORTS: [u16; 3] = [22, 15090, 15021];
const DEFAULT_STATUS_PORT: u16 = 15020;
/// The control-plane namespace `istio-start.sh` and pilot-agent assume
/// (`ISTIO_SYSTEM_NAMESPACE`'s default, and the namespace of the built-in
/// `discoveryAddress`, `istiod.istio-system.svc:15012`).
pub const DEFAULT_ISTIO_NAMESPACE: &str = "istio-system";

/// The `proxyMetadata` of mesh.yaml (`createMeshConfig`): the caller's
/// merged mesh-config metadata, overridden by the generated keys.
pub fn proxy_metadata(env: &WorkloadEnv) -> BTreeMap<EnvKey, EnvValue> {
    let mut md = env.proxy_metadata.clone();
    let canonical_service = first_label(&env.labels, &CANONICAL_NAME_LABELS)
        .unwrap_or(&env.name)
        .clone();
    let canonical_revision = first_label(&env.labels, &CANONICAL_REVISION_LABELS)
        .cloned()
        .unwrap_or(LATEST);
    let mut set = |k: EnvKey, v: &EnvValue| {
        md.insert(k, v.clone());
    };
    set(env_keys::CANONICAL_SERVICE, &canonical_service);
    set(env_keys::CANONICAL_REVISION, &canonical_revision);
    set(env_keys::POD_NAMESPACE, &env.namespace);
    set(env_keys::SERVICE_ACCOUNT, &env.service_account);
    set(env_keys::TRUST_DOMAIN, &env.trust_domain);
    set(env_keys::ISTIO_META_CLUSTER_ID, &env.cluster_id);
    set(env_keys::ISTIO_META_MESH_ID, &env.mesh_id);
    set(env_keys::ISTIO_META_NETWORK, &env.network);
    if !env.ports.is_empty() {
        set(env_keys::ISTIO_META_POD_PORTS, &pod_ports_json(&env.ports));
    }
    set(env_keys::ISTIO_META_WORKLOAD_NAME, &env.name);
    let mut labels = env.labels.clone();
    labels.insert(CANONICAL_NAME_LABELS[0].to_owned(), canonical_service);
    labels.insert(CANONICAL_REVISION_LABELS[0].to_owned(), canonical_revision);
    set(env_keys::ISTIO_METAJSON_LABELS, &labels_json(&labels));
    if env.capture_dns {
        set(env_keys::ISTIO_META_DNS_CAPTURE, &TRUE);
    }
    if env.autoregister {
        set(env_keys::ISTIO_META_AUTO_REGISTER_GROUP, &env.name);
    }
    md
}

const TRUE: EnvValue = EnvValue::literal("true");
const LATEST: EnvValue = EnvValue::literal("latest");
const STAR: EnvValue = EnvValue::literal("*");

fn first_label<'a>(labels: &'a BTreeMap<String, EnvValue>, keys: &[&str]) -> Option<&'a EnvValue> {
    keys.iter().find_map(|k| labels.get(*k))
}

/// Go `json.Marshal` of a `map[string]string`: keys in byte order, no
/// spaces, Go's escaping.
fn labels_json(labels: &BTreeMap<String, EnvValue>) -> EnvValue {
    const COLON: EnvValue = EnvValue::literal(":");
    let body: Vec<EnvValue> = labels
        .iter()
        .map(|(k, v)| EnvValue::concat([&EnvValue::go_json(k), &COLON, &EnvValue::go_json(v.as_str())]))
        .collect();
    EnvValue::concat([
        &EnvValue::literal("{"),
        &EnvValue::join(&body, &EnvValue::literal(",")),
        &EnvValue::literal("}"),
    ])
}

/// Go `json.Marshal` of `[]model.PodPort` sorted by name: `name` is
/// `omitempty`, `protocol` is always written and always empty here.
fn pod_ports_json(ports: &BTreeMap<String, u16>) -> EnvValue {
    let items: Vec<EnvValue> = ports
        .iter()
        .map(|(name, port)| {
            let name = if name.is_empty() {
                EnvValue::default()
            } else {
                EnvValue::concat([
                    &EnvValue::literal("\"name\":"),
                    &EnvValue::go_json(name),
                    &EnvValue::literal(","),
                ])
            };
            EnvValue::concat([
                &EnvValue::literal("{"),
                &name,
                &EnvValue::literal("\"containerPort\":"),
                &EnvValue::from(*port),
                &EnvValue::literal(",\"protocol\":\"\"}"),
            ])
        })
        .collect();
    EnvValue::concat([
        &EnvValue::literal("["),
        &EnvValue::join(&items, &EnvValue::literal(",")),
        &EnvValue::literal("]"),
    ])
}

/// `22,15090,15021` plus the status port, unless it is one of those two
/// agent ports already listed (then nothing is added, as upstream does).
fn local_exclude_ports(status_port: Option<u16>) -> EnvValue {
    let mut ports = ALWAYS_EXCLUDED_PORTS.to_vec();
    match status_port.filter(|p| *p != 0) {
        Some(15090 | 15021) => {}
        Some(p) => ports.push(p),
        None => ports.push(DEFAULT_STATUS_PORT),
    }
    EnvValue::numbers(&ports)
}

/// `*` without ports, else the port numbers ascending, comma-joined.
fn inbound_ports(ports: &BTreeMap<String, u16>) -> EnvValue {
    if ports.is_empty() {
        return STAR;
    }
    let mut numbers: Vec<u16> = ports.values().copied().collect();
    numbers.sort_unstable();
    EnvValue::numbers(&numbers)
}

/// The entries of the modern cluster.env: [`proxy_metadata`] plus the
/// cluster.env-only overrides (`createClusterEnv`).
pub fn cluster_env_entries(env: &WorkloadEnv) -> BTreeMap<EnvKey, EnvValue> {
    let mut entries = proxy_metadata(env);
    let mut set = |k: EnvKey, v: EnvValue| {
        entries.insert(k, v);
    };
    set(env_keys::ISTIO_INBOUND_PORTS, inbound_ports(&env.ports));
    set(env_keys::ISTIO_NAMESPACE, env.namespace.clone());
    set(
        env_keys::ISTIO_SERVICE,
        EnvValue::join([&env.name, &env.namespace], &EnvValue::literal(".")),
    );
    // Capture all outbound traffic: the agent's DNS proxy and the mesh
    // decide what is mesh-bound, not a CIDR list.
    set(env_keys::ISTIO_SERVICE_CIDR, STAR);
    set(
        env_keys::ISTIO_LOCAL_EXCLUDE_PORTS,
        local_exclude_ports(env.status_port),
    );
    set(env_keys::SERVICE_ACCOUNT, env.service_account.clone());
    // `istio-start.sh` exports `CA_ADDR` (default
    // `istiod.${ISTIO_SYSTEM_NAMESPACE:-istio-system}.svc:15012`) whatever
    // the files say, so a control plane elsewhere must be named here:
    // istioctl does it for a revision; meshc also for another namespace,
    // which istioctl leaves to the cluster's mesh config.
    let revision = env.revision.as_ref();
    let other_namespace = env.istio_namespace.as_str() != DEFAULT_ISTIO_NAMESPACE;
    if is_revisioned(revision.map(EnvValue::as_str)) || other_namespace {
        set(env_keys::CA_ADDR, istiod_addr(&env.istio_namespace, revision));
    }
    if other_namespace {
        set(env_keys::ISTIO_SYSTEM_NAMESPACE, env.istio_namespace.clone());
    }
    match env.address {
        Some(WorkloadAddress::Internal(ip)) => set(env_keys::ISTIO_SVC_IP, ip.into()),
        Some(WorkloadAddress::External(ip)) => {
            set(env_keys::ISTIO_SVC_IP, ip.into());
            set(env_keys::REWRITE_PROBE_LEGACY_LOCALHOST_DESTINATION, TRUE);
        }
        None => {}
    }
    entries
}

/// istiod's address, as [`super::hosts::istiod_addr`] spells it, from
/// env values.
fn istiod_addr(istio_namespace: &EnvValue, revision: Option<&EnvValue>) -> EnvValue {
    let istiod = match revision.filter(|r| is_revisioned(Some(r.as_str()))) {
        Some(rev) => EnvValue::concat([&EnvValue::literal("istiod-"), rev]),
        None => EnvValue::literal("istiod"),
    };
    EnvValue::concat([
        &istiod,
        &EnvValue::literal("."),
        istio_namespace,
        &EnvValue::literal(".svc:"),
        &EnvValue::from(ISTIOD_PORT),
    ])
}

/// The modern `cluster.env` bytes: one line per entry, byte-sorted, with
/// a final newline.
pub fn cluster_env(env: &WorkloadEnv) -> String {
    let mut lines: Vec<String> = cluster_env_entries(env)
        .iter()
        .map(|(key, value)| assignment(key, value, Quoting::IstioCompatible))
        .collect();
    // Upstream sorts whole `KEY=value` lines, not keys. The orders differ
    // when one key is a prefix of another (`A0=` sorts before `A=`, since
    // `=` is 0x3D, after the digits), so sort the lines as Go does.
    lines.sort_unstable();
    lines.join("\n") + "\n"
}

/// The legacy (0.8 to 1.7) `cluster.env`: exactly the three lines of
/// `setupMeshEx.sh generateClusterEnv`, `ISTIO_SERVICE_CIDR`,
/// `ISTIO_SYSTEM_NAMESPACE`, `ISTIO_CP_AUTH`, in that order. The inbound
/// ports, which the 1.0 docs appended here by hand, are per machine:
/// `sidecar.env` carries them.
pub fn legacy_cluster_env(
    service_cidr: &EnvValue,
    system_namespace: &EnvValue,
    cp_auth: &EnvValue,
) -> String {
    [
        (env_keys::ISTIO_SERVICE_CIDR, service_cidr),
        (env_keys::ISTIO_SYSTEM_NAMESPACE, system_namespace),
        (env_keys::ISTIO_CP_AUTH, cp_auth),
    ]
    .iter()
    .map(|(key, value)| assignment(key, value, Quoting::BareWhenPlain) + "\n")
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::vm::quote::Unrepresentable;

    fn v(s: &str) -> EnvValue {
        EnvValue::new(s).unwrap()
    }
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn env() -> WorkloadEnv {
        WorkloadEnv {
            name: v("foo"),
            namespace: v("bar"),
            service_account: v("vm-serviceaccount"),
            labels: BTreeMap::new(),
            ports: BTreeMap::new(),
            network: EnvValue::default(),
            cluster_id: v("Kubernetes"),
            mesh_id: EnvValue::default(),
            trust_domain: EnvValue::default(),
            revision: None,
            istio_namespace: v("istio-system"),
            address: Some(WorkloadAddress::Internal(IpAddr::V4(Ipv4Addr::new(
                10, 10, 10, 10,
            )))),
            capture_dns: true,
            status_port: None,
            autoregister: false,
            proxy_metadata: BTreeMap::new(),
            readiness_probe: None,
            discovery_address: None,
        }
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, EnvValue> {
        pairs.iter().map(|(k, x)| ((*k).to_owned(), v(x))).collect()
    }

    fn metadata(pairs: &[(&str, &str)]) -> BTreeMap<EnvKey, EnvValue> {
        pairs
            .iter()
            .map(|(k, x)| (EnvKey::new(k).unwrap(), v(x)))
            .collect()
    }

    fn line_of(file: &str, key: &str) -> Option<String> {
        let prefix = format!("{key}=");
        file.lines().find(|l| l.starts_with(&prefix)).map(str::to_owned)
    }

    #[test]
    fn canonical_labels_follow_istio_fallbacks() {
        let mut e = env();
        e.labels = map(&[("app", "a"), ("version", "v1"), ("app.kubernetes.io/name", "k")]);
        let md = proxy_metadata(&e);
        assert_eq!(md["CANONICAL_SERVICE"], "k");
        assert_eq!(md["CANONICAL_REVISION"], "v1");
        assert_eq!(
            md["ISTIO_METAJSON_LABELS"],
            r#"{"app":"a","app.kubernetes.io/name":"k","service.istio.io/canonical-name":"k","service.istio.io/canonical-revision":"v1","version":"v1"}"#
        );
        // Present but empty still wins, as in Go (`if v, ok := labels[k]`).
        e.labels = map(&[("service.istio.io/canonical-name", ""), ("app", "a")]);
        assert_eq!(proxy_metadata(&e)["CANONICAL_SERVICE"], "");
    }

    #[test]
    fn generated_keys_override_mesh_config_metadata() {
        let mut e = env();
        e.proxy_metadata = metadata(&[
            ("ISTIO_META_DNS_CAPTURE", "false"),
            ("POD_NAMESPACE", "x"),
            ("EXTRA", "1"),
        ]);
        let md = proxy_metadata(&e);
        assert_eq!(md["ISTIO_META_DNS_CAPTURE"], "true");
        assert_eq!(md["POD_NAMESPACE"], "bar");
        assert_eq!(md["EXTRA"], "1");
        // Without --capture-dns the mesh config's value survives.
        e.capture_dns = false;
        assert_eq!(proxy_metadata(&e)["ISTIO_META_DNS_CAPTURE"], "false");
    }

    #[test]
    fn pod_ports_are_json_sorted_by_name() {
        let mut e = env();
        e.ports = [
            ("https".to_owned(), 443),
            ("HTTP".to_owned(), 80),
            ("grpc".to_owned(), 8080),
        ]
        .into_iter()
        .collect();
        let md = proxy_metadata(&e);
        assert_eq!(
            md["ISTIO_META_POD_PORTS"],
            r#"[{"name":"HTTP","containerPort":80,"protocol":""},{"name":"grpc","containerPort":8080,"protocol":""},{"name":"https","containerPort":443,"protocol":""}]"#
        );
        let file = cluster_env(&e);
        assert_eq!(
            line_of(&file, "ISTIO_INBOUND_PORTS").unwrap(),
            "ISTIO_INBOUND_PORTS='80,443,8080'"
        );
    }

    #[test]
    fn empty_port_name_is_omitted_like_go_omitempty() {
        let ports = [(String::new(), 9080)].into_iter().collect();
        assert_eq!(
            pod_ports_json(&ports),
            r#"[{"containerPort":9080,"protocol":""}]"#
        );
    }

    #[test]
    fn status_port_extends_the_exclusions() {
        assert_eq!(local_exclude_ports(None), "22,15090,15021,15020");
        assert_eq!(local_exclude_ports(Some(0)), "22,15090,15021,15020");
        assert_eq!(local_exclude_ports(Some(15099)), "22,15090,15021,15099");
        assert_eq!(local_exclude_ports(Some(15090)), "22,15090,15021");
        assert_eq!(local_exclude_ports(Some(15021)), "22,15090,15021");
    }

    #[test]
    fn external_ip_adds_the_probe_rewrite() {
        let mut e = env();
        e.address = Some(WorkloadAddress::External(IpAddr::V6(Ipv6Addr::new(
            0xfd00, 0x10, 0x96, 0, 0, 0, 0, 1,
        ))));
        let file = cluster_env(&e);
        assert_eq!(
            line_of(&file, "ISTIO_SVC_IP").unwrap(),
            "ISTIO_SVC_IP='fd00:10:96::1'"
        );
        assert_eq!(
            line_of(&file, "REWRITE_PROBE_LEGACY_LOCALHOST_DESTINATION").unwrap(),
            "REWRITE_PROBE_LEGACY_LOCALHOST_DESTINATION='true'"
        );
        e.address = None;
        let file = cluster_env(&e);
        assert!(line_of(&file, "ISTIO_SVC_IP").is_none());
        assert!(line_of(&file, "REWRITE_PROBE_LEGACY_LOCALHOST_DESTINATION").is_none());
    }

    #[test]
    fn revision_adds_ca_addr_and_autoregister_adds_the_group() {
        let mut e = env();
        e.revision = Some(v("default"));
        assert!(line_of(&cluster_env(&e), "CA_ADDR").is_none());
        e.revision = Some(v("canary"));
        e.autoregister = true;
        let file = cluster_env(&e);
        assert_eq!(
            line_of(&file, "CA_ADDR").unwrap(),
            "CA_ADDR='istiod-canary.istio-system.svc:15012'"
        );
        assert_eq!(
            line_of(&file, "ISTIO_META_AUTO_REGISTER_GROUP").unwrap(),
            "ISTIO_META_AUTO_REGISTER_GROUP='foo'"
        );
    }

    #[test]
    fn lines_are_byte_sorted_with_a_final_newline() {
        let file = cluster_env(&env());
        assert!(file.ends_with("'\n") && !file.ends_with("\n\n"));
        let lines: Vec<&str> = file.lines().collect();
        let mut sorted = lines.clone();
        sorted.sort_unstable();
        assert_eq!(lines, sorted);
        // `J` < `_`: byte order, unlike mesh.yaml's natural order.
        let json = lines
            .iter()
            .position(|l| l.starts_with("ISTIO_METAJSON_LABELS="))
            .unwrap();
        let meta = lines
            .iter()
            .position(|l| l.starts_with("ISTIO_META_CLUSTER_ID="))
            .unwrap();
        assert!(json < meta);
    }

    /// What no env file can carry never becomes a key or a value.
    #[test]
    fn unrepresentable_keys_and_values_are_refused_when_made() {
        let key = EnvKey::new("BAD KEY").unwrap_err();
        assert_eq!(
            (key.key.as_str(), key.kind),
            ("BAD KEY", Unrepresentable::KeyNotAShellName)
        );
        assert_eq!(
            EnvValue::new("a\0b").unwrap_err().kind,
            Unrepresentable::NulInValue
        );
        assert!(EnvKey::new("OK_1").is_ok() && EnvValue::new("a b'$").is_ok());
    }

    #[test]
    fn backslash_values_are_always_quoted() {
        let mut e = env();
        e.proxy_metadata = metadata(&[("W", "w\\"), ("PLAIN", "w")]);
        let file = cluster_env(&e);
        assert_eq!(line_of(&file, "W").unwrap(), "W='w\\'");
        // Go's quirk leaves a bare `w`; harmless, and kept for compatibility.
        assert_eq!(line_of(&file, "PLAIN").unwrap(), "PLAIN=w");
    }

    #[test]
    fn legacy_file_has_the_setup_mesh_ex_lines() {
        assert_eq!(
            legacy_cluster_env(&v("10.63.240.0/20"), &v("istio-system"), &v("MUTUAL_TLS")),
            "ISTIO_SERVICE_CIDR=10.63.240.0/20\nISTIO_SYSTEM_NAMESPACE=istio-system\nISTIO_CP_AUTH=MUTUAL_TLS\n"
        );
        assert_eq!(
            legacy_cluster_env(&v("10.0.0.0/16,10.1.0.0/16"), &v("istio-system"), &v("NONE")),
            "ISTIO_SERVICE_CIDR=10.0.0.0/16,10.1.0.0/16\nISTIO_SYSTEM_NAMESPACE=istio-system\nISTIO_CP_AUTH=NONE\n"
        );
        assert_eq!(
            legacy_cluster_env(&v("*"), &v("ns x"), &v("")),
            "ISTIO_SERVICE_CIDR='*'\nISTIO_SYSTEM_NAMESPACE='ns x'\nISTIO_CP_AUTH=''\n"
        );
    }
}
