//! Text → syntax tree.
//!
//! This is the only layer that knows KDL or TOML. Both front ends produce the
//! same narrow tree: nodes with a name, positional arguments, properties and
//! children, every piece with its byte span. Lowering (`lower`) works on this
//! tree only, so a faster parser can replace either front end without
//! touching anything downstream.
//!
//! The tree knows nothing of meshc's schema either: it does not know which
//! nodes exist or which settings they take.

pub mod fast;
pub mod format;
mod toml;

use crate::diagnostic::{Diagnostic, codes};
use crate::source::{Source, Span};

/// Which surface syntax a topology is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    Kdl,
    Toml,
}

impl Syntax {
    /// Chosen by file extension: `.toml` is TOML, anything else is KDL.
    pub fn from_path(path: &str) -> Syntax {
        if path.ends_with(".toml") {
            Syntax::Toml
        } else {
            Syntax::Kdl
        }
    }
}

/// Limits that keep a hostile file from exhausting stack or memory.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_depth: usize,
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 64,
            max_nodes: 2_000_000,
        }
    }
}

/// A parsed document: the top-level nodes in source order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Document {
    pub nodes: Vec<Node>,
}

/// A name with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub text: String,
    pub span: Span,
}

/// One node: `name arg arg key=value { children }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub name: Ident,
    pub entries: Vec<Entry>,
    pub children: Vec<Node>,
    /// The whole node, children included.
    pub span: Span,
}

/// A positional argument (`key` is `None`) or a property.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: Option<Ident>,
    pub value: Value,
    /// The span of the value alone.
    pub span: Span,
}

/// A scalar value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    String(String),
    Integer(i128),
    Float(f64),
    Bool(bool),
    Null,
}

impl Value {
    /// What the value is, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a decimal number",
            Value::Bool(_) => "a boolean",
            Value::Null => "null",
        }
    }
}

impl Node {
    pub fn args(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.key.is_none())
    }

    pub fn props(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.key.is_some())
    }
}

/// Parses `source` in the given syntax. Problems come back as diagnostics.
/// A document comes back whenever the text could be understood, even with
/// recoverable problems (an unquoted address), so that later stages can
/// report their findings in the same run.
pub fn parse(source: &Source, syntax: Syntax, limits: Limits) -> (Option<Document>, Vec<Diagnostic>) {
    let text = source.text.as_str();
    if let Some(at) = text.find('\0') {
        return (
            None,
            vec![
                Diagnostic::new(
                    &codes::UNREADABLE_INPUT,
                    Span::new(at, at + 1),
                    "the file contains a NUL byte",
                )
                .label("NUL byte here")
                .help("topologies are plain UTF-8 text; remove the NUL byte"),
            ],
        );
    }
    // A byte-order mark is blanked out rather than removed, so that every
    // offset the parsers report is still an offset into the original text.
    let blanked;
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => {
            blanked = format!("   {rest}");
            blanked.as_str()
        }
        None => text,
    };
    match syntax {
        Syntax::Kdl => parse_kdl(text, limits),
        Syntax::Toml => toml::parse(text, limits),
    }
}

/// Counts nodes and rejects documents over the node limit.
fn check_node_count(doc: &Document, limits: Limits) -> Result<(), Vec<Diagnostic>> {
    fn count(nodes: &[Node]) -> usize {
        nodes.iter().map(|n| 1 + count(&n.children)).sum()
    }
    let n = count(&doc.nodes);
    if n > limits.max_nodes {
        return Err(vec![
            Diagnostic::new(
                &codes::INPUT_LIMIT,
                Span::file_start(),
                format!(
                    "the document has {n} nodes, more than the limit of {}",
                    limits.max_nodes
                ),
            )
            .help("split the topology, or check that the file is really a topology"),
        ]);
    }
    Ok(())
}

/// The KDL front end: the hand-written parser in `fast`, whose errors are
/// turned into diagnostics here. (The `kdl` crate is kept for `meshc fmt`,
/// which needs its format-preserving document model.)
fn parse_kdl(text: &str, limits: Limits) -> (Option<Document>, Vec<Diagnostic>) {
    let (doc, errors) = fast::parse_recovering(text, limits);
    let diagnostics = errors
        .into_iter()
        .map(|e| {
            let code = match e.kind {
                fast::ErrorKind::Syntax => &codes::KDL_SYNTAX,
                fast::ErrorKind::UnquotedAddress => &codes::UNQUOTED_ADDRESS,
                fast::ErrorKind::Limit => &codes::INPUT_LIMIT,
            };
            let mut d = Diagnostic::new(code, e.span, e.message).label(e.label);
            d.help = e.help;
            d
        })
        .collect();
    (doc, diagnostics)
}
