//! E303: one version of a service deployed twice on the same target.

use super::first_seen::FirstSeen;

use super::lexical::shown;
use crate::check::{Context, Rule, Target};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// The same version of a service is deployed twice on the same cluster
    /// or VM.
    ///
    /// A version runs once per target: meshc emits one Deployment per
    /// cluster and one WorkloadEntry per VM for it, so a second `deploy`
    /// line naming the same version and target would emit the same object
    /// twice. It is almost always a copy-and-paste slip, often a `vm=` that
    /// should name a second VM.
    ///
    /// ```kdl
    /// service details {
    ///     port http 9080
    ///     deploy v1 vm=vm-a
    ///     deploy v1 vm=vm-a      // E303: did you mean vm=vm-b?
    /// }
    /// ```
    pub static CODE = "E303", Error, "duplicate-deployment", "a version is deployed twice on the same target";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    // One table, emptied per service: no fresh memory for each of
    // thousands of services.
    let mut first = FirstSeen::default();
    for (si, workloads) in cx.index.service_workloads.iter_enumerated() {
        let service = &cx.topo.services[si];
        first.clear();
        for &wi in workloads {
            let w = &cx.index.workloads[wi];
            let Some(earlier) = first.first((w.version.as_str(), w.target), w.span) else {
                continue;
            };
            let target = match w.target {
                Target::Cluster(c) => format!("cluster `{}`", shown(&cx.topo.clusters[c].name.value)),
                Target::Vm(v) => format!("VM `{}`", shown(&cx.topo.vms[v].name.value)),
            };
            diags.push(
                Diagnostic::new(
                    &CODE,
                    w.span,
                    format!(
                        "version `{}` of `{}` is deployed twice on {target}",
                        shown(&w.version),
                        shown(&service.name.value)
                    ),
                )
                .label("deployed again here")
                .with_secondary(earlier, "first deployed here")
                .help(format!(
                    "remove one of them; to run `{}` on several targets, name a different target in each `deploy`",
                    shown(&w.version)
                )),
            );
        }
    }
}
