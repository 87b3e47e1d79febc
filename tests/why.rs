//! `meshc why`: snapshots over the examples (an allowed path, a path a
//! missing call blocks, a path across networks, version splits), the json
//! form against its schema, exit codes, and every link held to the objects
//! the Kubernetes emitter actually writes.

use std::collections::BTreeSet;
use std::path::PathBuf;

use meshc::source::Source;
use meshc::why::{self, Format};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn source(example: &str) -> Source {
    let path = format!("examples/{example}/topology.kdl");
    let text = std::fs::read_to_string(root().join(&path)).expect("example exists");
    Source::new(path, text)
}

fn answer(example: &str, from: &str, to: &str, format: Format) -> (String, bool) {
    match why::answer(&source(example), from, to, format) {
        Ok(r) => r,
        Err(e) => panic!("{example} {from} {to}: {e:?}"),
    }
}

/// Every case: (snapshot name, example, FROM, TO, reachable).
const CASES: &[(&str, &str, &str, &str, bool)] = &[
    // Allowed: a pod calling a VM on the same network.
    ("allowed-pod-to-vm", "bookinfo-vm", "productpage", "details", true),
    // Blocked: productpage declares no `calls ratings`.
    (
        "blocked-missing-call",
        "bookinfo-vm",
        "productpage",
        "ratings",
        false,
    ),
    // Version split: reviews sends everything to v3.
    ("split-reviews", "bookinfo-vm", "productpage", "reviews", true),
    // A version no route sends traffic to.
    ("unrouted-version", "bookinfo-vm", "reviews", "ratings@v1", false),
    // From a VM to a VM.
    ("vm-to-vm", "bookinfo-vm", "vm:ecs-details", "mysqldb", false),
    // Across networks, through west's east-west gateway, split 80/20.
    ("across-networks-split", "multicluster", "web", "catalog", true),
    // Across namespaces, into a ServiceEntry-registered VM service.
    (
        "across-namespaces",
        "multicluster",
        "orders",
        "payments.billing",
        true,
    ),
    // The legacy flow: no Sidecar, no AuthorizationPolicy, dnsmasq.
    ("legacy", "bookinfo-legacy", "productpage", "details", true),
];

#[test]
fn human_reports_over_the_examples() {
    for &(name, example, from, to, reachable) in CASES {
        let (text, got) = answer(example, from, to, Format::Human);
        assert_eq!(got, reachable, "{name}:\n{text}");
        insta::with_settings!({
            snapshot_path => root().join("snapshots/why"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
            description => format!("meshc why examples/{example}/topology.kdl {from} {to}"),
        }, {
            insta::assert_snapshot!(name, text);
        });
    }
}

#[test]
fn json_report_is_valid_and_agrees_with_itself() {
    let schema_text = std::fs::read_to_string(root().join("schema/why.schema.json")).expect("schema");
    let schema: Value = serde_json::from_str(&schema_text).expect("schema is json");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    for &(name, example, from, to, reachable) in CASES {
        let (text, got) = answer(example, from, to, Format::Json);
        assert_eq!(got, reachable, "{name}");
        let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
        assert_eq!(doc["version"], 1);
        assert_eq!(doc["from"], from);
        assert_eq!(doc["to"], to);
        assert_eq!(doc["reachable"], reachable, "{name}");
        let paths = doc["paths"].as_array().expect("paths");
        assert!(!paths.is_empty(), "{name}");
        for p in paths {
            let links = p["links"].as_array().expect("links");
            let steps: Vec<&str> = links.iter().filter_map(|l| l["step"].as_str()).collect();
            assert_eq!(
                steps,
                [
                    "resolve", "capture", "egress", "network", "inbound", "authz", "route"
                ],
                "{name}"
            );
            let blocked = links.iter().any(|l| l["status"] == "missing");
            assert_eq!(p["status"] == "blocked", blocked, "{name}: {p}");
            for l in links.iter().filter(|l| l["status"] != "ok") {
                assert!(
                    l["fix"].is_string(),
                    "{name}: a link that is not ok says how to fix it: {l}"
                );
            }
        }
        // Not reachable always comes with something to do.
        assert_eq!(
            doc["fixes"].as_array().is_some_and(|f| f.is_empty()),
            reachable,
            "{name}"
        );
        // Deterministic: the same question, the same bytes.
        assert_eq!(answer(example, from, to, Format::Json).0, text, "{name}");
    }
}

/// The emitted objects are the truth: for every ordered pair of services
/// of every modern example, `why` says the caller's Sidecar lists the
/// callee's host exactly when the emitted Sidecar does, and that the
/// callee's AuthorizationPolicy admits the caller's principal exactly when
/// the emitted policy lists it.
#[test]
fn egress_and_authz_links_match_the_emitted_objects() {
    for example in ["bookinfo-vm", "multicluster"] {
        let src = source(example);
        let (artifacts, diags) = meshc::compile(
            &src,
            meshc::syntax::Syntax::Kdl,
            meshc::syntax::Limits::default(),
            "topology.kdl",
        );
        let artifacts = artifacts.unwrap_or_else(|| panic!("{example}: {diags:?}"));
        // (kind, namespace/name) → the object.
        let mut objects = std::collections::BTreeMap::new();
        for a in artifacts
            .iter()
            .filter(|a| a.path.starts_with("kubernetes/mesh/"))
        {
            let docs: Vec<Value> = serde_saphyr::from_str_multiple(&a.contents).expect("yaml");
            for d in docs {
                let key = (
                    d["kind"].as_str().unwrap_or_default().to_owned(),
                    format!(
                        "{}/{}",
                        d["metadata"]["namespace"].as_str().unwrap_or_default(),
                        d["metadata"]["name"].as_str().unwrap_or_default()
                    ),
                );
                objects.insert(key, d);
            }
        }
        let strings = |v: &Value| -> BTreeSet<String> {
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        };
        let topo_services: Vec<String> = {
            let (checked, _) =
                meshc::check_source(&src, meshc::syntax::Syntax::Kdl, meshc::syntax::Limits::default());
            let checked = checked.expect("checks");
            checked
                .topology()
                .services
                .iter()
                .map(|s| format!("{}.{}", s.name.value, s.namespace.value))
                .collect()
        };
        let mut checked_links = 0;
        for from in &topo_services {
            for to in &topo_services {
                let (text, _) = answer(example, from, to, Format::Json);
                let doc: Value = serde_json::from_str(&text).expect("json");
                for p in doc["paths"].as_array().expect("paths") {
                    let (fa, ta) = (&p["from"], &p["to"]);
                    let caller = format!(
                        "{}/{}",
                        fa["namespace"].as_str().unwrap(),
                        fa["service"].as_str().unwrap()
                    );
                    let callee = format!(
                        "{}/{}",
                        ta["namespace"].as_str().unwrap(),
                        ta["service"].as_str().unwrap()
                    );
                    let link = |step: &str| {
                        p["links"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .find(|l| l["step"] == step)
                            .cloned()
                            .unwrap()
                    };
                    let sidecar = &objects[&("Sidecar".to_owned(), caller.clone())];
                    let hosts = strings(&sidecar["spec"]["egress"][0]["hosts"]);
                    let egress = link("egress");
                    // The host `why` names, listed or not: `<ns>/<fqdn>`.
                    let host = word(&egress, |w| w.contains(".svc."));
                    let listed = hosts.contains(&host);
                    assert_eq!(
                        egress["status"] == "ok",
                        listed,
                        "{example} {caller} → {callee}: {egress} vs Sidecar hosts {hosts:?}"
                    );
                    let policy = &objects[&("AuthorizationPolicy".to_owned(), callee.clone())];
                    let principals: BTreeSet<String> = policy["spec"]["rules"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .flat_map(|r| r["from"].as_array().into_iter().flatten())
                        .flat_map(|f| strings(&f["source"]["principals"]))
                        .collect();
                    let authz = link("authz");
                    // The caller's principal, admitted or not.
                    let principal = word(&authz, |w| w.contains("/sa/"));
                    let admitted = principals.contains(&principal);
                    assert_eq!(
                        authz["status"] == "ok",
                        admitted,
                        "{example} {caller} → {callee}: {authz} vs policy principals {principals:?}"
                    );
                    checked_links += 2;
                }
            }
        }
        assert!(
            checked_links > 20,
            "{example}: only {checked_links} links compared"
        );
    }
}

/// The first word of a link's detail that `pick` accepts, without a
/// trailing `:`.
fn word(link: &Value, pick: impl Fn(&str) -> bool) -> String {
    let detail = link["detail"].as_str().expect("detail");
    detail
        .split(' ')
        .map(|w| w.trim_end_matches(':'))
        .find(|w| pick(w))
        .unwrap_or_else(|| panic!("no such word in {detail}"))
        .to_owned()
}

#[test]
fn exit_codes() {
    let run = |args: &[&str]| {
        let o = crate::cli::meshc(args);
        (o.status.code().expect("exited"), crate::cli::stdout_of(&o))
    };
    let vm = "examples/bookinfo-vm/topology.kdl";
    assert_eq!(run(&["why", vm, "productpage", "reviews"]).0, 0);
    assert_eq!(run(&["why", vm, "productpage", "ratings"]).0, 1);
    let (code, out) = run(&["why", "--format", "json", vm, "productpage", "ratings"]);
    assert_eq!(code, 1);
    assert!(serde_json::from_str::<Value>(&out).is_ok(), "{out}");
    // Names nothing, a version not deployed, an unreadable file, a broken
    // topology, a missing argument: usage or input errors.
    assert_eq!(run(&["why", vm, "productpage", "nosuch"]).0, 2);
    assert_eq!(run(&["why", vm, "productpage", "reviews@v9"]).0, 2);
    assert_eq!(run(&["why", "no/such/file.kdl", "a", "b"]).0, 2);
    assert_eq!(
        run(&["why", "tests/fail/E301-unknown-cluster.kdl", "a", "b"]).0,
        2
    );
    assert_eq!(run(&["why", vm, "productpage"]).0, 2);
}
