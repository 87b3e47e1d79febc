//! Numbers (KDL v2 "Number"): decimal integers and floats with `_`
//! separators and exponents, and `0x`/`0o`/`0b` integers, all with an
//! optional sign.
//!
//! Integers are `i128`; one that does not fit is an error, as in the `kdl`
//! crate. Anything with a fraction or an exponent is an `f64` (rounded, or
//! infinite when out of range, as Rust's float parser does).
//!
//! A token that starts like a number but is not one is the typical KDL v2
//! mistake in a topology: an unquoted address (`10.0.0.1`, `10.0.0.0/8`,
//! `2001:db8::1`). It is reported as such and kept as the string it was
//! meant to be, so that the rest of the file is still checked.

use std::borrow::Cow;

use super::error::{ErrorKind, ParseError, clip};
use super::parser::{PResult, Parser, Token};
use crate::source::Span;
use crate::syntax::Value;

/// What the digits scanned so far amount to.
enum Scanned {
    Integer(Option<i128>),
    Float,
    /// Not the shape of a number (`1.`, `0x`, `1e`).
    Malformed,
}

impl<'t> Parser<'t> {
    /// A number starting at `pos` (a digit, or a sign then a digit).
    pub(super) fn number(&mut self) -> PResult<Option<Token<'t>>> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if matches!(self.peek(), Some(b'+' | b'-')) {
            self.pos += 1;
        }
        let radix = match (self.peek(), self.peek_at(1)) {
            (Some(b'0'), Some(b'x')) => 16,
            (Some(b'0'), Some(b'o')) => 8,
            (Some(b'0'), Some(b'b')) => 2,
            _ => 10,
        };
        let scanned = if radix == 10 {
            self.decimal()
        } else {
            self.pos += 2;
            self.digits(radix).map_or(Scanned::Malformed, Scanned::Integer)
        };
        if matches!(scanned, Scanned::Malformed) || !self.at_value_end() {
            self.pos = start;
            return self.not_a_number();
        }
        let span = Span::new(start, self.pos);
        let value = match scanned {
            Scanned::Integer(Some(magnitude)) => {
                Value::Integer(if negative { -magnitude } else { magnitude })
            }
            Scanned::Integer(None) => {
                self.error(
                    ParseError::new(
                        span,
                        format!("`{}` does not fit in a 128-bit integer", clip(self.slice(span))),
                        "too large",
                    )
                    .help("integers range from -(2^127 - 1) to 2^127 - 1; quote it if it is an identifier"),
                )?;
                return Ok(None);
            }
            _ => Value::Float(parse_float(self.slice(span))),
        };
        Ok(Some(Token { value, span }))
    }

    /// `integer ('.' integer)? exponent?`, after the sign.
    fn decimal(&mut self) -> Scanned {
        let Some(integer) = self.digits(10) else {
            return Scanned::Malformed;
        };
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits(10).is_none() {
                return Scanned::Malformed;
            }
            float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits(10).is_none() {
                return Scanned::Malformed;
            }
            float = true;
        }
        if float {
            Scanned::Float
        } else {
            Scanned::Integer(integer)
        }
    }

    /// `digit (digit | '_')*` in `radix`. `None` if no digit starts here;
    /// otherwise the magnitude, `None` inside if it overflows an `i128`.
    fn digits(&mut self, radix: u32) -> Option<Option<i128>> {
        let first = self.peek().and_then(|b| char::from(b).to_digit(radix))?;
        self.pos += 1;
        let mut value = Some(i128::from(first));
        while let Some(b) = self.peek() {
            if b == b'_' {
                self.pos += 1;
                continue;
            }
            let Some(d) = char::from(b).to_digit(radix) else {
                break;
            };
            value = value
                .and_then(|v| v.checked_mul(i128::from(radix)))
                .and_then(|v| v.checked_add(i128::from(d)));
            self.pos += 1;
        }
        Some(value)
    }

    /// Reports the token at `pos`, which starts like a number but is not
    /// one, and skips it. An address-like token is kept as a string.
    fn not_a_number(&mut self) -> PResult<Option<Token<'t>>> {
        let span = self.skip_bad_token();
        let token = self.slice(span);
        let text = clip(token);
        if looks_like_address(token) {
            self.error(
                ParseError::new(
                    span,
                    format!("`{text}` is not a number: quote it"),
                    "unquoted address",
                )
                .help(format!(
                    "KDL v2 bare words cannot start with a digit: write \"{text}\""
                ))
                .kind(ErrorKind::UnquotedAddress),
            )?;
            return Ok(Some(Token {
                value: Value::String(Cow::Borrowed(token)),
                span,
            }));
        }
        self.error(
            ParseError::new(span, format!("`{text}` is not a number"), "not a number").help(format!(
                "a bare word cannot start with a digit; if it is a string, quote it: \"{text}\""
            )),
        )?;
        Ok(None)
    }
}

/// `text` is a well-formed decimal float (digits, `_`, `.`, `e`, signs), so
/// Rust's parser accepts it once the `_` are gone.
fn parse_float(text: &str) -> f64 {
    if text.contains('_') {
        text.replace('_', "").parse().unwrap_or(f64::NAN)
    } else {
        text.parse().unwrap_or(f64::NAN)
    }
}

/// `10.0.0.1`, `10.0.0.0/8`, `1.24.3`, `2001:db8::1`: a token starting with
/// a digit that is certainly an address, a CIDR or a dotted version, and
/// certainly not a number or a mistyped identifier.
pub fn looks_like_address(token: &str) -> bool {
    token.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && (token.matches('.').count() >= 2 || token.contains('/') || token.contains(':'))
        && token
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b'/' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_told_from_typos() {
        for yes in ["10.0.0.1", "10.0.0.0/8", "1.24.3", "2001:db8::1", "1/8"] {
            assert!(looks_like_address(yes), "{yes}");
        }
        for no in ["1.5", "10x", "1.2.3.4x", "-10.0.0.1", "1e5"] {
            assert!(!looks_like_address(no), "{no}");
        }
    }

    #[test]
    fn floats_drop_separators() {
        assert_eq!(parse_float("1_000.5"), 1000.5);
        assert_eq!(parse_float("-1.5e-3"), -0.0015);
        assert_eq!(parse_float("1.23E+1000"), f64::INFINITY);
    }
}
