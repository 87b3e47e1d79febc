//! Kubernetes and Istio objects (and Helm values) → facts.
//!
//! Each document is one object, a `kind: List` of them (what `kubectl get
//! -o yaml` prints), or the `istiod`/`gateway` chart values meshc writes
//! under `control-plane/<cluster>/`. Every object kind and field this reads
//! is one the topology can express; every other one is reported (W950) with
//! its span, so nothing is dropped silently. The facts are assembled into a
//! topology by `assemble`.

use std::collections::{BTreeMap, BTreeSet};

use super::yaml::{Node, Value};
use super::{NOT_EXPRESSIBLE, Path};
use crate::diagnostic::Diagnostic;
use crate::source::{Span, Spanned};

type S = Spanned<String>;

/// Everything read from the inputs, by name, before assembly.
#[derive(Debug, Default)]
pub struct Facts {
    pub mesh_name: Option<S>,
    pub istio: Option<S>,
    pub mesh_id: Option<S>,
    pub trust_domain: Option<S>,
    pub revision: Option<S>,
    pub data_plane_mtls: Option<Spanned<bool>>,
    pub clusters: BTreeMap<String, ClusterFacts>,
    /// Network name → its facts (from meshNetworks and labels).
    pub networks: BTreeMap<String, NetworkFacts>,
    pub namespaces: BTreeMap<String, NamespaceFacts>,
    /// (namespace, name) → service.
    pub services: BTreeMap<(String, String), ServiceFacts>,
    pub entries: Vec<EntryFacts>,
    pub vms: BTreeMap<String, super::bundle::VmFacts>,
    /// VM names in the order meshc's runbook lists them.
    pub vm_order: Vec<String>,
    /// Cluster names in the order meshc's runbook lists them.
    pub cluster_order: Vec<String>,
    /// The ingress gateways meshc's runbook lists.
    pub ingresses: Vec<crate::model::Ingress>,
    /// Legacy flow: selector-less Services' Endpoints, (namespace,
    /// service) → addresses.
    pub endpoints: BTreeMap<(String, String), Vec<Spanned<std::net::IpAddr>>>,
    /// ServiceAccounts seen: (namespace, name).
    pub service_accounts: BTreeSet<(String, String)>,
    /// The pods of Deployments: a service's versions in clusters.
    pub deployments: Vec<DeploymentFacts>,
    /// The runbook's list of VM workloads, in its order: (VM,
    /// `<service>-<version>`, namespace). It follows the order services
    /// are declared in.
    pub runbook_workloads: Vec<(String, String, String)>,
}

#[derive(Debug, Default)]
pub struct ClusterFacts {
    pub span: Span,
    pub network: Option<S>,
    pub cluster_id: Option<S>,
    pub control_plane: bool,
    pub east_west_gateway: Option<Spanned<std::net::IpAddr>>,
    /// Legacy flow: the addresses of `istio-pilot-ilb`, `mixer-ilb`,
    /// `citadel-ilb` and `dns-ilb`, in that order.
    pub ilbs: [Option<Spanned<std::net::IpAddr>>; 4],
    pub ilb_annotation: Option<Spanned<crate::model::IlbAnnotation>>,
}

#[derive(Debug, Default)]
pub struct NetworkFacts {
    pub span: Span,
    pub cidrs: Vec<Spanned<ipnet::IpNet>>,
    pub gateway: Option<Spanned<std::net::IpAddr>>,
}

#[derive(Debug, Default)]
pub struct NamespaceFacts {
    pub span: Span,
    pub labels: Vec<(S, S)>,
    pub injection_off: bool,
}

#[derive(Debug, Default)]
pub struct PortFacts {
    pub name: S,
    pub number: Spanned<u16>,
    pub target: Option<Spanned<u16>>,
    pub protocol: Option<S>,
}

#[derive(Debug, Default)]
pub struct ServiceFacts {
    pub span: Span,
    pub name: S,
    pub namespace: S,
    pub ports: Vec<PortFacts>,
    /// Clusters with a Kubernetes Service of it, each with the span of
    /// the first such Service's name.
    pub clusters: BTreeMap<String, Span>,
    pub service_entry: bool,
    /// Versions named by DestinationRule subsets.
    pub subsets: Vec<S>,
    /// (version, weight, span) from the VirtualService.
    pub routes: Vec<(S, Option<Spanned<u32>>)>,
    /// Which route lists the VirtualService has, `http` and `tcp`, with
    /// their spans: meshc writes each for the ports Istio reads as such.
    pub route_lists: [Option<Span>; 2],
    /// Egress hosts of its Sidecar (`ns/host`), when it has one.
    pub egress: Option<Vec<S>>,
    /// Principals its AuthorizationPolicy admits.
    pub principals: Option<Vec<S>>,
    /// Per version: the WorkloadGroup's service account, network, probe.
    pub groups: BTreeMap<String, GroupFacts>,
}

#[derive(Debug, Default, Clone)]
pub struct GroupFacts {
    pub span: Span,
    pub service_account: Option<S>,
    pub network: Option<S>,
    pub probe: Option<crate::model::Probe>,
    pub cluster: Option<String>,
}

/// A Deployment's pods: the service (`app` label), version (`version`
/// label) and service account they run as, in a cluster.
#[derive(Debug, Default, Clone)]
pub struct DeploymentFacts {
    pub span: Span,
    pub name: S,
    pub namespace: S,
    pub app: S,
    pub version: Option<S>,
    /// `serviceAccountName`, else `default`.
    pub service_account: Option<S>,
    /// The cluster of its file in meshc's tree, else `""` (the one cluster
    /// the inputs imply).
    pub cluster: String,
}

#[derive(Debug, Default, Clone)]
pub struct EntryFacts {
    pub span: Span,
    pub name: S,
    pub namespace: S,
    pub app: Option<S>,
    pub version: Option<S>,
    pub address: Option<Spanned<std::net::IpAddr>>,
    pub network: Option<S>,
    pub service_account: Option<S>,
    /// Labels other than app, version and Istio's canonical ones.
    pub labels: Vec<(S, S)>,
    pub cluster: Option<String>,
}

/// Reads one YAML document into the facts.
pub fn read(doc: &Node, path: &Path, facts: &mut Facts, diags: &mut Vec<Diagnostic>) {
    if doc.is_null() {
        return;
    }
    let kind = doc.get("kind").and_then(Node::str);
    match kind {
        Some(k) if k == "List" || (k.ends_with("List") && doc.get("items").is_some()) => {
            for item in doc.get("items").map(Node::seq).unwrap_or_default() {
                read(item, path, facts, diags);
            }
        }
        Some(k) => object(k, doc, path, facts, diags),
        None if path.file_name == "istiod-values.yaml" || doc.get("global").is_some() => {
            istiod_values(doc, path, facts, diags)
        }
        None if path.file_name == "eastwest-gateway-values.yaml" || doc.get("networkGateway").is_some() => {
            gateway_values(doc, path, facts, diags)
        }
        None => unexpressed(
            diags,
            doc.span,
            "a YAML document that is no Kubernetes object (no `kind`)",
        ),
    }
}

fn unexpressed(diags: &mut Vec<Diagnostic>, span: Span, what: &str) {
    diags.push(
        Diagnostic::new(
            &NOT_EXPRESSIBLE,
            span,
            format!("{what} cannot be expressed in a topology"),
        )
        .label("left out")
        .help("keep applying it beside meshc's output if it matters, or drop it"),
    );
}

fn text(node: Option<&Node>, diags: &mut Vec<Diagnostic>) -> Option<S> {
    let node = node?;
    let t = node.name(diags)?;
    Some(Spanned::new(t.to_owned(), node.span))
}

fn parsed<T: std::str::FromStr>(node: Option<&Node>) -> Option<Spanned<T>> {
    let node = node?;
    node.str()?.parse().ok().map(|v| Spanned::new(v, node.span))
}

/// Reports every key of `node` not in `known`.
fn rest(node: Option<&Node>, known: &[&str], what: &str, diags: &mut Vec<Diagnostic>) {
    for (k, _) in node.map(Node::entries).unwrap_or_default() {
        if !known.contains(&&*k.text) {
            unexpressed(diags, k.span, &format!("{what} field `{}`", k.text));
        }
    }
}

fn cluster<'a>(facts: &'a mut Facts, name: &str, span: Span) -> &'a mut ClusterFacts {
    facts
        .clusters
        .entry(name.to_owned())
        .or_insert_with(|| ClusterFacts {
            span,
            ..ClusterFacts::default()
        })
}

fn default_cluster(path: &Path) -> String {
    path.cluster.clone().unwrap_or_default()
}

fn istiod_values(doc: &Node, path: &Path, facts: &mut Facts, diags: &mut Vec<Diagnostic>) {
    let name = default_cluster(path);
    let global = doc.get("global");
    let id = text(global.and_then(|g| g.at(&["multiCluster", "clusterName"])), diags);
    let network = text(global.and_then(|g| g.get("network")), diags);
    if facts.mesh_id.is_none() {
        facts.mesh_id = text(global.and_then(|g| g.get("meshID")), diags);
    }
    if facts.trust_domain.is_none() {
        facts.trust_domain = text(doc.at(&["meshConfig", "trustDomain"]), diags);
    }
    if facts.revision.is_none() {
        facts.revision = text(doc.get("revision"), diags);
    }
    for (net, def) in global
        .and_then(|g| g.get("meshNetworks"))
        .map(Node::entries)
        .unwrap_or_default()
    {
        let n = facts.networks.entry(net.text.to_string()).or_default();
        n.span = net.span;
        n.cidrs.clear();
        for e in def.get("endpoints").map(Node::seq).unwrap_or_default() {
            if let Some(c) = parsed(e.get("fromCidr")) {
                n.cidrs.push(c);
            }
        }
        for g in def.get("gateways").map(Node::seq).unwrap_or_default() {
            if let Some(a) = parsed(g.get("address")) {
                n.gateway = Some(a);
            }
        }
    }
    let c = cluster(facts, &name, doc.span);
    c.control_plane = true;
    c.cluster_id = id.filter(|id| id.value != name);
    if network.is_some() {
        c.network = network;
    }
    rest(
        Some(doc),
        &["global", "meshConfig", "revision"],
        "istiod values",
        diags,
    );
    rest(
        global,
        &["meshID", "multiCluster", "network", "meshNetworks"],
        "istiod values `global`",
        diags,
    );
    rest(
        doc.get("meshConfig"),
        &["trustDomain"],
        "istiod values `meshConfig`",
        diags,
    );
}

fn gateway_values(doc: &Node, path: &Path, facts: &mut Facts, diags: &mut Vec<Diagnostic>) {
    let name = default_cluster(path);
    let address = parsed(doc.at(&["service", "loadBalancerIP"]));
    let network = text(doc.get("networkGateway"), diags);
    let c = cluster(facts, &name, doc.span);
    if address.is_some() {
        c.east_west_gateway = address;
    }
    if c.network.is_none() {
        c.network = network;
    }
}

fn object(kind: &str, doc: &Node, path: &Path, facts: &mut Facts, diags: &mut Vec<Diagnostic>) {
    let meta = doc.get("metadata");
    let Some(name) = text(meta.and_then(|m| m.get("name")), diags) else {
        unexpressed(diags, doc.span, &format!("a {kind} without a name"));
        return;
    };
    let namespace = text(meta.and_then(|m| m.get("namespace")), diags)
        .unwrap_or_else(|| Spanned::new("default".to_owned(), name.span));
    let spec = doc.get("spec");
    let cluster = path.cluster.clone();
    if let Some(c) = &cluster {
        self::cluster(facts, c, doc.span);
    }
    match kind {
        "Namespace" => {
            let ns = facts.namespaces.entry(name.value.clone()).or_default();
            ns.span = name.span;
            ns.labels.clear();
            for (k, v) in meta
                .and_then(|m| m.get("labels"))
                .map(Node::entries)
                .unwrap_or_default()
            {
                match (&*k.text, v.str()) {
                    ("istio-injection", Some("enabled"))
                    | ("istio.io/rev", _)
                    | ("topology.istio.io/network", _) => {}
                    ("istio-injection", Some("disabled")) => ns.injection_off = true,
                    (_, Some(val)) => ns.labels.push((
                        Spanned::new(k.text.to_string(), k.span),
                        Spanned::new(val.to_owned(), v.span),
                    )),
                    _ => {}
                }
            }
            if let Some(n) = meta
                .and_then(|m| m.at(&["labels", "topology.istio.io/network"]))
                .and_then(|n| text(Some(n), diags))
                && let Some(c) = &cluster
            {
                let c = self::cluster(facts, c, doc.span);
                c.network.get_or_insert(n);
            }
        }
        "ServiceAccount" => {
            facts.service_accounts.insert((namespace.value, name.value));
        }
        "Service"
            if ilb_role(&name.value).is_some()
                && spec.and_then(|s| s.get("type")).and_then(Node::str) == Some("LoadBalancer") =>
        {
            let role = ilb_role(&name.value).unwrap_or_default();
            let address = parsed(spec.and_then(|s| s.get("loadBalancerIP")));
            let annotations = meta.and_then(|m| m.get("annotations"));
            let annotation = if annotations
                .and_then(|a| a.get("service.beta.kubernetes.io/alicloud-loadbalancer-address-type"))
                .is_some()
            {
                crate::model::IlbAnnotation::Alibaba
            } else if annotations
                .and_then(|a| a.get("cloud.google.com/load-balancer-type"))
                .is_some()
            {
                crate::model::IlbAnnotation::Gke
            } else {
                crate::model::IlbAnnotation::None
            };
            let c = self::cluster(facts, &default_cluster(path), doc.span);
            c.ilbs[role] = address;
            c.control_plane = true;
            c.ilb_annotation = Some(Spanned::new(annotation, name.span));
        }
        "Endpoints" => {
            let addresses = doc
                .get("subsets")
                .map(Node::seq)
                .unwrap_or_default()
                .iter()
                .flat_map(|s| s.get("addresses").map(Node::seq).unwrap_or_default())
                .filter_map(|a| parsed(a.get("ip")))
                .collect();
            facts.endpoints.insert((namespace.value, name.value), addresses);
        }
        "Service" => {
            let s = service(facts, &namespace, &name);
            if let Some(c) = cluster {
                s.clusters.entry(c).or_insert(name.span);
            }
            if s.ports.is_empty() {
                for p in spec
                    .and_then(|s| s.get("ports"))
                    .map(Node::seq)
                    .unwrap_or_default()
                {
                    if let Some(port) = port(p, "port", diags) {
                        s.ports.push(port);
                    }
                }
            }
            rest(spec, &["ports", "selector"], "Service spec", diags);
        }
        "ServiceEntry" => {
            let Some(svc) = spec
                .and_then(|s| s.get("hosts"))
                .and_then(|h| h.seq().first())
                .and_then(|h| h.str())
                .and_then(|h| h.split('.').next())
                .map(|h| Spanned::new(h.to_owned(), name.span))
            else {
                unexpressed(diags, doc.span, "a ServiceEntry without hosts");
                return;
            };
            let s = service(facts, &namespace, &svc);
            s.service_entry = true;
            s.ports.clear();
            for p in spec
                .and_then(|s| s.get("ports"))
                .map(Node::seq)
                .unwrap_or_default()
            {
                if let Some(port) = port(p, "number", diags) {
                    s.ports.push(port);
                }
            }
            rest(
                spec,
                &["hosts", "ports", "location", "resolution", "workloadSelector"],
                "ServiceEntry spec",
                diags,
            );
        }
        "WorkloadGroup" => {
            let labels = spec.and_then(|s| s.at(&["metadata", "labels"]));
            let app = text(labels.and_then(|l| l.get("app")), diags);
            let version = text(labels.and_then(|l| l.get("version")), diags);
            let (Some(app), Some(version)) = (app, version) else {
                unexpressed(
                    diags,
                    doc.span,
                    "a WorkloadGroup without `app` and `version` labels",
                );
                return;
            };
            let template = spec.and_then(|s| s.get("template"));
            let group = GroupFacts {
                span: name.span,
                service_account: text(template.and_then(|t| t.get("serviceAccount")), diags),
                network: text(template.and_then(|t| t.get("network")), diags),
                probe: spec.and_then(|s| s.get("probe")).and_then(probe),
                cluster,
            };
            service(facts, &namespace, &app)
                .groups
                .insert(version.value, group);
            rest(
                spec,
                &["metadata", "template", "probe"],
                "WorkloadGroup spec",
                diags,
            );
        }
        "WorkloadEntry" => {
            let labels = spec.and_then(|s| s.get("labels"));
            let mut entry = EntryFacts {
                span: name.span,
                name: name.clone(),
                namespace: namespace.clone(),
                app: text(labels.and_then(|l| l.get("app")), diags),
                version: text(labels.and_then(|l| l.get("version")), diags),
                address: parsed(spec.and_then(|s| s.get("address"))),
                network: text(spec.and_then(|s| s.get("network")), diags),
                service_account: text(spec.and_then(|s| s.get("serviceAccount")), diags),
                labels: Vec::new(),
                cluster,
            };
            for (k, v) in labels.map(Node::entries).unwrap_or_default() {
                if matches!(
                    &*k.text,
                    "app"
                        | "version"
                        | "service.istio.io/canonical-name"
                        | "service.istio.io/canonical-revision"
                ) {
                    continue;
                }
                if let Some(val) = v.name(diags) {
                    entry.labels.push((
                        Spanned::new(k.text.to_string(), k.span),
                        Spanned::new(val.to_owned(), v.span),
                    ));
                }
            }
            facts.entries.push(entry);
            rest(
                spec,
                &["address", "ports", "labels", "network", "serviceAccount"],
                "WorkloadEntry spec",
                diags,
            );
        }
        "Deployment" => {
            let template = spec.and_then(|s| s.get("template"));
            let labels = template.and_then(|t| t.at(&["metadata", "labels"]));
            let Some(app) = text(labels.and_then(|l| l.get("app")), diags) else {
                unexpressed(diags, doc.span, "a Deployment without an `app` pod label");
                return;
            };
            let cluster = default_cluster(path);
            self::cluster(facts, &cluster, doc.span);
            let pod = template.and_then(|t| t.get("spec"));
            // One object per name: a later copy replaces an earlier one.
            facts.deployments.retain(|d| {
                (&d.name.value, &d.namespace.value, &d.cluster) != (&name.value, &namespace.value, &cluster)
            });
            facts.deployments.push(DeploymentFacts {
                span: name.span,
                name: name.clone(),
                namespace,
                app,
                version: text(labels.and_then(|l| l.get("version")), diags),
                // A pod that names no account runs as its namespace's
                // `default`.
                service_account: text(
                    pod.and_then(|p| p.get("serviceAccountName").or_else(|| p.get("serviceAccount"))),
                    diags,
                )
                .or_else(|| Some(Spanned::new("default".to_owned(), name.span))),
                cluster,
            });
            // What a topology says of pods is their service, version,
            // cluster and account; the rest is the application's.
            rest(spec, &["selector", "template"], "Deployment spec", diags);
            rest(template, &["metadata", "spec"], "Deployment pod template", diags);
            rest(
                template.and_then(|t| t.get("metadata")),
                &["labels"],
                "Deployment pod template metadata",
                diags,
            );
            for (k, _) in labels.map(Node::entries).unwrap_or_default() {
                if !matches!(&*k.text, "app" | "version") {
                    unexpressed(diags, k.span, &format!("Deployment pod label `{}`", k.text));
                }
            }
            rest(
                pod,
                &["serviceAccountName", "serviceAccount"],
                "Deployment pod spec",
                diags,
            );
        }
        "DestinationRule" => {
            let Some(svc) = host_service(spec.and_then(|s| s.get("host")), diags) else {
                return;
            };
            let s = service(facts, &namespace, &svc);
            s.subsets = spec
                .and_then(|s| s.get("subsets"))
                .map(Node::seq)
                .unwrap_or_default()
                .iter()
                .filter_map(|sub| text(sub.get("name"), diags))
                .collect();
            if let Some(mode) = spec
                .and_then(|s| s.at(&["trafficPolicy", "tls", "mode"]))
                .and_then(Node::str)
            {
                facts.data_plane_mtls = Some(Spanned::new(mode == "ISTIO_MUTUAL", doc.span));
            }
            rest(
                spec,
                &["host", "subsets", "trafficPolicy"],
                "DestinationRule spec",
                diags,
            );
        }
        "VirtualService" => {
            if path.cluster.is_some() && name.value.starts_with("istiod-vs") {
                return; // meshc's istiod exposure, implied by the east-west gateway.
            }
            let Some(svc) = spec
                .and_then(|s| s.get("hosts"))
                .and_then(|h| h.seq().first())
                .and_then(|h| host_service(Some(h), diags))
            else {
                return;
            };
            let mut routes = Vec::new();
            let proto = spec.and_then(|s| s.get("http").or_else(|| s.get("tcp")));
            for r in proto.map(Node::seq).unwrap_or_default() {
                for d in r.get("route").map(Node::seq).unwrap_or_default() {
                    if let Some(subset) = text(d.at(&["destination", "subset"]), diags) {
                        routes.push((subset, parsed(d.get("weight"))));
                    }
                }
                rest(Some(r), &["route"], "VirtualService route", diags);
            }
            let lists = ["http", "tcp"].map(|k| spec.and_then(|s| s.get(k)).map(|n| n.span));
            let s = service(facts, &namespace, &svc);
            s.routes = routes;
            s.route_lists = lists;
            rest(spec, &["hosts", "http", "tcp"], "VirtualService spec", diags);
        }
        "Sidecar" => {
            let Some(app) = text(
                spec.and_then(|s| s.at(&["workloadSelector", "labels", "app"])),
                diags,
            ) else {
                unexpressed(diags, doc.span, "a Sidecar without an `app` workload selector");
                return;
            };
            let hosts = spec
                .and_then(|s| s.get("egress"))
                .map(Node::seq)
                .unwrap_or_default()
                .iter()
                .flat_map(|e| e.get("hosts").map(Node::seq).unwrap_or_default())
                .filter_map(|h| text(Some(h), diags))
                .collect();
            service(facts, &namespace, &app).egress = Some(hosts);
            rest(spec, &["workloadSelector", "egress"], "Sidecar spec", diags);
        }
        "AuthorizationPolicy" => {
            let Some(app) = text(
                spec.and_then(|s| s.at(&["selector", "matchLabels", "app"])),
                diags,
            ) else {
                unexpressed(
                    diags,
                    doc.span,
                    "an AuthorizationPolicy without an `app` selector",
                );
                return;
            };
            let principals = spec
                .and_then(|s| s.get("rules"))
                .map(Node::seq)
                .unwrap_or_default()
                .iter()
                .flat_map(|r| r.get("from").map(Node::seq).unwrap_or_default())
                .flat_map(|f| f.at(&["source", "principals"]).map(Node::seq).unwrap_or_default())
                .filter_map(|p| text(Some(p), diags))
                .collect();
            service(facts, &namespace, &app).principals = Some(principals);
            rest(
                spec,
                &["selector", "action", "rules"],
                "AuthorizationPolicy spec",
                diags,
            );
        }
        // gen-eastwest-gateway.sh's IstioOperator: the east-west gateway's
        // address, as in the `gateway` chart's values.
        "IstioOperator" => {
            let gateways = spec
                .and_then(|s| s.at(&["components", "ingressGateways"]))
                .map(Node::seq);
            let mut found = false;
            for g in gateways.unwrap_or_default() {
                if g.at(&["label", "istio"]).and_then(Node::str) != Some("eastwestgateway") {
                    continue;
                }
                found = true;
                let address = parsed(g.at(&["k8s", "service", "loadBalancerIP"]));
                let network = text(g.at(&["label", "topology.istio.io/network"]), diags);
                let c = self::cluster(facts, &default_cluster(path), doc.span);
                if c.east_west_gateway.is_none() {
                    c.east_west_gateway = address;
                }
                if c.network.is_none() {
                    c.network = network;
                }
            }
            if !found {
                unexpressed(diags, doc.span, "an IstioOperator without an east-west gateway");
            }
        }
        "Gateway" if name.value.starts_with("istiod-gateway") || name.value == "cross-network-gateway" => {}
        other => unexpressed(diags, doc.span, &format!("a {other} object")),
    }
}

/// The index of a legacy mesh-expansion ILB in `ClusterFacts::ilbs`.
fn ilb_role(name: &str) -> Option<usize> {
    ["istio-pilot-ilb", "mixer-ilb", "citadel-ilb", "dns-ilb"]
        .iter()
        .position(|n| *n == name)
}

fn service<'a>(facts: &'a mut Facts, namespace: &S, name: &S) -> &'a mut ServiceFacts {
    facts
        .services
        .entry((namespace.value.clone(), name.value.clone()))
        .or_insert_with(|| ServiceFacts {
            span: name.span,
            name: name.clone(),
            namespace: namespace.clone(),
            ..ServiceFacts::default()
        })
}

/// `<svc>.<ns>.svc.<domain>` (or a short name) → the service's name.
fn host_service(node: Option<&Node>, diags: &mut Vec<Diagnostic>) -> Option<S> {
    let host = text(node, diags)?;
    let svc = host.value.split('.').next().unwrap_or_default().to_owned();
    // `*` or a name no service has (a gateway-bound route): not a service.
    if svc.is_empty() || !svc.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        unexpressed(
            diags,
            host.span,
            &format!("host `{}`, which names no service,", host.value),
        );
        return None;
    }
    Some(Spanned::new(svc, host.span))
}

fn port(p: &Node, number_key: &str, diags: &mut Vec<Diagnostic>) -> Option<PortFacts> {
    let number = parsed(p.get(number_key))?;
    let name = text(p.get("name"), diags).unwrap_or_else(|| Spanned::new("tcp".to_owned(), p.span));
    let target = match p.get("targetPort") {
        Some(t) if matches!(t.value, Value::Scalar { .. }) => parsed(Some(t)),
        _ => None,
    };
    // A ServiceEntry's `protocol` is Istio's; a Service's `appProtocol` is,
    // while its `protocol` is L4 (only UDP says something then).
    let protocol = text(p.get("appProtocol"), diags)
        .or_else(|| text(p.get("protocol"), diags).filter(|pr| number_key == "number" || pr.value == "UDP"));
    Some(PortFacts {
        name,
        number,
        target,
        protocol,
    })
}

fn probe(node: &Node) -> Option<crate::model::Probe> {
    use crate::model::{Probe, ProbeKind};
    let kind = if let Some(h) = node.get("httpGet") {
        ProbeKind::Http {
            port: parsed(h.get("port"))?,
            path: h
                .get("path")
                .and_then(|p| p.str())
                .map(|p| Spanned::new(p.to_owned(), p_span(h))),
        }
    } else if let Some(t) = node.get("tcpSocket") {
        ProbeKind::Tcp {
            port: parsed(t.get("port"))?,
        }
    } else if let Some(e) = node.get("exec") {
        ProbeKind::Exec {
            command: e
                .get("command")
                .map(Node::seq)
                .unwrap_or_default()
                .iter()
                .filter_map(|c| c.str().map(|s| Spanned::new(s.to_owned(), c.span)))
                .collect(),
        }
    } else {
        return None;
    };
    Some(Probe {
        kind,
        span: node.span,
    })
}

fn p_span(h: &Node) -> Span {
    h.get("path").map_or(h.span, |p| p.span)
}
