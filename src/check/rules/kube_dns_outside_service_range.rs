//! E505: a kube-dns address outside the cluster's service ranges.

use super::lexical::shown;
use super::ranges::Family;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// A cluster's `kube-dns` address is outside its service CIDRs.
    ///
    /// `kube-dns` is the ClusterIP of the cluster's DNS Service, so it is
    /// always inside one of the service ranges. VMs send cluster DNS
    /// queries there (through dnsmasq, or the agent's DNS proxy), and only
    /// traffic to the service ranges is captured and carried into the
    /// cluster; an address outside them is a typo that leaves the VM unable
    /// to resolve any service.
    ///
    /// ```kdl
    /// cluster prod {
    ///     network vpc
    ///     service-cidr "172.21.0.0/20"
    ///     kube-dns "172.21.16.10"      // E505: outside 172.21.0.0/20
    /// }
    /// ```
    pub static CODE = "E505", Error, "kube-dns-outside-service-range", "kube-dns is outside the cluster's service ranges";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        let Some(dns) = c
            .kube_dns
            .as_ref()
            .filter(|d| super::ranges::unusable(d.value).is_none())
        else {
            continue;
        };
        let family = Family::of(dns.value);
        let same: Vec<_> = c
            .service_cidrs
            .iter()
            .filter(|r| Family::of_net(&r.value) == family)
            .collect();
        // No range of its family is E506's finding, not this one.
        let Some(first) = same.first() else { continue };
        if same.iter().any(|r| r.value.contains(&dns.value)) {
            continue;
        }
        let ranges: Vec<String> = same.iter().map(|r| r.value.to_string()).collect();
        diags.push(
            Diagnostic::new(
                &CODE,
                dns.span,
                format!(
                    "kube-dns address {} of cluster `{}` is outside its service ranges ({})",
                    dns.value,
                    shown(&c.name.value),
                    ranges.join(", ")
                ),
            )
            .label("not a ClusterIP of this cluster")
            .with_secondary(first.span, "service range")
            .help(
                "use the ClusterIP of the `kube-dns` Service (`kubectl -n kube-system get svc kube-dns`), or correct `service-cidr`",
            ),
        );
    }
}
