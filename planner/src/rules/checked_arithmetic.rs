//! [`CheckedArithmetic`]: integer `+ - *` and unary minus fail on overflow instead of
//! wrapping around.

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, LogicalPlan};
use datafusion::optimizer::AnalyzerRule;

use super::expressions::rewrite_expressions;
use crate::checked::CheckedOperation;

/// Replaces `+`, `-`, `*` and unary `-` on integers of one type (after type coercion) by
/// the checked functions of [`crate::checked`], which raise `bigint out of range` where
/// DataFusion would wrap around (PostgreSQL: integer operators "raise an error" on
/// overflow). Columns keep their names (`a + b`). Division and modulo are checked by
/// DataFusion already.
///
/// ```text
/// Projection: t.a + t.b, (- t.a)
///   TableScan: t
/// ```
///
/// becomes
///
/// ```text
/// Projection: checked_add(t.a, t.b), checked_negate(t.a)
///   TableScan: t
/// ```
///
/// It is an analyzer rule so that it runs before constant folding, which would otherwise
/// wrap `9223372036854775807 + 1` into a literal.
#[derive(Debug, Default)]
pub struct CheckedArithmetic;

impl AnalyzerRule for CheckedArithmetic {
    fn name(&self) -> &str {
        "checked_arithmetic"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, checked)
    }
}

fn is_integer(expr: &Expr, schema: &DFSchema) -> bool {
    expr.get_type(schema).is_ok_and(|t| t.is_integer())
}

fn checked(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let call = |operation: CheckedOperation, args| operation.call(args).map(Transformed::yes);
    Ok(match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match CheckedOperation::of(op) {
            Some(operation)
                if is_integer(&left, schema)
                    && left.get_type(schema).ok() == right.get_type(schema).ok() =>
            {
                call(operation, vec![*left, *right])?
            }
            _ => Transformed::no(Expr::BinaryExpr(BinaryExpr { left, op, right })),
        },
        Expr::Negative(operand) if is_integer(&operand, schema) => {
            call(CheckedOperation::Negate, vec![*operand])?
        }
        other => Transformed::no(other),
    })
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::logical_expr::{col, lit, table_scan};

    use super::*;

    fn analyzed(plan: LogicalPlan) -> String {
        let plan = CheckedArithmetic
            .analyze(plan, &ConfigOptions::default())
            .unwrap();
        format!("{}", plan.display_indent())
    }

    fn scan() -> datafusion::logical_expr::LogicalPlanBuilder {
        let schema = Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Int64, true),
            Field::new("f", DataType::Float64, true),
        ]);
        table_scan(Some("t"), &schema, None).unwrap()
    }

    #[test]
    fn integer_operators_become_checked_functions_and_keep_their_names() {
        let plan = scan()
            .project(vec![
                col("a") + col("b"),
                col("a") * lit(2i64) - col("b"),
                -col("a"),
            ])
            .unwrap()
            .build()
            .unwrap();
        let before: Vec<String> = plan
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let after = CheckedArithmetic
            .analyze(plan, &ConfigOptions::default())
            .unwrap();
        assert_eq!(
            format!("{}", after.display_indent()),
            "Projection: checked_add(t.a, t.b), checked_subtract(checked_multiply(t.a, Int64(2)), t.b), checked_negate(t.a)\
             \n  TableScan: t"
        );
        let names: Vec<String> = after
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names, before);
    }

    #[test]
    fn floats_division_and_filters_on_floats_are_left_alone() {
        let plan = scan()
            .filter((col("f") + lit(1.0)).gt(lit(2.0)))
            .unwrap()
            .project(vec![col("a") / col("b"), col("f") * col("f")])
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            analyzed(plan),
            "Projection: t.a / t.b, t.f * t.f\
             \n  Filter: t.f + Float64(1) > Float64(2)\
             \n    TableScan: t"
        );
    }
}
