//! `meshc fmt`: canonical formatting of a KDL topology that keeps its
//! comments.
//!
//! The `kdl` crate's document model remembers comments and can reformat a
//! document around them; meshc uses its default style (four-space indent,
//! quotes only where KDL needs them). Formatting is idempotent: formatting
//! formatted text changes nothing.

use crate::diagnostic::Diagnostic;
use crate::source::Source;

/// The formatted text, or the parse problems that prevent formatting.
pub fn format_kdl(source: &Source) -> Result<String, Vec<Diagnostic>> {
    // Parse through the normal front end first, so the user gets meshc's
    // diagnostics (unquoted addresses, nesting limits) rather than raw ones.
    let (doc, diags) = super::parse(source, super::Syntax::Kdl, super::Limits::default());
    if doc.is_none() || diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    let text = source.text.strip_prefix('\u{feff}').unwrap_or(&source.text);
    let mut doc: kdl::KdlDocument = match text.parse() {
        Ok(doc) => doc,
        Err(_) => return Err(diags),
    };
    keep_line_comments(&mut doc);
    doc.autoformat();
    drop_doubled_newlines(&mut doc);
    // One blank line between top-level declarations keeps a topology
    // readable; autoformat would pack them together.
    for node in doc.nodes_mut().iter_mut().skip(1) {
        if let Some(fmt) = node.format_mut() {
            fmt.leading = format!("\n{}", fmt.leading.trim_start_matches('\n'));
        }
    }
    let mut out = doc.to_string();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    // The kdl crate writes some escaped characters back raw (`"\u{0}"` as a
    // NUL), and raw they are not KDL: never hand back text that would not
    // parse again (found by the `fmt` fuzz target).
    let again = Source::new(source.name.clone(), out.clone());
    let (reparsed, problems) = super::parse(&again, super::Syntax::Kdl, super::Limits::default());
    if reparsed.is_none() || problems.iter().any(Diagnostic::is_error) {
        let whole = crate::source::Span { start: 0, end: 0 };
        return Err(vec![
            Diagnostic::new(
                &crate::diagnostic::codes::KDL_SYNTAX,
                whole,
                "meshc fmt cannot write this file back as valid KDL; it is left unchanged",
            )
            .help("a string holds an escaped character (such as `\\u{0}`) that formatting would write raw: remove it"),
        ]);
    }
    Ok(out)
}

/// `kdl`'s autoformat replaces a node's terminator with a newline, and a
/// line comment at the end of a node (`istio "1.24" // why`) lives in that
/// terminator, so it would be lost. Move it before the terminator, where
/// autoformat keeps comments.
fn keep_line_comments(doc: &mut kdl::KdlDocument) {
    for node in doc.nodes_mut() {
        if let Some(fmt) = node.format_mut()
            && let Some(at) = fmt.terminator.find("//")
        {
            let comment = fmt.terminator[at..].trim_end().to_owned();
            fmt.before_terminator = format!("{} {comment}", fmt.before_terminator.trim_end());
            fmt.terminator = "\n".into();
        }
        if let Some(children) = node.children_mut() {
            keep_line_comments(children);
        }
    }
}

/// After autoformat a kept line comment ends with its own newline, followed
/// by the terminator's: fold the two into one.
fn drop_doubled_newlines(doc: &mut kdl::KdlDocument) {
    for node in doc.nodes_mut() {
        if let Some(fmt) = node.format_mut()
            && fmt.terminator == "\n"
            && fmt.before_terminator.ends_with('\n')
        {
            fmt.before_terminator = fmt.before_terminator.trim_end().to_owned();
        }
        if let Some(children) = node.children_mut() {
            drop_doubled_newlines(children);
        }
    }
}
