//! meshc: a declarative mesh-topology compiler.
//!
//! One topology file in, every Istio mesh-expansion artifact out. The
//! pipeline, one stage per module:
//!
//! ```text
//! text ─syntax─▶ Document ─lower─▶ Topology ─check─▶ Checked ─emit─▶ Vec<Artifact> ─write─▶ DIR
//! ```
//!
//! The functions here run the pure part of it (everything but `write`); the
//! CLI, the tests and the benchmarks call them.

pub mod artifact;
pub mod check;
pub mod cli;
pub mod diagnostic;
pub mod emit;
pub mod import;
pub mod iptables;
pub mod lower;
pub mod model;
pub mod plan;
pub mod schema;
pub mod source;
pub mod syntax;
pub mod synth;
pub mod why;
pub mod write;

use check::Checked;
use diagnostic::Diagnostic;
use model::Topology;
use source::Source;
use syntax::{Limits, Syntax};

/// Text → model. The topology comes back whenever the text parsed, even
/// with shape problems, so that `check` can report its findings as well.
///
/// Each top-level node is lowered as soon as it is parsed and then freed,
/// so the syntax tree is never held whole (at 10k services it was 20 MB
/// beside the model's 24 MB, all of it memory touched for the first time).
/// The result is what `lower::lower` makes of `syntax::parse`'s document:
/// the same topology, and the parser's diagnostics followed by lowering's.
pub fn front_end(source: &Source, syntax: Syntax, limits: Limits) -> (Option<Topology>, Vec<Diagnostic>) {
    let mut lowering = lower::Lowering::new();
    let (whole, mut diags) = syntax::parse_each(source, syntax, limits, &mut |node| lowering.node(&node));
    if !whole {
        // Parsing stopped: what was lowered of a part of the file means nothing.
        return (None, diags);
    }
    let (topology, lower_diags) = lowering.finish();
    diags.extend(lower_diags);
    (Some(topology), diags)
}

/// Text → `Checked`: parse, lower and check, collecting every finding in
/// source order. `Checked` comes back only when there is no error at all.
pub fn check_source(source: &Source, syntax: Syntax, limits: Limits) -> (Option<Checked>, Vec<Diagnostic>) {
    let (topology, mut diags) = front_end(source, syntax, limits);
    let mut checked = None;
    let mut allows = Vec::new();
    if let Some(mut topology) = topology {
        allows = std::mem::take(&mut topology.allows);
        let (c, check_diags) = check::check(topology);
        diags.extend(check_diags);
        checked = c;
    }
    diagnostic::sort(&mut diags);
    check::allow::apply(&allows, &mut diags);
    if diags.iter().any(Diagnostic::is_error) {
        checked = None;
    }
    (checked, diags)
}

/// Text → artifacts: the whole pure pipeline. `source_name` is what the
/// generated files' headers name (the topology's base name, so that output
/// does not depend on the directory meshc runs in). Artifacts come back only
/// when the topology checks clean; the diagnostics (warnings included) come
/// back either way.
pub fn compile(
    source: &Source,
    syntax: Syntax,
    limits: Limits,
    source_name: &str,
) -> (Option<Vec<artifact::Artifact>>, Vec<Diagnostic>) {
    let (checked, diags) = check_source(source, syntax, limits);
    (checked.map(|c| emit::all(&c, source_name)), diags)
}
