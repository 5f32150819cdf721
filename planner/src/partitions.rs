//! `map_partitions(f)`: any per-partition code, run once per partition in parallel; and
//! `repartition(n)`, which fixes how many partitions there are.
//!
//! The logical node [`MapPartitions`] carries a [`PartitionFunction`] and the output schema
//! (Dask's `meta`); [`MapPartitionsExec`] gathers one input partition, hands it to the
//! function as one Arrow batch and streams the result. The node is a barrier for the
//! optimizer: no filter, projection or limit moves through it, because a function over a
//! whole partition sees different rows if anything is pushed below it.
//!
//! ```text
//! frame.filter(x > 0).map_partitions(f)
//!
//! MapPartitions: func=f              MapPartitionsExec: func=f, partitions=4
//!   Filter: x > 0          ──►         FilterExec: x > 0
//!     TableScan: data                    DataSourceExec: file_groups={4 groups}
//! ```

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, LazyLock, RwLock};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::{exec_err, plan_err, DFSchema, DFSchemaRef, DataFusionError, Result};
use datafusion::logical_expr::{Expr, Extension, LogicalPlan, UserDefinedLogicalNodeCore};

/// What a partition function does: one partition's rows in, new rows out.
pub type PartitionFn = dyn Fn(RecordBatch) -> Result<RecordBatch> + Send + Sync;

/// A named function over whole partitions. Two are equal when they are the same closure.
#[derive(Clone)]
pub struct PartitionFunction {
    name: String,
    func: Arc<PartitionFn>,
}

impl PartitionFunction {
    /// Wraps `func` under `name` (shown in plans).
    pub fn new(name: impl Into<String>, func: Arc<PartitionFn>) -> Self {
        PartitionFunction {
            name: name.into(),
            func,
        }
    }

    /// A stand-in for the function registered as `name` in other processes: a scheduler
    /// plans with it but never calls it, so it need not know the user's code.
    pub fn unresolved(name: &str) -> Self {
        let missing = name.to_string();
        PartitionFunction::new(
            name,
            Arc::new(move |_| {
                exec_err!("no partition function is registered as '{missing}' in this process")
            }),
        )
    }

    /// The name plans show.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this very function is registered under its name, so that another process
    /// that registered the same name can run it.
    pub fn is_registered(&self) -> bool {
        registered_partition_function(&self.name).is_some_and(|f| Arc::ptr_eq(&f.func, &self.func))
    }

    pub(crate) fn call(&self, partition: RecordBatch) -> Result<RecordBatch> {
        (self.func)(partition)
    }

    /// The schema the function returns for `input`, found as Dask finds `meta`: by calling
    /// it on an empty partition.
    pub fn infer_schema(&self, input: &SchemaRef) -> Result<SchemaRef> {
        self.call(RecordBatch::new_empty(Arc::clone(input)))
            .map(|batch| batch.schema())
            .map_err(|error| {
                DataFusionError::Plan(format!(
                    "map_partitions: cannot infer the output of '{}' by calling it on an empty partition ({error}); pass meta, the output schema",
                    self.name
                ))
            })
    }
}

impl fmt::Debug for PartitionFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PartitionFunction({})", self.name)
    }
}

impl PartialEq for PartitionFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.func, &other.func)
    }
}

impl Eq for PartitionFunction {}

impl Hash for PartitionFunction {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl PartialOrd for PartitionFunction {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.name.partial_cmp(&other.name)
    }
}

static REGISTRY: LazyLock<RwLock<HashMap<String, PartitionFunction>>> =
    LazyLock::new(Default::default);

/// Registers `func` under `name` for this process, replacing any earlier one, so that plans
/// naming it can run here (a cluster worker registers the same names at start).
pub fn register_partition_function(name: &str, func: Arc<PartitionFn>) -> PartitionFunction {
    let function = PartitionFunction::new(name, func);
    let mut registry = REGISTRY
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    registry.insert(name.to_string(), function.clone());
    function
}

/// The function registered under `name`, if any.
pub fn registered_partition_function(name: &str) -> Option<PartitionFunction> {
    let registry = REGISTRY
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    registry.get(name).cloned()
}

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

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "MapPartitions: func={}", self.func.name)
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> Result<Self> {
        let input = crate::nodes::single(inputs, "MapPartitions")?;
        Ok(MapPartitions {
            input,
            func: self.func.clone(),
            schema: Arc::clone(&self.schema),
        })
    }
}

/// `repartition(npartitions)`: rows dealt round-robin into exactly `npartitions` partitions.
///
/// DataFusion's own repartitioning is advisory: its physical optimizer removes and re-adds
/// repartitions to suit the session's parallelism. A Dask user asked for this many
/// partitions, so [`RebalanceExec`] keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub struct Rebalance {
    input: LogicalPlan,
    npartitions: usize,
}

impl Rebalance {
    /// How many partitions it deals the rows into.
    pub fn npartitions(&self) -> usize {
        self.npartitions
    }
}

/// `input` in `npartitions` partitions.
pub fn rebalance(input: LogicalPlan, npartitions: usize) -> Result<LogicalPlan> {
    if npartitions == 0 {
        return plan_err!("repartition: npartitions must be at least 1");
    }
    Ok(LogicalPlan::Extension(Extension {
        node: Arc::new(Rebalance { input, npartitions }),
    }))
}

impl UserDefinedLogicalNodeCore for Rebalance {
    fn name(&self) -> &str {
        "Rebalance"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        self.input.schema()
    }

    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }

    /// Filters may move below: which partition a row lands in does not change its value.
    fn prevent_predicate_push_down_columns(&self) -> std::collections::HashSet<String> {
        Default::default()
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "Rebalance: npartitions={}", self.npartitions)
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> Result<Self> {
        let input = crate::nodes::single(inputs, "Rebalance")?;
        Ok(Rebalance {
            input,
            npartitions: self.npartitions,
        })
    }

    fn necessary_children_exprs(&self, output_columns: &[usize]) -> Option<Vec<Vec<usize>>> {
        Some(vec![output_columns.to_vec()])
    }
}
