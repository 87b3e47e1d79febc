//! Fixtures: every file under `tests/fail/` must fail with exactly the codes
//! its name and header promise, and its rendered diagnostics must match the
//! snapshot; every file under `tests/ok/` and every example must check clean.
//!
//! A failing fixture is named `CODE-what-it-breaks.kdl` (or `.toml`). Codes
//! that necessarily follow from the same mistake are listed on a first-line
//! comment: `// also: E604` (`# also: E604` in TOML).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use meshc::diagnostic::{Diagnostic, render};
use meshc::source::Source;
use meshc::syntax::{Limits, Syntax};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every topology file below `dir`, sorted, as paths relative to the root.
pub fn topology_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("kdl" | "toml")) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn check(path: &Path) -> (Source, Vec<Diagnostic>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rel = path.strip_prefix(root()).unwrap_or(path);
    let source = Source::new(rel.display().to_string(), text);
    let syntax = Syntax::from_path(&source.name);
    let (_, mut diags) = meshc::check_source(&source, syntax, Limits::default());
    // As the CLI shows them: help in the file's own syntax.
    if syntax == Syntax::Toml {
        meshc::diagnostic::toml_help::to_toml(&mut diags);
    }
    (source, diags)
}

/// The codes a failing fixture promises: its name's prefix and `also:`.
fn expected_codes(path: &Path, text: &str) -> BTreeSet<String> {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    let mut codes: BTreeSet<String> = stem.split('-').next().map(str::to_owned).into_iter().collect();
    if let Some(first) = text.lines().next() {
        let first = first.trim_start_matches(['/', '#', ' ']);
        if let Some(also) = first.strip_prefix("also:") {
            codes.extend(also.split_whitespace().map(str::to_owned));
        }
    }
    codes
}

#[test]
fn failing_fixtures_report_exactly_their_codes() {
    let dir = root().join("tests/fail");
    let files: Vec<PathBuf> = topology_files(&dir)
        .into_iter()
        .filter(|p| !p.starts_with(dir.join("hostile")))
        .collect();
    assert!(!files.is_empty(), "no fixtures under tests/fail");
    let mut failures = Vec::new();
    for path in &files {
        let (source, diags) = check(path);
        let got: BTreeSet<String> = diags.iter().map(|d| d.code.code.to_owned()).collect();
        let want = expected_codes(path, &source.text);
        if got != want {
            failures.push(format!("{}: expected {want:?}, got {got:?}", source.name));
        }
        let rendered = render::human(&diags, &source, false) + &render::summary(&diags, &source) + "\n";
        let name = path
            .strip_prefix(&dir)
            .unwrap_or(path)
            .to_string_lossy()
            .replace(['/', '.'], "__");
        insta::with_settings!({
            snapshot_path => root().join("snapshots/fail"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
            description => source.name.clone(),
        }, {
            insta::assert_snapshot!(name, rendered);
        });
    }
    assert!(
        failures.is_empty(),
        "fixtures with the wrong codes:\n{}",
        failures.join("\n")
    );
}

#[test]
fn ok_fixtures_and_examples_check_clean() {
    let mut files = topology_files(&root().join("tests/ok"));
    files.extend(topology_files(&root().join("examples")));
    assert!(!files.is_empty());
    for path in &files {
        let (source, diags) = check(path);
        assert!(
            diags.is_empty(),
            "{} should check clean:\n{}",
            source.name,
            render::human(&diags, &source, false)
        );
    }
}

/// KDL fixtures whose mistake cannot be written in TOML, and why. Every
/// other KDL fixture under `tests/fail/` and `tests/ok/` has a TOML twin
/// (same stem, `.toml`) that must give the same codes.
const KDL_ONLY: &[(&str, &str)] = &[
    (
        "tests/fail/E101-unclosed-brace.kdl",
        "a KDL syntax error; TOML's is E102",
    ),
    (
        "tests/fail/E103-unquoted-address.kdl",
        "KDL v2 bare words; a TOML value is typed by its own syntax",
    ),
    (
        "tests/fail/E205-network-given-twice.kdl",
        "TOML itself refuses a key given twice (E102)",
    ),
];

/// Writes the missing TOML twins (`MESHC_WRITE_TOML_TWINS=1`), translated
/// from the KDL by meshc's own snippet translator; a twin is then read and
/// committed like any fixture.
fn write_missing_twin(kdl: &Path, twin: &Path) {
    if std::env::var_os("MESHC_WRITE_TOML_TWINS").is_none() || twin.exists() {
        return;
    }
    let text = std::fs::read_to_string(kdl).unwrap_or_default();
    let Some(body) = meshc::diagnostic::toml_help::document(&text) else {
        eprintln!("{}: no TOML form", kdl.display());
        return;
    };
    let header = text
        .lines()
        .next()
        .and_then(|l| l.trim_start_matches(['/', ' ']).strip_prefix("also:"))
        .map(|also| format!("# also:{also}\n"))
        .unwrap_or_default();
    let _ = std::fs::write(twin, header + &body);
}

#[test]
fn every_fixture_has_a_toml_twin_with_the_same_codes() {
    let mut failures = Vec::new();
    let mut twins = 0;
    for dir in ["tests/fail", "tests/ok"] {
        let dir = root().join(dir);
        for kdl in topology_files(&dir)
            .into_iter()
            .filter(|p| !p.starts_with(dir.join("hostile")))
            .filter(|p| p.extension().is_some_and(|e| e == "kdl"))
        {
            let rel = kdl.strip_prefix(root()).unwrap_or(&kdl).display().to_string();
            let twin = kdl.with_extension("toml");
            let kdl_only = KDL_ONLY.iter().any(|(name, _)| rel == *name);
            write_missing_twin(&kdl, &twin);
            match (twin.exists(), kdl_only) {
                (true, true) => failures.push(format!("{rel} is listed as KDL-only but has a twin")),
                (false, true) => {}
                (false, false) => failures.push(format!("{rel} has no TOML twin")),
                (true, false) => {
                    twins += 1;
                    let codes = |p: &Path| -> BTreeSet<String> {
                        check(p).1.iter().map(|d| d.code.code.to_owned()).collect()
                    };
                    let (want, got) = (codes(&kdl), codes(&twin));
                    if want != got {
                        failures.push(format!("{rel}: KDL gives {want:?}, its TOML twin {got:?}"));
                    }
                }
            }
        }
    }
    for (name, _) in KDL_ONLY {
        if !root().join(name).is_file() {
            failures.push(format!("KDL_ONLY names {name}, which does not exist"));
        }
    }
    assert!(twins >= 50, "only {twins} twins");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A TOML file gets its help in TOML: no KDL flag, and the settings meshc
/// suggests are `key = value`.
#[test]
fn toml_files_get_help_in_toml() {
    let mut failures = Vec::new();
    for dir in ["tests/fail", "tests/ok"] {
        let dir = root().join(dir);
        for path in topology_files(&dir)
            .into_iter()
            .filter(|p| !p.starts_with(dir.join("hostile")))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        {
            let (source, diags) = check(&path);
            for d in &diags {
                let texts = std::iter::once(&d.message)
                    .chain(d.help.iter())
                    .chain(d.labels.iter().map(|l| &l.message));
                for t in texts {
                    let kdl_setting = ["`calls ", "`control-plane ", "`entry-point ", "`ssh "]
                        .iter()
                        .any(|p| t.contains(p) && !t.contains(&format!("{p}= ")));
                    if t.contains("#true") || t.contains("#false") || kdl_setting {
                        failures.push(format!("{}: {}: {t}", source.name, d.code.code));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "KDL syntax in TOML help:\n{}",
        failures.join("\n")
    );
}

/// `front_end` lowers each top-level node as it is parsed and frees it
/// (`syntax::parse_each`); it must give exactly what lowering the whole
/// tree gives (`syntax::parse`, then `lower::lower`), and nothing when
/// the tree would not come back, on every fixture and example and on the
/// edge cases of the hand-over: an unquoted address (recoverable, so the
/// nodes after it count) and a syntax error after nodes already lowered.
#[test]
fn front_end_streams_what_the_whole_tree_lowers() {
    let mut cases: Vec<Source> = ["tests/fail", "tests/ok", "examples"]
        .iter()
        .flat_map(|d| topology_files(&root().join(d)))
        // (A file that is not UTF-8 never reaches a parser.)
        .filter_map(|p| {
            Some(Source::new(
                p.display().to_string(),
                std::fs::read_to_string(&p).ok()?,
            ))
        })
        .collect();
    let head = "mesh m { istio \"1.24\" }\nnetwork vpc { cidr \"10.0.0.0/16\" }\n";
    for (name, tail) in [
        (
            "address-then-more.kdl",
            "vm db { address 10.0.1.5; network vpc }\nservice s { port http 80; bogus 1 }\n",
        ),
        (
            "late-syntax-error.kdl",
            "service s { port http 80 }\nservice t { port \"x\n",
        ),
        (
            "late-stray-brace.kdl",
            "service s { port http 80; deploy v1 vm=nowhere }\n}\n",
        ),
    ] {
        cases.push(Source::new(name, format!("{head}{tail}")));
    }
    let mut differ = Vec::new();
    for source in &cases {
        let syntax = Syntax::from_path(&source.name);
        let (topology, diags) = meshc::front_end(source, syntax, Limits::default());
        let (doc, mut expected_diags) = meshc::syntax::parse(source, syntax, Limits::default());
        let expected = doc.map(|doc| {
            let (topology, lower_diags) = meshc::lower::lower(&doc);
            expected_diags.extend(lower_diags);
            topology
        });
        if format!("{topology:?}\n{diags:?}") != format!("{expected:?}\n{expected_diags:?}") {
            differ.push(source.name.clone());
        }
    }
    assert!(
        differ.is_empty(),
        "streamed and whole-tree lowering differ: {differ:?}"
    );
    // Both sides above share the parser's hand-over, so say what an
    // unquoted address must leave: the nodes after it, lowered.
    let address = cases.iter().find(|s| s.name == "address-then-more.kdl").unwrap();
    let (topology, diags) = meshc::front_end(address, Syntax::Kdl, Limits::default());
    let topology = topology.expect("an unquoted address leaves a topology");
    assert_eq!((topology.vms.len(), topology.services.len()), (1, 1));
    let codes: Vec<&str> = diags.iter().map(|d| d.code.code).collect();
    assert_eq!(codes, ["E103", "E202"]);
}
