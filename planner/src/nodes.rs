//! What Rask's plan nodes share.

use datafusion::common::{plan_err, Result};

/// The one item of `items`, or an error naming `node`, which takes exactly one input.
pub(crate) fn single<T>(items: Vec<T>, node: &str) -> Result<T> {
    match <[T; 1]>::try_from(items) {
        Ok([item]) => Ok(item),
        Err(items) => plan_err!("{node} takes one input, not {}", items.len()),
    }
}

/// `ExecutionPlan::apply_expressions` for an operator without physical expressions.
macro_rules! without_expressions {
    () => {
        fn apply_expressions(
            &self,
            _f: &mut dyn FnMut(
                &std::sync::Arc<dyn datafusion::physical_expr::PhysicalExpr>,
            ) -> datafusion::common::Result<
                datafusion::common::tree_node::TreeNodeRecursion,
            >,
        ) -> datafusion::common::Result<datafusion::common::tree_node::TreeNodeRecursion> {
            Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
        }
    };
}

pub(crate) use without_expressions;
