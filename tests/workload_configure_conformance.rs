//! The VM files meshc writes, checked against Istio's own goldens for
//! `istioctl x workload entry configure`, and against bash for the env file.
//!
//! The golden cases live in `../shared/reference/istio/workload-entry-configure/`
//! (see its `cases.md` for the command lines and fake cluster state). Each
//! case's inputs are restated here as a `WorkloadEnv`; a light check ties
//! them to the case's own input files so the two cannot drift apart silently.
//!
//! `cluster.env` is shell code (`istio-start.sh` sources it under `set -a`),
//! so the second half sources what meshc writes with a real bash and
//! compares what bash read with what was meant, over many generated values.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use meshc::emit::vm::cluster_env::{
    HealthCheck, HttpGet, ReadinessProbe, WorkloadAddress, WorkloadEnv, cluster_env, cluster_env_entries,
    legacy_cluster_env,
};
use meshc::emit::vm::hosts::hosts;
use meshc::emit::vm::mesh_yaml::mesh_yaml;
use meshc::emit::vm::quote::{
    EnvKey, EnvValue, go_shellescape, posix_single_quote, quote_env_value, quote_unless_plain,
};

use crate::support;

/// One upstream case: its folder and the flags/cluster state it ran with.
struct Case {
    folder: &'static str,
    internal_ip: &'static str,
    ingress_ip: Option<&'static str>,
    revision: Option<&'static str>,
    /// The mesh ConfigMap's proxyMetadata merged with the WorkloadGroup's
    /// `proxy.istio.io/config` annotation (the annotation wins).
    proxy_metadata: &'static [(&'static str, &'static str)],
}

const CASES: [Case; 3] = [
    Case {
        folder: "vmconfig/ipv4",
        internal_ip: "10.10.10.10",
        ingress_ip: Some("10.10.10.11"),
        revision: Some("rev-1"),
        proxy_metadata: &[
            ("CLUSTER_MESH_CONFIG_VALUE", "foo"),
            ("ISTIO_META_DNS_CAPTURE", "false"),
            ("PROXY_CONFIG_ANNOT_VALUE", "bar"),
        ],
    },
    Case {
        folder: "vmconfig/ipv6",
        internal_ip: "fd00:10:96::1",
        ingress_ip: Some("fd00:10:96::2"),
        revision: Some("rev-1"),
        proxy_metadata: &[
            ("CLUSTER_MESH_CONFIG_VALUE", "foo"),
            ("ISTIO_META_DNS_CAPTURE", "false"),
            ("PROXY_CONFIG_ANNOT_VALUE", "bar"),
        ],
    },
    Case {
        folder: "vmconfig-nil-proxy-metadata",
        internal_ip: "10.10.10.10",
        ingress_ip: None,
        revision: None,
        proxy_metadata: &[],
    },
];

fn parse_ip(text: &str) -> IpAddr {
    text.parse()
        .unwrap_or_else(|e| panic!("bad IP {text:?} in the test table: {e}"))
}

/// An env value from this file's tables (none has a NUL).
fn value(text: &str) -> EnvValue {
    EnvValue::new(text).unwrap_or_else(|e| panic!("{e}"))
}

/// An env key from this file's tables (each is a shell name).
fn key(text: &str) -> EnvKey {
    EnvKey::new(text).unwrap_or_else(|e| panic!("{e}"))
}

/// The `WorkloadEnv` istioctl resolved for `case`: WorkloadGroup `bar/foo`,
/// service account `vm-serviceaccount`, no labels or ports, probe
/// `httpGet.port: 8080`, `--clusterID Kubernetes`, default flags otherwise.
fn workload_env(case: &Case) -> WorkloadEnv {
    WorkloadEnv {
        name: value("foo"),
        namespace: value("bar"),
        service_account: value("vm-serviceaccount"),
        labels: BTreeMap::new(),
        ports: BTreeMap::new(),
        network: EnvValue::default(),
        cluster_id: value("Kubernetes"),
        mesh_id: EnvValue::default(),
        trust_domain: EnvValue::default(),
        revision: case.revision.map(value),
        istio_namespace: value("istio-system"),
        address: Some(WorkloadAddress::Internal(parse_ip(case.internal_ip))),
        capture_dns: true,
        status_port: None,
        autoregister: false,
        proxy_metadata: case
            .proxy_metadata
            .iter()
            .map(|(k, v)| (key(k), value(v)))
            .collect(),
        readiness_probe: Some(ReadinessProbe {
            method: Some(HealthCheck::HttpGet(HttpGet {
                port: 8080,
                ..HttpGet::default()
            })),
            ..ReadinessProbe::default()
        }),
        discovery_address: None,
    }
}

fn read(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Guard against the table above drifting from the case's input files.
fn assert_inputs_match(case: &Case, dir: &Path) {
    let group = read(dir, "workloadgroup.yaml");
    for needle in [
        "name: foo",
        "namespace: bar",
        "serviceAccount: vm-serviceaccount",
        "port: 8080",
    ] {
        assert!(
            group.contains(needle),
            "{}: workloadgroup.yaml lacks {needle:?}",
            case.folder
        );
    }
    let annotated = group.contains("PROXY_CONFIG_ANNOT_VALUE: bar");
    assert_eq!(
        annotated,
        case.proxy_metadata.contains(&("PROXY_CONFIG_ANNOT_VALUE", "bar")),
        "{}: annotation and table disagree",
        case.folder
    );
    if let Ok(mesh) = std::fs::read_to_string(dir.join("meshconfig.yaml")) {
        assert!(
            mesh.contains("CLUSTER_MESH_CONFIG_VALUE: \"foo\""),
            "{}",
            case.folder
        );
        assert!(
            mesh.contains("ISTIO_META_DNS_CAPTURE: \"false\""),
            "{}",
            case.folder
        );
    }
}

fn case_dir(reference: &Path, folder: &str) -> PathBuf {
    reference.join("istio/workload-entry-configure").join(folder)
}

#[test]
fn generated_files_equal_the_istioctl_goldens() {
    let Some(reference) = support::reference_dir() else {
        return;
    };
    let mut checked = 0;
    for case in &CASES {
        let dir = case_dir(&reference, case.folder);
        if !dir.is_dir() {
            eprintln!("skipping {}: not in the reference data", case.folder);
            continue;
        }
        assert_inputs_match(case, &dir);
        let env = workload_env(case);
        let cluster = cluster_env(&env);
        assert_eq!(
            cluster,
            read(&dir, "cluster.env.golden"),
            "{}: cluster.env",
            case.folder
        );
        assert_eq!(
            mesh_yaml(&env),
            read(&dir, "mesh.yaml.golden"),
            "{}: mesh.yaml",
            case.folder
        );
        let ingress = case.ingress_ip.map(parse_ip);
        assert_eq!(
            hosts(
                ingress,
                env.istio_namespace.as_str(),
                env.revision.as_ref().map(EnvValue::as_str)
            ),
            read(&dir, "hosts.golden"),
            "{}: hosts",
            case.folder
        );
        checked += 1;
    }
    // ipv4 and nil-proxy-metadata are always in the reference data.
    assert!(checked >= 2, "only {checked} golden cases found");
}

/// The reference data may lack `vmconfig/ipv6`; upstream's golden for it
/// (istio/istio `istioctl/pkg/workload/testdata/vmconfig/ipv6/`, commit
/// 461f85ba) is the ipv4 file with only `ISTIO_SVC_IP` changed, and its
/// hosts line names `fd00:10:96::2`. Check that much without the folder.
#[test]
fn ipv6_case_differs_from_ipv4_only_in_the_addresses() {
    let Some(reference) = support::reference_dir() else {
        return;
    };
    let ipv4 = case_dir(&reference, CASES[0].folder);
    let ipv6 = &CASES[1];
    let env = workload_env(ipv6);
    let expected = read(&ipv4, "cluster.env.golden")
        .replace("ISTIO_SVC_IP='10.10.10.10'", "ISTIO_SVC_IP='fd00:10:96::1'");
    assert_eq!(cluster_env(&env), expected);
    assert_eq!(mesh_yaml(&env), read(&ipv4, "mesh.yaml.golden"));
    assert_eq!(
        hosts(
            ipv6.ingress_ip.map(parse_ip),
            env.istio_namespace.as_str(),
            env.revision.as_ref().map(EnvValue::as_str)
        ),
        "fd00:10:96::2 istiod-rev-1.istio-system.svc\n"
    );
}

// ---------------------------------------------------------------------------
// bash reads back exactly what was meant

/// A deterministic xorshift generator: reproducible cases, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        // n is tiny, so the modulo bias does not matter here.
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }
}

/// Pieces chosen to hit every rule: Go's quirk-safe set, backslashes,
/// quotes, expansions, globs, whitespace, line breaks and non-ASCII.
const PIECES: &[&str] = &[
    "a",
    "w",
    "W",
    "Z",
    "0",
    "9",
    "_",
    "@",
    "%",
    "+",
    "=",
    ":",
    ",",
    ".",
    "/",
    "-",
    "\\",
    "\\\\",
    "'",
    "\"",
    "$",
    "`",
    "!",
    "*",
    "?",
    "[",
    "]",
    "{",
    "}",
    "~",
    "#",
    ";",
    "&",
    "|",
    "<",
    ">",
    "(",
    ")",
    " ",
    "\t",
    "\n",
    "\r",
    "é",
    "日本",
    "\u{1f600}",
    "$(id)",
    "${HOME}",
    "'\\''",
    "\\\n",
    "\\'",
    "$'x'",
    "\u{7f}",
    "\u{1}",
];

fn generated_values(count: usize) -> Vec<String> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut values = vec![String::new(), "\\".to_owned(), "w\\".to_owned(), "'".to_owned()];
    while values.len() < count {
        let len = rng.below(10);
        let value: String = (0..len).map(|_| PIECES[rng.below(PIECES.len())]).collect();
        values.push(value);
    }
    values
}

/// Source `file` with bash (under `set -a`, as istio-start.sh does) and
/// return the values of `keys`, NUL-separated by printf.
fn bash_reads(file: &str, keys: &[String], tag: &str) -> Vec<Vec<u8>> {
    let path = std::env::temp_dir().join(format!("meshc-vm-quote-{}-{tag}.env", std::process::id()));
    std::fs::write(&path, file).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let printed: Vec<String> = keys.iter().map(|k| format!("\"${k}\"")).collect();
    let script = format!(
        "set -a; . '{}'; set +a; printf '%s\\0' {}",
        path.display(),
        printed.join(" ")
    );
    let output = Command::new("bash")
        .args(["--noprofile", "--norc", "-c", &script])
        .env("LC_ALL", "C")
        .output();
    let _ = std::fs::remove_file(&path);
    let output = output.unwrap_or_else(|e| panic!("running bash: {e}"));
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "bash failed sourcing the {tag} file: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut values: Vec<Vec<u8>> = output.stdout.split(|b| *b == 0).map(<[u8]>::to_vec).collect();
    // printf ends every value with NUL, so the split leaves one empty tail.
    assert_eq!(values.pop(), Some(Vec::new()));
    values
}

fn have_bash() -> bool {
    support::prerequisite(support::have_tool("bash"), "bash is not on PATH")
}

fn assert_round_trip(quote: fn(&str) -> String, tag: &str) {
    let values = generated_values(3000);
    let keys: Vec<String> = (0..values.len()).map(|i| format!("V{i}")).collect();
    let file: String = keys
        .iter()
        .zip(&values)
        .map(|(k, v)| format!("{k}={}\n", quote(v)))
        .collect();
    let read = bash_reads(&file, &keys, tag);
    assert_eq!(read.len(), values.len());
    for (value, got) in values.iter().zip(&read) {
        assert_eq!(
            String::from_utf8_lossy(got),
            value.as_str(),
            "{tag}: {value:?} written as {:?}",
            quote(value)
        );
    }
}

#[test]
fn bash_reads_back_every_quoted_value() {
    if !have_bash() {
        return;
    }
    assert_round_trip(quote_env_value, "modern");
    assert_round_trip(posix_single_quote, "posix");
    assert_round_trip(quote_unless_plain, "legacy");
}

#[test]
fn go_shellescape_alone_would_be_misread_by_bash() {
    if !have_bash() {
        return;
    }
    // Why meshc does not use Go's quoting for backslashes: `\w` is read as
    // `w`, and a trailing `\` swallows the newline and the next line.
    let values = ["w\\w".to_owned(), "\\".to_owned(), "next".to_owned()];
    let keys: Vec<String> = vec!["A".into(), "B".into(), "C".into()];
    let file: String = keys
        .iter()
        .zip(&values)
        .map(|(k, v)| format!("{k}={}\n", go_shellescape(v)))
        .collect();
    assert_eq!(file, "A=w\\w\nB=\\\nC='next'\n");
    let read = bash_reads(&file, &keys, "go");
    assert_eq!(read[0], b"ww");
    assert_ne!(read[1], b"\\");
}

#[test]
fn bash_sources_a_whole_cluster_env_as_meant() {
    if !have_bash() {
        return;
    }
    let mut env = workload_env(&CASES[0]);
    env.labels = [
        ("app".to_owned(), value("it's <html> & \"json\"")),
        ("version".to_owned(), value("w\\")),
    ]
    .into_iter()
    .collect();
    env.ports = [("http".to_owned(), 8080), ("tcp".to_owned(), 3306)]
        .into_iter()
        .collect();
    env.proxy_metadata = generated_values(400)
        .into_iter()
        .enumerate()
        .map(|(i, v)| (key(&format!("X_{i}")), value(&v)))
        .collect();
    let file = cluster_env(&env);
    let entries = cluster_env_entries(&env);
    let keys: Vec<String> = entries.keys().map(EnvKey::to_string).collect();
    let read = bash_reads(&file, &keys, "cluster");
    for ((key, value), got) in entries.iter().zip(&read) {
        assert_eq!(String::from_utf8_lossy(got), value.as_str(), "{key}");
    }
}

#[test]
fn bash_sources_the_legacy_file() {
    if !have_bash() {
        return;
    }
    let file = legacy_cluster_env(
        &value("10.0.0.0/16 $(id)"),
        &value("istio-system"),
        &value("MUTUAL_TLS"),
    );
    let keys: Vec<String> = ["ISTIO_SERVICE_CIDR", "ISTIO_SYSTEM_NAMESPACE", "ISTIO_CP_AUTH"]
        .map(str::to_owned)
        .to_vec();
    let read = bash_reads(&file, &keys, "legacy-file");
    let expected: [&[u8]; 3] = [b"10.0.0.0/16 $(id)", b"istio-system", b"MUTUAL_TLS"];
    assert_eq!(read, expected.map(<[u8]>::to_vec));
}

/// #15.8: a legacy bundle's `cluster.env` has exactly the keys, in order,
/// of `setupMeshEx.sh generateClusterEnv` (Istio 1.0.0), as the reference
/// notes tabulate them (`istio-formats.md` §a.1).
#[test]
fn legacy_cluster_env_has_exactly_the_setup_mesh_ex_keys() {
    let Some(reference) = support::reference_dir() else {
        return;
    };
    let doc = std::fs::read_to_string(reference.join("istio-formats.md")).unwrap();
    let start = doc.find("### a.1").expect("istio-formats.md has no §a.1");
    let end = start
        + doc[start..]
            .find("### a.2")
            .expect("istio-formats.md has no §a.2");
    // Rows `| 1 | `KEY` | …`.
    let upstream: Vec<&str> = doc[start..end]
        .lines()
        .filter_map(|l| {
            let mut cells = l.split('|').map(str::trim).skip(1);
            let number = cells.next()?;
            let key = cells.next()?;
            (number.parse::<u32>().is_ok()).then(|| key.trim_matches('`'))
        })
        .collect();
    assert_eq!(
        upstream,
        ["ISTIO_SERVICE_CIDR", "ISTIO_SYSTEM_NAMESPACE", "ISTIO_CP_AUTH"]
    );
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/bookinfo-legacy/topology.kdl"),
    )
    .unwrap();
    let source = meshc::source::Source::new("topology.kdl".to_owned(), text);
    let (checked, diags) = meshc::check_source(
        &source,
        meshc::syntax::Syntax::Kdl,
        meshc::syntax::Limits::default(),
    );
    let checked = checked.unwrap_or_else(|| panic!("{diags:#?}"));
    let mut seen = 0;
    for a in meshc::emit::vm::bundle::emit(&checked, "topology.kdl") {
        if !a.path.ends_with("/cluster.env") {
            continue;
        }
        seen += 1;
        let keys: Vec<&str> = a
            .contents
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('=').map(|(k, _)| k))
            .collect();
        assert_eq!(keys, upstream, "{}", a.path);
    }
    assert!(seen > 0, "the legacy example has no VM bundle");
}
