//! Facts → `Topology`: the inverse of the emitters' decisions.
//!
//! Where the inputs say a thing, it is taken; where meshc's emitters derive
//! it from something else (a default, a service account from a caller's
//! AuthorizationPolicy), it is derived back; where nothing says it, a value
//! that builds the same files is assumed and a `Note` (or W952) says so.
//! Conflicts between inputs are errors (E953–E956).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::kubernetes::{EntryFacts, Facts, ServiceFacts};
use super::print::{Decl, Note};
use super::{ASSUMED, DUPLICATE_ADDRESS, IMPORT_WEIGHTS, UNKNOWN_EGRESS_HOST, VM_FILE_DISAGREES};
use crate::diagnostic::Diagnostic;
use crate::model::{
    Cluster, Deployment, DnsMode, Interception, IstioVersion, Labels, Mesh, Namespace, Network, Placement,
    Port, Protocol, Registration, Route, Service, Topology, Vm, implicit,
};
use crate::source::{Span, Spanned};

type S = Spanned<String>;

/// (namespace, name) of a service.
type ServiceKey = (String, String);

fn s(value: impl Into<String>, span: Span) -> S {
    Spanned::new(value.into(), span)
}

fn imp(value: impl Into<String>) -> S {
    s(value, implicit())
}

struct Out {
    notes: Vec<Note>,
}

impl Out {
    fn note(&mut self, on: Decl, text: impl Into<String>) {
        self.notes.push(Note {
            on,
            text: text.into(),
        });
    }
}

/// Builds the topology the facts describe.
pub fn assemble(mut facts: Facts, diags: &mut Vec<Diagnostic>) -> (Topology, Vec<Note>) {
    let mut out = Out { notes: Vec::new() };
    let mesh = mesh(&facts, &mut out, diags);
    let cp_ns = mesh.control_plane_namespace().to_owned();

    // Objects read outside meshc's tree belong to the one cluster, if any.
    let named: Vec<String> = facts.clusters.keys().filter(|k| !k.is_empty()).cloned().collect();
    if let Some(anon) = facts.clusters.remove("") {
        let target = match named.as_slice() {
            [only] => only.clone(),
            _ => {
                let name = anon
                    .cluster_id
                    .as_ref()
                    .map_or("cluster-1".to_owned(), |id| id.value.clone());
                out.note(
                    Decl::Cluster(name.clone()),
                    "the inputs do not name this cluster: check its name",
                );
                name
            }
        };
        let c = facts.clusters.entry(target).or_default();
        c.control_plane |= anon.control_plane;
        c.network = c.network.take().or(anon.network);
        c.east_west_gateway = c.east_west_gateway.take().or(anon.east_west_gateway);
        if c.cluster_id.is_none() {
            c.cluster_id = anon.cluster_id;
        }
    }
    let cluster_names: Vec<String> = facts.clusters.keys().cloned().collect();
    let only_cluster = match cluster_names.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    };
    let cluster_of = |c: &Option<String>| -> Option<String> {
        c.clone()
            .filter(|c| !c.is_empty())
            .or_else(|| only_cluster.clone())
    };

    let vms = vms(&facts, &cluster_of, &mut out, diags);
    let ingress_ids = mesh.ingress_identities();
    let services = services(&facts, &vms, &cluster_of, &cp_ns, &ingress_ids, &mut out, diags);

    // Networks: named by clusters, VMs, meshNetworks.
    let mut network_names: BTreeMap<String, Span> = BTreeMap::new();
    for (name, n) in &facts.networks {
        network_names.insert(name.clone(), n.span);
    }
    for c in facts.clusters.values() {
        if let Some(n) = &c.network {
            network_names.entry(n.value.clone()).or_insert(n.span);
        }
    }
    for vm in &vms {
        network_names
            .entry(vm.network.value.clone())
            .or_insert(vm.network.span);
    }
    if network_names.is_empty() {
        network_names.insert("network-1".to_owned(), implicit());
        out.note(
            Decl::Network("network-1".to_owned()),
            "the inputs name no network: check its name",
        );
    }
    let default_network = network_names.keys().next().cloned().unwrap_or_default();
    let mut clusters = Vec::new();
    let mut cluster_order: Vec<&String> = facts
        .cluster_order
        .iter()
        .filter(|c| facts.clusters.contains_key(*c))
        .collect();
    for name in facts.clusters.keys() {
        if !cluster_order.contains(&name) {
            cluster_order.push(name);
        }
    }
    for name in cluster_order {
        let c = &facts.clusters[name];
        let network = c.network.clone().unwrap_or_else(|| {
            out.note(
                Decl::Cluster(name.clone()),
                format!(
                    "the inputs do not say which network this cluster is on: `{default_network}` assumed"
                ),
            );
            imp(default_network.clone())
        });
        clusters.push(Cluster {
            name: s(name.clone(), c.span),
            network,
            pod_cidrs: Vec::new(),
            // Legacy flow: the VMs' cluster.env names the service range.
            service_cidrs: facts
                .vms
                .values()
                .filter(|v| v.install.get("cluster").is_none_or(|h| h.value == *name))
                .find_map(|v| v.env.get("ISTIO_SERVICE_CIDR"))
                .filter(|c| c.value != "*")
                .map(|c| {
                    c.value
                        .split(',')
                        .filter_map(|n| n.trim().parse().ok())
                        .map(|n| Spanned::new(n, c.span))
                        .collect()
                })
                .unwrap_or_default(),
            cluster_domain: None,
            kube_dns: None,
            cluster_id: c.cluster_id.clone(),
            control_plane: c.control_plane.then(|| Spanned::new(true, c.span)),
            east_west_gateway: c.east_west_gateway.clone(),
            ilbs: match &c.ilbs {
                [Some(pilot), Some(mixer), Some(citadel), Some(kube_dns)] => Some(crate::model::Ilbs {
                    pilot: pilot.clone(),
                    mixer: mixer.clone(),
                    citadel: citadel.clone(),
                    kube_dns: kube_dns.clone(),
                    span: c.span,
                }),
                _ => None,
            },
            ilb_annotation: c
                .ilb_annotation
                .clone()
                .filter(|_| c.ilbs.iter().all(Option::is_some)),
            span: c.span,
        });
    }
    let networks = network_names
        .iter()
        .map(|(name, span)| {
            let f = facts.networks.get(name);
            // A meshNetworks gateway that is a cluster's east-west gateway is
            // derived from that cluster; only another one is the network's.
            let gateway = f.and_then(|f| f.gateway.clone()).filter(|g| {
                !clusters.iter().any(|c| {
                    c.network.value == *name && c.east_west_gateway.as_ref().map(|e| e.value) == Some(g.value)
                })
            });
            Network {
                name: s(name.clone(), *span),
                cidrs: f.map(|f| f.cidrs.clone()).unwrap_or_default(),
                gateway,
                span: *span,
            }
        })
        .collect();

    // Namespaces: every one an object lives in, but the control plane's.
    let mut ns_names: BTreeSet<String> = facts.namespaces.keys().cloned().collect();
    ns_names.extend(services.iter().map(|sv| sv.namespace.value.clone()));
    ns_names.remove(&cp_ns);
    let namespaces = ns_names
        .into_iter()
        .map(|name| {
            let f = facts.namespaces.get(&name);
            let span = f.map_or(implicit(), |f| f.span);
            Namespace {
                name: s(name, span),
                labels: Labels(f.map(|f| f.labels.clone()).unwrap_or_default()),
                injection: f.filter(|f| f.injection_off).map(|f| Spanned::new(false, f.span)),
                least_privilege: None,
                span,
            }
        })
        .collect();

    let topology = Topology {
        mesh,
        networks,
        clusters,
        vms,
        namespaces,
        services,
        ..Topology::default()
    };
    (topology, out.notes)
}

fn mesh(facts: &Facts, out: &mut Out, diags: &mut Vec<Diagnostic>) -> Mesh {
    let name = facts.mesh_name.clone().unwrap_or_else(|| {
        let name = facts.mesh_id.as_ref().map_or("mesh", |m| m.value.as_str());
        out.note(
            Decl::Mesh,
            "the inputs do not name the mesh (meshc's RUNBOOK.md does): check its name",
        );
        imp(name)
    });
    let istio = match facts
        .istio
        .as_ref()
        .and_then(|v| IstioVersion::parse(&v.value).map(|p| (p, v.span)))
    {
        Some((v, span)) => Spanned::new(v, span),
        None => {
            let v = facts
                .revision
                .as_ref()
                .and_then(|r| IstioVersion::parse(&r.value.replace('-', ".")))
                .unwrap_or(IstioVersion {
                    major: 1,
                    minor: 24,
                    patch: None,
                });
            diags.push(
                Diagnostic::new(
                    &ASSUMED,
                    implicit(),
                    format!("no input says the Istio release: {v} assumed"),
                )
                .help("write the release the clusters run in `mesh { istio \"…\" }`"),
            );
            out.note(
                Decl::Mesh,
                format!("Istio {v} assumed: write the release the clusters run"),
            );
            Spanned::new(v, implicit())
        }
    };
    let modern = istio.value.flow() == crate::model::Flow::Modern;
    let least_privilege = facts
        .services
        .values()
        .all(|s| s.egress.is_none() && s.principals.is_none())
        .then(|| Spanned::new(false, implicit()));
    Mesh {
        name,
        istio,
        trust_domain: facts.trust_domain.clone(),
        mesh_id: facts.mesh_id.clone(),
        control_plane_namespace: None,
        revision: facts.revision.clone(),
        // Sidecars and AuthorizationPolicies are the modern flow's.
        least_privilege: least_privilege.filter(|_| !facts.services.is_empty() && modern),
        control_plane_auth: facts
            .vms
            .values()
            .find_map(|v| v.env.get("ISTIO_CP_AUTH"))
            .cloned(),
        data_plane_mtls: facts.data_plane_mtls.clone().filter(|m| m.value),
        ingresses: facts.ingresses.clone(),
        span: implicit(),
    }
}

/// One VM workload: (namespace, service, version) on a VM.
#[derive(Clone, Debug)]
struct VmWorkload {
    namespace: String,
    service: String,
    version: S,
    vm: String,
    service_account: Option<S>,
}

fn vm_name_of(entry: &EntryFacts) -> String {
    let prefix = match (&entry.app, &entry.version) {
        (Some(a), Some(v)) => format!("{}-{}-", a.value, v.value),
        _ => String::new(),
    };
    entry
        .name
        .value
        .strip_prefix(&prefix)
        .unwrap_or(&entry.name.value)
        .to_owned()
}

fn vm_workloads(facts: &Facts) -> Vec<VmWorkload> {
    let mut out = Vec::new();
    for e in &facts.entries {
        let (Some(app), Some(version)) = (&e.app, &e.version) else {
            continue;
        };
        out.push(VmWorkload {
            namespace: e.namespace.value.clone(),
            service: app.value.clone(),
            version: version.clone(),
            vm: vm_name_of(e),
            service_account: e.service_account.clone(),
        });
    }
    // Legacy flow: a selector-less Service's Endpoints are its VMs, named
    // by the bundle whose ISTIO_SVC_IP is the address.
    for ((ns, svc), addresses) in &facts.endpoints {
        for a in addresses {
            let vm = facts
                .vms
                .iter()
                .find(|(_, f)| {
                    f.env
                        .get("ISTIO_SVC_IP")
                        .is_some_and(|ip| ip.value == a.value.to_string())
                })
                .map_or_else(
                    || format!("vm-{}", a.value.to_string().replace(['.', ':'], "-")),
                    |(n, _)| n.clone(),
                );
            out.push(VmWorkload {
                namespace: ns.clone(),
                service: svc.clone(),
                version: s("v1", a.span),
                vm,
                service_account: None,
            });
        }
    }
    // The workloads found so far, to skip an auto-registered VM's that an
    // entry already gives (a set, not a scan of them per VM).
    let seen: BTreeSet<(&str, &str, &str)> = out
        .iter()
        .map(|w| (w.vm.as_str(), w.service.as_str(), w.version.value.as_str()))
        .collect();
    let mut registered = Vec::new();
    for (vm, f) in &facts.vms {
        let env = |k: &str| f.env.get(k);
        // A VM's cluster.env names one workload; only an auto-registered
        // VM has no WorkloadEntry saying the same.
        if env("ISTIO_META_AUTO_REGISTER_GROUP").is_none() {
            continue;
        }
        let (Some(ns), Some(svc), Some(ver)) = (
            env("POD_NAMESPACE"),
            env("CANONICAL_SERVICE"),
            env("CANONICAL_REVISION"),
        ) else {
            continue;
        };
        if seen.contains(&(vm.as_str(), svc.value.as_str(), ver.value.as_str())) {
            continue;
        }
        registered.push(VmWorkload {
            namespace: ns.value.clone(),
            service: svc.value.clone(),
            version: ver.clone(),
            vm: vm.clone(),
            service_account: env("SERVICE_ACCOUNT").cloned(),
        });
    }
    out.extend(registered);
    out
}

fn vms(
    facts: &Facts,
    cluster_of: &dyn Fn(&Option<String>) -> Option<String>,
    out: &mut Out,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Vm> {
    // Every VM named by an entry or a bundle.
    let mut names: Vec<String> = facts.vm_order.clone();
    let mut rest: BTreeSet<String> = facts.vms.keys().cloned().collect();
    rest.extend(facts.entries.iter().map(vm_name_of));
    // Legacy flow: VMs known only as an Endpoints address.
    let mut endpoint_vms: BTreeMap<String, Spanned<IpAddr>> = BTreeMap::new();
    for w in vm_workloads(facts) {
        if let Some(a) = facts
            .endpoints
            .values()
            .flatten()
            .find(|a| w.vm == format!("vm-{}", a.value.to_string().replace(['.', ':'], "-")))
        {
            endpoint_vms.insert(w.vm.clone(), a.clone());
        }
    }
    rest.extend(endpoint_vms.keys().cloned());
    names.retain(|n| rest.contains(n));
    let ordered: BTreeSet<String> = names.iter().cloned().collect();
    names.extend(rest.into_iter().filter(|n| !ordered.contains(n)));
    // Each VM's entries, found once (not a scan of every entry per VM).
    let mut entries_of: BTreeMap<String, Vec<&EntryFacts>> = BTreeMap::new();
    for e in &facts.entries {
        entries_of.entry(vm_name_of(e)).or_default().push(e);
    }
    let mut by_address: BTreeMap<IpAddr, (String, Span)> = BTreeMap::new();
    let mut vms = Vec::new();
    let several_clusters = facts.clusters.len() > 1;
    for name in names {
        let entries: Vec<&EntryFacts> = entries_of.get(&name).cloned().unwrap_or_default();
        let bundle = facts.vms.get(&name);
        let env = |k: &str| bundle.and_then(|b| b.env.get(k));
        let entry = entries.first();
        let span = entry.map_or_else(|| bundle.map_or(implicit(), |b| b.span), |e| e.span);
        let env_address =
            env("ISTIO_SVC_IP").and_then(|a| a.value.parse().ok().map(|v| Spanned::new(v, a.span)));
        let address = entry
            .and_then(|e| e.address.clone())
            .or(env_address.clone())
            .or_else(|| endpoint_vms.get(&name).cloned());
        if endpoint_vms.contains_key(&name) {
            out.note(
                Decl::Vm(name.clone()),
                "known only as an Endpoints address: check its name, and import its VM files",
            );
        }
        let Some(address) = address else {
            diags.push(
                Diagnostic::new(
                    &ASSUMED,
                    span,
                    format!("no input gives VM `{name}`'s address; it is left out"),
                )
                .help("import its WorkloadEntry or its cluster.env too"),
            );
            continue;
        };
        for e in &entries {
            if let Some(a) = &e.address
                && let Some((other, other_span)) = by_address.get(&a.value)
                && *other != name
            {
                diags.push(
                    Diagnostic::new(
                        &DUPLICATE_ADDRESS,
                        a.span,
                        format!("VMs `{other}` and `{name}` both claim {}", a.value),
                    )
                    .label("second claim")
                    .with_secondary(*other_span, "first claim")
                    .help("remove the stale WorkloadEntry, or fix its address"),
                );
            }
            if let Some(a) = &e.address {
                by_address.entry(a.value).or_insert((name.clone(), a.span));
            }
        }
        if let (Some(e), Some(env_a)) = (entry.and_then(|e| e.address.clone()), env_address)
            && e.value != env_a.value
        {
            diags.push(
                Diagnostic::new(
                    &VM_FILE_DISAGREES,
                    env_a.span,
                    format!(
                        "cluster.env of `{name}` says ISTIO_SVC_IP {}, its WorkloadEntry {}",
                        env_a.value, e.value
                    ),
                )
                .label("cluster.env")
                .with_secondary(e.span, "WorkloadEntry (imported)")
                .help("regenerate the VM's files, or fix the WorkloadEntry"),
            );
        }
        if let (Some(e), Some(env_n)) = (entry.and_then(|e| e.network.as_ref()), env("ISTIO_META_NETWORK"))
            && e.value != env_n.value
        {
            diags.push(
                Diagnostic::new(
                    &VM_FILE_DISAGREES,
                    env_n.span,
                    format!(
                        "cluster.env of `{name}` says network `{}`, its WorkloadEntry `{}`",
                        env_n.value, e.value
                    ),
                )
                .label("cluster.env")
                .with_secondary(e.span, "WorkloadEntry (imported)")
                .help("regenerate the VM's files, or fix the WorkloadEntry"),
            );
        }
        let network = entry
            .and_then(|e| e.network.clone())
            .or_else(|| env("ISTIO_META_NETWORK").cloned())
            .unwrap_or_else(|| {
                out.note(
                    Decl::Vm(name.clone()),
                    "no input says this VM's network: check it",
                );
                imp("network-1")
            });
        let home = bundle
            .and_then(|b| b.install.get("cluster").cloned())
            .or_else(|| entry.and_then(|e| cluster_of(&e.cluster)).map(imp));
        let labels = entry
            .map(|e| e.labels.clone())
            .unwrap_or_else(|| metajson_labels(env("ISTIO_METAJSON_LABELS")));
        let u32_of = |k: &str| {
            bundle
                .and_then(|b| b.install.get(k))
                .and_then(|v| v.value.parse::<u32>().ok().map(|n| Spanned::new(n, v.span)))
        };
        let proxy_uid = u32_of("proxy_uid").filter(|u| u.value != 1337);
        let proxy_gid =
            u32_of("proxy_gid").filter(|g| g.value != proxy_uid.as_ref().map_or(1337, |u| u.value));
        let ports = |k: &str| -> Vec<Spanned<u16>> {
            env(k)
                .map(|v| {
                    v.value
                        .split(',')
                        .filter_map(|p| p.trim().parse().ok())
                        .map(|p| Spanned::new(p, v.span))
                        .collect()
                })
                .unwrap_or_default()
        };
        let ssh_port = bundle.and_then(|b| b.ssh.as_ref()).map(|_| 22);
        let inbound_exclude_ports = ports("ISTIO_LOCAL_EXCLUDE_PORTS")
            .into_iter()
            .filter(|p| {
                !super::bundle::DEFAULT_INBOUND_EXCLUDES.contains(&p.value) && Some(p.value) != ssh_port
            })
            .collect();
        let outbound_exclude_cidrs = env("ISTIO_SERVICE_EXCLUDE_CIDR")
            .map(|v| {
                v.value
                    .split(',')
                    .filter_map(|c| c.trim().parse().ok())
                    .map(|c| Spanned::new(c, v.span))
                    .collect()
            })
            .unwrap_or_default();
        let dns = if bundle.is_some_and(|b| b.dnsmasq) {
            Some(DnsMode::Dnsmasq)
        } else if bundle.is_some_and(|b| !b.env.is_empty()) && env("ISTIO_META_DNS_CAPTURE").is_none() {
            Some(DnsMode::Hosts)
        } else {
            None
        };
        let interception = env("ISTIO_INBOUND_INTERCEPTION_MODE")
            .filter(|m| m.value == "TPROXY")
            .map(|m| Spanned::new(Interception::Tproxy, m.span));
        vms.push(Vm {
            name: s(name.clone(), span),
            address,
            network,
            cluster: home.filter(|_| several_clusters),
            ssh: bundle.and_then(|b| b.ssh.clone()),
            service_account: None,
            labels: Labels(labels),
            proxy_uid,
            proxy_gid,
            interception,
            dns: dns.map(|d| Spanned::new(d, span)),
            dns_servers: bundle.map(|b| b.dns_servers.clone()).unwrap_or_default(),
            capture_all_dns: bundle
                .filter(|b| {
                    b.pinned_dns && b.dns_servers.is_empty() && env("ISTIO_META_DNS_CAPTURE").is_some()
                })
                .map(|b| Spanned::new(true, b.span)),
            inbound_exclude_ports,
            outbound_exclude_ports: ports("ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE"),
            outbound_exclude_cidrs,
            autoregister: env("ISTIO_META_AUTO_REGISTER_GROUP").map(|g| Spanned::new(true, g.span)),
            span,
        });
    }
    vms
}

/// The labels of `ISTIO_METAJSON_LABELS` but app, version and Istio's own.
fn metajson_labels(value: Option<&S>) -> Vec<(S, S)> {
    let Some(v) = value else {
        return Vec::new();
    };
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(&v.value) else {
        return Vec::new();
    };
    map.iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "app" | "version" | "service.istio.io/canonical-name" | "service.istio.io/canonical-revision"
            )
        })
        .filter_map(|(k, val)| Some((s(k.clone(), v.span), s(val.as_str()?, v.span))))
        .collect()
}

fn services(
    facts: &Facts,
    vms: &[Vm],
    cluster_of: &dyn Fn(&Option<String>) -> Option<String>,
    cp_ns: &str,
    ingress_identities: &[(String, String)],
    out: &mut Out,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Service> {
    let workloads = vm_workloads(facts);
    let vm_names: BTreeSet<&str> = vms.iter().map(|v| v.name.value.as_str()).collect();
    let keys: BTreeSet<(String, String)> = facts.services.keys().cloned().collect();
    let mut all = keys.clone();
    all.extend(workloads.iter().map(|w| (w.namespace.clone(), w.service.clone())));

    // Calls, from Sidecar egress hosts `ns/<svc>.<ns>.svc.<domain>`.
    let mut calls: BTreeMap<ServiceKey, Vec<(String, String, Span)>> = BTreeMap::new();
    for (key, f) in &facts.services {
        for host in f.egress.iter().flatten() {
            let Some((_, fqdn)) = host.value.split_once('/') else {
                continue;
            };
            if fqdn == "*" || host.value.starts_with(&format!("{cp_ns}/")) {
                continue;
            }
            let mut parts = fqdn.split('.');
            let (Some(svc), Some(ns)) = (parts.next(), parts.next()) else {
                continue;
            };
            if !all.contains(&(ns.to_owned(), svc.to_owned())) {
                diags.push(
                    Diagnostic::new(
                        &UNKNOWN_EGRESS_HOST,
                        host.span,
                        format!("no imported service defines `{fqdn}`"),
                    )
                    .label("egress host")
                    .help("import the manifests that define it too, or remove the host"),
                );
                continue;
            }
            calls
                .entry(key.clone())
                .or_default()
                .push((ns.to_owned(), svc.to_owned(), host.span));
        }
    }
    // Each service's callers, gathered once (not a scan of every call
    // per service).
    let mut callers: BTreeMap<(&str, &str), BTreeSet<&ServiceKey>> = BTreeMap::new();
    for (caller, cs) in &calls {
        for (n, s, _) in cs {
            callers
                .entry((n.as_str(), s.as_str()))
                .or_default()
                .insert(caller);
        }
    }
    let callers_of = |key: &(String, String)| -> Vec<&ServiceKey> {
        callers
            .get(&(key.0.as_str(), key.1.as_str()))
            .map(|c| c.iter().copied().collect())
            .unwrap_or_default()
    };

    // Service accounts of cluster workloads, from the principals of what
    // they call: a caller's account is in every callee's policy.
    let principals_of = |key: &(String, String)| -> Option<BTreeSet<(String, String)>> {
        let f = facts.services.get(key)?;
        Some(
            f.principals
                .iter()
                .flatten()
                .filter_map(|p| {
                    let rest = p.value.split_once("/ns/")?.1;
                    let (ns, sa) = rest.split_once("/sa/")?;
                    Some((ns.to_owned(), sa.to_owned()))
                })
                .collect(),
        )
    };

    // Clusters with a Kubernetes Service of each service.
    let service_clusters = |key: &(String, String)| -> BTreeSet<String> {
        facts
            .services
            .get(key)
            .map(|f| f.clusters.clone())
            .unwrap_or_default()
    };
    // The first VM of each name, and the first entry of each VM name,
    // found once.
    let mut vm_by_name: BTreeMap<&str, &Vm> = BTreeMap::new();
    for v in vms {
        vm_by_name.entry(v.name.value.as_str()).or_insert(v);
    }
    let mut first_entry: BTreeMap<String, &EntryFacts> = BTreeMap::new();
    for e in &facts.entries {
        first_entry.entry(vm_name_of(e)).or_insert(e);
    }
    let vm_home = |vm: &str| -> Option<String> {
        vm_by_name
            .get(vm)
            .and_then(|v| v.cluster.as_ref().map(|c| c.value.clone()))
            .or_else(|| cluster_of(&first_entry.get(vm)?.cluster))
    };
    let control_planes: Vec<String> = facts
        .clusters
        .iter()
        .filter(|(_, c)| c.control_plane)
        .map(|(n, _)| n.clone())
        .collect();
    let ingress_ids = ingress_identities;
    let first_cluster = control_planes
        .first()
        .cloned()
        .or_else(|| facts.clusters.keys().next().cloned());

    // Each service's VM workloads (on a VM that was kept), in order,
    // grouped once (not a scan of every workload per service).
    let mut workloads_of: BTreeMap<(&str, &str), Vec<&VmWorkload>> = BTreeMap::new();
    for w in &workloads {
        if vm_names.contains(w.vm.as_str()) {
            workloads_of
                .entry((w.namespace.as_str(), w.service.as_str()))
                .or_default()
                .push(w);
        }
    }

    let mut services = Vec::new();
    for key in &all {
        let f = facts.services.get(key);
        let default_f = ServiceFacts::default();
        let f = f.unwrap_or(&default_f);
        let span = f.span;
        let name = s(key.1.clone(), span);
        let namespace = s(key.0.clone(), f.namespace.span);
        let decl = Decl::Service(format!("{}.{}", key.1, key.0));
        let mine: &[&VmWorkload] = workloads_of
            .get(&(key.0.as_str(), key.1.as_str()))
            .map_or(&[], Vec::as_slice);
        let vm_versions: BTreeSet<&str> = mine.iter().map(|w| w.version.value.as_str()).collect();

        // Versions in clusters: DestinationRule subsets no VM runs.
        let mut cluster_versions: Vec<S> = f
            .subsets
            .iter()
            .filter(|v| !vm_versions.contains(v.value.as_str()))
            .cloned()
            .collect();
        if cluster_versions.is_empty() && mine.is_empty() {
            cluster_versions.push(imp("v1"));
            out.note(
                decl.clone(),
                "the inputs name no version of this service: `v1` assumed",
            );
        }
        let mut deployments = Vec::new();
        if !cluster_versions.is_empty() {
            // Where its pods run: every cluster with a Service of each
            // VM-backed service it calls; else its VMs' home clusters that
            // have its Service; else the first control plane.
            let mut places: Option<BTreeSet<String>> = None;
            for (ns, svc, _) in calls.get(key).into_iter().flatten() {
                let callee = (ns.clone(), svc.clone());
                let with_service = service_clusters(&callee);
                if with_service.is_empty() {
                    continue;
                }
                places = Some(match places {
                    None => with_service,
                    Some(p) => p.intersection(&with_service).cloned().collect(),
                });
            }
            let mut places: BTreeSet<String> = places.unwrap_or_default();
            if places.is_empty() {
                let own = service_clusters(key);
                places = mine
                    .iter()
                    .filter_map(|w| vm_home(&w.vm))
                    .filter(|c| own.contains(c))
                    .collect();
            }
            if places.is_empty() {
                places.extend(first_cluster.clone());
            }
            for cluster in places {
                deployments.push(Deployment {
                    versions: cluster_versions.clone(),
                    placement: Placement::Cluster(imp(cluster)),
                    service_account: None,
                    span,
                });
            }
        }
        for w in mine {
            deployments.push(Deployment {
                versions: vec![w.version.clone()],
                placement: Placement::Vm(imp(w.vm.clone())),
                service_account: None,
                span,
            });
        }

        // Its service account: the WorkloadGroups', else the one every
        // callee's policy admits.
        let mut service_account = f
            .groups
            .values()
            .find_map(|g| g.service_account.clone())
            .or_else(|| mine.iter().find_map(|w| w.service_account.clone()));
        let mut extra_accounts: Vec<String> = Vec::new();
        if service_account.is_none() && !cluster_versions.is_empty() {
            let mut common: Option<BTreeSet<String>> = None;
            for (ns, svc, _) in calls.get(key).into_iter().flatten() {
                let Some(p) = principals_of(&(ns.clone(), svc.clone())) else {
                    continue;
                };
                let mine: BTreeSet<String> = p
                    .into_iter()
                    .filter(|(n, _)| *n == key.0)
                    .map(|(_, sa)| sa)
                    .collect();
                // Accounts of the callee's other callers are theirs.
                common = Some(match common {
                    None => mine,
                    Some(c) => c.intersection(&mine).cloned().collect(),
                });
            }
            if let Some(mut c) = common {
                for other in callers_of(key).iter() {
                    c.remove(&other.1);
                }
                if !c.contains(&key.1) {
                    let picked = c
                        .iter()
                        .find(|sa| sa.contains(key.1.as_str()))
                        .or(c.iter().next())
                        .cloned();
                    if let Some(sa) = &picked {
                        service_account = Some(imp(sa.clone()));
                    }
                    extra_accounts = c.into_iter().filter(|sa| Some(sa) != picked.as_ref()).collect();
                } else {
                    extra_accounts = c.into_iter().filter(|sa| *sa != key.1).collect();
                }
            }
        }
        if let Some(extra) = extra_accounts.first()
            && let Some(d) = deployments
                .iter_mut()
                .rev()
                .find(|d| matches!(d.placement, Placement::Cluster(_)))
        {
            let last = d.versions.pop();
            if let Some(last) = last {
                let mut split = d.clone();
                split.versions = vec![last.clone()];
                split.service_account = Some(imp(extra.clone()));
                out.note(
                    decl.clone(),
                    format!(
                        "policies admit `{extra}` as this service too; which version runs as it is not in the inputs: `{}` assumed",
                        last.value
                    ),
                );
                if d.versions.is_empty() {
                    *d = split;
                } else {
                    deployments.push(split);
                }
            }
        }
        let service_account = service_account.filter(|sa| sa.value != key.1);

        // Routes, from the VirtualService.
        let mut routes: Vec<Route> = f
            .routes
            .iter()
            .map(|(v, w)| Route {
                version: v.clone(),
                weight: w.clone(),
                span: v.span,
            })
            .collect();
        let total: u32 = routes
            .iter()
            .filter_map(|r| r.weight.as_ref().map(|w| w.value))
            .sum();
        if routes.len() > 1 && total != 100 {
            let at = routes.first().map_or(span, |r| r.span);
            diags.push(
                Diagnostic::new(
                    &IMPORT_WEIGHTS,
                    at,
                    format!("the route weights of `{}` add up to {total}, not 100", key.1),
                )
                .label("first route")
                .help("fix the VirtualService's weights so they make 100"),
            );
        }
        if let [only] = routes.as_mut_slice()
            && only.weight.as_ref().is_some_and(|w| w.value == 100)
        {
            only.weight = None;
        }

        // Entry point: its policy admits an ingress gateway.
        let entry_point = f
            .principals
            .iter()
            .flatten()
            .find(|p| {
                ingress_ids
                    .iter()
                    .any(|(ns, sa)| p.value.ends_with(&format!("/ns/{ns}/sa/{sa}")))
            })
            .map(|p| Spanned::new(true, p.span));

        let ports = f
            .ports
            .iter()
            .map(|p| {
                let protocol = p
                    .protocol
                    .as_ref()
                    .and_then(|w| Protocol::from_keyword(&w.value).map(|pr| Spanned::new(pr, w.span)))
                    .filter(|pr| Some(pr.value) != Protocol::from_port_name(&p.name.value));
                Port {
                    name: p.name.clone(),
                    number: p.number.clone(),
                    protocol,
                    target_port: p.target.clone().filter(|t| t.value != p.number.value),
                    span: p.name.span,
                }
            })
            .collect();
        if f.ports.is_empty() {
            diags.push(
                Diagnostic::new(&ASSUMED, span, format!("no input gives the ports of `{}`", key.1))
                    .help("import its Kubernetes Service or ServiceEntry too"),
            );
        }

        services.push(Service {
            name,
            namespace,
            ports,
            deployments,
            calls: calls
                .get(key)
                .into_iter()
                .flatten()
                .map(|(ns, svc, span)| {
                    if *ns == key.0 {
                        s(svc.clone(), *span)
                    } else {
                        s(format!("{svc}.{ns}"), *span)
                    }
                })
                .collect(),
            routes,
            service_account,
            registration: f
                .service_entry
                .then(|| Spanned::new(Registration::ServiceEntry, span)),
            entry_point,
            probe: f.groups.values().find_map(|g| g.probe.clone()),
            span,
        });
    }
    services
}
