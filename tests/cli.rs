//! The command line, end to end: every command and every exit code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
