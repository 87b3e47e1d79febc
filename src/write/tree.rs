//! What is in a directory, read without following a single symlink.
//!
//! The writer plans from a scan of the whole output directory: every entry's
//! kind, identity (device and inode) and permissions, keyed by relative path.
//! Symlinks are recorded as symlinks and never entered, so nothing outside the
//! directory is ever read as if it were inside. Scanning twice and comparing
//! is also how the writer notices another process changing the directory
//! while it works.

use std::collections::BTreeMap;
use std::fs::{self, File, Metadata};
use std::io::{self, Read as _};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

use super::WriteError;
use super::key::Key;

/// The kind of a directory entry, as `lstat` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Dir,
    File,
    Symlink,
    /// A FIFO, socket or device node.
    Other,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Dir => "directory",
            Kind::File => "file",
            Kind::Symlink => "symlink",
            Kind::Other => "special file",
        }
    }
}

/// One entry: its kind, identity, permissions and size. Two scans compare
/// equal on kind, identity and permissions only: sizes and times are left
/// out on purpose, because hard-linking a file changes its ctime, and a
/// change to a file's bytes cannot be lost by the writer, which links the
/// same inode. The size is there so that the plan can tell a changed file
/// without reading it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Entry {
    pub kind: Kind,
    pub dev: u64,
    pub ino: u64,
    /// Permission bits, including setuid, setgid and sticky.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Length in bytes, as `lstat` reports it.
    pub size: u64,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        let identity = |e: &Self| (e.kind, e.dev, e.ino, e.mode, e.uid, e.gid);
        identity(self) == identity(other)
    }
}

impl Eq for Entry {}

impl Entry {
    pub fn of(meta: &Metadata) -> Self {
        let file_type = meta.file_type();
        let kind = if file_type.is_dir() {
            Kind::Dir
        } else if file_type.is_file() {
            Kind::File
        } else if file_type.is_symlink() {
            Kind::Symlink
        } else {
            Kind::Other
        };
        Entry {
            kind,
            dev: meta.dev(),
            ino: meta.ino(),
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            size: meta.len(),
        }
    }
}

/// A whole directory: its own entry and every entry below it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Tree {
    pub root: Entry,
    /// Keyed by path relative to the root. A [`Key`] orders by component, so
    /// a directory sorts before its contents and its contents are contiguous.
    pub entries: BTreeMap<Key, Entry>,
}

/// `lstat`, with "does not exist" as `None`.
pub(super) fn lstat(path: &Path) -> Result<Option<Metadata>, WriteError> {
    match fs::symlink_metadata(path) {
        Ok(meta) => Ok(Some(meta)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(WriteError::io("inspect", path, e)),
    }
}

/// Scans `dir`, or returns `None` when it does not exist.
pub(super) fn scan(dir: &Path) -> Result<Option<Tree>, WriteError> {
    let Some(meta) = lstat(dir)? else {
        return Ok(None);
    };
    let root = Entry::of(&meta);
    if root.kind != Kind::Dir {
        return Err(WriteError::InvalidDir {
            dir: dir.to_path_buf(),
            reason: "it is not a directory",
        });
    }
    // Collected, then sorted once: building the map from sorted entries
    // costs less than inserting them one by one.
    let mut entries = Vec::new();
    let mut pending = vec![Key::default()];
    while let Some(relative) = pending.pop() {
        let path = relative.under(dir);
        let listing = fs::read_dir(&path).map_err(|e| WriteError::io("list", &path, e))?;
        for item in listing {
            let item = item.map_err(|e| WriteError::io("list", &path, e))?;
            let child = relative.child(item.file_name().as_bytes());
            // DirEntry::metadata does not follow symlinks.
            let meta = item
                .metadata()
                .map_err(|e| WriteError::io("inspect", child.under(dir), e))?;
            let entry = Entry::of(&meta);
            if entry.kind == Kind::Dir {
                pending.push(child.clone());
            }
            entries.push((child, entry));
        }
    }
    Ok(Some(Tree {
        root,
        entries: entries.into_iter().collect(),
    }))
}

/// Reads the old files of one directory tree for comparison. Files are
/// opened relative to their directory, which stays open while the next file
/// is in the same one (the plan visits files in path order), rather than by
/// full path, which the kernel would walk again each time; one byte buffer
/// serves every file.
///
/// What is read must be what the scan saw: each directory on the way
/// (`lstat`, never followed) and each file (`fstat` of the open file) must
/// be the scanned entry, same inode, kind and permissions, or reading fails
/// with [`WriteError::Raced`]. The scan may be a survey taken while the
/// topology compiled, and a plan must not mix that survey with a tree that
/// changed since (a file replaced by one with other permissions, a
/// directory replaced by a symlink to a copy).
pub(super) struct Reader<'d> {
    dir: &'d Path,
    scanned: &'d BTreeMap<Key, Entry>,
    /// The relative path of the open directory, and the directory.
    open: Option<(String, File)>,
    bytes: Vec<u8>,
}

impl<'d> Reader<'d> {
    pub fn new(dir: &'d Path, scanned: &'d BTreeMap<Key, Entry>) -> Self {
        Reader {
            dir,
            scanned,
            open: None,
            bytes: Vec::new(),
        }
    }

    /// The full path of `relative`.
    pub fn path_of(&self, relative: &str) -> PathBuf {
        self.dir.join(relative)
    }

    fn raced(&self) -> WriteError {
        WriteError::Raced {
            dir: self.dir.to_path_buf(),
        }
    }

    /// Fails unless every directory from the top down to `parent` is still
    /// the one the scan saw.
    fn verify_directories(&self, parent: &str) -> Result<(), WriteError> {
        if parent.is_empty() {
            // The top itself is checked by whoever took the scan.
            return Ok(());
        }
        let ends = parent.match_indices('/').map(|(at, _)| at).chain([parent.len()]);
        for end in ends {
            let relative = &parent[..end];
            let now = lstat(&self.dir.join(relative))?.map(|meta| Entry::of(&meta));
            let scanned = self.scanned.get(Key::new(relative.as_bytes()).as_bytes());
            if now.as_ref() != scanned || now.is_none_or(|entry| entry.kind != Kind::Dir) {
                return Err(self.raced());
            }
        }
        Ok(())
    }

    /// Opens the regular file at `relative` for reading, never through a
    /// symlink in its last component, and only if it is the file the scan saw
    /// there (`scanned`).
    fn open(&mut self, relative: &str, scanned: &Entry) -> Result<(File, Entry), WriteError> {
        let fail = |e| WriteError::io("read", self.dir.join(relative), e);
        let (parent, name) = relative.rsplit_once('/').unwrap_or(("", relative));
        if self.open.as_ref().is_none_or(|open| open.0 != parent) {
            self.verify_directories(parent)?;
            let path = self.dir.join(parent);
            let directory = open_directory(&path).map_err(|e| WriteError::io("list", &path, e))?;
            self.open = Some((parent.to_owned(), directory));
        }
        let Some((_, directory)) = &self.open else {
            return Err(self.raced());
        };
        let file = open_in(directory, name).map_err(fail)?;
        let now = Entry::of(&file.metadata().map_err(fail)?);
        if now != *scanned {
            return Err(self.raced());
        }
        Ok((file, now))
    }

    /// Whether the regular file at `relative` holds exactly `expected`.
    ///
    /// A file whose size (as `fstat` gives it once open) differs is not
    /// read. Otherwise one `read` asks for one byte more than `expected`:
    /// a file that grew since the `fstat` returns it, and a read that ends
    /// one byte short at the size `fstat` gave is the end of the file, which
    /// saves the second `read` that would only see end-of-file (a rebuild
    /// reads tens of thousands of files).
    pub fn holds(&mut self, relative: &str, scanned: &Entry, expected: &[u8]) -> Result<bool, WriteError> {
        let (mut file, now) = self.open(relative, scanned)?;
        if now.size != expected.len() as u64 {
            return Ok(false);
        }
        self.bytes.clear();
        self.bytes.resize(expected.len() + 1, 0);
        let mut filled = 0;
        while filled < self.bytes.len() {
            match file.read(&mut self.bytes[filled..]) {
                Ok(0) => break,
                Ok(n) => {
                    filled += n;
                    if filled == expected.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(WriteError::io("read", self.path_of(relative), e)),
            }
        }
        Ok(self.bytes[..filled] == *expected)
    }

    /// The whole regular file at `relative`.
    pub fn read(&mut self, relative: &str, scanned: &Entry) -> Result<Vec<u8>, WriteError> {
        let (mut file, _) = self.open(relative, scanned)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| WriteError::io("read", self.path_of(relative), e))?;
        Ok(bytes)
    }
}

/// `openat(2)` of `name` in `directory`: read-only, close-on-exec, and
/// failing on a symlink (`O_NOFOLLOW`), relative to the open directory so
/// that the kernel does not walk the full path again for every file.
fn open_in(directory: &File, name: &str) -> io::Result<File> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    Ok(File::from(rustix::fs::openat(
        directory,
        name,
        flags,
        Mode::empty(),
    )?))
}

/// Opens the directory at `path` for [`open_in`]; fails if its last
/// component is a symlink or not a directory (the caller has just checked
/// with `lstat` that it is the scanned directory, and this keeps a symlink
/// swapped in since from being followed).
fn open_directory(path: &Path) -> io::Result<File> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::DIRECTORY;
    Ok(File::from(rustix::fs::open(path, flags, Mode::empty())?))
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::io::Read as _;
    use std::os::unix::fs::symlink;
    use std::path::Path;

    use super::{open_directory, open_in};

    /// `d/f` holding "x", `d/link` -> `f`, and `dlink` -> `d`.
    fn world(root: &Path) {
        fs::create_dir(root.join("d")).expect("mkdir");
        fs::write(root.join("d/f"), "x").expect("write");
        symlink("f", root.join("d/link")).expect("symlink");
        symlink(root.join("d"), root.join("dlink")).expect("symlink");
    }

    #[test]
    fn a_file_is_never_opened_through_a_symlink() {
        let tmp = tempfile::tempdir().expect("tempdir");
        world(tmp.path());
        let directory = open_directory(&tmp.path().join("d")).expect("a directory opens");
        let mut text = String::new();
        open_in(&directory, "f")
            .expect("a file opens")
            .read_to_string(&mut text)
            .expect("read");
        assert_eq!(text, "x");
        assert!(
            open_in(&directory, "link").is_err(),
            "a symlink to a file is not followed"
        );
        assert!(open_in(&directory, "f\0").is_err(), "a NUL ends no name early");
    }

    #[test]
    fn a_directory_is_never_opened_through_a_symlink() {
        let tmp = tempfile::tempdir().expect("tempdir");
        world(tmp.path());
        assert!(
            open_directory(&tmp.path().join("dlink")).is_err(),
            "a symlink to a directory is not followed"
        );
        assert!(
            open_directory(&tmp.path().join("d/f")).is_err(),
            "a file is not a directory"
        );
    }
}
