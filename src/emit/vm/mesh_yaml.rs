//! `mesh.yaml`: the ProxyConfig `defaultConfig` that
//! `istioctl x workload entry configure` writes for the VM's pilot-agent
//! (installed as `/etc/istio/config/mesh`).
//!
//! Upstream builds a ProxyConfig, converts it with proto3 JSON (zero and
//! empty fields omitted) and prints it with `sigs.k8s.io/yaml`, i.e. go-yaml
//! v2. This module decides only the content (which keys, which values, as
//! proto3 JSON would leave them); the bytes are written by meshc's one YAML
//! writer in its go-yaml v2 mode ([`crate::emit::yaml::go_yaml_document`]):
//! natural key order, go-yaml's scalar quoting, the block layout every
//! other YAML file has.

use super::cluster_env::{DEFAULT_ISTIO_NAMESPACE, HealthCheck, ReadinessProbe, WorkloadEnv, proxy_metadata};
use super::hosts::{is_revisioned, istiod_addr};
use crate::emit::yaml::{Node, go_yaml_document};

/// The `mesh.yaml` bytes for `env`.
pub fn mesh_yaml(env: &WorkloadEnv) -> String {
    let mut config = Vec::new();
    let revision = env.revision.as_ref().map(|r| r.as_str());
    // Upstream fills discoveryAddress only when the mesh config (or the
    // annotation) left it empty and a revision is in use; other VMs use
    // pilot-agent's default, `istiod.istio-system.svc:15012`, which is
    // wrong for a control plane in another namespace: meshc names it then
    // (istioctl would find it in that cluster's mesh config).
    let namespace = env.istio_namespace.as_str();
    let other_namespace = namespace != DEFAULT_ISTIO_NAMESPACE;
    let discovery = match &env.discovery_address {
        Some(address) if !address.is_empty() => Some(address.clone()),
        _ if is_revisioned(revision) || other_namespace => Some(istiod_addr(namespace, revision)),
        _ => None,
    };
    if let Some(address) = discovery {
        config.push(entry("discoveryAddress", Node::Str(address)));
    }
    if !env.mesh_id.is_empty() {
        config.push(entry("meshId", Node::Str(env.mesh_id.to_string())));
    }
    let metadata = proxy_metadata(env)
        .into_iter()
        .map(|(k, v)| (k.to_string(), Node::Str(v.to_string())))
        .collect();
    config.push(entry("proxyMetadata", Node::Map(metadata)));
    if let Some(probe) = &env.readiness_probe {
        config.push(entry("readinessProbe", probe_node(probe)));
    }
    if let Some(port) = env.status_port.filter(|p| *p != 0) {
        config.push(entry("statusPort", Node::Int(i64::from(port))));
    }
    go_yaml_document(&Node::Map(vec![entry("defaultConfig", Node::Map(config))]))
}

fn entry(key: &str, node: Node) -> (String, Node) {
    (key.to_owned(), node)
}

/// The probe as proto3 JSON would carry it: zero numbers and empty strings
/// and lists are left out.
fn probe_node(probe: &ReadinessProbe) -> Node {
    let mut map = Vec::new();
    let numbers = [
        ("initialDelaySeconds", probe.initial_delay_seconds),
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ];
    for (key, value) in numbers {
        push_int(&mut map, key, i64::from(value));
    }
    match &probe.method {
        Some(HealthCheck::HttpGet(http)) => {
            let mut get = Vec::new();
            push_str(&mut get, "path", &http.path);
            push_int(&mut get, "port", i64::from(http.port));
            push_str(&mut get, "host", &http.host);
            push_str(&mut get, "scheme", &http.scheme);
            if !http.http_headers.is_empty() {
                let headers = http
                    .http_headers
                    .iter()
                    .map(|h| {
                        let mut header = Vec::new();
                        push_str(&mut header, "name", &h.name);
                        push_str(&mut header, "value", &h.value);
                        Node::Map(header)
                    })
                    .collect();
                get.push(entry("httpHeaders", Node::Seq(headers)));
            }
            map.push(entry("httpGet", Node::Map(get)));
        }
        Some(HealthCheck::TcpSocket { host, port }) => {
            let mut tcp = Vec::new();
            push_str(&mut tcp, "host", host);
            push_int(&mut tcp, "port", i64::from(*port));
            map.push(entry("tcpSocket", Node::Map(tcp)));
        }
        Some(HealthCheck::Exec { command }) => {
            let mut exec = Vec::new();
            if !command.is_empty() {
                let args = command.iter().map(|c| Node::Str(c.clone())).collect();
                exec.push(entry("command", Node::Seq(args)));
            }
            map.push(entry("exec", Node::Map(exec)));
        }
        Some(HealthCheck::Grpc { port, service }) => {
            let mut grpc = Vec::new();
            push_int(&mut grpc, "port", i64::from(*port));
            push_str(&mut grpc, "service", service);
            map.push(entry("grpc", Node::Map(grpc)));
        }
        None => {}
    }
    Node::Map(map)
}

fn push_int(map: &mut Vec<(String, Node)>, key: &str, value: i64) {
    if value != 0 {
        map.push(entry(key, Node::Int(value)));
    }
}

fn push_str(map: &mut Vec<(String, Node)>, key: &str, value: &str) {
    if !value.is_empty() {
        map.push(entry(key, Node::Str(value.to_owned())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::vm::cluster_env::{HttpGet, HttpHeader, WorkloadAddress};
    use crate::emit::vm::quote::EnvValue;
    use std::collections::BTreeMap;
    use std::net::{IpAddr, Ipv4Addr};

    fn env() -> WorkloadEnv {
        WorkloadEnv {
            name: EnvValue::new("foo").unwrap(),
            namespace: EnvValue::new("bar").unwrap(),
            service_account: EnvValue::new("default").unwrap(),
            labels: BTreeMap::new(),
            ports: BTreeMap::new(),
            network: EnvValue::default(),
            cluster_id: EnvValue::new("Kubernetes").unwrap(),
            mesh_id: EnvValue::default(),
            trust_domain: EnvValue::default(),
            revision: None,
            istio_namespace: EnvValue::new("istio-system").unwrap(),
            address: Some(WorkloadAddress::Internal(IpAddr::V4(Ipv4Addr::LOCALHOST))),
            capture_dns: true,
            status_port: None,
            autoregister: false,
            proxy_metadata: BTreeMap::new(),
            readiness_probe: None,
            discovery_address: None,
        }
    }

    /// `yaml` without the entries under `  proxyMetadata:` (the lines
    /// indented deeper than it, up to the next field at its level).
    fn without_metadata(yaml: &str) -> String {
        let mut out = String::new();
        let mut inside = false;
        for line in yaml.lines() {
            if inside && line.starts_with("    ") {
                continue;
            }
            inside = line == "  proxyMetadata:";
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    #[test]
    fn optional_fields_appear_in_natural_order() {
        let mut e = env();
        e.discovery_address = Some("istiod.example:15012".to_owned());
        e.mesh_id = EnvValue::new("mesh1").unwrap();
        e.status_port = Some(15099);
        e.readiness_probe = Some(ReadinessProbe {
            period_seconds: 5,
            failure_threshold: 3,
            method: Some(HealthCheck::HttpGet(HttpGet {
                path: "/ready".to_owned(),
                port: 8080,
                host: String::new(),
                scheme: "HTTPS".to_owned(),
                http_headers: vec![
                    HttpHeader {
                        name: "X-A".to_owned(),
                        value: "1".to_owned(),
                    },
                    HttpHeader::default(),
                ],
            })),
            ..ReadinessProbe::default()
        });
        let yaml = mesh_yaml(&e);
        assert_eq!(
            without_metadata(&yaml),
            "\
defaultConfig:
  discoveryAddress: istiod.example:15012
  meshId: mesh1
  proxyMetadata:
  readinessProbe:
    failureThreshold: 3
    httpGet:
      httpHeaders:
      - name: X-A
        value: \"1\"
      - {}
      path: /ready
      port: 8080
      scheme: HTTPS
    periodSeconds: 5
  statusPort: 15099
"
        );
        assert!(yaml.contains("\n    ISTIO_META_MESH_ID: mesh1\n"));
    }

    #[test]
    fn exec_tcp_and_grpc_probes() {
        let mut e = env();
        let probe = |method| ReadinessProbe {
            method: Some(method),
            ..ReadinessProbe::default()
        };
        e.readiness_probe = Some(probe(HealthCheck::Exec {
            command: vec!["/bin/sh".to_owned(), "-c".to_owned(), "exit 0".to_owned()],
        }));
        assert!(mesh_yaml(&e).ends_with(
            "  readinessProbe:\n    exec:\n      command:\n      - /bin/sh\n      - '-c'\n      - 'exit 0'\n"
        ));
        e.readiness_probe = Some(probe(HealthCheck::Exec { command: vec![] }));
        assert!(mesh_yaml(&e).ends_with("  readinessProbe:\n    exec: {}\n"));
        e.readiness_probe = Some(probe(HealthCheck::TcpSocket {
            host: String::new(),
            port: 3306,
        }));
        assert!(mesh_yaml(&e).ends_with("  readinessProbe:\n    tcpSocket:\n      port: 3306\n"));
        e.readiness_probe = Some(probe(HealthCheck::Grpc {
            port: 9090,
            service: "health".to_owned(),
        }));
        assert!(
            mesh_yaml(&e)
                .ends_with("  readinessProbe:\n    grpc:\n      port: 9090\n      service: health\n")
        );
        e.readiness_probe = Some(ReadinessProbe::default());
        assert!(mesh_yaml(&e).ends_with("  readinessProbe: {}\n"));
    }

    #[test]
    fn revision_fills_discovery_address_only_when_unset() {
        let mut e = env();
        assert!(!mesh_yaml(&e).contains("discoveryAddress"));
        e.revision = Some(EnvValue::new("rev-1").unwrap());
        assert!(
            mesh_yaml(&e)
                .starts_with("defaultConfig:\n  discoveryAddress: istiod-rev-1.istio-system.svc:15012\n")
        );
        e.discovery_address = Some("custom:15012".to_owned());
        assert!(mesh_yaml(&e).starts_with("defaultConfig:\n  discoveryAddress: custom:15012\n"));
    }
}
