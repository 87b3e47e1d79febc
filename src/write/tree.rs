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

/// Reads the old files of one directory tree for comparison, with one path
/// buffer and one byte buffer for all of them.
pub(super) struct Reader<'d> {
    dir: &'d Path,
    path: PathBuf,
    bytes: Vec<u8>,
}

impl<'d> Reader<'d> {
    pub fn new(dir: &'d Path) -> Self {
        Reader {
            dir,
            path: PathBuf::new(),
            bytes: Vec::new(),
        }
    }

    /// The full path of `relative`.
    pub fn path_of(&self, relative: &str) -> PathBuf {
        self.dir.join(relative)
    }

    fn open(&mut self, relative: &str) -> Result<File, WriteError> {
        self.path.as_mut_os_string().clear();
        self.path.push(self.dir);
        self.path.push(relative);
        File::open(&self.path).map_err(|e| WriteError::io("read", &self.path, e))
    }

    /// Whether the regular file at `relative` holds exactly `expected`. It
    /// reads at most one byte more than `expected`: enough to tell that the
    /// file is longer.
    pub fn holds(&mut self, relative: &str, expected: &[u8]) -> Result<bool, WriteError> {
        let mut file = self.open(relative)?;
        self.bytes.clear();
        self.bytes.resize(expected.len() + 1, 0);
        let mut filled = 0;
        while filled < self.bytes.len() {
            match file.read(&mut self.bytes[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(WriteError::io("read", &self.path, e)),
            }
        }
        Ok(self.bytes[..filled] == *expected)
    }

    /// The whole regular file at `relative`.
    pub fn read(&mut self, relative: &str) -> Result<Vec<u8>, WriteError> {
        let mut file = self.open(relative)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| WriteError::io("read", &self.path, e))?;
        Ok(bytes)
    }
}
