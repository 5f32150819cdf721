//! [`RoundingCasts`]: casting a fractional number to an integer rounds to nearest.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result};
use datafusion::functions::math::round;
use datafusion::logical_expr::{Cast, Expr, ExprSchemable, LogicalPlan, TryCast};
use datafusion::optimizer::AnalyzerRule;

use super::expressions::rewrite_expressions;

/// `CAST(x AS integer)` and `TRY_CAST` of a float or decimal `x` round half away from zero
/// (`CAST(2.5 AS INT)` is 3, `CAST(-2.5 AS INT)` is -3), as PostgreSQL's numeric-to-integer
/// casts do ("Numeric Types": "rounds to the nearest integer"); Arrow's cast truncates
/// (2 and -2). A value out of the integer's range still fails.
///
/// ```text
/// Projection: CAST(t.f AS Int32)
///   TableScan: t
/// ```
///
/// becomes
///
/// ```text
/// Projection: CAST(round(t.f) AS Int32) AS t.f
///   TableScan: t
/// ```
#[derive(Debug, Default)]
pub struct RoundingCasts;

impl AnalyzerRule for RoundingCasts {
    fn name(&self) -> &str {
        "rounding_casts"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, rounded)
    }
}

fn is_fractional(expr: &Expr, schema: &DFSchema) -> bool {
    expr.get_type(schema).is_ok_and(|t| match t {
        DataType::Decimal32(_, scale)
        | DataType::Decimal64(_, scale)
        | DataType::Decimal128(_, scale)
        | DataType::Decimal256(_, scale) => scale > 0,
        other => other.is_floating(),
    })
}

fn rounded(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    Ok(match expr {
        Expr::Cast(Cast { expr, field })
            if field.data_type().is_integer() && is_fractional(&expr, schema) =>
        {
            Transformed::yes(Expr::Cast(Cast {
                expr: Box::new(round().call(vec![*expr])),
                field,
            }))
        }
        Expr::TryCast(TryCast { expr, field })
            if field.data_type().is_integer() && is_fractional(&expr, schema) =>
        {
            Transformed::yes(Expr::TryCast(TryCast {
                expr: Box::new(round().call(vec![*expr])),
                field,
            }))
        }
        other => Transformed::no(other),
    })
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::logical_expr::{cast, col, table_scan, try_cast};

    use super::*;

    fn analyzed(plan: LogicalPlan) -> String {
        let plan = RoundingCasts
            .analyze(plan, &ConfigOptions::default())
            .unwrap();
        format!("{}", plan.display_indent())
    }

    #[test]
    fn float_and_decimal_casts_to_integers_round_first() {
        let schema = Schema::new(vec![
            Field::new("f", DataType::Float64, true),
            Field::new("d", DataType::Decimal128(10, 2), true),
            Field::new("i", DataType::Int32, true),
            Field::new("whole", DataType::Decimal128(38, 0), true),
        ]);
        let plan = table_scan(Some("t"), &schema, None)
            .unwrap()
            .project(vec![
                cast(col("f"), DataType::Int32),
                try_cast(col("d"), DataType::Int64),
                cast(col("i"), DataType::Int64),
                cast(col("f"), DataType::Utf8).alias("text"),
                cast(col("whole"), DataType::Int64),
            ])
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            analyzed(plan),
            "Projection: CAST(round(t.f) AS Int32) AS t.f, TRY_CAST(round(t.d) AS Int64) AS t.d, CAST(t.i AS Int64), CAST(t.f AS Utf8) AS text, CAST(t.whole AS Int64)\
             \n  TableScan: t"
        );
    }
}
