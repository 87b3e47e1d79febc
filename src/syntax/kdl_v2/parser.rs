//! The grammar: documents, nodes, entries and children blocks (KDL v2
//! "Full Grammar": `document`, `nodes`, `base-node`, `node-prop-or-arg`,
//! `node-children`), on top of the token scanners in the sibling modules.
//!
//! Recursive descent, one level of recursion per children block, and the
//! depth is checked before each level. Every loop consumes at least one
//! character per turn, so the parser is linear and always terminates.
//!
//! Recovery is local and cheap: a bad token is reported and skipped up to
//! the next place a value could end, and parsing resumes there, so one
//! unquoted address or stray character yields one error, not a cascade.
//! Only an unclosed string, comment or block (which swallows the rest of
//! the file) and the limits stop parsing.

use super::error::{ErrorKind, ParseError, clip};
use crate::source::Span;
use crate::syntax::{Entry, Ident, Limits, Node, Value};

/// After this many errors the rest of the file is not worth reading: the
/// file is probably not KDL at all.
const MAX_ERRORS: usize = 100;

/// Parsing stopped; the reason is already in `Parser::errors`.
pub struct Fatal;

pub type PResult<T> = Result<T, Fatal>;

pub struct Parser<'t> {
    pub(super) text: &'t str,
    pub(super) bytes: &'t [u8],
    /// Always on a character boundary between calls.
    pub(super) pos: usize,
    pub(super) errors: Vec<ParseError>,
    limits: Limits,
    /// Nodes kept in the tree so far, against `limits.max_nodes`.
    nodes: usize,
    /// Inside a slashdashed node, entry or block: what is parsed there is
    /// checked, then thrown away, and does not count against the limits.
    discarding: usize,
    /// Reused buffer for strings that need unescaping or dedenting.
    pub(super) scratch: String,
    /// The entries of the nodes being parsed, innermost last: each node
    /// moves its own off the top into a vector of exactly their number.
    /// Growing a vector per node instead left most of them at four
    /// entries' capacity for one entry, the largest part of a big
    /// document's memory.
    entries: Vec<Entry<'t>>,
    /// The same for the nodes of the children blocks being parsed.
    children: Vec<Node<'t>>,
}

/// Where the top-level nodes go, each with the errors recorded so far.
type TopSink<'s, 't> = &'s mut dyn FnMut(Node<'t>, &[ParseError]);

/// A scanned value: what it is and where.
pub struct Token<'t> {
    pub value: Value<'t>,
    pub span: Span,
}

/// Where a node is between its name and its terminator (spec `base-node`):
/// entries first, then slashdashed children blocks, at most one real one,
/// then only slashdashed ones again.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Entries,
    CommentedChildren,
    AfterChildren,
}

impl<'t> Parser<'t> {
    pub fn new(text: &'t str, limits: Limits) -> Parser<'t> {
        Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            errors: Vec::new(),
            limits,
            nodes: 0,
            discarding: 0,
            scratch: String::new(),
            entries: Vec::new(),
            children: Vec::new(),
        }
    }

    /// `document := bom? nodes`, each top-level node handed to `top` as
    /// soon as it is parsed, for as long as every error so far is one the
    /// tree survives (an unquoted address); after any other error the
    /// nodes are dropped, since there will be no tree. `None` when parsing
    /// had to stop.
    pub fn document_each(&mut self, top: &mut dyn FnMut(Node<'t>)) -> Option<()> {
        // The byte-order mark is allowed only here (spec "Disallowed
        // Literal Code Points"); anywhere else it is an error.
        if self.text.starts_with('\u{FEFF}') {
            self.pos = '\u{FEFF}'.len_utf8();
        }
        // Errors already known to be recoverable, and whether all are.
        let (mut seen, mut recoverable) = (0, true);
        let mut sink = |node: Node<'t>, errors: &[ParseError]| {
            recoverable &= errors[seen..].iter().all(|e| e.kind.keeps_tree());
            seen = errors.len();
            if recoverable {
                top(node);
            }
        };
        self.nodes(0, &mut sink).ok().map(drop)
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    pub(super) fn peek_at(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.pos + offset).copied()
    }

    /// The character at byte offset `at`, if `at` is a character boundary.
    pub(super) fn char_at(&self, at: usize) -> Option<char> {
        self.text.get(at..).and_then(|s| s.chars().next())
    }

    /// Length of the character at `at` (1 past the end or off a boundary,
    /// so that callers always make progress).
    pub(super) fn char_len(&self, at: usize) -> usize {
        self.char_at(at).map_or(1, char::len_utf8)
    }

    /// The source text of `span`, or "" if it is not a valid range.
    pub(super) fn slice(&self, span: Span) -> &'t str {
        self.text.get(span.start..span.end).unwrap_or_default()
    }

    /// Records a recoverable error.
    pub(super) fn error(&mut self, error: ParseError) -> PResult<()> {
        self.errors.push(error);
        if self.errors.len() >= MAX_ERRORS {
            return Err(Fatal);
        }
        Ok(())
    }

    /// `nodes`: the nodes of the document (`depth` 0) or of a children
    /// block, up to the end of the file or the `}` closing the block (left
    /// for the caller).
    fn nodes(&mut self, depth: usize, top: TopSink<'_, 't>) -> PResult<Vec<Node<'t>>> {
        // The top level hands each node to `top` (with the errors so far);
        // a block's nodes go on `self.children` above `mark` and are moved
        // off when it ends.
        let mark = self.children.len();
        loop {
            self.skip_line_space()?;
            let before = self.pos;
            match self.peek() {
                None | Some(b'}') if depth > 0 => return Ok(self.children.drain(mark..).collect()),
                None => return Ok(Vec::new()),
                Some(b'}') => {
                    self.error(
                        ParseError::new(
                            Span::new(before, before + 1),
                            "unexpected `}`",
                            "nothing to close",
                        )
                        .help("remove it, or add the `{` it was meant to close"),
                    )?;
                    self.pos += 1;
                }
                Some(b';') => {
                    self.error(
                        ParseError::new(
                            Span::new(before, before + 1),
                            "unexpected `;`: there is no node to end here",
                            "no node",
                        )
                        .help("remove the extra `;`"),
                    )?;
                    self.pos += 1;
                }
                Some(b'/') if self.peek_at(1) == Some(b'-') => {
                    self.pos += 2;
                    self.skip_line_space()?;
                    if self.slashdash_target_missing(before)? {
                        // `/-;`: the `;` needs no second error.
                        if self.peek() == Some(b';') {
                            self.pos += 1;
                        }
                        continue;
                    }
                    self.discarding += 1;
                    let node = self.node(depth);
                    self.discarding -= 1;
                    node?;
                }
                Some(_) => {
                    if let Some(node) = self.node(depth)? {
                        self.count_node(node.name.span)?;
                        if depth > 0 {
                            self.children.push(node);
                        } else {
                            top(node, &self.errors);
                        }
                    }
                }
            }
            // `node` stops at a terminator; `;` is the only one that the
            // next round's `skip_line_space` would not take.
            if self.peek() == Some(b';') {
                self.pos += 1;
            }
            if self.pos == before {
                // Cannot happen (every branch above consumes), but a parser
                // that hangs is worse than one that reports nonsense.
                self.pos += self.char_len(self.pos);
            }
        }
    }

    /// Counts a node kept in the tree (its name at `name`) against the limit.
    fn count_node(&mut self, name: Span) -> PResult<()> {
        if self.discarding > 0 {
            return Ok(());
        }
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            return self.fatal(
                ParseError::new(
                    name,
                    format!("the document has more than {} nodes", self.limits.max_nodes),
                    "one too many",
                )
                .help("split the topology, or check that the file is really a topology")
                .kind(ErrorKind::Limit),
            );
        }
        Ok(())
    }

    /// After `/-` and the space following it: reports (and returns true)
    /// when nothing that can be commented out follows (spec "Slashdash
    /// comments": only a node, an entry or a children block, and not
    /// another slashdash).
    fn slashdash_target_missing(&mut self, slashdash: usize) -> PResult<bool> {
        let span = Span::new(slashdash, slashdash + 2);
        let what = match self.peek() {
            None => "the end of the file",
            Some(b'}') => "the end of the block",
            Some(b';') => "`;`",
            Some(b'/') if self.peek_at(1) == Some(b'-') => "another `/-`",
            _ => return Ok(false),
        };
        self.error(
            ParseError::new(
                span,
                format!("`/-` comments out nothing: it is followed by {what}"),
                "nothing to comment out",
            )
            .help("`/-` must come right before a node, an entry or a children block"),
        )?;
        if self.peek() == Some(b'/') {
            self.pos += 2;
        }
        Ok(true)
    }

    /// `base-node`, from its first character up to (not including) its
    /// terminator. `None` when the node has no usable name.
    ///
    /// The node's span runs from its type annotation or name to the last
    /// character before the terminator, trailing spaces and comments
    /// included: exactly what the `kdl` crate reports.
    fn node(&mut self, depth: usize) -> PResult<Option<Node<'t>>> {
        let start = self.pos;
        let mut typed_ok = true;
        if self.peek() == Some(b'(') {
            typed_ok = self.type_annotation()?;
            self.skip_node_space()?;
        }
        let name = if typed_ok || !self.at_node_terminator() {
            self.node_name()?
        } else {
            None
        };
        let mark = self.entries.len();
        let mut children = None;
        let mut phase = Phase::Entries;
        // Whatever follows a children block on its line is reported once:
        // one misplaced `}` should not yield an error per word.
        let mut misplaced = false;
        loop {
            let spaced = self.skip_node_space()?;
            let at = self.pos;
            if self.at_node_terminator() {
                break;
            }
            match self.peek() {
                Some(b'/') if self.peek_at(1) == Some(b'-') => {
                    self.pos += 2;
                    self.skip_line_space()?;
                    if self.slashdash_target_missing(at)? {
                        continue;
                    }
                    self.discarding += 1;
                    let done = if self.peek() == Some(b'{') {
                        self.children(depth).map(|_| {
                            if phase == Phase::Entries {
                                phase = Phase::CommentedChildren;
                            }
                        })
                    } else {
                        self.misplaced_entry(phase, at, &mut misplaced)
                    };
                    self.discarding -= 1;
                    done?;
                }
                Some(b'{') => {
                    let block = self.children(depth)?;
                    if phase != Phase::AfterChildren {
                        children = Some(block);
                        phase = Phase::AfterChildren;
                    } else if !std::mem::replace(&mut misplaced, true) {
                        self.error(
                            ParseError::new(
                                Span::new(at, at + 1),
                                "a node has at most one children block",
                                "second block",
                            )
                            .help("merge the two blocks, or comment one out with `/-`"),
                        )?;
                    }
                }
                Some(_) if phase != Phase::Entries => self.misplaced_entry(phase, at, &mut misplaced)?,
                Some(b) => {
                    if !spaced {
                        self.unspaced(b)?;
                        continue;
                    }
                    if let Some(entry) = self.entry()? {
                        self.entries.push(entry);
                    }
                }
                None => break,
            }
            if self.pos == at {
                self.pos += self.char_len(at);
            }
        }
        let span = Span::new(start, self.pos);
        let entries = self.entries.drain(mark..).collect();
        Ok(name.map(|name| Node {
            name,
            entries,
            children: children.unwrap_or_default(),
            span,
        }))
    }

    /// Reports what follows a node's name or value with no space between
    /// (a value ends only where `at_value_end` allows, so this is `=`, `)`
    /// or a `\\` that does not continue the line).
    fn unspaced(&mut self, b: u8) -> PResult<()> {
        let (message, help) = match b {
            b'=' => (
                "unexpected `=`",
                "a property is `key=value` after the node name: `node key=value`; a key must be a string",
            ),
            b')' => (
                "unexpected `)`",
                "a type annotation is written before its value: (type)value",
            ),
            b'\\' => (
                "`\\` must be followed by a newline (a line continuation)",
                "to write a backslash, put it in a quoted string: \"\\\\\"",
            ),
            _ => (
                "expected a space before this entry",
                "separate arguments and properties with a space",
            ),
        };
        let at = self.pos;
        let len = self.char_len(at);
        self.skip_bad_token();
        self.error(ParseError::new(Span::new(at, at + len), message, "unexpected").help(help))
    }

    /// An entry (slashdashed or not, starting at `at`): parsed if it comes
    /// before any children block, otherwise skipped and, the first time on
    /// this node, reported (spec `base-node`: only slashdashed children
    /// blocks may follow a children block).
    fn misplaced_entry(&mut self, phase: Phase, at: usize, misplaced: &mut bool) -> PResult<()> {
        if phase == Phase::Entries {
            return self.entry().map(drop);
        }
        let span = self.skip_bad_token();
        if std::mem::replace(misplaced, true) {
            return Ok(());
        }
        self.error(
            ParseError::new(
                Span::new(at, span.end),
                "arguments and properties must come before the children block",
                "after the block",
            )
            .help("move it before the `{`, or end the node with a newline or `;`"),
        )
    }

    /// True at the end of the node: a newline, `;`, `//`, `}` or the end
    /// of the file (spec `node-terminator`, and the end of a block).
    fn at_node_terminator(&self) -> bool {
        match self.peek() {
            None | Some(b';' | b'}') => true,
            Some(b'/') => self.peek_at(1) == Some(b'/'),
            _ => self.newline_len(self.pos) > 0,
        }
    }

    /// `node-children`: `{`, nodes, `}`.
    fn children(&mut self, depth: usize) -> PResult<Vec<Node<'t>>> {
        let open = self.pos;
        if depth >= self.limits.max_depth {
            return self.fatal(
                ParseError::new(
                    Span::new(open, open + 1),
                    format!(
                        "the document nests more than {} levels deep",
                        self.limits.max_depth
                    ),
                    "too deep here",
                )
                .help("a topology needs only a few levels of nesting")
                .kind(ErrorKind::Limit),
            );
        }
        self.pos += 1;
        let nodes = self.nodes(depth + 1, &mut |_, _| {})?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(nodes);
        }
        self.fatal(
            ParseError::new(
                Span::new(open, open + 1),
                "unclosed `{`: no `}` ends this children block",
                "not closed",
            )
            .help("add a `}` after the block's last node"),
        )
    }

    /// The node name: a string, possibly an unquoted address (reported, and
    /// kept as the string it was meant to be).
    fn node_name(&mut self) -> PResult<Option<Ident<'t>>> {
        let at = self.pos;
        if self.at_node_terminator() || self.peek() == Some(b'{') {
            let (found, len) = match self.peek() {
                None => ("the end of the file", 0),
                Some(b';') => ("`;`", 1),
                Some(b'}') => ("`}`", 1),
                Some(b'{') => ("a children block", 1),
                Some(b'/') => ("a comment", 2),
                Some(_) => ("the end of the line", self.newline_len(at)),
            };
            self.error(
                ParseError::new(
                    Span::new(at, at + len),
                    format!("expected a node name, found {found}"),
                    "name expected",
                )
                .help("every node starts with its name; a children block belongs after a node's name"),
            )?;
            return Ok(None);
        }
        let Some(token) = self.value()? else {
            return Ok(None);
        };
        match token.value {
            Value::String(text) => Ok(Some(Ident {
                text,
                span: token.span,
            })),
            _ => {
                let found = clip(self.slice(token.span)).into_owned();
                self.error(
                    ParseError::new(
                        Span::new(at, token.span.end),
                        format!("a node name must be a string, not `{found}`"),
                        "not a name",
                    )
                    .help(format!("quote it: \"{found}\"")),
                )?;
                Ok(None)
            }
        }
    }

    /// `node-prop-or-arg`: `value`, or `string node-space* = node-space*
    /// value`. Returns `None` after a reported error.
    fn entry(&mut self) -> PResult<Option<Entry<'t>>> {
        let start = self.pos;
        let typed = self.peek() == Some(b'(');
        if typed {
            let ok = self.type_annotation()?;
            self.skip_node_space()?;
            if !ok && (self.at_node_terminator() || self.peek() == Some(b'{')) {
                return Ok(None);
            }
        }
        let Some(token) = self.value()? else {
            return Ok(None);
        };
        let Value::String(key) = token.value else {
            return Ok(Some(Entry {
                key: None,
                value: token.value,
                span: Span::new(start, token.span.end),
            }));
        };
        // A string is a property key if `=` follows, spaces allowed.
        let after_key = self.pos;
        self.skip_node_space()?;
        if self.peek() != Some(b'=') {
            self.pos = after_key;
            return Ok(Some(Entry {
                key: None,
                value: Value::String(key),
                span: Span::new(start, token.span.end),
            }));
        }
        let eq = self.pos;
        self.pos += 1;
        if typed {
            self.error(
                ParseError::new(
                    Span::new(start, token.span.end),
                    "a property key cannot have a type annotation",
                    "typed key",
                )
                .help("put the type annotation on the value: key=(type)value"),
            )?;
        }
        self.skip_node_space()?;
        let value_start = self.pos;
        if self.peek() == Some(b'/') && self.peek_at(1) == Some(b'-') {
            let span = self.skip_bad_token();
            self.error(
                ParseError::new(
                    Span::new(value_start, span.end),
                    "a property value cannot be commented out alone",
                    "slashdashed value",
                )
                .help("put `/-` before the key to comment out the whole property"),
            )?;
            return Ok(None);
        }
        if self.at_node_terminator() || matches!(self.peek(), Some(b'{' | b'=' | b')')) {
            self.error(
                ParseError::new(
                    Span::new(start, eq + 1),
                    format!("expected a value after `{}=`", clip(&key)),
                    "no value",
                )
                .help("write the value right after `=`, or quote the whole thing if `=` is part of a string"),
            )?;
            return Ok(None);
        }
        if self.peek() == Some(b'(') {
            self.type_annotation()?;
            self.skip_node_space()?;
        }
        let Some(value) = self.value()? else {
            return Ok(None);
        };
        Ok(Some(Entry {
            key: Some(Ident {
                text: key,
                span: token.span,
            }),
            value: value.value,
            span: self.property_value_span(token.span.end, value.span.end),
        }))
    }

    /// The span of a property's value: from the first non-space character
    /// after the first `=` following the key, to the end of the value. This
    /// is how the `kdl`-crate front end derives it, and so what lowering's
    /// diagnostics have always pointed at (a type annotation is part of it).
    fn property_value_span(&self, key_end: usize, end: usize) -> Span {
        let rest = self.slice(Span::new(key_end, end));
        // A byte search: the key is a few bytes long, shorter than the
        // set-up of a `char` search.
        let after_eq = rest.bytes().position(|b| b == b'=').map_or(0, |p| p + 1);
        let value = rest.get(after_eq..).unwrap_or_default();
        let start = key_end + after_eq + (value.len() - value.trim_start().len());
        Span::new(start.min(end), end)
    }

    /// `type`: `(` string `)`, spaces allowed inside. The type is checked and
    /// dropped: meshc gives no meaning to type annotations. Returns whether
    /// it was well-formed.
    fn type_annotation(&mut self) -> PResult<bool> {
        let open = self.pos;
        self.pos += 1;
        self.skip_node_space()?;
        if self.peek() == Some(b')') {
            self.pos += 1;
            self.error(
                ParseError::new(Span::new(open, self.pos), "empty type annotation", "no type")
                    .help("write a type name between the parentheses, or remove them"),
            )?;
            return Ok(false);
        }
        let at = self.pos;
        let mut ok = true;
        match self.value()? {
            Some(token) if !matches!(token.value, Value::String(_)) => {
                self.error(
                    ParseError::new(token.span, "a type annotation must be a string", "not a string")
                        .help(format!("quote it: (\"{}\")", clip(self.slice(token.span)))),
                )?;
                ok = false;
            }
            Some(_) => {}
            None => ok = false,
        }
        self.skip_node_space()?;
        if self.peek() == Some(b')') {
            self.pos += 1;
            return Ok(ok);
        }
        // Skip what is left up to the `)` on this line, if any.
        let bad = self.pos.max(at);
        while !self.at_node_terminator() && !matches!(self.peek(), Some(b')' | b'{')) {
            self.pos += self.char_len(self.pos);
        }
        let closed = self.peek() == Some(b')');
        if closed {
            self.pos += 1;
        }
        self.error(
            ParseError::new(
                Span::new(open, if closed { self.pos } else { bad.max(open + 1) }),
                "expected `)` to close the type annotation",
                if closed {
                    "not a single type name"
                } else {
                    "not closed"
                },
            )
            .help("a type annotation is one string in parentheses: (type)"),
        )?;
        Ok(false)
    }

    /// True if the character at `pos` may follow a value: a space, a
    /// newline, a comment, a slashdash, `\`, `;`, `=`, `)`, `{`, `}` or the
    /// end of the file (as in the `kdl` crate, plus `/-`, which KDL 2.0's
    /// official tests allow right after a value).
    pub(super) fn at_value_end(&self) -> bool {
        match self.peek() {
            None => true,
            Some(b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C | b';' | b'=' | b')' | b'{' | b'}' | b'\\') => {
                true
            }
            Some(b'/') => matches!(self.peek_at(1), Some(b'/' | b'*' | b'-')),
            Some(b) if b >= 0x80 => self.space_len(self.pos) > 0 || self.newline_len(self.pos) > 0,
            Some(_) => false,
        }
    }

    /// Skips a token that could not be read, up to where a value could end
    /// (at least one character), and returns its span.
    pub(super) fn skip_bad_token(&mut self) -> Span {
        let start = self.pos;
        if self.peek().is_some() {
            self.pos += self.char_len(self.pos);
        }
        while !self.at_value_end() {
            self.pos += self.char_len(self.pos);
        }
        Span::new(start, self.pos)
    }
}
