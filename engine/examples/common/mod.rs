//! What the examples share: where their data comes from.

// Every example compiles this module for itself and uses only part of it.
#![allow(dead_code)]

use std::path::Path;

use rask::prelude::*;
use rask::ReadOptions;

/// Rows per generated file: the tutorials' size unless `RASK_EXAMPLE_ROWS` says otherwise.
pub fn rows(tutorial: usize) -> usize {
    std::env::var("RASK_EXAMPLE_ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(tutorial)
}

/// The files matching `file_glob` in the folder given as first argument; without one,
/// `generate` writes them into a temporary folder, kept as long as the returned guard.
pub async fn read_tutorial_csv(
    file_glob: &str,
    generate: impl FnOnce(&Path) -> rask::Result<()>,
) -> rask::Result<(DataFrame, Option<tempfile::TempDir>)> {
    let (dir, guard) = match std::env::args().nth(1) {
        Some(dir) => (std::path::PathBuf::from(dir), None),
        None => {
            let temp = tempfile::tempdir()?;
            generate(temp.path())?;
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    let session = Session::new()?;
    let frame = session
        .read_csv(
            &format!("{}/{file_glob}", dir.display()),
            ReadOptions::default(),
        )
        .await?;
    Ok((frame, guard))
}

/// The first tutorial's `data_part_*.csv` (5 files of 1,000,000 rows when generated).
pub async fn read_data_parts() -> rask::Result<(DataFrame, Option<tempfile::TempDir>)> {
    read_tutorial_csv("data_part_*.csv", |dir| {
        rask::datasets::data_parts(dir, 5, rows(1_000_000)).map(drop)
    })
    .await
}
