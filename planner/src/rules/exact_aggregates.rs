//! [`ExactAggregates`]: `sum` of integers never wraps around, `avg` of integers and decimals
//! is computed from an exact sum.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, DECIMAL128_MAX_PRECISION};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, Result, TableReference};
use datafusion::functions_aggregate::count::count_udaf;
use datafusion::functions_aggregate::sum::sum_udaf;
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::{
    cast, Aggregate, AggregateUDF, Expr, ExprSchemable, LogicalPlan, Projection, Window,
    WindowFunctionDefinition,
};
use datafusion::optimizer::AnalyzerRule;

use super::expressions::rewrite_nodes;
use crate::decimal::decimal_divide_udf;

/// Sums integers in 128 bits and averages from exact sums. DataFusion sums integers in 64
/// bits, wrapping around on overflow (`sum` of `9223372036854775807` and `1` is negative),
/// averages integers in floating point (inexact beyond 2⁵³) and keeps `scale + 4` digits of a
/// decimal average.
///
/// - `sum(x)` of an integer `x` (also `sum(x) OVER ..`) is
///   `CAST(sum(CAST(x AS DECIMAL(38, 0))) AS BIGINT)`: the result keeps DataFusion's type (a
///   `BIGINT`, or `UBIGINT` for unsigned `x`, as pandas and Dask keep `int64`), every partial
///   sum is exact, and a total out of the type's range is an error rather than a wrong number.
///   PostgreSQL returns `numeric` for `sum(bigint)` ("Aggregate Functions"); cast the argument
///   to `DECIMAL(38, 0)` for that.
/// - `avg(x)` of an integer is that exact sum divided by `count(x)` as `DOUBLE` (pandas' mean;
///   PostgreSQL's is `numeric`), so that only the final division rounds.
/// - `avg(x)` of a decimal is `decimal_divide(sum(x), count(x))`, to at least 16 decimal
///   places as PostgreSQL's `numeric` average (see [`crate::decimal`]).
///
/// Columns keep their names; the final step happens in a projection above the aggregate or
/// window:
///
/// ```text
/// Aggregate: groupBy=[[t.k]], aggr=[[avg(t.d), sum(t.i)]]
///   TableScan: t
/// ```
///
/// becomes
///
/// ```text
/// Projection: t.k, decimal_divide(__rask_sum_0, __rask_count_0) AS avg(t.d), CAST(sum(t.i) AS Int64) AS sum(t.i)
///   Aggregate: groupBy=[[t.k]], aggr=[[sum(t.d) AS __rask_sum_0, count(t.d) AS __rask_count_0, sum(CAST(t.i AS Decimal128(38, 0))) AS sum(t.i)]]
///     TableScan: t
/// ```
///
/// It runs before type coercion, so that expressions above an average see its new type.
#[derive(Debug, Default)]
pub struct ExactAggregates;

impl AnalyzerRule for ExactAggregates {
    fn name(&self) -> &str {
        "exact_aggregates"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_nodes(plan, |node| match node {
            LogicalPlan::Aggregate(aggregate) => exact_aggregate(aggregate),
            LogicalPlan::Window(window) => exact_window_sums(window),
            other => Ok(Transformed::no(other)),
        })
    }
}

const WIDE_INTEGER: DataType = DataType::Decimal128(DECIMAL128_MAX_PRECISION, 0);

/// What an aggregate call becomes.
enum Exact {
    /// `sum` of an integer: a wide sum, cast back to this type above.
    Sum(DataType),
    /// `avg` of an integer: an exact sum and a count, divided in floating point above.
    IntegerAverage,
    /// `avg` of a decimal: a sum and a count, divided as decimals above.
    DecimalAverage,
}

/// How a call of `func` on `args` is made exact, and the argument it then takes (type
/// coercion, when it ran, has cast an integer argument to `BIGINT` or `DOUBLE`: undone).
fn exactness(func: &AggregateUDF, args: &[Expr], schema: &DFSchema) -> Option<(Exact, Expr)> {
    let [argument] = args else {
        return None;
    };
    let argument = match argument {
        Expr::Cast(coerced)
            if matches!(
                coerced.field.data_type(),
                DataType::Int64 | DataType::Float64
            ) && coerced.expr.get_type(schema).is_ok_and(|t| t.is_integer()) =>
        {
            coerced.expr.as_ref()
        }
        other => other,
    };
    let data_type = argument.get_type(schema).ok()?;
    let exact = match func.name() {
        "sum" if data_type.is_unsigned_integer() => Exact::Sum(DataType::UInt64),
        "sum" if data_type.is_integer() => Exact::Sum(DataType::Int64),
        "avg" if data_type.is_integer() => Exact::IntegerAverage,
        "avg" if matches!(data_type, DataType::Decimal128(..)) => Exact::DecimalAverage,
        _ => return None,
    };
    Some((exact, argument.clone()))
}

/// One of the calls that replace an aggregate call: `func` of the argument (cast to
/// `cast_to` when given), under the hidden column `name`.
type HiddenCall = (Arc<AggregateUDF>, Option<DataType>, String);

/// The calls that replace one aggregate call, and the final expression over their hidden
/// columns. A sum keeps the name of the call it replaces (`name`), so that plans read as
/// before.
fn replacement(exact: &Exact, index: usize, name: &str) -> (Vec<HiddenCall>, Expr) {
    let sum = match exact {
        Exact::Sum(_) => name.to_string(),
        _ => format!("__rask_sum_{index}"),
    };
    let count = format!("__rask_count_{index}");
    let hidden = |name: &str| Expr::Column(Column::from_name(name));
    match exact {
        Exact::Sum(data_type) => (
            vec![(sum_udaf(), Some(WIDE_INTEGER), sum.clone())],
            cast(hidden(&sum), data_type.clone()),
        ),
        Exact::IntegerAverage => (
            vec![
                (sum_udaf(), Some(WIDE_INTEGER), sum.clone()),
                (count_udaf(), None, count.clone()),
            ],
            cast(hidden(&sum), DataType::Float64) / cast(hidden(&count), DataType::Float64),
        ),
        Exact::DecimalAverage => (
            vec![
                (sum_udaf(), None, sum.clone()),
                (count_udaf(), None, count.clone()),
            ],
            decimal_divide_udf().call(vec![hidden(&sum), hidden(&count)]),
        ),
    }
}

fn argument_as(argument: &Expr, data_type: &Option<DataType>) -> Expr {
    match data_type {
        Some(data_type) => cast(argument.clone(), data_type.clone()),
        None => argument.clone(),
    }
}

fn unaliased(expr: &Expr) -> &Expr {
    match expr {
        Expr::Alias(alias) => unaliased(&alias.expr),
        other => other,
    }
}

/// A projection above `node` giving its columns as `original` named them, with the final
/// expressions of rewritten calls in their places (`finals` by position among the last
/// `finals.len()` columns).
fn project_finals(
    original: &DFSchema,
    finals: Vec<Option<Expr>>,
    node: LogicalPlan,
) -> Result<LogicalPlan> {
    let offset = original.fields().len() - finals.len();
    let columns = original
        .iter()
        .enumerate()
        .map(|(position, (relation, field))| {
            let final_expr = position
                .checked_sub(offset)
                .and_then(|index| finals[index].clone());
            match final_expr {
                Some(expr) => expr.alias_qualified(relation.cloned(), field.name()),
                None => Expr::Column(Column::new(relation.cloned(), field.name())),
            }
        })
        .collect();
    Ok(LogicalPlan::Projection(Projection::try_new(
        columns,
        Arc::new(node),
    )?))
}

fn exact_aggregate(aggregate: Aggregate) -> Result<Transformed<LogicalPlan>> {
    let input_schema = Arc::clone(aggregate.input.schema());
    let exacts: Vec<_> = aggregate
        .aggr_expr
        .iter()
        .map(|expr| match unaliased(expr) {
            Expr::AggregateFunction(call) => {
                exactness(&call.func, &call.params.args, &input_schema).map(|e| (call, e))
            }
            _ => None,
        })
        .collect();
    if exacts.iter().all(Option::is_none) {
        return Ok(Transformed::no(LogicalPlan::Aggregate(aggregate)));
    }
    // Calls the aggregate computes anyway, by output column: an average's sum reuses them
    // (TPC-H Q1 asks for `sum(l_quantity)` and `avg(l_quantity)`).
    let mut computed: Vec<(Expr, Column)> = aggregate
        .aggr_expr
        .iter()
        .zip(&exacts)
        .filter(|(_, exact)| exact.is_none())
        .map(|(expr, _)| {
            let (relation, name) = expr.qualified_name();
            (unaliased(expr).clone(), Column::new(relation, name))
        })
        .collect();
    let mut aggr_expr = Vec::new();
    let mut finals = Vec::new();
    for (index, (expr, exact)) in aggregate.aggr_expr.iter().zip(exacts).enumerate() {
        let Some((call, (exact, argument))) = exact else {
            aggr_expr.push(expr.clone());
            finals.push(None);
            continue;
        };
        let (calls, mut final_expr) = replacement(&exact, index, &expr.qualified_name().1);
        for (func, data_type, name) in calls {
            let mut params = call.params.clone();
            params.args = vec![argument_as(&argument, &data_type)];
            let hidden = Expr::AggregateFunction(AggregateFunction { func, params });
            let reused = computed
                .iter()
                .find(|(computed, _)| *computed == hidden)
                .map(|(_, column)| column.clone());
            match reused {
                Some(column) => {
                    final_expr = final_expr
                        .transform(|e| match e {
                            Expr::Column(c) if c.name == name => {
                                Ok(Transformed::yes(Expr::Column(column.clone())))
                            }
                            other => Ok(Transformed::no(other)),
                        })?
                        .data;
                }
                None => {
                    computed.push((hidden.clone(), Column::from_name(&name)));
                    aggr_expr.push(hidden.alias(name));
                }
            }
        }
        finals.push(Some(final_expr));
    }
    let exact = Aggregate::try_new(aggregate.input, aggregate.group_expr, aggr_expr)?;
    let projected = project_finals(&aggregate.schema, finals, LogicalPlan::Aggregate(exact))?;
    Ok(Transformed::yes(projected))
}

/// `sum(x) OVER ..` of an integer sums `CAST(x AS DECIMAL(38, 0))`, cast back above.
fn exact_window_sums(window: Window) -> Result<Transformed<LogicalPlan>> {
    let input_schema = Arc::clone(window.input.schema());
    let mut changed = false;
    let mut window_expr = Vec::new();
    let mut finals = Vec::new();
    for expr in &window.window_expr {
        let exact = match unaliased(expr) {
            Expr::WindowFunction(function) => match &function.fun {
                WindowFunctionDefinition::AggregateUDF(udaf) => {
                    exactness(udaf, &function.params.args, &input_schema).map(|e| (function, e))
                }
                WindowFunctionDefinition::WindowUDF(_) => None,
            },
            _ => None,
        };
        let Some((function, (Exact::Sum(data_type), argument))) = exact else {
            window_expr.push(expr.clone());
            finals.push(None);
            continue;
        };
        changed = true;
        let name = expr.qualified_name().1;
        let mut widened = function.as_ref().clone();
        widened.params.args = vec![cast(argument, WIDE_INTEGER)];
        window_expr.push(Expr::WindowFunction(Box::new(widened)).alias(&name));
        finals.push(Some(cast(
            Expr::Column(Column::new(None::<TableReference>, name)),
            data_type,
        )));
    }
    if !changed {
        return Ok(Transformed::no(LogicalPlan::Window(window)));
    }
    let exact = Window::try_new(window_expr, window.input)?;
    let projected = project_finals(&window.schema, finals, LogicalPlan::Window(exact))?;
    Ok(Transformed::yes(projected))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::functions_aggregate::expr_fn::{avg, sum};
    use datafusion::logical_expr::{col, table_scan, ExprFunctionExt};

    use super::*;

    fn analyzed(plan: LogicalPlan) -> LogicalPlan {
        ExactAggregates
            .analyze(plan, &ConfigOptions::default())
            .unwrap()
    }

    fn scan() -> datafusion::logical_expr::LogicalPlanBuilder {
        let schema = Schema::new(vec![
            Field::new("k", DataType::Utf8, true),
            Field::new("i", DataType::Int64, true),
            Field::new("s", DataType::Int32, true),
            Field::new("d", DataType::Decimal128(15, 2), true),
            Field::new("f", DataType::Float64, true),
        ]);
        table_scan(Some("t"), &schema, None).unwrap()
    }

    fn fields(plan: &LogicalPlan) -> Vec<(String, DataType)> {
        plan.schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect()
    }

    #[test]
    fn averages_divide_exact_sums_above_the_aggregate() {
        let plan = scan()
            .aggregate(
                vec![col("k")],
                vec![avg(col("d")), sum(col("i")), avg(col("f"))],
            )
            .unwrap()
            .build()
            .unwrap();
        let after = analyzed(plan.clone());
        assert_eq!(
            format!("{}", after.display_indent()),
            "Projection: t.k, decimal_divide(__rask_sum_0, __rask_count_0) AS avg(t.d), CAST(sum(t.i) AS Int64) AS sum(t.i), avg(t.f)\
             \n  Aggregate: groupBy=[[t.k]], aggr=[[sum(t.d) AS __rask_sum_0, count(t.d) AS __rask_count_0, sum(CAST(t.i AS Decimal128(38, 0))) AS sum(t.i), avg(t.f)]]\
             \n    TableScan: t"
        );
        let mut expected = fields(&plan);
        expected[1].1 = DataType::Decimal128(38, 16);
        assert_eq!(fields(&after), expected);
    }

    #[test]
    fn integer_averages_divide_in_floating_point_and_sums_keep_their_type() {
        let plan = scan()
            .aggregate(Vec::<Expr>::new(), vec![sum(col("s")), avg(col("i"))])
            .unwrap()
            .build()
            .unwrap();
        let after = analyzed(plan.clone());
        assert_eq!(
            format!("{}", after.display_indent()),
            "Projection: CAST(sum(t.s) AS Int64) AS sum(t.s), CAST(__rask_sum_1 AS Float64) / CAST(__rask_count_1 AS Float64) AS avg(t.i)\
             \n  Aggregate: groupBy=[[]], aggr=[[sum(CAST(t.s AS Decimal128(38, 0))) AS sum(t.s), sum(CAST(t.i AS Decimal128(38, 0))) AS __rask_sum_1, count(t.i) AS __rask_count_1]]\
             \n    TableScan: t"
        );
        assert_eq!(fields(&after), fields(&plan));
    }

    #[test]
    fn window_sums_of_integers_are_widened_and_cast_back() {
        let running = Expr::from(datafusion::logical_expr::expr::WindowFunction::new(
            WindowFunctionDefinition::AggregateUDF(sum_udaf()),
            vec![col("i")],
        ))
        .partition_by(vec![col("k")])
        .build()
        .unwrap();
        let plan = scan().window(vec![running]).unwrap().build().unwrap();
        let after = analyzed(plan.clone());
        assert_eq!(
            format!("{}", after.display_indent()),
            "Projection: t.k, t.i, t.s, t.d, t.f, CAST(sum(t.i) PARTITION BY [t.k] ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING AS Int64) AS sum(t.i) PARTITION BY [t.k] ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING\
             \n  WindowAggr: windowExpr=[[sum(CAST(t.i AS Decimal128(38, 0))) PARTITION BY [t.k] ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING AS sum(t.i) PARTITION BY [t.k] ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING]]\
             \n    TableScan: t"
        );
        assert_eq!(fields(&after), fields(&plan));
    }

    #[test]
    fn an_average_reuses_a_sum_the_aggregate_computes_anyway() {
        let plan = scan()
            .aggregate(
                Vec::<Expr>::new(),
                vec![sum(col("d")), avg(col("d")), avg(col("d")).alias("again")],
            )
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            format!("{}", analyzed(plan).display_indent()),
            "Projection: sum(t.d), decimal_divide(sum(t.d), __rask_count_1) AS avg(t.d), decimal_divide(sum(t.d), __rask_count_1) AS again\
             \n  Aggregate: groupBy=[[]], aggr=[[sum(t.d), count(t.d) AS __rask_count_1]]\
             \n    TableScan: t"
        );
    }

    #[test]
    fn float_aggregates_are_left_alone() {
        let plan = scan()
            .aggregate(vec![col("k")], vec![sum(col("f")), avg(col("f"))])
            .unwrap()
            .build()
            .unwrap();
        let before = format!("{}", plan.display_indent());
        assert_eq!(format!("{}", analyzed(plan).display_indent()), before);
    }
}
