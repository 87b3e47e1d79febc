//! Reading back what a build wrote: the files `.meshc-manifest` lists, for
//! `meshc plan`, which compares them with a fresh compile.
//!
//! The manifest is read strictly, as a build reads it, so a path outside
//! DIR is never opened. A listed file that is gone, or that is not a regular
//! file (its last component a symlink, never followed), is left out: the plan then shows it as
//! something the new build adds, which is what a build would do.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use super::WriteError;
use super::key::Key;
use super::manifest::{self, MANIFEST};

/// What a build left in `dir`: generated path → contents (non-UTF-8 bytes
/// replaced). `Ok(None)` when `dir` does not exist (nothing was built yet).
/// A directory without a manifest is refused: meshc did not write it.
pub fn read_output(dir: &Path) -> Result<Option<BTreeMap<String, String>>, WriteError> {
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(WriteError::io("inspect", dir, e)),
        Ok(meta) if !meta.is_dir() => {
            return Err(WriteError::InvalidDir {
                dir: dir.to_path_buf(),
                reason: "it is not a directory",
            });
        }
        Ok(_) => {}
    }
    let manifest_path = dir.join(MANIFEST);
    let bytes = match std::fs::read(&manifest_path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(WriteError::NotMeshcs {
                dir: dir.to_path_buf(),
            });
        }
        Err(e) => return Err(WriteError::io("read", manifest_path, e)),
    };
    let mut files = BTreeMap::new();
    for key in manifest::parse_strict(&bytes, &manifest_path)? {
        let path = key.under(dir);
        let regular = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file());
        if !regular {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| WriteError::io("read", &path, e))?;
        files.insert(Key::to_text(&key), String::from_utf8_lossy(&bytes).into_owned());
    }
    Ok(Some(files))
}
