//! `meshc fmt`: canonical formatting of a KDL topology that keeps every
//! word the user wrote.
//!
//! It prints the concrete syntax tree of `kdl_v2::cst` (meshc's own parser,
//! comments and all), so nothing a comment says can be lost. The style:
//!
//! - one node per line, four spaces per level of nesting, `{` on the node's
//!   line and `}` on a line of its own (`{}` for an empty block); `;`
//!   between nodes becomes a newline;
//! - one space between a node's name and each entry; `key=value` without
//!   spaces; `(type)` glued to what it annotates;
//! - blank lines between nodes and comments are kept, a run of them as one;
//!   none at the start or end of a block or of the file;
//! - comments stay where they were: a comment on its own line stays on its
//!   own line (at the indentation of the nodes around it), a comment after
//!   code stays after that code; `/-` comments out exactly what it did;
//!   trailing spaces after a `//` comment are dropped;
//! - a line continuation (`\`) is kept, its next line indented one level
//!   deeper; one that ends a node is dropped (its comments stay);
//! - a string is written bare where KDL v2 allows (not a keyword, not
//!   number-like) and it is not an address, otherwise quoted with the fewest escapes (`\"`, `\\`,
//!   `\n`, `\r`, `\t`, `\b`, `\f`, and `\u{…}` for other newlines and the
//!   characters KDL forbids). Raw strings (`#"…"#`) and multi-line strings
//!   (`"""`) are kept exactly as written, as are numbers and keywords;
//! - the output uses `\n` newlines, ends with one, and has no byte-order
//!   mark.
//!
//! Formatting is idempotent. Before handing text back, the formatter parses
//! it again and refuses (E101, file left unchanged) unless it reads as the
//! same document (names, entries, values, children) with the same comments
//! in the same order.

use std::borrow::Cow;

use super::kdl_v2::cst::{self, Atom, Gap, Item, ItemKind, Items, Node, Part, Piece};
use super::kdl_v2::{chars, number};
use super::{Entry, Value};
use crate::diagnostic::{Diagnostic, codes};
use crate::source::{Source, Span};

/// The formatted text, or the problems that prevent formatting.
pub fn format_kdl(source: &Source) -> Result<String, Vec<Diagnostic>> {
    // Parse through the normal front end first, so the user gets meshc's
    // diagnostics (unquoted addresses, nesting limits) rather than raw ones.
    let (doc, diags) = super::parse(source, super::Syntax::Kdl, super::Limits::default());
    let Some(doc) = doc.filter(|_| !diags.iter().any(Diagnostic::is_error)) else {
        return Err(diags);
    };
    let Some(mut tree) = cst::build(&source.text) else {
        return Err(vec![refusal("meshc fmt cannot read this file's layout")]);
    };
    let before = cst::words(&tree);
    let out = print(&mut tree);
    if !same_text(&doc, &before, &out) {
        return Err(vec![refusal(
            "meshc fmt cannot write this file back as the same KDL document; it is left unchanged",
        )]);
    }
    Ok(out)
}

fn refusal(message: &str) -> Diagnostic {
    Diagnostic::new(&codes::KDL_SYNTAX, Span::file_start(), message)
        .label("this file")
        .help(
            "this is a bug in meshc fmt: please report it with the file; `meshc check` still reads the file",
        )
}

/// Whether `out` parses to the same document as `doc`, and to the same
/// words (`cst::words`: comments, slashdashed parts, type annotations).
fn same_text(doc: &super::Document<'_>, words: &[String], out: &str) -> bool {
    let again = Source::new("formatted.kdl", out.to_owned());
    let (reparsed, problems) = super::parse(&again, super::Syntax::Kdl, super::Limits::default());
    let Some(reparsed) = reparsed.filter(|_| problems.is_empty()) else {
        return false;
    };
    let Some(tree) = cst::build(out) else {
        return false;
    };
    same_nodes(&doc.nodes, &reparsed.nodes) && cst::words(&tree) == words
}

/// Node trees equal but for spans.
pub fn same_nodes(a: &[super::Node<'_>], b: &[super::Node<'_>]) -> bool {
    fn entry(a: &Entry<'_>, b: &Entry<'_>) -> bool {
        a.key.as_ref().map(|k| &k.text) == b.key.as_ref().map(|k| &k.text) && value(&a.value, &b.value)
    }
    fn value(a: &Value<'_>, b: &Value<'_>) -> bool {
        match (a, b) {
            (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
            _ => a == b,
        }
    }
    a.len() == b.len()
        && a.iter().zip(b).all(|(a, b)| {
            a.name.text == b.name.text
                && a.entries.len() == b.entries.len()
                && a.entries.iter().zip(&b.entries).all(|(x, y)| entry(x, y))
                && same_nodes(&a.children, &b.children)
        })
}

/// The canonical text of a tree (which it normalizes first).
fn print(tree: &mut Items<'_>) -> String {
    normalize(tree);
    let mut p = Printer {
        out: String::new(),
        fresh: true,
        space: false,
        in_line_comment: false,
    };
    p.items(tree, 0);
    if !p.out.is_empty() {
        p.out.push('\n');
    }
    p.out
}

/// Drops the line continuations that end a node: nothing follows them, so
/// the next line would join the node. Their comments stay, at the end of
/// the node's line.
fn normalize(items: &mut Items<'_>) {
    for item in items {
        if let ItemKind::Node(node) = &mut item.kind {
            normalize_node(node);
        }
    }
}

fn normalize_node(node: &mut Node<'_>) {
    while node.trailing.is_none() {
        let Some(Part::Gap(Gap::Continuation(..))) = node.parts.last() else {
            break;
        };
        let Some(Part::Gap(Gap::Continuation(blocks, line))) = node.parts.pop() else {
            break;
        };
        node.parts
            .extend(blocks.into_iter().map(|b| Part::Gap(Gap::Comment(b))));
        node.trailing = line;
    }
    for part in &mut node.parts {
        normalize_part(part);
    }
}

fn normalize_part(part: &mut Part<'_>) {
    match part {
        Part::Children(items) => normalize(items),
        Part::Slashdash(_, target) => normalize_part(target),
        Part::Gap(_) | Part::Entry(_) => {}
    }
}

struct Printer {
    out: String,
    /// At the start of a line (after its indentation): no space is due.
    fresh: bool,
    /// A space is due before the next word.
    space: bool,
    /// The current line ends in a `//` comment: nothing may follow on it.
    in_line_comment: bool,
}

const INDENT: &str = "    ";

impl Printer {
    fn word(&mut self, w: &str) {
        if self.space && !self.fresh {
            self.out.push(' ');
        }
        self.space = false;
        self.fresh = false;
        self.in_line_comment |= w.starts_with("//");
        self.out.push_str(w);
    }

    fn space(&mut self) {
        self.space = true;
    }

    fn line(&mut self, depth: usize) {
        self.out.push('\n');
        for _ in 0..depth {
            self.out.push_str(INDENT);
        }
        self.fresh = true;
        self.space = false;
        self.in_line_comment = false;
    }

    fn items(&mut self, items: &[Item<'_>], depth: usize) {
        let mut first = true;
        for item in items {
            let attach = item.newlines == 0 && !self.out.is_empty() && !self.in_line_comment;
            match &item.kind {
                ItemKind::Comment(c) if attach => {
                    self.space();
                    self.word(c);
                }
                kind => {
                    if !self.out.is_empty() {
                        if item.newlines >= 2 && !first {
                            self.out.push('\n');
                        }
                        self.line(depth);
                    }
                    match kind {
                        ItemKind::Comment(c) => self.word(c),
                        ItemKind::Node(n) => self.node(n, depth),
                    }
                }
            }
            first = false;
        }
    }

    fn node(&mut self, n: &Node<'_>, depth: usize) {
        if let Some(comments) = &n.slashdash {
            self.word("/-");
            self.comments_after_slashdash(comments, depth);
        }
        self.pieces(&n.head, depth);
        for part in &n.parts {
            self.space();
            self.part(part, depth);
        }
        if let Some(t) = n.trailing {
            self.space();
            self.word(t);
        }
    }

    /// The comments between `/-` and what it comments out; a `//` one
    /// ends the line, and what follows goes on the next.
    fn comments_after_slashdash(&mut self, comments: &[&str], depth: usize) {
        for c in comments {
            self.space();
            self.word(c);
            if c.starts_with("//") {
                self.line(depth + 1);
            }
        }
        if !comments.is_empty() {
            self.space();
        }
    }

    fn part(&mut self, part: &Part<'_>, depth: usize) {
        match part {
            Part::Gap(g) => self.gap(g, depth),
            Part::Entry(pieces) => self.pieces(pieces, depth),
            Part::Children(items) if items.is_empty() => self.word("{}"),
            Part::Children(items) => {
                self.word("{");
                self.items(items, depth + 1);
                self.line(depth);
                self.word("}");
            }
            Part::Slashdash(comments, target) => {
                self.word("/-");
                self.comments_after_slashdash(comments, depth);
                self.part(target, depth);
            }
        }
    }

    fn gap(&mut self, gap: &Gap<'_>, depth: usize) {
        match gap {
            Gap::Comment(c) => {
                self.space();
                self.word(c);
                self.space();
            }
            Gap::Continuation(blocks, line) => {
                self.space();
                self.word("\\");
                for b in blocks {
                    self.space();
                    self.word(b);
                }
                if let Some(l) = line {
                    self.space();
                    self.word(l);
                }
                self.line(depth + 1);
            }
        }
    }

    fn pieces(&mut self, pieces: &[Piece<'_>], depth: usize) {
        for piece in pieces {
            match piece {
                Piece::Open => self.word("("),
                Piece::Close => self.word(")"),
                Piece::Equals => self.word("="),
                Piece::Gap(g) => self.gap(g, depth),
                Piece::Value(atom) => self.word(&atom_text(atom)),
            }
        }
    }
}

/// A value as the canonical style writes it.
fn atom_text<'a>(atom: &'a Atom<'_>) -> Cow<'a, str> {
    match &atom.value {
        Value::String(s) if !atom.text.starts_with('#') && !atom.text.starts_with("\"\"\"") => string(s),
        _ => Cow::Borrowed(atom.text),
    }
}

/// A string, bare if KDL v2 reads it back as the same string, otherwise
/// quoted with the fewest escapes.
pub fn string(s: &str) -> Cow<'_, str> {
    if can_be_bare(s) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{C}' => out.push_str("\\f"),
            c if chars::is_disallowed(c) || chars::is_newline(c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    Cow::Owned(out)
}

/// KDL v2 "Identifier String": identifier characters only, not starting
/// like a number (a digit, or a sign or `.` before a digit), not a keyword.
/// An IPv6 address (`fd00::1`, hex digits and `:`) could be bare, but stays
/// quoted like every other address, which KDL makes us quote.
fn can_be_bare(s: &str) -> bool {
    let b = s.as_bytes();
    let digit_at = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let number_like = match b.first() {
        None => return false,
        Some(b'0'..=b'9') => true,
        Some(b'+' | b'-') => digit_at(1) || (b.get(1) == Some(&b'.') && digit_at(2)),
        Some(b'.') => digit_at(1),
        Some(_) => false,
    };
    let keyword = matches!(s, "true" | "false" | "null" | "inf" | "-inf" | "+inf" | "nan");
    let ipv6 = s.contains(':')
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b':' | b'/'));
    let address = ipv6 || number::looks_like_address(s);
    !(number_like || keyword || address) && s.chars().all(chars::is_ident_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(text: &str) -> String {
        match format_kdl(&Source::new("t.kdl", text.to_owned())) {
            Ok(out) => out,
            Err(d) => panic!("{text:?} was refused: {d:?}"),
        }
    }

    #[test]
    fn strings_are_bare_only_where_kdl_reads_them_back() {
        for bare in [
            "a",
            "dc-1",
            "payments.billing",
            "-",
            "+",
            ".",
            "-a",
            "-.a",
            "é",
            "x:y",
        ] {
            assert_eq!(string(bare), bare);
        }
        for (s, quoted) in [
            ("", "\"\""),
            ("1.24", "\"1.24\""),
            ("-1", "\"-1\""),
            ("+.5", "\"+.5\""),
            (".5", "\".5\""),
            ("true", "\"true\""),
            ("-inf", "\"-inf\""),
            ("fd00:9::a", "\"fd00:9::a\""),
            ("::1", "\"::1\""),
            ("a b", "\"a b\""),
            ("a=b", "\"a=b\""),
            ("/healthz", "\"/healthz\""),
            ("say \"hi\"\\", "\"say \\\"hi\\\"\\\\\""),
            ("l1\nl2\r\t\u{8}\u{c}", "\"l1\\nl2\\r\\t\\b\\f\""),
            (
                "\u{0}\u{85}\u{2028}\u{202e}",
                "\"\\u{0}\\u{85}\\u{2028}\\u{202e}\"",
            ),
        ] {
            assert_eq!(string(s), quoted, "{s:?}");
        }
    }

    #[test]
    fn every_string_reads_back_as_itself() {
        let samples = [
            "a", "", "1", "-1", "-.5", "true", "#x", "a\"b", "\\", "\n", "\u{0}", "\u{feff}", "\u{2029}",
            "é ü", "=", "(", "-inf", "a/b", "0x1",
        ];
        for s in samples {
            let text = format!("n {}\n", string(s));
            let doc = super::super::kdl_v2::parse(&text, super::super::Limits::default())
                .unwrap_or_else(|e| panic!("{text:?}: {e:?}"));
            assert_eq!(doc.nodes[0].entries[0].value, Value::String(s.into()), "{text:?}");
        }
    }

    #[test]
    fn raw_multi_line_numbers_and_keywords_are_kept_as_written() {
        let text = "n #\"a\\b\"# 0x1F 1_000 #true #-inf \"\"\"\n    x\n    \"\"\"\n";
        assert_eq!(fmt(text), text);
    }

    #[test]
    fn a_continuation_that_ends_a_node_keeps_its_comment() {
        assert_eq!(fmt("a b \\ // why\n\nc\n"), "a b // why\n\nc\n");
        assert_eq!(fmt("a b \\\nc\n"), "a b \\\n    c\n");
        assert_eq!(fmt("a \\ /* x */\n"), "a /* x */\n");
        assert_eq!(fmt("a \\ // x\n  /* y */\nb\n"), "a \\ // x\n    /* y */\nb\n");
    }

    #[test]
    fn a_tree_that_prints_differently_is_refused() {
        let source = Source::new("t.kdl", "a 1 // c\n".to_owned());
        let (doc, _) = super::super::parse(
            &source,
            super::super::Syntax::Kdl,
            super::super::Limits::default(),
        );
        let doc = doc.expect("parses");
        let words = cst::words(&cst::build("a 1 // c\n").expect("builds"));
        assert!(same_text(&doc, &words, "a   1   // c"));
        assert!(!same_text(&doc, &words, "a 2 // c\n"), "a changed value");
        assert!(!same_text(&doc, &words, "a 1\n"), "a lost comment");
        assert!(
            !same_text(&doc, &words, "a 1 /-x // c\n"),
            "a new slashdashed entry"
        );
        assert!(!same_text(&doc, &words, "a (t)1 // c\n"), "a new type annotation");
        assert!(
            !same_text(&doc, &words, "a \"1\" // c\n"),
            "a number turned string"
        );
        assert!(!same_text(&doc, &words, "a 1 // c\nb\n"), "an extra node");
    }
}
