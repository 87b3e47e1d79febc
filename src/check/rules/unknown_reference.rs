//! E301: a reference to something that is not declared.

use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::{Diagnostic, suggest};
use crate::model::Placement;
use crate::source::Spanned;

declare_code! {
    /// A name refers to a network, cluster, VM or service that is not
    /// declared.
    ///
    /// Every `network=`, `cluster=`, `vm=` and `calls` must name something
    /// declared in the topology. A misspelt name would otherwise produce
    /// artifacts that point nowhere: a WorkloadEntry on a network no gateway
    /// serves, a Sidecar allowing egress to a host that does not exist.
    ///
    /// Services are looked up in the caller's namespace first, then in any
    /// namespace when the name is unique; `name.namespace` is explicit.
    ///
    /// ```kdl
    /// network vpc { cidr "10.0.0.0/16" }
    /// cluster prod { network vcp }     // E301: no network `vcp`
    /// ```
    pub static CODE = "E301", Error, "unknown-reference", "reference to an undeclared network, cluster, VM or service";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn unknown(
    kind: &str,
    r: &Spanned<String>,
    names: &mut dyn Iterator<Item = &str>,
    diags: &mut Vec<Diagnostic>,
) {
    let names: Vec<&str> = names.collect();
    let help = match suggest(&r.value, names.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None if names.is_empty() => format!("declare a {kind} named `{}`", r.value),
        None => format!("declared {kind}s: {}", abbreviated(&names)),
    };
    diags.push(
        Diagnostic::new(&CODE, r.span, format!("no {kind} named `{}`", r.value))
            .label(format!("unknown {kind}"))
            .help(help),
    );
}

/// At most eight names, so a huge topology does not produce a huge help.
fn abbreviated(names: &[&str]) -> String {
    let mut s = names.iter().take(8).copied().collect::<Vec<_>>().join(", ");
    if names.len() > 8 {
        s.push_str(&format!(", … ({} more)", names.len() - 8));
    }
    s
}

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let ix = cx.index;
    // A reference to a declaration that was itself broken has been reported
    // there already.
    let unknown = |kind: &str,
                   r: &Spanned<String>,
                   names: &mut dyn Iterator<Item = &str>,
                   diags: &mut Vec<Diagnostic>| {
        if !cx.topo.invalid_names.contains(&r.value) {
            unknown(kind, r, names, diags);
        }
    };
    let networks = || ix.networks.keys().map(String::as_str);
    let clusters = || ix.clusters.keys().map(String::as_str);
    let vms = || ix.vms.keys().map(String::as_str);
    for c in &cx.topo.clusters {
        if !ix.networks.contains_key(&c.network.value) {
            unknown("network", &c.network, &mut networks(), diags);
        }
    }
    for v in &cx.topo.vms {
        if !ix.networks.contains_key(&v.network.value) {
            unknown("network", &v.network, &mut networks(), diags);
        }
        if let Some(c) = v.cluster.as_ref().filter(|c| !ix.clusters.contains_key(&c.value)) {
            unknown("cluster", c, &mut clusters(), diags);
        }
    }
    for (s, targets) in cx.topo.services.iter().zip(&ix.call_targets) {
        for d in &s.deployments {
            match &d.placement {
                Placement::Cluster(c) if !ix.clusters.contains_key(&c.value) => {
                    unknown("cluster", c, &mut clusters(), diags)
                }
                Placement::Vm(v) if !ix.vms.contains_key(&v.value) => unknown("VM", v, &mut vms(), diags),
                _ => {}
            }
        }
        for (c, target) in s.calls.iter().zip(targets) {
            if target.is_none() {
                let mut names = ix.services.values().flat_map(|m| m.keys().map(String::as_str));
                unknown("service", c, &mut names, diags);
            }
        }
    }
}
