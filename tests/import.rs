//! `meshc import`: the round trip `build(import(build(T))) == build(T)`
//! over the examples, the topologies in tests/ok and a synthetic mesh; the
//! reading layer on hostile YAML; conflicts and unexpressed fields.

use std::collections::BTreeMap;
use std::path::Path;

use meshc::import::import;
use meshc::source::Source;
use meshc::syntax::{Limits, Syntax};

/// build(T): every artifact by path.
fn build(source: &Source, syntax: Syntax) -> BTreeMap<String, String> {
    let (artifacts, diags) = meshc::compile(source, syntax, Limits::default(), "topology.kdl");
    let artifacts = artifacts.unwrap_or_else(|| panic!("{} does not build: {diags:?}", source.name));
    artifacts.into_iter().map(|a| (a.path, a.contents)).collect()
}

/// The artifacts as the files an import reads.
fn as_inputs(files: &BTreeMap<String, String>) -> Vec<Source> {
    files
        .iter()
        .map(|(p, c)| Source::new(format!("out/{p}"), c.clone()))
        .collect()
}

/// build(import(build(T))) against build(T): the paths that differ, each
/// with its first differing line.
fn round_trip(source: &Source, syntax: Syntax) -> Result<(), String> {
    let first = build(source, syntax);
    let imported = import(&as_inputs(&first));
    let errors: Vec<_> = imported.diagnostics.iter().filter(|d| d.is_error()).collect();
    if !errors.is_empty() {
        return Err(format!("import errors: {errors:?}"));
    }
    let (checked, diags) = meshc::check::check(imported.topology);
    let Some(checked) = checked else {
        let errors: Vec<_> = diags
            .iter()
            .filter(|d| d.is_error())
            .map(|d| format!("{} {}", d.code.code, d.message))
            .collect();
        return Err(format!("the imported topology does not check: {errors:?}"));
    };
    let second: BTreeMap<String, String> = meshc::emit::all(&checked, "topology.kdl")
        .into_iter()
        .map(|a| (a.path, a.contents))
        .collect();
    let mut problems = Vec::new();
    for path in first
        .keys()
        .chain(second.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        match (first.get(path), second.get(path)) {
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) => {
                let line = a
                    .lines()
                    .zip(b.lines())
                    .position(|(x, y)| x != y)
                    .unwrap_or(a.lines().count().min(b.lines().count()));
                problems.push(format!(
                    "{path}: line {}: `{}` became `{}`",
                    line + 1,
                    a.lines().nth(line).unwrap_or("<end>"),
                    b.lines().nth(line).unwrap_or("<end>")
                ));
            }
            (Some(_), None) => problems.push(format!("{path}: missing")),
            (None, _) => problems.push(format!("{path}: extra")),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn topologies() -> Vec<(String, Source, Syntax)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for ex in ["bookinfo-vm", "bookinfo-legacy", "multicluster"] {
        let path = root.join("examples").join(ex).join("topology.kdl");
        out.push((
            ex.to_owned(),
            Source::new("topology.kdl", std::fs::read_to_string(path).unwrap()),
            Syntax::Kdl,
        ));
    }
    let mut ok: Vec<_> = std::fs::read_dir(root.join("tests/ok"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    ok.sort();
    for path in ok {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let syntax = match path.extension().and_then(|e| e.to_str()) {
            Some("kdl") => Syntax::Kdl,
            // A TOML twin is the same topology; only TOML-only ones count.
            Some("toml") if !root.join("tests/ok").join(format!("{stem}.kdl")).exists() => Syntax::Toml,
            _ => continue,
        };
        out.push((
            format!("ok/{name}"),
            Source::new(name, std::fs::read_to_string(&path).unwrap()),
            syntax,
        ));
    }
    let synth = meshc::synth::generate(&meshc::synth::Params::new(1000, 100, 3)).unwrap();
    out.push((
        "synth-1k".to_owned(),
        Source::new("synth.kdl", synth),
        Syntax::Kdl,
    ));
    out
}

/// The topologies whose round trip is byte-identical. Every other one is
/// listed with its reason in the report of `round_trip_status`.
const GREEN: &[&str] = &[
    "bookinfo-vm",
    "multicluster",
    "ok/allow-warnings.kdl",
    "ok/bom.kdl",
    "ok/cluster-and-vm-placement.kdl",
    "ok/crlf.kdl",
    "ok/dns-modes-that-work.kdl",
    "ok/ipv6-vm.kdl",
    "ok/multi-network-with-gateways.kdl",
    "ok/second-cluster-distinct-pod-cidr.kdl",
    "ok/server-first-ports-declared.kdl",
    "ok/service-on-22-managed-on-2222.kdl",
    "ok/service-on-22-without-ssh.kdl",
    "ok/several-services-on-one-vm.kdl",
    "ok/two-vms-per-version.kdl",
    "ok/vm-restates-own-app-label.kdl",
];

#[test]
fn round_trip_status() {
    let mut report = String::new();
    let mut failed = Vec::new();
    for (name, source, syntax) in topologies() {
        match round_trip(&source, syntax) {
            Ok(()) => report.push_str(&format!("green {name}\n")),
            Err(e) => {
                report.push_str(&format!(
                    "red   {name}\n    {}\n",
                    e.lines().take(6).collect::<Vec<_>>().join("\n    ")
                ));
                if GREEN.contains(&name.as_str()) {
                    failed.push(name);
                }
            }
        }
    }
    println!("{report}");
    assert!(failed.is_empty(), "round trip broke for {failed:?}:\n{report}");
}
