//! A concrete syntax tree for `meshc fmt`: the document as written, every
//! comment and line continuation kept in place, every value with its source
//! text.
//!
//! It is built only from text the parser in this module has already
//! accepted without error, and it reuses that parser's value scanner, so
//! the two cannot disagree on what a token is. The builder still never
//! panics: anything it does not expect makes [`build`] return `None` (and
//! `meshc fmt` refuse), never a tree with a word missing.
//!
//! Space and newlines are not kept, only how many newlines separate two
//! nodes or comments (0, 1, or 2 for "a blank line"): the printer decides
//! the layout, the tree keeps the words.

use super::parser::Parser;
use crate::syntax::{Limits, Value};

/// A list of nodes and comments: the document, or a children block.
pub type Items<'t> = Vec<Item<'t>>;

/// A node or a comment on the node level, with the number of newlines
/// before it (capped at 2, "a blank line"): 0 means on the same line as
/// what precedes it.
pub struct Item<'t> {
    pub newlines: u8,
    pub kind: ItemKind<'t>,
}

pub enum ItemKind<'t> {
    Node(Node<'t>),
    /// A `//` comment (without its newline or trailing spaces) or a `/* */`
    /// comment, verbatim.
    Comment(&'t str),
}

/// One node: `/-`? `(type)`? name, then entries, comments, line
/// continuations and children blocks in source order, then maybe a `//`
/// comment that ends it.
pub struct Node<'t> {
    /// `Some` for a slashdashed node: the comments between `/-` and it.
    pub slashdash: Option<Vec<&'t str>>,
    /// The type annotation (if any) and the name.
    pub head: Vec<Piece<'t>>,
    pub parts: Vec<Part<'t>>,
    pub trailing: Option<&'t str>,
}

/// What follows a node's name.
pub enum Part<'t> {
    Gap(Gap<'t>),
    Entry(Vec<Piece<'t>>),
    Children(Items<'t>),
    /// `/-`, the comments after it, then what it comments out.
    Slashdash(Vec<&'t str>, Box<Part<'t>>),
}

/// Node-space that holds words: a block comment, or a line continuation
/// (`\`, block comments, maybe a `//` comment, a newline).
pub enum Gap<'t> {
    Comment(&'t str),
    Continuation(Vec<&'t str>, Option<&'t str>),
}

/// The tokens of an entry or a node head, in order.
pub enum Piece<'t> {
    Open,
    Close,
    Equals,
    Gap(Gap<'t>),
    Value(Atom<'t>),
}

/// A value token: its source text and what it means.
pub struct Atom<'t> {
    pub text: &'t str,
    pub value: Value<'t>,
}

/// The tree of `text`, which must parse without error. `None` if it does
/// not (the caller then refuses to format).
pub fn build(text: &str) -> Option<Items<'_>> {
    let mut b = Builder {
        p: Parser::new(text, Limits::default()),
    };
    if text.starts_with('\u{feff}') {
        b.p.pos = '\u{feff}'.len_utf8();
    }
    let items = b.items(0)?;
    (b.p.pos == text.len() && b.p.errors.is_empty()).then_some(items)
}

/// Every word of a tree in source order: comments verbatim, values by
/// what they mean (`Value`'s `Debug`, so `"a"` and `a` are one word), and
/// the punctuation that gives them structure (`/-`, `(`, `)`, `=`, `{`,
/// `}`, and `;` for the start of a node). Layout is not a word, nor is a
/// line continuation. Two texts with the same words are the same document
/// with the same comments, slashdashed parts and type annotations.
pub fn words(items: &[Item<'_>]) -> Vec<String> {
    let mut out = Vec::new();
    items_words(items, &mut out);
    out
}

fn items_words(items: &[Item<'_>], out: &mut Vec<String>) {
    fn gap(g: &Gap<'_>, out: &mut Vec<String>) {
        match g {
            Gap::Comment(c) => out.push((*c).to_owned()),
            Gap::Continuation(blocks, line) => {
                out.extend(blocks.iter().chain(line).map(|c| (*c).to_owned()));
            }
        }
    }
    fn pieces(ps: &[Piece<'_>], out: &mut Vec<String>) {
        for p in ps {
            match p {
                Piece::Open => out.push("(".into()),
                Piece::Close => out.push(")".into()),
                Piece::Equals => out.push("=".into()),
                Piece::Gap(g) => gap(g, out),
                Piece::Value(a) => out.push(format!("{:?}", a.value)),
            }
        }
    }
    fn part(p: &Part<'_>, out: &mut Vec<String>) {
        match p {
            Part::Gap(g) => gap(g, out),
            Part::Entry(ps) => pieces(ps, out),
            Part::Children(items) => {
                out.push("{".into());
                items_words(items, out);
                out.push("}".into());
            }
            Part::Slashdash(cs, target) => {
                out.push("/-".into());
                out.extend(cs.iter().map(|c| (*c).to_owned()));
                part(target, out);
            }
        }
    }
    for item in items {
        match &item.kind {
            ItemKind::Comment(c) => out.push((*c).to_owned()),
            ItemKind::Node(n) => {
                out.push(";".into());
                if let Some(cs) = &n.slashdash {
                    out.push("/-".into());
                    out.extend(cs.iter().map(|c| (*c).to_owned()));
                }
                pieces(&n.head, out);
                for p in &n.parts {
                    part(p, out);
                }
                out.extend(n.trailing.map(str::to_owned));
            }
        }
    }
}

struct Builder<'t> {
    p: Parser<'t>,
}

impl<'t> Builder<'t> {
    fn at(&self, s: &str) -> bool {
        self.p
            .bytes
            .get(self.p.pos..)
            .is_some_and(|rest| rest.starts_with(s.as_bytes()))
    }

    /// Nodes and comments up to the end of the text or a `}` (left for the
    /// caller).
    fn items(&mut self, depth: usize) -> Option<Items<'t>> {
        if depth > Limits::default().max_depth {
            return None;
        }
        let mut items = Vec::new();
        let mut newlines = 0u8;
        loop {
            match self.p.peek() {
                None | Some(b'}') => return Some(items),
                Some(b';') => self.p.pos += 1,
                Some(b'\\') => self.p.pos += 1, // a continuation between nodes holds no word
                _ if self.at("//") => {
                    let c = self.line_comment();
                    items.push(comment(newlines, c));
                    newlines = 0;
                }
                _ if self.at("/*") => {
                    let c = self.block_comment()?;
                    items.push(comment(newlines, c));
                    newlines = 0;
                }
                _ if self.at("/-") => {
                    self.p.pos += 2;
                    let between = self.comments_only()?;
                    let mut node = self.node(depth)?;
                    let took = matches!(node.parts.last(), Some(Part::Gap(Gap::Continuation(..))));
                    node.slashdash = Some(between);
                    items.push(Item {
                        newlines,
                        kind: ItemKind::Node(node),
                    });
                    newlines = u8::from(took);
                }
                _ => {
                    let n = self.p.newline_len(self.p.pos);
                    let s = self.p.space_len(self.p.pos);
                    if n > 0 {
                        self.p.pos += n;
                        newlines = newlines.saturating_add(1).min(2);
                    } else if s > 0 {
                        self.p.pos += s;
                    } else {
                        let node = self.node(depth)?;
                        // A continuation that ends the node took the
                        // newline that ends its line.
                        let took = matches!(node.parts.last(), Some(Part::Gap(Gap::Continuation(..))));
                        items.push(Item {
                            newlines,
                            kind: ItemKind::Node(node),
                        });
                        newlines = u8::from(took);
                    }
                }
            }
        }
    }

    /// Line-space after `/-`: its comments, newlines dropped.
    fn comments_only(&mut self) -> Option<Vec<&'t str>> {
        let mut out = Vec::new();
        loop {
            if self.at("//") {
                out.push(self.line_comment());
            } else if self.at("/*") {
                out.push(self.block_comment()?);
            } else if self.p.peek() == Some(b'\\') {
                self.p.pos += 1;
            } else {
                let n = self.p.newline_len(self.p.pos).max(self.p.space_len(self.p.pos));
                if n == 0 {
                    return Some(out);
                }
                self.p.pos += n;
            }
        }
    }

    /// `//` up to (not including) the newline, trailing spaces dropped.
    fn line_comment(&mut self) -> &'t str {
        let start = self.p.pos;
        while self.p.pos < self.p.bytes.len() && self.p.newline_len(self.p.pos) == 0 {
            self.p.pos += 1;
        }
        // A newline starts on a character boundary; were this slice ever
        // off one, the comment would go missing and the formatter refuse.
        self.p
            .text
            .get(start..self.p.pos)
            .unwrap_or_default()
            .trim_end_matches([' ', '\t'])
    }

    /// `/* */`, nested ones included.
    fn block_comment(&mut self) -> Option<&'t str> {
        let start = self.p.pos;
        self.p.pos += 2;
        let mut depth = 1usize;
        while depth > 0 {
            if self.at("/*") {
                depth += 1;
                self.p.pos += 2;
            } else if self.at("*/") {
                depth -= 1;
                self.p.pos += 2;
            } else if self.p.pos < self.p.bytes.len() {
                self.p.pos += 1;
            } else {
                return None;
            }
        }
        self.p.text.get(start..self.p.pos)
    }

    /// Node-space: spaces are skipped, comments and continuations kept.
    fn gaps(&mut self, out: &mut Vec<Gap<'t>>) -> Option<()> {
        loop {
            if self.at("/*") {
                out.push(Gap::Comment(self.block_comment()?));
            } else if self.p.peek() == Some(b'\\') {
                let before = self.p.pos;
                self.p.pos += 1;
                let mut blocks = Vec::new();
                loop {
                    if self.at("/*") {
                        blocks.push(self.block_comment()?);
                    } else {
                        match self.p.space_len(self.p.pos) {
                            0 => break,
                            n => self.p.pos += n,
                        }
                    }
                }
                let line = self.at("//").then(|| self.line_comment());
                let n = self.p.newline_len(self.p.pos);
                if n == 0 && self.p.pos < self.p.bytes.len() {
                    // Not a continuation: the caller's value scanner reports it.
                    self.p.pos = before;
                    return Some(());
                }
                self.p.pos += n;
                out.push(Gap::Continuation(blocks, line));
            } else {
                match self.p.space_len(self.p.pos) {
                    0 => return Some(()),
                    n => self.p.pos += n,
                }
            }
        }
    }

    fn at_terminator(&self) -> bool {
        match self.p.peek() {
            None | Some(b';' | b'}') => true,
            _ => self.at("//") || self.p.newline_len(self.p.pos) > 0,
        }
    }

    fn node(&mut self, depth: usize) -> Option<Node<'t>> {
        let mut head = Vec::new();
        if self.p.peek() == Some(b'(') {
            self.type_annotation(&mut head)?;
            self.gap_pieces(&mut head)?;
        }
        head.push(Piece::Value(self.atom()?));
        let mut parts = Vec::new();
        loop {
            let mut gaps = Vec::new();
            self.gaps(&mut gaps)?;
            parts.extend(gaps.into_iter().map(Part::Gap));
            if self.at_terminator() {
                break;
            }
            if self.at("/-") {
                self.p.pos += 2;
                let between = self.comments_only()?;
                let target = self.part(depth)?;
                parts.push(Part::Slashdash(between, Box::new(target)));
            } else {
                parts.push(self.part(depth)?);
            }
        }
        let trailing = self.at("//").then(|| self.line_comment());
        Some(Node {
            slashdash: None,
            head,
            parts,
            trailing,
        })
    }

    /// An entry or a children block.
    fn part(&mut self, depth: usize) -> Option<Part<'t>> {
        if self.p.peek() == Some(b'{') {
            self.p.pos += 1;
            let items = self.items(depth + 1)?;
            if self.p.peek() != Some(b'}') {
                return None;
            }
            self.p.pos += 1;
            return Some(Part::Children(items));
        }
        let mut pieces = Vec::new();
        let typed = self.p.peek() == Some(b'(');
        if typed {
            self.type_annotation(&mut pieces)?;
            self.gap_pieces(&mut pieces)?;
        }
        let first = self.atom()?;
        let is_string = matches!(first.value, Value::String(_));
        pieces.push(Piece::Value(first));
        if is_string && !typed {
            // A property if `=` follows, node-space allowed around it.
            let back = self.p.pos;
            let mut between = Vec::new();
            self.gaps(&mut between)?;
            if self.p.peek() == Some(b'=') {
                pieces.extend(between.into_iter().map(Piece::Gap));
                self.p.pos += 1;
                pieces.push(Piece::Equals);
                self.gap_pieces(&mut pieces)?;
                if self.p.peek() == Some(b'(') {
                    self.type_annotation(&mut pieces)?;
                    self.gap_pieces(&mut pieces)?;
                }
                pieces.push(Piece::Value(self.atom()?));
            } else {
                self.p.pos = back;
            }
        }
        Some(Part::Entry(pieces))
    }

    fn gap_pieces(&mut self, out: &mut Vec<Piece<'t>>) -> Option<()> {
        let mut gaps = Vec::new();
        self.gaps(&mut gaps)?;
        out.extend(gaps.into_iter().map(Piece::Gap));
        Some(())
    }

    /// `(` node-space string node-space `)`.
    fn type_annotation(&mut self, out: &mut Vec<Piece<'t>>) -> Option<()> {
        self.p.pos += 1;
        out.push(Piece::Open);
        self.gap_pieces(out)?;
        let atom = self.atom()?;
        if !matches!(atom.value, Value::String(_)) {
            return None;
        }
        out.push(Piece::Value(atom));
        self.gap_pieces(out)?;
        if self.p.peek() != Some(b')') {
            return None;
        }
        self.p.pos += 1;
        out.push(Piece::Close);
        Some(())
    }

    fn atom(&mut self) -> Option<Atom<'t>> {
        let token = self.p.value().ok()??;
        if !self.p.errors.is_empty() {
            return None;
        }
        Some(Atom {
            text: self.p.slice(token.span),
            value: token.value,
        })
    }
}

fn comment(newlines: u8, text: &str) -> Item<'_> {
    Item {
        newlines,
        kind: ItemKind::Comment(text),
    }
}
