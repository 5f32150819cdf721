//! Writing results: to any `Write` in a text or binary format, or atomically to a file.

use std::io::Write;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::csv::WriterBuilder as CsvWriterBuilder;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::writer::FileWriter as IpcWriter;
use datafusion::arrow::json::writer::{
    JsonArray, LineDelimited, WriterBuilder as JsonWriterBuilder,
};
use datafusion::arrow::json::Writer as JsonWriter;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;

use crate::dataframe::BatchStream;
use crate::error::{Error, Result};

/// A serialisation of record batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// Tab-separated values with a header row.
    Tsv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    NdJson,
    /// Apache Parquet (snappy).
    Parquet,
    /// Arrow IPC file.
    Arrow,
}

impl OutputFormat {
    /// The format a file name asks for, from its extension.
    pub fn from_path(path: &Path) -> Result<OutputFormat> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        Ok(match extension.as_str() {
            "csv" => OutputFormat::Csv,
            "tsv" | "tab" => OutputFormat::Tsv,
            "json" => OutputFormat::Json,
            "ndjson" | "jsonl" => OutputFormat::NdJson,
            "parquet" | "pq" => OutputFormat::Parquet,
            "arrow" | "feather" | "ipc" => OutputFormat::Arrow,
            _ => {
                return Err(Error::output(format!(
                        "cannot tell the output format of '{}': use the extension .csv, .tsv, .json, .ndjson, .parquet or .arrow",
                        path.display()
                    ),
                ))
            }
        })
    }
}

/// Writes batches in one [`OutputFormat`] to `W`.
pub struct BatchWriter<W: Write + Send> {
    inner: Inner<W>,
}

enum Inner<W: Write + Send> {
    Csv(datafusion::arrow::csv::Writer<W>),
    Json(JsonWriter<W, JsonArray>),
    NdJson(JsonWriter<W, LineDelimited>),
    Parquet(ArrowWriter<W>),
    Arrow(IpcWriter<W>),
}

impl<W: Write + Send> BatchWriter<W> {
    /// A writer of `format` for batches of `schema`.
    pub fn new(format: OutputFormat, out: W, schema: &SchemaRef) -> Result<Self> {
        let json = || JsonWriterBuilder::new().with_explicit_nulls(true);
        let inner = match format {
            OutputFormat::Csv => Inner::Csv(CsvWriterBuilder::new().with_header(true).build(out)),
            OutputFormat::Tsv => Inner::Csv(
                CsvWriterBuilder::new()
                    .with_header(true)
                    .with_delimiter(b'\t')
                    .build(out),
            ),
            OutputFormat::Json => Inner::Json(json().build::<_, JsonArray>(out)),
            OutputFormat::NdJson => Inner::NdJson(json().build::<_, LineDelimited>(out)),
            OutputFormat::Parquet => {
                let properties = WriterProperties::builder()
                    .set_compression(Compression::SNAPPY)
                    .build();
                Inner::Parquet(ArrowWriter::try_new(out, schema.clone(), Some(properties))?)
            }
            OutputFormat::Arrow => Inner::Arrow(IpcWriter::try_new(out, schema)?),
        };
        Ok(BatchWriter { inner })
    }

    /// Appends one batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match &mut self.inner {
            Inner::Csv(w) => w.write(batch)?,
            Inner::Json(w) => w.write(batch)?,
            Inner::NdJson(w) => w.write(batch)?,
            Inner::Parquet(w) => w.write(batch)?,
            Inner::Arrow(w) => w.write(batch)?,
        }
        Ok(())
    }

    /// Completes the output (footers, closing brackets) and flushes it.
    pub fn finish(self) -> Result<()> {
        match self.inner {
            Inner::Csv(w) => w.into_inner().flush()?,
            Inner::Json(mut w) => {
                w.finish()?;
                w.into_inner().flush()?;
            }
            Inner::NdJson(mut w) => {
                w.finish()?;
                w.into_inner().flush()?;
            }
            Inner::Parquet(w) => {
                w.close()?;
            }
            Inner::Arrow(mut w) => {
                w.finish()?;
                w.into_inner()?.flush()?;
            }
        }
        Ok(())
    }
}

/// Checks that `path` can be written to before any work is done: its directory must exist
/// and its extension must name a format.
pub fn check_output_path(path: &Path) -> Result<OutputFormat> {
    let format = OutputFormat::from_path(path)?;
    check_destination(path)?;
    Ok(format)
}

fn cannot_write(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::output(format!("cannot write '{}': {why}", path.display()))
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

/// A file written under a temporary name beside its destination and renamed into place
/// only when complete, so a failed or cancelled write leaves the destination as it was.
struct StagedFile {
    temp: tempfile::NamedTempFile,
    destination: PathBuf,
}

impl StagedFile {
    fn new(destination: &Path) -> Result<StagedFile> {
        check_destination(destination)?;
        let temp = tempfile::Builder::new()
            .prefix(".rask-")
            .suffix(".tmp")
            .tempfile_in(existing_parent(destination)?)
            .map_err(|e| cannot_write(destination, e))?;
        Ok(StagedFile {
            temp,
            destination: destination.to_path_buf(),
        })
    }

    fn writer(
        &self,
        format: OutputFormat,
        schema: &SchemaRef,
    ) -> Result<BatchWriter<std::io::BufWriter<&std::fs::File>>> {
        BatchWriter::new(format, std::io::BufWriter::new(self.temp.as_file()), schema)
    }

    /// Moves the file into place. A temporary file is private to its owner; the result is
    /// as readable as any file the user creates (or keeps the permissions of the file it
    /// replaces).
    fn publish(self) -> Result<()> {
        let permissions = match std::fs::metadata(&self.destination) {
            Ok(existing) => Some(existing.permissions()),
            Err(_) => new_file_permissions(),
        };
        if let Some(permissions) = permissions {
            std::fs::set_permissions(self.temp.path(), permissions)
                .map_err(|e| cannot_write(&self.destination, e))?;
        }
        self.temp
            .persist(&self.destination)
            .map_err(|e| cannot_write(&self.destination, e.error))?;
        Ok(())
    }
}

/// Writes `bytes` to `path` through a temporary file beside it, renamed into place once
/// complete.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let staged = StagedFile::new(path)?;
    let mut file = staged.temp.as_file();
    file.write_all(bytes)
        .and_then(|()| file.flush())
        .map_err(|e| cannot_write(path, e))?;
    staged.publish()
}

/// Streams `batches` into `path`, in the format its extension names, atomically (see
/// [`write_file_as`]). Returns the number of rows.
pub async fn write_file(batches: BatchStream, path: &Path) -> Result<u64> {
    let format = check_output_path(path)?;
    write_file_as(batches, path, format).await
}

/// Streams `batches` into `path` in `format`, whatever the extension: the rows go to a
/// temporary file beside it that replaces `path` only once everything is written, so a
/// failed or cancelled query leaves `path` as it was. Returns the number of rows.
pub async fn write_file_as(batches: BatchStream, path: &Path, format: OutputFormat) -> Result<u64> {
    let staged = StagedFile::new(path)?;
    let rows = stream_into(batches, &staged, format).await?;
    staged.publish()?;
    Ok(rows)
}

async fn stream_into(
    mut batches: BatchStream,
    staged: &StagedFile,
    format: OutputFormat,
) -> Result<u64> {
    let mut writer = staged.writer(format, &batches.schema())?;
    let mut rows = 0u64;
    while let Some(batch) = batches.next_batch().await {
        let batch = batch?;
        rows += batch.num_rows() as u64;
        writer.write(&batch)?;
    }
    writer.finish()?;
    Ok(rows)
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

/// A directory written beside its destination and moved into place once complete.
struct StagedDir {
    staging: tempfile::TempDir,
    destination: PathBuf,
}

impl StagedDir {
    fn new(destination: &Path) -> Result<StagedDir> {
        let name = destination
            .file_name()
            .ok_or_else(|| cannot_write(destination, "no directory name"))?;
        let staging = tempfile::Builder::new()
            .prefix(&format!(".{}.rask-", name.to_string_lossy()))
            .tempdir_in(existing_parent(destination)?)
            .map_err(|e| cannot_write(destination, e))?;
        Ok(StagedDir {
            staging,
            destination: destination.to_path_buf(),
        })
    }

    fn path(&self) -> &Path {
        self.staging.path()
    }

    /// Replaces the destination (if any) with the staged directory.
    fn commit(self) -> Result<()> {
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
        Ok(())
    }
}

/// Options of [`DataFrame::to_parquet`](crate::DataFrame::to_parquet).
#[derive(Debug, Clone)]
pub struct ParquetSink {
    /// Columns whose values become hive-style folders (`category=A/`), as Dask's
    /// `partition_on`.
    pub partition_on: Vec<String>,
    /// `snappy` (default, as Dask), `zstd`, `gzip`, `lz4`, `brotli` or `uncompressed`.
    pub compression: String,
}

impl Default for ParquetSink {
    fn default() -> Self {
        ParquetSink {
            partition_on: vec![],
            compression: "snappy".to_string(),
        }
    }
}

/// Writes `frame` as Parquet files into directory `dir`, replacing it atomically.
pub(crate) async fn write_parquet_dir(
    frame: datafusion::dataframe::DataFrame,
    dir: &Path,
    options: &ParquetSink,
) -> Result<u64> {
    use datafusion::common::config::TableParquetOptions;
    use datafusion::dataframe::DataFrameWriteOptions;

    let staged = StagedDir::new(dir)?;
    let mut parquet = TableParquetOptions::default();
    parquet.global.compression = Some(options.compression.clone());
    let written = frame
        .write_parquet(
            &format!("{}/", staged.path().display()),
            DataFrameWriteOptions::new().with_partition_by(options.partition_on.clone()),
            Some(parquet),
        )
        .await?;
    let rows = written
        .first()
        .and_then(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<datafusion::arrow::array::UInt64Array>()
        })
        .map_or(0, |counts| counts.value(0));
    staged.commit()?;
    Ok(rows)
}

/// Writes one file per partition: `pattern`'s `*` becomes the partition number, as in
/// Dask's `to_csv('out-*.csv')`. Every file is staged and renamed only when all succeed.
pub(crate) async fn write_partition_files(
    partitions: Vec<BatchStream>,
    pattern: &Path,
    format: OutputFormat,
) -> Result<u64> {
    let text = pattern.to_string_lossy();
    let mut staged = Vec::new();
    let mut rows = 0;
    for (index, stream) in partitions.into_iter().enumerate() {
        let file = StagedFile::new(Path::new(&text.replacen('*', &index.to_string(), 1)))?;
        rows += stream_into(stream, &file, format).await?;
        staged.push(file);
    }
    for file in staged {
        file.publish()?;
    }
    Ok(rows)
}
