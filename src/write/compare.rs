//! Artifacts compared with the output directory as they are emitted, so that
//! a rebuild never holds the whole artifact set.
//!
//! Planning a rebuild compares every generated file with the file already
//! at its path. Made after the emit, that comparison needs every artifact's
//! text at once (about 80 MB at 10k services), and on a virtual machine
//! first touching that memory costs about as much CPU as the comparisons.
//! A [`Comparer`] is the [`Sink`] `emit::each` hands each artifact to: on
//! the thread that made it, it makes the plan's own comparison
//! (`plan::holds`, through a `Reader` that checks every directory and file
//! it opens against the survey) with the file the survey found at that
//! path, and keeps only the path of one the directory already holds. A
//! no-op rebuild then holds the paths, and a rebuild that changes a few
//! files those files' bytes.
//!
//! A comparison is worth what the survey it was made with is worth, and
//! the writer uses it on those terms only (see `write_with`): in a plan
//! made from that very survey, after the survey has passed the check every
//! survey passes under the lock (DIR still the directory inode it
//! scanned), and only if no comparison failed (a file or directory that is
//! no longer the one scanned fails with `Raced`, as in the plan). Any other
//! attempt (a fresh scan, after the survey was overtaken or a write from
//! it failed before its swap) starts from whole artifacts, emitted again
//! if some were dropped.

use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use super::key::Scratch;
use super::tree::Reader;
use super::{Survey, plan, survey};
use crate::artifact::{Artifact, Sink};

/// Compares artifacts as they are emitted with the output directory as a
/// survey, taken at the same time on a second thread, found it.
pub struct Comparer {
    /// Set by the surveying thread once, `None` when there is no survey to
    /// compare with (it failed); comparisons wait for it.
    survey: OnceLock<Option<Survey>>,
    /// A comparison failed: the survey no longer describes the directory.
    failed: AtomicBool,
}

/// One emitting thread's comparisons: the reader (with its open
/// directories and buffer), made at the first comparison.
pub struct Local<'s>(Option<(Reader<'s>, Scratch)>);

/// What is kept of one artifact.
#[derive(Debug)]
pub struct Held(pub(super) Kept);

#[derive(Debug)]
pub(super) enum Kept {
    /// The surveyed file at this path holds the artifact's bytes and mode.
    Same(String),
    /// The surveyed path holds something else (or nothing).
    Differs(Artifact),
    /// Not compared: no survey, no directory, a bad path, or a comparison
    /// failed before.
    Unread(Artifact),
}

/// Every artifact of a build, compared as it was emitted ([`Comparer`]),
/// for [`super::write`] and [`super::check`].
pub struct Compared {
    pub(super) survey: Option<Survey>,
    /// Sorted by path, as `emit::each` returns them.
    pub(super) files: Vec<Held>,
    pub(super) failed: bool,
}

/// What [`Compared::into_whole`] gives back.
pub enum Given {
    /// Every artifact whole, and the survey taken beside them.
    Whole(Vec<Artifact>, Option<Survey>),
    /// The comparisons as they were.
    Compared(Compared),
}

impl Comparer {
    /// Runs `work` while `dir` is surveyed on a second thread, and returns
    /// its result and the comparer `work` was given. `work` hands the
    /// comparer to `emit::each`; the first comparison waits for the
    /// survey. A survey that fails (or panics) compares nothing, and the
    /// write then scans under its lock and reports the problem there.
    pub fn surveying<R>(dir: &Path, work: impl FnOnce(&Comparer) -> R) -> (R, Comparer) {
        let comparer = Comparer {
            survey: OnceLock::new(),
            failed: AtomicBool::new(false),
        };
        let result = std::thread::scope(|scope| {
            let surveying = scope.spawn(|| {
                // Set even if the survey panics: no comparison waits forever.
                struct Unblock<'a>(&'a OnceLock<Option<Survey>>);
                impl Drop for Unblock<'_> {
                    fn drop(&mut self) {
                        let _ = self.0.set(None);
                    }
                }
                let _unblock = Unblock(&comparer.survey);
                let _ = comparer.survey.set(survey(dir));
            });
            let result = work(&comparer);
            // A panic while surveying means only that there is no survey.
            let _ = surveying.join();
            result
        });
        (result, comparer)
    }

    /// The comparisons, and what `emit::each` kept with this comparer.
    pub fn finish(self, files: Vec<Held>) -> Compared {
        Compared {
            survey: self.survey.into_inner().flatten(),
            files,
            failed: self.failed.into_inner(),
        }
    }
}

impl Sink for Comparer {
    type Kept = Held;
    type Local<'s> = Local<'s>;

    fn local(&self) -> Local<'_> {
        Local(None)
    }

    fn keep<'s>(&'s self, local: &mut Local<'s>, artifact: Artifact) -> Held {
        let surveyed = self
            .survey
            .wait()
            .as_ref()
            .and_then(|survey| survey.old.as_ref().map(|tree| (survey, tree)));
        let Some((survey, tree)) = surveyed else {
            return Held(Kept::Unread(artifact));
        };
        // A bad path is the writer's to refuse (`Targets`), whole. Only a
        // path found in the scan is read, and a scanned path is names of
        // DIR's entries (never empty, `.` or `..`, never holding `/` or
        // NUL) joined by NUL in its key: a path with a NUL is the one that
        // could look like another, so it is not compared at all.
        if self.failed.load(Ordering::Relaxed) || artifact.path.contains('\0') {
            return Held(Kept::Unread(artifact));
        }
        let (reader, scratch) = local.0.get_or_insert_with(|| {
            let reader = Reader::new(&survey.dir, &tree.entries, Some(tree.root));
            (reader, Scratch::default())
        });
        let entry = tree.entries.get(scratch.encode(artifact.path.as_bytes()));
        let bytes = artifact.contents.as_bytes();
        match plan::holds(reader, &artifact.path, entry, bytes, artifact.mode.bits()) {
            Ok(true) => Held(Kept::Same(artifact.path)),
            Ok(false) => Held(Kept::Differs(artifact)),
            Err(_) => {
                self.failed.store(true, Ordering::Relaxed);
                Held(Kept::Unread(artifact))
            }
        }
    }

    fn path(kept: &Held) -> &str {
        match &kept.0 {
            Kept::Same(path) => path,
            Kept::Differs(artifact) | Kept::Unread(artifact) => &artifact.path,
        }
    }
}

impl Compared {
    /// How many artifacts there are.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// True when no artifact's bytes were dropped: a fresh attempt can use
    /// them without emitting them again.
    pub(super) fn holds_every_byte(&self) -> bool {
        !self.files.iter().any(|held| matches!(held.0, Kept::Same(_)))
    }

    /// Every artifact whole, with the survey taken beside them, when none
    /// was compared (a fresh build: there was nothing to compare with);
    /// the comparisons as they are otherwise. Whole artifacts need nothing
    /// emitted again, so whoever holds what they were emitted from can free
    /// it before the write, and nothing is compared twice. A comparison
    /// that failed leaves no survey: the write then scans under its lock.
    pub fn into_whole(self) -> Given {
        if !self.files.iter().all(|held| matches!(held.0, Kept::Unread(_))) {
            return Given::Compared(self);
        }
        let mut artifacts = Vec::with_capacity(self.files.len());
        for held in self.files {
            // Every one is `Unread`: tested above.
            if let Kept::Unread(artifact) = held.0 {
                artifacts.push(artifact);
            }
        }
        let survey = if self.failed { None } else { self.survey };
        Given::Whole(artifacts, survey)
    }

    /// How many artifacts the surveyed directory held (bytes dropped).
    #[cfg(test)]
    pub(super) fn same(&self) -> usize {
        self.files
            .iter()
            .filter(|held| matches!(held.0, Kept::Same(_)))
            .count()
    }
}
