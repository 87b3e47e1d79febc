//! `import::vm_files`: the VM files read back as their consumers read them.
//!
//! - every env file meshc writes for every example, and the istioctl
//!   goldens in the reference data, parse to exactly the variables bash
//!   exports when it sources them under `set -a` (as `istio-start.sh`
//!   does), and systemd's reading agrees on meshc's files;
//! - any value quoted by meshc's env quoting reads back as itself (bash
//!   agrees);
//! - every hosts and dnsmasq file meshc writes, and the hosts goldens,
//!   parse with no finding, one entry per line;
//! - hostile input (NUL, unterminated quotes, 10 MB lines, CRLF, random
//!   bytes) gives diagnostics, never a panic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use meshc::emit::vm::quote::{Quoting, env_line};
use meshc::import::vm_files::{self, EnvReader, Parsed};
use meshc::source::Source;
use meshc::syntax::{Limits, Syntax};
use proptest::prelude::*;

use crate::support::{have_tool, prerequisite, reference_dir};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bash() -> bool {
    prerequisite(have_tool("bash"), "bash is not installed")
}

/// What bash exports after sourcing `text` under `set -a`, in an empty
/// environment, without the variables bash sets itself.
fn bash_sources(text: &str) -> Result<BTreeMap<String, String>, String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vm.env");
    std::fs::write(&file, text).unwrap();
    let out = Command::new("env")
        .args([
            "-i",
            "bash",
            "-c",
            "set -a; . \"$1\" || exit 9; printf 'MARK\\0'; env -0",
            "bash",
        ])
        .arg(&file)
        .output()
        .unwrap();
    if !out.status.success() || !out.stderr.is_empty() {
        return Err(format!(
            "bash failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let rest = out.stdout.strip_prefix(b"MARK\0").ok_or_else(|| {
        format!(
            "sourcing printed something: {:?}",
            String::from_utf8_lossy(&out.stdout)
        )
    })?;
    let mut vars = BTreeMap::new();
    for rec in rest.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let rec = String::from_utf8(rec.to_vec()).map_err(|e| e.to_string())?;
        let (k, v) = rec
            .split_once('=')
            .ok_or_else(|| format!("not an assignment: {rec:?}"))?;
        if !matches!(k, "PWD" | "OLDPWD" | "SHLVL" | "_") {
            vars.insert(k.to_owned(), v.to_owned());
        }
    }
    Ok(vars)
}

/// The parsed entries as bash would leave them: the last assignment wins.
fn as_map(p: &Parsed<vm_files::EnvEntry>) -> BTreeMap<String, String> {
    p.entries
        .iter()
        .map(|e| (e.key.value.clone(), e.value.value.clone()))
        .collect()
}

fn codes<T>(p: &Parsed<T>) -> Vec<&'static str> {
    p.diagnostics.iter().map(|d| d.code.code).collect()
}

/// Every artifact of every example, by path.
fn example_artifacts() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let text = std::fs::read_to_string(dir.join("topology.kdl")).unwrap();
        let source = Source::new("topology.kdl", text);
        let (artifacts, diags) = meshc::compile(&source, Syntax::Kdl, Limits::default(), "topology.kdl");
        let artifacts = artifacts.unwrap_or_else(|| panic!("{}: {diags:?}", dir.display()));
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        out.extend(
            artifacts
                .into_iter()
                .map(|a| (format!("{name}/{}", a.path), a.contents)),
        );
    }
    out
}

/// Every file under `dir`, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn file_name(path: &str) -> &str {
    Path::new(path).file_name().and_then(|n| n.to_str()).unwrap_or("")
}

/// An env file parses, with no finding, to what bash exports from it.
fn env_agrees_with_bash(name: &str, text: &str) {
    let parsed = vm_files::cluster_env(&Source::new(name, text.to_owned()));
    assert!(parsed.diagnostics.is_empty(), "{name}: {:?}", parsed.diagnostics);
    assert!(!parsed.entries.is_empty(), "{name}: no entries");
    let bash = bash_sources(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(as_map(&parsed), bash, "{name}: the parser and bash disagree");
}

#[test]
fn meshc_env_files_read_back_as_bash_and_systemd_read_them() {
    if !bash() {
        return;
    }
    let mut seen = 0;
    for (path, text) in example_artifacts() {
        if !matches!(file_name(&path), "cluster.env" | "sidecar.env") {
            continue;
        }
        seen += 1;
        env_agrees_with_bash(&path, &text);
        let systemd = vm_files::sidecar_env(&Source::new(path.clone(), text.clone()), EnvReader::Systemd);
        assert!(
            systemd.diagnostics.is_empty(),
            "{path}: {:?}",
            systemd.diagnostics
        );
        let bash = vm_files::cluster_env(&Source::new(path.clone(), text.clone()));
        assert_eq!(
            systemd.entries, bash.entries,
            "{path}: systemd and bash read it differently"
        );
        // Each entry's spans hold its key and its written value.
        for e in &bash.entries {
            assert_eq!(&text[e.key.span.start..e.key.span.end], e.key.value);
            let written = &text[e.value.span.start..e.value.span.end];
            assert!(
                written.contains(e.value.value.as_str()) || written.contains('\''),
                "{path}: {written}"
            );
        }
    }
    assert!(seen >= 8, "only {seen} env files in the examples");
}

#[test]
fn meshc_hosts_and_dnsmasq_files_read_back_one_entry_a_line() {
    let mut seen = (0, 0);
    for (path, text) in example_artifacts() {
        let source = Source::new(path.clone(), text.clone());
        let lines = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .count();
        match file_name(&path) {
            "hosts" => {
                seen.0 += 1;
                let p = vm_files::hosts(&source);
                assert!(p.diagnostics.is_empty(), "{path}: {:?}", p.diagnostics);
                assert_eq!(p.entries.len(), lines, "{path}");
                for e in &p.entries {
                    assert_eq!(
                        text[e.address.span.start..e.address.span.end].parse::<std::net::IpAddr>(),
                        Ok(e.address.value)
                    );
                    assert!(!e.names.is_empty());
                }
            }
            "dnsmasq.conf" => {
                seen.1 += 1;
                let p = vm_files::dnsmasq(&source);
                assert!(p.diagnostics.is_empty(), "{path}: {:?}", p.diagnostics);
                assert_eq!(p.entries.len(), lines, "{path}");
                for e in &p.entries {
                    assert!(
                        matches!(e.key.value.as_str(), "server" | "address"),
                        "{path}: {e:?}"
                    );
                    assert_eq!(e.domains.len(), 1, "{path}: {e:?}");
                    let target = e.target.as_ref().expect("a target");
                    assert!(target.value.parse::<std::net::IpAddr>().is_ok(), "{path}: {e:?}");
                    // The line is exactly what the entry says.
                    let line = format!("{}=/{}/{}", e.key.value, e.domains[0].value, target.value);
                    assert!(text.lines().any(|l| l == line), "{path}: {line}");
                }
            }
            _ => {}
        }
    }
    assert!(
        seen.0 >= 3 && seen.1 >= 2,
        "hosts and dnsmasq files seen: {seen:?}"
    );
}

#[test]
fn istioctl_goldens_read_back_as_bash_reads_them() {
    let Some(reference) = reference_dir() else {
        return;
    };
    if !bash() {
        return;
    }
    let dir = reference.join("istio/workload-entry-configure");
    let mut env_files = 0;
    let mut hosts_files = 0;
    for f in files_under(&dir) {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&f).unwrap();
        if name == "cluster.env.golden" {
            env_files += 1;
            env_agrees_with_bash(&f.display().to_string(), &text);
        } else if name == "hosts.golden" {
            hosts_files += 1;
            let p = vm_files::hosts(&Source::new(name, text.clone()));
            assert!(p.diagnostics.is_empty(), "{}: {:?}", f.display(), p.diagnostics);
            assert_eq!(p.entries.len(), text.lines().count());
        }
    }
    assert!(
        env_files >= 2 && hosts_files >= 2,
        "{env_files} cluster.env, {hosts_files} hosts goldens"
    );
}

#[test]
fn hand_written_env_files_read_as_bash_reads_them() {
    if !bash() {
        return;
    }
    // The styles humans and Istio 1.0 wrote: bare values, `export`,
    // double quotes, escapes, comments after values, `;`.
    let text = "# written by hand\n\
                ISTIO_SERVICE_CIDR=10.96.0.0/12\n\
                export ISTIO_SYSTEM_NAMESPACE=istio-system\n\
                ISTIO_CP_AUTH=\"MUTUAL_TLS\"  # the control plane's\n\
                A='x'\"'\"'y'\n\
                B=\"a \\\"b\\\" \\$ \\\\ \\n\"\n\
                C=a\\ b;D=d\n\
                E='multi\n\
                line'\n\
                F=\n\
                G=#not-a-comment\n\
                H=a#b\n";
    env_agrees_with_bash("hand.env", text);
}

#[test]
fn hostile_input_gives_diagnostics_never_a_panic() {
    let long = "A='".to_owned() + &"x".repeat(10 << 20) + "'\n";
    let cases: Vec<(&str, String)> = vec![
        ("nul", "A=x\0y\nB=ok\n".to_owned()),
        ("unterminated single", "A='x\nB=y\n".to_owned()),
        ("unterminated double", "A=\"x\nB=y\n".to_owned()),
        ("10 MB line", long),
        ("crlf", "A='x'\r\nB=y\r\n".to_owned()),
    ];
    for (what, text) in &cases {
        let source = Source::new(*what, text.clone());
        let bash = vm_files::cluster_env(&source);
        assert!(!bash.diagnostics.is_empty(), "{what}: bash reading found nothing");
        assert!(
            bash.diagnostics.iter().all(|d| d.code.code.starts_with("E99")),
            "{what}: {:?}",
            codes(&bash)
        );
        let _ = vm_files::sidecar_env(&source, EnvReader::Systemd);
        let _ = vm_files::hosts(&source);
        let _ = vm_files::dnsmasq(&source);
    }
    // CRLF is the line end of hosts and dnsmasq files, not a finding.
    let hosts = vm_files::hosts(&Source::new("h", "10.0.0.1 a\r\n".to_owned()));
    assert!(hosts.diagnostics.is_empty() && hosts.entries.len() == 1);
    let dnsmasq = vm_files::dnsmasq(&Source::new("d", "server=/a/10.0.0.1\r\n".to_owned()));
    assert_eq!(
        dnsmasq.entries[0].target.as_ref().map(|t| t.value.as_str()),
        Some("10.0.0.1")
    );
    // A NUL and a 10 MB line are findings in every parser.
    for (what, text) in [&cases[0], &cases[3]] {
        let source = Source::new(*what, text.replace("A=", "10.0.0.1 ").replace('\'', ""));
        assert!(!vm_files::hosts(&source).diagnostics.is_empty(), "{what}: hosts");
        assert!(
            !vm_files::dnsmasq(&source).diagnostics.is_empty(),
            "{what}: dnsmasq"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any value meshc's env quoting writes (both flows) reads back as
    /// itself, as bash reads it and as systemd would.
    #[test]
    fn quoted_values_read_back(values in proptest::collection::vec(crate::properties::nasty(), 1..8)) {
        let values: Vec<String> = values.into_iter().map(|v| v.replace('\0', "")).collect();
        let mut text = String::from("# generated\n");
        for (i, v) in values.iter().enumerate() {
            let quoting = if i % 2 == 0 { Quoting::IstioCompatible } else { Quoting::BareWhenPlain };
            text.push_str(&env_line(&format!("K{i}"), v, quoting).unwrap());
            text.push('\n');
        }
        let want: BTreeMap<String, String> =
            values.iter().enumerate().map(|(i, v)| (format!("K{i}"), v.clone())).collect();
        let parsed = vm_files::cluster_env(&Source::new("t", text.clone()));
        prop_assert!(parsed.diagnostics.is_empty(), "{:?}\n{}", parsed.diagnostics, text);
        prop_assert_eq!(&as_map(&parsed), &want, "{}", text);
        let systemd = vm_files::sidecar_env(&Source::new("t", text.clone()), EnvReader::Systemd);
        prop_assert_eq!(&as_map(&systemd), &want, "{}", text);
        if have_tool("bash") {
            prop_assert_eq!(&bash_sources(&text).map_err(TestCaseError::fail)?, &want, "{}", text);
        }
    }

    /// Arbitrary bytes: every parser returns, whatever it finds.
    #[test]
    fn any_input_is_read_or_reported(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let source = Source::new("any", String::from_utf8_lossy(&bytes).into_owned());
        let _ = vm_files::env_file(&source, EnvReader::Bash);
        let _ = vm_files::env_file(&source, EnvReader::Systemd);
        let _ = vm_files::hosts(&source);
        let _ = vm_files::dnsmasq(&source);
    }
}
