//! [`PushSemiJoins`]: a semi or anti join on the key of an inner join below it moves under
//! that join, to the side the key comes from.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, Result};
use datafusion::logical_expr::{Expr, Join, JoinType, LogicalPlan, Projection};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};

/// Moves a `LeftSemi`/`LeftAnti` join (`IN`, `EXISTS`, `NOT IN`, `NOT EXISTS` after
/// decorrelation) under the inner join below it when one of its keys is that join's key on
/// one side and everything it reads from its left comes from that side.
///
/// DataFusion leaves such a join where the `WHERE` clause put it: above every join of the
/// `FROM` list, so those joins run over all rows and the semi join filters their result. A
/// semi or anti join keeps or drops rows by a key alone, so it commutes with an inner join:
/// below it, it filters one of the join's inputs by the same keys, and the join's build side
/// holds only the rows kept — the join then carries the few keys left to the other side as its
/// dynamic filter. It only goes under joins on its own key: there it removes the same share of
/// the join's rows as above it, while under a join on another key (say, a join with one
/// nation out of 25) it would probe every row that join was about to drop. Projections in
/// between are passed when they pass the columns it reads unchanged.
///
/// TPC-H Q18 (`o_orderkey IN (… HAVING sum(l_quantity) > 300)`, 57 of 1.5 million orders at
/// SF1):
///
/// ```text
/// LeftSemi Join: orders.o_orderkey = __correlated_sq_1.l_orderkey
///   Projection: customer.c_custkey, customer.c_name, orders.o_orderkey, …, lineitem.l_quantity
///     Inner Join: orders.o_orderkey = lineitem.l_orderkey
///       Projection: customer.c_custkey, customer.c_name, orders.o_orderkey, …
///         Inner Join: customer.c_custkey = orders.o_custkey
///           TableScan: customer
///           TableScan: orders
///       TableScan: lineitem
///   SubqueryAlias: __correlated_sq_1
/// ```
///
/// becomes
///
/// ```text
/// Projection: customer.c_custkey, customer.c_name, orders.o_orderkey, …, lineitem.l_quantity
///   Inner Join: orders.o_orderkey = lineitem.l_orderkey
///     LeftSemi Join: orders.o_orderkey = __correlated_sq_1.l_orderkey
///       Projection: customer.c_custkey, customer.c_name, orders.o_orderkey, …
///         Inner Join: customer.c_custkey = orders.o_custkey
///           TableScan: customer
///           TableScan: orders
///       SubqueryAlias: __correlated_sq_1
///     TableScan: lineitem
/// ```
///
/// and the join with lineitem builds a table of 57 orders instead of 1.5 million.
#[derive(Debug, Default)]
pub struct PushSemiJoins;

impl OptimizerRule for PushSemiJoins {
    fn name(&self) -> &str {
        "push_semi_joins"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Join(join) = &plan else {
            return Ok(Transformed::no(plan));
        };
        if !matches!(join.join_type, JoinType::LeftSemi | JoinType::LeftAnti) {
            return Ok(Transformed::no(plan));
        }
        Ok(match pushed(join)? {
            Some(moved) => Transformed::yes(moved),
            None => Transformed::no(plan),
        })
    }
}

/// The plan with `semi` moved down into its left input, or `None` where it stays.
fn pushed(semi: &Join) -> Result<Option<LogicalPlan>> {
    match semi.left.as_ref() {
        LogicalPlan::Projection(projection) => through_projection(semi, projection),
        LogicalPlan::Join(inner) if inner.join_type == JoinType::Inner => {
            into_join_side(semi, inner)
        }
        _ => Ok(None),
    }
}

fn through_projection(semi: &Join, projection: &Projection) -> Result<Option<LogicalPlan>> {
    let mut passed = HashMap::new();
    for (expr, (qualifier, field)) in projection.expr.iter().zip(projection.schema.iter()) {
        if let Some(source) = passed_column(expr) {
            passed.insert(Column::from((qualifier, field)), source.clone());
        }
    }
    let used = left_columns(semi);
    if !used.iter().all(|column| passed.contains_key(column)) {
        return Ok(None);
    }
    let rename = |expr: &Expr| {
        expr.clone()
            .transform(|e| {
                Ok(match e {
                    Expr::Column(column) if used.contains(&column) => {
                        Transformed::yes(Expr::Column(passed[&column].clone()))
                    }
                    other => Transformed::no(other),
                })
            })
            .map(|t| t.data)
    };
    let on = semi
        .on
        .iter()
        .map(|(left, right)| Ok((rename(left)?, right.clone())))
        .collect::<Result<Vec<_>>>()?;
    let filter = semi.filter.as_ref().map(rename).transpose()?;
    let below = with_left(semi, Arc::clone(&projection.input), on, filter)?;
    // A move through a projection alone gains nothing: it is kept only when the semi join
    // then goes under a join.
    let Some(moved) = pushed(&below)? else {
        return Ok(None);
    };
    Ok(Some(LogicalPlan::Projection(Projection::try_new(
        projection.expr.clone(),
        Arc::new(moved),
    )?)))
}

fn into_join_side(semi: &Join, inner: &Join) -> Result<Option<LogicalPlan>> {
    let used = left_columns(semi);
    for left_side in [true, false] {
        let (input, mut keys) = if left_side {
            (
                &inner.left,
                inner.on.iter().map(|(key, _)| key).collect::<Vec<_>>(),
            )
        } else {
            (&inner.right, inner.on.iter().map(|(_, key)| key).collect())
        };
        keys.retain(|key| semi.on.iter().any(|(semi_key, _)| semi_key == *key));
        if keys.is_empty() || !used.iter().all(|column| input.schema().has_column(column)) {
            continue;
        }
        let below = with_left(
            semi,
            Arc::clone(input),
            semi.on.clone(),
            semi.filter.clone(),
        )?;
        let below = match pushed(&below)? {
            Some(moved) => moved,
            None => LogicalPlan::Join(below),
        };
        let mut moved = inner.clone();
        if left_side {
            moved.left = Arc::new(below);
        } else {
            moved.right = Arc::new(below);
        }
        return Ok(Some(LogicalPlan::Join(moved)));
    }
    Ok(None)
}

/// The column an output of a projection repeats unchanged, under its name or another.
fn passed_column(expr: &Expr) -> Option<&Column> {
    match expr {
        Expr::Column(column) => Some(column),
        Expr::Alias(alias) => passed_column(&alias.expr),
        _ => None,
    }
}

/// The columns of its left input that a semi join's keys and filter read.
fn left_columns(semi: &Join) -> HashSet<Column> {
    let left = semi.left.schema();
    let mut columns: HashSet<Column> = semi
        .on
        .iter()
        .flat_map(|(key, _)| key.column_refs())
        .cloned()
        .collect();
    if let Some(filter) = &semi.filter {
        columns.extend(
            filter
                .column_refs()
                .into_iter()
                .filter(|column| left.has_column(column))
                .cloned(),
        );
    }
    columns
}

fn with_left(
    semi: &Join,
    left: Arc<LogicalPlan>,
    on: Vec<(Expr, Expr)>,
    filter: Option<Expr>,
) -> Result<Join> {
    Join::try_new(
        left,
        Arc::clone(&semi.right),
        on,
        filter,
        semi.join_type,
        semi.join_constraint,
        semi.null_equality,
        semi.null_aware,
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::logical_expr::{
        col, lit, table_scan, JoinType, LogicalPlan, LogicalPlanBuilder,
    };
    use datafusion::optimizer::{Optimizer, OptimizerContext};

    use super::PushSemiJoins;

    fn scan(name: &str, columns: &[&str]) -> LogicalPlanBuilder {
        let fields: Vec<Field> = columns
            .iter()
            .map(|column| Field::new(*column, DataType::Int64, false))
            .collect();
        table_scan(Some(name), &Schema::new(fields), None).unwrap()
    }

    /// `left` joined (`join_type`) with lineitem on `orders.o_orderkey = l_orderkey`.
    fn with_lineitem(left: LogicalPlanBuilder, join_type: JoinType) -> LogicalPlanBuilder {
        let lineitem = scan("lineitem", &["l_orderkey", "l_quantity"]);
        left.join(
            lineitem.build().unwrap(),
            join_type,
            (vec!["orders.o_orderkey"], vec!["lineitem.l_orderkey"]),
            None,
        )
        .unwrap()
    }

    /// `plan` under a semi join of `key` with `sq.k`.
    fn in_subquery(plan: LogicalPlanBuilder, key: &str) -> LogicalPlan {
        let subquery = scan("sq", &["k"]).build().unwrap();
        plan.join(
            subquery,
            JoinType::LeftSemi,
            (vec![key], vec!["sq.k"]),
            None,
        )
        .unwrap()
        .build()
        .unwrap()
    }

    /// Whether the optimizer leaves `plan` as it is.
    fn unchanged(plan: LogicalPlan) -> bool {
        let before = format!("{}", plan.display_indent());
        optimized(plan) == before
    }

    /// `customer ⋈ orders ⋈ lineitem` (on custkey, then orderkey) projected to the columns
    /// Q18 keeps, under a semi or anti join of `key` with `sq.k`.
    fn q18_shape(
        join_type: JoinType,
        key: &str,
        filter: Option<datafusion::prelude::Expr>,
    ) -> LogicalPlan {
        let customer_orders = scan("customer", &["c_custkey", "c_name"])
            .join(
                scan("orders", &["o_orderkey", "o_custkey"])
                    .build()
                    .unwrap(),
                JoinType::Inner,
                (vec!["customer.c_custkey"], vec!["orders.o_custkey"]),
                None,
            )
            .unwrap()
            .project(vec![
                col("customer.c_name"),
                col("orders.o_orderkey"),
                col("orders.o_custkey"),
            ])
            .unwrap()
            .build()
            .unwrap();
        let subquery = scan("sq", &["k", "v"]).build().unwrap();
        with_lineitem(LogicalPlanBuilder::from(customer_orders), JoinType::Inner)
            .project(vec![
                col("customer.c_name"),
                col("orders.o_orderkey").alias("order"),
                col("orders.o_custkey"),
                col("lineitem.l_quantity"),
            ])
            .unwrap()
            .join(subquery, join_type, (vec![key], vec!["sq.k"]), filter)
            .unwrap()
            .build()
            .unwrap()
    }

    /// The plan after the optimizer ran `PushSemiJoins` alone, as `EXPLAIN` indents it.
    fn optimized(plan: LogicalPlan) -> String {
        let optimizer = Optimizer::with_rules(vec![Arc::new(PushSemiJoins)]);
        let context = OptimizerContext::new().with_skip_failing_rules(false);
        let plan = optimizer.optimize(plan, &context, |_, _| {}).unwrap();
        format!("{}", plan.display_indent())
    }

    #[test]
    fn a_semi_join_on_a_join_key_goes_under_that_join() {
        let plan = q18_shape(JoinType::LeftSemi, "order", None);
        let expected = "\
Projection: customer.c_name, orders.o_orderkey AS order, orders.o_custkey, lineitem.l_quantity
  Inner Join: orders.o_orderkey = lineitem.l_orderkey
    LeftSemi Join: orders.o_orderkey = sq.k
      Projection: customer.c_name, orders.o_orderkey, orders.o_custkey
        Inner Join: customer.c_custkey = orders.o_custkey
          TableScan: customer
          TableScan: orders
      TableScan: sq
    TableScan: lineitem";
        assert_eq!(optimized(plan), expected);
    }

    #[test]
    fn an_anti_join_with_a_filter_on_one_side_goes_under_too() {
        let filter = col("sq.v").not_eq(col("orders.o_custkey"));
        let plan = q18_shape(JoinType::LeftAnti, "order", Some(filter));
        let expected = "\
Projection: customer.c_name, orders.o_orderkey AS order, orders.o_custkey, lineitem.l_quantity
  Inner Join: orders.o_orderkey = lineitem.l_orderkey
    LeftAnti Join: orders.o_orderkey = sq.k Filter: sq.v != orders.o_custkey
      Projection: customer.c_name, orders.o_orderkey, orders.o_custkey
        Inner Join: customer.c_custkey = orders.o_custkey
          TableScan: customer
          TableScan: orders
      TableScan: sq
    TableScan: lineitem";
        assert_eq!(optimized(plan), expected);
    }

    #[test]
    fn a_semi_join_on_a_key_of_no_join_below_stays() {
        // The join right below is on o_orderkey; the one on o_custkey further down is never
        // reached, since the semi join does not pass a join on another key.
        assert!(unchanged(q18_shape(
            JoinType::LeftSemi,
            "orders.o_custkey",
            None
        )));
    }

    #[test]
    fn a_filter_reading_the_other_side_keeps_the_semi_join_above() {
        // The filter reads lineitem's column: under the join, orders' side cannot evaluate it.
        let filter = col("sq.v").lt(col("lineitem.l_quantity"));
        assert!(unchanged(q18_shape(
            JoinType::LeftSemi,
            "order",
            Some(filter)
        )));
    }

    #[test]
    fn computed_columns_and_outer_joins_keep_it_above() {
        let orders = || scan("orders", &["o_orderkey", "o_custkey"]);
        let computed = with_lineitem(orders(), JoinType::Inner)
            .project(vec![
                (col("orders.o_orderkey") + lit(0i64)).alias("o_orderkey")
            ])
            .unwrap();
        assert!(unchanged(in_subquery(computed, "o_orderkey")));
        let outer = with_lineitem(orders(), JoinType::Left);
        assert!(unchanged(in_subquery(outer, "orders.o_orderkey")));
    }
}
