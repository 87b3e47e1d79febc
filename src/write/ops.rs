//! Every change the writer makes to the filesystem, in one place.
//!
//! Routing each mutation through [`Ops`] does two jobs. Errors get their
//! action and path attached once, here, instead of at every call site. And a
//! test can stop the writer just before any single mutation, as a SIGKILL
//! would, or make that one mutation fail: that is how the crash-safety tests
//! visit every moment of a build. Reads are not routed here, because stopping
//! before a read is the same as stopping before the next mutation.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::WriteError;

/// The filesystem mutations the writer uses.
#[derive(Default)]
pub(super) struct Ops {
    #[cfg(test)]
    pub test: test_hooks::Hooks,
}

impl Ops {
    /// Runs before every mutation; in tests, it may stop or fail the writer.
    fn tick(&self, action: &'static str, path: &Path) -> Result<(), WriteError> {
        #[cfg(test)]
        self.test.tick(action, path)?;
        // Outside tests there is nothing to do: the arguments are for the hooks.
        let _ = (action, path);
        Ok(())
    }

    /// Creates `path` and any missing parents with default permissions. Used
    /// only for the parents of a missing output directory.
    pub fn create_dir_all(&self, path: &Path) -> Result<(), WriteError> {
        self.tick("create directory", path)?;
        fs::create_dir_all(path).map_err(|e| WriteError::io("create directory", path, e))
    }

    /// Creates a new file `PREFIX<random>SUFFIX` in `parent` (never an
    /// existing one) holding `contents`, and returns its path and the open
    /// file, for [`Ops::append`].
    pub fn create_marker(
        &self,
        parent: &Path,
        prefix: &OsStr,
        suffix: &str,
        contents: &[u8],
    ) -> Result<(PathBuf, File), WriteError> {
        self.tick("create a file in", parent)?;
        let (file, path) = tempfile::Builder::new()
            .prefix(prefix)
            .suffix(suffix)
            .permissions(Permissions::from_mode(0o600))
            .tempfile_in(parent)
            .and_then(|named| named.keep().map_err(|e| e.error))
            .map_err(|e| WriteError::io("create a file in", parent, e))?;
        if let Err(error) = self.append(&path, &file, contents) {
            if !error.is_simulated_crash() {
                let _ = self.remove_file(&path);
            }
            return Err(error);
        }
        Ok((path, file))
    }

    /// Writes `bytes` at the end of the open file `file` (at `path`).
    pub fn append(&self, path: &Path, mut file: &File, bytes: &[u8]) -> Result<(), WriteError> {
        self.tick("write", path)?;
        file.write_all(bytes)
            .map_err(|e| WriteError::io("write", path, e))
    }

    /// Creates the directory `path` with exactly `mode`: as for
    /// [`Ops::write_file`], `modes` tells whether the kernel keeps that mode
    /// whole, and a chmod repairs it where it does not.
    pub fn create_dir(&self, path: &Path, mode: u32, modes: &CreateModes) -> Result<(), WriteError> {
        let fail = |e| WriteError::io("create directory", path, e);
        self.tick("create directory", path)?;
        fs::DirBuilder::new().mode(mode).create(path).map_err(fail)?;
        if modes.dir_needs_chmod(path, mode).map_err(fail)? {
            self.set_mode(path, mode)?;
        }
        Ok(())
    }

    /// Creates the new file `path` (never an existing one, never through a
    /// symlink) with exactly `contents` and `mode`. It is not flushed: the
    /// whole tree is, once, by [`Ops::sync_filesystem`].
    ///
    /// The mode is given to `open`, which the umask (or a default ACL of the
    /// directory) may reduce; `modes` remembers, per mode, whether the kernel
    /// kept it whole, and an explicit chmod repairs it when it did not.
    pub fn write_file(
        &self,
        path: &Path,
        contents: &[u8],
        mode: u32,
        modes: &CreateModes,
    ) -> Result<(), WriteError> {
        let fail = |e| WriteError::io("write", path, e);
        self.tick("create file", path)?;
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .map_err(fail)?;
        self.tick("write", path)?;
        file.write_all(contents).map_err(fail)?;
        if modes.needs_chmod(&file, mode).map_err(fail)? {
            self.tick("set mode of", path)?;
            file.set_permissions(Permissions::from_mode(mode)).map_err(fail)?;
        }
        Ok(())
    }

    /// Makes `link` a second name for the entry at `original`. A symlink is
    /// linked itself, not followed.
    pub fn hard_link(&self, original: &Path, link: &Path) -> Result<(), WriteError> {
        self.tick("hard-link", original)?;
        fs::hard_link(original, link).map_err(|e| WriteError::io("hard-link", original, e))
    }

    /// Sets the permission bits of a directory the writer created.
    pub fn set_mode(&self, path: &Path, mode: u32) -> Result<(), WriteError> {
        self.tick("set mode of", path)?;
        fs::set_permissions(path, Permissions::from_mode(mode))
            .map_err(|e| WriteError::io("set mode of", path, e))
    }

    /// Gives a directory the writer created the owner of the one it copies.
    pub fn chown(&self, path: &Path, uid: u32, gid: u32) -> Result<(), WriteError> {
        self.tick("change owner of", path)?;
        std::os::unix::fs::lchown(path, Some(uid), Some(gid))
            .map_err(|e| WriteError::io("change owner of", path, e))
    }

    /// Flushes a directory's entries to disk, so that a rename that follows
    /// cannot reach the disk before the names it points at.
    pub fn sync_dir(&self, path: &Path) -> Result<(), WriteError> {
        self.tick("flush directory", path)?;
        File::open(path)
            .and_then(|dir| dir.sync_all())
            .map_err(|e| WriteError::io("flush directory", path, e))
    }

    /// Flushes everything written on the filesystem that holds `path` (a
    /// directory): file contents, inodes and directory entries alike, in one
    /// call instead of one fsync per file. It flushes other programs' dirty
    /// data on that filesystem too.
    pub fn sync_filesystem(&self, path: &Path) -> Result<(), WriteError> {
        self.tick("flush the filesystem of", path)?;
        File::open(path)
            .and_then(|dir| sync_filesystem(&dir))
            .map_err(|e| WriteError::io("flush the filesystem of", path, e))
    }

    /// Starts writing back what is dirty on the filesystem of `dir` (the
    /// staging tree, open) while the tree is still being filled: `syncfs`
    /// on the early flusher's thread (see `early`). Not a mutation, so not a
    /// crash point; its error fails the write like the final flush's.
    pub fn flush_early(&self, dir: &File, path: &Path) -> Result<(), WriteError> {
        let fail = |e| WriteError::io("flush the filesystem of", path, e);
        #[cfg(test)]
        self.test.early().map_err(fail)?;
        sync_filesystem(dir).map_err(fail)
    }

    /// File bytes between two early flushes, and whether the filling
    /// threads wait for each (tests only).
    pub fn early_pace(&self) -> (u64, bool) {
        #[cfg(test)]
        if let Some(chunk) = self.test.early_chunk {
            return (chunk, true);
        }
        (super::early::CHUNK, false)
    }

    /// Atomically swaps the directories at `a` and `b`.
    pub fn exchange(&self, a: &Path, b: &Path) -> Result<(), WriteError> {
        self.tick("swap in the new tree at", b)?;
        exchange(a, b).map_err(|e| WriteError::io("swap in the new tree at", b, e))
    }

    /// Renames `from` to `to`, atomically.
    pub fn rename(&self, from: &Path, to: &Path) -> Result<(), WriteError> {
        self.tick("move the new tree to", to)?;
        fs::rename(from, to).map_err(|e| WriteError::io("move the new tree to", to, e))
    }

    pub fn remove_file(&self, path: &Path) -> Result<(), WriteError> {
        self.tick("remove", path)?;
        fs::remove_file(path).map_err(|e| WriteError::io("remove", path, e))
    }

    pub fn remove_dir(&self, path: &Path) -> Result<(), WriteError> {
        self.tick("remove directory", path)?;
        fs::remove_dir(path).map_err(|e| WriteError::io("remove directory", path, e))
    }

    /// Removes a whole tree; `std` never follows symlinks while doing so.
    pub fn remove_dir_all(&self, path: &Path) -> Result<(), WriteError> {
        self.tick("remove directory", path)?;
        fs::remove_dir_all(path).map_err(|e| WriteError::io("remove directory", path, e))
    }
}

/// Whether files created with a given mode come out with exactly that mode.
///
/// `open` applies the process's umask, or the default ACL of the directory
/// instead when it has one. Every directory of a staging tree inherits the
/// same default ACL from the top (the writer creates them all), so one file
/// per mode shows what the kernel does to that mode in the whole tree: the
/// first file of each mode is checked with `fstat`, and the answer applies to
/// the rest. That spares a chmod per file under the usual umasks (022, 002,
/// 000) and keeps modes exact under any other.
#[derive(Default)]
pub(super) struct CreateModes {
    /// Mode → whether `open` reduced it.
    reduced: RefCell<BTreeMap<u32, bool>>,
    /// Mode → whether `mkdir` reduced it.
    reduced_dirs: RefCell<BTreeMap<u32, bool>>,
}

impl CreateModes {
    /// The same question for a directory just made at `path` (`lstat`: the
    /// writer made it and nothing else can reach it, see `stage`).
    fn dir_needs_chmod(&self, path: &Path, mode: u32) -> io::Result<bool> {
        if let Some(&reduced) = self.reduced_dirs.borrow().get(&mode) {
            return Ok(reduced);
        }
        let reduced = fs::symlink_metadata(path)?.mode() & 0o7777 != mode;
        self.reduced_dirs.borrow_mut().insert(mode, reduced);
        Ok(reduced)
    }

    fn needs_chmod(&self, file: &File, mode: u32) -> io::Result<bool> {
        if let Some(&reduced) = self.reduced.borrow().get(&mode) {
            return Ok(reduced);
        }
        let reduced = file.metadata()?.mode() & 0o7777 != mode;
        self.reduced.borrow_mut().insert(mode, reduced);
        Ok(reduced)
    }
}

/// `syncfs(2)`. Since Linux 5.8 it reports writeback errors that happened
/// on the filesystem since the file was opened.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn sync_filesystem(dir: &File) -> io::Result<()> {
    Ok(rustix::fs::syncfs(dir)?)
}

/// Elsewhere, POSIX `sync()`, which flushes every filesystem (and on some
/// systems only schedules the flush: see the module doc of `write`).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn sync_filesystem(_: &File) -> io::Result<()> {
    rustix::fs::sync();
    Ok(())
}

/// `renameat2(RENAME_EXCHANGE)`: the one Linux call that replaces a non-empty
/// directory atomically.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    Ok(renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE)?)
}

/// Other systems have no portable atomic directory swap, so the writer
/// refuses an existing output directory there rather than promise less.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn exchange(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "replacing a directory atomically needs Linux's renameat2",
    ))
}

#[cfg(test)]
pub(super) mod test_hooks {
    //! Fault injection for the crash-safety tests.

    use std::io;
    use std::path::Path;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::WriteError;

    /// What happens at mutation number `at` (counting from zero).
    #[derive(Clone, Copy, Debug)]
    pub enum Fault {
        /// Stop before it as if killed: the error skips every cleanup.
        Crash { at: usize },
        /// Make it fail with an I/O error, so the normal cleanup runs.
        Fail { at: usize },
    }

    /// Test-only state: the fault to inject, a callback to run at one
    /// mutation (to play another process), and the log of mutations. Shared
    /// by the threads that fill a large staging tree.
    #[derive(Default)]
    pub struct Hooks {
        pub fault: Option<Fault>,
        pub meddle: Option<(usize, Box<dyn Fn() + Send + Sync>)>,
        pub log: Mutex<Vec<String>>,
        count: AtomicUsize,
        /// Early flushes every this many file bytes, each awaited by the
        /// filling threads (so that each chunk is flushed early).
        pub early_chunk: Option<u64>,
        /// Early flushes fail instead of flushing.
        pub early_flush_fails: bool,
        /// Early flushes made (or failed).
        pub early_flushes: AtomicUsize,
    }

    impl Hooks {
        /// Before an early flush: counts it, and fails it when told to.
        pub fn early(&self) -> io::Result<()> {
            self.early_flushes.fetch_add(1, Ordering::SeqCst);
            if self.early_flush_fails {
                return Err(io::Error::other("injected writeback failure"));
            }
            Ok(())
        }

        pub fn tick(&self, action: &str, path: &Path) -> Result<(), WriteError> {
            let n = self.count.fetch_add(1, Ordering::SeqCst);
            if let Some((at, meddle)) = &self.meddle
                && *at == n
            {
                meddle();
            }
            match self.fault {
                Some(Fault::Crash { at }) if at == n => return Err(WriteError::Crash),
                Some(Fault::Fail { at }) if at == n => {
                    return Err(WriteError::io(
                        "inject a failure into",
                        path,
                        io::Error::other("injected failure"),
                    ));
                }
                _ => {}
            }
            if let Ok(mut log) = self.log.lock() {
                log.push(format!("{action} {}", path.display()));
            }
            Ok(())
        }
    }
}
