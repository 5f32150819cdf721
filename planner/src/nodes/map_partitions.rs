//! [`MapPartitions`]: `map_partitions(f)`, any per-partition code, run once per partition in
//! parallel.
//!
//! The node carries a [`PartitionFunction`] and the output schema (Dask's `meta`);
//! [`MapPartitionsExec`](crate::operators::MapPartitionsExec) gathers one input partition,
//! hands it to the function as one Arrow batch and streams the result. The node is a barrier
//! for the optimizer: no filter, projection or limit moves through it, because a function
//! over a whole partition sees different rows if anything is pushed below it.
//!
//! ```text
//! frame.filter(x > 0).map_partitions(f)
//!
//! MapPartitions: func=f              MapPartitionsExec: func=f, partitions=4
//!   Filter: x > 0          ──►         FilterExec: x > 0
//!     TableScan: data                    DataSourceExec: file_groups={4 groups}
//! ```

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::{DFSchema, DFSchemaRef, Result};
use datafusion::logical_expr::{Extension, LogicalPlan, UserDefinedLogicalNodeCore};

use crate::partitions::PartitionFunction;

/// The logical node of `map_partitions`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MapPartitions {
    input: LogicalPlan,
    func: PartitionFunction,
    schema: DFSchemaRef,
}

/// Plans are ordered by their inputs; schemas have no order.
impl PartialOrd for MapPartitions {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        (&self.input, &self.func).partial_cmp(&(&other.input, &other.func))
    }
}

impl MapPartitions {
    /// The function it runs.
    pub fn func(&self) -> &PartitionFunction {
        &self.func
    }

    /// What the function returns.
    pub fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }
}

/// `input.map_partitions(func)`, returning `meta` (inferred from an empty call when `None`).
pub fn map_partitions(
    input: LogicalPlan,
    func: PartitionFunction,
    meta: Option<SchemaRef>,
) -> Result<LogicalPlan> {
    let meta = match meta {
        Some(meta) => meta,
        None => func.infer_schema(input.schema().inner())?,
    };
    let schema = Arc::new(DFSchema::try_from(meta.as_ref().clone())?);
    Ok(LogicalPlan::Extension(Extension {
        node: Arc::new(MapPartitions {
            input,
            func,
            schema,
        }),
    }))
}

impl UserDefinedLogicalNodeCore for MapPartitions {
    fn name(&self) -> &str {
        "MapPartitions"
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    super::node_inputs!(one input);

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "MapPartitions: func={}", self.func.name())
    }
}
