//! Writing results: to any `Write` in a text or binary format, or atomically to a file.

use std::io::Write;
use std::path::Path;

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
use crate::error::{Error, ErrorKind, Result};

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
                return Err(Error::new(
                    ErrorKind::Output,
                    format!(
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
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(Error::new(
            ErrorKind::Output,
            format!(
                "cannot write '{}': directory '{}' does not exist",
                path.display(),
                parent.display()
            ),
        ));
    }
    if path.is_dir() {
        return Err(Error::new(
            ErrorKind::Output,
            format!("cannot write '{}': it is a directory", path.display()),
        ));
    }
    Ok(format)
}

/// Streams `batches` into `path`, in the format its extension names, atomically: the rows
/// go to a temporary file beside it that replaces `path` only once everything is written,
/// so a failed or cancelled query leaves `path` as it was. Returns the number of rows.
pub async fn write_file(mut batches: BatchStream, path: &Path) -> Result<u64> {
    let format = check_output_path(path)?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let context = |e: std::io::Error| {
        Error::new(
            ErrorKind::Output,
            format!("cannot write '{}': {e}", path.display()),
        )
    };
    let temp = tempfile::Builder::new()
        .prefix(".rask-")
        .suffix(".tmp")
        .tempfile_in(parent)
        .map_err(context)?;
    let mut writer = BatchWriter::new(
        format,
        std::io::BufWriter::new(temp.as_file()),
        &batches.schema(),
    )?;
    let mut rows = 0u64;
    while let Some(batch) = batches.next_batch().await {
        let batch = batch?;
        rows += batch.num_rows() as u64;
        writer.write(&batch)?;
    }
    writer.finish()?;
    // A temporary file is private to its owner; the result should be as readable as any
    // file the user creates (or keep the permissions of the file it replaces).
    let permissions = match std::fs::metadata(path) {
        Ok(existing) => Some(existing.permissions()),
        Err(_) => new_file_permissions(),
    };
    if let Some(permissions) = permissions {
        std::fs::set_permissions(temp.path(), permissions).map_err(context)?;
    }
    temp.persist(path).map_err(|e| context(e.error))?;
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
