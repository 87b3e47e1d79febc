//! The operator-facing artifacts: `RUNBOOK.md` and `runbook.sh`, and the
//! Prometheus scrape job for the VM sidecars, for every example.
//!
//! * every path the runbook names is one the build emits;
//! * the script passes `bash -n` and shellcheck;
//! * `promtool check config` accepts the scrape job (when Debian's
//!   `prometheus` package is installed; mandatory with `MESHC_REQUIRE_E2E=1`),
//!   and its targets are every VM's address on 15020;
//! * a snapshot of each, read and signed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use meshc::artifact::Artifact;
use meshc::source::Source;
use meshc::syntax::{Limits, Syntax};
use serde_json::Value;

use crate::support::{have_tool, prerequisite};

fn examples() -> Vec<(String, PathBuf)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .expect("examples")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("topology.kdl").is_file())
        .filter_map(|p| Some((p.file_name()?.to_str()?.to_owned(), p.join("topology.kdl"))))
        .collect();
    out.sort();
    out
}

fn build(path: &Path) -> (meshc::check::Checked, Vec<Artifact>) {
    let text = std::fs::read_to_string(path).expect("read");
    let source = Source::new("topology.kdl".to_owned(), text);
    let (checked, diags) = meshc::check_source(&source, Syntax::Kdl, Limits::default());
    let checked = checked.unwrap_or_else(|| panic!("{}: {diags:#?}", path.display()));
    let artifacts = meshc::emit::all(&checked, "topology.kdl");
    (checked, artifacts)
}

fn file<'a>(artifacts: &'a [Artifact], path: &str) -> &'a Artifact {
    artifacts
        .iter()
        .find(|a| a.path == path)
        .unwrap_or_else(|| panic!("{path} is not emitted"))
}

/// Words of the runbook that look like output paths: they start with one
/// of the output tree's top-level directories.
fn named_paths(text: &str) -> BTreeSet<String> {
    const ROOTS: [&str; 4] = ["kubernetes/", "vms/", "control-plane/", "prometheus/"];
    text.split(|c: char| c.is_whitespace() || matches!(c, '`' | '\'' | '"' | '(' | ')' | ',' | '='))
        .filter(|w| ROOTS.iter().any(|r| w.starts_with(r)))
        .map(|w| w.trim_end_matches(['.', ':', ';']).to_owned())
        .collect()
}

#[test]
fn every_path_the_runbook_names_is_emitted() {
    for (example, path) in examples() {
        let (_, artifacts) = build(&path);
        let emitted: BTreeSet<&str> = artifacts.iter().map(|a| a.path.as_str()).collect();
        for name in ["RUNBOOK.md", "runbook.sh"] {
            let text = &file(&artifacts, name).contents;
            let named = named_paths(text);
            assert!(
                named.len() >= 3,
                "{example}: {name} names too few files: {named:?}"
            );
            for p in named {
                let dir = format!("{}/", p.trim_end_matches('/'));
                assert!(
                    emitted.contains(p.as_str()) || emitted.iter().any(|e| e.starts_with(&dir)),
                    "{example}: {name} names {p}, which the build does not emit"
                );
            }
        }
        let script = file(&artifacts, "runbook.sh");
        assert_eq!(script.mode, meshc::artifact::Mode::Executable, "{example}");
    }
}

#[test]
fn the_runbook_follows_the_topology() {
    let (_, multi) = build(
        &examples()
            .into_iter()
            .find(|(e, _)| e == "multicluster")
            .expect("multicluster")
            .1,
    );
    let md = &file(&multi, "RUNBOOK.md").contents;
    for want in [
        // Multi-primary: a shared root and remote secrets both ways.
        "make -f ../tools/certs/Makefile.selfsigned.mk root-ca",
        "kubectl --context east create secret generic cacerts -n istio-system",
        "istioctl create-remote-secret --context east --name east | kubectl apply --context west -f -",
        "istioctl create-remote-secret --context west --name west | kubectl apply --context east -f -",
        "topology.istio.io/network=net-east",
        "kubectl --context east apply -R -f kubernetes/clusters/east",
        "kubectl --context west apply -R -f kubernetes/mesh",
        "https://storage.googleapis.com/istio-release/releases/${ISTIO_VERSION}/deb/istio-sidecar.deb",
        "-f control-plane/east/istiod-values.yaml",
    ] {
        assert!(md.contains(want), "missing {want:?}:\n{md}");
    }
    // Steps come in the order the guides give them.
    let order = [
        "shared root CA",
        "control plane",
        "Network labels",
        "Remote secrets",
        "mesh's objects",
        "VM `",
        "Verify",
    ];
    let at: Vec<usize> = order
        .iter()
        .map(|w| md.find(w).unwrap_or_else(|| panic!("no {w:?}:\n{md}")))
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "out of order: {at:?}");
    // A release with a patch pins the package; no CA step with one primary.
    let (_, legacy) = build(
        &examples()
            .into_iter()
            .find(|(e, _)| e == "bookinfo-legacy")
            .expect("legacy")
            .1,
    );
    let md = &file(&legacy, "RUNBOOK.md").contents;
    assert!(md.contains("releases/1.0.0/deb/istio-sidecar.deb"), "{md}");
    assert!(md.contains("istio-demo-auth.yaml"), "data-plane-mtls #true: {md}");
    assert!(!md.contains("cacerts"), "{md}");
}

#[test]
fn runbook_scripts_pass_bash_n_and_shellcheck() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut scripts = Vec::new();
    for (example, path) in examples() {
        let (_, artifacts) = build(&path);
        let target = dir.path().join(format!("{example}-runbook.sh"));
        std::fs::write(&target, &file(&artifacts, "runbook.sh").contents).expect("write");
        let out = Command::new("bash")
            .arg("-n")
            .arg(&target)
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "{example}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        scripts.push(target);
    }
    if !prerequisite(have_tool("shellcheck"), "shellcheck is not installed") {
        return;
    }
    let out = Command::new("shellcheck")
        .args(&scripts)
        .output()
        .expect("shellcheck");
    assert!(
        out.status.success(),
        "shellcheck:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn runbook_script_refuses_a_version_of_another_release() {
    let (_, artifacts) = build(
        &examples()
            .into_iter()
            .find(|(e, _)| e == "bookinfo-vm")
            .expect("vm")
            .1,
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("runbook.sh");
    std::fs::write(&script, &file(&artifacts, "runbook.sh").contents).expect("write");
    for (version, ok) in [
        ("", false),
        ("1.25.0", false),
        ("1.240.1", false),
        ("1.24.6", true),
    ] {
        // `vm` with an unknown name stops right after the version check.
        let out = Command::new("bash")
            .arg(&script)
            .args(["vm", "no-such-vm"])
            .env("ISTIO_VERSION", version)
            .output()
            .expect("bash");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert_eq!(err.contains("unknown VM"), ok, "{version:?}: {err}");
    }
}

#[test]
fn prometheus_scrapes_every_vm_sidecar() {
    for (example, path) in examples() {
        let (checked, artifacts) = build(&path);
        let topo = checked.topology();
        let found = artifacts.iter().find(|a| a.path == "prometheus/vm-sidecars.yaml");
        if topo.mesh.flow() == meshc::model::Flow::Legacy {
            assert!(found.is_none(), "{example}: no agent endpoint before 1.8");
            continue;
        }
        let text = &found
            .unwrap_or_else(|| panic!("{example}: no scrape job"))
            .contents;
        let config: Value = serde_saphyr::from_str(text).expect("YAML");
        let job = &config["scrape_configs"][0];
        assert_eq!(job["metrics_path"], "/stats/prometheus", "{example}");
        let targets: BTreeSet<String> = job["static_configs"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["targets"].as_array().cloned().unwrap_or_default())
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect();
        let want: BTreeSet<String> = topo
            .vms
            .iter()
            .map(|v| format!("{}:15020", v.address.value))
            .collect();
        assert_eq!(targets, want, "{example}");
        for sc in job["static_configs"].as_array().into_iter().flatten() {
            for key in ["vm", "network", "cluster", "namespace"] {
                assert!(sc["labels"][key].is_string(), "{example}: no {key} label: {sc}");
            }
        }
    }
}

#[test]
fn promtool_accepts_the_scrape_job() {
    if !prerequisite(
        have_tool("promtool"),
        "promtool is not installed (Debian package prometheus)",
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut checked = 0;
    for (example, path) in examples() {
        let (_, artifacts) = build(&path);
        let Some(a) = artifacts.iter().find(|a| a.path == "prometheus/vm-sidecars.yaml") else {
            continue;
        };
        let target = dir.path().join(format!("{example}.yaml"));
        std::fs::write(&target, &a.contents).expect("write");
        let out = Command::new("promtool")
            .args(["check", "config", "--syntax-only"])
            .arg(&target)
            .output()
            .expect("promtool");
        assert!(
            out.status.success(),
            "{example}: promtool rejected it:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    assert!(checked >= 2, "only {checked} scrape jobs checked");
    // And promtool is not a rubber stamp.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "scrape_configs:\n- job_name: x\n  metric_path: /stats/prometheus\n  static_configs:\n  - targets: ['10.0.0.1:15020']\n",
    )
    .expect("write");
    let out = Command::new("promtool")
        .args(["check", "config", "--syntax-only"])
        .arg(&bad)
        .output()
        .expect("promtool");
    assert!(!out.status.success(), "promtool accepted a misspelt key");
}

#[test]
fn operations_files_match_the_snapshots() {
    for (example, path) in examples() {
        let (_, artifacts) = build(&path);
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("snapshots/operations")
            .join(&example);
        for a in artifacts.iter().filter(|a| {
            matches!(a.path.as_str(), "RUNBOOK.md" | "runbook.sh") || a.path.starts_with("prometheus/")
        }) {
            let name = a.path.replace('/', "__");
            insta::with_settings!({
                snapshot_path => &dir,
                prepend_module_to_snapshot => false,
                omit_expression => true,
                description => format!("examples/{example}/topology.kdl → {}", a.path),
            }, {
                insta::assert_snapshot!(name, a.contents);
            });
        }
    }
}

/// `runbook.sh vm NAME`, run for real against stand-ins for kubectl and
/// ssh (the "VM" is a scratch directory that ssh's commands run in):
/// the credentials are fetched with the cluster's kubectl context before the
/// bundle leaves the workstation, so they reach the VM with it; the bundle is
/// unpacked in place, so a second run updates the same directory instead of
/// nesting a new copy inside the old one.
#[test]
fn runbook_vm_step_fetches_credentials_first_and_updates_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let built = Command::new(env!("CARGO_BIN_EXE_meshc"))
        .arg("build")
        .arg(
            examples()
                .into_iter()
                .find(|(e, _)| e == "bookinfo-vm")
                .expect("vm")
                .1,
        )
        .arg("-o")
        .arg(&out)
        .output()
        .expect("meshc");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );

    let bin = dir.path().join("bin");
    let remote = dir.path().join("remote");
    let log = dir.path().join("log");
    std::fs::create_dir_all(&bin).expect("bin");
    std::fs::create_dir_all(&remote).expect("remote");
    let stubs = [
        (
            "kubectl",
            "#!/bin/bash\nprintf 'kubectl %s\\n' \"$*\" >>\"$STUB_LOG\"\n\
             case \"$*\" in\n*'create token'*) echo token-from-kubectl ;;\n\
             *'get configmap'*) echo root-cert-from-kubectl ;;\nesac\n",
        ),
        (
            "ssh",
            "#!/bin/bash\nprintf 'ssh %s %s\\n' \"$1\" \"$2\" >>\"$STUB_LOG\"\n\
             case \"$2\" in\n'mkdir -p meshc-'*) cd \"$STUB_REMOTE\" && exec bash -c \"$2\" ;;\n\
             *) cat >/dev/null ;;\nesac\n",
        ),
    ];
    for (name, text) in stubs {
        let path = bin.join(name);
        std::fs::write(&path, text).expect("stub");
        let mut perm = std::fs::metadata(&path).expect("stat").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&path, perm).expect("chmod");
    }
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let run = || {
        let out = Command::new("bash")
            .arg(out.join("runbook.sh"))
            .args(["vm", "ecs-details"])
            .env("PATH", &path)
            .env("ISTIO_VERSION", "1.24.6")
            .env("KUBE_CONTEXT_ACK_HANGZHOU", "prod-hangzhou")
            .env("STUB_LOG", &log)
            .env("STUB_REMOTE", &remote)
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "runbook.sh vm: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run();
    let calls = std::fs::read_to_string(&log).expect("log");
    let lines: Vec<&str> = calls.lines().collect();
    let at = |what: &str| {
        lines
            .iter()
            .position(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what:?} in:\n{calls}"))
    };
    let token = at("create token bookinfo-details");
    let cert = at("get configmap istio-ca-root-cert");
    let copy = at("mkdir -p meshc-ecs-details");
    let install = at("sudo ./install.sh");
    assert!(token < copy && cert < copy && copy < install, "{calls}");
    assert!(lines[token].contains("--context prod-hangzhou"), "{calls}");
    let landed = remote.join("meshc-ecs-details");
    assert_eq!(
        std::fs::read_to_string(landed.join("istio-token")).expect("token on the VM"),
        "token-from-kubectl\n"
    );
    assert!(landed.join("root-cert.pem").is_file());
    assert!(landed.join("install.sh").is_file() && landed.join("cluster.env").is_file());

    // A second run after a rebuild updates the same directory.
    std::fs::write(out.join("vms/ecs-details/rebuilt"), "").expect("marker");
    run();
    assert!(landed.join("rebuilt").is_file(), "the update did not land");
    let nested: Vec<_> = std::fs::read_dir(&landed)
        .expect("ls")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name())
        .collect();
    assert!(nested.is_empty(), "bundle nested in itself: {nested:?}");
}
