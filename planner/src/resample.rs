//! Time bins and rolling windows over a timestamp index, as pandas' `resample` and
//! `rolling`.
//!
//! `resample(freq)` bins the index with `date_bin` (bins aligned to midnight, 1970-01-01, as
//! pandas aligns every frequency that divides a day), aggregates each bin, and joins the
//! result to every bin from the first to the last, so empty bins appear as pandas shows them:
//! `count` and `sum` 0, the others NULL.
//!
//! ```text
//! resample('1D').mean(value)
//!
//! Sort: timestamp
//!   Projection: bins.timestamp, agg.value
//!     Left Join: bins.timestamp = agg.timestamp
//!       SubqueryAlias: bins                       every bin from the first to the last
//!         Unnest: generate_series(min(timestamp), max(timestamp), 1 day)
//!           Aggregate: min(timestamp), max(timestamp)
//!             <agg>
//!       SubqueryAlias: agg
//!         Aggregate: groupBy=[date_bin(1 day, timestamp)], aggr=[avg(value)]
//!           <input>
//! ```

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, IntervalMonthDayNano, TimeUnit};
use datafusion::common::{plan_err, Column, JoinType, Result, ScalarValue, UnnestOptions};
use datafusion::functions::datetime::expr_fn::date_bin;
use datafusion::functions_aggregate::expr_fn::{max, min};
use datafusion::functions_nested::expr_fn::gen_series;
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::{
    cast, col, lit, when, Expr, ExprFunctionExt, LogicalPlan, LogicalPlanBuilder, WindowFrame,
    WindowFrameBound, WindowFrameUnits, WindowFunctionDefinition,
};

use crate::frame::AggFunc;

/// The index as nanosecond timestamps (dates become midnight timestamps).
fn index_nanos(plan: &LogicalPlan, index: &str) -> Result<(Expr, DataType)> {
    let field = plan.schema().field_with_unqualified_name(index)?;
    let column = col(Column::from_name(index));
    let target = match field.data_type() {
        DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Nanosecond, tz.clone()),
        DataType::Date32 | DataType::Date64 => DataType::Timestamp(TimeUnit::Nanosecond, None),
        other => {
            return plan_err!("resample needs a timestamp or date index, but '{index}' is {other}")
        }
    };
    Ok((cast(column, target.clone()), target))
}

fn interval(nanos: i64) -> Expr {
    lit(ScalarValue::IntervalMonthDayNano(Some(
        IntervalMonthDayNano::new(0, 0, nanos),
    )))
}

/// The name of aggregation `func` of `column` among `spec`: the column's own name unless the
/// column is aggregated more than once.
fn output_name(spec: &[(String, AggFunc)], column: &str, func: AggFunc) -> String {
    if spec.iter().filter(|(c, _)| c == column).count() > 1 {
        format!("{column}_{func}")
    } else {
        column.to_string()
    }
}

/// Aggregates `spec`'s columns in bins of `freq` nanoseconds of `index`; one row per bin from
/// the first to the last, sorted by the bin's start.
pub fn resample(
    plan: LogicalPlan,
    index: &str,
    freq: i64,
    spec: &[(String, AggFunc)],
) -> Result<LogicalPlan> {
    if spec.is_empty() {
        return plan_err!("resample: nothing to aggregate");
    }
    let (nanos, index_type) = index_nanos(&plan, index)?;
    let origin = cast(
        lit(ScalarValue::TimestampNanosecond(Some(0), None)),
        index_type,
    );
    let bin = date_bin(interval(freq), nanos.clone(), origin).alias(index);
    let order = vec![nanos.sort(true, false)];
    let aggregates = spec
        .iter()
        .map(|(column, func)| {
            let expr = match func {
                AggFunc::First | AggFunc::Last => {
                    let c = col(Column::from_name(column));
                    if *func == AggFunc::First {
                        datafusion::functions_aggregate::expr_fn::first_value(c, order.clone())
                    } else {
                        datafusion::functions_aggregate::expr_fn::last_value(c, order.clone())
                    }
                }
                other => other.expr(column),
            };
            Ok(expr.alias(output_name(spec, column, *func)))
        })
        .collect::<Result<Vec<_>>>()?;
    let binned = LogicalPlanBuilder::from(plan)
        .aggregate(vec![bin], aggregates)?
        .alias("agg")?
        .build()?;
    let index_col = || col(Column::from_name(index));
    let bins = LogicalPlanBuilder::from(binned.clone())
        .aggregate(
            Vec::<Expr>::new(),
            vec![min(index_col()).alias("lo"), max(index_col()).alias("hi")],
        )?
        .project(vec![
            gen_series(col("lo"), col("hi"), interval(freq)).alias(index)
        ])?
        .unnest_column_with_options(index, UnnestOptions::new().with_preserve_nulls(false))?
        .alias("bins")?
        .build()?;
    let mut columns = vec![col(Column::new(Some("bins"), index)).alias(index)];
    for (column, func) in spec {
        let name = output_name(spec, column, *func);
        let value = col(Column::new(Some("agg"), &name));
        let value = match func {
            // An empty bin has no rows: pandas counts and sums it as 0.
            AggFunc::Count | AggFunc::Size | AggFunc::Sum => {
                datafusion::functions::expr_fn::coalesce(vec![value, lit(0)])
            }
            _ => value,
        };
        columns.push(value.alias(name));
    }
    LogicalPlanBuilder::from(bins)
        .join(
            binned,
            JoinType::Left,
            (
                vec![Column::new(Some("bins"), index)],
                vec![Column::new(Some("agg"), index)],
            ),
            None,
        )?
        .project(columns)?
        .sort(vec![index_col().sort(true, false)])?
        .build()
}

/// A rolling window over the sorted index: `rows` the last N rows (NULL until N are
/// seen, as pandas' default `min_periods`), or `span` nanoseconds of index, the half-open
/// interval `(t - span, t]` with at least one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last N rows.
    Rows(u64),
    /// The index values within this many nanoseconds before each row.
    Span(i64),
}

/// The smallest step of a timestamp index, in nanoseconds.
fn index_tick(plan: &LogicalPlan, index: &str) -> Result<i64> {
    match plan
        .schema()
        .field_with_unqualified_name(index)?
        .data_type()
    {
        DataType::Timestamp(unit, _) => Ok(match unit {
            TimeUnit::Second => 1_000_000_000,
            TimeUnit::Millisecond => 1_000_000,
            TimeUnit::Microsecond => 1_000,
            TimeUnit::Nanosecond => 1,
        }),
        other => {
            plan_err!("rolling over a duration needs a timestamp index, but '{index}' is {other}")
        }
    }
}

/// `func` (`Mean` or `Sum`) of each of `columns` over `window`, ordered by `index`: the index
/// and the rolled columns, sorted by the index.
pub fn rolling(
    plan: LogicalPlan,
    index: &str,
    window: Window,
    columns: &[String],
    func: AggFunc,
) -> Result<LogicalPlan> {
    let udaf = match func {
        AggFunc::Mean => datafusion::functions_aggregate::average::avg_udaf(),
        AggFunc::Sum => datafusion::functions_aggregate::sum::sum_udaf(),
        other => return plan_err!("rolling supports mean and sum, not {other}"),
    };
    let index_col = col(Column::from_name(index));
    let (frame, min_periods) = match window {
        Window::Rows(0) => return plan_err!("rolling: the window must hold at least one row"),
        Window::Rows(n) => (
            WindowFrame::new_bounds(
                WindowFrameUnits::Rows,
                WindowFrameBound::Preceding(ScalarValue::UInt64(Some(n - 1))),
                WindowFrameBound::CurrentRow,
            ),
            n as i64,
        ),
        Window::Span(nanos) if nanos <= 0 => {
            return plan_err!("rolling: the window must be a positive duration")
        }
        // RANGE frames are closed; one tick of the index less opens the interval on the left.
        Window::Span(nanos) => (
            WindowFrame::new_bounds(
                WindowFrameUnits::Range,
                WindowFrameBound::Preceding(ScalarValue::IntervalMonthDayNano(Some(
                    IntervalMonthDayNano::new(0, 0, nanos - index_tick(&plan, index)?),
                ))),
                WindowFrameBound::CurrentRow,
            ),
            1,
        ),
    };
    let order = vec![index_col.clone().sort(true, false)];
    let over = |udaf, column: &str| -> Result<Expr> {
        Expr::from(WindowFunction::new(
            WindowFunctionDefinition::AggregateUDF(udaf),
            vec![col(Column::from_name(column))],
        ))
        .order_by(order.clone())
        .window_frame(frame.clone())
        .build()
    };
    let mut windows = Vec::new();
    let mut output = vec![index_col.clone()];
    for (i, column) in columns.iter().enumerate() {
        let value = over(Arc::clone(&udaf), column)?.alias(format!("__value_{i}"));
        let seen = over(datafusion::functions_aggregate::count::count_udaf(), column)?
            .alias(format!("__seen_{i}"));
        windows.push(value);
        windows.push(seen);
        output.push(
            when(
                col(format!("__seen_{i}")).gt_eq(lit(min_periods)),
                col(format!("__value_{i}")),
            )
            .end()?
            .alias(column),
        );
    }
    LogicalPlanBuilder::from(plan)
        .window(windows)?
        .project(output)?
        .sort(order)?
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_follow_pandas() {
        let one = vec![("value".to_string(), AggFunc::Mean)];
        assert_eq!(output_name(&one, "value", AggFunc::Mean), "value");
        let two = vec![
            ("value".to_string(), AggFunc::Mean),
            ("value".to_string(), AggFunc::Count),
        ];
        assert_eq!(output_name(&two, "value", AggFunc::Count), "value_count");
    }

    #[test]
    fn unsupported_rolling_functions_are_refused() {
        let plan = LogicalPlanBuilder::empty(false).build().unwrap();
        let error = rolling(plan, "t", Window::Rows(3), &[], AggFunc::Std).unwrap_err();
        assert!(error.to_string().contains("rolling supports mean and sum"));
    }
}
