//! The unit of output: one generated file, as the emitters describe it and
//! the writer puts it on disk.
//!
//! An artifact is plain data so that emitters stay pure functions (they build
//! a `Vec<Artifact>` and never touch the filesystem) and so that golden tests
//! can compare what would be written without writing it. The writer
//! re-validates `path` before using it, as defence in depth.

/// One generated file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    /// Relative, `/`-separated, made only of validated name segments
    /// (for example `vms/ecs-db/cluster.env`).
    pub path: String,
    /// The complete file contents.
    pub contents: String,
    /// The permission bits the file gets, whatever the umask.
    pub mode: Mode,
}

/// The two kinds of file meshc writes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// `0644`: configuration and manifests.
    Regular,
    /// `0755`: scripts such as `install.sh` and `iptables.sh`.
    Executable,
}

impl Mode {
    /// The Unix permission bits for this mode.
    pub fn bits(self) -> u32 {
        match self {
            Mode::Regular => 0o644,
            Mode::Executable => 0o755,
        }
    }
}
