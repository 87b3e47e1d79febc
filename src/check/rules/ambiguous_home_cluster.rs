//! E305: a VM whose home cluster cannot be determined.

use super::lexical::shown;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// A VM does not say which cluster's control plane it joins, and there
    /// is more than one to choose from.
    ///
    /// A VM joins exactly one istiod: its `cluster.env` names that
    /// cluster's id, its `hosts` file points `istiod` at that cluster's
    /// east-west gateway, and its WorkloadEntry is created there. With one
    /// control-plane cluster meshc picks it; with several (multi-primary)
    /// meshc will not guess, because the wrong choice gives a VM that
    /// connects nowhere or registers in the wrong cluster.
    ///
    /// ```kdl
    /// cluster east { network vpc; control-plane #true }
    /// cluster west { network vpc; control-plane #true }
    /// vm db { address "10.0.0.5"; network vpc }     // E305: add `cluster east`
    /// ```
    pub static CODE = "E305", Error, "ambiguous-home-cluster", "a VM could join several control planes and names none";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let planes = &cx.index.control_planes;
    if planes.len() < 2 {
        return;
    }
    let names: Vec<String> = planes
        .iter()
        .map(|&c| format!("`{}`", shown(&cx.topo.clusters[c].name.value)))
        .collect();
    // A `cluster` that could not be read is already reported.
    let unread = |v: &crate::model::Vm| cx.topo.dropped.setting(v.span, "cluster");
    for vm in cx.topo.vms.iter().filter(|v| v.cluster.is_none() && !unread(v)) {
        let mut d = Diagnostic::new(
            &CODE,
            vm.name.span,
            format!(
                "VM `{}` does not say which control plane it joins, and {} clusters run one",
                shown(&vm.name.value),
                planes.len()
            ),
        )
        .label("no `cluster` here");
        for &c in planes.iter().take(3) {
            d = d.with_secondary(cx.topo.clusters[c].name.span, "runs a control plane");
        }
        diags.push(d.help(format!(
            "add `cluster NAME` to the VM, naming one of {}",
            names.join(", ")
        )));
    }
}
