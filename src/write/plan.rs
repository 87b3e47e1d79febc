//! What the new output directory will contain, decided before anything is
//! written.
//!
//! The plan maps every path of the new tree to how it comes about: a
//! directory (copied from the old tree's mode and owner, or new), a hard link
//! to the entry already at that path (user files, and generated files whose
//! bytes and mode are unchanged, which therefore keep their inode and mtime),
//! or a new file. Whatever the old tree held that the plan leaves out is
//! dropped: generated files no longer produced, directories meshc wrote into
//! that are now empty, and non-directories standing where a generated file or
//! its directory must go (a symlink planted there is replaced, never written
//! through).
//!
//! The same plan answers `check`, so `check` reports a change exactly when
//! `write` would make one.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::path::Path;

use super::halves;
use super::key::{Key, Scratch};
use super::manifest::{self, MANIFEST};
use super::targets::{Targets, Wanted};
use super::tree::{Entry, Kind, Reader, Tree};
use super::{Summary, WriteError};

/// How one path of the new tree comes about.
#[derive(Debug)]
pub(super) enum Action<'a> {
    /// A directory with this mode, and with this owner when it copies an
    /// existing directory.
    Dir { mode: u32, owner: Option<(u32, u32)> },
    /// A hard link to the entry at the same path in the old tree.
    Link,
    /// A new regular file.
    Write { contents: Cow<'a, str>, mode: u32 },
}

/// What the old tree holds at a generated file's path.
#[derive(Debug)]
pub(super) enum Old {
    Absent,
    File {
        /// The old bytes, read when the caller asked for [`Detail::Diffs`];
        /// `None` when the plan could decide without them.
        bytes: Option<Vec<u8>>,
        mode: u32,
    },
    /// A symlink or special file, which the writer replaces.
    Other(Kind),
}

/// One generated file (or the manifest) whose old and new states differ.
#[derive(Debug)]
pub(super) struct Difference<'a> {
    pub path: String,
    pub old: Old,
    /// The new contents and mode, or `None` when the file is removed.
    pub new: Option<(Cow<'a, str>, u32)>,
}

/// The new tree, and how it differs from the old one.
pub(super) struct Plan<'a> {
    /// The top directory's mode and owner.
    pub root: Action<'a>,
    /// Every entry below the top, parents before children.
    pub entries: BTreeMap<Key, Action<'a>>,
    /// Generated files (and the manifest) that change, sorted by path.
    pub differences: Vec<Difference<'a>>,
    pub summary: Summary,
}

impl Plan<'_> {
    /// True when the new tree would equal the old one, so that writing can be
    /// skipped altogether. Directories that only became empty do not count:
    /// they are pruned with the next real change.
    pub fn is_noop(&self) -> bool {
        self.differences.is_empty()
    }
}

/// Whether a write may add meshc's files to a directory meshc did not make.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Adopt {
    /// Refuse a directory that is not empty and has no manifest.
    #[default]
    No,
    /// Take such a directory over: its entries stay the user's, and one
    /// standing where meshc must write is still refused unless it is
    /// already exactly the generated file.
    Yes,
}

/// How much a plan must know of the files that change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Detail {
    /// Only which files change (`write`): an old file whose size differs
    /// from the new contents, or which is removed, is not read at all.
    Decisions,
    /// Also the old bytes of every changed file, for diffs (`check`).
    Diffs,
}

/// Plans the new contents of `dir`, whose current state is `old` (`None` when
/// it does not exist yet) and whose manifest lists `owned` ([`owned`]).
///
/// A directory meshc did not make (not empty, and no manifest) is refused
/// unless `adopt`; in any directory, an entry the manifest does not list
/// that stands where meshc must write is refused, unless it already is
/// exactly the file meshc would write. So nothing meshc did not write is
/// ever replaced, at any depth.
pub(super) fn plan<'a>(
    dir: &Path,
    old: Option<&Tree>,
    owned: &BTreeSet<Key>,
    targets: &Targets<'a>,
    detail: Detail,
    adopt: Adopt,
) -> Result<Plan<'a>, WriteError> {
    let empty = BTreeMap::new();
    let before = old.map_or(&empty, |tree| &tree.entries);
    let has_manifest = before
        .get(MANIFEST.as_bytes())
        .is_some_and(|entry| entry.kind == Kind::File);
    if adopt == Adopt::No && !before.is_empty() && !has_manifest {
        return Err(WriteError::NotMeshcs {
            dir: dir.to_path_buf(),
        });
    }
    // Whether meshc wrote the non-directory at `path` (the manifest itself
    // is meshc's when it is a regular file).
    let meshc_wrote = |path: &[u8], entry: &Entry| {
        owned.contains(path) || (path == MANIFEST.as_bytes() && entry.kind == Kind::File)
    };
    if let Some(tree) = old
        && let Some((path, _)) = before.iter().find(|(_, e)| e.dev != tree.root.dev)
    {
        // A mount point cannot be hard-linked or moved into the new tree.
        return Err(WriteError::Conflict {
            path: path.under(dir),
            reason: "it is on another filesystem (a mount point inside the output directory)",
        });
    }

    let root = old.map(|tree| tree.root);
    let mut reader = Reader::new(dir, before, root);

    // The new tree's directories and generated files are collected first and
    // sorted once into the map; what the old tree adds is looked up after.
    let mut planned = Vec::with_capacity(targets.dirs.len() + targets.files.len() + 1);
    let mut differences = Vec::new();
    let mut summary = Summary::default();
    let mut scratch = Scratch::default();

    // The directories meshc wrote below, worked out only when needed.
    let mut written_below: Option<BTreeSet<&[u8]>> = None;
    for &path in &targets.dirs {
        let action = match before.get(scratch.encode(path.as_bytes())) {
            Some(entry) if entry.kind == Kind::Dir => copy_dir(entry),
            // A file or symlink where meshc needs a directory is replaced
            // only if meshc wrote it, or made a directory there before.
            Some(entry)
                if !meshc_wrote(Key::new(path.as_bytes()).as_bytes(), entry)
                    && !written_below
                        .get_or_insert_with(|| owned.iter().flat_map(Key::parents).collect())
                        .contains(Key::new(path.as_bytes()).as_bytes()) =>
            {
                return Err(WriteError::Conflict {
                    path: dir.join(path),
                    reason: "meshc did not write it (the manifest does not list it), \
                             and meshc must create a directory there; move it away",
                });
            }
            _ => Action::Dir {
                mode: 0o755,
                owner: None,
            },
        };
        planned.push((Key::new(path.as_bytes()), action));
    }

    let new_manifest = manifest::render(targets.files.keys().copied());
    let manifest = Want::Bytes {
        contents: Cow::Owned(new_manifest),
        mode: 0o644,
        compared: false,
    };
    let files: Vec<_> = targets
        .files
        .iter()
        .map(|(&path, &wanted)| (path, Want::from(wanted)))
        .chain([(MANIFEST, manifest)])
        .map(|(path, want)| {
            // A file compared as it was emitted needs no second look.
            let entry = match want {
                Want::Held => None,
                Want::Bytes { .. } => before.get(scratch.encode(path.as_bytes())),
            };
            (path, want, entry)
        })
        .collect();
    let unchanged = unchanged(dir, before, root, &files)?;
    for ((path, want, entry), same) in files.into_iter().zip(unchanged) {
        // The manifest is bookkeeping, not one of the files the summary counts.
        let counted = usize::from(path != MANIFEST);
        let key = Key::new(path.as_bytes());
        let (contents, mode) = match want {
            Want::Bytes { contents, mode, .. } if !same => (contents, mode),
            // Held, or the same bytes and mode.
            _ => {
                summary.unchanged += counted;
                planned.push((key, Action::Link));
                continue;
            }
        };
        if let Some(entry) = entry
            && entry.kind != Kind::Dir
            && !meshc_wrote(key.as_bytes(), entry)
        {
            return Err(WriteError::Conflict {
                path: dir.join(path),
                reason: "meshc did not write it (the manifest does not list it), \
                         and it is not what meshc would write there; move it away",
            });
        }
        summary.written += counted;
        let old = old_state(&mut reader, entry, path, detail == Detail::Diffs)?;
        let write = Action::Write {
            contents: contents.clone(),
            mode,
        };
        planned.push((key, write));
        differences.push(Difference {
            path: path.to_owned(),
            old,
            new: Some((contents, mode)),
        });
    }
    let mut entries: BTreeMap<Key, Action<'a>> = planned.into_iter().collect();

    // Every other non-directory is the user's and is kept, unless the old
    // manifest says meshc wrote it.
    for (path, entry) in before {
        if entry.kind == Kind::Dir || entries.contains_key(path) {
            continue;
        }
        if owned.contains(path) {
            summary.removed += 1;
            let text = path.to_text();
            differences.push(Difference {
                old: old_state(&mut reader, Some(entry), &text, detail == Detail::Diffs)?,
                path: text,
                new: None,
            });
        } else {
            entries.insert(path.clone(), Action::Link);
        }
    }

    // A directory no artifact needs survives if anything in it does, or if
    // meshc never wrote below it (then it is the user's, even when empty).
    // Visiting in reverse order sees children before their parents. The
    // directories meshc wrote below are only worked out if such a directory
    // exists, which a rebuild that drops nothing never meets.
    for (path, entry) in before.iter().rev() {
        if entry.kind != Kind::Dir || entries.contains_key(path) {
            continue;
        }
        let holds_something = entries
            .range::<[u8], _>((Bound::Excluded(path.as_bytes()), Bound::Unbounded))
            .next()
            .is_some_and(|(next, _)| next.is_inside(path.as_bytes()));
        let written_below =
            written_below.get_or_insert_with(|| owned.iter().flat_map(Key::parents).collect());
        if holds_something || !written_below.contains(path.as_bytes()) {
            entries.insert(path.clone(), copy_dir(entry));
        }
    }

    differences.sort_by(|a, b| a.path.cmp(&b.path));
    let root = match old {
        Some(tree) => copy_dir(&tree.root),
        None => Action::Dir {
            mode: 0o755,
            owner: None,
        },
    };
    Ok(Plan {
        root,
        entries,
        differences,
        summary,
    })
}

/// The files the manifest of `dir` says meshc wrote, given its scan `old`.
pub(super) fn owned(dir: &Path, old: Option<&Tree>) -> Result<BTreeSet<Key>, WriteError> {
    match old.and_then(|tree| tree.entries.get(MANIFEST.as_bytes()).map(|entry| (tree, entry))) {
        Some((tree, entry)) if entry.kind == Kind::File => {
            let bytes = Reader::new(dir, &tree.entries, Some(tree.root)).read(MANIFEST, entry)?;
            manifest::parse_strict(&bytes, &dir.join(MANIFEST))
        }
        _ => Ok(BTreeSet::new()),
    }
}

fn copy_dir<'a>(entry: &Entry) -> Action<'a> {
    Action::Dir {
        mode: entry.mode,
        owner: Some((entry.uid, entry.gid)),
    }
}

/// What a generated file (or the manifest) must hold, as the plan uses it.
enum Want<'a> {
    /// What the old tree's file holds ([`Wanted::Held`]).
    Held,
    /// These bytes with this mode; `compared`: the old tree's file was
    /// found not to hold them.
    Bytes {
        contents: Cow<'a, str>,
        mode: u32,
        compared: bool,
    },
}

impl<'a> From<Wanted<'a>> for Want<'a> {
    fn from(wanted: Wanted<'a>) -> Self {
        match wanted {
            Wanted::Held => Want::Held,
            Wanted::Bytes {
                contents,
                mode,
                compared,
            } => Want::Bytes {
                contents: Cow::Borrowed(contents),
                mode,
                compared,
            },
        }
    }
}

/// A generated file: its path, what it must hold, and what the old tree
/// holds at that path.
type Generated<'a, 'e> = (&'a str, Want<'a>, Option<&'e Entry>);

/// Which of `files` the old tree already holds (same bytes, same mode),
/// in order. What was compared as it was emitted is not compared again.
/// The scan's size settles most changes without reading the old file;
/// only a file of the same size and mode is read and compared byte for
/// byte (a user's edit that keeps the size is still found). Reading is
/// most of the work of planning a rebuild without such comparisons, so two
/// threads share it, each taking one contiguous half (files of one
/// directory stay together).
fn unchanged(
    dir: &Path,
    scanned: &BTreeMap<Key, Entry>,
    root: Option<Entry>,
    files: &[Generated<'_, '_>],
) -> Result<Vec<bool>, WriteError> {
    let check = |files: &[Generated<'_, '_>]| -> Result<Vec<bool>, WriteError> {
        let mut reader = Reader::new(dir, scanned, root);
        files
            .iter()
            .map(|(path, want, entry)| match want {
                Want::Held => Ok(true),
                Want::Bytes { compared: true, .. } => Ok(false),
                Want::Bytes { contents, mode, .. } => {
                    holds(&mut reader, path, *entry, contents.as_bytes(), *mode)
                }
            })
            .collect()
    };
    Ok(halves::in_halves(files, check)?.concat())
}

/// Whether the old tree's `entry` at `path` is a regular file holding
/// exactly `contents` with `mode`: the one comparison, made by the plan or
/// as the artifact is emitted ([`super::compare`]). A size or mode that
/// differs settles it without reading.
pub(super) fn holds(
    reader: &mut Reader<'_>,
    path: &str,
    entry: Option<&Entry>,
    contents: &[u8],
    mode: u32,
) -> Result<bool, WriteError> {
    match entry {
        Some(entry)
            if entry.kind == Kind::File && entry.size == contents.len() as u64 && entry.mode == mode =>
        {
            reader.holds(path, entry, contents)
        }
        _ => Ok(false),
    }
}

/// What the old tree holds at `path` (`entry`), with its bytes if `read`. A
/// path below a symlink or a file does not appear in the scan, so it is
/// `Absent`: the writer replaces whatever stands in the way.
fn old_state(
    reader: &mut Reader<'_>,
    entry: Option<&Entry>,
    path: &str,
    read: bool,
) -> Result<Old, WriteError> {
    Ok(match entry {
        None => Old::Absent,
        Some(entry) => match entry.kind {
            Kind::File => Old::File {
                bytes: if read {
                    Some(reader.read(path, entry)?)
                } else {
                    None
                },
                mode: entry.mode,
            },
            Kind::Dir => {
                return Err(WriteError::Conflict {
                    path: reader.path_of(path),
                    reason: "it is a directory, and meshc must write a file there",
                });
            }
            kind => Old::Other(kind),
        },
    })
}
