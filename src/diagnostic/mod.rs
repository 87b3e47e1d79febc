//! Diagnostics: every problem meshc finds is a value with a stable code, a
//! severity, a message, labelled spans and help.
//!
//! Stages never print. They return `Vec<Diagnostic>`; the CLI sorts them by
//! position and hands them to one renderer (`render`). The catalogue of codes
//! (`codes`) is the single place where a code's summary and long
//! documentation live, so `meshc explain` and the renderers cannot drift.

pub mod codes;
pub mod render;
pub mod toml_help;

use crate::source::Span;
pub use codes::{Code, Severity};

/// One labelled span: the primary label says where, secondary ones say why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
}

/// A problem found in a topology.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: &'static Code,
    pub message: String,
    pub labels: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with one primary label.
    pub fn new(code: &'static Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            message: message.into(),
            labels: vec![Label {
                span,
                message: String::new(),
                primary: true,
            }],
            help: None,
        }
    }

    /// Text of the primary label (shown under the span).
    pub fn label(mut self, message: impl Into<String>) -> Self {
        if let Some(first) = self.labels.first_mut() {
            first.message = message.into();
        }
        self
    }

    /// Adds a secondary label, e.g. where the other half of a duplicate is.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: false,
        });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn severity(&self) -> Severity {
        self.code.severity
    }

    /// The span of the primary label (the first one).
    pub fn span(&self) -> Span {
        self.labels.first().map_or(Span::file_start(), |l| l.span)
    }

    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }
}

/// Sorts diagnostics by position, then code, then message, and drops exact
/// duplicates: the order users see never depends on the order checks ran.
pub fn sort(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.sort_by(|a, b| (a.span(), a.code.code, &a.message).cmp(&(b.span(), b.code.code, &b.message)));
    diagnostics.dedup();
}

/// "Did you mean" for a misspelt name: the closest candidate within a small
/// edit distance, if any.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = ["network", "pod-cidr", "service-cidr"];
        assert_eq!(suggest("netwrok", names), Some("network"));
        assert_eq!(suggest("pod-cdr", names), Some("pod-cidr"));
        assert_eq!(suggest("zzz", names), None);
    }
}
