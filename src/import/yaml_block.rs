//! A fast reader for the block-style YAML that meshc (`emit::yaml::block`,
//! serde-saphyr) and `kubectl get -o yaml` write, giving exactly the nodes
//! `yaml::load` gives with `granit-parser` (values, scalar styles, spans),
//! or nothing: the moment it meets anything outside its subset it gives
//! up, and the caller parses the whole file with granit.
//!
//! The subset, line by line: blank lines, comment lines, `---` alone on a
//! line; block mappings of plain keys (`key: value`, `key:` with its value
//! on the lines below or none); block sequences (`- value`, `- key: value`),
//! indented or not under their key; single-line plain, single-quoted and
//! double-quoted scalars, each followed by nothing or a comment. Everything
//! else is granit's: flow collections, anchors, aliases, tags, block and
//! multi-line scalars, quoted or complex keys, directives, `...`, tabs,
//! carriage returns, a byte order mark, characters YAML does not print,
//! empty documents, nesting over [`MAX_BLOCK_DEPTH`], more than
//! [`MAX_NODES`](super::yaml::MAX_NODES) nodes. The budgets are then
//! granit's path's, so both readers keep the same bounds.
//!
//! Spans follow granit's events as the loader joins them: a scalar is the
//! text written (quotes included); a mapping starts at its first key, a
//! sequence at its first `-` (under its key at the same indentation, at
//! its first item instead); both end where the next token starts (after
//! comments and blank lines), at a `---`, or at the end of the file; an
//! absent value is a plain `~` at its key's colon. `tests/yaml_block.rs`
//! holds the two readers to the same nodes over every YAML file of the
//! project and over random block YAML of hostile scalars.

use std::borrow::Cow;

use super::yaml::{Entries, Key, MAX_NODES, Node, Value};
use crate::diagnostic::Diagnostic;
use crate::source::Span;

/// Deepest nesting this reader follows (granit takes deeper files, to its
/// own limit).
pub const MAX_BLOCK_DEPTH: usize = 32;
/// Longest key this reader takes (YAML limits implicit keys to 1024
/// characters; granit decides around that limit).
const MAX_KEY: usize = 512;

/// The documents of `text` (spans shifted by `base`) and its duplicate-key
/// findings, or `None` when the text is not in the subset.
pub fn load(text: &str, base: usize) -> Option<(Vec<Node<'_>>, Vec<Diagnostic>)> {
    if !printable(text) {
        return None;
    }
    let mut r = Reader {
        b: text.as_bytes(),
        text,
        base,
        docs: Vec::new(),
        stack: Vec::new(),
        nodes: 0,
        diags: Vec::new(),
        root_done: false,
        explicit: false,
    };
    r.run()?;
    Some((r.docs, r.diags))
}

/// Whether every character is one YAML prints and this reader takes as
/// itself: no control character but the line feed (so no tab, no carriage
/// return), no DEL, no C1 control, no byte order mark, no non-character,
/// no Unicode line or paragraph separator.
fn printable(text: &str) -> bool {
    // In blocks, without a branch per byte, so that it vectorizes.
    let refused = |c: &[u8]| {
        c.iter()
            .fold(false, |no, &b| no | ((b < 0x20) & (b != b'\n')) | (b == 0x7f))
    };
    if text.as_bytes().chunks(64).any(refused) {
        return false;
    }
    text.is_ascii()
        || text.chars().all(|c| {
            c.is_ascii()
                || matches!(c, '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
                    && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
        })
}

/// The first index in `from..to` of byte `x` or `y` in `b`, else `to`.
///
/// Eight bytes at a time (SWAR): a byte equal to `x` is a zero byte of
/// the word XOR `x` in every byte, and `(v - 0x01…) & !v & 0x80…` marks
/// the lowest zero byte of `v` exactly (a borrow can only mark bytes
/// above it). Keys, scalars and lines are a few words long, where
/// `memchr`'s setup cost more than the whole search (a fifth of this
/// reader's instructions); `to - from < 8` is the byte loop's.
fn find2(b: &[u8], from: usize, to: usize, x: u8, y: u8) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let (xs, ys) = (ONES * u64::from(x), ONES * u64::from(y));
    let mut i = from;
    while i + 8 <= to {
        let Ok(word) = <[u8; 8]>::try_from(&b[i..i + 8]) else {
            break;
        };
        let w = u64::from_le_bytes(word);
        let (vx, vy) = (w ^ xs, w ^ ys);
        let found = ((vx.wrapping_sub(ONES) & !vx) | (vy.wrapping_sub(ONES) & !vy)) & HIGHS;
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < to && b[i] != x && b[i] != y {
        i += 1;
    }
    i
}

enum Frame<'a> {
    Map {
        indent: usize,
        start: usize,
        entries: Entries<'a>,
        /// The key whose value is open (on the lines below).
        key: Option<Key<'a>>,
        /// Its colon, while the line after it has not been seen.
        awaiting: Option<usize>,
    },
    Seq {
        indent: usize,
        start: usize,
        items: Vec<Node<'a>>,
        /// At its key's indentation (`key:` then `- item` below it).
        indentless: bool,
    },
}

impl<'a> Frame<'a> {
    /// An empty block mapping whose keys are at column `indent`, starting at `start`.
    fn map(indent: usize, start: usize) -> Frame<'a> {
        Frame::Map {
            indent,
            start,
            entries: Entries::default(),
            key: None,
            awaiting: None,
        }
    }

    /// An empty block sequence whose `-` are at column `indent`, starting at `start`.
    fn seq(indent: usize, start: usize, indentless: bool) -> Frame<'a> {
        Frame::Seq {
            indent,
            start,
            items: Vec::new(),
            indentless,
        }
    }
}

struct Reader<'a> {
    b: &'a [u8],
    text: &'a str,
    base: usize,
    docs: Vec<Node<'a>>,
    stack: Vec<Frame<'a>>,
    nodes: usize,
    diags: Vec<Diagnostic>,
    /// The current document's root is complete.
    root_done: bool,
    /// The current document began with `---`.
    explicit: bool,
}

impl<'a> Reader<'a> {
    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.base + start, self.base + end)
    }

    fn spend(&mut self) -> Option<()> {
        self.nodes += 1;
        (self.nodes <= MAX_NODES).then_some(())
    }

    fn run(&mut self) -> Option<()> {
        let len = self.b.len();
        let mut pos = 0;
        while pos < len {
            // A word at a time: lines are short (24 bytes on average in
            // meshc's output), where `memchr`'s setup cost more than its
            // search, and a byte-by-byte search more still.
            let eol = find2(self.b, pos, len, b'\n', b'\n');
            let c = self.b[pos..eol]
                .iter()
                .position(|&c| c != b' ')
                .map_or(eol, |i| pos + i);
            if c < eol && self.b[c] != b'#' {
                let line = &self.b[pos..eol];
                if c == pos && (line.starts_with(b"---") || line.starts_with(b"...")) {
                    if line != b"---" {
                        return None;
                    }
                    self.end_document(c)?;
                    self.explicit = true;
                } else {
                    self.line(c - pos, c, eol)?;
                }
            }
            pos = eol + 1;
        }
        self.end_document(len)?;
        // A file of comments alone: granit's to say what it holds.
        (!self.docs.is_empty()).then_some(())
    }

    /// Closes the open document at `at` (a `---` or the end of the file).
    fn end_document(&mut self, at: usize) -> Option<()> {
        while !self.stack.is_empty() {
            self.close(at)?;
        }
        if !self.root_done && (self.explicit || !self.docs.is_empty()) {
            // An empty document.
            return None;
        }
        self.root_done = false;
        Some(())
    }

    /// Closes the innermost collection at `at` and hands it to its parent.
    fn close(&mut self, at: usize) -> Option<()> {
        self.null_value()?;
        let node = match self.stack.pop()? {
            Frame::Map { start, entries, .. } => Node {
                span: self.span(start, at),
                value: entries.into_value(),
            },
            Frame::Seq { start, items, .. } => Node {
                span: self.span(start, at),
                value: Value::Seq(items),
            },
        };
        self.add(node)
    }

    /// An awaited value that never came: a plain `~` at the colon.
    fn null_value(&mut self) -> Option<()> {
        if let Some(Frame::Map { awaiting, .. }) = self.stack.last_mut()
            && let Some(colon) = awaiting.take()
        {
            self.spend()?;
            let node = Node {
                span: self.span(colon, colon),
                value: Value::Scalar {
                    text: Cow::Borrowed("~"),
                    plain: true,
                },
            };
            self.add(node)?;
        }
        Some(())
    }

    /// Hands a complete node to the innermost open collection (or makes it
    /// the document's root).
    fn add(&mut self, node: Node<'a>) -> Option<()> {
        match self.stack.last_mut() {
            None => {
                self.docs.push(node);
                self.root_done = true;
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => {
                entries.insert(key.take()?, node, &mut self.diags);
            }
        }
        Some(())
    }

    fn open(&mut self, frame: Frame<'a>) -> Option<()> {
        if self.stack.len() >= MAX_BLOCK_DEPTH {
            return None;
        }
        self.spend()?;
        self.stack.push(frame);
        Some(())
    }

    /// Opens the block collection a line at column `indent` starts at `c`:
    /// a sequence if it is an entry (`item`), else a mapping.
    fn open_block(&mut self, item: bool, indent: usize, c: usize) -> Option<()> {
        self.open(if item {
            Frame::seq(indent, c, false)
        } else {
            Frame::map(indent, c)
        })
    }

    /// Adds the one-line scalar value from `start` to `end`, which only
    /// spaces and a comment may follow on its line.
    fn scalar_value(&mut self, scalar: Value<'a>, start: usize, end: usize, eol: usize) -> Option<()> {
        self.line_end(end, eol)?;
        self.spend()?;
        let node = Node {
            span: self.span(start, end),
            value: scalar,
        };
        self.add(node)
    }

    /// Whether the content at `c` is a sequence entry (`-` then a space or
    /// the end of the line).
    fn is_item(&self, c: usize, eol: usize) -> bool {
        self.b[c] == b'-' && (c + 1 == eol || self.b[c + 1] == b' ')
    }

    /// The first content after an entry's `-` at `c`.
    fn item_content(&self, c: usize, eol: usize) -> Option<usize> {
        let content = self.b[c + 1..eol].iter().position(|&b| b != b' ')? + c + 1;
        (self.b[content] != b'#').then_some(content)
    }

    /// A line whose content starts at `c`, indented `ind`.
    fn line(&mut self, ind: usize, c: usize, eol: usize) -> Option<()> {
        loop {
            let item = self.is_item(c, eol);
            match self.stack.last_mut() {
                None => {
                    if self.root_done || ind != 0 {
                        return None;
                    }
                    self.open_block(item, 0, c)?;
                }
                Some(Frame::Map {
                    indent,
                    awaiting: Some(_),
                    ..
                }) => {
                    let m = *indent;
                    if ind > m {
                        if let Some(Frame::Map { awaiting, .. }) = self.stack.last_mut() {
                            *awaiting = None;
                        }
                        self.open_block(item, ind, c)?;
                    } else if ind == m && item {
                        let content = self.item_content(c, eol)?;
                        if let Some(Frame::Map { awaiting, .. }) = self.stack.last_mut() {
                            *awaiting = None;
                        }
                        self.open(Frame::seq(m, content, true))?;
                    } else {
                        self.null_value()?;
                    }
                }
                Some(Frame::Map { indent, .. }) => {
                    let m = *indent;
                    if ind == m && !item {
                        return self.entry(c, eol);
                    }
                    if ind < m {
                        self.close(c)?;
                    } else {
                        return None;
                    }
                }
                Some(Frame::Seq {
                    indent, indentless, ..
                }) => {
                    let (s, indentless) = (*indent, *indentless);
                    if ind == s && item {
                        return self.item(ind, c, eol);
                    }
                    if ind < s || (indentless && ind == s) {
                        self.close(c)?;
                    } else {
                        return None;
                    }
                }
            }
        }
    }

    /// A sequence entry `- …` at `c`, indented `ind` (the sequence is open).
    fn item(&mut self, ind: usize, c: usize, eol: usize) -> Option<()> {
        let content = self.item_content(c, eol)?;
        if self.is_item(content, eol) {
            return None;
        }
        let (scalar, end) = self.scalar(content, eol)?;
        if self.b.get(end) == Some(&b':') {
            // `- key: …`: a mapping at the key's column.
            self.open(Frame::map(ind + (content - c), content))?;
            return self.entry(content, eol);
        }
        self.scalar_value(scalar, content, end, eol)
    }

    /// A mapping entry `key: …` at `c` (the mapping is open, on top).
    fn entry(&mut self, c: usize, eol: usize) -> Option<()> {
        let (key, colon) = self.scalar(c, eol)?;
        let Value::Scalar { text, plain: true } = key else {
            return None;
        };
        if self.b.get(colon) != Some(&b':') || colon - c > MAX_KEY {
            return None;
        }
        self.spend()?;
        let key = Key {
            text,
            span: self.span(c, colon),
        };
        let v = self.b[colon + 1..eol]
            .iter()
            .position(|&b| b != b' ')
            .map_or(eol, |i| colon + 1 + i);
        let Some(Frame::Map {
            key: open, awaiting, ..
        }) = self.stack.last_mut()
        else {
            return None;
        };
        *open = Some(key);
        if v == eol || self.b[v] == b'#' {
            *awaiting = Some(colon);
            return Some(());
        }
        if self.is_item(v, eol) {
            return None;
        }
        let (scalar, end) = self.scalar(v, eol)?;
        self.scalar_value(scalar, v, end, eol)
    }

    /// Nothing but spaces and a comment from `end` to the end of the line.
    fn line_end(&self, end: usize, eol: usize) -> Option<()> {
        match self.b[end..eol].iter().position(|&b| b != b' ') {
            None => Some(()),
            Some(i) if i > 0 && self.b[end + i] == b'#' => Some(()),
            Some(_) => None,
        }
    }

    /// The scalar starting at `p` and where it ends: after its closing
    /// quote, or (plain) before the spaces that precede a comment, the end
    /// of the line, or a `: ` (a key's colon, where it then ends).
    fn scalar(&self, p: usize, eol: usize) -> Option<(Value<'a>, usize)> {
        match self.b[p] {
            b'"' => self.double_quoted(p, eol),
            b'\'' => self.single_quoted(p, eol),
            b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'%' | b'@'
            | b'`' | b'?' | b':' => None,
            b'-' if p + 1 == eol || self.b[p + 1] == b' ' => None,
            _ => {
                let mut i = p;
                let mut end = p;
                while i < eol {
                    match self.b[i] {
                        b':' if i + 1 == eol || self.b[i + 1] == b' ' => {
                            if end != i {
                                // `key :`: spaces before the colon.
                                return None;
                            }
                            break;
                        }
                        b' ' => {
                            let next = self.b[i..eol]
                                .iter()
                                .position(|&b| b != b' ')
                                .map_or(eol, |n| i + n);
                            if next == eol || self.b[next] == b'#' {
                                break;
                            }
                            i = next;
                        }
                        _ => {
                            // Up to the next `:` or space, which alone can
                            // end the scalar, a word at a time.
                            i = find2(self.b, i + 1, eol, b':', b' ');
                            end = i;
                        }
                    }
                }
                let text: &'a str = self.text;
                Some((
                    Value::Scalar {
                        text: Cow::Borrowed(&text[p..end]),
                        plain: true,
                    },
                    end,
                ))
            }
        }
    }

    /// A single-quoted scalar: borrowed from the text unless it has a `''`.
    fn single_quoted(&self, p: usize, eol: usize) -> Option<(Value<'a>, usize)> {
        let mut text = None;
        let mut from = p + 1;
        let mut i = p + 1;
        loop {
            if i >= eol {
                return None;
            }
            if self.b[i] == b'\'' {
                if self.b.get(i + 1) == Some(&b'\'') && i + 1 < eol {
                    let text = text.get_or_insert_with(String::new);
                    text.push_str(&self.text[from..i]);
                    text.push('\'');
                    i += 2;
                    from = i;
                    continue;
                }
                return Some((self.quoted(text, from, i), i + 1));
            }
            i += 1;
        }
    }

    /// A quoted scalar's value whose last part runs from `from` to `to`:
    /// the text there, or `unquoted` (what came before, with its escapes
    /// or `''` undone) followed by it.
    fn quoted(&self, unquoted: Option<String>, from: usize, to: usize) -> Value<'a> {
        let text: &'a str = self.text;
        let text = match unquoted {
            None => Cow::Borrowed(&text[from..to]),
            Some(mut s) => {
                s.push_str(&text[from..to]);
                Cow::Owned(s)
            }
        };
        Value::Scalar { text, plain: false }
    }

    /// A double-quoted scalar: borrowed from the text unless it has an escape.
    fn double_quoted(&self, p: usize, eol: usize) -> Option<(Value<'a>, usize)> {
        let mut text = None;
        let mut from = p + 1;
        let mut i = p + 1;
        loop {
            if i >= eol {
                return None;
            }
            match self.b[i] {
                b'"' => return Some((self.quoted(text, from, i), i + 1)),
                b'\\' => {
                    let text = text.get_or_insert_with(String::new);
                    text.push_str(&self.text[from..i]);
                    let e = *self.b.get(i + 1).filter(|_| i + 1 < eol)?;
                    let (c, len) = match e {
                        b'0' => ('\0', 2),
                        b'a' => ('\x07', 2),
                        b'b' => ('\x08', 2),
                        b't' => ('\t', 2),
                        b'n' => ('\n', 2),
                        b'v' => ('\x0b', 2),
                        b'f' => ('\x0c', 2),
                        b'r' => ('\r', 2),
                        b'e' => ('\x1b', 2),
                        b' ' => (' ', 2),
                        b'"' => ('"', 2),
                        b'/' => ('/', 2),
                        b'\\' => ('\\', 2),
                        b'N' => ('\u{85}', 2),
                        b'_' => ('\u{a0}', 2),
                        b'L' => ('\u{2028}', 2),
                        b'P' => ('\u{2029}', 2),
                        b'x' => (self.hex(i + 2, 2, eol)?, 4),
                        b'u' => (self.hex(i + 2, 4, eol)?, 6),
                        b'U' => (self.hex(i + 2, 8, eol)?, 10),
                        _ => return None,
                    };
                    text.push(c);
                    i += len;
                    from = i;
                }
                _ => i += 1,
            }
        }
    }

    /// The character of `digits` hex digits at `at`.
    fn hex(&self, at: usize, digits: usize, eol: usize) -> Option<char> {
        let s = self.text.get(at..at + digits).filter(|_| at + digits <= eol)?;
        if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        char::from_u32(u32::from_str_radix(s, 16).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    #[test]
    fn find2_finds_what_a_byte_by_byte_search_finds() {
        let alphabet = b"ab: \n#\xc3\xa9x";
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..2000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 40) as usize;
            let b: Vec<u8> = (0..len)
                .map(|k| alphabet[((seed >> (k % 50)) as usize + k * 7) % alphabet.len()])
                .collect();
            for (x, y) in [(b':', b' '), (b'\n', b'\n'), (b'#', b'x')] {
                for from in 0..=len {
                    for to in from..=len {
                        let naive = (from..to).find(|&i| b[i] == x || b[i] == y).unwrap_or(to);
                        assert_eq!(find2(&b, from, to, x, y), naive, "{b:?} {from}..{to} {x} {y}");
                    }
                }
            }
        }
    }

    #[test]
    fn scalars_and_keys_borrow_from_the_text_unless_quoting_changed_them() {
        let text = "plain: value with:colon and spaces  # c\nsingle: 'as is'\ndouble: \"as is\"\n\
                    escaped: \"a\\tb\"\ndoubled: 'it''s'\nlong: a-plain-scalar:longer/than.a-block x #y\n";
        let (docs, diags) = load(text, 0).expect("block YAML");
        assert!(diags.is_empty(), "{diags:?}");
        let within = text.as_bytes().as_ptr_range();
        let borrowed = |c: &Cow<'_, str>| matches!(c, Cow::Borrowed(s) if within.contains(&s.as_ptr()));
        assert_eq!(docs[0].entries().len(), 6);
        for (k, v) in docs[0].entries() {
            assert!(borrowed(&k.text), "{k:?}");
            let Value::Scalar { text: t, .. } = &v.value else {
                unreachable!("{v:?} is a scalar")
            };
            assert_eq!(
                borrowed(t),
                !matches!(&*k.text, "escaped" | "doubled"),
                "{k:?}: {t:?}"
            );
        }
        let value = |k| docs[0].get(k).and_then(Node::str);
        assert_eq!(value("plain"), Some("value with:colon and spaces"));
        assert_eq!(value("single"), Some("as is"));
        assert_eq!(value("double"), Some("as is"));
        assert_eq!(value("escaped"), Some("a\tb"));
        assert_eq!(value("doubled"), Some("it's"));
        assert_eq!(value("long"), Some("a-plain-scalar:longer/than.a-block x"));
    }
}
