//! [`PruneDivisions`]: a filter on the index of known divisions drops the partitions it
//! excludes.

use std::cmp::Ordering;
use std::sync::Arc;

use datafusion::common::tree_node::Transformed;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{BinaryExpr, Expr, Extension, LogicalPlan, Operator};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};

use crate::nodes::{Bounds, Divisions};

/// Drops the partitions of a [`Divisions`] that the filter right above it excludes by the
/// index, so that their files are never opened.
///
/// The filter's `AND`ed comparisons of the index with literals (`=`, `<`, `<=`, `>`, `>=`,
/// `BETWEEN`; the literal on either side, the index possibly cast) bound the index, and a
/// partition is kept when its closed range meets those bounds. Anything else in the
/// predicate (other columns, `OR`, expressions of the index) bounds nothing. The filter
/// stays, since a kept partition may hold rows it rejects. When no partition qualifies, the
/// first one is kept, so that the plan still has a partition (and returns no rows).
///
/// With partitions of `i` in `[0, 9]`, `[10, 19]` and `[20, 29]`:
///
/// ```text
/// Filter: i >= Int64(10) AND i < Int64(20)
///   Divisions: index=i, partitions=3
///     TableScan: p0
///     TableScan: p1
///     TableScan: p2
/// ```
///
/// becomes
///
/// ```text
/// Filter: i >= Int64(10) AND i < Int64(20)
///   Divisions: index=i, partitions=1
///     TableScan: p1
/// ```
#[derive(Debug, Default)]
pub struct PruneDivisions;

impl OptimizerRule for PruneDivisions {
    fn name(&self) -> &str {
        "prune_divisions"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Filter(filter) = &plan else {
            return Ok(Transformed::no(plan));
        };
        let LogicalPlan::Extension(extension) = filter.input.as_ref() else {
            return Ok(Transformed::no(plan));
        };
        let Some(node) = extension.node.as_any().downcast_ref::<Divisions>() else {
            return Ok(Transformed::no(plan));
        };
        let range = index_range(&filter.predicate, node.column());
        let bounds = node.bounds();
        let keep: Vec<usize> = (0..bounds.len())
            .filter(|&i| range.meets(&bounds[i]))
            .collect();
        if keep.len() == bounds.len() || keep.is_empty() {
            // Keep one partition when none qualifies: the result is empty but well-formed.
            if keep.is_empty() && bounds.len() > 1 {
                return Ok(Transformed::yes(pruned(&plan, node, &[0])?));
            }
            return Ok(Transformed::no(plan));
        }
        Ok(Transformed::yes(pruned(&plan, node, &keep)?))
    }
}

fn pruned(plan: &LogicalPlan, node: &Divisions, keep: &[usize]) -> Result<LogicalPlan> {
    let input = LogicalPlan::Extension(Extension {
        node: Arc::new(node.with_partitions(keep)),
    });
    plan.with_new_exprs(plan.expressions(), vec![input])
}

/// The index values a predicate can accept: bounds taken from its `AND`ed comparisons of
/// the index with literals; anything else leaves the range open.
#[derive(Debug, Default)]
struct IndexRange {
    low: Option<(ScalarValue, bool)>,
    high: Option<(ScalarValue, bool)>,
}

impl IndexRange {
    fn meets(&self, (low, high): &Bounds) -> bool {
        let below =
            self.low
                .as_ref()
                .is_some_and(|(value, inclusive)| match compare(high, value) {
                    Some(Ordering::Less) => true,
                    Some(Ordering::Equal) => !inclusive,
                    _ => false,
                });
        let above =
            self.high
                .as_ref()
                .is_some_and(|(value, inclusive)| match compare(low, value) {
                    Some(Ordering::Greater) => true,
                    Some(Ordering::Equal) => !inclusive,
                    _ => false,
                });
        !(below || above)
    }

    fn tighten_low(&mut self, value: ScalarValue, inclusive: bool) {
        let tighter = match &self.low {
            None => true,
            Some((current, _)) => compare(&value, current) == Some(Ordering::Greater),
        };
        if tighter {
            self.low = Some((value, inclusive));
        }
    }

    fn tighten_high(&mut self, value: ScalarValue, inclusive: bool) {
        let tighter = match &self.high {
            None => true,
            Some((current, _)) => compare(&value, current) == Some(Ordering::Less),
        };
        if tighter {
            self.high = Some((value, inclusive));
        }
    }
}

/// Compares values of possibly different types (a date literal against a timestamp index)
/// by casting the second to the first's type — only where that cast loses nothing: `0.5`
/// cast to an integer index would be `0`, and `i < 0.5` would then drop the partition
/// holding `i = 0`. Numbers that do not cast exactly compare as the second's type (an
/// integer bound against `0.5` as floats); anything else is not compared, so nothing is
/// pruned on it.
fn compare(a: &ScalarValue, b: &ScalarValue) -> Option<Ordering> {
    if a.is_null() || b.is_null() {
        return None;
    }
    if let Some(b) = exact_cast(b, &a.data_type()) {
        return a.partial_cmp(&b);
    }
    if !(a.data_type().is_numeric() && b.data_type().is_numeric()) {
        return None;
    }
    exact_cast(a, &b.data_type())?.partial_cmp(b)
}

/// `value` as `to`, if casting it back gives `value` again.
fn exact_cast(
    value: &ScalarValue,
    to: &datafusion::arrow::datatypes::DataType,
) -> Option<ScalarValue> {
    let cast = value.cast_to(to).ok()?;
    (cast.cast_to(&value.data_type()).ok()? == *value).then_some(cast)
}

fn index_range(predicate: &Expr, column: &str) -> IndexRange {
    let mut range = IndexRange::default();
    for conjunct in datafusion::logical_expr::utils::split_conjunction(predicate) {
        match conjunct {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                let (op, value) = match (left.as_ref(), right.as_ref()) {
                    (l, Expr::Literal(value, _)) if is_index(l, column) => (*op, value.clone()),
                    (Expr::Literal(value, _), r) if is_index(r, column) => match op.swap() {
                        Some(op) => (op, value.clone()),
                        None => continue,
                    },
                    _ => continue,
                };
                match op {
                    Operator::Gt => range.tighten_low(value, false),
                    Operator::GtEq => range.tighten_low(value, true),
                    Operator::Lt => range.tighten_high(value, false),
                    Operator::LtEq => range.tighten_high(value, true),
                    Operator::Eq => {
                        range.tighten_low(value.clone(), true);
                        range.tighten_high(value, true);
                    }
                    _ => {}
                }
            }
            Expr::Between(between) if !between.negated && is_index(&between.expr, column) => {
                if let (Expr::Literal(low, _), Expr::Literal(high, _)) =
                    (between.low.as_ref(), between.high.as_ref())
                {
                    range.tighten_low(low.clone(), true);
                    range.tighten_high(high.clone(), true);
                }
            }
            _ => {}
        }
    }
    range
}

/// The index column, possibly cast (comparisons against literals of another type).
fn is_index(expr: &Expr, column: &str) -> bool {
    match expr {
        Expr::Column(c) => c.name == column,
        Expr::Cast(cast) => is_index(&cast.expr, column),
        Expr::TryCast(cast) => is_index(&cast.expr, column),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(low: Option<(i64, bool)>, high: Option<(i64, bool)>) -> IndexRange {
        IndexRange {
            low: low.map(|(v, i)| (ScalarValue::Int64(Some(v)), i)),
            high: high.map(|(v, i)| (ScalarValue::Int64(Some(v)), i)),
        }
    }

    fn bounds(low: i64, high: i64) -> Bounds {
        (
            ScalarValue::Int64(Some(low)),
            ScalarValue::Int64(Some(high)),
        )
    }

    #[test]
    fn ranges_meet_partitions_by_closed_bounds() {
        let part = bounds(10, 19);
        assert!(range(Some((19, true)), None).meets(&part));
        assert!(!range(Some((19, false)), None).meets(&part));
        assert!(!range(Some((20, true)), None).meets(&part));
        assert!(range(None, Some((10, true))).meets(&part));
        assert!(!range(None, Some((10, false))).meets(&part));
        assert!(range(Some((12, true)), Some((14, true))).meets(&part));
        assert!(range(None, None).meets(&part));
    }

    #[test]
    fn conjunctions_on_the_index_narrow_the_range() {
        use datafusion::logical_expr::{col, lit};
        let predicate = col("i")
            .gt_eq(lit(5i64))
            .and(col("i").lt(lit(9i64)))
            .and(col("other").gt(lit(100i64)))
            .and(lit(7i64).lt(col("i")));
        let found = index_range(&predicate, "i");
        assert_eq!(found.low, Some((ScalarValue::Int64(Some(7)), false)));
        assert_eq!(found.high, Some((ScalarValue::Int64(Some(9)), false)));
        let either = col("i").gt(lit(5i64)).or(col("i").lt(lit(1i64)));
        assert!(index_range(&either, "i").low.is_none());
    }

    /// Partitions `p0`, `p1`, `p2` of `(i, v)` whose index `i` lies in `[0, 9]`, `[10, 19]`
    /// and `[20, 29]`, under a filter on `predicate`.
    fn filtered(predicate: Expr) -> LogicalPlan {
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        use datafusion::logical_expr::{table_scan, LogicalPlanBuilder};

        let schema = Schema::new(vec![
            Field::new("i", DataType::Int64, false),
            Field::new("v", DataType::Int64, false),
        ]);
        let scan = |name: &str| table_scan(Some(name), &schema, None)?.build();
        let parts = vec![
            scan("p0").unwrap(),
            scan("p1").unwrap(),
            scan("p2").unwrap(),
        ];
        let ranges = vec![bounds(0, 9), bounds(10, 19), bounds(20, 29)];
        let divided = crate::nodes::divisions(parts, "i", ranges, false, false).unwrap();
        LogicalPlanBuilder::from(divided)
            .filter(predicate)
            .unwrap()
            .build()
            .unwrap()
    }

    /// The plan after the optimizer ran `PruneDivisions` alone, as `EXPLAIN` indents it.
    fn optimized(plan: LogicalPlan) -> String {
        use datafusion::optimizer::{Optimizer, OptimizerContext};

        let optimizer = Optimizer::with_rules(vec![Arc::new(PruneDivisions)]);
        let context = OptimizerContext::new().with_skip_failing_rules(false);
        let plan = optimizer.optimize(plan, &context, |_, _| {}).unwrap();
        format!("{}", plan.display_indent())
    }

    #[test]
    fn fractions_against_an_integer_index_keep_the_partitions_they_meet() {
        use datafusion::logical_expr::{col, lit};

        // i = 10 satisfies i < 10.5, so [10, 19] stays beside [0, 9]; only [20, 29] goes.
        // (Cast to the index's type the bound would be i < 10, which drops [10, 19].)
        let plan = filtered(col("i").lt(lit(10.5f64)));
        let expected = "\
Filter: i < Float64(10.5)
  Divisions: index=i, partitions=2
    TableScan: p0
    TableScan: p1";
        assert_eq!(optimized(plan), expected);

        // i = 0 satisfies i > -0.5 too: nothing can be dropped.
        let plan = filtered(col("i").gt(lit(-0.5f64)));
        let expected = "\
Filter: i > Float64(-0.5)
  Divisions: index=i, partitions=3
    TableScan: p0
    TableScan: p1
    TableScan: p2";
        assert_eq!(optimized(plan), expected);
    }

    #[test]
    fn a_range_on_the_index_keeps_the_partitions_it_meets() {
        use datafusion::logical_expr::{col, lit};

        let plan = filtered(col("i").gt_eq(lit(10i64)).and(col("i").lt(lit(20i64))));
        let expected = "\
Filter: i >= Int64(10) AND i < Int64(20)
  Divisions: index=i, partitions=1
    TableScan: p1";
        assert_eq!(optimized(plan), expected);

        let plan = filtered(col("i").gt(lit(5i64)).and(col("i").lt_eq(lit(12i64))));
        let expected = "\
Filter: i > Int64(5) AND i <= Int64(12)
  Divisions: index=i, partitions=2
    TableScan: p0
    TableScan: p1";
        assert_eq!(optimized(plan), expected);
    }

    #[test]
    fn equality_and_between_bound_the_index_from_either_side() {
        use datafusion::logical_expr::{col, lit};

        let plan = filtered(lit(25i64).eq(col("i")));
        let expected = "\
Filter: Int64(25) = i
  Divisions: index=i, partitions=1
    TableScan: p2";
        assert_eq!(optimized(plan), expected);

        let plan = filtered(col("i").between(lit(9i64), lit(10i64)));
        let expected = "\
Filter: i BETWEEN Int64(9) AND Int64(10)
  Divisions: index=i, partitions=2
    TableScan: p0
    TableScan: p1";
        assert_eq!(optimized(plan), expected);
    }

    #[test]
    fn a_filter_no_partition_meets_keeps_the_first() {
        use datafusion::logical_expr::{col, lit};

        let plan = filtered(col("i").gt(lit(100i64)));
        let expected = "\
Filter: i > Int64(100)
  Divisions: index=i, partitions=1
    TableScan: p0";
        assert_eq!(optimized(plan), expected);
    }

    #[test]
    fn filters_that_do_not_bound_the_index_prune_nothing() {
        use datafusion::logical_expr::{col, lit};

        let unpruned = |filter: &str| {
            format!(
                "\
Filter: {filter}
  Divisions: index=i, partitions=3
    TableScan: p0
    TableScan: p1
    TableScan: p2"
            )
        };
        let other_column = filtered(col("v").gt(lit(100i64)));
        assert_eq!(optimized(other_column), unpruned("v > Int64(100)"));
        let either = filtered(col("i").lt(lit(5i64)).or(col("i").gt(lit(25i64))));
        assert_eq!(optimized(either), unpruned("i < Int64(5) OR i > Int64(25)"));
        let computed = filtered((col("i") + lit(1i64)).gt(lit(100i64)));
        assert_eq!(optimized(computed), unpruned("i + Int64(1) > Int64(100)"));
        let everything = filtered(col("i").gt_eq(lit(0i64)));
        assert_eq!(optimized(everything), unpruned("i >= Int64(0)"));
    }
}
