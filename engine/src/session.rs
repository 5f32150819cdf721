//! The [`Session`]: where tables live and queries run.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{DdlStatement, LogicalPlan};
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{DFParserBuilder, Statement};
use datafusion::sql::sqlparser::parser::ParserError;
use rask_planner::argument_types::argument_type_error;
use rask_planner::cache::FileCache;
use rask_planner::files::FileFormatKind;
use rask_planner::functions::TableFunctions;
use rask_planner::listing::{ReadOptions, WHOLE_FILES};
use rask_planner::nesting::{check_parsed, check_tokens, too_deep, PARSER_RECURSION_LIMIT};
use rask_planner::repeated_names::{plan_with_repeated_names, RepeatedNames};
use rask_planner::scans::file_scans;
use rask_planner::timeseries::{TimeseriesParams, TimeseriesTable};

use crate::cluster::{self, cluster_info, ClusterInfo, LocalCluster};
use crate::config::SessionBuilder;
use crate::dataframe::DataFrame;
use crate::error::{Error, Result};
use crate::execution::Planned;
use crate::monitor::QueryLog;
use crate::scratch::ScratchDir;

/// `dd.read_csv`'s default `blocksize`.
const DASK_CSV_BLOCKSIZE: u64 = 64 << 20;

impl SessionBuilder {
    /// Creates the session.
    pub fn build(self) -> Result<Session> {
        let spill = self.spill_scratch()?;
        let (config, runtime) = self.settings(Some(&spill))?;
        let config = config.with_extension(Arc::new(self.file_cache_for(&runtime, &spill)));
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        Session::from_context(ctx, self.memory_limit_bytes(), None, Some(spill))
    }

    /// Creates a session whose queries run on the Ballista cluster whose scheduler is at
    /// `url` (`df://host:port`), as Dask's `Client('host:8786')`. Fails within a few seconds
    /// when no scheduler answers there. The partitions, batch size and memory settings apply
    /// to the plans the cluster runs.
    pub async fn connect(self, url: &str) -> Result<Session> {
        self.on_cluster(url, None).await
    }

    /// Starts a [`LocalCluster`] of `n_workers` worker processes, each running
    /// `threads_per_worker` tasks at once under `memory_limit` bytes, and connects to it, as
    /// Dask's `Client(LocalCluster(n_workers, threads_per_worker, memory_limit))`. The
    /// workers stop when the last clone of the session is dropped.
    pub async fn local_cluster(
        self,
        n_workers: usize,
        threads_per_worker: usize,
        memory_limit: Option<u64>,
    ) -> Result<Session> {
        let cluster = LocalCluster::start(n_workers, threads_per_worker, memory_limit).await?;
        let url = cluster.url().to_string();
        self.on_cluster(&url, Some(cluster)).await
    }

    async fn on_cluster(self, url: &str, local: Option<LocalCluster>) -> Result<Session> {
        let address = cluster::scheduler_address(url)?;
        cluster::cluster_info(url).await?;
        let (config, runtime) = self.settings(None)?;
        let ctx = cluster::cluster_state(&address, config, runtime).await?;
        let link = ClusterLink {
            url: format!("df://{address}"),
            local,
        };
        Session::from_context(ctx, self.memory_limit_bytes(), Some(link), None)
    }
}

/// A Rask session: settings, registered tables and views, and the engine that runs queries.
/// Cloning it is cheap and shares everything.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let session = rask::Session::new().unwrap();
/// let rows = session
///     .sql("SELECT count(*) AS n FROM timeseries('2000-01-01', '2000-01-02', '1min')")
///     .await
///     .unwrap()
///     .collect()
///     .await
///     .unwrap();
/// assert_eq!(rask::pretty_format(&rows).unwrap().lines().nth(3).unwrap(), "| 1440 |");
/// # });
/// ```
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    ctx: SessionContext,
    functions: Arc<TableFunctions>,
    memory_limit: Option<usize>,
    cluster: Option<ClusterLink>,
    /// Where this session's queries spill, removed with the session.
    spill: Option<ScratchDir>,
}

/// The cluster a session runs on.
pub(crate) struct ClusterLink {
    /// The scheduler, `df://host:port`.
    pub(crate) url: String,
    /// The cluster the session started, stopped with it.
    pub(crate) local: Option<LocalCluster>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("partitions", &self.partitions())
            .field("memory_limit", &self.inner.memory_limit)
            .field("cluster", &self.cluster_url())
            .finish()
    }
}

impl Session {
    /// A session with the default settings (see [`SessionBuilder`]).
    pub fn new() -> Result<Session> {
        SessionBuilder::default().build()
    }

    /// Starts configuring a session.
    pub fn builder() -> SessionBuilder {
        SessionBuilder::default()
    }

    /// A session whose queries run on the Ballista cluster whose scheduler is at `url`
    /// (`df://host:port`), with the default settings; see [`SessionBuilder::connect`].
    pub async fn connect(url: &str) -> Result<Session> {
        SessionBuilder::default().connect(url).await
    }

    /// A session on a new cluster of worker processes on this machine; see
    /// [`SessionBuilder::local_cluster`].
    pub async fn local_cluster(
        n_workers: usize,
        threads_per_worker: usize,
        memory_limit: Option<u64>,
    ) -> Result<Session> {
        SessionBuilder::default()
            .local_cluster(n_workers, threads_per_worker, memory_limit)
            .await
    }

    pub(crate) fn from_context(
        ctx: SessionContext,
        memory_limit: Option<usize>,
        cluster: Option<ClusterLink>,
        spill: Option<ScratchDir>,
    ) -> Result<Session> {
        crate::panics::install_hook();
        crate::partitioned::register_builtin_partition_functions();
        let (ctx, functions) = rask_planner::install(ctx, cluster.is_none())?;
        let budget = memory_limit.unwrap_or_else(crate::config::machine_share);
        for function in rask_planner::sized::sized_functions(budget) {
            ctx.register_udf(function);
        }
        Ok(Session {
            inner: Arc::new(Inner {
                ctx,
                functions,
                memory_limit,
                cluster,
                spill,
            }),
        })
    }

    /// The directory this session's spill files go to, removed with the session; `None` on
    /// a cluster, whose workers spill.
    pub fn spill_dir(&self) -> Option<&std::path::Path> {
        self.inner.spill.as_ref().map(ScratchDir::path)
    }

    /// The scheduler queries run on (`df://host:port`), or `None` when they run here.
    pub fn cluster_url(&self) -> Option<&str> {
        self.inner.cluster.as_ref().map(|c| c.url.as_str())
    }

    /// The worker processes of the session's [`LocalCluster`], if it started one.
    pub fn local_cluster_pids(&self) -> Vec<u32> {
        self.inner
            .cluster
            .as_ref()
            .and_then(|c| c.local.as_ref())
            .map(LocalCluster::worker_pids)
            .unwrap_or_default()
    }

    /// The workers of the cluster the session runs on, their slots and memory, as Dask's
    /// `client.scheduler_info()`.
    pub async fn cluster_info(&self) -> Result<ClusterInfo> {
        match self.cluster_url() {
            Some(url) => cluster_info(url).await,
            None => Err(Error::plan(
                "this session runs on this machine, not on a cluster",
            )),
        }
    }

    /// The DataFusion context underneath, for what Rask does not wrap.
    pub fn context(&self) -> &SessionContext {
        &self.inner.ctx
    }

    /// How many partitions queries run in.
    pub fn partitions(&self) -> usize {
        self.inner.ctx.state().config().target_partitions()
    }

    /// The queries this session runs and last ran, with their progress and metrics.
    pub fn queries(&self) -> Arc<QueryLog> {
        self.inner
            .ctx
            .state()
            .config()
            .get_extension::<QueryLog>()
            .unwrap_or_default()
    }

    /// The cache of decoded CSV and JSON files (see [`rask_planner::cache`]); `None` on a
    /// cluster, whose workers read the files.
    pub fn file_cache(&self) -> Option<Arc<FileCache>> {
        self.inner.ctx.state().config().get_extension::<FileCache>()
    }

    /// The files the file cache holds, most recently used first: `file`, the byte `range`
    /// cached when a file is read in parts, and the `columns`, `rows`, `bytes`, where they
    /// are `kept` (`memory` or `disk`) and the `hits` (queries served) of each.
    pub fn cached_files(&self) -> Result<DataFrame> {
        use datafusion::arrow::array::{StringBuilder, UInt64Array};
        let files = self.file_cache().map(|c| c.files()).unwrap_or_default();
        let count = |f: fn(&rask_planner::cache::CachedFile) -> u64| -> ArrayRef {
            Arc::new(files.iter().map(f).collect::<UInt64Array>())
        };
        let mut ranges = StringBuilder::new();
        for file in &files {
            ranges.append_option(file.range.map(|(from, to)| format!("{from}-{to}")));
        }
        let schema = Arc::new(Schema::new(vec![
            Field::new("file", DataType::Utf8, false),
            Field::new("range", DataType::Utf8, true),
            Field::new("columns", DataType::UInt64, false),
            Field::new("rows", DataType::UInt64, false),
            Field::new("bytes", DataType::UInt64, false),
            Field::new("kept", DataType::Utf8, false),
            Field::new("hits", DataType::UInt64, false),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(StringArray::from_iter_values(
                    files.iter().map(|f| f.file.as_str()),
                )),
                Arc::new(ranges.finish()),
                count(|f| f.columns as u64),
                count(|f| f.rows as u64),
                count(|f| f.bytes as u64),
                Arc::new(StringArray::from_iter_values(files.iter().map(|f| {
                    if f.on_disk {
                        "disk"
                    } else {
                        "memory"
                    }
                }))),
                count(|f| f.hits),
            ],
        )?;
        self.from_batches_with_schema(schema, vec![batch], 1)
    }

    /// Memory held by all running queries and the file cache, in bytes.
    pub fn memory_reserved(&self) -> usize {
        self.inner.ctx.runtime_env().memory_pool.reserved()
    }

    /// The memory limit in bytes, if any.
    pub fn memory_limit(&self) -> Option<usize> {
        self.inner.memory_limit
    }

    /// Splits SQL text into statements without running them; a syntax error names its
    /// line and column.
    /// Statements nested deeper than
    /// [`NESTING_LIMIT`](rask_planner::nesting::NESTING_LIMIT) are refused.
    pub fn parse(&self, sql: &str) -> Result<Vec<Statement>> {
        crate::stack::deep(|| crate::panics::contain(|| parse(sql)))
    }

    /// [`Session::parse`], each statement with its text as written (the text of a script's
    /// statements, for a catalog that keeps them); where the text cannot be split as the
    /// parser split it, the statement's display stands in.
    pub fn parse_with_text(&self, sql: &str) -> Result<Vec<(Statement, String)>> {
        let statements = self.parse(sql)?;
        let texts = rask_planner::script::statement_texts(sql);
        if texts.len() == statements.len() {
            return Ok(statements.into_iter().zip(texts).collect());
        }
        Ok(statements
            .into_iter()
            .map(|statement| {
                let text = statement.to_string();
                (statement, text)
            })
            .collect())
    }

    /// Plans one statement. DDL (`CREATE ..`, `DROP ..`) takes effect now; queries and `COPY`
    /// run when the returned frame is computed.
    pub async fn execute(&self, statement: Statement) -> Result<DataFrame> {
        // A refusal kept from an earlier statement is not this one's.
        rask_planner::fetched::take_refused_write();
        crate::panics::contain_async(crate::stack::deep_async(self.plan_statement(statement))).await
    }

    async fn plan_statement(&self, mut statement: Statement) -> Result<DataFrame> {
        // The statement names its query in the log, the dashboard and reports: without the
        // secrets it may pass to object stores.
        let sql = rask_planner::stores::redact(&statement.to_string());
        if let Statement::CopyTo(copy) = &mut statement {
            rask_planner::files::copy_as_named(copy)?;
        }
        let state = self.inner.ctx.state();
        self.inner.functions.prepare(&state, &statement).await?;
        let (plan, repeated) = match state.statement_to_plan(statement.clone()).await {
            Ok(plan) => (plan, None),
            Err(error) => replanned(&state, &statement, error).await?,
        };
        rask_planner::sized::check_aggregate_arguments(&plan)?;
        match &plan {
            LogicalPlan::Statement(datafusion::logical_expr::Statement::SetVariable(set)) => {
                crate::config::check_setting(&set.variable, &set.value)?
            }
            LogicalPlan::Copy(copy) => crate::config::check_format_options(&copy.options)?,
            LogicalPlan::Ddl(DdlStatement::CreateExternalTable(table)) => {
                crate::config::check_format_options(&table.options)?
            }
            _ => {}
        }
        if let LogicalPlan::Explain(explain) = &plan {
            let files = files_table(&explain.plan)?;
            let frame = self.inner.ctx.execute_logical_plan(plan).await?;
            return Ok(DataFrame::new(frame)
                .with_appended_rows(files)
                .await?
                .with_sql(sql));
        }
        let plan = rask_planner::naming::tidy_output_names(plan)?;
        let shown = repeated.map(|names| names.shown(plan.schema()));
        let frame = DataFrame::new(self.inner.ctx.execute_logical_plan(plan).await?).with_sql(sql);
        Ok(match shown {
            Some(names) => frame.showing(names),
            None => frame,
        })
    }

    /// Runs every statement of `sql` in order and returns the last one's frame; the others
    /// are run to completion first (so a script can create what later statements read).
    pub async fn sql(&self, sql: &str) -> Result<DataFrame> {
        let mut statements = self.parse(sql)?;
        let Some(last) = statements.pop() else {
            return Err(Error::syntax("syntax error: no SQL statement given"));
        };
        for statement in statements {
            self.execute(statement).await?.collect().await?;
        }
        self.execute(last).await
    }

    /// Registers the files at `path` (a file, directory or glob) as table `name`.
    pub async fn register_files(&self, name: &str, path: &str) -> Result<()> {
        let table = self.file_table(path, &ReadOptions::default()).await?;
        self.inner.ctx.register_table(name, table)?;
        Ok(())
    }

    /// Registers a frame as table `name`, so SQL can use it.
    pub fn register_frame(&self, name: &str, frame: &DataFrame) -> Result<()> {
        let view = frame.clone().into_datafusion().into_view();
        self.inner.ctx.register_table(name, view)?;
        Ok(())
    }

    async fn file_table(
        &self,
        path: &str,
        options: &ReadOptions,
    ) -> Result<Arc<dyn datafusion::catalog::TableProvider>> {
        let state = self.inner.ctx.state();
        let files =
            rask_planner::files::FileSet::resolve_in(&state, path, &options.storage).await?;
        Ok(rask_planner::listing::file_table(&state, &files, options).await?)
    }

    /// How the columns of the files at `path` differ, file by file, from the first file's:
    /// a row per file with its columns (and their types) and what it adds, lacks, retypes
    /// or reorders — which files a glob's `union_by_name` would bring together.
    pub async fn schema_drift(&self, path: &str, options: &ReadOptions) -> Result<DataFrame> {
        use datafusion::arrow::array::StringArray;
        let state = self.inner.ctx.state();
        let files =
            rask_planner::files::FileSet::resolve_in(&state, path, &options.storage).await?;
        let schemas = rask_planner::listing::file_schemas(&state, &files, options).await?;
        let drift = rask_planner::listing::schema_drift(&schemas);
        let columns: Vec<String> = schemas
            .iter()
            .map(|(_, schema)| {
                schema
                    .fields()
                    .iter()
                    .map(|f| format!("{} {}", f.name(), crate::sql_type_name(f.data_type())))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .collect();
        let shown: Vec<String> = files
            .files
            .iter()
            .map(|file| Ok(shown_url(file.listing_url()?.get_url())))
            .collect::<Result<_>>()?;
        let schema = Arc::new(Schema::new(vec![
            Field::new("file", DataType::Utf8, false),
            Field::new("columns", DataType::Utf8, false),
            Field::new("drift", DataType::Utf8, false),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(StringArray::from(shown)),
                Arc::new(StringArray::from(columns)),
                Arc::new(StringArray::from(drift)),
            ],
        )?;
        self.from_batches_with_schema(schema, vec![batch], 1)
    }

    /// A lazy frame over files of any format Rask reads (from the extensions, or
    /// `options.format`), local or in an object store, with every read option: the
    /// object store's among them (`options.storage`, Dask's `storage_options`).
    pub async fn read_files(&self, path: &str, options: ReadOptions) -> Result<DataFrame> {
        let table = self.file_table(path, &options).await?;
        self.scan(path, table)
    }

    /// A frame scanning `table` under `name`, which plans and EXPLAIN show.
    fn scan(
        &self,
        name: &str,
        table: Arc<dyn datafusion::catalog::TableProvider>,
    ) -> Result<DataFrame> {
        let plan = datafusion::logical_expr::LogicalPlanBuilder::scan(
            datafusion::common::TableReference::bare(name),
            datafusion::datasource::provider_as_source(table),
            None,
        )?
        .build()?;
        Ok(DataFrame::new(datafusion::dataframe::DataFrame::new(
            self.inner.ctx.state(),
            plan,
        )))
    }

    /// A lazy frame over CSV files (a path, directory or glob), as `dd.read_csv`; `options`
    /// sets the delimiter, header, null strings and column types. Its partitions are Dask's:
    /// blocks of `options.blocksize` bytes, 64 MB unless given.
    pub async fn read_csv(&self, path: &str, options: ReadOptions) -> Result<DataFrame> {
        let options = ReadOptions {
            format: Some(options.format.unwrap_or(FileFormatKind::Csv)),
            blocksize: Some(options.blocksize.unwrap_or(DASK_CSV_BLOCKSIZE)),
            ..options
        };
        self.read_files(path, options).await
    }

    /// A lazy frame over Parquet files, as `dd.read_parquet`: a partition per file.
    pub async fn read_parquet(&self, path: &str) -> Result<DataFrame> {
        self.read_whole_files(path, FileFormatKind::Parquet).await
    }

    /// A lazy frame over newline-delimited JSON files, as `dd.read_json(lines=True)`: a
    /// partition per file.
    pub async fn read_json(&self, path: &str) -> Result<DataFrame> {
        self.read_whole_files(path, FileFormatKind::Json).await
    }

    async fn read_whole_files(&self, path: &str, format: FileFormatKind) -> Result<DataFrame> {
        let options = ReadOptions {
            format: Some(format),
            blocksize: Some(WHOLE_FILES),
            ..ReadOptions::default()
        };
        self.read_files(path, options).await
    }

    /// The built-in dataset of `dask.datasets.timeseries()`, generated lazily, in Dask's
    /// partitions (one per `partition_freq`).
    pub fn timeseries(&self, params: TimeseriesParams) -> Result<DataFrame> {
        let table = TimeseriesTable::new(params).with_stream_per_part();
        self.scan("timeseries", Arc::new(table))
    }

    /// An in-memory frame from named Arrow columns of equal length, split into
    /// `npartitions` partitions.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use rask::arrow::array::{ArrayRef, Float64Array, StringArray};
    /// let session = rask::Session::new().unwrap();
    /// let x: ArrayRef = Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0]));
    /// let z: ArrayRef = Arc::new(StringArray::from(vec!["A", "B", "A"]));
    /// let frame = session.from_columns(vec![("x", x), ("z", z)], 2).unwrap();
    /// assert_eq!(frame.columns(), ["x", "z"]);
    /// ```
    pub fn from_columns(
        &self,
        columns: Vec<(&str, ArrayRef)>,
        npartitions: usize,
    ) -> Result<DataFrame> {
        let batch = RecordBatch::try_from_iter(columns)?;
        self.from_batches(vec![batch], npartitions)
    }

    /// An in-memory frame split into `npartitions` partitions, as `dd.from_pandas`.
    pub fn from_batches(&self, batches: Vec<RecordBatch>, npartitions: usize) -> Result<DataFrame> {
        let Some(first) = batches.first() else {
            return Err(Error::plan("from_batches needs at least one batch"));
        };
        self.from_batches_with_schema(first.schema(), batches, npartitions)
    }

    /// [`from_batches`](Self::from_batches) of batches whose schema is given apart (there may
    /// be none). Partitions hold consecutive rows, as even as they divide, as slices of the
    /// batches: no value is copied.
    pub fn from_batches_with_schema(
        &self,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
        npartitions: usize,
    ) -> Result<DataFrame> {
        let total: usize = batches.iter().map(|b| b.num_rows()).sum();
        let parts = npartitions.max(1);
        let per_part = total.div_ceil(parts).max(1);
        let mut partitions: Vec<Vec<RecordBatch>> = vec![vec![]; parts];
        let mut batch_start = 0;
        for batch in &batches {
            let mut start = 0;
            while start < batch.num_rows() {
                let row = batch_start + start;
                let take = (per_part - row % per_part).min(batch.num_rows() - start);
                partitions[row / per_part].push(batch.slice(start, take));
                start += take;
            }
            batch_start += batch.num_rows();
        }
        let table = datafusion::datasource::MemTable::try_new(schema, partitions)?;
        Ok(DataFrame::new(self.inner.ctx.read_table(Arc::new(table))?))
    }
}

/// Parses `sql` into statements under Rask's nesting limit: the text is measured before
/// the parser runs and each statement's tree after.
fn parse(sql: &str) -> Result<Vec<Statement>> {
    let sql = &*rask_planner::summarize::rewrite_statements(sql);
    check_tokens(sql)?;
    let statements = DFParserBuilder::new(sql)
        .with_recursion_limit(PARSER_RECURSION_LIMIT)
        .build()
        .and_then(|mut parser| parser.parse_statements())
        .map_err(|error| match error {
            DataFusionError::SQL(cause, _)
                if matches!(*cause, ParserError::RecursionLimitExceeded) =>
            {
                too_deep(None)
            }
            other => other,
        })?;
    statements.iter().try_for_each(check_parsed)?;
    Ok(statements.into_iter().collect())
}

impl Session {
    /// Registers `f` as the partition function `name` for this process, so frames can
    /// name it ([`DataFrame::map_partitions_by_name`]) and a cluster worker that registered
    /// the same name can run it.
    pub fn register_partition_function(&self, name: &str, f: impl crate::PartitionFn) {
        rask_planner::partitions::register_partition_function(
            name,
            crate::partitioned::partition_function(name, f),
        );
    }

    /// Computes several frames together, as `dask.compute(a, b, c)`: a table or file set that
    /// more than one of them reads is scanned once for all (with the union of the columns
    /// they need), and the results come back in order.
    pub async fn compute(&self, frames: Vec<DataFrame>) -> Result<Vec<crate::Table>> {
        if self.inner.cluster.is_some() {
            // A shared scan hands batches from one producer to its readers in one process;
            // on a cluster each result is planned and scheduled by the scheduler on its own.
            let mut tables = Vec::with_capacity(frames.len());
            for frame in frames {
                tables.push(frame.compute().await?);
            }
            return Ok(tables);
        }
        let planned = self.plan_together(frames).await?;
        futures::future::try_join_all(planned.into_iter().map(Planned::collect_in_order)).await
    }

    /// The physical plan [`compute`](Self::compute) runs for `frames`, shared scans shown
    /// once with their consumers; with `analyze`, after running it, with each operator's
    /// rows, bytes and times.
    pub async fn explain_compute(&self, frames: Vec<DataFrame>, analyze: bool) -> Result<String> {
        if self.inner.cluster.is_some() {
            return Err(Error::plan("explain_compute shows how one process shares scans; on a cluster each result is planned by the scheduler (use explain on each frame)",
            ));
        }
        let planned = self.plan_together(frames).await?;
        let plans: Vec<_> = planned.iter().map(|p| Arc::clone(p.plan())).collect();
        if analyze {
            futures::future::try_join_all(
                planned
                    .into_iter()
                    .map(|planned| async move { planned.stream().await?.collect().await }),
            )
            .await?;
        }
        let mut text = String::new();
        for (i, plan) in plans.iter().enumerate() {
            let shown = if analyze {
                datafusion::physical_plan::display::DisplayableExecutionPlan::with_metrics(
                    plan.as_ref(),
                )
            } else {
                datafusion::physical_plan::display::DisplayableExecutionPlan::new(plan.as_ref())
            };
            text.push_str(&format!("result {}:\n{}", i + 1, shown.indent(true)));
        }
        Ok(text)
    }

    /// The queries of `frames`, planned together so that what they share is read once.
    async fn plan_together(&self, frames: Vec<DataFrame>) -> Result<Vec<Planned>> {
        let state = self.inner.ctx.state();
        let optimized = frames
            .iter()
            .map(|frame| state.optimize(frame.logical_plan()))
            .collect::<datafusion::common::Result<Vec<_>>>()?;
        let together = rask_planner::nodes::compute_all(optimized)?;
        // Already optimized: planned as is, so the shared scans stay identical.
        let physical = match state
            .query_planner()
            .create_physical_plan(&together, &state)
            .await
        {
            Ok(physical) => physical,
            Err(error) => return Err(crate::execution::traced(error, &together).await),
        };
        let Some(all) = physical.downcast_ref::<rask_planner::operators::ComputeAllExec>() else {
            return Err(Error::execution("compute: unexpected plan"));
        };
        Ok(frames
            .iter()
            .zip(all.plans())
            .map(|(frame, physical)| {
                Planned::physical(
                    TaskContext::from(&state),
                    frame.logical_plan().clone(),
                    Arc::clone(physical),
                    frame.label(),
                )
                .showing(frame.shown_names())
            })
            .collect())
    }
}

/// The plan of `statement`, which DataFusion refused with `error`, where Rask can plan it:
/// a result repeating a column name, with the names to show. Otherwise why it cannot be
/// planned: in clearer words where Rask knows (a function given an argument of a type it
/// does not accept), or DataFusion's `error`.
async fn replanned(
    state: &datafusion::execution::SessionState,
    statement: &Statement,
    error: datafusion::common::DataFusionError,
) -> Result<(LogicalPlan, Option<RepeatedNames>)> {
    if let Some(replanned) = plan_with_repeated_names(state, statement, &error).await? {
        return Ok((replanned.plan, replanned.names));
    }
    Err(match argument_type_error(state, statement, &error).await {
        Some(refused) => Error::plan(refused.message).with_hint(refused.hint),
        None => Error::from(error),
    })
}

/// EXPLAIN rows listing the files each file table of `plan` resolved to.
fn files_table(plan: &LogicalPlan) -> Result<Option<RecordBatch>> {
    let scans = file_scans(plan);
    if scans.is_empty() {
        return Ok(None);
    }
    let described: Vec<String> = scans
        .iter()
        .map(|scan| {
            let files: Vec<String> = scan.files.iter().map(shown_url).collect();
            let dialect = scan.csv.as_ref().map_or(String::new(), csv_dialect);
            format!(
                "{}: {} file(s): {}{dialect}",
                scan.table,
                files.len(),
                files.join(", ")
            )
        })
        .collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("plan_type", DataType::Utf8, false),
        Field::new("plan", DataType::Utf8, false),
    ]));
    let kinds = StringArray::from(vec!["resolved_files"; described.len()]);
    let plans = StringArray::from(described);
    Ok(Some(RecordBatch::try_new(
        schema,
        vec![Arc::new(kinds), Arc::new(plans)],
    )?))
}

/// How CSV files are read, given or sniffed: ` (csv: delimiter ';', quote '"', header)`.
fn csv_dialect(csv: &datafusion::common::config::CsvOptions) -> String {
    let shown = |byte: u8| match byte {
        b'\t' => "\\t".to_string(),
        other => (other as char).to_string(),
    };
    let escape = csv
        .escape
        .map_or(String::new(), |e| format!(", escape '{}'", shown(e)));
    let header = match csv.has_header {
        Some(false) => "no header",
        _ => "header",
    };
    format!(
        " (csv: delimiter '{}', quote '{}'{escape}, {header})",
        shown(csv.delimiter),
        shown(csv.quote)
    )
}

/// A path as the user most likely wrote it: relative when it lies below the current directory.
/// A local file relative to the working directory where it is below it; a URL without
/// secrets.
fn shown_url(url: &url::Url) -> String {
    let Some(path) = url.to_file_path().ok().filter(|_| url.scheme() == "file") else {
        return rask_planner::stores::redact_url(url);
    };
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{AsArray, Int64Array};
    use datafusion::arrow::datatypes::Int64Type;
    use datafusion::prelude::{col, lit};

    use super::*;

    fn names(schema: &Schema) -> Vec<&str> {
        schema.fields().iter().map(|f| f.name().as_str()).collect()
    }

    fn column(batches: &[RecordBatch], index: usize) -> Vec<i64> {
        batches
            .iter()
            .flat_map(|b| {
                b.column(index)
                    .as_primitive::<Int64Type>()
                    .values()
                    .to_vec()
            })
            .collect()
    }

    /// `SELECT id, id * 10 AS id` over ids 3, 1, 2: every way a frame's result leaves the
    /// engine shows both columns named id.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn repeated_output_names_reach_every_way_out() {
        let session = Session::new().unwrap();
        let ids: ArrayRef = Arc::new(Int64Array::from(vec![3, 1, 2]));
        let table = session.from_columns(vec![("id", ids)], 2).unwrap();
        session.register_frame("t", &table).unwrap();
        let frame = session
            .sql("SELECT id, id * 10 AS id FROM t ORDER BY 1")
            .await
            .unwrap();
        assert_eq!(frame.columns(), ["id", "id"]);

        let batches = frame.clone().collect().await.unwrap();
        assert!(batches.iter().all(|b| names(&b.schema()) == ["id", "id"]));
        assert_eq!(column(&batches, 0), [1, 2, 3]);
        assert_eq!(column(&batches, 1), [10, 20, 30]);

        // A filter keeps the columns, so it keeps their names.
        let filtered = frame.clone().filter(col("id").gt(lit(1))).unwrap();
        assert_eq!(filtered.columns(), ["id", "id"]);
        let batches = filtered.collect().await.unwrap();
        assert_eq!(column(&batches, 1), [20, 30]);

        let head = frame.clone().head(1).await.unwrap();
        assert_eq!(names(&head[0].schema()), ["id", "id"]);

        let computed = session.compute(vec![frame.clone()]).await.unwrap();
        assert_eq!(names(&computed[0].schema), ["id", "id"]);
        assert_eq!(
            frame.clone().compute().await.unwrap().to_string(),
            "+----+----+\n| id | id |\n+----+----+\n| 1  | 10 |\n| 2  | 20 |\n| 3  | 30 |\n+----+----+"
        );

        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("out.csv");
        assert_eq!(frame.clone().to_csv(&csv).await.unwrap(), 3);
        assert_eq!(
            std::fs::read_to_string(&csv).unwrap(),
            "id,id\n1,10\n2,20\n3,30\n"
        );

        // Parquet directories are written by DataFusion, whose plans cannot repeat a name.
        let error = frame
            .to_parquet(dir.path().join("parquet"), &Default::default())
            .await
            .unwrap_err();
        assert_eq!(
            error.message(),
            "to_parquet: column \"id\" specified more than once"
        );
        assert!(!dir.path().join("parquet").exists());
    }

    /// Statements that make repeated names into columns are refused as PostgreSQL refuses
    /// them, and the session is left as it was.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn views_cannot_repeat_a_column_name() {
        let session = Session::new().unwrap();
        let error = session
            .sql("CREATE VIEW twice AS SELECT 1 AS a, 2 AS a")
            .await
            .unwrap_err();
        assert_eq!(error.kind(), crate::ErrorKind::Plan);
        assert_eq!(error.message(), "column \"a\" specified more than once");
        assert!(session.sql("SELECT * FROM twice").await.is_err());
    }
}
