//! The fast block-YAML reader (`import::yaml_block`) against granit's
//! (`import::yaml::load_granit`): on every YAML file the project has and on
//! random block YAML of hostile scalars, the fast reader gives exactly
//! granit's nodes (values, styles, spans) and findings, or gives up.

use std::path::{Path, PathBuf};

use meshc::import::yaml::{Node, Value, load_granit};
use meshc::import::yaml_block;
use meshc::source::Source;
use meshc::syntax::{Limits, Syntax};
use proptest::prelude::*;

/// The first place two node trees differ, as a path and both sides.
fn difference(a: &Node, b: &Node, at: &str) -> Option<String> {
    if a.span != b.span {
        return Some(format!("{at}: span {:?} against {:?}", a.span, b.span));
    }
    match (&a.value, &b.value) {
        (Value::Scalar { .. }, _) | (_, Value::Scalar { .. }) => {
            (a.value != b.value).then(|| format!("{at}: {:?} against {:?}", a.value, b.value))
        }
        (Value::Seq(x), Value::Seq(y)) => {
            if x.len() != y.len() {
                return Some(format!("{at}: {} items against {}", x.len(), y.len()));
            }
            x.iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (p, q))| difference(p, q, &format!("{at}[{i}]")))
        }
        (Value::Map(x), Value::Map(y)) => {
            if x.len() != y.len() {
                return Some(format!("{at}: {} entries against {}", x.len(), y.len()));
            }
            x.iter().zip(y).find_map(|((k, p), (l, q))| {
                if k != l {
                    return Some(format!("{at}: key {k:?} against {l:?}"));
                }
                difference(p, q, &format!("{at}.{}", k.text))
            })
        }
        _ => Some(format!("{at}: {:?} against {:?}", a.value, b.value)),
    }
}

/// Reads `text` with both readers: `Ok(true)` when the fast one read it
/// and agrees, `Ok(false)` when it gave up, `Err` on any disagreement.
fn compare(text: &str) -> Result<bool, String> {
    let base = 17;
    let Some((fast, fast_diags)) = yaml_block::load(text, base) else {
        return Ok(false);
    };
    let mut diags = Vec::new();
    let granit = load_granit(text, base, &mut diags);
    if format!("{fast_diags:?}") != format!("{diags:?}") {
        return Err(format!("findings: {fast_diags:?}\nagainst granit's {diags:?}"));
    }
    if fast.len() != granit.len() {
        return Err(format!(
            "{} documents against granit's {}",
            fast.len(),
            granit.len()
        ));
    }
    for (i, (a, b)) in fast.iter().zip(&granit).enumerate() {
        if let Some(d) = difference(a, b, &format!("document {i}")) {
            return Err(format!("{d} (fast against granit)"));
        }
    }
    Ok(true)
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn is_yaml(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json")
}

/// meshc's YAML output for every example, every topology of tests/ok and
/// two synthetic meshes: (name, text).
fn own_outputs() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut topologies = Vec::new();
    for ex in ["bookinfo-vm", "bookinfo-legacy", "multicluster"] {
        topologies.push(root.join("examples").join(ex).join("topology.kdl"));
    }
    files_under(&root.join("tests/ok"), &mut topologies);
    let mut sources: Vec<(Source, Syntax)> = topologies
        .iter()
        .map(|p| {
            let syntax = if p.extension().is_some_and(|e| e == "toml") {
                Syntax::Toml
            } else {
                Syntax::Kdl
            };
            (
                Source::new(p.display().to_string(), std::fs::read_to_string(p).unwrap()),
                syntax,
            )
        })
        .collect();
    for (services, vms, clusters) in [(300, 60, 4), (120, 20, 2)] {
        let text = meshc::synth::generate(&meshc::synth::Params::new(services, vms, clusters)).unwrap();
        sources.push((Source::new(format!("synth-{services}"), text), Syntax::Kdl));
    }
    let mut out = Vec::new();
    for (source, syntax) in sources {
        let (artifacts, diags) = meshc::compile(&source, syntax, Limits::default(), "topology.kdl");
        let artifacts = artifacts.unwrap_or_else(|| panic!("{} does not build: {diags:?}", source.name));
        for a in artifacts {
            if is_yaml(&a.path) {
                out.push((format!("{}: {}", source.name, a.path), a.contents));
            }
        }
    }
    out
}

#[test]
fn every_yaml_file_of_the_project_reads_alike() {
    let own = own_outputs();
    let mut problems = Vec::new();
    for (name, text) in &own {
        match compare(text) {
            Ok(true) => {}
            // meshc's own output is block YAML: the fast reader must take
            // all of it, or the import is slow again.
            Ok(false) => problems.push(format!("{name}: the fast reader gave up on meshc's own output")),
            Err(e) => problems.push(format!("{name}: {e}")),
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut others = Vec::new();
    files_under(&root.join("tests/import"), &mut others);
    if let Some(reference) = crate::support::reference_dir() {
        files_under(&reference.join("istio"), &mut others);
    }
    others.sort();
    let (mut fast, mut given_up) = (0, 0);
    for path in &others {
        let name = path.display().to_string();
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        if !is_yaml(&name) || text.len() > meshc::import::yaml::MAX_INPUT {
            continue;
        }
        match compare(&text) {
            Ok(true) => fast += 1,
            Ok(false) => given_up += 1,
            Err(e) => problems.push(format!("{name}: {e}")),
        }
    }
    println!(
        "{} own files read fast; other files: {fast} read fast, {given_up} given to granit",
        own.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(own.len() > 1000 && fast > 10, "too few files compared");
}

/// The fast reader's edge cases, each against granit (spans included),
/// and the shapes it must read itself.
#[test]
fn edge_cases_read_alike() {
    let taken = [
        "a: 1\n",
        "# c\napiVersion: v1\nkind: List\nitems:\n- a: 1\n  b: [x]\n",
        "a:\n  b:\n  c: 2\nd:\n",
        "a:   # c\n  - x\n  -   y  # c\n  - k: v\n    l: w\nb: ''\n",
        "a:\n- x\n- y\nb:\n- k: v\n  m:\n  - n\n",
        "---\na: \"\\t\\x41\\u00e9\\U0001F600\\\\ \\\" \\/ \\N\\_\\L\\P\\0\\a\\b\\v\\f\\r\\e\\ \"\n---\nb: 'it''s'\n",
        "a: b#c d\nc: -1\ne: x:y\nf: x,y[z]{w}\ng: ~\nh: a  b\n",
        "- a\n- b: c\n  d: e\n-    f: g\n     h: i\n",
        "a: 1\na: 2\nb:\n  c: 1\n  c:\n  c: 3\n",
        "a: é ünïcödé 😀\n'b': 1\n",
        "a:\n\n  # c\n\n  b: 1\n\n# end\n",
        "k: \"\"\n'q': x\n",
    ];
    let wrong: Vec<String> = taken
        .iter()
        .filter_map(|text| compare(text).err().map(|e| format!("{text:?}: {e}")))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // These must be read by the fast reader itself.
    for text in [
        taken[0], taken[2], taken[3], taken[4], taken[5], taken[6], taken[7], taken[8], taken[10],
    ] {
        assert_eq!(compare(text), Ok(true), "{text:?}");
    }
    // And these handed to granit.
    for text in [
        "a: [1, 2]\n",
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "a: |\n  x\n",
        "a: x\n  y\n",
        "a:\tb\n",
        "a: b\r\n",
        "\u{feff}a: b\n",
        "%YAML 1.2\n---\na: b\n",
        "a: b\n...\n",
        "a: b\n---\n",
        "---\n---\na: b\n",
        "\"a\": b\n",
        "a : b\n",
        "? a\n: b\n",
        "- - a\n",
        "-\n  a: b\n",
        "a: \"x\n  y\"\n",
        "a: 'x\n  y'\n",
        "a: \"\\q\"\n",
        "a: \"\\ud800\"\n",
        "plain\n",
        "",
        "# only a comment\n",
        "a: b: c\n",
        "a: \"x\"y\n",
        "a: 'x'#c\n",
        "a:\n  - x\n  b: c\n",
        "a: 1\n- b\n",
        "a: x\u{85}y\n",
    ] {
        assert_eq!(compare(text), Ok(false), "{text:?}");
    }
}

/// A scalar as a hostile writer might write it: what YAML 1.1 and 1.2
/// read as other types, indicators, quotes, escapes, `#` and `: `, unicode.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z][a-z0-9.-]{0,12}",
        2 => prop::sample::select(vec![
            "on", "off", "yes", "No", "y", "n", "true", "False", "null", "~", "Null", "0755", "0x1F", "1e3",
            "-1", ".inf", "-.INF", ".nan", "12:30", "1.10", "2026-12-06", "", " ", "-", "--", "---", "...",
            "a: b", "a #b", "#x", "a#b", "x:", ":x", "- x", "-x", "?x", "? x", "'", "''", "\"", "\\", "\\n",
            "[a]", "{a: b}", "a,b", "*x", "&x", "!x", "|", ">", "%x", "@x", "`x",
        ])
        .prop_map(str::to_owned),
        3 => "[a-zA-Z0-9 #:'\"\\\\,\\[\\]{}&*!|>%@`?~./_-]{0,14}",
        // Long enough for the plain reader's block search (`memchr2`) to
        // pass runs of bytes, with the `:`, ` ` and `#` that end a scalar.
        2 => "[a-z0-9 #:./-]{16,80}",
        1 => "[\u{e9}\u{430}\u{202e}\u{ff11}\u{1F600}\u{a0}\u{2028}\u{85}\u{7f}\u{feff}a-z ]{0,8}",
        1 => any::<String>(),
    ]
}

/// One scalar written in a style the generator picks: raw (plain, maybe
/// not valid), single-quoted or double-quoted with escapes.
fn written(s: &str, style: u8) -> String {
    match style % 3 {
        0 => s.to_owned(),
        1 => format!("'{}'", s.replace('\'', "''")),
        _ => {
            let mut out = String::from("\"");
            for (i, c) in s.chars().enumerate() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
                    c if ('\u{80}'..='\u{9f}').contains(&c)
                        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}') =>
                    {
                        out.push_str(&format!("\\u{:04x}", c as u32))
                    }
                    c if !c.is_ascii() && i.is_multiple_of(2) => {
                        out.push_str(&format!("\\u{:04x}", c as u32))
                    }
                    '/' if i.is_multiple_of(3) => out.push_str("\\/"),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
    }
}

#[derive(Clone, Debug)]
enum Tree {
    Scalar(String, u8),
    Null,
    Seq(Vec<Tree>),
    Map(Vec<(String, Tree)>),
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z][a-zA-Z0-9./_-]{0,10}",
        1 => prop::sample::select(vec!["on", "y", "a", "b", "kind", "0", "-x", "a#b", "x:y", "é"]).prop_map(str::to_owned),
        1 => "[a-zA-Z0-9 #:'\"\\[\\]{}&*!|>%@`?~./_-]{1,8}",
    ]
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = prop_oneof![
        6 => (scalar(), any::<u8>()).prop_map(|(s, style)| Tree::Scalar(s, style)),
        1 => Just(Tree::Null),
    ];
    leaf.prop_recursive(5, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..5).prop_map(Tree::Seq),
            prop::collection::vec((key(), inner), 1..5).prop_map(Tree::Map),
        ]
    })
}

/// How a tree is laid out: sequences indented under their key or not,
/// comments and blank lines between entries.
#[derive(Clone, Copy, Debug)]
struct Layout {
    indentless: bool,
    comments: bool,
    indent: usize,
}

fn comment(out: &mut String, layout: Layout, depth: usize, seed: usize) {
    if layout.comments && seed.is_multiple_of(3) {
        out.push_str(&" ".repeat(depth * 3 % 7));
        out.push_str("# a comment: with 'quotes' and - dashes\n");
    }
    if layout.comments && seed.is_multiple_of(5) {
        out.push('\n');
    }
}

/// Writes `tree` as the value of a key or item whose line is at `col`.
fn render(tree: &Tree, col: usize, layout: Layout, out: &mut String, in_item: bool) {
    match tree {
        Tree::Scalar(s, style) => {
            out.push(' ');
            out.push_str(&written(s, *style));
            if style.is_multiple_of(7) {
                out.push_str("  # trailing");
            }
            out.push('\n');
        }
        Tree::Null => out.push('\n'),
        Tree::Seq(items) => {
            out.push('\n');
            let c = if layout.indentless && !in_item {
                col
            } else {
                col + layout.indent
            };
            for (i, item) in items.iter().enumerate() {
                comment(out, layout, c, i);
                out.push_str(&" ".repeat(c));
                out.push('-');
                render_item(item, c, layout, out);
            }
        }
        Tree::Map(entries) => {
            out.push('\n');
            map(entries, col + layout.indent, layout, out, None);
        }
    }
}

/// A sequence item after its `-` at `col`.
fn render_item(tree: &Tree, col: usize, layout: Layout, out: &mut String) {
    match tree {
        Tree::Map(entries) => {
            out.push(' ');
            map(entries, col + 2, layout, out, Some(()));
        }
        other => render(other, col, layout, out, true),
    }
}

/// A mapping at `col`; `first_inline` when its first key follows a `- `.
fn map(entries: &[(String, Tree)], col: usize, layout: Layout, out: &mut String, first_inline: Option<()>) {
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 || first_inline.is_none() {
            if i > 0 {
                comment(out, layout, col, i);
            }
            out.push_str(&" ".repeat(col));
        }
        out.push_str(k);
        out.push(':');
        render(v, col, layout, out, false);
    }
}

fn document(tree: &Tree, layout: Layout) -> String {
    let mut out = String::new();
    match tree {
        Tree::Map(entries) => map(entries, 0, layout, &mut out, None),
        Tree::Seq(_) => {
            let mut s = String::new();
            render(
                tree,
                0,
                Layout {
                    indentless: true,
                    ..layout
                },
                &mut s,
                false,
            );
            out.push_str(s.trim_start_matches('\n'));
        }
        leaf => map(&[("root".to_owned(), leaf.clone())], 0, layout, &mut out, None),
    }
    out
}

/// Every scalar in a form the fast reader must take: plain keys of a
/// safe alphabet, double-quoted values with escapes.
fn tamed(tree: &Tree) -> Tree {
    match tree {
        Tree::Scalar(s, _) => Tree::Scalar(s.clone(), 2),
        Tree::Null => Tree::Null,
        // `-` alone on its line is granit's: an item is a scalar or a map.
        Tree::Seq(items) => Tree::Seq(
            items
                .iter()
                .map(|item| match item {
                    Tree::Null => Tree::Scalar(String::new(), 2),
                    Tree::Seq(_) => Tree::Map(vec![("nested".to_owned(), tamed(item))]),
                    other => tamed(other),
                })
                .collect(),
        ),
        Tree::Map(entries) => Tree::Map(
            entries
                .iter()
                .enumerate()
                .map(|(i, (_, v))| (format!("k{i}.x/y-z"), tamed(v)))
                .collect(),
        ),
    }
}

fn layout() -> impl Strategy<Value = Layout> {
    (any::<bool>(), any::<bool>(), 1usize..4).prop_map(|(indentless, comments, indent)| Layout {
        indentless,
        comments,
        indent: if indentless { indent.max(2) } else { indent },
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Random block YAML of hostile scalars: the fast reader agrees with
    /// granit or gives up; written tame, it never gives up.
    #[test]
    fn random_block_yaml_reads_alike(docs in prop::collection::vec(tree(), 1..4), layout in layout()) {
        let wild: Vec<String> = docs.iter().map(|t| document(t, layout)).collect();
        let wild = wild.join("---\n");
        if let Err(e) = compare(&wild) {
            return Err(TestCaseError::fail(format!("{wild:?}: {e}")));
        }
        let tame: Vec<String> = docs.iter().map(|t| document(&tamed(t), layout)).collect();
        let tame = format!("# header\n{}", tame.join("---\n"));
        match compare(&tame) {
            Ok(true) => {}
            Ok(false) => return Err(TestCaseError::fail(format!("{tame:?}: the fast reader gave up"))),
            Err(e) => return Err(TestCaseError::fail(format!("{tame:?}: {e}"))),
        }
    }
}
