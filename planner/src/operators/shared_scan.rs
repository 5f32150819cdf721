//! [`SharedScanExec`]: one place that reads a shared sub-plan, and the producer that runs
//! the sub-plan once for all the places bound to it.
//!
//! Consumers are fed through unbounded channels, so one that is polled later than the others
//! (the probe side of a join whose build side reads the same input) cannot stall the rest;
//! the price is that such a consumer's batches wait in memory.

use std::fmt;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::RecordBatch;
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::{
    exec_err, internal_datafusion_err, internal_err, DataFusionError, Result,
};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
};
use futures::StreamExt;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use super::Operator;

/// One consumer's end of a producer's partition.
type Batches = UnboundedReceiver<Result<RecordBatch>>;

/// Runs a shared sub-plan once per partition and hands each batch to every consumer.
pub(crate) struct Producer {
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
    /// Runs `input` for `consumers` readers.
    pub(crate) fn new(input: Arc<dyn ExecutionPlan>, consumers: usize) -> Self {
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
            .map_err(|_| internal_datafusion_err!("shared scan state poisoned"))?;
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
            return internal_err!("shared scan partition {partition} has no producer");
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
    /// A place reading the sub-plan shared under `id`, planned as `input`; on its own until
    /// bound to the other places with the same id.
    pub fn new(id: usize, input: Arc<dyn ExecutionPlan>) -> Self {
        let properties = Arc::clone(input.properties());
        SharedScanExec {
            id,
            input: Some(input),
            binding: None,
            properties,
        }
    }

    /// The id every place reading the same sub-plan shares.
    pub(crate) fn id(&self) -> usize {
        self.id
    }

    /// The planned sub-plan, while this place is not bound to a producer.
    pub(crate) fn unbound_input(&self) -> Option<&Arc<dyn ExecutionPlan>> {
        self.input.as_ref().filter(|_| self.binding.is_none())
    }

    /// This place fed by `producer`, as consumer `consumer` (from 0) of `consumers`. The first
    /// consumer shows the sub-plan and its metrics; the rest are leaves.
    pub(crate) fn bound(
        &self,
        producer: &Arc<Producer>,
        consumer: usize,
        consumers: usize,
    ) -> SharedScanExec {
        SharedScanExec {
            id: self.id,
            input: self.input.clone().filter(|_| consumer == 0),
            binding: Some((Arc::clone(producer), consumer, consumers)),
            properties: Arc::clone(&self.properties),
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

impl Operator for SharedScanExec {
    fn inputs(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.input.iter().collect()
    }

    fn with_inputs(self: Arc<Self>, inputs: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<Self>> {
        match (inputs.into_iter().next(), &self.binding) {
            (Some(input), None) => Ok(Arc::new(SharedScanExec::new(self.id, input))),
            // Once bound, the producer owns the sub-plan; the displayed child is not rebuilt.
            _ => Ok(self),
        }
    }

    fn plan_properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }
}

impl ExecutionPlan for SharedScanExec {
    crate::operator_methods!();

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false; self.input.iter().count()]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true; self.input.iter().count()]
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
                None => internal_err!("SharedScanExec {} has no input", self.id),
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
