//! The synthetic topology generator (`meshc::synth`, which the
//! benchmarks use): what it prints checks clean in both syntaxes, the two
//! syntaxes lower to one model, the output has the promised shape, and a
//! seed always gives the same text.

use std::collections::BTreeMap;

use meshc::diagnostic::Diagnostic;
use meshc::model::{Placement, Topology};
use meshc::source::Source;
use meshc::syntax::{Limits, Syntax};
use meshc::synth::{Format, Params, generate};

fn params(services: usize, vms: usize, clusters: usize, format: Format) -> Params {
    Params {
        format,
        ..Params::new(services, vms, clusters)
    }
}

fn text(p: &Params) -> String {
    generate(p).unwrap_or_else(|e| panic!("{p:?}: {e}"))
}

fn syntax(format: Format) -> Syntax {
    match format {
        Format::Kdl => Syntax::Kdl,
        Format::Toml => Syntax::Toml,
    }
}

/// Every finding `meshc check` makes, as `CODE message` lines.
fn findings(p: &Params) -> Vec<String> {
    let source = Source::new("synth", text(p));
    let (_, diags) = meshc::check_source(&source, syntax(p.format), Limits::default());
    diags
        .iter()
        .map(|d: &Diagnostic| format!("{} {}", d.code.code, d.message))
        .collect()
}

fn topology(p: &Params) -> Topology {
    let source = Source::new("synth", text(p));
    let (topology, diags) = meshc::front_end(&source, syntax(p.format), Limits::default());
    assert!(diags.is_empty(), "{p:?}: {diags:?}");
    topology.expect("parsed")
}

/// The model's debug form without byte offsets, which differ between the
/// two syntaxes while nothing else may.
fn model_without_spans(p: &Params) -> String {
    format!("{:#?}", topology(p))
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            !t.starts_with("start: ") && !t.starts_with("end: ")
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Sizes from a Bookinfo-like one to 200 services on 40 VMs and 5
/// clusters, in both flows and with every network layout.
fn shapes() -> Vec<Params> {
    let mut legacy = Params::new(60, 12, 3);
    legacy.istio = "1.0.9".to_owned();
    let mut one_network = Params::new(50, 30, 3);
    one_network.networks = Some(1);
    let mut many_networks = Params::new(80, 30, 2);
    many_networks.networks = Some(9);
    let mut more_vms_than_services = Params::new(6, 9, 1);
    more_vms_than_services.seed = 7;
    vec![
        Params::new(5, 2, 1),
        Params::new(200, 40, 5),
        Params::new(1, 0, 1),
        legacy,
        one_network,
        many_networks,
        more_vms_than_services,
    ]
}

#[test]
fn generated_topologies_check_clean_in_both_syntaxes() {
    for base in shapes() {
        for format in [Format::Kdl, Format::Toml] {
            let p = Params {
                format,
                ..base.clone()
            };
            let found = findings(&p);
            assert!(found.is_empty(), "{p:?}:\n{}", found.join("\n"));
        }
    }
}

#[test]
fn both_syntaxes_lower_to_the_same_model() {
    for base in shapes() {
        let kdl = model_without_spans(&Params {
            format: Format::Kdl,
            ..base.clone()
        });
        let toml = model_without_spans(&Params {
            format: Format::Toml,
            ..base.clone()
        });
        if kdl != toml {
            let diff = similar::TextDiff::from_lines(&kdl, &toml)
                .unified_diff()
                .header("kdl", "toml")
                .to_string();
            panic!("{base:?}: the KDL and TOML forms differ:\n{diff}");
        }
    }
}

#[test]
fn cycles_draw_only_the_cycle_warning() {
    for format in [Format::Kdl, Format::Toml] {
        let mut p = params(200, 40, 5, format);
        p.cycles = true;
        let found = findings(&p);
        assert!(!found.is_empty(), "{p:?}: --cycles made no cycle");
        assert!(
            found.iter().all(|f| f.starts_with("W901 ")),
            "{p:?}:\n{}",
            found.join("\n")
        );
    }
}

#[test]
fn the_topology_has_the_promised_shape() {
    let t = topology(&params(200, 40, 5, Format::Kdl));
    assert_eq!((t.services.len(), t.vms.len(), t.clusters.len()), (200, 40, 5));
    let on_vm = |s: &meshc::model::Service| {
        s.deployments
            .iter()
            .any(|d| matches!(d.placement, Placement::Vm(_)))
    };
    let vm_services = t.services.iter().filter(|s| on_vm(s)).count();
    assert!(
        (30..=50).contains(&vm_services),
        "{vm_services} of 200 services on VMs"
    );
    let calls: usize = t.services.iter().map(|s| s.calls.len()).sum();
    assert!((500..=700).contains(&calls), "{calls} calls for 200 services");
    let namespaces: std::collections::BTreeSet<&str> =
        t.services.iter().map(|s| s.namespace.value.as_str()).collect();
    assert!(namespaces.len() >= 3, "namespaces: {namespaces:?}");
    let mut per_vm: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &t.services {
        for d in &s.deployments {
            if let Placement::Vm(vm) = &d.placement {
                *per_vm.entry(vm.value.as_str()).or_default() += 1;
            }
        }
    }
    assert_eq!(per_vm.len(), 40, "every VM runs something");
    assert!(per_vm.values().any(|&n| n >= 2), "no VM runs several services");
    let versions = |s: &meshc::model::Service| {
        let mut v: Vec<&str> = s
            .deployments
            .iter()
            .flat_map(|d| d.versions.iter().map(|v| v.value.as_str()))
            .collect();
        v.sort_unstable();
        v.dedup();
        v.len()
    };
    assert!(t.services.iter().any(|s| versions(s) == 3));
    assert!(t.services.iter().any(|s| s.routes.len() >= 2));
    assert!(
        t.networks.iter().any(|n| n.cidrs.len() > 1),
        "no data-centre range joined to a cluster network"
    );
}

#[test]
fn a_seed_always_gives_the_same_text() {
    for format in [Format::Kdl, Format::Toml] {
        let p = params(300, 60, 4, format);
        assert_eq!(text(&p), text(&p));
        let other = Params {
            seed: p.seed + 1,
            ..p.clone()
        };
        assert_ne!(text(&p), text(&other), "the seed changes nothing");
    }
}

#[test]
fn impossible_requests_are_refused() {
    for p in [
        Params::new(0, 0, 1),
        Params::new(10, 2, 0),
        Params::new(10, 2, 65),
    ] {
        assert!(generate(&p).is_err(), "{p:?}");
    }
    let mut p = Params::new(10, 2, 1);
    p.istio = "latest".to_owned();
    assert!(generate(&p).is_err());
}
