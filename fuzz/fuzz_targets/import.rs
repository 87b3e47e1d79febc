//! Fuzzes `meshc import` as a whole: arbitrary bytes, cut at NUL bytes
//! into up to eight files, each given a name of meshc's output tree (a
//! cluster's YAML, the control-plane values, a VM's cluster.env,
//! sidecar.env, mesh.yaml, hosts, dnsmasq file, the runbook) by the
//! position it has. `import` must return (never panic), every diagnostic's
//! labels must fall inside the inputs, and the imported topology must
//! print, in both syntaxes, as text that parses with no syntax finding.
//! Each file is also read by both YAML readers: the fast block reader
//! (`yaml_block`) must give granit's nodes, spans and findings, or give up.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshc::import::print::{Syntax as Out, print};
use meshc::import::yaml::load_granit;
use meshc::import::{import, locate, yaml_block};
use meshc::source::Source;
use meshc::syntax::{Limits, Syntax};

const NAMES: [&str; 8] = [
    "kubernetes/clusters/c1/ns/service-a.yaml",
    "control-plane/c1/istiod-values.yaml",
    "vms/vm1/cluster.env",
    "vms/vm1/sidecar.env",
    "vms/vm1/mesh.yaml",
    "vms/vm1/hosts",
    "vms/vm1/dnsmasq.conf",
    "kubernetes/mesh/ns/service-a.yaml",
];

fuzz_target!(|data: &[u8]| {
    let inputs: Vec<Source> = data
        .split(|&b| b == 0)
        .take(NAMES.len())
        .zip(NAMES)
        .map(|(bytes, name)| Source::new(name, String::from_utf8_lossy(bytes).into_owned()))
        .collect();
    for input in &inputs {
        if let Some((fast, fast_diags)) = yaml_block::load(&input.text, 3) {
            let mut diags = Vec::new();
            let granit = load_granit(&input.text, 3, &mut diags);
            assert_eq!(fast, granit, "the readers disagree on {:?}", input.text);
            assert_eq!(format!("{fast_diags:?}"), format!("{diags:?}"), "on {:?}", input.text);
        }
    }
    let imported = import(&inputs);
    for d in &imported.diagnostics {
        for label in &d.labels {
            assert!(locate(&inputs, label.span).is_some(), "{label:?} outside every input: {d:?}");
        }
    }
    for (out, syntax) in [(Out::Kdl, Syntax::Kdl), (Out::Toml, Syntax::Toml)] {
        let printed = print(&imported.topology, &imported.notes, out);
        let source = Source::new("imported", printed.clone());
        let (_, diags) = meshc::front_end(&source, syntax, Limits::default());
        assert!(
            diags.iter().all(|d| !d.code.code.starts_with("E1")),
            "{out:?}: the printed topology does not parse: {diags:?}\n{printed}"
        );
    }
});
