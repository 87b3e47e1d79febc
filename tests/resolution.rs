//! Every host meshc registers resolves for every caller, judged from the
//! emitted files: a call works only if the caller's resolver can answer
//! `<svc>.<ns>.svc.<domain>`, and each resolver answers from something a
//! file says.
//!
//! * a pod asks its cluster's kube-dns, which answers for the core
//!   Services of that cluster only (pods do not use Istio's DNS proxy by
//!   default, so a ServiceEntry alone leaves them with NXDOMAIN);
//! * a VM whose `cluster.env` turns on `ISTIO_META_DNS_CAPTURE` asks its
//!   agent, which answers from its istiod's name table: the Services of the
//!   home cluster, and ServiceEntries that carry addresses;
//! * a VM with a dnsmasq file asks the kube-dns its `server=` line names:
//!   the Services of that cluster;
//! * otherwise only its `hosts` lines.
//!
//! The topology says who calls whom and where each caller runs; everything
//! about resolution is read back from the artifacts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use meshc::artifact::Artifact;
use meshc::check::{Checked, Target};
use meshc::source::Source;
use meshc::syntax::{Limits, Syntax};
use serde_json::Value;

fn compile(name: &str, text: &str) -> (Checked, Vec<Artifact>) {
    let source = Source::new(name.to_owned(), text.to_owned());
    let (checked, diags) = meshc::check_source(&source, Syntax::from_path(name), Limits::default());
    let checked = checked.unwrap_or_else(|| panic!("{name} does not check: {diags:#?}"));
    let artifacts = meshc::emit::all(&checked, name);
    (checked, artifacts)
}

/// (cluster, namespace, name) of every core Service meshc writes into a
/// cluster's directory.
fn services_by_cluster(artifacts: &[Artifact]) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for a in artifacts {
        let Some(rest) = a.path.strip_prefix("kubernetes/clusters/") else {
            continue;
        };
        let cluster = rest.split('/').next().unwrap_or_default().to_owned();
        let docs: Vec<Value> = serde_saphyr::from_str_multiple(&a.contents).expect("YAML");
        for o in docs {
            if o["apiVersion"] == "v1" && o["kind"] == "Service" {
                let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
                out.insert((
                    cluster.clone(),
                    s(&o["metadata"]["namespace"]),
                    s(&o["metadata"]["name"]),
                ));
            }
        }
    }
    out
}

/// Hosts of ServiceEntries under `mesh/` that carry addresses (an agent's
/// DNS proxy can answer those).
fn addressed_service_entry_hosts(artifacts: &[Artifact]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for a in artifacts
        .iter()
        .filter(|a| a.path.starts_with("kubernetes/mesh/"))
    {
        let docs: Vec<Value> = serde_saphyr::from_str_multiple(&a.contents).expect("YAML");
        for o in docs {
            let addressed = o["spec"]["addresses"].as_array().is_some_and(|a| !a.is_empty());
            if o["kind"] == "ServiceEntry" && addressed {
                for h in o["spec"]["hosts"].as_array().into_iter().flatten() {
                    out.extend(h.as_str().map(str::to_owned));
                }
            }
        }
    }
    out
}

/// How each call of a topology resolves: `(caller where, host) → how`, or
/// the list of calls nothing answers.
fn resolutions(
    checked: &Checked,
    artifacts: &[Artifact],
) -> Result<BTreeMap<(String, String), String>, Vec<String>> {
    let topo = checked.topology();
    let ix = checked.index();
    let files: BTreeMap<&str, &str> = artifacts
        .iter()
        .map(|a| (a.path.as_str(), a.contents.as_str()))
        .collect();
    let services = services_by_cluster(artifacts);
    let addressed = addressed_service_entry_hosts(artifacts);
    let cluster_by_id: BTreeMap<&str, &str> = topo
        .clusters
        .iter()
        .map(|c| (c.cluster_id(), c.name.value.as_str()))
        .collect();
    // Legacy: the kube-dns internal load balancer of a cluster; modern: its
    // kube-dns ClusterIP. Read from the emitted dns-ilb where there is one.
    let mut cluster_by_dns: BTreeMap<String, String> = topo
        .clusters
        .iter()
        .filter_map(|c| Some((c.kube_dns.as_ref()?.value.to_string(), c.name.value.clone())))
        .collect();
    for a in artifacts
        .iter()
        .filter(|a| a.path.ends_with("kube-system/mesh-expansion.yaml"))
    {
        let cluster = a.path.split('/').nth(2).unwrap_or_default().to_owned();
        let docs: Vec<Value> = serde_saphyr::from_str_multiple(&a.contents).expect("YAML");
        for o in docs.iter().filter(|o| o["metadata"]["name"] == "dns-ilb") {
            if let Some(ip) = o["spec"]["loadBalancerIP"].as_str() {
                cluster_by_dns.insert(ip.to_owned(), cluster.clone());
            }
        }
    }
    let mut ok = BTreeMap::new();
    let mut failures = Vec::new();
    for (s, callees) in ix.calls.iter_enumerated() {
        for &callee in callees {
            let target = &topo.services[callee];
            // Only hosts meshc registers (services with a VM placement);
            // a cluster-only service's Service is the application's own.
            let registered = ix.service_workloads[callee]
                .iter()
                .any(|&w| matches!(ix.workloads[w].target, Target::Vm(_)));
            if !registered {
                continue;
            }
            let (ns, name) = (target.namespace.value.clone(), target.name.value.clone());
            let host = format!("{name}.{ns}.svc.cluster.local");
            for &w in &ix.service_workloads[s] {
                let (place, how) = match ix.workloads[w].target {
                    Target::Cluster(c) => {
                        let cluster = topo.clusters[c].name.value.clone();
                        let how = services
                            .contains(&(cluster.clone(), ns.clone(), name.clone()))
                            .then(|| format!("kube-dns of {cluster}: Service {ns}/{name}"));
                        (format!("pod in {cluster}"), how)
                    }
                    Target::Vm(v) => {
                        let vm = topo.vms[v].name.value.clone();
                        let file = |f: &str| files.get(format!("vms/{vm}/{f}").as_str()).copied();
                        let env = file("cluster.env").unwrap_or_default();
                        let how = if env.contains("ISTIO_META_DNS_CAPTURE='true'") {
                            let id = env
                                .lines()
                                .find_map(|l| l.strip_prefix("ISTIO_META_CLUSTER_ID="))
                                .map(|v| v.trim_matches('\''));
                            let home = id
                                .and_then(|id| cluster_by_id.get(id))
                                .copied()
                                .unwrap_or_default();
                            if services.contains(&(home.to_owned(), ns.clone(), name.clone())) {
                                Some(format!("agent DNS proxy, istiod of {home}: Service {ns}/{name}"))
                            } else {
                                addressed
                                    .contains(&host)
                                    .then(|| format!("agent DNS proxy: ServiceEntry {host} with addresses"))
                            }
                        } else if let Some(dnsmasq) = file("dnsmasq.conf") {
                            dnsmasq
                                .lines()
                                .filter_map(|l| l.strip_prefix("server=/svc.cluster.local/"))
                                .filter_map(|ip| cluster_by_dns.get(ip))
                                .find(|c| services.contains(&((*c).clone(), ns.clone(), name.clone())))
                                .map(|c| format!("dnsmasq → kube-dns of {c}: Service {ns}/{name}"))
                        } else {
                            file("hosts")
                                .unwrap_or_default()
                                .lines()
                                .any(|l| l.split_whitespace().skip(1).any(|h| h == host))
                                .then(|| format!("hosts line for {host}"))
                        };
                        (format!("VM {vm}"), how)
                    }
                };
                match how {
                    Some(how) => {
                        ok.insert((place, host.clone()), how);
                    }
                    None => failures.push(format!("{place} cannot resolve {host}")),
                }
            }
        }
    }
    if failures.is_empty() {
        Ok(ok)
    } else {
        Err(failures)
    }
}

fn examples() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("examples")
        .flatten()
        .map(|e| e.path().join("topology.kdl"))
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

#[test]
fn every_registered_host_resolves_for_every_caller_of_every_example() {
    let mut checked_calls = 0;
    for path in examples() {
        let text = std::fs::read_to_string(&path).expect("read");
        let (checked, artifacts) = compile("topology.kdl", &text);
        match resolutions(&checked, &artifacts) {
            Ok(found) => checked_calls += found.len(),
            Err(failures) => panic!("{}:\n{}", path.display(), failures.join("\n")),
        }
    }
    // Bookinfo (both flows: productpage → details, ratings → mysqldb) and
    // the multicluster shop (web → catalog in two clusters, orders →
    // payments through a ServiceEntry) all take part.
    assert!(checked_calls >= 7, "only {checked_calls} calls were judged");
}

/// Both registration modes, called from a pod, from a VM that captures DNS,
/// and across clusters (a dnsmasq VM belongs to the legacy flow: E804
/// refuses it here).
#[test]
fn each_registration_mode_resolves_for_each_kind_of_caller() {
    let text = r#"
mesh m { istio "1.24"; }
network n1 { cidr "10.0.0.0/16"; }
cluster c1 { network n1; control-plane #true; east-west-gateway "10.0.0.100"; kube-dns "10.96.0.10"; service-cidr "10.96.0.0/16"; }
cluster c2 { network n1; control-plane #true; east-west-gateway "10.0.0.101"; kube-dns "10.97.0.10"; service-cidr "10.97.0.0/16"; }
vm db { address "10.0.5.1"; network n1; cluster c1; }
vm legacy { address "10.0.5.2"; network n1; cluster c2; }
vm app-capture { address "10.0.5.3"; network n1; cluster c1; }
service db namespace=data { port tcp 5432; deploy v1 vm=db; }
service ledger namespace=data { port grpc 7000; deploy v1 vm=legacy; registration service-entry; }
service web namespace=shop { port http 80; deploy v1 cluster=c2; calls "db.data" "ledger.data"; entry-point #true; }
service worker namespace=shop { port http 81; deploy v1 vm=app-capture; calls "db.data" "ledger.data"; entry-point #true; }
"#;
    let (checked, artifacts) = compile("t.kdl", text);
    let found = resolutions(&checked, &artifacts).unwrap_or_else(|f| panic!("{}", f.join("\n")));
    let places: BTreeSet<&str> = found.keys().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        places,
        BTreeSet::from(["VM app-capture", "pod in c2"]),
        "{found:#?}"
    );
    assert_eq!(found.len(), 4, "{found:#?}");
}
