//! E410: a probe path or command with characters meshc will not emit.

use super::lexical::{describe, shown};
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;
use crate::model::ProbeKind;
use crate::source::Spanned;

declare_code! {
    /// A probe's HTTP path or exec command holds characters meshc refuses.
    ///
    /// Probes become the `probe` of a WorkloadGroup, run by the Istio agent
    /// on the VM. An HTTP `path` must start with `/` and use only letters,
    /// digits and `-._~/%?=&+:@,` (percent escapes as `%XX`). Each word of
    /// an exec `command` is passed to the program as is, without a shell,
    /// and may use only letters, digits, spaces and `-._/:=@%+,`.
    ///
    /// Neither may contain a `..` path segment, quotes, backticks, `$`,
    /// `;`, `|`, line breaks or non-ASCII characters: those only have a
    /// meaning inside a shell, and keeping them out means no generated file
    /// ever carries shell syntax. For anything more complex, put a script
    /// on the VM and run it: `command "/opt/health/check.sh"`.
    ///
    /// ```kdl
    /// probe http port=9080 path="/health"          // fine
    /// probe exec {
    ///     command "sh" "-c" "curl -f localhost:9080 || exit 1"         // E410: `|`
    /// }
    /// ```
    pub static CODE = "E410", Error, "invalid-probe", "a probe path or command holds characters meshc refuses";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn path_problem(p: &str) -> Option<String> {
    if !p.starts_with('/') {
        return Some("does not start with `/`".to_owned());
    }
    if let Some(c) = p.chars().find(|c| {
        !(c.is_ascii_alphanumeric()
            || matches!(
                c,
                '-' | '.' | '_' | '~' | '/' | '%' | '?' | '=' | '&' | '+' | ':' | '@' | ','
            ))
    }) {
        return Some(format!("contains {}", describe(c)));
    }
    let bytes = p.as_bytes();
    for (i, _) in p.match_indices('%') {
        let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
        if !(hex(i + 1) && hex(i + 2)) {
            return Some("has a `%` that is not followed by two hex digits".to_owned());
        }
    }
    dot_dot(p)
}

fn word_problem(w: &str) -> Option<String> {
    if w.is_empty() {
        return Some("is empty".to_owned());
    }
    if let Some(c) = w.chars().find(|c| {
        !(c.is_ascii_alphanumeric()
            || matches!(c, ' ' | '-' | '.' | '_' | '/' | ':' | '=' | '@' | '%' | '+' | ','))
    }) {
        return Some(format!("contains {}", describe(c)));
    }
    dot_dot(w)
}

fn dot_dot(s: &str) -> Option<String> {
    s.split(['/', '?', ' ', '=', '&', ':', ','])
        .any(|seg| seg == "..")
        .then(|| "contains a `..` path segment".to_owned())
}

fn report(what: &str, v: &Spanned<String>, problem: String, help: &str, diags: &mut Vec<Diagnostic>) {
    diags.push(
        Diagnostic::new(&CODE, v.span, format!("{what} `{}` {problem}", shown(&v.value)))
            .label("refused")
            .help(help.to_owned()),
    );
}

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    for s in &cx.topo.services {
        let Some(probe) = &s.probe else { continue };
        match &probe.kind {
            ProbeKind::Http { path: Some(path), .. } => {
                if let Some(p) = path_problem(&path.value) {
                    report(
                        "probe path",
                        path,
                        p,
                        "write an absolute HTTP path of letters, digits and `-._~/%?=&+:@,`, e.g. \"/health\"",
                        diags,
                    );
                }
            }
            ProbeKind::Exec { command } => {
                for w in command {
                    if let Some(p) = word_problem(&w.value) {
                        report(
                            "probe command word",
                            w,
                            p,
                            "the command runs without a shell; put anything that needs one in a script on the VM and run that, e.g. command=\"/opt/health/check.sh\"",
                            diags,
                        );
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(path_problem("/health"), None);
        assert_eq!(path_problem("/api/v1/ready?full=1&x=%2F"), None);
        assert_eq!(path_problem("health").as_deref(), Some("does not start with `/`"));
        assert_eq!(
            path_problem("/a/../etc/passwd").as_deref(),
            Some("contains a `..` path segment")
        );
        assert_eq!(path_problem("/a\nb").as_deref(), Some("contains a line break"));
        assert_eq!(path_problem("/$(id)").as_deref(), Some("contains `$`"));
        assert_eq!(
            path_problem("/a%2").as_deref(),
            Some("has a `%` that is not followed by two hex digits")
        );
        assert_eq!(path_problem("/a..b"), None);
    }

    #[test]
    fn command_words() {
        assert_eq!(word_problem("/usr/bin/pg_isready"), None);
        assert_eq!(word_problem("-U postgres"), None);
        assert_eq!(word_problem("a;b").as_deref(), Some("contains `;`"));
        assert_eq!(word_problem("`id`").as_deref(), Some("contains a backtick"));
        assert_eq!(word_problem("'x'").as_deref(), Some("contains `'`"));
        assert_eq!(
            word_problem("../bin/x").as_deref(),
            Some("contains a `..` path segment")
        );
        assert_eq!(word_problem("").as_deref(), Some("is empty"));
    }
}
