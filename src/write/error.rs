//! Why a write or a check failed, with the path it concerns.
//!
//! One enum for the whole writer: the CLI prints it with `Display` and maps
//! it to an exit code, and nothing here panics. A path that comes from an
//! artifact is shown as given (a `String`); a path on disk is shown in full
//! (a `PathBuf`), because that is what the user needs to go and look at.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// A failure of [`write`](super::write) or [`check`](super::check).
#[derive(Debug)]
#[non_exhaustive]
pub enum WriteError {
    /// An artifact path is not a plain relative path made of name segments.
    /// Validation happens earlier in the pipeline; this is defence in depth.
    InvalidPath { path: String, reason: &'static str },
    /// The output directory itself cannot be used.
    InvalidDir { dir: PathBuf, reason: &'static str },
    /// Something in the output directory stands where meshc must write, and
    /// replacing it would destroy data meshc does not own.
    Conflict { path: PathBuf, reason: &'static str },
    /// The output directory is not empty and has no manifest: meshc did not
    /// make it, and does not take it over unless told to (`--adopt`).
    NotMeshcs { dir: PathBuf },
    /// The manifest of a previous build names a path meshc would never write.
    Manifest {
        path: PathBuf,
        line: usize,
        reason: &'static str,
    },
    /// Another process changed the output directory while meshc prepared the
    /// new tree; nothing was changed.
    Raced { dir: PathBuf },
    /// The filesystem refused an operation.
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// A test stopped the writer as a SIGKILL would: no cleanup ran.
    #[cfg(test)]
    Crash,
}

impl WriteError {
    pub(super) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        WriteError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// True for the test-only simulated kill, after which no code may run:
    /// a real SIGKILL gives the writer no chance to clean up either.
    pub(super) fn is_simulated_crash(&self) -> bool {
        #[cfg(test)]
        {
            matches!(self, WriteError::Crash)
        }
        #[cfg(not(test))]
        {
            false
        }
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::InvalidPath { path, reason } => {
                write!(f, "invalid artifact path {path:?}: {reason}")
            }
            WriteError::InvalidDir { dir, reason } => {
                write!(f, "cannot write to {}: {reason}", dir.display())
            }
            WriteError::Conflict { path, reason } => {
                write!(f, "cannot replace {}: {reason}", path.display())
            }
            WriteError::NotMeshcs { dir } => write!(
                f,
                "refusing to write to {}: it is not empty and has no {} (meshc did not \
                 make it, and replacing it could destroy files that are not meshc's); \
                 give -o an empty or new directory, or pass --adopt to add meshc's files \
                 to this one (files meshc did not write are never replaced)",
                dir.display(),
                super::manifest::MANIFEST
            ),
            WriteError::Manifest { path, line, reason } => write!(
                f,
                "{}:{line}: {reason} (delete the manifest to let meshc start afresh)",
                path.display()
            ),
            WriteError::Raced { dir } => write!(
                f,
                "{} changed while meshc was writing it; nothing was changed, run meshc again",
                dir.display()
            ),
            WriteError::Io { action, path, source } => {
                write!(f, "cannot {action} {}: {source}", path.display())
            }
            #[cfg(test)]
            WriteError::Crash => f.write_str("simulated crash"),
        }
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WriteError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
