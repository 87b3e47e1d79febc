//! The fast KDL parser (`meshc::syntax::kdl_v2`) against two references: KDL
//! 2.0's official test suite, and the `kdl` crate, which `meshc fmt` keeps
//! using and whose tree (converted as `src/syntax/kdl.rs` converts it) is
//! what lowering has always seen.
//!
//! - Official cases: accepted exactly when the suite says so; the tree
//!   equals the one of the suite's expected output, and the `kdl` crate's
//!   tree, spans included.
//! - Every `.kdl` file under `examples/` and `tests/`: the same verdict and
//!   tree, spans included, as the `kdl` crate; where the only problems are
//!   unquoted addresses, the recovered tree is the `kdl` crate's tree of the
//!   text with those addresses quoted.
//! - Generated documents and mutated fixtures (seeded, so every run tests
//!   the same few thousand cases): never a panic, and agreement with the
//!   `kdl` crate.
//!
//! Where `kdl` 6.7.1 departs from KDL 2.0 (the official suite, or the
//! spec's grammar where the suite is silent), the fast parser follows KDL
//! 2.0: `KDL_CRATE_DEVIATIONS` lists those behaviours, and the fuzz loop
//! accepts a disagreement only when avoiding them makes it disappear.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use meshc::source::Span;
use meshc::syntax::kdl_v2::{self, ErrorKind};
use meshc::syntax::{Document, Entry, Ident, Limits, Node, Value};

/// Limits that never bite: the differential compares languages, not limits
/// (the fixture nested past the default limit must still parse).
const NO_LIMITS: Limits = Limits {
    max_depth: 200,
    max_nodes: usize::MAX,
};

/// A behaviour of `kdl` 6.7.1 that departs from KDL 2.0 (the official
/// case that shows it, if any), and a rewrite of an input that avoids it.
/// A fuzz case on which the parsers disagree is explained by deviations
/// when, after the rewrites of all of them, they agree.
struct Deviation {
    what: &'static str,
    official_case: &'static str,
    avoid: fn(&str) -> String,
}

const KDL_CRATE_DEVIATIONS: &[Deviation] = &[
    Deviation {
        what: "accepts disallowed literal code points (text-direction controls, U+FEFF) in comments, \
               which the spec forbids anywhere in a document",
        official_case: "",
        avoid: |t| {
            t.chars()
                .filter(|c| !matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}'))
                .collect()
        },
    },
    Deviation {
        what: "accepts C0 control characters other than whitespace (U+0001–U+0008, U+000E–U+001F) in \
               comments, which the spec forbids anywhere in a document",
        official_case: "",
        avoid: |t| {
            t.chars()
                .filter(|c| !matches!(c, '\u{1}'..='\u{8}' | '\u{e}'..='\u{1f}'))
                .collect()
        },
    },
    Deviation {
        what: "accepts U+007F (delete), a disallowed literal code point",
        official_case: "unicode_delete_fail.kdl",
        avoid: |t| t.replace('\u{7f}', ""),
    },
    Deviation {
        what: "accepts `#\"\"\"text\"\"\"#`, a single-line raw string opened with three quotes",
        official_case: "multiline_raw_string_single_line_err_fail.kdl",
        avoid: |t| {
            // `#"""` with no newline after it becomes `#"`, until none is left.
            let mut text = t.to_owned();
            while let Some(i) = text.match_indices("#\"\"\"").map(|(i, _)| i).find(|&i| {
                !text[i + 4..].starts_with(['\n', '\r', '\u{85}', '\u{b}', '\u{c}', '\u{2028}', '\u{2029}'])
            }) {
                text.replace_range(i + 2..i + 4, "");
            }
            text
        },
    },
    Deviation {
        what: "rejects a multi-line raw string whose value is one `\"` (it applies a single-line rule)",
        official_case: "",
        avoid: |t| {
            let lines = t.split('\n').map(|l| {
                if l.trim() == "\"" {
                    l.replace('"', "'")
                } else {
                    l.to_owned()
                }
            });
            lines.collect::<Vec<_>>().join("\n")
        },
    },
    Deviation {
        what: "accepts the radix prefixes `0X`, `0O` and `0B` (spec `hex := sign? '0x' …`, lower case)",
        official_case: "",
        avoid: |t| t.replace("0X", "0x").replace("0O", "0o").replace("0B", "0b"),
    },
    Deviation {
        what: "rejects a decimal whose integer part, fraction or exponent overflows an i128 when read \
               as an integer (`1e400000000000000000000000000000000000000`): spec `decimal` sets no \
               limit, and such a float is ±inf or rounded",
        official_case: "",
        avoid: |t| {
            // Cut every run of digits and `_` to 30 characters.
            let mut run = 0;
            t.chars()
                .filter(|&c| {
                    run = if c.is_ascii_digit() || c == '_' {
                        run + 1
                    } else {
                        0
                    };
                    run <= 30
                })
                .collect()
        },
    },
    Deviation {
        what: "treats a slashdashed node as whitespace, not as a node that needs a terminator: \
               rejects `/-a; b` and accepts `x {a}/-y` and `/-a {}b` (spec `node := base-node \
               node-terminator`, `base-node := slashdash? …`); and rejects a slashdash right after \
               a value or a block (`node \"a\"/-1`, `node {}/-{}`)",
        official_case: "zero_space_before_slashdash_arg.kdl",
        avoid: |t| t.replace("/-", ""),
    },
];

/// The official cases covered by `KDL_CRATE_DEVIATIONS`.
const KDL_CRATE_WRONG_CASES: &[&str] = &[
    "multiline_raw_string_single_line_err_fail.kdl",
    "unicode_delete_fail.kdl",
    "zero_space_before_slashdash_arg.kdl",
    "zero_space_before_slashdash_children.kdl",
    "zero_space_before_slashdash_prop.kdl",
];

// ---------------------------------------------------------------------------
// The reference: the `kdl` crate's tree, converted like src/syntax/kdl.rs.

/// How deeply `text` could nest, counting every brace (even in strings).
fn brace_depth(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0);
    for b in text.bytes() {
        match b {
            b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Beyond this many braces the `kdl` crate is not run: it recurses too
/// deeply (which is why its front end pre-scans the depth). The hostile
/// fixtures nested 10,000 deep are checked for never crashing the fast
/// parser only.
const KDL_CRATE_MAX_BRACES: usize = 1000;

/// Parses with the `kdl` crate; `None` if it rejects the text (or panics,
/// which counts as rejecting).
fn kdl_tree(text: &str) -> Option<Document<'static>> {
    let text = text.to_owned();
    // The crate's parser recurses deeply per nesting level (the front end
    // guards it with the depth pre-scan); a big stack lets it see every case.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let doc = text.parse::<kdl::KdlDocument>().ok()?;
            Some(Document {
                nodes: doc.nodes().iter().map(|n| kdl_node(n, &text)).collect(),
            })
        })
        .unwrap()
        .join()
        .ok()
        .flatten()
}

fn kdl_span(s: miette::SourceSpan) -> Span {
    Span::new(s.offset(), s.offset() + s.len())
}

fn kdl_node(node: &kdl::KdlNode, text: &str) -> Node<'static> {
    Node {
        name: Ident {
            text: node.name().value().to_owned().into(),
            span: kdl_span(node.name().span()),
        },
        entries: node.entries().iter().map(|e| kdl_entry(e, text)).collect(),
        children: node
            .children()
            .map(|d| d.nodes().iter().map(|n| kdl_node(n, text)).collect())
            .unwrap_or_default(),
        span: kdl_span(node.span()),
    }
}

/// As `Converter::entry` in src/syntax/kdl.rs: the span of the value alone.
fn kdl_entry(entry: &kdl::KdlEntry, text: &str) -> Entry<'static> {
    let whole = kdl_span(entry.span());
    let mut start = whole.start;
    if let Some(k) = entry.name() {
        let after_key = kdl_span(k.span()).end;
        if let Some(rest) = text.get(after_key..whole.end) {
            let eq = rest.find('=').map_or(0, |p| p + 1);
            let ws = rest[eq..].len() - rest[eq..].trim_start().len();
            start = after_key + eq + ws;
        }
    } else if let Some(rest) = text.get(start..whole.end) {
        start += rest.len() - rest.trim_start().len();
    }
    Entry {
        key: entry.name().map(|k| Ident {
            text: k.value().to_owned().into(),
            span: kdl_span(k.span()),
        }),
        value: match entry.value() {
            kdl::KdlValue::String(s) => Value::String(s.clone().into()),
            kdl::KdlValue::Integer(i) => Value::Integer(*i),
            kdl::KdlValue::Float(f) => Value::Float(*f),
            kdl::KdlValue::Bool(b) => Value::Bool(*b),
            kdl::KdlValue::Null => Value::Null,
        },
        span: Span::new(start, whole.end.max(start)),
    }
}

// ---------------------------------------------------------------------------
// Comparison.

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        _ => a == b,
    }
}

/// The first difference between two trees, if any. Spans are compared when
/// `spans` is set.
fn tree_diff(a: &[Node], b: &[Node], spans: bool) -> Option<String> {
    if a.len() != b.len() {
        return Some(format!("{} nodes vs {}", a.len(), b.len()));
    }
    for (x, y) in a.iter().zip(b) {
        let here = format!("node `{}`", x.name.text);
        if x.name.text != y.name.text {
            return Some(format!("name {:?} vs {:?}", x.name.text, y.name.text));
        }
        if spans && (x.span != y.span || x.name.span != y.name.span) {
            return Some(format!(
                "{here}: span {:?} name {:?} vs span {:?} name {:?}",
                x.span, x.name.span, y.span, y.name.span
            ));
        }
        if x.entries.len() != y.entries.len() {
            return Some(format!("{here}: {:?} vs {:?}", x.entries, y.entries));
        }
        for (e, f) in x.entries.iter().zip(&y.entries) {
            let keys = e.key.as_ref().map(|k| &k.text) == f.key.as_ref().map(|k| &k.text);
            let key_spans = e.key.as_ref().map(|k| k.span) == f.key.as_ref().map(|k| k.span);
            if !keys || !same_value(&e.value, &f.value) || (spans && (e.span != f.span || !key_spans)) {
                return Some(format!("{here}: entry {e:?} vs {f:?}"));
            }
        }
        if let Some(d) = tree_diff(&x.children, &y.children, spans) {
            return Some(format!("{here} > {d}"));
        }
    }
    None
}

/// KDL's data model (spec "Property"): arguments in order, properties
/// unordered with the last of a key winning. The official expected outputs
/// are written in it.
#[derive(Debug)]
struct Canonical {
    name: String,
    args: Vec<Value<'static>>,
    props: BTreeMap<String, Value<'static>>,
    children: Vec<Canonical>,
}

fn canonical(nodes: &[Node<'_>]) -> Vec<Canonical> {
    nodes
        .iter()
        .map(|n| Canonical {
            name: n.name.text.to_string(),
            args: n.args().map(|e| e.value.clone().into_owned()).collect(),
            props: n
                .props()
                .filter_map(|e| Some((e.key.as_ref()?.text.to_string(), e.value.clone().into_owned())))
                .collect(),
            children: canonical(&n.children),
        })
        .collect()
}

fn same_canonical(a: &[Canonical], b: &[Canonical]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.name == y.name
                && x.args.len() == y.args.len()
                && x.args.iter().zip(&y.args).all(|(v, w)| same_value(v, w))
                && x.props.len() == y.props.len()
                && x.props
                    .iter()
                    .zip(&y.props)
                    .all(|((k, v), (l, w))| k == l && same_value(v, w))
                && same_canonical(&x.children, &y.children)
        })
}

/// How the fast parser and the `kdl` crate disagree on `text`, if they do.
fn disagreement(text: &str) -> Option<String> {
    let fast = kdl_v2::parse(text, NO_LIMITS);
    if brace_depth(text) > KDL_CRATE_MAX_BRACES {
        return None;
    }
    let reference = kdl_tree(text);
    match (&fast, &reference) {
        (Ok(a), Some(b)) => tree_diff(&a.nodes, &b.nodes, true),
        (Err(_), None) => None,
        (Ok(_), None) => Some("fast accepts, kdl rejects".to_owned()),
        (Err(errors), Some(_)) => Some(format!("fast rejects, kdl accepts: {errors:?}")),
    }
}

/// The deviations that explain a disagreement on `text`: avoiding those
/// that apply makes the parsers agree. `None` if nothing explains it.
fn explanation(text: &str) -> Option<Vec<&'static str>> {
    let mut avoided = text.to_owned();
    let mut used = Vec::new();
    for dev in KDL_CRATE_DEVIATIONS {
        let next = (dev.avoid)(&avoided);
        if next != avoided {
            used.push(dev.what);
            avoided = next;
        }
    }
    (!used.is_empty() && disagreement(&avoided).is_none()).then_some(used)
}

fn kdl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            kdl_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "kdl") {
            out.push(path);
        }
    }
}

fn official_cases() -> Option<(PathBuf, Vec<String>)> {
    let dir = crate::support::reference_dir()?.join("kdl/tests/test_cases");
    let mut names: Vec<String> = std::fs::read_dir(dir.join("input"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".kdl"))
        .collect();
    names.sort();
    Some((dir, names))
}

fn project_fixtures() -> Vec<(String, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    kdl_files(&root.join("examples"), &mut files);
    kdl_files(&root.join("tests"), &mut files);
    files.sort();
    assert!(!files.is_empty(), "no .kdl files under examples/ and tests/");
    files
        .iter()
        .map(|f| {
            let bytes = std::fs::read(f).unwrap();
            let name = f.strip_prefix(&root).unwrap_or(f).display().to_string();
            (name, String::from_utf8_lossy(&bytes).into_owned())
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The tests.

#[test]
fn official_test_suite() {
    let Some((dir, names)) = official_cases() else {
        return;
    };
    let mut failures = Vec::new();
    let mut kdl_wrong = Vec::new();
    for name in &names {
        let input = std::fs::read_to_string(dir.join("input").join(name)).unwrap();
        let expected = std::fs::read_to_string(dir.join("expected_kdl").join(name)).ok();
        let fast = kdl_v2::parse(&input, NO_LIMITS);
        match (&fast, &expected) {
            (Ok(_), None) => failures.push(format!("{name}: accepted, but the suite says it must fail")),
            (Err(e), Some(_)) => failures.push(format!("{name}: rejected: {e:?}")),
            (Ok(doc), Some(expected)) => match kdl_v2::parse(expected, NO_LIMITS) {
                Ok(exp) if same_canonical(&canonical(&doc.nodes), &canonical(&exp.nodes)) => {}
                Ok(exp) => failures.push(format!(
                    "{name}: tree {:?}\n  expected {:?}",
                    canonical(&doc.nodes),
                    canonical(&exp.nodes)
                )),
                Err(e) => failures.push(format!("{name}: the expected output is rejected: {e:?}")),
            },
            (Err(_), None) => {}
        }
        let reference = kdl_tree(&input);
        let agree = match (&fast, &reference) {
            (Ok(a), Some(b)) => match tree_diff(&a.nodes, &b.nodes, true) {
                None => true,
                Some(d) => {
                    failures.push(format!("{name}: differs from the kdl crate: {d}"));
                    true
                }
            },
            (Err(_), None) => true,
            _ => false,
        };
        if !agree {
            kdl_wrong.push(name.as_str());
        }
    }
    // The `kdl` crate disagrees with the suite on exactly the known cases; if
    // it is fixed, the list (and `KDL_CRATE_DEVIATIONS`) must shrink.
    assert_eq!(
        kdl_wrong, KDL_CRATE_WRONG_CASES,
        "cases where the kdl crate disagrees"
    );
    for d in KDL_CRATE_DEVIATIONS {
        if !d.official_case.is_empty() {
            let input = std::fs::read_to_string(dir.join("input").join(d.official_case)).unwrap();
            let avoided = (d.avoid)(&input);
            assert!(
                disagreement(&input).is_some() && disagreement(&avoided).is_none(),
                "{}",
                d.what
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} official cases fail:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n")
    );
}

#[test]
fn project_kdl_files_parse_as_the_kdl_crate_parses_them() {
    let mut failures = Vec::new();
    for (name, text) in project_fixtures() {
        if let Some(d) = disagreement(&text) {
            match explanation(&text) {
                Some(used) => eprintln!("{name}: the kdl crate disagrees, as expected: {used:?}"),
                None => failures.push(format!("{name}: {d}")),
            }
        }
        // Recovery: a file whose only problems are unquoted addresses keeps
        // its tree, and that tree is the one of the text with them quoted.
        let (doc, errors) = kdl_v2::parse_recovering(&text, NO_LIMITS);
        if let Some(doc) = doc
            && !errors.is_empty()
        {
            let spans: Vec<Span> = errors.iter().map(|e| e.span).collect();
            assert!(errors.iter().all(|e| e.kind == ErrorKind::UnquotedAddress));
            let (patched, back) = quote(&text, &spans);
            if brace_depth(&patched) > KDL_CRATE_MAX_BRACES {
                continue;
            }
            match kdl_tree(&patched) {
                Some(mut reference) => {
                    remap(&mut reference.nodes, &back);
                    if let Some(d) = tree_diff(&doc.nodes, &reference.nodes, true) {
                        failures.push(format!("{name} (recovered): {d}"));
                    }
                }
                None => failures.push(format!("{name}: recovered, but the quoted text is not KDL")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `text` with each span wrapped in quotes, and a map from offsets in the
/// result back to `text`.
fn quote(text: &str, spans: &[Span]) -> (String, impl Fn(usize) -> usize) {
    let mut out = String::new();
    let mut inserted = Vec::new();
    let mut last = 0;
    for s in spans {
        out.push_str(&text[last..s.start]);
        inserted.push(out.len());
        write!(out, "\"{}", &text[s.start..s.end]).unwrap();
        inserted.push(out.len());
        out.push('"');
        last = s.end;
    }
    out.push_str(&text[last..]);
    (out, move |p: usize| p - inserted.partition_point(|&q| q < p))
}

fn remap(nodes: &mut [Node], back: &impl Fn(usize) -> usize) {
    let span = |s: Span| Span::new(back(s.start), back(s.end));
    for n in nodes {
        n.span = span(n.span);
        n.name.span = span(n.name.span);
        for e in &mut n.entries {
            e.span = span(e.span);
            if let Some(k) = &mut e.key {
                k.span = span(k.span);
            }
        }
        remap(&mut n.children, back);
    }
}

// ---------------------------------------------------------------------------
// Generated and mutated documents.

/// splitmix64: a small deterministic stream, so every run tests the same
/// cases and a failure names a reproducible input.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const NAMES: &[&str] = &[
    "service",
    "vm",
    "cluster",
    "mesh",
    "port",
    "deploy",
    "calls",
    "route",
    "network",
    "a-b",
    "x_y",
    "é",
    "-",
    "--flag",
    ".md",
    "+.x",
    "\"quoted name\"",
    "\"\"",
    "#\"raw\"#",
    "##\"ra\"#w\"##",
    "-inf",
    "ratings.v2",
];

const VALUES: &[&str] = &[
    "1",
    "-1",
    "+7",
    "0",
    "1_000",
    "1.5",
    "-0.25",
    "1e3",
    "1.5E-3",
    "2.5e+10",
    "0x1F",
    "-0xff_ff",
    "0o17",
    "0b1010",
    "#true",
    "#false",
    "#null",
    "#inf",
    "#-inf",
    "#nan",
    "\"text\"",
    "\"a\\nb\\t\\\"c\\\\\"",
    "\"\\u{1F600}\\s\"",
    "\"\\   spaced\"",
    "#\"C:\\path\"#",
    "bare",
    "cluster.local",
    "root@host",
    "\"10.0.0.1\"",
    "\"\"\"\n  two\n   lines\n  \"\"\"",
    "#\"\"\"\n  raw \"\"\" lines\n  \"\"\"#",
    "170141183460469231731687303715884105727",
    "(u8)42",
    "(\"t\")x",
    "( t )1.0",
    "\"é ü\"",
];

const SPACES: &[&str] = &[
    " ",
    "  ",
    "\t",
    " /* c */ ",
    " \\\n  ",
    " \\ // c\n ",
    "\u{3000}",
    " /*/**/*/ ",
];

fn generated(rng: &mut Rng, depth: usize, out: &mut String) {
    for _ in 0..rng.below(if depth == 0 { 6 } else { 4 }) + usize::from(depth == 0) {
        let indent = "    ".repeat(depth);
        out.push_str(&indent);
        let commented = rng.chance(8);
        if commented {
            out.push_str("/-");
            out.push_str(rng.pick(&["", " ", "\n"]));
        }
        if rng.chance(5) {
            out.push_str("(type)");
        }
        out.push_str(rng.pick(NAMES));
        for _ in 0..rng.below(4) {
            out.push_str(rng.pick(SPACES));
            if rng.chance(8) {
                out.push_str("/-");
            }
            if rng.chance(35) {
                out.push_str(rng.pick(NAMES));
                out.push_str(rng.pick(&["=", "=", " = "]));
            }
            out.push_str(rng.pick(VALUES));
        }
        if depth < 3 && rng.chance(30) {
            if rng.chance(10) {
                out.push_str(" /-{ x }");
            }
            out.push_str(" {\n");
            generated(rng, depth + 1, out);
            out.push_str(&indent);
            out.push('}');
        }
        // A slashdashed node ended by `;` is a known kdl-crate deviation.
        let ends = if commented {
            &["\n", "\r\n", " // comment\n"][..]
        } else {
            &["\n", "\n", "\n", ";", "; ", "\r\n", "\n\n", " // comment\n"]
        };
        out.push_str(rng.pick(ends));
    }
}

/// Bytes that matter to KDL, for mutations to insert.
const SIGNIFICANT: &[&str] = &[
    "\"",
    "#",
    "{",
    "}",
    "(",
    ")",
    ";",
    "=",
    "/",
    "-",
    "*",
    "\\",
    "\n",
    " ",
    ".",
    "_",
    "0",
    "1",
    "e",
    "x",
    "\"\"\"",
    "/-",
    "//",
    "/*",
    "*/",
    "#\"",
    "\"#",
    "\r",
    "\u{85}",
    "\u{2028}",
    "\u{feff}",
    "\u{7f}",
    "\u{1}",
    "\u{200e}",
    "é",
    "\t",
    "X",
    "1234567890123456789012345678901234567890",
];

/// Tokens for short random sequences, which reach the corners of the
/// grammar that realistic documents never visit. Slashdashes are left out:
/// the generated documents test them where KDL 2.0 and the `kdl` crate
/// agree.
const TOKENS: &[&str] = &[
    "a",
    "b",
    "x=",
    "\"k\"=",
    "\"s\"",
    "1",
    "1.5",
    "-1",
    "+1",
    "0x1",
    "0b1",
    "0o7",
    "1e1",
    "1_0",
    ".5",
    "-.",
    "1.",
    "1e",
    "0x",
    "-",
    "+",
    ".",
    "e",
    "_",
    "inf",
    "-inf",
    "true",
    "#true",
    "#-inf",
    "#",
    "{",
    "}",
    "{a}",
    ";",
    "\n",
    "\r\n",
    "\r",
    " ",
    " ",
    "\t",
    "\u{a0}",
    "\u{85}",
    "\u{b}",
    "\u{c}",
    "\u{2028}",
    "=",
    "(t)",
    "(",
    ")",
    "[",
    "]",
    ",",
    "@",
    "é",
    "\\",
    "\\\n",
    "//c\n",
    "//",
    "/*c*/",
    "/*",
    "*/",
    "#\"r\"#",
    "##\"r\"##",
    "#\"",
    "\"#",
    "\"",
    "\"\"\"\n x\n \"\"\"",
    "\"\"\"\n",
    "\n \"\"\"",
    "#\"\"\"\n x\n \"\"\"#",
    "\"\\u{41}\"",
    "\"\\ \"",
    "\"\\\n\"",
    "\"\\q\"",
    "\u{feff}",
    "0X1",
    "0B1",
    "0O7",
    "1234567890123456789012345678901234567890",
];

fn mutated(rng: &mut Rng, text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    // Work on a window of a few lines so the `kdl` crate stays quick.
    if bytes.len() > 400 {
        let start = rng.below(bytes.len() - 300);
        let start = bytes[..start]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        let end = (start + 300).min(bytes.len());
        bytes = bytes[start..end].to_vec();
    }
    for _ in 0..rng.below(3) + 1 {
        let at = rng.below(bytes.len() + 1);
        match rng.below(4) {
            0 => {
                let s = rng.pick(SIGNIFICANT);
                bytes.splice(at..at, s.bytes());
            }
            1 if at < bytes.len() => {
                let n = rng.below(4) + 1;
                bytes.drain(at..(at + n).min(bytes.len()));
            }
            2 if at < bytes.len() => bytes[at] = rng.pick(SIGNIFICANT).as_bytes()[0],
            _ => {
                let n = rng.below(20);
                let chunk: Vec<u8> = bytes[at..(at + n).min(bytes.len())].to_vec();
                bytes.splice(at..at, chunk);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

const GENERATED: usize = 1000;

#[test]
fn generated_and_mutated_documents_agree_with_the_kdl_crate() {
    let mut rng = Rng(0x006d_6573_6863);
    let mut corpus: Vec<String> = project_fixtures().into_iter().map(|(_, t)| t).collect();
    if let Some((dir, names)) = official_cases() {
        corpus.extend(
            names
                .iter()
                .map(|n| std::fs::read_to_string(dir.join("input").join(n)).unwrap()),
        );
    }
    let mut cases = Vec::new();
    for _ in 0..GENERATED {
        let mut doc = String::new();
        generated(&mut rng, 0, &mut doc);
        cases.push(doc);
    }
    for _ in 0..1500 {
        let base = &corpus[rng.below(corpus.len())];
        cases.push(mutated(&mut rng, base));
    }
    for _ in 0..4000 {
        let tokens: Vec<&str> = (0..rng.below(8) + 1).map(|_| rng.pick(TOKENS)).collect();
        cases.push(tokens.concat());
    }
    let mut failures = Vec::new();
    let mut explained: BTreeMap<&str, usize> = BTreeMap::new();
    let mut accepted = 0;
    for (i, case) in cases.iter().enumerate() {
        // Every case also runs with tight limits, which must fail cleanly.
        let _ = kdl_v2::parse(
            case,
            Limits {
                max_depth: 1,
                max_nodes: 3,
            },
        );
        let Some(d) = disagreement(case) else {
            accepted += usize::from(kdl_v2::parse(case, NO_LIMITS).is_ok());
            continue;
        };
        // Generated documents avoid the known deviations: they must agree.
        match explanation(case) {
            Some(used) if i >= GENERATED => {
                for what in used {
                    *explained.entry(what).or_default() += 1;
                }
            }
            _ => failures.push(format!("{case:?}\n  {d}")),
        }
    }
    eprintln!(
        "{} cases, {accepted} valid; disagreements explained by known kdl-crate deviations: {explained:?}",
        cases.len()
    );
    assert!(
        accepted > cases.len() / 5,
        "the generator makes too few valid documents"
    );
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
