//! Dask's partition semantics on [`DataFrame`]: repartitioning, `map_partitions` and row
//! `apply`, `set_index` with known divisions, `loc`, `resample`, `rolling` and `persist`.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use datafusion::catalog::{Session as CatalogSession, TableProvider};
use datafusion::common::{Column, ScalarValue};
use datafusion::datasource::{provider_as_source, MemTable};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SessionState, TaskContext};
use datafusion::logical_expr::{col, lit, Expr, LogicalPlan, LogicalPlanBuilder, TableType};
use datafusion::physical_plan::ExecutionPlan;
use rask_planner::frame::AggFunc;
use rask_planner::nodes::{self, find_divisions, Bounds};
use rask_planner::partitions::{self as partition_ops, PartitionFunction};
use rask_planner::resample::{self as resample_ops, Window};

use crate::dataframe::DataFrame;
use crate::error::{Error, Result};
use crate::execution::Planned;

/// A function over one whole partition: its rows as one Arrow batch in, new rows out.
pub trait PartitionFn: Fn(RecordBatch) -> Result<RecordBatch> + Send + Sync + 'static {}

impl<F: Fn(RecordBatch) -> Result<RecordBatch> + Send + Sync + 'static> PartitionFn for F {}

/// Adapts a partition function returning [`rask::Error`](Error) to the planner's form.
pub(crate) fn partition_function(
    name: &str,
    f: impl PartitionFn,
) -> Arc<partition_ops::PartitionFn> {
    let name = name.to_string();
    Arc::new(move |batch| {
        f(batch).map_err(|error| {
            datafusion::common::DataFusionError::Execution(format!("{name}: {error}"))
        })
    })
}

/// Registers the partition functions every Rask process knows, so that plans naming them run
/// anywhere, a cluster's workers included: `len`, one row per partition with its row count
/// in column `len` (Dask's `map_partitions(len)`).
pub(crate) fn register_builtin_partition_functions() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        partition_ops::register_partition_function(
            "len",
            partition_function("len", |partition: RecordBatch| {
                let rows: ArrayRef = Arc::new(datafusion::arrow::array::Int64Array::from(vec![
                    partition.num_rows() as i64,
                ]));
                Ok(RecordBatch::try_from_iter(vec![("len", rows)])?)
            }),
        );
    });
}

/// One row handed to [`DataFrame::apply`]: its values by column name.
pub struct Row<'a> {
    schema: &'a Schema,
    values: &'a [ScalarValue],
}

impl Row<'_> {
    /// The value of `column`, `None` if there is no such column.
    pub fn get(&self, column: &str) -> Option<&ScalarValue> {
        self.schema.index_of(column).ok().map(|i| &self.values[i])
    }

    /// The value of `column` as a float (integers widen; NULL and non-numbers give NaN), as
    /// pandas hands a numeric row value to Python.
    pub fn f64(&self, column: &str) -> f64 {
        self.get(column)
            .and_then(|v| v.cast_to(&DataType::Float64).ok())
            .and_then(|v| match v {
                ScalarValue::Float64(value) => value,
                _ => None,
            })
            .unwrap_or(f64::NAN)
    }
}

/// `frame.resample(freq)`, waiting for its aggregation.
#[derive(Debug, Clone)]
pub struct Resampler {
    frame: DataFrame,
    index: String,
    freq: i64,
}

impl Resampler {
    /// Each listed `(column, aggregation)` per bin: `mean`, `sum`, `count`, `min`, `max`,
    /// `first`, `last` (and the other [`AggFunc`]s). Columns are named after the column, or
    /// `column_func` when a column is aggregated more than once.
    pub fn agg(self, spec: &[(&str, &str)]) -> Result<DataFrame> {
        let spec = spec
            .iter()
            .map(|(column, func)| {
                self.frame.check_column(column, "resample")?;
                Ok((column.to_string(), func.parse::<AggFunc>()?))
            })
            .collect::<Result<Vec<_>>>()?;
        let (index, freq) = (self.index, self.freq);
        self.frame
            .map_plan(|plan| resample_ops::resample(plan, &index, freq, &spec))
    }

    fn each(self, columns: &[&str], func: &str) -> Result<DataFrame> {
        let spec: Vec<(&str, &str)> = columns.iter().map(|c| (*c, func)).collect();
        self.agg(&spec)
    }
}

/// The shortcuts of [`Resampler`] for one aggregation of every listed column, each named
/// as its pandas method.
macro_rules! per_bin {
    ($($func:ident: $doc:literal),* $(,)?) => {
        impl Resampler {
            $(
                #[doc = $doc]
                pub fn $func(self, columns: &[&str]) -> Result<DataFrame> {
                    self.each(columns, stringify!($func))
                }
            )*
        }
    };
}

per_bin! {
    mean: "The mean of each listed column per bin, as `resample(freq)[columns].mean()`.",
    sum: "The sum of each listed column per bin (0 for an empty bin).",
    count: "The non-null values of each listed column per bin (0 for an empty bin).",
    min: "The smallest value of each listed column per bin.",
    max: "The largest value of each listed column per bin.",
    first: "The value at the earliest index in each bin.",
    last: "The value at the latest index in each bin.",
}

/// `frame.rolling(window)`, waiting for its aggregation.
#[derive(Debug, Clone)]
pub struct Rolling {
    frame: DataFrame,
    index: String,
    window: Window,
}

impl Rolling {
    /// The mean of each listed column over the window ending at each row.
    pub fn mean(self, columns: &[&str]) -> Result<DataFrame> {
        self.apply(columns, AggFunc::Mean)
    }

    /// The sum of each listed column over the window ending at each row.
    pub fn sum(self, columns: &[&str]) -> Result<DataFrame> {
        self.apply(columns, AggFunc::Sum)
    }

    fn apply(self, columns: &[&str], func: AggFunc) -> Result<DataFrame> {
        for column in columns {
            self.frame.check_column(column, "rolling")?;
        }
        let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        let (index, window) = (self.index, self.window);
        self.frame
            .map_plan(|plan| resample_ops::rolling(plan, &index, window, &columns, func))
    }
}

/// A rolling window: a number of rows, or a duration of the index such as `"1h"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollingWindow {
    /// The last N rows; NULL until N rows are seen, as pandas' default.
    Rows(u64),
    /// The rows whose index lies within this fixed pandas frequency (`"30s"`, `"1h"`, `"1D"`)
    /// before the current one.
    Span(String),
}

impl From<u64> for RollingWindow {
    fn from(rows: u64) -> Self {
        RollingWindow::Rows(rows)
    }
}

impl From<&str> for RollingWindow {
    fn from(span: &str) -> Self {
        RollingWindow::Span(span.to_string())
    }
}

/// A persisted frame's partitions, held in memory and counted against the memory pool
/// for as long as any frame reads them.
#[derive(Debug)]
pub(crate) struct Persisted {
    table: MemTable,
    _reservation: Arc<MemoryReservation>,
}

#[async_trait::async_trait]
impl TableProvider for Persisted {
    fn schema(&self) -> SchemaRef {
        self.table.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn CatalogSession,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        self.table.scan(state, projection, filters, limit).await
    }
}

impl DataFrame {
    fn with_plan(self, plan: LogicalPlan) -> DataFrame {
        let (state, _) = self.into_datafusion().into_parts();
        DataFrame::new(datafusion::dataframe::DataFrame::new(state, plan))
    }

    /// `npartitions` partitions of about equal size (batches are dealt round-robin), as
    /// `repartition(npartitions=..)`.
    pub fn repartition(self, npartitions: usize) -> Result<DataFrame> {
        self.map_plan(|plan| nodes::rebalance(plan, npartitions))
    }

    /// Partitions of about `bytes` in memory each, as `repartition(partition_size=..)`:
    /// like Dask, this computes the frame once to measure it.
    pub async fn repartition_by_size(self, bytes: usize) -> Result<DataFrame> {
        if bytes == 0 {
            return Err(Error::plan(
                "repartition: partition_size must be at least 1 byte",
            ));
        }
        let label = format!("repartition: {}", self.label());
        let mut stream = self.clone().with_sql(label).execute_stream().await?;
        let mut total = 0usize;
        while let Some(batch) = stream.next_batch().await {
            total += batch?.get_array_memory_size();
        }
        self.repartition(total.div_ceil(bytes).max(1))
    }

    /// Runs `f` once on each partition, in parallel, as `map_partitions(f, meta=..)`: `f`
    /// receives the partition's rows as one batch and returns the new rows. `meta` is the
    /// schema `f` returns; without it, `f` is called on an empty partition to find out.
    /// `name` is how plans show `f`.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use rask::arrow::array::{Int64Array, RecordBatch};
    /// let session = rask::Session::new().unwrap();
    /// let x = Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5])) as _;
    /// let frame = session.from_columns(vec![("x", x)], 2).unwrap();
    /// let sizes = frame
    ///     .map_partitions("len", |part: RecordBatch| {
    ///         let len = Arc::new(Int64Array::from(vec![part.num_rows() as i64])) as _;
    ///         Ok(RecordBatch::try_from_iter(vec![("len", len)])?)
    ///     }, None)
    ///     .unwrap()
    ///     .compute()
    ///     .await
    ///     .unwrap();
    /// assert_eq!(sizes.num_rows(), 2);
    /// # });
    /// ```
    pub fn map_partitions(
        self,
        name: &str,
        f: impl PartitionFn,
        meta: Option<SchemaRef>,
    ) -> Result<DataFrame> {
        let function = PartitionFunction::new(name, partition_function(name, f));
        self.map_plan(|plan| nodes::map_partitions(plan, function, meta))
    }

    /// [`map_partitions`](Self::map_partitions) with a function registered by
    /// [`Session::register_partition_function`](crate::Session::register_partition_function),
    /// which any process that registered the same name can run.
    pub fn map_partitions_by_name(self, name: &str, meta: Option<SchemaRef>) -> Result<DataFrame> {
        let Some(function) = partition_ops::registered_partition_function(name) else {
            return Err(Error::plan(format!(
                "map_partitions: no partition function is registered as '{name}'"
            )));
        };
        self.map_plan(|plan| nodes::map_partitions(plan, function, meta))
    }

    /// Adds column `name` computed row by row by `f`, as
    /// `df[name] = df.apply(f, axis=1, meta=(name, dtype))`. Prefer expressions
    /// ([`assign`](Self::assign)) where they can say it: they run vectorised.
    pub fn apply<F>(self, name: &str, f: F, dtype: DataType) -> Result<DataFrame>
    where
        F: Fn(&Row) -> Result<ScalarValue> + Send + Sync + 'static,
    {
        let input = self.schema();
        let mut fields: Vec<Field> = input
            .fields()
            .iter()
            .filter(|field| field.name() != name)
            .map(|field| field.as_ref().clone())
            .collect();
        fields.push(Field::new(name, dtype.clone(), true));
        let meta = Arc::new(Schema::new(fields));
        let output = Arc::clone(&meta);
        let column = name.to_string();
        let rows = move |batch: RecordBatch| -> Result<RecordBatch> {
            let schema = batch.schema();
            let mut values = Vec::with_capacity(batch.num_rows());
            for row in 0..batch.num_rows() {
                let cells = batch
                    .columns()
                    .iter()
                    .map(|array| ScalarValue::try_from_array(array, row))
                    .collect::<datafusion::common::Result<Vec<_>>>()?;
                let value = f(&Row {
                    schema: &schema,
                    values: &cells,
                })?;
                values.push(value.cast_to(&dtype).map_err(|_| {
                    Error::execution(format!(
                        "apply: the function returned {value}, which is not {dtype}"
                    ))
                })?);
            }
            let computed: ArrayRef = if values.is_empty() {
                datafusion::arrow::array::new_empty_array(&dtype)
            } else {
                ScalarValue::iter_to_array(values)?
            };
            let mut columns: Vec<ArrayRef> = schema
                .fields()
                .iter()
                .zip(batch.columns())
                .filter(|(field, _)| field.name() != &column)
                .map(|(_, array)| Arc::clone(array))
                .collect();
            columns.push(computed);
            Ok(RecordBatch::try_new(Arc::clone(&output), columns)?)
        };
        self.map_partitions(&format!("apply({name})"), rows, Some(meta))
    }

    /// The index column, when the frame has known divisions.
    pub fn index(&self) -> Option<String> {
        find_divisions(self.logical_plan()).map(|d| d.column().to_string())
    }

    /// Dask's divisions: each partition's lowest index value, then the last partition's
    /// highest. `None` without an index (or, as in Dask, when they are unknown).
    pub fn divisions(&self) -> Option<Vec<ScalarValue>> {
        let found = find_divisions(self.logical_plan())?;
        let divisions = found.divisions();
        divisions.iter().all(|d| !d.is_null()).then_some(divisions)
    }

    /// Whether the frame's divisions are known.
    pub fn known_divisions(&self) -> bool {
        self.divisions().is_some()
    }

    /// The frame ordered on `column`, in partitions of known index ranges, as
    /// `set_index(column, sorted=..)`.
    ///
    /// With `sorted = true` the data is trusted to be sorted already: a frame read from
    /// files gets one partition per file, ranges from each file's smallest and largest
    /// value (from Parquet statistics where the files have them), and an error if the files'
    /// ranges overlap. Otherwise, as with
    /// `sorted = false`, divisions are computed from approximate quantiles of the column
    /// (one pass) and the rows are split among them and sorted within each partition.
    pub async fn set_index(self, column: &str, sorted: bool) -> Result<DataFrame> {
        self.check_column(column, "set_index")?;
        let (state, plan) = self.clone().into_datafusion().into_parts();
        if sorted {
            if let Some(parts) = rask_planner::scans::partition_scans(&plan)? {
                let bounds = futures::future::try_join_all(
                    parts.iter().map(|part| part_bounds(&state, part, column)),
                )
                .await?;
                let mut ordered: Vec<(LogicalPlan, Bounds)> =
                    parts.into_iter().zip(bounds).collect();
                ordered.sort_by(|a, b| {
                    a.1 .0
                        .partial_cmp(&b.1 .0)
                        .unwrap_or(std::cmp::Ordering::Equal)
                });
                let (inputs, bounds): (Vec<_>, Vec<_>) = ordered.into_iter().unzip();
                let plan = nodes::divisions(inputs, column, bounds, false, false)?;
                return Ok(self.with_plan(plan));
            }
        }
        let npartitions = self.npartitions().await?;
        let splits = split_points(&state, &plan, column, npartitions).await?;
        let plan = range_partitions(plan, column, &splits)?;
        Ok(self.with_plan(plan))
    }

    /// The rows whose index lies between `start` and `end`, both included, as
    /// `loc[start:end]`; `None` leaves that side open. With known divisions, only the
    /// partitions that can hold such rows are read.
    pub fn loc(self, start: Option<ScalarValue>, end: Option<ScalarValue>) -> Result<DataFrame> {
        let Some(index) = self.index() else {
            return Err(Error::plan(
                "loc needs an index: call set_index(column, ..) first",
            ));
        };
        let index_type = self.schema().field_with_name(&index)?.data_type().clone();
        let bound = |value: ScalarValue| -> Result<Expr> {
            let cast = value.cast_to(&index_type).map_err(|_| {
                Error::plan(format!(
                    "loc: {value} cannot be compared with the index '{index}' ({index_type})"
                ))
            })?;
            Ok(lit(cast))
        };
        let column = col(Column::from_name(&index));
        let mut predicate = lit(true);
        if let Some(start) = start {
            predicate = predicate.and(column.clone().gt_eq(bound(start)?));
        }
        if let Some(end) = end {
            predicate = predicate.and(column.lt_eq(bound(end)?));
        }
        self.filter(predicate)
    }

    fn require_index(&self, operation: &str) -> Result<String> {
        self.index().ok_or_else(|| {
            Error::plan(format!(
                "{operation} needs a timestamp index: call set_index(column, ..) first"
            ))
        })
    }

    /// Bins of a fixed pandas frequency (`"1D"`, `"1h"`, `"15min"`) over the timestamp
    /// index, as `resample(freq)`; aggregate with [`Resampler::mean`] and the like.
    pub fn resample(self, freq: &str) -> Result<Resampler> {
        let index = self.require_index("resample")?;
        let freq = rask_planner::timeseries::parse_freq(freq)?;
        Ok(Resampler {
            frame: self,
            index,
            freq,
        })
    }

    /// A window rolling over the sorted index, as `rolling(window)`: a number of rows, or a
    /// duration of a timestamp index such as `"1h"`.
    pub fn rolling(self, window: impl Into<RollingWindow>) -> Result<Rolling> {
        let index = self.require_index("rolling")?;
        let window = match window.into() {
            RollingWindow::Rows(rows) => Window::Rows(rows),
            RollingWindow::Span(span) => Window::Span(rask_planner::timeseries::parse_freq(&span)?),
        };
        Ok(Rolling {
            frame: self,
            index,
            window,
        })
    }

    /// Computes the frame into memory partitions that later operations reuse without
    /// reading the input again, as `persist()`. The partitions (and divisions) are kept;
    /// their memory counts against the session's memory limit until the last frame using
    /// them is dropped, and a frame that does not fit is refused.
    pub async fn persist(self) -> Result<DataFrame> {
        let (state, plan) = self.clone().into_datafusion().into_parts();
        let optimized = state.optimize(&plan)?;
        let bounds: Option<(String, Vec<Bounds>, bool)> = find_divisions(&optimized)
            .map(|d| (d.column().to_string(), d.bounds().to_vec(), d.half_open()));
        let label = format!("persist: {}", self.label());
        let physical = match state.create_physical_plan(&optimized).await {
            Ok(physical) => physical,
            Err(error) => return Err(crate::execution::traced(error, &plan).await),
        };
        let schema = physical.schema();
        let started = Planned::physical(TaskContext::from(&state), plan, physical, label)
            .partitions()
            .await?;
        let reservation = MemoryConsumer::new("persist").register(started.context.memory_pool());
        let collected = futures::future::try_join_all(started.streams.into_iter().map(|mut stream| {
            let reservation = &reservation;
            async move {
                let mut batches = Vec::new();
                while let Some(batch) = stream.next_batch().await {
                    let batch = batch?;
                    if let Err(e) = reservation.try_grow(batch.get_array_memory_size()) {
                        let error = Error::memory(format!("persist: the frame does not fit in memory: {e}"))
                            .with_hint("raise --memory-limit, persist fewer columns or rows, or write the frame to Parquet");
                        return Err(stream.fail(error));
                    }
                    batches.push(batch);
                }
                Ok::<_, Error>(batches)
            }
        }))
        .await?;
        let held = Arc::new(reservation);
        let table = |parts: Vec<Vec<RecordBatch>>| -> Result<LogicalPlan> {
            let persisted = Persisted {
                table: MemTable::try_new(Arc::clone(&schema), parts)?,
                _reservation: Arc::clone(&held),
            };
            Ok(LogicalPlanBuilder::scan(
                "persisted",
                provider_as_source(Arc::new(persisted)),
                None,
            )?
            .build()?)
        };
        let plan = match bounds {
            Some((column, bounds, half_open)) if bounds.len() == collected.len() => {
                let inputs = collected
                    .into_iter()
                    .map(|part| table(vec![part]))
                    .collect::<Result<Vec<_>>>()?;
                nodes::divisions(inputs, &column, bounds, false, half_open)?
            }
            _ => table(collected)?,
        };
        Ok(self.with_plan(plan))
    }
}

/// Each partition's smallest and largest index value, computed by one query each (answered
/// from Parquet statistics where the files have them).
async fn part_bounds(state: &SessionState, part: &LogicalPlan, column: &str) -> Result<Bounds> {
    use datafusion::functions_aggregate::expr_fn::{max, min};
    let c = || col(Column::from_name(column));
    let plan = LogicalPlanBuilder::from(part.clone())
        .aggregate(Vec::<Expr>::new(), vec![min(c()), max(c())])?
        .build()?;
    let batches = collect_plan(state, plan).await?;
    let batch = batches
        .first()
        .ok_or_else(|| Error::execution("set_index: no minimum computed"))?;
    Ok((
        ScalarValue::try_from_array(batch.column(0), 0)?,
        ScalarValue::try_from_array(batch.column(1), 0)?,
    ))
}

/// `npartitions + 1` ascending values splitting `column` into ranges of about equal row
/// counts: the minimum, the split points, the maximum (fewer when values repeat). Numbers,
/// dates and timestamps are split at approximate quantiles; other types (text) at the values
/// where the running count of the sorted distinct values passes each share.
async fn split_points(
    state: &SessionState,
    plan: &LogicalPlan,
    column: &str,
    npartitions: usize,
) -> Result<Vec<ScalarValue>> {
    let field_type = plan
        .schema()
        .field_with_unqualified_name(column)?
        .data_type()
        .clone();
    let mut points = if field_type.is_numeric() || field_type.is_temporal() {
        quantile_points(state, plan, column, &field_type, npartitions).await?
    } else {
        running_count_points(state, plan, column, npartitions).await?
    };
    points.dedup_by(|b, a| (*a).partial_cmp(&*b) != Some(std::cmp::Ordering::Less));
    if points.len() == 1 {
        points.push(points[0].clone());
    }
    Ok(points)
}

/// Runs one of `set_index`'s measuring queries, which the query log shows as `set_index`.
async fn collect_plan(state: &SessionState, plan: LogicalPlan) -> Result<Vec<RecordBatch>> {
    let frame = datafusion::dataframe::DataFrame::new(state.clone(), plan);
    Planned::frame(frame, "set_index: measuring the index".to_string())
        .await?
        .stream()
        .await?
        .collect()
        .await
}

/// The minimum, approximate quantiles and maximum of a numeric or temporal column, in one
/// pass; empty when it holds no value.
async fn quantile_points(
    state: &SessionState,
    plan: &LogicalPlan,
    column: &str,
    field_type: &DataType,
    npartitions: usize,
) -> Result<Vec<ScalarValue>> {
    use datafusion::functions_aggregate::expr_fn::{approx_percentile_cont, max, min};
    use datafusion::logical_expr::cast;
    let value = col(Column::from_name(column));
    // Dates and timestamps are split as numbers: any split value works, exact or not.
    let number = if field_type.is_numeric() {
        cast(value.clone(), DataType::Float64)
    } else {
        cast(cast(value.clone(), DataType::Int64), DataType::Float64)
    };
    let mut aggregates = vec![min(value.clone()), max(value)];
    for i in 1..npartitions {
        aggregates.push(approx_percentile_cont(
            number.clone().sort(true, false),
            lit(i as f64 / npartitions as f64),
            None,
        ));
    }
    let summary = LogicalPlanBuilder::from(plan.clone())
        .aggregate(Vec::<Expr>::new(), aggregates)?
        .build()?;
    let batches = collect_plan(state, summary).await?;
    let Some(batch) = batches.first() else {
        return Ok(vec![]);
    };
    let low = ScalarValue::try_from_array(batch.column(0), 0)?;
    if low.is_null() {
        return Ok(vec![]);
    }
    let mut points = vec![low];
    for i in 2..batch.num_columns() {
        let quantile = ScalarValue::try_from_array(batch.column(i), 0)?;
        points.push(if field_type.is_numeric() {
            quantile.cast_to(field_type)?
        } else {
            quantile.cast_to(&DataType::Int64)?.cast_to(field_type)?
        });
    }
    points.push(ScalarValue::try_from_array(batch.column(1), 0)?);
    Ok(points)
}

/// The first and last distinct value of `column` and, between them, the value at which the
/// running row count passes each `1 / npartitions` share; empty when it holds no value.
async fn running_count_points(
    state: &SessionState,
    plan: &LogicalPlan,
    column: &str,
    npartitions: usize,
) -> Result<Vec<ScalarValue>> {
    let value = col(Column::from_name(column));
    let counts = LogicalPlanBuilder::from(plan.clone())
        .filter(value.clone().is_not_null())?
        .aggregate(
            vec![value.clone()],
            vec![datafusion::functions_aggregate::expr_fn::count(lit(1))],
        )?
        .sort(vec![value.sort(true, false)])?
        .build()?;
    let mut distinct = Vec::new();
    for batch in collect_plan(state, counts).await? {
        let rows = batch.column(1).as_primitive::<Int64Type>();
        for row in 0..batch.num_rows() {
            distinct.push((
                ScalarValue::try_from_array(batch.column(0), row)?,
                rows.value(row),
            ));
        }
    }
    let (Some(first), Some(last)) = (distinct.first(), distinct.last()) else {
        return Ok(vec![]);
    };
    let total: i64 = distinct.iter().map(|(_, n)| n).sum();
    let mut points = vec![first.0.clone()];
    let mut seen = 0;
    let mut share = 1;
    for (value, rows) in &distinct {
        seen += rows;
        while share < npartitions && seen * npartitions as i64 >= total * share as i64 {
            points.push(value.clone());
            share += 1;
        }
    }
    points.push(last.0.clone());
    Ok(points)
}

/// One partition per pair of neighbouring split points, each the rows of its range sorted
/// on `column`; the input is read once for all of them. Rows whose index is NULL go last.
fn range_partitions(
    plan: LogicalPlan,
    column: &str,
    splits: &[ScalarValue],
) -> Result<LogicalPlan> {
    let value = || col(Column::from_name(column));
    if splits.len() < 2 {
        // No non-NULL value: one partition, its range unknown.
        let unknown = (ScalarValue::Null, ScalarValue::Null);
        return Ok(nodes::divisions(
            vec![plan],
            column,
            vec![unknown],
            true,
            true,
        )?);
    }
    let input = rask_planner::nodes::shared(plan);
    let last = splits.len() - 2;
    let mut inputs = Vec::with_capacity(splits.len() - 1);
    let mut bounds = Vec::with_capacity(splits.len() - 1);
    for (i, range) in splits.windows(2).enumerate() {
        let low = value().gt_eq(lit(range[0].clone()));
        let predicate = if i == last {
            low.and(value().lt_eq(lit(range[1].clone())))
                .or(value().is_null())
        } else {
            low.and(value().lt(lit(range[1].clone())))
        };
        inputs.push(
            LogicalPlanBuilder::from(input.clone())
                .filter(predicate)?
                .build()?,
        );
        bounds.push((range[0].clone(), range[1].clone()));
    }
    Ok(nodes::divisions(inputs, column, bounds, true, true)?)
}
