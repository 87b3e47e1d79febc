//! Property tests: no string from a topology can change the shape of a
//! generated shell, env, dnsmasq or hosts file.
//!
//! Two levels:
//! - the quoting functions of `emit::vm::quote` and `text`, over arbitrary
//!   Unicode (NUL included), read back by bash in batches: whatever they
//!   quote, bash reads back exactly, as one word, on as many lines as the
//!   value itself has;
//! - the whole pipeline: a hostile string put into one field of a topology
//!   (a name, a label, `ssh`, a probe path, …) is either refused with an
//!   error diagnostic, or, when `meshc::compile` accepts it, written so that
//!   sourcing the env files (`set -a; . FILE`) gives back exactly that
//!   value, runs nothing, and adds no key, and no VM file gains a line;
//!   `dnsmasq --test` passes on the dnsmasq file.
//!
//! Each check that needs bash or dnsmasq skips with one printed line when
//! the tool is absent (`support::prerequisite`). The case counts keep the
//! file well under 20 s in a debug build.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use meshc::artifact::Artifact;
use meshc::emit::vm::quote::{
    Quoting, Unrepresentable, env_line, go_json_string, go_shellescape, posix_single_quote, quote_env_value,
    quote_unless_plain,
};
use meshc::emit::vm::text::{comment_text, env_assignment, header, is_dns_name};
use meshc::source::Source;
use meshc::syntax::{Limits, Syntax};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};

use crate::support::{have_tool, prerequisite};

/// Whether bash (and dnsmasq) can be used; prints the skip line once.
fn bash() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| prerequisite(have_tool("bash"), "bash is not installed"))
}

fn dnsmasq() -> Option<&'static str> {
    static PATH: OnceLock<Option<&'static str>> = OnceLock::new();
    *PATH.get_or_init(|| {
        // dnsmasq lives in sbin, which a user's PATH may lack.
        let found = ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq", "/sbin/dnsmasq"]
            .into_iter()
            .find(|p| Path::new(p).is_file())
            .or_else(|| have_tool("dnsmasq").then_some("dnsmasq"));
        prerequisite(found.is_some(), "dnsmasq is not installed").then_some(found?)
    })
}

/// Runs a bash script from stdin in an empty environment and the C locale;
/// returns (stdout, stderr, success).
fn run_bash(script: &[u8], args: &[&Path]) -> (Vec<u8>, String, bool) {
    let mut child = Command::new("bash")
        .arg("-s")
        .args(args)
        .env_clear()
        .env("LC_ALL", "C")
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn bash");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script)
        .expect("script");
    let out = child.wait_with_output().expect("bash");
    (
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

/// Strings a topology might smuggle: mostly shell and line syntax, look-
/// alikes and invisible characters, plus any Unicode at all.
pub(crate) fn nasty() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z][a-z0-9-]{0,12}[a-z0-9]",
        2 => "[a-z0-9._-]{0,20}",
        4 => "[a-zA-Z0-9 $`;'\"\\\\\\n\\r\\t\\x00./_@%+=:,|&<>(){}#~*?!^\\[\\]-]{0,16}",
        2 => "[\u{430}\u{202e}\u{200d}\u{ff11}\u{feff}\u{2028}\u{85}\u{1b}a-z0-9.-]{0,12}",
        1 => any::<String>(),
    ]
}

// ---------------------------------------------------------------------
// The quoting functions, read back by bash.

/// `printf '%s\0' QUOTED` for each value, in one bash run; the values bash
/// printed. One extra or missing word shows up as a different count.
fn bash_reads(quoted: &[String]) -> Vec<String> {
    let mut script = String::new();
    for q in quoted {
        script.push_str(&format!("printf '%s\\0' {q}\n"));
    }
    let (out, err, ok) = run_bash(script.as_bytes(), &[]);
    assert!(ok && err.is_empty(), "bash failed: {err}");
    let mut words: Vec<String> = out
        .split(|&b| b == 0)
        .map(|w| String::from_utf8(w.to_vec()).expect("UTF-8 back"))
        .collect();
    words.pop(); // after the last NUL
    words
}

fn no_nul(v: &[String]) -> Vec<String> {
    v.iter().map(|s| s.replace('\0', "")).collect()
}

proptest! {
    #![proptest_config(Config { cases: 128, ..Config::default() })]

    /// posix_single_quote, quote_env_value and quote_unless_plain read back
    /// exactly, as one word, without adding a line.
    #[test]
    fn shell_quoting_reads_back_exactly(values in prop::collection::vec(nasty(), 1..48)) {
        let values = no_nul(&values);
        for f in [posix_single_quote, quote_env_value, quote_unless_plain] {
            for v in &values {
                prop_assert_eq!(f(v).matches('\n').count(), v.matches('\n').count());
            }
            if bash() {
                let quoted: Vec<String> = values.iter().map(|v| f(v)).collect();
                prop_assert_eq!(bash_reads(&quoted), values.clone());
            }
        }
    }

    /// Go's shellescape is safe exactly when there is no backslash, and
    /// meshc's quoting equals it there.
    #[test]
    fn go_shellescape_is_safe_without_backslash(values in prop::collection::vec(nasty(), 1..48)) {
        let values: Vec<String> = no_nul(&values).into_iter().map(|v| v.replace('\\', "")).collect();
        for v in &values {
            prop_assert_eq!(quote_env_value(v), go_shellescape(v));
        }
        if bash() {
            let quoted: Vec<String> = values.iter().map(|v| go_shellescape(v)).collect();
            prop_assert_eq!(bash_reads(&quoted), values);
        }
    }

    /// env_line: an assignment bash reads back exactly, or an error for NUL;
    /// env_assignment never fails and drops only the NULs.
    #[test]
    fn env_lines_read_back_or_refuse_nul(values in prop::collection::vec(nasty(), 1..32)) {
        let mut script = String::new();
        let mut want = Vec::new();
        for (i, v) in values.iter().enumerate() {
            for (j, quoting) in [Quoting::IstioCompatible, Quoting::BareWhenPlain].into_iter().enumerate() {
                let key = format!("K{i}_{j}");
                match env_line(&key, v, quoting) {
                    Ok(line) => {
                        prop_assert!(!v.contains('\0'));
                        prop_assert_eq!(line.matches('\n').count(), v.matches('\n').count());
                        script.push_str(&format!("{line}\nprintf '%s\\0' \"${key}\"\n"));
                        want.push(v.clone());
                    }
                    Err(e) => prop_assert_eq!(e.kind, Unrepresentable::NulInValue),
                }
                let fallback = env_assignment(&key, v, quoting);
                script.push_str(&format!("{fallback}\nprintf '%s\\0' \"${key}\"\n"));
                want.push(v.replace('\0', ""));
            }
        }
        if bash() {
            let (out, err, ok) = run_bash(script.as_bytes(), &[]);
            prop_assert!(ok && err.is_empty(), "bash: {}", err);
            let mut got: Vec<String> = out.split(|&b| b == 0)
                .map(|w| String::from_utf8_lossy(w).into_owned()).collect();
            got.pop();
            prop_assert_eq!(got, want);
        }
    }

    /// Keys that are not shell names are refused, whatever the value.
    #[test]
    fn env_line_refuses_keys_that_are_not_shell_names(key in nasty(), v in "[a-z]{0,4}") {
        let is_name = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        match env_line(&key, &v, Quoting::IstioCompatible) {
            Ok(line) => {
                prop_assert!(is_name, "accepted key {:?}", key);
                let prefix = format!("{key}=");
                prop_assert!(line.starts_with(&prefix));
            }
            Err(e) => {
                prop_assert!(!is_name);
                prop_assert_eq!(e.kind, Unrepresentable::KeyNotAShellName);
            }
        }
    }

    /// go_json_string is valid JSON for the same string, and HTML-safe.
    #[test]
    fn go_json_string_round_trips(v in nasty()) {
        let json = go_json_string(&v);
        prop_assert_eq!(serde_json::from_str::<String>(&json).expect("valid JSON"), v);
        prop_assert!(!json.chars().any(|c| c.is_ascii_control()
            || matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}')), "{:?}", json);
    }

    /// A comment or header is one line, whatever the name in it.
    #[test]
    fn comments_cannot_break_their_line(v in nasty()) {
        prop_assert!(!comment_text(&v).chars().any(char::is_control));
        let h = header(&v);
        prop_assert_eq!(h.matches('\n').count(), 1);
        prop_assert!(h.ends_with('\n'));
    }
}

// ---------------------------------------------------------------------
// The whole pipeline.

/// Where a hostile string goes, and which env key, if any, must read it back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    TrustDomain,
    MeshId,
    Network,
    ClusterId,
    Ssh,
    LabelKey,
    LabelValue,
    Service,
    Namespace,
    ServiceAccount,
    Version,
    ProbePath,
    // Legacy flow (Istio 1.0, bare-when-plain env values, dnsmasq).
    LegacyControlPlaneNamespace,
    LegacyClusterDomain,
    LegacyService,
    LegacyNamespace,
}

use Field::*;

const FIELDS: &[Field] = &[
    TrustDomain,
    MeshId,
    Network,
    ClusterId,
    Ssh,
    LabelKey,
    LabelValue,
    Service,
    Namespace,
    ServiceAccount,
    Version,
    ProbePath,
    LegacyControlPlaneNamespace,
    LegacyClusterDomain,
    LegacyService,
    LegacyNamespace,
];

impl Field {
    fn legacy(self) -> bool {
        matches!(
            self,
            LegacyControlPlaneNamespace | LegacyClusterDomain | LegacyService | LegacyNamespace
        )
    }

    /// The env variable that carries the value verbatim.
    fn env_key(self) -> Option<&'static str> {
        Some(match self {
            TrustDomain => "TRUST_DOMAIN",
            MeshId => "ISTIO_META_MESH_ID",
            Network => "ISTIO_META_NETWORK",
            ClusterId => "ISTIO_META_CLUSTER_ID",
            Service => "CANONICAL_SERVICE",
            Namespace => "POD_NAMESPACE",
            ServiceAccount => "SERVICE_ACCOUNT",
            Version => "CANONICAL_REVISION",
            LegacyControlPlaneNamespace => "ISTIO_SYSTEM_NAMESPACE",
            _ => return None,
        })
    }

    /// A benign value, and prefixes that make a hostile one likelier to be
    /// accepted (so that the accepted side gets cases too).
    fn benign(self) -> &'static str {
        match self {
            TrustDomain | LegacyClusterDomain => "cluster.local",
            MeshId => "mesh1",
            Network => "vpc",
            ClusterId => "prod",
            Ssh => "root@10.0.1.5",
            LabelKey => "team",
            LabelValue => "db",
            Service | LegacyService => "mysql",
            Namespace | LegacyNamespace => "data",
            ServiceAccount => "mysql",
            Version => "v1",
            ProbePath => "/health",
            LegacyControlPlaneNamespace => "istio-system",
        }
    }
}

/// A KDL string literal for any value: escapes for `"`, `\` and every code
/// point KDL v2 forbids in a document (controls, bidi marks, BOM).
fn kdl_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control()
                || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}' | '\u{2028}' | '\u{2029}' | '\u{85}') =>
            {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The topology with `value` in `field` and benign values elsewhere.
fn topology(field: Field, value: &str) -> String {
    let v = |f: Field| kdl_string(if f == field { value } else { f.benign() });
    if field.legacy() {
        return format!(
            r#"mesh shop {{ istio "1.0.0"; control-plane-namespace {cpns} }}
network vpc {{ cidr "192.168.0.0/16" }}
cluster prod {{
    network vpc; pod-cidr "172.20.0.0/16"; service-cidr "172.21.0.0/20"; kube-dns "172.21.0.10"
    control-plane #true; cluster-domain {cd}
    ilb pilot="192.168.0.50" mixer="192.168.0.51" citadel="192.168.0.52" kube-dns="192.168.0.53"
}}
vm db {{ address "192.168.3.202"; network vpc; ssh "root@192.168.3.202"; dns dnsmasq }}
service {svc} namespace={ns} {{ port tcp 3306; deploy v1 vm=db; entry-point #true }}
"#,
            cpns = v(LegacyControlPlaneNamespace),
            cd = v(LegacyClusterDomain),
            svc = v(LegacyService),
            ns = v(LegacyNamespace),
        );
    }
    format!(
        r#"mesh shop {{ istio "1.24"; trust-domain {td}; mesh-id {mid} }}
network {net} {{ cidr "10.0.0.0/16" }}
cluster prod {{ network {net}; control-plane #true; east-west-gateway "10.0.0.100"; cluster-id {cid} }}
vm db {{ address "10.0.1.5"; network {net}; ssh {ssh}; labels {{ {lk} {lv} }} }}
service {svc} namespace={ns} {{
    service-account {sa}; port tcp 3306; deploy {ver} vm=db; entry-point #true
    probe http port=3306 path={path}
}}
"#,
        td = v(TrustDomain),
        mid = v(MeshId),
        net = v(Network),
        cid = v(ClusterId),
        ssh = v(Ssh),
        lk = v(LabelKey),
        lv = v(LabelValue),
        svc = v(Service),
        ns = v(Namespace),
        sa = v(ServiceAccount),
        ver = v(Version),
        path = v(ProbePath),
    )
}

fn compile(text: &str) -> (Option<Vec<Artifact>>, Vec<meshc::diagnostic::Diagnostic>) {
    meshc::compile(
        &Source::new("t.kdl", text.to_owned()),
        Syntax::Kdl,
        Limits::default(),
        "t.kdl",
    )
}

/// The VM's shell-facing files, by name (`cluster.env`, `install.sh`, …).
fn vm_files(artifacts: &[Artifact]) -> BTreeMap<String, String> {
    artifacts
        .iter()
        .filter_map(|a| {
            let name = a.path.strip_prefix("vms/db/")?;
            let shellish =
                name.ends_with(".env") || name.ends_with(".sh") || name.ends_with(".conf") || name == "hosts";
            shellish.then(|| (name.to_owned(), a.contents.clone()))
        })
        .collect()
}

/// What sourcing the env files (sidecar.env, then cluster.env, as
/// istio-start.sh does) under `set -a` defines.
fn sourced(files: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut paths = Vec::new();
    for name in ["sidecar.env", "cluster.env"] {
        if let Some(text) = files.get(name) {
            let p = dir.path().join(name);
            std::fs::write(&p, text).expect("write env");
            paths.push(p);
        }
    }
    let args: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    // The marker comes after the sourcing: anything the files ran and
    // printed lands before it.
    let script = b"set -a\nfor f in \"$@\"; do . \"$f\"; done\nprintf 'MARK\\0'\nenv -0\n";
    let (out, err, ok) = run_bash(script, &args);
    if !ok || !err.is_empty() {
        return Err(format!("sourcing failed: {err}"));
    }
    let Some(rest) = out.strip_prefix(b"MARK\0") else {
        return Err(format!(
            "sourcing printed something: {:?}",
            String::from_utf8_lossy(&out)
        ));
    };
    let mut vars = BTreeMap::new();
    for rec in rest.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let rec = String::from_utf8_lossy(rec);
        let (k, v) = rec
            .split_once('=')
            .ok_or_else(|| format!("not an assignment: {rec:?}"))?;
        // What bash itself exports.
        if !matches!(k, "PWD" | "OLDPWD" | "SHLVL" | "_" | "LC_ALL" | "PATH") {
            vars.insert(k.to_owned(), v.to_owned());
        }
    }
    Ok(vars)
}

/// What the benign topology of a flow produces: line counts of the VM files
/// and the env keys.
struct Baseline {
    lines: BTreeMap<String, usize>,
    keys: Option<BTreeSet<String>>,
}

fn baseline(legacy: bool) -> &'static Baseline {
    static MODERN: OnceLock<Baseline> = OnceLock::new();
    static LEGACY: OnceLock<Baseline> = OnceLock::new();
    let (cell, field) = if legacy {
        (&LEGACY, LegacyService)
    } else {
        (&MODERN, Service)
    };
    cell.get_or_init(|| {
        let (artifacts, diags) = compile(&topology(field, field.benign()));
        let artifacts = artifacts.unwrap_or_else(|| panic!("the benign topology fails: {diags:?}"));
        let files = vm_files(&artifacts);
        assert!(files.contains_key("cluster.env") && files.contains_key("install.sh"));
        assert_eq!(legacy, files.contains_key("dnsmasq.conf"), "{:?}", files.keys());
        assert_eq!(!legacy, files.contains_key("hosts"), "{:?}", files.keys());
        Baseline {
            lines: files
                .iter()
                .map(|(k, v)| (k.clone(), v.lines().count()))
                .collect(),
            keys: bash().then(|| sourced(&files).expect("benign env").into_keys().collect()),
        }
    })
}

/// Every promise about files built from a topology carrying `value`.
fn accepted(field: Field, value: &str, artifacts: &[Artifact]) -> Result<(), TestCaseError> {
    let base = baseline(field.legacy());
    let files = vm_files(artifacts);
    let lines: BTreeMap<String, usize> = files
        .iter()
        .map(|(k, v)| (k.clone(), v.lines().count()))
        .collect();
    prop_assert_eq!(&lines, &base.lines, "a VM file gained or lost a line");
    if let Some(hosts) = files.get("hosts") {
        for line in hosts
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let mut words = line.split_whitespace();
            let ip = words.next().unwrap_or_default();
            prop_assert!(ip.parse::<std::net::IpAddr>().is_ok(), "hosts line {:?}", line);
            prop_assert!(words.all(is_dns_name), "hosts line {:?}", line);
        }
    }
    if bash() {
        let vars = sourced(&files).map_err(TestCaseError::fail)?;
        let keys: BTreeSet<String> = vars.keys().cloned().collect();
        prop_assert_eq!(Some(&keys), base.keys.as_ref(), "sourcing defined other keys");
        if let Some(key) = field.env_key() {
            prop_assert_eq!(
                vars.get(key).map(String::as_str),
                Some(value),
                "{} does not read back",
                key
            );
        }
        if matches!(field, LabelKey | LabelValue) {
            let json = vars.get("ISTIO_METAJSON_LABELS").expect("labels");
            let labels: BTreeMap<String, String> = serde_json::from_str(json).expect("labels JSON");
            let (k, v) = if matches!(field, LabelKey) {
                (value, "db")
            } else {
                ("team", value)
            };
            prop_assert_eq!(labels.get(k).map(String::as_str), Some(v));
        }
        for (name, text) in files.iter().filter(|(n, _)| n.ends_with(".sh")) {
            let dir = tempfile::tempdir().expect("tempdir");
            let p = dir.path().join(name);
            std::fs::write(&p, text).expect("write script");
            let (_, err, ok) = run_bash(b"bash -n \"$1\"", &[&p]);
            prop_assert!(ok, "{} does not parse: {}", name, err);
        }
    }
    if let (Some(conf), Some(dnsmasq)) = (files.get("dnsmasq.conf"), dnsmasq()) {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("dnsmasq.conf");
        std::fs::write(&p, conf).expect("write conf");
        let out = Command::new(dnsmasq)
            .arg("--test")
            .arg("-C")
            .arg(&p)
            .output()
            .expect("dnsmasq");
        prop_assert!(
            out.status.success(),
            "dnsmasq --test: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// A field and a value for it: the hostile string alone, or glued to the
/// benign value (which keeps `root@…` or `/…` shapes, so more are accepted).
fn field_and_value() -> impl Strategy<Value = (Field, String)> {
    (prop::sample::select(FIELDS), nasty(), 0..4u8).prop_map(|(f, s, glue)| {
        let v = match glue {
            0 => format!("{}{s}", f.benign()),
            1 => format!("{s}{}", f.benign()),
            _ => s,
        };
        (f, v)
    })
}

#[test]
fn the_templates_are_accepted_and_read_back() {
    for &f in FIELDS {
        let (artifacts, diags) = compile(&topology(f, f.benign()));
        let artifacts = artifacts.unwrap_or_else(|| panic!("{f:?}: {diags:?}"));
        if let Err(e) = accepted(f, f.benign(), &artifacts) {
            panic!("{f:?}: {e}");
        }
    }
}

proptest! {
    #![proptest_config(Config { cases: 1000, ..Config::default() })]

    /// Accepted and written safely, or refused with an error diagnostic.
    #[test]
    fn any_string_is_refused_or_written_safely((field, value) in field_and_value()) {
        let (artifacts, diags) = compile(&topology(field, &value));
        match artifacts {
            None => prop_assert!(diags.iter().any(|d| d.is_error()), "refused without an error"),
            Some(artifacts) => accepted(field, &value, &artifacts)?,
        }
    }
}
