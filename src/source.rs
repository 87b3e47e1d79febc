//! Source text and byte spans.
//!
//! Every declaration and reference in the model keeps the byte range it came
//! from, so that a diagnostic found at any stage can point at the source.
//! Spans are byte offsets into the original text (before any BOM or CRLF
//! handling, which the syntax layer does without moving offsets).

use serde::Serialize;

/// A half-open byte range `[start, end)` in one source file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub const fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The empty span at the start of the file, for problems that belong to
    /// the file as a whole (an empty topology, say).
    pub const fn file_start() -> Self {
        Span { start: 0, end: 0 }
    }

    pub fn len(self) -> usize {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The smallest span that covers both.
    pub fn join(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A value together with the span it was written at.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub const fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// One input file: its display name and its text.
#[derive(Clone, Debug)]
pub struct Source {
    pub name: String,
    pub text: String,
    /// Built on the first [`Source::line_col`]: most sources are never
    /// asked (`meshc import` reads 47k files of a 10k mesh and reports on
    /// a few thousand), and the index costs a scan and 9 bytes a line.
    lines: std::sync::OnceLock<Lines>,
}

#[derive(Clone, Debug)]
struct Lines {
    starts: Vec<usize>,
    /// Per line: whether it is all ASCII, so that a column is a byte
    /// difference. Without it, thousands of diagnostics on one long line
    /// would each count characters from the line's start.
    ascii: Vec<bool>,
}

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Source {
            name: name.into(),
            text: text.into(),
            lines: std::sync::OnceLock::new(),
        }
    }

    fn lines(&self) -> &Lines {
        self.lines.get_or_init(|| {
            let text = &self.text;
            let starts: Vec<usize> = std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect();
            let ascii = starts
                .iter()
                .enumerate()
                .map(|(i, &start)| {
                    let end = starts.get(i + 1).copied().unwrap_or(text.len());
                    text.as_bytes()[start..end].is_ascii()
                })
                .collect();
            Lines { starts, ascii }
        })
    }

    /// Line and column of a byte offset; offsets past the end or inside a
    /// UTF-8 sequence are clamped rather than trusted.
    pub fn line_col(&self, offset: usize) -> LineCol {
        let offset = offset.min(self.text.len());
        let lines = self.lines();
        let line = lines.starts.partition_point(|&s| s <= offset).max(1);
        let start = lines.starts[line - 1];
        let column = if lines.ascii[line - 1] {
            offset - start
        } else {
            self.text
                .get(start..offset)
                .map_or(offset - start, |s| s.chars().count())
        } + 1;
        LineCol { line, column }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let s = Source::new("t", "ab\nçd\n");
        assert_eq!(s.line_col(0), LineCol { line: 1, column: 1 });
        assert_eq!(s.line_col(3), LineCol { line: 2, column: 1 });
        assert_eq!(s.line_col(5), LineCol { line: 2, column: 2 });
        assert_eq!(s.line_col(99), LineCol { line: 3, column: 1 });
    }
}
