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

pub mod format;
pub mod kdl_v2;
mod toml;

use std::borrow::Cow;

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
///
/// Names, keys and string values borrow from the parsed text (`'src`)
/// wherever it holds them verbatim; only a string that needed unescaping
/// or dedenting is owned. A 10k-service topology has about half a million
/// such strings, and not allocating them is a large part of parsing's
/// speed. [`Document::into_owned`] detaches a document from its text.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Document<'src> {
    pub nodes: Vec<Node<'src>>,
}

/// A name with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident<'src> {
    pub text: Cow<'src, str>,
    pub span: Span,
}

/// One node: `name arg arg key=value { children }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Node<'src> {
    pub name: Ident<'src>,
    pub entries: Vec<Entry<'src>>,
    pub children: Vec<Node<'src>>,
    /// The whole node, children included.
    pub span: Span,
}

/// A positional argument (`key` is `None`) or a property.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry<'src> {
    pub key: Option<Ident<'src>>,
    pub value: Value<'src>,
    /// The span of the value alone.
    pub span: Span,
}

/// A scalar value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'src> {
    String(Cow<'src, str>),
    Integer(i128),
    Float(f64),
    Bool(bool),
    Null,
}

impl Document<'_> {
    /// The same document, owning all of its strings.
    pub fn into_owned(self) -> Document<'static> {
        Document {
            nodes: self.nodes.into_iter().map(Node::into_owned).collect(),
        }
    }
}

impl Ident<'_> {
    pub fn into_owned(self) -> Ident<'static> {
        Ident {
            text: Cow::Owned(self.text.into_owned()),
            span: self.span,
        }
    }
}

impl Node<'_> {
    pub fn into_owned(self) -> Node<'static> {
        Node {
            name: self.name.into_owned(),
            entries: self.entries.into_iter().map(Entry::into_owned).collect(),
            children: self.children.into_iter().map(Node::into_owned).collect(),
            span: self.span,
        }
    }
}

impl Entry<'_> {
    pub fn into_owned(self) -> Entry<'static> {
        Entry {
            key: self.key.map(Ident::into_owned),
            value: self.value.into_owned(),
            span: self.span,
        }
    }
}

impl Value<'_> {
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::String(s) => Value::String(Cow::Owned(s.into_owned())),
            Value::Integer(i) => Value::Integer(i),
            Value::Float(f) => Value::Float(f),
            Value::Bool(b) => Value::Bool(b),
            Value::Null => Value::Null,
        }
    }
}

impl Value<'_> {
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

impl<'src> Node<'src> {
    pub fn args(&self) -> impl Iterator<Item = &Entry<'src>> {
        self.entries.iter().filter(|e| e.key.is_none())
    }

    pub fn props(&self) -> impl Iterator<Item = &Entry<'src>> {
        self.entries.iter().filter(|e| e.key.is_some())
    }
}

/// Parses `source` in the given syntax. Problems come back as diagnostics.
/// A document comes back whenever the text could be understood, even with
/// recoverable problems (an unquoted address), so that later stages can
/// report their findings in the same run.
pub fn parse(source: &Source, syntax: Syntax, limits: Limits) -> (Option<Document<'_>>, Vec<Diagnostic>) {
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
    match text.strip_prefix('\u{feff}') {
        // A byte-order mark is blanked out rather than removed, so that
        // every offset the parsers report is still an offset into the
        // original text. The blanked copy does not outlive this call, so
        // that (rare) document owns its strings.
        Some(rest) => {
            let blanked = format!("   {rest}");
            let (doc, diagnostics) = parse_text(&blanked, syntax, limits);
            (doc.map(Document::into_owned), diagnostics)
        }
        None => parse_text(text, syntax, limits),
    }
}

/// [`parse`] without the tree: each top-level node goes to `top` as soon
/// as it is parsed (KDL; TOML's come once the whole file is read), so that
/// lowering can take it and let it go before the next is built. A 10k
/// mesh's tree was 20 MB, held whole beside the model lowered from it.
/// Returns whether a document would have come back: only then was `top`
/// handed all of it (and nothing is handed over after a problem that
/// leaves no document, so a broken file costs no lowering past it).
pub fn parse_each(
    source: &Source,
    syntax: Syntax,
    limits: Limits,
    top: &mut dyn FnMut(Node<'_>),
) -> (bool, Vec<Diagnostic>) {
    let text = source.text.as_str();
    if text.contains('\0') || text.starts_with('\u{feff}') || syntax == Syntax::Toml {
        // The rare and the whole-file cases, as `parse` does them.
        let (doc, diagnostics) = parse(source, syntax, limits);
        let whole = doc.is_some();
        doc.into_iter().flat_map(|d| d.nodes).for_each(top);
        return (whole, diagnostics);
    }
    let (whole, errors) = kdl_v2::parse_each(text, limits, top);
    (whole, kdl_diagnostics(errors))
}

fn parse_text(text: &str, syntax: Syntax, limits: Limits) -> (Option<Document<'_>>, Vec<Diagnostic>) {
    match syntax {
        Syntax::Kdl => parse_kdl(text, limits),
        Syntax::Toml => toml::parse(text, limits),
    }
}

/// Counts nodes and rejects documents over the node limit.
fn check_node_count(doc: &Document<'_>, limits: Limits) -> Result<(), Vec<Diagnostic>> {
    fn count(nodes: &[Node<'_>]) -> usize {
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

/// The KDL front end: the hand-written parser in `kdl_v2`, whose errors are
/// turned into diagnostics here.
fn parse_kdl(text: &str, limits: Limits) -> (Option<Document<'_>>, Vec<Diagnostic>) {
    let (doc, errors) = kdl_v2::parse_recovering(text, limits);
    (doc, kdl_diagnostics(errors))
}

/// The KDL parser's errors as diagnostics.
fn kdl_diagnostics(errors: Vec<kdl_v2::ParseError>) -> Vec<Diagnostic> {
    errors
        .into_iter()
        .map(|e| {
            let code = match e.kind {
                kdl_v2::ErrorKind::Syntax => &codes::KDL_SYNTAX,
                kdl_v2::ErrorKind::UnquotedAddress => &codes::UNQUOTED_ADDRESS,
                kdl_v2::ErrorKind::Limit => &codes::INPUT_LIMIT,
            };
            let mut d = Diagnostic::new(code, e.span, e.message).label(e.label);
            d.help = e.help;
            d
        })
        .collect()
}
