//! Services: ports, where each version runs, what it calls, how it is routed.

use super::{Name, PortNumber, Ref};
use crate::source::{Span, Spanned};

#[derive(Clone, Debug)]
pub struct Service {
    pub name: Name,
    pub namespace: Ref,
    pub ports: Vec<Port>,
    pub deployments: Vec<Deployment>,
    pub calls: Vec<Ref>,
    pub routes: Vec<Route>,
    /// The service account of its workloads; the service's name when not
    /// given. On a VM the VM's own service account wins.
    pub service_account: Option<Spanned<String>>,
    /// Modern flow: register VM workloads through a Kubernetes Service
    /// selecting WorkloadEntries (default) or a ServiceEntry.
    pub registration: Option<Spanned<Registration>>,
    /// Reached from outside the mesh (an ingress), so not being called by
    /// anyone is expected.
    pub entry_point: Option<Spanned<bool>>,
    pub probe: Option<Probe>,
    pub span: Span,
}

impl Service {
    pub fn is_entry_point(&self) -> bool {
        self.entry_point.as_ref().is_some_and(|e| e.value)
    }

    pub fn registration(&self) -> Registration {
        self.registration
            .as_ref()
            .map_or(Registration::Service, |r| r.value)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registration {
    Service,
    ServiceEntry,
}

/// A service port.
#[derive(Clone, Debug)]
pub struct Port {
    pub name: Spanned<String>,
    pub number: PortNumber,
    /// Explicit protocol; otherwise derived from the name's prefix.
    pub protocol: Option<Spanned<Protocol>>,
    pub target_port: Option<PortNumber>,
    pub span: Span,
}

impl Port {
    /// The protocol Istio will use: the explicit one, else the one the
    /// name's prefix selects (`http-web` → HTTP), else TCP.
    pub fn protocol(&self) -> Protocol {
        self.protocol
            .as_ref()
            .map(|p| p.value)
            .or_else(|| Protocol::from_port_name(&self.name.value))
            .unwrap_or(Protocol::Tcp)
    }

    pub fn target_port(&self) -> u16 {
        self.target_port.as_ref().map_or(self.number.value, |t| t.value)
    }
}

/// Istio's protocols, as selected by port-name prefix
/// (`<protocol>[-<suffix>]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    Http,
    Http2,
    Https,
    Grpc,
    GrpcWeb,
    Tcp,
    Tls,
    Mongo,
    Mysql,
    Redis,
    Udp,
}

impl Protocol {
    pub const ALL: [Protocol; 11] = [
        Protocol::Http,
        Protocol::Http2,
        Protocol::Https,
        Protocol::Grpc,
        Protocol::GrpcWeb,
        Protocol::Tcp,
        Protocol::Tls,
        Protocol::Mongo,
        Protocol::Mysql,
        Protocol::Redis,
        Protocol::Udp,
    ];

    /// The lower-case word used in port names and in the topology.
    pub const fn keyword(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Http2 => "http2",
            Protocol::Https => "https",
            Protocol::Grpc => "grpc",
            Protocol::GrpcWeb => "grpc-web",
            Protocol::Tcp => "tcp",
            Protocol::Tls => "tls",
            Protocol::Mongo => "mongo",
            Protocol::Mysql => "mysql",
            Protocol::Redis => "redis",
            Protocol::Udp => "udp",
        }
    }

    /// The upper-case name Istio's APIs use (`HTTP`, `GRPC-Web`, …).
    pub fn as_istio(self) -> &'static str {
        match self {
            Protocol::Http => "HTTP",
            Protocol::Http2 => "HTTP2",
            Protocol::Https => "HTTPS",
            Protocol::Grpc => "GRPC",
            Protocol::GrpcWeb => "GRPC-Web",
            Protocol::Tcp => "TCP",
            Protocol::Tls => "TLS",
            Protocol::Mongo => "Mongo",
            Protocol::Mysql => "MySQL",
            Protocol::Redis => "Redis",
            Protocol::Udp => "UDP",
        }
    }

    pub fn from_keyword(word: &str) -> Option<Protocol> {
        let lower = word.to_ascii_lowercase();
        Protocol::ALL.into_iter().find(|p| p.keyword() == lower)
    }

    /// Istio's explicit protocol selection by port name: `grpc-web` and
    /// `http2` first, then the part before the first `-`.
    pub fn from_port_name(name: &str) -> Option<Protocol> {
        let lower = name.to_ascii_lowercase();
        if lower == "grpc-web" || lower.starts_with("grpc-web-") {
            return Some(Protocol::GrpcWeb);
        }
        let prefix = lower.split('-').next().unwrap_or_default();
        Protocol::ALL
            .into_iter()
            .filter(|p| *p != Protocol::GrpcWeb)
            .find(|p| p.keyword() == prefix)
    }
}

/// `deploy v1 v2 cluster=prod` or `deploy v1 vm=db`: versions placed on one
/// target. A version may appear in several deployments (several VMs, or a
/// cluster and VMs).
#[derive(Clone, Debug)]
pub struct Deployment {
    pub versions: Vec<Name>,
    pub placement: Placement,
    /// The service account these versions' pods run as, when it is not the
    /// service's (a Deployment with its own `serviceAccountName`). Cluster
    /// placements only: a VM's sidecar has the VM's identity.
    pub service_account: Option<Spanned<String>>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum Placement {
    Cluster(Ref),
    Vm(Ref),
}

/// `route v2 weight=10`: a share of the service's traffic for a version.
#[derive(Clone, Debug)]
pub struct Route {
    pub version: Ref,
    /// 100 when it is the only route and no weight is written.
    pub weight: Option<Spanned<u32>>,
    pub span: Span,
}

/// A readiness probe for VM workloads (WorkloadGroup `probe`).
#[derive(Clone, Debug)]
pub struct Probe {
    pub kind: ProbeKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum ProbeKind {
    Http {
        port: PortNumber,
        path: Option<Spanned<String>>,
    },
    Tcp {
        port: PortNumber,
    },
    Exec {
        command: Vec<Spanned<String>>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_from_port_name_follows_istio_prefixes() {
        assert_eq!(Protocol::from_port_name("http"), Some(Protocol::Http));
        assert_eq!(Protocol::from_port_name("http-web"), Some(Protocol::Http));
        assert_eq!(Protocol::from_port_name("http2"), Some(Protocol::Http2));
        assert_eq!(Protocol::from_port_name("grpc-web"), Some(Protocol::GrpcWeb));
        assert_eq!(Protocol::from_port_name("grpc-api"), Some(Protocol::Grpc));
        assert_eq!(Protocol::from_port_name("mysql"), Some(Protocol::Mysql));
        assert_eq!(Protocol::from_port_name("web"), None);
        assert_eq!(Protocol::from_port_name("httpx"), None);
    }
}
