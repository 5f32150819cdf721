//! Writing results: to any `Write` in a text or binary format, or atomically to a file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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

use datafusion::common::parsers::CompressionTypeVariant;
use rask_planner::files::{compressed_twice, split_compression};

use crate::error::{Error, Result};
use crate::execution::{BatchStream, Planned};
use crate::staged::{check_destination, extension, StagedDir, StagedFile};
use crate::upload::{local_path, remote_target, PendingUpload, RemoteTarget};

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
    /// The format a file name asks for, from its extension (before a compression suffix:
    /// `.csv.gz` is CSV).
    pub fn from_path(path: &Path) -> Result<OutputFormat> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let (uncompressed, compression) = split_compression(name);
        let format = match extension(Path::new(uncompressed)).as_str() {
            "csv" => OutputFormat::Csv,
            "tsv" | "tab" => OutputFormat::Tsv,
            "json" => OutputFormat::Json,
            "ndjson" | "jsonl" => OutputFormat::NdJson,
            "parquet" | "pq" => OutputFormat::Parquet,
            "arrow" | "feather" | "ipc" => OutputFormat::Arrow,
            _ => {
                return Err(Error::output(format!(
                        "cannot tell the output format of '{}': use the extension .csv, .tsv, .json, .ndjson, .parquet or .arrow (the text ones may end in .gz, .zst, .bz2 or .xz)",
                        path.display()
                    ),
                ))
            }
        };
        if compression.is_compressed()
            && matches!(format, OutputFormat::Parquet | OutputFormat::Arrow)
        {
            return Err(Error::output(compressed_twice(&path.display().to_string())));
        }
        Ok(format)
    }
}

/// The bytes of a file on their way to it, compressed as its name asks (`out.csv.gz`).
enum Encoded<W: Write> {
    Plain(W),
    Gzip(flate2::write::GzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
    Bzip2(bzip2::write::BzEncoder<W>),
    Xz(liblzma::write::XzEncoder<W>),
}

impl<W: Write> Encoded<W> {
    /// `out`, compressed if the name of `destination` ends in `.gz`, `.zst`, `.bz2` or `.xz`.
    fn for_file(destination: &Path, out: W) -> std::io::Result<Encoded<W>> {
        let name = destination
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        Ok(match *split_compression(name).1.get_variant() {
            CompressionTypeVariant::GZIP => Encoded::Gzip(flate2::write::GzEncoder::new(
                out,
                flate2::Compression::default(),
            )),
            CompressionTypeVariant::ZSTD => Encoded::Zstd(zstd::stream::write::Encoder::new(
                out,
                zstd::DEFAULT_COMPRESSION_LEVEL,
            )?),
            CompressionTypeVariant::BZIP2 => Encoded::Bzip2(bzip2::write::BzEncoder::new(
                out,
                bzip2::Compression::default(),
            )),
            CompressionTypeVariant::XZ => Encoded::Xz(liblzma::write::XzEncoder::new(out, 6)),
            CompressionTypeVariant::UNCOMPRESSED => Encoded::Plain(out),
        })
    }

    fn inner(&mut self) -> &mut dyn Write {
        match self {
            Encoded::Plain(w) => w,
            Encoded::Gzip(w) => w,
            Encoded::Zstd(w) => w,
            Encoded::Bzip2(w) => w,
            Encoded::Xz(w) => w,
        }
    }

    /// Writes what the compressor still holds, and its trailer; the destination back.
    fn finish(self) -> std::io::Result<W> {
        match self {
            Encoded::Plain(w) => Ok(w),
            Encoded::Gzip(w) => w.finish(),
            Encoded::Zstd(w) => w.finish(),
            Encoded::Bzip2(w) => w.finish(),
            Encoded::Xz(w) => w.finish(),
        }
    }
}

impl<W: Write> Write for Encoded<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner().write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner().flush()
    }
}

/// Writes batches in one [`OutputFormat`] to `W`.
pub struct BatchWriter<W: Write + Send> {
    inner: Inner<Recorded<W>>,
    failure: Arc<Mutex<Option<std::io::ErrorKind>>>,
    /// The schema, until the first batch is written: Arrow's CSV writer writes the header
    /// with the first batch, and a result without rows still has one.
    unwritten: Option<SchemaRef>,
}

enum Inner<W: Write + Send> {
    Csv(datafusion::arrow::csv::Writer<W>),
    Json(JsonWriter<W, JsonArray>),
    NdJson(JsonWriter<W, LineDelimited>),
    Parquet(ArrowWriter<W>),
    Arrow(IpcWriter<W>),
}

/// `W`, remembering what the operating system said of the last write that failed: Arrow's
/// CSV writer reports a failed write as text, and a closed pipe must still be told apart.
struct Recorded<W> {
    inner: W,
    failure: Arc<Mutex<Option<std::io::ErrorKind>>>,
}

impl<W: Write> Recorded<W> {
    fn recorded<T>(&self, outcome: std::io::Result<T>) -> std::io::Result<T> {
        if let (Err(error), Ok(mut failure)) = (&outcome, self.failure.lock()) {
            *failure = Some(error.kind());
        }
        outcome
    }
}

impl<W: Write> Write for Recorded<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf);
        self.recorded(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let flushed = self.inner.flush();
        self.recorded(flushed)
    }
}

impl<W: Write + Send> BatchWriter<W> {
    /// A writer of `format` for batches of `schema`.
    pub fn new(format: OutputFormat, out: W, schema: &SchemaRef) -> Result<Self> {
        let failure = Arc::new(Mutex::new(None));
        let out = Recorded {
            inner: out,
            failure: Arc::clone(&failure),
        };
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
        Ok(BatchWriter {
            inner,
            failure,
            unwritten: Some(schema.clone()),
        })
    }

    /// Appends one batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let written = match &mut self.inner {
            Inner::Csv(w) => w.write(batch).map_err(Error::from),
            Inner::Json(w) => w.write(batch).map_err(Error::from),
            Inner::NdJson(w) => w.write(batch).map_err(Error::from),
            Inner::Parquet(w) => w.write(batch).map_err(Error::from),
            Inner::Arrow(w) => w.write(batch).map_err(Error::from),
        };
        written.map_err(|error| Self::recorded_kind(&self.failure, error))?;
        self.unwritten = None;
        Ok(())
    }

    /// Completes the output (the header of a result without rows, footers, closing
    /// brackets) and flushes it; returns where it went.
    pub fn finish(mut self) -> Result<W> {
        if let (Some(schema), Inner::Csv(_)) = (self.unwritten.take(), &self.inner) {
            self.write(&RecordBatch::new_empty(schema))?;
        }
        let failure = Arc::clone(&self.failure);
        Self::complete(self.inner).map_err(|error| Self::recorded_kind(&failure, error))
    }

    /// `error`, told what the operating system said if a write failed.
    fn recorded_kind(failure: &Mutex<Option<std::io::ErrorKind>>, error: Error) -> Error {
        match failure.lock().ok().and_then(|kind| *kind) {
            Some(kind) => error.with_io_kind(kind),
            None => error,
        }
    }

    fn complete(inner: Inner<Recorded<W>>) -> Result<W> {
        let mut out = match inner {
            Inner::Csv(w) => w.into_inner(),
            Inner::Json(mut w) => {
                w.finish()?;
                // A text file's last line ends with a line break; printed, the prompt or
                // the next statement's array would follow on the array's line.
                let mut out = w.into_inner();
                out.write_all(b"\n")?;
                out
            }
            Inner::NdJson(mut w) => {
                w.finish()?;
                w.into_inner()
            }
            Inner::Parquet(w) => w.into_inner()?,
            Inner::Arrow(mut w) => {
                w.finish()?;
                w.into_inner()?
            }
        };
        out.flush()?;
        Ok(out.inner)
    }
}

/// Checks that `path` can be written to before any work is done: its directory must exist
/// and its extension must name a format.
pub fn check_output_path(path: &Path) -> Result<OutputFormat> {
    let format = OutputFormat::from_path(path)?;
    if !rask_planner::stores::is_url(&path.to_string_lossy()) {
        check_destination(path)?;
    }
    Ok(format)
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
///
/// A URL of an object store (`s3://bucket/out.parquet`) is written as a multipart upload
/// completed only at the end (see [`crate::upload`]).
pub async fn write_file_as(batches: BatchStream, path: &Path, format: OutputFormat) -> Result<u64> {
    if let Some(target) = remote_target(path, batches.object_stores().as_ref())? {
        let (rows, upload) = stream_to(&target, batches, format, path).await?;
        last_chance_to_cancel().await;
        upload.complete().await?;
        return Ok(rows);
    }
    let path = &local_path(path);
    let staged = StagedFile::new(path)?;
    let rows = stream_into(batches, staged.file(), format, path).await?;
    last_chance_to_cancel().await;
    staged.publish()?;
    Ok(rows)
}

/// Completing a file (a Parquet writer encodes its last row group in `finish`) takes long
/// enough for a cancel to arrive meanwhile; yielding before the rename lets the caller's
/// cancellation (a `select!` on Ctrl-C) drop the write, keeping the destination as it was.
async fn last_chance_to_cancel() {
    tokio::task::yield_now().await;
}

/// Writes `batches` into `staged`; a failure to write names `destination`, the file the
/// user asked for (a full disk's message names none).
async fn stream_into(
    mut batches: BatchStream,
    staged: &std::fs::File,
    format: OutputFormat,
    destination: &Path,
) -> Result<u64> {
    let cannot_write = |e: Error| crate::staged::cannot_write(destination, e);
    let out = Encoded::for_file(destination, std::io::BufWriter::new(staged))
        .map_err(|e| cannot_write(e.into()))?;
    let mut writer = BatchWriter::new(format, out, &batches.schema()).map_err(cannot_write)?;
    let mut rows = 0u64;
    while let Some(batch) = batches.next_batch().await {
        let batch = batch?;
        rows += batch.num_rows() as u64;
        writer.write(&batch).map_err(cannot_write)?;
    }
    let out = writer.finish().map_err(cannot_write)?;
    out.finish()
        .and_then(|mut file| file.flush())
        .map_err(|e| cannot_write(e.into()))?;
    Ok(rows)
}

/// Writes `batches` into a local temporary file and sends it to `target`, whose upload is
/// left to complete.
async fn stream_to(
    target: &RemoteTarget,
    batches: BatchStream,
    format: OutputFormat,
    destination: &Path,
) -> Result<(u64, PendingUpload)> {
    let staged = tempfile::tempfile().map_err(|e| target.cannot_write(e))?;
    let rows = stream_into(batches, &staged, format, destination).await?;
    Ok((rows, target.send(&staged).await?))
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

/// Writes `frame` as Parquet files into directory `dir`, replacing it atomically; the
/// query log shows the write as `label`. A URL of an object store is written as a folder of
/// objects, each a multipart upload completed only when all have been sent; objects the
/// previous write left there are deleted after that.
pub(crate) async fn write_parquet_dir(
    frame: datafusion::dataframe::DataFrame,
    label: String,
    dir: &Path,
    options: &ParquetSink,
) -> Result<u64> {
    let stores = Arc::clone(&frame.task_ctx().runtime_env().object_store_registry);
    if let Some(target) = remote_target(dir, stores.as_ref())? {
        let staging = tempfile::tempdir().map_err(|e| target.cannot_write(e))?;
        let rows = copy_parquet_into(frame, label, staging.path(), options).await?;
        upload_folder(staging.path(), &target).await?;
        return Ok(rows);
    }
    let staged = StagedDir::new(&local_path(dir))?;
    let rows = copy_parquet_into(frame, label, staged.path(), options).await?;
    last_chance_to_cancel().await;
    staged.commit()?;
    Ok(rows)
}

/// Runs `frame` into Parquet files in the existing, empty directory `dir`.
async fn copy_parquet_into(
    frame: datafusion::dataframe::DataFrame,
    label: String,
    dir: &Path,
    options: &ParquetSink,
) -> Result<u64> {
    use datafusion::arrow::datatypes::UInt64Type;
    use datafusion::common::config::TableParquetOptions;
    use datafusion::datasource::file_format::format_as_file_type;
    use datafusion::datasource::file_format::parquet::ParquetFormatFactory;
    use datafusion::logical_expr::LogicalPlanBuilder;

    let schema = Arc::clone(frame.schema().inner());
    let mut parquet = TableParquetOptions::default();
    parquet.global.compression = Some(options.compression.clone());
    let file_type = format_as_file_type(Arc::new(ParquetFormatFactory::new_with_options(parquet)));
    let (state, plan) = frame.into_parts();
    let copy = LogicalPlanBuilder::copy_to(
        plan,
        format!("{}/", dir.display()),
        file_type,
        Default::default(),
        options.partition_on.clone(),
    )?
    .build()?;
    let copy = datafusion::dataframe::DataFrame::new(state, copy);
    let rows = Planned::frame(copy, label)
        .await?
        .stream()
        .await?
        .single_value::<UInt64Type>()
        .await?
        .unwrap_or(0);
    if rows == 0 && options.partition_on.is_empty() {
        // DataFusion writes no file for no rows; one without rows keeps the columns, so the
        // directory reads back as the frame written.
        let empty = std::fs::File::create(dir.join("part-0.parquet"))?;
        BatchWriter::new(OutputFormat::Parquet, empty, &schema)?.finish()?;
    }
    Ok(rows)
}

/// Uploads every file below `folder` to the same relative key below `target`, completing
/// the uploads only once all have been sent, then deletes what else was below `target`.
async fn upload_folder(folder: &Path, target: &RemoteTarget) -> Result<()> {
    let mut pending = vec![folder.to_path_buf()];
    let (mut uploads, mut keys) = (Vec::new(), Vec::new());
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| target.cannot_write(e))? {
            let path = entry.map_err(|e| target.cannot_write(e))?.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path.strip_prefix(folder).unwrap_or(&path).to_string_lossy();
            let object = target.child(&relative);
            let file = std::fs::File::open(&path).map_err(|e| object.cannot_write(e))?;
            uploads.push(object.send(&file).await?);
            keys.push(object.location().clone());
        }
    }
    last_chance_to_cancel().await;
    for upload in uploads {
        upload.complete().await?;
    }
    target.remove_others(&keys).await
}

/// Writes one file per partition: `pattern`'s `*` becomes the partition number, as in
/// Dask's `to_csv('out-*.csv')`. Every file is staged and renamed only when all succeed.
pub(crate) async fn write_partition_files(
    partitions: Vec<BatchStream>,
    pattern: &Path,
    format: OutputFormat,
) -> Result<u64> {
    let pattern = local_path(pattern);
    let text = pattern.to_string_lossy();
    let (mut staged, mut uploads) = (Vec::new(), Vec::new());
    let mut rows = 0;
    for (index, stream) in partitions.into_iter().enumerate() {
        let destination = PathBuf::from(text.replacen('*', &index.to_string(), 1));
        let stores = stream.object_stores();
        if let Some(target) = remote_target(&destination, stores.as_ref())? {
            let (written, upload) = stream_to(&target, stream, format, &destination).await?;
            rows += written;
            uploads.push(upload);
        } else {
            let file = StagedFile::new(&destination)?;
            rows += stream_into(stream, file.file(), format, &destination).await?;
            staged.push(file);
        }
    }
    last_chance_to_cancel().await;
    for upload in uploads {
        upload.complete().await?;
    }
    for file in staged {
        file.publish()?;
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    fn written(format: OutputFormat, schema: &SchemaRef) -> Vec<u8> {
        let mut out = Vec::new();
        BatchWriter::new(format, &mut out, schema)
            .unwrap()
            .finish()
            .unwrap();
        out
    }

    /// What `to_csv`, `to_json` and `-o` write when a result has no batch at all.
    #[test]
    fn no_batch_still_writes_the_columns() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("id", DataType::Utf8, true),
        ]));
        assert_eq!(written(OutputFormat::Csv, &schema), b"id,id\n");
        assert_eq!(written(OutputFormat::Tsv, &schema), b"id\tid\n");
        assert_eq!(written(OutputFormat::Json, &schema), b"[]\n");
        assert_eq!(written(OutputFormat::NdJson, &schema), b"");
        let arrow = written(OutputFormat::Arrow, &schema);
        let reader =
            datafusion::arrow::ipc::reader::FileReader::try_new(std::io::Cursor::new(arrow), None)
                .unwrap();
        assert_eq!(reader.schema(), schema);
        assert_eq!(reader.count(), 0);
        let mut parquet = tempfile::tempfile().unwrap();
        parquet
            .write_all(&written(OutputFormat::Parquet, &schema))
            .unwrap();
        let reader =
            datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                parquet,
            )
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            datafusion::arrow::array::RecordBatchReader::schema(&reader).fields(),
            schema.fields()
        );
        assert_eq!(reader.count(), 0);
    }

    /// `to_parquet` of a frame without rows leaves a directory that reads back as the frame,
    /// and `to_csv` per partition writes every partition's header.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn frames_without_rows_are_written_with_their_columns() {
        let session = crate::Session::new().unwrap();
        let empty = session
            .sql("SELECT 1 AS n, 'x' AS s WHERE false")
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let parquet = dir.path().join("parquet");
        let written = empty
            .clone()
            .to_parquet(&parquet, &ParquetSink::default())
            .await
            .unwrap();
        assert_eq!(written, 0);
        let back = session
            .read_parquet(parquet.to_str().unwrap())
            .await
            .unwrap();
        assert_eq!(back.columns(), ["n", "s"]);
        assert_eq!(back.dtypes()[0].1, DataType::Int64);
        assert_eq!(back.len().await.unwrap(), 0);

        let pattern = dir.path().join("part-*.csv");
        let written = empty.to_csv(&pattern).await.unwrap();
        assert_eq!(written, 0);
        let first = std::fs::read_to_string(dir.path().join("part-0.csv")).unwrap();
        assert_eq!(first, "n,s\n");
    }

    /// The header is written once, with the first batch, not again at the end.
    #[test]
    fn a_header_is_written_once() {
        let batch = RecordBatch::try_from_iter([(
            "n",
            Arc::new(datafusion::arrow::array::Int64Array::from(vec![1, 2])) as _,
        )])
        .unwrap();
        let mut out = Vec::new();
        let mut writer = BatchWriter::new(OutputFormat::Csv, &mut out, &batch.schema()).unwrap();
        writer.write(&batch).unwrap();
        writer.finish().unwrap();
        assert_eq!(out, b"n\n1\n2\n");
    }
}
