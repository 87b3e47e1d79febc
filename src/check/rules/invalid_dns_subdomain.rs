//! E406: a service account, trust domain or cluster domain that is not a
//! DNS-1123 subdomain.

use super::lexical::{Class, check_name};
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// A service account, trust domain or cluster domain is not a DNS-1123
    /// subdomain.
    ///
    /// Service accounts are Kubernetes ServiceAccounts, whose names are
    /// DNS-1123 subdomains; the trust domain is the host part of every
    /// SPIFFE identity (`spiffe://TRUST-DOMAIN/ns/NS/sa/SA`); the cluster
    /// domain is the DNS suffix of every service host, written into the
    /// VM's dnsmasq and hosts files. A subdomain is dot-separated parts of
    /// lower-case letters, digits and `-`, each starting and ending with a
    /// letter or digit, at most 253 characters; no `..`, `/`, whitespace or
    /// shell characters.
    ///
    /// ```kdl
    /// mesh bookinfo { istio "1.24"; trust-domain "Example.COM" }   // E406
    /// vm db { address "10.0.0.5"; network vpc; service-account "db/admin" }   // E406
    /// ```
    pub static CODE = "E406", Error, "invalid-dns-subdomain", "a service account or domain is not a DNS-1123 subdomain";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    let mut push = |what: &str, name, why: &str| {
        diags.extend(check_name(&CODE, Class::Subdomain, what, name, why));
    };
    if let Some(td) = &t.mesh.trust_domain {
        push(
            "trust domain",
            td,
            "the trust domain is the host part of every SPIFFE identity",
        );
    }
    for c in &t.clusters {
        if let Some(d) = &c.cluster_domain {
            push(
                "cluster domain",
                d,
                "the cluster domain is the DNS suffix of every service host",
            );
        }
    }
    let sa_why = "a service account is a Kubernetes ServiceAccount";
    for v in &t.vms {
        if let Some(sa) = &v.service_account {
            push("service account", sa, sa_why);
        }
    }
    for s in &t.services {
        if let Some(sa) = &s.service_account {
            push("service account", sa, sa_why);
        }
        for sa in s.deployments.iter().filter_map(|d| d.service_account.as_ref()) {
            push("service account", sa, sa_why);
        }
    }
}
