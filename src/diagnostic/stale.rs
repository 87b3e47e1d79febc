//! `build --check` findings: one diagnostic per stale output file, so that
//! the machine formats (json, sarif, github) report a stale output
//! directory in the same shapes as a topology's findings.
//!
//! Pure: the CLI reads the file as it is on disk (if it is there) and hands
//! its text in; the location is the first line the build would change, taken
//! from the writer's unified diff.

use crate::declare_code;
use crate::source::{Source, Span};
use crate::write::Change;

use super::Diagnostic;

declare_code! {
    /// A generated file in the output directory differs from what
    /// `meshc build` would write now (`meshc build --check`).
    ///
    /// The topology changed and the output was not rebuilt, or a generated
    /// file was edited by hand. The finding points at the file in the output
    /// directory and, when the file is there, at the first line a build would
    /// change. A file that is missing would be written; a file the last build
    /// wrote that is no longer produced would be removed. Edits to generated
    /// files are lost on the next build: change the topology instead.
    ///
    /// ```sh
    /// meshc build topology.kdl -o out     # rebuild, then commit out/
    /// ```
    ///
    /// This code concerns the output directory, not the topology: it is
    /// reported only by `meshc build --check`.
    pub static OUTPUT_STALE = "E001", Error, "output-stale", "an output file differs from what a build would write";
}

/// The finding for one stale file. `name` is how the file is named in the
/// report (the output directory joined with its path), `on_disk` the file's
/// current text when it is a readable regular file (empty otherwise), and
/// `rebuild` the command that brings the directory up to date.
pub fn finding(change: &Change, name: String, on_disk: String, rebuild: &str) -> (Source, Diagnostic) {
    let diff = change.diff();
    let (message, label) = match change {
        Change::Missing { .. } => ("is missing: a build would write it", "missing"),
        Change::Extra { .. } => (
            "is no longer produced: a build would remove it",
            "no longer produced",
        ),
        Change::Modified { .. } if diff.starts_with("old type") => (
            "is not a regular file: a build would replace it",
            "not a regular file",
        ),
        Change::Modified { .. } if diff.starts_with("old mode") && !diff.contains("\n@@") => (
            "has another mode than a build would give it",
            diff.lines().take(2).last().unwrap_or("mode differs"),
        ),
        Change::Modified { .. } => ("differs from what a build would write", "first difference"),
    };
    let source = Source::new(name, on_disk);
    let span = match change {
        Change::Modified { .. } => line_span(&source.text, first_changed_line(diff)),
        Change::Missing { .. } | Change::Extra { .. } => line_span(&source.text, 1),
    };
    let diag = Diagnostic::new(
        &OUTPUT_STALE,
        span,
        format!("generated file `{}` {message}", change.path()),
    )
    .label(label)
    .help(format!(
        "run `{rebuild}` and commit the result; edit the topology, not the generated files"
    ));
    (source, diag)
}

/// The 1-based line of the old file where the first hunk of `diff` changes
/// something (for an insertion, the line it is inserted before), or 1.
pub fn first_changed_line(diff: &str) -> usize {
    let mut lines = diff.lines().skip_while(|l| !l.starts_with("@@ -"));
    let Some(header) = lines.next() else {
        return 1;
    };
    // `@@ -START[,COUNT] +START[,COUNT] @@`; a COUNT of 0 puts START on the
    // line before the (empty) range.
    let old = header.trim_start_matches("@@ -");
    let range = old.split(' ').next().unwrap_or("");
    let mut parts = range.split(',');
    let start: usize = parts.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let count: usize = parts.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut line = if count == 0 { start + 1 } else { start };
    for l in lines {
        match l.as_bytes().first() {
            Some(b' ') => line += 1,
            Some(b'-' | b'+') => return line.max(1),
            Some(b'@') | None => break,
            _ => {}
        }
    }
    line.max(1)
}

/// The span of 1-based line `line` of `text` without its line break; past
/// the end, the empty span at the end of the text.
fn line_span(text: &str, line: usize) -> Span {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return Span::new(text.len(), text.len()),
        }
    }
    let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    Span::new(start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(old: &str, new: &str) -> String {
        similar::TextDiff::from_lines(old, new)
            .unified_diff()
            .header("a/f", "b/f")
            .to_string()
    }

    #[test]
    fn the_first_changed_line_is_found_past_the_context() {
        let old: String = (1..=20).map(|i| format!("line {i}\n")).collect();
        // A change on line 12, with three lines of context before it.
        let new = old.replace("line 12\n", "line twelve\n");
        assert_eq!(first_changed_line(&diff(&old, &new)), 12);
        // An insertion before line 5.
        let new = old.replace("line 5\n", "inserted\nline 5\n");
        assert_eq!(first_changed_line(&diff(&old, &new)), 5);
        // A change on line 1; an append at the end (after line 20).
        assert_eq!(
            first_changed_line(&diff(&old, &old.replacen("line 1\n", "x\n", 1))),
            1
        );
        assert_eq!(first_changed_line(&diff(&old, &format!("{old}tail\n"))), 21);
        // Against an empty file, and without any hunk.
        assert_eq!(first_changed_line(&diff("", "a\n")), 1);
        assert_eq!(
            first_changed_line("old mode 0644\nnew mode 0755\n--- a/f\n+++ b/f\n"),
            1
        );
    }

    #[test]
    fn a_modified_file_is_located_at_its_first_changed_line() {
        let old: String = (1..=20).map(|i| format!("line {i}\n")).collect();
        let new = old.replace("line 12\n", "line twelve\n");
        let change = Change::Modified {
            path: "k/f.yaml".into(),
            diff: diff(&old, &new),
        };
        let (source, d) = finding(
            &change,
            "out/k/f.yaml".into(),
            old.clone(),
            "meshc build t.kdl -o out",
        );
        assert_eq!(source.name, "out/k/f.yaml");
        assert_eq!(&source.text[d.span().start..d.span().end], "line 12");
        assert_eq!(source.line_col(d.span().start).line, 12);
        assert!(d.message.contains("`k/f.yaml` differs"), "{}", d.message);
        assert!(
            d.help
                .as_deref()
                .unwrap_or("")
                .contains("meshc build t.kdl -o out")
        );
        // The line past the end of a file gets the empty span at its end.
        assert_eq!(line_span("a\nb", 5), Span::new(3, 3));
        assert_eq!(line_span("a\nb\n", 2), Span::new(2, 3));
    }
}
