//! Tests of `write` and `check` through the filesystem: each builds a small
//! world in a temporary directory (an output directory, user files, files
//! outside it), runs the writer, and compares full snapshots of paths, bytes,
//! modes and symlink targets.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use super::ops::test_hooks::Fault;
use super::*;
use crate::artifact::Mode;

fn file(path: &str, contents: &str) -> Artifact {
    Artifact {
        path: path.to_owned(),
        contents: contents.to_owned(),
        mode: Mode::Regular,
    }
}

fn script(path: &str, contents: &str) -> Artifact {
    Artifact {
        mode: Mode::Executable,
        ..file(path, contents)
    }
}

/// One entry of a snapshot: everything "byte-identical" covers.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Snap {
    Dir { mode: u32 },
    File { bytes: Vec<u8>, mode: u32 },
    Symlink { target: PathBuf },
    Other,
}

/// Every entry under `dir` (and `dir` itself, as ""), without following
/// symlinks; `None` when `dir` does not exist.
fn snapshot(dir: &Path) -> Option<BTreeMap<PathBuf, Snap>> {
    fs::symlink_metadata(dir).ok()?;
    let mut snap = BTreeMap::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let path = dir.join(&relative);
        let meta = fs::symlink_metadata(&path).expect("snapshot: lstat");
        let mode = meta.mode() & 0o7777;
        let entry = if meta.is_dir() {
            for item in fs::read_dir(&path).expect("snapshot: list") {
                pending.push(relative.join(item.expect("snapshot: entry").file_name()));
            }
            Snap::Dir { mode }
        } else if meta.is_file() {
            let bytes = fs::read(&path).expect("snapshot: read");
            Snap::File { bytes, mode }
        } else if meta.is_symlink() {
            let target = fs::read_link(&path).expect("snapshot: readlink");
            Snap::Symlink { target }
        } else {
            Snap::Other
        };
        snap.insert(relative, entry);
    }
    Some(snap)
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Inode and mtime: together they show a file was not rewritten.
fn identity(path: &Path) -> (u64, i64, i64) {
    let meta = fs::symlink_metadata(path).expect("lstat");
    (meta.ino(), meta.mtime(), meta.mtime_nsec())
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).expect("lstat").mode() & 0o7777
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

fn put(path: &Path, contents: &str) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, contents).expect("write");
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).expect("read")
}

/// The writer as most tests call it: no survey, no adoption.
fn write(dir: &Path, artifacts: &[Artifact]) -> Result<Summary, WriteError> {
    super::write(dir, artifacts, Options::default())
}

fn check(dir: &Path, artifacts: &[Artifact]) -> Result<Staleness, WriteError> {
    super::check(dir, artifacts, Options::default())
}

fn run(dir: &Path, artifacts: &[Artifact], ops: &Ops) -> Result<Summary, WriteError> {
    write_with(dir, artifacts.into(), None, Adopt::No, ops)
}

fn ops_with(fault: Fault) -> Ops {
    let mut ops = Ops::default();
    ops.test.fault = Some(fault);
    ops
}

#[test]
fn first_write_creates_the_directory_and_its_parents() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("a/b/out");
    let artifacts = [
        file("kubernetes/ns/svc.yaml", "kind: Service\n"),
        script("vms/db/install.sh", "#!/bin/sh\n"),
        file("top.txt", "top\n"),
    ];
    let summary = write(&dir, &artifacts).expect("write");
    assert_eq!(summary.to_string(), "wrote 3, unchanged 0, removed 0");
    assert_eq!(read(&dir.join("kubernetes/ns/svc.yaml")), "kind: Service\n");
    assert_eq!(read(&dir.join("vms/db/install.sh")), "#!/bin/sh\n");
    assert_eq!(
        read(&dir.join(".meshc-manifest")),
        "kubernetes/ns/svc.yaml\ntop.txt\nvms/db/install.sh\n"
    );
    assert_eq!(names(tmp.path().join("a/b").as_path()), ["out"]);
}

#[test]
fn an_unchanged_rebuild_touches_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let artifacts = [file("a/x.yaml", "x\n"), script("b.sh", "echo\n")];
    write(&dir, &artifacts).expect("first write");
    let paths = ["", "a", "a/x.yaml", "b.sh", ".meshc-manifest"].map(|p| dir.join(p));
    let before: Vec<_> = paths.iter().map(|p| identity(p)).collect();

    let summary = write(&dir, &artifacts).expect("second write");
    assert_eq!(summary.to_string(), "wrote 0, unchanged 2, removed 0");
    let after: Vec<_> = paths.iter().map(|p| identity(p)).collect();
    assert_eq!(before, after, "a no-op rebuild must not replace anything");
}

#[test]
fn a_rebuild_rewrites_only_changed_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    write(&dir, &[file("a.yaml", "a\n"), file("b.yaml", "b\n")]).expect("first write");
    let kept = identity(&dir.join("a.yaml"));

    let summary = write(&dir, &[file("a.yaml", "a\n"), file("b.yaml", "B\n")]).expect("rewrite");
    assert_eq!(summary.to_string(), "wrote 1, unchanged 1, removed 0");
    assert_eq!(identity(&dir.join("a.yaml")), kept);
    assert_eq!(read(&dir.join("b.yaml")), "B\n");
}

#[test]
fn an_edit_that_keeps_the_size_is_still_repaired() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let artifacts = [file("a.yaml", "abc\n"), file("b.yaml", "xyz\n")];
    write(&dir, &artifacts).expect("first write");
    // Same length, other bytes: the size alone cannot tell.
    fs::write(dir.join("a.yaml"), "abd\n").expect("edit");
    // Other length: told by the size.
    fs::write(dir.join("b.yaml"), "xy\n").expect("edit");

    let staleness = check(&dir, &artifacts).expect("check");
    let listed: Vec<_> = staleness.changes.iter().map(ToString::to_string).collect();
    assert_eq!(listed, ["modified a.yaml", "modified b.yaml"]);
    assert!(render_diff(&staleness).contains("-abd\n+abc\n"));
    assert!(render_diff(&staleness).contains("-xy\n+xyz\n"));

    let summary = write(&dir, &artifacts).expect("rewrite");
    assert_eq!(summary.to_string(), "wrote 2, unchanged 0, removed 0");
    assert_eq!(read(&dir.join("a.yaml")), "abc\n");
    assert_eq!(read(&dir.join("b.yaml")), "xyz\n");
}

#[test]
fn user_entries_survive_as_they_were() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    write(&dir, &[file("k8s/a.yaml", "a\n")]).expect("first write");
    put(&dir.join("README.md"), "mine\n");
    put(&dir.join("k8s/kustomization.yaml"), "resources: [a.yaml]\n");
    put(&dir.join("private/deep/key"), "secret\n");
    set_mode(&dir.join("private/deep/key"), 0o600);
    set_mode(&dir.join("private"), 0o700);
    fs::create_dir(dir.join("empty")).expect("mkdir");
    symlink("../elsewhere", dir.join("link")).expect("symlink");
    let odd = dir.join(OsStr::from_bytes(b"not-utf8-\xff"));
    fs::write(&odd, "odd\n").expect("write");
    let readme = identity(&dir.join("README.md"));
    let snap_before = snapshot(&dir).expect("snapshot");

    let summary = write(&dir, &[file("k8s/a.yaml", "A\n"), file("k8s/b.yaml", "b\n")]);
    assert_eq!(
        summary.expect("rewrite").to_string(),
        "wrote 2, unchanged 0, removed 0"
    );
    let snap_after = snapshot(&dir).expect("snapshot");
    for (path, entry) in &snap_before {
        let generated = ["k8s/a.yaml", ".meshc-manifest"].map(PathBuf::from);
        if !generated.contains(path) {
            assert_eq!(snap_after.get(path), Some(entry), "{}", path.display());
        }
    }
    assert_eq!(
        identity(&dir.join("README.md")),
        readme,
        "a user file keeps its inode"
    );
    assert_eq!(read(&dir.join(".meshc-manifest")), "k8s/a.yaml\nk8s/b.yaml\n");
}

#[test]
fn dropped_artifacts_are_removed_with_the_directories_they_leave_empty() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let old = [
        file("a/b/c.yaml", "c\n"),
        file("a/d.yaml", "d\n"),
        file("e/f.yaml", "f\n"),
        file("g/h.yaml", "h\n"),
    ];
    write(&dir, &old).expect("first write");
    put(&dir.join("a/user.txt"), "user\n");
    // The user replaced a generated file with a directory: it is theirs now.
    fs::remove_file(dir.join("g/h.yaml")).expect("rm");
    put(&dir.join("g/h.yaml/inside"), "user\n");

    let summary = write(&dir, &[file("a/d.yaml", "d\n")]).expect("rewrite");
    assert_eq!(summary.to_string(), "wrote 0, unchanged 1, removed 2");
    assert!(!dir.join("a/b").exists(), "a directory meshc emptied goes");
    assert!(!dir.join("e").exists());
    assert_eq!(read(&dir.join("a/user.txt")), "user\n");
    assert_eq!(read(&dir.join("g/h.yaml/inside")), "user\n");
    assert_eq!(read(&dir.join(".meshc-manifest")), "a/d.yaml\n");
}

#[test]
fn a_symlink_at_a_target_is_replaced_not_written_through() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let outside = tmp.path().join("outside.txt");
    put(&outside, "precious\n");
    let dir = tmp.path().join("out");
    write(&dir, &[file("x.yaml", "first\n")]).expect("first write");
    fs::remove_file(dir.join("x.yaml")).expect("rm");
    symlink(&outside, dir.join("x.yaml")).expect("symlink");

    write(&dir, &[file("x.yaml", "generated\n")]).expect("write");
    assert_eq!(read(&outside), "precious\n");
    assert!(fs::symlink_metadata(dir.join("x.yaml")).expect("lstat").is_file());
    assert_eq!(read(&dir.join("x.yaml")), "generated\n");
}

#[test]
fn a_symlinked_directory_is_replaced_not_entered() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let outside = tmp.path().join("elsewhere");
    put(&outside.join("db/cluster.env"), "outside\n");
    let dir = tmp.path().join("out");
    write(&dir, &[file("vms/db/cluster.env", "first\n")]).expect("first write");
    fs::remove_dir_all(dir.join("vms")).expect("rm");
    symlink(&outside, dir.join("vms")).expect("symlink");
    let before = snapshot(&outside);

    write(&dir, &[file("vms/db/cluster.env", "generated\n")]).expect("write");
    assert_eq!(snapshot(&outside), before);
    assert!(fs::symlink_metadata(dir.join("vms")).expect("lstat").is_dir());
    assert_eq!(read(&dir.join("vms/db/cluster.env")), "generated\n");
}

#[test]
fn an_output_directory_given_as_a_symlink_stays_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let real = tmp.path().join("real");
    fs::create_dir(&real).expect("mkdir");
    let link = tmp.path().join("link");
    symlink(&real, &link).expect("symlink");
    write(&link, &[file("a", "a\n")]).expect("write");
    assert!(fs::symlink_metadata(&link).expect("lstat").is_symlink());
    assert_eq!(read(&real.join("a")), "a\n");
}

#[test]
fn refuses_a_file_and_the_root_as_the_output_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let a_file = tmp.path().join("file");
    put(&a_file, "x\n");
    for dir in [a_file.as_path(), Path::new("/"), Path::new("")] {
        let artifacts = [file("a", "a\n")];
        assert!(matches!(
            write(dir, &artifacts),
            Err(WriteError::InvalidDir { .. })
        ));
        assert!(matches!(
            check(dir, &artifacts),
            Err(WriteError::InvalidDir { .. })
        ));
    }
    assert_eq!(read(&a_file), "x\n");
}

#[test]
fn refuses_bad_artifact_paths_before_touching_anything() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    for path in [
        "/etc/passwd",
        "../escape",
        "a/../../escape",
        "a//b",
        "",
        "a\\b",
        "a\0b",
        "a\nb",
        ".meshc-manifest",
    ] {
        let error = write(&dir, &[file(path, "x")]).expect_err(path);
        assert!(
            matches!(error, WriteError::InvalidPath { .. }),
            "{path:?}: {error}"
        );
    }
    let twice = [file("a", "1"), file("a", "2")];
    assert!(matches!(write(&dir, &twice), Err(WriteError::InvalidPath { .. })));
    assert!(!dir.exists());
    assert_eq!(names(tmp.path()), Vec::<String>::new());
}

#[test]
fn refuses_to_replace_a_user_directory_with_a_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    write(&dir, &[]).expect("first write");
    put(&dir.join("a.yaml/mine"), "user\n");
    let before = snapshot(&dir);
    let error = write(&dir, &[file("a.yaml", "x\n")]).expect_err("conflict");
    assert!(matches!(error, WriteError::Conflict { .. }), "{error}");
    assert_eq!(snapshot(&dir), before);
    assert_eq!(names(tmp.path()), ["out"]);
}

#[test]
fn refuses_a_manifest_that_points_outside() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    put(&tmp.path().join("victim"), "keep\n");
    put(&dir.join(".meshc-manifest"), "../victim\n");
    let before = snapshot(tmp.path());
    let error = write(&dir, &[file("a", "a\n")]).expect_err("bad manifest");
    assert!(matches!(error, WriteError::Manifest { line: 1, .. }), "{error}");
    assert_eq!(snapshot(tmp.path()), before);
}

#[test]
fn modes_are_exact_and_preserved() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let artifacts = [file("a/f.yaml", "f\n"), script("a/s.sh", "s\n")];
    write(&dir, &artifacts).expect("write");
    assert_eq!(mode(&dir.join("a/f.yaml")), 0o644);
    assert_eq!(mode(&dir.join("a/s.sh")), 0o755);

    // A wrong mode is a change, and is repaired.
    set_mode(&dir.join("a/s.sh"), 0o700);
    set_mode(&dir.join("a/f.yaml"), 0o666);
    let summary = write(&dir, &artifacts).expect("rewrite");
    assert_eq!(summary.written, 2);
    assert_eq!(mode(&dir.join("a/f.yaml")), 0o644);
    assert_eq!(mode(&dir.join("a/s.sh")), 0o755);

    // The user's choice of mode for the directories is kept.
    set_mode(&dir, 0o750);
    set_mode(&dir.join("a"), 0o711);
    write(&dir, &[file("a/f.yaml", "g\n")]).expect("rewrite");
    assert_eq!(mode(&dir), 0o750);
    assert_eq!(mode(&dir.join("a")), 0o711);
}

#[test]
fn directories_keep_their_owner() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    write(&dir, &[]).expect("first write");
    put(&dir.join("shared/notes"), "n\n");
    // Giving a file away needs root; CI runs as root, elsewhere this is moot.
    if std::os::unix::fs::lchown(dir.join("shared"), Some(4242), Some(4343)).is_err() {
        return;
    }
    write(&dir, &[file("shared/gen.yaml", "g\n")]).expect("write");
    let meta = fs::symlink_metadata(dir.join("shared")).expect("lstat");
    assert_eq!((meta.uid(), meta.gid()), (4242, 4343));
}

/// The umask is per process, so each case runs this very test again in a
/// child process started by `sh -c 'umask U; exec …'`; the child writes,
/// the parent checks the modes.
#[test]
fn modes_ignore_the_umask() {
    const CHILD: &str = "MESHC_TEST_UMASK_CHILD_DIR";
    let artifacts = [file("d/f.yaml", "f\n"), script("d/s.sh", "s\n")];
    #[expect(
        clippy::disallowed_methods,
        reason = "the parent test speaks to its child this way"
    )]
    let child = std::env::var_os(CHILD);
    if let Some(dir) = child {
        let ops = Ops::default();
        run(Path::new(&dir), &artifacts, &ops).expect("write under a umask");
        // A chmod per file only where the umask takes bits from the mode.
        #[expect(clippy::disallowed_methods, reason = "as above")]
        let umask = std::env::var("MESHC_TEST_UMASK").expect("the parent gives the umask");
        let chmods: Vec<_> = ops
            .test
            .log
            .lock()
            .expect("log")
            .iter()
            .filter(|m| m.starts_with("set mode of") && (m.ends_with(".yaml") || m.ends_with(".sh")))
            .cloned()
            .collect();
        let expected = match umask.as_str() {
            "000" | "022" => 0,
            _ => 2,
        };
        assert_eq!(chmods.len(), expected, "umask {umask}: {chmods:?}");
        // A new directory is made with its final mode, and so is chmodded
        // only where the umask takes bits from it too, once.
        let dir_chmods: Vec<_> = ops
            .test
            .log
            .lock()
            .expect("log")
            .iter()
            .filter(|m| m.starts_with("set mode of") && m.ends_with("/d"))
            .cloned()
            .collect();
        assert_eq!(dir_chmods.len(), expected / 2, "umask {umask}: {dir_chmods:?}");
        return;
    }
    let name = concat!(module_path!(), "::modes_ignore_the_umask");
    let name = name.split_once("::").map_or(name, |(_, rest)| rest);
    let exe = std::env::current_exe().expect("test binary");
    for umask in ["000", "022", "077", "277"] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("out");
        let status = std::process::Command::new("sh")
            .args(["-c", &format!("umask {umask} && exec \"$0\" \"$@\"")])
            .arg(&exe)
            .args([name, "--exact", "--test-threads=1", "--quiet"])
            .env(CHILD, &dir)
            .env("MESHC_TEST_UMASK", umask)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run the test binary");
        assert!(status.success(), "umask {umask}");
        assert_eq!(mode(&dir), 0o755, "umask {umask}");
        assert_eq!(mode(&dir.join("d")), 0o755, "umask {umask}");
        assert_eq!(mode(&dir.join("d/f.yaml")), 0o644, "umask {umask}");
        assert_eq!(mode(&dir.join("d/s.sh")), 0o755, "umask {umask}");
        assert_eq!(mode(&dir.join(".meshc-manifest")), 0o644, "umask {umask}");
    }
}

#[test]
fn check_reports_and_renders_every_kind_of_change() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let old = [
        file("a.txt", "1\n2\n3\n"),
        script("b.sh", "x\n"),
        file("gone.txt", "g\n"),
        file("same.txt", "s\n"),
    ];
    write(&dir, &old).expect("write");
    set_mode(&dir.join("b.sh"), 0o644);
    put(&dir.join("user.txt"), "mine\n");
    let new = [
        file("a.txt", "1\n2\nthree\n"),
        script("b.sh", "x\n"),
        file("c.txt", "new\n"),
        file("same.txt", "s\n"),
    ];
    let before = snapshot(tmp.path());

    let staleness = check(&dir, &new).expect("check");
    assert_eq!(snapshot(tmp.path()), before, "check writes nothing");
    let listed: Vec<_> = staleness.changes.iter().map(ToString::to_string).collect();
    assert_eq!(
        listed,
        [
            "modified .meshc-manifest",
            "modified a.txt",
            "modified b.sh",
            "missing c.txt",
            "extra gone.txt",
        ]
    );
    assert_eq!(
        render_diff(&staleness),
        "\
--- a/.meshc-manifest
+++ b/.meshc-manifest
@@ -1,4 +1,4 @@
 a.txt
 b.sh
-gone.txt
+c.txt
 same.txt
--- a/a.txt
+++ b/a.txt
@@ -1,3 +1,3 @@
 1
 2
-3
+three
old mode 0644
new mode 0755
--- a/b.sh
+++ b/b.sh
new file mode 0644
--- a/c.txt
+++ b/c.txt
@@ -0,0 +1 @@
+new
deleted file mode 0644
--- a/gone.txt
+++ b/gone.txt
@@ -1 +0,0 @@
-g
"
    );

    write(&dir, &new).expect("write");
    assert!(check(&dir, &new).expect("check").is_fresh());
}

#[test]
fn check_of_a_missing_directory_lists_everything_as_missing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let staleness = check(&dir, &[file("b", "b\n"), file("a", "a\n")]).expect("check");
    let listed: Vec<_> = staleness.changes.iter().map(ToString::to_string).collect();
    assert_eq!(listed, ["missing .meshc-manifest", "missing a", "missing b"]);
    assert!(!dir.exists());
}

#[test]
fn check_notes_a_symlink_where_a_file_belongs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    write(&dir, &[file("a", "a\n")]).expect("write");
    fs::remove_file(dir.join("a")).expect("rm");
    symlink("/etc/hostname", dir.join("a")).expect("symlink");
    let staleness = check(&dir, &[file("a", "a\n")]).expect("check");
    assert_eq!(
        render_diff(&staleness),
        "old type symlink\nnew file mode 0644\n--- a/a\n+++ b/a\n@@ -0,0 +1 @@\n+a\n"
    );
}

/// The world the crash tests start from: an earlier build, then user files,
/// a symlink planted where a generated file goes, and a file outside.
fn crash_fixture(root: &Path) -> PathBuf {
    put(&root.join("outside/secret"), "outside\n");
    let dir = root.join("parent/out");
    let old = [
        file("k8s/a.yaml", "a1\n"),
        file("k8s/b.yaml", "b1\n"),
        script("vms/x/install.sh", "i1\n"),
        file("vms/y/cluster.env", "y1\n"),
        file("gone/only.txt", "g\n"),
    ];
    write(&dir, &old).expect("fixture write");
    put(&dir.join("README.md"), "user readme\n");
    put(&dir.join("k8s/kustomization.yaml"), "user\n");
    put(&dir.join("user/deep/file.txt"), "user deep\n");
    set_mode(&dir.join("user/deep/file.txt"), 0o600);
    set_mode(&dir.join("user"), 0o700);
    fs::create_dir(dir.join("notes")).expect("mkdir");
    symlink("../../outside/secret", dir.join("link-out")).expect("symlink");
    fs::remove_file(dir.join("vms/y/cluster.env")).expect("rm");
    symlink("../../../../outside/secret", dir.join("vms/y/cluster.env")).expect("symlink");
    dir
}

fn crash_artifacts() -> Vec<Artifact> {
    vec![
        file("k8s/a.yaml", "a1\n"),
        file("k8s/b.yaml", "b2\n"),
        script("vms/x/install.sh", "i1\n"),
        file("vms/y/cluster.env", "y2\n"),
        file("vms/z/new.env", "z\n"),
    ]
}

/// The same world before the first build: DIR does not exist yet.
fn fresh_fixture(root: &Path) -> PathBuf {
    put(&root.join("outside/secret"), "outside\n");
    fs::create_dir(root.join("parent")).expect("mkdir");
    root.join("parent/out")
}

type Fixture = fn(&Path) -> PathBuf;

/// The fixture after one uninterrupted write, and that write's mutations.
fn reference(fixture: Fixture) -> (Option<BTreeMap<PathBuf, Snap>>, Vec<String>) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = fixture(tmp.path());
    let ops = Ops::default();
    run(&dir, &crash_artifacts(), &ops).expect("reference write");
    assert_eq!(read(&tmp.path().join("outside/secret")), "outside\n");
    let log = ops.test.log.lock().expect("log").clone();
    (snapshot(&dir), log)
}

#[test]
fn the_crash_fixture_exercises_every_kind_of_change() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = crash_fixture(tmp.path());
    let summary = write(&dir, &crash_artifacts()).expect("write");
    assert_eq!(summary.to_string(), "wrote 3, unchanged 2, removed 1");
    assert!(!dir.join("gone").exists());
    assert!(dir.join("notes").is_dir());
    assert_eq!(read(&dir.join("vms/y/cluster.env")), "y2\n");
    assert_eq!(mode(&dir.join("user")), 0o700);
}

#[test]
fn a_crash_at_any_moment_leaves_the_old_or_the_new_tree() {
    for fixture in [crash_fixture as Fixture, fresh_fixture] {
        let (after, log) = reference(fixture);
        let mut outcomes = (0, 0);
        for at in 0..=log.len() {
            let tmp = tempfile::tempdir().expect("tempdir");
            let dir = fixture(tmp.path());
            let before = snapshot(&dir);
            let result = run(&dir, &crash_artifacts(), &ops_with(Fault::Crash { at }));
            if at == log.len() {
                assert!(result.is_ok(), "the reference run made {} mutations", log.len());
                break;
            }
            assert!(matches!(result, Err(WriteError::Crash)), "crash at {at}");
            let now = snapshot(&dir);
            if now == before {
                outcomes.0 += 1;
            } else {
                assert!(now == after, "crash before `{}` left a mix", log[at]);
                outcomes.1 += 1;
            }

            // The next run finishes the job and sweeps what the crash left.
            write(&dir, &crash_artifacts()).expect("recovery write");
            assert_eq!(snapshot(&dir), after, "crash before `{}`", log[at]);
            let parent = tmp.path().join("parent");
            assert_eq!(names(&parent), ["out"], "crash before `{}`", log[at]);
            assert_eq!(read(&tmp.path().join("outside/secret")), "outside\n");
        }
        assert!(outcomes.0 > 0 && outcomes.1 > 0, "{outcomes:?}");
    }
}

#[test]
fn a_failure_at_any_moment_leaves_the_old_tree_or_succeeds() {
    for fixture in [crash_fixture as Fixture, fresh_fixture] {
        let (after, log) = reference(fixture);
        for (at, mutation) in log.iter().enumerate() {
            let tmp = tempfile::tempdir().expect("tempdir");
            let dir = fixture(tmp.path());
            let before = snapshot(&dir);
            let parent = tmp.path().join("parent");
            match run(&dir, &crash_artifacts(), &ops_with(Fault::Fail { at })) {
                Err(error) => {
                    assert_eq!(snapshot(&dir), before, "{error}");
                    let only_dir: &[&str] = if before.is_some() { &["out"] } else { &[] };
                    assert_eq!(names(&parent), only_dir, "{error}");
                }
                // A failure after the swap only spoils the sweep, which the
                // next write finishes.
                Ok(summary) => {
                    assert_eq!(snapshot(&dir), after, "fail before `{mutation}`");
                    write(&dir, &crash_artifacts()).expect("next write");
                    assert_eq!(names(&parent), ["out"], "{summary}");
                }
            }
        }
    }
}

#[test]
fn a_change_by_another_process_before_the_swap_aborts_the_write() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = crash_fixture(tmp.path());
    let late = dir.join("late.txt");
    let mut ops = Ops::default();
    let meddler = late.clone();
    ops.test.meddle = Some((0, Box::new(move || put(&meddler, "late\n"))));
    let error = run(&dir, &crash_artifacts(), &ops).expect_err("raced");
    assert!(matches!(error, WriteError::Raced { .. }), "{error}");
    assert_eq!(read(&late), "late\n");
    assert_eq!(read(&dir.join("k8s/b.yaml")), "b1\n", "nothing was changed");
    assert_eq!(names(&tmp.path().join("parent")), ["out"]);
}

#[test]
fn a_change_during_the_swap_is_kept_beside_the_directory() {
    let (_, log) = reference(crash_fixture);
    let swap = log
        .iter()
        .position(|m| m.starts_with("swap in the new tree"))
        .expect("the write swaps");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = crash_fixture(tmp.path());
    let mut ops = Ops::default();
    let meddler = dir.join("late.txt");
    ops.test.meddle = Some((swap, Box::new(move || put(&meddler, "late\n"))));
    let summary = run(&dir, &crash_artifacts(), &ops).expect("write");
    let leftover = summary.leftover.expect("the previous tree is kept");
    assert_eq!(read(&leftover.join("late.txt")), "late\n");
    // Everything else was swept; the manifest stays while anything does.
    assert_eq!(names(&leftover), [".meshc-manifest", "late.txt"]);

    // Later writes leave it alone: they cannot prove it is garbage.
    write(&dir, &[file("k8s/a.yaml", "a3\n")]).expect("write");
    assert_eq!(read(&leftover.join("late.txt")), "late\n");
}

/// Marks `tree` as a killed build would have: a marker recording its
/// identity.
fn mark(tree: &Path) {
    let meta = fs::symlink_metadata(tree).expect("lstat");
    let mut text = swap::MARKER_MAGIC.to_vec();
    text.extend(format!("{}:{}\n", meta.dev(), meta.ino()).bytes());
    fs::write(swap::marker_of(tree), text).expect("marker");
}

#[test]
fn a_leftover_tree_is_swept_only_of_what_meshc_can_account_for() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    write(&dir, &[file("a.yaml", "a\n")]).expect("write");
    put(&dir.join("user.txt"), "user\n");
    // As a crash would leave them: one sibling holds only generated files
    // and links, the other also something unknown.
    for (name, unknown) in [(".out.meshc-AAAAAA", false), (".out.meshc-BBBBBB", true)] {
        let stale = tmp.path().join(name);
        put(&stale.join(".meshc-manifest"), "gen/x.yaml\n");
        put(&stale.join("gen/x.yaml"), "x\n");
        fs::hard_link(dir.join("user.txt"), stale.join("user.txt")).expect("link");
        if unknown {
            put(&stale.join("deep/precious.txt"), "precious\n");
        }
        mark(&stale);
    }
    put(&tmp.path().join(".out.meshc-not-ours/keep"), "k\n");

    write(&dir, &[file("a.yaml", "a\n")]).expect("write");
    assert_eq!(
        names(tmp.path()),
        [
            ".out.meshc-BBBBBB",
            ".out.meshc-BBBBBB.lock",
            ".out.meshc-not-ours",
            "out"
        ]
    );
    assert_eq!(
        names(&tmp.path().join(".out.meshc-BBBBBB")),
        [".meshc-manifest", "deep"]
    );
    assert_eq!(read(&dir.join("user.txt")), "user\n");
}

#[test]
fn a_survey_overtaken_by_another_write_is_not_trusted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let first = [file("a.yaml", "a1\n"), file("k/b.yaml", "b1\n")];
    write(&dir, &first).expect("first write");
    let survey = survey(&dir);
    assert!(survey.is_some());
    // Another build swaps in other contents after the survey...
    write(&dir, &[file("a.yaml", "a2\n"), file("c.yaml", "c\n")]).expect("other write");
    // ...so the survey's "nothing to do" is stale: the first contents must
    // come back.
    let summary = super::write(
        &dir,
        &first,
        Options {
            survey,
            adopt: Adopt::No,
        },
    )
    .expect("surveyed write");
    assert_eq!(summary.to_string(), "wrote 2, unchanged 0, removed 1");
    assert_eq!(read(&dir.join("a.yaml")), "a1\n");
    assert_eq!(read(&dir.join("k/b.yaml")), "b1\n");
    assert!(!dir.join("c.yaml").exists());
}

/// What `check` lists for `dir`, from a survey taken now.
fn stale_after_survey(dir: &Path, artifacts: &[Artifact]) -> Vec<String> {
    super::check(
        dir,
        artifacts,
        Options {
            survey: survey(dir),
            adopt: Adopt::No,
        },
    )
    .expect("check")
    .changes
    .iter()
    .map(ToString::to_string)
    .collect()
}

#[test]
fn changes_made_after_a_survey_are_kept_or_repaired() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let artifacts = [
        file("a.yaml", "abc\n"),
        file("k/b.yaml", "b\n"),
        file("k/c.yaml", "c\n"),
    ];
    write(&dir, &artifacts).expect("first write");

    // A user file appears while a rebuild that changes something compiles:
    // the swap would lose it, so the write starts again and keeps it.
    let survey_ = survey(&dir);
    put(&dir.join("k/mine.txt"), "mine\n");
    let new = [
        file("a.yaml", "abc\n"),
        file("k/b.yaml", "B\n"),
        file("k/c.yaml", "c\n"),
    ];
    super::write(
        &dir,
        &new,
        Options {
            survey: survey_,
            adopt: Adopt::No,
        },
    )
    .expect("write");
    assert_eq!(read(&dir.join("k/mine.txt")), "mine\n");
    assert_eq!(read(&dir.join("k/b.yaml")), "B\n");

    // Generated files edited (same size) or deleted after the survey are
    // repaired all the same.
    let survey_ = survey(&dir);
    fs::write(dir.join("a.yaml"), "abd\n").expect("edit");
    fs::remove_file(dir.join("k/c.yaml")).expect("rm");
    assert_eq!(
        stale_after_survey(&dir, &new),
        ["modified a.yaml", "missing k/c.yaml"]
    );
    let summary = super::write(
        &dir,
        &new,
        Options {
            survey: survey_,
            adopt: Adopt::No,
        },
    )
    .expect("write");
    assert_eq!(summary.to_string(), "wrote 2, unchanged 1, removed 0");
    assert_eq!(read(&dir.join("a.yaml")), "abc\n");
    assert_eq!(read(&dir.join("k/c.yaml")), "c\n");
    assert_eq!(read(&dir.join("k/mine.txt")), "mine\n");
    assert!(check(&dir, &new).expect("check").is_fresh());
}

#[test]
fn a_file_grown_or_cut_in_place_after_a_survey_is_repaired() {
    // The survey saw the right size; the file then changed in place (same
    // inode, so the reader's identity check passes). Its first bytes still
    // match, so only its size at open tells it apart: the reader must not
    // stop at the length it expects.
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let artifacts = [file("a.yaml", "abc\n"), file("b.yaml", "xyz\n")];
    write(&dir, &artifacts).expect("first write");
    let survey_ = survey(&dir);
    let mut grown = fs::OpenOptions::new()
        .append(true)
        .open(dir.join("a.yaml"))
        .expect("open");
    grown.write_all(b"more\n").expect("append");
    drop(grown);
    fs::OpenOptions::new()
        .write(true)
        .open(dir.join("b.yaml"))
        .and_then(|f| f.set_len(2))
        .expect("truncate");
    assert_eq!(
        stale_after_survey(&dir, &artifacts),
        ["modified a.yaml", "modified b.yaml"]
    );
    let summary = super::write(
        &dir,
        &artifacts,
        Options {
            survey: survey_,
            adopt: Adopt::No,
        },
    )
    .expect("write");
    assert_eq!(summary.to_string(), "wrote 2, unchanged 0, removed 0");
    assert_eq!(read(&dir.join("a.yaml")), "abc\n");
    assert_eq!(read(&dir.join("b.yaml")), "xyz\n");
}

#[test]
fn a_survey_of_a_missing_directory_is_checked_too() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let survey_ = survey(&dir);
    put(&dir.join("user.txt"), "mine\n");
    // The directory that appeared since is not meshc's: the survey that
    // found nothing is not trusted, and the fresh scan refuses it.
    let options = Options {
        survey: survey_,
        adopt: Adopt::No,
    };
    let error = super::write(&dir, &[file("a", "a\n")], options).expect_err("not meshc's");
    assert!(matches!(error, WriteError::NotMeshcs { .. }), "{error}");
    let options = Options {
        survey: survey(&dir),
        adopt: Adopt::Yes,
    };
    super::write(&dir, &[file("a", "a\n")], options).expect("write");
    assert_eq!(read(&dir.join("user.txt")), "mine\n");
    assert_eq!(read(&dir.join("a")), "a\n");
}

#[test]
fn a_symlink_planted_after_a_survey_is_not_read_through() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let artifacts = [file("k/a.yaml", "abc\n")];
    write(&dir, &artifacts).expect("first write");
    // Same size as the generated file, so the plan would compare its bytes.
    let outside = tmp.path().join("outside");
    put(&outside, "abc\n");
    let survey_ = survey(&dir);
    fs::remove_file(dir.join("k/a.yaml")).expect("rm");
    symlink(&outside, dir.join("k/a.yaml")).expect("symlink");

    let summary = super::write(
        &dir,
        &artifacts,
        Options {
            survey: survey_,
            adopt: Adopt::No,
        },
    )
    .expect("write");
    assert_eq!(summary.to_string(), "wrote 1, unchanged 0, removed 0");
    assert!(
        fs::symlink_metadata(dir.join("k/a.yaml"))
            .expect("lstat")
            .is_file()
    );
    assert_eq!(read(&outside), "abc\n");
}

/// Enough files for the plan and the staging tree to use two threads.
fn many(version: &str) -> Vec<Artifact> {
    (0..700)
        .map(|i| {
            let path = format!("d{}/f{i}.txt", i % 7);
            let contents = format!("{version} {i}\n");
            if i % 3 == 0 {
                script(&path, &contents)
            } else {
                file(&path, &contents)
            }
        })
        .collect()
}

#[test]
fn large_trees_are_written_and_compared_on_two_threads_alike() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let v1 = many("v1");
    assert_eq!(
        write(&dir, &v1).expect("write").to_string(),
        "wrote 700, unchanged 0, removed 0"
    );
    for artifact in &v1 {
        let path = dir.join(&artifact.path);
        assert_eq!(read(&path), artifact.contents);
        assert_eq!(mode(&path), artifact.mode.bits());
    }
    let kept = identity(&dir.join("d1/f1.txt"));
    // Same sizes, other bytes in every tenth file (v1 -> v2 keeps the length).
    let mut v2 = v1.clone();
    for artifact in v2.iter_mut().step_by(10) {
        artifact.contents = artifact.contents.replace("v1", "v2");
    }
    assert_eq!(check(&dir, &v2).expect("check").changes.len(), 70);
    assert_eq!(
        write(&dir, &v2).expect("rewrite").to_string(),
        "wrote 70, unchanged 630, removed 0"
    );
    assert_eq!(identity(&dir.join("d1/f1.txt")), kept);
    assert_eq!(read(&dir.join("d0/f0.txt")), "v2 0\n");
    assert!(check(&dir, &v2).expect("check").is_fresh());

    // A crash anywhere while the two threads fill the staging tree leaves
    // the old tree, and the next write finishes the job.
    let before = snapshot(&dir);
    let v3 = many("v3");
    for at in [20, 300, 700, 1000] {
        let result = run(&dir, &v3, &ops_with(Fault::Crash { at }));
        assert!(matches!(result, Err(WriteError::Crash)), "crash at {at}");
        assert_eq!(snapshot(&dir), before, "crash at {at}");
    }
    write(&dir, &v3).expect("recovery write");
    assert_eq!(read(&dir.join("d6/f699.txt")), "v3 699\n");
    assert_eq!(names(tmp.path()), ["out"]);
}

/// Like [`many`], with files of 1 KiB, for the early flushes.
fn many_kib(version: &str) -> Vec<Artifact> {
    let mut artifacts = many(version);
    for artifact in &mut artifacts {
        artifact.contents = format!("{:<1023}\n", artifact.contents.trim_end());
    }
    artifacts
}

/// Early flushes every 64 KiB, each awaited by the threads that write.
fn ops_flushing_early() -> Ops {
    let mut ops = Ops::default();
    ops.test.early_chunk = Some(64 << 10);
    ops
}

#[test]
fn a_large_tree_is_flushed_while_it_is_written() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let v1 = many_kib("v1");
    let ops = ops_flushing_early();
    let summary = run(&dir, &v1, &ops).expect("write");
    assert_eq!(summary.to_string(), "wrote 700, unchanged 0, removed 0");
    // 700 KiB in chunks of 64 KiB: each full chunk is taken by the flusher
    // before the thread that wrote it goes on (lockstep), two threads.
    let flushes = ops.test.early_flushes.load(std::sync::atomic::Ordering::SeqCst);
    assert!((9..=10).contains(&flushes), "{flushes} early flushes");
    for artifact in &v1 {
        assert_eq!(read(&dir.join(&artifact.path)), artifact.contents);
    }
    // A tree of less than two chunks is not worth a flusher.
    let ops = ops_flushing_early();
    let small: Vec<Artifact> = v1.into_iter().take(100).collect();
    run(&dir, &small, &ops).expect("write");
    assert_eq!(
        ops.test.early_flushes.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
}

#[test]
fn a_failed_early_flush_fails_the_write_and_keeps_the_old_tree() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    write(&dir, &many("v1")).expect("write");
    let before = snapshot(&dir);
    let mut ops = ops_flushing_early();
    ops.test.early_flush_fails = true;
    let error = run(&dir, &many_kib("v2"), &ops).expect_err("a writeback error");
    assert!(
        error.to_string().contains("flush the filesystem of")
            && error.to_string().contains("injected writeback"),
        "{error}"
    );
    assert_eq!(
        ops.test.early_flushes.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    assert_eq!(snapshot(&dir), before);
    assert_eq!(names(tmp.path()), ["out"]);
}

/// The second thread that fills a large staging tree may start deep
/// inside directories that fall in the first thread's half: they are made
/// before either starts.
#[test]
fn a_half_that_starts_deep_inside_the_other_halfs_directories_is_written() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    // Sorted: a, its 296 files, z, z/m, z/m/deep, its 300 files: the second
    // half starts at z/m/deep's first file, and the first half would reach
    // z/m/deep only after 296 files.
    let artifacts: Vec<Artifact> = (0..296)
        .map(|i| file(&format!("a/f{i:03}.txt"), &format!("a {i}\n")))
        .chain((0..300).map(|i| file(&format!("z/m/deep/f{i:03}.txt"), &format!("z {i}\n"))))
        .collect();
    assert_eq!(
        write(&dir, &artifacts).expect("write").to_string(),
        "wrote 596, unchanged 0, removed 0"
    );
    for artifact in &artifacts {
        assert_eq!(read(&dir.join(&artifact.path)), artifact.contents);
    }
    for d in ["a", "z", "z/m", "z/m/deep"] {
        assert_eq!(mode(&dir.join(d)), 0o755, "{d}");
    }
}

#[test]
fn a_file_replaced_after_a_survey_with_other_permissions_is_repaired() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let artifacts = [file("k/a.yaml", "abc\n")];
    write(&dir, &artifacts).expect("first write");
    let survey_ = survey(&dir);
    // Same bytes, a new file (it may get the freed inode number back) with
    // another mode: the survey's size and mode, read together with the new
    // bytes, would say nothing changed.
    fs::remove_file(dir.join("k/a.yaml")).expect("rm");
    put(&dir.join("k/a.yaml"), "abc\n");
    set_mode(&dir.join("k/a.yaml"), 0o600);

    let summary = super::write(
        &dir,
        &artifacts,
        Options {
            survey: survey_,
            adopt: Adopt::No,
        },
    )
    .expect("write");
    assert_eq!(summary.to_string(), "wrote 1, unchanged 0, removed 0");
    assert_eq!(mode(&dir.join("k/a.yaml")), 0o644);
}

#[test]
fn a_directory_replaced_by_a_symlink_after_a_survey_is_replaced() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let artifacts = [file("k/a.yaml", "abc\n")];
    write(&dir, &artifacts).expect("first write");
    let survey_ = survey(&dir);
    // The same files, reached through a symlink where the directory was.
    fs::rename(dir.join("k"), tmp.path().join("k2")).expect("mv");
    symlink(tmp.path().join("k2"), dir.join("k")).expect("symlink");

    super::write(
        &dir,
        &artifacts,
        Options {
            survey: survey_,
            adopt: Adopt::No,
        },
    )
    .expect("write");
    assert!(fs::symlink_metadata(dir.join("k")).expect("lstat").is_dir());
    assert_eq!(read(&dir.join("k/a.yaml")), "abc\n");
    assert_eq!(read(&tmp.path().join("k2/a.yaml")), "abc\n");
}

#[test]
fn a_failure_after_the_swap_is_reported_not_retried() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    write(&dir, &[file("a.txt", "old\n")]).expect("first write");
    let new = [file("a.txt", "new\n")];
    // Where the parent directory is flushed after the swap, in a write
    // started from a survey.
    let reference = Ops::default();
    let copy = tmp.path().join("copy/out");
    write(&copy, &[file("a.txt", "old\n")]).expect("copy");
    write_with(&copy, (&new).into(), survey(&copy), Adopt::No, &reference).expect("reference write");
    let log = reference.test.log.lock().expect("log").clone();
    let at = log
        .iter()
        .position(|m| m.starts_with("flush directory"))
        .expect("the write flushes the parent directory");

    let result = write_with(
        &dir,
        (&new).into(),
        survey(&dir),
        Adopt::No,
        &ops_with(Fault::Fail { at }),
    );
    let error = result.expect_err("the failed flush is the build's outcome");
    assert!(error.to_string().contains("injected failure"), "{error}");
    // The swap was undone: DIR is as it was.
    assert_eq!(read(&dir.join("a.txt")), "old\n");
}

// ---------------------------------------------------------------------
// A directory meshc did not make, and files meshc did not write.

/// Every way a write or a check could touch `dir` fails with `expected`,
/// and leaves `dir` (and its parent) exactly as they were.
fn refused_everywhere(dir: &Path, artifacts: &[Artifact], adopt: Adopt, expected: fn(&WriteError) -> bool) {
    let parent = dir.parent().expect("parent");
    let before = snapshot(parent);
    let root = identity(dir);
    for attempt in 0..3 {
        let result = match attempt {
            0 => write_with(dir, artifacts.into(), None, adopt, &Ops::default()).map(|_| ()),
            1 => write_with(dir, artifacts.into(), survey(dir), adopt, &Ops::default()).map(|_| ()),
            _ => super::check(
                dir,
                artifacts,
                Options {
                    survey: survey(dir),
                    adopt,
                },
            )
            .map(|_| ()),
        };
        let error = result.expect_err("refused");
        assert!(expected(&error), "attempt {attempt}: {error}");
        assert_eq!(snapshot(parent), before, "attempt {attempt} changed something");
        assert_eq!(identity(dir), root, "attempt {attempt} replaced the directory");
    }
}

fn not_meshcs(error: &WriteError) -> bool {
    matches!(error, WriteError::NotMeshcs { .. })
}

fn conflict(error: &WriteError) -> bool {
    matches!(error, WriteError::Conflict { .. })
}

#[test]
fn a_directory_with_foreign_files_and_no_manifest_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("pre");
    put(&dir.join("vms/ecs-details/cluster.env"), "the user's\n");
    let artifacts = [file("vms/ecs-details/cluster.env", "generated\n")];
    refused_everywhere(&dir, &artifacts, Adopt::No, not_meshcs);
    // Adopting it still never replaces the user's file.
    refused_everywhere(&dir, &artifacts, Adopt::Yes, conflict);
    assert_eq!(read(&dir.join("vms/ecs-details/cluster.env")), "the user's\n");
    // Even a lone empty subdirectory makes it someone's.
    let other = tmp.path().join("other");
    fs::create_dir_all(other.join("empty")).expect("mkdir");
    refused_everywhere(&other, &[file("a", "a\n")], Adopt::No, not_meshcs);
}

/// `-o /etc`, in a throwaway root: refused, and adopting it refuses to
/// replace the administrator's file at a path meshc writes.
#[test]
fn an_etc_like_tree_is_never_taken_over() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let etc = tmp.path().join("etc");
    put(&etc.join("passwd"), "root:x:0:0::/root:/bin/sh\n");
    put(&etc.join("hosts"), "127.0.0.1 localhost\n");
    put(&etc.join("ssl/certs/ca.pem"), "cert\n");
    set_mode(&etc.join("ssl"), 0o700);
    symlink("/proc/self/mounts", etc.join("mtab")).expect("symlink");
    let artifacts = [file("hosts", "10.0.0.5 db\n"), file("vms/db/cluster.env", "x\n")];
    refused_everywhere(&etc, &artifacts, Adopt::No, not_meshcs);
    refused_everywhere(&etc, &artifacts, Adopt::Yes, conflict);
    // A symlink or file where meshc needs a directory is not replaced either.
    let artifacts = [file("ssl/certs/ca.pem/x", "x\n")];
    refused_everywhere(&etc, &artifacts, Adopt::Yes, conflict);
    let artifacts = [file("mtab/x", "x\n")];
    refused_everywhere(&etc, &artifacts, Adopt::Yes, conflict);
    assert_eq!(mode(&etc.join("ssl")), 0o700);
}

#[test]
fn adopting_keeps_foreign_files_and_takes_identical_ones() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    put(&dir.join("notes.txt"), "mine\n");
    put(&dir.join("a.yaml"), "a\n");
    set_mode(&dir.join("a.yaml"), 0o644);
    let notes = identity(&dir.join("notes.txt"));
    let artifacts = [file("a.yaml", "a\n"), file("k/b.yaml", "b\n")];
    assert!(not_meshcs(&write(&dir, &artifacts).expect_err("refused")));
    let summary = write_with(&dir, (&artifacts).into(), None, Adopt::Yes, &Ops::default()).expect("adopt");
    assert_eq!(summary.to_string(), "wrote 1, unchanged 1, removed 0");
    assert_eq!(identity(&dir.join("notes.txt")), notes);
    assert_eq!(read(&dir.join(".meshc-manifest")), "a.yaml\nk/b.yaml\n");
    // From now on the directory is meshc's: no flag needed.
    write(&dir, &artifacts).expect("rebuild");
}

/// In a directory meshc made, a file of the user's at a path a later build
/// first generates is not replaced, in a write or a check.
#[test]
fn a_user_file_at_a_newly_generated_path_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    write(&dir, &[file("vms/db/cluster.env", "c\n")]).expect("first write");
    put(&dir.join("vms/db/hosts"), "the user's\n");
    let artifacts = [
        file("vms/db/cluster.env", "c\n"),
        file("vms/db/hosts", "generated\n"),
    ];
    refused_everywhere(&dir, &artifacts, Adopt::No, conflict);
    refused_everywhere(&dir, &artifacts, Adopt::Yes, conflict);
    // A symlink of the user's there is refused too, not replaced.
    fs::remove_file(dir.join("vms/db/hosts")).expect("rm");
    symlink("/etc/hosts", dir.join("vms/db/hosts")).expect("symlink");
    refused_everywhere(&dir, &artifacts, Adopt::No, conflict);
}

/// Credentials an operator fetches into a VM's bundle directory are not in
/// the manifest: rebuilds keep them as they are, and `check` ignores them.
#[test]
fn operator_files_in_a_bundle_survive_rebuilds_and_checks() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let v1 = [file("vms/db/cluster.env", "v1\n")];
    write(&dir, &v1).expect("first write");
    put(&dir.join("vms/db/istio-token"), "token\n");
    put(&dir.join("vms/db/root-cert.pem"), "cert\n");
    set_mode(&dir.join("vms/db/istio-token"), 0o600);
    let token = identity(&dir.join("vms/db/istio-token"));
    assert!(check(&dir, &v1).expect("check").is_fresh());
    let v2 = [file("vms/db/cluster.env", "v2\n")];
    write(&dir, &v2).expect("rebuild");
    assert!(check(&dir, &v2).expect("check").is_fresh());
    assert_eq!(identity(&dir.join("vms/db/istio-token")), token);
    assert_eq!(mode(&dir.join("vms/db/istio-token")), 0o600);
    assert_eq!(read(&dir.join("vms/db/root-cert.pem")), "cert\n");
    // Even when the VM's bundle is dropped, they and their directory stay.
    write(&dir, &[file("k/a.yaml", "a\n")]).expect("rebuild");
    assert_eq!(read(&dir.join("vms/db/istio-token")), "token\n");
    assert!(!dir.join("vms/db/cluster.env").exists());
}

/// Directories merely named like a build's trees, even one holding a
/// manifest, or one with a marker that names another directory, are never
/// changed or removed; neither is a file named like a marker.
#[test]
fn decoy_siblings_named_like_build_trees_are_left_alone() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    write(&dir, &[file("a.yaml", "a\n")]).expect("write");
    let decoy = |name: &str| {
        let path = tmp.path().join(name);
        put(&path.join(".meshc-manifest"), "gen/x.yaml\n");
        put(&path.join("gen/x.yaml"), "precious\n");
        set_mode(&path.join("gen"), 0o555);
        set_mode(&path, 0o550);
        path
    };
    let plain = decoy(".out.meshc-AAAAAA");
    let forged = decoy(".out.meshc-BBBBBB");
    // A marker of the right form, but for another directory.
    let other = tmp.path().join("other");
    fs::create_dir(&other).expect("mkdir");
    let meta = fs::symlink_metadata(&other).expect("lstat");
    let mut text = swap::MARKER_MAGIC.to_vec();
    text.extend(format!("{}:{}\n", meta.dev(), meta.ino()).bytes());
    fs::write(swap::marker_of(&forged), text).expect("marker");
    // A user file named like a marker, with no tree beside it.
    put(&tmp.path().join(".out.meshc-CCCCCC.lock"), "mine\n");
    let before: Vec<_> = snapshot(tmp.path())
        .expect("snapshot")
        .into_iter()
        .filter(|(path, _)| !path.starts_with("out"))
        .collect();

    write(&dir, &[file("a.yaml", "b\n")]).expect("write");
    write(&dir, &[file("a.yaml", "c\n")]).expect("write");
    let after: Vec<_> = snapshot(tmp.path())
        .expect("snapshot")
        .into_iter()
        .filter(|(path, _)| !path.starts_with("out"))
        .collect();
    assert_eq!(after, before);
    assert_eq!(mode(&plain), 0o550);
    assert_eq!(mode(&forged.join("gen")), 0o555);
    // The tests' temporary directory must be removable again.
    for path in [&plain, &forged] {
        set_mode(path, 0o755);
        set_mode(&path.join("gen"), 0o755);
    }
}

// ---------------------------------------------------------------------
// Artifacts compared with DIR as they are emitted (`compare`).

/// `artifacts` handed one by one to a comparer surveying `dir`, as
/// `emit::each` does on one thread; `between` runs once the survey is
/// taken, after the first `first` artifacts are compared.
fn compare_with(dir: &Path, artifacts: &[Artifact], first: usize, between: impl FnOnce()) -> Compared {
    use crate::artifact::Sink as _;
    let (mut kept, comparer) = Comparer::surveying(dir, |comparer| {
        let mut local = comparer.local();
        let mut kept = Vec::new();
        let mut between = Some(between);
        for (i, artifact) in artifacts.iter().enumerate() {
            if i == first.max(1)
                && let Some(between) = between.take()
            {
                between();
            }
            kept.push(comparer.keep(&mut local, artifact.clone()));
        }
        if let Some(between) = between.take() {
            between();
        }
        kept
    });
    kept.sort_by(|a, b| Comparer::path(a).cmp(Comparer::path(b)));
    comparer.finish(kept)
}

fn compared(dir: &Path, artifacts: &[Artifact]) -> Compared {
    compare_with(dir, artifacts, 0, || {})
}

/// Writes `compared`, emitting `artifacts` again if the writer asks;
/// returns the summary and how many times it asked.
fn write_compared(
    dir: &Path,
    compared: Compared,
    artifacts: &[Artifact],
) -> (Result<Summary, WriteError>, usize) {
    let asked = std::cell::Cell::new(0);
    let again = || {
        asked.set(asked.get() + 1);
        artifacts.to_vec()
    };
    let result = super::write(dir, Artifacts::Compared(compared, &again), Options::default());
    (result, asked.get())
}

fn check_compared(dir: &Path, compared: Compared, artifacts: &[Artifact]) -> (Vec<String>, usize) {
    let asked = std::cell::Cell::new(0);
    let again = || {
        asked.set(asked.get() + 1);
        artifacts.to_vec()
    };
    let stale = super::check(dir, Artifacts::Compared(compared, &again), Options::default()).expect("check");
    (
        stale.changes.iter().map(ToString::to_string).collect(),
        asked.get(),
    )
}

/// A built tree with a user file, in `root/name`.
fn compared_fixture(root: &Path, name: &str) -> (PathBuf, Vec<Artifact>) {
    let dir = root.join(name);
    let artifacts = vec![
        file("a.yaml", "abc\n"),
        file("k/b.yaml", "bbb\n"),
        file("k/c.yaml", "c\n"),
        script("v/x.sh", "echo x\n"),
        file("v/y.env", "Y=1\n"),
    ];
    write(&dir, &artifacts).expect("first write");
    put(&dir.join("k/mine.txt"), "mine\n");
    (dir, artifacts)
}

#[test]
fn a_compared_rebuild_makes_what_a_whole_one_makes() {
    // Each rebuild, made once from whole artifacts and once from artifacts
    // compared as emitted, on two copies of one tree: same tree, same
    // summary, same findings of `check`.
    type Edit = fn(&mut Vec<Artifact>);
    let edits: [(&str, Edit); 8] = [
        ("nothing", |_| {}),
        ("same size", |a| a[1].contents = "BBB\n".into()),
        ("other size", |a| a[2].contents = "cc\n".into()),
        ("mode", |a| a[3].mode = Mode::Regular),
        ("added", |a| a.push(file("k/new.yaml", "new\n"))),
        ("removed", |a| {
            a.remove(4);
        }),
        ("a directory fewer", |a| a.truncate(3)),
        ("everything", |a| {
            for artifact in a.iter_mut() {
                artifact.contents.push('!');
            }
        }),
    ];
    let tmp = tempfile::tempdir().expect("tempdir");
    for (i, (what, edit)) in edits.into_iter().enumerate() {
        let (whole_dir, mut artifacts) = compared_fixture(tmp.path(), &format!("whole{i}"));
        let (compared_dir, _) = compared_fixture(tmp.path(), &format!("compared{i}"));
        edit(&mut artifacts);
        let unchanged = identity(&compared_dir.join("a.yaml"));

        let stale = check(&whole_dir, &artifacts).expect("check");
        let stale: Vec<String> = stale.changes.iter().map(ToString::to_string).collect();
        let (compared_stale, asked) =
            check_compared(&compared_dir, compared(&compared_dir, &artifacts), &artifacts);
        assert_eq!(compared_stale, stale, "{what}: check");
        assert_eq!(asked, 0, "{what}: check emitted again");

        let comparison = compared(&compared_dir, &artifacts);
        let changed = stale
            .iter()
            .filter(|s| !s.starts_with("extra") && !s.ends_with(manifest::MANIFEST));
        let same = artifacts.len() - changed.count();
        assert_eq!(comparison.same(), same, "{what}: bytes dropped");
        let whole = write(&whole_dir, &artifacts).expect("whole write");
        let (summary, asked) = write_compared(&compared_dir, comparison, &artifacts);
        assert_eq!(summary.expect("compared write"), whole, "{what}: summary");
        assert_eq!(asked, 0, "{what}: emitted again");
        assert_eq!(snapshot(&compared_dir), snapshot(&whole_dir), "{what}: tree");
        if what != "everything" {
            assert_eq!(
                identity(&compared_dir.join("a.yaml")),
                unchanged,
                "{what}: a.yaml rewritten"
            );
        }
    }
}

#[test]
fn comparisons_with_an_overtaken_survey_are_not_used() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, artifacts) = compared_fixture(tmp.path(), "out");
    // Another build swaps in other contents after the comparisons, which
    // found nothing to do: the first contents must come back.
    let comparison = compared(&dir, &artifacts);
    assert_eq!(comparison.same(), artifacts.len());
    write(&dir, &[file("a.yaml", "other\n")]).expect("other write");
    let (summary, asked) = write_compared(&dir, comparison, &artifacts);
    assert_eq!(
        summary.expect("write").to_string(),
        "wrote 5, unchanged 0, removed 0"
    );
    assert_eq!(asked, 1);
    assert_eq!(read(&dir.join("k/b.yaml")), "bbb\n");
    assert_eq!(read(&dir.join("k/mine.txt")), "mine\n");

    // The same for `check`.
    let comparison = compared(&dir, &artifacts);
    write(&dir, &[file("a.yaml", "other\n")]).expect("other write");
    let (stale, asked) = check_compared(&dir, comparison, &artifacts);
    let files = stale.iter().filter(|s| !s.ends_with(manifest::MANIFEST));
    assert_eq!(files.count(), 5, "{stale:?}");
    assert_eq!(asked, 1);
}

#[test]
fn a_file_replaced_while_comparing_fails_the_comparisons() {
    // k/b.yaml is replaced (a new inode, other bytes of the same size)
    // after the survey, before it is compared: that comparison fails
    // (`Raced`), none is trusted, and the write starts again from a fresh
    // scan and whole artifacts.
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, artifacts) = compared_fixture(tmp.path(), "out");
    // Made beside it, then renamed over it: a file removed first could
    // give its inode number to the new one, which is then the same file
    // to any identity check (only its bytes differ).
    let replace = || {
        put(&dir.join("k/b.yaml.new"), "BBB\n");
        fs::rename(dir.join("k/b.yaml.new"), dir.join("k/b.yaml")).expect("rename");
    };
    let comparison = compare_with(&dir, &artifacts, 1, replace);
    let failed = comparison.failed;
    let (summary, asked) = write_compared(&dir, comparison, &artifacts);
    // The replaced file is listed in the manifest, so meshc repairs it.
    assert_eq!(
        summary.expect("write").to_string(),
        "wrote 1, unchanged 4, removed 0"
    );
    assert_eq!(asked, 1);
    assert_eq!(read(&dir.join("k/b.yaml")), "bbb\n");
    assert!(failed);
}

#[test]
fn a_write_from_comparisons_that_fails_before_its_swap_starts_again_whole() {
    // After the comparisons (every file the same), a generated file is
    // edited in place and a user file appears. The first attempt plans
    // from the comparisons, builds its tree, and finds DIR changed before
    // the swap (the user file); the fresh attempt must not reuse the
    // comparisons, which no longer describe the edited file.
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, mut artifacts) = compared_fixture(tmp.path(), "out");
    artifacts[2].contents = "C\n".into();
    let comparison = compared(&dir, &artifacts);
    assert_eq!(comparison.same(), 4);
    fs::write(dir.join("a.yaml"), "abd\n").expect("edit in place");
    put(&dir.join("v/mine.txt"), "mine\n");
    let (summary, asked) = write_compared(&dir, comparison, &artifacts);
    assert_eq!(
        summary.expect("write").to_string(),
        "wrote 2, unchanged 3, removed 0"
    );
    assert_eq!(asked, 1);
    assert_eq!(read(&dir.join("a.yaml")), "abc\n");
    assert_eq!(read(&dir.join("k/c.yaml")), "C\n");
    assert_eq!(read(&dir.join("v/mine.txt")), "mine\n");
}

#[test]
fn without_a_directory_nothing_is_compared_or_emitted_twice() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let artifacts = [file("a.yaml", "a\n"), file("k/b.yaml", "b\n")];
    let comparison = compared(&dir, &artifacts);
    assert_eq!(comparison.same(), 0);
    assert!(comparison.holds_every_byte());
    // The directory appears before the write: the survey is not used, and
    // the fresh attempt refuses a directory meshc did not make, from the
    // bytes it holds.
    put(&dir.join("user.txt"), "mine\n");
    let (result, asked) = write_compared(&dir, comparison, &artifacts);
    assert!(matches!(result, Err(WriteError::NotMeshcs { .. })), "{result:?}");
    assert_eq!(asked, 0);
    fs::remove_file(dir.join("user.txt")).expect("rm");
    let (summary, asked) = write_compared(&dir, compared(&dir, &artifacts), &artifacts);
    assert_eq!(
        summary.expect("write").to_string(),
        "wrote 2, unchanged 0, removed 0"
    );
    assert_eq!(asked, 0);
}

#[test]
fn only_a_build_that_compared_nothing_is_given_back_whole() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let artifacts = [file("a.yaml", "a\n"), file("k/b.yaml", "b\n")];
    // Nothing to compare with: every artifact back, in order, with the
    // survey (which found no tree), and the write from them is a fresh one.
    let Given::Whole(whole, survey) = compared(&dir, &artifacts).into_whole() else {
        panic!("nothing was compared, yet the build was not given back whole");
    };
    assert_eq!(whole, artifacts);
    assert!(survey.is_some_and(|survey| survey.old.is_none()));
    let summary = write(&dir, &whole).expect("write");
    assert_eq!(summary.to_string(), "wrote 2, unchanged 0, removed 0");
    // A tree to compare with, one file the same and one not: the
    // comparisons stay, so nothing is compared twice.
    let changed = [file("a.yaml", "a\n"), file("k/b.yaml", "B\n")];
    let comparison = compared(&dir, &changed);
    assert_eq!(comparison.same(), 1);
    let Given::Compared(comparison) = comparison.into_whole() else {
        panic!("a compared build was given back whole");
    };
    // Every file different still counts as compared.
    let all_changed = [file("a.yaml", "A\n"), file("k/b.yaml", "B\n")];
    assert!(matches!(
        compared(&dir, &all_changed).into_whole(),
        Given::Compared(_)
    ));
    let (summary, asked) = write_compared(&dir, comparison, &changed);
    assert_eq!(
        summary.expect("write").to_string(),
        "wrote 1, unchanged 1, removed 0"
    );
    assert_eq!(asked, 0);
}
