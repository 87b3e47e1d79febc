//! The reading layer of `meshc import`: YAML text → documents whose every
//! node (mapping, sequence, scalar, key) keeps the span it was written at.
//!
//! Built on `granit-parser`'s event stream (the parser `serde-saphyr` uses),
//! which gives byte offsets for every event. [`load`] first offers the text
//! to `yaml_block`, a reader of the block style meshc and `kubectl` write
//! that gives the same nodes or gives up (then granit reads it). The loader is an explicit stack
//! (no recursion) with budgets, so no input can exhaust stack, memory or
//! time:
//!
//! - nesting is limited to [`MAX_DEPTH`] (the parser refuses deeper flow and
//!   block collections itself, and the loader counts too);
//! - a file holds at most [`MAX_NODES`] nodes *after* alias expansion, and
//!   its aliases repeat at most [`MAX_ALIASED`] of them: an alias costs the
//!   size of what it repeats, so a billion-laughs bomb stops at the second
//!   budget with E951, having copied at most that many nodes (a file's own
//!   nodes cost the bytes that write them; copies cost nothing to write);
//! - a file larger than [`MAX_INPUT`] is refused before parsing (E951).
//!
//! Duplicate keys are E952 (the first one is kept): Kubernetes' own reader
//! refuses them, and which one a user meant is theirs to say.
//!
//! Scalars keep their style: a plain `on` is what YAML 1.1 readers (the
//! Kubernetes API server among them) take for a boolean, while a quoted
//! `"on"` is the string. [`Node::name`] reads such a plain scalar as the
//! string written (the user wrote a name where a name goes) and warns
//! (W951) that the cluster may have read something else.

use std::borrow::Cow;
use std::collections::BTreeMap;

use granit_parser::{Event, Options, Parser, ScalarStyle};

use super::{MALFORMED_YAML, YAML_LIMIT};
use crate::declare_code;
use crate::diagnostic::Diagnostic;
use crate::source::Span;

/// Deepest nesting of collections accepted (Kubernetes objects nest about 12).
pub const MAX_DEPTH: usize = 64;
/// Most nodes one file may hold, aliases expanded.
pub const MAX_NODES: usize = 4_000_000;
/// Most nodes the aliases of one file may repeat: `kubectl` writes no
/// aliases, and hand-written YAML repeats a template a few times.
pub const MAX_ALIASED: usize = 1_000_000;
/// Largest input file read (the front end's default limit too).
pub const MAX_INPUT: usize = 64 * 1024 * 1024;

declare_code! {
    /// A mapping has the same key twice.
    ///
    /// YAML requires keys to be unique; Kubernetes' reader refuses such a
    /// manifest, and other tools silently keep the first or the last value.
    /// `meshc import` keeps the first and reports the second: remove the one
    /// you did not mean.
    ///
    /// ```yaml
    /// metadata:
    ///   name: details
    ///   name: reviews      # E952
    /// ```
    pub static DUPLICATE_KEY = "E952", Error, "duplicate-yaml-key", "a YAML mapping has the same key twice";
}

declare_code! {
    /// A name is written as a plain YAML 1.1 boolean word (`on`, `off`,
    /// `yes`, `no`, `y`, `n`, `true`, `false`, in any of their spellings).
    ///
    /// YAML 1.2 readers (and `meshc import`) read the plain word as the
    /// string written, but Kubernetes reads manifests as YAML 1.1, where it
    /// is a boolean: the object the cluster holds may not be the one this
    /// file shows. `meshc import` takes the word you wrote and warns; quote
    /// it to say you meant the string.
    ///
    /// ```yaml
    /// metadata:
    ///   name: on         # W951: write "on"
    /// ```
    pub static YAML11_BOOLEAN = "W951", Warning, "yaml11-boolean-name", "a name is a plain word YAML 1.1 reads as a boolean";
}

/// One YAML node and the span it was written at (global import offsets,
/// see `import::Inputs`). Scalars and keys borrow from the text (`'a`)
/// where they read as written, and are owned where quoting changed them: a
/// 10k mesh's YAML holds about two million, and a `String` each was an
/// allocation, a copy and a free.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node<'a> {
    pub span: Span,
    pub value: Value<'a>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    Scalar {
        /// Borrowed from the text unless quoting changed it (escapes, `''`).
        text: Cow<'a, str>,
        plain: bool,
    },
    Seq(Vec<Node<'a>>),
    /// Keys in document order; duplicate keys are dropped (E952).
    Map(Vec<(Key<'a>, Node<'a>)>),
}

/// A mapping key (always a scalar; other keys are refused with E950).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key<'a> {
    pub text: Cow<'a, str>,
    pub span: Span,
}

/// YAML 1.1's boolean words (the resolver Kubernetes' go-yaml uses).
const YAML11_BOOLS: [&str; 22] = [
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false", "False",
    "FALSE", "on", "On", "ON", "off", "Off", "OFF",
];

impl<'a> Node<'a> {
    /// The value under `key`, when this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node<'a>> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.text == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Follows a path of keys.
    pub fn at(&self, path: &[&str]) -> Option<&Node<'a>> {
        path.iter().try_fold(self, |n, k| n.get(k))
    }

    /// The text of a scalar (whatever its style; `null` included).
    pub fn str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// Whether this is a plain `null`, `~` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true } if matches!(&**text, "" | "~" | "null" | "Null" | "NULL"))
    }

    /// A scalar read where a name is expected: the text written, with
    /// W951 when YAML 1.1 would read it as a boolean.
    pub fn name(&self, diags: &mut Vec<Diagnostic>) -> Option<&str> {
        if let Value::Scalar { text, plain: true } = &self.value
            && YAML11_BOOLS.contains(&&**text)
        {
            diags.push(
                Diagnostic::new(
                    &YAML11_BOOLEAN,
                    self.span,
                    format!("plain `{text}` is a boolean to YAML 1.1 readers"),
                )
                .label("read by meshc as the name written")
                .help(format!(
                    "Kubernetes reads YAML 1.1: quote it (\"{text}\") so every reader sees the name"
                )),
            );
        }
        self.str()
    }

    pub fn seq(&self) -> &[Node<'a>] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    pub fn entries(&self) -> &[(Key<'a>, Node<'a>)] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    /// An integer scalar (decimal only, as Kubernetes writes numbers).
    pub fn int(&self) -> Option<i64> {
        self.str()?.parse().ok()
    }
}

/// Reads every document of one YAML stream. `base` is the global offset of
/// the text's first byte; spans come back shifted by it. Documents read
/// before a syntax error are kept; the error is a diagnostic.
///
/// Block-style YAML (what meshc and `kubectl` write) is read by the fast
/// reader of `yaml_block`, which gives the same nodes; anything else by
/// granit ([`load_granit`]).
pub fn load<'a>(text: &'a str, base: usize, diags: &mut Vec<Diagnostic>) -> Vec<Node<'a>> {
    if text.len() <= MAX_INPUT
        && let Some((docs, found)) = super::yaml_block::load(text, base)
    {
        diags.extend(found);
        return docs;
    }
    load_granit(text, base, diags)
}

/// [`load`] by `granit-parser`'s events alone: the reference the fast
/// reader is held to.
pub fn load_granit<'a>(text: &'a str, base: usize, diags: &mut Vec<Diagnostic>) -> Vec<Node<'a>> {
    if text.len() > MAX_INPUT {
        diags.push(
            Diagnostic::new(
                &YAML_LIMIT,
                Span::new(base, base),
                format!(
                    "the file is {} bytes, over the import limit of {MAX_INPUT}",
                    text.len()
                ),
            )
            .help("split the manifests into several files (a directory is read whole)"),
        );
        return Vec::new();
    }
    let mut options = Options::default();
    options.flow_nesting_limit = MAX_DEPTH;
    options.block_nesting_limit = MAX_DEPTH;
    let mut loader = Loader {
        base,
        text_len: text.len(),
        docs: Vec::new(),
        stack: Vec::new(),
        anchors: BTreeMap::new(),
        nodes: 0,
        aliased: 0,
    };
    for event in Parser::new_from_str_with_options(text, options) {
        match event {
            Ok((event, span)) => {
                let start = span.start.byte_offset().unwrap_or(0);
                let end = span.end.byte_offset().unwrap_or(start).max(start);
                if let Err(d) = loader.event(event, Span::new(base + start, base + end), diags) {
                    diags.push(d);
                    return loader.docs;
                }
            }
            Err(e) => {
                let at = base + e.marker().byte_offset().unwrap_or(0).min(text.len());
                diags.push(
                    Diagnostic::new(
                        &MALFORMED_YAML,
                        Span::new(at, at),
                        format!("not valid YAML: {}", e.info()),
                    )
                    .label("here")
                    .help(
                        "fix the YAML (`kubectl apply --dry-run=client -f FILE` shows what Kubernetes reads)",
                    ),
                );
                return loader.docs;
            }
        }
    }
    loader.docs
}

/// The entries of a mapping being read. The first of each key is kept;
/// a later one is an E952 finding. A key is looked for in the entries
/// while the mapping is small, and in an index of them once it is not, so
/// that a mapping of n distinct keys costs n log n, not n² (200k keys in a
/// ConfigMap took 72 s).
#[derive(Default)]
pub(super) struct Entries<'a> {
    list: Vec<(Key<'a>, Node<'a>)>,
    /// Key → its place in `list`; built when `list` reaches [`INDEXED_FROM`].
    index: BTreeMap<Cow<'a, str>, usize>,
}

/// How many entries a mapping holds before its keys are indexed.
const INDEXED_FROM: usize = 16;

impl<'a> Entries<'a> {
    /// Adds `node` under `key`, unless `key` is there already (E952).
    pub(super) fn insert(&mut self, key: Key<'a>, node: Node<'a>, diags: &mut Vec<Diagnostic>) {
        if self.list.len() >= INDEXED_FROM && self.index.is_empty() {
            self.index = (self.list.iter().enumerate())
                .map(|(at, (k, _))| (k.text.clone(), at))
                .collect();
        }
        let found = if self.index.is_empty() {
            self.list.iter().position(|(k, _)| k.text == key.text)
        } else {
            self.index.get(&*key.text).copied()
        };
        match found {
            Some(at) => diags.push(duplicate_key(&key, &self.list[at].0)),
            None => {
                if !self.index.is_empty() {
                    self.index.insert(key.text.clone(), self.list.len());
                }
                self.list.push((key, node));
            }
        }
    }

    /// The mapping's value.
    pub(super) fn into_value(self) -> Value<'a> {
        Value::Map(self.list)
    }
}

/// E952 for `key`, a second time after `first`.
fn duplicate_key(key: &Key<'_>, first: &Key<'_>) -> Diagnostic {
    Diagnostic::new(
        &DUPLICATE_KEY,
        key.span,
        format!("key `{}` appears twice", key.text),
    )
    .label("second time")
    .with_secondary(first.span, "first time (kept)")
    .help("remove the one you did not mean")
}

enum Frame<'a> {
    Seq {
        span: Span,
        anchor: usize,
        items: Vec<Node<'a>>,
        count: usize,
    },
    Map {
        span: Span,
        anchor: usize,
        entries: Entries<'a>,
        key: Option<Key<'a>>,
        count: usize,
    },
}

struct Loader<'a> {
    base: usize,
    text_len: usize,
    docs: Vec<Node<'a>>,
    stack: Vec<Frame<'a>>,
    /// Anchor id → the node and how many nodes it holds.
    anchors: BTreeMap<usize, (Node<'a>, usize)>,
    nodes: usize,
    /// Nodes copied by aliases so far.
    aliased: usize,
}

impl<'a> Loader<'a> {
    fn event(&mut self, event: Event<'_>, span: Span, diags: &mut Vec<Diagnostic>) -> Result<(), Diagnostic> {
        match event {
            Event::StreamStart | Event::StreamEnd => Ok(()),
            Event::DocumentStart(..) => {
                self.anchors.clear();
                Ok(())
            }
            Event::DocumentEnd => Ok(()),
            Event::Anchor(..) | Event::UnresolvedAlias(_) => Ok(()),
            Event::Alias(id) => {
                let Some((node, count)) = self.anchors.get(&id).cloned() else {
                    return Err(self.malformed(span, "an alias to no anchor"));
                };
                self.spend(count, span)?;
                self.aliased = self.aliased.saturating_add(count);
                if self.aliased > MAX_ALIASED {
                    return Err(Diagnostic::new(
                        &YAML_LIMIT,
                        span,
                        format!("the aliases of this file repeat more than {MAX_ALIASED} YAML nodes"),
                    )
                    .label("the budget ends here")
                    .help("an alias repeats what its anchor holds, and a chain of aliases multiplies it: write the objects out"));
                }
                // The copy points at the alias, where the user reads it.
                let node = Node {
                    span,
                    value: node.value,
                };
                self.finish(node, 0, count, diags)
            }
            Event::Scalar(text, style, anchor, _tag) => {
                self.spend(1, span)?;
                let plain = style == ScalarStyle::Plain;
                let node = Node {
                    span,
                    value: Value::Scalar {
                        text: Cow::Owned(text.into_owned()),
                        plain,
                    },
                };
                self.finish(node, anchor, 1, diags)
            }
            Event::SequenceStart(_, anchor, _) => {
                self.open(span)?;
                self.stack.push(Frame::Seq {
                    span,
                    anchor,
                    items: Vec::new(),
                    count: 1,
                });
                Ok(())
            }
            Event::MappingStart(_, anchor, _) => {
                self.open(span)?;
                self.stack.push(Frame::Map {
                    span,
                    anchor,
                    entries: Entries::default(),
                    key: None,
                    count: 1,
                });
                Ok(())
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Seq {
                    span: start,
                    anchor,
                    items,
                    count,
                }) => {
                    let node = Node {
                        span: start.join(span),
                        value: Value::Seq(items),
                    };
                    self.finish(node, anchor, count, diags)
                }
                _ => Err(self.malformed(span, "an unbalanced sequence end")),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Map {
                    span: start,
                    anchor,
                    entries,
                    count,
                    ..
                }) => {
                    let node = Node {
                        span: start.join(span),
                        value: entries.into_value(),
                    };
                    self.finish(node, anchor, count, diags)
                }
                _ => Err(self.malformed(span, "an unbalanced mapping end")),
            },
            // Comments and whatever later parser versions add: presentation only.
            _ => Ok(()),
        }
    }

    fn open(&mut self, span: Span) -> Result<(), Diagnostic> {
        self.spend(1, span)?;
        if self.stack.len() >= MAX_DEPTH {
            return Err(Diagnostic::new(
                &YAML_LIMIT,
                span,
                format!("nested deeper than {MAX_DEPTH} levels"),
            )
            .label("too deep")
            .help("Kubernetes objects nest about a dozen levels: this is not a manifest meshc can import"));
        }
        Ok(())
    }

    fn spend(&mut self, count: usize, span: Span) -> Result<(), Diagnostic> {
        self.nodes = self.nodes.saturating_add(count);
        if self.nodes > MAX_NODES {
            return Err(Diagnostic::new(
                &YAML_LIMIT,
                span,
                format!("more than {MAX_NODES} YAML nodes (aliases expanded) in one file"),
            )
            .label("the budget ends here")
            .help("an alias repeats what its anchor holds: a chain of aliases multiplies it; write the objects out, or split the file"));
        }
        Ok(())
    }

    fn malformed(&self, span: Span, what: &str) -> Diagnostic {
        Diagnostic::new(&MALFORMED_YAML, span, format!("not valid YAML: {what}"))
            .help("fix the YAML (`kubectl apply --dry-run=client -f FILE` shows what Kubernetes reads)")
    }

    /// A complete node: remember its anchor, then hand it to its parent.
    fn finish(
        &mut self,
        node: Node<'a>,
        anchor: usize,
        count: usize,
        diags: &mut Vec<Diagnostic>,
    ) -> Result<(), Diagnostic> {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), count));
        }
        match self.stack.last_mut() {
            None => {
                let end = self.base + self.text_len;
                debug_assert!(node.span.end <= end);
                self.docs.push(node);
            }
            Some(Frame::Seq { items, count: c, .. }) => {
                *c += count;
                items.push(node);
            }
            Some(Frame::Map {
                entries,
                key,
                count: c,
                ..
            }) => {
                *c += count;
                match key.take() {
                    None => {
                        let Value::Scalar { text, .. } = node.value else {
                            return Err(Diagnostic::new(
                                &MALFORMED_YAML,
                                node.span,
                                "a mapping key that is not a scalar",
                            )
                            .help("Kubernetes objects have string keys only"));
                        };
                        *key = Some(Key {
                            text,
                            span: node.span,
                        });
                    }
                    Some(k) => entries.insert(k, node, diags),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_ok(text: &str) -> Vec<Node<'_>> {
        let mut diags = Vec::new();
        let docs = load(text, 0, &mut diags);
        assert!(diags.is_empty(), "{diags:?}");
        docs
    }

    #[test]
    fn spans_point_at_the_written_bytes() {
        let text = "a: 1\n---\nkind: List\nitems:\n- name: x\n  port: 80\n";
        let docs = load_ok(text);
        assert_eq!(docs.len(), 2);
        let item = &docs[1].get("items").expect("items").seq()[0];
        let name = item.get("name").expect("name");
        assert_eq!(&text[name.span.start..name.span.end], "x");
        let (key, port) = &item.entries()[1];
        assert_eq!(&text[key.span.start..key.span.end], "port");
        assert_eq!(port.int(), Some(80));
        // With a base, spans shift.
        let mut diags = Vec::new();
        let docs = load(text, 100, &mut diags);
        let name = docs[1].at(&["items"]).expect("items").seq()[0]
            .get("name")
            .expect("name");
        assert_eq!(name.span.start, 100 + text.find("x\n").expect("x"));
    }

    #[test]
    fn duplicate_keys_keep_the_first_and_report_the_second() {
        let text = "metadata:\n  name: a\n  name: b\n";
        let mut diags = Vec::new();
        let docs = load(text, 0, &mut diags);
        assert_eq!(docs[0].at(&["metadata", "name"]).and_then(Node::str), Some("a"));
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].code.code, "E952");
        assert_eq!(diags[0].span().start, text.rfind("name").expect("name"));
    }

    #[test]
    fn yaml11_booleans_read_as_written_with_a_warning_unless_quoted() {
        let docs = load_ok("a: on\nb: \"on\"\nc: web\n");
        let mut diags = Vec::new();
        assert_eq!(docs[0].get("a").and_then(|n| n.name(&mut diags)), Some("on"));
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].code.code, "W951");
        assert_eq!(docs[0].get("b").and_then(|n| n.name(&mut diags)), Some("on"));
        assert_eq!(docs[0].get("c").and_then(|n| n.name(&mut diags)), Some("web"));
        assert_eq!(diags.len(), 1);
    }

    #[test]
    fn an_alias_bomb_stops_at_the_budget() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let prev = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let started = std::time::Instant::now();
        let mut diags = Vec::new();
        let docs = load(&text, 0, &mut diags);
        assert!(docs.is_empty());
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].code.code, "E951", "{diags:?}");
        // The alias budget, which copies a quarter of the node budget at most.
        assert!(diags[0].message.contains("aliases"), "{diags:?}");
        assert!(started.elapsed().as_secs() < 20);
    }

    #[test]
    fn small_aliases_expand() {
        let docs = load_ok("base: &b {app: x}\ncopy: *b\n");
        assert_eq!(docs[0].at(&["copy", "app"]).and_then(Node::str), Some("x"));
    }

    #[test]
    fn deep_nesting_and_syntax_errors_are_diagnostics() {
        for text in [
            "[".repeat(10_000),
            "a:\n".to_owned() + &"- ".repeat(5000) + "x",
            "a: [b\n".into(),
            "a: *nothing\n".into(),
        ] {
            let mut diags = Vec::new();
            load(&text, 0, &mut diags);
            assert_eq!(diags.len(), 1, "{diags:?}");
            assert!(matches!(diags[0].code.code, "E950" | "E951"), "{diags:?}");
        }
    }

    #[test]
    fn documents_before_a_syntax_error_are_kept() {
        let mut diags = Vec::new();
        let docs = load("a: 1\n---\nb: [\n", 0, &mut diags);
        assert_eq!(docs.len(), 1);
        assert_eq!(diags[0].code.code, "E950");
    }
}
