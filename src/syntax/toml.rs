//! The TOML front end, on the `toml` crate's spanned document tree.
//!
//! TOML maps onto the same node tree as KDL:
//! - a table (`[mesh]`, or an inline table) becomes a node whose children
//!   are its keys;
//! - an array of tables (`[[service]]`) becomes one node per table;
//! - a scalar key (`istio = "1.24"`) becomes a child node with one argument,
//!   and an array of scalars (`calls = ["a", "b"]`) a child node with one
//!   argument per element.
//!
//! Lowering accepts a setting either as a property or as a one-argument
//! child, so `namespace = "bookinfo"` in TOML means the same as
//! `namespace=bookinfo` in KDL.

use std::borrow::Cow;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{Document, Entry, Ident, Limits, Node, Value, check_node_count};
use crate::diagnostic::{Diagnostic, codes};
use crate::source::Span;

pub fn parse(text: &str, limits: Limits) -> (Option<Document<'_>>, Vec<Diagnostic>) {
    if let Some((depth, at)) = too_deep(text, limits.max_depth) {
        return (None, vec![depth_error(depth, at, limits)]);
    }
    let (table, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        let diagnostics = errors
            .iter()
            .map(|e| {
                let span = e.span().map_or(Span::file_start(), |r| Span::new(r.start, r.end));
                Diagnostic::new(&codes::TOML_SYNTAX, span, e.message().trim().to_owned()).label("here")
            })
            .collect();
        return (None, diagnostics);
    }
    let mut diagnostics = Vec::new();
    let mut conv = Converter {
        diagnostics: &mut diagnostics,
        limits,
    };
    let nodes = conv.table_children(table.get_ref(), 0);
    let document = Document { nodes };
    if let Err(limit) = check_node_count(&document, limits) {
        diagnostics.extend(limit);
        return (None, diagnostics);
    }
    (Some(document), diagnostics)
}

fn depth_error(depth: usize, at: usize, limits: Limits) -> Diagnostic {
    Diagnostic::new(
        &codes::INPUT_LIMIT,
        Span::new(at, at + 1),
        format!(
            "the document nests {depth} levels deep, more than the limit of {}",
            limits.max_depth
        ),
    )
    .label("too deep here")
    .help("a topology needs only a few levels of nesting")
}

/// Bracket and brace nesting outside strings and comments, so that a
/// hostile file cannot drive a recursive parser into the stack limit.
fn too_deep(text: &str, max: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let (mut i, mut depth) = (0, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            q @ (b'"' | b'\'') => {
                let triple = bytes[i..].starts_with(if q == b'"' { b"\"\"\"" } else { b"'''" });
                let n = if triple { 3 } else { 1 };
                i += n;
                while i < bytes.len() {
                    if q == b'"' && bytes[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if bytes[i] == q && bytes[i..].iter().take(n).all(|&c| c == q) {
                        i += n;
                        break;
                    }
                    if !triple && bytes[i] == b'\n' {
                        break;
                    }
                    i += 1;
                }
                continue;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Some((depth, i));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'.' => {
                // Dotted keys nest tables too; count a long run of them.
                let dots = bytes[i..]
                    .iter()
                    .take_while(|&&c| c != b'\n' && c != b'=')
                    .filter(|&&c| c == b'.')
                    .count();
                if dots > max {
                    return Some((dots, i));
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

struct Converter<'d> {
    diagnostics: &'d mut Vec<Diagnostic>,
    limits: Limits,
}

fn span_of<T>(s: &Spanned<T>) -> Span {
    let r = s.span();
    Span::new(r.start, r.end)
}

impl Converter<'_> {
    fn table_children<'t>(&mut self, table: &DeTable<'t>, depth: usize) -> Vec<Node<'t>> {
        let mut nodes = Vec::new();
        for (key, value) in table.iter() {
            let name = Ident {
                text: Cow::clone(key.get_ref()),
                span: span_of(key),
            };
            self.value_nodes(name, value, depth, &mut nodes);
        }
        nodes.sort_by_key(|n| n.span.start);
        nodes
    }

    fn value_nodes<'t>(
        &mut self,
        name: Ident<'t>,
        value: &Spanned<DeValue<'t>>,
        depth: usize,
        out: &mut Vec<Node<'t>>,
    ) {
        if depth > self.limits.max_depth {
            self.diagnostics
                .push(depth_error(depth, name.span.start, self.limits));
            return;
        }
        let span = span_of(value);
        match value.get_ref() {
            DeValue::Table(t) => out.push(Node {
                span: name.span.join(span),
                entries: Vec::new(),
                children: self.table_children(t, depth + 1),
                name,
            }),
            DeValue::Array(items) if items.iter().any(|v| v.get_ref().is_table()) => {
                for item in items.iter() {
                    self.value_nodes(name.clone(), item, depth + 1, out);
                }
            }
            DeValue::Array(items) => {
                let entries = items.iter().filter_map(|v| self.scalar(v)).collect();
                out.push(Node {
                    span: name.span.join(span),
                    entries,
                    children: Vec::new(),
                    name,
                });
            }
            _ => {
                let entries = self.scalar(value).into_iter().collect();
                out.push(Node {
                    span: name.span.join(span),
                    entries,
                    children: Vec::new(),
                    name,
                });
            }
        }
    }

    fn scalar<'t>(&mut self, value: &Spanned<DeValue<'t>>) -> Option<Entry<'t>> {
        let span = span_of(value);
        let v = match value.get_ref() {
            DeValue::String(s) => Value::String(Cow::clone(s)),
            DeValue::Integer(i) => match i128::from_str_radix(&i.as_str().replace('_', ""), i.radix()) {
                Ok(n) => Value::Integer(n),
                Err(_) => {
                    self.invalid(span, "this integer does not fit in 128 bits");
                    return None;
                }
            },
            DeValue::Float(f) => Value::Float(f.as_str().replace('_', "").parse().unwrap_or(f64::NAN)),
            DeValue::Boolean(b) => Value::Bool(*b),
            DeValue::Datetime(_) => {
                self.invalid(span, "dates and times have no meaning in a topology");
                return None;
            }
            DeValue::Array(_) | DeValue::Table(_) => {
                self.invalid(span, "a nested array or table is not allowed here");
                return None;
            }
        };
        Some(Entry {
            key: None,
            value: v,
            span,
        })
    }

    fn invalid(&mut self, span: Span, message: &str) {
        self.diagnostics.push(
            Diagnostic::new(&codes::INVALID_VALUE, span, message.to_owned())
                .label("here")
                .help("use a string, integer or boolean"),
        );
    }
}
