//! E506: IPv4 and IPv6 mixed up where one family is required.

use std::net::IpAddr;

use ipnet::IpNet;

use super::lexical::shown;
use super::ranges::{Family, unusable};
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;
use crate::source::Spanned;

declare_code! {
    /// An address is IPv4 where only IPv6 makes sense, or the reverse.
    ///
    /// meshc checks the places where a family mix-up cannot work:
    ///
    /// - a VM's address is of a family none of its network's CIDRs has
    ///   (the network is IPv4-only and the VM has an IPv6 address, say);
    /// - a cluster's `kube-dns` is of a family none of its service CIDRs
    ///   has: it is a ClusterIP, so it comes from those ranges;
    /// - a legacy internal load balancer (`ilb`) has an address of a family
    ///   its cluster's network does not have: internal load balancers are
    ///   addresses on that network;
    /// - a cluster's pod CIDRs and service CIDRs share no family: a
    ///   single-stack cluster uses one family for both, a dual-stack one
    ///   both families for both.
    ///
    /// ```kdl
    /// network vpc { cidr "10.0.0.0/16" }
    /// vm db { address "fd00::5"; network vpc }   // E506: vpc is IPv4-only
    /// ```
    pub static CODE = "E506", Error, "address-family-mismatch", "an IPv4 address where IPv6 is required, or the reverse";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn families(nets: &[Spanned<IpNet>]) -> Vec<Family> {
    let mut f: Vec<Family> = nets.iter().map(|n| Family::of_net(&n.value)).collect();
    f.sort();
    f.dedup();
    f
}

/// "IPv4-only" or "IPv6-only"; only called with a single family, since an
/// address of either family fits a dual-stack list.
fn only(f: &[Family]) -> String {
    f.first()
        .map_or_else(String::new, |f| format!("{}-only", f.name()))
}

/// An address that must share a family with a list of CIDRs that is not
/// empty and has none of its family.
fn mismatch(ip: IpAddr, nets: &[Spanned<IpNet>]) -> Option<(Vec<Family>, &Spanned<IpNet>)> {
    let first = nets.first()?;
    let fams = families(nets);
    (!fams.contains(&Family::of(ip)) && unusable(ip).is_none()).then_some((fams, first))
}

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    for (v, vm) in t.vm_ids() {
        let Some(n) = cx.index.vm_network[v] else { continue };
        let network = &t.networks[n];
        let Some((fams, first)) = mismatch(vm.address.value, &network.cidrs) else {
            continue;
        };
        let fam = Family::of(vm.address.value).name();
        diags.push(
            Diagnostic::new(
                &CODE,
                vm.address.span,
                format!(
                    "VM `{}` has an {fam} address, but network `{}` is {}",
                    shown(&vm.name.value),
                    shown(&network.name.value),
                    only(&fams)
                ),
            )
            .label(format!("{fam} address"))
            .with_secondary(first.span, format!("`{}`'s ranges", shown(&network.name.value)))
            .help(format!(
                "give the VM its address on `{}`, or add the network's {fam} range with `cidr`",
                shown(&network.name.value)
            )),
        );
    }
    for (ci, c) in t.cluster_ids() {
        if let Some(dns) = &c.kube_dns
            && let Some((fams, first)) = mismatch(dns.value, &c.service_cidrs)
        {
            let fam = Family::of(dns.value).name();
            diags.push(
                Diagnostic::new(
                    &CODE,
                    dns.span,
                    format!(
                        "kube-dns of cluster `{}` is an {fam} address, but its service ranges are {}",
                        shown(&c.name.value),
                        only(&fams)
                    ),
                )
                .label(format!("{fam} address"))
                .with_secondary(first.span, "service range")
                .help("kube-dns is a ClusterIP: use the address of the `kube-dns` Service from the service range"),
            );
        }
        if let (Some(pod), Some(svc)) = (c.pod_cidrs.first(), c.service_cidrs.first()) {
            let (pf, sf) = (families(&c.pod_cidrs), families(&c.service_cidrs));
            if !pf.iter().any(|f| sf.contains(f)) {
                diags.push(
                    Diagnostic::new(
                        &CODE,
                        svc.span,
                        format!(
                            "cluster `{}` has {} service ranges but {} pod ranges",
                            shown(&c.name.value),
                            only(&sf),
                            only(&pf)
                        ),
                    )
                    .label("service range")
                    .with_secondary(pod.span, "pod range")
                    .help("a cluster's pods and services use the same address family (or both, when dual-stack); correct the ranges"),
                );
            }
        }
        let (Some(ilbs), Some(n)) = (&c.ilbs, cx.index.cluster_network[ci]) else {
            continue;
        };
        let network = &t.networks[n];
        for (what, ip) in [
            ("pilot", &ilbs.pilot),
            ("mixer", &ilbs.mixer),
            ("citadel", &ilbs.citadel),
            ("kube-dns", &ilbs.kube_dns),
        ] {
            let Some((fams, first)) = mismatch(ip.value, &network.cidrs) else {
                continue;
            };
            let fam = Family::of(ip.value).name();
            diags.push(
                Diagnostic::new(
                    &CODE,
                    ip.span,
                    format!(
                        "the {what} internal load balancer of cluster `{}` has an {fam} address, but network `{}` is {}",
                        shown(&c.name.value),
                        shown(&network.name.value),
                        only(&fams)
                    ),
                )
                .label(format!("{fam} address"))
                .with_secondary(first.span, format!("`{}`'s ranges", shown(&network.name.value)))
                .help("an internal load balancer gets its address from the cluster's network; use an address from its ranges"),
            );
        }
    }
}
