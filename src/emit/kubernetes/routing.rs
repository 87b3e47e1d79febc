//! Version routing, both flows: a DestinationRule with one subset per
//! version (selected by the `version` label, which pods and WorkloadEntries
//! both carry), and a VirtualService with the `route` weights.
//!
//! With `mesh { data-plane-mtls #true }` every DestinationRule also says
//! `trafficPolicy.tls.mode: ISTIO_MUTUAL`: a host's rule replaces the
//! mesh-wide one (Istio 1.0 has no merging), so a rule without it turns the
//! mesh's mutual TLS off for that host.
//!
//! Objects name hosts by their full name (`<svc>.<ns>.svc.<domain>`), not
//! the short name Bookinfo's samples use: a short name is resolved relative
//! to the namespace of the rule, which is right only by convention.

use super::objects::{
    self, ClientTls, DestinationRule, HttpRoute, IstioObject, Object, RouteDestination, Spec, Subset,
    TcpRoute, TrafficPolicy, VirtualService,
};
use super::{Cx, File, Files, Place};
use crate::check::ServiceId;
use crate::model::Protocol;

/// Adds the routing objects of a service to `mesh/`, when it has routes or
/// more than one version.
pub fn add(cx: &Cx<'_>, files: &mut Files, s: ServiceId) {
    let service = &cx.topo.services[s];
    let versions = cx.versions(s);
    if service.routes.is_empty() && versions.len() < 2 {
        return;
    }
    let ns = service.namespace.value.as_str();
    let name = service.name.value.as_str();
    // Istio picks the route list by protocol: HTTP routes apply to the
    // ports it reads as HTTP, TCP routes to the rest. A service with both
    // kinds of port gets both lists, with the same weights.
    let http = service.ports.iter().any(|p| is_http(p.protocol()));
    let tcp = service.ports.iter().any(|p| !is_http(p.protocol()));
    let host = cx.fqdn(service);
    let subsets = versions
        .iter()
        .map(|v| Subset {
            name: (*v).to_owned(),
            labels: objects::labels([("version", v)]),
        })
        .collect();
    // A host's rule replaces the mesh-wide `*.local` one in Istio 1.0 (no
    // merging), TLS settings included: without `ISTIO_MUTUAL` here a client
    // under global mutual TLS talks plain text to a server that demands
    // TLS, and the call fails with 503 (1.0's destination-rule-all-mtls.yaml).
    let traffic_policy = cx.topo.mesh.data_plane_mtls().then_some(TrafficPolicy {
        tls: ClientTls { mode: "ISTIO_MUTUAL" },
    });
    let rule = Spec::DestinationRule(DestinationRule {
        host: host.clone(),
        traffic_policy,
        subsets,
    });
    let meta = || objects::meta(name, Some(ns), objects::Labels::new());
    files.add(
        Place::Mesh,
        ns,
        File::Service(name),
        Object::Istio(Box::new(IstioObject::new(cx.api, meta(), rule))),
    );
    if service.routes.is_empty() {
        return;
    }
    let only = service.routes.len() == 1;
    let route: Vec<RouteDestination> = service
        .routes
        .iter()
        .map(|r| RouteDestination {
            destination: objects::Destination {
                host: host.clone(),
                subset: Some(r.version.value.clone()),
                port: None,
            },
            // A lone route takes all traffic; `check` makes several
            // routes carry weights that sum to 100.
            weight: Some(r.weight.as_ref().map_or(if only { 100 } else { 0 }, |w| w.value)),
        })
        .collect();
    let mut vs = VirtualService {
        hosts: vec![host],
        ..VirtualService::default()
    };
    if http || !tcp {
        vs.http = vec![HttpRoute { route: route.clone() }];
    }
    if tcp {
        vs.tcp = vec![TcpRoute { route }];
    }
    let vs = Spec::VirtualService(vs);
    files.add(
        Place::Mesh,
        ns,
        File::Service(name),
        Object::Istio(Box::new(IstioObject::new(cx.api, meta(), vs))),
    );
}

/// Protocols Istio routes with `http` routes.
fn is_http(p: Protocol) -> bool {
    matches!(
        p,
        Protocol::Http | Protocol::Http2 | Protocol::Grpc | Protocol::GrpcWeb
    )
}
