//! The [`DataFrame`] handle users hold: a lazy query, computed on demand.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::Column;
use datafusion::common::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::LogicalPlan;
use datafusion::logical_expr::{col, Expr};
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use rask_planner::diagnose::{is_csv_decode_error, locate_csv_error};
use rask_planner::frame::{AggFunc, AggSpec};

use crate::error::{Error, ErrorKind, Result};

/// A lazy, partitioned table: nothing runs until it is computed.
///
/// Operations build a plan; `collect`, `head`, `len` and the sinks run it.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use rask::prelude::*;
/// let session = Session::new().unwrap();
/// let frame = session
///     .sql("SELECT * FROM timeseries('2000-01-01', '2000-01-02', '1min')")
///     .await
///     .unwrap()
///     .filter(col("x").gt(lit(0.0)))
///     .unwrap()
///     .assign("x2", col("x") * col("x"))
///     .unwrap()
///     .groupby(&["name"])
///     .agg(&[("x2", &["mean", "count"])])
///     .unwrap();
/// assert_eq!(frame.columns(), ["name", "x2_mean", "x2_count"]);
/// let rows: usize = frame.collect().await.unwrap().iter().map(|b| b.num_rows()).sum();
/// assert_eq!(rows, 26);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct DataFrame {
    inner: datafusion::dataframe::DataFrame,
}

/// `frame.groupby(keys)`, waiting for its aggregation.
#[derive(Debug, Clone)]
pub struct GroupBy {
    frame: DataFrame,
    keys: Vec<String>,
}

impl GroupBy {
    /// Aggregates each listed column with the listed pandas aggregations (`mean`, `std`,
    /// `var`, `count`, `size`, `sum`, `min`, `max`, `first`, `last`, `nunique`). One row per
    /// group, sorted by the keys; columns named as [`AggSpec`] documents.
    pub fn agg(self, spec: &[(&str, &[&str])]) -> Result<DataFrame> {
        let spec = parse_spec(spec)?;
        self.frame
            .map_plan(|plan| rask_planner::frame::groupby_agg(plan, &self.keys, &spec))
    }

    /// Rows per group, as a column named `size`.
    pub fn size(self) -> Result<DataFrame> {
        let spec = AggSpec {
            columns: vec![("size".to_string(), vec![AggFunc::Size])],
        };
        self.frame
            .map_plan(|plan| rask_planner::frame::groupby_agg(plan, &self.keys, &spec))
    }
}

fn parse_spec(spec: &[(&str, &[&str])]) -> Result<AggSpec> {
    let columns = spec
        .iter()
        .map(|(column, funcs)| {
            let funcs = funcs
                .iter()
                .map(|f| f.parse::<AggFunc>())
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Ok((column.to_string(), funcs))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(AggSpec { columns })
}

impl DataFrame {
    fn map_plan(
        self,
        lower: impl FnOnce(LogicalPlan) -> datafusion::common::Result<LogicalPlan>,
    ) -> Result<DataFrame> {
        let (state, plan) = self.inner.into_parts();
        let plan = lower(plan)?;
        Ok(DataFrame::new(datafusion::dataframe::DataFrame::new(
            state, plan,
        )))
    }

    /// Column names, in order.
    pub fn columns(&self) -> Vec<String> {
        self.schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// Column names with their types.
    pub fn dtypes(&self) -> Vec<(String, DataType)> {
        self.schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect()
    }

    /// Keeps the rows where `predicate` is true (a boolean mask, as `df[df.x > 0]`).
    pub fn filter(self, predicate: Expr) -> Result<DataFrame> {
        Ok(DataFrame::new(self.inner.filter(predicate)?))
    }

    /// Adds (or replaces) column `name` computed by `value`, as `df.assign(name=value)`.
    pub fn assign(self, name: &str, value: Expr) -> Result<DataFrame> {
        Ok(DataFrame::new(self.inner.with_column(name, value)?))
    }

    /// Keeps the listed columns, in that order.
    pub fn select(self, columns: &[&str]) -> Result<DataFrame> {
        Ok(DataFrame::new(self.inner.select_columns(columns)?))
    }

    /// Removes the listed columns.
    pub fn drop(self, columns: &[&str]) -> Result<DataFrame> {
        let missing: Vec<&str> = columns
            .iter()
            .copied()
            .filter(|c| self.schema().field_with_name(c).is_err())
            .collect();
        if !missing.is_empty() {
            return Err(Error::new(
                ErrorKind::Plan,
                format!("drop: no column named {}", missing.join(", ")),
            ));
        }
        Ok(DataFrame::new(self.inner.drop_columns(columns)?))
    }

    /// Renames columns: `(old, new)` pairs.
    pub fn rename(self, mapping: &[(&str, &str)]) -> Result<DataFrame> {
        let mut inner = self.inner;
        for (old, new) in mapping {
            if inner.schema().inner().field_with_name(old).is_err() {
                return Err(Error::new(
                    ErrorKind::Plan,
                    format!("rename: no column named {old}"),
                ));
            }
            inner = inner.with_column_renamed(*old, *new)?;
        }
        Ok(DataFrame::new(inner))
    }

    /// Sorts by the listed columns; NULLs last, as pandas does.
    pub fn sort_values(self, by: &[&str], ascending: bool) -> Result<DataFrame> {
        let order = by
            .iter()
            .map(|c| col(Column::from_name(*c)).sort(ascending, false))
            .collect();
        Ok(DataFrame::new(self.inner.sort(order)?))
    }

    /// Groups rows by the key columns; aggregate with [`GroupBy::agg`] or [`GroupBy::size`].
    pub fn groupby(self, keys: &[&str]) -> GroupBy {
        GroupBy {
            frame: self,
            keys: keys.iter().map(|k| k.to_string()).collect(),
        }
    }

    /// Whole-frame reductions: one row, one column per `(column, aggregation)`, e.g.
    /// `frame.agg(&[("value", &["mean", "std"])])`.
    pub fn agg(self, spec: &[(&str, &[&str])]) -> Result<DataFrame> {
        let spec = parse_spec(spec)?;
        self.map_plan(|plan| rask_planner::frame::reduce(plan, &spec))
    }

    /// The first `n` rows; only as much input is read as they need.
    pub async fn head(self, n: usize) -> Result<Vec<RecordBatch>> {
        DataFrame::new(self.inner.limit(0, Some(n))?)
            .collect()
            .await
    }

    /// Number of rows.
    pub async fn len(self) -> Result<usize> {
        let rows = self.inner.count().await;
        Ok(rows?)
    }
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
