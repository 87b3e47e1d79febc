//! A [`Plan`] as text: for a terminal, for a pull-request comment
//! (Markdown), and as JSON for tools.
//!
//! The Markdown report quotes names and values that a hand-edited base
//! could make hostile, so every one is escaped for the place it is put in
//! (a table cell, a bullet, a code block) and cannot open HTML or close the
//! block around it.

use std::fmt::Write as _;

use super::{Counts, Plan};

fn counts(c: Counts) -> String {
    format!("{} added, {} changed, {} removed", c.added, c.changed, c.removed)
}

/// The report for a terminal.
pub fn human(plan: &Plan) -> String {
    let mut out = String::new();
    if !plan.changed {
        out.push_str("No changes: the mesh is what the base describes.\n");
        return out;
    }
    let _ = writeln!(out, "meshc plan: {}", counts(plan.totals));
    if !plan.consequences.is_empty() {
        out.push_str("\nConsequences:\n");
        for c in &plan.consequences {
            let _ = writeln!(out, "  {:<13} {}", c.tag(), c.text());
        }
    }
    for scope in &plan.scopes {
        let _ = writeln!(out, "\n{}: {}", scope.scope.title(), counts(scope.counts));
        for item in &scope.items {
            let _ = writeln!(out, "  {} {}", item.change.sign(), item.label());
            for d in &item.details {
                let _ = writeln!(out, "      {d}");
            }
        }
    }
    out
}

/// Escapes text for Markdown prose or a table cell: nothing in it can
/// start HTML, a link, emphasis, code or a new cell.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' => out.push_str("&#124;"),
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Text for a line inside a fenced code block: a line cannot close the
/// fence (backticks are replaced) or break into two.
fn in_code(text: &str) -> String {
    text.replace('`', "'").replace(['\n', '\r'], " ")
}

/// The report for a pull-request comment: a summary table, the
/// consequences as bullets, and each scope's objects in a collapsed block.
pub fn markdown(plan: &Plan) -> String {
    let mut out = String::from("### meshc plan\n\n");
    if !plan.changed {
        out.push_str("No changes: the mesh is what the base describes.\n");
        return out;
    }
    let _ = writeln!(out, "**{}**\n", counts(plan.totals));
    out.push_str("| scope | added | changed | removed |\n|---|---:|---:|---:|\n");
    for s in &plan.scopes {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            md(&s.scope.title()),
            s.counts.added,
            s.counts.changed,
            s.counts.removed
        );
    }
    if !plan.consequences.is_empty() {
        out.push_str("\n#### Consequences\n\n");
        for c in &plan.consequences {
            let _ = writeln!(out, "- **{}** {}", c.tag(), md(c.text()));
        }
    }
    out.push('\n');
    for s in &plan.scopes {
        let _ = writeln!(
            out,
            "<details><summary>{}: {}</summary>\n\n```diff",
            md(&s.scope.title()),
            counts(s.counts)
        );
        for item in &s.items {
            let _ = writeln!(out, "{} {}", item.change.sign(), in_code(&item.label()));
            for d in &item.details {
                let _ = writeln!(out, "    {}", in_code(d));
            }
        }
        out.push_str("```\n\n</details>\n\n");
    }
    out
}

/// The plan as one JSON document (field names in the module doc of
/// [`crate::plan`]).
pub fn json(plan: &Plan) -> String {
    let mut text = serde_json::to_string_pretty(plan).expect("a plan is plain data and always serialises");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escaping_cannot_open_html_or_close_a_fence() {
        assert_eq!(md("<img src=x>|`a`"), "&lt;img src=x&gt;&#124;\\`a\\`");
        assert_eq!(in_code("```\nrm"), "''' rm");
    }
}
