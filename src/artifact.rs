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

/// Where `emit::each` puts each artifact as soon as it is made, on the
/// thread that made it. A sink keeps what its caller needs of the artifact,
/// which may be less than the whole of it: the writer, comparing as the
/// artifacts come, keeps only the path of a file the output directory
/// already holds, so that a rebuild never holds the whole set.
pub trait Sink: Sync {
    /// What is kept of one artifact (its path at least).
    type Kept: Send;
    /// The state of one emitting thread, made by [`Sink::local`] when the
    /// thread starts.
    type Local<'s>
    where
        Self: 's;

    fn local(&self) -> Self::Local<'_>;

    fn keep<'s>(&'s self, local: &mut Self::Local<'s>, artifact: Artifact) -> Self::Kept;

    /// The path of the artifact `kept` was made from.
    fn path(kept: &Self::Kept) -> &str;
}

/// The sink that keeps every artifact whole (`emit::all`).
pub struct Hold;

impl Sink for Hold {
    type Kept = Artifact;
    type Local<'s> = ();

    fn local(&self) {}

    fn keep(&self, _: &mut (), artifact: Artifact) -> Artifact {
        artifact
    }

    fn path(kept: &Artifact) -> &str {
        &kept.path
    }
}
