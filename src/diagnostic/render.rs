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
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use serde::Serialize;
use serde_json::json;

use super::{Diagnostic, Severity};
use crate::source::Source;

/// A diagnostic paired with its file, as miette wants it. `source` is
/// `None` when the snippet would be unreadable (a very long line): the
/// message then carries the position instead.
struct Report<'a> {
    diag: &'a Diagnostic,
    source: Option<NamedSource<Arc<String>>>,
    position: Option<String>,
}

/// Lines longer than this are not quoted in a snippet: a one-megabyte line
/// would be printed once per diagnostic on it.
const LONG_LINE: usize = 400;

/// The text as shown in snippets: every control, bidi and invisible
/// formatting character replaced by `?` or U+FFFD of the same byte length,
/// so that byte offsets still line up and a hostile file cannot drive the
/// terminal (escape sequences) or reorder what the reader sees ("Trojan
/// Source" bidi overrides).
fn printable(text: &str) -> String {
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
    out
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
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let len = self.source.as_ref()?.inner().len();
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
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
    let named = NamedSource::new(source.name.clone(), Arc::new(printable(&source.text))).with_language("kdl");
    let mut out = String::new();
    for diag in diags {
        let span = diag.span();
        let bytes = source.text.as_bytes();
        let at = span.start.min(bytes.len());
        let line_start = bytes[..at].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let line_end = bytes[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| at + i);
        let long = line_end - line_start > LONG_LINE || span.len() > LONG_LINE;
        let report = if long {
            let at = source.line_col(span.start);
            Report {
                diag,
                source: None,
                position: Some(format!("{}:{}:{}", source.name, at.line, at.column)),
            }
        } else {
            Report {
                diag,
                source: Some(named.clone()),
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
