//! E508: an address no other host can reach.

use std::net::IpAddr;

use super::lexical::shown;
use super::ranges::unusable;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;
use crate::source::Spanned;

declare_code! {
    /// A VM, gateway, load balancer or kube-dns address is one that other
    /// hosts cannot reach: loopback (`127.0.0.1`, `::1`), unspecified
    /// (`0.0.0.0`, `::`), link-local (`169.254.0.0/16`, `fe80::/10`),
    /// multicast, broadcast, or an IPv4-mapped IPv6 address.
    ///
    /// These addresses mean "this host" or "no host" or "many hosts". A
    /// WorkloadEntry with `127.0.0.1` sends every caller's traffic to its
    /// own machine; a gateway at `0.0.0.0` cannot be dialled. Write the
    /// address the rest of the mesh reaches the host at. (A VM's
    /// `dns-server` may be a loopback resolver and is not checked.)
    ///
    /// ```kdl
    /// vm db { address "127.0.0.1"; network vpc }   // E508
    /// ```
    pub static CODE = "E508", Error, "unusable-address", "an address other hosts cannot reach";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn check(what: String, ip: &Spanned<IpAddr>, diags: &mut Vec<Diagnostic>) {
    if let Some(why) = unusable(ip.value) {
        diags.push(
            Diagnostic::new(&CODE, ip.span, format!("{what}, {}, is {why}", ip.value))
                .label(why)
                .help("write the address the rest of the mesh reaches this host at"),
        );
    }
}

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    for n in &t.networks {
        if let Some(g) = &n.gateway {
            check(
                format!("the gateway of network `{}`", shown(&n.name.value)),
                g,
                diags,
            );
        }
    }
    for c in &t.clusters {
        let name = shown(&c.name.value);
        if let Some(g) = &c.east_west_gateway {
            check(format!("the east-west gateway of cluster `{name}`"), g, diags);
        }
        if let Some(d) = &c.kube_dns {
            check(format!("kube-dns of cluster `{name}`"), d, diags);
        }
        if let Some(i) = &c.ilbs {
            for (what, ip) in [
                ("pilot", &i.pilot),
                ("mixer", &i.mixer),
                ("citadel", &i.citadel),
                ("kube-dns", &i.kube_dns),
            ] {
                check(format!("the {what} load balancer of cluster `{name}`"), ip, diags);
            }
        }
    }
    for v in &t.vms {
        check(
            format!("the address of VM `{}`", shown(&v.name.value)),
            &v.address,
            diags,
        );
    }
}
