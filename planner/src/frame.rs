//! pandas/Dask semantics lowered to logical plans: aggregation names and conventions,
//! `groupby(..).agg(..)` sorted by key, column reductions.
//!
//! The conventions are pandas': `std` and `var` are sample statistics (ddof = 1), `count`
//! counts non-null values, `size` counts rows, groupby results come sorted by the keys.

use std::fmt;
use std::str::FromStr;

use datafusion::common::{plan_err, DataFusionError, Result};
use datafusion::functions_aggregate::expr_fn::{
    avg, count, count_distinct, first_value, last_value, max, min, stddev, sum, var_sample,
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
    /// Number of non-null values.
    Count,
    /// Number of rows, nulls included.
    Size,
    /// Sum of non-null values.
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
    pub const ALL: [AggFunc; 11] = [
        AggFunc::Mean,
        AggFunc::Std,
        AggFunc::Var,
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
/// `(column, aggregation)` flattened with `_`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AggSpec {
    /// `(column, aggregations)` in output order.
    pub columns: Vec<(String, Vec<AggFunc>)>,
}

impl AggSpec {
    fn output_name(column: &str, func: AggFunc, several: bool) -> String {
        if several {
            format!("{column}_{func}")
        } else {
            column.to_string()
        }
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
                        .alias(AggSpec::output_name(column, func, several))
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
    LogicalPlanBuilder::from(plan)
        .aggregate(key_exprs, spec.exprs()?)?
        .sort(order)?
        .build()
}

/// Whole-frame reductions: one row with one column per `(column, aggregation)`, named as
/// [`AggSpec`] names them.
pub fn reduce(plan: LogicalPlan, spec: &AggSpec) -> Result<LogicalPlan> {
    LogicalPlanBuilder::from(plan)
        .aggregate(Vec::<Expr>::new(), spec.exprs()?)?
        .build()
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
