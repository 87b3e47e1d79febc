//! The bundled examples: each KDL topology and its TOML twin lower to the
//! same model.

use std::path::{Path, PathBuf};

use meshc::source::Source;
use meshc::syntax::{Limits, Syntax};

fn examples() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// The model's debug form with every byte offset blanked: spans differ
/// between the two syntaxes, nothing else may.
fn model_without_spans(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let source = Source::new(path.display().to_string(), text);
    let (topology, diags) = meshc::front_end(&source, Syntax::from_path(&source.name), Limits::default());
    assert!(diags.is_empty(), "{}: {diags:?}", path.display());
    let debug = format!("{:#?}", topology.expect("parsed"));
    let mut out = String::with_capacity(debug.len());
    for line in debug.lines() {
        let t = line.trim_start();
        if t.starts_with("start: ") || t.starts_with("end: ") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn every_example_has_both_syntaxes_and_they_agree() {
    let dirs = examples();
    assert!(dirs.len() >= 2, "expected the bundled examples");
    for dir in dirs {
        let kdl = dir.join("topology.kdl");
        let toml = dir.join("topology.toml");
        assert!(
            kdl.is_file() && toml.is_file(),
            "{} needs topology.kdl and topology.toml",
            dir.display()
        );
        let (a, b) = (model_without_spans(&kdl), model_without_spans(&toml));
        if a != b {
            let diff = similar::TextDiff::from_lines(&a, &b)
                .unified_diff()
                .header("kdl", "toml")
                .to_string();
            panic!("{}: the KDL and TOML forms differ:\n{diff}", dir.display());
        }
    }
}
