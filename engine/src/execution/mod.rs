//! The one way a query runs.
//!
//! Every computation of a frame or a session — `collect`, `compute`, `head`, `len`,
//! `execute_stream`, the sinks, `persist`, `set_index`'s measuring queries,
//! `session.compute`, `explain`, reports — is planned into a [`Planned`] query and run
//! through [`Planned::stream`] or [`Planned::partitions`]. So each one gets the same:
//! an entry in the session's [`QueryLog`] (progress, per-query memory, metrics for the
//! dashboard and reports), the session's memory pool seen through the query's own counter,
//! errors traced back to the file and line of malformed CSV, and cancellation when its
//! streams are dropped.

mod stream;
mod trace;

use std::sync::Arc;

use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};

pub(crate) use stream::shown_schema;
pub use stream::BatchStream;
pub(crate) use trace::traced;

use crate::error::Result;
use crate::monitor::{QueryLog, QueryPool};
use stream::Run;

/// A query planned and ready to start: its logical plan (kept to trace errors to their
/// files), its physical plan, the context it runs in, how the query log names it and the
/// names its columns are shown under, where they differ from the plan's.
pub(crate) struct Planned {
    label: String,
    logical: LogicalPlan,
    physical: Arc<dyn ExecutionPlan>,
    task: TaskContext,
    shown: Option<Arc<[String]>>,
}

impl Planned {
    /// Plans `frame`, which the query log will show as `label`.
    pub(crate) async fn frame(
        frame: datafusion::dataframe::DataFrame,
        label: String,
    ) -> Result<Planned> {
        let logical = frame.logical_plan().clone();
        let task = frame.task_ctx();
        let physical = crate::stack::deep_async(frame.create_physical_plan());
        match crate::panics::caught(physical).await? {
            Ok(physical) => Ok(Planned::physical(task, logical, physical, label)),
            Err(error) => Err(traced(error, &logical).await),
        }
    }

    /// A query already planned to `physical` from `logical`.
    pub(crate) fn physical(
        task: TaskContext,
        logical: LogicalPlan,
        physical: Arc<dyn ExecutionPlan>,
        label: String,
    ) -> Planned {
        Planned {
            label,
            logical,
            physical,
            task,
            shown: None,
        }
    }

    /// The same query, its columns shown as `names` (which may repeat a name) instead of
    /// the plan's names.
    pub(crate) fn showing(mut self, names: Option<Arc<[String]>>) -> Planned {
        self.shown = names;
        self
    }

    /// The physical plan that will run.
    pub(crate) fn plan(&self) -> &Arc<dyn ExecutionPlan> {
        &self.physical
    }

    /// Starts the query; the batches of all its partitions arrive in one stream.
    pub(crate) async fn stream(self) -> Result<BatchStream> {
        let shown = self.shown.clone();
        let (run, context) = self.start(1)?;
        let physical = Arc::clone(run.query().plan());
        match datafusion::physical_plan::execute_stream(physical, context) {
            Ok(inner) => Ok(BatchStream::new(inner, run, shown.as_deref())),
            Err(error) => Err(run.fail(error).await),
        }
    }

    /// Starts the query with one stream per output partition, all of them running at once
    /// when polled together. The query ends when every stream has ended (or been closed).
    /// Each stream reads its own files, in order (see the session's settings).
    pub(crate) async fn partitions(self) -> Result<Partitions> {
        let count = self.physical.output_partitioning().partition_count();
        let physical = Arc::clone(&self.physical);
        let shown = self.shown.clone();
        let (run, context) = self.start(count)?;
        let mut streams = Vec::with_capacity(count);
        for partition in 0..count {
            match physical.execute(partition, Arc::clone(&context)) {
                Ok(inner) => {
                    streams.push(BatchStream::new(inner, Arc::clone(&run), shown.as_deref()))
                }
                Err(error) => return Err(run.fail(error).await),
            }
        }
        Ok(Partitions { streams, context })
    }

    /// Runs the query to its end, every partition at once, and returns its rows in partition
    /// order, as Dask concatenates partitions: a scan's partitions follow its files, so the
    /// rows come in the files' order whichever partition finishes first.
    pub(crate) async fn collect_in_order(self) -> Result<crate::Table> {
        let partitions = self.partitions().await?;
        let schema = partitions.streams.first().map(|s| s.schema());
        let collected =
            futures::future::try_join_all(partitions.streams.into_iter().map(|s| s.collect()))
                .await?;
        Ok(crate::Table {
            schema: schema
                .unwrap_or_else(|| Arc::new(datafusion::arrow::datatypes::Schema::empty())),
            batches: collected.into_iter().flatten().collect(),
        })
    }

    /// Records the query in the session's log and gives it a view of the memory pool that
    /// counts its own share; `streams` is how many streams must end for it to be finished.
    fn start(self, streams: usize) -> Result<(Arc<Run>, Arc<TaskContext>)> {
        let runtime = self.task.runtime_env();
        let pool = Arc::new(QueryPool::new(Arc::clone(&runtime.memory_pool)));
        // Replacing only the pool keeps the session's disk manager, object stores and cache.
        let runtime = RuntimeEnvBuilder::from_runtime_env(&runtime)
            .with_memory_pool(pool.clone())
            .build_arc()?;
        let log: Arc<QueryLog> = self
            .task
            .session_config()
            .get_extension::<QueryLog>()
            .unwrap_or_default();
        let stopped = Arc::new(rask_planner::operators::QueryStopped::default());
        let config = self
            .task
            .session_config()
            .clone()
            .with_extension(Arc::clone(&stopped));
        let query = log.start(self.label, self.physical, pool, stopped);
        let context = Arc::new(self.task.with_session_config(config).with_runtime(runtime));
        let spill_dirs = context.runtime_env().disk_manager.temp_dir_paths();
        let stores = Arc::clone(&context.runtime_env().object_store_registry);
        Ok((
            Run::new(query, self.logical, spill_dirs, stores, streams),
            context,
        ))
    }
}

/// The streams of a query started by [`Planned::partitions`], and the context they run in.
pub(crate) struct Partitions {
    /// One stream per output partition, in partition order.
    pub(crate) streams: Vec<BatchStream>,
    /// The task context of the query: its memory pool counts against the query.
    pub(crate) context: Arc<TaskContext>,
}
