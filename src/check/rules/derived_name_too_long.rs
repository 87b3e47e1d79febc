//! E408: names meshc derives from the topology that exceed Kubernetes or
//! DNS length limits.

use super::lexical::{Class, shown};
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;
use crate::source::Span;

/// Longest DNS name (RFC 1035, and Kubernetes' limit for subdomains).
const MAX_HOST: usize = 253;
/// Longest Kubernetes Service name (a DNS-1035 label).
const MAX_SERVICE: usize = 63;

declare_code! {
    /// A name meshc derives from the topology is longer than Kubernetes or
    /// DNS allow.
    ///
    /// Each name you write passes its own check, but meshc also joins names
    /// together, and the result has limits of its own:
    ///
    /// - a service's host, `SERVICE.NAMESPACE.svc.CLUSTER-DOMAIN`, written
    ///   into ServiceEntries, Sidecars and the VM's hosts and dnsmasq files,
    ///   is a DNS name of at most 253 characters;
    /// - with a `revision`, istiod's Service is `istiod-REVISION`, a Service
    ///   name of at most 63 characters, so a revision has at most 56.
    ///
    /// Other derived names (`SERVICE-VERSION` WorkloadGroups, WorkloadEntry
    /// names) are subdomains of at most 253 characters and cannot overflow
    /// once their parts pass E401–E403.
    ///
    /// ```kdl
    /// mesh m {
    ///     istio "1.24"
    ///     revision "canary-for-the-payments-migration-of-the-third-quarter-2026"  // E408: 59 > 56
    /// }
    /// ```
    pub static CODE = "E408", Error, "derived-name-too-long", "a name meshc derives is longer than Kubernetes or DNS allow";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    if let Some(rev) = &t.mesh.revision {
        let name = format!("istiod-{}", rev.value);
        if Class::DnsLabel.accepts(&rev.value) && name.len() > MAX_SERVICE {
            diags.push(
                Diagnostic::new(
                    &CODE,
                    rev.span,
                    format!(
                        "revision `{}` is too long: istiod's Service, `istiod-REVISION`, would have a name of {} characters, more than {MAX_SERVICE}",
                        shown(&rev.value),
                        name.len()
                    ),
                )
                .label(format!("{} characters", rev.value.len()))
                .help(format!(
                    "shorten the revision to at most {} characters",
                    MAX_SERVICE - "istiod-".len()
                )),
            );
        }
    }
    // The longest valid cluster domain decides; an explicit one has a span
    // to point at. Clusters that do not set one use `cluster.local`.
    let mut longest: Option<(&str, Option<Span>)> = None;
    for c in &t.clusters {
        let (domain, span) = match &c.cluster_domain {
            Some(d) => (d.value.as_str(), Some(d.span)),
            None => (c.cluster_domain(), None),
        };
        if Class::Subdomain.accepts(domain) && longest.is_none_or(|(l, _)| domain.len() > l.len()) {
            longest = Some((domain, span));
        }
    }
    let (domain, domain_span) = longest.unwrap_or(("cluster.local", None));
    for s in &t.services {
        if !Class::Dns1035.accepts(&s.name.value) || !Class::DnsLabel.accepts(&s.namespace.value) {
            continue;
        }
        // Measured before it is formatted: most services fit.
        let host_len =
            s.name.value.len() + ".".len() + s.namespace.value.len() + ".svc.".len() + domain.len();
        if host_len <= MAX_HOST {
            continue;
        }
        let host = format!("{}.{}.svc.{domain}", s.name.value, s.namespace.value);
        let mut d = Diagnostic::new(
            &CODE,
            s.name.span,
            format!(
                "the host of `{}`, `{}`, is {} characters long, more than {MAX_HOST}",
                shown(&s.name.value),
                shown(&host),
                host.len()
            ),
        )
        .label("host name too long");
        if let Some(span) = domain_span {
            d = d.with_secondary(span, format!("cluster domain of {} characters", domain.len()));
        }
        diags.push(d.help("shorten the service name, its namespace or the cluster domain"));
    }
}
