//! Artifacts → output directory: besides the CLI, the only code that touches
//! the filesystem.
//!
//! # What `write` promises
//!
//! - **All or nothing, at every instant.** The output directory DIR holds
//!   either exactly what it held before `write` started, or exactly the new
//!   tree: never a mix, never a temporary file, whether `write` returns an
//!   error or the process is SIGKILLed at any moment.
//! - **Only meshc's files change.** `.meshc-manifest` in DIR lists every file
//!   the last build wrote. A DIR that is not empty and has no manifest is not
//!   meshc's: it is refused ([`WriteError::NotMeshcs`]) unless the caller
//!   adopts it ([`Adopt`]); in any DIR, an entry the manifest does not list
//!   that stands where meshc must write is refused, never replaced, unless
//!   it already is exactly the generated file. A rebuild removes listed files that are no longer
//!   produced, and the directories that only held them; every other entry
//!   (user files, symlinks, user directories, even empty ones) is carried
//!   over as the same inode, so with its bytes, mode, owner and mtime.
//! - **Unchanged files are untouched.** A generated file whose bytes and mode
//!   are unchanged is carried over the same way and keeps its mtime; when
//!   nothing changes at all, DIR is not touched.
//! - **Exact modes:** 0644 or 0755 as the artifact says, new directories
//!   0755, whatever the umask.
//! - **Nothing outside DIR.** Artifact paths are checked again here (no
//!   absolute path, `..`, `.`, empty segment, NUL, backslash or line break).
//!   Symlinks inside DIR are never followed: one standing where a generated
//!   file or its directory goes is replaced, never written through. DIR
//!   itself must not be `/` or a file; if missing, it is created (with its
//!   parents). The one other place written is the sibling tree described
//!   below, in DIR's parent.
//!
//! # How
//!
//! Renaming files into place one by one cannot keep the first promise:
//! between two renames DIR is neither old nor new, and a journal can only
//! repair that on the next run, while the user may look before then. So the
//! writer replaces the directory as a whole, in one system call:
//!
//! 1. Lock DIR's parent (`flock`), and sweep trees an interrupted run left
//!    beside DIR.
//! 2. Scan DIR without following symlinks and plan the new tree; stop here if
//!    it equals the old one. The CLI takes this scan (a [`Survey`]) before
//!    the lock, on a second thread while the topology compiles; it is used
//!    only if DIR is still the directory it scanned, and any change made
//!    since that the next steps notice sends the write back here for a
//!    fresh scan under the lock.
//!    The artifacts may come compared with that survey as they were
//!    emitted ([`Comparer`], [`Artifacts::Compared`]), only the paths of
//!    files DIR already holds kept: the plan then uses those comparisons,
//!    and an attempt from a fresh scan starts from whole artifacts,
//!    emitted again (see `compare`).
//! 3. Build the new tree in a private sibling `.NAME.meshc-XXXXXX`, marked
//!    by a file `.NAME.meshc-XXXXXX.lock` that records its identity (see
//!    `swap`; only marked trees are ever swept): new files
//!    are created there (`O_EXCL`, with their mode, and a chmod only where
//!    the umask or a default ACL took bits from it); unchanged generated
//!    files and everything the user owns are hard-linked in; directories are
//!    recreated with their mode and owner. Then the whole filesystem is
//!    flushed once (`syncfs`), rather than one fsync per file and directory;
//!    on a large tree, earlier `syncfs` calls start that writeback while the
//!    tree is filled (see `early`).
//!    A generated file counts as unchanged when its mode and bytes match;
//!    the scan's size settles most changes without reading the old file.
//!    From 512 files on, two threads share the reading of old files and the
//!    filling of the new tree (manifest and directories first); nothing can
//!    see the order inside the private tree.
//! 4. Scan DIR again; if another process changed it meanwhile, abandon the
//!    build (`Raced`) rather than let that change vanish with the old tree.
//! 5. Swap the sibling and DIR with `renameat2(RENAME_EXCHANGE)`, atomic on
//!    Linux, and flush the parent. This is the commit point.
//! 6. Sweep the previous tree, which now has the sibling's name.
//!
//! A kill before step 5 leaves DIR untouched and a half-built sibling; a kill
//! after it leaves the new DIR and the previous tree as the sibling. Either
//! sibling is outside DIR and the next write sweeps it (see `swap`).
//!
//! # What is not promised
//!
//! - **Power loss.** Everything is flushed before the swap (`syncfs` on the
//!   new tree's filesystem) and the parent after it (fsync), so on a
//!   filesystem that keeps fsync's and syncfs's promises and journals renames
//!   (ext4, xfs, btrfs) DIR comes back old or new; where they lie, nothing
//!   can be promised. `syncfs` flushes the whole filesystem, other
//!   programs' unwritten data included, so a build on a filesystem busy with
//!   other writes waits for those too. It reports write-back errors only
//!   from Linux 5.8 on; on other systems the writer falls back to `sync()`,
//!   which POSIX lets return before the data is on disk.
//! - **Directory identity.** After a write that changes anything, DIR and
//!   every directory in it are new inodes: their mtimes, extended attributes
//!   and ACLs are not carried over, and a process whose working directory
//!   is in DIR (a shell after `cd out`, or meshc itself with `-o .`) or a
//!   file watcher stays with the old, deleted one.
//! - **Where it works.** Linux, on a filesystem that supports
//!   `RENAME_EXCHANGE` (ext4, xfs, btrfs, tmpfs; not NFS); write access to
//!   DIR's parent; DIR not a mount point (with Docker, mount its parent);
//!   every user file hard-linkable (with `fs.protected_hardlinks`, files the
//!   user may read and write); directories in DIR owned by someone else need
//!   root, who alone may give the copies that owner. Otherwise `write` fails
//!   and changes nothing.
//! - **Concurrent writers to DIR.** A change another process makes in the
//!   instant between step 4 and step 5 lands in the previous tree, which is
//!   then kept beside DIR and reported in [`Summary::leftover`], not deleted.
//! - **Cost.** A write that changes anything links every user file again, so
//!   a DIR holding a large user tree (`-o .` in a repository) pays for it.
//! - **Hostile neighbours.** The sweep uses path-based calls, so DIR's parent
//!   must not be writable by untrusted users (who could forge a marker).
//!
//! Alternatives weighed: per-file temporary files and renames plus a journal
//! (not atomic, and leaves temporary files in DIR after a kill); a sibling
//! tree that copies user files instead of linking them (slow, and loses their
//! identity: an editor holding one open would write to a ghost); a symlink
//! flipped between versions (changes what DIR is).

mod compare;
mod early;
mod error;
mod halves;
mod key;
mod manifest;
mod ops;
mod plan;
mod read;
mod stage;
mod stale;
mod swap;
mod targets;
mod tree;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

pub use compare::{Compared, Comparer, Given, Held};
pub use error::WriteError;
pub use plan::Adopt;
pub use read::read_output;
pub use stale::{Change, Staleness, render_diff};

use crate::artifact::Artifact;
use key::Key;
use ops::Ops;
use targets::Targets;
use tree::{Entry, Tree};

/// What a [`write`] did, counted in generated files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Files created or rewritten.
    pub written: usize,
    /// Files already up to date, left as they were.
    pub unchanged: usize,
    /// Files of an earlier build that are no longer produced.
    pub removed: usize,
    /// The previous tree, when it could not be fully swept away (something
    /// appeared in DIR during the swap, or a removal failed). DIR itself is
    /// complete and correct; this tree is beside it, for the user to inspect.
    pub leftover: Option<PathBuf>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wrote {}, unchanged {}, removed {}",
            self.written, self.unchanged, self.removed
        )?;
        if let Some(leftover) = &self.leftover {
            write!(
                f,
                "; the previous contents could not all be removed and remain in {}",
                leftover.display()
            )?;
        }
        Ok(())
    }
}

/// The output directory as a build found it: scanned, and its manifest read,
/// ahead of the write, while the artifacts are still being compiled (the
/// two do not depend on each other). Hand it to [`write`] or [`check`] in
/// [`Options::survey`]; they use it only if it still describes the directory.
pub struct Survey {
    /// The directory as [`swap::resolve`] gives it.
    dir: PathBuf,
    old: Option<Tree>,
    /// The paths the old manifest lists.
    owned: BTreeSet<Key>,
}

impl Survey {
    fn take(dir: &Path) -> Result<Self, WriteError> {
        let old = tree::scan(dir)?;
        let owned = plan::owned(dir, old.as_ref())?;
        Ok(Survey {
            dir: dir.to_path_buf(),
            old,
            owned,
        })
    }

    /// True when `dir` is still the directory inode this survey scanned (or
    /// still missing). Every write that changes anything replaces that inode,
    /// so a survey that passes this under the lock was not overtaken by
    /// another meshc write.
    fn is_current(&self) -> bool {
        let now = tree::lstat(&self.dir)
            .ok()
            .map(|meta| meta.as_ref().map(Entry::of));
        now == Some(self.old.as_ref().map(|tree| tree.root))
    }
}

/// Surveys `dir` for a later [`write`] or [`check`] ([`Options::survey`]);
/// reads only. `None` when anything went wrong: the write then looks again,
/// and reports the problem in its proper place.
pub fn survey(dir: &Path) -> Option<Survey> {
    let dir = swap::resolve(dir).ok()?;
    Survey::take(&dir).ok()
}

/// How a [`write`] or a [`check`] starts. The default: no survey (the
/// directory is scanned under the lock), and a directory meshc did not make
/// is refused.
#[derive(Default)]
pub struct Options {
    /// A survey of the directory taken earlier ([`survey`]), used only if it
    /// still describes the directory. Artifacts [`Compared`] as they were
    /// emitted bring the survey they were compared with instead.
    pub survey: Option<Survey>,
    /// Whether a directory meshc did not make may be taken over.
    pub adopt: Adopt,
}

/// What [`write`] and [`check`] are given to write or compare.
pub enum Artifacts<'a> {
    /// Every artifact, whole.
    Whole(&'a [Artifact]),
    /// Every artifact compared as it was emitted ([`Comparer`]), and how to
    /// emit them again, whole, for an attempt that cannot use those
    /// comparisons (the survey was overtaken, a comparison or a write from
    /// it failed).
    Compared(Compared, &'a dyn Fn() -> Vec<Artifact>),
}

impl<'a> From<&'a [Artifact]> for Artifacts<'a> {
    fn from(artifacts: &'a [Artifact]) -> Self {
        Artifacts::Whole(artifacts)
    }
}

impl<'a> From<&'a Vec<Artifact>> for Artifacts<'a> {
    fn from(artifacts: &'a Vec<Artifact>) -> Self {
        Artifacts::Whole(artifacts)
    }
}

impl<'a, const N: usize> From<&'a [Artifact; N]> for Artifacts<'a> {
    fn from(artifacts: &'a [Artifact; N]) -> Self {
        Artifacts::Whole(artifacts)
    }
}

/// Makes `dir` hold exactly `artifacts` besides the user's own files,
/// atomically (see the module doc). A directory meshc did not make is
/// refused ([`WriteError::NotMeshcs`]) unless [`Options::adopt`] says
/// otherwise.
pub fn write<'a>(
    dir: &Path,
    artifacts: impl Into<Artifacts<'a>>,
    options: Options,
) -> Result<Summary, WriteError> {
    write_with(
        dir,
        artifacts.into(),
        options.survey,
        options.adopt,
        &Ops::default(),
    )
}

/// How `dir` differs from what [`write`] would make of it; writes nothing.
/// It fails where [`write`] would, with the same `options`.
pub fn check<'a>(
    dir: &Path,
    artifacts: impl Into<Artifacts<'a>>,
    options: Options,
) -> Result<Staleness, WriteError> {
    let Options { survey, adopt } = options;
    let current = |survey: &&Survey, dir: &Path| survey.dir == dir && survey.is_current();
    let staleness = |plan: plan::Plan<'_>| Staleness {
        changes: plan.differences.iter().map(stale::change).collect(),
    };
    // As for a write: a survey is used only while it still describes DIR,
    // and a plan that found DIR changed since (or failed) is made again from
    // a fresh scan, whose outcome is the one reported.
    match artifacts.into() {
        Artifacts::Whole(artifacts) => {
            let targets = Targets::new(artifacts)?;
            let dir = swap::resolve(dir)?;
            let plan_from = |survey: &Survey| plan_for(&dir, &targets, survey, plan::Detail::Diffs, adopt);
            let surveyed = survey.as_ref().filter(|s| current(s, &dir)).map(plan_from);
            let plan = match surveyed {
                Some(Ok(plan)) => plan,
                _ => plan_from(&Survey::take(&dir)?)?,
            };
            Ok(staleness(plan))
        }
        Artifacts::Compared(compared, again) => {
            let targets = Targets::compared(&compared, false)?;
            let dir = swap::resolve(dir)?;
            let surveyed = compared
                .survey
                .as_ref()
                .filter(|s| !compared.failed && current(s, &dir))
                .map(|survey| plan_for(&dir, &targets, survey, plan::Detail::Diffs, adopt));
            if let Some(Ok(plan)) = surveyed {
                return Ok(staleness(plan));
            }
            let fresh = Survey::take(&dir)?;
            if compared.holds_every_byte() {
                let targets = Targets::compared(&compared, true)?;
                return Ok(staleness(plan_for(
                    &dir,
                    &targets,
                    &fresh,
                    plan::Detail::Diffs,
                    adopt,
                )?));
            }
            drop(targets);
            drop(compared);
            let artifacts = again();
            let targets = Targets::new(&artifacts)?;
            Ok(staleness(plan_for(
                &dir,
                &targets,
                &fresh,
                plan::Detail::Diffs,
                adopt,
            )?))
        }
    }
}

/// The plan of `targets` in `dir` as `survey` found it.
fn plan_for<'a>(
    dir: &Path,
    targets: &Targets<'a>,
    survey: &Survey,
    detail: plan::Detail,
    adopt: Adopt,
) -> Result<plan::Plan<'a>, WriteError> {
    plan::plan(dir, survey.old.as_ref(), &survey.owned, targets, detail, adopt)
}

fn write_with(
    dir: &Path,
    artifacts: Artifacts<'_>,
    survey: Option<Survey>,
    adopt: Adopt,
    ops: &Ops,
) -> Result<Summary, WriteError> {
    // Bad paths are refused before anything, even DIR, is created. The
    // targets of the first attempt: whole artifacts, or the comparisons,
    // which are valid only with their own survey.
    let (compared, again) = match artifacts {
        Artifacts::Whole(artifacts) => {
            let targets = Targets::new(artifacts)?;
            let locked = Locked::take(dir, adopt, ops)?;
            if let Some(done) = locked.first(&targets, survey.as_ref()) {
                return done;
            }
            return locked.fresh(&targets);
        }
        Artifacts::Compared(compared, again) => (compared, again),
    };
    let targets = Targets::compared(&compared, false)?;
    let locked = Locked::take(dir, adopt, ops)?;
    if !compared.failed
        && let Some(done) = locked.first(&targets, compared.survey.as_ref())
    {
        return done;
    }
    drop(targets);
    // Starting again from a fresh scan, the comparisons mean nothing.
    if compared.holds_every_byte() {
        return locked.fresh(&Targets::compared(&compared, true)?);
    }
    drop(compared);
    let artifacts = again();
    locked.fresh(&Targets::new(&artifacts)?)
}

/// A write under the lock of DIR's parent.
struct Locked<'o> {
    dir: PathBuf,
    parent: PathBuf,
    name: std::ffi::OsString,
    adopt: Adopt,
    ops: &'o Ops,
    _lock: std::fs::File,
}

impl<'o> Locked<'o> {
    /// Resolves `dir`, creates its parent if needed, takes the lock and
    /// sweeps what interrupted runs left beside DIR.
    fn take(dir: &Path, adopt: Adopt, ops: &'o Ops) -> Result<Self, WriteError> {
        let dir = swap::resolve(dir)?;
        let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
            return Err(WriteError::InvalidDir {
                dir,
                reason: "meshc will not replace the root directory",
            });
        };
        let (parent, name) = (parent.to_path_buf(), name.to_os_string());
        if !parent.exists() {
            ops.create_dir_all(&parent)?;
        }
        let lock = swap::lock(&parent)?;
        swap::sweep_leftovers(&dir, &parent, &name, ops)?;
        swap::refuse_mount_point(&dir, &parent)?;
        Ok(Locked {
            dir,
            parent,
            name,
            adopt,
            ops,
            _lock: lock,
        })
    }

    /// The attempt from a survey taken before the lock, or `None` when the
    /// write must start again from a fresh scan ([`Locked::fresh`]).
    ///
    /// A survey taken before the lock is used only if no other meshc write
    /// replaced DIR since (which would also have swept its own leftovers
    /// first). Another program's change to DIR made since the survey is
    /// caught before the swap (`Raced`), as one made while the new tree is
    /// built would be, or makes a step fail (a file the survey saw is gone).
    /// A failed write leaves DIR as it was, so in either case this write
    /// starts again from a fresh scan under the lock, as if it had never had
    /// the survey, and that attempt's outcome is the one reported. A change
    /// that does not alter the plan (a user file added to a tree that needs
    /// no change) is left alone, as one made just after the write would be.
    /// Only an attempt that failed before its swap is tried again: once the
    /// new tree is in place, its errors (a failed flush, a failed sweep) are
    /// the build's outcome.
    fn first(&self, targets: &Targets<'_>, survey: Option<&Survey>) -> Option<Result<Summary, WriteError>> {
        let survey = survey.filter(|survey| survey.dir == self.dir && survey.is_current())?;
        match self.attempt(targets, survey) {
            Err(Failed {
                error,
                before_swap: true,
            }) if !error.is_simulated_crash() => None,
            done => Some(done.map_err(|failed| failed.error)),
        }
    }

    /// The attempt from a scan taken now, under the lock.
    fn fresh(&self, targets: &Targets<'_>) -> Result<Summary, WriteError> {
        let survey = Survey::take(&self.dir)?;
        self.attempt(targets, &survey).map_err(|failed| failed.error)
    }

    fn attempt(&self, targets: &Targets<'_>, survey: &Survey) -> Result<Summary, Failed> {
        write_locked(
            &self.dir,
            &self.parent,
            &self.name,
            targets,
            survey,
            self.adopt,
            self.ops,
        )
    }
}

/// A write that failed, and whether it failed before swapping anything into
/// DIR.
struct Failed {
    error: WriteError,
    before_swap: bool,
}

impl Failed {
    fn before_swap(error: WriteError) -> Self {
        Failed {
            error,
            before_swap: true,
        }
    }

    fn after_swap(error: WriteError) -> Self {
        Failed {
            error,
            before_swap: false,
        }
    }
}

/// Plans, builds and swaps in the new tree, from `survey`, under the lock.
fn write_locked(
    dir: &Path,
    parent: &Path,
    name: &OsStr,
    targets: &Targets<'_>,
    survey: &Survey,
    adopt: Adopt,
    ops: &Ops,
) -> Result<Summary, Failed> {
    let before = survey.old.as_ref();
    let plan = plan::plan(
        dir,
        before,
        &survey.owned,
        targets,
        plan::Detail::Decisions,
        adopt,
    )
    .map_err(Failed::before_swap)?;
    let mut summary = plan.summary.clone();
    if plan.is_noop() {
        return Ok(summary);
    }
    let dir_identity = before.map(|tree| (tree.root.dev, tree.root.ino));
    let staging = stage::build(dir, parent, &swap::prefix(name), dir_identity, &plan, ops)
        .map_err(Failed::before_swap)?;
    summary.leftover = commit(dir, parent, &staging, before, ops)?;
    Ok(summary)
}

/// Swaps the finished tree at `staging` into `dir`, and sweeps the previous
/// tree; returns the previous tree's path if it could not all be removed.
fn commit(
    dir: &Path,
    parent: &Path,
    staging: &Path,
    before: Option<&Tree>,
    ops: &Ops,
) -> Result<Option<PathBuf>, Failed> {
    let abandon = |error: WriteError| {
        if !error.is_simulated_crash() {
            stage::discard(staging, ops);
        }
        error
    };
    let now = tree::scan(dir).map_err(|error| Failed::before_swap(abandon(error)))?;
    if now.as_ref() != before {
        return Err(Failed::before_swap(abandon(WriteError::Raced {
            dir: dir.to_path_buf(),
        })));
    }
    let swap = |from: &Path, to: &Path| match before {
        Some(_) => ops.exchange(from, to),
        // Nothing to exchange with: a plain rename creates DIR atomically.
        None => ops.rename(from, to),
    };
    swap(staging, dir).map_err(|error| Failed::before_swap(abandon(explain_swap_failure(dir, error))))?;
    if let Err(error) = ops.sync_dir(parent) {
        // The swap may not survive a power loss, so the build has failed,
        // and a failed build must leave DIR as it was: swap back.
        if !error.is_simulated_crash() {
            let back = match before {
                Some(_) => ops.exchange(staging, dir),
                None => ops.rename(dir, staging),
            };
            if back.is_ok() {
                stage::discard(staging, ops);
            }
        }
        return Err(Failed::after_swap(error));
    }
    if before.is_none() || swap::sweep(staging, dir, ops).map_err(Failed::after_swap)? {
        swap::unmark(staging, ops).map_err(Failed::after_swap)?;
        Ok(None)
    } else {
        Ok(Some(staging.to_path_buf()))
    }
}

/// Names the two ways a swap fails for a reason the user can act on.
fn explain_swap_failure(dir: &Path, error: WriteError) -> WriteError {
    let WriteError::Io { source, .. } = &error else {
        return error;
    };
    let reason = match source.kind() {
        io::ErrorKind::ResourceBusy => {
            "it is a mount point, which cannot be replaced atomically; \
             write to a directory inside it instead"
        }
        io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported => {
            "its filesystem cannot swap directories atomically \
             (renameat2 with RENAME_EXCHANGE)"
        }
        _ => return error,
    };
    WriteError::InvalidDir {
        dir: dir.to_path_buf(),
        reason,
    }
}
