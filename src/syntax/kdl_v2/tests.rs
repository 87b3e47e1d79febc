//! Unit tests of the KDL v2 parser: spans, messages, recovery and limits.
//! Conformance (the official KDL test suite, and agreement with the `kdl`
//! crate) is tested in `tests/kdl_differential.rs`.

use super::*;
use crate::source::Span;
use crate::syntax::Value;

fn ok(text: &str) -> Document<'_> {
    match parse(text, Limits::default()) {
        Ok(doc) => doc,
        Err(errors) => panic!("{text:?}: {errors:?}"),
    }
}

fn errors(text: &str) -> Vec<ParseError> {
    match parse(text, Limits::default()) {
        Ok(doc) => panic!("{text:?} parsed: {doc:?}"),
        Err(errors) => errors,
    }
}

fn at(text: &str, span: Span) -> &str {
    &text[span.start..span.end]
}

#[test]
fn spans_are_the_kdl_front_ends() {
    let text = "(t)node 1 key = (u8)2 /* c */ ;\nnext";
    let doc = ok(text);
    let node = &doc.nodes[0];
    // A node runs from its type annotation to its terminator, trailing
    // space and comments included.
    assert_eq!(at(text, node.span), "(t)node 1 key = (u8)2 /* c */ ");
    assert_eq!(at(text, node.name.span), "node");
    assert_eq!(at(text, node.entries[0].span), "1");
    let prop = &node.entries[1];
    assert_eq!(at(text, prop.key.as_ref().unwrap().span), "key");
    // A property's span is its value alone, type annotation included.
    assert_eq!(at(text, prop.span), "(u8)2");
    assert_eq!(prop.value, Value::Integer(2));
    assert_eq!(at(text, doc.nodes[1].span), "next");
}

#[test]
fn children_and_slashdashes() {
    let text = "a /-b c { d; /-e\n f { g } } /-{ h }\n/-i { j }\nk";
    let doc = ok(text);
    let names: Vec<&str> = doc.nodes.iter().map(|n| n.name.text.as_ref()).collect();
    assert_eq!(names, ["a", "k"]);
    let a = &doc.nodes[0];
    assert_eq!(a.entries.len(), 1);
    assert_eq!(a.children.len(), 2);
    assert_eq!(a.children[1].children[0].name.text, "g");
    assert_eq!(at(text, a.span), "a /-b c { d; /-e\n f { g } } /-{ h }");
}

#[test]
fn values() {
    let doc = ok(concat!(
        "n 1_000 -0x1F 0o17 +0b101 1.5e3 -2.5E-1 #true #false #null #inf #-inf #nan -inf ",
        "\"a\\tb\\u{e9}\\s\" #\"C:\\x\"# ##\"a\"#b\"## bare é"
    ));
    let values: Vec<&Value> = doc.nodes[0].entries.iter().map(|e| &e.value).collect();
    assert_eq!(
        values[..6],
        [
            &Value::Integer(1000),
            &Value::Integer(-31),
            &Value::Integer(15),
            &Value::Integer(5),
            &Value::Float(1500.0),
            &Value::Float(-0.25)
        ]
    );
    assert_eq!(
        values[6..9],
        [&Value::Bool(true), &Value::Bool(false), &Value::Null]
    );
    assert!(matches!(values[9], Value::Float(f) if *f == f64::INFINITY));
    assert!(matches!(values[10], Value::Float(f) if *f == f64::NEG_INFINITY));
    assert!(matches!(values[11], Value::Float(f) if f.is_nan()));
    let strings: Vec<&str> = values[12..]
        .iter()
        .map(|v| match v {
            Value::String(s) => s.as_ref(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(strings, ["-inf", "a\tbé ", "C:\\x", "a\"#b", "bare", "é"]);
}

#[test]
fn integers_are_i128_and_overflow_is_an_error() {
    let max = "n 170141183460469231731687303715884105727";
    assert_eq!(ok(max).nodes[0].entries[0].value, Value::Integer(i128::MAX));
    let e = errors("n 170141183460469231731687303715884105728");
    assert!(e[0].message.contains("does not fit"), "{e:?}");
    assert_eq!(e[0].span, Span::new(2, 41));
}

#[test]
fn multi_line_strings_are_dedented() {
    let doc =
        ok("n \"\"\"\n        foo\n    This\n\n      bar \\\n  baz\n    \"\"\" #\"\"\"\n  a\\n\n  \"\"\"#");
    assert_eq!(
        doc.nodes[0].entries[0].value,
        Value::String("    foo\nThis\n\n  bar baz".into())
    );
    assert_eq!(doc.nodes[0].entries[1].value, Value::String("a\\n".into()));
    let e = errors("n \"\"\"\n  a\n b\n  \"\"\"");
    assert!(e[0].message.contains("not indented"), "{e:?}");
    assert_eq!(e[0].span, Span::new(10, 10));
}

#[test]
fn a_byte_order_mark_is_allowed_only_first() {
    assert_eq!(ok("\u{feff}a").nodes[0].name.span, Span::new(3, 4));
    let e = errors("a \u{feff}");
    assert!(e[0].message.contains("byte-order mark"), "{e:?}");
}

#[test]
fn messages_point_at_the_problem() {
    let cases: &[(&str, &str, &str)] = &[
        ("a \"open\nb", "unclosed string", "\""),
        ("a {\n  b\n", "unclosed `{`", "{"),
        ("a /* x", "unclosed comment", "/*"),
        ("a 1.2.3.4x", "is not a number", "1.2.3.4x"),
        ("a .5", "is not a number", ".5"),
        ("a true", "keyword", "true"),
        ("a #yes", "not a KDL keyword", "#yes"),
        ("a \"\\q\"", "invalid escape", "\\q"),
        ("a \"\\u{D800}\"", "not a Unicode scalar value", "\\u{D800}"),
        ("a \"x\"\"y\"", "unexpected `\"`", "\"y\""),
        ("a x=", "expected a value after `x=`", "x="),
        ("a k=/-1", "cannot be commented out", "/-1"),
        ("a (t)k=1", "property key cannot have a type", "(t)k"),
        ("a ()x", "empty type annotation", "()"),
        ("a {} b", "before the children block", "b"),
        ("a {} {}", "at most one children block", "{"),
        ("}", "unexpected `}`", "}"),
        ("a;;", "unexpected `;`", ";"),
        ("/-", "comments out nothing", "/-"),
        ("a\n/-;\nb", "comments out nothing", "/-"),
        ("a \\ b", "line continuation", "\\"),
        ("a \u{1}", "control character", "\u{1}"),
        ("n \"\"\"x\n\"\"\"", "must start with a newline", "\"\"\""),
        ("n \"\"\"\n  x\"\"\"", "on their own line", "\"\"\""),
        ("1 a", "node name must be a string", "1"),
        ("a=1", "unexpected `=`", "="),
        ("a \\x", "line continuation", "\\"),
        (
            "a {\n/-{ x }\n}",
            "expected a node name, found a children block",
            "{",
        ),
    ];
    for (text, message, span) in cases {
        let e = errors(text);
        assert!(e[0].message.contains(message), "{text:?}: {e:?}");
        assert_eq!(at(text, e[0].span), *span, "{text:?}: {e:?}");
        assert!(e[0].help.is_some(), "{text:?}: {e:?}");
    }
}

#[test]
fn several_errors_in_one_run() {
    let text = "a 1.2.3x\nb #bad\nc \"\\q\"\nd (x\ne\n";
    let e = errors(text);
    let spans: Vec<&str> = e.iter().map(|e| at(text, e.span)).collect();
    assert_eq!(spans, ["1.2.3x", "#bad", "\\q", "(x"]);
}

#[test]
fn unquoted_addresses_keep_the_tree() {
    let text = "vm db { address 10.0.1.5; net cidr=10.0.0.0/8 }\nvm x 2001:db8::1";
    let (doc, errors) = parse_recovering(text, Limits::default());
    let doc = doc.expect("addresses are recoverable");
    assert_eq!(errors.len(), 3);
    assert!(errors.iter().all(|e| e.kind == ErrorKind::UnquotedAddress));
    assert_eq!(errors[0].message, "`10.0.1.5` is not a number: quote it");
    let address = &doc.nodes[0].children[0].entries[0];
    assert_eq!(address.value, Value::String("10.0.1.5".into()));
    assert_eq!(at(text, address.span), "10.0.1.5");
    assert_eq!(at(text, doc.nodes[0].children[1].entries[0].span), "10.0.0.0/8");
    // `parse` accepts no error at all.
    assert_eq!(parse(text, Limits::default()).unwrap_err().len(), 3);
    // Another kind of error drops the tree.
    let (doc, _) = parse_recovering("a 10.0.0.1 #bad", Limits::default());
    assert!(doc.is_none());
}

#[test]
fn limits_stop_parsing_without_deep_recursion() {
    let deep = "a {".repeat(100_000);
    let e = errors(&deep);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].kind, ErrorKind::Limit);
    assert_eq!(e[0].span, Span::new(64 * 3 + 2, 64 * 3 + 3));

    let limits = Limits {
        max_depth: 64,
        max_nodes: 3,
    };
    assert!(parse("a; b { c }", limits).is_ok());
    let e = parse("a; b { c }; /-d; e", limits).unwrap_err();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].kind, ErrorKind::Limit);
}

#[test]
fn garbage_is_cut_short() {
    let e = errors(&"[ ".repeat(10_000));
    assert!(e.len() <= 100);
}

/// Every prefix of a document that uses every construct: whatever is cut
/// off, the parser answers (a tree, or at least one error) and never
/// panics.
#[test]
fn every_prefix_parses_or_fails_cleanly() {
    let text = concat!(
        "\u{feff}(t)node 1 -2.5e3 0xf_f #true key=\"v\\u{e9}\\n\" /-x=1 (u8)3 \\ // c\n",
        "  #\"raw\"# \"\"\"\n    multi \\\n    line\n    \"\"\" { child /* /* */ */ 10.0.0.1 /-{ } }\n",
        "é\u{3000}\u{2028}last ##\"\"\"\n  r\n  \"\"\"## ;"
    );
    for (i, _) in text.char_indices() {
        let (doc, errors) = parse_recovering(&text[..i], Limits::default());
        assert!(doc.is_some() || !errors.is_empty(), "{:?}", &text[..i]);
    }
    assert_eq!(parse_recovering(text, Limits::default()).1.len(), 1);
}
