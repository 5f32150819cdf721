//! Scratch space a process leaves nothing of: spill directories, a worker's shuffle files and
//! the temporary files of writes in progress. Each is named after the process that owns it
//! (`…rask-<kind>-<pid>-<random>`), removed when it is dropped, removed by
//! [`remove_all`] when the process must end at once (a second signal, a stuck statement), and
//! swept by the next process that uses the same directory when its owner died without
//! cleaning up (SIGKILL, power loss).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// Scratch paths of this process that still exist.
static LIVE: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// The name prefix of this process's scratch entries of `kind`: `<lead>rask-<kind>-<pid>-`.
pub(crate) fn prefix(lead: &str, kind: &str) -> String {
    format!("{lead}rask-{kind}-{}-", std::process::id())
}

/// Records `path` as scratch of this process, to be removed if it has to end at once.
pub(crate) fn track(path: &Path) {
    if let Ok(mut live) = LIVE.lock() {
        live.insert(path.to_path_buf());
    }
}

/// Forgets `path`: it was published, or removed by its owner.
pub(crate) fn untrack(path: &Path) {
    if let Ok(mut live) = LIVE.lock() {
        live.remove(path);
    }
}

/// Removes every scratch file and directory of this process: for a process about to end
/// without unwinding (`std::process::exit` after a signal).
pub fn remove_all() {
    let paths = match LIVE.lock() {
        Ok(mut live) => std::mem::take(&mut *live),
        Err(_) => return,
    };
    for path in paths {
        remove(&path);
    }
}

fn remove(path: &Path) {
    // Already gone is fine: its owner may have removed it meanwhile.
    let _ = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(_) => Ok(()),
    };
}

/// Removes the scratch entries of `kind` in `dir` (named with `lead` before `rask-`) whose
/// owning process no longer runs.
pub(crate) fn sweep(dir: &Path, lead: &str, kind: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let start = format!("{lead}rask-{kind}-");
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(owner) = name
            .to_str()
            .and_then(|name| name.strip_prefix(&start))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !running(owner) {
            remove(&entry.path());
        }
    }
}

/// Whether process `pid` still runs. Where that cannot be told, it is assumed to, so that
/// nothing in use is ever removed.
fn running(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return true;
        };
        // Signal 0 checks that the process exists without signalling it.
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        alive || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// A directory of this process's scratch files, removed with everything in it when dropped.
#[derive(Debug)]
pub(crate) struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// A new scratch directory of `kind` inside `parent`, after sweeping the ones of processes
    /// that died.
    pub(crate) fn create(parent: &Path, kind: &str) -> Result<ScratchDir> {
        sweep(parent, "", kind);
        let dir = tempfile::Builder::new()
            .prefix(&prefix("", kind))
            .tempdir_in(parent)
            .map_err(|e| {
                Error::usage(format!(
                    "cannot create a {kind} directory in '{}': {e}",
                    parent.display()
                ))
            })?;
        let path = dir.keep();
        track(&path);
        Ok(ScratchDir { path })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        remove(&self.path);
        untrack(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process id no process has: beyond the kernel's largest (2^22).
    const GONE: u32 = 4_194_305;

    #[test]
    fn scratch_of_dead_processes_is_swept_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let dead = dir.path().join(format!("rask-spill-{GONE}-abc"));
        let dead_file = dir.path().join(format!(".rask-out-{GONE}-x.tmp"));
        let mine = dir
            .path()
            .join(format!("rask-spill-{}-def", std::process::id()));
        let unrelated = dir.path().join("rask-spill-notes");
        for path in [&dead, &mine, &unrelated] {
            std::fs::create_dir(path).unwrap();
        }
        std::fs::write(dead.join("spill.arrow"), b"x").unwrap();
        std::fs::write(&dead_file, b"x").unwrap();
        sweep(dir.path(), "", "spill");
        sweep(dir.path(), ".", "out");
        assert!(!dead.exists());
        assert!(!dead_file.exists());
        assert!(mine.exists());
        assert!(unrelated.exists());
    }

    #[test]
    fn a_scratch_dir_goes_when_dropped() {
        let parent = tempfile::tempdir().unwrap();
        let dropped = ScratchDir::create(parent.path(), "spill").unwrap();
        let path = dropped.path().to_path_buf();
        std::fs::write(path.join("spill.arrow"), b"x").unwrap();
        assert!(path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with(&prefix("", "spill")));
        drop(dropped);
        assert!(!path.exists());
    }
}
