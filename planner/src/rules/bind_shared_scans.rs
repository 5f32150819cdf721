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

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_plan::displayable;
    use datafusion::physical_plan::empty::EmptyExec;

    use super::*;
    use crate::operators::ComputeAllExec;

    fn empty() -> Arc<dyn ExecutionPlan> {
        let schema = Schema::new(vec![Field::new("x", DataType::Int64, false)]);
        Arc::new(EmptyExec::new(Arc::new(schema)))
    }

    /// A place reading the sub-plan shared under `id`, planned on its own.
    fn place(id: usize) -> Arc<dyn ExecutionPlan> {
        Arc::new(SharedScanExec::new(id, empty()))
    }

    fn results(plans: Vec<Arc<dyn ExecutionPlan>>) -> Arc<dyn ExecutionPlan> {
        Arc::new(ComputeAllExec::new(plans))
    }

    fn bind(plan: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
        BindSharedScans
            .optimize(plan, &ConfigOptions::default())
            .unwrap()
    }

    fn text(plan: &Arc<dyn ExecutionPlan>) -> String {
        displayable(plan.as_ref()).indent(true).to_string()
    }

    #[test]
    fn places_with_one_id_share_one_producer() {
        let bound = bind(results(vec![place(1), place(1)]));
        let expected = "\
ComputeAllExec: results=2
  SharedScanExec: id=1, consumer 1 of 2
    EmptyExec
  SharedScanExec: id=1, consumer 2 of 2
";
        assert_eq!(text(&bound), expected);
    }

    #[test]
    fn each_id_is_bound_on_its_own() {
        let bound = bind(results(vec![
            place(1),
            place(2),
            place(1),
            place(2),
            place(2),
        ]));
        let expected = "\
ComputeAllExec: results=5
  SharedScanExec: id=1, consumer 1 of 2
    EmptyExec
  SharedScanExec: id=2, consumer 1 of 3
    EmptyExec
  SharedScanExec: id=1, consumer 2 of 2
  SharedScanExec: id=2, consumer 2 of 3
  SharedScanExec: id=2, consumer 3 of 3
";
        assert_eq!(text(&bound), expected);
    }

    #[test]
    fn a_place_alone_with_its_id_stays_unbound() {
        let bound = bind(results(vec![place(1), place(2), place(2)]));
        let expected = "\
ComputeAllExec: results=3
  SharedScanExec: id=1
    EmptyExec
  SharedScanExec: id=2, consumer 1 of 2
    EmptyExec
  SharedScanExec: id=2, consumer 2 of 2
";
        assert_eq!(text(&bound), expected);
    }

    #[test]
    fn a_plan_without_shared_scans_is_returned_as_it_is() {
        let plan = results(vec![empty(), empty()]);
        let bound = bind(Arc::clone(&plan));
        assert!(Arc::ptr_eq(&plan, &bound));
        let expected = "\
ComputeAllExec: results=2
  EmptyExec
  EmptyExec
";
        assert_eq!(text(&bound), expected);
    }

    #[test]
    fn bound_places_are_not_bound_again() {
        let once = bind(results(vec![place(1), place(1)]));
        let twice = bind(Arc::clone(&once));
        assert!(Arc::ptr_eq(&once, &twice));
        assert_eq!(text(&twice), text(&once));
    }
}
