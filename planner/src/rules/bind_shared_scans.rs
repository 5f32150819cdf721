//! [`BindSharedScans`]: the places that read one shared sub-plan are fed by one run of it.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::Result;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;

use crate::operators::{Producer, SharedScanExec};

/// Binds every group of [`SharedScanExec`]s with the same id in a plan to one producer,
/// which runs their sub-plan once per partition and hands every batch to each of them. Runs
/// last among the physical rules, once the plan's shape is final.
///
/// The places of an id are numbered in plan order. The first keeps the sub-plan as its
/// child, so that the plan shows it (and its metrics) once; the others become leaves. A
/// place alone with its id, and places already bound, are left as they are.
///
/// ```text
/// ComputeAllExec: results=2
///   SharedScanExec: id=1
///     DataSourceExec: data.csv
///   SharedScanExec: id=1
///     DataSourceExec: data.csv
/// ```
///
/// becomes
///
/// ```text
/// ComputeAllExec: results=2
///   SharedScanExec: id=1, consumer 1 of 2
///     DataSourceExec: data.csv
///   SharedScanExec: id=1, consumer 2 of 2
/// ```
#[derive(Debug, Default)]
pub struct BindSharedScans;

impl PhysicalOptimizerRule for BindSharedScans {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut counts: HashMap<usize, usize> = HashMap::new();
        plan.apply(|node| {
            if let Some(shared) = node.downcast_ref::<SharedScanExec>() {
                if shared.unbound_input().is_some() {
                    *counts.entry(shared.id()).or_default() += 1;
                }
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        if counts.values().all(|&n| n < 2) {
            return Ok(plan);
        }
        let mut producers: HashMap<usize, (Arc<Producer>, usize)> = HashMap::new();
        plan.transform_down(|node| {
            let Some(shared) = node.downcast_ref::<SharedScanExec>() else {
                return Ok(Transformed::no(node));
            };
            let consumers = counts.get(&shared.id()).copied().unwrap_or(0);
            let (Some(input), true) = (shared.unbound_input(), consumers > 1) else {
                return Ok(Transformed::no(node));
            };
            let (producer, next) = producers
                .entry(shared.id())
                .or_insert_with(|| (Arc::new(Producer::new(Arc::clone(input), consumers)), 0));
            let consumer = *next;
            *next += 1;
            let bound = shared.bound(producer, consumer, consumers);
            Ok(Transformed::new(
                Arc::new(bound) as Arc<dyn ExecutionPlan>,
                true,
                TreeNodeRecursion::Jump,
            ))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "bind_shared_scans"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
