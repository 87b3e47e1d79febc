//! Facts → `Topology`: the inverse of the emitters' decisions.
//!
//! Where the inputs say a thing, it is taken; where meshc's emitters derive
//! it from something else (a default, a service account from a caller's
//! AuthorizationPolicy), it is derived back; where nothing says it, a value
//! that builds the same files is assumed and a `Note` (or W952) says so.
//! Conflicts between inputs are errors (E953–E956).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::kubernetes::{DeploymentFacts, EntryFacts, Facts, ServiceFacts};
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

/// A service of the import, by the rank of its (namespace, name) among
/// all of them: ids order as the name pairs do, so a map keyed by ids
/// iterates in the order one keyed by the names would, while a lookup
/// compares integers, not strings (a 10k mesh's assembly made about 30
/// string-keyed B-tree lookups per service).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Sid(usize);

/// Every service's (namespace, name), sorted, each once; a [`Sid`] is an
/// index into it. Names are borrowed from the facts and the workloads.
struct Keys<'f> {
    pairs: Vec<(&'f str, &'f str)>,
    /// Each service's facts, when an input gives any.
    facts: Vec<Option<&'f ServiceFacts>>,
}

impl<'f> Keys<'f> {
    fn new(
        mut pairs: Vec<(&'f str, &'f str)>,
        services: &'f BTreeMap<(String, String), ServiceFacts>,
    ) -> Keys<'f> {
        pairs.sort_unstable();
        pairs.dedup();
        let mut keys = Keys {
            facts: vec![None; pairs.len()],
            pairs,
        };
        for ((ns, name), f) in services {
            if let Some(id) = keys.id(ns, name) {
                keys.facts[id.0] = Some(f);
            }
        }
        keys
    }

    /// The id of service `name` in namespace `ns`, if it is one.
    fn id(&self, ns: &str, name: &str) -> Option<Sid> {
        self.pairs.binary_search(&(ns, name)).ok().map(Sid)
    }

    /// Every id, in name order.
    fn ids(&self) -> impl Iterator<Item = Sid> + use<> {
        (0..self.pairs.len()).map(Sid)
    }

    fn ns(&self, k: Sid) -> &'f str {
        self.pairs[k.0].0
    }

    fn name(&self, k: Sid) -> &'f str {
        self.pairs[k.0].1
    }

    fn facts(&self, k: Sid) -> Option<&'f ServiceFacts> {
        self.facts[k.0]
    }
}

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
        for d in &mut facts.deployments {
            if d.cluster.is_empty() {
                d.cluster = target.clone();
            }
        }
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

    let mut vms = vms(&facts, &cluster_of, &mut out, diags);
    let ingress_ids = mesh.ingress_identities();
    let (mut services, vm_accounts) = services(&facts, &vms, &cp_ns, &ingress_ids, &mut out, diags);
    for vm in &mut vms {
        vm.service_account = vm_accounts.get(&vm.name.value).cloned();
    }
    unseen_callers(&facts, &vms, &mut services, &mut out, diags);
    order_services(&mut services, &facts.runbook_workloads);

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
    // Legacy flow: the VMs whose cluster.env names the service range, in
    // name order, with their home cluster (gathered once, not per cluster).
    let service_ranges: Vec<(Option<&str>, &S)> = facts
        .vms
        .values()
        .filter_map(|v| {
            let range = v.env.get("ISTIO_SERVICE_CIDR")?;
            Some((v.install.get("cluster").map(|h| h.value.as_str()), range))
        })
        .collect();
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
            service_cidrs: service_ranges
                .iter()
                .find(|(home, _)| home.is_none_or(|h| h == name))
                .map(|&(_, range)| range)
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
    let name = entry.name.value.as_str();
    // Without `<app>-<version>-`, stripped piece by piece (no prefix made).
    let rest = match (&entry.app, &entry.version) {
        (Some(a), Some(v)) => name
            .strip_prefix(a.value.as_str())
            .and_then(|r| r.strip_prefix('-'))
            .and_then(|r| r.strip_prefix(v.value.as_str()))
            .and_then(|r| r.strip_prefix('-')),
        _ => None,
    };
    rest.unwrap_or(name).to_owned()
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
            // The account the VM's bundle fetches credentials for.
            let service_account = facts
                .vms
                .get(&vm)
                .and_then(|f| f.install.get("service_account"))
                .cloned();
            out.push(VmWorkload {
                namespace: ns.clone(),
                service: svc.clone(),
                version: s("v1", a.span),
                vm,
                service_account,
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
    cp_ns: &str,
    ingress_identities: &[(String, String)],
    out: &mut Out,
    diags: &mut Vec<Diagnostic>,
) -> (Vec<Service>, BTreeMap<String, S>) {
    let workloads = vm_workloads(facts);
    let vm_names: BTreeSet<&str> = vms.iter().map(|v| v.name.value.as_str()).collect();
    // Every service: those with facts, VM workloads or Deployments.
    let mut pairs: Vec<(&str, &str)> = facts
        .services
        .keys()
        .map(|(ns, name)| (ns.as_str(), name.as_str()))
        .collect();
    pairs.extend(
        workloads
            .iter()
            .map(|w| (w.namespace.as_str(), w.service.as_str())),
    );
    pairs.extend(
        facts
            .deployments
            .iter()
            .map(|d| (d.namespace.value.as_str(), d.app.value.as_str())),
    );
    let keys = Keys::new(pairs, &facts.services);
    // Deployments' pods, each (version, cluster) once.
    let mut pods: BTreeMap<Sid, Vec<&DeploymentFacts>> = BTreeMap::new();
    for d in &facts.deployments {
        let Some(id) = keys.id(&d.namespace.value, &d.app.value) else {
            continue;
        };
        let list = pods.entry(id).or_default();
        fn version(d: &DeploymentFacts) -> Option<&str> {
            d.version.as_ref().map(|v| v.value.as_str())
        }
        if !list
            .iter()
            .any(|o| version(o) == version(d) && o.cluster == d.cluster)
        {
            list.push(d);
        }
    }

    // Calls, from Sidecar egress hosts `ns/<svc>.<ns>.svc.<domain>`.
    let mut calls: Calls = BTreeMap::new();
    let cp_prefix = format!("{cp_ns}/");
    for key in keys.ids() {
        let Some(f) = keys.facts(key) else { continue };
        for host in f.egress.iter().flatten() {
            let Some((_, fqdn)) = host.value.split_once('/') else {
                continue;
            };
            if fqdn == "*" || host.value.starts_with(&cp_prefix) {
                continue;
            }
            let mut parts = fqdn.split('.');
            let (Some(svc), Some(ns)) = (parts.next(), parts.next()) else {
                continue;
            };
            let Some(callee) = keys.id(ns, svc) else {
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
            };
            calls.entry(key).or_default().push((callee, host.span));
        }
    }
    let mut mine_of: BTreeMap<Sid, Vec<&VmWorkload>> = BTreeMap::new();
    for w in workloads.iter().filter(|w| vm_names.contains(w.vm.as_str())) {
        if let Some(id) = keys.id(&w.namespace, &w.service) {
            mine_of.entry(id).or_default().push(w);
        }
    }
    let cluster_side = ClusterSide::infer(
        facts,
        &keys,
        &mine_of,
        &calls,
        vm_accounts(&keys, &mine_of),
        ingress_identities,
        &pods,
    );

    // The ends of the ingress gateways' principals, made once.
    let ingress_principals: Vec<String> = ingress_identities
        .iter()
        .map(|(ns, sa)| format!("/ns/{ns}/sa/{sa}"))
        .collect();
    let mut services = Vec::new();
    let mut portless = Vec::new();
    let default_f = ServiceFacts::default();
    for key in keys.ids() {
        let (key_ns, key_name) = (keys.ns(key), keys.name(key));
        let f = keys.facts(key).unwrap_or(&default_f);
        let span = f.span;
        let name = s(key_name, span);
        let namespace = s(key_ns, f.namespace.span);
        let decl = Decl::Service(format!("{key_name}.{key_ns}"));
        let mine: Vec<&VmWorkload> = mine_of.get(&key).cloned().unwrap_or_default();

        // Versions in clusters: DestinationRule subsets no VM runs.
        let mut cluster_versions: Vec<S> = f
            .subsets
            .iter()
            .filter(|v| !mine.iter().any(|w| w.version.value == v.value))
            .cloned()
            .collect();
        if pods.contains_key(&key) {
            cluster_versions.clear();
        } else if cluster_versions.is_empty() && mine.is_empty() {
            cluster_versions.push(imp("v1"));
            out.note(
                decl.clone(),
                "the inputs name no version of this service: `v1` assumed",
            );
        }
        let (mut deployments, service_account) = match pods.get(&key) {
            Some(list) => cluster_side.declared(key, key_name, list, &decl, out),
            None => cluster_side.deployments((key, key_name), &cluster_versions, &mine, &decl, span, out),
        };
        for w in &mine {
            deployments.push(Deployment {
                versions: vec![w.version.clone()],
                placement: Placement::Vm(imp(w.vm.clone())),
                service_account: None,
                span,
            });
        }
        let service_account = service_account.filter(|sa| sa.value != key_name);

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
                    format!("the route weights of `{}` add up to {total}, not 100", key_name),
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
            .find(|p| ingress_principals.iter().any(|i| p.value.ends_with(i.as_str())))
            .map(|p| Spanned::new(true, p.span));

        let mut ports: Vec<Port> = f
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
        // A VirtualService routes TCP only for ports Istio reads as TCP.
        if let (true, [http, Some(tcp)]) = (f.ports.is_empty(), f.route_lists) {
            let mut assume = |name: &str, number: u16, at: Span| {
                ports.push(Port {
                    name: s(name, at),
                    number: Spanned::new(number, at),
                    protocol: None,
                    target_port: None,
                    span: at,
                });
                out.note(
                    decl.clone(),
                    format!("its VirtualService routes {name} traffic, so it has such a port; which is not in the inputs: `port {name} {number}` assumed"),
                );
            };
            if let Some(http) = http {
                assume("http", 80, http);
            }
            assume("tcp", 1, tcp);
        }
        if f.ports.is_empty() {
            portless.push((key_name, span));
        }

        services.push(Service {
            name,
            namespace,
            ports,
            deployments,
            calls: calls
                .get(&key)
                .into_iter()
                .flatten()
                .map(|&(callee, span)| {
                    let (ns, svc) = (keys.ns(callee), keys.name(callee));
                    if ns == key_ns {
                        s(svc, span)
                    } else {
                        s(format!("{svc}.{ns}"), span)
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
    diags.extend(portless_findings(portless));
    (services, cluster_side.accounts.vm)
}

/// Up to this many services without ports, each is a finding of its own;
/// more are one finding that names this many.
const PORTLESS_ONE_BY_ONE: usize = 5;

/// W952 for the services no input gives the ports of: one finding each for
/// a few, but one for all of them when there are more. A reviewer wants
/// the fact once, with a count and the first names, not one finding per
/// service (8,000 of them for a 10k mesh's output, whose cluster-only
/// services have no Service object); each one is in the imported topology
/// as a `service` without `port` lines.
fn portless_findings(mut portless: Vec<(&str, Span)>) -> Vec<Diagnostic> {
    let one = |name: &str, span: Span| {
        Diagnostic::new(&ASSUMED, span, format!("no input gives the ports of `{name}`"))
            .help("import its Kubernetes Service or ServiceEntry too")
    };
    if portless.len() <= PORTLESS_ONE_BY_ONE {
        return portless.into_iter().map(|(n, s)| one(n, s)).collect();
    }
    portless.sort_by_key(|(name, span)| (span.start, *name));
    let named: Vec<String> = portless
        .iter()
        .take(PORTLESS_ONE_BY_ONE)
        .map(|(n, _)| format!("`{n}`"))
        .collect();
    let first = portless[0];
    vec![
        Diagnostic::new(
            &ASSUMED,
            first.1,
            format!(
                "no input gives the ports of {} services: {} and {} more; each is written without `port`",
                portless.len(),
                named.join(", "),
                portless.len() - named.len(),
            ),
        )
        .label(format!("the first: `{}`", first.0))
        .help("import their Kubernetes Services or ServiceEntries too"),
    ]
}

/// The service accounts VM workloads run as, said back the way a topology
/// says them. A VM running several services has one identity, so one
/// account: its own `service-account`. A service's account is the one most
/// of its other VMs run as; a VM whose workload runs as another account
/// gets that one as its own.
struct Accounts {
    vm: BTreeMap<String, S>,
    service: BTreeMap<Sid, S>,
}

/// The account a VM workload runs as: its WorkloadEntry's (or, when
/// auto-registered, its `cluster.env`'s), else its WorkloadGroup's.
fn workload_account(f: Option<&ServiceFacts>, w: &VmWorkload) -> Option<S> {
    w.service_account
        .clone()
        .or_else(|| f?.groups.get(&w.version.value)?.service_account.clone())
}

fn vm_accounts(keys: &Keys, mine_of: &BTreeMap<Sid, Vec<&VmWorkload>>) -> Accounts {
    // (service, VM, account) of every VM workload whose account is known.
    let mut observed: Vec<(Sid, &str, S)> = Vec::new();
    for (&key, mine) in mine_of {
        for w in mine {
            if let Some(sa) = workload_account(keys.facts(key), w) {
                observed.push((key, w.vm.as_str(), sa));
            }
        }
    }
    let mut accounts_on: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut services_on: BTreeMap<&str, BTreeSet<Sid>> = BTreeMap::new();
    for (key, vm, sa) in &observed {
        accounts_on.entry(vm).or_default().insert(sa.value.as_str());
        services_on.entry(vm).or_default().insert(*key);
    }
    let mut vm: BTreeMap<String, S> = BTreeMap::new();
    for (_, name, sa) in &observed {
        if services_on[name].len() > 1 && accounts_on[name].len() == 1 {
            vm.entry((*name).to_owned()).or_insert_with(|| sa.clone());
        }
    }
    // Per service, over its VMs without an account of their own: the
    // account most run as (the first in name order on a tie).
    let mut counts: BTreeMap<Sid, BTreeMap<&str, (usize, &S)>> = BTreeMap::new();
    for (key, name, sa) in &observed {
        if !vm.contains_key(*name) {
            let c = counts
                .entry(*key)
                .or_default()
                .entry(sa.value.as_str())
                .or_insert((0, sa));
            c.0 += 1;
        }
    }
    let mut service: BTreeMap<Sid, S> = BTreeMap::new();
    for (key, c) in &counts {
        let mut best: Option<(usize, &S)> = None;
        for &(n, sa) in c.values() {
            if best.is_none_or(|(m, _)| n > m) {
                best = Some((n, sa));
            }
        }
        if let Some((_, sa)) = best {
            service.insert(*key, sa.clone());
        }
    }
    for (key, name, sa) in &observed {
        if !vm.contains_key(*name) && service.get(key).is_some_and(|s| s.value != sa.value) {
            vm.insert((*name).to_owned(), sa.clone());
        }
    }
    Accounts { vm, service }
}

/// Whether a service has versions that run in clusters: subsets no VM
/// runs, or no VM at all.
fn has_cluster_versions(keys: &Keys, key: Sid, mine: &[&VmWorkload]) -> bool {
    mine.is_empty()
        || keys.facts(key).is_some_and(|f| {
            f.subsets
                .iter()
                .any(|v| !mine.iter().any(|w| w.version.value == v.value))
        })
}

/// The principals a service's AuthorizationPolicy admits, as (namespace,
/// service account); `None` without a policy.
fn admitted<'f>(keys: &Keys<'f>, key: Sid) -> Option<BTreeSet<(&'f str, &'f str)>> {
    let f = keys.facts(key)?;
    Some(
        f.principals
            .as_ref()?
            .iter()
            .filter_map(|p| {
                let rest = split_once_slashed(&p.value, "/ns/")?.1;
                split_once_slashed(rest, "/sa/")
            })
            .collect(),
    )
}

/// `s.split_once(pat)` for a `pat` that starts with `/` and is ASCII:
/// a principal has a few slashes, and `str`'s substring searcher cost
/// more to set up (for each of 60k principals at 10k services) than
/// this whole search.
fn split_once_slashed<'s>(s: &'s str, pat: &str) -> Option<(&'s str, &'s str)> {
    debug_assert!(pat.starts_with('/') && pat.is_ascii());
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(i) = memchr::memchr(b'/', b.get(from..)?) {
        let at = from + i;
        if b[at..].starts_with(pat.as_bytes()) {
            return Some((s.get(..at)?, s.get(at + pat.len()..)?));
        }
        from = at + 1;
    }
    None
}

/// Whether `sa` reads as service `name`'s own account (`name`, or a
/// prefix and `-name`).
fn account_of(sa: &str, name: &str) -> bool {
    sa == name || sa.strip_suffix(name).is_some_and(|p| p.ends_with('-'))
}

/// Where each service's cluster workloads run, and as which accounts: the
/// Kubernetes Services and the AuthorizationPolicies' principals, read
/// back.
///
/// Placement: meshc writes the Service of a VM-backed service to every
/// cluster where it or one of its callers runs. So a workload's cluster
/// holds the Service of its own service (when VM-backed) and of every
/// VM-backed service it calls; the largest placement with that property
/// builds every Service again (each lies inside what the Services allow,
/// and the original placement lies inside it).
///
/// Accounts: a callee's policy admits the account of every workload of
/// every caller. A caller's cluster workloads may run only as accounts
/// every callee admits; an account a callee admits that no VM workload
/// explains must be some caller's, and when only one caller may run as
/// it, that one does.
///
/// Cluster names and accounts are borrowed from the facts: a copy of each
/// for every service was most of the cost of placing them.
struct ClusterSide<'f> {
    /// Each service's clusters, sorted, each once.
    places: BTreeMap<Sid, Vec<&'f str>>,
    /// Services whose placement no Service constrains.
    unconstrained: BTreeSet<Sid>,
    clusters: Vec<&'f str>,
    /// The accounts of each service's cluster workloads.
    chosen: BTreeMap<Sid, BTreeSet<&'f str>>,
    /// The accounts of VM workloads.
    accounts: Accounts,
}

/// Each caller's callees, with the span of the egress host naming each.
type Calls = BTreeMap<Sid, Vec<(Sid, Span)>>;

impl<'f> ClusterSide<'f> {
    fn infer(
        facts: &'f Facts,
        keys: &Keys<'f>,
        mine_of: &BTreeMap<Sid, Vec<&VmWorkload>>,
        calls: &Calls,
        accounts: Accounts,
        ingress: &[(String, String)],
        pods: &BTreeMap<Sid, Vec<&'f DeploymentFacts>>,
    ) -> ClusterSide<'f> {
        let first_cluster = facts
            .clusters
            .iter()
            .find(|(_, c)| c.control_plane)
            .or_else(|| facts.clusters.iter().next())
            .map(|(n, _)| n.as_str());
        let mine = |k: Sid| mine_of.get(&k).map_or(&[][..], Vec::as_slice);
        let with_cluster: Vec<Sid> = keys
            .ids()
            .filter(|&k| !pods.contains_key(&k) && has_cluster_versions(keys, k, mine(k)))
            .collect();
        // The clusters whose Service of `k` the inputs hold, borrowed.
        let registered = |k: Sid| -> Option<&'f BTreeMap<String, Span>> {
            keys.facts(k).map(|f| &f.clusters).filter(|c| !c.is_empty())
        };
        // Each service's callees.
        let no_calls = Vec::new();
        let callees = |k: Sid| calls.get(&k).unwrap_or(&no_calls).iter().map(|&(c, _)| c);

        let mut places = BTreeMap::new();
        let mut unconstrained = BTreeSet::new();
        for &k in &with_cluster {
            // The clusters every registered one of `k` and its callees has.
            // A map's keys come sorted, so each list is sorted too.
            let mut p: Option<Vec<&'f str>> = None;
            for c in std::iter::once(k).chain(callees(k)) {
                if let Some(r) = registered(c) {
                    match &mut p {
                        None => p = Some(r.keys().map(String::as_str).collect()),
                        Some(p) => p.retain(|c| r.contains_key(*c)),
                    }
                }
            }
            let p: Option<Vec<&'f str>> = p
                .filter(|p| !p.is_empty())
                .or_else(|| registered(k).map(|r| r.keys().map(String::as_str).collect()));
            if p.is_none() {
                unconstrained.insert(k);
            }
            places.insert(k, p.unwrap_or_else(|| first_cluster.into_iter().collect()));
        }

        // The accounts each caller's cluster workloads may run as. A
        // callee's admitted principals are read once, however many callers
        // it has.
        let mut admitted_by: BTreeMap<Sid, Option<BTreeSet<(&str, &str)>>> = BTreeMap::new();
        let mut allowed: BTreeMap<Sid, BTreeSet<&str>> = BTreeMap::new();
        for &z in &with_cluster {
            let z_ns = keys.ns(z);
            let mut m: Option<BTreeSet<&str>> = None;
            for y in callees(z) {
                let Some(p) = admitted_by.entry(y).or_insert_with(|| admitted(keys, y)) else {
                    continue;
                };
                let theirs = p.iter().filter(|(n, _)| *n == z_ns).map(|&(_, sa)| sa);
                m = Some(match m {
                    None => theirs.collect(),
                    Some(mut m) => {
                        let theirs: BTreeSet<&str> = theirs.collect();
                        m.retain(|sa| theirs.contains(sa));
                        m
                    }
                });
            }
            if let Some(m) = m {
                allowed.insert(z, m);
            }
        }
        let default_of = |k: Sid| -> &str {
            accounts
                .service
                .get(&k)
                .map_or_else(|| keys.name(k), |s| s.value.as_str())
        };
        let mut callers: BTreeMap<Sid, Vec<Sid>> = BTreeMap::new();
        for (&caller, cs) in calls {
            for &(callee, _) in cs {
                callers.entry(callee).or_default().push(caller);
            }
        }
        // Each admitted account no VM workload explains, with the callers
        // whose cluster workloads may run as it.
        let mut needs: Vec<(&str, Vec<Sid>)> = Vec::new();
        for (&y, cs) in &callers {
            let Some(mut need) = admitted(keys, y) else {
                continue;
            };
            need.retain(|(n, sa)| !ingress.iter().any(|(i, a)| i == n && a == sa));
            // The accounts the callers' workloads are known to run as (a
            // list of its own: `need`'s names must outlive `accounts`).
            let mut explained: Vec<(&str, &str)> = Vec::new();
            for &z in cs {
                let z_ns = keys.ns(z);
                for d in pods.get(&z).into_iter().flatten() {
                    let sa = d
                        .service_account
                        .as_ref()
                        .map_or_else(|| default_of(z), |s| s.value.as_str());
                    explained.push((z_ns, sa));
                }
                for w in mine(z) {
                    let sa = accounts
                        .vm
                        .get(&w.vm)
                        .map_or_else(|| default_of(z), |s| s.value.as_str());
                    explained.push((z_ns, sa));
                }
            }
            if !explained.is_empty() {
                explained.sort_unstable();
                need.retain(|p| explained.binary_search(p).is_err());
            }
            for (n, sa) in need {
                let candidates = cs
                    .iter()
                    .copied()
                    .filter(|&z| keys.ns(z) == n && allowed.get(&z).is_some_and(|m| m.contains(sa)))
                    .collect();
                needs.push((sa, candidates));
            }
        }
        let mut chosen: BTreeMap<Sid, BTreeSet<&'f str>> = BTreeMap::new();
        for (sa, candidates) in &needs {
            if let [only] = candidates.as_slice() {
                chosen.entry(*only).or_default().insert(*sa);
            }
        }
        for &(sa, ref candidates) in &needs {
            if candidates
                .iter()
                .any(|z| chosen.get(z).is_some_and(|c| c.contains(sa)))
            {
                continue;
            }
            let pick = candidates
                .iter()
                .find(|&&z| default_of(z) == sa)
                .or_else(|| candidates.iter().find(|&&z| account_of(sa, keys.name(z))))
                .or(candidates.first());
            if let Some(&z) = pick {
                chosen.entry(z).or_default().insert(sa);
            }
        }
        // A caller no admitted account needed runs as one every callee
        // admits: its own when that is one.
        for (&z, m) in &allowed {
            if chosen.get(&z).is_some_and(|c| !c.is_empty()) {
                continue;
            }
            let own = default_of(z);
            // `m`'s own copy of it: `own` may borrow `accounts`.
            let pick = if let Some(&own) = m.get(own) {
                Some(own)
            } else {
                m.iter()
                    .find(|sa| account_of(sa, keys.name(z)))
                    .or(m.iter().next())
                    .copied()
            };
            if let Some(sa) = pick {
                chosen.entry(z).or_default().insert(sa);
            }
        }
        ClusterSide {
            places,
            unconstrained,
            clusters: facts.clusters.keys().map(String::as_str).collect(),
            chosen,
            accounts,
        }
    }

    /// The `deploy` lines of a service whose Deployments are among the
    /// inputs, and its service account: one line per cluster and account.
    fn declared(
        &self,
        key: Sid,
        name: &str,
        pods: &[&DeploymentFacts],
        decl: &Decl,
        out: &mut Out,
    ) -> (Vec<Deployment>, Option<S>) {
        let mut service_account = self.accounts.service.get(&key).cloned();
        // Every pod runs as one account: the service's, unless its VMs
        // already say another.
        let mut accounts = pods.iter().map(|d| d.service_account.as_ref().map(|s| &s.value));
        let first = accounts.next().flatten();
        if let Some(sa) = first
            && accounts.all(|a| a == Some(sa))
            && service_account.as_ref().is_none_or(|s| s.value == *sa)
        {
            service_account = pods.first().and_then(|d| d.service_account.clone());
        }
        let own = service_account
            .as_ref()
            .map_or_else(|| name.to_owned(), |s| s.value.clone());
        let mut lines: Vec<Deployment> = Vec::new();
        for d in pods {
            let version = d.version.clone().unwrap_or_else(|| {
                out.note(
                    decl.clone(),
                    format!(
                        "Deployment `{}`'s pods have no `version` label: `v1` assumed",
                        d.app.value
                    ),
                );
                Spanned::new("v1".to_owned(), d.span)
            });
            let account = d.service_account.clone().filter(|sa| sa.value != own);
            let same = |l: &Deployment| {
                matches!(&l.placement, Placement::Cluster(c) if c.value == d.cluster)
                    && l.service_account.as_ref().map(|s| &s.value) == account.as_ref().map(|s| &s.value)
            };
            match lines.iter_mut().find(|l| same(l)) {
                Some(l) if !l.versions.iter().any(|v| v.value == version.value) => l.versions.push(version),
                Some(_) => {}
                None => lines.push(Deployment {
                    versions: vec![version],
                    placement: Placement::Cluster(imp(d.cluster.clone())),
                    service_account: account,
                    span: d.span,
                }),
            }
        }
        (lines, service_account)
    }

    /// The cluster `deploy` lines of a service and its service account.
    fn deployments(
        &self,
        (key, name): (Sid, &str),
        cluster_versions: &[S],
        mine: &[&VmWorkload],
        decl: &Decl,
        span: Span,
        out: &mut Out,
    ) -> (Vec<Deployment>, Option<S>) {
        let accounts = &self.accounts;
        let mut service_account = accounts.service.get(&key).cloned();
        if cluster_versions.is_empty() {
            return (Vec::new(), service_account);
        }
        // The service's account is its VM workloads' when one runs on a
        // VM without an account of its own.
        let pinned = mine.iter().any(|w| !accounts.vm.contains_key(&w.vm));
        let base = service_account
            .as_ref()
            .map_or_else(|| name.to_owned(), |s| s.value.clone());
        let none = BTreeSet::new();
        let chosen = self.chosen.get(&key).unwrap_or(&none);
        let mut deploy_account = None;
        let main = if chosen.is_empty() || chosen.contains(base.as_str()) {
            base
        } else {
            let pick = chosen
                .iter()
                .find(|sa| account_of(sa, name))
                .or(chosen.iter().next())
                .map_or(base, |sa| (*sa).to_owned());
            if pinned {
                deploy_account = Some(imp(pick.clone()));
            } else {
                service_account = Some(imp(pick.clone()));
            }
            pick
        };
        let mut lines: Vec<Deployment> = self
            .places
            .get(&key)
            .into_iter()
            .flatten()
            .map(|&c| Deployment {
                versions: cluster_versions.to_vec(),
                placement: Placement::Cluster(imp(c)),
                service_account: deploy_account.clone(),
                span,
            })
            .collect();
        // Other accounts: a line of their own each, from the last cluster
        // backwards, then the last version split off a line.
        let mut free = lines.len();
        for &extra in chosen.iter().filter(|sa| **sa != main) {
            if free > 1 {
                free -= 1;
                lines[free].service_account = Some(imp(extra));
            } else if self.unconstrained.contains(&key)
                && let Some(c) = self.clusters.iter().find(|c| {
                    !lines
                        .iter()
                        .any(|d| matches!(&d.placement, Placement::Cluster(p) if p.value == **c))
                })
            {
                lines.push(Deployment {
                    versions: cluster_versions.to_vec(),
                    placement: Placement::Cluster(imp(*c)),
                    service_account: Some(imp(extra)),
                    span,
                });
            } else if let Some(i) = lines.iter().rposition(|d| d.versions.len() > 1)
                && let Some(last) = lines[i].versions.pop()
            {
                let mut split = lines[i].clone();
                split.versions = vec![last];
                split.service_account = Some(imp(extra));
                lines.insert(i + 1, split);
            } else {
                out.note(
                    decl.clone(),
                    format!("policies admit `{extra}` as this service too, but no workload of it is left to run as it"),
                );
                continue;
            }
            out.note(
                decl.clone(),
                format!(
                    "policies admit `{extra}` as this service too; which of its cluster workloads run as it is not in the inputs: one is assumed"
                ),
            );
        }
        (lines, service_account)
    }
}

crate::declare_code! {
    /// A VM-backed service's Kubernetes Service is in a cluster where
    /// nothing among the inputs runs it or calls it.
    ///
    /// meshc writes such a Service only to the clusters where the service
    /// or one of its callers runs, so something in that cluster calls it.
    /// The legacy flow (and a namespace without least privilege) writes no
    /// Sidecar, so the artifacts do not say which service that is. `meshc
    /// import` declares a stand-in caller there, with a comment: rename it
    /// to the real caller (and give it its ports), or move its `calls` to
    /// the real caller's declaration.
    pub static UNSEEN_CALLER = "W953", Warning, "import-unseen-caller", "a Service's cluster says an unnamed caller runs there";
}

/// Stand-in callers for the Services no known workload explains (W953).
fn unseen_callers(
    facts: &Facts,
    vms: &[Vm],
    services: &mut Vec<Service>,
    out: &mut Out,
    diags: &mut Vec<Diagnostic>,
) {
    let only = match facts.clusters.keys().collect::<Vec<_>>().as_slice() {
        [only] => Some((*only).clone()),
        _ => None,
    };
    let home: BTreeMap<&str, &str> = vms
        .iter()
        .filter_map(|v| {
            let c = v.cluster.as_ref().map(|c| c.value.as_str()).or(only.as_deref())?;
            Some((v.name.value.as_str(), c))
        })
        .collect();
    // Each service's place, by borrowed (namespace, name): the stand-ins
    // are added once every lookup is done.
    let index: BTreeMap<(&str, &str), usize> = services
        .iter()
        .enumerate()
        .map(|(i, s)| ((s.namespace.value.as_str(), s.name.value.as_str()), i))
        .collect();
    // Cluster names borrowed (from the services and `home`), not copied
    // for every service and every call.
    let mut explained: Vec<BTreeSet<&str>> = services
        .iter()
        .map(|s| {
            s.deployments
                .iter()
                .filter_map(|d| match &d.placement {
                    Placement::Cluster(c) => Some(c.value.as_str()),
                    Placement::Vm(v) => home.get(v.value.as_str()).copied(),
                })
                .collect()
        })
        .collect();
    let own = explained.clone();
    for (i, s) in services.iter().enumerate() {
        for call in &s.calls {
            let (name, ns) = call
                .value
                .split_once('.')
                .unwrap_or((&call.value, &s.namespace.value));
            if let Some(&callee) = index.get(&(ns, name)) {
                explained[callee].extend(own[i].iter().copied());
            }
        }
    }
    // Per cluster: the services whose Service there nothing explains.
    let mut unseen: BTreeMap<&str, Vec<(ServiceKey, Span)>> = BTreeMap::new();
    for (key, f) in &facts.services {
        let Some(&i) = index.get(&(key.0.as_str(), key.1.as_str())) else {
            continue;
        };
        for (cluster, span) in &f.clusters {
            if !explained[i].contains(cluster.as_str()) {
                unseen.entry(cluster).or_default().push((key.clone(), *span));
            }
        }
    }
    let mut stand_ins = Vec::new();
    for (cluster, callees) in unseen {
        let Some(((ns, _), _)) = callees.first() else {
            continue;
        };
        let ns = ns.clone();
        let mut name: String = format!("caller-in-{cluster}").chars().take(63).collect();
        let mut n = 2;
        while index.contains_key(&(ns.as_str(), name.as_str())) {
            let suffix = format!("-{n}");
            name = format!(
                "{}{suffix}",
                name.chars().take(63 - suffix.len()).collect::<String>()
            );
            n += 1;
        }
        let listed: Vec<String> = callees.iter().map(|((_, s), _)| format!("`{s}`")).collect();
        for ((_, svc), span) in &callees {
            diags.push(
                Diagnostic::new(
                    &UNSEEN_CALLER,
                    *span,
                    format!("something in cluster `{cluster}` calls `{svc}`, but no input says what"),
                )
                .label("its Service in that cluster")
                .help(format!(
                    "the imported topology declares `{name}` there as a stand-in: rename it to the real caller, or move its `calls` to it"
                )),
            );
        }
        out.note(
            Decl::Service(format!("{name}.{ns}")),
            format!(
                "a stand-in: {} in cluster `{cluster}` say{} something there calls {}, and no input says what (W953); rename it to the real caller, or move its `calls` there",
                if callees.len() == 1 { "the Service" } else { "the Services" },
                if callees.len() == 1 { "s" } else { "" },
                listed.join(", ")
            ),
        );
        stand_ins.push(Service {
            name: imp(name),
            namespace: imp(ns.clone()),
            ports: Vec::new(),
            deployments: vec![Deployment {
                versions: vec![imp("v1")],
                placement: Placement::Cluster(imp(cluster)),
                service_account: None,
                span: implicit(),
            }],
            calls: callees
                .iter()
                .map(|((n, s), _)| imp(if *n == ns { s.clone() } else { format!("{s}.{n}") }))
                .collect(),
            routes: Vec::new(),
            service_account: None,
            registration: None,
            entry_point: None,
            probe: None,
            span: implicit(),
        });
    }
    drop((index, explained, own));
    services.extend(stand_ins);
}

/// Orders the services as the runbook lists their VM workloads (a VM's
/// workloads follow the order services are declared in); the rest keep
/// their order.
fn order_services(services: &mut Vec<Service>, runbook: &[(String, String, String)]) {
    // (VM, namespace, `<service>-<version>`) → service index.
    let mut at: BTreeMap<(&str, &str, String), usize> = BTreeMap::new();
    for (i, s) in services.iter().enumerate() {
        for d in &s.deployments {
            if let Placement::Vm(vm) = &d.placement {
                for v in &d.versions {
                    at.insert(
                        (
                            vm.value.as_str(),
                            s.namespace.value.as_str(),
                            format!("{}-{}", s.name.value, v.value),
                        ),
                        i,
                    );
                }
            }
        }
    }
    // i before j when one VM lists a workload of i right before one of j.
    let mut after: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); services.len()];
    let mut before = vec![0usize; services.len()];
    let mut last: Option<(&str, usize)> = None;
    for (vm, workload, ns) in runbook {
        let Some(&i) = at.get(&(vm.as_str(), ns.as_str(), workload.clone())) else {
            continue;
        };
        if let Some((prev_vm, p)) = last
            && prev_vm == vm
            && p != i
            && after[p].insert(i)
        {
            before[i] += 1;
        }
        last = Some((vm.as_str(), i));
    }
    if before.iter().all(|&b| b == 0) {
        return;
    }
    let mut ready: BTreeSet<usize> = (0..services.len()).filter(|&i| before[i] == 0).collect();
    let mut order = Vec::with_capacity(services.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &j in &after[i] {
            before[j] -= 1;
            if before[j] == 0 {
                ready.insert(j);
            }
        }
    }
    // A cycle (inputs not from one build): the rest as they were.
    let placed: BTreeSet<usize> = order.iter().copied().collect();
    order.extend((0..services.len()).filter(|i| !placed.contains(i)));
    let mut slots: Vec<Option<Service>> = std::mem::take(services).into_iter().map(Some).collect();
    services.extend(order.into_iter().filter_map(|i| slots[i].take()));
}

#[cfg(test)]
mod tests {
    use super::split_once_slashed;

    #[test]
    fn split_once_slashed_splits_as_split_once() {
        for s in [
            "",
            "/",
            "/ns/",
            "cluster.local/ns/shop/sa/web",
            "a/n/ns/x/sa/y/sa/z",
            "/ns//sa/",
            "x/ns",
            "é/ns/ü/sa/ß",
            "//ns/ns/",
            "no slashes",
        ] {
            for pat in ["/ns/", "/sa/", "/"] {
                assert_eq!(split_once_slashed(s, pat), s.split_once(pat), "{s:?} at {pat:?}");
            }
        }
    }
}
