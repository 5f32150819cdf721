//! Physical planning of Rask's logical nodes.

use std::sync::Arc;

use datafusion::catalog::Session;
use datafusion::common::Result;
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{LogicalPlan, UserDefinedLogicalNode};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, ExtensionPlanner, PhysicalPlanner};

use crate::aligned_join::PartitionJoin;
use crate::divisions::{Divisions, DivisionsExec};
use crate::partitions::{MapPartitions, MapPartitionsExec, Rebalance, RebalanceExec};
use crate::shared::{ComputeAll, ComputeAllExec, SharedScan, SharedScanExec};

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
            return Ok(Some(Arc::new(SharedScanExec::new(node, first()))));
        }
        if any.is::<ComputeAll>() {
            return Ok(Some(Arc::new(ComputeAllExec::new(
                physical_inputs.to_vec(),
            ))));
        }
        Ok(None)
    }
}
