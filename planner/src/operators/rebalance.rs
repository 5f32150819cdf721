//! [`RebalanceExec`]: `repartition(n)` as a repartition the physical optimizer keeps.

use std::fmt;
use std::sync::Arc;

use datafusion::common::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
};

use super::OneInput;
use crate::nodes::Rebalance;

/// DataFusion's round-robin repartitioning, kept by the physical optimizer.
#[derive(Debug)]
pub struct RebalanceExec {
    inner: Arc<dyn ExecutionPlan>,
    input: Arc<dyn ExecutionPlan>,
    npartitions: usize,
}

impl RebalanceExec {
    /// Deals `input`'s batches into `npartitions` partitions.
    pub fn new(input: Arc<dyn ExecutionPlan>, npartitions: usize) -> Result<Self> {
        let inner = Arc::new(RepartitionExec::try_new(
            Arc::clone(&input),
            datafusion::physical_plan::Partitioning::RoundRobinBatch(npartitions),
        )?);
        Ok(RebalanceExec {
            inner,
            input,
            npartitions,
        })
    }

    /// Plans `node` over its planned input.
    pub fn planned(input: Arc<dyn ExecutionPlan>, node: &Rebalance) -> Result<Self> {
        Self::new(input, node.npartitions())
    }
}

impl DisplayAs for RebalanceExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "RebalanceExec: npartitions={}, input_partitions={}",
            self.npartitions,
            self.input.output_partitioning().partition_count()
        )
    }
}

impl OneInput for RebalanceExec {
    fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }

    fn with_input(&self, input: Arc<dyn ExecutionPlan>) -> Result<Self> {
        RebalanceExec::new(input, self.npartitions)
    }

    fn plan_properties(&self) -> &Arc<PlanProperties> {
        self.inner.properties()
    }
}

impl ExecutionPlan for RebalanceExec {
    crate::operator_methods!();

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn metrics(&self) -> Option<MetricsSet> {
        self.inner.metrics()
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        self.inner.execute(partition, context)
    }
}
