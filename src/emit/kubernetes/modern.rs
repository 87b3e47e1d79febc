//! The modern flow (Istio 1.8+): Istio's "Virtual Machine Installation"
//! guide as manifests.
//!
//! * **Control-plane access**: `istiod-gateway` and `istiod-vs`, as
//!   `samples/multicluster/expose-istiod.yaml` (or its revisioned template,
//!   `expose-istiod-rev.yaml.tmpl`, when the mesh has a revision), binding
//!   istiod's 15012 (xDS and CA) and 15017 (webhook) to the east-west
//!   gateway with TLS passthrough; `cross-network-gateway`
//!   (`expose-services.yaml`, 15443 `AUTO_PASSTHROUGH`) when something sits
//!   on another network; the control-plane namespace's
//!   `topology.istio.io/network` label, from which istiod learns its
//!   cluster's network.
//! * **VM registration**: per VM-deployed service version a WorkloadGroup
//!   (see [`super::workload_group`]): labels `app`/`version` in
//!   `metadata.labels` (the API copies them onto every entry it creates,
//!   and asks that `template` carry no labels), `serviceAccount` and
//!   `network` in `template`,
//!   and the service's readiness probe. Per VM placement a WorkloadEntry
//!   with the VM's address, labels, service account, network and ports,
//!   unless the VM auto-registers (then istiod creates the entry from the
//!   group when the proxy connects, and a hand-written one would be a
//!   duplicate). The entry whose probe the VM's sidecar runs carries
//!   `proxy.istio.io/health-checks-enabled: "true"`, the VM naming it in
//!   `ISTIO_META_WORKLOAD_ENTRY` (see
//!   [`workload_group::health_checked_entry`]): istiod otherwise drops the
//!   health reports of a proxy it did not auto-register. Then a Kubernetes Service selecting `app: <svc>`, which
//!   matches pods and WorkloadEntries alike, or, with `registration
//!   service-entry`, a `MESH_INTERNAL` ServiceEntry with `resolution: STATIC`
//!   whose `workloadSelector` picks the entries, beside a Service without
//!   selector that gives the host a name kube-dns answers (see
//!   [`registration`]).
//! * **Routing** ([`super::routing`]) and **least privilege**
//!   ([`super::policy`]).
//!
//! The network is written on every WorkloadEntry and group template, also
//! in a single-network mesh: istiod compares it with the network of each
//! proxy, which it learns from the same names (the control-plane
//! namespace's label, `ISTIO_META_NETWORK` in the VM's `cluster.env`).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Namespace, Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::objects::{
    self, Destination, ExecAction, Gateway, GatewayPort, GroupMetadata, HttpGet, IstioObject, Labels, Object,
    PortSelector, ReadinessProbe, RouteDestination, Server, ServerTls, ServiceEntry, ServiceEntryPort, Spec,
    TcpSocket, TlsMatch, TlsRoute, VirtualService, WorkloadEntry, WorkloadGroup, WorkloadSelector,
};
use super::workload_group;
use super::{Cx, File, Files, Place, placement, policy, routing, service_account_object};
use crate::check::{ClusterId, ServiceId, Target};
use crate::model::{ProbeKind, Registration};

pub fn emit(cx: &Cx<'_>, files: &mut Files) {
    mesh_expansion(cx, files);
    let groups = workload_group::groups(cx.topo, cx.ix);
    for (s, _) in cx.topo.service_ids() {
        registration(cx, files, s);
        // `groups` is sorted by service: this service's are one run of it.
        let own =
            &groups[groups.partition_point(|g| g.service < s)..groups.partition_point(|g| g.service <= s)];
        vm_workloads(cx, files, s, own);
        routing::add(cx, files, s);
        policy::add(cx, files, s);
    }
}

/// The east-west gateway objects and the control-plane namespace label.
fn mesh_expansion(cx: &Cx<'_>, files: &mut Files) {
    let cp = cx.control_plane_namespace();
    let networks = placement::networks_in_use(cx.topo);
    for (c, cluster) in cx.topo.cluster_ids() {
        // Also on a single network: the VMs and WorkloadEntries name the
        // network, and istiod must know its pods are on the same one (an
        // unlabelled cluster is on the empty network, which differs).
        let labels = objects::labels([("topology.istio.io/network", cluster.network.value.as_str())]);
        let ns = Object::Namespace(Box::new(Namespace {
            metadata: objects::meta(cp, None, labels),
            ..Namespace::default()
        }));
        files.add(Place::Cluster(c), cp, File::Namespace, ns);
        if cluster.east_west_gateway.is_none() {
            continue;
        }
        let mut add = |spec: Spec, name: &str| {
            let meta = objects::meta(name, Some(cp), Labels::new());
            files.add(
                Place::Cluster(c),
                cp,
                File::MeshExpansion,
                Object::Istio(Box::new(IstioObject::new(cx.api, meta, spec))),
            );
        };
        if cx.config_clusters.contains(&c) {
            add(istiod_gateway(), "istiod-gateway");
            let (name, vs) = istiod_virtual_service(cx, c);
            add(vs, &name);
        }
        if networks.iter().any(|n| *n != cluster.network.value) {
            add(cross_network_gateway(), "cross-network-gateway");
        }
    }
}

fn east_west_selector() -> Labels {
    objects::labels([("istio", "eastwestgateway")])
}

fn istiod_gateway() -> Spec {
    // Lower-case `tls`, as the sample writes it (Istio reads protocols
    // case-insensitively).
    let server = |number, name| Server {
        port: GatewayPort {
            number,
            protocol: "tls",
            name,
        },
        hosts: vec!["*".to_owned()],
        tls: ServerTls { mode: "PASSTHROUGH" },
    };
    Spec::Gateway(Gateway {
        servers: vec![server(15012, "tls-istiod"), server(15017, "tls-istiodwebhook")],
        selector: east_west_selector(),
    })
}

/// `istiod-vs`, or `istiod-vs-<rev>` routing the revision's SNI names to the
/// revision's istiod (a VM of a revisioned mesh asks for
/// `istiod-<rev>.<ns>.svc`).
fn istiod_virtual_service(cx: &Cx<'_>, c: ClusterId) -> (String, Spec) {
    let cp = cx.control_plane_namespace();
    let domain = cx.topo.clusters[c].cluster_domain();
    let (name, istiod, sni) = match &cx.topo.mesh.revision {
        Some(rev) => {
            let istiod = format!("istiod-{}", rev.value);
            let sni = vec![
                format!("{istiod}.{cp}.svc"),
                format!("{istiod}.{cp}.svc.{domain}"),
            ];
            (format!("istiod-vs-{}", rev.value), istiod, sni)
        }
        None => ("istiod-vs".to_owned(), "istiod".to_owned(), vec!["*".to_owned()]),
    };
    // 15017 is the gateway side of the webhook; istiod serves it on 443.
    let route = |port: u32, target: u32| TlsRoute {
        matches: vec![TlsMatch {
            sni_hosts: sni.clone(),
            port,
        }],
        route: vec![RouteDestination {
            destination: Destination {
                host: format!("{istiod}.{cp}.svc.{domain}"),
                subset: None,
                port: Some(PortSelector { number: target }),
            },
            weight: None,
        }],
    };
    let vs = VirtualService {
        hosts: vec!["*".to_owned()],
        gateways: vec!["istiod-gateway".to_owned()],
        tls: vec![route(15012, 15012), route(15017, 443)],
        ..VirtualService::default()
    };
    (name, Spec::VirtualService(vs))
}

fn cross_network_gateway() -> Spec {
    Spec::Gateway(Gateway {
        servers: vec![Server {
            port: GatewayPort {
                number: 15443,
                protocol: "TLS",
                name: "tls",
            },
            hosts: vec!["*.local".to_owned()],
            tls: ServerTls {
                mode: "AUTO_PASSTHROUGH",
            },
        }],
        selector: east_west_selector(),
    })
}

/// The Kubernetes Service of a service with VM workloads, and with
/// `registration service-entry` its ServiceEntry.
///
/// A ServiceEntry alone is not enough for callers to find the host: it has
/// no address, and a pod resolves names through kube-dns, which answers
/// only for Kubernetes Services (Istio's DNS proxy, which would answer from
/// ServiceEntries, is off for pods by default). So the ServiceEntry keeps a
/// Kubernetes Service beside it, without a selector, in every cluster the
/// registration goes to: kube-dns gives callers its ClusterIP, and istiod
/// serves the Service's endpoints from the ServiceEntry's WorkloadEntries.
/// That is Istio's rule for one host in two registries (`initServiceRegistry`
/// in `pilot/pkg/model/push_context.go`): the Kubernetes Service wins the
/// host, and endpoints of every registry for that host and namespace are
/// merged by port name, which both objects take from the topology.
fn registration(cx: &Cx<'_>, files: &mut Files, s: ServiceId) {
    let service = &cx.topo.services[s];
    if cx.vm_workloads_of(s).next().is_none() {
        return;
    }
    let ns = service.namespace.value.as_str();
    let name = service.name.value.as_str();
    let app = || objects::labels([("app", name)]);
    // `service` beside `app`, as Bookinfo's manifests label theirs.
    let labels = objects::labels([("app", name), ("service", name)]);
    let selector = match service.registration() {
        Registration::Service => Some(app()),
        // No selector: the ServiceEntry below supplies the endpoints (see
        // `registration`'s documentation).
        Registration::ServiceEntry => None,
    };
    let object = Object::Service(Box::new(Service {
        metadata: objects::meta(name, Some(ns), labels),
        spec: Some(ServiceSpec {
            ports: Some(service_ports(service)),
            selector,
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }));
    for c in placement::registration_clusters(cx, s) {
        files.add(Place::Cluster(c), ns, File::Service(name), object.clone());
    }
    if service.registration() == Registration::ServiceEntry {
        let spec = Spec::ServiceEntry(ServiceEntry {
            hosts: vec![cx.fqdn(service)],
            ports: service
                .ports
                .iter()
                .map(|p| ServiceEntryPort {
                    number: u32::from(p.number.value),
                    protocol: p.protocol().as_istio(),
                    name: p.name.value.clone(),
                    target_port: (p.target_port() != p.number.value).then(|| u32::from(p.target_port())),
                })
                .collect(),
            location: "MESH_INTERNAL",
            resolution: "STATIC",
            workload_selector: WorkloadSelector { labels: app() },
        });
        let meta = objects::meta(name, Some(ns), Labels::new());
        files.add(
            Place::Mesh,
            ns,
            File::Service(name),
            Object::Istio(Box::new(IstioObject::new(cx.api, meta, spec))),
        );
    }
}

/// The Kubernetes ports of a service's Service.
fn service_ports(service: &crate::model::Service) -> Vec<ServicePort> {
    service
        .ports
        .iter()
        .map(|p| {
            let explicit = p.protocol.as_ref().map(|x| x.value);
            ServicePort {
                name: Some(p.name.value.clone()),
                port: i32::from(p.number.value),
                target_port: (p.target_port() != p.number.value)
                    .then(|| IntOrString::Int(i32::from(p.target_port()))),
                // Kubernetes' own protocol: TCP unless UDP.
                protocol: (p.protocol() == crate::model::Protocol::Udp).then(|| "UDP".to_owned()),
                // Istio reads a port's protocol from `appProtocol` or else
                // the name's prefix: say it only when the topology's
                // protocol differs from what the name says.
                app_protocol: explicit
                    .filter(|e| crate::model::Protocol::from_port_name(&p.name.value) != Some(*e))
                    .map(|e| e.keyword().to_owned()),
                ..ServicePort::default()
            }
        })
        .collect()
}

/// WorkloadGroups (`groups`: the service's own), WorkloadEntries and
/// ServiceAccounts of a service's VMs, in each VM's home cluster.
fn vm_workloads(cx: &Cx<'_>, files: &mut Files, s: ServiceId, groups: &[workload_group::Group]) {
    let service = &cx.topo.services[s];
    let ns = service.namespace.value.as_str();
    let name = service.name.value.as_str();
    let ports: BTreeMap<String, u32> = service
        .ports
        .iter()
        .map(|p| (p.name.value.clone(), u32::from(p.target_port())))
        .collect();
    for group in groups {
        let spec = Spec::WorkloadGroup(WorkloadGroup {
            metadata: GroupMetadata {
                labels: objects::labels([("app", name), ("version", group.version.as_str())]),
            },
            template: WorkloadEntry {
                network: Some(group.network.clone()),
                service_account: Some(group.service_account.clone()),
                ..WorkloadEntry::default()
            },
            probe: service.probe.as_ref().map(|p| probe(&p.kind)),
        });
        let homes: BTreeSet<ClusterId> = group
            .workloads
            .iter()
            .map(|&w| &cx.ix.workloads[w])
            .map(|w| cx.workload_cluster(w))
            .collect();
        for c in homes {
            let meta = objects::meta(&group.name, Some(ns), Labels::new());
            files.add(
                Place::Cluster(c),
                ns,
                File::Service(name),
                Object::Istio(Box::new(IstioObject::new(cx.api, meta, spec.clone()))),
            );
        }
    }
    for (w, vm) in cx.vm_workloads_of(s) {
        let home = cx.workload_cluster(w);
        let sa = crate::emit::service_account(service, Some(vm));
        files.add(
            Place::Cluster(home),
            ns,
            File::Namespace,
            service_account_object(ns, sa),
        );
        if vm.autoregister.as_ref().is_some_and(|a| a.value) {
            continue;
        }
        // The VM's own labels, then the derived ones (E409 keeps the VM from
        // setting those): the Service selector and the DestinationRule
        // subsets depend on app and version.
        let mut labels: Labels = vm
            .labels
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        labels.insert("app".to_owned(), name.to_owned());
        labels.insert("version".to_owned(), w.version.clone());
        // What istiod writes on an auto-registered entry (the proxy's
        // metadata labels, from `cluster.env`), so that telemetry names a
        // hand-registered VM the same way.
        labels.insert("service.istio.io/canonical-name".to_owned(), name.to_owned());
        labels.insert(
            "service.istio.io/canonical-revision".to_owned(),
            w.version.clone(),
        );
        let spec = Spec::WorkloadEntry(WorkloadEntry {
            address: Some(vm.address.value.to_string()),
            ports: ports.clone(),
            labels,
            network: Some(vm.network.value.clone()),
            service_account: Some(sa.to_owned()),
        });
        let entry_name = workload_group::entry_name(name, &w.version, &vm.name.value);
        let mut meta = objects::meta(&entry_name, Some(ns), Labels::new());
        let health_checked = match w.target {
            Target::Vm(v) => {
                workload_group::health_checked_entry(cx.topo, cx.ix, v).as_deref()
                    == Some(entry_name.as_str())
            }
            Target::Cluster(_) => false,
        };
        if health_checked {
            meta.annotations = Some(objects::labels([(
                workload_group::HEALTH_CHECKS_ANNOTATION,
                "true",
            )]));
        }
        let object = Object::Istio(Box::new(IstioObject::new(cx.api, meta, spec)));
        // A ServiceEntry selects entries from its own istiod's config store
        // only (cross-cluster WorkloadEntry discovery follows Kubernetes
        // Services, not ServiceEntries), so the entry goes beside the
        // ServiceEntry, to `mesh/`; and to its home cluster too when that
        // one does not apply `mesh/`.
        let serviceentry = service.registration() == Registration::ServiceEntry;
        if serviceentry {
            files.add(Place::Mesh, ns, File::Service(name), object.clone());
        }
        if !serviceentry || !cx.config_clusters.contains(&home) {
            files.add(Place::Cluster(home), ns, File::Service(name), object);
        }
    }
}

fn probe(kind: &ProbeKind) -> ReadinessProbe {
    match kind {
        ProbeKind::Http { port, path } => ReadinessProbe {
            http_get: Some(HttpGet {
                path: path.as_ref().map(|p| p.value.clone()),
                port: u32::from(port.value),
            }),
            ..ReadinessProbe::default()
        },
        ProbeKind::Tcp { port } => ReadinessProbe {
            tcp_socket: Some(TcpSocket {
                port: u32::from(port.value),
            }),
            ..ReadinessProbe::default()
        },
        ProbeKind::Exec { command } => ReadinessProbe {
            exec: Some(ExecAction {
                command: command.iter().map(|c| c.value.clone()).collect(),
            }),
            ..ReadinessProbe::default()
        },
    }
}
