//! The objects meshc writes: Kubernetes core kinds from k8s-openapi, and
//! small hand-written serde structs for the Istio kinds.
//!
//! The Istio structs hold only the fields meshc sets, each skipped when
//! empty, in the field order of Istio's proto definitions (the order
//! `istioctl` and the API reference use). A no-kube crate of generated Istio
//! types does not exist for k8s-openapi 0.29 (istio-api-rs pins 0.26, and
//! k8s-openapi's `links` forbids two versions in one build); the CRD-schema
//! test in `tests/kubernetes.rs` keeps these structs honest instead.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Endpoints, Namespace, Service, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use crate::model::IstioVersion;

pub type Labels = BTreeMap<String, String>;

/// Where an object sorts inside its file: (kind rank, namespace, name).
pub type ObjectKey = (u8, String, String);

/// One object of an output file.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
#[allow(deprecated)] // core/v1 Endpoints: see `legacy::endpoints` for why.
pub enum Object {
    Namespace(Box<Namespace>),
    ServiceAccount(Box<ServiceAccount>),
    Service(Box<Service>),
    Endpoints(Box<Endpoints>),
    Istio(Box<IstioObject>),
}

impl Object {
    /// Position of the kind inside a file: what must exist first comes
    /// first (a namespace before what lives in it, a Service before its
    /// Endpoints, a Gateway before the VirtualService bound to it).
    pub fn rank(&self) -> u8 {
        match self {
            Object::Namespace(_) => 0,
            Object::ServiceAccount(_) => 1,
            Object::Service(_) => 2,
            Object::Endpoints(_) => 3,
            Object::Istio(o) => match o.spec {
                Spec::ServiceEntry(_) => 4,
                Spec::WorkloadGroup(_) => 5,
                Spec::WorkloadEntry(_) => 6,
                Spec::Gateway(_) => 7,
                Spec::DestinationRule(_) => 8,
                Spec::VirtualService(_) => 9,
                Spec::Sidecar(_) => 10,
                Spec::AuthorizationPolicy(_) => 11,
            },
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Object::Namespace(o) => &o.metadata,
            Object::ServiceAccount(o) => &o.metadata,
            Object::Service(o) => &o.metadata,
            #[allow(deprecated)]
            Object::Endpoints(o) => &o.metadata,
            Object::Istio(o) => &o.metadata,
        }
    }

    /// Sort key inside a file: kind, then namespace, then name.
    pub fn key(&self) -> ObjectKey {
        let m = self.metadata();
        (
            self.rank(),
            // Not a fallback: cluster-scoped objects have no namespace.
            m.namespace.clone().unwrap_or_default(),
            m.name.clone().unwrap_or_default(),
        )
    }
}

/// `metadata` with a name, a namespace (when namespaced) and labels.
pub fn meta(name: &str, namespace: Option<&str>, labels: Labels) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        labels: (!labels.is_empty()).then_some(labels),
        ..ObjectMeta::default()
    }
}

/// Builds a label map from pairs.
pub fn labels<const N: usize>(pairs: [(&str, &str); N]) -> Labels {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The API group/version each Istio kind is written in, by Istio release.
///
/// * before 1.8 (legacy flow): `networking.istio.io/v1alpha3`, the only
///   version Istio 1.0 serves;
/// * 1.8 to 1.21: `v1beta1` (served since 1.5) for the networking kinds and
///   `security.istio.io/v1beta1` (since 1.4); WorkloadEntry and
///   WorkloadGroup stay `v1alpha3`, the version they were introduced in and
///   the only one every release of that range serves;
/// * 1.22 on: `v1` everywhere, the storage version since Istio promoted its
///   networking and security APIs.
#[derive(Clone, Copy, Debug)]
pub struct ApiVersions {
    istio: IstioVersion,
}

impl ApiVersions {
    pub fn new(istio: IstioVersion) -> ApiVersions {
        ApiVersions { istio }
    }

    fn at_least(&self, major: u16, minor: u16) -> bool {
        (self.istio.major, self.istio.minor) >= (major, minor)
    }

    pub fn for_spec(&self, spec: &Spec) -> &'static str {
        let security = matches!(spec, Spec::AuthorizationPolicy(_));
        let workload = matches!(spec, Spec::WorkloadEntry(_) | Spec::WorkloadGroup(_));
        if self.at_least(1, 22) {
            if security {
                "security.istio.io/v1"
            } else {
                "networking.istio.io/v1"
            }
        } else if security {
            "security.istio.io/v1beta1"
        } else if self.at_least(1, 8) && !workload {
            "networking.istio.io/v1beta1"
        } else {
            "networking.istio.io/v1alpha3"
        }
    }
}

/// An Istio custom resource: apiVersion, kind, metadata, spec, in that
/// order. The kind follows from the spec, so the two cannot disagree.
#[derive(Clone, Debug)]
pub struct IstioObject {
    pub api_version: &'static str,
    pub metadata: ObjectMeta,
    pub spec: Spec,
}

impl IstioObject {
    pub fn new(api: ApiVersions, metadata: ObjectMeta, spec: Spec) -> IstioObject {
        IstioObject {
            api_version: api.for_spec(&spec),
            metadata,
            spec,
        }
    }
}

impl Serialize for IstioObject {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            api_version: &'a str,
            kind: &'a str,
            metadata: &'a ObjectMeta,
            spec: &'a Spec,
        }
        Wire {
            api_version: self.api_version,
            kind: self.spec.kind(),
            metadata: &self.metadata,
            spec: &self.spec,
        }
        .serialize(serializer)
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Spec {
    Gateway(Gateway),
    VirtualService(VirtualService),
    DestinationRule(DestinationRule),
    ServiceEntry(ServiceEntry),
    WorkloadEntry(WorkloadEntry),
    WorkloadGroup(WorkloadGroup),
    Sidecar(Sidecar),
    AuthorizationPolicy(AuthorizationPolicy),
}

impl Spec {
    pub fn kind(&self) -> &'static str {
        match self {
            Spec::Gateway(_) => "Gateway",
            Spec::VirtualService(_) => "VirtualService",
            Spec::DestinationRule(_) => "DestinationRule",
            Spec::ServiceEntry(_) => "ServiceEntry",
            Spec::WorkloadEntry(_) => "WorkloadEntry",
            Spec::WorkloadGroup(_) => "WorkloadGroup",
            Spec::Sidecar(_) => "Sidecar",
            Spec::AuthorizationPolicy(_) => "AuthorizationPolicy",
        }
    }
}

// ---- Gateway ----

#[derive(Clone, Debug, Serialize)]
pub struct Gateway {
    pub servers: Vec<Server>,
    pub selector: Labels,
}

#[derive(Clone, Debug, Serialize)]
pub struct Server {
    pub port: GatewayPort,
    pub hosts: Vec<String>,
    pub tls: ServerTls,
}

#[derive(Clone, Debug, Serialize)]
pub struct GatewayPort {
    pub number: u32,
    pub protocol: &'static str,
    pub name: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct ServerTls {
    pub mode: &'static str,
}

// ---- VirtualService ----

#[derive(Clone, Debug, Default, Serialize)]
pub struct VirtualService {
    pub hosts: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<HttpRoute>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tls: Vec<TlsRoute>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tcp: Vec<TcpRoute>,
}

#[derive(Clone, Debug, Serialize)]
pub struct HttpRoute {
    pub route: Vec<RouteDestination>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TlsRoute {
    #[serde(rename = "match")]
    pub matches: Vec<TlsMatch>,
    pub route: Vec<RouteDestination>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsMatch {
    pub sni_hosts: Vec<String>,
    pub port: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct TcpRoute {
    pub route: Vec<RouteDestination>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RouteDestination {
    pub destination: Destination,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Destination {
    pub host: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subset: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<PortSelector>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PortSelector {
    pub number: u32,
}

// ---- DestinationRule ----

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationRule {
    pub host: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic_policy: Option<TrafficPolicy>,
    pub subsets: Vec<Subset>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TrafficPolicy {
    pub tls: ClientTls,
}

#[derive(Clone, Debug, Serialize)]
pub struct ClientTls {
    pub mode: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct Subset {
    pub name: String,
    pub labels: Labels,
}

// ---- ServiceEntry ----

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceEntry {
    pub hosts: Vec<String>,
    pub ports: Vec<ServiceEntryPort>,
    pub location: &'static str,
    pub resolution: &'static str,
    pub workload_selector: WorkloadSelector,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceEntryPort {
    pub number: u32,
    pub protocol: &'static str,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_port: Option<u32>,
}

#[derive(Clone, Debug, Serialize)]
pub struct WorkloadSelector {
    pub labels: Labels,
}

// ---- WorkloadEntry / WorkloadGroup ----

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ports: BTreeMap<String, u32>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct WorkloadGroup {
    pub metadata: GroupMetadata,
    pub template: WorkloadEntry,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<ReadinessProbe>,
}

#[derive(Clone, Debug, Serialize)]
pub struct GroupMetadata {
    pub labels: Labels,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadinessProbe {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_get: Option<HttpGet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_socket: Option<TcpSocket>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecAction>,
}

#[derive(Clone, Debug, Serialize)]
pub struct HttpGet {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub port: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct TcpSocket {
    pub port: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct ExecAction {
    pub command: Vec<String>,
}

// ---- Sidecar ----

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sidecar {
    pub workload_selector: WorkloadSelector,
    pub egress: Vec<EgressListener>,
}

#[derive(Clone, Debug, Serialize)]
pub struct EgressListener {
    pub hosts: Vec<String>,
}

// ---- AuthorizationPolicy ----

#[derive(Clone, Debug, Serialize)]
pub struct AuthorizationPolicy {
    pub selector: PolicySelector,
    pub action: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<PolicyRule>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicySelector {
    pub match_labels: Labels,
}

#[derive(Clone, Debug, Serialize)]
pub struct PolicyRule {
    pub from: Vec<PolicyFrom>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PolicyFrom {
    pub source: PolicySource,
}

#[derive(Clone, Debug, Serialize)]
pub struct PolicySource {
    pub principals: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(v: &str) -> ApiVersions {
        ApiVersions::new(IstioVersion::parse(v).expect("version"))
    }

    fn we() -> Spec {
        Spec::WorkloadEntry(WorkloadEntry::default())
    }

    fn vs() -> Spec {
        Spec::VirtualService(VirtualService::default())
    }

    fn ap() -> Spec {
        Spec::AuthorizationPolicy(AuthorizationPolicy {
            selector: PolicySelector {
                match_labels: Labels::new(),
            },
            action: "ALLOW",
            rules: Vec::new(),
        })
    }

    #[test]
    fn api_versions_follow_the_istio_release() {
        assert_eq!(api("1.0.0").for_spec(&vs()), "networking.istio.io/v1alpha3");
        assert_eq!(api("1.10").for_spec(&vs()), "networking.istio.io/v1beta1");
        assert_eq!(api("1.10").for_spec(&we()), "networking.istio.io/v1alpha3");
        assert_eq!(api("1.10").for_spec(&ap()), "security.istio.io/v1beta1");
        assert_eq!(api("1.22").for_spec(&we()), "networking.istio.io/v1");
        assert_eq!(api("1.24").for_spec(&ap()), "security.istio.io/v1");
    }

    #[test]
    fn istio_objects_write_api_version_kind_metadata_spec_in_order() {
        let o = IstioObject::new(api("1.24"), meta("x", Some("ns"), Labels::new()), we());
        let text = crate::emit::yaml::document(&o);
        assert_eq!(
            text,
            "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata:\n  name: x\n  namespace: ns\nspec: {}\n"
        );
    }
}
