//! `meshc fmt` loses no word: over hand-written fixtures (one per comment
//! position, `tests/fmt/`, with their formatted text as snapshots), over
//! every real topology of the repository, and over generated documents
//! with comments in every position, formatting
//! - keeps the multiset of comment texts, and every `/-`,
//! - parses to the same document, and lowers to the same model,
//! - is idempotent.
//!
//! Comments are found here by a scanner of this file's own (it knows
//! strings and nothing else of KDL), not by the formatter's tree, so a
//! comment the formatter's parser skipped would be caught.

use std::path::{Path, PathBuf};

use meshc::source::Source;
use meshc::syntax::format::format_kdl;
use meshc::syntax::{Limits, Syntax};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};

use crate::cli::meshc_in;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fmt(name: &str, text: &str) -> Result<String, String> {
    format_kdl(&Source::new(name, text.to_owned())).map_err(|d| format!("{d:?}"))
}

/// The comments of a KDL text (a `//` one without its newline and trailing
/// spaces, a `/* */` one with its nested ones), and the number of `/-`.
fn comments_and_slashdashes(text: &str) -> (Vec<String>, usize) {
    let b = text.as_bytes();
    let at = |i: usize, s: &str| b[i..].starts_with(s.as_bytes());
    let newline = |i: usize| {
        matches!(b[i], b'\n' | b'\r' | 0x0B | 0x0C)
            || text[i..].starts_with(['\u{85}', '\u{2028}', '\u{2029}'])
    };
    let (mut comments, mut slashdashes, mut i) = (Vec::new(), 0, 0);
    while i < b.len() {
        if at(i, "//") {
            let start = i;
            while i < b.len() && !(text.is_char_boundary(i) && newline(i)) {
                i += 1;
            }
            comments.push(text[start..i].trim_end_matches([' ', '\t']).to_owned());
        } else if at(i, "/*") {
            let (start, mut depth) = (i, 0);
            while i < b.len() {
                if at(i, "/*") {
                    depth += 1;
                    i += 2;
                } else if at(i, "*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            comments.push(text[start..i].to_owned());
        } else if at(i, "/-") {
            slashdashes += 1;
            i += 2;
        } else if b[i] == b'#' && b[i..].iter().find(|&&c| c != b'#') == Some(&b'"') {
            let hashes = b[i..].iter().take_while(|&&c| c == b'#').count();
            let quotes = if at(i + hashes, "\"\"\"") { "\"\"\"" } else { "\"" };
            let close = format!("{quotes}{}", "#".repeat(hashes));
            i += hashes + quotes.len();
            while i < b.len() && !at(i, &close) {
                i += 1;
            }
            i += close.len();
        } else if b[i] == b'"' {
            let quotes = if at(i, "\"\"\"") { "\"\"\"" } else { "\"" };
            i += quotes.len();
            while i < b.len() && !at(i, quotes) {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += quotes.len();
        } else {
            i += 1;
        }
    }
    comments.sort();
    (comments, slashdashes)
}

/// A debug form with every byte offset left out.
fn without_spans(debug: &str) -> String {
    debug
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            !(t.starts_with("start: ") || t.starts_with("end: "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What `text` parses to, and what it lowers to with which findings,
/// spans left out.
fn meaning(text: &str) -> Option<(String, String)> {
    let source = Source::new("t.kdl", text.to_owned());
    let (doc, diags) = meshc::syntax::parse(&source, Syntax::Kdl, Limits::default());
    let doc = doc.filter(|_| diags.is_empty())?;
    let (topology, diags) = meshc::lower::lower(&doc);
    let findings: Vec<String> = diags
        .iter()
        .map(|d| format!("{} {}", d.code.code, d.message))
        .collect();
    Some((
        without_spans(&format!("{doc:#?}")),
        without_spans(&format!("{topology:#?}\n{findings:#?}")),
    ))
}

/// The properties, for one text that parses: `Err` says which failed.
fn loses_nothing(name: &str, text: &str) -> Result<String, String> {
    let once = fmt(name, text)?;
    if comments_and_slashdashes(&once) != comments_and_slashdashes(text) {
        return Err(format!(
            "comments or /- changed:\n{:?}\n{:?}\n--- formatted:\n{once}",
            comments_and_slashdashes(text),
            comments_and_slashdashes(&once)
        ));
    }
    let (doc, model) = meaning(text).ok_or("the input does not parse")?;
    let (doc2, model2) = meaning(&once).ok_or_else(|| format!("the output does not parse:\n{once}"))?;
    if doc != doc2 {
        return Err(format!("the document changed:\n{once}"));
    }
    if model != model2 {
        return Err(format!("the lowered model changed:\n{once}"));
    }
    let twice = fmt(name, &once)?;
    if twice != once {
        return Err(format!("not idempotent:\n--- once:\n{once}\n--- twice:\n{twice}"));
    }
    Ok(once)
}

fn kdl_files(dir: &Path) -> Vec<PathBuf> {
    crate::fixtures::topology_files(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "kdl"))
        .collect()
}

#[test]
fn every_comment_position_has_a_fixture_that_formats_as_its_snapshot() {
    let files = kdl_files(&root().join("tests/fmt"));
    assert!(files.len() >= 10, "fixtures missing under tests/fmt");
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let formatted = loses_nothing(&name, &text).unwrap_or_else(|e| panic!("{name}: {e}"));
        insta::with_settings!({
            snapshot_path => root().join("snapshots/fmt"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
            description => format!("tests/fmt/{name}.kdl, formatted"),
        }, {
            insta::assert_snapshot!(name, formatted);
        });
    }
}

#[test]
fn every_real_topology_formats_without_losing_a_word() {
    let mut files = kdl_files(&root().join("examples"));
    files.extend(kdl_files(&root().join("tests/ok")));
    files.extend(kdl_files(&root().join("tests/fail")));
    let mut failures = Vec::new();
    let mut formatted = 0;
    for path in &files {
        // A fixture that is not UTF-8 never reaches the formatter.
        let Ok(text) = String::from_utf8(std::fs::read(path).unwrap()) else {
            continue;
        };
        let name = path.display().to_string();
        if meaning(&text).is_none() {
            // A file with parse errors is refused, and left alone.
            assert!(
                fmt(&name, &text).is_err(),
                "{name} does not parse but was formatted"
            );
            continue;
        }
        formatted += 1;
        if let Err(e) = loses_nothing(&name, &text) {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(formatted > 150, "only {formatted} files were formatted");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_example_is_formatted() {
    let files = kdl_files(&root().join("examples"));
    assert!(files.len() >= 3);
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.display().to_string();
        assert_eq!(
            fmt(&name, &text).unwrap(),
            text,
            "{name} is not `meshc fmt` clean"
        );
    }
}

#[test]
fn toml_is_refused_once_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let text = "# a comment\n[mesh.shop]\nistio = \"1.24\"\n";
    std::fs::write(dir.path().join("t.toml"), text).unwrap();
    for args in [&["fmt", "t.toml"][..], &["fmt", "--check", "t.toml"]] {
        let o = meshc_in(dir.path(), args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("KDL topologies only"), "{err}");
        assert_eq!(std::fs::read_to_string(dir.path().join("t.toml")).unwrap(), text);
    }
}

/// A small deterministic generator (xorshift), seeded by proptest: it
/// writes valid KDL with a comment, a `/-`, a continuation or odd spacing
/// wherever the grammar allows one, and records every comment it wrote.
struct Gen {
    state: u64,
    comments: Vec<String>,
}

impl Gen {
    fn next(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, in_: u64) -> bool {
        self.below(in_) == 0
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len() as u64) as usize]
    }

    fn block(&mut self) -> String {
        let n = self.comments.len();
        let c = if self.chance(4) {
            format!("/* c{n} /* nested */ */")
        } else if self.chance(5) {
            format!("/* c{n}\n   second line */")
        } else {
            format!("/* c{n} */")
        };
        self.comments.push(c.clone());
        c
    }

    fn line(&mut self) -> String {
        let c = format!("// c{}", self.comments.len());
        self.comments.push(c.clone());
        c
    }

    /// Node-space between two parts of a node (at least one space).
    fn node_space(&mut self) -> String {
        match self.below(8) {
            0 => format!(" {} ", self.block()),
            1 => format!(" \\ {}\n      ", self.line()),
            2 => " \\\n  ".into(),
            3 => "\t ".into(),
            _ => " ".into(),
        }
    }

    /// Optional node-space (inside `( )`, around `=`).
    fn maybe_space(&mut self) -> String {
        if self.chance(6) {
            self.node_space()
        } else {
            String::new()
        }
    }

    /// Line-space after `/-`.
    fn after_slashdash(&mut self) -> String {
        match self.below(6) {
            0 => format!(" {} ", self.block()),
            1 => format!(" {}\n", self.line()),
            2 => " ".into(),
            _ => String::new(),
        }
    }

    fn string(&mut self) -> String {
        let quoted = [
            "a",
            "dc-1",
            "payments.billing",
            "\"dc-1\"",
            "\"1.24\"",
            "\"a b\"",
            "\"q\\\"t\"",
            "\"t\\tb\"",
            "\"\\u{0}\"",
            "\"true\"",
            "#\"r\\aw\"#",
            "\"-1\"",
            "\"é\"",
            "\"\"",
        ];
        self.pick(&quoted).to_owned()
    }

    fn value(&mut self) -> String {
        match self.below(5) {
            0 => self
                .pick(&[
                    "1", "-2", "0x1F", "1_000", "1.5e3", "#true", "#null", "#-inf", "#nan",
                ])
                .to_owned(),
            1 if self.chance(3) => "\"\"\"\n  multi\n    line\n  \"\"\"".into(),
            _ => self.string(),
        }
    }

    fn type_annotation(&mut self) -> String {
        if !self.chance(6) {
            return String::new();
        }
        let (a, b) = (self.maybe_space(), self.maybe_space());
        format!("({a}{}{b})", self.pick(&["u8", "\"t y\"", "ns"]))
    }

    fn entry(&mut self) -> String {
        let slashdash = if self.chance(6) {
            format!("/-{}", self.after_slashdash())
        } else {
            String::new()
        };
        let ty = self.type_annotation();
        let value = self.value();
        if self.chance(2) {
            let key = self.string();
            let (a, b) = (self.maybe_space(), self.maybe_space());
            format!("{slashdash}{key}{a}={b}{ty}{value}")
        } else {
            format!("{slashdash}{ty}{value}")
        }
    }

    fn node(&mut self, depth: usize, out: &mut String) {
        if self.chance(6) {
            out.push_str("/-");
            let s = self.after_slashdash();
            out.push_str(&s);
        }
        let ty = self.type_annotation();
        let name = self.string();
        out.push_str(&format!("{ty}{name}"));
        for _ in 0..self.below(4) {
            let s = self.node_space();
            let e = self.entry();
            out.push_str(&format!("{s}{e}"));
        }
        if depth < 3 && self.chance(3) {
            if self.chance(4) {
                let s = self.node_space();
                out.push_str(&format!("{s}/-{{"));
                self.nodes(depth + 1, out);
                out.push('}');
            }
            let s = self.node_space();
            out.push_str(&format!("{s}{{"));
            if self.chance(3) {
                let c = self.line();
                out.push_str(&format!(" {c}"));
            }
            self.nodes(depth + 1, out);
            out.push('}');
        }
        if self.chance(5) {
            let s = self.node_space();
            let b = self.block();
            out.push_str(&format!("{s}{b}"));
        }
    }

    fn nodes(&mut self, depth: usize, out: &mut String) {
        for _ in 0..self.below(4) {
            out.push('\n');
            for _ in 0..self.below(3) {
                out.push('\n');
            }
            out.push_str(self.pick(&["", "  ", "\t", "        "]));
            match self.below(8) {
                0 => {
                    let c = self.line();
                    out.push_str(&format!("{c}\n"));
                }
                1 => {
                    let c = self.block();
                    out.push_str(&format!("{c} "));
                }
                _ => {}
            }
            self.node(depth, out);
            match self.below(6) {
                0 => out.push(';'),
                1 => {
                    let c = self.line();
                    out.push_str(&format!(" {c}"));
                }
                2 => {
                    let c = self.line();
                    out.push_str(&format!("; {c}"));
                }
                _ => {}
            }
        }
        out.push('\n');
        if self.chance(4) {
            let c = self.line();
            out.push_str(&format!("{c}\n"));
        }
    }
}

fn generated(seed: u64) -> (String, Vec<String>) {
    let mut g = Gen {
        state: seed | 1,
        comments: Vec::new(),
    };
    let mut out = String::new();
    g.nodes(0, &mut out);
    if g.chance(3) {
        let c = g.block();
        out.push_str(&c);
    }
    let mut comments = g.comments;
    comments.sort();
    (out, comments)
}

proptest! {
    #![proptest_config(Config { cases: 300, ..Config::default() })]

    /// Any string, written as escapes only (so the input is valid whatever
    /// it holds), comes out in canonical quoting as the same value, as a
    /// name, a key and a value.
    #[test]
    fn any_string_keeps_its_value(s in any::<String>()) {
        let escaped: String = s.chars().map(|c| format!("\\u{{{:x}}}", c as u32)).collect();
        let text = format!("\"{escaped}\" \"{escaped}\"=\"{escaped}\"\n");
        loses_nothing("str.kdl", &text).map_err(|e| TestCaseError::fail(format!("{e}\n--- input:\n{text}")))?;
    }

    #[test]
    fn generated_documents_lose_no_word(seed in any::<u64>()) {
        let (text, comments) = generated(seed);
        prop_assert!(meaning(&text).is_some(), "the generator wrote invalid KDL:\n{}", text);
        prop_assert_eq!(&comments_and_slashdashes(&text).0, &comments, "the scanner missed a comment:\n{}", text);
        loses_nothing("gen.kdl", &text).map_err(|e| TestCaseError::fail(format!("{e}\n--- input:\n{text}")))?;
    }
}
