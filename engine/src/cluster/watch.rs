//! A bound on how long a cluster query may wait once a worker is gone.
//!
//! The scheduler gives a lost worker's tasks to the others, and usually the query finishes.
//! But Ballista 55 can leave a job running forever when a task is lost at the wrong moment (the
//! retried task succeeds, yet its stage is never marked done). So the client watches the
//! cluster while a query runs and fails the query, with a clear message, when a worker that was
//! there has gone and the query has still not finished after [`RECOVERY`].

use std::collections::HashSet;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatch;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan};
use futures::future::BoxFuture;
use futures::{FutureExt, Stream};
use rask_planner::operators::OneInput;

use super::info::cluster_info;

/// How long a query may go on after a worker was lost (the scheduler notices a lost worker
/// within about 10 s, and its tasks then run elsewhere).
const RECOVERY: Duration = Duration::from_secs(30);

/// How often the client asks the scheduler for its workers while a query runs.
const POLL: Duration = Duration::from_secs(1);

/// Failed attempts to reach the scheduler after which the query fails.
const SCHEDULER_ATTEMPTS: u32 = 3;

/// Runs `inner` (the query as submitted to the cluster) under the watch described in the
/// module docs. It lives on the client only and is never sent.
#[derive(Debug)]
pub(crate) struct WatchedExec {
    inner: Arc<dyn ExecutionPlan>,
    url: String,
}

impl WatchedExec {
    pub(crate) fn new(inner: Arc<dyn ExecutionPlan>, url: String) -> Self {
        WatchedExec { inner, url }
    }
}

impl DisplayAs for WatchedExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "WatchedExec: cluster={}", self.url)
    }
}

impl OneInput for WatchedExec {
    fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.inner
    }

    fn with_input(&self, inner: Arc<dyn ExecutionPlan>) -> Result<Self> {
        Ok(WatchedExec::new(inner, self.url.clone()))
    }
}

impl ExecutionPlan for WatchedExec {
    rask_planner::operator_methods!();

    fn metrics(&self) -> Option<MetricsSet> {
        self.inner.metrics()
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let inner = self.inner.execute(partition, context)?;
        let schema = inner.schema();
        let watched = Watched {
            inner,
            watchdog: Some(watch(self.url.clone()).boxed()),
            failed: false,
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, watched)))
    }
}

struct Watched {
    inner: SendableRecordBatchStream,
    watchdog: Option<BoxFuture<'static, DataFusionError>>,
    failed: bool,
}

impl Stream for Watched {
    type Item = Result<RecordBatch>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(None);
        }
        if let Some(watchdog) = this.watchdog.as_mut() {
            if let Poll::Ready(error) = watchdog.as_mut().poll(cx) {
                this.failed = true;
                this.watchdog = None;
                return Poll::Ready(Some(Err(error)));
            }
        }
        let polled = this.inner.as_mut().poll_next(cx);
        if matches!(polled, Poll::Ready(None)) {
            this.watchdog = None;
        }
        polled
    }
}

/// Completes with the reason to give up on the query, if there comes one.
async fn watch(url: String) -> DataFusionError {
    let mut workers: Option<HashSet<String>> = None;
    let mut lost_since: Option<Instant> = None;
    let mut failed_attempts = 0;
    loop {
        tokio::time::sleep(POLL).await;
        match cluster_info(&url).await {
            Ok(info) => {
                failed_attempts = 0;
                let now: HashSet<String> = info.workers.into_iter().map(|w| w.id).collect();
                match &workers {
                    None => workers = Some(now),
                    Some(before) if lost_since.is_none() && !before.is_subset(&now) => {
                        lost_since = Some(Instant::now());
                    }
                    Some(_) => {}
                }
            }
            Err(error) => {
                failed_attempts += 1;
                if failed_attempts >= SCHEDULER_ATTEMPTS {
                    return DataFusionError::Execution(format!(
                        "lost the scheduler during the query: {error}"
                    ));
                }
            }
        }
        if lost_since.is_some_and(|since| since.elapsed() > RECOVERY) {
            return DataFusionError::Execution(format!(
                "a worker of {url} was lost during the query, which the others did not finish within {} s; run it again",
                RECOVERY.as_secs()
            ));
        }
    }
}
