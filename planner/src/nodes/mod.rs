//! Rask's logical plan nodes, one file each, with the function that builds a plan of each.
//!
//! | node | built by | is |
//! |---|---|---|
//! | [`MapPartitions`] | [`map_partitions`] | a function over whole partitions |
//! | [`Rebalance`] | [`rebalance`] | `repartition(n)`: rows dealt into exactly `n` partitions |
//! | [`Divisions`] | [`divisions`] | a frame in partitions of known index ranges (`set_index`) |
//! | [`PartitionJoin`] | [`partition_join`] | the join of one partition of each side |
//! | [`SharedScan`] | [`shared`] | a sub-plan computed once for every place that reads it |
//! | [`ComputeAll`] | [`compute_all`] | several results planned together (`compute([..])`) |
//!
//! [`crate::extension`] plans each as a physical operator (see [`crate::operators`]).

mod compute_all;
mod divisions;
mod map_partitions;
mod partition_join;
mod rebalance;
mod shared_scan;

pub use compute_all::{compute_all, ComputeAll};
pub use divisions::{divisions, find_divisions, Bounds, Divisions};
pub use map_partitions::{map_partitions, MapPartitions};
pub use partition_join::{partition_join, PartitionJoin};
pub use rebalance::{rebalance, Rebalance};
pub use shared_scan::{shared, SharedScan};

use datafusion::common::{internal_err, Result};

/// The one item of `items`, or an error naming `node`, which takes exactly one input.
pub(crate) fn single<T>(items: Vec<T>, node: &str) -> Result<T> {
    match <[T; 1]>::try_from(items) {
        Ok([item]) => Ok(item),
        Err(items) => internal_err!("{node} takes one input, not {}", items.len()),
    }
}

/// Writes `inputs` and `expressions` of `UserDefinedLogicalNodeCore` for a node without
/// expressions whose inputs are its field `$field`: either one plan,
/// `node_inputs!(one input)`, which writes `with_exprs_and_inputs` too (new inputs replace
/// the field and keep the rest of the node), or a `Vec` of plans, `node_inputs!(many inputs)`.
macro_rules! node_inputs {
    (one $field:ident) => {
        fn inputs(&self) -> Vec<&datafusion::logical_expr::LogicalPlan> {
            vec![&self.$field]
        }

        fn expressions(&self) -> Vec<datafusion::logical_expr::Expr> {
            vec![]
        }

        fn with_exprs_and_inputs(
            &self,
            _exprs: Vec<datafusion::logical_expr::Expr>,
            inputs: Vec<datafusion::logical_expr::LogicalPlan>,
        ) -> datafusion::common::Result<Self> {
            let $field = $crate::nodes::single(
                inputs,
                datafusion::logical_expr::UserDefinedLogicalNodeCore::name(self),
            )?;
            Ok(Self {
                $field,
                ..self.clone()
            })
        }
    };
    (many $field:ident) => {
        fn inputs(&self) -> Vec<&datafusion::logical_expr::LogicalPlan> {
            self.$field.iter().collect()
        }

        fn expressions(&self) -> Vec<datafusion::logical_expr::Expr> {
            vec![]
        }
    };
}

use node_inputs;
