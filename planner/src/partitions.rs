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
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::{exec_err, plan_err, DFSchema, DFSchemaRef, DataFusionError, Result};
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, Extension, LogicalPlan, UserDefinedLogicalNodeCore};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
};
use futures::{StreamExt, TryStreamExt};

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

    fn call(&self, partition: RecordBatch) -> Result<RecordBatch> {
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
        Self::with_function(input, node.func.clone(), Arc::clone(node.schema.inner()))
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
            self.func.name,
            self.properties.output_partitioning().partition_count()
        )
    }
}

impl ExecutionPlan for MapPartitionsExec {
    fn name(&self) -> &str {
        "MapPartitionsExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    /// Partitions are the unit the function sees: more of them would change its answer.
    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![false]
    }

    crate::nodes::without_expressions!();

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = crate::nodes::single(children, "MapPartitionsExec")?;
        Ok(Arc::new(Self::with_function(
            input,
            self.func.clone(),
            self.schema(),
        )))
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
            let name = func.name.clone();
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
        RecordBatch::try_new(Arc::clone(expected), batch.columns().to_vec()).map_err(|e| {
            DataFusionError::Execution(format!("map_partitions: '{name}' returned {e}"))
        })
    } else {
        exec_err!(
            "map_partitions: '{name}' returned [{}] but its meta is [{}]",
            shape(&got),
            shape(expected)
        )
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
        Self::new(input, node.npartitions)
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

impl ExecutionPlan for RebalanceExec {
    fn name(&self) -> &str {
        "RebalanceExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.inner.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    crate::nodes::without_expressions!();

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = crate::nodes::single(children, "RebalanceExec")?;
        Ok(Arc::new(RebalanceExec::new(input, self.npartitions)?))
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
