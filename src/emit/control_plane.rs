//! The control plane's install input: what the Istio guides install istiod
//! and the east-west gateway with, written from the same topology as the
//! VMs and the cluster objects, so that the names they must share (mesh id,
//! cluster id, network, trust domain, revision) agree by construction.
//!
//! ```text
//! control-plane/<cluster>/istiod-values.yaml            values of the `istiod` Helm chart (each control-plane cluster)
//! control-plane/<cluster>/eastwest-gateway-values.yaml   values of the `gateway` Helm chart (each cluster with an east-west gateway)
//! control-plane/<cluster>/eastwest-gateway.iop.yaml      the IstioOperator `gen-eastwest-gateway.sh` prints, for istioctl users
//! ```
//!
//! The `base` chart needs no values. Only the modern flow (Istio 1.8+) gets
//! these files: the legacy releases (0.8–1.7) were installed from the
//! monolithic `istio` chart, whose mesh-expansion values meshc does not
//! model; their control-plane access is the ILB Services under
//! `kubernetes/`, and nothing is written here for them.
//!
//! **Networks.** Every istiod gets the whole mesh's `meshNetworks` in a
//! multi-network mesh: for each network that holds a cluster or a VM, its
//! endpoints (`fromRegistry` for each cluster on it, by cluster id;
//! `fromCidr` for each of its CIDRs, or each VM address when it declares
//! none) and its gateways (`address: <east-west gateway>, port: 15443`, for
//! each cluster on it with an east-west gateway). Istio treats an endpoint
//! on a network with no known gateway as directly reachable
//! (`pilot/pkg/xds/endpoints/ep_filters.go`), so `check` (E703, E709)
//! refuses any call into a network that has none; a network's `gateway`
//! setting is not one, since nothing meshc emits runs there. A single-network
//! mesh writes no `meshNetworks` (the guides write none), but still names
//! its network everywhere: `global.network` here, the control-plane
//! namespace label, the WorkloadEntries and the VMs' `cluster.env`.
//!
//! **Which chart.** Keys are those of the reference release line nearest to
//! the topology's Istio version (1.24.6 or 1.28.10, named in each header);
//! a test walks every emitted key through that line's chart values and
//! schema.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::artifact::{Artifact, Mode};
use crate::check::Checked;
use crate::check::ClusterId;
use crate::model::{Cluster, Flow, IstioVersion, Topology};

/// Cross-network traffic port of an east-west gateway (`AUTO_PASSTHROUGH`).
pub const CROSS_NETWORK_PORT: u16 = 15443;

/// The east-west gateway's Helm release name; the chart derives the pod
/// label `istio: eastwestgateway` (the `cross-network-gateway` and
/// `istiod-gateway` selector) from it.
const GATEWAY_NAME: &str = "istio-eastwestgateway";

/// Every control-plane install file, sorted by path.
pub fn emit(checked: &Checked, source_name: &str) -> Vec<Artifact> {
    let topo = checked.topology();
    if topo.mesh.flow() == Flow::Legacy {
        return Vec::new();
    }
    let ix = checked.index();
    let line = reference_line(topo.mesh.istio.value);
    let networks = mesh_networks(topo);
    let control_planes: Vec<ClusterId> = if ix.control_planes.is_empty() {
        topo.cluster_ids().map(|(c, _)| c).collect()
    } else {
        ix.control_planes.clone()
    };
    let mut out = Vec::new();
    for (c, cluster) in topo.cluster_ids() {
        let dir = format!("control-plane/{}", cluster.name.value);
        if control_planes.contains(&c) {
            let values = istiod_values(topo, cluster, &networks);
            out.push(file(
                format!("{dir}/istiod-values.yaml"),
                source_name,
                &istiod_header(topo, cluster, line),
                &values,
            ));
        }
        if let Some(address) = &cluster.east_west_gateway {
            let address = address.value.to_string();
            let network = cluster.network.value.as_str();
            let ns = topo.mesh.control_plane_namespace();
            let header = gateway_header(
                cluster,
                &address,
                line,
                &format!("helm install {GATEWAY_NAME} istio/gateway -n {ns} -f eastwest-gateway-values.yaml"),
            );
            out.push(file(
                format!("{dir}/eastwest-gateway-values.yaml"),
                source_name,
                &header,
                &gateway_values(topo, network, &address),
            ));
            let header = gateway_header(
                cluster,
                &address,
                line,
                "istioctl install -y -f eastwest-gateway.iop.yaml",
            );
            out.push(file(
                format!("{dir}/eastwest-gateway.iop.yaml"),
                source_name,
                &header,
                &eastwest_operator(topo, network, &address),
            ));
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The reference release line whose chart keys a version's files use: the
/// nearer of 1.24 and 1.28 (1.24 up to 1.26, whose keys both lines share).
pub fn reference_line(v: IstioVersion) -> &'static str {
    if (v.major, v.minor) <= (1, 26) {
        "1.24.6"
    } else {
        "1.28.10"
    }
}

fn file<T: Serialize>(path: String, source_name: &str, comments: &str, value: &T) -> Artifact {
    let mut contents = crate::emit::vm::text::header(source_name);
    contents.push_str(comments);
    contents.push_str(&crate::emit::yaml::document(value));
    Artifact {
        path,
        contents: crate::emit::exact(contents),
        mode: Mode::Regular,
    }
}

fn istiod_header(topo: &Topology, cluster: &Cluster, line: &str) -> String {
    let ns = topo.mesh.control_plane_namespace();
    let release = match &topo.mesh.revision {
        Some(rev) => format!("istiod-{}", rev.value),
        None => "istiod".to_owned(),
    };
    let mut h = format!(
        "# Helm values of the `istiod` chart for cluster `{name}` (keys of Istio {line}'s chart).\n\
         #   helm install {release} istio/istiod -n {ns} -f istiod-values.yaml\n\
         # (after `helm install istio-base istio/base -n {ns}`, which needs no values).\n\
         # VMs joining this cluster present cluster id `{id}` and network `{net}`\n\
         # in their cluster.env: both must stay as written here.\n",
        name = cluster.name.value,
        id = cluster.cluster_id(),
        net = cluster.network.value,
    );
    let primaries = topo.clusters.iter().filter(|c| c.runs_control_plane()).count();
    if primaries > 1 {
        h.push_str(
            "# Multi-primary: before installing, every primary needs the same root CA\n\
             # (the `cacerts` secret in the control-plane namespace), and each primary\n\
             # a remote secret of every other (`istioctl create-remote-secret`).\n\
             # meshc cannot make either offline; the runbook gives the commands.\n",
        );
    }
    h
}

fn gateway_header(cluster: &Cluster, address: &str, line: &str, install: &str) -> String {
    format!(
        "# The east-west gateway of cluster `{name}` on network `{net}` (keys of Istio {line}).\n\
         #   {install}\n\
         # Its load balancer must get address {address}, the one the topology declares:\n\
         # the VMs dial it for istiod, and (across networks) every istiod's meshNetworks names it.\n",
        name = cluster.name.value,
        net = cluster.network.value,
    )
}

// ---- istiod ---------------------------------------------------------------------

#[derive(Serialize)]
struct IstiodValues<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    revision: Option<&'a str>,
    global: Global<'a>,
    #[serde(rename = "meshConfig")]
    mesh_config: MeshConfig<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Global<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    istio_namespace: Option<&'a str>,
    #[serde(rename = "meshID", skip_serializing_if = "Option::is_none")]
    mesh_id: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    mesh_networks: &'a BTreeMap<String, MeshNetwork>,
    multi_cluster: MultiCluster<'a>,
    network: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    proxy: Option<Proxy<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MultiCluster<'a> {
    cluster_name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Proxy<'a> {
    cluster_domain: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MeshConfig<'a> {
    trust_domain: &'a str,
}

/// One entry of `meshNetworks`.
#[derive(Serialize)]
pub struct MeshNetwork {
    pub endpoints: Vec<NetworkEndpoints>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<NetworkGateway>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub enum NetworkEndpoints {
    FromRegistry(String),
    FromCidr(String),
}

#[derive(Serialize)]
pub struct NetworkGateway {
    pub address: String,
    pub port: u16,
}

fn istiod_values<'a>(
    topo: &'a Topology,
    cluster: &'a Cluster,
    networks: &'a BTreeMap<String, MeshNetwork>,
) -> IstiodValues<'a> {
    let ns = topo.mesh.control_plane_namespace();
    IstiodValues {
        revision: topo.mesh.revision.as_ref().map(|r| r.value.as_str()),
        global: Global {
            istio_namespace: (ns != "istio-system").then_some(ns),
            mesh_id: topo.mesh.mesh_id.as_ref().map(|m| m.value.as_str()),
            mesh_networks: networks,
            multi_cluster: MultiCluster {
                cluster_name: cluster.cluster_id(),
            },
            network: &cluster.network.value,
            proxy: cluster.cluster_domain.as_ref().map(|d| Proxy {
                cluster_domain: &d.value,
            }),
        },
        mesh_config: MeshConfig {
            trust_domain: topo.mesh.trust_domain(),
        },
    }
}

/// The `meshNetworks` of a multi-network mesh (empty on one network), by
/// network name.
pub fn mesh_networks(topo: &Topology) -> BTreeMap<String, MeshNetwork> {
    let in_use = crate::emit::kubernetes::placement::networks_in_use(topo);
    if in_use.len() < 2 {
        return BTreeMap::new();
    }
    let mut out = BTreeMap::new();
    for network in &topo.networks {
        let name = network.name.value.as_str();
        if !in_use.contains(name) {
            continue;
        }
        let clusters: Vec<&Cluster> = topo.clusters.iter().filter(|c| c.network.value == name).collect();
        let mut endpoints: Vec<NetworkEndpoints> = clusters
            .iter()
            .map(|c| NetworkEndpoints::FromRegistry(c.cluster_id().to_owned()))
            .collect();
        if network.cidrs.is_empty() {
            endpoints.extend(
                topo.vms
                    .iter()
                    .filter(|v| v.network.value == name)
                    .map(|v| NetworkEndpoints::FromCidr(host_prefix(v.address.value))),
            );
        } else {
            endpoints.extend(
                network
                    .cidrs
                    .iter()
                    .map(|c| NetworkEndpoints::FromCidr(c.value.to_string())),
            );
        }
        let gateways = clusters
            .iter()
            .filter_map(|c| c.east_west_gateway.as_ref())
            .map(|g| NetworkGateway {
                address: g.value.to_string(),
                port: CROSS_NETWORK_PORT,
            })
            .collect();
        out.insert(name.to_owned(), MeshNetwork { endpoints, gateways });
    }
    out
}

fn host_prefix(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(_) => format!("{ip}/32"),
        std::net::IpAddr::V6(_) => format!("{ip}/128"),
    }
}

// ---- east-west gateway ------------------------------------------------------------

/// The four ports of an east-west gateway's Service, as
/// `gen-eastwest-gateway.sh` and the gateway chart (with `networkGateway`)
/// declare them: status, cross-network mTLS, istiod XDS/CA, istiod webhook.
const GATEWAY_PORTS: [(&str, u16); 4] = [
    ("status-port", 15021),
    ("tls", CROSS_NETWORK_PORT),
    ("tls-istiod", 15012),
    ("tls-webhook", 15017),
];

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServicePort {
    name: &'static str,
    port: u16,
    target_port: u16,
}

fn service_ports() -> Vec<ServicePort> {
    GATEWAY_PORTS
        .iter()
        .map(|&(name, port)| ServicePort {
            name,
            port,
            target_port: port,
        })
        .collect()
}

#[derive(Serialize)]
struct GatewayService {
    #[serde(rename = "loadBalancerIP")]
    load_balancer_ip: String,
    ports: Vec<ServicePort>,
}

/// Values of the `gateway` chart. `networkGateway` makes the chart label
/// the Service with `topology.istio.io/network` and set
/// `ISTIO_META_REQUESTED_NETWORK_VIEW` on the proxy (setting that variable
/// in `env` as well would declare it twice); the pod labels are given so
/// that the pods carry the network label too.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GatewayValues<'a> {
    name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    revision: Option<&'a str>,
    network_gateway: &'a str,
    labels: BTreeMap<&'static str, &'a str>,
    service: GatewayService,
}

fn gateway_labels(network: &str) -> BTreeMap<&'static str, &str> {
    BTreeMap::from([
        ("app", GATEWAY_NAME),
        ("istio", "eastwestgateway"),
        ("topology.istio.io/network", network),
    ])
}

fn gateway_values<'a>(topo: &'a Topology, network: &'a str, address: &str) -> GatewayValues<'a> {
    GatewayValues {
        name: GATEWAY_NAME,
        revision: topo.mesh.revision.as_ref().map(|r| r.value.as_str()),
        network_gateway: network,
        labels: gateway_labels(network),
        service: GatewayService {
            load_balancer_ip: address.to_owned(),
            ports: service_ports(),
        },
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Operator<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: OperatorMeta,
    spec: OperatorSpec<'a>,
}

#[derive(Serialize)]
struct OperatorMeta {
    name: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OperatorSpec<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    revision: Option<&'a str>,
    profile: &'static str,
    components: Components<'a>,
    values: OperatorValues<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Components<'a> {
    ingress_gateways: Vec<IngressGateway<'a>>,
}

#[derive(Serialize)]
struct IngressGateway<'a> {
    name: &'static str,
    label: BTreeMap<&'static str, &'a str>,
    enabled: bool,
    k8s: K8s<'a>,
}

#[derive(Serialize)]
struct K8s<'a> {
    env: Vec<EnvVar<'a>>,
    service: GatewayService,
}

#[derive(Serialize)]
struct EnvVar<'a> {
    name: &'static str,
    value: &'a str,
}

#[derive(Serialize)]
struct OperatorValues<'a> {
    gateways: BTreeMap<&'static str, InjectionTemplate>,
    global: OperatorGlobal<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InjectionTemplate {
    injection_template: &'static str,
}

#[derive(Serialize)]
struct OperatorGlobal<'a> {
    network: &'a str,
}

/// What `gen-eastwest-gateway.sh --network <net> [--revision <rev>]` prints,
/// with the declared address on the Service.
fn eastwest_operator<'a>(topo: &'a Topology, network: &'a str, address: &str) -> Operator<'a> {
    Operator {
        api_version: "install.istio.io/v1alpha1",
        kind: "IstioOperator",
        metadata: OperatorMeta { name: "eastwest" },
        spec: OperatorSpec {
            revision: topo.mesh.revision.as_ref().map(|r| r.value.as_str()),
            profile: "empty",
            components: Components {
                ingress_gateways: vec![IngressGateway {
                    name: GATEWAY_NAME,
                    label: gateway_labels(network),
                    enabled: true,
                    k8s: K8s {
                        // Traffic through this gateway is routed inside its network.
                        env: vec![EnvVar {
                            name: "ISTIO_META_REQUESTED_NETWORK_VIEW",
                            value: network,
                        }],
                        service: GatewayService {
                            load_balancer_ip: address.to_owned(),
                            ports: service_ports(),
                        },
                    },
                }],
            },
            values: OperatorValues {
                gateways: BTreeMap::from([(
                    "istio-ingressgateway",
                    InjectionTemplate {
                        injection_template: "gateway",
                    },
                )]),
                global: OperatorGlobal { network },
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;
    use crate::syntax::{Limits, Syntax};

    fn build(text: &str) -> BTreeMap<String, String> {
        let source = Source::new("t.kdl", text.to_owned());
        let (checked, diags) = crate::check_source(&source, Syntax::Kdl, Limits::default());
        let checked = checked.unwrap_or_else(|| panic!("{diags:#?}"));
        emit(&checked, "t.kdl")
            .into_iter()
            .map(|a| (a.path, a.contents))
            .collect()
    }

    #[test]
    fn a_network_of_vms_without_ranges_is_known_by_their_addresses() {
        // The VM only calls out (nothing calls into `dc`, so it needs no
        // gateway); istiod must still know its network, by its address.
        let out = build(
            r#"
mesh m { istio "1.28"; mesh-id m1 }
network cloud { cidr "10.0.0.0/16" }
network dc
cluster prod { network cloud; control-plane #true; east-west-gateway "10.0.0.100"; cluster-id c-1 }
vm db { address "192.168.1.5"; network dc }
service db { port tcp 5432; deploy v1 vm=db; calls api }
service api { port http 8080; deploy v1 cluster=prod; entry-point #true }
"#,
        );
        let values = &out["control-plane/prod/istiod-values.yaml"];
        assert!(values.contains("(keys of Istio 1.28.10's chart)"), "{values}");
        assert!(
            values.contains(
                "    cloud:\n      endpoints:\n      - fromRegistry: c-1\n      - fromCidr: 10.0.0.0/16\n      gateways:\n      - address: \"10.0.0.100\"\n        port: 15443\n"
            ),
            "{values}"
        );
        assert!(
            values.contains("    dc:\n      endpoints:\n      - fromCidr: 192.168.1.5/32\n  multiCluster:\n"),
            "{values}"
        );
        assert!(
            values.contains("    clusterName: c-1\n  network: cloud\n"),
            "{values}"
        );
        // One control plane: no multi-primary note.
        assert!(!values.contains("cacerts"), "{values}");
    }

    #[test]
    fn legacy_meshes_get_no_control_plane_files() {
        let out = build(
            r#"
mesh m { istio "1.0" }
network vpc { cidr "10.0.0.0/16" }
cluster prod { network vpc; control-plane #true; ilb pilot="10.0.0.2" mixer="10.0.0.3" citadel="10.0.0.4" kube-dns="10.0.0.5" }
vm db { address "10.0.1.5"; network vpc }
service db { port tcp 5432; deploy v1 vm=db }
service api { port http 8080; deploy v1 cluster=prod; calls db; entry-point #true }
"#,
        );
        assert!(out.is_empty(), "{out:#?}");
    }

    #[test]
    fn versions_map_to_the_nearest_reference_line() {
        let line = |s: &str| reference_line(IstioVersion::parse(s).expect("version"));
        assert_eq!(line("1.8"), "1.24.6");
        assert_eq!(line("1.26.3"), "1.24.6");
        assert_eq!(line("1.27"), "1.28.10");
        assert_eq!(line("1.30"), "1.28.10");
    }
}
