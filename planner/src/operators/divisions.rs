//! [`DivisionsExec`]: known divisions, each run as one output partition.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::compute::SortOptions;
use datafusion::common::{internal_err, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{
    EquivalenceProperties, LexRequirement, OrderingRequirements, PhysicalSortRequirement,
};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, ExecutionPlanProperties,
    Partitioning, PlanProperties,
};

use super::Operator;
use crate::nodes::Divisions;

/// Runs input `i` of a [`Divisions`] as output partition `i`.
#[derive(Debug)]
pub struct DivisionsExec {
    inputs: Vec<Arc<dyn ExecutionPlan>>,
    order: Option<LexRequirement>,
    properties: Arc<PlanProperties>,
}

impl DivisionsExec {
    /// Plans `node` over its planned inputs.
    pub fn planned(node: &Divisions, inputs: Vec<Arc<dyn ExecutionPlan>>) -> Result<Self> {
        let order = match (node.sorts(), inputs.first()) {
            (true, Some(first)) => {
                let index = first.schema().index_of(node.column())?;
                let column = Arc::new(datafusion::physical_expr::expressions::Column::new(
                    node.column(),
                    index,
                ));
                LexRequirement::new([PhysicalSortRequirement::new(
                    column,
                    Some(SortOptions::new(false, false)),
                )])
            }
            _ => None,
        };
        Self::new(inputs, order)
    }

    /// One output partition per input, each sorted by `order` when given.
    fn new(inputs: Vec<Arc<dyn ExecutionPlan>>, order: Option<LexRequirement>) -> Result<Self> {
        let Some(first) = inputs.first() else {
            return internal_err!("DivisionsExec needs at least one partition");
        };
        // Each input runs as one partition, so an ordering all inputs share holds within
        // every output partition.
        let ordering = first.output_ordering();
        let ordered = ordering.is_some()
            && inputs
                .iter()
                .all(|input| input.output_ordering() == ordering);
        let equivalences = if ordered {
            first.equivalence_properties().clone()
        } else {
            EquivalenceProperties::new(first.schema())
        };
        let properties = PlanProperties::new(
            equivalences,
            Partitioning::UnknownPartitioning(inputs.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(DivisionsExec {
            inputs,
            order,
            properties: Arc::new(properties),
        })
    }
}

impl DisplayAs for DivisionsExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "DivisionsExec: partitions={}", self.inputs.len())
    }
}

impl Operator for DivisionsExec {
    fn inputs(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.inputs.iter().collect()
    }

    fn with_inputs(self: Arc<Self>, inputs: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<Self>> {
        DivisionsExec::new(inputs, self.order.clone()).map(Arc::new)
    }

    fn plan_properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }
}

impl ExecutionPlan for DivisionsExec {
    crate::operator_methods!();

    /// A partition is a division: each input is merged into one stream (sorted inputs
    /// by a sort-preserving merge), so its rows stay in order.
    fn required_input_distribution(&self) -> Vec<Distribution> {
        vec![Distribution::SinglePartition; self.inputs.len()]
    }

    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        let required = self.order.clone().map(OrderingRequirements::new);
        vec![required; self.inputs.len()]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false; self.inputs.len()]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true; self.inputs.len()]
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let Some(input) = self.inputs.get(partition) else {
            return internal_err!("DivisionsExec has no partition {partition}");
        };
        input.execute(0, context)
    }
}
