//! Functions over whole partitions, which `map_partitions(f)` runs, and the registry through
//! which a plan names them: another process (a cluster's worker) runs a function it has
//! registered under the same name.
//!
//! [`map_partitions`](crate::nodes::map_partitions) builds the plan that runs one.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, LazyLock, RwLock};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::{exec_err, plan_datafusion_err, Result};

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
                plan_datafusion_err!(
                    "map_partitions: cannot infer the output of '{}' by calling it on an empty partition ({error}); pass meta, the output schema",
                    self.name
                )
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
