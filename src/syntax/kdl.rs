//! The KDL v2 front end, on the `kdl` crate.

use super::prescan::{self, OffsetMap};
use super::{Document, Entry, Ident, Limits, Node, Value, check_node_count};
use crate::diagnostic::{Diagnostic, codes};
use crate::source::Span;

pub fn parse(text: &str, limits: Limits) -> (Option<Document>, Vec<Diagnostic>) {
    let scan = prescan::scan(text);
    if scan.max_depth > limits.max_depth {
        return (
            None,
            vec![
                Diagnostic::new(
                    &codes::INPUT_LIMIT,
                    Span::new(scan.deepest_at, scan.deepest_at + 1),
                    format!(
                        "the document nests {} levels deep, more than the limit of {}",
                        scan.max_depth, limits.max_depth
                    ),
                )
                .label("too deep here")
                .help("a topology needs only a few levels of nesting"),
            ],
        );
    }

    let mut diagnostics: Vec<Diagnostic> = scan
        .unquoted
        .iter()
        .map(|&span| {
            let token = text.get(span.start..span.end).unwrap_or_default();
            Diagnostic::new(
                &codes::UNQUOTED_ADDRESS,
                span,
                format!("`{token}` must be quoted"),
            )
            .label("unquoted address")
            .help(format!(
                "KDL v2 bare words cannot start with a digit: write \"{token}\""
            ))
        })
        .collect();

    // Parse a copy with those tokens quoted, so that the rest of the file is
    // still checked in this run.
    let (patched, map) = prescan::quote_spans(text, &scan.unquoted);
    let doc = match patched.parse::<kdl::KdlDocument>() {
        Ok(doc) => doc,
        Err(err) => {
            diagnostics.extend(err.diagnostics.iter().map(|d| {
                let start = d.span.offset();
                let span = map.span(Span::new(start, start + d.span.len()));
                let message = d.message.clone().unwrap_or_else(|| "invalid KDL".to_owned());
                let mut diag = Diagnostic::new(&codes::KDL_SYNTAX, span, message)
                    .label(d.label.clone().unwrap_or_else(|| "here".to_owned()));
                diag.help = d.help.clone();
                diag
            }));
            return (None, diagnostics);
        }
    };
    let lowerer = Converter {
        text: &patched,
        map: &map,
    };
    let document = Document {
        nodes: doc.nodes().iter().map(|n| lowerer.node(n)).collect(),
    };
    if let Err(limit) = check_node_count(&document, limits) {
        diagnostics.extend(limit);
        return (None, diagnostics);
    }
    (Some(document), diagnostics)
}

struct Converter<'a> {
    text: &'a str,
    map: &'a OffsetMap,
}

impl Converter<'_> {
    fn span(&self, s: miette::SourceSpan) -> Span {
        self.map.span(Span::new(s.offset(), s.offset() + s.len()))
    }

    fn node(&self, node: &kdl::KdlNode) -> Node {
        let name = Ident {
            text: node.name().value().to_owned(),
            span: self.span(node.name().span()),
        };
        let entries = node.entries().iter().map(|e| self.entry(e)).collect();
        let children = node
            .children()
            .map(|doc| doc.nodes().iter().map(|n| self.node(n)).collect())
            .unwrap_or_default();
        Node {
            name,
            entries,
            children,
            span: self.span(node.span()),
        }
    }

    fn entry(&self, entry: &kdl::KdlEntry) -> Entry {
        let whole = entry.span();
        let key = entry.name().map(|k| Ident {
            text: k.value().to_owned(),
            span: self.span(k.span()),
        });
        // An entry's span covers `key=value`; point at the value alone.
        let mut start = whole.offset();
        let end = whole.offset() + whole.len();
        if let Some(k) = entry.name() {
            let after_key = k.span().offset() + k.span().len();
            if let Some(rest) = self.text.get(after_key..end) {
                let eq = rest.find('=').map_or(0, |p| p + 1);
                let ws = rest[eq..].len() - rest[eq..].trim_start().len();
                start = after_key + eq + ws;
            }
        } else if let Some(rest) = self.text.get(start..end) {
            start += rest.len() - rest.trim_start().len();
        }
        let value = match entry.value() {
            kdl::KdlValue::String(s) => Value::String(s.clone()),
            kdl::KdlValue::Integer(i) => Value::Integer(*i),
            kdl::KdlValue::Float(f) => Value::Float(*f),
            kdl::KdlValue::Bool(b) => Value::Bool(*b),
            kdl::KdlValue::Null => Value::Null,
        };
        Entry {
            key,
            value,
            span: self.map.span(Span::new(start, end.max(start))),
        }
    }
}
