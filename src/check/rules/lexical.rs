//! The lexical classes names must belong to, shared by the name rules: the
//! Kubernetes DNS-1123 label and subdomain, the DNS-1035 label, label keys
//! and values, and the `[user@]host[:port]` of `ssh`.
//!
//! Each class is a strict ASCII charset. That is a security property as much
//! as a correctness one: these strings reach shell-sourced env files,
//! dnsmasq and hosts files and YAML, so anything outside the charset (`$`,
//! backticks, quotes, `;`, whitespace, `/`, non-ASCII look-alikes) is
//! rejected before any file is written. A checker answers with the *first*
//! problem, phrased to complete "`name` …", so every message can say exactly
//! what is wrong instead of quoting a regular expression.

use crate::diagnostic::{Code, Diagnostic};
use crate::source::Spanned;

/// A name class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// RFC 1123 label as Kubernetes checks it: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, ≤ 63.
    DnsLabel,
    /// RFC 1035 label: a DNS-1123 label that starts with a letter (Service names).
    Dns1035,
    /// Dot-separated DNS-1123 labels, ≤ 253 in all.
    Subdomain,
    /// A label value: empty, or `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`, ≤ 63.
    LabelValue,
    /// A label key: `[prefix/]name`, the prefix a subdomain, the name like a
    /// non-empty label value.
    LabelKey,
}

impl Class {
    /// What the class is called in messages.
    pub fn noun(self) -> &'static str {
        match self {
            Class::DnsLabel => "a DNS-1123 label",
            Class::Dns1035 => "a DNS-1035 label",
            Class::Subdomain => "a DNS-1123 subdomain",
            Class::LabelValue => "a valid label value",
            Class::LabelKey => "a valid label key",
        }
    }

    /// The rule, spelled out, for help texts.
    pub fn rule(self) -> &'static str {
        match self {
            Class::DnsLabel => {
                "use lower-case letters, digits and `-`, starting and ending with a letter or digit, at most 63 characters"
            }
            Class::Dns1035 => {
                "use lower-case letters, digits and `-`, starting with a letter and ending with a letter or digit, at most 63 characters"
            }
            Class::Subdomain => {
                "use dot-separated parts of lower-case letters, digits and `-`, each starting and ending with a letter or digit, at most 253 characters"
            }
            Class::LabelValue => {
                "use letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit, at most 63 characters"
            }
            Class::LabelKey => {
                "write `name` or `prefix/name`: the name of letters, digits, `-`, `_` and `.` (at most 63, starting and ending with a letter or digit), the prefix a lower-case DNS subdomain"
            }
        }
    }

    /// The first problem with `s`, or `None` when it belongs to the class.
    pub fn problem(self, s: &str) -> Option<String> {
        match self {
            Class::DnsLabel => label_problem(s, 63, false),
            Class::Dns1035 => label_problem(s, 63, true),
            Class::Subdomain => subdomain_problem(s),
            Class::LabelValue if s.is_empty() => None,
            Class::LabelValue => label_name_problem(s),
            Class::LabelKey => label_key_problem(s),
        }
    }

    pub fn accepts(self, s: &str) -> bool {
        self.problem(s).is_none()
    }
}

/// The standard diagnostic for a name outside its class: "{what} `x` is
/// not a DNS-1123 label: it contains `_`", with the class's rule and, when
/// the name is nearly valid, a corrected one as help. `why` says in a few
/// words why this name must belong to the class.
pub fn check_name(
    code: &'static Code,
    class: Class,
    what: &str,
    name: &Spanned<String>,
    why: &str,
) -> Option<Diagnostic> {
    let problem = class.problem(&name.value)?;
    let mut help = format!("{why}: {}", class.rule());
    if let Some(s) = suggestion(class, &name.value) {
        help.push_str(&format!(", e.g. `{s}`"));
    }
    Some(
        Diagnostic::new(
            code,
            name.span,
            format!(
                "{what} `{}` is not {}: it {problem}",
                shown(&name.value),
                class.noun()
            ),
        )
        .label(format!("not {}", class.noun()))
        .help(help),
    )
}

/// `s` made safe to quote in a message: printable ASCII as is, everything
/// else escaped (`\n`, `\u{430}`), and long values cut, so a hostile name
/// can neither break the terminal nor hide a look-alike character.
pub fn shown(s: &str) -> String {
    const MAX: usize = 64;
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == MAX {
            out.push('…');
            break;
        }
        match c {
            ' '..='~' => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            _ => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        }
    }
    out
}

/// A character, described for a message: "`$`", "a space",
/// "the non-ASCII character U+0430".
pub fn describe(c: char) -> String {
    match c {
        ' ' => "a space".to_owned(),
        '\n' | '\r' => "a line break".to_owned(),
        '\t' => "a tab".to_owned(),
        '`' => "a backtick".to_owned(),
        c if c.is_ascii_control() => format!("the control character U+{:04X}", u32::from(c)),
        c if !c.is_ascii() => format!("the non-ASCII character U+{:04X}", u32::from(c)),
        c => format!("`{c}`"),
    }
}

fn too_long(s: &str, max: usize) -> Option<String> {
    let n = s.chars().count();
    (n > max).then(|| format!("is {n} characters long, more than {max}"))
}

/// Whether `s` is a DNS-1123 label (DNS-1035 when `letter_first`): one
/// pass over its bytes, for the common case of a valid name (the problem
/// functions below find what is wrong with the others).
fn is_label(s: &[u8], max: usize, letter_first: bool) -> bool {
    match (s.first(), s.last()) {
        (Some(&first), Some(&last)) => {
            s.len() <= max
                && first != b'-'
                && last != b'-'
                && !(letter_first && first.is_ascii_digit())
                && s.iter().all(|&c| LABEL_BYTE[usize::from(c)])
        }
        _ => false,
    }
}

/// The bytes of a DNS label (`a-z`, `0-9`, `-`), as a table: one load per
/// byte where the range tests took several.
static LABEL_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(b as u8, b'a'..=b'z' | b'0'..=b'9' | b'-');
        b += 1;
    }
    table
};

/// A DNS-1123 label (or DNS-1035 when `letter_first`).
fn label_problem(s: &str, max: usize, letter_first: bool) -> Option<String> {
    if is_label(s.as_bytes(), max, letter_first) {
        return None;
    }
    if s.is_empty() {
        return Some("is empty".to_owned());
    }
    if let Some(c) = s.chars().find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-')) {
        return Some(if c.is_ascii_uppercase() {
            format!("contains the upper-case letter `{c}`")
        } else {
            format!("contains {}", describe(c))
        });
    }
    if s.starts_with('-') {
        return Some("starts with `-`".to_owned());
    }
    if s.ends_with('-') {
        return Some("ends with `-`".to_owned());
    }
    if letter_first && s.starts_with(|c: char| c.is_ascii_digit()) {
        return Some("starts with a digit".to_owned());
    }
    too_long(s, max)
}

fn subdomain_problem(s: &str) -> Option<String> {
    if s.len() <= 253 && s.split('.').all(|part| is_label(part.as_bytes(), 63, false)) {
        return None;
    }
    if s.is_empty() {
        return Some("is empty".to_owned());
    }
    if let Some(c) = s
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-' | '.'))
    {
        return Some(if c.is_ascii_uppercase() {
            format!("contains the upper-case letter `{c}`")
        } else {
            format!("contains {}", describe(c))
        });
    }
    if s.starts_with('.') {
        return Some("starts with `.`".to_owned());
    }
    if s.ends_with('.') {
        return Some("ends with `.`".to_owned());
    }
    if s.contains("..") {
        return Some("contains `..`".to_owned());
    }
    for part in s.split('.') {
        if let Some(p) = label_problem(part, 63, false) {
            return Some(format!("has a part, `{part}`, that {p}"));
        }
    }
    too_long(s, 253)
}

/// The name part of a label key, and a non-empty label value.
fn label_name_problem(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("is empty".to_owned());
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Some(format!("contains {}", describe(c)));
    }
    if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some("does not start with a letter or digit".to_owned());
    }
    if !s.ends_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some("does not end with a letter or digit".to_owned());
    }
    too_long(s, 63)
}

fn label_key_problem(s: &str) -> Option<String> {
    match s.split_once('/') {
        None => label_name_problem(s),
        Some((_, name)) if name.contains('/') => Some("contains more than one `/`".to_owned()),
        Some((prefix, name)) => {
            if let Some(p) = subdomain_problem(prefix) {
                return Some(format!("has a prefix, `{}`, that {p}", shown(prefix)));
            }
            label_name_problem(name).map(|p| format!("has a name part, `{}`, that {p}", shown(name)))
        }
    }
}

/// A valid name close to `s`, when `s` is nearly valid: lower-cased, with
/// `_`, `.` and spaces turned into `-`. Only offered for names made of
/// letters, digits and those separators, so a hostile string never comes
/// back as a "suggestion".
pub fn suggestion(class: Class, s: &str) -> Option<String> {
    let nearly = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '));
    if !nearly {
        return None;
    }
    let keep_dots = class == Class::Subdomain;
    let mut out = String::new();
    for c in s.chars() {
        let c = match c {
            '.' if keep_dots => '.',
            '_' | '.' | ' ' | '-' => '-',
            c => c.to_ascii_lowercase(),
        };
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    let out = out.trim_matches('-').to_owned();
    (out != s && class.accepts(&out)).then_some(out)
}

/// `[user@]host[:port]`, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshTarget<'a> {
    pub user: Option<&'a str>,
    pub host: &'a str,
    pub port: u16,
}

/// Parses the `ssh` setting strictly: a POSIX-style user name, a host name,
/// IPv4 address or bracketed IPv6 address, and a decimal port.
pub fn parse_ssh(s: &str) -> Result<SshTarget<'_>, String> {
    if let Some(c) = s.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!("contains {}", describe(c)));
    }
    let (user, rest) = match s.split_once('@') {
        Some((u, r)) => (Some(u), r),
        None => (None, s),
    };
    if let Some(u) = user {
        user_problem(u).map_or(Ok(()), |p| {
            Err(format!("has a user name, `{}`, that {p}", shown(u)))
        })?;
    }
    let (host, port) = if let Some(after) = rest.strip_prefix('[') {
        let (inside, tail) = after
            .split_once(']')
            .ok_or_else(|| "opens `[` for an IPv6 address but never closes it".to_owned())?;
        if inside.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!(
                "has `{}` in brackets, which is not an IPv6 address",
                shown(inside)
            ));
        }
        let port = match tail {
            "" => None,
            t => Some(
                t.strip_prefix(':')
                    .ok_or_else(|| format!("has `{}` after the IPv6 address", shown(t)))?,
            ),
        };
        (inside, port)
    } else {
        if rest.matches(':').count() > 1 {
            return Err("has several `:`; write an IPv6 host in brackets, `[fd00::1]`".to_owned());
        }
        let (host, port) = match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        };
        if host.parse::<std::net::Ipv4Addr>().is_err() {
            host_problem(host).map_or(Ok(()), |p| {
                Err(format!("has a host, `{}`, that {p}", shown(host)))
            })?;
        }
        (host, port)
    };
    let port = match port {
        None => 22,
        Some(p) => parse_port(p).ok_or_else(|| format!("has a port, `{}`, that is not 1–65535", shown(p)))?,
    };
    Ok(SshTarget { user, host, port })
}

/// Decimal, no sign, no leading zero.
fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || p.starts_with('0') || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse().ok()
}

/// A login name: a letter or `_` first (so it can never read as an ssh
/// option), then letters, digits, `_`, `.` and `-`; at most 32.
fn user_problem(u: &str) -> Option<String> {
    if u.is_empty() {
        return Some("is empty".to_owned());
    }
    if let Some(c) = u
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Some(format!("contains {}", describe(c)));
    }
    if !u.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return Some("does not start with a letter or `_`".to_owned());
    }
    too_long(u, 32)
}

/// A host name: a subdomain, except that host names are case-insensitive.
fn host_problem(h: &str) -> Option<String> {
    subdomain_problem(&h.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass acceptance of valid names agrees with the rules as
    /// written, over every short string of characters that matter.
    #[test]
    fn accepted_exactly_by_the_rules() {
        let label = |s: &str, letter_first: bool| {
            !s.is_empty()
                && s.chars().count() <= 63
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !s.starts_with('-')
                && !s.ends_with('-')
                && (!letter_first || !s.starts_with(|c: char| c.is_ascii_digit()))
        };
        let alphabet = ['a', '0', '-', '.', '_', 'A', 'é', ' '];
        let mut words = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = words
                .iter()
                .filter(|w| w.chars().count() == words.last().map_or(0, |l| l.chars().count()))
                .flat_map(|w| alphabet.iter().map(move |c| format!("{w}{c}")))
                .collect();
            words.extend(longer);
        }
        words.extend([
            "a".repeat(63),
            "a".repeat(64),
            format!("{}.b", "a".repeat(63)),
            format!("{}.b", "a".repeat(64)),
        ]);
        words.extend([vec!["a"; 127].join("."), vec!["a"; 126].join(".") + ".bb"]);
        for w in &words {
            assert_eq!(Class::DnsLabel.accepts(w), label(w, false), "{w:?}");
            assert_eq!(Class::Dns1035.accepts(w), label(w, true), "{w:?}");
            let subdomain = w.chars().count() <= 253 && w.split('.').all(|p| label(p, false));
            assert_eq!(Class::Subdomain.accepts(w), subdomain, "{w:?}");
        }
    }

    #[test]
    fn dns_labels() {
        assert!(Class::DnsLabel.accepts("ecs-db"));
        assert!(Class::DnsLabel.accepts("1a"));
        assert!(Class::DnsLabel.accepts(&"a".repeat(63)));
        assert_eq!(
            Class::DnsLabel.problem(&"a".repeat(64)).as_deref(),
            Some("is 64 characters long, more than 63")
        );
        assert_eq!(Class::DnsLabel.problem("").as_deref(), Some("is empty"));
        assert_eq!(
            Class::DnsLabel.problem("Db").as_deref(),
            Some("contains the upper-case letter `D`")
        );
        assert_eq!(Class::DnsLabel.problem("-db").as_deref(), Some("starts with `-`"));
        assert_eq!(Class::DnsLabel.problem("a.b").as_deref(), Some("contains `.`"));
        assert_eq!(
            Class::DnsLabel.problem("$(rm -rf /)").as_deref(),
            Some("contains `$`")
        );
        assert_eq!(
            Class::DnsLabel.problem("d\u{430}ta").as_deref(),
            Some("contains the non-ASCII character U+0430")
        );
        assert_eq!(
            Class::DnsLabel.problem("a\nb").as_deref(),
            Some("contains a line break")
        );
        assert_eq!(
            Class::Dns1035.problem("9lives").as_deref(),
            Some("starts with a digit")
        );
        assert!(Class::Dns1035.accepts("details"));
    }

    #[test]
    fn subdomains() {
        assert!(Class::Subdomain.accepts("cluster.local"));
        assert!(Class::Subdomain.accepts("bookinfo-details"));
        assert_eq!(Class::Subdomain.problem("a..b").as_deref(), Some("contains `..`"));
        assert_eq!(Class::Subdomain.problem(".a").as_deref(), Some("starts with `.`"));
        assert_eq!(Class::Subdomain.problem("a/b").as_deref(), Some("contains `/`"));
        assert_eq!(
            Class::Subdomain.problem("a.-b").as_deref(),
            Some("has a part, `-b`, that starts with `-`")
        );
        let long = vec!["a".repeat(60); 5].join(".");
        assert_eq!(
            Class::Subdomain.problem(&long).as_deref(),
            Some("is 304 characters long, more than 253")
        );
    }

    #[test]
    fn labels() {
        assert!(Class::LabelValue.accepts(""));
        assert!(Class::LabelValue.accepts("Kubernetes"));
        assert!(Class::LabelValue.accepts("v1.2_b"));
        assert_eq!(
            Class::LabelValue.problem("v1-").as_deref(),
            Some("does not end with a letter or digit")
        );
        assert_eq!(Class::LabelValue.problem("a'b").as_deref(), Some("contains `'`"));
        assert!(Class::LabelKey.accepts("app"));
        assert!(Class::LabelKey.accepts("example.com/tier"));
        assert_eq!(
            Class::LabelKey.problem("a/b/c").as_deref(),
            Some("contains more than one `/`")
        );
        assert_eq!(
            Class::LabelKey.problem("Example.com/x").as_deref(),
            Some("has a prefix, `Example.com`, that contains the upper-case letter `E`")
        );
        assert_eq!(
            Class::LabelKey.problem("x/").as_deref(),
            Some("has a name part, ``, that is empty")
        );
    }

    #[test]
    fn shown_escapes_what_a_terminal_would_interpret() {
        assert_eq!(shown("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
        assert_eq!(shown("d\u{430}ta"), "d\\u{430}ta");
        assert_eq!(shown(&"x".repeat(70)).chars().count(), 65);
    }

    #[test]
    fn suggestions_only_for_nearly_valid_names() {
        assert_eq!(suggestion(Class::DnsLabel, "My_DB").as_deref(), Some("my-db"));
        assert_eq!(suggestion(Class::DnsLabel, "v1.2").as_deref(), Some("v1-2"));
        assert_eq!(
            suggestion(Class::Subdomain, "Cluster.Local").as_deref(),
            Some("cluster.local")
        );
        assert_eq!(suggestion(Class::DnsLabel, "$(rm -rf /)"), None);
        assert_eq!(suggestion(Class::DnsLabel, "ok"), None);
    }

    #[test]
    fn ssh_targets() {
        let t = parse_ssh("root@192.168.3.201").expect("valid");
        assert_eq!((t.user, t.host, t.port), (Some("root"), "192.168.3.201", 22));
        let t = parse_ssh("ops@bastion.example.com:2222").expect("valid");
        assert_eq!(
            (t.user, t.host, t.port),
            (Some("ops"), "bastion.example.com", 2222)
        );
        let t = parse_ssh("[fd00::5]:2200").expect("valid");
        assert_eq!((t.user, t.host, t.port), (None, "fd00::5", 2200));
        assert!(parse_ssh("VM-1").is_ok());
        assert_eq!(
            parse_ssh("-oProxyCommand=x").unwrap_err(),
            "has a host, `-oProxyCommand=x`, that contains `=`"
        );
        assert_eq!(
            parse_ssh("root@$(reboot)").unwrap_err(),
            "has a host, `$(reboot)`, that contains `$`"
        );
        assert_eq!(parse_ssh("root@a b").unwrap_err(), "contains a space");
        assert_eq!(
            parse_ssh("-x@host").unwrap_err(),
            "has a user name, `-x`, that does not start with a letter or `_`"
        );
        assert_eq!(
            parse_ssh("host:0").unwrap_err(),
            "has a port, `0`, that is not 1–65535"
        );
        assert_eq!(
            parse_ssh("host:022").unwrap_err(),
            "has a port, `022`, that is not 1–65535"
        );
        assert!(parse_ssh("fd00::1").is_err());
        assert!(parse_ssh("[nonsense]").is_err());
        assert!(parse_ssh("a@b@c").is_err());
        assert!(parse_ssh("").is_err());
    }
}
