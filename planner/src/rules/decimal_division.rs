//! [`DecimalDivision`]: decimal quotients keep PostgreSQL's precision.

use std::sync::{Arc, LazyLock};

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, LogicalPlan, Operator, ScalarUDF};
use datafusion::optimizer::AnalyzerRule;

use super::expressions::rewrite_expressions;
use crate::decimal::{decimal_divide_udf, dividend_scale};

/// `a / b` where one side is a decimal and the other a decimal or an integer becomes
/// `decimal_divide(a, b)`, a `DECIMAL(38, max(16, scales))` rounded half away from zero, where
/// DataFusion keeps `scale(a) + 4` digits (see [`crate::decimal`]). The column keeps its name.
///
/// ```text
/// Projection: t.a / t.b
///   TableScan: t
/// ```
///
/// becomes
///
/// ```text
/// Projection: decimal_divide(t.a, t.b)
///   TableScan: t
/// ```
#[derive(Debug, Default)]
pub struct DecimalDivision;

impl AnalyzerRule for DecimalDivision {
    fn name(&self) -> &str {
        "decimal_division"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, divided)
    }
}

static DECIMAL_DIVIDE: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| Arc::new(decimal_divide_udf()));

fn divided(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::BinaryExpr(BinaryExpr {
        left,
        op: Operator::Divide,
        right,
    }) = expr
    else {
        return Ok(Transformed::no(expr));
    };
    let types = (left.get_type(schema), right.get_type(schema));
    let decimal = match &types {
        (Ok(l), Ok(r)) => {
            (l.is_decimal() || r.is_decimal())
                && dividend_scale(l).is_some()
                && dividend_scale(r).is_some()
        }
        _ => false,
    };
    if !decimal {
        return Ok(Transformed::no(Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Divide,
            right,
        })));
    }
    Ok(Transformed::yes(Expr::ScalarFunction(
        ScalarFunction::new_udf(Arc::clone(&DECIMAL_DIVIDE), vec![*left, *right]),
    )))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::logical_expr::{col, table_scan};

    use super::*;

    #[test]
    fn decimal_quotients_become_decimal_divide_and_others_stay() {
        let schema = Schema::new(vec![
            Field::new("a", DataType::Decimal128(15, 2), true),
            Field::new("b", DataType::Decimal128(15, 2), true),
            Field::new("f", DataType::Float64, true),
            Field::new("i", DataType::Int64, true),
        ]);
        let plan = table_scan(Some("t"), &schema, None)
            .unwrap()
            .project(vec![
                col("a") / col("b"),
                col("f") / col("f"),
                col("i") / col("i"),
            ])
            .unwrap()
            .build()
            .unwrap();
        let plan = DecimalDivision
            .analyze(plan, &ConfigOptions::default())
            .unwrap();
        assert_eq!(
            format!("{}", plan.display_indent()),
            "Projection: decimal_divide(t.a, t.b), t.f / t.f, t.i / t.i\
             \n  TableScan: t"
        );
        assert_eq!(
            plan.schema().field(0).data_type(),
            &DataType::Decimal128(38, 16)
        );
        assert_eq!(plan.schema().field(0).name(), "t.a / t.b");
    }
}
