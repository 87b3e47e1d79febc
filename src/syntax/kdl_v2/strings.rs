//! Values: the scanner that dispatches on a value's first character, and
//! the string forms (KDL v2 "String": identifier strings, quoted strings
//! with escapes, multi-line strings with their dedent rules, raw strings).
//!
//! A string without escapes is one slice copy; only strings with escapes
//! or several lines go through a buffer.

use super::chars::{self, IDENT_ASCII};
use super::error::{ParseError, clip};
use super::parser::{PResult, Parser, Token};
use std::borrow::Cow;

use crate::source::Span;
use crate::syntax::Value;

/// The escapes of spec "Escapes", by the character after `\`.
fn simple_escape(b: u8) -> Option<char> {
    Some(match b {
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'\\' => '\\',
        b'"' => '"',
        b'b' => '\u{8}',
        b'f' => '\u{C}',
        b's' => ' ',
        _ => return None,
    })
}

const KEYWORDS_HELP: &str =
    "the keywords are #true, #false, #null, #inf, #-inf and #nan; a string with `#` must be quoted";

const UNCLOSED_LINE_HELP: &str =
    "close it with `\"` on the same line; for several lines use \"\"\" … \"\"\", or write \\n";

const ESCAPES_HELP: &str = "the escapes are \\n \\r \\t \\\\ \\\" \\b \\f \\s and \\u{hex}; \
                            to write a backslash, double it, or use a raw string #\"…\"#";

impl<'t> Parser<'t> {
    /// One value (`string | number | keyword`), checked to end where a
    /// value may end. `None` after a reported error (the bad token has been
    /// skipped).
    pub(super) fn value(&mut self) -> PResult<Option<Token<'t>>> {
        let start = self.pos;
        let Some(first) = self.peek() else {
            self.error(ParseError::new(
                Span::new(start, start),
                "expected a value, found the end of the file",
                "value expected",
            ))?;
            return Ok(None);
        };
        let value = match first {
            b'"' => self.quoted_string()?.map(Value::String),
            b'#' => {
                let hashes = self.bytes[start..].iter().take_while(|&&b| b == b'#').count();
                if self.bytes.get(start + hashes) == Some(&b'"') {
                    self.raw_string(hashes)?.map(Value::String)
                } else {
                    self.keyword()?
                }
            }
            b'0'..=b'9' => return self.number(),
            b'+' | b'-' if self.peek_at(1).is_some_and(|b| b.is_ascii_digit()) => return self.number(),
            _ => self.bare_string()?.map(Value::String),
        };
        let Some(value) = value else {
            return Ok(None);
        };
        let end = self.pos;
        if !self.at_value_end() {
            let rest = self.skip_bad_token();
            let found = self.slice(rest).chars().next().unwrap_or(' ');
            let value = clip(self.slice(Span::new(start, end)));
            let error = if chars::is_disallowed(found) {
                ParseError::new(
                    Span::new(rest.start, rest.start + found.len_utf8()),
                    format!("{} is not allowed in a KDL document", chars::describe(found)),
                    "disallowed character",
                )
                .help(format!(
                    "remove it; inside a quoted string, write it as \\u{{{:x}}}",
                    found as u32
                ))
            } else {
                ParseError::new(
                    rest,
                    format!("unexpected `{found}` right after `{value}`"),
                    "space expected before",
                )
                .help("separate values with a space, or quote the whole thing")
            };
            self.error(error)?;
            return Ok(None);
        }
        Ok(Some(Token {
            value,
            span: Span::new(start, end),
        }))
    }

    /// An identifier string (spec "Identifier String"), or the error for
    /// whatever else starts here.
    fn bare_string(&mut self) -> PResult<Option<Cow<'t, str>>> {
        let start = self.pos;
        let sign = usize::from(matches!(self.peek(), Some(b'+' | b'-')));
        let dot = self.bytes.get(start + sign) == Some(&b'.');
        let digit_after_dot = dot && self.bytes.get(start + sign + 1).is_some_and(u8::is_ascii_digit);
        if digit_after_dot {
            // `.5`, `-.5`: "almost a number", neither a number nor a string.
            let span = self.skip_bad_token();
            let text = clip(self.slice(span));
            let (sign, rest) = text.split_at(sign);
            self.error(
                ParseError::new(span, format!("`{text}` is not a number"), "not a number").help(format!(
                    "a number needs a digit before the point: {sign}0{rest}; or quote it as a string"
                )),
            )?;
            return Ok(None);
        }
        loop {
            // The ASCII run at once, on a local slice: one table load per
            // byte, no bounds check and no store of the position per byte.
            let rest = &self.bytes[self.pos..];
            let ascii = rest
                .iter()
                .position(|&b| b >= 0x80 || !IDENT_ASCII[usize::from(b)])
                .unwrap_or(rest.len());
            self.pos += ascii;
            // What stopped it: the end, an ASCII byte that ends the string,
            // or the start of a longer character, which may go on with it.
            match self.bytes.get(self.pos) {
                Some(&b) if b >= 0x80 => match self.char_at(self.pos) {
                    Some(c) if chars::is_ident_char(c) => self.pos += c.len_utf8(),
                    _ => break,
                },
                _ => break,
            }
        }
        if self.pos == start {
            return self.unexpected_character().map(|()| None);
        }
        let text = self.slice(Span::new(start, self.pos));
        // `-inf` is not here: the grammar's `signed-ident` allows it, and so
        // does the `kdl` crate.
        if matches!(text, "true" | "false" | "null" | "inf" | "nan") {
            self.error(
                ParseError::new(
                    Span::new(start, self.pos),
                    format!("`{text}` cannot be a bare string: it is a KDL keyword"),
                    "keyword",
                )
                .help(format!(
                    "write #{text} for the value, or \"{text}\" for the string"
                )),
            )?;
            return Ok(None);
        }
        Ok(Some(Cow::Borrowed(text)))
    }

    /// Reports the character at `pos`, which starts no value, and skips it
    /// (and the rest of its token) unless it ends a node.
    fn unexpected_character(&mut self) -> PResult<()> {
        let at = self.pos;
        let Some(c) = self.char_at(at) else {
            return Ok(());
        };
        let (message, help) = if chars::is_disallowed(c) {
            (
                format!("{} is not allowed in a KDL document", chars::describe(c)),
                format!(
                    "remove it; inside a quoted string, write it as \\u{{{:x}}}",
                    c as u32
                ),
            )
        } else if c == '\\' {
            (
                "`\\` must be followed by a newline (a line continuation)".to_owned(),
                "to write a backslash, put it in a quoted string: \"\\\\\"".to_owned(),
            )
        } else if chars::is_newline(c) || matches!(c, ';' | '{' | '}') {
            (
                format!("expected a value, found {}", describe_char(c)),
                "write a value here".to_owned(),
            )
        } else {
            (
                format!("unexpected `{c}`"),
                "quote it if it is part of a string".to_owned(),
            )
        };
        let span = Span::new(at, at + c.len_utf8());
        if chars::is_newline(c) || matches!(c, ';' | '{' | '}') {
            return self.error(ParseError::new(span, message, "value expected").help(help));
        }
        // Point at the character, skip its whole token.
        self.skip_bad_token();
        self.error(ParseError::new(span, message, "unexpected").help(help))
    }

    /// `#true`, `#false`, `#null`, `#inf`, `#-inf`, `#nan` (spec "Boolean",
    /// "Null", "Keyword Numbers").
    fn keyword(&mut self) -> PResult<Option<Value<'t>>> {
        let start = self.pos;
        self.pos += 1;
        while let Some(&b) = self.bytes.get(self.pos) {
            if b >= 0x80 || !IDENT_ASCII[usize::from(b)] {
                break;
            }
            self.pos += 1;
        }
        let value = match self.slice(Span::new(start + 1, self.pos)) {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" => Value::Null,
            "inf" => Value::Float(f64::INFINITY),
            "-inf" => Value::Float(f64::NEG_INFINITY),
            "nan" => Value::Float(f64::NAN),
            _ => {
                self.pos = start;
                let span = self.skip_bad_token();
                let message = format!("`{}` is not a KDL keyword", clip(self.slice(span)));
                self.error(ParseError::new(span, message, "unknown keyword").help(KEYWORDS_HELP))?;
                return Ok(None);
            }
        };
        Ok(Some(value))
    }

    /// A quoted string, `"…"`, or a multi-line one, `"""…"""`.
    fn quoted_string(&mut self) -> PResult<Option<Cow<'t, str>>> {
        if self.bytes[self.pos..].starts_with(b"\"\"\"") {
            return self.multiline_string();
        }
        let open = self.pos;
        self.pos += 1;
        let mut run = self.pos;
        let mut owned: Option<String> = None;
        let mut ok = true;
        loop {
            let Some(&b) = self.bytes.get(self.pos) else {
                return self.fatal(unclosed_string(open, 1));
            };
            match b {
                b'"' => break,
                b'\\' => {
                    let out = owned.get_or_insert_with(String::new);
                    out.push_str(self.slice(Span::new(run, self.pos)));
                    ok &= self.escape(out)?;
                    run = self.pos;
                }
                b'\t' | 0x20..=0x7E => {
                    // The plain run at once, on a local slice (as in
                    // `bare_string`).
                    let rest = &self.bytes[self.pos + 1..];
                    self.pos += 1 + rest
                        .iter()
                        .position(|&b| !matches!(b, b'\t' | 0x20..=0x7E) || b == b'"' || b == b'\\')
                        .unwrap_or(rest.len());
                }
                _ => {
                    if self.newline_len(self.pos) > 0 {
                        // Most likely a missing closing quote: end the string
                        // here and go on with the next line.
                        self.error(unclosed_string(open, 1).help(UNCLOSED_LINE_HELP))?;
                        return Ok(None);
                    }
                    ok &= self.literal_char()?;
                }
            }
        }
        let end = self.pos;
        self.pos += 1;
        if !ok {
            return Ok(None);
        }
        let tail = self.slice(Span::new(run, end));
        Ok(Some(match owned {
            Some(mut s) => {
                s.push_str(tail);
                Cow::Owned(s)
            }
            None => Cow::Borrowed(tail),
        }))
    }

    /// Steps over one literal character of a string body, reporting it if
    /// it is a disallowed code point. Returns whether it was allowed.
    fn literal_char(&mut self) -> PResult<bool> {
        let at = self.pos;
        let c = self.char_at(at).unwrap_or('\u{FFFD}');
        self.pos += self.char_len(at);
        if chars::is_disallowed(c) {
            self.error(
                ParseError::new(
                    Span::new(at, self.pos),
                    format!("{} is not allowed in a string", chars::describe(c)),
                    "disallowed character",
                )
                .help(format!("write it as an escape: \\u{{{:x}}}", c as u32)),
            )?;
            return Ok(false);
        }
        Ok(true)
    }

    /// At a `\` in a quoted string: reads one escape (spec "Escapes" and
    /// "Escaped Whitespace") and appends what it stands for. Returns whether
    /// it was valid.
    fn escape(&mut self, out: &mut String) -> PResult<bool> {
        let at = self.pos;
        self.pos += 1;
        let Some(b) = self.peek() else {
            // The caller's loop reports the unclosed string.
            return Ok(false);
        };
        if let Some(c) = simple_escape(b) {
            self.pos += 1;
            out.push(c);
            return Ok(true);
        }
        if b == b'u' {
            return Ok(match self.unicode_escape(at)? {
                Some(c) => {
                    out.push(c);
                    true
                }
                None => false,
            });
        }
        if self.skip_escaped_whitespace() {
            return Ok(true);
        }
        self.invalid_escape(at)?;
        Ok(false)
    }

    /// After a `\`: skips literal spaces and newlines, if any follow.
    fn skip_escaped_whitespace(&mut self) -> bool {
        let start = self.pos;
        loop {
            let n = self.space_len(self.pos).max(self.newline_len(self.pos));
            if n == 0 {
                return self.pos != start;
            }
            self.pos += n;
        }
    }

    fn invalid_escape(&mut self, at: usize) -> PResult<()> {
        let len = self.char_len(self.pos);
        self.pos += len;
        self.error(
            ParseError::new(
                Span::new(at, self.pos),
                format!("invalid escape `{}`", self.slice(Span::new(at, self.pos))),
                "invalid escape",
            )
            .help(ESCAPES_HELP),
        )
    }

    /// `\u{…}`: one to six hex digits naming a Unicode scalar value. `at` is
    /// the `\`; `pos` is on the `u`.
    fn unicode_escape(&mut self, at: usize) -> PResult<Option<char>> {
        self.pos += 1;
        if self.peek() != Some(b'{') {
            return self.bad_unicode_escape(at, "`\\u` must be followed by `{`");
        }
        self.pos += 1;
        let digits_start = self.pos;
        let mut value: u32 = 0;
        while let Some(d) = self.peek().and_then(|b| char::from(b).to_digit(16)) {
            if self.pos - digits_start == 6 {
                return self.bad_unicode_escape(at, "a unicode escape has at most six hex digits");
            }
            value = value * 16 + d;
            self.pos += 1;
        }
        if self.pos == digits_start {
            return self.bad_unicode_escape(at, "a unicode escape needs hex digits between the braces");
        }
        if self.peek() != Some(b'}') {
            return self.bad_unicode_escape(at, "a unicode escape must end with `}`");
        }
        self.pos += 1;
        match char::from_u32(value) {
            Some(c) => Ok(Some(c)),
            None => self.bad_unicode_escape(at, &format!("U+{value:X} is not a Unicode scalar value")),
        }
    }

    fn bad_unicode_escape(&mut self, at: usize, why: &str) -> PResult<Option<char>> {
        // Skip the rest of the escape, to its `}` if it is near.
        while let Some(b) = self.peek() {
            if b == b'}' {
                self.pos += 1;
                break;
            }
            if !b.is_ascii_alphanumeric() && b != b'{' {
                break;
            }
            self.pos += 1;
        }
        self.error(
            ParseError::new(
                Span::new(at, self.pos),
                format!("invalid unicode escape: {why}"),
                "invalid escape",
            )
            .help("write \\u{1F600}: one to six hex digits, not a surrogate, at most 10FFFF"),
        )?;
        Ok(None)
    }

    /// `"""` newline, lines, closing line of whitespace, `"""` (spec
    /// "Multi-line String"). Escaped whitespace is resolved first, then the
    /// closing line's whitespace is removed from every line, then the other
    /// escapes are resolved: the order the spec prescribes ("Interaction
    /// with Whitespace Escapes").
    fn multiline_string(&mut self) -> PResult<Option<Cow<'t, str>>> {
        let open = self.pos;
        self.pos += 3;
        let mut ok = self.multiline_opening(open, 3)?;
        // Pass 1: the body with literal newlines normalized to `\n`, escaped
        // whitespace removed, other escapes validated and kept as written.
        let mut body = std::mem::take(&mut self.scratch);
        body.clear();
        let mut line_starts = vec![self.pos];
        let close = loop {
            let Some(&b) = self.bytes.get(self.pos) else {
                self.scratch = body;
                return self.fatal(unclosed_string(open, 3));
            };
            match b {
                b'"' if self.bytes[self.pos..].starts_with(b"\"\"\"") => break self.pos,
                b'\\' => {
                    let at = self.pos;
                    self.pos += 1;
                    match self.peek() {
                        Some(e) if simple_escape(e).is_some() => {
                            self.pos += 1;
                            body.push('\\');
                            body.push(char::from(e));
                        }
                        Some(b'u') => {
                            ok &= self.unicode_escape(at)?.is_some();
                            body.push_str(self.slice(Span::new(at, self.pos)));
                        }
                        None => {}
                        Some(_) if self.skip_escaped_whitespace() => {}
                        Some(_) => {
                            self.invalid_escape(at)?;
                            ok = false;
                        }
                    }
                }
                b'\t' | 0x20..=0x7E => {
                    body.push(char::from(b));
                    self.pos += 1;
                }
                _ => {
                    let n = self.newline_len(self.pos);
                    if n > 0 {
                        self.pos += n;
                        body.push('\n');
                        line_starts.push(self.pos);
                    } else {
                        let at = self.pos;
                        ok &= self.literal_char()?;
                        body.push_str(self.slice(Span::new(at, self.pos)));
                    }
                }
            }
        };
        self.pos = close + 3;
        let value = if ok {
            self.dedent(&body, &line_starts, close, true)?
        } else {
            None
        };
        self.scratch = body;
        Ok(value)
    }

    /// After the opening quotes of a multi-line string: the newline that
    /// must follow them. Returns false (reported) if it is missing.
    fn multiline_opening(&mut self, open: usize, len: usize) -> PResult<bool> {
        let n = self.newline_len(self.pos);
        if n > 0 {
            self.pos += n;
            return Ok(true);
        }
        self.error(
            ParseError::new(
                Span::new(open, open + len),
                "a multi-line string must start with a newline after its opening quotes",
                "newline expected after",
            )
            .help("put the text on the next line, or write a single-line string \"…\""),
        )?;
        Ok(false)
    }

    /// Dedents a multi-line body (lines separated by `\n`, the last one the
    /// closing line) by the closing line's whitespace, and resolves escapes
    /// if `escapes`. `line_starts` are the source offsets of the lines, for
    /// error spans; `close` is the offset of the closing quotes.
    fn dedent(
        &mut self,
        body: &str,
        line_starts: &[usize],
        close: usize,
        escapes: bool,
    ) -> PResult<Option<Cow<'t, str>>> {
        let (content, prefix) = match body.rfind('\n') {
            Some(i) => (Some(&body[..i]), &body[i + 1..]),
            None => (None, body),
        };
        if !prefix.chars().all(chars::is_space) {
            self.error(
                ParseError::new(
                    Span::new(close, close + 3),
                    "the closing quotes of a multi-line string must be on their own line",
                    "text before the closing quotes",
                )
                .help("put the closing quotes on a line of their own, indented like the text"),
            )?;
            return Ok(None);
        }
        let mut out = String::with_capacity(body.len());
        let mut ok = true;
        for (i, line) in content.into_iter().flat_map(|c| c.split('\n')).enumerate() {
            if i > 0 {
                out.push('\n');
            }
            if line.chars().all(chars::is_space) {
                continue;
            }
            let Some(rest) = line.strip_prefix(prefix) else {
                let at = line_starts.get(i).copied().unwrap_or(close);
                self.error(
                    ParseError::new(
                        Span::new(at, at),
                        "this line of a multi-line string is not indented like its closing quotes",
                        "indentation differs",
                    )
                    .help(
                        "every non-blank line must start with the exact whitespace before the closing quotes",
                    ),
                )?;
                ok = false;
                continue;
            };
            if escapes {
                resolve_escapes(rest, &mut out);
            } else {
                out.push_str(rest);
            }
        }
        Ok(ok.then_some(Cow::Owned(out)))
    }

    /// A raw string with `hashes` `#`s: `#"…"#` or `#"""…"""#` (spec "Raw
    /// String"). No escapes; it ends at the first closing quote(s) followed
    /// by as many `#`.
    fn raw_string(&mut self, hashes: usize) -> PResult<Option<Cow<'t, str>>> {
        let open = self.pos;
        self.pos += hashes;
        if self.bytes[self.pos..].starts_with(b"\"\"\"") {
            self.pos += 3;
            if self.multiline_opening(open, hashes + 3)? {
                return self.multiline_raw_string(open, hashes);
            }
            // `#"""text"""#`: reported; read on as a single-line raw string
            // so that the rest of the line parses.
            self.pos -= 2;
            self.single_line_raw_string(open, hashes)?;
            return Ok(None);
        }
        self.pos += 1;
        self.single_line_raw_string(open, hashes)
    }

    fn single_line_raw_string(&mut self, open: usize, hashes: usize) -> PResult<Option<Cow<'t, str>>> {
        let start = self.pos;
        let mut ok = true;
        loop {
            let Some(&b) = self.bytes.get(self.pos) else {
                return self.fatal(unclosed_string(open, hashes + 1));
            };
            match b {
                b'"' if self.closes_raw(self.pos + 1, hashes) => break,
                b'\t' | 0x20..=0x7E => self.pos += 1,
                _ => {
                    if self.newline_len(self.pos) > 0 {
                        let hashes = "#".repeat(hashes);
                        self.error(unclosed_string(open, hashes.len() + 1).help(format!(
                            "close it with `\"{hashes}` on the same line; a raw string over several lines \
                             starts with {hashes}\"\"\" and a newline"
                        )))?;
                        return Ok(None);
                    }
                    ok &= self.literal_char()?;
                }
            }
        }
        let text = self.slice(Span::new(start, self.pos));
        self.pos += 1 + hashes;
        Ok(ok.then_some(Cow::Borrowed(text)))
    }

    /// True if `hashes` `#`s are at `at`.
    fn closes_raw(&self, at: usize, hashes: usize) -> bool {
        self.bytes
            .get(at..at + hashes)
            .is_some_and(|h| h.iter().all(|&b| b == b'#'))
    }

    fn multiline_raw_string(&mut self, open: usize, hashes: usize) -> PResult<Option<Cow<'t, str>>> {
        let mut body = std::mem::take(&mut self.scratch);
        body.clear();
        let mut line_starts = vec![self.pos];
        let mut ok = true;
        let close = loop {
            let Some(&b) = self.bytes.get(self.pos) else {
                self.scratch = body;
                return self.fatal(unclosed_string(open, hashes + 3));
            };
            match b {
                b'"' if self.bytes[self.pos..].starts_with(b"\"\"\"")
                    && self.closes_raw(self.pos + 3, hashes) =>
                {
                    break self.pos;
                }
                b'\t' | 0x20..=0x7E => {
                    body.push(char::from(b));
                    self.pos += 1;
                }
                _ => {
                    let n = self.newline_len(self.pos);
                    if n > 0 {
                        self.pos += n;
                        body.push('\n');
                        line_starts.push(self.pos);
                    } else {
                        let at = self.pos;
                        ok &= self.literal_char()?;
                        body.push_str(self.slice(Span::new(at, self.pos)));
                    }
                }
            }
        };
        self.pos = close + 3 + hashes;
        let value = if ok {
            self.dedent(&body, &line_starts, close, false)?
        } else {
            None
        };
        self.scratch = body;
        Ok(value)
    }
}

/// Resolves the escapes of a string body that pass 1 of
/// `multiline_string` has already validated (so every `\` starts a valid
/// escape, and escaped whitespace is gone).
fn resolve_escapes(text: &str, out: &mut String) {
    let mut rest = text;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let Some(b) = after.bytes().next() else {
            return;
        };
        if let Some(c) = simple_escape(b) {
            out.push(c);
            rest = &after[1..];
            continue;
        }
        // `u{…}`: validated in pass 1.
        let close = after.find('}').unwrap_or(after.len());
        let hex = after.get(2..close).unwrap_or_default();
        if let Some(c) = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32) {
            out.push(c);
        }
        rest = after.get(close + 1..).unwrap_or_default();
    }
    out.push_str(rest);
}

fn unclosed_string(open: usize, quote_len: usize) -> ParseError {
    ParseError::new(
        Span::new(open, open + quote_len),
        "unclosed string",
        "opened here",
    )
    .help("close it with the same quotes it was opened with")
}

fn describe_char(c: char) -> String {
    match c {
        ';' => "`;`".to_owned(),
        '{' => "`{`".to_owned(),
        '}' => "`}`".to_owned(),
        _ => "the end of the line".to_owned(),
    }
}
