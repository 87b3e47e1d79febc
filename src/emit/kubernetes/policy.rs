//! Least privilege from the call graph (modern flow): what each service may
//! reach and who may reach it, exactly as the topology's `calls` say.
//!
//! * A **Sidecar** per service (selector `app: <svc>`, so pods and VMs
//!   alike) whose egress hosts are the services it calls
//!   (`<ns>/<svc>.<ns>.svc.<domain>`) plus the control-plane namespace
//!   (`istio-system/*`: istiod, and the gateways a proxy may need). The
//!   proxy then receives configuration for those hosts only, which also
//!   shrinks its memory in a large mesh. It does not block other traffic
//!   under the mesh default `outboundTrafficPolicy: ALLOW_ANY`: the calls a
//!   topology cannot declare (external APIs) keep working, and enforcement
//!   is the callee's policy below.
//! * An **AuthorizationPolicy** per service (`action: ALLOW`, selector
//!   `app: <svc>`) whose one rule lists the SPIFFE principals of every
//!   service account its declared callers run as. An ALLOW policy denies
//!   whatever it does not allow, so an undeclared caller is refused.
//!
//! Services with no caller: an `entry-point` service is reached from
//! outside through an ingress gateway, so its policy also allows the
//! identity of every ingress the mesh declares (`mesh { ingress … }`):
//! istioctl's `<name>-service-account`, the Helm `gateway` chart's release
//! name in its namespace, or `<name>-istio` in a Gateway API Gateway's
//! namespace. Without a declaration, the default install's
//! `istio-ingressgateway-service-account` in the control-plane namespace. Any other service without callers gets an ALLOW policy with no rule,
//! Istio's "allow nothing": nothing is declared to call it, so nothing may.
//! Writing no policy instead would leave it open to every workload of the
//! mesh, the opposite of least privilege.
//!
//! On unless `mesh { least-privilege #false }`; a namespace's own
//! `least-privilege` overrides the mesh's for the services in it.
//!
//! Both objects are read from the graph `check` built
//! ([`crate::check::MeshGraph`]), not recomputed here: whether a service
//! gets them (`least_privilege`), the Sidecar's hosts (its sidecar-egress
//! edges) and the policy's principals (the identities its admits edges
//! bring, [`graph::admitted_principals`]). `meshc why` reads the same
//! edges and the same principals, so what it says admits a call is, by
//! construction, what these objects admit.

use std::collections::BTreeSet;

use super::objects::{
    self, AuthorizationPolicy, EgressListener, IstioObject, Object, PolicyFrom, PolicyRule, PolicySelector,
    PolicySource, Sidecar, Spec, WorkloadSelector,
};
use super::{Cx, File, Files, Place};
use crate::check::ServiceId;
use crate::check::graph;

/// Adds the Sidecar and AuthorizationPolicy of a service to `mesh/`.
pub fn add(cx: &Cx<'_>, files: &mut Files, s: ServiceId) {
    if !cx.graph.least_privilege[s] {
        return;
    }
    let service = &cx.topo.services[s];
    let ns = service.namespace.value.as_str();
    let name = service.name.value.as_str();
    let app = || objects::labels([("app", name)]);
    let principals = graph::admitted_principals(cx.topo, cx.ix, cx.graph, s);
    let mut hosts: BTreeSet<String> = cx
        .graph
        .egress(s)
        .into_iter()
        .map(|callee| &cx.topo.services[callee])
        .map(|callee| format!("{}/{}", callee.namespace.value, cx.fqdn(callee)))
        .collect();
    hosts.insert(format!("{}/*", cx.control_plane_namespace()));
    let sidecar = Spec::Sidecar(Sidecar {
        workload_selector: WorkloadSelector { labels: app() },
        egress: vec![EgressListener {
            hosts: hosts.into_iter().collect(),
        }],
    });
    let rules = if principals.is_empty() {
        Vec::new()
    } else {
        vec![PolicyRule {
            from: vec![PolicyFrom {
                source: PolicySource {
                    principals: principals.iter().cloned().collect(),
                },
            }],
        }]
    };
    let policy = Spec::AuthorizationPolicy(AuthorizationPolicy {
        selector: PolicySelector { match_labels: app() },
        action: "ALLOW",
        rules,
    });
    for spec in [sidecar, policy] {
        let meta = objects::meta(name, Some(ns), objects::Labels::new());
        files.add(
            Place::Mesh,
            ns,
            File::Service(name),
            Object::Istio(Box::new(IstioObject::new(cx.api, meta, spec))),
        );
    }
}
