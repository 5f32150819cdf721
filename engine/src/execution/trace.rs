//! Errors told with the file and line that caused them.

use std::path::{Path, PathBuf};

use datafusion::common::DataFusionError;
use datafusion::datasource::file_format::options::{ArrowReadOptions, JsonReadOptions};
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::{FutureExt, StreamExt};
use rask_planner::diagnose::{is_csv_decode_error, locate_csv_error};
use rask_planner::files::{detect_format, FileFormatKind};
use rask_planner::scans::file_scans;

use crate::error::Error;

/// Turns a failure into an [`Error`] naming the file that caused it where the failing
/// reader did not: malformed CSV is traced to its file and line by re-reading the plan's CSV
/// files (a parallel scan's decoder knows neither), damaged Parquet, Arrow and JSON to the
/// first of the plan's files that fails when read on its own.
pub(crate) async fn traced(error: DataFusionError, plan: &LogicalPlan) -> Error {
    if is_csv_decode_error(&error) {
        let plan = plan.clone();
        if let Ok(Some(located)) =
            tokio::task::spawn_blocking(move || locate_csv_error(&plan)).await
        {
            return Error::input(located);
        }
    }
    if !from_a_reader(&error) {
        return Error::from(error);
    }
    named_after_damage(Error::from(error), plan).await
}

/// `error`, or, when one of the Parquet, Arrow or JSON files of `plan` fails to read on its
/// own, that failure named after its file. For reader failures and for panics while a plan
/// ran, which a damaged file may have caused without the reader naming it.
pub(crate) async fn named_after_damage(error: Error, plan: &LogicalPlan) -> Error {
    match first_damaged_file(plan).await {
        Some((file, damage)) => Error::input(format!("{}: {}", file.display(), damage.message())),
        None => error,
    }
}

/// A full disk while spilling, told with where the spill files go and what to do: the
/// operating system's message names no path.
pub(crate) fn spill_disk_full(error: Error, spill_dirs: &[PathBuf]) -> Error {
    let [dir, ..] = spill_dirs else {
        return error;
    };
    // DataFusion's spill writer wraps the operating system's error, keeping only its text.
    let full = error.io_kind() == Some(std::io::ErrorKind::StorageFull)
        || error.message().contains("No space left on device");
    // A result that did not fit its own disk names its file already.
    if !full || error.kind() == crate::error::ErrorKind::Output {
        return error;
    }
    // The directory the user chose, above the session's and DataFusion's own.
    let chosen = dir
        .ancestors()
        .find(|ancestor| {
            let name = ancestor.file_name().unwrap_or_default().to_string_lossy();
            !(name.starts_with("rask-spill-") || name.starts_with("datafusion-"))
        })
        .unwrap_or(dir);
    Error::memory(format!(
        "cannot spill to '{}': no space left on device",
        chosen.display()
    ))
    .with_hint("free space there, or point --spill-dir at a disk with room")
}

/// Whether `error` may come from reading a damaged file (and not from, say, dividing by
/// zero): a failure of a reader or the file system, or a panic in a task.
fn from_a_reader(error: &DataFusionError) -> bool {
    use datafusion::arrow::error::ArrowError;
    match error.find_root() {
        DataFusionError::ParquetError(_)
        | DataFusionError::IoError(_)
        | DataFusionError::ObjectStore(_)
        | DataFusionError::ExecutionJoin(_) => true,
        // A task's panic, as a repartition passes it on.
        DataFusionError::External(joined) => joined.to_string().contains(" panicked"),
        DataFusionError::ArrowError(arrow, _) => matches!(
            **arrow,
            ArrowError::IpcError(_)
                | ArrowError::JsonError(_)
                | ArrowError::IoError(..)
                | ArrowError::ExternalError(_)
                | ArrowError::ParquetError(_)
        ),
        _ => false,
    }
}

/// The first Parquet, Arrow or JSON file of `plan` that fails to read on its own, and how.
async fn first_damaged_file(plan: &LogicalPlan) -> Option<(PathBuf, Error)> {
    let files: Vec<PathBuf> = file_scans(plan)
        .into_iter()
        .filter(|scan| scan.csv.is_none())
        .flat_map(|scan| scan.local_files().collect::<Vec<_>>())
        .collect();
    for file in files {
        if let Err(damage) = read_alone(&file).await {
            return Some((file, damage));
        }
    }
    None
}

/// Reads every row of `file` in a context of its own; a reader's panic is a failure too.
async fn read_alone(file: &Path) -> Result<(), Error> {
    let Some((kind, compression)) = detect_format(file) else {
        return Ok(());
    };
    let path = file.to_string_lossy();
    let ctx = SessionContext::new();
    let reading = async {
        // The file is named exactly, so any extension will do.
        let frame = match kind {
            FileFormatKind::Parquet => {
                ctx.read_parquet(
                    path.as_ref(),
                    ParquetReadOptions::default().file_extension(""),
                )
                .await?
            }
            FileFormatKind::Arrow => {
                let options = ArrowReadOptions {
                    file_extension: "",
                    ..Default::default()
                };
                ctx.read_arrow(path.as_ref(), options).await?
            }
            FileFormatKind::Json => {
                let options = JsonReadOptions::default()
                    .file_extension("")
                    .file_compression_type(compression);
                ctx.read_json(path.as_ref(), options).await?
            }
            FileFormatKind::Csv | FileFormatKind::Tsv => return Ok(()),
        };
        let mut batches = frame.execute_stream().await?;
        while let Some(batch) = batches.next().await {
            batch?;
        }
        Ok::<_, DataFusionError>(())
    };
    match std::panic::AssertUnwindSafe(reading).catch_unwind().await {
        Ok(read) => read.map_err(Error::from),
        Err(_) => Err(Error::input(
            "the file is damaged (its reader failed on it)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_while_spilling_names_the_chosen_spill_directory() {
        let dirs = [PathBuf::from(
            "/data/scratch/rask-spill-42-a1b2/datafusion-c3d4",
        )];
        let full = Error::execution("Io error: IO error: No space left on device (os error 28)");
        let told = spill_disk_full(full, &dirs);
        assert_eq!(
            told.message(),
            "cannot spill to '/data/scratch': no space left on device"
        );
        assert!(told.hint().unwrap().contains("--spill-dir"));
        let other = spill_disk_full(Error::execution("division by zero"), &dirs);
        assert_eq!(other.message(), "division by zero");
        let unspilled = Error::execution("No space left on device (os error 28)");
        assert_eq!(
            spill_disk_full(unspilled, &[]).message(),
            "No space left on device (os error 28)"
        );
    }
}
