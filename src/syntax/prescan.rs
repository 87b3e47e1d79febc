//! A light scan of KDL text before the real parser runs.
//!
//! It does two things the `kdl` crate cannot do for us:
//! - measure brace nesting, so that a hostile file nested thousands of
//!   levels deep is refused before a recursive-descent parser sees it;
//! - find the most common KDL v2 mistake in a topology, an unquoted IP
//!   address or CIDR (`address 10.0.0.1`), report it precisely, and quote it
//!   in a patched copy so that the rest of the file can still be parsed and
//!   every other mistake reported in the same run.
//!
//! The scanner understands just enough of KDL v2 to stay out of strings and
//! comments; anything it misjudges is still caught by the real parser.

use crate::source::Span;

/// What the scan found.
pub struct Prescan {
    /// Deepest `{` nesting, and where it was first reached.
    pub max_depth: usize,
    pub deepest_at: usize,
    /// Bare tokens that look like addresses, CIDRs or dotted versions.
    pub unquoted: Vec<Span>,
}

pub fn scan(text: &str) -> Prescan {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut depth = 0usize;
    let mut out = Prescan {
        max_depth: 0,
        deepest_at: 0,
        unquoted: Vec::new(),
    };
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = skip_block_comment(bytes, i),
            b'"' => i = skip_string(bytes, i, 0),
            b'#' => {
                let hashes = bytes[i..].iter().take_while(|&&c| c == b'#').count();
                if bytes.get(i + hashes) == Some(&b'"') {
                    i = skip_string(bytes, i + hashes, hashes);
                } else {
                    i = skip_token(bytes, i);
                }
            }
            b'{' => {
                depth += 1;
                if depth > out.max_depth {
                    out.max_depth = depth;
                    out.deepest_at = i;
                }
                i += 1;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ if is_separator(b) => i += 1,
            _ => {
                let end = skip_token(bytes, i);
                // A token after `=` or on its own: only its value part matters.
                if let Some(tok) = text.get(i..end) {
                    let value_start = tok.find('=').map_or(0, |p| p + 1);
                    let value = &tok[value_start..];
                    if looks_like_address(value) {
                        out.unquoted.push(Span::new(i + value_start, end));
                    }
                }
                i = end;
            }
        }
    }
    out
}

fn is_separator(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b';' | b'(' | b')' | b'\\')
}

fn skip_token(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < bytes.len() {
        let b = bytes[i];
        if is_separator(b) || matches!(b, b'{' | b'}' | b'"') {
            break;
        }
        if b == b'/' && matches!(bytes.get(i + 1), Some(b'/') | Some(b'*')) {
            break;
        }
        i += 1;
    }
    // Always make progress, whatever the byte.
    i.max(start + 1)
}

fn skip_block_comment(bytes: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < bytes.len() {
        if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
            depth = depth.saturating_sub(1);
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    i
}

/// Skips a quoted string starting at the opening quote `i`; `hashes` is the
/// number of `#` of a raw string (0 for an escaped string).
fn skip_string(bytes: &[u8], i: usize, hashes: usize) -> usize {
    let multiline = bytes[i..].starts_with(b"\"\"\"");
    let quotes = if multiline { 3 } else { 1 };
    let mut j = i + quotes;
    while j < bytes.len() {
        if hashes == 0 && bytes[j] == b'\\' {
            j += 2;
            continue;
        }
        if bytes[j..].starts_with(&b"\"\"\""[..quotes])
            && bytes[j + quotes..]
                .iter()
                .take(hashes)
                .filter(|&&c| c == b'#')
                .count()
                == hashes
        {
            return j + quotes + hashes;
        }
        j += 1;
    }
    bytes.len()
}

/// `10.0.0.1`, `10.0.0.0/8`, `1.24.3`, `2001:db8::1` (when it starts with a
/// digit): things that are certainly not a KDL number or identifier.
fn looks_like_address(tok: &str) -> bool {
    let starts_digit = tok.as_bytes().first().is_some_and(u8::is_ascii_digit);
    starts_digit
        && (tok.matches('.').count() >= 2 || tok.contains('/') || tok.contains(':'))
        && tok
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b'/' | b':'))
}

/// `text` with every span in `unquoted` wrapped in double quotes, and a
/// function mapping offsets in the patched text back to the original.
pub fn quote_spans(text: &str, unquoted: &[Span]) -> (String, OffsetMap) {
    let mut patched = String::with_capacity(text.len() + 2 * unquoted.len());
    let mut inserted = Vec::with_capacity(2 * unquoted.len());
    let mut last = 0;
    for span in unquoted {
        patched.push_str(&text[last..span.start]);
        inserted.push(patched.len());
        patched.push('"');
        patched.push_str(&text[span.start..span.end]);
        inserted.push(patched.len());
        patched.push('"');
        last = span.end;
    }
    patched.push_str(&text[last..]);
    (patched, OffsetMap { inserted })
}

/// Maps offsets in a patched text back to the original text.
pub struct OffsetMap {
    /// Positions (in the patched text) of each inserted one-byte quote.
    inserted: Vec<usize>,
}

impl OffsetMap {
    pub fn to_original(&self, patched: usize) -> usize {
        patched - self.inserted.partition_point(|&p| p < patched)
    }

    pub fn span(&self, span: Span) -> Span {
        Span::new(self.to_original(span.start), self.to_original(span.end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_unquoted_addresses_outside_strings_and_comments() {
        let text = "vm a { address 10.0.0.1; x \"10.0.0.2\" } // 10.0.0.3\nc cidr=10.0.0.0/8 v=1.24";
        let s = scan(text);
        let found: Vec<&str> = s.unquoted.iter().map(|sp| &text[sp.start..sp.end]).collect();
        assert_eq!(found, ["10.0.0.1", "10.0.0.0/8"]);
        assert_eq!(s.max_depth, 1);
    }

    #[test]
    fn patched_offsets_map_back() {
        let text = "a 1.2.3.4 b";
        let (patched, map) = quote_spans(text, &[Span::new(2, 9)]);
        assert_eq!(patched, "a \"1.2.3.4\" b");
        assert_eq!(map.to_original(2), 2);
        assert_eq!(map.to_original(11), 9);
        assert_eq!(map.to_original(12), 10);
    }

    #[test]
    fn raw_and_multiline_strings_are_skipped() {
        let text = "a #\"1.2.3.4 \"quoted\" \"# b \"\"\"\n1.2.3.4\n\"\"\" c {{ }}";
        let s = scan(text);
        assert!(s.unquoted.is_empty());
        assert_eq!(s.max_depth, 2);
    }
}
