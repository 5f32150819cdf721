//! Known divisions: a frame ordered on an index column, in partitions whose value ranges are
//! known, as Dask's `set_index` gives.
//!
//! [`Divisions`] has one input per partition, each holding the rows whose index lies in its
//! closed range `[low, high]`, ranges in ascending order. [`DivisionsExec`] runs input `i` as
//! output partition `i`. The rule [`PruneDivisions`] drops the inputs whose range cannot meet
//! a filter on the index, so their files are never opened:
//!
//! ```text
//! Filter: timestamp >= 2000-01-05 AND timestamp <= 2000-01-06
//!   Divisions: index=timestamp, partitions=30
//!     TableScan: part_00.parquet
//!     ...                                     (30 inputs)
//!     TableScan: part_29.parquet
//!
//! becomes
//!
//! Filter: timestamp >= 2000-01-05 AND timestamp <= 2000-01-06
//!   Divisions: index=timestamp, partitions=2
//!     TableScan: part_04.parquet
//!     TableScan: part_05.parquet
//! ```

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use datafusion::common::tree_node::Transformed;
use datafusion::common::{plan_err, DFSchema, DFSchemaRef, Result, ScalarValue};
use datafusion::logical_expr::{
    BinaryExpr, Expr, Extension, LogicalPlan, Operator, UserDefinedLogicalNodeCore,
};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};

/// The closed range of index values one partition holds.
pub type Bounds = (ScalarValue, ScalarValue);

/// A frame in partitions of known index ranges.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Divisions {
    inputs: Vec<LogicalPlan>,
    column: String,
    bounds: Vec<Bounds>,
    /// Whether each partition is to be sorted on the index (otherwise it is trusted to be).
    sort: bool,
    /// Whether every range but the last excludes its upper bound (ranges split at values)
    /// rather than including it (ranges of the values found).
    half_open: bool,
    schema: DFSchemaRef,
}

/// Plans are ordered by their inputs; schemas have no order.
impl PartialOrd for Divisions {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        (&self.inputs, &self.column).partial_cmp(&(&other.inputs, &other.column))
    }
}

impl Divisions {
    /// The index column.
    pub fn column(&self) -> &str {
        &self.column
    }

    /// Each partition's closed index range, in order.
    pub fn bounds(&self) -> &[Bounds] {
        &self.bounds
    }

    /// The partitions' plans, in order.
    pub fn partitions(&self) -> &[LogicalPlan] {
        &self.inputs
    }

    /// Whether each partition is to be sorted on the index (otherwise it is trusted to be).
    pub(crate) fn sorts(&self) -> bool {
        self.sort
    }

    /// Whether a partition's upper bound belongs to the next partition.
    pub fn half_open(&self) -> bool {
        self.half_open
    }

    /// Whether no index value can be in two partitions.
    pub fn disjoint(&self) -> bool {
        self.half_open
            || self
                .bounds
                .windows(2)
                .all(|pair| pair[0].1.partial_cmp(&pair[1].0) == Some(Ordering::Less))
    }

    /// Dask's divisions: each partition's lowest index value, then the last one's highest.
    pub fn divisions(&self) -> Vec<ScalarValue> {
        let mut divisions: Vec<ScalarValue> = self.bounds.iter().map(|b| b.0.clone()).collect();
        if let Some(last) = self.bounds.last() {
            divisions.push(last.1.clone());
        }
        divisions
    }
}

/// A plan of `inputs` (one per partition, the same columns each) whose index `column` lies
/// in `bounds[i]` in input `i`. The bounds must ascend without overlapping. With `sort`,
/// each partition is sorted on the index; without, its rows are trusted to be in order.
/// With `half_open`, a partition's upper bound belongs to the next one (but the last's).
pub fn divisions(
    inputs: Vec<LogicalPlan>,
    column: &str,
    bounds: Vec<Bounds>,
    sort: bool,
    half_open: bool,
) -> Result<LogicalPlan> {
    let Some(first) = inputs.first() else {
        return plan_err!("set_index: the frame has no partitions");
    };
    if inputs.len() != bounds.len() {
        return plan_err!(
            "set_index: {} partitions but {} ranges",
            inputs.len(),
            bounds.len()
        );
    }
    for pair in bounds.windows(2) {
        if pair[0].1.partial_cmp(&pair[1].0) == Some(Ordering::Greater) {
            return plan_err!(
                "set_index: the partitions are not sorted on '{column}': one ends at {} but the next starts at {}",
                pair[0].1,
                pair[1].0
            );
        }
    }
    let schema = Arc::new(DFSchema::try_from(first.schema().inner().as_ref().clone())?);
    for input in &inputs {
        if input.schema().inner().fields() != schema.inner().fields() {
            return plan_err!(
                "set_index: the partitions do not all have the same columns and types"
            );
        }
    }
    if schema.inner().field_with_name(column).is_err() {
        return plan_err!("set_index: no column named '{column}'");
    }
    Ok(LogicalPlan::Extension(Extension {
        node: Arc::new(Divisions {
            inputs,
            column: column.to_string(),
            bounds,
            sort,
            half_open,
            schema,
        }),
    }))
}

/// The divisions of the frame `plan` computes, when it keeps those of a [`Divisions`]
/// below it: filters, column selections that keep the index, and aliases keep them.
pub fn find_divisions(plan: &LogicalPlan) -> Option<&Divisions> {
    match plan {
        LogicalPlan::Extension(extension) => extension.node.as_any().downcast_ref::<Divisions>(),
        LogicalPlan::Filter(filter) => find_divisions(&filter.input),
        LogicalPlan::SubqueryAlias(alias) => find_divisions(&alias.input),
        LogicalPlan::Projection(projection) => {
            let found = find_divisions(&projection.input)?;
            let keeps_index = projection
                .expr
                .iter()
                .any(|expr| matches!(expr, Expr::Column(c) if c.name == found.column));
            keeps_index.then_some(found)
        }
        _ => None,
    }
}

impl UserDefinedLogicalNodeCore for Divisions {
    fn name(&self) -> &str {
        "Divisions"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        self.inputs.iter().collect()
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "Divisions: index={}, partitions={}",
            self.column,
            self.inputs.len()
        )
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> Result<Self> {
        let Some(first) = inputs.first() else {
            return plan_err!("Divisions takes one input per partition");
        };
        if inputs.len() != self.bounds.len() {
            return plan_err!("Divisions takes one input per partition");
        }
        // Projections pushed into the partitions narrow the node's columns with them.
        let schema = Arc::new(DFSchema::try_from(first.schema().inner().as_ref().clone())?);
        Ok(Divisions {
            inputs,
            column: self.column.clone(),
            bounds: self.bounds.clone(),
            sort: self.sort,
            half_open: self.half_open,
            schema,
        })
    }

    /// Every partition reads the columns the parent needs, and always the index, which
    /// pruning and the divisions refer to.
    fn necessary_children_exprs(&self, output_columns: &[usize]) -> Option<Vec<Vec<usize>>> {
        let index = self.schema.index_of_column_by_name(None, &self.column)?;
        let mut needed = output_columns.to_vec();
        if !needed.contains(&index) {
            needed.push(index);
        }
        needed.sort_unstable();
        needed.dedup();
        Some(vec![needed; self.inputs.len()])
    }
}

/// Drops the partitions of a [`Divisions`] that a filter on its index excludes.
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
        let range = index_range(&filter.predicate, &node.column);
        let keep: Vec<usize> = (0..node.bounds.len())
            .filter(|&i| range.meets(&node.bounds[i]))
            .collect();
        if keep.len() == node.bounds.len() || keep.is_empty() {
            // Keep one partition when none qualifies: the result is empty but well-formed.
            if keep.is_empty() && node.bounds.len() > 1 {
                return Ok(Transformed::yes(pruned(&plan, node, &[0])?));
            }
            return Ok(Transformed::no(plan));
        }
        Ok(Transformed::yes(pruned(&plan, node, &keep)?))
    }
}

fn pruned(plan: &LogicalPlan, node: &Divisions, keep: &[usize]) -> Result<LogicalPlan> {
    let narrowed = Divisions {
        inputs: keep.iter().map(|&i| node.inputs[i].clone()).collect(),
        column: node.column.clone(),
        bounds: keep.iter().map(|&i| node.bounds[i].clone()).collect(),
        sort: node.sort,
        half_open: node.half_open,
        schema: Arc::clone(&node.schema),
    };
    let input = LogicalPlan::Extension(Extension {
        node: Arc::new(narrowed),
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
/// by casting the second to the first's type.
fn compare(a: &ScalarValue, b: &ScalarValue) -> Option<Ordering> {
    let b = b.cast_to(&a.data_type()).ok()?;
    if a.is_null() || b.is_null() {
        return None;
    }
    a.partial_cmp(&b)
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
}
