//! Paths relative to the output directory, as map keys that compare with one
//! `memcmp`.
//!
//! The writer keys its maps by relative path, in an order where a directory
//! comes right before its contents and those contents are contiguous:
//! `a`, `a/b`, `a/c`, `a.txt` (plain string order would put `a.txt` between
//! `a` and `a/b`). `Path` has that order, but it compares component by
//! component, which cost about a tenth of a no-op rebuild of a 10k-service
//! topology.
//!
//! A [`Key`] holds the path's bytes with every `/` replaced by NUL. No name
//! can contain NUL or `/`, so the encoding is one-to-one; and since NUL sorts
//! below every byte a name can hold, plain byte order on encoded paths is
//! exactly `Path`'s component order. A key borrows as `[u8]`, so a lookup
//! encodes into a reused buffer ([`Scratch`]) instead of allocating.

use std::borrow::Borrow;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

const SEPARATOR: u8 = 0;

/// A relative path, encoded (see the module doc). The empty key is the top.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Key(Box<[u8]>);

impl Key {
    /// The key of `path`, a relative path with `/` separators.
    pub fn new(path: &[u8]) -> Self {
        Key(path.iter().map(|&b| encode(b)).collect())
    }

    /// The key of the entry `name` inside this directory.
    pub fn child(&self, name: &[u8]) -> Self {
        let mut bytes = Vec::with_capacity(self.0.len() + 1 + name.len());
        bytes.extend_from_slice(&self.0);
        if !bytes.is_empty() {
            bytes.push(SEPARATOR);
        }
        bytes.extend_from_slice(name);
        Key(bytes.into_boxed_slice())
    }

    /// The encoded bytes, for lookups and ranges.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// True when this key names something inside the directory `dir`.
    pub fn is_inside(&self, dir: &[u8]) -> bool {
        self.0.len() > dir.len() && self.0.starts_with(dir) && self.0[dir.len()] == SEPARATOR
    }

    /// The encoded keys of every directory above this path, nearest first
    /// (not the top).
    pub fn parents(&self) -> impl Iterator<Item = &[u8]> {
        let bytes = &self.0;
        bytes
            .iter()
            .enumerate()
            .rev()
            .filter(|&(_, &b)| b == SEPARATOR)
            .map(move |(at, _)| &bytes[..at])
    }

    /// The relative path, with `/` separators.
    pub fn decode(&self) -> Vec<u8> {
        self.0.iter().map(|&b| decode(b)).collect()
    }

    /// The relative path as text (names that are not UTF-8 are shown
    /// lossily; the writer only names its own files, which are UTF-8).
    pub fn to_text(&self) -> String {
        String::from_utf8_lossy(&self.decode()).into_owned()
    }

    /// `base` joined with this path.
    pub fn under(&self, base: &Path) -> PathBuf {
        let mut path = PathBuf::with_capacity(base.as_os_str().len() + 1 + self.0.len());
        path.push(base);
        if !self.0.is_empty() {
            path.push(OsStr::from_bytes(&self.decode()));
        }
        path
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

/// A reusable buffer that encodes a path for one lookup at a time.
#[derive(Default)]
pub(super) struct Scratch(Vec<u8>);

impl Scratch {
    /// The encoded form of `path`, valid until the next call.
    pub fn encode(&mut self, path: &[u8]) -> &[u8] {
        self.0.clear();
        self.0.extend(path.iter().map(|&b| encode(b)));
        &self.0
    }
}

fn encode(byte: u8) -> u8 {
    if byte == b'/' { SEPARATOR } else { byte }
}

fn decode(byte: u8) -> u8 {
    if byte == SEPARATOR { b'/' } else { byte }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_like_path_components() {
        let paths = ["a", "a/b", "a/b/c", "a/c", "a.txt", "a0", "b", "ab/c", "a-b"];
        let mut by_key: Vec<_> = paths.iter().map(|p| Key::new(p.as_bytes())).collect();
        by_key.sort();
        let mut by_path: Vec<_> = paths.iter().map(Path::new).collect();
        by_path.sort();
        let decoded: Vec<_> = by_key.iter().map(Key::to_text).collect();
        let expected: Vec<_> = by_path.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(decoded, expected);
    }

    #[test]
    fn children_parents_and_paths() {
        let key = Key::default().child(b"a").child(b"b").child(b"c.yaml");
        assert_eq!(key, Key::new(b"a/b/c.yaml"));
        assert_eq!(key.decode(), b"a/b/c.yaml");
        let parents: Vec<_> = key.parents().map(|p| Key::new(p).to_text()).collect();
        assert_eq!(parents, ["a/b", "a"]);
        assert_eq!(Key::new(b"top").parents().count(), 0);
        assert!(key.is_inside(Key::new(b"a/b").as_bytes()));
        assert!(key.is_inside(Key::new(b"a").as_bytes()));
        assert!(!key.is_inside(Key::new(b"a/b/c.yaml").as_bytes()));
        assert!(!Key::new(b"ab/c").is_inside(Key::new(b"a").as_bytes()));
        assert_eq!(key.under(Path::new("/out")), Path::new("/out/a/b/c.yaml"));
        assert_eq!(Key::default().under(Path::new("/out")), Path::new("/out"));
        let mut scratch = Scratch::default();
        assert_eq!(scratch.encode(b"a/b/c.yaml"), key.as_bytes());
    }
}
