//! The control plane's install input (`control-plane/<cluster>/…`), proved
//! against what reads it, and the names every artifact must share.
//!
//! * every key of every emitted Helm values file exists in that release
//!   line's chart (`istiod-values.yaml`, `gateway-values.schema.json` under
//!   `../shared/reference/istio/install/<line>/`), and the gateway values
//!   validate against the chart's schema;
//! * the IstioOperator is what `gen-eastwest-gateway.sh` itself prints for
//!   the cluster's network and revision (the script is run), plus the
//!   declared load-balancer address; its Kubernetes parts are k8s-openapi
//!   values;
//! * one network name per cluster and per VM across every artifact that
//!   carries one, and VMs present the cluster id of the istiod they reach;
//! * from the emitted files alone, every call reaches every endpoint of its
//!   callee over a route the topology declares (directly on one network,
//!   through a gateway that exists across networks);
//! * a snapshot of every file.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use ipnet::IpNet;
use meshc::artifact::Artifact;
use meshc::source::Source;
use meshc::syntax::{Limits, Syntax};
use serde_json::Value;

use crate::support::reference_dir;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every example, with its checked topology and every artifact it emits.
struct Example {
    name: String,
    checked: meshc::check::Checked,
    artifacts: BTreeMap<String, String>,
}

fn examples() -> Vec<Example> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .expect("examples/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("topology.kdl").is_file())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 3, "{dirs:?}");
    dirs.iter().map(|d| load(&d.join("topology.kdl"))).collect()
}

fn load(path: &Path) -> Example {
    let text = std::fs::read_to_string(path).expect("read");
    let source = Source::new("topology.kdl", text);
    let (checked, diags) = meshc::check_source(&source, Syntax::Kdl, Limits::default());
    let checked = checked.unwrap_or_else(|| panic!("{}: {diags:#?}", path.display()));
    let artifacts = meshc::emit::all(&checked, "topology.kdl")
        .into_iter()
        .map(|a: Artifact| (a.path, a.contents))
        .collect();
    let name = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("?")
        .to_owned();
    Example {
        name,
        checked,
        artifacts,
    }
}

fn yaml(path: &str, text: &str) -> Value {
    serde_saphyr::from_str::<Value>(text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml_documents(path: &str, text: &str) -> Vec<Value> {
    serde_saphyr::from_str_multiple::<Value, Vec<Value>>(text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `KEY='value'` lines of a generated env file.
fn env_file(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
        .collect()
}

impl Example {
    fn line(&self) -> &'static str {
        meshc::emit::control_plane::reference_line(self.checked.topology().mesh.istio.value)
    }

    fn files_named(&self, suffix: &str) -> Vec<(&String, &String)> {
        self.artifacts
            .iter()
            .filter(|(p, _)| p.starts_with("control-plane/") && p.ends_with(suffix))
            .collect()
    }

    /// `control-plane/<cluster>/<file>`, parsed.
    fn control_plane(&self, cluster: &str, file: &str) -> Option<Value> {
        let path = format!("control-plane/{cluster}/{file}");
        self.artifacts.get(&path).map(|t| yaml(&path, t))
    }

    /// Every object of every Kubernetes manifest.
    fn objects(&self) -> Vec<(String, Value)> {
        self.artifacts
            .iter()
            .filter(|(p, _)| p.starts_with("kubernetes/"))
            .flat_map(|(p, t)| yaml_documents(p, t).into_iter().map(move |o| (p.clone(), o)))
            .collect()
    }

    /// `vms/<vm>/cluster.env`, by VM.
    fn cluster_envs(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        self.artifacts
            .iter()
            .filter_map(|(p, t)| {
                let vm = p.strip_prefix("vms/")?.strip_suffix("/cluster.env")?;
                Some((vm.to_owned(), env_file(t)))
            })
            .collect()
    }

    /// The `topology.istio.io/network` label of each cluster's
    /// control-plane namespace, from the manifests.
    fn cluster_networks(&self) -> BTreeMap<String, String> {
        let cp = self.checked.topology().mesh.control_plane_namespace().to_owned();
        let mut out = BTreeMap::new();
        for (path, o) in self.objects() {
            let Some(cluster) = path
                .strip_prefix("kubernetes/clusters/")
                .and_then(|r| r.split('/').next())
            else {
                continue;
            };
            if o["kind"] == "Namespace" && o["metadata"]["name"] == cp.as_str() {
                let net = o["metadata"]["labels"]["topology.istio.io/network"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{path}: no network label: {o:#}"));
                out.insert(cluster.to_owned(), net.to_owned());
            }
        }
        out
    }
}

// ---- chart keys -----------------------------------------------------------------

fn install_dir(line: &str) -> Option<PathBuf> {
    Some(reference_dir()?.join("istio/install").join(line))
}

/// The values an `istiod` chart accepts, with their defaults (the chart
/// nests them under `_internal_defaults_do_not_set`; users set them at the
/// top level).
fn istiod_chart(line: &str) -> Option<Value> {
    let path = install_dir(line)?.join("istiod-values.yaml");
    let text = std::fs::read_to_string(&path).expect("istiod-values.yaml");
    let v = yaml(&path.display().to_string(), &text);
    Some(v["_internal_defaults_do_not_set"].clone())
}

/// The keys below `meshConfig` that the chart's own mesh template writes
/// (`templates/configmap.yaml`, which `meshConfig` is merged over): the
/// chart's defaults list only `enablePrometheusMerge` there, but every
/// MeshConfig field is accepted.
const MESH_CONFIG_KEYS_OF_THE_TEMPLATE: &[&str] = &["trustDomain", "rootNamespace", "defaultConfig"];

/// Walks `emitted` against the chart's defaults: every map key must exist
/// there. An empty map or list in the chart is free-form (labels, env,
/// `meshNetworks`) and checked elsewhere.
fn check_keys(emitted: &Value, chart: &Value, path: &str, errors: &mut Vec<String>) {
    let Value::Object(map) = emitted else {
        return;
    };
    for (k, v) in map {
        let here = format!("{path}.{k}");
        if here == ".meshConfig" {
            for key in v.as_object().into_iter().flat_map(|m| m.keys()) {
                if chart["meshConfig"].get(key).is_none()
                    && !MESH_CONFIG_KEYS_OF_THE_TEMPLATE.contains(&key.as_str())
                {
                    errors.push(format!("{here}.{key}: not a key of the chart's mesh config"));
                }
            }
            continue;
        }
        match chart.get(k) {
            None => errors.push(format!("{here}: not a key of the chart")),
            Some(Value::Object(c)) if c.is_empty() => {}
            Some(c @ Value::Object(_)) => check_keys(v, c, &here, errors),
            Some(_) => {}
        }
    }
}

/// `meshNetworks` in the shape of Istio's `MeshNetworks` message: per
/// network, `endpoints` of `fromCidr` or `fromRegistry` (at least one), and
/// `gateways` of `address` and `port`.
fn check_mesh_networks(networks: &Value, errors: &mut Vec<String>) {
    let Some(map) = networks.as_object() else {
        return;
    };
    for (name, n) in map {
        for k in n.as_object().into_iter().flat_map(|m| m.keys()) {
            if !["endpoints", "gateways"].contains(&k.as_str()) {
                errors.push(format!("meshNetworks.{name}.{k}: not a field of Network"));
            }
        }
        let endpoints = n["endpoints"].as_array().cloned().unwrap_or_default();
        if endpoints.is_empty() {
            errors.push(format!("meshNetworks.{name}: no endpoints (istiod refuses it)"));
        }
        for e in endpoints {
            let keys: Vec<&String> = e.as_object().into_iter().flat_map(|m| m.keys()).collect();
            let ok = keys.len() == 1
                && (e["fromRegistry"].is_string()
                    || e["fromCidr"].as_str().is_some_and(|c| c.parse::<IpNet>().is_ok()));
            if !ok {
                errors.push(format!("meshNetworks.{name}.endpoints: bad entry {e}"));
            }
        }
        for g in n["gateways"].as_array().cloned().unwrap_or_default() {
            let keys: BTreeSet<&str> = g
                .as_object()
                .into_iter()
                .flat_map(|m| m.keys())
                .map(String::as_str)
                .collect();
            let ok = keys == BTreeSet::from(["address", "port"])
                && g["address"].as_str().is_some_and(|a| a.parse::<IpAddr>().is_ok())
                && g["port"].as_u64().is_some_and(|p| p > 0 && p < 65536);
            if !ok {
                errors.push(format!("meshNetworks.{name}.gateways: bad entry {g}"));
            }
        }
    }
}

#[test]
fn istiod_values_use_only_keys_of_the_chart() {
    let mut checked = 0;
    for ex in examples() {
        let Some(chart) = istiod_chart(ex.line()) else {
            return;
        };
        for (path, text) in ex.files_named("/istiod-values.yaml") {
            assert!(
                text.contains(&format!("Istio {}", ex.line())),
                "{path}: the header names the chart's release line"
            );
            let v = yaml(path, text);
            let mut errors = Vec::new();
            check_keys(&v, &chart, "", &mut errors);
            check_mesh_networks(&v["global"]["meshNetworks"], &mut errors);
            assert!(errors.is_empty(), "{}/{path}: {errors:#?}", ex.name);
            checked += 1;
        }
    }
    assert!(
        checked >= 3,
        "expected istiod values for every modern control plane"
    );
}

/// The chart's schema for the values (`$defs.values`), made a standalone
/// document.
fn gateway_schema(line: &str) -> Option<Value> {
    let path = install_dir(line)?.join("gateway-values.schema.json");
    let text = std::fs::read_to_string(path).expect("gateway-values.schema.json");
    let full: Value = serde_json::from_str(&text).expect("json");
    let mut values = full["$defs"]["values"].clone();
    values["$defs"] = full["$defs"].clone();
    Some(values)
}

/// Walks `emitted` against a JSON schema's `properties`: every key must be
/// declared, down to an object the schema leaves open (no `properties`).
fn check_schema_keys(emitted: &Value, schema: &Value, path: &str, errors: &mut Vec<String>) {
    match emitted {
        Value::Object(map) => {
            let Some(props) = schema["properties"].as_object() else {
                return;
            };
            for (k, v) in map {
                match props.get(k) {
                    None => errors.push(format!("{path}.{k}: not in the chart's schema")),
                    Some(s) => check_schema_keys(v, s, &format!("{path}.{k}"), errors),
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                check_schema_keys(v, &schema["items"], &format!("{path}[{i}]"), errors);
            }
        }
        _ => {}
    }
}

#[test]
fn gateway_values_use_only_keys_of_the_chart_schema() {
    let mut checked = 0;
    for ex in examples() {
        let Some(schema) = gateway_schema(ex.line()) else {
            return;
        };
        let validator = jsonschema::validator_for(&schema).expect("the chart's schema compiles");
        for (path, text) in ex.files_named("/eastwest-gateway-values.yaml") {
            let v = yaml(path, text);
            let mut errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
            check_schema_keys(&v, &schema, "", &mut errors);
            assert!(errors.is_empty(), "{}/{path}: {errors:#?}", ex.name);
            // The network gateway of the network its cluster is on.
            assert_eq!(
                v["networkGateway"], v["labels"]["topology.istio.io/network"],
                "{path}"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 3,
        "expected gateway values for every east-west gateway"
    );
}

/// The IstioOperator is what the guides' script prints for the same
/// network and revision, with the declared address on the Service; its
/// `values` are keys of the chart and its Kubernetes parts are Kubernetes
/// types.
#[test]
fn eastwest_operator_is_what_gen_eastwest_gateway_prints() {
    let mut checked = 0;
    for ex in examples() {
        let Some(dir) = install_dir(ex.line()) else {
            return;
        };
        let chart = istiod_chart(ex.line()).expect("chart");
        let topo = ex.checked.topology();
        for (path, text) in ex.files_named("/eastwest-gateway.iop.yaml") {
            let ours = yaml(path, text);
            let network = ours["spec"]["values"]["global"]["network"]
                .as_str()
                .expect("a network")
                .to_owned();
            let mut args = vec!["--network".to_owned(), network.clone()];
            if let Some(rev) = &topo.mesh.revision {
                args.extend(["--revision".to_owned(), rev.value.clone()]);
            }
            let out = Command::new("bash")
                .arg(dir.join("gen-eastwest-gateway.sh"))
                .args(&args)
                .output()
                .expect("bash runs");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let mut theirs = yaml("gen-eastwest-gateway.sh", &String::from_utf8_lossy(&out.stdout));
            // The script always writes `revision`, empty without one.
            if theirs["spec"]["revision"] == "" {
                theirs["spec"].as_object_mut().expect("spec").remove("revision");
            }
            // meshc adds the address the topology declares.
            let mut ours_without_address = ours.clone();
            let service =
                &mut ours_without_address["spec"]["components"]["ingressGateways"][0]["k8s"]["service"];
            let address = service
                .as_object_mut()
                .and_then(|s| s.remove("loadBalancerIP"))
                .expect("the declared address");
            assert_eq!(ours_without_address, theirs, "{}/{path}", ex.name);
            let cluster = path.split('/').nth(1).expect("cluster");
            let declared = topo
                .clusters
                .iter()
                .find(|c| c.name.value == cluster)
                .and_then(|c| c.east_west_gateway.as_ref())
                .map(|g| g.value.to_string());
            assert_eq!(address.as_str().map(str::to_owned), declared, "{path}");

            // `values.global` is the istiod chart's; `values.gateways.
            // istio-ingressgateway` belongs to the operator's gateway chart
            // (not in the reference) and is exactly the script's, above.
            let mut errors = Vec::new();
            check_keys(
                &ours["spec"]["values"]["global"],
                &chart["global"],
                ".values.global",
                &mut errors,
            );
            assert!(errors.is_empty(), "{path}: {errors:#?}");
            let k8s = &ours["spec"]["components"]["ingressGateways"][0]["k8s"];
            let spec: k8s_openapi::api::core::v1::ServiceSpec =
                serde_json::from_value(k8s["service"].clone()).expect("a ServiceSpec");
            assert_eq!(
                serde_json::to_value(&spec).expect("json"),
                k8s["service"],
                "{path}"
            );
            let env: Vec<k8s_openapi::api::core::v1::EnvVar> =
                serde_json::from_value(k8s["env"].clone()).expect("EnvVars");
            assert_eq!(serde_json::to_value(&env).expect("json"), k8s["env"], "{path}");
            checked += 1;
        }
    }
    assert!(checked >= 3);
}

// ---- names that must agree -----------------------------------------------------

/// One network name per cluster and per VM, wherever an artifact carries
/// it, read from the artifacts: the control-plane namespace label, istiod's
/// `global.network`, the east-west gateway (chart and IstioOperator), the
/// WorkloadEntries and WorkloadGroups, and the VM's `cluster.env` and
/// `mesh.yaml`. And each VM presents the cluster id of the istiod its
/// `hosts` file leads to.
#[test]
fn every_artifact_names_the_same_network() {
    for ex in examples() {
        let modern = ex.checked.topology().mesh.flow() == meshc::model::Flow::Modern;
        let clusters = ex.cluster_networks();
        if !modern {
            // The legacy flow predates networks: nothing may name one.
            assert!(clusters.is_empty(), "{}: {clusters:?}", ex.name);
            for env in ex.cluster_envs().values() {
                assert!(
                    env.get("ISTIO_META_NETWORK").is_none_or(String::is_empty),
                    "{}",
                    ex.name
                );
            }
            continue;
        }
        assert_eq!(
            clusters.len(),
            ex.checked.topology().clusters.len(),
            "{}: every cluster's control-plane namespace is labelled",
            ex.name
        );
        // Per cluster: the label, istiod's values, the gateway's.
        let mut gateway_of_address: BTreeMap<String, String> = BTreeMap::new();
        for (cluster, net) in &clusters {
            if let Some(v) = ex.control_plane(cluster, "istiod-values.yaml") {
                assert_eq!(v["global"]["network"], net.as_str(), "{}/{cluster}", ex.name);
            }
            if let Some(v) = ex.control_plane(cluster, "eastwest-gateway-values.yaml") {
                assert_eq!(v["networkGateway"], net.as_str(), "{}/{cluster}", ex.name);
                assert_eq!(v["labels"]["topology.istio.io/network"], net.as_str());
                let address = v["service"]["loadBalancerIP"].as_str().expect("address");
                gateway_of_address.insert(address.to_owned(), cluster.clone());
            }
            if let Some(v) = ex.control_plane(cluster, "eastwest-gateway.iop.yaml") {
                let gw = &v["spec"]["components"]["ingressGateways"][0];
                assert_eq!(gw["label"]["topology.istio.io/network"], net.as_str());
                assert_eq!(gw["k8s"]["env"][0]["value"], net.as_str());
                assert_eq!(v["spec"]["values"]["global"]["network"], net.as_str());
            }
        }
        let known: BTreeSet<&String> = clusters.values().collect();
        // Per VM: its entry, its group, its own files.
        let objects = ex.objects();
        for (vm, env) in ex.cluster_envs() {
            let net = env.get("ISTIO_META_NETWORK").expect("ISTIO_META_NETWORK");
            let ip = env.get("ISTIO_SVC_IP").expect("ISTIO_SVC_IP");
            let mesh = yaml("mesh.yaml", &ex.artifacts[&format!("vms/{vm}/mesh.yaml")]);
            assert_eq!(
                mesh["defaultConfig"]["proxyMetadata"]["ISTIO_META_NETWORK"],
                net.as_str()
            );
            let workload = env.get("ISTIO_META_WORKLOAD_NAME").expect("workload name");
            let ns = env.get("POD_NAMESPACE").expect("namespace");
            let mut seen = 0;
            for (path, o) in &objects {
                let mine = match o["kind"].as_str() {
                    Some("WorkloadEntry") => o["spec"]["address"] == ip.as_str(),
                    Some("WorkloadGroup") => {
                        o["metadata"]["name"] == workload.as_str()
                            && o["metadata"]["namespace"] == ns.as_str()
                    }
                    _ => false,
                };
                if mine {
                    let n = o["spec"]["network"]
                        .as_str()
                        .or(o["spec"]["template"]["network"].as_str());
                    assert_eq!(n, Some(net.as_str()), "{}: {path} vs vms/{vm}", ex.name);
                    seen += 1;
                }
            }
            assert!(
                seen > 0,
                "{}: no WorkloadEntry or WorkloadGroup for {vm}",
                ex.name
            );
            // A VM's network is one the clusters know: a cluster on it, or
            // (several networks) an entry of every istiod's meshNetworks.
            let in_mesh_networks = clusters.keys().all(|c| {
                ex.control_plane(c, "istiod-values.yaml")
                    .is_none_or(|v| v["global"]["meshNetworks"].get(net.as_str()).is_some())
            });
            assert!(
                known.contains(net) || in_mesh_networks,
                "{}: {vm} on unknown network {net}",
                ex.name
            );
            // The cluster id it presents is the one of the istiod its hosts
            // file sends it to (through that cluster's east-west gateway).
            if let Some(hosts) = ex.artifacts.get(&format!("vms/{vm}/hosts")) {
                let id = env.get("ISTIO_META_CLUSTER_ID").expect("cluster id");
                for line in hosts.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
                    let address = line.split_whitespace().next().expect("address");
                    let cluster = gateway_of_address
                        .get(address)
                        .unwrap_or_else(|| panic!("{}: {vm} dials {address}, no gateway has it", ex.name));
                    let v = ex
                        .control_plane(cluster, "istiod-values.yaml")
                        .expect("istiod values");
                    assert_eq!(
                        v["global"]["multiCluster"]["clusterName"],
                        id.as_str(),
                        "{}: {vm}",
                        ex.name
                    );
                }
            }
        }
    }
}

// ---- every call has a route ------------------------------------------------------

/// Where a workload runs, as the artifacts tell it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    /// A pod of a cluster (pods are the application's manifests, not
    /// meshc's: their clusters are the one thing taken from the topology).
    Pod { cluster: String },
    /// A VM: its address.
    Vm { address: String },
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Endpoint {
    place: Place,
    network: String,
    /// The cluster whose istiod configures this workload's proxy.
    istiod_cluster: String,
}

/// Per `(namespace, app)`: where its workloads run.
fn endpoints(ex: &Example) -> BTreeMap<(String, String), BTreeSet<Endpoint>> {
    let clusters = ex.cluster_networks();
    let mut by_id: BTreeMap<String, String> = BTreeMap::new();
    for c in clusters.keys() {
        if let Some(v) = ex.control_plane(c, "istiod-values.yaml") {
            let id = v["global"]["multiCluster"]["clusterName"].as_str().expect("id");
            by_id.insert(id.to_owned(), c.clone());
        }
    }
    let mut out: BTreeMap<(String, String), BTreeSet<Endpoint>> = BTreeMap::new();
    // VMs, from their own files (auto-registered ones have no entry) ...
    for env in ex.cluster_envs().values() {
        let key = (env["POD_NAMESPACE"].clone(), env["CANONICAL_SERVICE"].clone());
        let istiod_cluster = by_id
            .get(&env["ISTIO_META_CLUSTER_ID"])
            .unwrap_or_else(|| {
                panic!(
                    "{}: no istiod has cluster id {}",
                    ex.name, env["ISTIO_META_CLUSTER_ID"]
                )
            })
            .clone();
        out.entry(key).or_default().insert(Endpoint {
            place: Place::Vm {
                address: env["ISTIO_SVC_IP"].clone(),
            },
            network: env["ISTIO_META_NETWORK"].clone(),
            istiod_cluster,
        });
    }
    // ... and from the WorkloadEntries istiod reads, which must agree.
    for (path, o) in ex.objects() {
        if o["kind"] != "WorkloadEntry" {
            continue;
        }
        let key = (
            o["metadata"]["namespace"].as_str().expect("ns").to_owned(),
            o["spec"]["labels"]["app"].as_str().expect("app").to_owned(),
        );
        let address = o["spec"]["address"].as_str().expect("address");
        let known = out.get(&key).into_iter().flatten().find(|e| {
            e.place
                == Place::Vm {
                    address: address.to_owned(),
                }
        });
        let known = known.unwrap_or_else(|| panic!("{path}: an entry for no VM bundle: {o:#}"));
        assert_eq!(o["spec"]["network"], known.network.as_str(), "{path}");
    }
    // Pods: the topology's cluster placements, on the network their
    // cluster's label names.
    let topo = ex.checked.topology();
    for s in &topo.services {
        for d in &s.deployments {
            if let meshc::model::Placement::Cluster(c) = &d.placement {
                let network = clusters[&c.value].clone();
                let istiod_cluster = if by_id.values().any(|x| *x == c.value) {
                    c.value.clone()
                } else {
                    // A cluster without istiod is configured by a primary;
                    // every primary has the same meshNetworks.
                    by_id.values().next().expect("a primary").clone()
                };
                out.entry((s.namespace.value.clone(), s.name.value.clone()))
                    .or_default()
                    .insert(Endpoint {
                        place: Place::Pod {
                            cluster: c.value.clone(),
                        },
                        network,
                        istiod_cluster,
                    });
            }
        }
    }
    out
}

/// Per calling `(namespace, app)`: the `(namespace, service)`s its Sidecar
/// lets it call.
fn calls(ex: &Example) -> BTreeMap<(String, String), BTreeSet<(String, String)>> {
    let mut out: BTreeMap<(String, String), BTreeSet<(String, String)>> = BTreeMap::new();
    for (_, o) in ex.objects() {
        if o["kind"] != "Sidecar" {
            continue;
        }
        let caller = (
            o["metadata"]["namespace"].as_str().expect("ns").to_owned(),
            o["spec"]["workloadSelector"]["labels"]["app"]
                .as_str()
                .expect("app")
                .to_owned(),
        );
        for egress in o["spec"]["egress"].as_array().into_iter().flatten() {
            for host in egress["hosts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                let Some((_, fqdn)) = host.split_once('/') else {
                    continue;
                };
                let mut parts = fqdn.split('.');
                if let (Some(svc), Some(ns), Some("svc")) = (parts.next(), parts.next(), parts.next()) {
                    out.entry(caller.clone())
                        .or_default()
                        .insert((ns.to_owned(), svc.to_owned()));
                }
            }
        }
    }
    out
}

/// How a caller reaches one endpoint, or why it cannot. Istio sends a
/// request for an endpoint on another network to that network's gateways
/// from the caller's istiod's `meshNetworks`, and dials the endpoint itself
/// when there are none (`ep_filters.go`). A route exists inside a network
/// (to a VM, only at an address within the network's declared ranges), and
/// across networks only to an east-west gateway meshc installs on the
/// callee's network, which then forwards inside that network.
fn route(ex: &Example, from: &Endpoint, to: &Endpoint) -> Result<String, String> {
    let topo = ex.checked.topology();
    let inside = |network: &str, place: &Place| -> bool {
        let Place::Vm { address } = place else {
            return true;
        };
        let ip: IpAddr = address.parse().expect("ip");
        let net = topo.networks.iter().find(|n| n.name.value == network);
        net.is_none_or(|n| n.cidrs.is_empty() || n.cidrs.iter().any(|c| c.value.contains(&ip)))
    };
    if from.network == to.network {
        return if inside(&to.network, &to.place) {
            Ok("direct".to_owned())
        } else {
            Err(format!("{:?} is outside network {}", to.place, to.network))
        };
    }
    let values = ex
        .control_plane(&from.istiod_cluster, "istiod-values.yaml")
        .expect("the caller's istiod values");
    let gateways = values["global"]["meshNetworks"][to.network.as_str()]["gateways"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if gateways.is_empty() {
        return Err(format!(
            "istiod of {} knows no gateway of network {}: the caller would dial {:?} directly, across networks",
            from.istiod_cluster, to.network, to.place
        ));
    }
    let clusters = ex.cluster_networks();
    for g in &gateways {
        let address = g["address"].as_str().expect("address");
        assert_eq!(g["port"], 15443, "{}", ex.name);
        // The gateway exists: some cluster on the callee's network installs
        // an east-west gateway at that address and exposes 15443.
        let owner = clusters.iter().find(|(c, net)| {
            **net == to.network
                && ex
                    .control_plane(c, "eastwest-gateway-values.yaml")
                    .is_some_and(|v| v["service"]["loadBalancerIP"] == address)
        });
        let Some((cluster, _)) = owner else {
            return Err(format!(
                "no cluster on network {} runs a gateway at {address}",
                to.network
            ));
        };
        let exposes = ex.objects().iter().any(|(p, o)| {
            p.starts_with(&format!("kubernetes/clusters/{cluster}/"))
                && o["kind"] == "Gateway"
                && o["spec"]["servers"][0]["port"]["number"] == 15443
                && o["spec"]["servers"][0]["tls"]["mode"] == "AUTO_PASSTHROUGH"
        });
        if !exposes {
            return Err(format!("the gateway of {cluster} does not pass 15443 through"));
        }
    }
    if inside(&to.network, &to.place) {
        Ok(format!("through {} gateway(s)", gateways.len()))
    } else {
        Err(format!("{:?} is outside network {}", to.place, to.network))
    }
}

#[test]
fn every_call_has_a_route_the_topology_declares() {
    let mut crossings = 0;
    for ex in examples() {
        if ex.checked.topology().mesh.flow() != meshc::model::Flow::Modern {
            continue;
        }
        let endpoints = endpoints(&ex);
        let calls = calls(&ex);
        assert!(!calls.is_empty(), "{}: no Sidecar says who calls whom", ex.name);
        let mut problems = Vec::new();
        for (caller, callees) in &calls {
            for callee in callees {
                let to = endpoints
                    .get(callee)
                    .unwrap_or_else(|| panic!("{}: {callee:?} runs nowhere", ex.name));
                for from in endpoints.get(caller).into_iter().flatten() {
                    for e in to {
                        match route(&ex, from, e) {
                            Ok(how) => crossings += usize::from(how != "direct"),
                            Err(why) => problems.push(format!("{caller:?} at {from:?} → {callee:?}: {why}")),
                        }
                    }
                }
            }
        }
        assert!(problems.is_empty(), "{}: {problems:#?}", ex.name);
    }
    assert!(
        crossings > 0,
        "no example crosses networks: the test proves nothing"
    );
}

/// The multicluster example as it was before its data centre joined
/// `net-west`: a network of VMs fronted by a declared address, which Istio
/// would never use as a gateway (pods would dial the VMs directly). It is
/// refused, with E709 alone.
#[test]
fn a_vm_network_fronted_by_an_address_is_refused() {
    let text = std::fs::read_to_string(root().join("examples/multicluster/topology.kdl")).expect("read");
    let text = text
        .replace(
            "cidr \"10.20.0.0/16\" \"192.168.0.0/16\"",
            "cidr \"10.20.0.0/16\"",
        )
        .replace(
            "// The west cloud",
            "network dc {\n    cidr \"192.168.0.0/16\"\n    gateway \"192.168.0.10\"\n}\n// The west cloud",
        )
        .replace(
            "    network net-west\n    cluster west",
            "    network dc\n    cluster west",
        );
    assert!(
        text.contains("network dc\n"),
        "the example changed: update this test"
    );
    let source = Source::new("topology.kdl", text.clone());
    let (checked, diags) = meshc::check_source(&source, Syntax::Kdl, Limits::default());
    assert!(checked.is_none());
    let codes: BTreeSet<&str> = diags.iter().map(|d| d.code.code).collect();
    assert_eq!(codes, BTreeSet::from(["E709"]), "{diags:#?}");
}

// ---- snapshots -------------------------------------------------------------------

#[test]
fn control_plane_output_matches_the_snapshots() {
    for ex in examples() {
        let dir = root().join("snapshots/control-plane").join(&ex.name);
        let mut expected = BTreeSet::new();
        for (path, text) in ex
            .artifacts
            .iter()
            .filter(|(p, _)| p.starts_with("control-plane/"))
        {
            let name = path.trim_start_matches("control-plane/").replace('/', "__");
            expected.insert(format!("{name}.snap"));
            insta::with_settings!({
                snapshot_path => &dir,
                prepend_module_to_snapshot => false,
                omit_expression => true,
                description => format!("examples/{}/topology.kdl → {path}", ex.name),
            }, {
                insta::assert_snapshot!(name, text);
            });
        }
        let orphans: Vec<String> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                    .filter(|n| n.ends_with(".snap") && !expected.contains(n))
                    .collect()
            })
            .unwrap_or_default();
        assert!(orphans.is_empty(), "{}: orphan snapshots: {orphans:?}", ex.name);
    }
}
