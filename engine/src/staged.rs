//! Files and directories written under a temporary name beside their destination and moved
//! into place only when complete, so that a failed or cancelled write leaves the destination
//! as it was. Every file Rask writes (results, reports, task graphs) goes through here.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::scratch;

pub(crate) fn cannot_write(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::output(format!("cannot write '{}': {why}", path.display()))
}

/// The extension of `path`, lower-cased (empty when it has none): what output formats are
/// chosen by.
pub(crate) fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default()
}

/// The directory `path` goes into (`.` for a bare name), which must exist.
fn existing_parent(path: &Path) -> Result<&Path> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if parent.is_dir() {
        Ok(parent)
    } else {
        Err(cannot_write(
            path,
            format!("directory '{}' does not exist", parent.display()),
        ))
    }
}

/// Checks that a file can be created at `path`: its directory exists and it is no directory.
pub(crate) fn check_destination(path: &Path) -> Result<()> {
    existing_parent(path)?;
    if path.is_dir() {
        return Err(cannot_write(path, "it is a directory"));
    }
    Ok(())
}

/// What staged files and directories are named with, before the owner's pid (see
/// [`scratch`]).
const STAGED: &str = "out";

/// A file being written beside its destination.
pub(crate) struct StagedFile {
    temp: tempfile::NamedTempFile,
    destination: PathBuf,
}

impl StagedFile {
    /// Also removes what writes of processes that died left in the destination's directory.
    pub(crate) fn new(destination: &Path) -> Result<StagedFile> {
        check_destination(destination)?;
        let parent = existing_parent(destination)?;
        scratch::sweep(parent, ".", STAGED);
        let temp = tempfile::Builder::new()
            .prefix(&scratch::prefix(".", STAGED))
            .suffix(".tmp")
            .tempfile_in(parent)
            .map_err(|e| cannot_write(destination, e))?;
        scratch::track(temp.path());
        Ok(StagedFile {
            temp,
            destination: destination.to_path_buf(),
        })
    }

    pub(crate) fn file(&self) -> &std::fs::File {
        self.temp.as_file()
    }

    /// Moves the file into place. A temporary file is private to its owner; the result is
    /// as readable as any file the user creates (or keeps the permissions of the file it
    /// replaces).
    pub(crate) fn publish(self) -> Result<()> {
        let permissions = match std::fs::metadata(&self.destination) {
            Ok(existing) => Some(existing.permissions()),
            Err(_) => new_file_permissions(),
        };
        if let Some(permissions) = permissions {
            std::fs::set_permissions(self.temp.path(), permissions)
                .map_err(|e| cannot_write(&self.destination, e))?;
        }
        let temp = self.temp.path().to_path_buf();
        self.temp
            .persist(&self.destination)
            .map_err(|e| cannot_write(&self.destination, e.error))?;
        scratch::untrack(&temp);
        Ok(())
    }
}

/// Writes `bytes` to `path` through a temporary file beside it, renamed into place once
/// complete.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let staged = StagedFile::new(path)?;
    let mut file = staged.file();
    file.write_all(bytes)
        .and_then(|()| file.flush())
        .map_err(|e| cannot_write(path, e))?;
    staged.publish()
}

#[cfg(unix)]
fn new_file_permissions() -> Option<std::fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    Some(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn new_file_permissions() -> Option<std::fs::Permissions> {
    None
}

/// A directory being written beside its destination.
pub(crate) struct StagedDir {
    staging: tempfile::TempDir,
    destination: PathBuf,
}

impl StagedDir {
    pub(crate) fn new(destination: &Path) -> Result<StagedDir> {
        let name = destination
            .file_name()
            .ok_or_else(|| cannot_write(destination, "no directory name"))?;
        let parent = existing_parent(destination)?;
        let lead = format!(".{}.", name.to_string_lossy());
        scratch::sweep(parent, &lead, STAGED);
        let staging = tempfile::Builder::new()
            .prefix(&scratch::prefix(&lead, STAGED))
            .tempdir_in(parent)
            .map_err(|e| cannot_write(destination, e))?;
        scratch::track(staging.path());
        Ok(StagedDir {
            staging,
            destination: destination.to_path_buf(),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        self.staging.path()
    }

    /// Replaces the destination (if any) with the staged directory.
    pub(crate) fn commit(self) -> Result<()> {
        let failed = |e: std::io::Error| cannot_write(&self.destination, e);
        let staged = self.staging.keep();
        if self.destination.exists() {
            let old = PathBuf::from(format!("{}.old", staged.display()));
            std::fs::rename(&self.destination, &old).map_err(failed)?;
            std::fs::rename(&staged, &self.destination).map_err(failed)?;
            std::fs::remove_dir_all(&old).map_err(failed)?;
        } else {
            std::fs::rename(&staged, &self.destination).map_err(failed)?;
        }
        scratch::untrack(&staged);
        Ok(())
    }
}
