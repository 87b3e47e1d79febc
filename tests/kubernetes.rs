//! The Kubernetes manifests of every example, proved real.
//!
//! * every Istio object validates against its CRD's `openAPIV3Schema` (the
//!   kind and version it names), made strict: unknown fields fail;
//! * every core object is a k8s-openapi value (deserializes and
//!   re-serializes to the same JSON);
//! * YAML-1.1-ambiguous strings stay strings for a YAML 1.1 reader;
//! * a snapshot of every file, the Bookinfo expectations, and
//!   byte-identical output for the same input;
//! * kubectl's decoder and `kubernetes-validate --strict` accept every file
//!   (when the tools are installed; mandatory with `MESHC_REQUIRE_E2E=1`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use meshc::artifact::Artifact;
use meshc::source::Source;
use meshc::syntax::{Limits, Syntax};
use serde_json::{Value, json};

use crate::support::{have_tool, prerequisite, reference_dir};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every example directory with a `topology.kdl`, sorted by name.
fn examples() -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(root().join("examples"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.join("topology.kdl").is_file())
                .filter_map(|p| Some((p.file_name()?.to_str()?.to_owned(), p.join("topology.kdl"))))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    assert!(out.len() >= 3, "expected the bundled examples, found {out:?}");
    out
}

/// Checks a topology and emits its Kubernetes manifests.
pub fn build(path: &Path) -> Vec<Artifact> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("topology.kdl")
        .to_owned();
    let source = Source::new(name.clone(), text);
    let (checked, diags) = meshc::check_source(&source, Syntax::from_path(&name), Limits::default());
    let Some(checked) = checked else {
        panic!("{} does not check: {diags:#?}", path.display());
    };
    meshc::emit::kubernetes::emit(&checked, &name)
}

/// The documents of a multi-document YAML file, as JSON values.
fn documents(path: &str, text: &str) -> Vec<Value> {
    serde_saphyr::from_str_multiple::<Value, Vec<Value>>(text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every object of every example: (example, path, object).
fn all_objects() -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (example, path) in examples() {
        for a in build(&path) {
            for doc in documents(&a.path, &a.contents) {
                out.push((example.clone(), a.path.clone(), doc));
            }
        }
    }
    out
}

fn is_istio(object: &Value) -> bool {
    object["apiVersion"]
        .as_str()
        .is_some_and(|v| v.contains(".istio.io/"))
}

// ---- CRD schemas ------------------------------------------------------------

/// Validators for every (apiVersion, kind) of Istio's CRDs.
struct CrdSchemas(BTreeMap<(String, String), jsonschema::Validator>);

impl CrdSchemas {
    fn load(reference: &Path) -> CrdSchemas {
        let path = reference.join("istio/crds/crd-all.gen.yaml");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let options = serde_saphyr::options! {
            budget: serde_saphyr::budget! { max_nodes: 5_000_000, max_events: 10_000_000 },
        };
        let crds: Vec<Value> =
            serde_saphyr::from_str_multiple_with_options::<Value, Vec<Value>>(&text, options)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut out = BTreeMap::new();
        for crd in crds.iter().filter(|c| c["kind"] == "CustomResourceDefinition") {
            let group = crd["spec"]["group"].as_str().unwrap_or_default();
            let kind = crd["spec"]["names"]["kind"].as_str().unwrap_or_default();
            for version in crd["spec"]["versions"].as_array().into_iter().flatten() {
                let name = version["name"].as_str().unwrap_or_default();
                let api_version = format!("{group}/{name}");
                let schema = object_schema(&api_version, kind, &version["schema"]["openAPIV3Schema"]);
                let validator = jsonschema::validator_for(&schema)
                    .unwrap_or_else(|e| panic!("{api_version} {kind}: {e}"));
                out.insert((api_version, kind.to_owned()), validator);
            }
        }
        assert!(out.len() > 20, "too few CRD versions read: {}", out.len());
        CrdSchemas(out)
    }

    /// Every schema violation of an object (empty when it is valid).
    fn errors(&self, object: &Value) -> Vec<String> {
        let key = (
            object["apiVersion"].as_str().unwrap_or_default().to_owned(),
            object["kind"].as_str().unwrap_or_default().to_owned(),
        );
        match self.0.get(&key) {
            Some(v) => v
                .iter_errors(object)
                .map(|e| format!("{}: {e}", e.instance_path()))
                .collect(),
            None => vec![format!("no CRD serves {key:?}")],
        }
    }
}

/// The CRD's schema for one object, made a strict JSON Schema: the root
/// pins apiVersion and kind and describes the metadata meshc writes (the
/// CRD leaves those to the API server).
fn object_schema(api_version: &str, kind: &str, open_api: &Value) -> Value {
    let mut schema = to_json_schema(open_api);
    let string_map = json!({"type": "object", "additionalProperties": {"type": "string"}});
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert("apiVersion".into(), json!({"const": api_version}));
        props.insert("kind".into(), json!({"const": kind}));
        props.insert(
            "metadata".into(),
            json!({
                "type": "object",
                "required": ["name", "namespace"],
                "additionalProperties": false,
                "properties": {
                    "name": {"type": "string", "maxLength": 253,
                             "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"},
                    "namespace": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                    "labels": string_map,
                    "annotations": string_map,
                }
            }),
        );
    }
    if let Some(obj) = schema.as_object_mut() {
        obj.insert(
            "required".into(),
            json!(["apiVersion", "kind", "metadata", "spec"]),
        );
    }
    schema
}

/// OpenAPI v3 (Kubernetes structural schema) → JSON Schema: int-or-string
/// becomes `anyOf` integer/string, `nullable` adds `null` to the type, and
/// every object with `properties` that does not preserve unknown fields
/// refuses them (the API server would prune them silently, so a misspelt
/// field would otherwise pass here and vanish there).
fn to_json_schema(v: &Value) -> Value {
    let Some(obj) = v.as_object() else {
        return v.clone();
    };
    let mut out = serde_json::Map::new();
    for (key, value) in obj {
        let converted = match key.as_str() {
            "properties" | "patternProperties" | "definitions" => Value::Object(
                value
                    .as_object()
                    .map(|m| m.iter().map(|(k, s)| (k.clone(), to_json_schema(s))).collect())
                    .unwrap_or_default(),
            ),
            "items" | "additionalProperties" | "not" => to_json_schema(value),
            "anyOf" | "oneOf" | "allOf" => Value::Array(
                value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(to_json_schema)
                    .collect(),
            ),
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    if obj.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        out.remove("type");
        out.insert("anyOf".into(), json!([{"type": "integer"}, {"type": "string"}]));
    }
    if obj.get("nullable") == Some(&Value::Bool(true))
        && let Some(t) = out.get("type").cloned()
    {
        out.insert("type".into(), json!([t, "null"]));
    }
    let preserve = obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    if obj.contains_key("properties") && !preserve && !obj.contains_key("additionalProperties") {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    Value::Object(out)
}

#[test]
fn every_istio_object_validates_against_its_crd() {
    let Some(reference) = reference_dir() else { return };
    let schemas = CrdSchemas::load(&reference);
    let mut failures = Vec::new();
    let mut kinds = BTreeSet::new();
    for (example, path, object) in all_objects().into_iter().filter(|(_, _, o)| is_istio(o)) {
        kinds.insert(format!("{} {}", object["apiVersion"], object["kind"]));
        for e in schemas.errors(&object) {
            failures.push(format!(
                "{example}: {path}: {} {}: {e}",
                object["kind"], object["metadata"]["name"]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "objects the CRDs reject:\n{}",
        failures.join("\n")
    );
    // Every Istio kind meshc writes was exercised.
    for kind in [
        "Gateway",
        "VirtualService",
        "DestinationRule",
        "ServiceEntry",
        "WorkloadEntry",
        "WorkloadGroup",
        "Sidecar",
        "AuthorizationPolicy",
    ] {
        assert!(
            kinds.iter().any(|k| k.ends_with(&format!("\"{kind}\""))),
            "no example emits a {kind}: {kinds:?}"
        );
    }
}

#[test]
fn the_crd_validator_rejects_what_the_api_server_would_not_keep() {
    let Some(reference) = reference_dir() else { return };
    let schemas = CrdSchemas::load(&reference);
    let good = json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "WorkloadEntry",
        "metadata": {"name": "db-v1-vm", "namespace": "shop"},
        "spec": {"address": "10.0.0.1", "ports": {"tcp": 5432}, "labels": {"app": "db"}, "serviceAccount": "db"}
    });
    assert_eq!(schemas.errors(&good), Vec::<String>::new());
    let mut broken = Vec::new();
    let mut misspelt = good.clone();
    misspelt["spec"]["serviceAcount"] = json!("db");
    broken.push(("a misspelt spec field", misspelt));
    let mut nested = json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": "db", "namespace": "shop"},
        "spec": {"host": "db", "subsets": [{"name": "v1", "labels": {"version": "v1"}}]}
    });
    assert_eq!(schemas.errors(&nested), Vec::<String>::new());
    nested["spec"]["subsets"][0]["label"] = json!({"version": "v1"});
    broken.push(("a misspelt nested field", nested));
    let mut typed = good.clone();
    typed["spec"]["ports"]["tcp"] = json!("5432");
    broken.push(("a port as a string", typed));
    let mut meta = good.clone();
    meta["metadata"]["label"] = json!({});
    broken.push(("a misspelt metadata field", meta));
    let mut version = good.clone();
    version["apiVersion"] = json!("networking.istio.io/v2");
    broken.push(("an API version no CRD serves", version));
    let mut kind = good;
    kind["kind"] = json!("WorkloadEntries");
    broken.push(("a misspelt kind", kind));
    for (what, object) in broken {
        assert!(!schemas.errors(&object).is_empty(), "{what} passed validation");
    }
}

// ---- core objects -------------------------------------------------------------

/// Deserializes into the k8s-openapi type of its kind and serializes back.
#[allow(deprecated)] // core/v1 Endpoints, which the legacy flow writes.
fn round_trip(object: &Value) -> Result<Value, String> {
    use k8s_openapi::api::core::v1::{Endpoints, Namespace, Service, ServiceAccount};
    fn via<T: serde::de::DeserializeOwned + serde::Serialize>(v: &Value) -> Result<Value, String> {
        let typed: T = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
        serde_json::to_value(typed).map_err(|e| e.to_string())
    }
    match object["kind"].as_str() {
        Some("Namespace") => via::<Namespace>(object),
        Some("ServiceAccount") => via::<ServiceAccount>(object),
        Some("Service") => via::<Service>(object),
        Some("Endpoints") => via::<Endpoints>(object),
        other => Err(format!("meshc does not write core kind {other:?}")),
    }
}

#[test]
fn every_core_object_round_trips_through_k8s_openapi() {
    let mut seen = BTreeSet::new();
    for (example, path, object) in all_objects().into_iter().filter(|(_, _, o)| !is_istio(o)) {
        assert_eq!(object["apiVersion"], "v1", "{example}: {path}");
        seen.insert(object["kind"].as_str().unwrap_or_default().to_owned());
        match round_trip(&object) {
            Ok(back) => assert_eq!(back, object, "{example}: {path}: changed by a round trip"),
            Err(e) => panic!("{example}: {path}: {e}\n{object:#}"),
        }
    }
    let want: BTreeSet<String> = ["Endpoints", "Namespace", "Service", "ServiceAccount"]
        .map(str::to_owned)
        .into();
    assert_eq!(seen, want, "every core kind is exercised");
}

// ---- YAML 1.1 ---------------------------------------------------------------------

/// Strings a YAML 1.1 reader (go-yaml v2, hence kubectl) would read as
/// something else when plain.
const AMBIGUOUS: &[&str] = &[
    "on",
    "off",
    "yes",
    "no",
    "y",
    "n",
    "Y",
    "N",
    "true",
    "True",
    "1.10",
    "0755",
    "12:30",
    "2001-12-14",
    "~",
    "null",
    "<<",
    "=",
    "1_000",
    "0x1F",
    ".inf",
    "-.5",
    "+1",
];

#[test]
fn yaml_11_ambiguous_strings_stay_strings() {
    use k8s_openapi::api::core::v1::Namespace;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    let pairs: BTreeMap<String, String> = AMBIGUOUS
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("k{i:02}"), (*s).to_owned()))
        .collect();
    let keys: BTreeMap<String, String> = AMBIGUOUS
        .iter()
        .map(|s| ((*s).to_owned(), (*s).to_owned()))
        .collect();
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some("t".into()),
            labels: Some(pairs.clone()),
            annotations: Some(keys.clone()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    let text = meshc::emit::yaml::document(&ns);
    // Every ambiguous scalar, key or value, is written quoted.
    for line in text.lines().filter(|l| l.starts_with("    ")) {
        let (key, value) = line
            .trim_start()
            .split_once(": ")
            .unwrap_or_else(|| panic!("{line:?}"));
        for part in [key, value] {
            let bare = part.trim_matches(['"', '\'']);
            if AMBIGUOUS.contains(&bare) {
                assert_ne!(part, bare, "{bare:?} is written plain in {line:?}");
            }
        }
    }
    // And a real YAML 1.1 reader agrees.
    let have_pyyaml = have_tool("python3")
        && Command::new("python3")
            .args(["-c", "import yaml"])
            .status()
            .is_ok_and(|s| s.success());
    if !prerequisite(
        have_pyyaml,
        "python3 with PyYAML (a YAML 1.1 reader) is not installed",
    ) {
        return;
    }
    let script = "import sys, json, yaml\n\
                  doc = yaml.safe_load(sys.stdin.read())\n\
                  json.dump({'labels': doc['metadata']['labels'], 'annotations': doc['metadata']['annotations']}, sys.stdout)";
    let output = run_with_stdin(Command::new("python3").args(["-c", script]), &text);
    let read: Value = serde_json::from_str(&output).unwrap_or_else(|e| panic!("{e}: {output}"));
    assert_eq!(
        read["labels"],
        json!(pairs),
        "PyYAML read the label values differently"
    );
    assert_eq!(
        read["annotations"],
        json!(keys),
        "PyYAML read the annotation keys differently"
    );
}

fn run_with_stdin(cmd: &mut Command, input: &str) -> String {
    use std::io::Write;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// ---- snapshots and expectations -------------------------------------------------

/// A snapshot name for an artifact path: `kubernetes/clusters/c/ns/f.yaml` →
/// `clusters__c__ns__f.yaml`, `kubernetes/mesh/ns/f.yaml` → `mesh__ns__f.yaml`.
fn snapshot_name(path: &str) -> String {
    path.trim_start_matches("kubernetes/").replace('/', "__")
}

#[test]
fn kubernetes_output_matches_the_snapshots() {
    for (example, path) in examples() {
        let dir = root().join("snapshots/kubernetes").join(&example);
        let artifacts = build(&path);
        assert!(!artifacts.is_empty(), "{example} emits nothing");
        let mut expected = BTreeSet::new();
        for a in &artifacts {
            let name = snapshot_name(&a.path);
            expected.insert(format!("{name}.snap"));
            insta::with_settings!({
                snapshot_path => &dir,
                prepend_module_to_snapshot => false,
                omit_expression => true,
                description => format!("examples/{example}/topology.kdl → {}", a.path),
            }, {
                insta::assert_snapshot!(name, a.contents);
            });
        }
        // A file meshc no longer writes leaves no snapshot behind.
        let orphans: Vec<String> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                    .filter(|n| n.ends_with(".snap") && !expected.contains(n))
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            orphans.is_empty(),
            "{example}: orphan snapshots (delete them): {orphans:?}"
        );
    }
}

#[test]
fn the_same_input_gives_the_same_bytes() {
    for (example, path) in examples() {
        assert_eq!(build(&path), build(&path), "{example}");
        // The TOML twin says the same, so it emits the same (but for the
        // file name in the headers).
        let toml = path.with_extension("toml");
        if toml.is_file() {
            let strip = |a: Vec<Artifact>| -> Vec<(String, String)> {
                a.into_iter()
                    .map(|a| {
                        (
                            a.path,
                            a.contents
                                .split_once('\n')
                                .map(|x| x.1.to_owned())
                                .unwrap_or_default(),
                        )
                    })
                    .collect()
            };
            assert_eq!(
                strip(build(&path)),
                strip(build(&toml)),
                "{example}: KDL and TOML emit differently"
            );
        }
    }
}

/// The objects one control-plane cluster of an example receives, by (kind,
/// namespace, name): its own directory and the shared `mesh/` one, as the
/// layout's documentation says to apply them.
fn objects_of(example: &str, cluster: &str) -> BTreeMap<(String, String, String), Value> {
    let path = root().join("examples").join(example).join("topology.kdl");
    let mut out = BTreeMap::new();
    for a in build(&path).into_iter().filter(|a| {
        a.path.starts_with(&format!("kubernetes/clusters/{cluster}/"))
            || a.path.starts_with("kubernetes/mesh/")
    }) {
        for o in documents(&a.path, &a.contents) {
            let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            out.insert(
                (
                    s(&o["kind"]),
                    s(&o["metadata"]["namespace"]),
                    s(&o["metadata"]["name"]),
                ),
                o,
            );
        }
    }
    out
}

fn get<'a>(
    objects: &'a BTreeMap<(String, String, String), Value>,
    kind: &str,
    ns: &str,
    name: &str,
) -> &'a Value {
    objects
        .get(&(kind.to_owned(), ns.to_owned(), name.to_owned()))
        .unwrap_or_else(|| {
            panic!(
                "no {kind} {ns}/{name}; have {:#?}",
                objects.keys().collect::<Vec<_>>()
            );
        })
}

/// The acceptance criteria for the two Bookinfo examples.
#[test]
fn bookinfo_expectations() {
    // Legacy: `istioctl register` objects for the two VM services.
    let legacy = objects_of("bookinfo-legacy", "ack-hangzhou");
    for (svc, ip, port_name, port) in [
        ("details", "192.168.3.201", "http", 9080),
        ("mysqldb", "192.168.3.202", "mysql", 3306),
    ] {
        let service = get(&legacy, "Service", "bookinfo", svc);
        assert!(
            service["spec"].get("selector").is_none(),
            "{svc}: a registered Service has no selector"
        );
        assert_eq!(
            service["spec"]["ports"],
            json!([{"name": port_name, "port": port}]),
            "{svc}"
        );
        let endpoints = get(&legacy, "Endpoints", "bookinfo", svc);
        assert_eq!(
            endpoints["subsets"],
            json!([{"addresses": [{"ip": ip}], "ports": [{"name": port_name, "port": port}]}]),
            "{svc}"
        );
    }
    // Modern: WorkloadEntries with the VM addresses, Services selecting them.
    let modern = objects_of("bookinfo-vm", "ack-hangzhou");
    for (svc, ip, port) in [
        ("details", "192.168.3.201", 9080),
        ("mysqldb", "192.168.3.202", 3306),
    ] {
        let entry = modern
            .iter()
            .find(|((k, ns, _), o)| {
                k == "WorkloadEntry" && ns == "bookinfo" && o["spec"]["labels"]["app"] == svc
            })
            .map(|(_, o)| o)
            .unwrap_or_else(|| panic!("no WorkloadEntry for {svc}"));
        assert_eq!(entry["spec"]["address"], ip, "{svc}");
        let service = get(&modern, "Service", "bookinfo", svc);
        let selector = service["spec"]["selector"].as_object().expect("a selector");
        assert!(!selector.is_empty());
        for (k, v) in selector {
            assert_eq!(
                &entry["spec"]["labels"][k], v,
                "{svc}: the Service must select the entry"
            );
        }
        assert_eq!(service["spec"]["ports"][0]["port"], port, "{svc}");
    }
    for (objects, flavour) in [(&legacy, "legacy"), (&modern, "modern")] {
        // ratings: all traffic to v2-mysql-vm.
        let vs = get(objects, "VirtualService", "bookinfo", "ratings");
        assert_eq!(
            vs["spec"]["http"],
            json!([{"route": [{"destination": {"host": "ratings.bookinfo.svc.cluster.local", "subset": "v2-mysql-vm"}, "weight": 100}]}]),
            "{flavour}"
        );
        // reviews: all traffic to v3, as the seed's
        // virtual-service-ratings-mysql-vm.yaml routes it (v1 never calls
        // ratings, so without this two page loads in three skip the VM).
        let vs = get(objects, "VirtualService", "bookinfo", "reviews");
        assert_eq!(
            vs["spec"]["http"],
            json!([{"route": [{"destination": {"host": "reviews.bookinfo.svc.cluster.local", "subset": "v3"}, "weight": 100}]}]),
            "{flavour}"
        );
        // reviews: subsets v1–v3.
        let dr = get(objects, "DestinationRule", "bookinfo", "reviews");
        let subsets: Vec<&str> = dr["spec"]["subsets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["name"].as_str())
            .collect();
        assert_eq!(subsets, ["v1", "v2", "v3"], "{flavour}");
        // Legacy Bookinfo says `data-plane-mtls #true`: Istio 1.0 does not
        // merge a host's rule with the mesh-wide one, so each rule must ask
        // for ISTIO_MUTUAL itself or reviews → ratings fails with 503.
        // The modern example leaves it to automatic mutual TLS.
        let rules: Vec<&Value> = objects
            .values()
            .filter(|o| o["kind"] == "DestinationRule")
            .collect();
        assert!(rules.len() >= 2, "{flavour}");
        for rule in rules {
            let tls = &rule["spec"]["trafficPolicy"]["tls"]["mode"];
            match flavour {
                "legacy" => assert_eq!(tls, "ISTIO_MUTUAL", "{rule:#}"),
                _ => assert!(tls.is_null(), "{rule:#}"),
            }
        }
        // mysqldb.bookinfo.svc.cluster.local resolves: a Service named
        // mysqldb in bookinfo, or a ServiceEntry for that host.
        let host = "mysqldb.bookinfo.svc.cluster.local";
        let reachable = objects.contains_key(&("Service".into(), "bookinfo".into(), "mysqldb".into()))
            || objects.values().any(|o| {
                o["kind"] == "ServiceEntry"
                    && o["spec"]["hosts"]
                        .as_array()
                        .is_some_and(|h| h.contains(&json!(host)))
            });
        assert!(reachable, "{flavour}: nothing serves {host}");
    }
}

/// Istio configuration is written once, under `mesh/`, never in a
/// cluster's directory; and every namespace it lives in is created in every
/// control-plane cluster.
#[test]
fn istio_configuration_is_written_once() {
    for (example, path) in examples() {
        let artifacts = build(&path);
        let mut mesh_namespaces = BTreeSet::new();
        for a in &artifacts {
            for o in documents(&a.path, &a.contents) {
                let kind = o["kind"].as_str().unwrap_or_default();
                let shared = matches!(
                    kind,
                    "DestinationRule" | "Sidecar" | "AuthorizationPolicy" | "ServiceEntry"
                ) || (kind == "VirtualService" && o["spec"]["gateways"].is_null());
                if a.path.starts_with("kubernetes/mesh/") {
                    assert!(
                        shared || kind == "WorkloadEntry",
                        "{example}: {} holds a {kind}, which is not shared configuration",
                        a.path
                    );
                    mesh_namespaces
                        .insert(o["metadata"]["namespace"].as_str().unwrap_or_default().to_owned());
                } else {
                    assert!(
                        !shared,
                        "{example}: {} holds a {kind}, which belongs in mesh/",
                        a.path
                    );
                }
            }
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let source = Source::new("topology.kdl".to_owned(), text);
        let (checked, _) = meshc::check_source(&source, Syntax::Kdl, Limits::default());
        let checked = checked.expect("the example checks");
        let planes: Vec<&str> = checked
            .topology()
            .clusters
            .iter()
            .filter(|c| c.runs_control_plane())
            .map(|c| c.name.value.as_str())
            .collect();
        assert!(!planes.is_empty(), "{example}: no control-plane cluster found");
        for cluster in planes {
            for ns in &mesh_namespaces {
                let file = format!("kubernetes/clusters/{cluster}/{ns}/namespace.yaml");
                let namespace = artifacts
                    .iter()
                    .find(|a| a.path == file)
                    .unwrap_or_else(|| panic!("{example}: {file} is missing"));
                assert!(
                    namespace.contents.contains("kind: Namespace"),
                    "{example}: {file}"
                );
            }
        }
    }
}

#[test]
fn multicluster_expectations() {
    let east = objects_of("multicluster", "east");
    let west = objects_of("multicluster", "west");
    // The network is on every WorkloadEntry and group template.
    let entries: Vec<&Value> = east
        .values()
        .chain(west.values())
        .filter(|o| o["kind"] == "WorkloadEntry")
        .collect();
    assert!(!entries.is_empty());
    for e in &entries {
        assert_eq!(e["spec"]["network"], "net-west", "{e:#}");
    }
    for o in east
        .values()
        .chain(west.values())
        .filter(|o| o["kind"] == "WorkloadGroup")
    {
        assert_eq!(o["spec"]["template"]["network"], "net-west", "{o:#}");
    }
    // Both clusters expose services across networks and label their
    // control-plane namespace with their network.
    for (objects, network) in [(&east, "net-east"), (&west, "net-west")] {
        get(objects, "Gateway", "istio-system", "cross-network-gateway");
        get(objects, "Gateway", "istio-system", "istiod-gateway");
        get(objects, "VirtualService", "istio-system", "istiod-vs-1-24");
        let ns = get(objects, "Namespace", "", "istio-system");
        assert_eq!(ns["metadata"]["labels"]["topology.istio.io/network"], network);
    }
}

// ---- external validators ------------------------------------------------------------

/// Writes every example's manifests under `dir/<example>/…`; returns the
/// number of YAML documents written.
pub fn write_examples(dir: &Path) -> usize {
    let mut docs = 0;
    for (example, path) in examples() {
        for a in build(&path) {
            let target = dir.join(&example).join(&a.path);
            std::fs::create_dir_all(target.parent().expect("a parent")).expect("mkdir");
            std::fs::write(&target, &a.contents).expect("write");
            docs += a.contents.split("\n---\n").count();
        }
    }
    docs
}

/// kubectl's client-side decoder (a YAML 1.1 reader, the one `kubectl
/// apply` uses) takes every document: each one reaches the "unable to
/// recognize" step (there is no API server to map kinds), none fails to
/// decode.
#[test]
fn kubectl_decodes_every_document() {
    if !prerequisite(have_tool("kubectl"), "kubectl is not installed") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let docs = write_examples(dir.path());
    // No kubeconfig, and a server address that refuses at once, so a
    // developer's real cluster is never contacted.
    let out = Command::new("kubectl")
        .args([
            "--kubeconfig=/dev/null",
            "--server=http://127.0.0.1:9",
            "create",
            "--dry-run=client",
        ])
        .args(["--validate=false", "-o", "name", "-R", "-f"])
        .arg(dir.path())
        .output()
        .expect("run kubectl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let undecoded: Vec<&str> = text.lines().filter(|l| l.contains("unable to decode")).collect();
    assert!(
        undecoded.is_empty(),
        "kubectl could not decode:\n{}",
        undecoded.join("\n")
    );
    let recognized = text
        .lines()
        .filter(|l| l.starts_with("unable to recognize"))
        .count();
    assert_eq!(
        recognized, docs,
        "every document should reach kind mapping:\n{text}"
    );
}

/// The `kubernetes-validate` command: its console script, or the module
/// when pip put the script outside `PATH`.
fn kubernetes_validate() -> Option<Command> {
    if have_tool("kubernetes-validate") {
        return Some(Command::new("kubernetes-validate"));
    }
    let module = have_tool("python3")
        && Command::new("python3")
            .args(["-c", "import kubernetes_validate"])
            .status()
            .is_ok_and(|s| s.success());
    module.then(|| {
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "kubernetes_validate"]);
        cmd
    })
}

/// `kubernetes-validate --strict` (Kubernetes' own OpenAPI schemas, unknown
/// fields rejected) over the core objects of every example. Istio kinds are
/// left out: the tool has no CRD schemas (see the CRD test above).
#[test]
fn kubernetes_validate_accepts_every_core_object() {
    let Some(mut validate) = kubernetes_validate() else {
        prerequisite(
            false,
            "kubernetes-validate is not installed (pip install kubernetes-validate)",
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = Vec::new();
    for (example, path) in examples() {
        for a in build(&path) {
            // Documents as written, without the header line.
            let body = a.contents.split_once('\n').map_or("", |(_, rest)| rest);
            let core: Vec<&str> = body
                .split("\n---\n")
                .map(|d| d.trim_end_matches('\n'))
                .filter(|d| d.starts_with("apiVersion: v1\n"))
                .collect();
            if core.is_empty() {
                continue;
            }
            let target = dir.path().join(format!("{example}__{}", snapshot_name(&a.path)));
            std::fs::write(&target, core.join("\n---\n") + "\n").expect("write");
            files.push(target);
        }
    }
    assert!(!files.is_empty());
    // The schema version k8s-openapi's feature (v1_33) describes.
    let out = validate
        .args(["--strict", "-k", "1.33.0", "--quiet"])
        .args(&files)
        .output()
        .expect("run kubernetes-validate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && !text.contains("ERROR"),
        "kubernetes-validate rejected:\n{text}"
    );
}
