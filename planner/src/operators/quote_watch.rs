//! [`QuoteWatchExec`]: a CSV scan read split at line breaks, watched for quotes where its
//! table was not created (on a cluster's workers).

use std::fmt;
use std::sync::{Arc, Mutex, Weak};

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{internal_err, Result};
use datafusion::datasource::physical_plan::{CsvSource, FileScanConfig};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan};
use futures::StreamExt;

use super::OneInput;
use crate::quotes::{Dialect, Held};

/// Runs its input, a CSV scan without quoted line breaks, with its files
/// [watched](crate::quotes) while any of its partitions runs. A table watches its files when it
/// is created, in the process that created it; a worker of a cluster gets only the plan, and
/// this operator, put over such scans by [`WatchQuotes`](crate::rules::WatchQuotes), watches
/// them there. Every partition holds every file: a partition may read files of its siblings'
/// groups (DataFusion's scans share out their work). Optimizers may put operators between it
/// and its scan; it watches the CSV scans below it, wherever they are.
#[derive(Debug)]
pub struct QuoteWatchExec {
    input: Arc<dyn ExecutionPlan>,
    /// The watches the running partitions share, once one runs.
    held: Mutex<Weak<Vec<Held>>>,
}

impl QuoteWatchExec {
    /// Watches the CSV scans of `input`.
    pub fn new(input: Arc<dyn ExecutionPlan>) -> Self {
        QuoteWatchExec {
            input,
            held: Mutex::default(),
        }
    }

    /// The quoting of `plan`, if it is a CSV scan read split at line breaks.
    pub fn dialect(plan: &dyn ExecutionPlan) -> Option<Dialect> {
        let config = crate::cache::file_scan_config(plan)?;
        let csv = config.file_source().downcast_ref::<CsvSource>()?;
        (!csv.newlines_in_values()).then(|| Dialect {
            delimiter: csv.delimiter(),
            quote: csv.quote(),
            escape: csv.escape(),
            comment: csv.comment(),
        })
    }

    fn hold(&self) -> Result<Arc<Vec<Held>>> {
        let Ok(mut held) = self.held.lock() else {
            return internal_err!("QuoteWatchExec's watches were poisoned");
        };
        if let Some(running) = held.upgrade() {
            return Ok(running);
        }
        let mut scans = Vec::new();
        self.input.apply(|plan| {
            if let (Some(config), Some(dialect)) = (
                crate::cache::file_scan_config(plan.as_ref()),
                Self::dialect(plan.as_ref()),
            ) {
                scans.push(watch_files(config, dialect));
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        let running = Arc::new(scans);
        *held = Arc::downgrade(&running);
        Ok(running)
    }
}

/// Watches the files of the CSV scan `config`, read with `dialect`.
fn watch_files(config: &FileScanConfig, dialect: Dialect) -> Held {
    let store_url = config.object_store_url.as_str();
    let files = config.file_groups.iter().flat_map(|group| group.files());
    crate::quotes::hold(
        files.map(|file| {
            let meta = &file.object_meta;
            let modified = meta.last_modified.timestamp_nanos_opt().unwrap_or_default();
            (
                store_url.to_string(),
                meta.location.clone(),
                (meta.size, modified),
            )
        }),
        dialect,
        config.file_compression_type,
    )
}

impl DisplayAs for QuoteWatchExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "QuoteWatchExec")
    }
}

impl OneInput for QuoteWatchExec {
    fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }

    fn with_input(&self, input: Arc<dyn ExecutionPlan>) -> Result<Self> {
        Ok(QuoteWatchExec::new(input))
    }
}

impl ExecutionPlan for QuoteWatchExec {
    crate::operator_methods!();

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let held = self.hold()?;
        let scan = self.input.execute(partition, context)?;
        let schema = scan.schema();
        // The stream keeps the watches until it is dropped, read to its end or not.
        let watched = scan.map(move |batch| {
            let _running = &held;
            batch
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, watched)))
    }
}
