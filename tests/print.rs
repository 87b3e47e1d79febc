//! `import::print`: the model written back as topology text.
//!
//! Over every example, every `tests/ok` topology (KDL and TOML) and a
//! synthetic mesh of 1000 services, in both syntaxes, the printed text
//! - lowers to the same model as the original (spans aside),
//! - builds to the same artifacts, byte for byte,
//! - is in `meshc fmt`'s canonical form (KDL);
//!
//! and over generated models with hostile strings in every name, label and
//! note, the printed text lowers without a finding to the model printed,
//! and keeps every note line as a comment line of its own.

use std::collections::BTreeMap;
use std::path::PathBuf;

use meshc::import::print::{Decl, Note, Syntax as Out, comment_lines, print};
use meshc::model::Topology;
use meshc::source::Source;
use meshc::syntax::format::format_kdl;
use meshc::syntax::{Limits, Syntax};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every example and `tests/ok` topology.
fn corpus() -> Vec<PathBuf> {
    let mut out = crate::fixtures::topology_files(&root().join("examples"));
    out.extend(crate::fixtures::topology_files(&root().join("tests/ok")));
    out.sort();
    out
}

fn syntax_of(out: Out) -> Syntax {
    match out {
        Out::Kdl => Syntax::Kdl,
        Out::Toml => Syntax::Toml,
    }
}

/// The topology a text lowers to, and its findings (codes and messages).
fn lower(name: &str, text: &str, syntax: Syntax) -> (Option<Topology>, Vec<String>) {
    let source = Source::new(name, text.to_owned());
    let (topology, diags) = meshc::front_end(&source, syntax, Limits::default());
    let findings = diags
        .iter()
        .map(|d| format!("{} {}", d.code.code, d.message))
        .collect();
    (topology, findings)
}

/// A debug form with every byte offset left out.
fn without_spans(debug: &str) -> String {
    debug
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            !(t.starts_with("start: ") || t.starts_with("end: "))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The whole model, spans aside (what lowering derived included: flow-bound
/// settings, allows, dropped settings).
fn model(t: &Topology) -> String {
    without_spans(&format!("{t:#?}"))
}

/// The declarations only, spans aside.
fn declarations(t: &Topology) -> String {
    without_spans(&format!(
        "{:#?}\n{:#?}\n{:#?}\n{:#?}\n{:#?}\n{:#?}",
        t.mesh, t.networks, t.clusters, t.vms, t.namespaces, t.services
    ))
}

fn diff(a: &str, b: &str, what: &str) -> String {
    similar::TextDiff::from_lines(a, b)
        .unified_diff()
        .header(what, "printed")
        .to_string()
}

/// Every artifact `text` builds to, by path (`name` is the file name the
/// headers print).
fn build(name: &str, text: &str, syntax: Syntax) -> Result<BTreeMap<String, String>, String> {
    let source = Source::new(name, text.to_owned());
    let (artifacts, diags) = meshc::compile(&source, syntax, Limits::default(), name);
    let artifacts = artifacts.ok_or_else(|| format!("{name} does not build: {diags:?}"))?;
    Ok(artifacts.into_iter().map(|a| (a.path, a.contents)).collect())
}

/// The round trip of one topology text, in both syntaxes: `Err` says what
/// differed.
fn round_trip(name: &str, text: &str, syntax: Syntax) -> Result<(), String> {
    let (topology, findings) = lower(name, text, syntax);
    let topology = topology.ok_or_else(|| format!("{name} does not parse: {findings:?}"))?;
    let before = build("topology", text, syntax)?;
    for out in [Out::Kdl, Out::Toml] {
        let printed = print(&topology, &[], out);
        let (again, findings2) = lower(name, &printed, syntax_of(out));
        let again =
            again.ok_or_else(|| format!("{name} as {out:?} does not parse: {findings2:?}\n{printed}"))?;
        if findings2 != findings {
            return Err(format!(
                "{name} as {out:?}: findings {findings2:?}, the original's {findings:?}\n{printed}"
            ));
        }
        let (a, b) = (model(&topology), model(&again));
        if a != b {
            return Err(format!(
                "{name} as {out:?}: the model differs:\n{}",
                diff(&a, &b, name)
            ));
        }
        let after = build("topology", &printed, syntax_of(out))?;
        if after != before {
            let changed: Vec<&String> = before
                .keys()
                .chain(after.keys())
                .filter(|p| before.get(*p) != after.get(*p))
                .collect();
            return Err(format!("{name} as {out:?}: the build differs in {changed:?}"));
        }
        if out == Out::Kdl {
            let formatted = format_kdl(&Source::new("printed.kdl", printed.clone()))
                .map_err(|d| format!("{name}: meshc fmt refuses the printed text: {d:?}"))?;
            if formatted != printed {
                return Err(format!(
                    "{name}: the printed text is not in meshc fmt's form:\n{}",
                    diff(&printed, &formatted, "printed")
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn every_example_and_ok_topology_prints_back_to_the_same_model_and_build() {
    let files = corpus();
    assert!(files.len() >= 30, "only {} topologies found", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.strip_prefix(root()).unwrap_or(path).display().to_string();
        if let Err(e) = round_trip(&name, &text, Syntax::from_path(&name)) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_synthetic_mesh_of_1000_services_prints_back_to_the_same_model_and_build() {
    let mut p = meshc::synth::Params::new(1000, 100, 3);
    p.cycles = true;
    let text = meshc::synth::generate(&p).unwrap();
    round_trip("synth.kdl", &text, Syntax::Kdl).unwrap();
    let mut legacy = meshc::synth::Params::new(100, 20, 2);
    legacy.istio = "1.0.9".to_owned();
    legacy.format = meshc::synth::Format::Toml;
    let text = meshc::synth::generate(&legacy).unwrap();
    round_trip("synth.toml", &text, Syntax::Toml).unwrap();
}

#[test]
fn meshc_fmt_check_accepts_the_printed_kdl() {
    let text = std::fs::read_to_string(root().join("examples/multicluster/topology.kdl")).unwrap();
    let (topology, _) = lower("multicluster.kdl", &text, Syntax::Kdl);
    let notes = [Note {
        on: Decl::Service("catalog.shop".to_owned()),
        text: "routed 80/20\n\u{202e} reversed".to_owned(),
    }];
    let printed = print(&topology.unwrap(), &notes, Out::Kdl);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.kdl"), &printed).unwrap();
    let o = crate::cli::meshc_in(dir.path(), &["fmt", "--check", "t.kdl"]);
    assert!(
        o.status.success(),
        "{}\n{printed}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(printed.contains("// routed 80/20\n// \\u{202e} reversed\nservice catalog namespace=shop {\n"));
}

/// Notes land right above their declaration; a note about nothing in the
/// topology is kept at the top.
#[test]
fn notes_are_comment_lines_above_their_declaration() {
    let text = "mesh m { istio \"1.24\"; }\nnetwork n\ncluster c { network n; }\nvm v { address \"10.0.0.1\"; network n; }\nnamespace ns\nservice s namespace=ns\nservice s namespace=other\n";
    let (topology, findings) = lower("t.kdl", text, Syntax::Kdl);
    assert!(findings.is_empty(), "{findings:?}");
    let topology = topology.unwrap();
    let note = |on: Decl, text: &str| Note {
        on,
        text: text.to_owned(),
    };
    let notes = [
        note(Decl::Mesh, "on the mesh"),
        note(Decl::Network("n".into()), "on n"),
        note(Decl::Cluster("c".into()), "on c"),
        note(Decl::Vm("v".into()), "on v"),
        note(Decl::Namespace("ns".into()), "on ns"),
        note(Decl::Service("s.other".into()), "on s in other"),
        note(Decl::Service("s".into()), "on every s"),
        note(Decl::Vm("gone".into()), "on a VM that is not there"),
    ];
    assert_eq!(
        print(&topology, &notes, Out::Kdl),
        "// on a VM that is not there\n\
         \n\
         // on the mesh\n\
         mesh m {\n    istio \"1.24\"\n}\n\
         \n\
         // on n\n\
         network n\n\
         \n\
         // on c\n\
         cluster c {\n    network n\n}\n\
         \n\
         // on v\n\
         vm v {\n    address \"10.0.0.1\"\n    network n\n}\n\
         \n\
         // on ns\n\
         namespace ns\n\
         \n\
         // on every s\n\
         service s namespace=ns\n\
         \n\
         // on s in other\n\
         // on every s\n\
         service s namespace=other\n"
    );
    assert_eq!(
        print(&topology, &notes[..2], Out::Toml),
        "# on the mesh\n[mesh]\nname = \"m\"\nistio = \"1.24\"\n\n# on n\n[[network]]\nname = \"n\"\n\n[[cluster]]\nname = \"c\"\nnetwork = \"n\"\n\n[[vm]]\nname = \"v\"\naddress = \"10.0.0.1\"\nnetwork = \"n\"\n\n[[namespace]]\nname = \"ns\"\n\n[[service]]\nname = \"s\"\nnamespace = \"ns\"\n\n[[service]]\nname = \"s\"\nnamespace = \"other\"\n"
    );
}

// ---------------------------------------------------------------------
// Generated models.

mod generated {
    use std::collections::BTreeMap;
    use std::net::IpAddr;

    use ipnet::IpNet;
    use meshc::model::{
        Cluster, Deployment, DnsMode, IlbAnnotation, Ilbs, Ingress, IngressKind, Interception, IstioVersion,
        Labels, Mesh, Namespace, Network, Placement, Port, Probe, ProbeKind, Protocol, Registration, Route,
        Service, Topology, Vm, implicit,
    };
    use meshc::source::Spanned;
    use proptest::prelude::*;

    fn sp<T>(v: T) -> Spanned<T> {
        Spanned::new(v, implicit())
    }

    fn text() -> impl Strategy<Value = Spanned<String>> {
        crate::properties::nasty().prop_map(sp)
    }

    fn opt<T: std::fmt::Debug + Clone>(
        s: impl Strategy<Value = T>,
    ) -> impl Strategy<Value = Option<Spanned<T>>> {
        prop::option::of(s.prop_map(sp))
    }

    fn ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<[u8; 4]>().prop_map(IpAddr::from),
            any::<[u16; 8]>().prop_map(IpAddr::from),
        ]
    }

    fn net() -> impl Strategy<Value = IpNet> {
        prop_oneof![
            (any::<[u8; 4]>(), 0u8..=32).prop_map(|(a, p)| IpNet::new(IpAddr::from(a), p).unwrap().trunc()),
            (any::<[u16; 8]>(), 0u8..=128).prop_map(|(a, p)| IpNet::new(IpAddr::from(a), p).unwrap().trunc()),
        ]
    }

    fn port() -> impl Strategy<Value = u16> {
        1u16..=65535
    }

    fn labels() -> impl Strategy<Value = Labels> {
        prop::collection::btree_map(crate::properties::nasty(), crate::properties::nasty(), 0..4).prop_map(
            |m: BTreeMap<String, String>| Labels(m.into_iter().map(|(k, v)| (sp(k), sp(v))).collect()),
        )
    }

    fn mesh() -> impl Strategy<Value = Mesh> {
        let version = (0u16..3, 0u16..40, prop::option::of(0u16..20))
            .prop_map(|(major, minor, patch)| IstioVersion { major, minor, patch });
        let ingress = (
            text(),
            opt(prop_oneof![
                Just(IngressKind::Istioctl),
                Just(IngressKind::Helm),
                Just(IngressKind::GatewayApi)
            ]),
            prop::option::of(text()),
        )
            .prop_map(|(name, kind, namespace)| Ingress {
                name,
                kind,
                namespace,
                span: implicit(),
            });
        (
            (
                text(),
                version,
                prop::option::of(text()),
                prop::option::of(text()),
            ),
            (
                prop::option::of(text()),
                prop::option::of(text()),
                opt(any::<bool>()),
            ),
            (
                opt(prop_oneof![
                    Just("MUTUAL_TLS".to_owned()),
                    Just("NONE".to_owned())
                ]),
                opt(any::<bool>()),
                prop::collection::vec(ingress, 0..3),
            ),
        )
            .prop_map(
                |(
                    (name, istio, trust_domain, mesh_id),
                    (control_plane_namespace, revision, least_privilege),
                    (control_plane_auth, data_plane_mtls, ingresses),
                )| Mesh {
                    name,
                    istio: sp(istio),
                    trust_domain,
                    mesh_id,
                    control_plane_namespace,
                    revision,
                    least_privilege,
                    control_plane_auth,
                    data_plane_mtls,
                    ingresses,
                    span: implicit(),
                },
            )
    }

    fn network() -> impl Strategy<Value = Network> {
        (text(), prop::collection::vec(net().prop_map(sp), 0..3), opt(ip())).prop_map(
            |(name, cidrs, gateway)| Network {
                name,
                cidrs,
                gateway,
                span: implicit(),
            },
        )
    }

    fn cluster() -> impl Strategy<Value = Cluster> {
        let ilbs = (ip(), ip(), ip(), ip()).prop_map(|(p, m, c, k)| Ilbs {
            pilot: sp(p),
            mixer: sp(m),
            citadel: sp(c),
            kube_dns: sp(k),
            span: implicit(),
        });
        (
            (text(), text(), prop::collection::vec(net().prop_map(sp), 0..3)),
            (
                prop::collection::vec(net().prop_map(sp), 0..3),
                prop::option::of(text()),
                opt(ip()),
                prop::option::of(text()),
            ),
            (opt(any::<bool>()), opt(ip()), prop::option::of(ilbs)),
            opt(prop_oneof![
                Just(IlbAnnotation::Alibaba),
                Just(IlbAnnotation::Gke),
                Just(IlbAnnotation::None)
            ]),
        )
            .prop_map(
                |(
                    (name, network, pod_cidrs),
                    (service_cidrs, cluster_domain, kube_dns, cluster_id),
                    (control_plane, east_west_gateway, ilbs),
                    ilb_annotation,
                )| Cluster {
                    name,
                    network,
                    pod_cidrs,
                    service_cidrs,
                    cluster_domain,
                    kube_dns,
                    cluster_id,
                    control_plane,
                    east_west_gateway,
                    ilbs,
                    ilb_annotation,
                    span: implicit(),
                },
            )
    }

    fn vm() -> impl Strategy<Value = Vm> {
        let ports = || prop::collection::vec(port().prop_map(sp), 0..3);
        (
            (
                text(),
                ip(),
                text(),
                prop::option::of(text()),
                prop::option::of(text()),
            ),
            (
                prop::option::of(text()),
                labels(),
                opt(any::<u32>()),
                opt(any::<u32>()),
            ),
            (
                opt(prop_oneof![
                    Just(Interception::Redirect),
                    Just(Interception::Tproxy)
                ]),
                opt(prop_oneof![
                    Just(DnsMode::Capture),
                    Just(DnsMode::Dnsmasq),
                    Just(DnsMode::Hosts)
                ]),
                prop::collection::vec(ip().prop_map(sp), 0..3),
                opt(any::<bool>()),
            ),
            (
                ports(),
                ports(),
                prop::collection::vec(net().prop_map(sp), 0..3),
                opt(any::<bool>()),
            ),
        )
            .prop_map(
                |(
                    (name, address, network, cluster, ssh),
                    (service_account, labels, proxy_uid, proxy_gid),
                    (interception, dns, dns_servers, capture_all_dns),
                    (inbound_exclude_ports, outbound_exclude_ports, outbound_exclude_cidrs, autoregister),
                )| Vm {
                    name,
                    address: sp(address),
                    network,
                    cluster,
                    ssh,
                    service_account,
                    labels,
                    proxy_uid,
                    proxy_gid,
                    interception,
                    dns,
                    dns_servers,
                    capture_all_dns,
                    inbound_exclude_ports,
                    outbound_exclude_ports,
                    outbound_exclude_cidrs,
                    autoregister,
                    span: implicit(),
                },
            )
    }

    fn namespace() -> impl Strategy<Value = Namespace> {
        (text(), labels(), opt(any::<bool>()), opt(any::<bool>())).prop_map(
            |(name, labels, injection, least_privilege)| Namespace {
                name,
                labels,
                injection,
                least_privilege,
                span: implicit(),
            },
        )
    }

    fn service() -> impl Strategy<Value = Service> {
        let protocol = prop::sample::select(Protocol::ALL.to_vec());
        let port_block =
            (text(), port(), opt(protocol), opt(port())).prop_map(|(name, number, protocol, target_port)| {
                Port {
                    name,
                    number: sp(number),
                    protocol,
                    target_port,
                    span: implicit(),
                }
            });
        // A VM deployment has no service account of its own.
        let deployment = (
            prop::collection::vec(text(), 1..3),
            any::<bool>(),
            text(),
            prop::option::of(text()),
        )
            .prop_map(|(versions, on_vm, target, service_account)| Deployment {
                versions,
                placement: if on_vm {
                    Placement::Vm(target)
                } else {
                    Placement::Cluster(target)
                },
                service_account: service_account.filter(|_| !on_vm),
                span: implicit(),
            });
        let route = (text(), opt(0u32..=100)).prop_map(|(version, weight)| Route {
            version,
            weight,
            span: implicit(),
        });
        let probe = prop_oneof![
            (port(), prop::option::of(text())).prop_map(|(p, path)| ProbeKind::Http { port: sp(p), path }),
            port().prop_map(|p| ProbeKind::Tcp { port: sp(p) }),
            prop::collection::vec(text(), 1..4).prop_map(|command| ProbeKind::Exec { command }),
        ]
        .prop_map(|kind| Probe {
            kind,
            span: implicit(),
        });
        (
            (text(), text(), prop::collection::vec(port_block, 0..3)),
            (
                prop::collection::vec(deployment, 0..3),
                prop::collection::vec(text(), 0..3),
                prop::collection::vec(route, 0..3),
            ),
            (
                prop::option::of(text()),
                opt(prop_oneof![
                    Just(Registration::Service),
                    Just(Registration::ServiceEntry)
                ]),
                opt(any::<bool>()),
                prop::option::of(probe),
            ),
        )
            .prop_map(
                |(
                    (name, namespace, ports),
                    (deployments, calls, routes),
                    (service_account, registration, entry_point, probe),
                )| Service {
                    name,
                    namespace,
                    ports,
                    deployments,
                    calls,
                    routes,
                    service_account,
                    registration,
                    entry_point,
                    probe,
                    span: implicit(),
                },
            )
    }

    pub fn topology() -> impl Strategy<Value = Topology> {
        (
            mesh(),
            prop::collection::vec(network(), 0..3),
            prop::collection::vec(cluster(), 0..3),
            prop::collection::vec(vm(), 0..3),
            prop::collection::vec(namespace(), 0..3),
            prop::collection::vec(service(), 0..4),
        )
            .prop_map(|(mesh, networks, clusters, vms, namespaces, services)| Topology {
                mesh,
                networks,
                clusters,
                vms,
                namespaces,
                services,
                ..Topology::default()
            })
    }
}

/// A note on each declaration of `t` (and one on nothing), with `text`.
fn notes_on(t: &Topology, texts: &[String]) -> Vec<Note> {
    let mut on = vec![Decl::Mesh, Decl::Vm("\u{0}not there".to_owned())];
    on.extend(t.networks.iter().map(|n| Decl::Network(n.name.value.clone())));
    on.extend(t.clusters.iter().map(|n| Decl::Cluster(n.name.value.clone())));
    on.extend(t.vms.iter().map(|n| Decl::Vm(n.name.value.clone())));
    on.extend(t.namespaces.iter().map(|n| Decl::Namespace(n.name.value.clone())));
    on.extend(t.services.iter().map(|n| Decl::Service(n.name.value.clone())));
    on.into_iter()
        .zip(texts.iter().cycle())
        .map(|(on, text)| Note {
            on,
            text: text.clone(),
        })
        .collect()
}

/// The comment lines of a printed text (`//` or `#` at the start of a
/// line: the printer writes no other comments), sorted.
fn comment_lines_of(text: &str, marker: &str) -> Vec<String> {
    let mut out: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with(marker))
        .map(str::to_owned)
        .collect();
    out.sort();
    out
}

/// The comment lines each note should have become, sorted.
fn expected_comments(notes: &[Note], marker: &str) -> Vec<String> {
    // A bare service name matches that service in every namespace.
    let mut out: Vec<String> = Vec::new();
    for n in notes {
        for l in comment_lines(&n.text) {
            out.push(if l.is_empty() {
                marker.to_owned()
            } else {
                format!("{marker} {l}")
            });
        }
    }
    out.sort();
    out
}

fn printed_is_model(
    t: &Topology,
    notes: &[Note],
    out: Out,
) -> Result<(), proptest::test_runner::TestCaseError> {
    use proptest::prelude::*;
    let printed = print(t, notes, out);
    let (again, findings) = lower("t", &printed, syntax_of(out));
    prop_assert!(findings.is_empty(), "{findings:?}\n{printed}");
    let again = again.expect("parsed");
    let (a, b) = (declarations(t), declarations(&again));
    prop_assert!(
        a == b,
        "{out:?}: the model differs:\n{}\n{printed}",
        diff(&a, &b, "model")
    );
    // Each note is matched once per declaration it names; the generator
    // names each declaration by a unique-enough name, so compare only
    // that every printed comment line comes from a note and every note
    // line is printed at least once.
    let marker = if out == Out::Kdl { "//" } else { "#" };
    let mut want = expected_comments(notes, marker);
    want.dedup();
    let mut got = comment_lines_of(&printed, marker);
    got.dedup();
    prop_assert_eq!(got, want, "{}", printed);
    if out == Out::Kdl {
        let formatted = format_kdl(&Source::new("t.kdl", printed.clone()));
        prop_assert!(formatted.as_ref() == Ok(&printed), "{formatted:?}\n{printed}");
    }
    Ok(())
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config { cases: 96, ..Default::default() })]

    /// Hostile strings in every name, label and note: the text lowers
    /// cleanly to the very model printed, every note line is a comment
    /// line, and the KDL is in `meshc fmt`'s form.
    #[test]
    fn generated_models_print_back_to_themselves(
        t in generated::topology(),
        texts in proptest::collection::vec(crate::properties::nasty(), 1..4),
    ) {
        let notes = notes_on(&t, &texts);
        printed_is_model(&t, &notes, Out::Kdl)?;
        printed_is_model(&t, &notes, Out::Toml)?;
    }
}
