//! The command line, end to end: every command and every exit code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{have_tool, prerequisite};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn meshc(args: &[&str]) -> Output {
    meshc_in(&root(), args)
}

pub fn meshc_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshc"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .output()
        .expect("meshc runs")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited, not killed")
}

pub fn stdout_of(o: &Output) -> String {
    stdout(o)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const VM: &str = "examples/bookinfo-vm/topology.kdl";

#[test]
fn check_passes_every_example_in_both_syntaxes() {
    let o = meshc(&[
        "check",
        "examples/bookinfo-vm/topology.kdl",
        "examples/bookinfo-vm/topology.toml",
        "examples/bookinfo-legacy/topology.kdl",
        "examples/bookinfo-legacy/topology.toml",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn five_independent_mistakes_give_five_diagnostics_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("five.kdl");
    std::fs::write(
        &file,
        r#"mesh m { istio "1.24" }
network vpc { cidr "10.0.0.0/33" }
cluster c { netwrok vpc; network vpc; control-plane #true; east-west-gateway "10.0.0.100" }
vm db { address 10.0.0.5; network vpc }
service s namespace=a {
    port http 8080
    port web 8080
    deploy v1 cluster=nope
    deploy v1 vm=db
    entry-point #true
}
"#,
    )
    .unwrap();
    let o = meshc_in(dir.path(), &["check", "--format", "json", "five.kdl"]);
    assert_eq!(code(&o), 1);
    let items: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).expect("JSON array");
    let codes: Vec<&str> = items.iter().filter_map(|i| i["code"].as_str()).collect();
    for want in ["E501", "E202", "E103", "E301"] {
        assert!(codes.contains(&want), "missing {want} in {codes:?}");
    }
    assert!(
        codes.iter().any(|c| c.starts_with("E6")),
        "no duplicate-port finding in {codes:?}"
    );
    assert_eq!(items.len(), 5, "{codes:?}");
    for item in &items {
        for field in [
            "code",
            "severity",
            "message",
            "file",
            "line",
            "column",
            "end_line",
            "end_column",
            "start",
            "end",
            "help",
        ] {
            assert!(!item[field].is_null(), "{field} missing in {item}");
        }
    }
    // The human form names each code with its line and column.
    let o = meshc_in(dir.path(), &["check", "five.kdl"]);
    let err = stderr(&o);
    assert!(err.contains("E103") && err.contains("five.kdl:4:17"), "{err}");
}

#[test]
fn unreadable_inputs_exit_one_or_two_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("empty.kdl"), "").unwrap();
    std::fs::write(p.join("random.kdl"), [0x9f, 0x00, 0xff, 0x13, 0x37, 0xc3]).unwrap();
    std::fs::write(p.join("latin1.kdl"), b"mesh caf\xe9 { istio \"1.24\" }\n").unwrap();
    std::fs::create_dir(p.join("dir.kdl")).unwrap();
    for (file, want) in [
        ("empty.kdl", 1),
        ("random.kdl", 1),
        ("latin1.kdl", 1),
        ("dir.kdl", 2),
        ("missing.kdl", 2),
    ] {
        let o = meshc_in(p, &["check", file]);
        assert_eq!(code(&o), want, "{file}: {}", stderr(&o));
        assert!(!stderr(&o).is_empty(), "{file}: no message");
    }
}

#[test]
fn warnings_fail_only_with_deny_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join(VM)).unwrap()
        + "\nvm idle {\n    address \"192.168.3.250\"\n    network vpc-hangzhou\n}\n";
    std::fs::write(dir.path().join("t.kdl"), text).unwrap();
    let o = meshc_in(dir.path(), &["check", "t.kdl"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("warning"), "{}", stderr(&o));
    let o = meshc_in(dir.path(), &["check", "--deny-warnings", "t.kdl"]);
    assert_eq!(code(&o), 1);
}

#[test]
fn machine_formats() {
    let o = meshc(&[
        "check",
        "--format",
        "github",
        "tests/fail/E301-unknown-cluster.kdl",
    ]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert!(
        out.starts_with("::error file=tests/fail/E301-unknown-cluster.kdl,line=7,endLine=7,col=23,endColumn=26,title=E301::"),
        "{out}"
    );
    let o = meshc(&[
        "check",
        "--format",
        "sarif",
        "tests/fail/E301-unknown-cluster.kdl",
    ]);
    assert_eq!(code(&o), 1);
    let log: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(log["runs"][0]["results"][0]["ruleId"], "E301");
}

#[test]
fn explain_lists_codes_and_documents_each() {
    let o = meshc(&["explain"]);
    assert_eq!(code(&o), 0);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 25 + 14, "only {} codes", lines.len());
    for line in &lines {
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields.len(), 3, "{line}");
        assert!(["error", "warning"].contains(&fields[1]), "{line}");
        let doc = meshc(&["explain", fields[0]]);
        assert_eq!(code(&doc), 0);
        assert!(
            stdout(&doc).lines().count() > 4,
            "{} is barely documented",
            fields[0]
        );
    }
    let o = meshc(&["explain", "E999"]);
    assert_eq!(code(&o), 2);
}

#[test]
fn graph_draws_dot_and_mermaid() {
    let o = meshc(&["graph", VM]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).starts_with("digraph \"bookinfo\" {"));
    let o = meshc(&["graph", "--format", "mermaid", VM]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).starts_with("flowchart LR\n"));
    // A broken topology is still drawn, with the problem in red, and exits 1.
    let o = meshc(&["graph", "tests/fail/E301-unknown-cluster.kdl"]);
    assert_eq!(code(&o), 1);
}

#[test]
fn every_example_graph_renders_with_graphviz() {
    if !crate::support::prerequisite(
        crate::support::have_tool("dot"),
        "graphviz `dot` is not installed",
    ) {
        return;
    }
    for example in ["bookinfo-vm", "bookinfo-legacy", "multicluster"] {
        let file = format!("examples/{example}/topology.kdl");
        if !root().join(&file).exists() {
            continue;
        }
        let o = meshc(&["graph", &file]);
        let mut child = Command::new("dot")
            .arg("-Tsvg")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&o.stdout).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{example}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let svg = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(svg.contains("<svg"));
        if example == "bookinfo-vm" {
            // README shows this picture; it must be the current one.
            let committed = root().join("examples/bookinfo-vm/graph.svg");
            if std::env::var_os("MESHC_UPDATE_GRAPH").is_some_and(|v| v == "1") {
                std::fs::write(&committed, &svg).unwrap();
            }
            let old = std::fs::read_to_string(&committed).unwrap_or_default();
            assert!(
                old == svg,
                "examples/bookinfo-vm/graph.svg is stale: MESHC_UPDATE_GRAPH=1 cargo test"
            );
        }
    }
}

#[test]
fn fmt_is_idempotent_keeps_comments_and_checks() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.kdl");
    std::fs::write(&p, "// keep me\nmesh   m {istio \"1.24\"   // and me\n}\n").unwrap();
    let o = meshc_in(dir.path(), &["fmt", "--check", "t.kdl"]);
    assert_eq!(code(&o), 1, "unformatted input must fail --check");
    let o = meshc_in(dir.path(), &["fmt", "t.kdl"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let once = std::fs::read_to_string(&p).unwrap();
    assert!(
        once.contains("// keep me") && once.contains("// and me"),
        "{once}"
    );
    let o = meshc_in(dir.path(), &["fmt", "--check", "t.kdl"]);
    assert_eq!(code(&o), 0, "formatted output must pass --check: {once}");
    let o = meshc_in(dir.path(), &["fmt", "t.kdl"]);
    assert_eq!(code(&o), 0);
    assert_eq!(
        std::fs::read_to_string(&p).unwrap(),
        once,
        "fmt is not idempotent"
    );
}

#[test]
fn init_starter_is_minimal_and_builds_clean_and_examples_are_verbatim() {
    let dir = tempfile::tempdir().unwrap();
    let o = meshc_in(dir.path(), &["init"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let starter = std::fs::read_to_string(dir.path().join("topology.kdl")).unwrap();
    // A starter, not the whole Bookinfo: one cluster, one VM, two services.
    let count = |node: &str| starter.lines().filter(|l| l.starts_with(node)).count();
    assert_eq!(
        (count("cluster "), count("vm "), count("service ")),
        (1, 1, 2),
        "{starter}"
    );
    assert!(
        starter
            .lines()
            .filter(|l| l.trim_start().starts_with("//"))
            .count()
            >= 10
    );
    // It builds with no warning at all.
    let o = meshc_in(
        dir.path(),
        &["build", "--deny-warnings", "topology.kdl", "-o", "out"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(dir.path().join("out/vms/legacy-db/install.sh").is_file());
    for (flag, file) in [
        ("bookinfo", "examples/bookinfo-vm/topology.kdl"),
        ("bookinfo-legacy", "examples/bookinfo-legacy/topology.kdl"),
        ("multicluster", "examples/multicluster/topology.kdl"),
    ] {
        let sub = dir.path().join(flag);
        let o = meshc_in(dir.path(), &["init", flag, "--example", flag]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert_eq!(
            std::fs::read_to_string(sub.join("topology.kdl")).unwrap(),
            std::fs::read_to_string(root().join(file)).unwrap(),
            "--example {flag}"
        );
    }
}

#[test]
fn init_writes_a_starter_that_checks_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let o = meshc_in(dir.path(), &["init", "new"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = meshc_in(dir.path(), &["check", "new/topology.kdl"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    std::fs::write(dir.path().join("new/topology.kdl"), "mine").unwrap();
    let o = meshc_in(dir.path(), &["init", "new"]);
    assert_eq!(code(&o), 2);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("new/topology.kdl")).unwrap(),
        "mine"
    );
}

#[test]
fn help_version_completions_and_usage_errors() {
    let o = meshc(&["--help"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("Exit codes:"));
    assert_eq!(code(&meshc(&["--version"])), 0);
    let o = meshc(&["completions", "bash"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("meshc"));
    assert_eq!(code(&meshc(&[])), 2);
    assert_eq!(code(&meshc(&["bogus"])), 2);
    assert_eq!(code(&meshc(&["check"])), 2);
}

#[test]
fn the_command_definition_is_consistent() {
    // clap's own consistency checks, which otherwise only fire at run time.
    let o = meshc(&["graph", "--help"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    for sub in ["check", "explain", "fmt", "init", "completions"] {
        assert_eq!(code(&meshc(&[sub, "--help"])), 0, "{sub}");
    }
}

#[test]
fn bundled_kdl_topologies_are_formatted() {
    for example in ["bookinfo-vm", "bookinfo-legacy", "multicluster"] {
        let file = format!("examples/{example}/topology.kdl");
        let o = meshc(&["fmt", "--check", &file]);
        assert_eq!(code(&o), 0, "{file} is not `meshc fmt` clean:\n{}", stdout(&o));
    }
}

/// A golden's rule payload: the file without istio-iptables's
/// `iptables-save`/`ip6tables-save` probe lines.
fn golden_payload(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| *l != "iptables-save" && *l != "ip6tables-save")
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn iptables_command_prints_what_istio_iptables_installs() {
    let Some(reference) = crate::support::reference_dir() else {
        return;
    };
    let cases: &[(&str, &[&str])] = &[
        (
            "master/capture/inbound-ports-include.golden",
            &["--istio-version", "master", "-b", "32000,31000"],
        ),
        (
            "master/capture/ipnets.golden",
            &["--istio-version", "1.26", "-i", "10.0.0.0/8"],
        ),
        (
            "master/capture/ip-range.golden",
            &[
                "--istio-version",
                "master",
                "-x",
                "1.1.0.0/16",
                "-i",
                "9.9.0.0/16",
                "--redirect-dns",
                "-g",
                "1,2",
                "-u",
                "3,4",
                "--dns-server",
                "127.0.0.53",
            ],
        ),
        (
            "1.23.6/capture/kube-virt-interfaces.golden",
            &["--istio-version", "1.23.6", "-k", "eth1,eth2", "-i", "*"],
        ),
        (
            "1.23.6/capture/outbound-ports-include.golden",
            &["--istio-version", "1.23", "-q", "32000,31000"],
        ),
        // 1.24: restore input in the old layout (the default release).
        (
            "1.24.6/capture/dns-uid-gid.golden",
            &[
                "--redirect-dns",
                "--dns-server",
                "127.0.0.53",
                "--dns-server",
                "::127.0.0.53",
                "-g",
                "1,2",
                "-u",
                "3,4",
                "--ipv6",
            ],
        ),
        (
            "1.24.6/capture/logging.golden",
            &["--istio-version", "1.24.6", "--iptables-trace-logging"],
        ),
        (
            "1.24.6/capture/tproxy.golden",
            &[
                "--istio-version",
                "1.24",
                "-m",
                "TPROXY",
                "-b",
                "*",
                "-x",
                "1.1.0.0/16",
                "-i",
                "9.9.0.0/16",
                "--redirect-dns",
                "--dns-server",
                "127.0.0.53",
                "-c",
                "not-istio-nic",
                "--ipv6",
            ],
        ),
        // 1.25: the new layout.
        (
            "1.25.5/capture/dns-uid-gid.golden",
            &[
                "--istio-version",
                "1.25",
                "--redirect-dns",
                "--dns-server",
                "127.0.0.53",
                "--dns-server",
                "::127.0.0.53",
                "-g",
                "1,2",
                "-u",
                "3,4",
                "--ipv6",
            ],
        ),
        (
            "1.25.5/capture/logging.golden",
            &["--istio-version", "1.25.5", "--iptables-trace-logging"],
        ),
    ];
    for (golden, flags) in cases {
        let mut args = vec!["iptables"];
        args.extend_from_slice(flags);
        let o = meshc(&args);
        assert_eq!(code(&o), 0, "{golden}: {}", stderr(&o));
        let want = golden_payload(&reference.join("istio/iptables").join(golden));
        assert_eq!(stdout(&o).trim_end(), want.trim_end(), "{golden}");
    }
    assert_eq!(code(&meshc(&["iptables", "-m", "BOGUS"])), 2);
    assert_eq!(code(&meshc(&["iptables", "--istio-version", "x.y"])), 2);
}

#[test]
fn iptables_command_refuses_malformed_flag_values_naming_the_flag() {
    for (args, flag) in [
        (&["-p", "abc"][..], "--envoy-port"),
        (&["-z", "1e3"], "--inbound-capture-port"),
        (&["-u", "root;reboot"], "--proxy-uid"),
        (&["-b", "http"], "--istio-inbound-ports"),
        (&["-i", "10.0.0.0/99"], "--istio-service-cidr"),
        (&["-c", "eth 0"], "--istio-exclude-interfaces"),
    ] {
        let mut argv = vec!["iptables"];
        argv.extend_from_slice(args);
        let o = meshc(&argv);
        assert_eq!(code(&o), 2, "{args:?}");
        assert!(stdout(&o).is_empty(), "{args:?}: no rules on stdout");
        assert!(stderr(&o).contains(flag), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn the_readme_topology_and_commands_are_true() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    // The first lines give the two commands a new user needs.
    let head: Vec<&str> = readme.lines().take(6).collect();
    assert!(
        head.iter()
            .any(|l| l.starts_with("cargo run --release -- build examples/bookinfo-vm/topology.kdl -o out/"))
    );
    assert!(head.iter().any(|l| l.starts_with("cargo test")));
    // The sample topology checks clean.
    let start = readme.find("```kdl\n").expect("a kdl sample") + 7;
    let end = start + readme[start..].find("```").unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.kdl"), &readme[start..end]).unwrap();
    let o = meshc_in(dir.path(), &["check", "--deny-warnings", "t.kdl"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn sarif_output_validates_against_the_sarif_2_1_0_schema() {
    // `.ci/run` unpacks the schema from the npm package
    // @microsoft/sarif-multitool-linux and points MESHC_SARIF_SCHEMA at it.
    let schema_path = std::env::var_os("MESHC_SARIF_SCHEMA").map(PathBuf::from);
    let found = schema_path.as_ref().is_some_and(|p| p.is_file());
    if !crate::support::prerequisite(
        found,
        "MESHC_SARIF_SCHEMA does not name the SARIF 2.1.0 JSON schema",
    ) {
        return;
    }
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path.unwrap()).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the SARIF schema compiles");
    for args in [
        vec![
            "check",
            "--format",
            "sarif",
            "tests/fail/E301-unknown-cluster.kdl",
            "tests/fail/E302-vm-declared-twice.kdl",
        ],
        vec!["check", "--format", "sarif", VM],
    ] {
        let o = meshc(&args);
        let log: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&log)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{args:?}: {errors:#?}");
    }
    // build --check: a stale directory (one result per stale file) and a
    // clean one (no result), and a clean build.
    let (dir, _) = stale_bookinfo();
    for args in [
        vec![
            "build",
            "--check",
            "--format",
            "sarif",
            "topology.kdl",
            "-o",
            "out",
        ],
        vec!["build", "--format", "sarif", "topology.kdl", "-o", "out"],
        vec![
            "build",
            "--check",
            "--format",
            "sarif",
            "topology.kdl",
            "-o",
            "out",
        ],
    ] {
        let o = meshc_in(dir.path(), &args);
        let log: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&log)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{args:?}: {errors:#?}");
    }
    // The validator bites: a result without a message is not SARIF.
    let bad = serde_json::json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"ruleId": "E1"}]}]});
    assert!(!validator.is_valid(&bad));
}

/// Found by the `fmt` fuzz target: the kdl crate wrote an escaped NUL back
/// raw, so `fmt` replaced a valid file with one that no longer parsed (and
/// then refused such files). meshc's own printer keeps the escape.
#[test]
fn fmt_never_writes_back_a_file_that_does_not_parse() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.kdl");
    let text = "mesh shop { istio \"1.24\" }\nnetwork vpc { cidr \"10.0.0.0/16\" }\nvm db { address \"10.0.1.5\"; network vpc; ssh \"root@10.0.1.5\\u{0}\" }\n";
    std::fs::write(&file, text).unwrap();
    let o = meshc_in(dir.path(), &["fmt", "t.kdl"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let formatted = std::fs::read_to_string(&file).unwrap();
    assert!(formatted.contains("ssh \"root@10.0.1.5\\u{0}\""), "{formatted}");
    let o = meshc_in(dir.path(), &["fmt", "--check", "t.kdl"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
}

/// Runs meshc in `dir` with `stdin` as its standard input and `env` added.
fn meshc_with(dir: &Path, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshc"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("meshc starts");
    let mut pipe = child.stdin.take().unwrap();
    // meshc may stop reading early (the size limit): a broken pipe is fine.
    let _ = pipe.write_all(stdin);
    drop(pipe);
    child.wait_with_output().expect("meshc runs")
}

/// A built Bookinfo in a temporary directory, then three kinds of staleness:
/// a generated file edited on line 5, one deleted, and a VM renamed in the
/// topology (its old bundle is extra, its new one missing).
fn stale_bookinfo() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let topo = dir.path().join("topology.kdl");
    std::fs::copy(root().join(VM), &topo).unwrap();
    let o = meshc_in(dir.path(), &["build", "topology.kdl", "-o", "out"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = dir.path().join("out");
    let edited = "kubernetes/mesh/bookinfo/service-details.yaml";
    let text = std::fs::read_to_string(out.join(edited)).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[4] = "edited: by hand";
    std::fs::write(out.join(edited), lines.join("\n") + "\n").unwrap();
    std::fs::remove_file(out.join("RUNBOOK.md")).unwrap();
    let renamed = std::fs::read_to_string(&topo)
        .unwrap()
        .replace("ecs-details", "ecs-detailz");
    std::fs::write(&topo, renamed).unwrap();
    (dir, edited.to_owned())
}

#[test]
fn build_check_reports_one_finding_per_stale_file_in_every_machine_format() {
    let (dir, edited) = stale_bookinfo();
    let args = |format| {
        vec![
            "build",
            "--check",
            "--format",
            format,
            "topology.kdl",
            "-o",
            "out",
        ]
    };
    let o = meshc_in(dir.path(), &args("json"));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let items: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        !items.is_empty()
            && items
                .iter()
                .all(|i| i["code"] == "E001" && i["severity"] == "error")
    );
    let find = |file: &str| {
        items
            .iter()
            .find(|i| i["file"] == format!("out/{file}"))
            .unwrap_or_else(|| panic!("no finding for {file}: {items:#?}"))
    };
    // The edited file: located at its first changed line, with real offsets.
    let e = find(&edited);
    assert_eq!((e["line"].as_u64(), e["column"].as_u64()), (Some(5), Some(1)));
    let on_disk = std::fs::read_to_string(dir.path().join("out").join(&edited)).unwrap();
    let (start, end) = (
        e["start"].as_u64().unwrap() as usize,
        e["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&on_disk[start..end], "edited: by hand");
    assert!(e["message"].as_str().unwrap().contains("differs"), "{e}");
    assert!(
        e["help"]
            .as_str()
            .unwrap()
            .contains("meshc build topology.kdl -o out"),
        "{e}"
    );
    assert!(
        find("RUNBOOK.md")["message"]
            .as_str()
            .unwrap()
            .contains("is missing")
    );
    let extra: Vec<&serde_json::Value> = items
        .iter()
        .filter(|i| i["file"].as_str().unwrap().starts_with("out/vms/ecs-details/"))
        .collect();
    assert!(
        !extra.is_empty()
            && extra
                .iter()
                .all(|i| i["message"].as_str().unwrap().contains("no longer produced"))
    );
    assert!(
        items
            .iter()
            .any(|i| i["file"].as_str().unwrap().starts_with("out/vms/ecs-detailz/"))
    );
    // One finding per stale file, no more, no fewer: as many as the diff has files.
    let human = meshc_in(dir.path(), &["build", "--check", "topology.kdl", "-o", "out"]);
    assert_eq!(code(&human), 1);
    let diffed = stdout(&human).lines().filter(|l| l.starts_with("+++ b/")).count();
    assert_eq!(items.len(), diffed, "{}", stdout(&human));

    let o = meshc_in(dir.path(), &args("github"));
    assert_eq!(code(&o), 1);
    let lines: Vec<String> = stdout(&o).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), items.len(), "{lines:#?}");
    assert!(
        lines.iter().any(
            |l| l.starts_with(&format!("::error file=out/{edited},line=5,endLine=5,col=1,"))
                && l.contains("title=E001::")
        ),
        "{lines:#?}"
    );

    let o = meshc_in(dir.path(), &args("sarif"));
    assert_eq!(code(&o), 1);
    let log: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), items.len());
    assert!(results.iter().all(|r| r["ruleId"] == "E001"));
    assert_eq!(
        log["runs"][0]["tool"]["driver"]["rules"][0]["name"],
        "output-stale"
    );
}

#[test]
fn clean_runs_print_empty_documents_in_machine_formats() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(root().join(VM), dir.path().join("t.kdl")).unwrap();
    for format in ["json", "sarif", "github"] {
        let runs = [
            vec!["build", "--format", format, "t.kdl", "-o", "out"],
            vec!["build", "--check", "--format", format, "t.kdl", "-o", "out"],
            vec!["check", "--format", format, "t.kdl"],
        ];
        for args in runs {
            let o = meshc_in(dir.path(), &args);
            assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
            let out = stdout(&o);
            match format {
                "json" => assert_eq!(out, "[]\n", "{args:?}"),
                "sarif" => {
                    let log: serde_json::Value = serde_json::from_str(&out).unwrap();
                    assert_eq!(log["runs"][0]["results"], serde_json::json!([]), "{args:?}");
                }
                _ => assert_eq!(out, "", "{args:?}"),
            }
        }
    }
}

#[test]
fn a_topology_can_be_read_from_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let kdl = std::fs::read(root().join(VM)).unwrap();
    let toml = std::fs::read(root().join("examples/bookinfo-vm/topology.toml")).unwrap();
    let run = |args: &[&str], input: &[u8]| meshc_with(dir.path(), args, input, &[]);
    let o = run(&["check", "-"], &kdl);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("<stdin>: ok"), "{}", stderr(&o));
    // --stdin-filename picks the syntax and names the file in diagnostics.
    let o = run(&["check", "--stdin-filename", "conf/topology.toml", "-"], &toml);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("conf/topology.toml: ok"), "{}", stderr(&o));
    let o = run(&["check", "-"], &toml);
    assert_eq!(code(&o), 1, "TOML read as KDL without a .toml name");
    let broken = b"mesh m { istio \"1.24\" }\ncluster c { network nope }\n";
    let o = run(
        &["check", "--format", "json", "--stdin-filename", "t.kdl", "-"],
        broken,
    );
    let items: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        !items.is_empty() && items.iter().all(|i| i["file"] == "t.kdl"),
        "{items:#?}"
    );
    // Standard input beside files.
    let vm = root().join(VM);
    let vm = vm.to_str().unwrap();
    let o = run(&["check", vm, "-"], &kdl);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // The size limit holds for a pipe as for a file.
    let o = run(&["check", "--max-input-size", "100", "-"], &kdl);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("E104") && stderr(&o).contains("limit of 100 bytes"),
        "{}",
        stderr(&o)
    );
    // Usage errors: a name for a standard input that is not read; `-` twice.
    let o = run(&["check", "--stdin-filename", "t.kdl", vm], b"");
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--stdin-filename"), "{}", stderr(&o));
    let o = run(&["check", "-", "-"], &kdl);
    assert_eq!(code(&o), 2);
    // build from standard input: the headers name --stdin-filename's base name.
    let o = run(
        &["build", "--stdin-filename", "ops/shop.kdl", "-", "-o", "out"],
        &kdl,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let yaml = std::fs::read_to_string(
        dir.path()
            .join("out/kubernetes/mesh/bookinfo/service-details.yaml"),
    )
    .unwrap();
    assert!(yaml.contains("from shop.kdl;"), "{yaml}");
    let o = run(
        &[
            "build",
            "--check",
            "--stdin-filename",
            "ops/shop.kdl",
            "-",
            "-o",
            "out",
        ],
        &kdl,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // A path that names a FIFO is still refused (it could block forever).
    let fifo = dir.path().join("fifo.kdl");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    if made {
        let o = run(&["check", "fifo.kdl"], b"");
        assert_eq!(code(&o), 2);
        assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
    }
}

#[test]
fn color_follows_the_flag_then_no_color_then_clicolor_force() {
    let dir = tempfile::tempdir().unwrap();
    let broken = b"mesh m {\n";
    let colored = |args: &[&str], env: &[(&str, &str)]| {
        let o = meshc_with(dir.path(), args, broken, env);
        assert_eq!(code(&o), 1, "{}", stderr(&o));
        stderr(&o).contains("\x1b[")
    };
    // stderr is a pipe here: no colour unless asked for.
    assert!(!colored(&["check", "-"], &[]));
    assert!(colored(&["check", "--color", "always", "-"], &[]));
    assert!(colored(&["check", "-", "--color=always"], &[("NO_COLOR", "1")]));
    assert!(!colored(
        &["check", "--color", "never", "-"],
        &[("CLICOLOR_FORCE", "1")]
    ));
    assert!(colored(&["check", "-"], &[("CLICOLOR_FORCE", "1")]));
    assert!(!colored(&["check", "-"], &[("CLICOLOR_FORCE", "0")]));
    assert!(!colored(
        &["check", "-"],
        &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]
    ));
    // An empty NO_COLOR does not count.
    assert!(colored(
        &["check", "-"],
        &[("NO_COLOR", ""), ("CLICOLOR_FORCE", "1")]
    ));
    // Every command that prints diagnostics: build, graph, fmt too.
    assert!(colored(&["build", "--color", "always", "-", "-o", "out"], &[]));
    assert!(colored(&["graph", "--color", "always", "-"], &[]));
    std::fs::write(dir.path().join("b.kdl"), broken).unwrap();
    assert!(colored(&["fmt", "--color", "always", "b.kdl"], &[]));
    assert!(!colored(&["fmt", "b.kdl"], &[]));
    let o = meshc(&["check", "--color", "sometimes", VM]);
    assert_eq!(code(&o), 2);
}

#[test]
fn allow_drops_the_warnings_it_names_and_refuses_errors() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join(VM)).unwrap()
        + "\nvm idle {\n    address \"192.168.3.250\"\n    network vpc-hangzhou\n}\n";
    std::fs::write(dir.path().join("t.kdl"), text).unwrap();
    let run = |args: &[&str]| meshc_in(dir.path(), args);
    let o = run(&["check", "--deny-warnings", "--format", "json", "t.kdl"]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("\"W902\""), "{}", stdout(&o));
    // By code (any case) or by name, in every command that reports.
    for allow in ["W902", "w902", "idle-vm"] {
        let o = run(&[
            "check",
            "--deny-warnings",
            "--allow",
            allow,
            "--format",
            "json",
            "t.kdl",
        ]);
        assert_eq!(code(&o), 0, "{allow}: {}", stderr(&o));
        assert_eq!(stdout(&o), "[]\n", "{allow}");
    }
    let o = run(&[
        "build",
        "--deny-warnings",
        "--allow",
        "W902",
        "t.kdl",
        "-o",
        "out",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(&["build", "--deny-warnings", "t.kdl", "-o", "out2"]);
    assert_eq!(code(&o), 1);
    let o = run(&["graph", "--deny-warnings", "--allow", "W902", "t.kdl"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Another code leaves the warning.
    let o = run(&["check", "--deny-warnings", "--allow", "W901", "t.kdl"]);
    assert_eq!(code(&o), 1);
    // An error cannot be allowed; an unknown code is a usage error.
    let o = run(&["check", "--allow", "E301", "t.kdl"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("only warnings can be allowed"),
        "{}",
        stderr(&o)
    );
    let o = run(&["build", "--allow", "unknown-reference", "t.kdl", "-o", "out"]);
    assert_eq!(code(&o), 2);
    let o = run(&["check", "--allow", "W9O2", "t.kdl"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("did you mean W902"), "{}", stderr(&o));
}

/// A reader that goes away (`meshc graph t.kdl | head`) ends the output
/// quietly: `print!` would panic on the broken pipe. The picture of 1000
/// services is far larger than a pipe's buffer, so meshc is still writing
/// when the pipe closes.
#[test]
fn a_closed_standard_output_is_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let topology = dir.path().join("t.kdl");
    let text = meshc::synth::generate(&meshc::synth::Params::new(1000, 100, 3)).unwrap();
    std::fs::write(&topology, text).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_meshc"))
        .arg("graph")
        .arg(&topology)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
}

/// Runs meshc in `dir` under a 1 KiB file size limit (bash's `ulimit -f
/// 1`), with SIGXFSZ ignored so that a write past it fails with EFBIG, as
/// on a full disk, instead of killing meshc.
fn meshc_with_file_size_limit(dir: &Path, args: &[&str]) -> Output {
    Command::new("bash")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 1 && exec \"$@\"")
        .arg("bash")
        .arg(env!("CARGO_BIN_EXE_meshc"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("bash runs")
}

/// The entries of `dir` but the ones listed.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `meshc fmt` and `meshc import -o` share one atomic single-file writer:
/// a replaced file keeps its permissions, a new one gets the umask's, and
/// a write that fails half-way (here a file size limit) leaves the target
/// as it was, with no partial file and no temporary file behind.
#[test]
fn fmt_and_import_write_their_file_whole_or_not_at_all() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    // Unformatted, and formatted longer than 1 KiB.
    let mut text = String::from("mesh   m {istio \"1.24\"}\n");
    for i in 0..40 {
        text.push_str(&format!("network   n{i} {{cidr \"10.{i}.0.0/16\"}}\n"));
    }
    let file = dir.path().join("t.kdl");
    std::fs::write(&file, &text).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();

    if prerequisite(have_tool("bash"), "bash is not installed") {
        let o = meshc_with_file_size_limit(dir.path(), &["fmt", "t.kdl"]);
        assert_eq!(code(&o), 2, "{}", stderr(&o));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), text, "a partial file");
        assert_eq!(names_in(dir.path()), ["t.kdl"]);
    }
    let o = meshc_in(dir.path(), &["fmt", "t.kdl"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let formatted = std::fs::read_to_string(&file).unwrap();
    assert!(formatted.len() > 1024 && formatted != text);
    assert_eq!(mode(&file), 0o640, "fmt changed the file's permissions");

    // import -o: the same writer, refusing to replace unless --force. The
    // multicluster example's topology is over 1 KiB.
    let example = root().join("examples/multicluster/topology.kdl");
    let o = meshc_in(dir.path(), &["build", example.to_str().unwrap(), "-o", "out"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    if prerequisite(have_tool("bash"), "bash is not installed") {
        let o = meshc_with_file_size_limit(dir.path(), &["import", "out", "-o", "new.kdl"]);
        let shown = stderr(&o);
        assert_eq!(code(&o), 2, "{shown}");
        assert!(shown.contains("File too large"), "{shown}");
        assert!(!dir.path().join("new.kdl").exists(), "a partial file: {shown}");
        assert_eq!(names_in(dir.path()), ["out", "t.kdl"]);
    }
    let o = meshc_in(dir.path(), &["import", "out", "-o", "t.kdl"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("E957"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), formatted);
    let o = meshc_in(dir.path(), &["import", "out", "-o", "t.kdl", "--force"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(std::fs::read_to_string(&file).unwrap().starts_with("mesh shop {"));
    assert_eq!(
        mode(&file),
        0o640,
        "import --force changed the file's permissions"
    );
    let o = meshc_in(dir.path(), &["import", "out", "-o", "new.kdl"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let probe = dir.path().join("probe");
    std::fs::write(&probe, "").unwrap();
    assert_eq!(
        mode(&dir.path().join("new.kdl")),
        mode(&probe),
        "not the umask's mode"
    );
    std::fs::remove_file(&probe).unwrap();
    assert_eq!(names_in(dir.path()), ["new.kdl", "out", "t.kdl"]);
}
