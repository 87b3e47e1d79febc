//! A parse error: where, what, and how to fix it.

use crate::source::Span;

/// One problem found while parsing. The parser keeps going after most of
/// them, so a file usually yields every mistake in one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub kind: ErrorKind,
    pub span: Span,
    /// A sentence for the headline ("unclosed string").
    pub message: String,
    /// A few words for the label under the span ("not closed").
    pub label: &'static str,
    pub help: Option<String>,
}

/// Which diagnostic family an error belongs to, so that the caller can
/// give each its own code without matching on message text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text is not KDL v2.
    Syntax,
    /// A bare token that looks like an IP address, CIDR or dotted version
    /// (`10.0.0.1`): not KDL, but unambiguous, so the parser reads it as the
    /// string it was meant to be and keeps the tree.
    UnquotedAddress,
    /// The document is nested deeper, or has more nodes, than `Limits`
    /// allow. Parsing stops there.
    Limit,
}

impl ErrorKind {
    /// Whether the tree survives an error of this kind (and the nodes
    /// parsed are handed on as if it were not there).
    pub fn keeps_tree(self) -> bool {
        self == ErrorKind::UnquotedAddress
    }
}

/// Source text quoted in a message, cut short: a message names a token, it
/// does not reproduce a megabyte of it.
pub fn clip(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &text[..cut]).into(),
        None => text.into(),
    }
}

impl ParseError {
    pub fn new(span: Span, message: impl Into<String>, label: &'static str) -> ParseError {
        ParseError {
            kind: ErrorKind::Syntax,
            span,
            message: message.into(),
            label,
            help: None,
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> ParseError {
        self.help = Some(help.into());
        self
    }

    pub fn kind(mut self, kind: ErrorKind) -> ParseError {
        self.kind = kind;
        self
    }
}
