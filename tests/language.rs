//! The language table against lowering. Lowering reads settings by name
//! (`r.bool("capture-all-dns")`); in a debug build the reader fails at once
//! on a name, type or arity that `lower/language.rs` does not define, and
//! records what it read. Lowering every fixture and example here proves
//! that no getter asks for something the table lacks, and that every
//! setting and block the table defines is read somewhere, so a misspelt
//! getter cannot hide in a branch no file takes.

use std::path::{Path, PathBuf};

use meshc::lower::language::{Shape, TOP};
use meshc::source::Source;
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
