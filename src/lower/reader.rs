//! Reading one node against its shape: which positional arguments it takes,
//! which settings (as properties or one-line children), and which child
//! blocks. Every shape problem becomes a diagnostic; the reader then hands
//! out typed values, reporting wrong types as it goes.
//!
//! A setting may be written as a property (`network=vpc`) or as a child node
//! (`network vpc`); TOML's `network = "vpc"` arrives as the latter. That one
//! rule is what lets KDL and TOML share a single lowering.

use std::cell::RefCell;
use std::net::IpAddr;

use ipnet::IpNet;

use super::language::{Block, Choice, Setting, Shape, Ty, Word};
use crate::diagnostic::{Diagnostic, codes, suggest};
use crate::model::FlowBound;
use crate::source::{Span, Spanned};
use crate::syntax::{Entry, Node, Value};

/// Settings per shape that a reader can track; `language`'s tests check
/// that every shape stays within it.
pub const MAX_SETTINGS: usize = 32;

thread_local! {
    /// Settings the readers of this thread refused, with the span of the
    /// node they were written on, until `take_dropped` collects them:
    /// lowering collects them once per document into `Topology::dropped`.
    /// A side channel rather than a parameter, so that the many readers and
    /// getters keep their signatures.
    static DROPPED: RefCell<Vec<(Span, &'static str)>> = const { RefCell::new(Vec::new()) };
}

/// Takes the settings refused since the last call.
pub fn take_dropped() -> Vec<(Span, &'static str)> {
    DROPPED.with(|d| std::mem::take(&mut *d.borrow_mut()))
}

thread_local! {
    /// Flow-bound settings, words and blocks read since `take_flow_bound`,
    /// the same side channel as `DROPPED`.
    static FLOW_BOUND: RefCell<Vec<FlowBound>> = const { RefCell::new(Vec::new()) };
}

/// Takes the flow-bound values read since the last call.
pub fn take_flow_bound() -> Vec<FlowBound> {
    FLOW_BOUND.with(|b| std::mem::take(&mut *b.borrow_mut()))
}

/// `a == b`, for the names of settings and blocks: length and first byte
/// first, since most names differ in one of them and the comparison of the
/// rest is a library call.
fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.as_bytes().first() == b.as_bytes().first() && a == b
}

/// The values given for one setting, as `Reader::written` counts them.
struct Written {
    count: usize,
    first: Option<Span>,
}

/// One value of a setting.
struct Given<'a> {
    /// Index into the shape's settings.
    setting: usize,
    /// Where the setting was named (its key, node name or argument) for
    /// this value.
    key: Span,
    entry: &'a Entry<'a>,
}

pub struct Reader<'a> {
    pub node: &'a Node<'a>,
    shape: &'static Shape,
    /// Every value given, in the order read: a setting's values are the
    /// entries with its index. One flat list per node rather than a map of
    /// lists: a node has a handful of settings, and this is one allocation
    /// instead of one per setting.
    given: Vec<Given<'a>>,
    /// Per setting index, one bit: whether it was given. Where it was
    /// first given is its first value's `key`; a bit per setting rather
    /// than a span keeps the reader small (it was 800 bytes, copied out of
    /// `new` for every node).
    seen: u32,
    blocks: Vec<&'a Node<'a>>,
}

impl<'a> Reader<'a> {
    pub fn new(node: &'a Node<'a>, shape: &'static Shape, diags: &mut Vec<Diagnostic>) -> Self {
        let mut r = Reader {
            node,
            shape,
            given: Vec::with_capacity(node.entries.len() + node.children.len()),
            seen: 0,
            blocks: Vec::new(),
        };
        let mut positional = 0;
        // Extra arguments are reported once per node, however many there
        // are: a line of ten thousand stray words is one mistake.
        let mut extra: Option<(Span, Span, usize)> = None;
        for entry in node.entries.iter() {
            match &entry.key {
                None => {
                    let name = shape.args.get(positional).copied().or(shape.rest);
                    match name.and_then(|name| r.index(name)) {
                        Some(i) => r.add(i, entry.span, [entry], diags),
                        None => {
                            let (first, _, n) = extra.unwrap_or((entry.span, entry.span, 0));
                            extra = Some((first, entry.span, n + 1));
                        }
                    }
                    positional += 1;
                }
                Some(key) => match r.index(&key.text) {
                    Some(i) => r.add(i, key.span, [entry], diags),
                    None => diags.push(r.unknown(&codes::UNKNOWN_SETTING, "setting", &key.text, key.span)),
                },
            }
        }
        if let Some((first, last, count)) = extra {
            let message = match shape.args.len() {
                0 => format!("`{}` takes no positional argument", shape.what),
                1 => format!("`{}` takes one argument, its {}", shape.what, shape.args[0]),
                n => format!("`{}` takes {n} arguments: {}", shape.what, shape.args.join(", ")),
            };
            let label = match count {
                1 => "unexpected argument".to_owned(),
                n => format!("{n} unexpected arguments"),
            };
            diags.push(
                Diagnostic::new(&codes::EXTRA_ARGUMENT, first.join(last), message)
                    .label(label)
                    .help(r.accepts_help()),
            );
        }
        for child in node.children.iter() {
            if shape.blocks.iter().any(|b| same_name(b.name, &child.name.text)) {
                r.blocks.push(child);
            } else if let Some(i) = r.index(&child.name.text) {
                let setting = &shape.settings[i];
                let name = setting.name;
                if !child.children.is_empty() || child.props().next().is_some() {
                    diags.push(
                        Diagnostic::new(
                            &codes::INVALID_VALUE,
                            child.span,
                            format!("`{name}` is a plain setting and takes only values"),
                        )
                        .label("unexpected properties or children")
                        .help(format!("write it as `{name} VALUE`")),
                    );
                }
                let mut values = child.args();
                if values.next().is_none() {
                    diags.push(
                        Diagnostic::new(
                            &codes::MISSING_VALUE,
                            child.name.span,
                            format!("`{name}` has no value"),
                        )
                        .label("value missing")
                        .help(format!("write it as `{name} VALUE`")),
                    );
                    continue;
                }
                if let Some(second) = values.next()
                    && !setting.list
                {
                    diags.push(
                        Diagnostic::new(
                            &codes::EXTRA_ARGUMENT,
                            second.span,
                            format!("`{name}` takes one value"),
                        )
                        .label("unexpected value"),
                    );
                }
                r.add(i, child.name.span, child.args(), diags);
            } else if child.children.is_empty() {
                // `netwrok vpc` is a misspelt setting, like `netwrok=vpc`.
                diags.push(r.unknown(
                    &codes::UNKNOWN_SETTING,
                    "setting",
                    &child.name.text,
                    child.name.span,
                ));
            } else {
                diags.push(r.unknown(&codes::UNKNOWN_NODE, "node", &child.name.text, child.name.span));
            }
        }
        r
    }

    /// Records that setting or block `name` was written on this node but
    /// could not be read.
    pub fn note_dropped(&self, name: &str) {
        let known = self
            .shape
            .settings
            .iter()
            .map(|s| s.name)
            .chain(self.shape.blocks.iter().map(|b| b.name))
            .find(|n| *n == name);
        if let Some(n) = known {
            DROPPED.with(|d| d.borrow_mut().push((self.node.span, n)));
        }
    }

    /// Records a value read whole: if the table binds its setting or the
    /// word chosen to one Istio flow, `check` is told where it was written.
    fn note_flow(&self, setting: &'static Setting, word: Option<&'static Word>, span: Span) {
        let bound = match (setting.flow, word.and_then(|w| w.flow)) {
            (Some(f), _) => Some((f, None)),
            (None, Some(f)) => Some((f, word.map(|w| w.word))),
            (None, None) => None,
        };
        if let Some((f, word)) = bound {
            FLOW_BOUND.with(|b| {
                b.borrow_mut().push(FlowBound {
                    setting: setting.name,
                    word,
                    flow: f.flow,
                    span,
                    instead: f.instead,
                });
            });
        }
    }

    /// The index of the setting called `name` in this shape.
    fn index(&self, name: &str) -> Option<usize> {
        self.shape.settings.iter().position(|s| same_name(s.name, name))
    }

    /// The setting lowering asks for, by name, as the getter `want` reads
    /// it. A name the table does not define, or a getter of another type
    /// or arity than the table's, is a bug in lowering: in a debug build it
    /// fails at once (every fixture and example is lowered in the tests),
    /// rather than silently reading nothing.
    fn spec(&self, name: &str, want: Want) -> Option<(usize, &'static Setting)> {
        let Some(i) = self.index(name) else {
            debug_assert!(
                false,
                "lowering reads setting `{name}`, which `{}` does not define in lower/language.rs",
                self.shape.what
            );
            return None;
        };
        let setting = &self.shape.settings[i];
        debug_assert!(
            want.reads(setting),
            "lowering reads `{} {name}` as {want:?}, but lower/language.rs says {}{}",
            self.shape.what,
            if setting.list { "a list of " } else { "" },
            crate::schema::ty_text(setting.ty)
        );
        #[cfg(debug_assertions)]
        coverage::mark(self.shape, i);
        Some((i, setting))
    }

    fn all_names(&self) -> Vec<&'static str> {
        let s = self.shape;
        let mut v: Vec<&'static str> = s
            .settings
            .iter()
            .map(|s| s.name)
            .chain(s.blocks.iter().map(|b| b.name))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    fn accepts_help(&self) -> String {
        format!("`{}` accepts: {}", self.shape.what, self.all_names().join(", "))
    }

    fn unknown(
        &self,
        code: &'static crate::diagnostic::Code,
        kind: &str,
        name: &str,
        span: Span,
    ) -> Diagnostic {
        let names = self.all_names();
        let help = match suggest(name, names.iter().copied()) {
            Some(s) => {
                // A misspelt setting is the one it resembles, dropped.
                self.note_dropped(s);
                format!("did you mean `{s}`?")
            }
            None => self.accepts_help(),
        };
        Diagnostic::new(
            code,
            span,
            format!("unknown {kind} `{name}` in `{}`", self.shape.what),
        )
        .label(format!("unknown {kind}"))
        .help(help)
    }

    /// Records the values of setting `setting` (an index into the shape's
    /// settings), given once more at `key_span`. A list setting collects
    /// every value given; any other setting given twice is reported.
    fn add(
        &mut self,
        setting: usize,
        key_span: Span,
        values: impl IntoIterator<Item = &'a Entry<'a>>,
        diags: &mut Vec<Diagnostic>,
    ) {
        let is_list = self.shape.settings.get(setting).is_some_and(|s| s.list);
        if setting >= MAX_SETTINGS {
            return;
        }
        let bit = 1u32 << setting;
        if self.seen & bit == 0 {
            self.seen |= bit;
        } else if !is_list {
            let name = self.shape.settings.get(setting).map_or("", |s| s.name);
            // `new` adds a setting only with at least one value.
            let first = self
                .given
                .iter()
                .find(|g| g.setting == setting)
                .map_or(key_span, |g| g.key);
            diags.push(
                Diagnostic::new(
                    &codes::DUPLICATE_SETTING,
                    key_span,
                    format!("`{name}` is given more than once in `{}`", self.shape.what),
                )
                .label("given again here")
                .with_secondary(first, "first given here")
                .help("keep one of them"),
            );
            return;
        }
        self.given.extend(values.into_iter().map(|entry| Given {
            setting,
            key: key_span,
            entry,
        }));
    }

    /// The table's entry for child block `name`; like `spec`, a name the
    /// table does not define fails a debug build.
    fn block_spec(&self, name: &str) -> Option<&'static Block> {
        let Some(j) = self.shape.blocks.iter().position(|b| same_name(b.name, name)) else {
            debug_assert!(
                false,
                "lowering reads block `{name}`, which `{}` does not define in lower/language.rs",
                self.shape.what
            );
            return None;
        };
        #[cfg(debug_assertions)]
        coverage::mark(self.shape, self.shape.settings.len() + j);
        self.shape.blocks.get(j)
    }

    /// Child blocks with this name, in source order.
    pub fn blocks(&self, name: &str) -> impl Iterator<Item = &'a Node<'a>> + Clone {
        let known = self.block_spec(name).is_some();
        self.blocks
            .iter()
            .copied()
            .filter(move |n| known && same_name(&n.name.text, name))
    }

    /// At most one block with this name; a second one is a duplicate.
    pub fn block(&self, name: &str, diags: &mut Vec<Diagnostic>) -> Option<&'a Node<'a>> {
        let mut it = self.blocks(name);
        let first = it.next()?;
        for again in it {
            diags.push(
                Diagnostic::new(
                    &codes::DUPLICATE_SETTING,
                    again.name.span,
                    format!("`{name}` is given more than once in `{}`", self.shape.what),
                )
                .label("given again here")
                .with_secondary(first.name.span, "first given here")
                .help("merge them into one block"),
            );
        }
        Some(first)
    }

    /// At most one block with this name, read by `read`: noted as dropped
    /// when it could not be read, and as bound to a flow when the table
    /// says so and it was.
    pub fn read_block<T>(
        &self,
        name: &str,
        diags: &mut Vec<Diagnostic>,
        read: impl FnOnce(&'a Node<'a>, &mut Vec<Diagnostic>) -> Option<T>,
    ) -> Option<T> {
        let node = self.block(name, diags)?;
        let out = read(node, diags);
        match (&out, self.block_spec(name)) {
            (None, _) => self.note_dropped(name),
            (Some(_), Some(b)) => {
                if let Some(f) = b.flow {
                    FLOW_BOUND.with(|v| {
                        v.borrow_mut().push(FlowBound {
                            setting: b.name,
                            word: None,
                            flow: f.flow,
                            span: node.span,
                            instead: f.instead,
                        });
                    });
                }
            }
            (Some(_), None) => {}
        }
        out
    }

    /// Whether setting `name` was written.
    pub fn has(&self, name: &str) -> bool {
        let i = self.index(name);
        debug_assert!(
            i.is_some(),
            "lowering asks for setting `{name}`, which `{}` does not define in lower/language.rs",
            self.shape.what
        );
        i.is_some_and(|i| self.given_at(i))
    }

    /// Whether setting `i` was given (with or without a usable value).
    fn given_at(&self, i: usize) -> bool {
        i < MAX_SETTINGS && self.seen & (1u32 << i) != 0
    }

    /// The values given for setting `i`, in the order read.
    fn values_of(&self, i: usize) -> impl Iterator<Item = &'a Entry<'a>> {
        self.given.iter().filter(move |g| g.setting == i).map(|g| g.entry)
    }

    /// The value of a one-value setting; its absence is reported when the
    /// table says it is required.
    fn single(&self, i: usize, setting: &Setting, diags: &mut Vec<Diagnostic>) -> Option<&'a Entry<'a>> {
        let first = self.values_of(i).next();
        if first.is_none() && setting.required && !self.given_at(i) {
            self.missing(setting.name, diags);
        }
        first
    }

    /// The values of a list setting; reported when the table says it is
    /// required and none was written.
    fn several(
        &self,
        i: usize,
        setting: &Setting,
        diags: &mut Vec<Diagnostic>,
    ) -> impl Iterator<Item = &'a Entry<'a>> + use<'a, '_> {
        if setting.required && !self.given_at(i) {
            self.missing(setting.name, diags);
        }
        self.values_of(i)
    }

    /// `out` for a value written at `span`: noted as dropped when it could
    /// not be read, as bound to a flow when the table says so.
    fn kept<T>(&self, setting: &'static Setting, span: Span, out: Option<T>) -> Option<T> {
        match out {
            Some(_) => self.note_flow(setting, None, span),
            None => self.note_dropped(setting.name),
        }
        out
    }

    /// How many values setting `i` was given, and where the first one is:
    /// all that `kept_all` needs to know of them, counted without a list.
    fn written(&self, i: usize) -> Written {
        let mut values = self.values_of(i);
        let first = values.next().map(|e| e.span);
        Written {
            count: usize::from(first.is_some()) + values.count(),
            first,
        }
    }

    /// `out`, noted as dropped when fewer values came out than were
    /// `written`.
    fn kept_all<T>(&self, setting: &'static Setting, written: Written, out: Vec<T>) -> Vec<T> {
        if out.len() < written.count {
            self.note_dropped(setting.name);
        }
        if let (Some(span), false) = (written.first, out.is_empty()) {
            self.note_flow(setting, None, span);
        }
        out
    }

    pub fn missing(&self, name: &str, diags: &mut Vec<Diagnostic>) {
        debug_assert!(
            self.index(name).is_some(),
            "lowering reports setting `{name}` missing, which `{}` does not define",
            self.shape.what
        );
        diags.push(
            Diagnostic::new(
                &codes::MISSING_VALUE,
                self.node.name.span,
                format!("`{}` needs `{name}`", self.shape.what),
            )
            .label(format!("no `{name}` here"))
            .help(format!(
                "add `{name} VALUE` inside the block, or `{name}=VALUE` on the node"
            )),
        );
    }

    /// A name, text or version setting.
    pub fn string(&self, name: &str, diags: &mut Vec<Diagnostic>) -> Option<Spanned<String>> {
        let (i, setting) = self.spec(name, Want::String)?;
        let e = self.single(i, setting, diags)?;
        let out = as_string(e, setting.name, diags);
        self.kept(setting, e.span, out)
    }

    pub fn strings(&self, name: &str, diags: &mut Vec<Diagnostic>) -> Vec<Spanned<String>> {
        let Some((i, setting)) = self.spec(name, Want::Strings) else {
            return Vec::new();
        };
        let written = self.written(i);
        // Sized for every value written: collected from a filter, a list of
        // one would keep room for four (a 10k mesh's `calls` and `version`
        // lists were 3.4 MB, 1.6 of them spare).
        let mut out = Vec::with_capacity(written.count);
        out.extend(
            self.several(i, setting, diags)
                .filter_map(|e| as_string(e, setting.name, diags)),
        );
        self.kept_all(setting, written, out)
    }

    pub fn bool(&self, name: &str, diags: &mut Vec<Diagnostic>) -> Option<Spanned<bool>> {
        let (i, setting) = self.spec(name, Want::Bool)?;
        let e = self.single(i, setting, diags)?;
        let out = match e.value {
            Value::Bool(b) => Some(Spanned::new(b, e.span)),
            ref other => {
                diags.push(wrong_type(e, name, "a boolean (#true or #false)", other));
                None
            }
        };
        self.kept(setting, e.span, out)
    }

    /// An integer, within the range the table gives.
    pub fn integer(&self, name: &str, diags: &mut Vec<Diagnostic>) -> Option<Spanned<i128>> {
        let (i, setting) = self.spec(name, Want::Integer)?;
        let Ty::Integer(min, max) = setting.ty else {
            return None;
        };
        let e = self.single(i, setting, diags)?;
        let out = as_integer(e, setting.name, i128::from(min), i128::from(max), diags);
        self.kept(setting, e.span, out)
    }

    pub fn port(&self, name: &str, diags: &mut Vec<Diagnostic>) -> Option<Spanned<u16>> {
        let (i, setting) = self.spec(name, Want::Port)?;
        let e = self.single(i, setting, diags)?;
        let out = as_port(e, setting.name, diags);
        self.kept(setting, e.span, out)
    }

    pub fn ports(&self, name: &str, diags: &mut Vec<Diagnostic>) -> Vec<Spanned<u16>> {
        let Some((i, setting)) = self.spec(name, Want::Ports) else {
            return Vec::new();
        };
        let written = self.written(i);
        let out = self
            .several(i, setting, diags)
            .filter_map(|e| as_port(e, setting.name, diags))
            .collect();
        self.kept_all(setting, written, out)
    }

    pub fn ip(&self, name: &str, diags: &mut Vec<Diagnostic>) -> Option<Spanned<IpAddr>> {
        let (i, setting) = self.spec(name, Want::Ip)?;
        let e = self.single(i, setting, diags)?;
        let out = as_string(e, setting.name, diags).and_then(|s| parse_ip(&s, diags));
        self.kept(setting, e.span, out)
    }

    pub fn ips(&self, name: &str, diags: &mut Vec<Diagnostic>) -> Vec<Spanned<IpAddr>> {
        let Some((i, setting)) = self.spec(name, Want::Ips) else {
            return Vec::new();
        };
        let written = self.written(i);
        let out = self
            .several(i, setting, diags)
            .filter_map(|e| as_string(e, setting.name, diags))
            .collect::<Vec<_>>()
            .iter()
            .filter_map(|s| parse_ip(s, diags))
            .collect();
        self.kept_all(setting, written, out)
    }

    pub fn nets(&self, name: &str, diags: &mut Vec<Diagnostic>) -> Vec<Spanned<IpNet>> {
        let Some((i, setting)) = self.spec(name, Want::Cidrs) else {
            return Vec::new();
        };
        let written = self.written(i);
        let out = self
            .several(i, setting, diags)
            .filter_map(|e| as_string(e, setting.name, diags))
            .collect::<Vec<_>>()
            .iter()
            .filter_map(|s| parse_net(s, diags))
            .collect();
        self.kept_all(setting, written, out)
    }

    /// A choice setting read into the model type its words spell: the
    /// words are the table's (`T::words()` must be that very list).
    pub fn choice<T: Choice>(&self, name: &str, diags: &mut Vec<Diagnostic>) -> Option<Spanned<T>> {
        let w = self.chosen(name, Some(T::words()), diags)?;
        T::from_word(w.value).map(|v| Spanned::new(v, w.span))
    }

    /// A choice setting read as the table's word itself.
    pub fn word(&self, name: &str, diags: &mut Vec<Diagnostic>) -> Option<Spanned<&'static str>> {
        self.chosen(name, None, diags)
    }

    /// One of the table's words, compared exactly, as the JSON Schema's
    /// `enum` does; a word that differs only in case is refused with the
    /// right spelling in the help.
    fn chosen(
        &self,
        name: &str,
        expect: Option<&'static [Word]>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Spanned<&'static str>> {
        let (i, setting) = self.spec(name, Want::Choice)?;
        let Ty::Choice(words) = setting.ty else {
            return None;
        };
        debug_assert!(
            expect.is_none_or(|e| e == words),
            "lowering reads `{} {name}` into a type spelt by other words than lower/language.rs lists",
            self.shape.what
        );
        let e = self.single(i, setting, diags)?;
        let Some(s) = as_string(e, setting.name, diags) else {
            self.note_dropped(setting.name);
            return None;
        };
        if let Some(w) = words.iter().find(|w| w.word == s.value) {
            self.note_flow(setting, Some(w), s.span);
            return Some(Spanned::new(w.word, s.span));
        }
        let all: Vec<&str> = words.iter().map(|w| w.word).collect();
        let mut d = Diagnostic::new(
            &codes::INVALID_VALUE,
            s.span,
            format!("`{}` is not a valid `{name}`", s.value),
        );
        d = match words.iter().find(|w| w.word.eq_ignore_ascii_case(&s.value)) {
            Some(w) => d
                .label("choices are written exactly, case included")
                .help(format!("write `{}`", w.word)),
            None => d
                .label("not one of the choices")
                .help(format!("`{name}` is one of: {}", all.join(", "))),
        };
        diags.push(d);
        self.note_dropped(setting.name);
        None
    }
}

/// How lowering reads a setting, checked against the table's type.
#[derive(Clone, Copy, Debug)]
enum Want {
    String,
    Strings,
    Bool,
    Integer,
    Port,
    Ports,
    Ip,
    Ips,
    Cidrs,
    Choice,
}

impl Want {
    fn reads(self, s: &Setting) -> bool {
        let (list, ty_ok) = match self {
            Want::String => (false, matches!(s.ty, Ty::Name | Ty::Text | Ty::Version)),
            Want::Strings => (true, matches!(s.ty, Ty::Name | Ty::Text | Ty::Version)),
            Want::Bool => (false, matches!(s.ty, Ty::Bool)),
            Want::Integer => (false, matches!(s.ty, Ty::Integer(..))),
            Want::Port => (false, matches!(s.ty, Ty::Port)),
            Want::Ports => (true, matches!(s.ty, Ty::Port)),
            Want::Ip => (false, matches!(s.ty, Ty::Ip)),
            Want::Ips => (true, matches!(s.ty, Ty::Ip)),
            Want::Cidrs => (true, matches!(s.ty, Ty::Cidr)),
            Want::Choice => (false, matches!(s.ty, Ty::Choice(_))),
        };
        ty_ok && list == s.list
    }
}

/// Which settings and blocks of each shape lowering has read on this
/// thread (debug builds): the test that lowers every fixture and example
/// asserts that each one the table defines is read somewhere, so a getter
/// with a misspelt name cannot hide in a branch no test takes.
#[cfg(debug_assertions)]
pub mod coverage {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    use crate::lower::language::Shape;

    thread_local! {
        static READ: RefCell<BTreeMap<&'static str, u64>> = const { RefCell::new(BTreeMap::new()) };
    }

    pub(super) fn mark(shape: &'static Shape, bit: usize) {
        READ.with(|r| *r.borrow_mut().entry(shape.what).or_default() |= 1u64 << (bit % 64));
    }

    /// Whether setting (or, past the settings, block) number `bit` of
    /// `shape` has been read on this thread.
    pub fn was_read(shape: &Shape, bit: usize) -> bool {
        READ.with(|r| {
            r.borrow()
                .get(shape.what)
                .is_some_and(|m| m & (1u64 << (bit % 64)) != 0)
        })
    }
}

fn wrong_type(e: &Entry<'_>, name: &str, expected: &str, found: &Value<'_>) -> Diagnostic {
    let mut d = Diagnostic::new(
        &codes::INVALID_VALUE,
        e.span,
        format!("`{name}` must be {expected}, found {}", found.kind()),
    )
    .label(format!("expected {expected}"));
    if expected == "a string" {
        d = d.help(match found {
            Value::Float(_) => {
                "quote it: a version like 1.10 written bare would be read as the number 1.1".to_owned()
            }
            _ => "quote the value".to_owned(),
        });
    }
    d
}

pub fn as_string(e: &Entry<'_>, name: &str, diags: &mut Vec<Diagnostic>) -> Option<Spanned<String>> {
    match &e.value {
        Value::String(s) => Some(Spanned::new(s.as_ref().to_owned(), e.span)),
        other => {
            let code = if matches!(other, Value::Float(_)) {
                &codes::UNQUOTED_ADDRESS
            } else {
                &codes::INVALID_VALUE
            };
            let mut d = wrong_type(e, name, "a string", other);
            d.code = code;
            diags.push(d);
            None
        }
    }
}

pub fn as_integer(
    e: &Entry<'_>,
    name: &str,
    min: i128,
    max: i128,
    diags: &mut Vec<Diagnostic>,
) -> Option<Spanned<i128>> {
    match e.value {
        Value::Integer(i) if (min..=max).contains(&i) => Some(Spanned::new(i, e.span)),
        Value::Integer(i) => {
            diags.push(
                Diagnostic::new(
                    &codes::OUT_OF_RANGE,
                    e.span,
                    format!("`{name}` is {i}, outside {min}–{max}"),
                )
                .label("out of range")
                .help(format!("use a value from {min} to {max}")),
            );
            None
        }
        ref other => {
            diags.push(wrong_type(e, name, "an integer", other).help("write the number without quotes"));
            None
        }
    }
}

pub fn as_port(e: &Entry<'_>, name: &str, diags: &mut Vec<Diagnostic>) -> Option<Spanned<u16>> {
    let n = as_integer(e, name, 1, 65535, diags)?;
    u16::try_from(n.value).ok().map(|p| Spanned::new(p, n.span))
}

pub fn parse_ip(s: &Spanned<String>, diags: &mut Vec<Diagnostic>) -> Option<Spanned<IpAddr>> {
    match s.value.parse::<IpAddr>() {
        Ok(ip) => Some(Spanned::new(ip, s.span)),
        Err(_) => {
            let help = if s.value.contains('%') {
                "zone ids (`%eth0`) are not allowed: write the bare address".to_owned()
            } else if s.value.contains('/') {
                "this is an address, not a CIDR: drop the `/prefix`".to_owned()
            } else {
                "write an IPv4 (192.168.3.201) or IPv6 (fd00::1) address".to_owned()
            };
            diags.push(
                Diagnostic::new(
                    &codes::INVALID_ADDRESS,
                    s.span,
                    format!("`{}` is not an IP address", s.value),
                )
                .label("not an IP address")
                .help(help),
            );
            None
        }
    }
}

pub fn parse_net(s: &Spanned<String>, diags: &mut Vec<Diagnostic>) -> Option<Spanned<IpNet>> {
    match s.value.parse::<IpNet>() {
        Ok(net) if net.trunc() == net => Some(Spanned::new(net, s.span)),
        Ok(net) => {
            diags.push(
                Diagnostic::new(
                    &codes::INVALID_ADDRESS,
                    s.span,
                    format!("`{}` has host bits set", s.value),
                )
                .label("not a network address")
                .help(format!("did you mean `{}`?", net.trunc())),
            );
            None
        }
        Err(_) => {
            diags.push(
                Diagnostic::new(
                    &codes::INVALID_ADDRESS,
                    s.span,
                    format!("`{}` is not a CIDR", s.value),
                )
                .label("not a CIDR")
                .help("write `address/prefix`, e.g. 10.0.0.0/8 or fd00::/64"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MAX_SETTINGS;
    use crate::lower::language::{Shape, TOP};

    /// The reader tracks settings by their index in the shape, in an array
    /// of `MAX_SETTINGS`, and finds positional arguments among the settings.
    #[test]
    fn every_shape_fits_the_reader() {
        fn visit(shape: &'static Shape, seen: &mut Vec<&'static str>) {
            if seen.contains(&shape.what) {
                return;
            }
            seen.push(shape.what);
            assert!(
                shape.settings.len() + shape.blocks.len() <= 64,
                "`{}`: the debug coverage of settings and blocks holds 64",
                shape.what
            );
            assert!(
                shape.settings.len() <= MAX_SETTINGS,
                "`{}` has {} settings",
                shape.what,
                shape.settings.len()
            );
            for arg in shape.args.iter().chain(shape.rest.iter()) {
                assert!(
                    shape.setting(arg).is_some(),
                    "`{}`: argument `{arg}` is not a setting",
                    shape.what
                );
            }
            for block in shape.blocks {
                visit(block.shape, seen);
            }
        }
        let mut seen = Vec::new();
        for block in TOP {
            visit(block.shape, &mut seen);
        }
        assert!(seen.len() >= 10, "only {} shapes reached", seen.len());
    }
}
