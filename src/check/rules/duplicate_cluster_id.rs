//! E720: two clusters with one Istio cluster id.

use std::collections::BTreeMap;

use super::lexical::shown;
use crate::check::ClusterId;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;
use crate::model::Cluster;
use crate::source::Span;

declare_code! {
    /// Two clusters have the same Istio cluster id.
    ///
    /// The cluster id (`cluster-id`, the cluster's name when not given) is
    /// how istiod tells clusters apart: it keys each cluster's endpoints,
    /// remote secrets and the `ISTIO_META_CLUSTER_ID` of every proxy. Two
    /// clusters with one id overwrite each other's endpoints, so services
    /// lose the endpoints of one cluster and cross-cluster traffic fails.
    /// Copying a cluster block, or keeping a managed service's default id
    /// (`Kubernetes` on ACK and in Istio's guides) on both, does exactly
    /// this.
    ///
    /// ```kdl
    /// cluster east { network vpc; cluster-id Kubernetes; control-plane #true }
    /// cluster west { network vpc; cluster-id Kubernetes }   // E720
    /// ```
    pub static CODE = "E720", Error, "duplicate-cluster-id", "two clusters have the same cluster id";
}

pub static RULE: Rule = Rule { code: &CODE, run };

/// Where a cluster's effective id comes from: its `cluster-id`, or its name.
fn id_span(c: &Cluster) -> Span {
    c.cluster_id.as_ref().map_or(c.name.span, |i| i.span)
}

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let mut first: BTreeMap<&str, ClusterId> = BTreeMap::new();
    for (i, c) in cx.topo.cluster_ids() {
        // A cluster declared twice is E302's finding.
        if cx.index.clusters.get(&c.name.value) != Some(i) {
            continue;
        }
        let id = c.cluster_id();
        let Some(&earlier) = first.get(id) else {
            first.insert(id, i);
            continue;
        };
        let e = &cx.topo.clusters[earlier];
        let how = |c: &Cluster| {
            if c.cluster_id.is_some() {
                format!("cluster id of `{}`", shown(&c.name.value))
            } else {
                format!(
                    "`{}` has no `cluster-id`, so its name is its id",
                    shown(&c.name.value)
                )
            }
        };
        diags.push(
            Diagnostic::new(
                &CODE,
                id_span(c),
                format!(
                    "clusters `{}` and `{}` have the same cluster id `{}`",
                    shown(&e.name.value),
                    shown(&c.name.value),
                    shown(id)
                ),
            )
            .label(how(c))
            .with_secondary(id_span(e), how(e))
            .help(help(c, id)),
        );
    }
}

fn help(c: &Cluster, id: &str) -> String {
    let base = "give each cluster its own `cluster-id`: the id its istiod was installed with (`values.global.multiCluster.clusterName`)";
    if c.name.value == id {
        base.to_owned()
    } else {
        format!("{base}, e.g. `cluster-id {}`", shown(&c.name.value))
    }
}
