//! [`KeepSourcePartitions`]: a frame read in Dask's partitions keeps them through row-wise
//! steps.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::Result;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties, Partitioning};

use crate::operators::TimeseriesExec;

/// Removes the round-robin repartitions DataFusion deals a source into when it has fewer
/// partitions than the session runs, where the source's partitions are the frame's own:
/// files read in blocks (`read_csv`, `read_parquet`), `timeseries()` a stream per day, and
/// in-memory frames (`from_batches`, `persist`). Dask's `npartitions`, `map_partitions` and
/// `to_csv('*')` then count the same partitions on any machine; the steps that need many
/// partitions (aggregations, joins, sorts) still hash-partition their input.
///
/// ```text
/// FilterExec: value > 0
///   RepartitionExec: partitioning=RoundRobinBatch(8), input_partitions=3
///     DataSourceExec: file_groups={3 groups}, output_partitioning=UnknownPartitioning(3)
/// ```
///
/// becomes
///
/// ```text
/// FilterExec: value > 0
///   DataSourceExec: file_groups={3 groups}, output_partitioning=UnknownPartitioning(3)
/// ```
#[derive(Debug, Default)]
pub struct KeepSourcePartitions;

impl PhysicalOptimizerRule for KeepSourcePartitions {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(repartition) = node.downcast_ref::<RepartitionExec>() else {
                return Ok(Transformed::no(node));
            };
            let input = repartition.input();
            let round_robin =
                matches!(repartition.partitioning(), Partitioning::RoundRobinBatch(_));
            if round_robin && !repartition.preserve_order() && in_source_partitions(input) {
                Ok(Transformed::yes(Arc::clone(input)))
            } else {
                Ok(Transformed::no(node))
            }
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "keep_source_partitions"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Whether `plan`'s partitions are those of sources partitioned as Dask partitions them,
/// passed through steps that keep each partition to itself.
fn in_source_partitions(plan: &Arc<dyn ExecutionPlan>) -> bool {
    if let Some(source) = plan.downcast_ref::<DataSourceExec>() {
        return source
            .data_source()
            .downcast_ref::<MemorySourceConfig>()
            .is_some()
            || crate::cache::file_scan_config(plan.as_ref())
                .is_some_and(|files| files.output_partitioning.is_some());
    }
    if let Some(timeseries) = plan.downcast_ref::<TimeseriesExec>() {
        return timeseries.stream_count() == timeseries.parts().len();
    }
    if plan.downcast_ref::<UnionExec>().is_some() {
        return plan.children().into_iter().all(in_source_partitions);
    }
    let partitions = plan.output_partitioning().partition_count();
    match plan.children()[..] {
        [child] if plan.downcast_ref::<RepartitionExec>().is_none() => {
            child.output_partitioning().partition_count() == partitions
                && in_source_partitions(child)
        }
        _ => false,
    }
}
