//! `import::vm_files`: the VM files read back as their consumers read them.
//!
//! - every env file meshc writes for every example, and the istioctl
//!   goldens in the reference data, parse to exactly the variables bash
//!   exports when it sources them under `set -a` (as `istio-start.sh`
//!   does), and systemd's reading agrees on meshc's files;
//! - any value quoted by meshc's env quoting reads back as itself (bash
//!   agrees);
//! - every hosts and dnsmasq file meshc writes, and the hosts goldens,
//!   parse with no finding, one entry per line, to what glibc (`getent`
//!   over a bind-mounted `/etc/hosts`) and dnsmasq (run in a network
//!   namespace, asked with `dig`) answer from them;
//! - the variables of meshc's `install.sh` and `iptables.sh`, of
//!   hand-written and of generated scripts, read back as bash sets them
//!   running the script;
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

/// Whether this test may bind-mount over `/etc/hosts` in a mount
/// namespace of its own (root, `unshare`).
fn can_mount_hosts() -> bool {
    let ok = Command::new("unshare")
        .args(["-m", "sh", "-c", "mount --bind /dev/null /etc/hosts"])
        .output()
        .is_ok_and(|o| o.status.success());
    prerequisite(ok, "cannot bind-mount over /etc/hosts (needs root and unshare)")
}

/// The addresses the C library's resolver gives each name from `text` as
/// `/etc/hosts` (`getent -s files hosts`, in a mount namespace of its own).
fn glibc_reads(text: &str, names: &[String]) -> BTreeMap<String, Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hosts");
    std::fs::write(&file, text).unwrap();
    let script = "mount --bind \"$1\" /etc/hosts || exit 7\nshift\nfor n in \"$@\"; do\n  getent -s files hosts \"$n\" | while read -r addr _; do printf '%s %s\\n' \"$n\" \"$addr\"; done\ndone\n";
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", script, "sh"])
        .arg(&file)
        .args(names)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let (name, addr) = line.split_once(' ').unwrap();
        found.entry(name.to_owned()).or_default().push(addr.to_owned());
    }
    found
}

/// A hosts file parses to exactly the addresses glibc answers for each
/// name (`extra` names are looked up too: those the parser skipped).
fn hosts_agree_with_glibc(name: &str, text: &str, extra: &[&str]) {
    let parsed = vm_files::hosts(&Source::new(name, text.to_owned()));
    let mut mine: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in &parsed.entries {
        for n in &e.names {
            mine.entry(n.value.clone())
                .or_default()
                .push(e.address.value.to_string());
        }
    }
    let mut names: Vec<String> = mine.keys().cloned().collect();
    names.extend(extra.iter().map(|s| (*s).to_owned()));
    assert_eq!(
        mine,
        glibc_reads(text, &names),
        "{name}: the parser and glibc disagree"
    );
}

#[test]
fn hosts_files_read_as_glibc_reads_them() {
    if !can_mount_hosts() {
        return;
    }
    let mut seen = 0;
    for (path, text) in example_artifacts() {
        if file_name(&path) == "hosts" {
            seen += 1;
            hosts_agree_with_glibc(&path, &text, &[]);
        }
    }
    if let Some(reference) = reference_dir() {
        for f in files_under(&reference.join("istio/workload-entry-configure")) {
            if f.file_name().is_some_and(|n| n == "hosts.golden") {
                seen += 1;
                hosts_agree_with_glibc(
                    &f.display().to_string(),
                    &std::fs::read_to_string(&f).unwrap(),
                    &[],
                );
            }
        }
    }
    assert!(seen >= 4, "only {seen} hosts files");
    // What humans write: comments anywhere, tabs, CRLF, blank padding, a
    // name on two lines, and lines the resolver skips.
    let text = "# c\n10.0.0.1 alpha alpha.example # t\n10.0.0.2\tbeta\r\n  10.0.0.3   gamma   \n\
                not-an-ip delta\n10.0.0.4\nfd00::5 epsilon\n10.0.0.6 zeta#x\n10.0.0.7 alpha\n";
    hosts_agree_with_glibc("hand-written", text, &["delta", "x"]);
}

/// Whether dnsmasq can be run in a network namespace of the test's own.
fn can_run_dnsmasq() -> bool {
    let ok = have_tool("dnsmasq")
        && have_tool("dig")
        && Command::new("unshare")
            .args(["-n", "ip", "link", "set", "lo", "up"])
            .output()
            .is_ok_and(|o| o.status.success());
    prerequisite(
        ok,
        "dnsmasq, dig or network namespaces (root, unshare, ip) missing",
    )
}

/// What dnsmasq, run on `conf` in a network namespace of its own, answers
/// for each name (A, or AAAA for `v6` names). Each `server=` target is an
/// upstream dnsmasq there that answers every query with its marker
/// address, so a forwarded name comes back as its upstream's marker.
fn dnsmasq_answers(
    conf: &str,
    upstreams: &BTreeMap<String, String>,
    names: &[(String, bool)],
) -> BTreeMap<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dnsmasq.conf");
    std::fs::write(&file, conf).unwrap();
    let common = "--no-resolv --no-hosts --bind-interfaces --port=53 --user=root --pid-file=";
    let mut script = String::from("ip link set lo up\npids=\n");
    for (addr, marker) in upstreams {
        script.push_str(&format!(
            "ip addr add '{addr}' dev lo\ndnsmasq -k -C /dev/null {common} --listen-address='{addr}' --address='/#/{marker}' 2>/dev/null & pids=\"$pids $!\"\n"
        ));
    }
    script.push_str(&format!(
        "dnsmasq -k -C \"$1\" {common} --listen-address=127.0.0.1 & pids=\"$pids $!\"\nsleep 1\n"
    ));
    for (name, v6) in names {
        let record = if *v6 { "AAAA" } else { "A" };
        script.push_str(&format!(
            "printf '%s %s\\n' '{name}' \"$(dig +short +time=2 +tries=1 @127.0.0.1 '{name}' {record} | head -n 1)\"\n"
        ));
    }
    script.push_str("kill $pids\nwait\n");
    let out = Command::new("timeout")
        .args(["60", "unshare", "-n", "sh", "-c", &script, "sh"])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, a)| (n.to_owned(), a.to_owned()))
        .collect()
}

/// Every `address=` domain resolves to its target, and every `server=`
/// domain is forwarded to its target, as the parser read them: dnsmasq
/// agrees.
fn dnsmasq_agrees(name: &str, conf: &str) {
    let parsed = vm_files::dnsmasq(&Source::new(name, conf.to_owned()));
    assert!(parsed.diagnostics.is_empty(), "{name}: {:?}", parsed.diagnostics);
    let mut upstreams = BTreeMap::new();
    let mut want = BTreeMap::new();
    let mut queries = Vec::new();
    for e in &parsed.entries {
        let target = e.target.as_ref().map(|t| t.value.clone()).unwrap_or_default();
        for d in &e.domains {
            match e.key.value.as_str() {
                "address" => {
                    queries.push((d.value.clone(), target.contains(':')));
                    want.insert(d.value.clone(), target.clone());
                }
                "server" => {
                    let n = upstreams.len() + 1;
                    let marker = upstreams
                        .entry(target.clone())
                        .or_insert_with(|| format!("10.255.0.{n}"))
                        .clone();
                    let probe = format!("probe.{}", d.value);
                    queries.push((probe.clone(), false));
                    want.insert(probe, marker);
                }
                _ => {}
            }
        }
    }
    assert!(!want.is_empty(), "{name}: nothing to ask dnsmasq");
    assert_eq!(
        dnsmasq_answers(conf, &upstreams, &queries),
        want,
        "{name}: the parser and dnsmasq disagree"
    );
}

#[test]
fn dnsmasq_files_read_as_dnsmasq_reads_them() {
    if !can_run_dnsmasq() {
        return;
    }
    let mut seen = 0;
    for (path, text) in example_artifacts() {
        if file_name(&path) == "dnsmasq.conf" {
            seen += 1;
            dnsmasq_agrees(&path, &text);
        }
    }
    assert!(seen >= 2, "only {seen} dnsmasq files");
    // What humans write: padding, spaces around `=`, several domains on
    // one line, comments after a blank.
    let text = "# kube-dns\nserver=/svc.cluster.local/10.96.0.10  # forwarded\n  address = /a.example/b.example/10.1.2.3\n\
                address=/c.example/fd00::7\n";
    dnsmasq_agrees("hand-written", text);
    let domains: Vec<String> = vm_files::dnsmasq(&Source::new("hand-written", text.to_owned()))
        .entries
        .iter()
        .flat_map(|e| e.domains.iter().map(|d| d.value.clone()))
        .collect();
    assert_eq!(
        domains,
        ["svc.cluster.local", "a.example", "b.example", "c.example"]
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

/// What bash has set in `names` after sourcing `script` from an empty
/// environment: name → value, names it leaves unset absent.
fn bash_runs(script: &str, names: &[&str]) -> Result<BTreeMap<String, String>, String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("script.sh");
    std::fs::write(&file, script).unwrap();
    let out = Command::new("env")
        .args([
            "-i",
            "bash",
            "-c",
            "f=$1; shift; . \"$f\" >/dev/null || exit 9; for n; do if [[ -v $n ]]; then printf '%s=%s\\0' \"$n\" \"${!n}\"; fi; done",
            "bash",
        ])
        .arg(&file)
        .args(names)
        .output()
        .unwrap();
    if !out.status.success() || !out.stderr.is_empty() {
        return Err(format!(
            "bash failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let mut vars = BTreeMap::new();
    for rec in out.stdout.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let rec = String::from_utf8(rec.to_vec()).map_err(|e| e.to_string())?;
        let (k, v) = rec
            .split_once('=')
            .ok_or_else(|| format!("not an assignment: {rec:?}"))?;
        vars.insert(k.to_owned(), v.to_owned());
    }
    Ok(vars)
}

/// A script's variables, as `script_variables` reads them, with no
/// finding, are what bash sets when it runs the script.
fn script_agrees_with_bash(name: &str, script: &str, names: &[&str]) {
    let parsed = vm_files::script_variables(&Source::new(name, script.to_owned()), names);
    assert!(parsed.diagnostics.is_empty(), "{name}: {:?}", parsed.diagnostics);
    let bash = bash_runs(script, names).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(as_map(&parsed), bash, "{name}: the reader and bash disagree");
}

/// The first function definition of a meshc script: its settings are the
/// lines before it, which run nothing but assignments and `set`.
fn settings_block(script: &str) -> &str {
    let end = script
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .find(|&i| {
            let line = script[i..].lines().next().unwrap_or_default();
            line.ends_with("() {")
        })
        .unwrap_or(script.len());
    &script[..end]
}

/// meshc's `install.sh` and `iptables.sh` of every example: the variables
/// `meshc import` reads from them (and their neighbours), read over the
/// whole script, are what bash sets running the scripts' settings blocks
/// (a script itself cannot run here: it installs things).
#[test]
fn meshc_scripts_variables_read_as_bash_sets_them() {
    if !bash() {
        return;
    }
    let mut seen = 0;
    for (path, text) in example_artifacts() {
        let names: &[&str] = match file_name(&path) {
            "install.sh" => &[
                "cluster",
                "proxy_uid",
                "proxy_gid",
                "vm",
                "namespace",
                "service_account",
                "lib",
                "block_begin",
            ],
            "iptables.sh" => &["resolv_dns", "vm", "proxy_uid", "proxy_gid", "uid_token"],
            _ => continue,
        };
        seen += 1;
        let block = settings_block(&text);
        assert!(
            block.len() < text.len() && block.contains("proxy_uid="),
            "{path}: {block}"
        );
        let whole = vm_files::script_variables(&Source::new(path.clone(), text.clone()), names);
        assert!(whole.diagnostics.is_empty(), "{path}: {:?}", whole.diagnostics);
        let bash = bash_runs(block, names).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(as_map(&whole), bash, "{path}: the reader and bash disagree");
        assert!(bash.contains_key("proxy_uid"), "{path}: {bash:?}");
    }
    assert!(seen >= 8, "only {seen} scripts in the examples");
}

#[test]
fn hand_written_scripts_read_as_bash_runs_them() {
    if !bash() {
        return;
    }
    // What a script holds beside its settings: commands, functions and
    // blocks with indented assignments, arrays, assignments for one
    // command, other variables computed; and settings in every quoting.
    let text = "#!/usr/bin/env bash\n\
                set -euo pipefail\n\
                here=$(cd -- \"$(dirname -- \"${BASH_SOURCE[0]}\")\" && pwd)\n\
                # A=commented\n\
                A='x y'\n\
                export B=bare\n\
                C='it'\\''s and '\"'\"'q'\n\
                D=\"a \\\"q\\\" \\$\"  # after\n\
                E=a\\ b;F=\n\
                families=(4)\n\
                other=x true\n\
                set_a() {\n\
                \tA=inner\n\
                }\n\
                if false; then\n\
                \tB=never\n\
                fi\n\
                G='multi\n\
                line'\n\
                A=again\n";
    script_agrees_with_bash("hand.sh", text, &["A", "B", "C", "D", "E", "F", "G", "H"]);
    // What bash would not simply set is reported for a wanted variable
    // and has no value; for another one it is nobody's business.
    for line in [
        "H=\"$HOME\"\n",
        "H=$(hostname)\n",
        "H=~/x\n",
        "H=x true\n",
        "H=x | cat\n",
        "H=(a b)\n",
        "H='x'\r\n",
    ] {
        let p = vm_files::script_variables(&Source::new("s", line.to_owned()), &["H"]);
        assert!(p.entries.is_empty(), "{line:?}: {:?}", p.entries);
        assert_eq!(p.diagnostics.len(), 1, "{line:?}: {:?}", p.diagnostics);
        let p = vm_files::script_variables(&Source::new("s", line.to_owned()), &["A"]);
        assert!(p.entries.is_empty() && p.diagnostics.is_empty(), "{line:?}");
    }
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

    /// Any value meshc's quoting writes, set in a script among commands,
    /// functions and other variables, reads back as bash sets it.
    #[test]
    fn script_values_read_back(values in proptest::collection::vec(crate::properties::nasty(), 1..6)) {
        let values: Vec<String> = values.into_iter().map(|v| v.replace('\0', "")).collect();
        let mut text = String::from("set -euo pipefail\nhere=$(pwd)\n");
        for (i, v) in values.iter().enumerate() {
            let quoting = if i % 2 == 0 { Quoting::IstioCompatible } else { Quoting::BareWhenPlain };
            text.push_str(&env_line(&format!("K{i}"), v, quoting).unwrap());
            text.push_str(&format!("\nf{i}() {{\n\tK{i}=inner\n}}\nother{i}=$K{i} true\n"));
        }
        let names: Vec<String> = (0..values.len()).map(|i| format!("K{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let want: BTreeMap<String, String> =
            values.iter().enumerate().map(|(i, v)| (format!("K{i}"), v.clone())).collect();
        let parsed = vm_files::script_variables(&Source::new("t", text.clone()), &names);
        prop_assert!(parsed.diagnostics.is_empty(), "{:?}\n{}", parsed.diagnostics, text);
        prop_assert_eq!(&as_map(&parsed), &want, "{}", text);
        if have_tool("bash") {
            prop_assert_eq!(&bash_runs(&text, &names).map_err(TestCaseError::fail)?, &want, "{}", text);
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
        let _ = vm_files::script_variables(&source, &["A", "cluster"]);
    }
}
