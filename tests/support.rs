//! Helpers shared by the integration tests: where the reference data lives,
//! and the rule for skipping when an outside prerequisite is missing.

use std::path::PathBuf;

/// True when running under CI (`CI` set to anything but empty, `0` or `false`).
pub fn in_ci() -> bool {
    matches!(std::env::var("CI"), Ok(v) if !v.is_empty() && v != "0" && v != "false")
}

/// `../shared/reference` beside the checkout. In CI its absence fails the
/// test; elsewhere the caller skips, and this prints why.
pub fn reference_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        !in_ci(),
        "CI=true but the reference data is missing at {}",
        dir.display()
    );
    eprintln!(
        "skipping: reference data not found at {} (CI fails here instead)",
        dir.display()
    );
    None
}

/// Whether end-to-end prerequisites are mandatory (`.ci/run` sets
/// `MESHC_REQUIRE_E2E=1`): then a missing tool is a failure, never a skip.
pub fn e2e_required() -> bool {
    matches!(std::env::var("MESHC_REQUIRE_E2E"), Ok(v) if v == "1")
}

/// Skip (return false, printing why) or fail, when `what` is missing.
pub fn prerequisite(ok: bool, what: &str) -> bool {
    if ok {
        return true;
    }
    assert!(!e2e_required(), "MESHC_REQUIRE_E2E=1 but {what}");
    eprintln!("skipping: {what}");
    false
}

/// True when `tool` is found on PATH.
pub fn have_tool(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
}

/// The rules and chains of `iptables-save` output, by table, without
/// counters and comments. Built-in chains with their default policy are left
/// out: touching a table (as `clean`'s `-C` probes do) makes iptables-nft
/// create it, empty.
pub fn rule_lines(save: &str) -> Vec<String> {
    let mut table = "";
    let mut out = Vec::new();
    for line in save.lines() {
        if let Some(t) = line.strip_prefix('*') {
            table = t;
        } else if line.starts_with("-A ") || (line.starts_with(':') && !line.contains(" ACCEPT [")) {
            out.push(format!("{table} {}", line.split(" [").next().unwrap_or(line)));
        }
    }
    out
}

/// Runs git in `repo` with a fixed identity (commits need one, and the
/// machine's may be unset); a failure fails the test with git's output.
pub fn git(repo: &std::path::Path, args: &[&str]) {
    let o = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=meshc test",
            "-c",
            "user.email=test@meshc.invalid",
        ])
        .args(args)
        .current_dir(repo)
        .output()
        .expect("git runs");
    assert!(
        o.status.success(),
        "git {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
