//! The language table against lowering. Lowering reads settings by name
//! (`r.bool("capture-all-dns")`); in a debug build the reader fails at once
//! on a name, type or arity that `lower/language.rs` does not define, and
//! records what it read. Lowering every fixture and example here proves
//! that no getter asks for something the table lacks, and that every
//! setting and block the table defines is read somewhere, so a misspelt
//! getter cannot hide in a branch no file takes.

use std::path::{Path, PathBuf};

use meshc::lower::language::{Shape, TOP};
use meshc::source::{Source, Span, Spanned};
use meshc::syntax::{Limits, Syntax};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every topology of the fixtures and examples (hostile inputs aside:
/// they test limits, not the language).
fn corpus() -> Vec<PathBuf> {
    let mut files = crate::fixtures::topology_files(&root().join("tests/ok"));
    let fail = root().join("tests/fail");
    files.extend(
        crate::fixtures::topology_files(&fail)
            .into_iter()
            .filter(|p| !p.starts_with(fail.join("hostile"))),
    );
    files.extend(crate::fixtures::topology_files(&root().join("examples")));
    files
}

fn lower(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let source = Source::new(path.display().to_string(), text);
    let _ = meshc::front_end(&source, Syntax::from_path(&source.name), Limits::default());
}

/// The settings and blocks of `shape` (and of the shapes below it) that
/// nothing lowered on this thread has read.
#[cfg(debug_assertions)]
fn unread(shape: &'static Shape, path: &str, seen: &mut Vec<&'static str>, out: &mut Vec<String>) {
    use meshc::lower::coverage::was_read;
    if seen.contains(&shape.what) {
        return;
    }
    seen.push(shape.what);
    for (i, s) in shape.settings.iter().enumerate() {
        if !was_read(shape, i) {
            out.push(format!("{path} {}", s.name));
        }
    }
    for (j, b) in shape.blocks.iter().enumerate() {
        if !was_read(shape, shape.settings.len() + j) {
            out.push(format!("{path} {} {{ … }}", b.name));
        }
        unread(b.shape, &format!("{path} > {}", b.name), seen, out);
    }
}

#[test]
#[cfg(debug_assertions)]
fn lowering_reads_exactly_what_the_language_table_defines() {
    let files = corpus();
    assert!(files.len() > 100, "only {} topologies found", files.len());
    for f in &files {
        // A getter the table does not back panics here, naming it.
        lower(f);
    }
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for b in TOP {
        unread(b.shape, b.name, &mut seen, &mut out);
    }
    assert!(
        out.is_empty(),
        "settings of lower/language.rs that lowering never read over {} topologies \
         (a misspelt getter in lower/mod.rs, or a setting nothing reads): {out:?}",
        files.len()
    );
}

/// The defaults the table documents are the ones the model applies: a
/// topology that writes no optional setting lowers to a model whose
/// accessors give exactly the table's `default`s.
#[test]
fn table_defaults_are_the_models() {
    use meshc::lower::language::Choice;
    let text = "mesh m { istio \"1.24\" }\n\
                network vpc { cidr \"10.0.0.0/16\" }\n\
                cluster c { network vpc; control-plane #true }\n\
                vm v { address \"10.0.1.5\"; network vpc }\n\
                service s { port http 80; deploy v1 vm=v }\n";
    let source = Source::new("t.kdl", text);
    let (topo, diags) = meshc::front_end(&source, Syntax::Kdl, Limits::default());
    let topo = topo.unwrap();
    assert!(diags.is_empty(), "{diags:?}");
    let (mesh, cluster, vm, service) = (&topo.mesh, &topo.clusters[0], &topo.vms[0], &topo.services[0]);
    // An ingress as lowering makes it from `ingress gw`.
    let ingress = meshc::model::Ingress {
        name: Spanned::new("gw".to_owned(), Span::file_start()),
        kind: None,
        namespace: None,
        span: Span::file_start(),
    };
    let kdl = |b: bool| if b { "#true" } else { "#false" }.to_owned();
    let mut checked = 0;
    let mut seen = Vec::new();
    let mut stack: Vec<&'static Shape> = TOP.iter().map(|b| b.shape).collect();
    while let Some(shape) = stack.pop() {
        if seen.contains(&shape.what) {
            continue;
        }
        seen.push(shape.what);
        stack.extend(shape.blocks.iter().map(|b| b.shape));
        for s in shape.settings {
            let Some(default) = s.default else { continue };
            let model = match (shape.what, s.name) {
                ("mesh", "trust-domain") => mesh.trust_domain().to_owned(),
                ("mesh", "control-plane-namespace") => mesh.control_plane_namespace().to_owned(),
                ("mesh", "data-plane-mtls") => kdl(mesh.data_plane_mtls()),
                ("ingress", "kind") => ingress.kind().word().to_owned(),
                ("cluster", "cluster-domain") => cluster.cluster_domain().to_owned(),
                ("vm", "proxy-uid") => vm.proxy_uid().to_string(),
                ("vm", "interception") => vm.interception().word().to_owned(),
                ("vm", "dns") => vm.dns().word().to_owned(),
                ("service", "namespace") => service.namespace.value.clone(),
                ("service", "registration") => service.registration().word().to_owned(),
                (what, name) => panic!("`{what} {name}` has a default: compare it with its accessor here"),
            };
            assert_eq!(model, default, "`{} {}`", shape.what, s.name);
            checked += 1;
        }
    }
    assert_eq!(checked, 10, "defaults compared");
}
