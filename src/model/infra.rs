//! Where workloads run: networks, clusters, VMs, and namespaces.

use std::net::IpAddr;

use ipnet::IpNet;

use super::{Labels, Name, PortNumber, Ref};
use crate::source::{Span, Spanned};

/// An L3 network (a VPC, a data centre). Workloads on one network reach each
/// other directly; across networks they go through east-west gateways.
#[derive(Clone, Debug)]
pub struct Network {
    pub name: Name,
    pub cidrs: Vec<Spanned<IpNet>>,
    /// The address through which other networks reach workloads on this
    /// one. `check` (E709) accepts only the east-west gateway of a cluster
    /// on the network: nothing else is a gateway Istio runs.
    pub gateway: Option<Spanned<IpAddr>>,
    pub span: Span,
}

/// A Kubernetes cluster.
#[derive(Clone, Debug)]
pub struct Cluster {
    pub name: Name,
    pub network: Ref,
    pub pod_cidrs: Vec<Spanned<IpNet>>,
    pub service_cidrs: Vec<Spanned<IpNet>>,
    /// `cluster.local` when not given.
    pub cluster_domain: Option<Spanned<String>>,
    /// The kube-dns ClusterIP.
    pub kube_dns: Option<Spanned<IpAddr>>,
    /// Istio's cluster id (`ISTIO_META_CLUSTER_ID`); the cluster's name when
    /// not given.
    pub cluster_id: Option<Spanned<String>>,
    /// Whether istiod runs in this cluster.
    pub control_plane: Option<Spanned<bool>>,
    /// Modern flow: the address of the east-west gateway that exposes
    /// istiod (15012, 15017) and, across networks, services (15443).
    pub east_west_gateway: Option<Spanned<IpAddr>>,
    /// Legacy flow: the internal load balancers of the control plane.
    pub ilbs: Option<Ilbs>,
    /// Legacy flow: which cloud's internal-LB annotation to put on them.
    pub ilb_annotation: Option<Spanned<IlbAnnotation>>,
    pub span: Span,
}

impl Cluster {
    pub fn cluster_domain(&self) -> &str {
        self.cluster_domain
            .as_ref()
            .map_or("cluster.local", |s| s.value.as_str())
    }

    pub fn cluster_id(&self) -> &str {
        self.cluster_id
            .as_ref()
            .map_or(self.name.value.as_str(), |s| s.value.as_str())
    }

    pub fn runs_control_plane(&self) -> bool {
        self.control_plane.as_ref().is_some_and(|c| c.value)
    }
}

/// The legacy mesh-expansion internal load balancers (Istio 0.8–1.7).
#[derive(Clone, Debug)]
pub struct Ilbs {
    pub pilot: Spanned<IpAddr>,
    pub mixer: Spanned<IpAddr>,
    pub citadel: Spanned<IpAddr>,
    pub kube_dns: Spanned<IpAddr>,
    pub span: Span,
}

/// The annotation that makes a cloud's LoadBalancer Service internal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IlbAnnotation {
    /// `service.beta.kubernetes.io/alicloud-loadbalancer-address-type: intranet`
    Alibaba,
    /// `cloud.google.com/load-balancer-type: internal`
    Gke,
    None,
}

/// How inbound traffic is captured on a VM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interception {
    Redirect,
    Tproxy,
}

impl Interception {
    pub fn as_istio(self) -> &'static str {
        match self {
            Interception::Redirect => "REDIRECT",
            Interception::Tproxy => "TPROXY",
        }
    }
}

/// How a VM resolves cluster names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsMode {
    /// The Istio agent's DNS proxy (port 15053), fed by iptables capture.
    Capture,
    /// A local dnsmasq forwarding `svc.<domain>` to kube-dns.
    Dnsmasq,
    /// Only `/etc/hosts` entries (istiod → east-west gateway).
    Hosts,
}

/// A VM or bare-metal host joining the mesh.
#[derive(Clone, Debug)]
pub struct Vm {
    pub name: Name,
    pub address: Spanned<IpAddr>,
    pub network: Ref,
    /// The cluster whose control plane the VM joins; when not given, the
    /// control-plane cluster (there must then be exactly one).
    pub cluster: Option<Ref>,
    /// `user@host` the operator manages the VM through.
    pub ssh: Option<Spanned<String>>,
    pub service_account: Option<Spanned<String>>,
    pub labels: Labels,
    pub proxy_uid: Option<Spanned<u32>>,
    pub proxy_gid: Option<Spanned<u32>>,
    pub interception: Option<Spanned<Interception>>,
    pub dns: Option<Spanned<DnsMode>>,
    /// Resolvers whose port-53 traffic the agent captures; when empty, the
    /// nameservers of the VM's `/etc/resolv.conf`, read at apply time.
    pub dns_servers: Vec<Spanned<IpAddr>>,
    /// Capture every port-53 packet (`--capture-all-dns`).
    pub capture_all_dns: Option<Spanned<bool>>,
    pub inbound_exclude_ports: Vec<PortNumber>,
    pub outbound_exclude_ports: Vec<PortNumber>,
    pub outbound_exclude_cidrs: Vec<Spanned<IpNet>>,
    /// Modern flow: let istiod create the WorkloadEntry when the proxy
    /// connects, instead of meshc emitting it.
    pub autoregister: Option<Spanned<bool>>,
    pub span: Span,
}

impl Vm {
    pub fn interception(&self) -> Interception {
        self.interception
            .as_ref()
            .map_or(Interception::Redirect, |i| i.value)
    }

    pub fn dns(&self) -> DnsMode {
        self.dns.as_ref().map_or(DnsMode::Capture, |d| d.value)
    }

    pub fn proxy_uid(&self) -> u32 {
        self.proxy_uid.as_ref().map_or(1337, |u| u.value)
    }

    /// The proxy's gid; its uid when not given, as istio-iptables does.
    pub fn proxy_gid(&self) -> u32 {
        self.proxy_gid.as_ref().map_or(self.proxy_uid(), |g| g.value)
    }
}

/// A Kubernetes namespace, declared explicitly or implied by a service.
#[derive(Clone, Debug)]
pub struct Namespace {
    pub name: Name,
    pub labels: Labels,
    /// Sidecar injection label (on by default).
    pub injection: Option<Spanned<bool>>,
    /// Overrides the mesh's least-privilege setting for this namespace.
    pub least_privilege: Option<Spanned<bool>>,
    pub span: Span,
}
