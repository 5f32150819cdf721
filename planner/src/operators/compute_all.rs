//! [`ComputeAllExec`]: the plans of several results computed together.

use std::fmt;
use std::sync::Arc;

use datafusion::common::{internal_err, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};

use super::Operator;

/// The physical [`ComputeAll`](crate::nodes::ComputeAll): holds the results' plans; run each
/// child on its own.
#[derive(Debug)]
pub struct ComputeAllExec {
    inputs: Vec<Arc<dyn ExecutionPlan>>,
    properties: Arc<PlanProperties>,
}

impl ComputeAllExec {
    /// Holds `inputs`.
    pub fn new(inputs: Vec<Arc<dyn ExecutionPlan>>) -> Self {
        let properties = PlanProperties::new(
            datafusion::physical_expr::EquivalenceProperties::new(Arc::new(
                datafusion::arrow::datatypes::Schema::empty(),
            )),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        ComputeAllExec {
            inputs,
            properties: Arc::new(properties),
        }
    }

    /// The results' physical plans, shared scans bound.
    pub fn plans(&self) -> &[Arc<dyn ExecutionPlan>] {
        &self.inputs
    }
}

impl DisplayAs for ComputeAllExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ComputeAllExec: results={}", self.inputs.len())
    }
}

impl Operator for ComputeAllExec {
    fn inputs(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.inputs.iter().collect()
    }

    fn with_inputs(self: Arc<Self>, inputs: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<Self>> {
        Ok(Arc::new(ComputeAllExec::new(inputs)))
    }

    fn plan_properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }
}

impl ExecutionPlan for ComputeAllExec {
    crate::operator_methods!();

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false; self.inputs.len()]
    }

    fn execute(&self, _: usize, _: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        internal_err!("ComputeAllExec is not run as a whole: run each of its results")
    }
}
