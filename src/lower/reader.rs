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

use super::language::Shape;
use crate::diagnostic::{Diagnostic, codes, suggest};
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

/// One value of a setting.
struct Given<'a> {
    /// Index into the shape's settings.
    setting: usize,
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
    /// Per setting index: where it was first given, if it was.
    first_key: [Option<Span>; MAX_SETTINGS],
    blocks: Vec<&'a Node<'a>>,
}

impl<'a> Reader<'a> {
    pub fn new(node: &'a Node<'a>, shape: &'static Shape, diags: &mut Vec<Diagnostic>) -> Self {
        let mut r = Reader {
            node,
            shape,
            given: Vec::with_capacity(node.entries.len() + node.children.len()),
            first_key: [None; MAX_SETTINGS],
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
            if shape.block(&child.name.text).is_some() {
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

    /// `out`, noting `name` as dropped when it was written but `out` is
    /// empty.
    fn kept<T>(&self, name: &str, written: bool, out: Option<T>) -> Option<T> {
        if written && out.is_none() {
            self.note_dropped(name);
        }
        out
    }

    /// `out`, noting `name` as dropped when fewer values came out than
    /// were written.
    fn kept_all<T>(&self, name: &str, out: Vec<T>) -> Vec<T> {
        if out.len() < self.values(name).count() {
            self.note_dropped(name);
        }
        out
    }

    /// The index of the setting called `name` in this shape.
    fn index(&self, name: &str) -> Option<usize> {
        self.shape.settings.iter().position(|s| s.name == name)
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
        let Some(first) = self.first_key.get_mut(setting) else {
            return;
        };
        match *first {
            Some(first) if !is_list => {
                let name = self.shape.settings.get(setting).map_or("", |s| s.name);
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
            Some(_) => {}
            None => *first = Some(key_span),
        }
        self.given
            .extend(values.into_iter().map(|entry| Given { setting, entry }));
    }

    /// Child blocks with this name, in source order.
    pub fn blocks(&self, name: &str) -> impl Iterator<Item = &'a Node<'a>> {
        self.blocks.iter().copied().filter(move |n| n.name.text == name)
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

    pub fn has(&self, name: &str) -> bool {
        self.index(name)
            .and_then(|i| self.first_key.get(i))
            .is_some_and(Option::is_some)
    }

    fn first(&self, name: &str) -> Option<&'a Entry<'a>> {
        self.values(name).next()
    }

    /// The values given for `name`, in the order read.
    fn values(&self, name: &str) -> impl Iterator<Item = &'a Entry<'a>> {
        let i = self.index(name);
        self.given
            .iter()
            .filter(move |g| Some(g.setting) == i)
            .map(|g| g.entry)
    }

    pub fn missing(&self, name: &str, diags: &mut Vec<Diagnostic>) {
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

    pub fn string(&self, name: &str, diags: &mut Vec<Diagnostic>) -> Option<Spanned<String>> {
        let first = self.first(name);
        let out = first.and_then(|e| as_string(e, name, diags));
        self.kept(name, first.is_some(), out)
    }

    pub fn required_string(&self, name: &str, diags: &mut Vec<Diagnostic>) -> Option<Spanned<String>> {
        if !self.has(name) {
            self.missing(name, diags);
            return None;
        }
        self.string(name, diags)
    }

    pub fn strings(&self, name: &str, diags: &mut Vec<Diagnostic>) -> Vec<Spanned<String>> {
        let out = self
            .values(name)
            .filter_map(|e| as_string(e, name, diags))
            .collect();
        self.kept_all(name, out)
    }

    pub fn bool(&self, name: &str, diags: &mut Vec<Diagnostic>) -> Option<Spanned<bool>> {
        let e = self.first(name)?;
        match e.value {
            Value::Bool(b) => Some(Spanned::new(b, e.span)),
            ref other => {
                diags.push(wrong_type(e, name, "a boolean (#true or #false)", other));
                self.note_dropped(name);
                None
            }
        }
    }

    pub fn integer(
        &self,
        name: &str,
        min: i128,
        max: i128,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Spanned<i128>> {
        let first = self.first(name);
        let out = first.and_then(|e| as_integer(e, name, min, max, diags));
        self.kept(name, first.is_some(), out)
    }

    pub fn port(&self, name: &str, diags: &mut Vec<Diagnostic>) -> Option<Spanned<u16>> {
        let first = self.first(name);
        let out = first.and_then(|e| as_port(e, name, diags));
        self.kept(name, first.is_some(), out)
    }

    pub fn ports(&self, name: &str, diags: &mut Vec<Diagnostic>) -> Vec<Spanned<u16>> {
        let out = self
            .values(name)
            .filter_map(|e| as_port(e, name, diags))
            .collect();
        self.kept_all(name, out)
    }

    pub fn ip(&self, name: &str, diags: &mut Vec<Diagnostic>) -> Option<Spanned<IpAddr>> {
        let s = self.string(name, diags)?;
        let out = parse_ip(&s, diags);
        self.kept(name, true, out)
    }

    pub fn ips(&self, name: &str, diags: &mut Vec<Diagnostic>) -> Vec<Spanned<IpAddr>> {
        let out = self
            .strings(name, diags)
            .iter()
            .filter_map(|s| parse_ip(s, diags))
            .collect();
        self.kept_all(name, out)
    }

    pub fn nets(&self, name: &str, diags: &mut Vec<Diagnostic>) -> Vec<Spanned<IpNet>> {
        let out = self
            .strings(name, diags)
            .iter()
            .filter_map(|s| parse_net(s, diags))
            .collect();
        self.kept_all(name, out)
    }

    /// A value from a fixed set of words, compared without case.
    pub fn choice<T: Copy>(
        &self,
        name: &str,
        choices: &[(&str, T)],
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Spanned<T>> {
        let s = self.string(name, diags)?;
        match choices.iter().find(|(w, _)| w.eq_ignore_ascii_case(&s.value)) {
            Some((_, v)) => Some(Spanned::new(*v, s.span)),
            None => {
                let words: Vec<&str> = choices.iter().map(|(w, _)| *w).collect();
                diags.push(
                    Diagnostic::new(
                        &codes::INVALID_VALUE,
                        s.span,
                        format!("`{}` is not a valid `{name}`", s.value),
                    )
                    .label("not one of the choices")
                    .help(format!("`{name}` is one of: {}", words.join(", "))),
                );
                self.note_dropped(name);
                None
            }
        }
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
