//! pandas/Dask semantics lowered to logical plans: aggregation names and conventions,
//! `groupby(..).agg(..)` sorted by key, column reductions.
//!
//! The conventions are pandas': `std` and `var` are sample statistics (ddof = 1), `count`
//! counts non-null values, `size` counts rows, groupby results come sorted by the keys.

use std::fmt;
use std::str::FromStr;

use datafusion::common::{internal_err, plan_err, DataFusionError, Result};
use datafusion::functions::expr_fn::coalesce;
use datafusion::functions_aggregate::expr_fn::{
    avg, count, count_distinct, first_value, last_value, max, min, stddev, stddev_pop, sum,
    var_pop, var_sample,
};
use datafusion::logical_expr::{col, lit, Expr, LogicalPlan, LogicalPlanBuilder, SortExpr};

/// An aggregation by its pandas name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    /// Arithmetic mean of non-null values.
    Mean,
    /// Sample standard deviation (ddof = 1).
    Std,
    /// Sample variance (ddof = 1).
    Var,
    /// Population standard deviation (ddof = 0), named `std_pop`.
    StdPop,
    /// Population variance (ddof = 0), named `var_pop`.
    VarPop,
    /// Number of non-null values.
    Count,
    /// Number of rows, nulls included.
    Size,
    /// Sum of non-null values; 0 when there are none, as pandas sums.
    Sum,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// First value in input order.
    First,
    /// Last value in input order.
    Last,
    /// Number of distinct non-null values.
    Nunique,
}

impl AggFunc {
    /// Every aggregation, for messages.
    pub const ALL: [AggFunc; 13] = [
        AggFunc::Mean,
        AggFunc::Std,
        AggFunc::Var,
        AggFunc::StdPop,
        AggFunc::VarPop,
        AggFunc::Count,
        AggFunc::Size,
        AggFunc::Sum,
        AggFunc::Min,
        AggFunc::Max,
        AggFunc::First,
        AggFunc::Last,
        AggFunc::Nunique,
    ];

    /// The pandas name, also the result column's name suffix.
    pub fn name(self) -> &'static str {
        match self {
            AggFunc::Mean => "mean",
            AggFunc::Std => "std",
            AggFunc::Var => "var",
            AggFunc::StdPop => "std_pop",
            AggFunc::VarPop => "var_pop",
            AggFunc::Count => "count",
            AggFunc::Size => "size",
            AggFunc::Sum => "sum",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
            AggFunc::First => "first",
            AggFunc::Last => "last",
            AggFunc::Nunique => "nunique",
        }
    }

    /// The aggregate expression over `column`.
    pub fn expr(self, column: &str) -> Expr {
        let c = col(datafusion::common::Column::from_name(column));
        match self {
            AggFunc::Mean => avg(c),
            AggFunc::Std => stddev(c),
            AggFunc::Var => var_sample(c),
            AggFunc::StdPop => stddev_pop(c),
            AggFunc::VarPop => var_pop(c),
            AggFunc::Count => count(c),
            AggFunc::Size => count(lit(1)),
            AggFunc::Sum => sum(c),
            AggFunc::Min => min(c),
            AggFunc::Max => max(c),
            AggFunc::First => first_value(c, vec![]),
            AggFunc::Last => last_value(c, vec![]),
            AggFunc::Nunique => count_distinct(c),
        }
    }
}

impl fmt::Display for AggFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AggFunc {
    type Err = DataFusionError;

    fn from_str(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "mean" | "avg" => Ok(AggFunc::Mean),
            "std" => Ok(AggFunc::Std),
            "var" => Ok(AggFunc::Var),
            "std_pop" => Ok(AggFunc::StdPop),
            "var_pop" => Ok(AggFunc::VarPop),
            "count" => Ok(AggFunc::Count),
            "size" => Ok(AggFunc::Size),
            "sum" => Ok(AggFunc::Sum),
            "min" => Ok(AggFunc::Min),
            "max" => Ok(AggFunc::Max),
            "first" => Ok(AggFunc::First),
            "last" => Ok(AggFunc::Last),
            "nunique" => Ok(AggFunc::Nunique),
            _ => plan_err!(
                "unknown aggregation '{name}'; use one of: {}",
                AggFunc::ALL.map(AggFunc::name).join(", ")
            ),
        }
    }
}

/// What to compute per group: for each column, one or more aggregations.
///
/// Result columns are named `column` when a column has one aggregation, and
/// `column_aggregation` (e.g. `value_mean`) when it has several — pandas' MultiIndex
/// `(column, aggregation)` flattened with `_`. With `by_function` (one column selected
/// first, as pandas' `groupby(k)[column].agg([..])`) they are named by the aggregation
/// alone: `mean`, `std`, `count`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AggSpec {
    /// `(column, aggregations)` in output order.
    pub columns: Vec<(String, Vec<AggFunc>)>,
    /// Name result columns by aggregation only.
    pub by_function: bool,
}

impl AggSpec {
    fn output_name(&self, column: &str, func: AggFunc, several: bool) -> String {
        match (self.by_function, several) {
            (true, _) => func.name().to_string(),
            (false, true) => format!("{column}_{func}"),
            (false, false) => column.to_string(),
        }
    }

    /// The result names of its sums.
    fn sum_names(&self) -> Vec<String> {
        self.columns
            .iter()
            .flat_map(|(column, funcs)| {
                let several = funcs.len() > 1;
                funcs
                    .iter()
                    .filter(|&&func| func == AggFunc::Sum)
                    .map(move |&func| self.output_name(column, func, several))
            })
            .collect()
    }

    /// The aggregate expressions, aliased to their result names.
    pub fn exprs(&self) -> Result<Vec<Expr>> {
        if self.columns.iter().all(|(_, funcs)| funcs.is_empty()) {
            return plan_err!("agg needs at least one aggregation");
        }
        Ok(self
            .columns
            .iter()
            .flat_map(|(column, funcs)| {
                let several = funcs.len() > 1;
                funcs.iter().map(move |&func| {
                    func.expr(column)
                        .alias(self.output_name(column, func, several))
                })
            })
            .collect())
    }
}

/// `groupby(keys).agg(spec)`: one row per distinct key (NULL keys included, as
/// `dropna=False` would), sorted by the keys as pandas does.
pub fn groupby_agg(plan: LogicalPlan, keys: &[String], spec: &AggSpec) -> Result<LogicalPlan> {
    if keys.is_empty() {
        return plan_err!("groupby needs at least one key column");
    }
    let key_exprs: Vec<Expr> = keys
        .iter()
        .map(|k| col(datafusion::common::Column::from_name(k)))
        .collect();
    let order: Vec<SortExpr> = key_exprs
        .iter()
        .map(|k| k.clone().sort(true, false))
        .collect();
    let aggregated = LogicalPlanBuilder::from(plan)
        .aggregate(key_exprs, spec.exprs()?)?
        .build()?;
    LogicalPlanBuilder::from(empty_sums_are_zero(aggregated, spec)?)
        .sort(order)?
        .build()
}

/// pandas sums no values to 0 where SQL gives NULL: the sums of groups (or frames) without a
/// value become 0.
fn empty_sums_are_zero(plan: LogicalPlan, spec: &AggSpec) -> Result<LogicalPlan> {
    let sums = spec.sum_names();
    if sums.is_empty() {
        return Ok(plan);
    }
    let columns: Vec<Expr> = plan
        .schema()
        .columns()
        .into_iter()
        .map(|column| {
            let name = column.name.clone();
            if sums.contains(&name) {
                coalesce(vec![Expr::Column(column), lit(0)]).alias(name)
            } else {
                Expr::Column(column)
            }
        })
        .collect();
    LogicalPlanBuilder::from(plan).project(columns)?.build()
}

/// Whole-frame reductions: one row with one column per `(column, aggregation)`, named as
/// [`AggSpec`] names them.
pub fn reduce(plan: LogicalPlan, spec: &AggSpec) -> Result<LogicalPlan> {
    let aggregated = LogicalPlanBuilder::from(plan)
        .aggregate(Vec::<Expr>::new(), spec.exprs()?)?
        .build()?;
    empty_sums_are_zero(aggregated, spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pandas_names_parse() {
        assert_eq!("mean".parse::<AggFunc>().unwrap(), AggFunc::Mean);
        assert_eq!("STD".parse::<AggFunc>().unwrap(), AggFunc::Std);
        let err = "median_ish".parse::<AggFunc>().unwrap_err().to_string();
        assert!(
            err.contains("unknown aggregation 'median_ish'") && err.contains("nunique"),
            "{err}"
        );
    }

    #[test]
    fn result_names_follow_the_documented_convention() {
        let spec = AggSpec {
            columns: vec![
                ("x".into(), vec![AggFunc::Max]),
                ("y".into(), vec![AggFunc::Mean, AggFunc::Std]),
            ],
            by_function: false,
        };
        let names: Vec<String> = spec
            .exprs()
            .unwrap()
            .iter()
            .map(|e| e.schema_name().to_string())
            .collect();
        assert_eq!(names, ["x", "y_mean", "y_std"]);
    }
}

fn column(name: &str) -> Expr {
    col(datafusion::common::Column::from_name(name))
}

fn check_columns(plan: &LogicalPlan, names: &[String], operation: &str) -> Result<()> {
    for name in names {
        if plan.schema().field_with_unqualified_name(name).is_err() {
            return plan_err!(
                "{operation}: no column named '{name}'; the columns are: {}",
                plan.schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(())
}

/// Which rows `dropna` removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DropHow {
    /// Rows with a NULL in any of the columns (pandas' default).
    #[default]
    Any,
    /// Rows whose columns are all NULL.
    All,
}

/// `dropna(how, subset)`: an empty `subset` means every column.
pub fn dropna(plan: LogicalPlan, how: DropHow, subset: &[String]) -> Result<LogicalPlan> {
    check_columns(&plan, subset, "dropna")?;
    let names: Vec<String> = if subset.is_empty() {
        plan.schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    } else {
        subset.to_vec()
    };
    let present = names.iter().map(|n| column(n).is_not_null());
    let keep = match how {
        DropHow::Any => present.reduce(Expr::and),
        DropHow::All => present.reduce(Expr::or),
    };
    match keep {
        Some(predicate) => LogicalPlanBuilder::from(plan).filter(predicate)?.build(),
        None => Ok(plan),
    }
}

/// `drop_duplicates(subset)`: one row per distinct `subset` (all columns when empty),
/// keeping the first row met for the other columns; column order is kept.
pub fn drop_duplicates(plan: LogicalPlan, subset: &[String]) -> Result<LogicalPlan> {
    check_columns(&plan, subset, "drop_duplicates")?;
    if subset.is_empty() {
        return LogicalPlanBuilder::from(plan).distinct()?.build();
    }
    let names: Vec<String> = plan
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let others: Vec<Expr> = names
        .iter()
        .filter(|n| !subset.contains(n))
        .map(|n| first_value(column(n), vec![]).alias(n))
        .collect();
    let keys: Vec<Expr> = subset.iter().map(|k| column(k)).collect();
    LogicalPlanBuilder::from(plan)
        .aggregate(keys, others)?
        .project(names.iter().map(|n| column(n)))?
        .build()
}

/// `value_counts()` of one column: distinct values with their row counts in a `count`
/// column, most frequent first (ties by value), NULLs not counted — as pandas does.
pub fn value_counts(plan: LogicalPlan, name: &str) -> Result<LogicalPlan> {
    check_columns(&plan, &[name.to_string()], "value_counts")?;
    LogicalPlanBuilder::from(plan)
        .filter(column(name).is_not_null())?
        .aggregate(vec![column(name)], vec![count(lit(1)).alias("count")])?
        .sort(vec![
            column("count").sort(false, false),
            column(name).sort(true, false),
        ])?
        .build()
}

/// `nlargest(n, column)` (or `nsmallest` with `largest = false`): the `n` rows with the
/// largest (smallest) values, NULLs never among them.
pub fn nlargest(plan: LogicalPlan, n: usize, name: &str, largest: bool) -> Result<LogicalPlan> {
    check_columns(
        &plan,
        &[name.to_string()],
        if largest { "nlargest" } else { "nsmallest" },
    )?;
    LogicalPlanBuilder::from(plan)
        .filter(column(name).is_not_null())?
        .sort(vec![column(name).sort(!largest, false)])?
        .limit(0, Some(n))?
        .build()
}

/// How `merge` joins, with pandas' names (and the two semi/anti forms of Dask).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum How {
    /// Rows with a match on both sides (the default).
    #[default]
    Inner,
    /// Every left row, matched or not.
    Left,
    /// Every right row, matched or not.
    Right,
    /// Every row of both sides.
    Outer,
    /// Left rows that have a match; left columns only.
    LeftSemi,
    /// Left rows without a match; left columns only.
    LeftAnti,
}

impl FromStr for How {
    type Err = DataFusionError;

    fn from_str(name: &str) -> Result<Self> {
        match name {
            "inner" => Ok(How::Inner),
            "left" => Ok(How::Left),
            "right" => Ok(How::Right),
            "outer" | "full" => Ok(How::Outer),
            "leftsemi" | "semi" => Ok(How::LeftSemi),
            "leftanti" | "anti" => Ok(How::LeftAnti),
            _ => plan_err!(
                "unknown merge how '{name}'; use inner, left, right, outer, leftsemi or leftanti"
            ),
        }
    }
}

/// The keys and options of `merge`.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeSpec {
    /// The join type.
    pub how: How,
    /// Key columns of the left frame.
    pub left_on: Vec<String>,
    /// Key columns of the right frame, pairwise with `left_on`.
    pub right_on: Vec<String>,
    /// Appended to non-key columns present on both sides (pandas' `("_x", "_y")`).
    pub suffixes: (String, String),
}

/// `left.merge(right, ..)`: left columns, then right columns; a key named the same on
/// both sides appears once (filled from either side for outer joins); other shared names
/// get the suffixes.
pub fn merge(left: LogicalPlan, right: LogicalPlan, spec: &MergeSpec) -> Result<LogicalPlan> {
    if spec.left_on.is_empty() || spec.left_on.len() != spec.right_on.len() {
        return plan_err!("merge needs the same number (at least one) of left and right keys");
    }
    check_columns(&left, &spec.left_on, "merge (left)")?;
    check_columns(&right, &spec.right_on, "merge (right)")?;
    if let Some((l, r)) = crate::aligned_join::aligned(&left, &right, &spec.left_on, &spec.right_on)
    {
        return crate::aligned_join::join_partitions(l, r, |left, right| {
            merge_with(left, right, spec, true)
        });
    }
    merge_with(left, right, spec, false)
}

/// The join of `merge` and its naming of the columns; `per_partition` joins two single
/// partitions without repartitioning them.
fn merge_with(
    left: LogicalPlan,
    right: LogicalPlan,
    spec: &MergeSpec,
    per_partition: bool,
) -> Result<LogicalPlan> {
    use datafusion::common::{Column, JoinType};
    use datafusion::functions::expr_fn::coalesce;

    let names = |plan: &LogicalPlan| -> Vec<String> {
        plan.schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    };
    let (left_names, right_names) = (names(&left), names(&right));
    let shared_keys: Vec<&String> = spec
        .left_on
        .iter()
        .zip(&spec.right_on)
        .filter(|(l, r)| l == r)
        .map(|(l, _)| l)
        .collect();
    let side = |qualifier: &str, name: &str| col(Column::new(Some(qualifier), name));
    let join_type = match spec.how {
        How::Inner => JoinType::Inner,
        How::Left => JoinType::Left,
        How::Right => JoinType::Right,
        How::Outer => JoinType::Full,
        How::LeftSemi => JoinType::LeftSemi,
        How::LeftAnti => JoinType::LeftAnti,
    };
    let keys = (
        spec.left_on
            .iter()
            .map(|k| Column::new(Some("__left"), k))
            .collect::<Vec<_>>(),
        spec.right_on
            .iter()
            .map(|k| Column::new(Some("__right"), k))
            .collect::<Vec<_>>(),
    );
    let left = LogicalPlanBuilder::from(left).alias("__left")?.build()?;
    let right = LogicalPlanBuilder::from(right).alias("__right")?.build()?;
    let joined = if per_partition {
        let on = keys.0.into_iter().zip(keys.1).collect();
        LogicalPlanBuilder::from(crate::nodes::partition_join(left, right, on, join_type)?)
    } else {
        LogicalPlanBuilder::from(left).join(right, join_type, keys, None)?
    };
    let mut output = Vec::new();
    for name in &left_names {
        let expr = if shared_keys.contains(&name) {
            match spec.how {
                How::Right => side("__right", name),
                How::Outer => coalesce(vec![side("__left", name), side("__right", name)]),
                _ => side("__left", name),
            }
        } else {
            side("__left", name)
        };
        let clash = !shared_keys.contains(&name) && right_names.contains(name);
        let alias = if clash && !matches!(spec.how, How::LeftSemi | How::LeftAnti) {
            format!("{name}{}", spec.suffixes.0)
        } else {
            name.clone()
        };
        output.push(expr.alias(alias));
    }
    if !matches!(spec.how, How::LeftSemi | How::LeftAnti) {
        for name in right_names.iter().filter(|n| !shared_keys.contains(n)) {
            let alias = if left_names.contains(name) {
                format!("{name}{}", spec.suffixes.1)
            } else {
                name.clone()
            };
            output.push(side("__right", name).alias(alias));
        }
    }
    joined.project(output)?.build()
}

/// `concat([a, b, ..])`: the rows of every frame, columns matched by name (missing ones NULL).
pub fn concat(plans: Vec<LogicalPlan>) -> Result<LogicalPlan> {
    let mut plans = plans.into_iter();
    let Some(first) = plans.next() else {
        return plan_err!("concat needs at least one frame");
    };
    plans
        .try_fold(LogicalPlanBuilder::from(first), |builder, plan| {
            builder.union_by_name(plan)
        })?
        .build()
}

/// The statistics of `describe`, in row order.
pub fn describe_stats() -> Vec<&'static str> {
    vec!["count", "mean", "std", "min", "25%", "50%", "75%", "max"]
}

fn approx_quantile(name: &str, q: f64) -> Expr {
    use datafusion::functions_aggregate::expr_fn::approx_percentile_cont;
    approx_percentile_cont(column(name).sort(true, false), lit(q), None)
}

/// One row holding every `describe` statistic of every column, named `{column}\u{1}{stat}`
/// for [`transpose_describe`] to lay out.
pub fn describe(plan: LogicalPlan, columns: &[String]) -> Result<LogicalPlan> {
    let aggregates = columns.iter().flat_map(|name| {
        let as_float = |e: Expr| {
            datafusion::logical_expr::cast(e, datafusion::arrow::datatypes::DataType::Float64)
        };
        [
            ("count", as_float(count(column(name)))),
            ("mean", as_float(avg(column(name)))),
            ("std", as_float(stddev(column(name)))),
            ("min", as_float(min(column(name)))),
            ("25%", as_float(approx_quantile(name, 0.25))),
            ("50%", as_float(approx_quantile(name, 0.5))),
            ("75%", as_float(approx_quantile(name, 0.75))),
            ("max", as_float(max(column(name)))),
        ]
        .map(|(stat, e)| e.alias(format!("{name}\u{1}{stat}")))
    });
    LogicalPlanBuilder::from(plan)
        .aggregate(Vec::<Expr>::new(), aggregates.collect::<Vec<_>>())?
        .build()
}

/// Lays out [`describe`]'s single row as pandas prints it: a `statistic` column, then one
/// Float64 column per described column.
pub fn transpose_describe(
    row: &[datafusion::arrow::array::RecordBatch],
    columns: &[String],
    stats: &[&str],
) -> Result<datafusion::arrow::array::RecordBatch> {
    use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema};
    use std::sync::Arc;

    let Some(batch) = row.iter().find(|b| b.num_rows() == 1) else {
        return internal_err!("describe produced no row");
    };
    let mut fields = vec![Field::new("statistic", DataType::Utf8, false)];
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(StringArray::from(stats.to_vec()))];
    for name in columns {
        let values: Float64Array = stats
            .iter()
            .map(|stat| {
                let column = batch.column_by_name(&format!("{name}\u{1}{stat}"))?;
                let values = column.as_primitive::<Float64Type>();
                values.is_valid(0).then(|| values.value(0))
            })
            .collect();
        fields.push(Field::new(name, DataType::Float64, true));
        arrays.push(Arc::new(values));
    }
    Ok(datafusion::arrow::array::RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        arrays,
    )?)
}

/// Approximate quantile `q` of each column, one row.
pub fn quantiles(plan: LogicalPlan, columns: &[String], q: f64) -> Result<LogicalPlan> {
    let aggregates: Vec<Expr> = columns
        .iter()
        .map(|c| approx_quantile(c, q).alias(c))
        .collect();
    LogicalPlanBuilder::from(plan)
        .aggregate(Vec::<Expr>::new(), aggregates)?
        .build()
}
