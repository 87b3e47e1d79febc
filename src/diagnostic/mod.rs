//! Diagnostics: every problem meshc finds is a value with a stable code, a
//! severity, a message, labelled spans and help.
//!
//! Stages never print. They return `Vec<Diagnostic>`; `check_source` sorts
//! them by position (`sort`) and the CLI hands them to one renderer
//! (`render`). Each code is declared once, next to the code that raises it
//! (`declare_code!`, its documentation the doc comment; the front end's in
//! `codes`), and `check::catalogue` gathers them, so `meshc explain` and the
//! renderers cannot drift.

pub mod codes;
pub mod render;
pub mod stale;
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
            message: bounded(message.into()),
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
            first.message = bounded(message.into());
        }
        self
    }

    /// Adds a secondary label, e.g. where the other half of a duplicate is.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: bounded(message.into()),
            primary: false,
        });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(bounded(help.into()));
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

/// The most bytes a message, label or help text keeps. Messages quote
/// values from the input, and a rule may quote a part of a value in full:
/// whatever they quote, a diagnostic stays small, and so does a report of
/// any number of them, in memory and on the terminal.
pub const MAX_TEXT: usize = 1024;

/// `text`, cut to at most [`MAX_TEXT`] bytes (at a character boundary,
/// ending in `…`) and holding no more memory than that.
fn bounded(mut text: String) -> String {
    if text.len() <= MAX_TEXT {
        return text;
    }
    let mut cut = MAX_TEXT - '…'.len_utf8();
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push('…');
    text.shrink_to_fit();
    text
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
mod bounded_tests {
    use super::*;

    #[test]
    fn every_text_of_a_diagnostic_is_bounded() {
        let huge = format!("`{}é`", "a".repeat(MAX_TEXT * 50));
        let d = Diagnostic::new(&codes::UNREADABLE_INPUT, Span::new(0, 1), huge.clone())
            .label(huge.clone())
            .with_secondary(Span::new(0, 1), huge.clone())
            .help(huge.clone());
        let texts = [&d.message, &d.labels[0].message, &d.labels[1].message];
        for text in texts.into_iter().chain(d.help.as_ref()) {
            assert!(text.len() <= MAX_TEXT && text.ends_with('…'), "{}", text.len());
            assert!(text.capacity() <= MAX_TEXT);
        }
        let short = Diagnostic::new(
            &codes::UNREADABLE_INPUT,
            Span::new(0, 1),
            "é".repeat(MAX_TEXT / 2),
        );
        assert_eq!(short.message, "é".repeat(MAX_TEXT / 2));
    }
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
