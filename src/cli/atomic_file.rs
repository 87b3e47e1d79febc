//! One file written atomically: the single-file writer of `meshc fmt`
//! (which replaces the file it formatted) and `meshc import -o FILE`
//! (which creates FILE, and replaces one only with `--force`).
//!
//! Whatever the mode, the text goes to a temporary file in the target's
//! directory, is flushed to disk, and is renamed over the target only when
//! complete: a reader sees the old file or the new one, never a part, and
//! a failed write (a full disk, a file size limit) leaves the target as it
//! was and no temporary file behind. A replaced file keeps its permissions;
//! a new one gets the usual `0666` less the umask.

use std::io::Write as _;
use std::path::Path;

/// What to do when the file already exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Existing {
    /// Replace it, keeping its permissions (`meshc fmt`, `import --force`).
    Replace,
    /// Leave it alone and fail with [`WriteError::Exists`] (`meshc import
    /// -o FILE`): it may be a topology written by hand. The refusal is
    /// atomic: a file created meanwhile is not replaced either.
    Refuse,
}

#[derive(Debug)]
pub(super) enum WriteError {
    /// The file exists and the mode is [`Existing::Refuse`]; nothing was
    /// written.
    Exists,
    Io(std::io::Error),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::Exists => f.write_str("the file exists"),
            WriteError::Io(e) => e.fmt(f),
        }
    }
}

impl From<std::io::Error> for WriteError {
    fn from(e: std::io::Error) -> WriteError {
        WriteError::Io(e)
    }
}

/// Writes `contents` to `path` atomically (see the module doc).
pub(super) fn write(path: &Path, contents: &str, existing: Existing) -> Result<(), WriteError> {
    let kept = match existing {
        // The target's permissions (a symbolic link's target's), if it is
        // there: the rename replaces the file, not its mode.
        Existing::Replace => std::fs::metadata(path).ok().map(|m| m.permissions()),
        Existing::Refuse => {
            // Checked early so that nothing is written for nothing; the
            // rename checks again, atomically.
            if std::fs::symlink_metadata(path).is_ok() {
                return Err(WriteError::Exists);
            }
            None
        }
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".meshc-");
    #[cfg(unix)]
    {
        // A new file's mode is what `open(…, 0666)` gives under the umask,
        // not the 0600 of a temporary file.
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(contents.as_bytes())?;
    if let Some(perms) = kept {
        tmp.as_file().set_permissions(perms)?;
    }
    tmp.as_file().sync_all()?;
    match existing {
        Existing::Replace => {
            tmp.persist(path).map_err(|e| e.error)?;
        }
        Existing::Refuse => match tmp.persist_noclobber(path) {
            Ok(_) => {}
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => return Err(WriteError::Exists),
            Err(e) => return Err(WriteError::Io(e.error)),
        },
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("stat").permissions().mode() & 0o7777
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".meshc-"))
            .collect()
    }

    #[test]
    fn replace_keeps_the_permissions_and_swaps_the_whole_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.kdl");
        std::fs::write(&path, "old text\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        // A reader that opened the old file keeps reading the old file,
        // whole: the new text arrived by rename, not written into it.
        let mut reader = std::fs::File::open(&path).expect("open");
        write(&path, "new\n", Existing::Replace).expect("write");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "new\n");
        assert_eq!(mode(&path), 0o640);
        let mut old = String::new();
        reader.read_to_string(&mut old).expect("read old");
        assert_eq!(old, "old text\n");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn refuse_never_clobbers_and_creates_with_the_usual_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.kdl");
        std::fs::write(&path, "hand-written\n").expect("write");
        assert!(matches!(
            write(&path, "imported\n", Existing::Refuse),
            Err(WriteError::Exists)
        ));
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "hand-written\n");
        // A dangling symbolic link is something there too.
        let link = dir.path().join("link.kdl");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &link).expect("symlink");
        assert!(matches!(
            write(&link, "imported\n", Existing::Refuse),
            Err(WriteError::Exists)
        ));
        assert!(!dir.path().join("nowhere").exists());

        let new = dir.path().join("new.kdl");
        write(&new, "imported\n", Existing::Refuse).expect("write");
        assert_eq!(std::fs::read_to_string(&new).expect("read"), "imported\n");
        // 0666 under the umask: readable by others unless the umask says
        // no, never the temporary file's 0600 whatever the umask.
        let usual = {
            let probe = dir.path().join("probe");
            std::fs::write(&probe, "").expect("probe");
            mode(&probe)
        };
        assert_eq!(mode(&new), usual);
        assert!(leftovers(dir.path()).is_empty());
    }
}
