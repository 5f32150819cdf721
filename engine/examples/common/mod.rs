//! What the examples share: where their data comes from.

use std::path::PathBuf;

/// The folder named by the first argument, or a fresh temporary folder (kept alive by the
/// returned guard) that the caller fills with generated data.
pub fn data_dir() -> (PathBuf, Option<tempfile::TempDir>, bool) {
    match std::env::args().nth(1) {
        Some(dir) => (PathBuf::from(dir), None, false),
        None => {
            let temp = tempfile::tempdir().expect("a temporary folder");
            (temp.path().to_path_buf(), Some(temp), true)
        }
    }
}

/// Rows per generated file: the tutorials' size unless `RASK_EXAMPLE_ROWS` says otherwise.
pub fn rows(tutorial: usize) -> usize {
    std::env::var("RASK_EXAMPLE_ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(tutorial)
}
