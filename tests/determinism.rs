//! Determinism under stress: the same topology gives the same bytes, every
//! time, whatever the process around it.
//!
//! In process, each example and ok fixture is compiled 100 times (from
//! several threads at once, so that nothing depends on thread identity or
//! allocation order). Through the binary, `meshc build` runs ten times per
//! example with a different working directory, locale (`LANG`/`LC_ALL`:
//! C, en_US.UTF-8, tr_TR.UTF-8, whose dotless i breaks naive case mapping),
//! time zone (UTC, Asia/Kathmandu at +05:45) and umask, and every file's
//! bytes and mode must match. The locales need not be installed: a program
//! that consults them would still see the variables.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use meshc::artifact::Artifact;
use meshc::source::Source;
use meshc::syntax::{Limits, Syntax};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every example and ok fixture, both syntaxes.
fn inputs() -> Vec<PathBuf> {
    let mut files = crate::fixtures::topology_files(&root().join("examples"));
    files.extend(crate::fixtures::topology_files(&root().join("tests/ok")));
    assert!(files.len() >= 6, "{files:?}");
    files
}

fn compile(path: &Path) -> Vec<Artifact> {
    let text = std::fs::read_to_string(path).expect("read");
    let name = path.file_name().expect("name").to_string_lossy().into_owned();
    let source = Source::new(name.clone(), text);
    let (artifacts, diags) = meshc::compile(&source, Syntax::from_path(&name), Limits::default(), &name);
    artifacts.unwrap_or_else(|| panic!("{}: {diags:?}", path.display()))
}

#[test]
fn one_hundred_compiles_give_identical_artifacts() {
    for path in inputs() {
        let first = compile(&path);
        assert!(!first.is_empty());
        // Four threads, 25 compiles each.
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| (0..25).map(|_| compile(&path)).collect::<Vec<_>>()))
                .collect();
            for h in handles {
                for again in h.join().expect("compile thread") {
                    assert!(again == first, "{}: compile is not deterministic", path.display());
                }
            }
        });
    }
}

/// Every file below `dir`: relative path → (mode, bytes).
fn tree(dir: &Path) -> BTreeMap<String, (u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            let meta = std::fs::symlink_metadata(&p).expect("metadata");
            let rel = p.strip_prefix(dir).expect("below").display().to_string();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.is_dir() {
                out.insert(format!("{rel}/"), (mode, Vec::new()));
                stack.push(p);
            } else {
                out.insert(rel, (mode, std::fs::read(&p).expect("read")));
            }
        }
    }
    out
}

/// One process environment to build in.
struct Setting {
    locale: &'static str,
    tz: &'static str,
    umask: &'static str,
    /// Run from the topology's directory with a relative path, or from
    /// elsewhere with an absolute one.
    relative: bool,
}

const SETTINGS: &[Setting] = &[
    Setting {
        locale: "C",
        tz: "UTC",
        umask: "022",
        relative: true,
    },
    Setting {
        locale: "en_US.UTF-8",
        tz: "UTC",
        umask: "022",
        relative: false,
    },
    Setting {
        locale: "tr_TR.UTF-8",
        tz: "Asia/Kathmandu",
        umask: "077",
        relative: true,
    },
    Setting {
        locale: "C",
        tz: "Asia/Kathmandu",
        umask: "000",
        relative: false,
    },
    Setting {
        locale: "tr_TR.UTF-8",
        tz: "UTC",
        umask: "000",
        relative: false,
    },
    Setting {
        locale: "en_US.UTF-8",
        tz: "Asia/Kathmandu",
        umask: "077",
        relative: true,
    },
    Setting {
        locale: "C",
        tz: "UTC",
        umask: "077",
        relative: false,
    },
    Setting {
        locale: "tr_TR.UTF-8",
        tz: "Asia/Kathmandu",
        umask: "022",
        relative: false,
    },
    Setting {
        locale: "en_US.UTF-8",
        tz: "UTC",
        umask: "000",
        relative: true,
    },
    Setting {
        locale: "C",
        tz: "Asia/Kathmandu",
        umask: "022",
        relative: true,
    },
];

#[test]
fn builds_are_identical_across_directories_locales_time_zones_and_umasks() {
    let examples = crate::fixtures::topology_files(&root().join("examples"));
    for example in examples
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "kdl"))
    {
        let mut first: Option<BTreeMap<String, (u32, Vec<u8>)>> = None;
        for (i, s) in SETTINGS.iter().enumerate() {
            let tmp = tempfile::tempdir().expect("tempdir");
            // The topology keeps its base name (headers print it); the
            // directory around it differs each run.
            let home = tmp.path().join(format!("run{i}/nested dir"));
            std::fs::create_dir_all(&home).expect("mkdir");
            let topo = home.join("topology.kdl");
            std::fs::copy(example, &topo).expect("copy");
            let elsewhere = tmp.path().join("elsewhere");
            std::fs::create_dir_all(&elsewhere).expect("mkdir");
            let out = tmp.path().join(format!("out{i}"));
            let (cwd, file) = if s.relative {
                (home.clone(), PathBuf::from("topology.kdl"))
            } else {
                (elsewhere, topo.clone())
            };
            let status = Command::new("sh")
                .arg("-c")
                .arg(format!("umask {}; exec \"$0\" build \"$1\" -o \"$2\"", s.umask))
                .arg(env!("CARGO_BIN_EXE_meshc"))
                .arg(&file)
                .arg(&out)
                .current_dir(&cwd)
                .env("LANG", s.locale)
                .env("LC_ALL", s.locale)
                .env("TZ", s.tz)
                .output()
                .expect("meshc");
            assert!(
                status.status.success(),
                "{} under {}/{}/{}: {}",
                example.display(),
                s.locale,
                s.tz,
                s.umask,
                String::from_utf8_lossy(&status.stderr)
            );
            let got = tree(&out);
            match &first {
                None => first = Some(got),
                Some(want) => {
                    let differ: Vec<&String> = want
                        .keys()
                        .chain(got.keys())
                        .filter(|k| want.get(*k) != got.get(*k))
                        .collect();
                    assert!(
                        differ.is_empty(),
                        "{}: run {i} ({} {} umask {}) differs in {differ:?}",
                        example.display(),
                        s.locale,
                        s.tz,
                        s.umask
                    );
                }
            }
        }
    }
}
