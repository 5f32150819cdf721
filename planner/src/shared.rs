//! Scanning an input once for several consumers, as `dask.compute(a, b, c)` shares the tasks
//! its results have in common.
//!
//! A [`SharedScan`] node marks a sub-plan that appears in several places of one query (or of
//! several results computed together). Each place is planned as a [`SharedScanExec`]; the
//! physical rule [`BindSharedScans`] then ties all the places with the same id to one
//! producer that runs the sub-plan once per partition and hands every batch to each place.
//!
//! ```text
//! compute([mean(value), std(value), count(value > 0)])
//!
//! ComputeAll                               ComputeAllExec
//!   Aggregate: avg(value)                    AggregateExec: avg(value)
//!     SharedScan: id=1                         SharedScanExec: id=1, consumer 1 of 3
//!       TableScan: data         ──►              DataSourceExec: data_part_*.csv   (runs once)
//!   Aggregate: stddev(value)                 AggregateExec: stddev(value)
//!     SharedScan: id=1                         SharedScanExec: id=1, consumer 2 of 3
//!       TableScan: data
//!   Aggregate: count(value > 0)              AggregateExec: count(value > 0)
//!     SharedScan: id=1                         SharedScanExec: id=1, consumer 3 of 3
//!       TableScan: data
//! ```
//!
//! Consumers are fed through unbounded channels, so one that is polled later than the others
//! (the probe side of a join whose build side reads the same input) cannot stall the rest;
//! the price is that such a consumer's batches wait in memory.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::RecordBatch;
use datafusion::common::config::ConfigOptions;
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{exec_err, DFSchema, DFSchemaRef, DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{
    Expr, Extension, LogicalPlan, LogicalPlanBuilder, TableScan, UserDefinedLogicalNodeCore,
};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties,
};
use futures::StreamExt;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// A sub-plan computed once for every place that reads it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub struct SharedScan {
    id: usize,
    input: LogicalPlan,
}

/// Marks `input` as shared under a fresh id: clones of the returned plan, wherever they are
/// placed in one query, share one computation of `input`.
pub fn shared(input: LogicalPlan) -> LogicalPlan {
    let id = NEXT_ID.fetch_add(1, AtomicOrdering::Relaxed);
    LogicalPlan::Extension(Extension {
        node: Arc::new(SharedScan { id, input }),
    })
}

impl UserDefinedLogicalNodeCore for SharedScan {
    fn name(&self) -> &str {
        "SharedScan"
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

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "SharedScan: id={}", self.id)
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> Result<Self> {
        let input = crate::nodes::single(inputs, "SharedScan")?;
        Ok(SharedScan { id: self.id, input })
    }
}

/// Several results planned together, so that their shared scans can be bound to one
/// producer. Its physical form is never run as a whole: each input is run on its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ComputeAll {
    inputs: Vec<LogicalPlan>,
    schema: DFSchemaRef,
}

/// Plans are ordered by their inputs; schemas have no order.
impl PartialOrd for ComputeAll {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.inputs.partial_cmp(&other.inputs)
    }
}

/// The plans of several results, optimized each on its own, with every file or table scan
/// that more than one of them reads replaced by one [`SharedScan`] reading the union of the
/// columns they need. Each consumer keeps its own filters and columns above the shared scan.
pub fn compute_all(plans: Vec<LogicalPlan>) -> Result<LogicalPlan> {
    let mut groups: BTreeMap<String, Vec<TableScan>> = BTreeMap::new();
    for plan in &plans {
        plan.apply(|node| {
            if let LogicalPlan::TableScan(scan) = node {
                groups.entry(scan_key(scan)).or_default().push(scan.clone());
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
    }
    let mut replacements: HashMap<String, LogicalPlan> = HashMap::new();
    for (key, scans) in groups {
        if scans.len() < 2 {
            continue;
        }
        let columns: BTreeSet<usize> = scans
            .iter()
            .flat_map(|scan| match &scan.projection {
                Some(projection) => projection.clone(),
                None => (0..scan.source.schema().fields().len()).collect(),
            })
            .collect();
        let first = &scans[0];
        let union = LogicalPlanBuilder::scan(
            first.table_name.clone(),
            Arc::clone(&first.source),
            Some(columns.into_iter().collect()),
        )?
        .build()?;
        replacements.insert(key, shared(union));
    }
    let inputs = plans
        .into_iter()
        .map(|plan| {
            plan.transform_up(|node| {
                let LogicalPlan::TableScan(scan) = &node else {
                    return Ok(Transformed::no(node));
                };
                let Some(shared) = replacements.get(&scan_key(scan)) else {
                    return Ok(Transformed::no(node));
                };
                Ok(Transformed::yes(consumer(shared.clone(), scan)?))
            })
            .map(|t| t.data)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(LogicalPlan::Extension(Extension {
        node: Arc::new(ComputeAll {
            inputs,
            schema: Arc::new(DFSchema::empty()),
        }),
    }))
}

/// Scans with the same key read the same rows: file tables over the same files with the same
/// schema (SQL plans a new table for every mention of a glob), any other table only when it
/// is the very same table.
fn scan_key(scan: &TableScan) -> String {
    let schema = scan.source.schema();
    let provider = datafusion::datasource::source_as_provider(&scan.source).ok();
    let listing = provider.as_ref().and_then(|p| {
        let any: &dyn std::any::Any = p.as_ref();
        any.downcast_ref::<datafusion::datasource::listing::ListingTable>()
    });
    match listing {
        Some(listing) => {
            let files: Vec<String> = listing
                .table_paths()
                .iter()
                .map(|p| p.to_string())
                .collect();
            let format = &listing.options().format;
            format!(
                "files\u{0}{}\u{0}{format:?}\u{0}{schema:?}",
                files.join("\u{0}")
            )
        }
        None => format!(
            "table\u{0}{}\u{0}{:p}",
            scan.table_name,
            Arc::as_ptr(&scan.source)
        ),
    }
}

/// What `scan` produced, computed from the shared scan: its filters, then its columns.
fn consumer(shared: LogicalPlan, scan: &TableScan) -> Result<LogicalPlan> {
    let mut builder = LogicalPlanBuilder::from(shared);
    if let Some(predicate) = datafusion::logical_expr::utils::conjunction(scan.filters.clone()) {
        builder = builder.filter(predicate)?;
    }
    let columns: Vec<Expr> = scan
        .projected_schema
        .fields()
        .iter()
        .map(|f| Expr::Column(datafusion::common::Column::from_name(f.name())))
        .collect();
    builder = builder.project(columns)?;
    if let Some(fetch) = scan.fetch {
        builder = builder.limit(0, Some(fetch))?;
    }
    // The shared scan qualifies its columns as the table does, so the consumer's schema
    // keeps the qualifiers its parents refer to.
    builder.build()
}

impl UserDefinedLogicalNodeCore for ComputeAll {
    fn name(&self) -> &str {
        "ComputeAll"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        self.inputs.iter().collect()
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ComputeAll: results={}", self.inputs.len())
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> Result<Self> {
        Ok(ComputeAll {
            inputs,
            schema: Arc::clone(&self.schema),
        })
    }
}

/// The physical [`ComputeAll`]: holds the results' plans; run each child on its own.
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

impl ExecutionPlan for ComputeAllExec {
    fn name(&self) -> &str {
        "ComputeAllExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.inputs.iter().collect()
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false; self.inputs.len()]
    }

    crate::nodes::without_expressions!();

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(ComputeAllExec::new(children)))
    }

    fn execute(&self, _: usize, _: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        exec_err!("ComputeAllExec is not run as a whole: run each of its results")
    }
}

/// One consumer's end of a producer's partition.
type Batches = UnboundedReceiver<Result<RecordBatch>>;

/// Runs a shared sub-plan once per partition and hands each batch to every consumer.
struct Producer {
    input: Arc<dyn ExecutionPlan>,
    state: Mutex<ProducerState>,
}

struct ProducerState {
    /// Per partition, per consumer: the receiving end, until that consumer takes it.
    receivers: Vec<Vec<Option<Batches>>>,
    /// Per partition: the senders, until the partition's task starts with them.
    senders: Vec<Option<Vec<UnboundedSender<Result<RecordBatch>>>>>,
    /// Per partition: its running task, held here until every consumer has taken its
    /// receiver. Each consumer's stream holds it too, so the task outlives the plan (which
    /// may be dropped once its streams exist) and stops when the last reader is gone.
    tasks: Vec<Option<Arc<SpawnedTask<()>>>>,
}

impl Producer {
    fn new(input: Arc<dyn ExecutionPlan>, consumers: usize) -> Self {
        let partitions = input.output_partitioning().partition_count();
        let mut receivers = Vec::with_capacity(partitions);
        let mut senders = Vec::with_capacity(partitions);
        for _ in 0..partitions {
            let (tx, rx): (Vec<_>, Vec<_>) = (0..consumers).map(|_| unbounded_channel()).unzip();
            senders.push(Some(tx));
            receivers.push(rx.into_iter().map(Some).collect());
        }
        Producer {
            input,
            state: Mutex::new(ProducerState {
                receivers,
                senders,
                tasks: vec![None; partitions],
            }),
        }
    }

    fn stream(
        &self,
        consumer: usize,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<(Batches, Arc<SpawnedTask<()>>)> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| DataFusionError::Execution("shared scan state poisoned".into()))?;
        let Some(receiver) = state
            .receivers
            .get_mut(partition)
            .and_then(|r| r.get_mut(consumer))
            .and_then(Option::take)
        else {
            return exec_err!(
                "shared scan partition {partition} was already read; a shared plan runs once"
            );
        };
        if let Some(senders) = state.senders[partition].take() {
            let input = Arc::clone(&self.input);
            state.tasks[partition] = Some(Arc::new(SpawnedTask::spawn(async move {
                broadcast(input, partition, context, senders).await;
            })));
        }
        let Some(task) = state.tasks[partition].clone() else {
            return exec_err!("shared scan partition {partition} has no producer");
        };
        if state.receivers[partition].iter().all(Option::is_none) {
            state.tasks[partition] = None;
        }
        Ok((receiver, task))
    }
}

async fn broadcast(
    input: Arc<dyn ExecutionPlan>,
    partition: usize,
    context: Arc<TaskContext>,
    mut senders: Vec<UnboundedSender<Result<RecordBatch>>>,
) {
    let mut stream = match input.execute(partition, context) {
        Ok(stream) => stream,
        Err(error) => {
            let error = Arc::new(error);
            for sender in &senders {
                let _ = sender.send(Err(DataFusionError::Shared(Arc::clone(&error))));
            }
            return;
        }
    };
    while let Some(item) = stream.next().await {
        match item {
            Ok(batch) => senders.retain(|sender| sender.send(Ok(batch.clone())).is_ok()),
            Err(error) => {
                let error = Arc::new(error);
                for sender in &senders {
                    let _ = sender.send(Err(DataFusionError::Shared(Arc::clone(&error))));
                }
                return;
            }
        }
        if senders.is_empty() {
            return;
        }
    }
}

/// One place that reads a shared sub-plan. Before binding it holds the sub-plan as its
/// child; after, the first consumer of an id still shows the sub-plan (and its metrics),
/// the others are leaves fed by the same producer.
pub struct SharedScanExec {
    id: usize,
    input: Option<Arc<dyn ExecutionPlan>>,
    binding: Option<(Arc<Producer>, usize, usize)>,
    properties: Arc<PlanProperties>,
}

impl fmt::Debug for SharedScanExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedScanExec({})", self.id)
    }
}

impl SharedScanExec {
    /// The place of shared scan `node` over its planned input.
    pub fn new(node: &SharedScan, input: Arc<dyn ExecutionPlan>) -> Self {
        let properties = Arc::clone(input.properties());
        SharedScanExec {
            id: node.id,
            input: Some(input),
            binding: None,
            properties,
        }
    }
}

impl DisplayAs for SharedScanExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        match &self.binding {
            Some((_, consumer, consumers)) => write!(
                f,
                "SharedScanExec: id={}, consumer {} of {}",
                self.id,
                consumer + 1,
                consumers
            ),
            None => write!(f, "SharedScanExec: id={}", self.id),
        }
    }
}

impl ExecutionPlan for SharedScanExec {
    fn name(&self) -> &str {
        "SharedScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.input.iter().collect()
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false; self.input.iter().count()]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true; self.input.iter().count()]
    }

    crate::nodes::without_expressions!();

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match (children.into_iter().next(), &self.binding) {
            (Some(input), None) => Ok(Arc::new(SharedScanExec {
                id: self.id,
                properties: Arc::clone(input.properties()),
                input: Some(input),
                binding: None,
            })),
            // Once bound, the producer owns the sub-plan; the displayed child is not rebuilt.
            _ => Ok(self),
        }
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let schema = self.schema();
        let Some((producer, consumer, _)) = &self.binding else {
            // Not bound: the only reader of its input.
            return match &self.input {
                Some(input) => input.execute(partition, context),
                None => exec_err!("SharedScanExec {} has no input", self.id),
            };
        };
        let (receiver, task) = producer.stream(*consumer, partition, context)?;
        let batches =
            futures::stream::unfold((receiver, task), |(mut receiver, task)| async move {
                receiver.recv().await.map(|item| (item, (receiver, task)))
            });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, batches)))
    }
}

/// Binds every group of [`SharedScanExec`]s with the same id in a plan to one producer.
/// Runs last among the physical rules, once the plan's shape is final.
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
                if shared.binding.is_none() {
                    *counts.entry(shared.id).or_default() += 1;
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
            let consumers = counts.get(&shared.id).copied().unwrap_or(0);
            let (Some(input), None, true) = (&shared.input, &shared.binding, consumers > 1) else {
                return Ok(Transformed::no(node));
            };
            let (producer, next) = producers
                .entry(shared.id)
                .or_insert_with(|| (Arc::new(Producer::new(Arc::clone(input), consumers)), 0));
            let consumer = *next;
            *next += 1;
            let bound = SharedScanExec {
                id: shared.id,
                // The first consumer shows the sub-plan and its metrics; the rest are leaves.
                input: (consumer == 0).then(|| Arc::clone(input)),
                binding: Some((Arc::clone(producer), consumer, consumers)),
                properties: Arc::clone(&shared.properties),
            };
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
