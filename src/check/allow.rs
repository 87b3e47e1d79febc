//! Suppressions written in the topology: `allow "W901" "W905"` in a
//! declaration (`service`, `vm`, `cluster`, `network`, `namespace`,
//! `mesh`) drops those warnings when their primary span lies inside that
//! declaration.
//!
//! Only warnings can be allowed: meshc never writes output from a topology
//! with errors, so an `allow` of an error code (or of a code that does not
//! exist) is itself an error (E230). An allowed code that suppressed nothing
//! is a warning (W930), so stale suppressions do not pile up. `--allow CODE`
//! on the command line is the CLI's, file-wide and silent.

use crate::declare_code;
use crate::diagnostic::{self, Diagnostic, Severity};
use crate::model::Allow;

declare_code! {
    /// An `allow` names an error code, or a code that does not exist.
    ///
    /// `allow` silences warnings inside the declaration that holds it. An
    /// error cannot be allowed: meshc never writes output from a topology
    /// with errors, so the way out of an error is to fix what it reports.
    /// `meshc explain` lists every code with its severity.
    ///
    /// ```kdl
    /// service db {
    ///     allow "E301"     // error: E301 is an error
    ///     allow "W9O4"     // error: no such code (W904?)
    /// }
    /// ```
    pub static INVALID_ALLOW = "E230", Error, "invalid-allow", "an `allow` names an error or an unknown code";
}

declare_code! {
    /// An `allow` suppressed nothing: no warning with that code lies inside
    /// the declaration that holds it.
    ///
    /// The warning it was written for has been fixed, or it is reported
    /// elsewhere (a warning is allowed where its primary span is: the
    /// declaration it points at). Remove the stale `allow`, or move it.
    ///
    /// ```kdl
    /// service reviews {
    ///     allow "W901"     // W930 once reviews is no longer in a call cycle
    /// }
    /// ```
    pub static UNUSED_ALLOW = "W930", Warning, "unused-allow", "an `allow` suppresses nothing";
}

/// Drops the warnings the topology's `allow`s cover, and reports each
/// `allow` that names an error or unknown code (E230) or covers nothing
/// (W930). `diags` stays sorted.
pub fn apply(allows: &[Allow], diags: &mut Vec<Diagnostic>) {
    if allows.is_empty() {
        return;
    }
    let catalogue = super::catalogue();
    let mut used = vec![false; allows.len()];
    let mut found = Vec::new();
    let mut valid: Vec<(usize, &'static str)> = Vec::new();
    for (i, allow) in allows.iter().enumerate() {
        let word = allow.code.value.as_str();
        match catalogue.iter().find(|c| c.code.eq_ignore_ascii_case(word) || c.name == word) {
            Some(code) if code.severity == Severity::Warning => valid.push((i, code.code)),
            Some(code) => found.push(
                Diagnostic::new(
                    &INVALID_ALLOW,
                    allow.code.span,
                    format!("`{}` ({}) is an error, and only warnings can be allowed", code.code, code.name),
                )
                .label("an error")
                .help(format!(
                    "remove this `allow` and fix what {} reports (`meshc explain {}`): meshc never writes output from a topology with errors",
                    code.code, code.code
                )),
            ),
            None => {
                let names = catalogue.iter().flat_map(|c| [c.code, c.name]);
                let help = match diagnostic::suggest(word, names) {
                    Some(s) => format!("did you mean `{s}`? `meshc explain` lists every code"),
                    None => "`meshc explain` lists every code; only warnings (W…) can be allowed".to_owned(),
                };
                found.push(
                    Diagnostic::new(
                        &INVALID_ALLOW,
                        allow.code.span,
                        format!("no diagnostic code `{}`", diagnostic_text(word)),
                    )
                    .label("unknown code")
                    .help(help),
                );
            }
        }
    }
    diags.retain(|d| {
        if d.severity() != Severity::Warning {
            return true;
        }
        let span = d.span();
        let mut kept = true;
        for &(i, code) in &valid {
            let scope = allows[i].scope;
            if code == d.code.code && scope.start <= span.start && span.end <= scope.end {
                used[i] = true;
                kept = false;
            }
        }
        kept
    });
    for &(i, code) in &valid {
        if !used[i] {
            let allow = &allows[i];
            found.push(
                Diagnostic::new(
                    &UNUSED_ALLOW,
                    allow.code.span,
                    format!("`allow {code}` suppresses nothing: no {code} warning lies in this declaration"),
                )
                .label("nothing to allow")
                .help("remove this `allow` (the warning is fixed), or move it into the declaration the warning points at"),
            );
        }
    }
    if !found.is_empty() {
        diags.append(&mut found);
        diagnostic::sort(diags);
    }
}

/// A code as written, cut short for a message.
fn diagnostic_text(word: &str) -> String {
    word.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{Span, Spanned};

    fn allow(code: &str, at: usize, scope: (usize, usize)) -> Allow {
        Allow {
            code: Spanned::new(code.to_owned(), Span::new(at, at + code.len())),
            scope: Span::new(scope.0, scope.1),
        }
    }

    fn warning(code: &'static diagnostic::Code, at: usize) -> Diagnostic {
        Diagnostic::new(code, Span::new(at, at + 3), "w")
    }

    #[test]
    fn only_warnings_inside_the_declaration_are_dropped() {
        let idle = crate::check::catalogue()
            .into_iter()
            .find(|c| c.code == "W902")
            .expect("W902 exists");
        let mut diags = vec![warning(idle, 10), warning(&INVALID_ALLOW, 12), warning(idle, 50)];
        apply(&[allow("W902", 5, (0, 40))], &mut diags);
        let left: Vec<(&str, usize)> = diags.iter().map(|d| (d.code.code, d.span().start)).collect();
        // The one at 50 is outside; the error at 12 is never dropped.
        assert_eq!(left, [("E230", 12), ("W902", 50)]);
        // By name too; an unused allow is W930, at the code it names.
        let mut diags = vec![warning(idle, 10)];
        apply(
            &[allow("idle-vm", 5, (0, 40)), allow("W901", 20, (0, 40))],
            &mut diags,
        );
        let left: Vec<(&str, usize)> = diags.iter().map(|d| (d.code.code, d.span().start)).collect();
        assert_eq!(left, [("W930", 20)]);
    }

    #[test]
    fn errors_and_unknown_codes_cannot_be_allowed() {
        let mut diags = Vec::new();
        apply(
            &[allow("E301", 5, (0, 40)), allow("W9O2", 20, (0, 40))],
            &mut diags,
        );
        assert_eq!(diags.len(), 2);
        assert!(diags.iter().all(|d| d.code.code == "E230"));
        assert!(
            diags[1].help.as_deref().unwrap_or("").contains("W902"),
            "{:?}",
            diags[1].help
        );
    }
}
