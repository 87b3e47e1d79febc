//! E520: an address VMs dial that lies inside a cluster's pod or service
//! range.

use std::net::IpAddr;

use super::lexical::shown;
use super::ranges::{ClusterRange, RangeSet, unusable};
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;
use crate::source::Spanned;

declare_code! {
    /// An address that VMs (or other networks) connect to lies inside a
    /// cluster's pod or service CIDR.
    ///
    /// An east-west gateway, a legacy internal load balancer (`pilot`,
    /// `mixer`, `citadel`, `kube-dns` in `ilb`), a network's `gateway` and
    /// a VM's `dns-server` are dialled from outside the cluster. A service
    /// (ClusterIP) address exists only inside the cluster's nodes, and a
    /// pod address belongs to one pod for its lifetime: neither can be
    /// reached as a gateway. The usual cause is copying the CLUSTER-IP
    /// column of `kubectl get svc` instead of EXTERNAL-IP. (A cluster's own
    /// `kube-dns` setting is a ClusterIP by design, see E505.)
    ///
    /// ```kdl
    /// cluster prod {
    ///     network vpc
    ///     service-cidr "172.21.0.0/20"
    ///     east-west-gateway "172.21.3.7"   // E520: a ClusterIP
    /// }
    /// ```
    pub static CODE = "E520", Error, "dialled-address-in-cluster-range", "an address VMs connect to lies inside a cluster's pod or service range";
}

pub static RULE: Rule = Rule { code: &CODE, run };

/// Every pod and service range of every cluster, whatever its network: a
/// gateway is dialled from VMs and pods on every network, and inside any
/// cluster such an address is swallowed by that cluster's routing.
fn all_ranges(cx: &Context<'_>) -> RangeSet<ClusterRange> {
    super::ranges::ranges_of(cx, cx.topo.cluster_ids().map(|(c, _)| c))
}

/// One dialled address: what it is, and where its right value comes from.
struct Dialled<'t> {
    ip: &'t Spanned<IpAddr>,
    what: String,
    fix: &'static str,
}

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    let mut dialled = Vec::new();
    for c in &t.clusters {
        let name = shown(&c.name.value);
        if let Some(g) = &c.east_west_gateway {
            dialled.push(Dialled {
                ip: g,
                what: format!("the east-west gateway of cluster `{name}`"),
                fix: "use the EXTERNAL-IP column of `kubectl -n istio-system get svc istio-eastwestgateway`, not CLUSTER-IP",
            });
        }
        if let Some(ilb) = &c.ilbs {
            for (ip, which) in [
                (&ilb.pilot, "pilot"),
                (&ilb.mixer, "mixer"),
                (&ilb.citadel, "citadel"),
                (&ilb.kube_dns, "kube-dns"),
            ] {
                dialled.push(Dialled {
                    ip,
                    what: format!("the `{which}` internal load balancer of cluster `{name}`"),
                    fix: "use the EXTERNAL-IP column of the internal LoadBalancer Service (`kubectl -n istio-system get svc`), not CLUSTER-IP",
                });
            }
        }
    }
    for n in &t.networks {
        if let Some(g) = &n.gateway {
            dialled.push(Dialled {
                ip: g,
                what: format!("the gateway of network `{}`", shown(&n.name.value)),
                fix: "use the EXTERNAL-IP column of the gateway's LoadBalancer Service, not CLUSTER-IP",
            });
        }
    }
    for v in &t.vms {
        for s in &v.dns_servers {
            dialled.push(Dialled {
                ip: s,
                what: format!("a DNS server of VM `{}`", shown(&v.name.value)),
                fix: "list the resolvers the VM itself uses (`nameserver` in its /etc/resolv.conf); cluster names are reached through the sidecar or dnsmasq, never by dialling a ClusterIP",
            });
        }
    }
    if dialled.is_empty() {
        return;
    }
    let ranges = all_ranges(cx);
    for d in dialled {
        // An unreachable address (loopback, …) is E508's finding.
        if unusable(d.ip.value).is_some() {
            continue;
        }
        let Some(range) = ranges.find(d.ip.value) else {
            continue;
        };
        let cluster = shown(&t.clusters[range.cluster].name.value);
        let kind = range.kind;
        let why = if kind == "service" {
            "a ClusterIP, reachable only inside the cluster"
        } else {
            "a pod address, never a stable entry point"
        };
        diags.push(
            Diagnostic::new(
                &CODE,
                d.ip.span,
                format!(
                    "{}, {}, lies inside the {kind} range of cluster `{cluster}`: {why}",
                    d.what, d.ip.value
                ),
            )
            .label(format!("inside a {kind} CIDR"))
            .with_secondary(range.span, format!("{kind} CIDR of `{cluster}`"))
            .help(d.fix),
        );
    }
}
