//! Help in the syntax of the file being checked.
//!
//! Rules write their examples in KDL, the primary syntax: `control-plane
//! #true`, `calls details`, `deploy v1 cluster=NAME`. A TOML user needs
//! `control-plane = true`, `calls = ["details"]`. Rather than every rule
//! writing both, each code span (between backticks) of a message, label
//! or help is read as a KDL snippet; when it parses and every node in it
//! is a setting or block of the language, it is written again in TOML,
//! with the language tables deciding which positional argument is which
//! setting and which settings are lists. Anything else (a command, a name,
//! a port) is left as it is, and so are KDL's `#true`/`#false` in prose.

use super::Diagnostic;
use crate::lower::language::{Block, Setting, Shape, TOP};
use crate::syntax::{Entry, Limits, Node, Value};

/// Rewrites every message, label and help of `diags` for a TOML file.
pub fn to_toml(diags: &mut [Diagnostic]) {
    for d in diags {
        d.message = rewrite(&d.message);
        for l in &mut d.labels {
            l.message = rewrite(&l.message);
        }
        if let Some(h) = &mut d.help {
            *h = rewrite(h);
        }
    }
}

/// `text` with its KDL code spans and words in TOML.
pub fn rewrite(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut parts = text.split('`');
    let mut inside = false;
    let mut first = true;
    while let Some(part) = parts.next() {
        if !first {
            // An unmatched last backtick is kept as written.
            if !inside || parts.clone().next().is_some() || !part.is_empty() {
                out.push('`');
            }
        }
        first = false;
        if inside {
            out.push_str(&snippet(part).unwrap_or_else(|| part.to_owned()));
        } else {
            out.push_str(&part.replace("#true", "true").replace("#false", "false"));
        }
        inside = !inside;
    }
    out
}

/// A KDL snippet in TOML, if it is one.
fn snippet(kdl: &str) -> Option<String> {
    // A single word (a name, a setting named alone) is never a setting with
    // its value: most code spans are that, and they are left unparsed.
    if !kdl.contains([' ', '=', '{']) {
        return None;
    }
    // `name=value`, a property written alone, is a setting.
    let owned;
    let kdl = match kdl.split_once('=') {
        Some((k, v))
            if !k.is_empty()
                && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                && !v.contains(' ') =>
        {
            owned = format!("{k} {v}");
            owned.as_str()
        }
        _ => kdl,
    };
    let doc = crate::syntax::kdl_v2::parse(kdl, Limits::default()).ok()?;
    let parts: Vec<String> = doc.nodes.iter().map(|n| node(n, None)).collect::<Option<_>>()?;
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// One node in TOML, read in `shape` (the top level when `None`).
fn node(n: &Node<'_>, shape: Option<&'static Shape>) -> Option<String> {
    let name = n.name.text.as_ref();
    let declares = !n.children.is_empty() || n.entries.iter().any(|e| e.key.is_some());
    let top = TOP.iter().find(|b| b.name == name && shape.is_none() && declares);
    if let Some(top) = top {
        let fields = fields(n, top.shape)?;
        let header = if top.repeated {
            format!("[[{name}]]")
        } else {
            format!("[{name}]")
        };
        return Some(if fields.is_empty() {
            header
        } else {
            format!("{header} with {}", fields.join(", "))
        });
    }
    if let Some(block) = find_block(name, shape).filter(|_| declares || setting(name, shape).is_none()) {
        let table = if block.shape.open {
            open_table(n)?
        } else {
            format!("{{ {} }}", fields(n, block.shape)?.join(", "))
        };
        return Some(if block.repeated {
            format!("{name} = [{table}]")
        } else {
            format!("{name} = {table}")
        });
    }
    let s = setting(name, shape)?;
    if !n.children.is_empty() {
        return None;
    }
    let values: Vec<&Entry<'_>> = n.entries.iter().collect();
    assign(s, &values)
}

/// The `key = value` fields of a block node: positional arguments named by
/// the shape, properties, and children. Values of a list setting given in
/// several places, and repeated blocks, are gathered into one array, as
/// TOML needs.
fn fields(n: &Node<'_>, shape: &'static Shape) -> Option<Vec<String>> {
    // (key, values, whether an array): in the order first written.
    let mut out: Vec<(&str, Vec<String>, bool)> = Vec::new();
    let mut add = |key: &'static str, values: Vec<String>, array: bool| match out
        .iter_mut()
        .find(|(k, _, a)| *k == key && *a && array)
    {
        Some((_, v, _)) => v.extend(values),
        None => out.push((key, values, array)),
    };
    let args: Vec<&Entry<'_>> = n.entries.iter().filter(|e| e.key.is_none()).collect();
    let named = args.len().min(shape.args.len());
    for (arg, e) in shape.args.iter().zip(&args) {
        let s = shape.setting(arg)?;
        add(s.name, values(&[e])?, s.list);
    }
    if args.len() > named {
        let s = shape.setting(shape.rest?)?;
        add(s.name, values(&args[named..])?, true);
    }
    for e in n.entries.iter().filter(|e| e.key.is_some()) {
        let s = shape.setting(e.key.as_ref()?.text.as_ref())?;
        add(s.name, values(&[e])?, s.list);
    }
    for c in &n.children {
        let name = c.name.text.as_ref();
        if let Some(b) = shape.block(name) {
            let table = if b.shape.open {
                open_table(c)?
            } else {
                format!("{{ {} }}", fields(c, b.shape)?.join(", "))
            };
            add(b.name, vec![table], b.repeated);
        } else {
            let s = shape.setting(name)?;
            if !c.children.is_empty() {
                return None;
            }
            let entries: Vec<&Entry<'_>> = c.entries.iter().collect();
            add(s.name, values(&entries)?, s.list);
        }
    }
    out.into_iter()
        .map(|(k, v, array)| match v.as_slice() {
            [one] if !array => Some(format!("{k} = {one}")),
            _ if !array => None,
            many => Some(format!("{k} = [{}]", many.join(", "))),
        })
        .collect()
}

/// A block whose keys are free (`labels`), as an inline table.
fn open_table(n: &Node<'_>) -> Option<String> {
    let mut out = Vec::new();
    for e in &n.entries {
        out.push(format!(
            "{} = {}",
            key(e.key.as_ref()?.text.as_ref()),
            value(&e.value)?
        ));
    }
    for c in &n.children {
        let [e] = c.entries.as_slice() else { return None };
        out.push(format!("{} = {}", key(c.name.text.as_ref()), value(&e.value)?));
    }
    Some(format!("{{ {} }}", out.join(", ")))
}

/// A TOML key: bare when it can be, quoted otherwise.
fn key(k: &str) -> String {
    if !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        k.to_owned()
    } else {
        value(&Value::String(k.into())).unwrap_or_default()
    }
}

fn values(entries: &[&Entry<'_>]) -> Option<Vec<String>> {
    entries.iter().map(|e| value(&e.value)).collect()
}

/// A whole KDL document in TOML, when every node in it is one the language
/// knows (the tests use it to write the TOML twin of a KDL fixture).
pub fn document(kdl: &str) -> Option<String> {
    let doc = crate::syntax::kdl_v2::parse(kdl, Limits::default()).ok()?;
    let mut out = String::new();
    for n in &doc.nodes {
        let top = TOP.iter().find(|b| b.name == n.name.text)?;
        if !out.is_empty() {
            out.push('\n');
        }
        if top.repeated {
            out.push_str(&format!("[[{}]]\n", top.name));
        } else {
            out.push_str(&format!("[{}]\n", top.name));
        }
        for f in fields(n, top.shape)? {
            out.push_str(&f);
            out.push('\n');
        }
    }
    Some(out)
}

/// `name = value`, or `name = [values]` for a list setting.
fn assign(s: &Setting, values: &[&Entry<'_>]) -> Option<String> {
    let rendered: Vec<String> = values.iter().map(|e| value(&e.value)).collect::<Option<_>>()?;
    match rendered.as_slice() {
        [] => None,
        [one] if !s.list => Some(format!("{} = {one}", s.name)),
        _ if !s.list => None,
        many => Some(format!("{} = [{}]", s.name, many.join(", "))),
    }
}

fn value(v: &Value<'_>) -> Option<String> {
    Some(match v {
        Value::String(s) => {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    c if c.is_control() => return None,
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => return None,
    })
}

/// Every shape of the language, the top-level ones first.
fn shapes() -> &'static [&'static Shape] {
    static SHAPES: std::sync::OnceLock<Vec<&'static Shape>> = std::sync::OnceLock::new();
    SHAPES.get_or_init(all_shapes)
}

fn all_shapes() -> Vec<&'static Shape> {
    let mut out: Vec<&'static Shape> = Vec::new();
    let mut stack: Vec<&'static Shape> = TOP.iter().map(|b| b.shape).collect();
    stack.reverse();
    while let Some(s) = stack.pop() {
        if out.iter().any(|o| std::ptr::eq(*o, s)) {
            continue;
        }
        out.push(s);
        stack.extend(s.blocks.iter().rev().map(|b| b.shape));
    }
    out
}

/// Setting `name` of `shape`, or of any shape when the snippet has none.
fn setting(name: &str, shape: Option<&'static Shape>) -> Option<&'static Setting> {
    match shape {
        Some(s) => s.setting(name),
        None => shapes().iter().find_map(|s| s.setting(name)),
    }
}

/// Child block `name` of `shape`, or of any shape when the snippet has none.
fn find_block(name: &str, shape: Option<&'static Shape>) -> Option<&'static Block> {
    match shape {
        Some(s) => s.block(name),
        None => shapes().iter().find_map(|s| s.block(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn kdl_snippets_become_toml() {
        assert_eq!(
            rewrite("add `control-plane #true` to the cluster"),
            "add `control-plane = true` to the cluster"
        );
        assert_eq!(
            rewrite("add `calls details` to its callers"),
            "add `calls = [\"details\"]` to its callers"
        );
        assert_eq!(rewrite("or add `protocol=tcp`"), "or add `protocol = \"tcp\"`");
        assert_eq!(rewrite("`ssh \"user@host:2222\"`"), "`ssh = \"user@host:2222\"`");
        assert_eq!(
            rewrite("`deploy v1 cluster=NAME`"),
            "`deploy = [{ version = [\"v1\"], cluster = \"NAME\" }]`"
        );
        assert_eq!(
            rewrite("declare it: `cluster NAME { network NET; control-plane #true }`"),
            "declare it: `[[cluster]] with name = \"NAME\", network = \"NET\", control-plane = true`"
        );
        assert_eq!(
            rewrite("add `mesh NAME { istio \"1.24\" }` at the top"),
            "add `[mesh] with name = \"NAME\", istio = \"1.24\"` at the top"
        );
        // Prose, names, commands and ports stay as they are.
        assert_eq!(
            rewrite("a boolean (#true or #false), see `kubectl get svc` for `details` and `target-port`"),
            "a boolean (true or false), see `kubectl get svc` for `details` and `target-port`"
        );
        assert_eq!(rewrite("odd ` backtick"), "odd ` backtick");
    }
}
