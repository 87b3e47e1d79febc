//! `--check`: how the output directory differs from what a build would
//! write, without writing anything.
//!
//! The comparison is the writer's own plan, so a check is clean exactly when
//! a write would change nothing. Each change carries its unified diff,
//! rendered once here with `a/PATH` and `b/PATH` headers. A file that is
//! missing is diffed against empty, as is a file that would be removed; a
//! change of mode or of kind (a symlink where a file belongs) is noted above
//! the diff, git style. Changes are sorted by path, so the output is stable.

use std::fmt;

use similar::TextDiff;

use super::plan::{Difference, Old};

/// How the output directory differs from a fresh build.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Staleness {
    /// Sorted by path.
    pub changes: Vec<Change>,
}

impl Staleness {
    /// True when the output directory is up to date.
    pub fn is_fresh(&self) -> bool {
        self.changes.is_empty()
    }
}

/// One file that a build would change.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    /// The file exists with other bytes, another mode, or is not a regular
    /// file.
    Modified { path: String, diff: String },
    /// The file does not exist yet.
    Missing { path: String, diff: String },
    /// A file the last build wrote that is no longer produced.
    Extra { path: String, diff: String },
}

impl Change {
    pub fn path(&self) -> &str {
        match self {
            Change::Modified { path, .. } | Change::Missing { path, .. } | Change::Extra { path, .. } => path,
        }
    }

    /// This change as a unified diff.
    pub fn diff(&self) -> &str {
        match self {
            Change::Modified { diff, .. } | Change::Missing { diff, .. } | Change::Extra { diff, .. } => diff,
        }
    }
}

/// `modified PATH`, `missing PATH` or `extra PATH`: one line per file, for
/// listing what is stale without the diffs.
impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            Change::Modified { .. } => "modified",
            Change::Missing { .. } => "missing",
            Change::Extra { .. } => "extra",
        };
        write!(f, "{what} {}", self.path())
    }
}

/// All the changes' diffs, in path order.
pub fn render_diff(staleness: &Staleness) -> String {
    staleness.changes.iter().map(Change::diff).collect()
}

pub(super) fn change(difference: &Difference<'_>) -> Change {
    let path = difference.path.clone();
    let old_text = match &difference.old {
        Old::File {
            bytes: Some(bytes), ..
        } => String::from_utf8_lossy(bytes),
        // A plan made for `check` reads every changed file.
        Old::File { bytes: None, .. } | Old::Absent | Old::Other(_) => "".into(),
    };
    let new_text = difference.new.as_ref().map_or("", |(contents, _)| contents);
    let notes = match (&difference.old, &difference.new) {
        (Old::Absent, Some((_, mode))) => format!("new file mode {mode:04o}\n"),
        (Old::File { mode, .. }, None) => format!("deleted file mode {mode:04o}\n"),
        (Old::File { mode: old, .. }, Some((_, new))) if old != new => {
            format!("old mode {old:04o}\nnew mode {new:04o}\n")
        }
        (Old::Other(kind), Some((_, mode))) => {
            format!("old type {}\nnew file mode {mode:04o}\n", kind.name())
        }
        (Old::Other(kind), None) => format!("old type {}\n", kind.name()),
        _ => String::new(),
    };
    let diff = unified(&path, &old_text, new_text, &notes);
    match (&difference.old, &difference.new) {
        (Old::Absent, _) => Change::Missing { path, diff },
        (_, None) => Change::Extra { path, diff },
        _ => Change::Modified { path, diff },
    }
}

/// `notes`, then the `a/PATH` and `b/PATH` headers, then the hunks. The
/// headers are written even without hunks, so a change of mode alone still
/// says which file it concerns.
fn unified(path: &str, old: &str, new: &str, notes: &str) -> String {
    let (a, b) = (format!("a/{path}"), format!("b/{path}"));
    let hunks = TextDiff::from_lines(old, new)
        .unified_diff()
        .header(&a, &b)
        .to_string();
    if hunks.is_empty() {
        format!("{notes}--- {a}\n+++ {b}\n")
    } else {
        format!("{notes}{hunks}")
    }
}
