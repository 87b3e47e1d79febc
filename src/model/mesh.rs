//! The `mesh` node: name, Istio version and control-plane settings.

use super::Name;
use crate::source::{Span, Spanned};

/// An Istio release, `major.minor[.patch]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct IstioVersion {
    pub major: u16,
    pub minor: u16,
    pub patch: Option<u16>,
}

impl IstioVersion {
    pub fn parse(s: &str) -> Option<IstioVersion> {
        let mut parts = s.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = match parts.next() {
            Some(p) => Some(p.parse().ok()?),
            None => None,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(IstioVersion { major, minor, patch })
    }

    /// The mesh-expansion flow this version uses: before 1.8 VMs joined
    /// through internal load balancers and `istioctl register`; from 1.8 on
    /// through WorkloadGroup/WorkloadEntry and an east-west gateway.
    pub fn flow(self) -> Flow {
        if (self.major, self.minor) < (1, 8) {
            Flow::Legacy
        } else {
            Flow::Modern
        }
    }
}

impl std::fmt::Display for IstioVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        if let Some(p) = self.patch {
            write!(f, ".{p}")?;
        }
        Ok(())
    }
}

/// The two ways Istio brings VMs into a mesh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Istio 0.8–1.7: internal load balancers, selector-less Services and
    /// Endpoints, the 1.0 `istio-iptables.sh` rules.
    Legacy,
    /// Istio 1.8+: WorkloadGroup, WorkloadEntry, east-west gateway.
    Modern,
}

#[derive(Clone, Debug, Default)]
pub struct Mesh {
    pub name: Name,
    pub istio: Spanned<IstioVersion>,
    pub trust_domain: Option<Spanned<String>>,
    pub mesh_id: Option<Spanned<String>>,
    /// Control-plane namespace; `istio-system` when not given.
    pub control_plane_namespace: Option<Spanned<String>>,
    /// Istio revision (modern flow), e.g. `1-24`.
    pub revision: Option<Spanned<String>>,
    /// Emit Sidecar and AuthorizationPolicy objects from the call graph
    /// (modern flow). On unless turned off.
    pub least_privilege: Option<Spanned<bool>>,
    /// Control-plane auth policy for the legacy flow (`MUTUAL_TLS` or `NONE`).
    pub control_plane_auth: Option<Spanned<String>>,
    /// Whether the install turns on mutual TLS between workloads; drives
    /// the DestinationRules' `trafficPolicy.tls`. Off when not given.
    pub data_plane_mtls: Option<Spanned<bool>>,
    /// The ingress gateways that bring outside traffic to entry points;
    /// the release line's default install when empty.
    pub ingresses: Vec<Ingress>,
    pub span: Span,
}

impl Mesh {
    pub fn control_plane_namespace(&self) -> &str {
        self.control_plane_namespace
            .as_ref()
            .map_or("istio-system", |s| s.value.as_str())
    }

    pub fn trust_domain(&self) -> &str {
        self.trust_domain
            .as_ref()
            .map_or("cluster.local", |s| s.value.as_str())
    }

    /// (namespace, service account) of every ingress gateway: the declared
    /// ones, or istioctl's default `istio-ingressgateway` (the gateway of
    /// the `default` and `demo` profiles, and of Istio 1.0's charts).
    pub fn ingress_identities(&self) -> Vec<(String, String)> {
        if self.ingresses.is_empty() {
            return vec![(
                self.control_plane_namespace().to_owned(),
                "istio-ingressgateway-service-account".to_owned(),
            )];
        }
        self.ingresses
            .iter()
            .map(|i| (i.namespace(self).to_owned(), i.service_account()))
            .collect()
    }

    pub fn data_plane_mtls(&self) -> bool {
        self.data_plane_mtls.as_ref().is_some_and(|m| m.value)
    }

    pub fn flow(&self) -> Flow {
        self.istio.value.flow()
    }
}

/// How an ingress gateway is installed, which decides the identity its
/// pods run as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IngressKind {
    /// istioctl / IstioOperator `ingressGateways`: service account
    /// `<name>-service-account`.
    Istioctl,
    /// Helm's `gateway` chart: the release name (`serviceAccount.name`
    /// defaults to it).
    Helm,
    /// A Gateway API `Gateway` Istio deploys: `<name>-istio`, in the
    /// Gateway's namespace.
    GatewayApi,
}

/// An ingress gateway (`mesh { ingress NAME kind=… namespace=… }`).
#[derive(Clone, Debug)]
pub struct Ingress {
    pub name: Name,
    pub kind: Option<Spanned<IngressKind>>,
    pub namespace: Option<Spanned<String>>,
    pub span: Span,
}

impl Ingress {
    pub fn kind(&self) -> IngressKind {
        self.kind.as_ref().map_or(IngressKind::Istioctl, |k| k.value)
    }

    /// The namespace it runs in: the given one, else where that kind's
    /// install puts it.
    pub fn namespace<'a>(&'a self, mesh: &'a Mesh) -> &'a str {
        match &self.namespace {
            Some(ns) => ns.value.as_str(),
            None => match self.kind() {
                IngressKind::Istioctl => mesh.control_plane_namespace(),
                IngressKind::Helm => "istio-ingress",
                IngressKind::GatewayApi => "default",
            },
        }
    }

    /// The Kubernetes service account its pods run as.
    pub fn service_account(&self) -> String {
        let name = &self.name.value;
        match self.kind() {
            IngressKind::Istioctl => format!("{name}-service-account"),
            IngressKind::Helm => name.clone(),
            IngressKind::GatewayApi => format!("{name}-istio"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_pick_a_flow() {
        let v = IstioVersion::parse("1.24").expect("valid");
        assert_eq!(v.flow(), Flow::Modern);
        assert_eq!(IstioVersion::parse("1.0.9").map(|v| v.flow()), Some(Flow::Legacy));
        assert_eq!(IstioVersion::parse("1.7").map(|v| v.flow()), Some(Flow::Legacy));
        assert_eq!(IstioVersion::parse("1.8").map(|v| v.flow()), Some(Flow::Modern));
        assert_eq!(IstioVersion::parse("1"), None);
        assert_eq!(IstioVersion::parse("1.2.3.4"), None);
        assert_eq!(IstioVersion::parse("1.x"), None);
    }
}
