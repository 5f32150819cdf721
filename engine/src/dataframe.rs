//! The [`DataFrame`] handle users hold: a lazy query, computed on demand.

use datafusion::arrow::array::AsArray;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::tree_node::TreeNode;
use datafusion::common::Column;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{col, lit, Expr};
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use datafusion::prelude::SessionContext;
use rask_planner::accessors::DaskExpr;
use rask_planner::frame::{self as frame_ops, AggFunc, AggSpec, DropHow, How, MergeSpec};

use std::path::Path;
use std::sync::Arc;

use rask_planner::graph::TaskGraph;

use crate::error::{Error, Result};
use crate::execution::{BatchStream, Planned};
use crate::progress::Progress;
use crate::sink::{OutputFormat, ParquetSink};

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
    /// The statement it was planned from, shown by the dashboard and reports.
    sql: Option<String>,
    /// The names its columns are shown under, where they differ from the plan's: SQL's
    /// results may repeat a name, a plan's columns may not (see
    /// [`rask_planner::repeated_names`]).
    shown: Option<Arc<[String]>>,
}

/// `frame.groupby(keys)`, waiting for its aggregation.
#[derive(Debug, Clone)]
pub struct GroupBy {
    frame: DataFrame,
    keys: Vec<String>,
    dropna: bool,
}

impl GroupBy {
    /// Whether rows whose key is NULL are left out (`true`, the default, as pandas and
    /// Dask do) or make a group of their own (`false`, pandas' `dropna=False`).
    pub fn dropna(mut self, dropna: bool) -> GroupBy {
        self.dropna = dropna;
        self
    }

    /// The frame to aggregate: without NULL keys under `dropna`.
    fn rows(&self) -> Result<DataFrame> {
        if !self.dropna {
            return Ok(self.frame.clone());
        }
        let mut present = lit(true);
        for key in &self.keys {
            self.frame.check_column(key, "groupby")?;
            present = present.and(col(Column::from_name(key)).is_not_null());
        }
        self.frame.clone().filter(present)
    }

    /// Aggregates each listed column with the listed pandas aggregations (`mean`, `std`,
    /// `var`, `count`, `size`, `sum`, `min`, `max`, `first`, `last`, `nunique`). One row per
    /// group, sorted by the keys; columns named as [`AggSpec`] documents.
    pub fn agg(self, spec: &[(&str, &[&str])]) -> Result<DataFrame> {
        let spec = parse_spec(spec)?;
        self.rows()?
            .map_plan(|plan| rask_planner::frame::groupby_agg(plan, &self.keys, &spec))
    }

    /// One column of the groups, as pandas' `groupby(keys)[column]`: its aggregations are
    /// named by function (`mean`, `std`, `count`).
    pub fn column(self, column: &str) -> SeriesGroupBy {
        SeriesGroupBy {
            groups: self,
            column: column.to_string(),
        }
    }

    /// Rows per group, as a column named `size`.
    pub fn size(self) -> Result<DataFrame> {
        let spec = AggSpec {
            columns: vec![("size".to_string(), vec![AggFunc::Size])],
            by_function: false,
        };
        self.rows()?
            .map_plan(|plan| rask_planner::frame::groupby_agg(plan, &self.keys, &spec))
    }
}

/// `groupby(keys)[column]`, waiting for its aggregation.
#[derive(Debug, Clone)]
pub struct SeriesGroupBy {
    groups: GroupBy,
    column: String,
}

impl SeriesGroupBy {
    /// The listed aggregations of the column per group, each a column named after its
    /// function: `agg(&["mean", "std", "count"])` gives `mean`, `std`, `count`.
    pub fn agg(self, funcs: &[&str]) -> Result<DataFrame> {
        let mut spec = parse_spec(&[(self.column.as_str(), funcs)])?;
        spec.by_function = true;
        let rows = self.groups.rows()?;
        let keys = self.groups.keys;
        rows.map_plan(|plan| rask_planner::frame::groupby_agg(plan, &keys, &spec))
    }
}

/// Whether a value of type `value` fills a column of type `column` as pandas' `fillna`
/// does: numbers fill numbers, text fills text, times fill times (a 0 never becomes a date).
fn same_kind(value: &DataType, column: &DataType) -> bool {
    let text =
        |t: &DataType| matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
    (value.is_numeric() && column.is_numeric())
        || (text(value) && text(column))
        || (value == &DataType::Boolean && column == &DataType::Boolean)
        || (value.is_temporal() && column.is_temporal())
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
    Ok(AggSpec {
        columns,
        by_function: false,
    })
}

impl DataFrame {
    pub(crate) fn map_plan(
        self,
        lower: impl FnOnce(LogicalPlan) -> datafusion::common::Result<LogicalPlan>,
    ) -> Result<DataFrame> {
        self.derive(|inner| {
            let (state, plan) = inner.into_parts();
            Ok(datafusion::dataframe::DataFrame::new(state, lower(plan)?))
        })
    }

    /// The frame `operation` makes of this one's query. It keeps the names the columns are
    /// shown under as long as it keeps the plan's columns (a filter, a sort).
    fn derive(
        self,
        operation: impl FnOnce(
            datafusion::dataframe::DataFrame,
        ) -> datafusion::common::Result<datafusion::dataframe::DataFrame>,
    ) -> Result<DataFrame> {
        let columns = self.inner.schema().field_names();
        let inner = operation(self.inner)?;
        let shown = self
            .shown
            .filter(|_| inner.schema().field_names() == columns);
        Ok(DataFrame {
            inner,
            sql: None,
            shown,
        })
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

    /// An expression in SQL over this frame's columns (`"x * 2 + y"`, `"lower(name)"`), for
    /// [`filter`](Self::filter) and [`assign`](Self::assign).
    pub fn parse_expr(&self, sql: &str) -> Result<Expr> {
        Ok(self.inner.parse_sql_expr(sql)?)
    }

    /// Keeps the rows where `predicate` is true (a boolean mask, as `df[df.x > 0]`).
    pub fn filter(self, predicate: Expr) -> Result<DataFrame> {
        self.derive(|inner| inner.filter(predicate))
    }

    /// Adds (or replaces) column `name` computed by `value`, as `df.assign(name=value)`.
    pub fn assign(self, name: &str, value: Expr) -> Result<DataFrame> {
        self.derive(|inner| inner.with_column(name, value))
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
            return Err(Error::plan(format!(
                "drop: no column named {}",
                missing.join(", ")
            )));
        }
        Ok(DataFrame::new(self.inner.drop_columns(columns)?))
    }

    /// Renames columns: `(old, new)` pairs.
    pub fn rename(self, mapping: &[(&str, &str)]) -> Result<DataFrame> {
        let mut inner = self.inner;
        for (old, new) in mapping {
            if inner.schema().inner().field_with_name(old).is_err() {
                return Err(Error::plan(format!("rename: no column named {old}")));
            }
            inner = inner.with_column_renamed(*old, new)?;
        }
        Ok(DataFrame::new(inner))
    }

    /// Sorts by the listed columns; NULLs last, as pandas does.
    pub fn sort_values(self, by: &[&str], ascending: bool) -> Result<DataFrame> {
        let order = by
            .iter()
            .map(|c| col(Column::from_name(*c)).sort(ascending, false))
            .collect();
        self.derive(|inner| inner.sort(order))
    }

    /// Groups rows by the key columns; aggregate with [`GroupBy::agg`] or [`GroupBy::size`].
    pub fn groupby(self, keys: &[&str]) -> GroupBy {
        GroupBy {
            frame: self,
            keys: keys.iter().map(|k| k.to_string()).collect(),
            dropna: true,
        }
    }

    /// Whole-frame reductions: one row, one column per `(column, aggregation)`, e.g.
    /// `frame.agg(&[("value", &["mean", "std"])])`.
    pub fn agg(self, spec: &[(&str, &[&str])]) -> Result<DataFrame> {
        let spec = parse_spec(spec)?;
        self.map_plan(|plan| rask_planner::frame::reduce(plan, &spec))
    }

    /// Casts columns: `(column, type)` pairs, as `df.astype({..})`.
    pub fn astype(self, types: &[(&str, DataType)]) -> Result<DataFrame> {
        let mut frame = self;
        for (name, data_type) in types {
            frame.check_column(name, "astype")?;
            frame = frame.assign(
                name,
                col(Column::from_name(*name)).astype(data_type.clone()),
            )?;
        }
        Ok(frame)
    }

    /// Replaces NULLs in the listed columns with `value` (every column of a matching type
    /// when `columns` is empty), as `df.fillna(value)`.
    pub fn fillna(self, value: ScalarValue, columns: &[&str]) -> Result<DataFrame> {
        let schema = self.schema();
        let mut frame = self;
        for field in schema.fields() {
            let listed = columns.is_empty() || columns.contains(&field.name().as_str());
            let fits = same_kind(&value.data_type(), field.data_type())
                && value.cast_to(field.data_type()).is_ok();
            if listed && fits {
                let filled = col(Column::from_name(field.name())).fillna(value.clone());
                frame = frame.assign(field.name(), filled.astype(field.data_type().clone()))?;
            } else if listed && !columns.is_empty() {
                return Err(Error::plan(format!(
                    "fillna: {value} does not fit column '{}' ({})",
                    field.name(),
                    field.data_type()
                )));
            }
        }
        Ok(frame)
    }

    /// Removes rows with NULLs: `how = Any` drops a row with any NULL among `subset`
    /// (every column when empty), `All` only a row that is NULL throughout.
    pub fn dropna(self, how: DropHow, subset: &[&str]) -> Result<DataFrame> {
        let subset = owned(subset);
        self.map_plan(|plan| frame_ops::dropna(plan, how, &subset))
    }

    /// One row per distinct value of `subset` (all columns when empty).
    pub fn drop_duplicates(self, subset: &[&str]) -> Result<DataFrame> {
        let subset = owned(subset);
        self.map_plan(|plan| frame_ops::drop_duplicates(plan, &subset))
    }

    /// The distinct values of one column, as `df[column].unique()`.
    pub fn unique(self, column: &str) -> Result<DataFrame> {
        self.select(&[column])?.drop_duplicates(&[])
    }

    /// Distinct values of `column` with their counts, most frequent first.
    pub fn value_counts(self, column: &str) -> Result<DataFrame> {
        self.map_plan(|plan| frame_ops::value_counts(plan, column))
    }

    /// The `n` rows with the largest values of `column`.
    pub fn nlargest(self, n: usize, column: &str) -> Result<DataFrame> {
        self.map_plan(|plan| frame_ops::nlargest(plan, n, column, true))
    }

    /// The `n` rows with the smallest values of `column`.
    pub fn nsmallest(self, n: usize, column: &str) -> Result<DataFrame> {
        self.map_plan(|plan| frame_ops::nlargest(plan, n, column, false))
    }

    /// Joins with `other` on equal keys, as `pd.merge`: see [`MergeSpec`] for naming.
    ///
    /// `on` names key columns present in both frames; `left_on`/`right_on` pair up
    /// differently named keys (pass `on` empty then).
    pub fn merge(
        self,
        other: DataFrame,
        how: How,
        on: &[&str],
        left_right_on: (&[&str], &[&str]),
        suffixes: (&str, &str),
    ) -> Result<DataFrame> {
        let (left_on, right_on) = if on.is_empty() {
            (owned(left_right_on.0), owned(left_right_on.1))
        } else {
            (owned(on), owned(on))
        };
        let spec = MergeSpec {
            how,
            left_on,
            right_on,
            suffixes: (suffixes.0.to_string(), suffixes.1.to_string()),
        };
        let right = other.inner.into_parts().1;
        self.map_plan(|left| frame_ops::merge(left, right, &spec))
    }

    /// The rows of this frame followed by those of `others`, columns matched by name.
    pub fn concat(self, others: Vec<DataFrame>) -> Result<DataFrame> {
        let rest: Vec<LogicalPlan> = others.into_iter().map(|f| f.inner.into_parts().1).collect();
        self.map_plan(|first| frame_ops::concat(std::iter::once(first).chain(rest).collect()))
    }

    /// The rows of this frame that `other` has too, as SQL's `INTERSECT ALL`: a row found m
    /// times here and n times in `other` appears min(m, n) times. Rows are compared column by
    /// column in order, NULLs equal to NULLs, so both frames need as many columns; the result
    /// has this frame's names.
    pub fn intersect(self, other: DataFrame) -> Result<DataFrame> {
        let right = other.inner.into_parts().1;
        self.map_plan(|left| LogicalPlanBuilder::intersect(left, right, true))
    }

    /// The rows of this frame that `other` does not take away, as SQL's `EXCEPT ALL`: a row
    /// found m times here and n times in `other` appears max(m − n, 0) times. Rows are
    /// compared as [`intersect`](Self::intersect) compares them.
    pub fn except(self, other: DataFrame) -> Result<DataFrame> {
        let right = other.inner.into_parts().1;
        self.map_plan(|left| LogicalPlanBuilder::except(left, right, true))
    }

    /// About `frac` of the rows, chosen by a hash of each row seeded with `seed`: the same
    /// rows for the same seed, however the frame is partitioned.
    pub fn sample(self, frac: f64, seed: u64) -> Result<DataFrame> {
        self.map_plan(|plan| rask_planner::sample::sample(plan, frac, seed))
    }

    /// How many partitions the frame computes in.
    pub async fn npartitions(&self) -> Result<usize> {
        let planned = self.clone().planned().await?;
        Ok(planned
            .plan()
            .properties()
            .output_partitioning()
            .partition_count())
    }

    /// The plan as text: logical and physical, or with `analyze` run and annotated with
    /// rows, times and spills per operator.
    pub async fn explain(self, analyze: bool) -> Result<String> {
        let batches = DataFrame::new(self.inner.explain(false, analyze)?)
            .collect()
            .await?;
        let mut text = String::new();
        for batch in &batches {
            let plans = datafusion::arrow::compute::cast(batch.column(1), &DataType::Utf8)?;
            let kinds = datafusion::arrow::compute::cast(batch.column(0), &DataType::Utf8)?;
            let (plans, kinds) = (plans.as_string::<i32>(), kinds.as_string::<i32>());
            for row in 0..batch.num_rows() {
                text.push_str(&format!("{}:\n{}\n", kinds.value(row), plans.value(row)));
            }
        }
        Ok(text)
    }

    /// Computes the frame into memory.
    ///
    /// Rows come in partition order, as Dask concatenates partitions: a scan's in the order
    /// of its files (and of the rows in them), whichever partition finishes first.
    pub async fn compute(self) -> Result<Table> {
        let schema = self.schema();
        let table = self.planned().await?.collect_in_order().await?;
        Ok(Table {
            schema,
            batches: table.batches,
        })
    }

    /// [`compute`](Self::compute) for programs without an async runtime; inside one, use
    /// `.compute().await`.
    pub fn compute_blocking(self) -> Result<Table> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::execution(
                "compute_blocking was called inside an async runtime; use .compute().await there",
            ));
        }
        crate::stack::runtime()?.block_on(self.compute())
    }

    pub(crate) fn check_column(&self, name: &str, operation: &str) -> Result<()> {
        if self.schema().field_with_name(name).is_err() {
            return Err(Error::plan(format!(
                "{operation}: no column named '{name}'; the columns are: {}",
                self.columns().join(", ")
            )));
        }
        Ok(())
    }

    /// Takes `options` (Dask's `storage_options`) for the object store that `url` is in,
    /// for the rest of this frame's session: what a reader's options do for its files, for a
    /// write to a bucket nothing was read from. A local path takes none.
    pub fn use_storage(&self, url: &str, options: &crate::StorageOptions) -> Result<()> {
        if options.is_empty() {
            return Ok(());
        }
        if !rask_planner::stores::is_url(url) {
            return Err(Error::plan(format!(
                "storage options are for object stores; '{url}' is a local path"
            )));
        }
        let parsed =
            url::Url::parse(url).map_err(|e| Error::plan(format!("invalid URL '{url}': {e}")))?;
        let state = self.inner.clone().into_parts().0;
        rask_planner::stores::store_for(&state, &parsed, options)?;
        Ok(())
    }

    /// Writes the frame as Parquet files into directory `dir` (replaced atomically once
    /// complete), optionally in hive-style folders per `partition_on` value. Returns the
    /// number of rows written.
    pub async fn to_parquet(self, dir: impl AsRef<Path>, options: &ParquetSink) -> Result<u64> {
        // Written by DataFusion, whose plans cannot repeat a name: refused as SQL's COPY is.
        let mut seen = std::collections::HashSet::new();
        if let Some(repeated) = self
            .shown
            .iter()
            .flat_map(|names| names.iter())
            .find(|name| !seen.insert(*name))
        {
            return Err(Error::plan(format!(
                "to_parquet: column \"{repeated}\" specified more than once"
            )));
        }
        for column in &options.partition_on {
            self.check_column(column, "to_parquet partition_on")?;
        }
        let label = format!("to_parquet: {}", self.label());
        crate::sink::write_parquet_dir(self.inner, label, dir.as_ref(), options).await
    }

    /// Writes CSV: with a `*` in `path`, one file per partition (the `*` becomes the
    /// partition number, as in Dask); otherwise one file. Atomic; returns the rows written.
    pub async fn to_csv(self, path: impl AsRef<Path>) -> Result<u64> {
        self.write_text(path.as_ref(), OutputFormat::Csv).await
    }

    /// Writes newline-delimited JSON, named as [`to_csv`](Self::to_csv) names files.
    pub async fn to_json(self, path: impl AsRef<Path>) -> Result<u64> {
        self.write_text(path.as_ref(), OutputFormat::NdJson).await
    }

    async fn write_text(self, path: &Path, format: OutputFormat) -> Result<u64> {
        if !path.to_string_lossy().contains('*') {
            return crate::sink::write_file_as(self.execute_stream().await?, path, format).await;
        }
        let partitions = self.planned().await?.partitions().await?;
        crate::sink::write_partition_files(partitions.streams, path, format).await
    }

    /// Summary statistics of the numeric columns, as `df.describe()`: count, mean, std
    /// (ddof = 1), min, 25%, 50%, 75% (approximate, as Dask's) and max, one row each.
    pub async fn describe(self) -> Result<DataFrame> {
        let numeric: Vec<String> = self
            .schema()
            .fields()
            .iter()
            .filter(|f| f.data_type().is_numeric())
            .map(|f| f.name().clone())
            .collect();
        if numeric.is_empty() {
            return Err(Error::plan("describe: the frame has no numeric column"));
        }
        let state = self.inner.clone().into_parts().0;
        let stats = frame_ops::describe_stats();
        let plan = frame_ops::describe(self.inner.into_parts().1, &numeric)?;
        let row = DataFrame::new(datafusion::dataframe::DataFrame::new(state, plan))
            .collect()
            .await?;
        let batch = frame_ops::transpose_describe(&row, &numeric, &stats)?;
        computed(vec![batch])
    }

    /// A row for each column: its type, min, max, approximate distinct count, mean,
    /// standard deviation, approximate quartiles, row count and share of NULLs (in percent),
    /// as SQL's `SUMMARIZE`. Lazy, one pass over the frame.
    pub fn summarize(self) -> Result<DataFrame> {
        self.map_plan(rask_planner::summarize::summarize)
    }

    /// Approximate quantile `q` (0 to 1) of each listed column, one row.
    pub fn quantile(self, columns: &[&str], q: f64) -> Result<DataFrame> {
        if !(0.0..=1.0).contains(&q) {
            return Err(Error::plan(format!(
                "quantile: q must be between 0 and 1, got {q}"
            )));
        }
        for column in columns {
            self.check_column(column, "quantile")?;
        }
        let columns = owned(columns);
        self.map_plan(|plan| frame_ops::quantiles(plan, &columns, q))
    }

    /// Standard deviation of each column with `ddof` delta degrees of freedom: 1 (pandas'
    /// default, the sample statistic) or 0 (the population one). One row.
    pub fn std(self, columns: &[&str], ddof: u8) -> Result<DataFrame> {
        self.dispersion(columns, ddof, [AggFunc::StdPop, AggFunc::Std])
    }

    /// Variance of each column with `ddof` 1 (default in pandas) or 0. One row.
    pub fn var(self, columns: &[&str], ddof: u8) -> Result<DataFrame> {
        self.dispersion(columns, ddof, [AggFunc::VarPop, AggFunc::Var])
    }

    fn dispersion(self, columns: &[&str], ddof: u8, by_ddof: [AggFunc; 2]) -> Result<DataFrame> {
        let Some(&func) = by_ddof.get(ddof as usize) else {
            return Err(Error::plan(format!("ddof must be 0 or 1, got {ddof}")));
        };
        let spec = AggSpec {
            columns: columns
                .iter()
                .map(|c| (c.to_string(), vec![func]))
                .collect(),
            by_function: false,
        };
        self.map_plan(|plan| frame_ops::reduce(plan, &spec))
    }

    /// The first `n` rows, as Dask's `head`: taken from the first partition (then the next
    /// ones if it is shorter), reading only as much input as they need.
    pub async fn head(self, n: usize) -> Result<Vec<RecordBatch>> {
        let label = format!("head({n}): {}", self.label());
        let partitions = self.with_sql(label).planned().await?.partitions().await?;
        let mut taken = Vec::new();
        let mut missing = n;
        for mut partition in partitions.streams {
            while missing > 0 {
                let Some(batch) = partition.next_batch().await else {
                    break;
                };
                let batch = batch?;
                let take = missing.min(batch.num_rows());
                taken.push(batch.slice(0, take));
                missing -= take;
            }
            partition.close();
        }
        Ok(taken)
    }

    /// Number of rows.
    pub async fn len(self) -> Result<usize> {
        use datafusion::arrow::datatypes::Int64Type;
        let label = format!("len: {}", self.label());
        let rows = self
            .map_plan(|plan| {
                datafusion::logical_expr::LogicalPlanBuilder::from(plan)
                    .aggregate(
                        Vec::<Expr>::new(),
                        vec![datafusion::functions_aggregate::count::count_all()],
                    )?
                    .build()
            })?
            .with_sql(label)
            .execute_stream()
            .await?
            .single_value::<Int64Type>()
            .await?
            .unwrap_or(0);
        Ok(rows as usize)
    }

    pub(crate) fn new(inner: datafusion::dataframe::DataFrame) -> Self {
        DataFrame {
            inner,
            sql: None,
            shown: None,
        }
    }

    /// The same frame, its columns shown as `names`.
    pub(crate) fn showing(mut self, names: Vec<String>) -> Self {
        self.shown = Some(names.into());
        self
    }

    /// The names the columns are shown under, where they differ from the plan's.
    pub(crate) fn shown_names(&self) -> Option<Arc<[String]>> {
        self.shown.clone()
    }

    /// How the query log names this frame's query: its SQL, or its operators.
    pub(crate) fn label(&self) -> String {
        self.sql
            .clone()
            .unwrap_or_else(|| outline(self.inner.logical_plan()).join(" <- "))
    }

    pub(crate) fn with_sql(mut self, sql: String) -> Self {
        self.sql = Some(sql);
        self
    }

    /// Column names and types. A name may repeat, as in SQL's `SELECT id, id`.
    pub fn schema(&self) -> SchemaRef {
        let schema = self.inner.schema().inner();
        match &self.shown {
            Some(names) => crate::execution::shown_schema(schema, names),
            None => Arc::clone(schema),
        }
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
        self.execute_stream().await?.collect().await
    }

    /// The frame's query, planned: the one way every computation of it starts.
    pub(crate) async fn planned(self) -> Result<Planned> {
        let label = self.label();
        Ok(Planned::frame(self.inner, label).await?.showing(self.shown))
    }

    /// Starts computing the frame; batches arrive as partitions produce them. The query
    /// is recorded in the session's [`QueryLog`](crate::QueryLog) while it runs.
    pub async fn execute_stream(self) -> Result<BatchStream> {
        self.planned().await?.stream().await
    }

    /// Starts computing the frame, with a handle that tells how far it is.
    pub async fn execute_stream_with_progress(self) -> Result<(BatchStream, Progress)> {
        let stream = self.execute_stream().await?;
        let progress = stream.query().progress().clone();
        Ok((stream, progress))
    }

    /// Draws the frame's task graph (Dask's `visualize`) without computing it: its
    /// operators, how many tasks (partitions) each runs as, and what each does. The format
    /// follows the extension: `.svg` and `.dot` are drawn in-process, `.png` needs
    /// Graphviz's `dot` program. Written atomically.
    pub async fn visualize(&self, path: impl AsRef<Path>) -> Result<TaskGraph> {
        let path = path.as_ref();
        let format = crate::report::check_graph_path(path)?;
        let graph = TaskGraph::new(self.clone().planned().await?.plan());
        crate::report::write_graph(&graph, path, format)?;
        Ok(graph)
    }

    /// Computes the frame and writes a performance report of the run to `path`, as Dask's
    /// `performance_report`: one self-contained HTML file with the query, its task graph,
    /// per-operator metrics, the task stream, memory, spill and the files read.
    pub async fn compute_with_report(self, path: impl AsRef<Path>) -> Result<Table> {
        let path = path.as_ref();
        crate::report::check_report_path(path)?;
        let schema = self.schema();
        let stream = self.execute_stream().await?;
        let query = Arc::clone(stream.query());
        let batches = stream.collect().await?;
        crate::report::write_report(&query, path)?;
        Ok(Table { schema, batches })
    }

    /// This frame's rows followed by `extra` (same schema); used to annotate EXPLAIN.
    pub(crate) async fn with_appended_rows(self, extra: Option<RecordBatch>) -> Result<DataFrame> {
        let Some(extra) = extra else {
            return Ok(self);
        };
        let mut batches = self.collect().await?;
        batches.push(extra);
        computed(batches)
    }
}

/// A frame over rows already computed (at least one batch). It is read in this process even
/// when the rows were computed on a cluster, whose workers could not read it.
fn computed(batches: Vec<RecordBatch>) -> Result<DataFrame> {
    let table = datafusion::datasource::MemTable::try_new(batches[0].schema(), vec![batches])?;
    Ok(DataFrame::new(
        SessionContext::new().read_table(Arc::new(table))?,
    ))
}

/// The logical operators of `plan`, root first: `Sort`, `Aggregate`, `TableScan`.
fn outline(plan: &LogicalPlan) -> Vec<String> {
    let mut operators = Vec::new();
    let _ = plan.apply(|node| {
        let shown = node.display().to_string();
        operators.push(shown.split(':').next().unwrap_or_default().to_string());
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    });
    operators
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// A computed frame: its schema and rows, in memory. `Display` prints it as a table.
#[derive(Debug, Clone)]
pub struct Table {
    /// Column names and types.
    pub schema: SchemaRef,
    /// The rows, in batches.
    pub batches: Vec<RecordBatch>,
}

impl Table {
    /// Number of rows.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = datafusion::arrow::util::pretty::pretty_format_batches_with_schema(
            self.schema.clone(),
            &self.batches,
        )
        .map_err(|_| std::fmt::Error)?;
        write!(f, "{shown}")
    }
}

impl DataFrame {
    /// Partitions and tasks (operators × their partitions, as Dask counts tasks) of the
    /// physical plan, planned on the spot; `None` where that cannot block (inside a
    /// single-threaded async runtime) or planning fails.
    fn plan_size(&self) -> Option<(usize, usize)> {
        use tokio::runtime::{Handle, RuntimeFlavor};
        let frame = self.inner.clone();
        let planning = frame.create_physical_plan();
        let plan = match Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| handle.block_on(planning))
            }
            Ok(_) => return None,
            Err(_) => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?
                .block_on(planning),
        }
        .ok()?;
        let graph = TaskGraph::new(&plan);
        Some((graph.npartitions(), graph.tasks()))
    }
}

/// The frame's structure without computing it, as Dask's `Dask DataFrame Structure`:
/// column names over their types, the partitions, then the plan's operators and task count.
impl std::fmt::Display for DataFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let schema = self.schema();
        let cells: Vec<(String, String)> = schema
            .fields()
            .iter()
            .map(|field| (field.name().clone(), field.data_type().to_string()))
            .collect();
        let widths: Vec<usize> = cells.iter().map(|(n, t)| n.len().max(t.len())).collect();
        let row = |pick: &dyn Fn(&(String, String)) -> &String| {
            cells
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{:>width$}", pick(cell)))
                .collect::<Vec<_>>()
                .join("  ")
        };
        let size = self.plan_size();
        writeln!(f, "Rask DataFrame Structure:")?;
        writeln!(f, "{}", row(&|c| &c.0))?;
        match size {
            Some((partitions, _)) => writeln!(f, "npartitions={partitions}")?,
            None => writeln!(f, "npartitions=?")?,
        }
        writeln!(f, "{}", row(&|c| &c.1))?;
        if let (Some(index), Some(divisions)) = (self.index(), self.divisions()) {
            let shown: Vec<String> = divisions.iter().map(ToString::to_string).collect();
            let shown = match shown.len() {
                0..=6 => shown.join(", "),
                n => format!(
                    "{}, …, {}",
                    shown[..3].join(", "),
                    shown[n - 2..].join(", ")
                ),
            };
            writeln!(f, "index={index}, divisions=[{shown}]")?;
        }
        let operators = outline(self.inner.logical_plan());
        let tasks = size.map_or(String::new(), |(_, tasks)| format!(", {tasks} tasks"));
        write!(
            f,
            "Rask plan: {} ({} operators{tasks}, lazy)",
            operators.join(" <- "),
            operators.len()
        )
    }
}
