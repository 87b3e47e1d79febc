//! The manifest: which files in the output directory meshc owns.
//!
//! `.meshc-manifest` sits at the top of the output directory and lists, one
//! per line and sorted, the relative path of every file the last build wrote.
//! It is what lets a rebuild delete files that are no longer produced while
//! never touching anything else. The format is deliberately plain text so
//! that it reviews well when the output directory is committed.
//!
//! Reading comes in two strengths. A build reads the live manifest strictly:
//! a line that is not a valid artifact path is an error, because acting on it
//! could delete a file outside meshc's reach. The cleanup of an interrupted
//! build reads leniently: it ignores bad lines and an unterminated last line
//! (a manifest cut short by a crash), which can only make it keep more.

use std::collections::BTreeSet;
use std::path::Path;

use super::WriteError;
use super::key::Key;
use super::targets::check_path;

/// The manifest's file name, at the top of the output directory.
pub(super) const MANIFEST: &str = ".meshc-manifest";

/// The manifest listing `paths`, which must already be sorted.
pub(super) fn render<'a>(paths: impl IntoIterator<Item = &'a str>) -> String {
    paths.into_iter().flat_map(|path| [path, "\n"]).collect()
}

/// Every path in a live manifest, or the first reason it cannot be trusted.
pub(super) fn parse_strict(bytes: &[u8], file: &Path) -> Result<BTreeSet<Key>, WriteError> {
    let error = |line, reason| WriteError::Manifest {
        path: file.to_path_buf(),
        line,
        reason,
    };
    let text = std::str::from_utf8(bytes).map_err(|_| error(1, "the manifest is not UTF-8"))?;
    let mut paths = Vec::new();
    for (index, line) in text.lines().enumerate() {
        check_path(line).map_err(|reason| error(index + 1, reason))?;
        paths.push(Key::new(line.as_bytes()));
    }
    Ok(paths.into_iter().collect())
}

/// Every trustworthy path in a manifest that a crash may have cut short.
pub(super) fn parse_lenient(bytes: &[u8]) -> BTreeSet<String> {
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(end) => &bytes[..=end],
        None => &[],
    };
    complete
        .split(|&b| b == b'\n')
        .filter_map(|line| std::str::from_utf8(line).ok())
        .filter(|line| check_path(line).is_ok())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let text = render(["a/b", "c"]);
        assert_eq!(text, "a/b\nc\n");
        let parsed = parse_strict(text.as_bytes(), Path::new("m")).expect("valid manifest");
        let parsed: Vec<_> = parsed.iter().map(Key::to_text).collect();
        assert_eq!(parsed, ["a/b", "c"]);
        assert_eq!(render([]), "");
    }

    #[test]
    fn strict_reading_refuses_escaping_paths() {
        let error = parse_strict(b"a\n../../etc/passwd\n", Path::new("m"));
        assert!(matches!(error, Err(WriteError::Manifest { line: 2, .. })));
    }

    #[test]
    fn lenient_reading_drops_bad_and_cut_short_lines() {
        let parsed = parse_lenient(b"a\n/etc/passwd\nb\nvms/x/clus");
        assert_eq!(parsed.into_iter().collect::<Vec<_>>(), ["a", "b"]);
        assert!(parse_lenient(b"cut").is_empty());
    }
}
