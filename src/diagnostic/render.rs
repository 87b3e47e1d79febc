//! Renderers: diagnostics → text, in the format the user asked for.
//!
//! - `human`: miette's graphical report, with colour only when asked;
//! - `json`: one JSON array, one object per diagnostic, with 1-based line
//!   and column and byte offsets;
//! - `github`: GitHub Actions workflow commands (`::error file=…`);
//! - `sarif`: a SARIF 2.1.0 log with one rule per code.
//!
//! Renderers are pure: they return a `String` and the CLI prints it.

use std::fmt;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents, SourceCode,
    SourceSpan, SpanContents,
};
use serde::Serialize;
use serde_json::json;

use super::{Diagnostic, Severity};
use crate::source::Source;

/// A diagnostic paired with its file, as miette wants it. `source` is
/// `None` when the snippet would be unreadable (a very long line): the
/// message then carries the position instead.
struct Report<'a> {
    diag: &'a Diagnostic,
    source: Option<&'a dyn SourceCode>,
    /// The length of the text `source` reads.
    len: usize,
    position: Option<String>,
}

/// A file as miette reads it for snippets, at a cost that does not depend
/// on where in the file a snippet is.
///
/// miette's own `SourceCode` for a string counts lines from the start of
/// the text to every span it quotes: rendering a diagnostic near the end of
/// a 3 MB topology scanned 3 MB, and fifty of them most of a large
/// `check`'s time. This one hands miette only a window of a few lines
/// around the span and adds the line numbers of what lies before it, from
/// the file's line index. The window starts and ends at line breaks, with a
/// margin of lines beyond the context miette asks for, so miette's scan of
/// it finds exactly what its scan of the whole text would (a test holds the
/// two to the same bytes).
struct Snippets<'s> {
    name: &'s str,
    source: &'s Source,
    /// The text with hidden characters replaced ([`printable`]), byte for
    /// byte as long as the original.
    text: std::borrow::Cow<'s, str>,
    /// Offsets of carriage returns not followed by a line feed: miette
    /// counts those as line breaks too, the line index does not.
    lone_cr: Vec<usize>,
}

/// Lines of margin beyond the context lines miette asks for.
const MARGIN: usize = 2;

impl<'s> Snippets<'s> {
    fn new(source: &'s Source) -> Self {
        let bytes = source.text.as_bytes();
        let lone_cr = if source.text.contains('\r') {
            (0..bytes.len())
                .filter(|&i| bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
                .collect()
        } else {
            Vec::new()
        };
        Snippets {
            name: &source.name,
            source,
            text: printable(&source.text),
            lone_cr,
        }
    }

    /// Line breaks (as miette counts them) before `offset`, which is the
    /// start of a line.
    fn breaks_before(&self, offset: usize) -> usize {
        (self.source.line_col(offset).line - 1) + self.lone_cr.partition_point(|&o| o < offset)
    }
}

/// Whether the byte at `i` ends a line as miette sees it: `\n`, or a `\r`
/// not followed by `\n`.
fn ends_line(bytes: &[u8], i: usize) -> bool {
    match bytes[i] {
        b'\n' => true,
        b'\r' => bytes.get(i + 1) != Some(&b'\n'),
        _ => false,
    }
}

/// The start of the line `lines` lines before the one holding `offset`.
fn lines_back(bytes: &[u8], offset: usize, lines: usize) -> usize {
    let mut seen = 0;
    let mut i = offset.min(bytes.len());
    while i > 0 {
        if ends_line(bytes, i - 1) {
            seen += 1;
            if seen > lines {
                return i;
            }
        }
        i -= 1;
    }
    0
}

/// Just past the `lines`-th line break at or after `offset`.
fn lines_forward(bytes: &[u8], offset: usize, lines: usize) -> usize {
    let mut seen = 0;
    for i in offset.min(bytes.len())..bytes.len() {
        if ends_line(bytes, i) {
            seen += 1;
            if seen >= lines {
                return i + 1;
            }
        }
    }
    bytes.len()
}

impl fmt::Debug for Snippets<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl SourceCode for Snippets<'_> {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let bytes = self.text.as_bytes();
        let (offset, len) = (span.offset(), span.len());
        if offset + len > bytes.len() {
            return Err(MietteError::OutOfBounds);
        }
        let start = lines_back(bytes, offset, context_lines_before + MARGIN);
        let end = lines_forward(bytes, offset + len, context_lines_after + MARGIN + 1);
        let window = &bytes[start..end];
        let inner = window.read_span(
            &SourceSpan::new((offset - start).into(), len),
            context_lines_before,
            context_lines_after,
        )?;
        let before = self.breaks_before(start);
        let contents = MietteSpanContents::new_named(
            self.name.to_owned(),
            inner.data(),
            SourceSpan::new((inner.span().offset() + start).into(), inner.span().len()),
            inner.line() + before,
            inner.column(),
            inner.line_count() + before,
        )
        .with_language("kdl");
        Ok(Box::new(contents))
    }
}

/// Lines longer than this are not quoted in a snippet: a one-megabyte line
/// would be printed once per diagnostic on it or beside it.
const LONG_LINE: usize = 400;

/// Lines of context a snippet shows before and after its span's lines.
const CONTEXT_LINES: usize = 1;

/// Whether the snippet of `span` would quote a line over [`LONG_LINE`]:
/// its own lines, or the context lines around them.
fn quotes_long_line(bytes: &[u8], span: crate::source::Span) -> bool {
    let start = lines_back(bytes, span.start, CONTEXT_LINES);
    let end = lines_forward(bytes, span.end.max(span.start), CONTEXT_LINES + 1);
    span.len() > LONG_LINE
        || bytes
            .get(start..end)
            .is_none_or(|quoted| quoted.split(|&b| b == b'\n').any(|line| line.len() > LONG_LINE))
}

/// The text as shown in snippets: every control, bidi and invisible
/// formatting character replaced by `?` or U+FFFD of the same byte length,
/// so that byte offsets still line up and a hostile file cannot drive the
/// terminal (escape sequences) or reorder what the reader sees ("Trojan
/// Source" bidi overrides).
fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    // Plain ASCII text with no control character but line feed, tab and
    // carriage return hides nothing: shown as it is, not copied (`meshc
    // import` shows snippets of thousands of files).
    if text
        .bytes()
        .all(|b| matches!(b, b' '..=b'~' | b'\n' | b'\t' | b'\r'))
    {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let hidden = matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}')
            || (c.is_control() && c != '\n' && c != '\t' && c != '\r');
        if !hidden {
            out.push(c);
        } else if c.len_utf8() == 3 {
            out.push('\u{fffd}');
        } else {
            out.extend(std::iter::repeat_n('?', c.len_utf8()));
        }
    }
    std::borrow::Cow::Owned(out)
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&printable(&self.diag.message))?;
        if let Some(p) = &self.position {
            write!(f, " (at {p})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(format!(
            "{}({})",
            self.diag.code.code, self.diag.code.name
        )))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity() {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diag
            .help
            .as_ref()
            .map(|h| Box::new(printable(h)) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.source?;
        let len = self.len;
        Some(Box::new(self.diag.labels.iter().map(move |l| {
            let start = l.span.start.min(len);
            let end = l.span.end.clamp(start, len);
            let text = (!l.message.is_empty()).then(|| l.message.clone());
            if l.primary {
                LabeledSpan::new_primary_with_span(text, SourceSpan::new(start.into(), end - start))
            } else {
                LabeledSpan::new_with_span(text, SourceSpan::new(start.into(), end - start))
            }
        })))
    }
}

/// The graphical report, one diagnostic after another, then a summary line.
pub fn human(diags: &[Diagnostic], source: &Source, color: bool) -> String {
    // Built only when something is shown: a file's diagnostics past the
    // cap never reach this function.
    if diags.is_empty() {
        return String::new();
    }
    human_from(diags, source, color, &Snippets::new(source))
}

/// `human`, with snippets read from `code` (the text of `source`, made
/// printable).
fn human_from(diags: &[Diagnostic], source: &Source, color: bool, code: &dyn SourceCode) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_context_lines(CONTEXT_LINES);
    let mut out = String::new();
    for diag in diags {
        let span = diag.span();
        let bytes = source.text.as_bytes();
        let long = diag.labels.iter().any(|l| quotes_long_line(bytes, l.span));
        let report = if long {
            let at = source.line_col(span.start);
            Report {
                diag,
                source: None,
                len: 0,
                position: Some(format!("{}:{}:{}", source.name, at.line, at.column)),
            }
        } else {
            Report {
                diag,
                source: Some(code),
                len: source.text.len(),
                position: None,
            }
        };
        if handler.render_report(&mut out, &report).is_err() {
            out.push_str(&format!("{}: {}\n", diag.code.code, diag.message));
        }
        out.push('\n');
    }
    out
}

/// A one-line count, e.g. `topology.kdl: 2 errors, 1 warning`.
pub fn summary(diags: &[Diagnostic], source: &Source) -> String {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    if diags.is_empty() {
        format!("{}: ok", source.name)
    } else {
        format!(
            "{}: {}, {}",
            source.name,
            plural(errors, "error"),
            plural(warnings, "warning")
        )
    }
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    message: &'a str,
    primary: bool,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    start: usize,
    end: usize,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'static str,
    name: &'static str,
    severity: Severity,
    message: &'a str,
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    start: usize,
    end: usize,
    help: Option<&'a str>,
    labels: Vec<JsonLabel<'a>>,
}

fn json_items<'a>(diags: &'a [Diagnostic], source: &'a Source) -> Vec<JsonDiagnostic<'a>> {
    diags
        .iter()
        .map(|d| {
            let span = d.span();
            let (a, b) = (source.line_col(span.start), source.line_col(span.end));
            JsonDiagnostic {
                code: d.code.code,
                name: d.code.name,
                severity: d.severity(),
                message: &d.message,
                file: &source.name,
                line: a.line,
                column: a.column,
                end_line: b.line,
                end_column: b.column,
                start: span.start,
                end: span.end,
                help: d.help.as_deref(),
                labels: d
                    .labels
                    .iter()
                    .map(|l| {
                        let (a, b) = (source.line_col(l.span.start), source.line_col(l.span.end));
                        JsonLabel {
                            message: &l.message,
                            primary: l.primary,
                            line: a.line,
                            column: a.column,
                            end_line: b.line,
                            end_column: b.column,
                            start: l.span.start,
                            end: l.span.end,
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

/// The diagnostics of several files as one JSON array.
pub fn json(files: &[(&Source, &[Diagnostic])]) -> String {
    let items: Vec<JsonDiagnostic<'_>> = files.iter().flat_map(|(s, d)| json_items(d, s)).collect();
    serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".to_owned()) + "\n"
}

/// GitHub Actions workflow commands, one line per diagnostic.
pub fn github(diags: &[Diagnostic], source: &Source) -> String {
    // Workflow-command values escape %, CR and LF; properties also , and :.
    fn data(s: &str) -> String {
        s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
    }
    fn prop(s: &str) -> String {
        data(s).replace(':', "%3A").replace(',', "%2C")
    }
    let mut out = String::new();
    for d in diags {
        let span = d.span();
        let (a, b) = (source.line_col(span.start), source.line_col(span.end));
        let level = match d.severity() {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let cols = if a.line == b.line {
            format!(",col={},endColumn={}", a.column, b.column)
        } else {
            String::new()
        };
        let mut message = d.message.clone();
        if let Some(h) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(h);
        }
        out.push_str(&format!(
            "::{level} file={},line={},endLine={}{cols},title={}::{}\n",
            prop(&source.name),
            a.line,
            b.line,
            prop(d.code.code),
            data(&message)
        ));
    }
    out
}

/// A SARIF 2.1.0 log for several files, with one rule per code used.
pub fn sarif(files: &[(&Source, &[Diagnostic])]) -> String {
    let mut rules: Vec<&'static super::Code> =
        files.iter().flat_map(|(_, d)| d.iter().map(|d| d.code)).collect();
    rules.sort_by_key(|c| c.code);
    rules.dedup_by_key(|c| c.code);
    let rule_index = |code: &str| rules.iter().position(|r| r.code == code).unwrap_or(0);
    let results: Vec<serde_json::Value> = files
        .iter()
        .flat_map(|(source, diags)| {
            diags.iter().map(move |d| {
                let span = d.span();
                let (a, b) = (source.line_col(span.start), source.line_col(span.end));
                let mut text = d.message.clone();
                if let Some(h) = &d.help {
                    text.push_str(&format!(" (help: {h})"));
                }
                json!({
                    "ruleId": d.code.code,
                    "ruleIndex": rule_index(d.code.code),
                    "level": match d.severity() { Severity::Error => "error", Severity::Warning => "warning" },
                    "message": { "text": text },
                    "locations": [{
                        "physicalLocation": {
                            "artifactLocation": { "uri": source.name },
                            "region": {
                                "startLine": a.line,
                                "startColumn": a.column,
                                "endLine": b.line,
                                "endColumn": b.column,
                                "byteOffset": span.start,
                                "byteLength": span.len(),
                            }
                        }
                    }]
                })
            })
        })
        .collect();
    let rules_json: Vec<serde_json::Value> = rules
        .iter()
        .map(|r| {
            json!({
                "id": r.code,
                "name": r.name,
                "shortDescription": { "text": r.summary },
                "fullDescription": { "text": r.doc_text().trim_end() },
                "defaultConfiguration": { "level": r.severity.as_str() },
            })
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "meshc",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules_json,
            }},
            "results": results,
        }]
    });
    serde_json::to_string_pretty(&log).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::codes;
    use crate::source::Span;

    /// Renders with miette's own `SourceCode` over the whole text, as
    /// `human` did before [`Snippets`].
    fn reference(diags: &[Diagnostic], source: &Source, color: bool) -> String {
        let named = miette::NamedSource::new(source.name.clone(), printable(&source.text).into_owned())
            .with_language("kdl");
        human_from(diags, source, color, &named)
    }

    fn diag(span: Span, secondary: Option<Span>) -> Diagnostic {
        let d = Diagnostic::new(&codes::INVALID_VALUE, span, "wrong")
            .label("here")
            .help("fix it");
        match secondary {
            Some(s) => d.with_secondary(s, "and there"),
            None => d,
        }
    }

    /// A long line is never quoted, whether the span is on it or on the
    /// line before or after it (context), for a primary or a secondary
    /// label; the position is given instead.
    #[test]
    fn no_snippet_quotes_a_long_line() {
        let long = "x".repeat(LONG_LINE + 1);
        let text = format!("first\n{long}\nthird\nfourth\nfifth\n");
        let source = Source::new("t.kdl", text.clone());
        let at = |line: &str| {
            let start = text.find(line).expect("line");
            Span::new(start, start + 1)
        };
        for d in [
            diag(at("first"), None),
            diag(at("third"), None),
            diag(at(&long), None),
            diag(at("fifth"), Some(at("third"))),
        ] {
            let out = human(std::slice::from_ref(&d), &source, false);
            assert!(out.lines().all(|l| l.len() < LONG_LINE), "{out}");
            assert!(out.contains("(at t.kdl:"), "{out}");
        }
        // A snippet away from the long line is still quoted.
        let out = human(&[diag(at("fifth"), None)], &source, false);
        assert!(out.contains("5 │ fifth"), "{out}");
    }

    #[test]
    fn snippets_render_exactly_what_miette_renders_from_the_whole_text() {
        let texts = [
            "mesh m {\n    istio \"1.24\"\n}\ncluster c {\n    network vpc\n}\n".repeat(6),
            "a\r\nbb\r\nccc\r\n\r\ndddd\r\ne\r\nf\r\ng".to_owned(),
            "lone\rcarriage\rreturns\n\nmixed\r\nend\r".to_owned(),
            "tab\tline\nünïcödé line ✓\n\u{202e}hidden\u{7}\nlast line without break".to_owned(),
            "\n\n\n\n\nx\n\n\n\n\n".to_owned(),
            "one line".to_owned(),
            String::new(),
        ];
        let mut compared = 0;
        for text in &texts {
            let source = Source::new("t.kdl", text.clone());
            // Every span that starts and ends on a character boundary, up to
            // 12 bytes long, alone and with a secondary label at the start,
            // the end, or a character near it.
            let bounds: Vec<usize> = (0..=text.len()).filter(|&i| text.is_char_boundary(i)).collect();
            for (i, &a) in bounds.iter().enumerate() {
                for &b in bounds[i..].iter().take(13) {
                    let spans = [
                        None,
                        Some(Span::new(0, 0)),
                        Some(Span::new(text.len(), text.len())),
                        Some(Span::new(bounds[i.saturating_sub(3)], a)),
                        Some(Span::new(b, bounds[(i + 20).min(bounds.len() - 1)])),
                    ];
                    for secondary in spans {
                        let diags = [diag(Span::new(a, b), secondary)];
                        for color in [false, true] {
                            assert_eq!(
                                human(&diags, &source, color),
                                reference(&diags, &source, color),
                                "{text:?} {a}..{b} {secondary:?}"
                            );
                            compared += 1;
                        }
                    }
                }
            }
        }
        assert!(compared > 5000, "{compared}");
    }

    #[test]
    fn a_snippet_reads_a_window_not_the_whole_text() {
        let text = "node x\n".repeat(1_000_000);
        let source = Source::new("t.kdl", text.clone());
        let snippets = Snippets::new(&source);
        let at = text.len() - 3;
        let contents = snippets
            .read_span(&SourceSpan::new(at.into(), 1), 1, 1)
            .unwrap_or_else(|e| panic!("{e}"));
        // The line before, the span's line: miette's window, numbered as in
        // the whole file.
        assert_eq!(contents.data(), b"node x\nnode x\n");
        assert_eq!(contents.line(), 999_998);
        // Rendering at the end of a large text costs what rendering at
        // its start does, not a scan of everything before: miette's
        // reference, which scans, is kept out of this timing on purpose.
        // The best of three runs, against the machine's other load.
        let time = |offset: usize| {
            let diags: Vec<Diagnostic> = (0..50)
                .map(|i| diag(Span::new(offset + 7 * i, offset + 7 * i + 4), None))
                .collect();
            (0..3)
                .map(|_| {
                    let t = std::time::Instant::now();
                    assert!(!human(&diags, &source, false).is_empty());
                    t.elapsed()
                })
                .min()
                .unwrap_or_default()
        };
        let start = time(0);
        let end = time(text.len() - 7 * 60);
        assert!(
            end < start * 2 + std::time::Duration::from_millis(50),
            "{start:?} at the start, {end:?} at the end"
        );
    }
}
