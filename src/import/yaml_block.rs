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
pub fn load(text: &str, base: usize) -> Option<(Vec<Node>, Vec<Diagnostic>)> {
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

enum Frame {
    Map {
        indent: usize,
        start: usize,
        entries: Entries,
        /// The key whose value is open (on the lines below).
        key: Option<Key>,
        /// Its colon, while the line after it has not been seen.
        awaiting: Option<usize>,
    },
    Seq {
        indent: usize,
        start: usize,
        items: Vec<Node>,
        /// At its key's indentation (`key:` then `- item` below it).
        indentless: bool,
    },
}

impl Frame {
    /// An empty block mapping whose keys are at column `indent`, starting at `start`.
    fn map(indent: usize, start: usize) -> Frame {
        Frame::Map {
            indent,
            start,
            entries: Entries::default(),
            key: None,
            awaiting: None,
        }
    }

    /// An empty block sequence whose `-` are at column `indent`, starting at `start`.
    fn seq(indent: usize, start: usize, indentless: bool) -> Frame {
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
    docs: Vec<Node>,
    stack: Vec<Frame>,
    nodes: usize,
    diags: Vec<Diagnostic>,
    /// The current document's root is complete.
    root_done: bool,
    /// The current document began with `---`.
    explicit: bool,
}

impl Reader<'_> {
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
            // `memchr`: a byte-by-byte search was a third of this reader's
            // own instructions.
            let eol = memchr::memchr(b'\n', &self.b[pos..]).map_or(len, |i| pos + i);
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
                    text: "~".to_owned(),
                    plain: true,
                },
            };
            self.add(node)?;
        }
        Some(())
    }

    /// Hands a complete node to the innermost open collection (or makes it
    /// the document's root).
    fn add(&mut self, node: Node) -> Option<()> {
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

    fn open(&mut self, frame: Frame) -> Option<()> {
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
    fn scalar_value(&mut self, scalar: Value, start: usize, end: usize, eol: usize) -> Option<()> {
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
    fn scalar(&self, p: usize, eol: usize) -> Option<(Value, usize)> {
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
                            i += 1;
                            end = i;
                        }
                    }
                }
                Some((
                    Value::Scalar {
                        text: self.text[p..end].to_owned(),
                        plain: true,
                    },
                    end,
                ))
            }
        }
    }

    fn single_quoted(&self, p: usize, eol: usize) -> Option<(Value, usize)> {
        let mut text = String::new();
        let mut from = p + 1;
        let mut i = p + 1;
        loop {
            if i >= eol {
                return None;
            }
            if self.b[i] == b'\'' {
                text.push_str(&self.text[from..i]);
                if self.b.get(i + 1) == Some(&b'\'') && i + 1 < eol {
                    text.push('\'');
                    i += 2;
                    from = i;
                    continue;
                }
                return Some((Value::Scalar { text, plain: false }, i + 1));
            }
            i += 1;
        }
    }

    fn double_quoted(&self, p: usize, eol: usize) -> Option<(Value, usize)> {
        let mut text = String::new();
        let mut from = p + 1;
        let mut i = p + 1;
        loop {
            if i >= eol {
                return None;
            }
            match self.b[i] {
                b'"' => {
                    text.push_str(&self.text[from..i]);
                    return Some((Value::Scalar { text, plain: false }, i + 1));
                }
                b'\\' => {
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
