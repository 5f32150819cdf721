//! Physical planning of Rask's logical nodes, and what they become where a plan leaves this
//! process.

use std::sync::Arc;

use datafusion::catalog::Session;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Column, Result, TableReference};
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{LogicalPlan, UserDefinedLogicalNode};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, ExtensionPlanner, PhysicalPlanner};

use crate::nodes::{ComputeAll, Divisions, MapPartitions, PartitionJoin, Rebalance, SharedScan};
use crate::operators::{
    ComputeAllExec, DivisionsExec, MapPartitionsExec, RebalanceExec, SharedScanExec,
};

/// DataFusion's planner, knowing Rask's nodes.
#[derive(Debug, Default)]
pub struct RaskQueryPlanner;

#[async_trait::async_trait]
impl QueryPlanner for RaskQueryPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        DefaultPhysicalPlanner::with_extension_planners(vec![Arc::new(RaskNodes)])
            .create_physical_plan(logical_plan, session)
            .await
    }
}

struct RaskNodes;

#[async_trait::async_trait]
impl ExtensionPlanner for RaskNodes {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        _session: &dyn Session,
        _planning_ctx: &PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let any = node.as_any();
        let first = || Arc::clone(&physical_inputs[0]);
        if let Some(node) = any.downcast_ref::<MapPartitions>() {
            return Ok(Some(Arc::new(MapPartitionsExec::new(first(), node))));
        }
        if let Some(node) = any.downcast_ref::<Rebalance>() {
            return Ok(Some(Arc::new(RebalanceExec::planned(first(), node)?)));
        }
        if let Some(node) = any.downcast_ref::<Divisions>() {
            let planned = DivisionsExec::planned(node, physical_inputs.to_vec())?;
            return Ok(Some(Arc::new(planned)));
        }
        if let Some(node) = any.downcast_ref::<PartitionJoin>() {
            let right = Arc::clone(&physical_inputs[1]);
            return Ok(Some(node.plan(first(), right)?));
        }
        if let Some(node) = any.downcast_ref::<SharedScan>() {
            return Ok(Some(Arc::new(SharedScanExec::new(node.id(), first()))));
        }
        if any.is::<ComputeAll>() {
            return Ok(Some(Arc::new(ComputeAllExec::new(
                physical_inputs.to_vec(),
            ))));
        }
        Ok(None)
    }
}

/// `plan` with the Rask nodes that hold this process's state or promise a partition layout
/// replaced by DataFusion's equivalents, for a cluster that plans it elsewhere: divisions
/// become a union of their partitions, a shared scan its input (each reader then scans on
/// its own), a partition join an ordinary join, `repartition(n)` a round-robin
/// repartition. `map_partitions` stays: it travels by its function's registered name.
pub fn for_cluster(plan: LogicalPlan) -> Result<LogicalPlan> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    use datafusion::logical_expr::{LogicalPlanBuilder, Partitioning};

    let lowered = plan.transform_up(|node| {
        let LogicalPlan::Extension(extension) = &node else {
            return Ok(Transformed::no(node));
        };
        let any = extension.node.as_any();
        let inputs: Vec<LogicalPlan> = extension.node.inputs().into_iter().cloned().collect();
        let lowered = if any.is::<Divisions>() {
            let mut parts = inputs.into_iter();
            let Some(first) = parts.next() else {
                return Ok(Transformed::no(node));
            };
            let mut union = LogicalPlanBuilder::from(first);
            for part in parts {
                union = union.union(part)?;
            }
            union.build()?
        } else if let Some(rebalance) = any.downcast_ref::<Rebalance>() {
            LogicalPlanBuilder::from(crate::nodes::single(inputs, "Rebalance")?)
                .repartition(Partitioning::RoundRobinBatch(rebalance.npartitions()))?
                .build()?
        } else if any.is::<SharedScan>() {
            crate::nodes::single(inputs, "SharedScan")?
        } else if let Some(join) = any.downcast_ref::<PartitionJoin>() {
            join.as_join()?
        } else {
            return Ok(Transformed::no(node));
        };
        Ok(Transformed::yes(lowered))
    })?;
    qualifiers_as_received(lowered.data)
}

/// The qualifier `name` becomes in a plan sent elsewhere: DataFusion's plans carry the
/// qualifiers of columns as text, read back as SQL identifiers, so that the table `rows.csv`
/// (`FROM 'rows.csv'`) comes back as table `csv` of schema `rows`, while its scan keeps its
/// name whole.
fn as_received(name: &TableReference) -> TableReference {
    TableReference::parse_str_normalized(&name.to_string(), true)
}

/// `plan` with every qualifier the one it becomes once sent (see [`as_received`]), scans
/// and aliases included, so that the plan read back on the other side names its columns as
/// its tables. The output columns keep their names.
fn qualifiers_as_received(plan: LogicalPlan) -> Result<LogicalPlan> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    use datafusion::logical_expr::{Expr, LogicalPlanBuilder, SubqueryAlias, TableScanBuilder};

    let changes = |name: &TableReference| as_received(name) != *name;
    let mut changed = false;
    plan.apply_with_subqueries(|node| {
        changed = match node {
            LogicalPlan::TableScan(scan) => changes(&scan.table_name),
            LogicalPlan::SubqueryAlias(alias) => changes(&alias.alias),
            _ => false,
        };
        Ok(if changed {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    })?;
    if !changed {
        return Ok(plan);
    }
    let names: Vec<String> = plan
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let sent = plan
        .transform_up_with_subqueries(|node| {
            let node = node
                .map_expressions(|expr| {
                    expr.transform(|expr| {
                        let received = |column: &Column| match &column.relation {
                            Some(relation) if changes(relation) => Some(Column::new(
                                Some(as_received(relation)),
                                column.name.clone(),
                            )),
                            _ => None,
                        };
                        Ok(match expr {
                            Expr::Column(column) => match received(&column) {
                                Some(column) => Transformed::yes(Expr::Column(column)),
                                None => Transformed::no(Expr::Column(column)),
                            },
                            Expr::OuterReferenceColumn(field, column) => match received(&column) {
                                Some(column) => {
                                    Transformed::yes(Expr::OuterReferenceColumn(field, column))
                                }
                                None => Transformed::no(Expr::OuterReferenceColumn(field, column)),
                            },
                            other => Transformed::no(other),
                        })
                    })
                })?
                .data;
            let node = match node {
                LogicalPlan::TableScan(scan) => LogicalPlan::TableScan(
                    TableScanBuilder::new(as_received(&scan.table_name), scan.source)
                        .with_projection(scan.projection)
                        .with_filters(scan.filters)
                        .with_fetch(scan.fetch)
                        .with_statistics_requests(scan.statistics_requests)
                        .build()?,
                ),
                LogicalPlan::SubqueryAlias(alias) => LogicalPlan::SubqueryAlias(
                    SubqueryAlias::try_new(alias.input, as_received(&alias.alias))?,
                ),
                other => other.recompute_schema()?,
            };
            Ok(Transformed::yes(node))
        })?
        .data;
    let renamed = sent
        .schema()
        .fields()
        .iter()
        .zip(&names)
        .any(|(field, name)| field.name() != name);
    if !renamed {
        return Ok(sent);
    }
    let columns: Vec<Expr> = sent
        .schema()
        .columns()
        .into_iter()
        .zip(names)
        .map(|(column, name)| Expr::Column(column).alias(name))
        .collect();
    LogicalPlanBuilder::from(sent).project(columns)?.build()
}
