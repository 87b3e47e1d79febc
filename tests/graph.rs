//! `meshc graph` draws the graph `check` built: snapshots of both formats
//! for the multi-network example, and the facts only the graph carries.

use std::path::PathBuf;

use meshc::source::Source;
use meshc::syntax::{Limits, Syntax};

fn analysis(name: &str, text: &str) -> meshc::check::Analysis {
    let source = Source::new(name, text);
    let (topology, _) = meshc::front_end(&source, Syntax::Kdl, Limits::default());
    meshc::check::analyze(topology.expect("parses"))
}

fn example(name: &str) -> meshc::check::Analysis {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("examples/{name}/topology.kdl"));
    analysis(name, &std::fs::read_to_string(path).expect("example"))
}

#[test]
fn multicluster_dot_and_mermaid() {
    let a = example("multicluster");
    insta::with_settings!({
        snapshot_path => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("snapshots/graph"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!("multicluster.dot", meshc::emit::graph::dot(&a));
        insta::assert_snapshot!("multicluster.mermaid", meshc::emit::graph::mermaid(&a));
    });
}

#[test]
fn graph_facts_are_drawn() {
    let a = analysis(
        "t.kdl",
        r#"mesh m { istio "1.24" }
network vpc { cidr "10.0.0.0/16" }
cluster prod { network vpc; control-plane #true; east-west-gateway "10.0.0.100" }
vm box { address "10.0.1.5"; network vpc; dns hosts }
namespace plain { injection #false }
service api namespace=plain { port http 80; deploy v1 cluster=prod; entry-point #true }
service db { port tcp 5432; deploy v1 vm=box; entry-point #true }
"#,
    );
    let dot = meshc::emit::graph::dot(&a);
    assert!(dot.contains("east-west gateway 10.0.0.100"), "{dot}");
    assert!(dot.contains("api v1 (no sidecar)"), "{dot}");
    assert!(dot.contains("db v1\""), "{dot}");
    assert!(dot.contains("dns: hosts file only"), "{dot}");
    assert!(dot.contains("cluster prod · dns: kube-dns"), "{dot}");
}
