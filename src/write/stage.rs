//! Building the new tree in a private directory beside the output directory.
//!
//! The new tree is complete and flushed to disk (one `syncfs` of its
//! filesystem; on a large tree, writeback starts while it is filled, see
//! `early`) before anything can see it:
//! the swap that follows is the only step that changes the output directory.
//! While it is built, the tree's top is mode 0700, so no other user can plant
//! a symlink in it. A new directory is made with its final mode; a copy of an
//! old one (whose owner it takes), or one whose mode would keep the writer
//! out, stays 0700 until its contents are in place, then gets its final mode
//! and owner, deepest first, and the top last.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::WriteError;
use super::early::Early;
use super::halves;
use super::key::Key;
use super::manifest::MANIFEST;
use super::ops::{CreateModes, Ops};
use super::plan::{Action, Plan};
use super::tree;

/// Builds the planned tree for `dir` in a new directory `PREFIX<random>` in
/// `parent` (with its marker, see `swap`), and returns its path. On
/// failure nothing is left behind.
pub(super) fn build(
    dir: &Path,
    parent: &Path,
    prefix: &OsStr,
    dir_identity: Option<(u64, u64)>,
    plan: &Plan<'_>,
    ops: &Ops,
) -> Result<PathBuf, WriteError> {
    let staging = super::swap::create_staging(parent, prefix, dir_identity, ops)?;
    match populate(dir, &staging, plan, ops) {
        Ok(()) => Ok(staging),
        Err(error) => {
            if !error.is_simulated_crash() {
                discard(&staging, ops);
            }
            Err(error)
        }
    }
}

fn populate(dir: &Path, staging: &Path, plan: &Plan<'_>, ops: &Ops) -> Result<(), WriteError> {
    // The umask may have taken bits the writer needs for itself.
    ops.set_mode(staging, 0o700)?;
    // The manifest goes first, so that a tree left behind by a crash always
    // lists which of its files meshc generated (the cleanup relies on it).
    let manifest = MANIFEST.as_bytes();
    let modes = CreateModes::default();
    if let Some((path, action)) = plan.entries.get_key_value(manifest) {
        place(dir, staging, path, action, ops, &modes)?;
    }
    // Then every other entry in path order, so that a directory is made
    // before what it holds. On a large tree two threads share them, each
    // taking one contiguous half (the order of creation inside the private
    // staging tree matters to no one); of the directories the second half
    // needs, only those its first entry lies in can be in the first half,
    // and those are made before either half starts.
    let others: Vec<(&Key, &Action<'_>)> = plan
        .entries
        .iter()
        .filter(|(path, _)| path.as_bytes() != manifest)
        .collect();
    let early: BTreeSet<&[u8]> = halves::second_half(others.len())
        .and_then(|at| others.get(at))
        .map(|(path, _)| path.parents().collect())
        .unwrap_or_default();
    for parent in &early {
        if let Some((path, action)) = plan.entries.get_key_value(*parent) {
            place(dir, staging, path, action, ops, &modes)?;
        }
    }
    // A large tree is written back while it is filled (see `early`).
    let new_bytes: u64 = others
        .iter()
        .map(|(_, action)| match action {
            Action::Write { contents, .. } => contents.len() as u64,
            _ => 0,
        })
        .sum();
    with_early_writeback(staging, new_bytes, ops, |flusher| {
        halves::in_halves(&others, |entries| {
            let modes = CreateModes::default();
            entries
                .iter()
                .filter(|(path, _)| !early.contains(path.as_bytes()))
                .try_for_each(|(path, action)| {
                    place(dir, staging, path, action, ops, &modes)?;
                    if let (Some(flusher), Action::Write { contents, .. }) = (flusher, action) {
                        flusher.wrote(contents.len() as u64);
                    }
                    Ok(())
                })
        })
    })?;

    // A directory made with its final mode is done. The others (copies of
    // the old tree's directories, which take its owner, and modes without
    // the owner's rwx, since a read-only directory must receive its
    // contents before its mode) get their owner and mode now, deepest
    // first, and the top last.
    for (path, action) in plan.entries.iter().rev() {
        if let Action::Dir { mode, owner } = action
            && !made_final(*mode, *owner)
        {
            finish_dir(&path.under(staging), *mode, *owner, ops)?;
        }
    }
    if let Action::Dir { mode, owner } = plan.root {
        finish_dir(staging, mode, owner, ops)?;
    }

    // Every file's contents and every directory's entries must be on disk
    // before the swap can point at them: one flush of the whole filesystem
    // costs less than an fsync per file and per directory (and on a large
    // tree, the early flushes have already written most of it).
    ops.sync_filesystem(staging)
}

/// Runs `fill` (given the flusher to tell of each file written) beside a
/// thread that flushes the filesystem each time a chunk of file bytes has
/// been written, when the tree's `new_bytes` make that worth it. The
/// filling's error comes first; else the flusher's.
fn with_early_writeback<R>(
    staging: &Path,
    new_bytes: u64,
    ops: &Ops,
    fill: impl FnOnce(Option<&Early>) -> Result<R, WriteError>,
) -> Result<R, WriteError> {
    let (chunk, lockstep) = ops.early_pace();
    if !Early::worth_it(chunk, new_bytes) {
        return fill(None);
    }
    let flusher = Early::new(chunk, lockstep);
    std::thread::scope(|scope| {
        let flushing = scope.spawn(|| {
            let flushed = File::open(staging)
                .map_err(|e| WriteError::io("flush the filesystem of", staging, e))
                .and_then(|top| {
                    while flusher.next() {
                        ops.flush_early(&top, staging)?;
                    }
                    Ok(())
                });
            flusher.finish();
            flushed
        });
        let filled = fill(Some(&flusher));
        flusher.finish();
        let flushed = flushing
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let filled = filled?;
        flushed?;
        Ok(filled)
    })
}

/// Whether a directory is made with its final mode at once: a new one (no
/// owner to copy) whose mode lets the writer fill it. No other user can
/// reach it meanwhile: the top of the staging tree stays 0700 until
/// everything is in place.
fn made_final(mode: u32, owner: Option<(u32, u32)>) -> bool {
    owner.is_none() && mode & 0o700 == 0o700
}

fn place(
    dir: &Path,
    staging: &Path,
    path: &Key,
    action: &Action<'_>,
    ops: &Ops,
    modes: &CreateModes,
) -> Result<(), WriteError> {
    let target = path.under(staging);
    match action {
        Action::Dir { mode, owner } if made_final(*mode, *owner) => ops.create_dir(&target, *mode, modes),
        Action::Dir { .. } => ops.create_dir(&target, 0o700, modes),
        // A hard link keeps the inode: bytes, mode, owner and mtime stay
        // exactly as they were, and nothing of the original is modified.
        Action::Link => ops.hard_link(&path.under(dir), &target),
        Action::Write { contents, mode } => ops.write_file(&target, contents.as_bytes(), *mode, modes),
    }
}

/// Gives a directory its final owner, then its final mode (changing the
/// owner may clear setgid, so the mode comes second).
fn finish_dir(path: &Path, mode: u32, owner: Option<(u32, u32)>, ops: &Ops) -> Result<(), WriteError> {
    if let Some((uid, gid)) = owner
        && let Some(meta) = tree::lstat(path)?
        && (meta.uid(), meta.gid()) != (uid, gid)
    {
        ops.chown(path, uid, gid)?;
    }
    ops.set_mode(path, mode)
}

/// Removes a tree the writer built and will not use. Every directory in it
/// is the writer's own, so making them writable first is safe; the files are
/// the writer's or hard links, whose removal leaves the original in place.
/// This is best effort: it runs only on the way out of an error.
pub(super) fn discard(staging: &Path, ops: &Ops) {
    let mut pending = vec![staging.to_path_buf()];
    while let Some(dir) = pending.pop() {
        if ops.set_mode(&dir, 0o700).is_err() {
            continue;
        }
        let Ok(listing) = std::fs::read_dir(&dir) else {
            continue;
        };
        for item in listing.flatten() {
            if item.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(item.path());
            }
        }
    }
    if ops.remove_dir_all(staging).is_ok() {
        let _ = super::swap::unmark(staging, ops);
    }
}
