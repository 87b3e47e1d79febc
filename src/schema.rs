//! The topology format's published contract, generated from the language
//! tables in `lower::language`:
//! - a JSON Schema (draft 2020-12) of the TOML form, for editors;
//! - a Markdown reference of the KDL form, every node and setting with its
//!   meaning.
//!
//! Both are committed under `schema/`; a test regenerates them and fails
//! when the committed copies are stale (`MESHC_UPDATE_SCHEMA=1 cargo test`
//! rewrites them).

use serde_json::{Map, Value, json};

use crate::lower::language::{Block, FlowOnly, Setting, Shape, TOP, Ty};
use crate::model::Flow;

fn value_schema(ty: Ty) -> Value {
    match ty {
        Ty::Name | Ty::Text => json!({ "type": "string" }),
        Ty::Version => json!({ "type": "string", "pattern": "^[0-9]+\\.[0-9]+(\\.[0-9]+)?$" }),
        Ty::Bool => json!({ "type": "boolean" }),
        Ty::Port => json!({ "type": "integer", "minimum": 1, "maximum": 65535 }),
        Ty::Integer(min, max) => json!({ "type": "integer", "minimum": min, "maximum": max }),
        Ty::Ip => json!({ "type": "string", "description": "IPv4 or IPv6 address" }),
        Ty::Cidr => json!({ "type": "string", "description": "CIDR: address/prefix" }),
        Ty::Choice(words) => {
            let words: Vec<&str> = words.iter().map(|w| w.word).collect();
            json!({ "type": "string", "enum": words })
        }
    }
}

/// A table default (written as in KDL) as a JSON value of the setting's
/// type.
fn default_value(ty: Ty, d: &str) -> Value {
    match (ty, d) {
        (Ty::Bool, "#true") => Value::Bool(true),
        (Ty::Bool, "#false") => Value::Bool(false),
        (Ty::Port | Ty::Integer(..), _) => d.parse::<i64>().map_or_else(|_| json!(d), |n| json!(n)),
        _ => json!(d),
    }
}

fn setting_schema(s: &Setting) -> Value {
    let one = value_schema(s.ty);
    let mut v = if s.list {
        // TOML accepts one value or an array of them.
        json!({ "anyOf": [one, { "type": "array", "items": one }] })
    } else {
        one
    };
    if let Value::Object(m) = &mut v {
        m.insert("description".into(), Value::String(s.doc.into()));
        if let Some(d) = s.default {
            m.insert("default".into(), default_value(s.ty, d));
        }
    }
    v
}

fn shape_schema(shape: &Shape) -> Value {
    if shape.open {
        return json!({
            "type": "object",
            "description": shape.doc,
            "additionalProperties": { "type": "string" },
        });
    }
    let mut props = Map::new();
    let mut required = Vec::new();
    for s in shape.settings {
        props.insert(s.name.into(), setting_schema(s));
        if s.required {
            required.push(Value::String(s.name.into()));
        }
    }
    for b in shape.blocks {
        props.insert(b.name.into(), block_schema(b));
    }
    json!({
        "type": "object",
        "description": shape.doc,
        "properties": props,
        "required": required,
        "additionalProperties": false,
    })
}

fn block_schema(b: &Block) -> Value {
    let one = shape_schema(b.shape);
    if b.repeated {
        json!({ "type": "array", "items": one })
    } else {
        one
    }
}

/// The JSON Schema of the TOML form, pretty-printed, with a final newline.
pub fn json_schema() -> String {
    let mut props = Map::new();
    for b in TOP {
        props.insert(b.name.into(), block_schema(b));
    }
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "meshc topology",
        "description": "A mesh topology for meshc, in its TOML form. Generated from meshc's language tables; do not edit.",
        "type": "object",
        "properties": props,
        "required": ["mesh"],
        "additionalProperties": false,
    });
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

/// How the reference marks what only one Istio flow has.
fn flow_text(f: FlowOnly) -> &'static str {
    match f.flow {
        Flow::Legacy => "legacy flow only",
        Flow::Modern => "Istio 1.8+ only",
    }
}

pub(crate) fn ty_text(ty: Ty) -> String {
    match ty {
        Ty::Name => "name".into(),
        Ty::Text => "string".into(),
        Ty::Version => "version string".into(),
        Ty::Bool => "#true / #false".into(),
        Ty::Port => "port (1–65535)".into(),
        Ty::Integer(a, b) => format!("integer ({a}–{b})"),
        Ty::Ip => "IP address string".into(),
        Ty::Cidr => "CIDR string".into(),
        Ty::Choice(w) => w
            .iter()
            .map(|w| match w.flow {
                Some(f) => format!("`{}` ({})", w.word, flow_text(f)),
                None => format!("`{}`", w.word),
            })
            .collect::<Vec<_>>()
            .join(" \\| "),
    }
}

fn reference_shape(out: &mut String, shape: &Shape, path: &str) {
    out.push_str(&format!("\n## `{path}`\n\n{}\n\n", shape.doc));
    if shape.open {
        out.push_str("Any key, each with one string value.\n");
        return;
    }
    let mut usage = shape.what.to_owned();
    for a in shape.args {
        usage.push_str(&format!(" {}", a.to_uppercase()));
    }
    if let Some(rest) = shape.rest {
        usage.push_str(&format!(" {}…", rest.to_uppercase()));
    }
    if shape.args.is_empty() && shape.rest.is_none() && !shape.settings.is_empty() {
        usage.push_str(" key=value…");
    }
    out.push_str(&format!(
        "Usage: `{usage}`\n\n| setting | type | | meaning |\n|---|---|---|---|\n"
    ));
    for s in shape.settings {
        let mut flags = Vec::new();
        if s.required {
            flags.push("required".to_owned());
        }
        if s.list {
            flags.push("list".to_owned());
        }
        if let Some(f) = s.flow {
            flags.push(flow_text(f).to_owned());
        }
        if let Some(d) = s.default {
            flags.push(format!("default `{d}`"));
        }
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            s.name,
            ty_text(s.ty),
            flags.join(", "),
            s.doc
        ));
    }
    for b in shape.blocks {
        let many = if b.repeated { " (repeatable)" } else { "" };
        let only = b.flow.map_or(" ".to_owned(), |f| format!(" {} ", flow_text(f)));
        out.push_str(&format!(
            "| `{} {{ … }}` | block{many} |{only}| see `{path} > {}` |\n",
            b.name, b.name
        ));
    }
    for b in shape.blocks {
        reference_shape(out, b.shape, &format!("{path} > {}", b.name));
    }
}

/// The Markdown reference of the KDL form.
pub fn kdl_reference() -> String {
    let mut out = String::from(
        "# The meshc topology language (KDL form)\n\n\
         Generated from meshc's language tables by `MESHC_UPDATE_SCHEMA=1 cargo test`; do not edit.\n\n\
         A topology is a KDL v2 document. Every setting can be written as a property (`network=vpc`) \
         or as a child node (`network vpc`); list settings take several values (`calls a b`) and may be repeated. \
         Strings that start with a digit (addresses, CIDRs, versions) must be quoted. \
         The TOML form has the same schema: see `topology.schema.json`.\n",
    );
    for b in TOP {
        reference_shape(&mut out, b.shape, b.name);
    }
    out
}
