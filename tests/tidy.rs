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
        // `meshc import`'s fixtures are input directories (tests/import/);
        // E957 (an existing -o FILE) is the CLI's, tested in tests/import.rs;
        // the VM-file readers' codes by tests/vm_files.rs, line by line.
        .filter(|code| {
            !root().join("tests/import").read_dir().unwrap().any(|e| {
                e.unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{code}-"))
            })
        })
        .filter(|code| !["E957", "E990", "E991", "E992", "E993", "W990"].contains(code))
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a tests/fail fixture: {missing:?}"
    );
}

/// The lines of `text` that are production code: comments and doc
/// comments dropped, and nothing from the first `#[cfg(test)]` on (test
/// modules sit at the end of a file).
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .take_while(|(_, l)| l.trim_start() != "#[cfg(test)]")
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
}

/// Source files under `src/` that are not test-only modules.
fn production_sources() -> Vec<PathBuf> {
    files_under(&root().join("src"), "rs")
        .into_iter()
        .filter(|f| {
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            name != "tests.rs" && !name.ends_with("_tests.rs")
        })
        .collect()
}

#[test]
fn diagnostic_codes_and_rule_names_are_unique() {
    let catalogue = meshc::check::catalogue();
    let mut codes: Vec<&str> = catalogue.iter().map(|c| c.code).collect();
    let mut names: Vec<&str> = catalogue.iter().map(|c| c.name).collect();
    assert!(codes.len() > 50, "only {} codes", codes.len());
    for list in [&mut codes, &mut names] {
        list.sort_unstable();
        let twice: Vec<&str> = list.windows(2).filter(|w| w[0] == w[1]).map(|w| w[0]).collect();
        assert!(twice.is_empty(), "given to two diagnostics: {twice:?}");
    }
}

/// ARCHITECTURE.md: "Only `cli` and `write` touch the filesystem."
#[test]
fn only_cli_and_write_touch_the_filesystem() {
    let mut offenders = Vec::new();
    for f in production_sources() {
        let r = rel(&f);
        if r == "src/cli.rs"
            || r.starts_with("src/cli/")
            || r == "src/write.rs"
            || r.starts_with("src/write/")
        {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, line) in code_lines(&text) {
            let uses_fs = line.contains("std::fs")
                || line.contains(" fs::")
                || line.contains("(fs::")
                || (line.contains("use std::{") && line.contains("fs"))
                || line.contains("OpenOptions");
            if uses_fs {
                offenders.push(format!("{r}:{}", i + 1));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "the filesystem touched outside cli and write: {offenders:?}"
    );
}

/// ARCHITECTURE.md: `check` owns the petgraph view; everything
/// graph-shaped reads it from `Checked`.
#[test]
fn only_check_uses_petgraph() {
    let mut offenders = Vec::new();
    for f in production_sources() {
        let r = rel(&f);
        if r.starts_with("src/check/") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, line) in code_lines(&text) {
            if line.contains("petgraph") {
                offenders.push(format!("{r}:{}", i + 1));
            }
        }
    }
    assert!(offenders.is_empty(), "petgraph used outside check: {offenders:?}");
}

/// Known exceptions to `no_dead_code_allowances_or_path_includes`, in
/// modules other branches are rewriting; each must still be there (the
/// list only shrinks).
const PATH_INCLUDES_BEING_REMOVED: &[&str] = &[
    // The iptables builder's goldens test and the shared skip rule of
    // tests/support.rs: the iptables rewrite (issue 20 item 3) moves them.
    "src/iptables/builder.rs",
    "src/iptables/builder_tests.rs",
];

/// `#[allow(dead_code)]` hides code nothing uses, and `#[path]` includes
/// compile one file into several crates (where half of it is dead): share
/// code through the library instead.
#[test]
fn no_dead_code_allowances_or_path_includes() {
    // Built from pieces so this file does not trip its own check.
    let banned = [["allow(", "dead_code"].concat(), ["#[", "path"].concat()];
    let mut found = Vec::new();
    let mut excepted = Vec::new();
    for dir in ["src", "tests", "benches", "examples"] {
        for f in files_under(&root().join(dir), "rs") {
            let r = rel(&f);
            let text = std::fs::read_to_string(&f).unwrap();
            for (i, line) in text.lines().enumerate() {
                let l = line.trim_start();
                if l.starts_with("//") {
                    continue;
                }
                for b in &banned {
                    if l.contains(b.as_str()) {
                        if PATH_INCLUDES_BEING_REMOVED.contains(&r.as_str()) {
                            excepted.push(r.clone());
                        } else {
                            found.push(format!("{r}:{}: {b}", i + 1));
                        }
                    }
                }
            }
        }
    }
    assert!(found.is_empty(), "{found:?}");
    for known in PATH_INCLUDES_BEING_REMOVED {
        assert!(
            excepted.iter().any(|e| e == known),
            "{known} no longer needs its exception: remove it from PATH_INCLUDES_BEING_REMOVED"
        );
    }
}
