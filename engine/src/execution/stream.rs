//! The batches of a running query, and the bookkeeping that tells the query log when the
//! query has finished, failed or been cancelled.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::{ArrowPrimitiveType, Field, Schema, SchemaRef};
use datafusion::common::DataFusionError;
use datafusion::execution::object_store::ObjectStoreRegistry;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::EmptyRecordBatchStream;
use futures::StreamExt;

use super::trace::{named_after_damage, spill_disk_full, traced};
use crate::error::{Error, Result};
use crate::monitor::{Query, QueryState};

/// `schema` with its fields named `names`, which may repeat a name: a query's plan needs
/// unique names where SQL allows repeated ones (see
/// [`rask_planner::repeated_names`]). Unchanged when the number of names differs.
pub(crate) fn shown_schema(schema: &SchemaRef, names: &[String]) -> SchemaRef {
    if names.len() != schema.fields().len() {
        return Arc::clone(schema);
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .zip(names)
        .map(|(field, name)| field.as_ref().clone().with_name(name))
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// One started query, shared by all of its streams.
pub(crate) struct Run {
    query: Arc<Query>,
    logical: LogicalPlan,
    /// Where the query spills, for errors of a full disk.
    spill_dirs: Vec<std::path::PathBuf>,
    /// Streams that have not ended yet.
    open: AtomicUsize,
    /// The session's object stores, for sinks writing to URLs.
    stores: Arc<dyn ObjectStoreRegistry>,
}

impl Run {
    pub(super) fn new(
        query: Arc<Query>,
        logical: LogicalPlan,
        spill_dirs: Vec<std::path::PathBuf>,
        stores: Arc<dyn ObjectStoreRegistry>,
        streams: usize,
    ) -> Arc<Run> {
        let run = Arc::new(Run {
            query,
            logical,
            spill_dirs,
            open: AtomicUsize::new(streams),
            stores,
        });
        if streams == 0 {
            outcome(&run.query, QueryState::Finished);
        }
        run
    }

    pub(super) fn query(&self) -> &Arc<Query> {
        &self.query
    }

    fn stream_ended(&self) {
        if self.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            outcome(&self.query, QueryState::Finished);
        }
    }

    pub(super) fn failed(&self, error: &Error) {
        outcome(&self.query, |d| QueryState::Failed(error.to_string(), d));
    }

    /// Records that the query failed with `error` and returns it, traced.
    pub(super) async fn fail(&self, error: DataFusionError) -> Error {
        let error = traced(error, &self.logical).await;
        let error = spill_disk_full(error, &self.spill_dirs);
        self.failed(&error);
        error
    }
}

/// Records how the query ended; the first outcome recorded stands.
fn outcome(query: &Query, state: impl FnOnce(std::time::Duration) -> QueryState) {
    query.finish(state(query.duration()));
}

/// The batches of a running query. Dropping it before its end cancels the query: its
/// operators stop and release their memory.
pub struct BatchStream {
    schema: SchemaRef,
    inner: SendableRecordBatchStream,
    run: Arc<Run>,
    ended: bool,
    /// Whether the batches' columns are renamed to the names of `schema`.
    renamed: bool,
}

impl BatchStream {
    /// The batches of `inner`, their columns named `shown` when given (see
    /// [`shown_schema`]).
    pub(super) fn new(
        inner: SendableRecordBatchStream,
        run: Arc<Run>,
        shown: Option<&[String]>,
    ) -> BatchStream {
        let schema = inner.schema();
        BatchStream {
            schema: shown.map_or_else(|| Arc::clone(&schema), |names| shown_schema(&schema, names)),
            renamed: shown.is_some(),
            inner,
            run,
            ended: false,
        }
    }

    /// The object stores of the session the query runs in.
    pub(crate) fn object_stores(&self) -> Arc<dyn ObjectStoreRegistry> {
        Arc::clone(&self.run.stores)
    }

    /// The schema of every batch.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The next batch, `None` at the end.
    pub async fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        if self.ended {
            return None;
        }
        let next = match crate::panics::caught(self.inner.next()).await {
            Ok(next) => next,
            Err(panicked) => {
                // What the operators held goes with them; the query counts as failed.
                self.inner = Box::pin(EmptyRecordBatchStream::new(self.inner.schema()));
                let panicked = named_after_damage(panicked, &self.run.logical).await;
                return Some(Err(self.fail_with(panicked)));
            }
        };
        match next {
            None => {
                self.close_stream();
                None
            }
            Some(Ok(batch)) if self.renamed => Some(self.shown(batch)),
            Some(Ok(batch)) => Some(Ok(batch)),
            Some(Err(error)) => {
                // Marked ended only once recorded: dropped while tracing, it is cancelled.
                let error = self.run.fail(error).await;
                self.ended = true;
                Some(Err(error))
            }
        }
    }

    /// `batch` with its columns named as the stream's schema names them.
    fn shown(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        let columns = batch.columns().to_vec();
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            columns,
            &options,
        )?)
    }

    /// Every remaining batch.
    pub async fn collect(mut self) -> Result<Vec<RecordBatch>> {
        let mut batches = Vec::new();
        while let Some(batch) = self.next_batch().await {
            batches.push(batch?);
        }
        Ok(batches)
    }

    /// The first value of the first column, for queries that answer with one number (a
    /// count, the rows a write wrote); `None` when the result is empty or of another type.
    pub(crate) async fn single_value<T: ArrowPrimitiveType>(self) -> Result<Option<T::Native>> {
        let batches = self.collect().await?;
        Ok(batches
            .iter()
            .find(|batch| batch.num_rows() > 0)
            .and_then(|batch| batch.column(0).as_primitive_opt::<T>())
            .map(|values| values.value(0)))
    }

    /// Stops reading because everything wanted has been read (as `head` does): the query
    /// counts as finished, not cancelled, once its other streams end too.
    pub(crate) fn close(mut self) {
        self.close_stream();
    }

    /// Stops reading because the consumer of the batches failed with `error` (as `persist`
    /// does when they do not fit in memory): the query is recorded as failed.
    pub(crate) fn fail(mut self, error: Error) -> Error {
        self.fail_with(error)
    }

    fn fail_with(&mut self, error: Error) -> Error {
        self.ended = true;
        self.run.failed(&error);
        error
    }

    fn close_stream(&mut self) {
        if !self.ended {
            self.ended = true;
            self.run.stream_ended();
        }
    }

    /// The query producing the batches, as the session's [`QueryLog`](crate::QueryLog)
    /// records it; its graph carries the metrics of the run once the stream has ended.
    pub fn query(&self) -> &Arc<Query> {
        self.run.query()
    }
}

impl Drop for BatchStream {
    fn drop(&mut self) {
        if !self.ended {
            outcome(self.run.query(), QueryState::Cancelled);
        }
    }
}
