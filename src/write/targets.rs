//! The artifact list, checked and indexed for writing.
//!
//! The emitters only produce validated paths, but the writer is the last line
//! of defence before the filesystem, so it checks again that every path stays
//! inside the output directory: relative, `/`-separated, no empty, `.` or
//! `..` segment, no NUL or backslash. Newlines are refused too, because the
//! manifest stores one path per line. A list in which one path is both a file
//! and the directory of another cannot be written and is refused as well.

use std::collections::{BTreeMap, BTreeSet};

use super::WriteError;
use super::compare::{Compared, Kept};
use super::manifest::MANIFEST;
use crate::artifact::Artifact;

/// Artifacts by path, plus every directory they need.
pub(super) struct Targets<'a> {
    /// Every artifact, sorted by path.
    pub files: BTreeMap<&'a str, Wanted<'a>>,
    /// Every proper prefix of an artifact path: the directories to create.
    pub dirs: BTreeSet<&'a str>,
}

/// What one generated file must hold, and what is known of it already.
#[derive(Clone, Copy, Debug)]
pub(super) enum Wanted<'a> {
    /// The survey's file at this path holds exactly these bytes and mode:
    /// compared as the artifact was emitted ([`Compared`]), its bytes
    /// were then dropped.
    Held,
    /// These bytes with this mode. `compared`: the survey's file was
    /// compared as the artifact was emitted and does not hold them (else
    /// the plan compares).
    Bytes {
        contents: &'a str,
        mode: u32,
        compared: bool,
    },
}

impl<'a> Targets<'a> {
    /// Targets of whole artifacts, none compared yet.
    pub fn new(artifacts: &'a [Artifact]) -> Result<Self, WriteError> {
        Targets::of(artifacts.iter().map(|artifact| {
            let wanted = Wanted::Bytes {
                contents: &artifact.contents,
                mode: artifact.mode.bits(),
                compared: false,
            };
            (artifact.path.as_str(), wanted)
        }))
    }

    /// Targets of artifacts compared as they were emitted; valid only
    /// with the survey they were compared with (`compared.survey`).
    /// With `unread`, the comparisons are forgotten: every target must then
    /// still have its bytes ([`Compared::holds_every_byte`]).
    pub fn compared(compared: &'a Compared, unread: bool) -> Result<Self, WriteError> {
        Targets::of(compared.files.iter().map(|held| match &held.0 {
            Kept::Same(path) => (path.as_str(), Wanted::Held),
            kept @ (Kept::Differs(artifact) | Kept::Unread(artifact)) => {
                let wanted = Wanted::Bytes {
                    contents: &artifact.contents,
                    mode: artifact.mode.bits(),
                    compared: !unread && matches!(kept, Kept::Differs(_)),
                };
                (artifact.path.as_str(), wanted)
            }
        }))
    }

    fn of(artifacts: impl ExactSizeIterator<Item = (&'a str, Wanted<'a>)>) -> Result<Self, WriteError> {
        let mut files = Vec::with_capacity(artifacts.len());
        let mut dirs = BTreeSet::new();
        for (path, wanted) in artifacts {
            let invalid = |reason| WriteError::InvalidPath {
                path: path.to_owned(),
                reason,
            };
            check_path(path).map_err(invalid)?;
            if path == MANIFEST {
                return Err(invalid("the name is reserved for meshc's manifest"));
            }
            files.push((path, wanted));
            // Longest first: a directory already known brings its parents.
            for (at, _) in path.rmatch_indices('/') {
                if !dirs.insert(&path[..at]) {
                    break;
                }
            }
        }
        // Sorted and then built into the map in one go, which costs less than
        // inserting one by one; the emitters hand artifacts over sorted, so
        // the sort mostly confirms the order.
        files.sort_by_key(|&(path, _)| path);
        if let Some(pair) = files.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(WriteError::InvalidPath {
                path: pair[0].0.to_owned(),
                reason: "two artifacts have this path",
            });
        }
        let files: BTreeMap<_, _> = files.into_iter().collect();
        if let Some(path) = dirs.iter().find(|dir| files.contains_key(*dir)) {
            return Err(WriteError::InvalidPath {
                path: (*path).to_owned(),
                reason: "it is both a file and the directory of another file",
            });
        }
        Ok(Targets { files, dirs })
    }
}

/// Checks that `path` names something inside the output directory, and says
/// why not otherwise.
pub(super) fn check_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("it is empty");
    }
    if path.starts_with('/') {
        return Err("it is absolute");
    }
    // Bytes, not chars (every character refused is ASCII, so bytes tell as
    // well), one segment at a time: its bytes first, then the segment
    // itself, so the first problem from the left is the one reported. A
    // build checks tens of thousands of paths; a byte-by-byte loop over
    // the path with a slice per `/` cost about 1,900 instructions each.
    for segment in path.as_bytes().split(|&b| b == b'/') {
        if let Some(&byte) = segment
            .iter()
            .find(|&&b| matches!(b, b'\0' | b'\\' | b'\n' | b'\r'))
        {
            return Err(match byte {
                b'\0' => "it contains a NUL character",
                b'\\' => "it contains a backslash",
                _ => "it contains a line break",
            });
        }
        match segment {
            b"" => return Err("it has an empty segment"),
            b"." | b".." => return Err("it has a '.' or '..' segment"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::Mode;

    fn artifact(path: &str) -> Artifact {
        Artifact {
            path: path.to_owned(),
            contents: String::new(),
            mode: Mode::Regular,
        }
    }

    #[test]
    fn accepts_plain_relative_paths() {
        for path in ["a", "vms/ecs-db/cluster.env", ".hidden/x", "a..b/c.d"] {
            assert_eq!(check_path(path), Ok(()), "{path}");
        }
    }

    #[test]
    fn rejects_paths_that_could_escape() {
        for path in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/./b",
            ".",
            "a//b",
            "a/",
            "a\\b",
            "a\0b",
            "a\nb",
            "a\rb",
        ] {
            assert!(check_path(path).is_err(), "{path:?} was accepted");
        }
    }

    /// Of several problems, the first from the left is the one reported.
    #[test]
    fn reports_the_first_problem_from_the_left() {
        for (path, reason) in [
            ("a//b\\", "it has an empty segment"),
            ("a\\b//", "it contains a backslash"),
            ("../a\0", "it has a '.' or '..' segment"),
            ("a/b\n/./", "it contains a line break"),
            ("x/\r\0", "it contains a line break"),
            ("x/\0.", "it contains a NUL character"),
            ("x/y/", "it has an empty segment"),
            ("x/y/..", "it has a '.' or '..' segment"),
        ] {
            assert_eq!(check_path(path), Err(reason), "{path:?}");
        }
    }

    #[test]
    fn collects_parent_directories() {
        let artifacts = [artifact("a/b/c"), artifact("a/d"), artifact("e")];
        let targets = Targets::new(&artifacts).expect("valid artifacts");
        assert_eq!(targets.dirs.into_iter().collect::<Vec<_>>(), ["a", "a/b"]);
        assert_eq!(
            targets.files.keys().copied().collect::<Vec<_>>(),
            ["a/b/c", "a/d", "e"]
        );
    }

    #[test]
    fn rejects_duplicates_reserved_names_and_file_directory_clashes() {
        for paths in [
            &["a", "a"][..],
            &["b", "a/x", "c", "b"],
            &[".meshc-manifest"],
            &["a", "a/b"],
            &["x/a/b", "x/a"],
        ] {
            let artifacts: Vec<_> = paths.iter().map(|p| artifact(p)).collect();
            assert!(
                matches!(Targets::new(&artifacts), Err(WriteError::InvalidPath { .. })),
                "{paths:?} was accepted"
            );
        }
    }
}
