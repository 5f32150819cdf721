//! [`MapPartitionsExec`]: a partition function run once per whole input partition.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::{exec_datafusion_err, exec_err, DataFusionError, Result};
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
};
use futures::{StreamExt, TryStreamExt};

use super::OneInput;
use crate::nodes::MapPartitions;
use crate::partitions::PartitionFunction;

/// Runs a [`PartitionFunction`] once per input partition.
#[derive(Debug)]
pub struct MapPartitionsExec {
    input: Arc<dyn ExecutionPlan>,
    func: PartitionFunction,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl MapPartitionsExec {
    /// Plans `node` over its planned input.
    pub fn new(input: Arc<dyn ExecutionPlan>, node: &MapPartitions) -> Self {
        Self::with_function(
            input,
            node.func().clone(),
            Arc::clone(node.schema().inner()),
        )
    }

    /// The function it runs.
    pub fn func(&self) -> &PartitionFunction {
        &self.func
    }

    /// Runs `func` over `input`'s partitions, returning `schema`.
    pub fn with_function(
        input: Arc<dyn ExecutionPlan>,
        func: PartitionFunction,
        schema: SchemaRef,
    ) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema),
            datafusion::physical_plan::Partitioning::UnknownPartitioning(
                input.output_partitioning().partition_count(),
            ),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        MapPartitionsExec {
            input,
            func,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for MapPartitionsExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "MapPartitionsExec: func={}, partitions={}",
            self.func.name(),
            self.properties.output_partitioning().partition_count()
        )
    }
}

impl OneInput for MapPartitionsExec {
    fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }

    fn with_input(&self, input: Arc<dyn ExecutionPlan>) -> Result<Self> {
        Ok(Self::with_function(input, self.func.clone(), self.schema()))
    }

    fn plan_properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }
}

impl ExecutionPlan for MapPartitionsExec {
    crate::operator_methods!();

    /// Partitions are the unit the function sees: more of them would change its answer.
    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![false]
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, Arc::clone(&context))?;
        let input_schema = self.input.schema();
        let schema = self.schema();
        let func = self.func.clone();
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        // Dask holds a whole partition in memory too; here it counts against the limit.
        let reservation = MemoryConsumer::new(format!("MapPartitions[{partition}]"))
            .register(context.memory_pool());
        let expected = Arc::clone(&schema);
        let output = futures::stream::once(async move {
            let batches: Vec<RecordBatch> = input
                .and_then(|batch| {
                    let grown = reservation.try_grow(batch.get_array_memory_size());
                    futures::future::ready(grown.map(|_| batch))
                })
                .try_collect()
                .await?;
            let whole = concat_batches(&input_schema, &batches)?;
            drop(batches);
            let timer = baseline.elapsed_compute().timer();
            let name = func.name().to_string();
            let result = tokio::task::spawn_blocking(move || func.call(whole))
                .await
                .map_err(|e| DataFusionError::External(Box::new(e)))??;
            timer.done();
            reservation.free();
            let result = conform(&name, result, &expected)?;
            baseline.record_output(result.num_rows());
            Ok(result)
        })
        .boxed();
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, output)))
    }
}

/// The function's result under the declared schema, or an error naming the difference.
fn conform(name: &str, batch: RecordBatch, expected: &SchemaRef) -> Result<RecordBatch> {
    let got = batch.schema();
    let shape = |schema: &SchemaRef| {
        schema
            .fields()
            .iter()
            .map(|f| format!("{}: {}", f.name(), f.data_type()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let same = got.fields().len() == expected.fields().len()
        && got
            .fields()
            .iter()
            .zip(expected.fields())
            .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
    if same {
        RecordBatch::try_new(Arc::clone(expected), batch.columns().to_vec())
            .map_err(|e| exec_datafusion_err!("map_partitions: '{name}' returned {e}"))
    } else {
        exec_err!(
            "map_partitions: '{name}' returned [{}] but its meta is [{}]",
            shape(&got),
            shape(expected)
        )
    }
}
