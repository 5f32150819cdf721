//! The walks Rask's analyzer rules share: every node, or every expression of every node,
//! subqueries included, rewritten bottom-up, with schemas recomputed above a change.

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{Expr, LogicalPlan};

/// Applies `rewrite` to every node of `plan`, inputs first. Every node from the first change
/// upwards recomputes its schema before it is rewritten, since a change below may have changed
/// a type it shows.
pub(crate) fn rewrite_nodes(
    plan: LogicalPlan,
    mut rewrite: impl FnMut(LogicalPlan) -> Result<Transformed<LogicalPlan>>,
) -> Result<LogicalPlan> {
    let mut changed = false;
    let rewritten = plan.transform_up_with_subqueries(|node| {
        let node = if changed {
            node.recompute_schema()?
        } else {
            node
        };
        let node = rewrite(node)?;
        changed |= node.transformed;
        Ok(node)
    })?;
    Ok(rewritten.data)
}

/// Applies `rewrite` to every sub-expression of `plan`, innermost first, with the schema of
/// the node's inputs at hand. A node keeps the names of its expressions (an alias restores one
/// that changed).
pub(crate) fn rewrite_expressions(
    plan: LogicalPlan,
    rewrite: impl Fn(Expr, &DFSchema) -> Result<Transformed<Expr>>,
) -> Result<LogicalPlan> {
    rewrite_nodes(plan, |node| {
        let schema = input_schema(&node);
        let names = NamePreserver::new(&node);
        let node = node.map_expressions(|expr| {
            let name = names.save(&expr);
            expr.transform_up(|e| rewrite(e, &schema))
                .map(|t| t.update_data(|e| name.restore(e)))
        })?;
        // The node's own schema must show the types of its rewritten expressions.
        if node.transformed {
            node.map_data(LogicalPlan::recompute_schema)
        } else {
            Ok(node)
        }
    })
}

/// The columns a node's expressions can name: its inputs', and a scan's own table.
fn input_schema(node: &LogicalPlan) -> DFSchema {
    let mut schema = merge_schema(&node.inputs());
    if let LogicalPlan::TableScan(scan) = node {
        if let Ok(source) =
            DFSchema::try_from_qualified_schema(scan.table_name.clone(), &scan.source.schema())
        {
            schema.merge(&source);
        }
    }
    schema
}
