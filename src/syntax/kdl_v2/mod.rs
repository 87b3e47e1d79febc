//! A hand-written KDL v2 parser that builds meshc's syntax tree directly.
//!
//! It reads KDL 2.0 (checked against the official test suite and,
//! differentially, against the `kdl` crate in `tests/kdl_differential.rs`)
//! into the narrow tree lowering uses, with the same spans as that crate,
//! at tens of megabytes a second. `cst` builds, from text this parser has
//! accepted, the concrete syntax tree `meshc fmt` prints (comments and all).
//!
//! Guarantees, whatever the input:
//! - it never panics, and runs in time linear in the input;
//! - it recurses once per children block, and refuses to go deeper than
//!   `Limits::max_depth`; it stops at `Limits::max_nodes` nodes;
//! - a failed parse comes with at least one error, and usually with every
//!   error of the file: a bad token is reported and skipped, and parsing
//!   goes on.
//!
//! Where the `kdl` crate (6.7) departs from KDL 2.0 (its official tests, or
//! its grammar where the tests are silent), this parser follows KDL 2.0;
//! `KDL_CRATE_DEVIATIONS` in `tests/kdl_differential.rs` lists each case.
//! None of them matters to a topology.
//!
//! Module map: `parser` is the grammar (nodes, entries, blocks); `strings`
//! and `number` scan values; `trivia` skips spaces, newlines and comments;
//! `chars` holds the character classes; `cst` is the tree for `meshc fmt`.

pub(crate) mod chars;
pub(crate) mod cst;
mod error;
pub(crate) mod number;
mod parser;
mod strings;
mod trivia;

pub use error::{ErrorKind, ParseError};

use super::{Document, Limits, Node};

/// Parses a KDL v2 document. Any error, even one the parser could recover
/// from, makes this fail: see [`parse_recovering`] to keep the tree when
/// the only problems are unquoted addresses.
pub fn parse(text: &str, limits: Limits) -> Result<Document<'_>, Vec<ParseError>> {
    match parse_recovering(text, limits) {
        (Some(doc), errors) if errors.is_empty() => Ok(doc),
        (_, errors) => Err(errors),
    }
}

/// Parses a KDL v2 document, and returns the tree whenever every error is
/// an [`ErrorKind::UnquotedAddress`] (such a token is in the tree as the
/// string it was meant to be), so that later stages can report their
/// findings in the same run. Errors come sorted by position; there is at
/// least one whenever the tree is missing.
pub fn parse_recovering(text: &str, limits: Limits) -> (Option<Document<'_>>, Vec<ParseError>) {
    let mut nodes = Vec::new();
    let (whole, errors) = parse_each(text, limits, &mut |node| nodes.push(node));
    (whole.then_some(Document { nodes }), errors)
}

/// [`parse_recovering`] without the tree: each top-level node goes to `top`
/// as soon as it is parsed, so that a caller can use it and let it go
/// before the next one is built. `true` when the tree would have come
/// back, that is when `top` was handed the whole document; when `false`,
/// it may have been handed a part of it, which means nothing.
pub fn parse_each<'t>(
    text: &'t str,
    limits: Limits,
    top: &mut dyn FnMut(Node<'t>),
) -> (bool, Vec<ParseError>) {
    let mut parser = parser::Parser::new(text, limits);
    let parsed = parser.document_each(top);
    let mut errors = parser.errors;
    errors.sort_by_key(|e| (e.span.start, e.span.end));
    let recoverable = errors.iter().all(|e| e.kind.keeps_tree());
    match parsed {
        Some(()) if recoverable => (true, errors),
        _ => {
            if errors.is_empty() {
                // Unreachable by construction (parsing stops only after
                // recording why), but the contract is worth a fallback.
                errors.push(ParseError::new(
                    crate::source::Span::file_start(),
                    "invalid KDL",
                    "here",
                ));
            }
            (false, errors)
        }
    }
}

#[cfg(test)]
mod tests;
