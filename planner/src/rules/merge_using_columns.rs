//! [`MergeUsingColumns`]: the column `k` of `JOIN … USING (k)` is one column merged from both
//! sides, and `SELECT *` shows it first, as PostgreSQL does.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, JoinConstraint, JoinType, Result};
use datafusion::functions::expr_fn::coalesce;
use datafusion::logical_expr::utils::expand_wildcard;
use datafusion::logical_expr::{Expr, Join, LogicalPlan, Projection, Union};
use datafusion::optimizer::AnalyzerRule;

/// Gives the column `k` of `l JOIN r USING (k)` (and of `NATURAL JOIN`) PostgreSQL's value and
/// place.
///
/// PostgreSQL's manual (§7.2.1.1, "Joined Tables") says `USING` "produces one output column
/// for each of the listed column pairs (in the listed order), followed by any remaining
/// columns from T1, followed by any remaining columns from T2"; the SQL standard defines that
/// column as `COALESCE(l.k, r.k)`, which is `l.k` for inner and left joins, `r.k` for right
/// joins and a value from either side for full joins. DataFusion keeps both `l.k` and `r.k`
/// in the join and resolves `k` to `l.k`, NULL on the rows only `r` has; `SELECT *` shows one
/// of the two (the one whose qualifier sorts first) in its place among its side's columns.
///
/// Two rewrites:
/// - above a `RIGHT` or `FULL` join with `USING`, a projection replaces `l.k` by `r.k`
///   (right) or `coalesce(l.k, r.k)` (full) under the name `l.k`, so that everything reading
///   `k` — the select list, `GROUP BY`, `ORDER BY`, an enclosing query, an enclosing join's
///   `USING (k)` — reads the merged column (DataFusion's SQL planner refuses an unqualified
///   `k` in the `WHERE` of the joining query itself as ambiguous, before any rule runs);
/// - a select list containing DataFusion's expansion of `*` over such joins lists those
///   columns in PostgreSQL's order instead, the merged column first (`r.k` shown by `*` is
///   shown as the merged `l.k`).
///
/// What planning erases, and the choice made:
/// - an explicit `l.k` is the same column as the `k` DataFusion resolved, so above a right or
///   full join it reads the merged value too (PostgreSQL: `l.k`'s own, NULL where only `r`
///   has the row); `r.k` keeps its own value;
/// - `SELECT *` is recognised by its expansion, so a select list that spells out exactly
///   those columns in that order is reordered as if it were `*`; `ORDER BY 1` was resolved to
///   the first column of DataFusion's order before the reordering;
/// - `NATURAL JOIN` becomes `USING` with the common columns in the right side's order, so
///   several common columns come first in that order (PostgreSQL: the left side's).
///
/// It runs before type coercion, which types the merged column as the common type of both
/// sides and casts what reads it; the schemas above a reordered `*` are recomputed here.
///
/// `SELECT * FROM a FULL JOIN b USING (k)` with `a(v, k)` and `b(k, w)`:
///
/// ```text
/// Projection: a.v, a.k, b.w
///   Full Join: Using a.k = b.k
///     TableScan: a
///     TableScan: b
/// ```
///
/// becomes
///
/// ```text
/// Projection: a.k, a.v, b.w
///   Projection: a.v, coalesce(a.k, b.k) AS k, b.k, b.w
///     Full Join: Using a.k = b.k
///       TableScan: a
///       TableScan: b
/// ```
#[derive(Debug, Default)]
pub struct MergeUsingColumns;

impl AnalyzerRule for MergeUsingColumns {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        // Where each projection on the way down holds DataFusion's `*`, found against the
        // input as planned: an input reordered below no longer matches the expansion.
        let stars: RefCell<Vec<Option<Range<usize>>>> = RefCell::default();
        let mut rewritten = false;
        plan.transform_down_up_with_subqueries(
            |plan| {
                if let LogicalPlan::Projection(projection) = &plan {
                    stars.borrow_mut().push(star_in(projection)?);
                }
                Ok(Transformed::no(plan))
            },
            |plan| {
                let plan = match plan {
                    LogicalPlan::Join(join)
                        if join.join_constraint == JoinConstraint::Using
                            && matches!(join.join_type, JoinType::Right | JoinType::Full) =>
                    {
                        Transformed::yes(merged(join)?)
                    }
                    LogicalPlan::Projection(projection) => match stars.borrow_mut().pop().flatten()
                    {
                        Some(star) => in_postgres_order(projection, star)?,
                        None => Transformed::no(LogicalPlan::Projection(projection)),
                    },
                    plan => Transformed::no(plan),
                };
                rewritten |= plan.transformed;
                if rewritten && !plan.transformed {
                    // Joins, aliases, windows and unions keep their inputs' columns in a
                    // schema of their own, stale once a `*` below them is reordered.
                    plan.map_data(in_line_with_inputs)
                } else {
                    Ok(plan)
                }
            },
        )
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &str {
        "merge_using_columns"
    }
}

/// The `USING` pairs of `join` as (left column, right column).
fn using_pairs(join: &Join) -> Vec<(Column, Column)> {
    join.on
        .iter()
        .filter_map(|(a, b)| {
            let (a, b) = (a.get_as_join_column()?, b.get_as_join_column()?);
            // `join_using` swaps a pair whose left type cannot be hashed.
            Some(if join.left.schema().has_column(a) {
                (a.clone(), b.clone())
            } else {
                (b.clone(), a.clone())
            })
        })
        .collect()
}

/// `join` under a projection giving each left `USING` column the merged value.
fn merged(join: Join) -> Result<LogicalPlan> {
    let pairs = using_pairs(&join);
    let full = join.join_type == JoinType::Full;
    let output = join
        .schema
        .columns()
        .into_iter()
        .map(
            |column| match pairs.iter().find(|(left, _)| *left == column) {
                Some((left, right)) => {
                    let value = if full {
                        coalesce(vec![
                            Expr::Column(left.clone()),
                            Expr::Column(right.clone()),
                        ])
                    } else {
                        Expr::Column(right.clone())
                    };
                    value.alias_qualified(left.relation.clone(), left.name.clone())
                }
                None => Expr::Column(column),
            },
        )
        .collect();
    Projection::try_new(output, Arc::new(LogicalPlan::Join(join))).map(LogicalPlan::Projection)
}

/// Where `projection` holds DataFusion's expansion of `*` over an input with `USING` joins.
fn star_in(projection: &Projection) -> Result<Option<Range<usize>>> {
    let input = projection.input.as_ref();
    if input.using_columns()?.is_empty() {
        return Ok(None);
    }
    let star = expand_wildcard(input.schema(), input, None)?;
    Ok(projection
        .expr
        .windows(star.len())
        .position(|run| run == star.as_slice())
        .map(|start| start..start + star.len()))
}

/// `projection` with the columns of `*` at `star` in PostgreSQL's order.
fn in_postgres_order(
    projection: Projection,
    star: Range<usize>,
) -> Result<Transformed<LogicalPlan>> {
    let input = projection.input.as_ref();
    let mut merged_into = HashMap::new();
    let ordered = postgres_star(input, &mut merged_into);
    let representative = |column: &Column| {
        let mut column = column;
        while let Some(next) = merged_into.get(column) {
            column = next;
        }
        column.clone()
    };
    // Each column of DataFusion's `*` by the column PostgreSQL shows in its place.
    let shown: HashMap<Column, Column> = projection.expr[star.clone()]
        .iter()
        .filter_map(|expr| match expr {
            Expr::Column(column) => Some((representative(column), column.clone())),
            _ => None,
        })
        .collect();
    let same_columns = shown.len() == star.len()
        && ordered.len() == star.len()
        && ordered.iter().all(|column| shown.contains_key(column));
    let in_order = ordered
        .iter()
        .zip(&projection.expr[star.clone()])
        .all(|(column, expr)| matches!(expr, Expr::Column(c) if c == column));
    if !same_columns || in_order {
        return Ok(Transformed::no(LogicalPlan::Projection(projection)));
    }
    let run = ordered.iter().map(|column| {
        let kept = &shown[column];
        if kept == column {
            Expr::Column(column.clone())
        } else {
            Expr::Column(column.clone()).alias_qualified(kept.relation.clone(), kept.name.clone())
        }
    });
    let mut expr = projection.expr;
    expr.splice(star, run);
    Projection::try_new(expr, projection.input)
        .map(|projection| Transformed::yes(LogicalPlan::Projection(projection)))
}

/// The columns of `SELECT *` over `plan` in PostgreSQL's order: for a `USING` join, the left
/// columns of its pairs, then the left side's other columns, then the right side's. Records
/// in `merged_into` which column each right `USING` column is shown as.
fn postgres_star(plan: &LogicalPlan, merged_into: &mut HashMap<Column, Column>) -> Vec<Column> {
    match plan {
        LogicalPlan::Join(join)
            if matches!(
                join.join_type,
                JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full
            ) =>
        {
            let left = postgres_star(&join.left, merged_into);
            let right = postgres_star(&join.right, merged_into);
            if join.join_constraint != JoinConstraint::Using {
                return left.into_iter().chain(right).collect();
            }
            let (left_keys, right_keys): (Vec<Column>, Vec<Column>) =
                using_pairs(join).into_iter().unzip();
            for (l, r) in left_keys.iter().zip(&right_keys) {
                merged_into.insert(r.clone(), l.clone());
            }
            left_keys
                .iter()
                .cloned()
                .chain(left.into_iter().filter(|c| !left_keys.contains(c)))
                .chain(right.into_iter().filter(|c| !right_keys.contains(c)))
                .collect()
        }
        // Filters, sorts, limits and the projection of `merged`: the columns of their input.
        _ if plan.inputs().len() == 1
            && plan.schema().columns() == plan.inputs()[0].schema().columns() =>
        {
            postgres_star(plan.inputs()[0], merged_into)
        }
        _ => plan.schema().columns(),
    }
}

/// `plan` with its schema derived from its inputs again.
fn in_line_with_inputs(plan: LogicalPlan) -> Result<LogicalPlan> {
    match plan {
        // A union keeps its schema when the width is unchanged: rebuild it from its inputs.
        LogicalPlan::Union(union) => {
            Union::try_new_with_loose_types(union.inputs).map(LogicalPlan::Union)
        }
        plan => plan.recompute_schema(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::logical_expr::expr_fn::wildcard;
    use datafusion::logical_expr::{col, lit, table_scan, LogicalPlanBuilder};
    use datafusion::optimizer::analyzer::type_coercion::TypeCoercion;
    use datafusion::optimizer::Analyzer;

    /// A scan of `name` with `Int64` columns.
    fn scan(name: &str, columns: &[&str]) -> LogicalPlanBuilder {
        let schema = Schema::new(
            columns
                .iter()
                .map(|c| Field::new(*c, DataType::Int64, true))
                .collect::<Vec<_>>(),
        );
        table_scan(Some(name), &schema, None).unwrap()
    }

    fn using(
        left: LogicalPlanBuilder,
        join_type: JoinType,
        right: LogicalPlanBuilder,
        keys: &[&str],
    ) -> LogicalPlanBuilder {
        let keys = keys.iter().map(|k| Column::from_name(*k)).collect();
        left.join_using(right.build().unwrap(), join_type, keys)
            .unwrap()
    }

    fn star(plan: LogicalPlanBuilder) -> LogicalPlan {
        plan.project(vec![wildcard()]).unwrap().build().unwrap()
    }

    /// The plan after `MergeUsingColumns` and type coercion, as `EXPLAIN` indents it.
    fn analyzed(plan: LogicalPlan) -> String {
        let analyzer = Analyzer::with_rules(vec![
            Arc::new(MergeUsingColumns),
            Arc::new(TypeCoercion::new()),
        ]);
        let plan = analyzer
            .execute_and_check(plan, &ConfigOptions::default(), |_, _| {})
            .unwrap();
        format!("{}", plan.display_indent())
    }

    #[test]
    fn a_full_join_merges_its_using_column_and_star_shows_it_first() {
        let plan = star(using(
            scan("a", &["v", "k"]),
            JoinType::Full,
            scan("b", &["k", "w"]),
            &["k"],
        ));
        let expected = "\
Projection: a.k, a.v, b.w
  Projection: a.v, coalesce(a.k, b.k) AS k, b.k, b.w
    Full Join: Using a.k = b.k
      TableScan: a
      TableScan: b";
        assert_eq!(analyzed(plan), expected);
    }

    #[test]
    fn a_right_join_takes_its_using_column_from_the_right() {
        let plan = star(using(
            scan("a", &["k", "v"]),
            JoinType::Right,
            scan("b", &["k", "w"]),
            &["k"],
        ));
        let expected = "\
Projection: a.k, a.v, b.w
  Projection: b.k AS k, a.v, b.k, b.w
    Right Join: Using a.k = b.k
      TableScan: a
      TableScan: b";
        assert_eq!(analyzed(plan), expected);
    }

    #[test]
    fn inner_and_left_joins_keep_the_left_column_and_star_shows_it_first() {
        for (join_type, shown) in [(JoinType::Inner, "Inner"), (JoinType::Left, "Left")] {
            let plan = star(using(
                scan("a", &["v", "k"]),
                join_type,
                scan("b", &["w", "k"]),
                &["k"],
            ));
            let expected = format!(
                "\
Projection: a.k, a.v, b.w
  {shown} Join: Using a.k = b.k
    TableScan: a
    TableScan: b"
            );
            assert_eq!(analyzed(plan), expected);
        }
    }

    #[test]
    fn keys_come_first_in_the_listed_order() {
        let plan = star(using(
            scan("a", &["x", "y", "v"]),
            JoinType::Inner,
            scan("b", &["y", "x", "w"]),
            &["y", "x"],
        ));
        let expected = "\
Projection: a.y, a.x, a.v, b.w
  Inner Join: Using a.y = b.y, a.x = b.x
    TableScan: a
    TableScan: b";
        assert_eq!(analyzed(plan), expected);
    }

    #[test]
    fn star_shows_the_merged_column_where_datafusion_kept_the_right_one() {
        // DataFusion's `*` keeps the column whose qualifier sorts first: `b.k`, not `z.k`.
        let plan = star(using(
            scan("z", &["k", "v"]),
            JoinType::Full,
            scan("b", &["k", "w"]),
            &["k"],
        ));
        let expected = "\
Projection: z.k AS k, z.v, b.w
  Projection: coalesce(z.k, b.k) AS k, z.v, b.k, b.w
    Full Join: Using z.k = b.k
      TableScan: z
      TableScan: b";
        assert_eq!(analyzed(plan), expected);
    }

    #[test]
    fn nested_using_joins_merge_into_one_column() {
        let ab = using(
            scan("a", &["k", "v"]),
            JoinType::Full,
            scan("b", &["k", "w"]),
            &["k"],
        );
        let plan = star(using(ab, JoinType::Full, scan("c", &["x", "k"]), &["k"]));
        let expected = "\
Projection: a.k, a.v, b.w, c.x
  Projection: coalesce(a.k, c.k) AS k, a.v, b.k, b.w, c.x, c.k
    Full Join: Using a.k = c.k
      Projection: coalesce(a.k, b.k) AS k, a.v, b.k, b.w
        Full Join: Using a.k = b.k
          TableScan: a
          TableScan: b
      TableScan: c";
        assert_eq!(analyzed(plan), expected);
    }

    #[test]
    fn filters_and_keys_of_different_types_read_the_merged_column() {
        let narrow = Schema::new(vec![
            Field::new("k", DataType::Int32, true),
            Field::new("v", DataType::Int64, true),
        ]);
        let a = table_scan(Some("a"), &narrow, None).unwrap();
        let plan = using(a, JoinType::Full, scan("b", &["k", "w"]), &["k"])
            .filter(col("k").eq(lit(3i64)))
            .unwrap()
            .project(vec![col("k"), col("w")])
            .unwrap()
            .build()
            .unwrap();
        let expected = "\
Projection: a.k, b.w
  Filter: a.k = Int64(3)
    Projection: coalesce(CAST(a.k AS Int64), b.k) AS k, a.v, b.k, b.w
      Full Join: Using CAST(a.k AS Int64) = b.k
        TableScan: a
        TableScan: b";
        assert_eq!(analyzed(plan), expected);
    }

    #[test]
    fn a_star_over_a_derived_table_follows_its_reordered_star() {
        let inner = star(using(
            scan("a", &["v", "k"]),
            JoinType::Inner,
            scan("b", &["k", "w"]),
            &["k"],
        ));
        let plan = star(LogicalPlanBuilder::from(inner).alias("j").unwrap());
        let expected = "\
Projection: j.k, j.v, j.w
  SubqueryAlias: j
    Projection: a.k, a.v, b.w
      Inner Join: Using a.k = b.k
        TableScan: a
        TableScan: b";
        assert_eq!(analyzed(plan), expected);
    }

    #[test]
    fn a_union_follows_the_reordered_star() {
        let plan = using(
            scan("a", &["v", "k"]),
            JoinType::Inner,
            scan("b", &["k", "w"]),
            &["k"],
        )
        .project(vec![wildcard()])
        .unwrap()
        .union(scan("c", &["x", "y", "z"]).build().unwrap())
        .unwrap()
        .build()
        .unwrap();
        let expected = "\
Union
  Projection: a.k, a.v, b.w
    Inner Join: Using a.k = b.k
      TableScan: a
      TableScan: b
  TableScan: c";
        let analyzer = Analyzer::with_rules(vec![
            Arc::new(MergeUsingColumns),
            Arc::new(TypeCoercion::new()),
        ]);
        let plan = analyzer
            .execute_and_check(plan, &ConfigOptions::default(), |_, _| {})
            .unwrap();
        assert_eq!(format!("{}", plan.display_indent()), expected);
        let names: Vec<&String> = plan.schema().fields().iter().map(|f| f.name()).collect();
        assert_eq!(names, ["k", "v", "w"]);
    }

    #[test]
    fn joins_on_conditions_and_explicit_select_lists_are_left_alone() {
        let on = scan("a", &["v", "k"])
            .join_on(
                scan("b", &["k", "w"]).build().unwrap(),
                JoinType::Full,
                vec![col("a.k").eq(col("b.k"))],
            )
            .unwrap();
        let expected = "\
Projection: a.v, a.k, b.k, b.w
  Full Join:  Filter: a.k = b.k
    TableScan: a
    TableScan: b";
        assert_eq!(analyzed(star(on)), expected);

        let chosen = using(
            scan("a", &["v", "k"]),
            JoinType::Inner,
            scan("b", &["k", "w"]),
            &["k"],
        )
        .project(vec![col("a.v"), col("k")])
        .unwrap()
        .build()
        .unwrap();
        let expected = "\
Projection: a.v, a.k
  Inner Join: Using a.k = b.k
    TableScan: a
    TableScan: b";
        assert_eq!(analyzed(chosen), expected);
    }
}
