//! E404: a value that must be a Kubernetes label value is not one.

use super::lexical::{Class, check_name};
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;
use crate::source::Spanned;

declare_code! {
    /// A label value, cluster id or mesh id is not a valid Kubernetes label
    /// value.
    ///
    /// Label values on VMs and namespaces are copied onto Kubernetes
    /// objects; `cluster-id` becomes `topology.istio.io/cluster` and
    /// `ISTIO_META_CLUSTER_ID`, and `mesh-id` becomes `ISTIO_META_MESH_ID`
    /// and the mesh's `meshID`, which Istio also carries as label values.
    /// A label value is at most 63 letters, digits, `-`, `_` and `.`,
    /// starting and ending with a letter or digit (labels may be empty;
    /// the ids may not). The strict charset also keeps shell and YAML
    /// syntax out of the generated `cluster.env` and `mesh.yaml`.
    ///
    /// ```kdl
    /// vm db { address "10.0.0.5"; network vpc; labels tier="back end" }   // E404
    /// cluster prod { network vpc; cluster-id "prod/east" }                // E404
    /// ```
    pub static CODE = "E404", Error, "invalid-label-value", "a label value, cluster id or mesh id is not a valid label value";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn id(what: &str, v: &Spanned<String>, why: &str, diags: &mut Vec<Diagnostic>) {
    // An empty label is a valid label value, but not a valid id.
    let class = Class::LabelValue;
    if v.value.is_empty() {
        diags.push(
            Diagnostic::new(&CODE, v.span, format!("{what} is empty"))
                .label("empty")
                .help(format!("{why}: {}", class.rule())),
        );
        return;
    }
    diags.extend(check_name(&CODE, class, what, v, why));
}

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    if let Some(m) = &t.mesh.mesh_id {
        id("mesh id", m, "the mesh id is a label value (`meshID`)", diags);
    }
    for c in &t.clusters {
        if let Some(i) = &c.cluster_id {
            id(
                "cluster id",
                i,
                "the cluster id is the `topology.istio.io/cluster` label value",
                diags,
            );
        }
    }
    let labels = t
        .vms
        .iter()
        .flat_map(|v| &v.labels.0)
        .chain(t.namespaces.iter().flat_map(|n| &n.labels.0));
    for (key, value) in labels {
        if let Some(mut d) = check_name(
            &CODE,
            Class::LabelValue,
            "value",
            value,
            "labels are copied onto Kubernetes objects",
        ) {
            d.message = d.message.replacen(
                " is not",
                &format!(" of label `{}` is not", super::lexical::shown(&key.value)),
                1,
            );
            diags.push(d);
        }
    }
}
