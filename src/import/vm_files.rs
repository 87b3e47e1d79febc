//! The files a mesh-expansion VM carries, read back the way their real
//! consumers read them: `cluster.env` and `sidecar.env` (sourced by bash
//! under `set -a` by `istio-start.sh`, and by Istio 1.0's
//! `istio-iptables.sh`; or read by systemd as an `EnvironmentFile=`),
//! `/etc/hosts` lines, and dnsmasq configuration (`server=`, `address=`).
//!
//! Each parser is a pure function from a [`Source`] to its entries, in file
//! order, each with the span of its key and of its value, and diagnostics
//! for every line its reader would refuse, skip or read differently from
//! what it looks like. A parser never fails and never panics: what it
//! cannot read is reported (codes E990–E999, W990–W999) and left out.
//!
//! Env values are literal only: a value that bash would compute when it
//! sources the file (`$VAR`, `` `cmd` ``, `$(cmd)`, a leading `~`) is
//! E991, since the file does not say what the VM will see. Both quoting
//! styles in use are read: meshc's and istioctl's (`KEY='value'`, a `'`
//! written `'"'"'`) and the bare `KEY=value` humans and Istio 1.0 wrote.

use std::net::IpAddr;

use crate::declare_code;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{Source, Span, Spanned};

declare_code! {
    /// A line of a VM file cannot be read as its reader reads it: an
    /// unterminated quote, a line that is not `KEY=value` (bash would run
    /// it as a command), a shell operator, a NUL byte.
    ///
    /// ```sh
    /// ISTIO_META_NETWORK='vpc      # the quote never closes
    /// ```
    pub static UNREADABLE = "E990", Error, "vm-file-unreadable", "a line of a VM file cannot be read";
}

declare_code! {
    /// A value in an env file is computed when the file is sourced: a
    /// variable (`$HOME`), a command substitution (`` `hostname` ``,
    /// `$(hostname)`) or a tilde. What the VM sees depends on the machine,
    /// so the file does not say what the mesh is; write the value itself.
    ///
    /// ```sh
    /// ISTIO_SVC_IP=$(hostname -I)
    /// ```
    pub static COMPUTED_VALUE = "E991", Error, "vm-file-computed-value", "an env value is computed when the file is read";
}

declare_code! {
    /// An env file sourced by bash has Windows line endings: bash keeps the
    /// carriage return as the last character of every value
    /// (`ISTIO_META_NETWORK` would be `vpc\r`), so the VM's settings are
    /// not what the file shows. Convert the file to LF line endings
    /// (`dos2unix cluster.env`).
    pub static CARRIAGE_RETURN = "E992", Error, "vm-file-carriage-return", "bash reads the carriage return as part of the value";
}

declare_code! {
    /// A VM file, or one of its lines, is larger than any real one (16 MiB
    /// per file, 64 KiB per line): it is not read.
    pub static TOO_LARGE = "E993", Error, "vm-file-too-large", "a VM file or line is too large";
}

declare_code! {
    /// Its reader skips this line: a hosts line whose first field is not
    /// an address or that names no host, an `EnvironmentFile=` line that is
    /// not `KEY=value` or whose key is not a variable name.
    pub static SKIPPED = "W990", Warning, "vm-file-line-skipped", "the file's reader skips this line";
}

/// The codes of this module, for the catalogue.
pub static CODES: &[&Code] = &[
    &UNREADABLE,
    &COMPUTED_VALUE,
    &CARRIAGE_RETURN,
    &TOO_LARGE,
    &SKIPPED,
];

/// The largest file read.
pub const MAX_FILE: usize = 16 << 20;
/// The longest line read.
pub const MAX_LINE: usize = 64 << 10;

/// What a parser found: entries in file order, and the problems.
#[derive(Clone, Debug)]
pub struct Parsed<T> {
    pub entries: Vec<T>,
    pub diagnostics: Vec<Diagnostic>,
}

impl<T> Parsed<T> {
    fn empty(diagnostics: Vec<Diagnostic>) -> Parsed<T> {
        Parsed {
            entries: Vec::new(),
            diagnostics,
        }
    }
}

/// Who reads an env file, which decides its syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvReader {
    /// bash sourcing it under `set -a` (`istio-start.sh`, Istio 1.0's
    /// `istio-iptables.sh`): shell quoting, expansions, CR kept.
    Bash,
    /// systemd's `EnvironmentFile=`: `#`/`;` comments, quotes and
    /// backslashes, no expansion, spaces around `=` trimmed.
    Systemd,
}

/// `KEY=value`: the key's span, and the value's (quotes included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvEntry {
    pub key: Spanned<String>,
    pub value: Spanned<String>,
}

/// `cluster.env`, as `istio-start.sh` sources it.
pub fn cluster_env(source: &Source) -> Parsed<EnvEntry> {
    env_file(source, EnvReader::Bash)
}

/// `sidecar.env`, as `reader` reads it (`istio-start.sh` sources it with
/// bash, like `cluster.env`).
pub fn sidecar_env(source: &Source, reader: EnvReader) -> Parsed<EnvEntry> {
    env_file(source, reader)
}

/// An env file as `reader` reads it.
pub fn env_file(source: &Source, reader: EnvReader) -> Parsed<EnvEntry> {
    if let Err(diags) = sizes(&source.text) {
        return Parsed::empty(diags);
    }
    let mut p = Scanner::new(&source.text);
    match reader {
        EnvReader::Bash => p.bash(),
        EnvReader::Systemd => p.systemd(),
    }
    Parsed {
        entries: p.entries,
        diagnostics: p.diags,
    }
}

/// The variables a bash script sets with plain assignments at its top
/// level, for `names` only: meshc's `install.sh` and `iptables.sh` state
/// their settings so (`cluster='eu-west-1'`), and `meshc import` reads
/// them back. Values are read by the bash reader of env files, one line at
/// a time.
///
/// A script is not an env file: only unindented `[export ]NAME=WORD`
/// lines are read (an indented one is inside a function or a block, which
/// runs later or never), and every other line, a command, a function or
/// another variable's assignment, is skipped without a word. An
/// assignment to one of `names` that bash would not simply perform is
/// reported as in an env file and has no entry: a computed value (`$HOME`,
/// `$(…)`, E991), since what bash sets depends on the machine and taking
/// the text as written would import a value no VM has; an operator, a
/// second word, a carriage return or an unterminated quote (E990, E992).
/// Not followed: here-documents and multi-line strings of commands (a line
/// in them that looks like an assignment is read as one), and `declare`,
/// `local`, `readonly`, `read` or `eval`.
///
/// Entries in file order: the last of a name is the value bash leaves.
pub fn script_variables(source: &Source, names: &[&str]) -> Parsed<EnvEntry> {
    if let Err(diags) = sizes(&source.text) {
        return Parsed::empty(diags);
    }
    let mut p = Scanner::new(&source.text);
    p.script(names);
    Parsed {
        entries: p.entries,
        diagnostics: p.diags,
    }
}

/// E993 for a file or lines over the limits.
fn sizes(text: &str) -> Result<(), Vec<Diagnostic>> {
    if text.len() > MAX_FILE {
        return Err(vec![
            Diagnostic::new(
                &TOO_LARGE,
                Span::new(0, 0),
                format!("the file has {} bytes, more than the {MAX_FILE} read", text.len()),
            )
            .label("this file")
            .help("a VM file is a few kilobytes: check that this is the file you meant"),
        ]);
    }
    if text.len() <= MAX_LINE {
        // No line of it can be longer.
        return Ok(());
    }
    let mut out = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        if line.len() > MAX_LINE && out.len() < 10 {
            out.push(
                Diagnostic::new(
                    &TOO_LARGE,
                    Span::new(start, start + 1),
                    format!("a line of {} bytes, more than the {MAX_LINE} read", line.len()),
                )
                .label("this line")
                .help("no setting of a VM file is that long: check that this is the file you meant"),
            );
        }
        start += line.len();
    }
    if out.is_empty() { Ok(()) } else { Err(out) }
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// A byte an unquoted word takes as itself wherever it is: not a blank,
/// a control, a quote, an escape, an expansion, an operator or a `~`
/// (which `bash_word` looks at one at a time). A byte of a non-ASCII
/// character is one; a run of them ends on a character's boundary.
fn word_byte(b: u8) -> bool {
    b >= 0x80
        || (b > b' '
            && b != 0x7f
            && !matches!(
                b,
                b';' | b'\'' | b'"' | b'\\' | b'$' | b'`' | b'~' | b'&' | b'|' | b'<' | b'>' | b'(' | b')'
            ))
}

struct Scanner<'t> {
    text: &'t str,
    at: usize,
    entries: Vec<EnvEntry>,
    diags: Vec<Diagnostic>,
    /// An unterminated quote was met: nothing after it can be read.
    fatal: bool,
}

/// How a value ended.
enum End {
    /// A value read whole.
    Value(String),
    /// Reported; the rest of the line is skipped.
    Bad,
    /// Reported; nothing after it can be read (an unterminated quote).
    Fatal,
}

impl<'t> Scanner<'t> {
    fn new(text: &'t str) -> Scanner<'t> {
        Scanner {
            text,
            at: 0,
            entries: Vec::new(),
            diags: Vec::new(),
            fatal: false,
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.at..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        let mut it = self.text[self.at..].chars();
        it.next();
        it.next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        Some(c)
    }

    fn skip_blanks(&mut self) {
        while matches!(self.text.as_bytes().get(self.at), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    /// Whether a name starts here (a byte test: names are ASCII).
    fn at_name(&self) -> bool {
        (self.text.as_bytes().get(self.at)).is_some_and(|&b| is_name_start(char::from(b)))
    }

    /// Past the next newline. `memchr`: `str::find`'s setup costs more
    /// than a short line's bytes, and a script's lines are most of what
    /// `meshc import` scans in a VM bundle.
    fn skip_line(&mut self) {
        match memchr::memchr(b'\n', &self.text.as_bytes()[self.at..]) {
            Some(i) => self.at += i + 1,
            None => self.at = self.text.len(),
        }
    }

    fn line_end(&self) -> usize {
        memchr::memchr(b'\n', &self.text.as_bytes()[self.at..]).map_or(self.text.len(), |i| self.at + i)
    }

    fn report(&mut self, code: &'static Code, span: Span, message: String, label: &str, help: &str) {
        self.diags
            .push(Diagnostic::new(code, span, message).label(label).help(help));
    }

    /// The span of a variable name here, if one starts here; the name is
    /// copied out ([`Scanner::named`]) only once it is a key (most names a
    /// script's lines start with are commands).
    fn name(&mut self) -> Option<Span> {
        // By bytes: a name is ASCII, and decoding a `char` per byte was a
        // fifth of the VM scripts' reading.
        let start = self.at;
        if !self.at_name() {
            return None;
        }
        let rest = &self.text.as_bytes()[start..];
        self.at += rest
            .iter()
            .position(|&b| !is_name_char(char::from(b)))
            .unwrap_or(rest.len());
        Some(Span::new(start, self.at))
    }

    fn named(&self, span: Span) -> Spanned<String> {
        Spanned::new(self.text[span.start..span.end].to_owned(), span)
    }

    // -----------------------------------------------------------------
    // bash

    fn bash(&mut self) {
        while self.at < self.text.len() {
            self.skip_blanks();
            match self.peek() {
                None => break,
                Some('\n' | ';') => {
                    self.at += 1;
                    continue;
                }
                Some('#') => {
                    self.skip_line();
                    continue;
                }
                Some('\r') if self.peek2() == Some('\n') => {
                    self.at += 2;
                    continue;
                }
                _ => {}
            }
            match self.assignment() {
                Err(start) => {
                    let end = self.line_end();
                    self.report(
                        &UNREADABLE,
                        Span::new(start, end.max(start + 1).min(self.text.len())),
                        "not a `KEY=value` assignment: bash would run this line as a command".to_owned(),
                        "not an assignment",
                        "write each setting as `KEY=value` (no spaces around `=`), or make the line a `#` comment",
                    );
                    self.skip_line();
                }
                Ok((key, Some(value))) => self.entries.push(EnvEntry { key, value }),
                Ok((_, None)) => {}
            }
            if self.fatal {
                return;
            }
        }
    }

    /// The bash reader's entry point for one line, shared by env files and
    /// scripts: `[export ]NAME=WORD` at the scanner's position, read as
    /// bash performs it: the name and its value. `Err(at)`: no `NAME=`
    /// there (the name ends or fails at `at`), nothing reported. A value
    /// of `None`: an assignment bash would not simply perform (a computed
    /// value, an operator, a second word, a carriage return, an
    /// unterminated quote), reported. After it the scanner is at the end
    /// of what was read: a `;`, the line's end, or past it.
    fn assignment(&mut self) -> Result<(Spanned<String>, Option<Spanned<String>>), usize> {
        if self.text[self.at..].starts_with("export")
            && matches!(self.text[self.at + 6..].chars().next(), Some(' ' | '\t'))
        {
            self.at += 6;
            self.skip_blanks();
        }
        let start = self.at;
        let key = self.name();
        let Some(key) = key.filter(|_| self.peek() == Some('=')) else {
            return Err(start);
        };
        let key = self.named(key);
        self.at += 1; // '='
        let value_start = self.at;
        match self.bash_word() {
            End::Value(v) => {
                let span = Span::new(value_start, self.at);
                let value = self.bash_after_value().then(|| Spanned::new(v, span));
                Ok((key, value))
            }
            End::Bad => {
                self.skip_line();
                Ok((key, None))
            }
            End::Fatal => {
                self.fatal = true;
                Ok((key, None))
            }
        }
    }

    /// After a value: blanks, then the end of the line, a `;`, or a
    /// comment; anything else is a command bash would run, with the
    /// assignment in its environment only: reported, and `false` (bash
    /// sets no variable).
    fn bash_after_value(&mut self) -> bool {
        self.skip_blanks();
        match self.peek() {
            None | Some('\n' | ';') => true,
            Some('#') => {
                self.skip_line();
                true
            }
            Some(_) => {
                let (start, end) = (self.at, self.line_end());
                self.report(
                    &UNREADABLE,
                    Span::new(start, end.max(start + 1).min(self.text.len())),
                    "a second word after the value: bash runs it as a command, with the assignment in its environment only".to_owned(),
                    "runs as a command",
                    "quote the whole value (`KEY='a b'`), or put the second setting on its own line",
                );
                self.skip_line();
                false
            }
        }
    }

    /// A script's top-level plain assignments to `names` (see
    /// [`script_variables`]).
    fn script(&mut self, names: &[&str]) {
        while self.at < self.text.len() {
            // Only an unindented line can be a top-level assignment here.
            if !self.at_name() {
                self.skip_line();
                continue;
            }
            // Assignments, `;`-separated; a command ends what is read of
            // the line.
            loop {
                let reported = self.diags.len();
                match self.assignment() {
                    Ok((key, value)) if names.contains(&key.value.as_str()) => {
                        if let Some(value) = value {
                            self.entries.push(EnvEntry { key, value });
                        }
                    }
                    // Another variable, a command, a function: not the
                    // reader's business, whatever bash does with it.
                    _ => self.diags.truncate(reported),
                }
                if self.fatal {
                    return;
                }
                if self.peek() == Some(';') {
                    self.at += 1;
                    self.skip_blanks();
                    if self.peek().is_some_and(is_name_start) {
                        continue;
                    }
                }
                break;
            }
            if !self.text[..self.at].ends_with('\n') {
                self.skip_line();
            }
        }
    }

    /// One shell word, the value of an assignment.
    fn bash_word(&mut self) -> End {
        let mut out = String::new();
        let word_start = self.at;
        loop {
            let at = self.at;
            let Some(c) = self.peek() else {
                return End::Value(out);
            };
            match c {
                '\n' | ' ' | '\t' | ';' => return End::Value(out),
                '\r' => {
                    self.report(
                        &CARRIAGE_RETURN,
                        Span::new(at, at + 1),
                        "a carriage return ends this value: bash keeps it as the value's last character"
                            .to_owned(),
                        "carriage return",
                        "convert the file to LF line endings (`dos2unix FILE`)",
                    );
                    return End::Bad;
                }
                '\0' => return self.nul(at),
                '\'' => {
                    self.at += 1;
                    match self.text[self.at..].find('\'') {
                        Some(i) => {
                            let inner = &self.text[self.at..self.at + i];
                            if let Some(n) = inner.find('\0') {
                                return self.nul(self.at + n);
                            }
                            out.push_str(inner);
                            self.at += i + 1;
                        }
                        None => return self.unterminated(at, '\''),
                    }
                }
                '"' => {
                    self.at += 1;
                    loop {
                        let here = self.at;
                        match self.bump() {
                            None => return self.unterminated(at, '"'),
                            Some('"') => break,
                            Some('\\') => match self.peek() {
                                Some('\n') => {
                                    self.at += 1;
                                }
                                Some(e @ ('$' | '`' | '"' | '\\')) => {
                                    self.at += 1;
                                    out.push(e);
                                }
                                _ => out.push('\\'),
                            },
                            Some('$' | '`') => return self.computed(here),
                            Some('\0') => return self.nul(here),
                            Some(c) => out.push(c),
                        }
                    }
                }
                '\\' => {
                    self.at += 1;
                    match self.bump() {
                        None | Some('\n') => {}
                        Some('\0') => return self.nul(at + 1),
                        Some(c) => out.push(c),
                    }
                }
                '$' | '`' => return self.computed(at),
                '~' if at == word_start || self.text[..at].ends_with(':') => return self.computed(at),
                '&' | '|' | '<' | '>' | '(' | ')' => {
                    self.report(
                        &UNREADABLE,
                        Span::new(at, at + 1),
                        format!("`{c}` is a shell operator here, not part of the value"),
                        "shell operator",
                        "quote the value: `KEY='…'`",
                    );
                    return End::Bad;
                }
                c => {
                    // The run of bytes from here that mean nothing to bash
                    // in a word, copied at once (a `char` a turn was most
                    // of the env files' reading).
                    let rest = &self.text.as_bytes()[self.at..];
                    let run = rest.iter().position(|&b| !word_byte(b)).unwrap_or(rest.len());
                    if run == 0 {
                        self.at += c.len_utf8();
                        out.push(c);
                    } else {
                        out.push_str(&self.text[self.at..self.at + run]);
                        self.at += run;
                    }
                }
            }
        }
    }

    fn computed(&mut self, at: usize) -> End {
        let end = self.line_end().max(at + 1).min(self.text.len());
        self.report(
            &COMPUTED_VALUE,
            Span::new(at, end),
            "this value is computed when bash sources the file, so the file does not say what the VM sees"
                .to_owned(),
            "expanded by the shell",
            "write the value itself, in single quotes: `KEY='…'`",
        );
        End::Bad
    }

    fn nul(&mut self, at: usize) -> End {
        self.report(
            &UNREADABLE,
            Span::new(at, at + 1),
            "a NUL byte: no reader keeps it, so the value is not what the file holds".to_owned(),
            "NUL byte",
            "remove the NUL byte; the file is text",
        );
        End::Bad
    }

    fn unterminated(&mut self, at: usize, quote: char) -> End {
        self.report(
            &UNREADABLE,
            Span::new(at, at + 1),
            format!("this `{quote}` is never closed: the reader fails on the file from here on"),
            "opened here",
            "close the quote at the end of the value",
        );
        self.at = self.text.len();
        End::Fatal
    }

    // -----------------------------------------------------------------
    // systemd EnvironmentFile=

    fn systemd(&mut self) {
        while self.at < self.text.len() {
            while matches!(self.peek(), Some(' ' | '\t' | '\r' | '\n')) {
                self.at += 1;
            }
            match self.peek() {
                None => break,
                Some('#' | ';') => {
                    self.skip_systemd_line();
                    continue;
                }
                _ => {}
            }
            let start = self.at;
            let key = self.name();
            self.skip_blanks();
            let Some(key) = key.filter(|_| self.peek() == Some('=')) else {
                let end = self.line_end().max(start + 1).min(self.text.len());
                self.report(
                    &SKIPPED,
                    Span::new(start, end),
                    "not a `KEY=value` assignment: systemd ignores this line".to_owned(),
                    "ignored",
                    "write each setting as `KEY=value`, or make the line a `#` comment",
                );
                self.skip_systemd_line();
                continue;
            };
            let key = self.named(key);
            self.at += 1;
            self.skip_blanks();
            let value_start = self.at;
            match self.systemd_value() {
                End::Value(v) => {
                    let span = Span::new(value_start, self.at);
                    self.entries.push(EnvEntry {
                        key,
                        value: Spanned::new(v, span),
                    });
                }
                End::Bad => self.skip_systemd_line(),
                End::Fatal => return,
            }
        }
    }

    fn skip_systemd_line(&mut self) {
        while let Some(c) = self.bump() {
            if c == '\n' || c == '\r' {
                break;
            }
        }
    }

    /// systemd's value: quotes may be mixed with bare text, a backslash
    /// takes the next character (a newline: a continuation), unquoted
    /// trailing blanks are dropped; the value ends at CR or LF.
    fn systemd_value(&mut self) -> End {
        let mut out = String::new();
        // Length of `out` up to its last character that was quoted or not
        // a blank: trailing unquoted blanks are dropped.
        let mut keep = 0;
        loop {
            let at = self.at;
            let Some(c) = self.bump() else { break };
            match c {
                '\n' | '\r' => {
                    self.at = at;
                    break;
                }
                '\0' => return self.nul(at),
                '\'' => loop {
                    match self.bump() {
                        None => return self.unterminated(at, '\''),
                        Some('\'') => {
                            keep = out.len();
                            break;
                        }
                        Some('\0') => return self.nul(self.at - 1),
                        Some(c) => out.push(c),
                    }
                },
                '"' => loop {
                    match self.bump() {
                        None => return self.unterminated(at, '"'),
                        Some('"') => {
                            keep = out.len();
                            break;
                        }
                        Some('\\') => match self.bump() {
                            None => return self.unterminated(at, '"'),
                            Some('\n') => {}
                            Some(e @ ('"' | '\\' | '`' | '$')) => out.push(e),
                            Some(e) => {
                                out.push('\\');
                                out.push(e);
                            }
                        },
                        Some('\0') => return self.nul(self.at - 1),
                        Some(c) => out.push(c),
                    }
                },
                '\\' => match self.bump() {
                    None => break,
                    Some('\n') => {}
                    Some('\0') => return self.nul(at + 1),
                    Some(c) => {
                        out.push(c);
                        keep = out.len();
                    }
                },
                ' ' | '\t' => out.push(c),
                c => {
                    out.push(c);
                    keep = out.len();
                }
            }
        }
        out.truncate(keep);
        End::Value(out)
    }
}

// ---------------------------------------------------------------------
// Line-based files: hosts and dnsmasq.

/// The lines of `text` with their start offsets, without `\n` and a
/// trailing `\r` (both readers treat CR as blank space).
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut start = 0;
    text.split_inclusive('\n').map(move |raw| {
        let at = start;
        start += raw.len();
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        (at, line.strip_suffix('\r').unwrap_or(line))
    })
}

/// The blank-separated fields of a line, with their offsets in it.
fn fields(line: &str) -> impl Iterator<Item = (usize, &str)> {
    let blank = |c: char| matches!(c, ' ' | '\t' | '\r' | '\u{b}' | '\u{c}');
    let mut rest = 0;
    std::iter::from_fn(move || {
        let tail = &line[rest..];
        let skip = tail.len() - tail.trim_start_matches(blank).len();
        let from = rest + skip;
        if from >= line.len() {
            return None;
        }
        let len = line[from..].find(blank).unwrap_or(line.len() - from);
        rest = from + len;
        Some((from, &line[from..from + len]))
    })
}

fn spanned(s: &str, at: usize) -> Spanned<String> {
    Spanned::new(s.to_owned(), Span::new(at, at + s.len()))
}

/// One `/etc/hosts` line: an address and the names it answers for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostsEntry {
    pub address: Spanned<IpAddr>,
    pub names: Vec<Spanned<String>>,
}

/// A hosts file, as the C library's resolver reads it: `#` starts a
/// comment anywhere, fields are separated by blanks, a line whose first
/// field is not an address, or that has no name, is skipped (W990).
pub fn hosts(source: &Source) -> Parsed<HostsEntry> {
    if let Err(diags) = sizes(&source.text) {
        return Parsed::empty(diags);
    }
    let mut out = Parsed::empty(Vec::new());
    for (at, line) in lines(&source.text) {
        let line = line.split('#').next().unwrap_or_default();
        if let Some(n) = line.find('\0') {
            out.diagnostics.push(
                Diagnostic::new(
                    &UNREADABLE,
                    Span::new(at + n, at + n + 1),
                    "a NUL byte in a hosts line",
                )
                .label("NUL byte")
                .help("remove the NUL byte; the file is text"),
            );
            continue;
        }
        let mut f = fields(line);
        let Some((a_at, address)) = f.next() else {
            continue;
        };
        let a_span = Span::new(at + a_at, at + a_at + address.len());
        let Ok(ip) = address.parse::<IpAddr>() else {
            out.diagnostics.push(
                Diagnostic::new(
                    &SKIPPED,
                    a_span,
                    format!("`{address}` is not an IP address: the resolver skips this line"),
                )
                .label("not an address")
                .help("a hosts line is `ADDRESS NAME…`"),
            );
            continue;
        };
        let names: Vec<Spanned<String>> = f.map(|(n_at, n)| spanned(n, at + n_at)).collect();
        if names.is_empty() {
            out.diagnostics.push(
                Diagnostic::new(
                    &SKIPPED,
                    a_span,
                    format!("`{address}` with no name: the resolver skips this line"),
                )
                .label("no name")
                .help("a hosts line is `ADDRESS NAME…`"),
            );
            continue;
        }
        out.entries.push(HostsEntry {
            address: Spanned::new(ip, a_span),
            names,
        });
    }
    out
}

/// One dnsmasq option line: `key` or `key=value`; for `server=` and
/// `address=`, the `/domain/…/` list and the target after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsmasqEntry {
    pub key: Spanned<String>,
    pub value: Option<Spanned<String>>,
    /// `server=/svc.cluster.local/10.0.0.10`: `svc.cluster.local`.
    pub domains: Vec<Spanned<String>>,
    /// What follows the domains (or the whole value, for `server=ADDR`):
    /// an address, `ADDR#PORT`, or empty.
    pub target: Option<Spanned<String>>,
}

/// A dnsmasq configuration file, as dnsmasq reads it: blank lines and
/// lines starting with `#` are comments; a `#` after a blank starts one
/// too; each other line is `option` or `option=value`, blanks around
/// both trimmed.
pub fn dnsmasq(source: &Source) -> Parsed<DnsmasqEntry> {
    if let Err(diags) = sizes(&source.text) {
        return Parsed::empty(diags);
    }
    let mut out = Parsed::empty(Vec::new());
    for (at, line) in lines(&source.text) {
        if let Some(n) = line.find('\0') {
            out.diagnostics.push(
                Diagnostic::new(
                    &UNREADABLE,
                    Span::new(at + n, at + n + 1),
                    "a NUL byte in a dnsmasq line",
                )
                .label("NUL byte")
                .help("remove the NUL byte; the file is text"),
            );
            continue;
        }
        let blank = |c: char| matches!(c, ' ' | '\t' | '\r');
        // A comment: `#` at the start or after a blank.
        let mut end = line.len();
        let mut prev_blank = true;
        for (i, c) in line.char_indices() {
            if c == '#' && prev_blank {
                end = i;
                break;
            }
            prev_blank = blank(c);
        }
        let body = &line[..end];
        let lead = body.len() - body.trim_start_matches(blank).len();
        let body = body.trim_matches(blank);
        if body.is_empty() {
            continue;
        }
        let base = at + lead;
        let (key, value) = match body.split_once('=') {
            Some((k, v)) => {
                let k_trim = k.trim_end_matches(blank);
                let v_lead = v.len() - v.trim_start_matches(blank).len();
                let v_at = base + k.len() + 1 + v_lead;
                (spanned(k_trim, base), Some((v_at, v.trim_start_matches(blank))))
            }
            None => (spanned(body, base), None),
        };
        let mut entry = DnsmasqEntry {
            key,
            value: value.map(|(v_at, v)| spanned(v, v_at)),
            domains: Vec::new(),
            target: None,
        };
        if let (Some((v_at, v)), "server" | "local" | "address") = (value, entry.key.value.as_str()) {
            match v.strip_prefix('/') {
                Some(rest) => {
                    let mut offset = v_at + 1;
                    let parts: Vec<&str> = rest.split('/').collect();
                    let last = parts.len().saturating_sub(1);
                    for (i, part) in parts.iter().enumerate() {
                        if i == last {
                            entry.target = Some(spanned(part, offset));
                        } else if !part.is_empty() {
                            entry.domains.push(spanned(part, offset));
                        }
                        offset += part.len() + 1;
                    }
                }
                None => entry.target = Some(spanned(v, v_at)),
            }
        }
        out.entries.push(entry);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reported line's span ends at its newline, not past it (the line
    /// scan is `memchr`; this holds its end), in both readers.
    #[test]
    fn a_reported_line_ends_before_its_newline() {
        let text = "A=1\nnot an assignment\nB=2 second word\nC=3\n";
        let skipped = env_file(&Source::new("t.env", text.to_owned()), EnvReader::Systemd);
        let spans: Vec<&str> = skipped
            .diagnostics
            .iter()
            .map(|d| &text[d.span().start..d.span().end])
            .collect();
        assert_eq!(spans, ["not an assignment"]);
        let bash = env_file(&Source::new("t.env", text.to_owned()), EnvReader::Bash);
        let spans: Vec<&str> = bash
            .diagnostics
            .iter()
            .filter(|d| d.code.code == UNREADABLE.code)
            .map(|d| &text[d.span().start..d.span().end])
            .collect();
        assert_eq!(spans, ["not an assignment", "second word"]);
    }

    fn env(text: &str, reader: EnvReader) -> (Vec<(String, String)>, Vec<&'static str>) {
        let p = env_file(&Source::new("t.env", text.to_owned()), reader);
        (
            p.entries
                .into_iter()
                .map(|e| (e.key.value, e.value.value))
                .collect(),
            p.diagnostics.iter().map(|d| d.code.code).collect(),
        )
    }

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn bash_reads_both_quoting_styles() {
        let text = "# c\nA='x'\"'\"'y'\nB=plain/1.0:2,3\nexport C=\"a \\\"b\\\" \\$\"\nD=\nE='multi\nline' # trailing\nF=a\\ b;G=g\n";
        assert_eq!(
            env(text, EnvReader::Bash),
            (
                kv(&[
                    ("A", "x'y"),
                    ("B", "plain/1.0:2,3"),
                    ("C", "a \"b\" $"),
                    ("D", ""),
                    ("E", "multi\nline"),
                    ("F", "a b"),
                    ("G", "g"),
                ]),
                vec![]
            )
        );
    }

    /// An unquoted word's runs of plain bytes are copied at once
    /// (`word_byte`): whatever ends a run, the word reads as it does a
    /// character at a time, which the same run escaped (`\\a\\b`) forces.
    #[test]
    fn a_word_reads_the_same_whatever_ends_its_run_of_plain_bytes() {
        let runs = ["abc", "plain/1.0:2,3", "\u{e9}\u{1F600}x", "a#b{c}*?[!]=%+@^"];
        let tails = [
            "", "$X", "`id`", "~", "~/x", ":~", " y", "\ty", ";B=1", "&", "|y", "<y", ">y", "(", ")", "'q'",
            "\"q\"", "\\ q", "\r", "\0", "\u{7f}z", "\u{1}z", "\u{e9}",
        ];
        for run in runs {
            let escaped: String = run.chars().flat_map(|c| ['\\', c]).collect();
            for tail in tails {
                let fast = env(&format!("A={run}{tail}\n"), EnvReader::Bash);
                let slow = env(&format!("A={escaped}{tail}\n"), EnvReader::Bash);
                assert_eq!(fast, slow, "{run:?} then {tail:?}");
            }
        }
        assert_eq!(env("A=ab$X\n", EnvReader::Bash).1, ["E991"]);
    }

    #[test]
    fn bash_refuses_what_it_would_compute_or_run() {
        for (text, code) in [
            ("A=$HOME\n", "E991"),
            ("A=\"x$(id)\"\n", "E991"),
            ("A=`id`\n", "E991"),
            ("A=~/x\n", "E991"),
            ("A=x y\n", "E990"),
            ("A = x\n", "E990"),
            ("rm -rf /\n", "E990"),
            ("A=x|y\n", "E990"),
            ("A='x\n", "E990"),
            ("A=\"x\n", "E990"),
            ("A='x'\r\n", "E992"),
            ("A=x\0y\n", "E990"),
            // A name ends at the first byte no name has.
            ("A-B=x\n", "E990"),
            ("A\u{e9}=x\n", "E990"),
        ] {
            let (_, codes) = env(text, EnvReader::Bash);
            assert_eq!(codes, [code], "{text:?}");
        }
        // A mistake costs its own line only.
        let (entries, _) = env("A=$X\nB=ok\n", EnvReader::Bash);
        assert_eq!(entries, kv(&[("B", "ok")]));
    }

    #[test]
    fn scripts_give_their_plain_top_level_assignments_only() {
        let text = "#!/bin/bash\nset -eu\nhere=$(cd -- \"$(dirname -- \"$0\")\" && pwd)\nA='x y'\nB=bare; export C='it'\\''s'\nfamilies=(4)\nf() {\n\tA=inner\n}\nother='a' true\n# A=comment\nA=again # last\n";
        let p = script_variables(&Source::new("s.sh", text.to_owned()), &["A", "B", "C", "D"]);
        let got: Vec<(&str, &str)> = p
            .entries
            .iter()
            .map(|e| (e.key.value.as_str(), e.value.value.as_str()))
            .collect();
        assert_eq!(got, [("A", "x y"), ("B", "bare"), ("C", "it's"), ("A", "again")]);
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        let a = &p.entries[0].value.span;
        assert_eq!(&text[a.start..a.end], "'x y'");
    }

    #[test]
    fn a_script_value_bash_would_compute_or_not_set_is_reported_for_a_wanted_name_only() {
        for (line, code) in [
            ("D=\"$HOME\"\n", "E991"),
            ("D=$(hostname)\n", "E991"),
            ("D=x y\n", "E990"),
            ("D=x|y\n", "E990"),
            ("D=(a b)\n", "E990"),
            ("D='x'\r\n", "E992"),
            ("D='x\n", "E990"),
        ] {
            let source = Source::new("s.sh", line.to_owned());
            let p = script_variables(&source, &["D"]);
            assert!(p.entries.is_empty(), "{line:?}");
            let codes: Vec<&str> = p.diagnostics.iter().map(|d| d.code.code).collect();
            assert_eq!(codes, [code], "{line:?}");
            let p = script_variables(&source, &["E"]);
            assert!(p.entries.is_empty() && p.diagnostics.is_empty(), "{line:?}");
        }
    }

    #[test]
    fn systemd_reads_its_own_way() {
        let text = "; c\n# c\nA = 'x' \nB=a b  \r\nC=\"q\\\"\\n\"\nD=$HOME\nnot an assignment\nE=x\\\ny\n";
        assert_eq!(
            env(text, EnvReader::Systemd),
            (
                kv(&[
                    ("A", "x"),
                    ("B", "a b"),
                    ("C", "q\"\\n"),
                    ("D", "$HOME"),
                    ("E", "xy")
                ]),
                vec!["W990"]
            )
        );
    }

    #[test]
    fn spans_point_at_key_and_value() {
        let text = "# h\nKEY='v a'\n";
        let p = cluster_env(&Source::new("t", text.to_owned()));
        let e = &p.entries[0];
        assert_eq!(&text[e.key.span.start..e.key.span.end], "KEY");
        assert_eq!(&text[e.value.span.start..e.value.span.end], "'v a'");
    }

    #[test]
    fn hosts_lines() {
        let text = "# c\n10.0.0.1 a.b c # d\r\n\nfd00::1\tx\nnot-an-ip y\n10.0.0.2\n";
        let p = hosts(&Source::new("hosts", text.to_owned()));
        let got: Vec<(String, Vec<String>)> = p
            .entries
            .iter()
            .map(|e| {
                (
                    e.address.value.to_string(),
                    e.names.iter().map(|n| n.value.clone()).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("10.0.0.1".to_owned(), vec!["a.b".to_owned(), "c".to_owned()]),
                ("fd00::1".to_owned(), vec!["x".to_owned()]),
            ]
        );
        let codes: Vec<&str> = p.diagnostics.iter().map(|d| d.code.code).collect();
        assert_eq!(codes, ["W990", "W990"]);
        let n = &p.entries[0].names[1];
        assert_eq!(&text[n.span.start..n.span.end], "c");
    }

    #[test]
    fn dnsmasq_lines() {
        let text = "# c\nserver=/svc.cluster.local/10.0.0.10\n  address = /a/b/1.2.3.4 # x\nserver=8.8.8.8#53\nno-resolv\naddress=/x/\n";
        let p = dnsmasq(&Source::new("d", text.to_owned()));
        assert!(p.diagnostics.is_empty());
        let e: Vec<(&str, Vec<&str>, Option<&str>)> = p
            .entries
            .iter()
            .map(|e| {
                (
                    e.key.value.as_str(),
                    e.domains.iter().map(|d| d.value.as_str()).collect(),
                    e.target.as_ref().map(|t| t.value.as_str()),
                )
            })
            .collect();
        assert_eq!(
            e,
            [
                ("server", vec!["svc.cluster.local"], Some("10.0.0.10")),
                ("address", vec!["a", "b"], Some("1.2.3.4")),
                ("server", vec![], Some("8.8.8.8#53")),
                ("no-resolv", vec![], None),
                ("address", vec!["x"], Some("")),
            ]
        );
        let t = p.entries[1].target.as_ref().expect("target");
        assert_eq!(&text[t.span.start..t.span.end], "1.2.3.4");
        let d = &p.entries[0].domains[0];
        assert_eq!(&text[d.span.start..d.span.end], "svc.cluster.local");
    }

    #[test]
    fn oversized_input_is_refused_not_read() {
        let long = format!("A='{}'\n", "x".repeat(MAX_LINE + 1));
        for reader in [EnvReader::Bash, EnvReader::Systemd] {
            let (entries, codes) = env(&long, reader);
            assert!(entries.is_empty());
            assert_eq!(codes, ["E993"]);
        }
        let p = hosts(&Source::new("h", long.clone()));
        assert_eq!(p.diagnostics.len(), 1);
    }
}
