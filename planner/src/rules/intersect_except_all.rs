//! [`IntersectExceptAll`]: `INTERSECT ALL` and `EXCEPT ALL` keep as many copies of a row as
//! the SQL standard says, not every copy the left side has.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, DFSchema, JoinConstraint, JoinType, NullEquality, Result};
use datafusion::functions::expr_fn::{coalesce, least};
use datafusion::functions_aggregate::expr_fn::count;
use datafusion::functions_nested::expr_fn::range;
use datafusion::logical_expr::{
    lit, Aggregate, Cast, Expr, Join, LogicalPlan, LogicalPlanBuilder, Projection,
};
use datafusion::optimizer::AnalyzerRule;

/// Emits each distinct row of `INTERSECT ALL` min(m, n) times and of `EXCEPT ALL`
/// max(m − n, 0) times, m and n being its copies on the left and on the right, as PostgreSQL
/// and the SQL standard define them.
///
/// DataFusion plans `l INTERSECT ALL r` as a semi join and `l EXCEPT ALL r` as an anti join
/// of `l` with `r` on every column, NULLs equal. That keeps all m copies of a left row that
/// `r` has, and drops all m when `r` has one. Here both sides are grouped by every column and
/// their rows counted (the left by its own columns, which keep their values and types, the
/// right by the join's keys); the groups are joined (inner for `INTERSECT`, left for
/// `EXCEPT`, NULLs equal) and each is unnested into `range(0, copies)`, one row per copy. Grouping
/// and hash joins need no order, so the plan runs alike on a cluster, whose shuffles do not
/// keep one (numbering the copies with `row_number()` would need it).
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
/// Projection: __left_0 AS x, __left_1 AS y
///   Unnest: lists[__copies|depth=1] structs[]
///     Projection: __left_0, __left_1, range(Int64(0), least(__left_count, __right_count), Int64(1)) AS __copies
///       Inner Join: __left_0 = __right_0, __left_1 = __right_1
///         Aggregate: groupBy=[[a.x AS __left_0, a.y AS __left_1]], aggr=[[count(Int64(1)) AS __left_count]]
///           TableScan: a
///         Aggregate: groupBy=[[b.x AS __right_0, b.y AS __right_1]], aggr=[[count(Int64(1)) AS __right_count]]
///           TableScan: b
/// ```
#[derive(Debug, Default)]
pub struct IntersectExceptAll;

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
        && join
            .on
            .iter()
            .enumerate()
            .all(|(i, (l, r))| is_column_at(l, left, i) && is_column_at(r, right, i))
}

/// Whether `key` is the `index`-th column of `schema`, possibly cast to the common type.
fn is_column_at(key: &Expr, schema: &DFSchema, index: usize) -> bool {
    key.get_as_join_column()
        .is_some_and(|column| *column == Column::from(schema.qualified_field(index)))
}

fn count_copies(join: Join) -> Result<LogicalPlan> {
    let output = join.left.schema().columns();
    let width = output.len();
    // The left side is grouped by its own columns, so that the rows keep their values and
    // types; the join compares them cast as its keys cast them.
    let left = counted(
        &join.left,
        output.iter().cloned().map(Expr::Column),
        "__left",
    )?;
    let (left_keys, right_keys): (Vec<Expr>, Vec<Expr>) = join.on.into_iter().unzip();
    let right = counted(&join.right, right_keys, "__right")?;
    let column = |name: String| Expr::Column(Column::from_name(name));
    let on = left_keys
        .into_iter()
        .enumerate()
        .map(|(i, key)| {
            let left = rebased(key, column(format!("__left_{i}")));
            (left, column(format!("__right_{i}")))
        })
        .collect();
    let left_count = column("__left_count".to_string());
    let right_count = column("__right_count".to_string());
    let (join_type, copies) = match join.join_type {
        JoinType::LeftSemi => (JoinType::Inner, least(vec![left_count, right_count])),
        _ => (
            JoinType::Left,
            left_count - coalesce(vec![right_count, lit(0i64)]),
        ),
    };
    let joined = Join::try_new(
        Arc::new(left),
        Arc::new(right),
        on,
        None,
        join_type,
        JoinConstraint::On,
        NullEquality::NullEqualsNull,
        false,
    )?;
    let rows: Vec<Expr> = (0..width).map(|i| column(format!("__left_{i}"))).collect();
    let copies = range(lit(0i64), copies, lit(1i64)).alias(COPIES);
    let repeated = LogicalPlanBuilder::from(LogicalPlan::Join(joined))
        .project(rows.iter().cloned().chain([copies]))?
        .unnest_column(COPIES)?
        .build()?;
    let named = rows
        .into_iter()
        .zip(output)
        .map(|(row, column)| row.alias_qualified(column.relation, column.name))
        .collect();
    Projection::try_new(named, Arc::new(repeated)).map(LogicalPlan::Projection)
}

/// The left key `key` (a column, possibly cast) applied to `column` instead.
fn rebased(key: Expr, column: Expr) -> Expr {
    match key {
        Expr::Cast(cast) => Expr::Cast(Cast::new_from_field(Box::new(column), cast.field)),
        _ => column,
    }
}

/// The distinct rows of `keys` over `input`, named `{prefix}_0`, `{prefix}_1`, …, and how
/// many times each occurs, as `{prefix}_count`.
fn counted(
    input: &Arc<LogicalPlan>,
    keys: impl IntoIterator<Item = Expr>,
    prefix: &str,
) -> Result<LogicalPlan> {
    let groups = keys
        .into_iter()
        .enumerate()
        .map(|(i, key)| key.alias(format!("{prefix}_{i}")))
        .collect();
    let count = count(lit(1i64)).alias(format!("{prefix}_count"));
    Aggregate::try_new(Arc::clone(input), groups, vec![count]).map(LogicalPlan::Aggregate)
}

/// The list of copies each distinct row is unnested from.
const COPIES: &str = "__copies";

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

    /// The plan after type coercion and `IntersectExceptAll`.
    fn analyzed_plan(plan: LogicalPlan) -> LogicalPlan {
        let analyzer = Analyzer::with_rules(vec![
            Arc::new(TypeCoercion::new()),
            Arc::new(IntersectExceptAll),
        ]);
        analyzer
            .execute_and_check(plan, &ConfigOptions::default(), |_, _| {})
            .unwrap()
    }

    /// That plan as `EXPLAIN` indents it.
    fn analyzed(plan: LogicalPlan) -> String {
        format!("{}", analyzed_plan(plan).display_indent())
    }

    #[test]
    fn intersect_all_repeats_each_row_as_often_as_the_side_with_fewer_copies() {
        let plan = LogicalPlanBuilder::intersect(scan("a", false), scan("b", false), true).unwrap();
        let expected = "\
Projection: __left_0 AS x, __left_1 AS y
  Unnest: lists[__copies|depth=1] structs[]
    Projection: __left_0, __left_1, range(Int64(0), least(__left_count, __right_count), Int64(1)) AS __copies
      Inner Join: __left_0 = __right_0, __left_1 = __right_1
        Aggregate: groupBy=[[a.x AS __left_0, a.y AS __left_1]], aggr=[[count(Int64(1)) AS __left_count]]
          TableScan: a
        Aggregate: groupBy=[[b.x AS __right_0, b.y AS __right_1]], aggr=[[count(Int64(1)) AS __right_count]]
          TableScan: b";
        assert_eq!(analyzed(plan.clone()), expected);
        // The output keeps the names and qualifiers of the left side.
        assert_eq!(
            analyzed_plan(plan.clone()).schema().columns(),
            plan.schema().columns()
        );
    }

    #[test]
    fn except_all_compares_the_rows_cast_as_the_join_keys_cast_them() {
        let plan = LogicalPlanBuilder::except(scan("a", true), scan("b", false), true).unwrap();
        let expected = "\
Projection: __left_0 AS x, __left_1 AS y
  Unnest: lists[__copies|depth=1] structs[]
    Projection: __left_0, __left_1, range(Int64(0), __left_count - coalesce(__right_count, Int64(0)), Int64(1)) AS __copies
      Left Join: CAST(__left_0 AS Int64) = __right_0, __left_1 = __right_1
        Aggregate: groupBy=[[a.x AS __left_0, a.y AS __left_1]], aggr=[[count(Int64(1)) AS __left_count]]
          TableScan: a
        Aggregate: groupBy=[[b.x AS __right_0, b.y AS __right_1]], aggr=[[count(Int64(1)) AS __right_count]]
          TableScan: b";
        assert_eq!(analyzed(plan.clone()), expected);
        // The left side's rows keep their type.
        let rewritten = analyzed_plan(plan);
        assert_eq!(rewritten.schema().field(0).data_type(), &DataType::Int32);
    }

    #[test]
    fn nested_set_operations_are_each_rewritten() {
        let inner =
            LogicalPlanBuilder::intersect(scan("a", false), scan("b", false), true).unwrap();
        let plan = LogicalPlanBuilder::except(inner, scan("c", false), true).unwrap();
        let expected = "\
Projection: __left_0 AS x, __left_1 AS y
  Unnest: lists[__copies|depth=1] structs[]
    Projection: __left_0, __left_1, range(Int64(0), __left_count - coalesce(__right_count, Int64(0)), Int64(1)) AS __copies
      Left Join: __left_0 = __right_0, __left_1 = __right_1
        Aggregate: groupBy=[[a.x AS __left_0, a.y AS __left_1]], aggr=[[count(Int64(1)) AS __left_count]]
          Projection: __left_0 AS x, __left_1 AS y
            Unnest: lists[__copies|depth=1] structs[]
              Projection: __left_0, __left_1, range(Int64(0), least(__left_count, __right_count), Int64(1)) AS __copies
                Inner Join: __left_0 = __right_0, __left_1 = __right_1
                  Aggregate: groupBy=[[a.x AS __left_0, a.y AS __left_1]], aggr=[[count(Int64(1)) AS __left_count]]
                    TableScan: a
                  Aggregate: groupBy=[[b.x AS __right_0, b.y AS __right_1]], aggr=[[count(Int64(1)) AS __right_count]]
                    TableScan: b
        Aggregate: groupBy=[[c.x AS __right_0, c.y AS __right_1]], aggr=[[count(Int64(1)) AS __right_count]]
          TableScan: c";
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
        let expected = "\
Filter: EXISTS (<subquery>)
  Subquery:
    Projection: __left_0 AS x, __left_1 AS y
      Unnest: lists[__copies|depth=1] structs[]
        Projection: __left_0, __left_1, range(Int64(0), __left_count - coalesce(__right_count, Int64(0)), Int64(1)) AS __copies
          Left Join: __left_0 = __right_0, __left_1 = __right_1
            Aggregate: groupBy=[[b.x AS __left_0, b.y AS __left_1]], aggr=[[count(Int64(1)) AS __left_count]]
              TableScan: b
            Aggregate: groupBy=[[c.x AS __right_0, c.y AS __right_1]], aggr=[[count(Int64(1)) AS __right_count]]
              TableScan: c
  TableScan: a";
        assert_eq!(analyzed(plan), expected);
    }

    #[test]
    fn intersect_and_except_without_all_are_left_alone() {
        let plan =
            LogicalPlanBuilder::intersect(scan("a", false), scan("b", false), false).unwrap();
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
