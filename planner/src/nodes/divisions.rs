//! [`Divisions`]: known divisions, a frame ordered on an index column in partitions whose
//! value ranges are known, as Dask's `set_index` gives.
//!
//! The node has one input per partition, each holding the rows whose index lies in its
//! closed range `[low, high]`, ranges in ascending order.
//! [`DivisionsExec`](crate::operators::DivisionsExec) runs input `i` as output partition `i`;
//! the rule [`PruneDivisions`](crate::rules::PruneDivisions) drops the inputs a filter on the
//! index excludes.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use datafusion::common::{internal_err, plan_err, DFSchema, DFSchemaRef, Result, ScalarValue};
use datafusion::logical_expr::{Expr, Extension, LogicalPlan, UserDefinedLogicalNodeCore};

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

    /// The same divisions with only the partitions numbered `keep`, in that order.
    pub(crate) fn with_partitions(&self, keep: &[usize]) -> Divisions {
        Divisions {
            inputs: keep.iter().map(|&i| self.inputs[i].clone()).collect(),
            column: self.column.clone(),
            bounds: keep.iter().map(|&i| self.bounds[i].clone()).collect(),
            sort: self.sort,
            half_open: self.half_open,
            schema: Arc::clone(&self.schema),
        }
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

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    super::node_inputs!(many inputs);

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "Divisions: index={}, partitions={}",
            self.column,
            self.inputs.len()
        )
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> Result<Self> {
        let (Some(first), true) = (inputs.first(), inputs.len() == self.bounds.len()) else {
            return internal_err!(
                "Divisions takes one input per partition ({}), not {}",
                self.bounds.len(),
                inputs.len()
            );
        };
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
