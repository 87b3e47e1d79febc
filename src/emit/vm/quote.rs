//! Quoting for the VM env files (`cluster.env`), and Go-compatible JSON strings.
//!
//! `cluster.env` is not parsed by a dotenv reader: Istio's `istio-start.sh`
//! sources it with bash under `set -a`, so every line is shell code. Istio's
//! own writer (`istioctl x workload entry configure`) quotes each value with
//! its `shellescape.Quote` (`pkg/util/shellescape/quote.go`), which has a
//! quirk: the "safe" character class is written `[\\w@%+=:,./-]` in a Go raw
//! string, so it means *backslash or the letter `w`*, not `\w`. In practice
//! almost every value is quoted (that is why the goldens read
//! `CANONICAL_REVISION='latest'`), but a value made only of backslashes,
//! `w` and `@%+=:,./-` is left bare, and a bare backslash is an escape (or,
//! at the end of a line, a line continuation) when bash sources the file.
//!
//! Which function meshc uses where:
//! * [`go_shellescape`] is the exact Go function, kept for tests and for
//!   anyone comparing against istioctl. meshc never writes its output
//!   directly.
//! * [`quote_env_value`] is what the modern `cluster.env` uses: the Go
//!   output whenever the value has no backslash (then Go's output is both
//!   byte-identical to istioctl and safe, since the remaining bare characters
//!   `w@%+=:,./-` are inert in a shell assignment), and [`posix_single_quote`]
//!   otherwise. So meshc matches istioctl byte for byte on every value that
//!   istioctl itself handles safely, and differs only where istioctl's file
//!   would be misread.
//! * [`quote_unless_plain`] is what the legacy three-line `cluster.env`
//!   uses: the 0.8/1.0 `setupMeshEx.sh` wrote values bare, so meshc keeps
//!   them bare when they match a strict charset and quotes them otherwise.
//!
//! A value containing NUL cannot be represented at all (bash drops NUL bytes
//! from a sourced file), and a key that is not a shell name turns the line
//! into a command. Neither fits in the types the writers take: an
//! [`EnvKey`] is a shell name (checked when the program is compiled for
//! meshc's own keys), an [`EnvValue`] holds no NUL (the VM emitter makes
//! them from `check`'s proven words), so [`assignment`] cannot fail.
//! [`env_line`] is the same for unchecked text, and returns an error.
//!
//! [`go_json_string`] lives here too: it is the other quoting rule these
//! files need (`ISTIO_METAJSON_LABELS`, `ISTIO_META_POD_PORTS`), and it must
//! match Go's `encoding/json`, which escapes `<`, `>`, `&`, U+2028 and U+2029.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::check::{DnsName, Word};

/// Go `shellescape.Quote`, byte for byte, including the `\\w` quirk.
///
/// Empty becomes `''`. A value whose every character is `\`, `w`, or one of
/// `@%+=:,./-` is returned unchanged. Anything else is wrapped in single
/// quotes, with each `'` written as `'"'"'`.
///
/// Not injection-proof: see the module doc and use [`quote_env_value`].
pub fn go_shellescape(s: &str) -> String {
    if s.is_empty() {
        return "''".to_owned();
    }
    if s.chars().all(is_go_quirk_safe) {
        return s.to_owned();
    }
    posix_single_quote(s)
}

/// The characters Go's `[^\\w@%+=:,./-]` does *not* match.
fn is_go_quirk_safe(c: char) -> bool {
    matches!(
        c,
        '\\' | 'w' | '@' | '%' | '+' | '=' | ':' | ',' | '.' | '/' | '-'
    )
}

/// Always single-quote: `'…'`, each `'` written as `'"'"'` (close the quote,
/// a double-quoted `'`, reopen). Inside single quotes a POSIX shell treats
/// every byte literally, so this is safe for any value without NUL.
pub fn posix_single_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\"'\"'");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// meshc's quoting for the modern `cluster.env`: Go's output when the value
/// has no backslash, always-quoting otherwise (see the module doc).
pub fn quote_env_value(s: &str) -> String {
    if s.contains('\\') {
        posix_single_quote(s)
    } else {
        go_shellescape(s)
    }
}

/// Bare when the value is non-empty and made only of ASCII letters, digits
/// and `_@%+=:,./-` (the class Go's shellescape meant to write, minus its
/// backslash); single-quoted otherwise. None of those characters triggers an
/// expansion in a shell assignment, so the bare form is safe.
pub fn quote_unless_plain(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '_' | '@' | '%' | '+' | '=' | ':' | ',' | '.' | '/' | '-')
        });
    if plain {
        s.to_owned()
    } else {
        posix_single_quote(s)
    }
}

/// How [`env_line`] quotes the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    /// [`quote_env_value`]: istioctl-compatible, for the modern file.
    IstioCompatible,
    /// [`quote_unless_plain`]: bare when plain, for the legacy file.
    BareWhenPlain,
}

/// A variable name an env file can assign: a POSIX shell name,
/// `[A-Za-z_][A-Za-z0-9_]*`. meshc's own keys are the constants of
/// [`super::env_keys`], checked when the program is compiled.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct EnvKey(Cow<'static, str>);

impl EnvKey {
    /// A key written in the program: a compile error in a `const` when it
    /// is not a shell name.
    pub const fn of(key: &'static str) -> EnvKey {
        assert!(is_shell_name_bytes(key.as_bytes()), "not a shell name");
        EnvKey(Cow::Borrowed(key))
    }

    /// A key from elsewhere (a mesh config's `proxyMetadata`).
    ///
    /// # Errors
    ///
    /// When `key` is not a shell name: `KEY=value` would then be a command.
    pub fn new(key: &str) -> Result<EnvKey, UnrepresentableValue> {
        if is_shell_name_bytes(key.as_bytes()) {
            Ok(EnvKey(Cow::Owned(key.to_owned())))
        } else {
            Err(UnrepresentableValue {
                key: key.to_owned(),
                kind: Unrepresentable::KeyNotAShellName,
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EnvKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A value an env file can carry: text without NUL (bash drops NUL bytes
/// from a sourced file, so no quoting can carry one). The VM emitter makes
/// them only from what `check` proved ([`Word`], [`DnsName`]), numbers,
/// addresses, JSON (whose escaping writes NUL as `\u0000`) and literals
/// of the program; [`EnvValue::new`] is for text from elsewhere.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct EnvValue(Cow<'static, str>);

impl EnvValue {
    /// A value written in the program; used in `const`s, where a NUL is a
    /// compile error.
    pub const fn literal(value: &'static str) -> EnvValue {
        let bytes = value.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            assert!(bytes[i] != 0, "NUL in an env value");
            i += 1;
        }
        EnvValue(Cow::Borrowed(value))
    }

    /// A value from outside the checked topology (Istio's goldens, say).
    ///
    /// # Errors
    ///
    /// When `value` contains NUL.
    pub fn new(value: &str) -> Result<EnvValue, UnrepresentableValue> {
        if value.contains('\0') {
            Err(UnrepresentableValue {
                key: String::new(),
                kind: Unrepresentable::NulInValue,
            })
        } else {
            Ok(EnvValue(Cow::Owned(value.to_owned())))
        }
    }

    /// The values one after the other.
    pub fn concat<'a>(parts: impl IntoIterator<Item = &'a EnvValue>) -> EnvValue {
        EnvValue(Cow::Owned(parts.into_iter().map(EnvValue::as_str).collect()))
    }

    /// The values with `separator` between them.
    pub fn join<'a>(parts: impl IntoIterator<Item = &'a EnvValue>, separator: &EnvValue) -> EnvValue {
        let parts: Vec<&str> = parts.into_iter().map(EnvValue::as_str).collect();
        EnvValue(Cow::Owned(parts.join(separator.as_str())))
    }

    /// Port numbers, comma-joined.
    pub fn numbers(ports: &[u16]) -> EnvValue {
        let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
        EnvValue(Cow::Owned(ports.join(",")))
    }

    /// [`go_json_string`] of any text: its escaping leaves no NUL.
    pub fn go_json(text: &str) -> EnvValue {
        EnvValue(Cow::Owned(go_json_string(text)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&Word> for EnvValue {
    fn from(word: &Word) -> EnvValue {
        EnvValue(Cow::Owned(word.as_str().to_owned()))
    }
}

impl From<&DnsName> for EnvValue {
    fn from(name: &DnsName) -> EnvValue {
        EnvValue(Cow::Owned(name.as_str().to_owned()))
    }
}

/// Numbers, addresses and ranges print without NUL.
macro_rules! env_value_from_display {
    ($($t:ty),*) => {$(
        impl From<$t> for EnvValue {
            fn from(value: $t) -> EnvValue {
                EnvValue(Cow::Owned(value.to_string()))
            }
        }
    )*};
}
env_value_from_display!(u16, u32, IpAddr, IpNet);

impl PartialEq<str> for EnvValue {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for EnvValue {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Keys order as their text, so a map of them is looked up by `&str`.
impl std::borrow::Borrow<str> for EnvKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EnvValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One `KEY=value` line, without its newline: total, since neither type
/// can hold what a sourced file cannot carry.
pub fn assignment(key: &EnvKey, value: &EnvValue, quoting: Quoting) -> String {
    let quoted = match quoting {
        Quoting::IstioCompatible => quote_env_value(value.as_str()),
        Quoting::BareWhenPlain => quote_unless_plain(value.as_str()),
    };
    format!("{key}={quoted}")
}

/// One `KEY=value` line from unchecked text, without its newline.
///
/// # Errors
///
/// When `key` is not a shell name (`[A-Za-z_][A-Za-z0-9_]*`) or `value`
/// contains NUL: no quoting makes either safe to source.
pub fn env_line(key: &str, value: &str, quoting: Quoting) -> Result<String, UnrepresentableValue> {
    let key = EnvKey::new(key)?;
    let value = EnvValue::new(value).map_err(|e| UnrepresentableValue {
        key: key.to_string(),
        ..e
    })?;
    Ok(assignment(&key, &value, quoting))
}

/// A POSIX shell name, `[A-Za-z_][A-Za-z0-9_]*`: only then is `KEY=value`
/// an assignment rather than a command to run.
const fn is_shell_name_bytes(key: &[u8]) -> bool {
    if key.is_empty() || key[0].is_ascii_digit() {
        return false;
    }
    let mut i = 0;
    while i < key.len() {
        let c = key[i];
        if !(c.is_ascii_alphanumeric() || c == b'_') {
            return false;
        }
        i += 1;
    }
    true
}

/// An env entry that no quoting can write safely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnrepresentableValue {
    /// The variable name as given.
    pub key: String,
    /// What is wrong with it.
    pub kind: Unrepresentable,
}

/// Why an env entry cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unrepresentable {
    /// The value contains NUL, which a sourced shell file cannot carry.
    NulInValue,
    /// The key is not `[A-Za-z_][A-Za-z0-9_]*`, so the line would not be an
    /// assignment when the file is sourced.
    KeyNotAShellName,
}

impl fmt::Display for UnrepresentableValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Unrepresentable::NulInValue => write!(
                f,
                "the value of env variable `{}` contains a NUL character, which a sourced env file cannot carry",
                self.key.escape_debug()
            ),
            Unrepresentable::KeyNotAShellName => write!(
                f,
                "`{}` is not a valid env variable name (expected [A-Za-z_][A-Za-z0-9_]*)",
                self.key.escape_debug()
            ),
        }
    }
}

impl std::error::Error for UnrepresentableValue {}

/// A JSON string literal exactly as Go's `json.Marshal` writes it: `"` and
/// `\` escaped; `\b \f \n \r \t` short forms (Go 1.22+); other control
/// characters as `\u00xx` (lowercase hex); and, because `json.Marshal`
/// HTML-escapes by default, `<` `>` `&` as `\u003c` `\u003e` `\u0026` and
/// U+2028/U+2029 as `\u2028`/`\u2029`. Everything else is written raw.
pub fn go_json_string(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if c < ' ' || matches!(c, '<' | '>' | '&') => {
                let b = c as u8;
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_shellescape_matches_go_on_the_golden_values() {
        assert_eq!(go_shellescape(""), "''");
        assert_eq!(go_shellescape("latest"), "'latest'");
        assert_eq!(go_shellescape("*"), "'*'");
        assert_eq!(go_shellescape("22,15090,15021,15020"), "'22,15090,15021,15020'");
        assert_eq!(
            go_shellescape("istiod-rev-1.istio-system.svc:15012"),
            "'istiod-rev-1.istio-system.svc:15012'"
        );
    }

    #[test]
    fn go_shellescape_reproduces_the_raw_string_quirk() {
        // Only backslash, `w` and `@%+=:,./-` count as safe.
        assert_eq!(go_shellescape("w"), "w");
        assert_eq!(go_shellescape("www/w.w-w"), "www/w.w-w");
        assert_eq!(go_shellescape("@%+=:,./-"), "@%+=:,./-");
        assert_eq!(go_shellescape("\\"), "\\");
        assert_eq!(go_shellescape("w\\w"), "w\\w");
        // Any other letter, a digit or `_` forces quoting.
        assert_eq!(go_shellescape("a"), "'a'");
        assert_eq!(go_shellescape("1"), "'1'");
        assert_eq!(go_shellescape("_"), "'_'");
        assert_eq!(go_shellescape("W"), "'W'");
        assert_eq!(go_shellescape("é"), "'é'");
        assert_eq!(go_shellescape("it's"), "'it'\"'\"'s'");
    }

    #[test]
    fn quote_env_value_equals_go_without_backslash_and_quotes_with_one() {
        for s in ["", "latest", "w", "a b", "it's", "@%+=:,./-", "{\"a\":1}"] {
            assert_eq!(quote_env_value(s), go_shellescape(s), "{s:?}");
        }
        assert_eq!(quote_env_value("\\"), "'\\'");
        assert_eq!(quote_env_value("w\\w"), "'w\\w'");
        assert_eq!(quote_env_value("a\\b"), "'a\\b'");
    }

    #[test]
    fn posix_single_quote_always_quotes() {
        assert_eq!(posix_single_quote(""), "''");
        assert_eq!(posix_single_quote("w"), "'w'");
        assert_eq!(posix_single_quote("'"), "''\"'\"''");
        assert_eq!(posix_single_quote("a\nb"), "'a\nb'");
    }

    #[test]
    fn quote_unless_plain_keeps_the_legacy_values_bare() {
        assert_eq!(quote_unless_plain("10.63.240.0/20"), "10.63.240.0/20");
        assert_eq!(quote_unless_plain("istio-system"), "istio-system");
        assert_eq!(quote_unless_plain("MUTUAL_TLS"), "MUTUAL_TLS");
        assert_eq!(quote_unless_plain("3306,8080"), "3306,8080");
        assert_eq!(quote_unless_plain(""), "''");
        assert_eq!(quote_unless_plain("*"), "'*'");
        assert_eq!(quote_unless_plain("a b"), "'a b'");
        assert_eq!(quote_unless_plain("\\"), "'\\'");
        assert_eq!(quote_unless_plain("$(id)"), "'$(id)'");
        assert_eq!(quote_unless_plain("~root"), "'~root'");
    }

    #[test]
    fn env_line_rejects_what_cannot_be_sourced() {
        assert_eq!(
            env_line("K", "v", Quoting::IstioCompatible).as_deref(),
            Ok("K='v'")
        );
        assert_eq!(
            env_line("_k1", "v", Quoting::BareWhenPlain).as_deref(),
            Ok("_k1=v")
        );
        for key in ["", "1A", "A-B", "A B", "A;rm", "É"] {
            let err = env_line(key, "v", Quoting::IstioCompatible).unwrap_err();
            assert_eq!(err.kind, Unrepresentable::KeyNotAShellName, "{key:?}");
        }
        let err = env_line("K", "a\0b", Quoting::IstioCompatible).unwrap_err();
        assert_eq!(err.kind, Unrepresentable::NulInValue);
        assert!(err.to_string().contains("NUL"));
        // A newline is fine inside single quotes.
        assert_eq!(
            env_line("K", "a\nb", Quoting::IstioCompatible).as_deref(),
            Ok("K='a\nb'")
        );
    }

    #[test]
    fn go_json_string_escapes_like_encoding_json() {
        assert_eq!(go_json_string("foo"), r#""foo""#);
        assert_eq!(go_json_string(""), r#""""#);
        assert_eq!(go_json_string("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_json_string("<a&b>"), r#""\u003ca\u0026b\u003e""#);
        assert_eq!(
            go_json_string("\u{8}\u{c}\n\r\t\u{0}\u{1f}\u{7f}"),
            "\"\\b\\f\\n\\r\\t\\u0000\\u001f\u{7f}\""
        );
        assert_eq!(go_json_string("\u{2028}\u{2029}é"), "\"\\u2028\\u2029é\"");
    }
}
