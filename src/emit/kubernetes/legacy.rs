//! The legacy flow (Istio 0.8–1.7): what `install/kubernetes/mesh-expansion.yaml`
//! and `istioctl register` created.
//!
//! * **Internal load balancers** for Pilot, Mixer, Citadel (control-plane
//!   namespace) and kube-dns (kube-system): the four Services of Istio
//!   1.0's `mesh-expansion.yaml`, with its names, labels, selectors and
//!   ports, plus two things the topology decides. `loadBalancerIP` pins each
//!   to the address the topology gives in `ilb`: the VM files (`cluster.env`,
//!   the dnsmasq `kubedns` file) are generated with those addresses, so the
//!   cloud must not pick others. And the cloud's internal-LB annotation
//!   (`ilb-annotation`): without one most clouds make a LoadBalancer public,
//!   exposing Pilot and kube-dns to the internet. Istio's file hard-coded
//!   GKE's; Alibaba's walkthrough deleted it.
//! * **VM services**, as `istioctl register <svc> <ip> <name>:<port>…`
//!   created them, once per VM: a Service without selector (ports with
//!   `name` and `port` only: register set no targetPort or protocol) and an
//!   Endpoints object of the same name holding every VM address in one
//!   subset (register appended each address to the subset with the same
//!   port numbers). Both carry `alpha.istio.io/kubernetes-serviceaccounts`,
//!   which Pilot 1.0 turns into the SAN `spiffe://<domain>/ns/<ns>/sa/<sa>`
//!   it expects from the VM's certificate. meshc always passes register an
//!   explicit `name:port` (the topology's port name), so register's naming
//!   of bare ports (80 and 8080 `http`, 443 `https`, 3306 `mysql`, anything
//!   else its number) never applies: `istioctl register mysqldb <ip> 3306`
//!   and `port mysql 3306` give the same `mysql`.
//! * **Routing**: DestinationRule and VirtualService, `networking.istio.io/v1alpha3`.
//! * **Namespaces** labelled `istio-injection: enabled` (the 1.0 injector's
//!   label), and a ServiceAccount per VM identity: Citadel creates the
//!   `istio.<sa>` secret only for accounts that exist, and
//!   `setupMeshEx.sh machineCerts <sa> <ns>` copies the VM's certificates
//!   from it.
//!
//! No Sidecar or AuthorizationPolicy: neither kind exists before Istio 1.1
//! and 1.4 respectively, and the legacy walkthroughs predate both.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Service, ServicePort, ServiceSpec,
};

use super::objects::{self, Labels, Object};
use super::{Cx, File, Files, Place, placement, routing, service_account_object};
use crate::check::{ClusterId, ServiceId};
use crate::model::{IlbAnnotation, Protocol};

pub fn emit(cx: &Cx<'_>, files: &mut Files) {
    for (c, _) in cx.topo.cluster_ids() {
        internal_load_balancers(cx, files, c);
    }
    for (s, _) in cx.topo.service_ids() {
        registered_service(cx, files, s);
        routing::add(cx, files, s);
    }
}

/// One port of a mesh-expansion ILB: (name, number, protocol).
type IlbPort = (Option<&'static str>, u16, &'static str);

fn internal_load_balancers(cx: &Cx<'_>, files: &mut Files, c: ClusterId) {
    let cluster = &cx.topo.clusters[c];
    // Not a fallback: a cluster without `ilbs` has no mesh-expansion ILBs to write.
    let Some(ilbs) = &cluster.ilbs else { return };
    let annotation = match cluster.ilb_annotation.as_ref().map(|a| a.value) {
        Some(IlbAnnotation::Alibaba) => Some((
            "service.beta.kubernetes.io/alicloud-loadbalancer-address-type",
            "intranet",
        )),
        Some(IlbAnnotation::Gke) => Some(("cloud.google.com/load-balancer-type", "internal")),
        Some(IlbAnnotation::None) | None => None,
    };
    let cp = cx.control_plane_namespace();
    let pilot: &[IlbPort] = &[
        (Some("https-pilot"), 15005, "TCP"),
        (Some("http-pilot"), 8080, "TCP"),
        (Some("grpc-pilot"), 15010, "TCP"),
        (Some("tls-grpc-pilot"), 15011, "TCP"),
    ];
    let ilb = |name: &str, ns: &str, label: (&str, &str), selector: Labels, ports: &[IlbPort], ip: String| {
        let mut meta = objects::meta(name, Some(ns), objects::labels([label]));
        meta.annotations = annotation.map(|(k, v)| objects::labels([(k, v)]));
        Object::Service(Box::new(Service {
            metadata: meta,
            spec: Some(ServiceSpec {
                type_: Some("LoadBalancer".to_owned()),
                // Deprecated by Kubernetes 1.24 in favour of per-cloud
                // annotations, but the field every cloud read in the Istio
                // 1.0 era, and still honoured by GKE and ACK.
                load_balancer_ip: Some(ip),
                ports: Some(
                    ports
                        .iter()
                        .map(|&(name, port, protocol)| ServicePort {
                            name: name.map(str::to_owned),
                            port: i32::from(port),
                            protocol: Some(protocol.to_owned()),
                            ..ServicePort::default()
                        })
                        .collect(),
                ),
                selector: Some(selector),
                ..ServiceSpec::default()
            }),
            ..Service::default()
        }))
    };
    let pilot_sel = objects::labels([("istio", "pilot")]);
    files.add(
        Place::Cluster(c),
        cp,
        File::MeshExpansion,
        ilb(
            "istio-pilot-ilb",
            cp,
            ("istio", "pilot"),
            pilot_sel,
            pilot,
            ilbs.pilot.value.to_string(),
        ),
    );
    // The file's own comment: "This points to istio-telemetry until we are
    // able to support both istio-policy and istio-telemetry".
    let mixer_sel = objects::labels([("istio", "mixer"), ("istio-mixer-type", "telemetry")]);
    files.add(
        Place::Cluster(c),
        cp,
        File::MeshExpansion,
        ilb(
            "mixer-ilb",
            cp,
            ("istio", "mixer"),
            mixer_sel,
            &[(None, 15004, "TCP")],
            ilbs.mixer.value.to_string(),
        ),
    );
    let citadel_sel = objects::labels([("istio", "citadel")]);
    files.add(
        Place::Cluster(c),
        cp,
        File::MeshExpansion,
        ilb(
            "citadel-ilb",
            cp,
            ("istio", "citadel"),
            citadel_sel,
            &[(None, 8060, "TCP")],
            ilbs.citadel.value.to_string(),
        ),
    );
    let dns_sel = objects::labels([("k8s-app", "kube-dns")]);
    files.add(
        Place::Cluster(c),
        "kube-system",
        File::MeshExpansion,
        ilb(
            "dns-ilb",
            "kube-system",
            ("k8s-app", "kube-dns"),
            dns_sel,
            &[(None, 53, "UDP")],
            ilbs.kube_dns.value.to_string(),
        ),
    );
}

/// The selector-less Service and Endpoints of a service with VM workloads,
/// and the VMs' ServiceAccounts.
fn registered_service(cx: &Cx<'_>, files: &mut Files, s: ServiceId) {
    let service = &cx.topo.services[s];
    let vms: Vec<_> = cx.vm_workloads_of(s).collect();
    if vms.is_empty() {
        return;
    }
    let ns = service.namespace.value.as_str();
    let name = service.name.value.as_str();
    let mut accounts = BTreeSet::new();
    let mut addresses: Vec<String> = Vec::new();
    for &(w, vm) in &vms {
        let sa = crate::emit::service_account(service, Some(vm));
        accounts.insert(sa);
        files.add(
            Place::Cluster(cx.workload_cluster(w)),
            ns,
            File::Namespace,
            service_account_object(ns, sa),
        );
        let ip = vm.address.value.to_string();
        if !addresses.contains(&ip) {
            addresses.push(ip);
        }
    }
    // register's `-s`; Pilot reads the annotation as a comma-separated list,
    // which is how VMs of one service running as different accounts are
    // all accepted.
    let sa_list = accounts.into_iter().collect::<Vec<_>>().join(",");
    let meta = || {
        let mut m = objects::meta(name, Some(ns), Labels::new());
        m.annotations = Some(objects::labels([(
            "alpha.istio.io/kubernetes-serviceaccounts",
            sa_list.as_str(),
        )]));
        m
    };
    // register wrote no protocol (TCP); a UDP port needs it said.
    let protocol = |p: &crate::model::Port| (p.protocol() == Protocol::Udp).then(|| "UDP".to_owned());
    let svc = Object::Service(Box::new(Service {
        metadata: meta(),
        spec: Some(ServiceSpec {
            ports: Some(
                service
                    .ports
                    .iter()
                    .map(|p| ServicePort {
                        name: Some(p.name.value.clone()),
                        port: i32::from(p.number.value),
                        protocol: protocol(p),
                        ..ServicePort::default()
                    })
                    .collect(),
            ),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }));
    let endpoints = endpoints(meta(), service, addresses, protocol);
    for c in placement::registration_clusters(cx, s) {
        files.add(Place::Cluster(c), ns, File::Service(name), svc.clone());
        files.add(Place::Cluster(c), ns, File::Service(name), endpoints.clone());
    }
}

/// core/v1 Endpoints, not discovery.k8s.io EndpointSlice: Pilot in the
/// legacy releases reads Endpoints only (EndpointSlice support came later,
/// and off by default), and on a cluster new enough to have slices the
/// EndpointSlice mirroring controller copies a selector-less Service's
/// Endpoints into a slice by itself; writing a slice as well would list every
/// VM twice. kubectl 1.33+ prints a deprecation warning for Endpoints; it
/// still serves them.
#[allow(deprecated)]
fn endpoints(
    metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    service: &crate::model::Service,
    addresses: Vec<String>,
    protocol: impl Fn(&crate::model::Port) -> Option<String>,
) -> Object {
    let subset = EndpointSubset {
        addresses: Some(
            addresses
                .into_iter()
                .map(|ip| EndpointAddress {
                    ip,
                    ..EndpointAddress::default()
                })
                .collect(),
        ),
        ports: Some(
            service
                .ports
                .iter()
                .map(|p| EndpointPort {
                    name: Some(p.name.value.clone()),
                    // The VM listens on the target port; the Service port is
                    // mapped to it by name.
                    port: i32::from(p.target_port()),
                    protocol: protocol(p),
                    ..EndpointPort::default()
                })
                .collect(),
        ),
        ..EndpointSubset::default()
    };
    Object::Endpoints(Box::new(Endpoints {
        metadata,
        subsets: Some(vec![subset]),
    }))
}
