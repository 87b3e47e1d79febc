//! E301: a reference to something that is not declared.

use std::cell::OnceCell;

use crate::check::{Context, Id, Names, Rule};
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

/// A table's names, sorted.
fn sorted<I: Id>(names: &Names<I>) -> Vec<&str> {
    let mut v: Vec<&str> = names.keys().collect();
    v.sort_unstable();
    v
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
    // The names offered in help, sorted; made once, and only if a
    // reference is unknown.
    let (networks, clusters, vms, services) =
        (OnceCell::new(), OnceCell::new(), OnceCell::new(), OnceCell::new());
    for c in &cx.topo.clusters {
        if !ix.networks.contains_key(&c.network.value) {
            let names = networks.get_or_init(|| sorted(&ix.networks));
            unknown("network", &c.network, &mut names.iter().copied(), diags);
        }
    }
    for v in &cx.topo.vms {
        if !ix.networks.contains_key(&v.network.value) {
            let names = networks.get_or_init(|| sorted(&ix.networks));
            unknown("network", &v.network, &mut names.iter().copied(), diags);
        }
        if let Some(c) = v.cluster.as_ref().filter(|c| !ix.clusters.contains_key(&c.value)) {
            let names = clusters.get_or_init(|| sorted(&ix.clusters));
            unknown("cluster", c, &mut names.iter().copied(), diags);
        }
    }
    for (s, targets) in cx.topo.services.iter().zip(&ix.call_targets) {
        for d in &s.deployments {
            match &d.placement {
                Placement::Cluster(c) if !ix.clusters.contains_key(&c.value) => {
                    let names = clusters.get_or_init(|| sorted(&ix.clusters));
                    unknown("cluster", c, &mut names.iter().copied(), diags)
                }
                Placement::Vm(v) if !ix.vms.contains_key(&v.value) => {
                    let names = vms.get_or_init(|| sorted(&ix.vms));
                    unknown("VM", v, &mut names.iter().copied(), diags)
                }
                _ => {}
            }
        }
        for (c, target) in s.calls.iter().zip(targets) {
            if target.is_none() {
                // By namespace, then name, as the namespaces' maps gave them.
                let names = services.get_or_init(|| {
                    let mut v: Vec<(&str, &str)> = ix.services.scoped_keys().collect();
                    v.sort_unstable();
                    v
                });
                unknown("service", c, &mut names.iter().map(|&(_, name)| name), diags);
            }
        }
    }
}
