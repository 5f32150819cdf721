//! [`Rebalance`]: `repartition(n)`, which fixes how many partitions there are.

use std::fmt;
use std::sync::Arc;

use datafusion::common::{plan_err, DFSchemaRef, Result};
use datafusion::logical_expr::{Extension, LogicalPlan, UserDefinedLogicalNodeCore};

/// `repartition(npartitions)`: rows dealt round-robin into exactly `npartitions` partitions.
///
/// DataFusion's own repartitioning is advisory: its physical optimizer removes and re-adds
/// repartitions to suit the session's parallelism. A Dask user asked for this many
/// partitions, so [`RebalanceExec`](crate::operators::RebalanceExec) keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub struct Rebalance {
    input: LogicalPlan,
    npartitions: usize,
}

impl Rebalance {
    /// How many partitions it deals the rows into.
    pub fn npartitions(&self) -> usize {
        self.npartitions
    }
}

/// `input` in `npartitions` partitions.
pub fn rebalance(input: LogicalPlan, npartitions: usize) -> Result<LogicalPlan> {
    if npartitions == 0 {
        return plan_err!("repartition: npartitions must be at least 1");
    }
    Ok(LogicalPlan::Extension(Extension {
        node: Arc::new(Rebalance { input, npartitions }),
    }))
}

impl UserDefinedLogicalNodeCore for Rebalance {
    fn name(&self) -> &str {
        "Rebalance"
    }

    fn schema(&self) -> &DFSchemaRef {
        self.input.schema()
    }

    super::node_inputs!(one input);

    /// Filters may move below: which partition a row lands in does not change its value.
    fn prevent_predicate_push_down_columns(&self) -> std::collections::HashSet<String> {
        Default::default()
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "Rebalance: npartitions={}", self.npartitions)
    }

    fn necessary_children_exprs(&self, output_columns: &[usize]) -> Option<Vec<Vec<usize>>> {
        Some(vec![output_columns.to_vec()])
    }
}
