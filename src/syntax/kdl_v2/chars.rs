//! Character classes of KDL v2 (spec sections "Whitespace", "Newline",
//! "Disallowed Literal Code Points" and "Identifier String").
//!
//! Everything here is a pure function of one `char` (or one byte, for the
//! ASCII fast paths the lexer runs on), so the tables can be checked against
//! the spec's lists in isolation.

/// `unicode-space`: the spec's Whitespace table (never a newline).
pub fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

/// `newline`, one code point at a time (CRLF is CR then LF; both are
/// newlines, so skipping works on single code points).
pub fn is_newline(c: char) -> bool {
    matches!(
        c,
        '\r' | '\n' | '\u{85}' | '\u{0B}' | '\u{0C}' | '\u{2028}' | '\u{2029}'
    )
}

/// `disallowed-literal-code-points`. The byte-order mark is allowed only as
/// the very first code point, which the parser strips before lexing.
pub fn is_disallowed(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{8}'
            | '\u{E}'..='\u{1F}'
            | '\u{7F}'
            | '\u{200E}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// `identifier-char`: anything but spaces, newlines, the punctuation KDL
/// gives a meaning to, and disallowed code points.
pub fn is_ident_char(c: char) -> bool {
    if c.is_ascii() {
        return IDENT_ASCII[c as usize];
    }
    !(is_space(c) || is_newline(c) || is_disallowed(c))
}

/// [`is_ident_char`] for ASCII bytes, as a table: the identifier scanner's
/// inner loop is one load per byte.
pub static IDENT_ASCII: [bool; 128] = {
    let mut table = [false; 128];
    let mut b = 0x21; // `!`; everything below is a space or a control character.
    while b < 0x7F {
        table[b] = !matches!(
            b as u8,
            b'\\' | b'/' | b'(' | b')' | b'{' | b'}' | b'[' | b']' | b';' | b'"' | b'#' | b'='
        );
        b += 1;
    }
    table
};

/// How a disallowed code point is named in messages.
pub fn describe(c: char) -> String {
    let what = match c {
        '\u{FEFF}' => "a byte-order mark",
        '\u{7F}' => "the delete control character",
        '\u{200E}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => {
            "a text-direction control character"
        }
        _ => "a control character",
    };
    format!("U+{:04X} ({what})", c as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_table_agrees_with_the_char_rules() {
        for b in 0u8..0x80 {
            let c = b as char;
            let expected =
                !(is_space(c) || is_newline(c) || is_disallowed(c) || "\\/(){}[];\"#=".contains(c));
            assert_eq!(IDENT_ASCII[b as usize], expected, "{b:#x}");
        }
    }

    #[test]
    fn classes_are_disjoint() {
        for c in ['\t', ' ', '\u{A0}', '\u{3000}'] {
            assert!(is_space(c) && !is_newline(c) && !is_ident_char(c));
        }
        for c in ['\r', '\n', '\u{85}', '\u{2028}'] {
            assert!(is_newline(c) && !is_space(c) && !is_ident_char(c));
        }
        assert!(is_ident_char('é') && is_ident_char('-') && is_ident_char(','));
        assert!(!is_ident_char('\u{FEFF}') && !is_ident_char('\u{7F}'));
    }
}
