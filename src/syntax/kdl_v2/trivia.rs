//! Whitespace, newlines, comments and line continuations: everything the
//! grammar skips (KDL v2 "Whitespace", "Newline", "Line Continuation").
//!
//! Three nested notions, as in the spec's grammar:
//! - `ws`: spaces and `/* */` comments (which nest);
//! - `node-space`: `ws` and line continuations (`\` then a newline), the
//!   space allowed between the parts of one node;
//! - `line-space`: `node-space`, newlines and `//` comments, the space
//!   between nodes.
//!
//! Comments may contain any code point but the disallowed ones: the spec
//! forbids those "anywhere in the document", so a text-direction control
//! in a comment ("Trojan Source", CVE-2021-42574: a comment that displays
//! as code, or code that displays as a comment) is an error like anywhere
//! else.

use super::error::ParseError;
use super::parser::{Fatal, PResult, Parser};
use crate::source::Span;

impl Parser<'_> {
    /// Length of the newline at `at`, 0 if there is none. CRLF is one
    /// newline (spec "Newline").
    pub(super) fn newline_len(&self, at: usize) -> usize {
        match self.bytes.get(at) {
            Some(b'\r') if self.bytes.get(at + 1) == Some(&b'\n') => 2,
            Some(b'\r' | b'\n' | 0x0B | 0x0C) => 1,
            // NEL is C2 85; LS and PS are E2 80 A8 and E2 80 A9.
            Some(0xC2) if self.bytes.get(at + 1) == Some(&0x85) => 2,
            Some(0xE2)
                if self.bytes.get(at + 1) == Some(&0x80)
                    && matches!(self.bytes.get(at + 2), Some(0xA8 | 0xA9)) =>
            {
                3
            }
            _ => 0,
        }
    }

    /// Length of the non-newline whitespace character at `at`, 0 if none.
    pub(super) fn space_len(&self, at: usize) -> usize {
        match self.bytes.get(at) {
            Some(b' ' | b'\t') => 1,
            Some(&b) if b >= 0x80 => match self.char_at(at) {
                Some(c) if super::chars::is_space(c) => c.len_utf8(),
                _ => 0,
            },
            _ => 0,
        }
    }

    /// `node-space*`. Returns whether anything was skipped: entries must be
    /// separated by some space.
    pub(super) fn skip_node_space(&mut self) -> PResult<bool> {
        let start = self.pos;
        loop {
            match self.peek() {
                Some(b' ' | b'\t') => self.pos += 1,
                Some(b'/') if self.peek_at(1) == Some(b'*') => self.block_comment()?,
                Some(b'\\') => {
                    if !self.escline()? {
                        break;
                    }
                }
                Some(b) if b >= 0x80 => match self.space_len(self.pos) {
                    0 => break,
                    n => self.pos += n,
                },
                _ => break,
            }
        }
        Ok(self.pos != start)
    }

    /// `line-space*`.
    pub(super) fn skip_line_space(&mut self) -> PResult<()> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C) => self.pos += 1,
                Some(b'/') => match self.peek_at(1) {
                    Some(b'*') => self.block_comment()?,
                    Some(b'/') => self.line_comment()?,
                    _ => return Ok(()),
                },
                Some(b'\\') => {
                    if !self.escline()? {
                        return Ok(());
                    }
                }
                Some(b) if b >= 0x80 => {
                    let n = self.space_len(self.pos).max(self.newline_len(self.pos));
                    if n == 0 {
                        return Ok(());
                    }
                    self.pos += n;
                }
                _ => return Ok(()),
            }
        }
    }

    /// A `//` comment, through the newline that ends it (a comment is also
    /// a node terminator, spec `node-terminator`).
    pub(super) fn line_comment(&mut self) -> PResult<()> {
        self.pos += 2;
        while let Some(&b) = self.bytes.get(self.pos) {
            // Only these bytes can start a newline; everything else, including
            // the inside of multi-byte characters, is comment text.
            if matches!(b, b'\n' | b'\r' | 0x0B | 0x0C | 0xC2 | 0xE2) {
                let n = self.newline_len(self.pos);
                if n > 0 {
                    self.pos += n;
                    return Ok(());
                }
            }
            self.comment_byte(b)?;
        }
        Ok(())
    }

    /// Steps over the comment byte `b` at `pos`: over its whole character
    /// if it may start a disallowed code point, which is reported.
    fn comment_byte(&mut self, b: u8) -> PResult<()> {
        // Only these bytes can start a disallowed code point: C0 controls
        // and DEL, and the lead bytes of U+200E–U+2069 (E2) and U+FEFF (EF).
        if !(b < 0x20 || b == 0x7F || b == 0xE2 || b == 0xEF) {
            self.pos += 1;
            return Ok(());
        }
        let at = self.pos;
        let Some(c) = self.char_at(at) else {
            self.pos += 1;
            return Ok(());
        };
        self.pos += c.len_utf8();
        if super::chars::is_disallowed(c) {
            self.error(
                ParseError::new(
                    Span::new(at, self.pos),
                    format!(
                        "{} is not allowed in a KDL document, not even in a comment",
                        super::chars::describe(c)
                    ),
                    "disallowed character",
                )
                .help("remove it: it can make the text display in another order than it reads"),
            )?;
        }
        Ok(())
    }

    /// A `/* */` comment; they nest (spec "Multi-line comments"). Unclosed,
    /// it swallows the rest of the file, so there is nothing to recover.
    fn block_comment(&mut self) -> PResult<()> {
        let open = self.pos;
        self.pos += 2;
        let mut depth = 1usize;
        while let Some(&b) = self.bytes.get(self.pos) {
            match (b, self.peek_at(1)) {
                (b'/', Some(b'*')) => {
                    depth += 1;
                    self.pos += 2;
                }
                (b'*', Some(b'/')) => {
                    depth -= 1;
                    self.pos += 2;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                _ => self.comment_byte(b)?,
            }
        }
        self.fatal(
            ParseError::new(Span::new(open, open + 2), "unclosed comment", "opened here")
                .help("close it with `*/`; block comments nest, so every `/*` needs its own `*/`"),
        )
    }

    /// `escline`: `\`, optional `ws`, then a `//` comment, a newline or the
    /// end of the file. Returns false, consuming nothing, when the `\` does
    /// not start one (the caller reports it).
    fn escline(&mut self) -> PResult<bool> {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.peek() {
                Some(b'/') if self.peek_at(1) == Some(b'*') => self.block_comment()?,
                _ => match self.space_len(self.pos) {
                    0 => break,
                    n => self.pos += n,
                },
            }
        }
        if self.peek().is_none() {
            return Ok(true);
        }
        if self.peek() == Some(b'/') && self.peek_at(1) == Some(b'/') {
            self.line_comment()?;
            return Ok(true);
        }
        let n = self.newline_len(self.pos);
        if n > 0 {
            self.pos += n;
            return Ok(true);
        }
        self.pos = start;
        Ok(false)
    }

    /// Records an error after which parsing cannot go on.
    pub(super) fn fatal<T>(&mut self, error: ParseError) -> PResult<T> {
        self.errors.push(error);
        Err(Fatal)
    }
}
