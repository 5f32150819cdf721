//! A table over an explicit list of files, with a schema inferred across all of them.
//!
//! DataFusion's own inference stops after the first file once it has seen enough rows, and CSV
//! columns are then read by position: a second file whose header differs would be read silently
//! wrong. Rask infers every file's schema (a sample of rows each), insists that CSV headers agree,
//! and widens types across files (integers meeting floats become floats, dates meeting
//! timestamps become timestamps) so a glob reads as one table.

use std::io::Read;
use std::sync::Arc;

use datafusion::arrow::csv::reader::Format as CsvInferFormat;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::error::ArrowError;
use datafusion::catalog::TableProvider;
use datafusion::common::config::CsvOptions;
use datafusion::common::{plan_datafusion_err, plan_err, DataFusionError, Result};
use datafusion::common::{Column, ScalarValue};
use datafusion::datasource::file_format::arrow::ArrowFormat;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::datasource::file_format::json::JsonFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig, FileScanConfigBuilder};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::{provider_as_source, ViewTable};
use datafusion::execution::SessionState;
use datafusion::functions::expr_fn::{to_date, to_timestamp};
use datafusion::logical_expr::{cast, col, lit, when, Expr, LogicalPlanBuilder};
use datafusion::physical_plan::{ExecutionPlan, Partitioning};
use futures::{FutureExt, StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;

use crate::cache::{CachedTable, FileCache};
use crate::files::{FileFormatKind, FileSet, SourceFile};
use crate::quotes::{scan_quotes, Dialect};
use crate::remote::{blocking_reader, read_range, sample_reader, store_of};
use crate::sniff::{self, sniff, Given, Sniffed, Temporal};
use crate::stores::{readable_reply, store_error, StorageOptions};

/// Rows sampled from each file to infer its column types.
pub const INFER_ROWS_PER_FILE: usize = 1_000;

/// Bytes of a remote text file read to infer its types: 1,000 rows of all but very wide
/// tables (fewer rows are sampled where they are wider).
const INFER_SAMPLE_BYTES: u64 = crate::remote::SAMPLE_BYTES;

/// How to read a set of files: the options of `read_csv(..)` and friends.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadOptions {
    /// The format; `None` takes it from the file extensions.
    pub format: Option<FileFormatKind>,
    /// CSV field delimiter (default `,`, or tab for `.tsv`).
    pub delimiter: Option<u8>,
    /// Whether CSV files start with a header row (default true).
    pub header: Option<bool>,
    /// CSV quote character (default `"`).
    pub quote: Option<u8>,
    /// CSV escape character (default none: quotes are doubled).
    pub escape: Option<u8>,
    /// Lines starting with this byte are skipped.
    pub comment: Option<u8>,
    /// Strings read as NULL, besides the empty field.
    pub nulls: Vec<String>,
    /// Column types to use instead of inferred ones, by column name.
    pub dtypes: Vec<(String, DataType)>,
    /// Columns to read as timestamps (nanoseconds), as Dask's `parse_dates`.
    pub parse_dates: Vec<String>,
    /// Bytes of input per partition, as Dask's `blocksize`: the files are read in as many
    /// partitions as Dask cuts them into, `ceil(file bytes / blocksize)` per file (files
    /// holding quoted values, or compressed ones, cannot be split below one partition per
    /// file; [`WHOLE_FILES`] reads every file in one). `None` spreads the files over the
    /// session's partitions, as SQL reads them.
    pub blocksize: Option<u64>,
    /// Options of the object store the files are in (`region`, `endpoint`, `anonymous`,
    /// credentials), as Dask's `storage_options`.
    pub storage: StorageOptions,
    /// Read CSV files whose headers differ (columns added, dropped or reordered) as one
    /// table of all their columns by name, those a file lacks NULL; otherwise such files are
    /// refused. Other formats always match columns by name.
    pub union_by_name: bool,
}

/// Builds the table for `files`, inferring and reconciling the schema of every file.
pub async fn file_table(
    state: &SessionState,
    files: &FileSet,
    options: &ReadOptions,
) -> Result<Arc<dyn TableProvider>> {
    let Inferred {
        kind,
        sniffed,
        format,
        schemas,
    } = infer_files(state, files, options).await?;
    let by_position = matches!(kind, FileFormatKind::Csv | FileFormatKind::Tsv);
    if by_position && options.union_by_name {
        let groups = same_columns(files, &schemas);
        if groups.len() > 1 {
            return union_by_name(state, files, groups, options).await;
        }
    }
    let schema = merged_schema(&files.pattern, kind, &schemas, false)?;
    let dates = options.parse_dates.iter().map(|name| {
        (
            name.clone(),
            DataType::Timestamp(TimeUnit::Nanosecond, None),
        )
    });
    let schema = apply_dtypes(
        schema,
        &options
            .dtypes
            .iter()
            .cloned()
            .chain(dates)
            .collect::<Vec<_>>(),
    )?;
    let temporals = match &sniffed {
        Some((dialect, sample)) => temporal_columns(&schema, *dialect, sample, options),
        None => Vec::new(),
    };
    let schema = apply_dtypes(schema, &temporal_types(&temporals, false))?;
    let custom_nulls =
        !options.nulls.is_empty() && matches!(kind, FileFormatKind::Csv | FileFormatKind::Tsv);
    // DataFusion's CSV reader honours the null strings only while inferring, not while
    // reading: read such tables as text and convert, mapping the null strings to NULL. Dates
    // in other formats than ISO's are read as text and parsed.
    let file_schema = if custom_nulls {
        all_text(&schema)
    } else {
        apply_dtypes(Arc::clone(&schema), &temporal_types(&temporals, true))?
    };

    let reader = Arc::clone(&format);
    let listing_options = ListingOptions::new(format)
        // The files are already chosen: accept them whatever their extension.
        .with_file_extension("");
    let config = match crate::hive::layout(files) {
        // Partition values come from the files' paths below the folder, so the folder is
        // the table's one path; its listing keeps to the files' extension.
        Some(hive) => ListingTableConfig::new(ListingTableUrl::parse(hive.folder.as_str())?)
            .with_listing_options(
                listing_options
                    .with_file_extension(hive.extension)
                    .with_table_partition_cols(hive.columns),
            ),
        None => {
            let urls = files
                .files
                .iter()
                .map(SourceFile::listing_url)
                .collect::<Result<Vec<_>>>()?;
            ListingTableConfig::new_with_multi_paths(urls).with_listing_options(listing_options)
        }
    }
    .with_schema(file_schema);
    let mut table: Arc<dyn TableProvider> = Arc::new(ListingTable::try_new(config)?);
    if let Some(blocksize) = options.blocksize {
        table = Arc::new(BlockTable::new(table, blocksize)?);
    }
    let text = matches!(
        kind,
        FileFormatKind::Csv | FileFormatKind::Tsv | FileFormatKind::Json
    );
    if let Some(cache) = FileCache::of(state).filter(|_| text) {
        // Files decoded otherwise (options, column types, partition columns) are cached apart.
        let decoding = format!("{reader:?} {:?}", table.schema());
        table = Arc::new(CachedTable::new(table, cache, decoding));
    }
    if custom_nulls || !temporals.is_empty() {
        let nulls = if custom_nulls {
            &options.nulls[..]
        } else {
            &[]
        };
        converting(table, &schema, nulls, &temporals, &files.pattern)
    } else {
        Ok(table)
    }
}

/// Each file's columns as it would be read with `options` (the CSV dialect sniffed where not
/// given), named as the file is shown: what [`schema_drift`] compares.
pub async fn file_schemas(
    state: &SessionState,
    files: &FileSet,
    options: &ReadOptions,
) -> Result<Vec<(String, SchemaRef)>> {
    Ok(infer_files(state, files, options).await?.schemas)
}

/// What reading `files` with `options` starts from: their format, the CSV dialect (what
/// `options` do not give, sniffed, with the sample it was sniffed from), the reader and each
/// file's schema.
struct Inferred {
    kind: FileFormatKind,
    sniffed: Option<(Sniffed, Vec<u8>)>,
    format: Arc<dyn FileFormat>,
    schemas: Vec<(String, SchemaRef)>,
}

async fn infer_files(
    state: &SessionState,
    files: &FileSet,
    options: &ReadOptions,
) -> Result<Inferred> {
    let compression = files.compression()?;
    let kind = match options.format {
        Some(kind) => kind,
        None => files.format()?.0,
    };
    let sniffed = match kind {
        FileFormatKind::Csv | FileFormatKind::Tsv => {
            Some(sniff_dialect(state, files, kind, compression, options).await?)
        }
        _ => None,
    };
    let dialect = sniffed.as_ref().map(|(dialect, _)| *dialect);
    let format = file_format(state, files, kind, compression, options, dialect).await?;
    let schemas = infer_schemas(state, files, &format).await?;
    Ok(Inferred {
        kind,
        sniffed,
        format,
        schemas,
    })
}

/// How each file's columns differ from the first file's: `same`, or what it adds (with
/// types), lacks, retypes and whether it orders them otherwise.
pub fn schema_drift(schemas: &[(String, SchemaRef)]) -> Vec<String> {
    let Some((_, first)) = schemas.first() else {
        return Vec::new();
    };
    let named = |schema: &SchemaRef| -> Vec<String> {
        schema.fields().iter().map(|f| f.name().clone()).collect()
    };
    let reference = named(first);
    schemas
        .iter()
        .map(|(_, schema)| {
            let mut said = Vec::new();
            let added: Vec<String> = schema
                .fields()
                .iter()
                .filter(|f| first.field_with_name(f.name()).is_err())
                .map(|f| {
                    format!(
                        "{} {}",
                        f.name(),
                        crate::type_names::sql_type_name(f.data_type())
                    )
                })
                .collect();
            if !added.is_empty() {
                said.push(format!("adds {}", added.join(", ")));
            }
            let lacked: Vec<&str> = reference
                .iter()
                .filter(|name| schema.field_with_name(name).is_err())
                .map(String::as_str)
                .collect();
            if !lacked.is_empty() {
                said.push(format!("lacks {}", lacked.join(", ")));
            }
            let retyped: Vec<String> = schema
                .fields()
                .iter()
                .filter_map(|f| {
                    let before = first.field_with_name(f.name()).ok()?;
                    (before.data_type() != f.data_type()).then(|| {
                        format!(
                            "{} is {} (not {})",
                            f.name(),
                            crate::type_names::sql_type_name(f.data_type()),
                            crate::type_names::sql_type_name(before.data_type())
                        )
                    })
                })
                .collect();
            said.extend(retyped);
            let shared: Vec<String> = named(schema)
                .into_iter()
                .filter(|name| reference.contains(name))
                .collect();
            let in_reference_order: Vec<&String> = reference
                .iter()
                .filter(|name| shared.contains(name))
                .collect();
            if shared.iter().collect::<Vec<_>>() != in_reference_order {
                said.push("orders its columns otherwise".to_string());
            }
            if said.is_empty() {
                "same".to_string()
            } else {
                said.join("; ")
            }
        })
        .collect()
}

/// The dialect of CSV `files`: what `options` give, the rest sniffed from the first file's
/// first bytes, which come back too (for [`temporal_columns`]).
async fn sniff_dialect(
    state: &SessionState,
    files: &FileSet,
    kind: FileFormatKind,
    compression: FileCompressionType,
    options: &ReadOptions,
) -> Result<(Sniffed, Vec<u8>)> {
    let given = Given {
        delimiter: options
            .delimiter
            .or((kind == FileFormatKind::Tsv).then_some(b'\t')),
        quote: options.quote,
        escape: options.escape,
        header: options.header,
    };
    let Some(first) = files.files.first() else {
        return Ok((sniff(&[], true, given), Vec::new()));
    };
    let (sample, whole) = read_blocking(state, first, compression, Some(SNIFF_BYTES), |reader| {
        let mut sample = Vec::new();
        reader.take(SNIFF_BYTES + 1).read_to_end(&mut sample)?;
        let whole = sample.len() as u64 <= SNIFF_BYTES;
        sample.truncate(SNIFF_BYTES as usize);
        Ok((sample, whole))
    })
    .await
    .map_err(|e| in_file(&first.shown(), e))?;
    Ok((
        sniff(&sample, whole, given),
        if whole { sample } else { cut_at_line(sample) },
    ))
}

/// Bytes of the first file a CSV dialect and its date formats are guessed from.
const SNIFF_BYTES: u64 = 64 * 1024;

/// `sample` up to its last line break: a sample cut mid-record ends before that record.
fn cut_at_line(mut sample: Vec<u8>) -> Vec<u8> {
    if let Some(last) = sample.iter().rposition(|&b| b == b'\n') {
        sample.truncate(last + 1);
    }
    sample
}

/// Text columns of `schema` whose every sampled value is a date or time in one format other
/// than ISO's (which the reader knows), by name; columns the user typed are left alone.
fn temporal_columns(
    schema: &SchemaRef,
    dialect: Sniffed,
    sample: &[u8],
    options: &ReadOptions,
) -> Vec<(String, Temporal)> {
    let text = String::from_utf8_lossy(sample);
    let records = sniff::records(
        &text,
        true,
        dialect.delimiter,
        dialect.quote,
        dialect.escape,
    );
    let rows = if dialect.header && !records.is_empty() {
        &records[1..]
    } else {
        &records[..]
    };
    let typed_by_user = |name: &str| {
        options.dtypes.iter().any(|(typed, _)| typed == name)
            || options.parse_dates.iter().any(|parsed| parsed == name)
    };
    schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, field)| field.data_type() == &DataType::Utf8 && !typed_by_user(field.name()))
        .filter_map(|(column, field)| {
            let values = rows
                .iter()
                .filter_map(move |row| row.get(column).map(String::as_str));
            sniff::column_format(values).map(|format| (field.name().clone(), format))
        })
        .collect()
}

/// The columns of `temporals` with the type they are read as (`text`) or turned into.
fn temporal_types(temporals: &[(String, Temporal)], text: bool) -> Vec<(String, DataType)> {
    temporals
        .iter()
        .map(|(name, temporal)| {
            let data_type = match temporal {
                _ if text => DataType::Utf8,
                Temporal::Date(_) => DataType::Date32,
                Temporal::Timestamp(_) => DataType::Timestamp(TimeUnit::Nanosecond, None),
            };
            (name.clone(), data_type)
        })
        .collect()
}

/// `blocksize` that reads each file whole, in one partition (Dask's `read_parquet`, and
/// `read_csv(blocksize=None)`).
pub const WHOLE_FILES: u64 = u64::MAX;

/// A file table read in Dask's partitions rather than the session's: each file cut into
/// blocks of `blocksize` bytes, its own last block shorter, one partition per block (one per
/// file where a file cannot be cut: compressed, or CSV with quoted values).
#[derive(Debug)]
pub struct BlockTable {
    inner: Arc<dyn TableProvider>,
    blocksize: u64,
}

impl BlockTable {
    /// `inner` read in blocks of `blocksize` bytes ([`WHOLE_FILES`]: a file per partition).
    pub fn new(inner: Arc<dyn TableProvider>, blocksize: u64) -> Result<Self> {
        if blocksize == 0 {
            return plan_err!("blocksize must be at least 1 byte");
        }
        Ok(BlockTable { inner, blocksize })
    }

    /// The file table read.
    pub fn inner(&self) -> &Arc<dyn TableProvider> {
        &self.inner
    }

    /// Bytes per partition.
    pub fn blocksize(&self) -> u64 {
        self.blocksize
    }
}

#[async_trait::async_trait]
impl TableProvider for BlockTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> datafusion::logical_expr::TableType {
        self.inner.table_type()
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<datafusion::logical_expr::TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        session: &dyn datafusion::catalog::Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let plan = self.inner.scan(session, projection, filters, limit).await?;
        Ok(in_blocks(&plan, self.blocksize).unwrap_or(plan))
    }
}

/// `plan`, a file scan, regrouped into one partition per block, in the files' order; the
/// partitioning is declared so the physical optimizer does not merge or split the blocks
/// into the session's partitions again. `None` when `plan` is not a file scan.
fn in_blocks(plan: &Arc<dyn ExecutionPlan>, blocksize: u64) -> Option<Arc<dyn ExecutionPlan>> {
    let scan = plan.downcast_ref::<DataSourceExec>()?;
    let config = scan.data_source().downcast_ref::<FileScanConfig>()?;
    let splittable = !config.file_compression_type.is_compressed()
        && config.file_source().supports_repartitioning();
    let blocksize = if splittable { blocksize } else { WHOLE_FILES };
    let groups: Vec<FileGroup> = config
        .file_groups
        .iter()
        .flat_map(FileGroup::iter)
        .flat_map(|file| blocks(file, blocksize))
        .map(|block| FileGroup::new(vec![block]))
        .collect();
    if groups.is_empty() {
        return None;
    }
    let partitioning = Partitioning::UnknownPartitioning(groups.len());
    let config = FileScanConfigBuilder::from(config.clone())
        .with_file_groups(groups)
        .with_output_partitioning(Some(partitioning))
        .build();
    Some(DataSourceExec::from_data_source(config))
}

/// `file` as Dask cuts it: `blocksize` bytes from each multiple of `blocksize`.
fn blocks(file: &PartitionedFile, blocksize: u64) -> Vec<PartitionedFile> {
    let (start, end) = file.range();
    if end - start <= blocksize {
        return vec![file.clone()];
    }
    (start..end)
        .step_by(usize::try_from(blocksize).unwrap_or(usize::MAX))
        .map(|from| {
            let to = from.saturating_add(blocksize).min(end);
            file.clone().with_range(from as i64, to as i64)
        })
        .collect()
}

fn all_text(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_data_type(DataType::Utf8))
        .collect();
    Arc::new(Schema::new(fields))
}

/// A view over `table` read with some columns as text: each column's `nulls` strings become
/// NULL (all columns are text then), and the columns of `temporals` are parsed in their
/// format; the rest is cast to the column's type in `schema`.
fn converting(
    table: Arc<dyn TableProvider>,
    schema: &SchemaRef,
    nulls: &[String],
    temporals: &[(String, Temporal)],
    pattern: &str,
) -> Result<Arc<dyn TableProvider>> {
    let null_literals: Vec<Expr> = nulls.iter().map(|n| lit(n.as_str())).collect();
    let conversions = schema.fields().iter().map(|field| {
        let text = col(Column::from_name(field.name()));
        let parsed = match temporals.iter().find(|(name, _)| name == field.name()) {
            Some((_, Temporal::Date(format))) => to_date(vec![text.clone(), lit(*format)]),
            Some((_, Temporal::Timestamp(format))) => {
                to_timestamp(vec![text.clone(), lit(*format)])
            }
            None if nulls.is_empty() => text.clone(),
            None => cast(text.clone(), field.data_type().clone()),
        };
        if nulls.is_empty() {
            return Ok(parsed.alias(field.name()));
        }
        let typed_null = lit(ScalarValue::try_from(field.data_type())?);
        Ok(when(text.in_list(null_literals.clone(), false), typed_null)
            .otherwise(parsed)?
            .alias(field.name()))
    });
    let plan = LogicalPlanBuilder::scan(pattern, provider_as_source(table), None)?
        .project(conversions.collect::<Result<Vec<_>>>()?)?
        .build()?;
    Ok(Arc::new(ViewTable::new(plan, None)))
}

async fn file_format(
    state: &SessionState,
    files: &FileSet,
    kind: FileFormatKind,
    compression: FileCompressionType,
    options: &ReadOptions,
    sniffed: Option<Sniffed>,
) -> Result<Arc<dyn FileFormat>> {
    let defaults = state.default_table_options();
    Ok(match kind {
        FileFormatKind::Csv | FileFormatKind::Tsv => {
            let Some(sniffed) = sniffed else {
                return plan_err!("a CSV file's dialect was not worked out before reading");
            };
            let dialect = Dialect {
                delimiter: sniffed.delimiter,
                quote: sniffed.quote,
                escape: sniffed.escape,
                comment: options.comment,
            };
            let quoted = may_quote(state, files, dialect.quote, compression).await;
            if quoted {
                check_quotes_close(state, files, dialect, compression).await?;
            }
            let watched = (!quoted).then_some(dialect);
            for file in &files.files {
                let store_url = file.store_url()?;
                let location = file.location();
                crate::quotes::watch(
                    store_url.as_str(),
                    &location,
                    file.shown(),
                    watched,
                    compression,
                );
            }
            let mut format = CsvFormat::default()
                .with_options(defaults.csv)
                .with_has_header(sniffed.header)
                .with_delimiter(dialect.delimiter)
                .with_quote(dialect.quote)
                .with_escape(dialect.escape)
                .with_comment(dialect.comment)
                .with_schema_infer_max_rec(INFER_ROWS_PER_FILE)
                .with_file_compression_type(compression)
                .with_newlines_in_values(quoted);
            if !options.nulls.is_empty() {
                format = format.with_null_regex(Some(null_regex(&options.nulls)));
            }
            Arc::new(format)
        }
        FileFormatKind::Parquet => {
            if compression.is_compressed() {
                return plan_err!(
                    "Parquet files compress internally; they cannot also be gzip/zstd files"
                );
            }
            Arc::new(ParquetFormat::default().with_options(defaults.parquet))
        }
        FileFormatKind::Json => Arc::new(
            JsonFormat::default()
                .with_schema_infer_max_rec(INFER_ROWS_PER_FILE)
                .with_file_compression_type(compression),
        ),
        FileFormatKind::Arrow => {
            if compression.is_compressed() {
                return plan_err!("Arrow IPC files cannot be read through gzip/zstd compression");
            }
            Arc::new(ArrowFormat)
        }
    })
}

/// Bytes sampled from the start of each CSV file to look for quoting.
pub(crate) const QUOTE_SAMPLE_BYTES: u64 = 64 * 1024;

/// Whether any file quotes values, as far as its first bytes tell. A quoted value may hold a
/// newline, and then a file cannot be split into byte ranges at newlines for parallel
/// reading; files without quotes (most numeric exports) keep the faster split read.
async fn may_quote(
    state: &SessionState,
    files: &FileSet,
    quote: u8,
    compression: FileCompressionType,
) -> bool {
    // Several files at a time: each remote sample is a request.
    for files in files.files.chunks(8) {
        let sampled = files
            .iter()
            .map(|file| quoted_sample(state, file, quote, compression));
        let sampled = futures::future::join_all(sampled).await;
        if sampled.into_iter().any(|quoted| quoted.unwrap_or(true)) {
            return true;
        }
    }
    false
}

/// Whether the first bytes of `file` hold `quote`.
async fn quoted_sample(
    state: &SessionState,
    file: &SourceFile,
    quote: u8,
    compression: FileCompressionType,
) -> Result<bool> {
    let sample = Some(QUOTE_SAMPLE_BYTES);
    read_blocking(state, file, compression, sample, move |reader| {
        let mut sample = Vec::new();
        reader.take(QUOTE_SAMPLE_BYTES).read_to_end(&mut sample)?;
        Ok(sample.contains(&quote))
    })
    .await
}

/// Runs `read` over the (decompressed) bytes of `file` on a blocking thread; remote files
/// stream in as they are read. `read` needs only the lines in the first `sample` bytes,
/// when given.
async fn read_blocking<T: Send + 'static>(
    state: &SessionState,
    file: &SourceFile,
    compression: FileCompressionType,
    sample: Option<u64>,
    read: impl FnOnce(Box<dyn Read + Send>) -> Result<T> + Send + 'static,
) -> Result<T> {
    let reader = match sample {
        Some(bytes) if !compression.is_compressed() => sample_reader(state, file, bytes).await?,
        _ => blocking_reader(state, file).await?,
    };
    tokio::task::spawn_blocking(move || read(compression.convert_read(reader)?))
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))?
}

/// Fails on the first file with a quoted field that is never closed (see [`crate::quotes`]).
async fn check_quotes_close(
    state: &SessionState,
    files: &FileSet,
    dialect: Dialect,
    compression: FileCompressionType,
) -> Result<()> {
    for file in &files.files {
        let shown = file.shown();
        let unreadable = {
            let shown = shown.clone();
            move |e: std::io::Error| {
                DataFusionError::IoError(std::io::Error::new(
                    e.kind(),
                    format!("cannot read '{shown}': {e}"),
                ))
            }
        };
        let open = read_blocking(state, file, compression, None, move |reader| {
            scan_quotes(reader, dialect).map_err(unreadable)
        })
        .await?;
        if let Some(open) = open.unclosed {
            return Err(DataFusionError::ArrowError(
                Box::new(ArrowError::CsvError(open.never_closed(&shown))),
                None,
            ));
        }
    }
    Ok(())
}

/// A regex matching the empty field and each of `nulls` exactly.
fn null_regex(nulls: &[String]) -> String {
    let alternatives: Vec<String> = nulls.iter().map(|n| regex::escape(n)).collect();
    format!("^(?:{})?$", alternatives.join("|"))
}

/// Each file's schema, inferred from its first rows (named as it is shown).
async fn infer_schemas(
    state: &SessionState,
    files: &FileSet,
    format: &Arc<dyn FileFormat>,
) -> Result<Vec<(String, SchemaRef)>> {
    futures::stream::iter(files.files.iter().cloned())
        .map(|file| {
            let shown = file.shown();
            let inferred = async move {
                let file = &file;
                let any: &dyn std::any::Any = format.as_ref();
                let schema = match any.downcast_ref::<CsvFormat>() {
                    // DataFusion's CSV inference cuts the file at newlines before parsing
                    // and so misreads quoted values that span lines; arrow's reader parses
                    // the file as a stream.
                    Some(csv) => {
                        let options = csv.options().clone();
                        let compression = FileCompressionType::from(options.compression);
                        let infer = |sample| {
                            let options = options.clone();
                            read_blocking(state, file, compression, sample, move |reader| {
                                infer_csv(reader, &options)
                            })
                        };
                        // A sample cut inside a quoted value that spans lines cannot be
                        // parsed: the whole file then.
                        match infer(Some(INFER_SAMPLE_BYTES)).await {
                            Ok(schema) => Ok(schema),
                            Err(_) => infer(None).await,
                        }
                    }
                    None => {
                        if any.is::<ArrowFormat>() {
                            check_arrow_lengths(state, file).await?;
                        }
                        let store = store_of(state, file)?;
                        let started = std::time::Instant::now();
                        let meta = match file.listed_meta() {
                            Some(meta) => meta,
                            None => store
                                .head(&file.location())
                                .await
                                .map_err(|e| store_error(&file.shown(), e, started))?,
                        };
                        format.infer_schema(state, &store, &[meta]).await
                    }
                }
                .map_err(|e| in_file(&file.shown(), e))?;
                Ok::<_, DataFusionError>((file.shown(), schema))
            };
            named_if_it_panics(shown, inferred)
        })
        .buffered(8)
        .try_collect()
        .await
}

/// The schema of a table over files of `schemas`, checked for size.
fn merged_schema(
    pattern: &str,
    kind: FileFormatKind,
    schemas: &[(String, SchemaRef)],
    union_by_name: bool,
) -> Result<SchemaRef> {
    let schema = merge_schemas(pattern, kind, schemas, union_by_name)?;
    if schema.fields().len() > MAX_COLUMNS {
        return plan_err!(
            "'{pattern}' has {} columns, more than the {MAX_COLUMNS} a table may have",
            schema.fields().len()
        );
    }
    Ok(Arc::new(schema))
}

/// The files of `files` grouped by their columns (names in order), groups in the order of
/// their first file; empty files join the first group.
fn same_columns(files: &FileSet, schemas: &[(String, SchemaRef)]) -> Vec<Vec<SourceFile>> {
    let mut groups: Vec<(Vec<String>, Vec<SourceFile>)> = Vec::new();
    for (file, (_, schema)) in files.files.iter().zip(schemas) {
        let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let group = if names.is_empty() {
            groups.first_mut()
        } else {
            groups.iter_mut().find(|(columns, _)| *columns == names)
        };
        match group {
            Some((_, members)) => members.push(file.clone()),
            None => groups.push((names, vec![file.clone()])),
        }
    }
    groups.into_iter().map(|(_, members)| members).collect()
}

/// CSV files whose headers differ read as one table: each group of files with the same
/// columns read as usual, and the groups put together by column name, in the order the
/// columns first appear, a column a group lacks NULL and types widened as across files.
async fn union_by_name(
    state: &SessionState,
    files: &FileSet,
    groups: Vec<Vec<SourceFile>>,
    options: &ReadOptions,
) -> Result<Arc<dyn TableProvider>> {
    let each = ReadOptions {
        union_by_name: false,
        ..options.clone()
    };
    let mut tables = Vec::with_capacity(groups.len());
    for group in groups {
        let shown = group.first().map(SourceFile::shown).unwrap_or_default();
        let group = FileSet {
            pattern: files.pattern.clone(),
            files: group,
        };
        tables.push((shown, Box::pin(file_table(state, &group, &each)).await?));
    }
    let schemas: Vec<(String, SchemaRef)> = tables
        .iter()
        .map(|(shown, table)| (shown.clone(), table.schema()))
        .collect();
    let schema = merged_schema(&files.pattern, FileFormatKind::Csv, &schemas, true)?;
    let mut union: Option<LogicalPlanBuilder> = None;
    for (_, table) in tables {
        let present = table.schema();
        let columns = schema.fields().iter().map(|field| {
            let value = if present.field_with_name(field.name()).is_ok() {
                cast(
                    col(Column::from_name(field.name())),
                    field.data_type().clone(),
                )
            } else {
                lit(ScalarValue::try_from(field.data_type())?)
            };
            Ok(value.alias(field.name()))
        });
        let plan =
            LogicalPlanBuilder::scan(files.pattern.as_str(), provider_as_source(table), None)?
                .project(columns.collect::<Result<Vec<_>>>()?)?
                .build()?;
        union = Some(match union {
            None => LogicalPlanBuilder::from(plan),
            Some(before) => before.union(plan)?,
        });
    }
    let Some(union) = union else {
        return plan_err!("'{}' has no files to read", files.pattern);
    };
    Ok(Arc::new(ViewTable::new(union.build()?, None)))
}

/// The most columns a file table may have. Planning costs memory per column (about 140 KB
/// of it in a debug build): 100,000 columns would take gigabytes before reading a row.
pub const MAX_COLUMNS: usize = 10_000;

/// Infers one CSV file's schema from its first [`INFER_ROWS_PER_FILE`] records. Columns
/// without a single value come out as `Null`, so that other files decide their type.
fn infer_csv(reader: impl Read, options: &CsvOptions) -> Result<SchemaRef> {
    let mut format = CsvInferFormat::default()
        .with_header(options.has_header.unwrap_or(true))
        .with_delimiter(options.delimiter)
        .with_quote(options.quote);
    if let Some(escape) = options.escape {
        format = format.with_escape(escape);
    }
    if let Some(comment) = options.comment {
        format = format.with_comment(comment);
    }
    if let Some(pattern) = &options.null_regex {
        let regex = regex::Regex::new(pattern)
            .map_err(|e| plan_datafusion_err!("invalid null pattern '{pattern}': {e}"))?;
        format = format.with_null_regex(regex);
    }
    let (schema, records) = format.infer_schema(reader, Some(INFER_ROWS_PER_FILE))?;
    if records > 0 {
        return Ok(Arc::new(schema));
    }
    let untyped: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_data_type(DataType::Null))
        .collect();
    Ok(Arc::new(Schema::new(untyped)))
}

/// Rewrites an inference failure as one line naming the file (and line, for a malformed row).
/// Refuses an Arrow IPC file whose footer or first message claims more bytes than the file
/// has. Arrow's readers allocate what those lengths say before reading, so a truncated file
/// (its footer length read from the middle of the data) costs gigabytes, then fails.
async fn check_arrow_lengths(state: &SessionState, file: &SourceFile) -> Result<()> {
    const MAGIC: &[u8] = b"ARROW1";
    let size = file.size;
    let head = read_range(state, file, 0..8).await?;
    let damaged = |what: &str| {
        plan_err!(
            "cannot read '{}': the Arrow file is damaged: {what}",
            file.shown()
        )
    };
    if head.starts_with(MAGIC) {
        // The file format: data, then the footer, its length and the magic again.
        if size < 2 * MAGIC.len() as u64 + 6 {
            return damaged("it is too short");
        }
        let tail = read_range(state, file, size - 10..size).await?;
        // Shorter than asked when the file shrank since it was listed.
        if tail.len() != 10 || &tail[4..] != MAGIC {
            return damaged("it ends before its footer (truncated)");
        }
        let footer = i32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
        if footer < 0 || footer as u64 + 10 + 8 > size {
            return damaged("its footer length exceeds the file");
        }
    } else {
        // The stream format: each message's metadata length after a continuation marker
        // (or, in files written before the marker, alone).
        let (length, prefix) = match *head {
            _ if head.len() < 8 => return damaged("it is too short"),
            [0xff, 0xff, 0xff, 0xff, a, b, c, d] => (i32::from_le_bytes([a, b, c, d]), 8),
            [a, b, c, d, ..] => (i32::from_le_bytes([a, b, c, d]), 4),
            [..] => return damaged("it is too short"),
        };
        if length < 0 || length as u64 + prefix > size {
            return damaged("its first message's length exceeds the file");
        }
    }
    Ok(())
}

/// Readers of damaged files still panic now and then (a Parquet footer longer than the
/// file): that is one more damaged file, which the error must name.
async fn named_if_it_panics<T>(
    file: String,
    reading: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match std::panic::AssertUnwindSafe(reading).catch_unwind().await {
        Ok(read) => read,
        Err(panic) => Err(damaged(&file, panic.as_ref())),
    }
}

/// The error for a file whose reader panicked on it.
fn damaged(file: &str, panic: &(dyn std::any::Any + Send)) -> DataFusionError {
    let said = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    DataFusionError::Plan(format!(
        "cannot read '{file}': the file is damaged ({said})"
    ))
}

fn in_file(file: &str, err: DataFusionError) -> DataFusionError {
    let root = err.find_root().to_string();
    let row = regex::Regex::new(r"Expected (\d+) records, found (\d+) records at line (\d+)")
        .ok()
        .and_then(|re| re.captures(&root));
    let message = match row {
        Some(c) => format!(
            "{}:{}: malformed CSV row: expected {} fields, found {}",
            file, &c[3], &c[1], &c[2]
        ),
        None => {
            // Keep only the innermost cause: "Generic read failed error: IO error: X" → "X",
            // without DataFusion's request for a bug report where a reader took a damaged
            // file for a bug.
            let cause = root.rsplit("error: ").next().unwrap_or(&root);
            let cause = cause
                .split("This issue was likely caused by a bug")
                .next()
                .unwrap_or(cause)
                .trim_end_matches(|c: char| c.is_whitespace() || c == '.');
            format!("cannot read '{file}': {}", readable_reply(cause))
        }
    };
    DataFusionError::Plan(message)
}

/// Reconciles the schemas of all files of one table; see the module docs for the rules.
pub fn merge_schemas(
    pattern: &str,
    kind: FileFormatKind,
    schemas: &[(String, SchemaRef)],
    union_by_name: bool,
) -> Result<Schema> {
    let text = matches!(kind, FileFormatKind::Csv | FileFormatKind::Tsv);
    let by_position = text && !union_by_name;
    let mut fields: Vec<(Field, &str)> = Vec::new();
    let mut first: Option<(&str, &SchemaRef)> = None;
    for (file, schema) in schemas {
        // An empty file says nothing about the columns.
        if schema.fields().is_empty() {
            continue;
        }
        if by_position {
            if let Some((first_file, first_schema)) = first {
                let names = |s: &Schema| {
                    s.fields()
                        .iter()
                        .map(|f| f.name().clone())
                        .collect::<Vec<_>>()
                };
                if names(first_schema) != names(schema) {
                    return plan_err!(
                        "the files of '{pattern}' disagree on columns: '{}' has ({}) but '{}' has ({}); \
                         union_by_name => true reads them together by name",
                        first_file,
                        names(first_schema).join(", "),
                        file,
                        names(schema).join(", ")
                    );
                }
            } else {
                first = Some((file.as_str(), schema));
            }
        }
        for field in schema.fields() {
            match fields.iter_mut().find(|(f, _)| f.name() == field.name()) {
                None => fields.push((field.as_ref().clone().with_nullable(true), file.as_str())),
                Some((existing, seen_in)) => {
                    let widened =
                        widen(existing.data_type(), field.data_type(), text).ok_or_else(|| {
                            plan_datafusion_err!(
                                "column '{}' is {} in '{}' but {} in '{}'",
                                field.name(),
                                existing.data_type(),
                                seen_in,
                                field.data_type(),
                                file
                            )
                        })?;
                    *existing = existing.clone().with_data_type(widened);
                }
            }
        }
    }
    let fields: Vec<Field> = fields
        .into_iter()
        .map(|(field, _)| match field.data_type() {
            // A column that is empty in every sampled row is read as text, as DuckDB does.
            DataType::Null => field.with_data_type(DataType::Utf8),
            _ => field,
        })
        .collect();
    Ok(Schema::new(fields))
}

/// The type that holds values of both `a` and `b`; `None` when they cannot share a column.
/// Text files (`lenient`) fall back to strings, as a CSV reader must.
fn widen(a: &DataType, b: &DataType, lenient: bool) -> Option<DataType> {
    use DataType::*;
    let finer = |u: &TimeUnit, v: &TimeUnit| {
        let rank = |t: &TimeUnit| match t {
            TimeUnit::Second => 0,
            TimeUnit::Millisecond => 1,
            TimeUnit::Microsecond => 2,
            TimeUnit::Nanosecond => 3,
        };
        if rank(u) >= rank(v) {
            *u
        } else {
            *v
        }
    };
    Some(match (a, b) {
        _ if a == b => a.clone(),
        (Null, other) | (other, Null) => other.clone(),
        (Int64, Float64) | (Float64, Int64) => Float64,
        (Timestamp(u, tz), Timestamp(v, tz2)) if tz == tz2 => Timestamp(finer(u, v), tz.clone()),
        (Date32, Timestamp(u, tz)) | (Timestamp(u, tz), Date32) => Timestamp(*u, tz.clone()),
        _ if lenient => Utf8,
        _ => return None,
    })
}

fn apply_dtypes(schema: SchemaRef, dtypes: &[(String, DataType)]) -> Result<SchemaRef> {
    if dtypes.is_empty() {
        return Ok(schema);
    }
    for (name, _) in dtypes {
        if schema.field_with_name(name).is_err() {
            return plan_err!(
                "dtype given for unknown column '{name}'; the columns are: {}",
                schema
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(
            |field| match dtypes.iter().find(|(name, _)| name == field.name()) {
                Some((_, data_type)) => field.as_ref().clone().with_data_type(data_type.clone()),
                None => field.as_ref().clone(),
            },
        )
        .collect();
    Ok(Arc::new(Schema::new(fields)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(fields: &[(&str, DataType)]) -> SchemaRef {
        Arc::new(Schema::new(
            fields
                .iter()
                .map(|(n, t)| Field::new(*n, t.clone(), true))
                .collect::<Vec<_>>(),
        ))
    }

    #[test]
    fn drift_says_what_each_file_adds_lacks_and_retypes() {
        let schema = |fields: &[(&str, DataType)]| -> SchemaRef {
            Arc::new(Schema::new(
                fields
                    .iter()
                    .map(|(name, t)| Field::new(*name, t.clone(), true))
                    .collect::<Vec<_>>(),
            ))
        };
        let files = [
            (
                "a",
                schema(&[("id", DataType::Int64), ("v", DataType::Float64)]),
            ),
            (
                "b",
                schema(&[("id", DataType::Int64), ("v", DataType::Float64)]),
            ),
            (
                "c",
                schema(&[
                    ("v", DataType::Utf8),
                    ("id", DataType::Int64),
                    ("w", DataType::Date32),
                ]),
            ),
            ("d", schema(&[("id", DataType::Int64)])),
        ]
        .map(|(name, schema)| (name.to_string(), schema));
        assert_eq!(
            schema_drift(&files),
            [
                "same",
                "same",
                "adds w date; v is varchar (not double); orders its columns otherwise",
                "lacks v"
            ]
        );
    }

    #[test]
    fn csv_types_widen_across_files() {
        let ts = |u| DataType::Timestamp(u, None);
        let files = vec![
            (
                String::from("a.csv"),
                schema(&[
                    ("k", DataType::Int64),
                    ("t", DataType::Date32),
                    ("n", DataType::Null),
                ]),
            ),
            (String::from("empty.csv"), schema(&[])),
            (
                String::from("b.csv"),
                schema(&[
                    ("k", DataType::Float64),
                    ("t", ts(TimeUnit::Second)),
                    ("n", DataType::Null),
                ]),
            ),
            (
                String::from("c.csv"),
                schema(&[
                    ("k", DataType::Int64),
                    ("t", ts(TimeUnit::Millisecond)),
                    ("n", DataType::Null),
                ]),
            ),
        ];
        let merged = merge_schemas("*.csv", FileFormatKind::Csv, &files, false).unwrap();
        let types: Vec<_> = merged
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        assert_eq!(
            types,
            [DataType::Float64, ts(TimeUnit::Millisecond), DataType::Utf8]
        );
    }

    #[test]
    fn csv_headers_must_agree() {
        let files = vec![
            (
                String::from("a.csv"),
                schema(&[("x", DataType::Int64), ("y", DataType::Int64)]),
            ),
            (
                String::from("b.csv"),
                schema(&[("y", DataType::Int64), ("x", DataType::Int64)]),
            ),
        ];
        let err = merge_schemas("*.csv", FileFormatKind::Csv, &files, false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("disagree on columns") && err.contains("b.csv") && err.contains("(y, x)"),
            "{err}"
        );
    }

    #[test]
    fn parquet_type_conflicts_name_both_files() {
        let files = vec![
            (String::from("a.parquet"), schema(&[("x", DataType::Int64)])),
            (
                String::from("b.parquet"),
                schema(&[("x", DataType::Utf8), ("z", DataType::Int32)]),
            ),
        ];
        let err = merge_schemas("*", FileFormatKind::Parquet, &files, false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'x' is Int64 in 'a.parquet' but Utf8 in 'b.parquet'"),
            "{err}"
        );
    }

    #[test]
    fn null_strings_become_an_anchored_regex() {
        assert_eq!(
            null_regex(&["NA".into(), "n/a".into(), "?".into()]),
            r"^(?:NA|n/a|\?)?$"
        );
    }
}
