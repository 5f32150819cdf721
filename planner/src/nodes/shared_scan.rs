//! [`SharedScan`]: an input scanned once for several consumers, as `dask.compute(a, b, c)`
//! shares the tasks its results have in common.
//!
//! The node marks a sub-plan that appears in several places of one query (or of several
//! results computed together, see [`compute_all`](super::compute_all)). Each place is planned
//! as a [`SharedScanExec`](crate::operators::SharedScanExec); the physical rule
//! [`BindSharedScans`](crate::rules::BindSharedScans) then ties all the places with the same
//! id to one producer that runs the sub-plan once per partition and hands every batch to each
//! place.
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

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use datafusion::common::DFSchemaRef;
use datafusion::logical_expr::{Extension, LogicalPlan, UserDefinedLogicalNodeCore};

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
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    LogicalPlan::Extension(Extension {
        node: Arc::new(SharedScan { id, input }),
    })
}

impl SharedScan {
    /// The id every place reading the same sub-plan shares.
    pub fn id(&self) -> usize {
        self.id
    }
}

impl UserDefinedLogicalNodeCore for SharedScan {
    fn name(&self) -> &str {
        "SharedScan"
    }

    fn schema(&self) -> &DFSchemaRef {
        self.input.schema()
    }

    super::node_inputs!(one input);

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "SharedScan: id={}", self.id)
    }
}
