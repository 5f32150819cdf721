//! The [`DataFrame`] handle users hold: a lazy query, computed on demand.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use rask_planner::diagnose::{is_csv_decode_error, locate_csv_error};

use crate::error::{Error, ErrorKind, Result};

/// A lazy, partitioned table: nothing runs until it is computed.
#[derive(Debug, Clone)]
pub struct DataFrame {
    inner: datafusion::dataframe::DataFrame,
}

impl DataFrame {
    pub(crate) fn new(inner: datafusion::dataframe::DataFrame) -> Self {
        DataFrame { inner }
    }

    /// Column names and types.
    pub fn schema(&self) -> SchemaRef {
        self.inner.schema().inner().clone()
    }

    /// The logical plan this frame computes.
    pub fn logical_plan(&self) -> &LogicalPlan {
        self.inner.logical_plan()
    }

    /// The DataFusion frame underneath.
    pub fn into_datafusion(self) -> datafusion::dataframe::DataFrame {
        self.inner
    }

    /// Computes the frame and returns all its rows.
    pub async fn collect(self) -> Result<Vec<RecordBatch>> {
        let mut stream = self.execute_stream().await?;
        let mut batches = Vec::new();
        while let Some(batch) = stream.next_batch().await {
            batches.push(batch?);
        }
        Ok(batches)
    }

    /// Starts computing the frame; batches arrive as partitions produce them.
    pub async fn execute_stream(self) -> Result<BatchStream> {
        let plan = self.inner.logical_plan().clone();
        let schema = self.schema();
        match self.inner.execute_stream().await {
            Ok(inner) => Ok(BatchStream {
                schema,
                inner,
                plan,
            }),
            Err(error) => Err(execution_error(error, &plan).await),
        }
    }

    /// This frame's rows followed by `extra` (same schema); used to annotate EXPLAIN.
    pub(crate) async fn with_appended_rows(
        self,
        ctx: &SessionContext,
        extra: Option<RecordBatch>,
    ) -> Result<DataFrame> {
        let Some(extra) = extra else {
            return Ok(self);
        };
        let mut batches = self.collect().await?;
        batches.push(extra);
        let table = datafusion::datasource::MemTable::try_new(batches[0].schema(), vec![batches])?;
        Ok(DataFrame::new(ctx.read_table(std::sync::Arc::new(table))?))
    }
}

/// The batches of a running query. Dropping it cancels the query.
pub struct BatchStream {
    schema: SchemaRef,
    inner: SendableRecordBatchStream,
    plan: LogicalPlan,
}

impl BatchStream {
    /// The schema of every batch.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The next batch, `None` at the end.
    pub async fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        match self.inner.next().await? {
            Ok(batch) => Some(Ok(batch)),
            Err(error) => Some(Err(execution_error(error, &self.plan).await)),
        }
    }
}

/// Turns an execution failure into an [`Error`]; malformed CSV is traced to its file and line.
async fn execution_error(error: DataFusionError, plan: &LogicalPlan) -> Error {
    if is_csv_decode_error(&error) {
        let plan = plan.clone();
        if let Ok(Some(located)) =
            tokio::task::spawn_blocking(move || locate_csv_error(&plan)).await
        {
            return Error::new(ErrorKind::Input, located);
        }
    }
    Error::from(error)
}
