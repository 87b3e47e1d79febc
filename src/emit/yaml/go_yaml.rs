//! go-yaml v2's choices, for the one file that must match what `istioctl`
//! writes byte for byte: `mesh.yaml` (`istioctl x workload entry
//! configure` prints a ProxyConfig with `sigs.k8s.io/yaml`, i.e. go-yaml
//! v2). The block writer ([`super::block`]) lays it out as it does every
//! other file; this module adds what differs:
//!
//! * **Key order** is go-yaml v2's "natural" order ([`natural_cmp`]), not
//!   byte order: `ISTIO_META_WORKLOAD_NAME` sorts before
//!   `ISTIO_METAJSON_LABELS` because `_` is a non-letter. [`Node`]'s maps
//!   are serialized in that order.
//! * **Scalar quoting** ([`scalar`]) follows go-yaml v2's choices where
//!   they are safe: `""` for empty; double quotes for anything a YAML
//!   resolver could read as a bool, null or number; single quotes for
//!   strings that cannot be plain (e.g. starting with `{`). It is
//!   deliberately *more* conservative than go-yaml in the cases listed on
//!   [`scalar`], so any value that is not provably a plain string is
//!   quoted. meshc's goal is that pilot-agent (go-yaml v2) and any YAML 1.1
//!   or 1.2 reader a reviewer uses all read back the same strings.

use std::cmp::Ordering;

use serde::ser::{Serialize, SerializeMap as _, SerializeSeq as _, Serializer};

/// A YAML value of the shapes go-yaml-compatible files use. Map entries are
/// serialized in [`natural_cmp`] order, so their order here does not
/// matter.
#[derive(Debug)]
pub enum Node {
    Str(String),
    Int(i64),
    Map(Vec<(String, Node)>),
    Seq(Vec<Node>),
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Str(s) => serializer.serialize_str(s),
            Node::Int(n) => serializer.serialize_i64(*n),
            Node::Map(entries) => {
                let mut sorted: Vec<&(String, Node)> = entries.iter().collect();
                natural_sort(&mut sorted, |e| e.0.as_str());
                let mut map = serializer.serialize_map(Some(sorted.len()))?;
                for (key, value) in sorted {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
            Node::Seq(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
        }
    }
}

/// Insertion sort by [`natural_cmp`]. go-yaml's comparison is not proven to
/// be a total order for every input (its digit-run rules have quirks), and
/// the standard library's sorts may panic on such a comparator; insertion
/// sort cannot, and is what Go's own sort does for up to 12 keys.
fn natural_sort<T>(items: &mut [T], key: impl Fn(&T) -> &str) {
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && natural_less(key(&items[j]), key(&items[j - 1])) {
            items.swap(j, j - 1);
            j -= 1;
        }
    }
}

/// go-yaml v2's map-key order for strings (`keyList.Less` in `sorter.go`,
/// go-yaml v2.4.0, which `sigs.k8s.io/yaml` vendors).
///
/// Strings are compared rune by rune from the first difference: two
/// letters compare by code point; a letter sorts *after* a non-letter; two
/// non-letters compare as the numbers formed by the digit runs starting
/// there (a run after a non-zero digit keeps that digit's weight, as in
/// Go), then by run length, then by code point. A proper prefix sorts
/// first.
///
/// Exact for ASCII. For other characters it approximates Go's
/// `unicode.IsLetter` with [`char::is_alphabetic`] and counts only ASCII
/// digits as digits; meshc's keys are env variable names and proto field
/// names, so this never matters in practice.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    if natural_less(a, b) {
        Ordering::Less
    } else if natural_less(b, a) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

fn natural_less(a: &str, b: &str) -> bool {
    // Keys are ASCII in practice: compare their bytes without collecting
    // characters (this runs a hundred times per mesh.yaml).
    if a.is_ascii() && b.is_ascii() {
        natural_less_in(a.as_bytes(), b.as_bytes(), char::from)
    } else {
        let ar: Vec<char> = a.chars().collect();
        let br: Vec<char> = b.chars().collect();
        natural_less_in(&ar, &br, |c| c)
    }
}

/// `natural_less` over two sequences of characters, bytes or `char`s.
fn natural_less_in<T: Copy + PartialEq>(ar: &[T], br: &[T], char_of: impl Fn(T) -> char) -> bool {
    for i in 0..ar.len().min(br.len()) {
        if ar[i] == br[i] {
            continue;
        }
        let (ac, bc) = (char_of(ar[i]), char_of(br[i]));
        let (al, bl) = (is_letter(ac), is_letter(bc));
        if al && bl {
            return ac < bc;
        }
        if al || bl {
            return bl;
        }
        // Both non-letters: compare the digit runs starting here. Go seeds
        // both numbers with 1 when a zero follows a non-zero digit of the
        // shared prefix, so "a10" vs "a1_" compares 10 with 1.
        let (mut an, mut bn) = (0i64, 0i64);
        if ac == '0' || bc == '0' {
            for prev in ar[..i]
                .iter()
                .rev()
                .map(|&c| char_of(c))
                .take_while(char::is_ascii_digit)
            {
                if prev != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let (ai, an) = digit_run(ar, i, an, &char_of);
        let (bi, bn) = digit_run(br, i, bn, &char_of);
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ac < bc;
    }
    ar.len() < br.len()
}

/// Where the run of ASCII digits starting at `start` ends, and `seed`
/// extended by its digits, wrapping on overflow as Go's `int64` does.
fn digit_run<T: Copy>(s: &[T], start: usize, seed: i64, char_of: impl Fn(T) -> char) -> (usize, i64) {
    let mut n = seed;
    let mut end = start;
    // `to_digit(10)` accepts only ASCII `0`-`9`.
    while let Some(d) = s.get(end).and_then(|&c| char_of(c).to_digit(10)) {
        n = n.wrapping_mul(10).wrapping_add(i64::from(d));
        end += 1;
    }
    (end, n)
}

fn is_letter(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphabetic()
    } else {
        c.is_alphabetic()
    }
}

/// One YAML scalar (a key or a string value) for block context.
///
/// Rules, first match wins:
/// 1. Empty: `""` (go-yaml: it would read back as null).
/// 2. Any line break (`\n`, `\r`, U+0085, U+2028, U+2029) or character
///    go-yaml deems non-printable (controls, tab, DEL, U+0080..U+009F,
///    U+FEFF, U+FFFE/U+FFFF, and everything above U+FFFF): double-quoted
///    with go-yaml's escapes. (go-yaml writes multi-line strings as `|`
///    blocks; meshc uses one double-quoted line, which reads back the same.)
/// 3. Could resolve to something other than a string: double-quoted. That
///    is go-yaml v2's word list (`y`, `Yes`, `on`, `OFF`, `null`, `~`,
///    `.inf`, `<<`, ...) and anything shaped like a YAML 1.1 or 1.2 number
///    or timestamp (`8080`, `-1`, `1.5`, `.5`, `1e3`, `0x1F`, `0o17`,
///    `1_000`, `12:30`, `2001-12-14`), a superset of go-yaml's resolver
///    that also takes `10.0.0.1` and `1.2.3`: the YAML 1.1 float pattern
///    `[0-9.]*` matches them, though go-yaml leaves them plain.
/// 4. Provably plain: starts with an ASCII letter, digit, `_` or `/`; only
///    ASCII letters, digits and `_./:@%+=,~-`; does not end with `:`.
///    Written as is.
/// 5. Otherwise single-quoted, `'` doubled. This covers indicator starts
///    (`{`, `[`, `*`, `&`, `!`, `|`, `>`, `'`, `"`, `%`, `@`, `` ` ``, `#`,
///    `-`, `?`, `:`, `,`), spaces, other punctuation and non-ASCII text,
///    some of which go-yaml would leave plain.
///
/// No line folding: go-yaml folds plain and quoted scalars containing
/// spaces past column 80; meshc never does (the value reads back the same).
/// Keys use the same rules; go-yaml would switch to `? key` form for keys
/// over 128 bytes, meshc does not.
pub fn scalar(s: &str) -> String {
    if s.is_empty() {
        return "\"\"".to_owned();
    }
    if s.chars().any(|c| is_break(c) || !is_go_yaml_printable(c)) {
        return double_quoted(s);
    }
    if resolves_to_non_string(s) {
        return double_quoted(s);
    }
    if is_plain_safe(s) {
        return s.to_owned();
    }
    single_quoted(s)
}

/// go-yaml v2's resolver words: bools (YAML 1.1), nulls, special floats and
/// the merge key.
const NON_STRING_WORDS: [&str; 39] = [
    "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "n", "N", "no", "No", "NO",
    "false", "False", "FALSE", "off", "Off", "OFF", "~", "null", "Null", "NULL", ".nan", ".NaN", ".NAN",
    ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", "<<",
];

fn resolves_to_non_string(s: &str) -> bool {
    NON_STRING_WORDS.contains(&s) || looks_numeric(s)
}

/// A generous superset of the YAML 1.1 and 1.2 int, float and timestamp
/// forms, and of what go-yaml v2's resolver accepts: an optional sign, then
/// `0x`/`0o`/`0b` digits, a timestamp-like `YYYY-…`, or a decimal mantissa
/// of digits, `_`, `.` and `:` (which also covers base 60 and the YAML 1.1
/// float pattern's `[0-9.]*`) with an optional `e[+-]digits` exponent.
fn looks_numeric(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    // Every form below starts with a digit or a dot: most strings are
    // settled here, without the lower-cased copy.
    if !body.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return false;
    }
    let lower = body.to_ascii_lowercase();
    let radix_digits = |prefix: &str, ok: fn(char) -> bool| {
        lower
            .strip_prefix(prefix)
            .map(|d| !d.is_empty() && d.chars().all(|c| ok(c) || c == '_'))
    };
    if let Some(result) = radix_digits("0x", |c| c.is_ascii_hexdigit())
        .or_else(|| radix_digits("0o", |c| matches!(c, '0'..='7')))
        .or_else(|| radix_digits("0b", |c| matches!(c, '0' | '1')))
    {
        return result;
    }
    looks_like_timestamp(body) || looks_decimal(body)
}

/// `YYYY-` followed only by characters a YAML timestamp can contain.
fn looks_like_timestamp(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() > 4
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && s[5..]
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | ':' | '.' | '+' | 't' | 'T' | 'Z' | ' ' | '\t'))
}

/// Digits, `_`, `.` and `:` with at least one digit, starting with a digit
/// or `.`, then optionally `e`/`E`, a sign and digits.
fn looks_decimal(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(at) => (&s[..at], Some(&s[at + 1..])),
        None => (s, None),
    };
    let mantissa_ok = mantissa.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && mantissa.chars().any(|c| c.is_ascii_digit())
        && mantissa
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '_' | '.' | ':'));
    let exponent_ok = exponent.is_none_or(|e| {
        let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

fn is_plain_safe(s: &str) -> bool {
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '/'));
    first_ok
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '_' | '.' | '/' | ':' | '@' | '%' | '+' | '=' | ',' | '~' | '-')
        })
        // `key:` at the end would read as a mapping indicator.
        && !s.ends_with(':')
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// go-yaml v2's `is_printable`: LF, printable ASCII, U+00A0..U+D7FF and
/// U+E000..U+FFFD except the BOM. Notably not tab, and nothing outside the
/// BMP.
fn is_go_yaml_printable(c: char) -> bool {
    matches!(c, '\n' | ' '..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}') && c != '\u{feff}'
}

fn single_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// go-yaml v2's double-quoted style: its named escapes, else `\xXX`,
/// `\uXXXX` or `\UXXXXXXXX` in uppercase hex for anything non-printable.
fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        let escape = match c {
            '\0' => "\\0",
            '\u{7}' => "\\a",
            '\u{8}' => "\\b",
            '\t' => "\\t",
            '\n' => "\\n",
            '\u{b}' => "\\v",
            '\u{c}' => "\\f",
            '\r' => "\\r",
            '\u{1b}' => "\\e",
            '"' => "\\\"",
            '\\' => "\\\\",
            '\u{85}' => "\\N",
            '\u{2028}' => "\\L",
            '\u{2029}' => "\\P",
            c if !is_go_yaml_printable(c) => {
                let v = u32::from(c);
                let hex = if v <= 0xff {
                    format!("\\x{v:02X}")
                } else if v <= 0xffff {
                    format!("\\u{v:04X}")
                } else {
                    format!("\\U{v:08X}")
                };
                out.push_str(&hex);
                continue;
            }
            c => {
                out.push(c);
                continue;
            }
        };
        out.push_str(escape);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(keys: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        natural_sort(&mut v, |s| s.as_str());
        v
    }

    /// The one writer in go-yaml mode: keys in natural order, keys and
    /// values quoted by [`scalar`], a sequence under its key unindented.
    #[test]
    fn documents_sort_naturally_and_quote_like_go_yaml() {
        let node = Node::Map(vec![
            ("b".to_owned(), Node::Str("-c".to_owned())),
            ("a10".to_owned(), Node::Int(1)),
            (
                "a9".to_owned(),
                Node::Seq(vec![Node::Str("on".to_owned()), Node::Map(vec![])]),
            ),
            (String::new(), Node::Str(String::new())),
        ]);
        assert_eq!(
            super::super::go_yaml_document(&node),
            "\"\": \"\"\na9:\n- \"on\"\n- {}\na10: 1\nb: '-c'\n"
        );
    }

    #[test]
    fn natural_order_puts_non_letters_before_letters() {
        assert_eq!(
            sorted(&[
                "ISTIO_METAJSON_LABELS",
                "ISTIO_META_WORKLOAD_NAME",
                "ISTIO_META_CLUSTER_ID"
            ]),
            [
                "ISTIO_META_CLUSTER_ID",
                "ISTIO_META_WORKLOAD_NAME",
                "ISTIO_METAJSON_LABELS"
            ]
        );
        assert_eq!(natural_cmp("a_", "aa"), Ordering::Less);
        assert_eq!(natural_cmp("B", "a"), Ordering::Less);
        assert_eq!(natural_cmp("a", "ab"), Ordering::Less);
        assert_eq!(natural_cmp("same", "same"), Ordering::Equal);
    }

    #[test]
    fn natural_order_compares_digit_runs_as_numbers() {
        assert_eq!(sorted(&["a10", "a9", "a1", "a100"]), ["a1", "a9", "a10", "a100"]);
        // Same value: the shorter run first ("01" after "1").
        assert_eq!(natural_cmp("a1", "a01"), Ordering::Less);
        // A non-letter other than a digit counts as the number 0.
        assert_eq!(natural_cmp("a_", "a1"), Ordering::Less);
        assert_eq!(natural_cmp("a-", "a_"), Ordering::Less);
        // The Go quirk: after a non-zero digit, "10" vs "1_" compares 10 and 1.
        assert_eq!(natural_cmp("a1_", "a10"), Ordering::Less);
        // Long runs wrap like Go's int64 instead of panicking.
        let long = "9".repeat(40);
        let _ = natural_cmp(&long, "1");
    }

    #[test]
    fn scalars_quote_like_go_yaml_on_the_golden_values() {
        assert_eq!(scalar("latest"), "latest");
        assert_eq!(scalar("Kubernetes"), "Kubernetes");
        assert_eq!(scalar("vm-serviceaccount"), "vm-serviceaccount");
        assert_eq!(
            scalar("istiod-rev-1.istio-system.svc:15012"),
            "istiod-rev-1.istio-system.svc:15012"
        );
        assert_eq!(scalar(""), "\"\"");
        assert_eq!(scalar("true"), "\"true\"");
        assert_eq!(
            scalar(r#"{"service.istio.io/canonical-name":"foo"}"#),
            r#"'{"service.istio.io/canonical-name":"foo"}'"#
        );
    }

    #[test]
    fn scalars_double_quote_everything_resolvable() {
        for s in [
            "y",
            "N",
            "yes",
            "Off",
            "ON",
            "null",
            "~",
            "8080",
            "-1",
            "+1",
            "1.5",
            ".5",
            "1e3",
            "0x1F",
            "0o17",
            "0755",
            "1_000",
            "12:30",
            "2001-12-14",
            "2001-12-14t21:59:43.10-05:00",
            ".inf",
            "-.Inf",
            ".NaN",
            "10.0.0.1",
            "1.2.3",
            "<<",
        ] {
            assert!(scalar(s).starts_with('"'), "{s:?} -> {}", scalar(s));
        }
    }

    #[test]
    fn scalars_keep_plain_what_is_plainly_a_string() {
        for s in [
            "foo",
            "fd00:10:96::1",
            "http://x/y",
            "a,b",
            "22,15090",
            "v1.2",
            "3scale",
            "a~b",
            "_x",
            "/usr/bin",
            "yess",
            "nullable",
        ] {
            assert_eq!(scalar(s), s);
        }
    }

    #[test]
    fn scalars_single_quote_indicators_and_spaces() {
        assert_eq!(scalar("[a]"), "'[a]'");
        assert_eq!(scalar("*ref"), "'*ref'");
        assert_eq!(scalar("- a"), "'- a'");
        assert_eq!(scalar("-foo"), "'-foo'");
        assert_eq!(scalar("key:"), "'key:'");
        assert_eq!(scalar("a: b"), "'a: b'");
        assert_eq!(scalar("a #b"), "'a #b'");
        assert_eq!(scalar(" lead"), "' lead'");
        assert_eq!(scalar("it's"), "'it''s'");
        assert_eq!(scalar("="), "'='");
        assert_eq!(scalar("café"), "'café'");
    }

    #[test]
    fn scalars_escape_non_printables_like_go_yaml() {
        assert_eq!(scalar("a\nb"), "\"a\\nb\"");
        assert_eq!(scalar("a\tb"), "\"a\\tb\"");
        assert_eq!(scalar("\0\u{7f}\u{85}"), "\"\\0\\x7F\\N\"");
        assert_eq!(scalar("\u{feff}\u{1f600}"), "\"\\uFEFF\\U0001F600\"");
        assert_eq!(scalar("q\"\\\t"), "\"q\\\"\\\\\\t\"");
    }
}
