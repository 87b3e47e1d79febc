//! The output directory's place in its parent: resolving it, locking it,
//! naming the trees built beside it, and clearing those trees away.
//!
//! A new tree is built as `.NAME.meshc-XXXXXX` next to `NAME` and swapped in.
//! After the swap, that same name holds the previous tree, which is then
//! swept. A crash can leave either kind behind (a half-built new tree, or a
//! previous tree not yet swept); the next write sweeps them first, under the
//! same lock.
//!
//! Each such tree has a marker beside it, `.NAME.meshc-XXXXXX.lock`, made
//! before the tree and removed after it, recording the tree's device and
//! inode (and those of the output directory it may be swapped with): a
//! sibling is swept only if its marker names that very directory, so a
//! directory of the user's that merely has such a name is never touched.
//!
//! Sweeping never trusts that a leftover tree is garbage. It deletes only what
//! it can prove meshc may delete: a path listed in the leftover's own manifest
//! or in the live manifest (generated files, or entries a generated file
//! replaced on purpose), a non-directory standing where the live manifest
//! needs a directory, and hard links whose inode is still present at the same
//! path in the output directory. Anything else, such as a file another
//! process created in the output directory during the swap, stays where it is
//! (with the manifest that accounts for the rest), so no user data is ever
//! deleted by mistake. The write that made the tree reports it in
//! `Summary::leftover`.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::WriteError;
use super::manifest::{self, MANIFEST};
use super::ops::{CreateModes, Ops};
use super::tree;

/// The output directory as an absolute path with no symlink in it, so that
/// the swap replaces the real directory (a symlink the user chose as the
/// output directory stays a symlink). Refuses `/` and non-directories.
pub(super) fn resolve(dir: &Path) -> Result<PathBuf, WriteError> {
    let invalid = |reason| WriteError::InvalidDir {
        dir: dir.to_path_buf(),
        reason,
    };
    if dir.as_os_str().is_empty() {
        return Err(invalid("the path is empty"));
    }
    let absolute = std::path::absolute(dir).map_err(|e| WriteError::io("resolve", dir, e))?;
    // Canonicalize the longest existing prefix; the rest does not exist yet.
    let mut existing = absolute.as_path();
    let mut missing = Vec::new();
    while !existing
        .try_exists()
        .map_err(|e| WriteError::io("inspect", existing, e))?
    {
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                missing.push(name);
                existing = parent;
            }
            // `..` after a missing directory: there is nothing to resolve.
            _ => return Err(invalid("the path cannot be resolved")),
        }
    }
    let mut real = fs::canonicalize(existing).map_err(|e| WriteError::io("resolve", existing, e))?;
    if missing.is_empty() && !real.is_dir() {
        return Err(invalid("it is not a directory"));
    }
    real.extend(missing.iter().rev());
    if real.parent().is_none() {
        return Err(invalid("meshc will not replace the root directory"));
    }
    Ok(real)
}

/// Refuses a directory that cannot be swapped: a mount point, which only a
/// kernel error would otherwise reveal, and only after the new tree is built.
pub(super) fn refuse_mount_point(dir: &Path, parent: &Path) -> Result<(), WriteError> {
    let (Some(inner), Some(outer)) = (tree::lstat(dir)?, tree::lstat(parent)?) else {
        return Ok(());
    };
    if inner.dev() != outer.dev() {
        return Err(WriteError::InvalidDir {
            dir: dir.to_path_buf(),
            reason: "it is a mount point, which cannot be replaced atomically; \
                     write to a directory inside it instead",
        });
    }
    Ok(())
}

/// Locks the output directory's parent (an exclusive `flock`, released when
/// the returned file closes), so that two writers into one output directory
/// take turns. Locking the parent rather than a lock file leaves nothing on
/// disk.
pub(super) fn lock(parent: &Path) -> Result<File, WriteError> {
    let fail = |e| WriteError::io("lock", parent, e);
    let file = File::open(parent).map_err(fail)?;
    file.lock().map_err(fail)?;
    Ok(file)
}

/// `.NAME.meshc-`: the prefix of the trees built beside `NAME`.
pub(super) fn prefix(name: &OsStr) -> OsString {
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".meshc-");
    prefix
}

/// The suffix of a tree's marker: `.NAME.meshc-XXXXXX.lock` beside the
/// tree `.NAME.meshc-XXXXXX`.
const MARKER_SUFFIX: &str = ".lock";

/// The first line of every marker.
pub(super) const MARKER_MAGIC: &[u8] =
    b"meshc: the tree beside this file is a meshc build's; the next build removes both\n";

/// The marker of the tree at `tree`.
pub(super) fn marker_of(tree: &Path) -> PathBuf {
    let mut path = tree.as_os_str().to_owned();
    path.push(MARKER_SUFFIX);
    PathBuf::from(path)
}

/// The tree a marker path belongs to.
fn strip_marker_suffix(marker: &Path) -> PathBuf {
    let bytes = marker.as_os_str().as_encoded_bytes();
    let tree = bytes.strip_suffix(MARKER_SUFFIX.as_bytes()).unwrap_or(bytes);
    PathBuf::from(std::ffi::OsStr::from_bytes(tree))
}

/// `(device, inode)` of an entry.
fn identity(meta: &fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

/// Creates the private directory (mode 0700) a new tree is built in,
/// `PREFIX<random>` in `parent`, and its marker: a file only meshc writes,
/// which records the identity (device and inode) of that directory and of
/// `dir_identity`, the output directory it may be swapped with. That marker
/// is what lets a later build prove a sibling is a tree a killed build left
/// behind (see [`sweep_leftovers`]); a directory without one is never
/// touched. The marker is made first, so that no moment leaves an
/// unmarked tree; until it records an identity, only an empty directory
/// is taken for the tree.
pub(super) fn create_staging(
    parent: &Path,
    prefix: &OsStr,
    dir_identity: Option<(u64, u64)>,
    ops: &Ops,
) -> Result<PathBuf, WriteError> {
    let (marker, file) = ops.create_marker(parent, prefix, MARKER_SUFFIX, MARKER_MAGIC)?;
    let staging = strip_marker_suffix(&marker);
    let modes = CreateModes::default();
    let made = ops.create_dir(&staging, 0o700, &modes).and_then(|()| {
        let meta = tree::lstat(&staging)?.ok_or_else(|| WriteError::Raced { dir: staging.clone() })?;
        let ids: String = [Some(identity(&meta)), dir_identity]
            .into_iter()
            .flatten()
            .map(|(dev, ino)| format!("{dev}:{ino}\n"))
            .collect();
        ops.append(&marker, &file, ids.as_bytes())
    });
    if let Err(error) = made {
        if !error.is_simulated_crash() {
            let _ = ops.remove_dir(&staging);
            let _ = ops.remove_file(&marker);
        }
        return Err(error);
    }
    Ok(staging)
}

/// Removes the marker of `tree`, once `tree` is gone. A failure only leaves
/// the marker for the next build to remove; a simulated crash stops.
pub(super) fn unmark(tree: &Path, ops: &Ops) -> Result<(), WriteError> {
    removed(ops.remove_file(&marker_of(tree))).map(|_| ())
}

/// What a marker says: `None` when it is not a marker meshc wrote, else the
/// identities it records (none yet, when the build that wrote it stopped
/// before it created its tree, or just after).
fn read_marker(marker: &Path) -> Option<Vec<(u64, u64)>> {
    let meta = tree::lstat(marker).ok().flatten()?;
    if !meta.is_file() || meta.len() > 4096 {
        return None;
    }
    let bytes = fs::read(marker).ok()?;
    // Empty: killed between creating the marker and writing its first line.
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let rest = bytes.strip_prefix(MARKER_MAGIC)?;
    let text = std::str::from_utf8(rest).ok()?;
    // Only whole lines count: a line cut short by a kill is ignored.
    let whole = text.rsplit_once('\n').map_or("", |(whole, _)| whole);
    Some(
        whole
            .lines()
            .filter_map(|line| {
                let (dev, ino) = line.split_once(':')?;
                Some((dev.parse().ok()?, ino.parse().ok()?))
            })
            .collect(),
    )
}

/// Sweeps every tree an interrupted write left beside `dir`: only a
/// directory `.NAME.meshc-XXXXXX` whose marker, a file meshc wrote, records
/// that very directory (same device and inode). A directory merely named
/// like one, even one holding a manifest, is never changed or removed.
/// Trees that cannot be fully removed stay, with their marker; they are
/// outside the output directory.
pub(super) fn sweep_leftovers(dir: &Path, parent: &Path, name: &OsStr, ops: &Ops) -> Result<(), WriteError> {
    let prefix = prefix(name);
    let Ok(listing) = fs::read_dir(parent) else {
        return Ok(());
    };
    let mut trees = Vec::new();
    for item in listing.flatten() {
        let file_name = item.file_name();
        let is_marker = file_name
            .as_encoded_bytes()
            .strip_prefix(prefix.as_encoded_bytes())
            .and_then(|rest| rest.strip_suffix(MARKER_SUFFIX.as_bytes()))
            .is_some_and(|rest| !rest.is_empty() && rest.iter().all(u8::is_ascii_alphanumeric));
        if is_marker {
            trees.push(strip_marker_suffix(&item.path()));
        }
    }
    for tree in trees {
        let Some(ids) = read_marker(&marker_of(&tree)) else {
            continue;
        };
        let gone = match tree::lstat(&tree).ok().flatten() {
            None => true,
            Some(meta) if meta.is_dir() && ids.contains(&identity(&meta)) => sweep(&tree, dir, ops)?,
            // Killed before the marker recorded the tree: nothing was put in
            // it yet, so only an empty directory can be it.
            Some(meta) if meta.is_dir() && ids.is_empty() => removed(ops.remove_dir(&tree))?,
            Some(_) => false,
        };
        if gone {
            unmark(&tree, ops)?;
        }
    }
    Ok(())
}

/// Removes what it may of the tree at `old` (see the module doc); returns
/// whether the whole tree is gone. Only a simulated crash is an error: any
/// other failure just keeps that entry.
pub(super) fn sweep(old: &Path, dir: &Path, ops: &Ops) -> Result<bool, WriteError> {
    let listed = |path: &Path| {
        tree::lstat(path)
            .ok()
            .flatten()
            .filter(|m| m.is_file())
            .and_then(|_| fs::read(path).ok())
            .map(|bytes| manifest::parse_lenient(&bytes))
            .unwrap_or_default()
    };
    let live = listed(&dir.join(MANIFEST));
    let mut deletable = listed(&old.join(MANIFEST));
    for path in &live {
        deletable.extend(
            Path::new(path)
                .ancestors()
                .filter_map(Path::to_str)
                .filter(|a| !a.is_empty())
                .map(str::to_owned),
        );
    }
    let sweep = Sweep {
        old,
        dir,
        deletable,
        ops,
    };
    if !sweep.dir(Path::new(""))? {
        return Ok(false);
    }
    // The tree's manifest goes last: until everything it accounts for is
    // gone, a crash must leave it for the next sweep to read.
    let manifest = old.join(MANIFEST);
    if tree::lstat(&manifest)?.is_some() && !removed(ops.remove_file(&manifest))? {
        return Ok(false);
    }
    removed(ops.remove_dir(old))
}

struct Sweep<'a> {
    old: &'a Path,
    dir: &'a Path,
    /// Relative paths meshc may delete whatever they hold, except a directory.
    deletable: BTreeSet<String>,
    ops: &'a Ops,
}

impl Sweep<'_> {
    /// Empties `relative` as far as allowed, except for the top's manifest;
    /// returns whether it is empty.
    fn dir(&self, relative: &Path) -> Result<bool, WriteError> {
        let path = self.old.join(relative);
        // This directory is no longer in the output directory (the new tree
        // has its own copy), so making it writable changes nothing the user
        // can see, and lets its entries go.
        if !removed(self.ops.set_mode(&path, 0o700))? {
            return Ok(false);
        }
        let Ok(listing) = fs::read_dir(&path) else {
            return Ok(false);
        };
        let mut empty = true;
        for item in listing {
            let Ok(item) = item else {
                empty = false;
                continue;
            };
            let child = relative.join(item.file_name());
            if child == Path::new(MANIFEST) {
                continue;
            }
            let Ok(meta) = item.metadata() else {
                empty = false;
                continue;
            };
            let gone = if meta.is_dir() {
                self.dir(&child)? && removed(self.ops.remove_dir(&self.old.join(&child)))?
            } else if self.may_delete(&child, &meta) {
                removed(self.ops.remove_file(&self.old.join(&child)))?
            } else {
                false
            };
            empty &= gone;
        }
        Ok(empty)
    }

    fn may_delete(&self, relative: &Path, meta: &fs::Metadata) -> bool {
        if relative.to_str().is_some_and(|p| self.deletable.contains(p)) {
            return true;
        }
        // A second name for an inode the output directory still has at the
        // same path: deleting it loses nothing.
        tree::lstat(&self.dir.join(relative))
            .ok()
            .flatten()
            .is_some_and(|live| (live.dev(), live.ino()) == (meta.dev(), meta.ino()))
    }
}

/// Whether a removal succeeded; a simulated crash stops everything.
fn removed(result: Result<(), WriteError>) -> Result<bool, WriteError> {
    match result {
        Ok(()) => Ok(true),
        Err(error) if error.is_simulated_crash() => Err(error),
        Err(_) => Ok(false),
    }
}
