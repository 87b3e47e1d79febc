//! Repository invariants that would otherwise be "please remember"s.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files_under(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == ext) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

#[test]
fn every_module_opens_with_a_doc_comment() {
    let mut missing = Vec::new();
    for dir in ["src", "tests", "benches", "examples"] {
        for f in files_under(&root().join(dir), "rs") {
            let text = std::fs::read_to_string(&f).unwrap();
            if !text.trim_start().starts_with("//!") {
                missing.push(rel(&f));
            }
        }
    }
    assert!(missing.is_empty(), "files without a leading //! doc: {missing:?}");
}

#[test]
fn no_debugging_leftovers_or_ignored_tests() {
    // Built from pieces so this file does not trip its own check.
    let banned = [
        ["dbg", "!("].concat(),
        ["todo", "!("].concat(),
        ["unimplemented", "!("].concat(),
        ["#[", "ignore"].concat(),
    ];
    let mut found = Vec::new();
    for dir in ["src", "tests", "benches", "examples"] {
        for f in files_under(&root().join(dir), "rs") {
            let text = std::fs::read_to_string(&f).unwrap();
            for (i, line) in text.lines().enumerate() {
                for b in &banned {
                    if line.contains(b.as_str()) {
                        found.push(format!("{}:{}: {b}", rel(&f), i + 1));
                    }
                }
            }
        }
    }
    assert!(found.is_empty(), "leftovers: {found:?}");
}

#[test]
fn only_the_syntax_layer_imports_the_parsers() {
    let mut offenders = Vec::new();
    for f in files_under(&root().join("src"), "rs") {
        let r = rel(&f);
        if r.starts_with("src/syntax/") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let l = line.trim_start();
            if l.starts_with("use kdl")
                || l.starts_with("use toml")
                || l.contains(" kdl::")
                || l.contains(" toml::")
            {
                offenders.push(format!("{r}:{}", i + 1));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "kdl/toml used outside src/syntax: {offenders:?}"
    );
}

#[test]
fn the_model_depends_on_no_format_or_graph_crate() {
    for f in files_under(&root().join("src/model"), "rs") {
        let text = std::fs::read_to_string(&f).unwrap();
        for banned in ["kdl", "toml", "petgraph", "miette", "serde_saphyr", "serde_json"] {
            assert!(
                !text
                    .lines()
                    .any(|l| l.trim_start().starts_with("use ") && l.contains(banned)),
                "{} uses {banned}",
                rel(&f)
            );
        }
    }
}

#[test]
fn no_pending_or_orphan_snapshots() {
    let snaps = root().join("snapshots");
    let mut pending = files_under(&snaps, "new");
    pending.extend(files_under(&snaps, "pending-snap"));
    assert!(pending.is_empty(), "pending snapshots: {pending:?}");
    // Every diagnostic snapshot belongs to a fixture that still exists.
    let fail = root().join("tests/fail");
    let fixtures: Vec<String> = crate::fixtures::topology_files(&fail)
        .iter()
        .map(|p| {
            p.strip_prefix(&fail)
                .unwrap_or(p)
                .to_string_lossy()
                .replace(['/', '.'], "__")
        })
        .collect();
    for snap in files_under(&snaps.join("fail"), "snap") {
        let stem = snap.file_stem().unwrap().to_string_lossy().to_string();
        assert!(fixtures.contains(&stem), "orphan snapshot {}", rel(&snap));
    }
}

#[test]
fn every_diagnostic_code_has_a_failing_fixture() {
    let fail = root().join("tests/fail");
    let names: Vec<String> = crate::fixtures::topology_files(&fail)
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().to_string()))
        .collect();
    // E001 concerns the output directory, not a topology: no fixture can
    // raise it, and `tests/cli.rs` (build --check in every format) does.
    let not_about_a_topology = ["E001"];
    let missing: Vec<&str> = meshc::check::catalogue()
        .iter()
        .map(|c| c.code)
        .filter(|code| !not_about_a_topology.contains(code))
        .filter(|code| !names.iter().any(|n| n.starts_with(&format!("{code}-"))))
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a tests/fail fixture: {missing:?}"
    );
}
