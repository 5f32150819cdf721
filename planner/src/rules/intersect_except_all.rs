//! [`IntersectExceptAll`]: `INTERSECT ALL` and `EXCEPT ALL` keep as many copies of a row as
//! the SQL standard says, not every copy the left side has.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, DFSchema, JoinConstraint, JoinType, NullEquality, Result};
use datafusion::functions_window::expr_fn::row_number;
use datafusion::logical_expr::{
    Expr, ExprFunctionExt, Join, LogicalPlan, Projection, Window,
};
use datafusion::optimizer::AnalyzerRule;

/// Numbers the copies of each row on both sides of `INTERSECT ALL` and `EXCEPT ALL`, so that
/// a row found m times on the left and n times on the right is kept min(m, n) times by
/// `INTERSECT ALL` and max(m − n, 0) times by `EXCEPT ALL`, as PostgreSQL and the SQL standard
/// define them.
///
/// DataFusion plans `l INTERSECT ALL r` as a semi join and `l EXCEPT ALL r` as an anti join
/// of `l` with `r` on every column, NULLs equal. That keeps all m copies of a left row that
/// `r` has, and drops all m when `r` has one. Here each side's copies of a row are numbered
/// 1, 2, … (`row_number()` partitioned by every column) and the join also matches the
/// numbers: the i-th copy on the left has a partner exactly when the right has at least i
/// copies. The numbers are projected away afterwards.
///
/// The joins rewritten are those `LogicalPlanBuilder::intersect` and `except` build: a left
/// semi or anti join without filter whose keys pair the i-th column of the left with the
/// i-th column of the right, for every column of both, comparing NULLs as equal. A left
/// input that is `DISTINCT` (as `INTERSECT` and `EXCEPT` without `ALL` plan it) holds one copy
/// of each row, so it is left as it is. No other SQL join has that shape while the analyzer
/// runs: an `ON` condition stays a filter until the optimizer extracts its keys, `USING`
/// keys never compare NULLs as equal, and `EXISTS` and `IN` become joins only in the
/// optimizer. Hence an analyzer rule; it runs after type coercion, so the copies are counted
/// on the values the join compares (after casts to the common type). A semi join built with
/// `join_detailed` on all columns with NULLs equal cannot be told from `INTERSECT ALL` and is
/// rewritten too.
///
/// ```text
/// LeftSemi Join: a.x = b.x, a.y = b.y
///   TableScan: a
///   TableScan: b
/// ```
///
/// becomes
///
/// ```text
/// Projection: a.x, a.y
///   LeftSemi Join: a.x = b.x, a.y = b.y, __left_copy = __right_copy
///     WindowAggr: windowExpr=[[row_number() PARTITION BY [a.x, a.y] ... AS __left_copy]]
///       TableScan: a
///     WindowAggr: windowExpr=[[row_number() PARTITION BY [b.x, b.y] ... AS __right_copy]]
///       TableScan: b
/// ```
#[derive(Debug, Default)]
pub struct IntersectExceptAll;

/// The names of the copy numbers; distinct so that no schema joining both sides repeats one.
const LEFT_COPY: &str = "__left_copy";
const RIGHT_COPY: &str = "__right_copy";

impl AnalyzerRule for IntersectExceptAll {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|plan| match plan {
            LogicalPlan::Join(join) if is_intersect_or_except_all(&join) => {
                count_copies(join).map(Transformed::yes)
            }
            plan => Ok(Transformed::no(plan)),
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &str {
        "intersect_except_all"
    }
}

fn is_intersect_or_except_all(join: &Join) -> bool {
    let (left, right) = (join.left.schema(), join.right.schema());
    matches!(join.join_type, JoinType::LeftSemi | JoinType::LeftAnti)
        && join.join_constraint == JoinConstraint::On
        && join.null_equality == NullEquality::NullEqualsNull
        && join.filter.is_none()
        && !matches!(join.left.as_ref(), LogicalPlan::Distinct(_))
        && join.on.len() == left.fields().len()
        && join.on.len() == right.fields().len()
        && join.on.iter().enumerate().all(|(i, (l, r))| {
            is_column_at(l, left, i) && is_column_at(r, right, i)
        })
}

/// Whether `key` is the `index`-th column of `schema`, possibly cast to the common type.
fn is_column_at(key: &Expr, schema: &DFSchema, index: usize) -> bool {
    key.get_as_join_column()
        .is_some_and(|column| *column == Column::from(schema.qualified_field(index)))
}

fn count_copies(join: Join) -> Result<LogicalPlan> {
    let output: Vec<Expr> = join
        .left
        .schema()
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect();
    let (left_keys, right_keys): (Vec<Expr>, Vec<Expr>) = join.on.iter().cloned().unzip();
    let left = numbered(join.left, left_keys, LEFT_COPY)?;
    let right = numbered(join.right, right_keys, RIGHT_COPY)?;
    let mut on = join.on;
    on.push((
        Expr::Column(Column::from_name(LEFT_COPY)),
        Expr::Column(Column::from_name(RIGHT_COPY)),
    ));
    let joined = Join::try_new(
        left,
        right,
        on,
        None,
        join.join_type,
        JoinConstraint::On,
        NullEquality::NullEqualsNull,
        join.null_aware,
    )?;
    Projection::try_new(output, Arc::new(LogicalPlan::Join(joined))).map(LogicalPlan::Projection)
}

/// `input` with a column `name` numbering the copies of each row of `keys` from 1.
fn numbered(input: Arc<LogicalPlan>, keys: Vec<Expr>, name: &str) -> Result<Arc<LogicalPlan>> {
    let copy = row_number().partition_by(keys).build()?.alias(name);
    Ok(Arc::new(LogicalPlan::Window(Window::try_new(
        vec![copy],
        input,
    )?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::logical_expr::{col, table_scan, LogicalPlanBuilder};
    use datafusion::optimizer::analyzer::type_coercion::TypeCoercion;
    use datafusion::optimizer::Analyzer;

    /// Scan `name` of `(x Int64, y Utf8)`, or of `(x Int32, y Utf8)` with `narrow`.
    fn scan(name: &str, narrow: bool) -> LogicalPlan {
        let x = if narrow {
            DataType::Int32
        } else {
            DataType::Int64
        };
        let schema = Schema::new(vec![
            Field::new("x", x, true),
            Field::new("y", DataType::Utf8, true),
        ]);
        table_scan(Some(name), &schema, None)
            .unwrap()
            .build()
            .unwrap()
    }

    /// The plan after type coercion and `IntersectExceptAll`, as `EXPLAIN` indents it.
    fn analyzed(plan: LogicalPlan) -> String {
        let analyzer = Analyzer::with_rules(vec![
            Arc::new(TypeCoercion::new()),
            Arc::new(IntersectExceptAll),
        ]);
        let plan = analyzer
            .execute_and_check(plan, &ConfigOptions::default(), |_, _| {})
            .unwrap();
        format!("{}", plan.display_indent())
    }

    /// `WindowAggr` numbering the copies of rows of `keys` as `name`.
    fn numbering(keys: &str, name: &str) -> String {
        format!(
            "WindowAggr: windowExpr=[[row_number() PARTITION BY [{keys}] \
             ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING AS {name}]]"
        )
    }

    #[test]
    fn intersect_all_matches_the_copies_by_their_number() {
        let plan = LogicalPlanBuilder::intersect(scan("a", false), scan("b", false), true).unwrap();
        let expected = format!(
            "\
Projection: a.x, a.y
  LeftSemi Join: a.x = b.x, a.y = b.y, __left_copy = __right_copy
    {}
      TableScan: a
    {}
      TableScan: b",
            numbering("a.x, a.y", "__left_copy"),
            numbering("b.x, b.y", "__right_copy"),
        );
        assert_eq!(analyzed(plan), expected);
    }

    #[test]
    fn except_all_counts_copies_of_the_values_compared_after_casts() {
        let plan = LogicalPlanBuilder::except(scan("a", true), scan("b", false), true).unwrap();
        let expected = format!(
            "\
Projection: a.x, a.y
  LeftAnti Join: CAST(a.x AS Int64) = b.x, a.y = b.y, __left_copy = __right_copy
    {}
      TableScan: a
    {}
      TableScan: b",
            numbering("CAST(a.x AS Int64), a.y", "__left_copy"),
            numbering("b.x, b.y", "__right_copy"),
        );
        assert_eq!(analyzed(plan), expected);
    }

    #[test]
    fn nested_set_operations_are_each_rewritten() {
        let inner = LogicalPlanBuilder::intersect(scan("a", false), scan("b", false), true).unwrap();
        let plan = LogicalPlanBuilder::except(inner, scan("c", false), true).unwrap();
        let expected = format!(
            "\
Projection: a.x, a.y
  LeftAnti Join: a.x = c.x, a.y = c.y, __left_copy = __right_copy
    {}
      Projection: a.x, a.y
        LeftSemi Join: a.x = b.x, a.y = b.y, __left_copy = __right_copy
          {}
            TableScan: a
          {}
            TableScan: b
    {}
      TableScan: c",
            numbering("a.x, a.y", "__left_copy"),
            numbering("a.x, a.y", "__left_copy"),
            numbering("b.x, b.y", "__right_copy"),
            numbering("c.x, c.y", "__right_copy"),
        );
        assert_eq!(analyzed(plan), expected);
    }

    #[test]
    fn set_operations_in_subqueries_are_rewritten() {
        use datafusion::logical_expr::exists;

        let set = LogicalPlanBuilder::except(scan("b", false), scan("c", false), true).unwrap();
        let plan = LogicalPlanBuilder::from(scan("a", false))
            .filter(exists(Arc::new(set)))
            .unwrap()
            .build()
            .unwrap();
        let expected = format!(
            "\
Filter: EXISTS (<subquery>)
  Subquery:
    Projection: b.x, b.y
      LeftAnti Join: b.x = c.x, b.y = c.y, __left_copy = __right_copy
        {}
          TableScan: b
        {}
          TableScan: c
  TableScan: a",
            numbering("b.x, b.y", "__left_copy"),
            numbering("c.x, c.y", "__right_copy"),
        );
        assert_eq!(analyzed(plan), expected);
    }

    #[test]
    fn intersect_and_except_without_all_are_left_alone() {
        let plan = LogicalPlanBuilder::intersect(scan("a", false), scan("b", false), false).unwrap();
        let expected = "\
LeftSemi Join: a.x = b.x, a.y = b.y
  Distinct:
    TableScan: a
  TableScan: b";
        assert_eq!(analyzed(plan), expected);
        let plan = LogicalPlanBuilder::except(scan("a", false), scan("b", false), false).unwrap();
        assert_eq!(analyzed(plan), expected.replace("LeftSemi", "LeftAnti"));
    }

    #[test]
    fn other_semi_and_anti_joins_are_left_alone() {
        use datafusion::common::Column;

        let keys = |names: &[&str], table: &str| -> Vec<Column> {
            names.iter().map(|n| Column::new(Some(table), *n)).collect()
        };
        // Keys comparing NULLs as unequal: a join the user asked for.
        let plan = LogicalPlanBuilder::from(scan("a", false))
            .join(
                scan("b", false),
                JoinType::LeftSemi,
                (keys(&["x", "y"], "a"), keys(&["x", "y"], "b")),
                None,
            )
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            analyzed(plan),
            "\
LeftSemi Join: a.x = b.x, a.y = b.y
  TableScan: a
  TableScan: b"
        );
        // NULLs equal, but not on every column.
        let plan = LogicalPlanBuilder::from(scan("a", false))
            .join_detailed(
                scan("b", false),
                JoinType::LeftAnti,
                (keys(&["x"], "a"), keys(&["x"], "b")),
                None,
                NullEquality::NullEqualsNull,
            )
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            analyzed(plan),
            "\
LeftAnti Join: a.x = b.x
  TableScan: a
  TableScan: b"
        );
        // Every column, NULLs equal, with a further condition.
        let plan = LogicalPlanBuilder::from(scan("a", false))
            .join_detailed(
                scan("b", false),
                JoinType::LeftSemi,
                (keys(&["x", "y"], "a"), keys(&["x", "y"], "b")),
                Some(col("a.x").gt(col("b.x"))),
                NullEquality::NullEqualsNull,
            )
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            analyzed(plan),
            "\
LeftSemi Join: a.x = b.x, a.y = b.y Filter: a.x > b.x
  TableScan: a
  TableScan: b"
        );
    }
}
