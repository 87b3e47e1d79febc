//! GUIDE.md, the zero-to-VM walkthrough, stays true:
//!
//! * every `meshc` command in its shell blocks runs, in order, in a scratch
//!   repository, and succeeds (the `build` writes the output the later steps
//!   use);
//! * every `out/…` path and every `./runbook.sh` step it names exists in
//!   that output;
//! * every SSH target it names is a VM of the example it walks through.

use std::path::Path;
use std::process::Command;

fn guide() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("GUIDE.md")).expect("GUIDE.md")
}

/// The command lines of the guide's ```sh blocks, continuation lines joined.
fn shell_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_block = line == "```sh";
            continue;
        }
        if !in_block {
            continue;
        }
        let line = line.trim();
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            continue;
        }
        pending.push_str(line);
        lines.push(std::mem::take(&mut pending));
    }
    lines
}

#[test]
fn every_meshc_command_of_the_guide_runs_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ran = Vec::new();
    for line in shell_lines(&guide()) {
        // `cd out` is the only directory change before the last meshc step,
        // which the guide runs from the repository again.
        let Some(args) = line.strip_prefix("meshc ") else {
            continue;
        };
        let args: Vec<&str> = args.split('#').next().unwrap_or("").split_whitespace().collect();
        let out = Command::new(env!("CARGO_BIN_EXE_meshc"))
            .args(&args)
            .current_dir(dir.path())
            .output()
            .expect("meshc");
        assert!(
            out.status.success(),
            "`meshc {}` failed ({:?}):\n{}{}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        ran.push(args.first().copied().unwrap_or_default().to_owned());
    }
    for step in ["init", "check", "why", "build", "plan"] {
        assert!(
            ran.iter().any(|r| r == step),
            "the guide never runs meshc {step}: {ran:?}"
        );
    }

    let text = guide();
    let out = dir.path().join("out");
    for word in text.split(|c: char| c.is_whitespace() || matches!(c, '`' | '(' | ')' | ',')) {
        if let Some(rest) = word.strip_prefix("out/") {
            let rest = rest.trim_end_matches(['.', ':', ';']);
            assert!(
                out.join(rest).exists(),
                "the guide names out/{rest}, which the build does not write"
            );
        }
    }
    let runbook = std::fs::read_to_string(out.join("runbook.sh")).expect("runbook.sh");
    let mut steps = 0;
    for line in shell_lines(&text) {
        let Some(step) = line.strip_prefix("./runbook.sh ") else {
            continue;
        };
        let name = step.split_whitespace().next().unwrap_or_default();
        assert!(
            runbook.contains(&format!("\n{name}) shift;")),
            "the guide runs `./runbook.sh {step}`, which runbook.sh has no step for"
        );
        if let Some(vm) = step.strip_prefix("vm ") {
            assert!(
                runbook.contains(&format!("\t'{vm}') target=")),
                "runbook.sh knows no VM {vm}"
            );
        }
        steps += 1;
    }
    assert!(steps >= 5, "the guide runs too few runbook steps: {steps}");

    // Every SSH target the guide uses is one of the example's VMs.
    let topology = std::fs::read_to_string(dir.path().join("topology.kdl")).expect("topology");
    for line in shell_lines(&text) {
        if let Some(rest) = line.strip_prefix("ssh ") {
            let target = rest.split_whitespace().next().unwrap_or_default();
            assert!(
                topology.contains(&format!("ssh {target}\n"))
                    || topology.contains(&format!("ssh \"{target}\"")),
                "the guide logs in to {target}, which is no VM of the example"
            );
        }
    }
}
