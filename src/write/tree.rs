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
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

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
    /// The entry `lstat` (or `fstat`) described as `stat`.
    fn of_stat(stat: &rustix::fs::Stat) -> Self {
        Entry::of_raw(
            stat.st_mode,
            (stat.st_dev, stat.st_ino),
            (stat.st_uid, stat.st_gid),
            u64::try_from(stat.st_size).unwrap_or(0),
        )
    }

    pub fn of(meta: &Metadata) -> Self {
        Entry::of_raw(
            meta.mode(),
            (meta.dev(), meta.ino()),
            (meta.uid(), meta.gid()),
            meta.len(),
        )
    }

    /// The entry of a raw `st_mode` (file type and permission bits), device
    /// and inode, owner and group, and size.
    fn of_raw(mode: u32, (dev, ino): (u64, u64), (uid, gid): (u32, u32), size: u64) -> Self {
        let kind = match FileType::from_raw_mode(mode) {
            FileType::Directory => Kind::Dir,
            FileType::RegularFile => Kind::File,
            FileType::Symlink => Kind::Symlink,
            _ => Kind::Other,
        };
        Entry {
            kind,
            dev,
            ino,
            mode: mode & 0o7777,
            uid,
            gid,
            size,
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
    // costs less than inserting them one by one. Each directory is listed
    // through its own descriptor (no symlink followed at its last name),
    // and each entry `lstat`ed relative to it, so the kernel does not walk
    // the full path again for every entry.
    let mut entries = Vec::new();
    let mut pending = vec![Key::default()];
    while let Some(relative) = pending.pop() {
        let path = relative.under(dir);
        let list_error = |e: rustix::io::Errno| WriteError::io("list", &path, e.into());
        let mut listing =
            rustix::fs::Dir::new(open_directory(&path).map_err(|e| WriteError::io("list", &path, e))?)
                .map_err(list_error)?;
        while let Some(item) = listing.read() {
            let item = item.map_err(list_error)?;
            let name = item.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let child = relative.child(name);
            let stat = rustix::fs::statat(
                listing.fd().map_err(list_error)?,
                item.file_name(),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(|e| WriteError::io("inspect", child.under(dir), e.into()))?;
            let entry = Entry::of_stat(&stat);
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

/// Reads the old files of one directory tree for comparison. Each directory
/// is opened relative to its parent, which is already open (`openat` of one
/// name, never a symlink), and stays open while the files read next lie
/// below it (the plan visits files in path order, so each directory of a
/// tree is opened once): the kernel never walks a full path, and no path is
/// looked up twice. One byte buffer serves every file.
///
/// What is read must be what the scan saw: the top (when the reader is
/// given it), each directory on the way and each file must be the scanned
/// entry, same inode, kind and permissions, as `fstat` of the open
/// directory or file gives it, or reading fails with [`WriteError::Raced`].
/// The scan may be a survey taken while the topology compiled, and a plan
/// must not mix that survey with a tree that changed since (a file replaced
/// by one with other permissions, a directory replaced by a symlink to a
/// copy). An open directory is the very one that was checked, so what is
/// read below it is what the scan saw there even if its path is renamed
/// away meanwhile; a write notices that change in its second scan, before
/// the swap.
pub(super) struct Reader<'d> {
    dir: &'d Path,
    scanned: &'d BTreeMap<Key, Entry>,
    /// The top as the scan saw it; `None` checks nothing (the caller did).
    root: Option<Entry>,
    /// The relative path of the deepest open directory.
    open_path: String,
    /// The open directories from the top down to `open_path`, each with the
    /// length of its own relative path in `open_path` (0 for the top).
    open: Vec<(usize, File)>,
    bytes: Vec<u8>,
}

impl<'d> Reader<'d> {
    pub fn new(dir: &'d Path, scanned: &'d BTreeMap<Key, Entry>, root: Option<Entry>) -> Self {
        Reader {
            dir,
            scanned,
            root,
            open_path: String::new(),
            open: Vec::new(),
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

    /// The open directory at `parent` (a relative path, `""` for the top):
    /// the open directories that lead to it are kept, the others closed,
    /// and the missing ones opened one name at a time below the deepest
    /// kept one, each checked against the scan.
    fn directory(&mut self, parent: &str) -> Result<&File, WriteError> {
        // How many of the open directories lie on the way to `parent`.
        let kept = self
            .open
            .iter()
            .take_while(|(end, _)| {
                let end = *end;
                end == 0
                    || (parent.len() >= end
                        && parent.as_bytes()[..end] == self.open_path.as_bytes()[..end]
                        && parent.as_bytes().get(end).is_none_or(|&b| b == b'/'))
            })
            .count();
        self.open.truncate(kept);
        if self.open.is_empty() {
            let top = open_directory(self.dir).map_err(|e| WriteError::io("list", self.dir, e))?;
            let now = Entry::of(
                &top.metadata()
                    .map_err(|e| WriteError::io("inspect", self.dir, e))?,
            );
            if self.root.is_some_and(|root| root != now) {
                return Err(self.raced());
            }
            self.open.push((0, top));
        }
        let from = self.open.last().map_or(0, |(end, _)| *end);
        self.open_path.clear();
        self.open_path.push_str(parent);
        let mut start = from + usize::from(from > 0);
        while start < parent.len() {
            let end = parent[start..].find('/').map_or(parent.len(), |at| start + at);
            let relative = &parent[..end];
            let fail = |e| WriteError::io("list", self.dir.join(relative), e);
            let Some((_, above)) = self.open.last() else {
                return Err(self.raced());
            };
            let directory = open_directory_in(above, &parent[start..end]).map_err(fail)?;
            let now = Entry::of(&directory.metadata().map_err(fail)?);
            let scanned = self.scanned.get(Key::new(relative.as_bytes()).as_bytes());
            if scanned != Some(&now) || now.kind != Kind::Dir {
                return Err(self.raced());
            }
            self.open.push((end, directory));
            start = end + 1;
        }
        match self.open.last() {
            Some((_, directory)) => Ok(directory),
            None => Err(self.raced()),
        }
    }

    /// Opens the regular file at `relative` for reading, never through a
    /// symlink, and only if it is the file the scan saw there (`scanned`).
    fn open(&mut self, relative: &str, scanned: &Entry) -> Result<(File, Entry), WriteError> {
        let (parent, name) = relative.rsplit_once('/').unwrap_or(("", relative));
        let dir = self.dir;
        let directory = self.directory(parent)?;
        let fail = |e| WriteError::io("read", dir.join(relative), e);
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
    open_nofollow_in(directory, name, OFlags::empty())
}

/// Opens the directory at `path` for [`open_in`]; fails if its last
/// component is a symlink or not a directory.
fn open_directory(path: &Path) -> io::Result<File> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::DIRECTORY;
    Ok(File::from(rustix::fs::open(path, flags, Mode::empty())?))
}

/// `openat(2)` of the directory `name` in `directory`, for [`open_in`];
/// fails if it is a symlink or not a directory.
fn open_directory_in(directory: &File, name: &str) -> io::Result<File> {
    open_nofollow_in(directory, name, OFlags::DIRECTORY)
}

/// `openat(2)` of `name` in `directory`, read-only, close-on-exec, never
/// through a symlink, with the `extra` flags.
fn open_nofollow_in(directory: &File, name: &str, extra: OFlags) -> io::Result<File> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | extra;
    Ok(File::from(rustix::fs::openat(
        directory,
        name,
        flags,
        Mode::empty(),
    )?))
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::io::Read as _;
    use std::os::unix::fs::symlink;
    use std::path::Path;

    use super::{Reader, open_directory, open_in, scan};
    use crate::write::WriteError;

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

    /// Moves every entry of `from` into a new directory made at `from`
    /// with `mode`: the same files (inodes), in another directory.
    fn remake(from: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        let aside = from.with_extension("aside");
        fs::rename(from, &aside).expect("mv");
        fs::create_dir(from).expect("mkdir");
        fs::set_permissions(from, fs::Permissions::from_mode(mode)).expect("chmod");
        for item in fs::read_dir(&aside).expect("ls") {
            let item = item.expect("entry");
            fs::rename(item.path(), from.join(item.file_name())).expect("mv");
        }
        fs::remove_dir(&aside).expect("rmdir");
    }

    /// Whether a reader of `top`'s scan finds `a/b/f` holding "x".
    fn holds_after(top: &Path, change: impl FnOnce()) -> Result<bool, WriteError> {
        let tree = scan(top).expect("scan").expect("a tree");
        change();
        let file = tree
            .entries
            .get(crate::write::key::Key::new(b"a/b/f").as_bytes())
            .expect("scanned");
        Reader::new(top, &tree.entries, Some(tree.root)).holds("a/b/f", file, b"x")
    }

    fn nested(root: &Path) -> std::path::PathBuf {
        let top = root.join("top");
        fs::create_dir_all(top.join("a/b")).expect("mkdir");
        fs::write(top.join("a/b/f"), "x").expect("write");
        top
    }

    #[test]
    fn every_directory_on_the_way_must_be_the_scanned_one() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let top = nested(tmp.path());
        assert!(holds_after(&top, || {}).expect("unchanged"));
        // The same file, in a new directory at each level in turn (the
        // file's own identity check passes: only the directory tells).
        for (i, level) in ["top", "top/a", "top/a/b"].into_iter().enumerate() {
            let root = tmp.path().join(format!("{i}"));
            fs::create_dir(&root).expect("mkdir");
            let top = nested(&root);
            let result = holds_after(&top, || remake(&root.join(level), 0o755));
            assert!(
                matches!(result, Err(WriteError::Raced { .. })),
                "{level} replaced: {result:?}"
            );
        }
    }

    #[test]
    fn each_open_directory_serves_the_files_below_it() {
        // Files visited in path order, in and out of nested directories.
        let tmp = tempfile::tempdir().expect("tempdir");
        let top = tmp.path().join("top");
        let paths = [
            "a/b/c.txt",
            "a/b/c/x",
            "a/b/c/y/z",
            "a/b/d",
            "a/bc/q",
            "a/e",
            "b",
            "c/a/b",
        ];
        for path in paths {
            let path = top.join(path);
            fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            fs::write(&path, path.to_string_lossy().as_bytes()).expect("write");
        }
        let tree = scan(&top).expect("scan").expect("a tree");
        let mut reader = Reader::new(&top, &tree.entries, Some(tree.root));
        for path in paths {
            let entry = tree
                .entries
                .get(crate::write::key::Key::new(path.as_bytes()).as_bytes())
                .expect("scanned");
            let expected = top.join(path).to_string_lossy().into_owned();
            assert!(
                reader.holds(path, entry, expected.as_bytes()).expect("read"),
                "{path}"
            );
            assert!(!reader.holds(path, entry, b"other").expect("read"), "{path}");
        }
    }
}
