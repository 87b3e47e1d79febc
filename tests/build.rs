//! `meshc build` and `meshc build --check` through the binary: the review
//! workflow's promises.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli::{meshc_in, stdout_of};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every entry below `dir` (not following symlinks): path → (kind+mode, bytes, mtime).
fn snapshot(dir: &Path) -> BTreeMap<String, (String, Vec<u8>, i64)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            let mode = meta.permissions().mode();
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&p).unwrap();
                out.insert(
                    rel,
                    (
                        format!("link {mode:o}"),
                        target.display().to_string().into_bytes(),
                        0,
                    ),
                );
            } else if meta.is_dir() {
                out.insert(rel, (format!("dir {mode:o}"), Vec::new(), 0));
                stack.push(p);
            } else {
                out.insert(
                    rel,
                    (
                        format!("file {mode:o}"),
                        std::fs::read(&p).unwrap(),
                        meta.mtime_nsec() + meta.mtime() * 1_000_000_000,
                    ),
                );
            }
        }
    }
    out
}

fn bytes_only(s: &BTreeMap<String, (String, Vec<u8>, i64)>) -> BTreeMap<String, (String, Vec<u8>)> {
    s.iter()
        .map(|(k, (m, b, _))| (k.clone(), (m.clone(), b.clone())))
        .collect()
}

fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let topo = dir.path().join("topology.kdl");
    std::fs::copy(root().join("examples/bookinfo-vm/topology.kdl"), &topo).unwrap();
    (dir, topo)
}

fn code(o: &std::process::Output) -> i32 {
    o.status.code().expect("exited")
}

#[test]
fn build_twice_gives_identical_bytes_and_rewrites_nothing() {
    let (dir, _) = setup();
    let o = meshc_in(dir.path(), &["build", "topology.kdl", "-o", "out"]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let first = snapshot(&dir.path().join("out"));
    assert!(first.keys().any(|k| k.starts_with("kubernetes/")));
    assert!(
        first.keys().any(|k| k.starts_with("vms/")),
        "no VM bundles in {:?}",
        first.keys().collect::<Vec<_>>()
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    let o = meshc_in(dir.path(), &["build", "topology.kdl", "-o", "out"]);
    assert_eq!(code(&o), 0);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("wrote 0,") && err.contains("removed 0"), "{err}");
    let second = snapshot(&dir.path().join("out"));
    assert_eq!(first, second, "a no-op rebuild changed bytes, modes or mtimes");
}

#[test]
fn user_files_survive_and_stale_generated_files_go() {
    let (dir, topo) = setup();
    assert_eq!(
        code(&meshc_in(dir.path(), &["build", "topology.kdl", "-o", "out"])),
        0
    );
    let out = dir.path().join("out");
    std::fs::write(out.join("NOTES.md"), "mine").unwrap();
    std::fs::create_dir_all(out.join("kubernetes/extra")).unwrap();
    std::fs::write(out.join("kubernetes/extra/kustomization.yaml"), "resources: []\n").unwrap();
    // Drop the details service (and its VM's deployment): its files must go.
    let text = std::fs::read_to_string(&topo).unwrap();
    let start = text.find("service details").unwrap();
    let end = start + text[start..].find("}\n").unwrap() + 2;
    let text =
        format!("{}{}", &text[..start], &text[end..]).replace("calls details reviews", "calls reviews");
    std::fs::write(&topo, text).unwrap();
    let o = meshc_in(dir.path(), &["build", "topology.kdl", "-o", "out"]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_to_string(out.join("NOTES.md")).unwrap(), "mine");
    assert!(out.join("kubernetes/extra/kustomization.yaml").exists());
    let after = snapshot(&out);
    assert!(
        !after.keys().any(|k| k.contains("service-details")),
        "stale file kept"
    );
}

#[test]
fn a_broken_topology_writes_nothing() {
    let (dir, topo) = setup();
    assert_eq!(
        code(&meshc_in(dir.path(), &["build", "topology.kdl", "-o", "out"])),
        0
    );
    let before = snapshot(&dir.path().join("out"));
    let text = std::fs::read_to_string(&topo)
        .unwrap()
        .replace("vm=ecs-db", "vm=ecs-nope");
    std::fs::write(&topo, text).unwrap();
    let o = meshc_in(dir.path(), &["build", "topology.kdl", "-o", "out"]);
    assert_eq!(code(&o), 1);
    assert_eq!(before, snapshot(&dir.path().join("out")));
    // A fresh output directory is not even created.
    let o = meshc_in(dir.path(), &["build", "topology.kdl", "-o", "fresh"]);
    assert_eq!(code(&o), 1);
    assert!(!dir.path().join("fresh").exists());
}

#[test]
fn check_mode_reports_staleness_with_a_diff_and_writes_nothing() {
    let (dir, topo) = setup();
    let o = meshc_in(dir.path(), &["build", "--check", "topology.kdl", "-o", "out"]);
    assert_eq!(code(&o), 1, "a missing output directory is stale");
    assert!(!dir.path().join("out").exists(), "--check must not write");
    assert_eq!(
        code(&meshc_in(dir.path(), &["build", "topology.kdl", "-o", "out"])),
        0
    );
    let o = meshc_in(dir.path(), &["build", "--check", "topology.kdl", "-o", "out"]);
    assert_eq!(code(&o), 0, "{}", stdout_of(&o));
    // Edit a generated file: stale, with a diff naming it.
    let out = dir.path().join("out");
    let victim = snapshot(&out)
        .into_keys()
        .find(|k| k.ends_with("service-details.yaml"))
        .unwrap();
    let before = snapshot(&out);
    std::fs::write(out.join(&victim), "edited\n").unwrap();
    let o = meshc_in(dir.path(), &["build", "--check", "topology.kdl", "-o", "out"]);
    assert_eq!(code(&o), 1);
    let diff = stdout_of(&o);
    assert!(
        diff.contains(&format!("a/{victim}")) && diff.contains("-edited"),
        "{diff}"
    );
    // Edit the topology instead: stale too.
    std::fs::write(out.join(&victim), &before[&victim].1).unwrap();
    let text = std::fs::read_to_string(&topo)
        .unwrap()
        .replace("port http 9080", "port http 9081");
    std::fs::write(&topo, text).unwrap();
    let o = meshc_in(dir.path(), &["build", "--check", "topology.kdl", "-o", "out"]);
    assert_eq!(code(&o), 1);
    assert!(stdout_of(&o).contains("+    http: 9081") || stdout_of(&o).contains("9081"));
}

#[test]
fn output_does_not_depend_on_the_working_directory() {
    let (dir, _) = setup();
    let sub = dir.path().join("a/b");
    std::fs::create_dir_all(&sub).unwrap();
    assert_eq!(
        code(&meshc_in(dir.path(), &["build", "topology.kdl", "-o", "out1"])),
        0
    );
    assert_eq!(
        code(&meshc_in(
            &sub,
            &["build", "../../topology.kdl", "-o", "../../out2"]
        )),
        0
    );
    assert_eq!(
        bytes_only(&snapshot(&dir.path().join("out1"))),
        bytes_only(&snapshot(&dir.path().join("out2")))
    );
}

#[test]
fn a_killed_build_leaves_the_old_tree_or_the_new_one_never_a_mix() {
    let (dir, topo) = setup();
    assert_eq!(
        code(&meshc_in(dir.path(), &["build", "topology.kdl", "-o", "out"])),
        0
    );
    let old = bytes_only(&snapshot(&dir.path().join("out")));
    // The new tree, built elsewhere, to recognise a completed build.
    let text = std::fs::read_to_string(&topo)
        .unwrap()
        .replace("port http 9080", "port http 9081");
    std::fs::write(&topo, &text).unwrap();
    assert_eq!(
        code(&meshc_in(
            dir.path(),
            &["build", "topology.kdl", "-o", "expected"]
        )),
        0
    );
    let new = bytes_only(&snapshot(&dir.path().join("expected")));
    assert_ne!(old, new);
    // Spread the kills over the time a whole build takes, so that some land
    // before the commit point and some after it.
    let started = std::time::Instant::now();
    assert_eq!(
        code(&meshc_in(dir.path(), &["build", "topology.kdl", "-o", "timing"])),
        0
    );
    let span = started.elapsed().as_micros().max(1000) as u64;
    let orig = text.replace("port http 9081", "port http 9080");
    let mut outcomes: BTreeMap<&str, u32> = BTreeMap::new();
    let rounds = 60u64;
    for i in 0..rounds {
        std::fs::write(&topo, &orig).unwrap();
        assert_eq!(
            code(&meshc_in(dir.path(), &["build", "topology.kdl", "-o", "out"])),
            0
        );
        std::fs::write(&topo, &text).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_meshc"))
            .args(["build", "topology.kdl", "-o", "out"])
            .current_dir(dir.path())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let delay = span * 3 / 2 * i / rounds;
        std::thread::sleep(std::time::Duration::from_micros(delay));
        let _ = child.kill();
        let _ = child.wait();
        let now = bytes_only(&snapshot(&dir.path().join("out")));
        let outcome = if now == old {
            "old"
        } else if now == new {
            "new"
        } else {
            panic!("after a kill at {delay}µs the output is neither the old nor the new tree")
        };
        *outcomes.entry(outcome).or_insert(0) += 1;
    }
    eprintln!("killed builds over {span}µs: {outcomes:?}");
    assert!(
        outcomes.contains_key("old"),
        "no kill landed before the commit point: {outcomes:?}"
    );
}
