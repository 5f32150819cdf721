//! The queries a session runs, watched while they run: progress, memory, spill and the
//! timing of every task. The dashboard and the performance report read them from here.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

use datafusion::common::Result as DfResult;
use datafusion::execution::memory_pool::{
    MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};
use datafusion::physical_plan::ExecutionPlan;
use rask_planner::graph::{task_compute, Activity, TaskGraph};
use rask_planner::operators::QueryStopped;

use crate::progress::Progress;

/// Finished queries kept for the dashboard; older ones are forgotten.
const KEPT_FINISHED: usize = 20;

/// Every query a session has started (the running ones and the last finished ones).
#[derive(Debug, Default)]
pub struct QueryLog {
    queries: Mutex<VecDeque<Arc<Query>>>,
    next_id: AtomicU64,
}

impl QueryLog {
    pub(crate) fn start(
        &self,
        sql: String,
        plan: Arc<dyn ExecutionPlan>,
        pool: Arc<QueryPool>,
        stopped: Arc<QueryStopped>,
    ) -> Arc<Query> {
        let query = Arc::new(Query {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            sql,
            started: SystemTime::now(),
            started_at: Instant::now(),
            progress: Progress::new(&plan),
            plan,
            pool,
            stopped,
            state: Mutex::new(QueryState::Running),
            activity: Mutex::new(Activity::default()),
        });
        watch(&query);
        if let Ok(mut queries) = self.queries.lock() {
            queries.push_back(query.clone());
            let finished = queries.iter().filter(|q| !q.state().is_running()).count();
            if finished > KEPT_FINISHED {
                if let Some(oldest) = queries.iter().position(|q| !q.state().is_running()) {
                    queries.remove(oldest);
                }
            }
        }
        query
    }

    /// The queries, oldest first.
    pub fn queries(&self) -> Vec<Arc<Query>> {
        self.queries
            .lock()
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The query started most recently.
    pub fn latest(&self) -> Option<Arc<Query>> {
        self.queries.lock().ok()?.back().cloned()
    }
}

/// Where a query is.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryState {
    /// Still producing rows.
    Running,
    /// Done, in this much time.
    Finished(Duration),
    /// Failed with this message after this much time.
    Failed(String, Duration),
    /// Stopped before its end (cancelled, or its result was dropped).
    Cancelled(Duration),
}

impl QueryState {
    /// Whether it still runs.
    pub fn is_running(&self) -> bool {
        matches!(self, QueryState::Running)
    }

    /// `running`, `finished`, `failed` or `cancelled`.
    pub fn name(&self) -> &'static str {
        match self {
            QueryState::Running => "running",
            QueryState::Finished(_) => "finished",
            QueryState::Failed(..) => "failed",
            QueryState::Cancelled(_) => "cancelled",
        }
    }
}

/// One query: its text, its physical plan (whose metrics fill in as it runs), and the
/// memory its operators reserve.
#[derive(Debug)]
pub struct Query {
    id: u64,
    sql: String,
    started: SystemTime,
    started_at: Instant,
    plan: Arc<dyn ExecutionPlan>,
    pool: Arc<QueryPool>,
    /// Raised when it stops before its end, for the operators that look.
    stopped: Arc<QueryStopped>,
    progress: Progress,
    state: Mutex<QueryState>,
    /// When its tasks were busy, sampled while it runs.
    activity: Mutex<Activity>,
}

/// How often the activity of running queries is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// Samples `query`'s activity until it ends, on a thread of the process's own (the runtime's
/// timers fire only between the query's tasks).
fn watch(query: &Arc<Query>) {
    static WATCHED: Mutex<Vec<Weak<Query>>> = Mutex::new(Vec::new());
    static SAMPLER: std::sync::Once = std::sync::Once::new();
    if let Ok(mut watched) = WATCHED.lock() {
        watched.push(Arc::downgrade(query));
    }
    SAMPLER.call_once(|| {
        let sampling = std::thread::Builder::new()
            .name("rask-activity".into())
            .spawn(|| loop {
                std::thread::sleep(SAMPLE_EVERY);
                if let Ok(mut watched) = WATCHED.lock() {
                    watched.retain(|query| {
                        query.upgrade().is_some_and(|query| {
                            query.sample_activity();
                            query.state().is_running()
                        })
                    });
                }
            });
        if let Err(error) = sampling {
            eprintln!("warning: cannot sample query activity: {error}");
        }
    });
}

impl Query {
    /// Its number in the session, from 1.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The statement, or an outline of the frame's plan.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// When it started.
    pub fn started(&self) -> SystemTime {
        self.started
    }

    /// Where it is.
    pub fn state(&self) -> QueryState {
        self.state
            .lock()
            .map(|s| s.clone())
            .unwrap_or(QueryState::Running)
    }

    /// Time since it started, or the time it took.
    pub fn elapsed(&self) -> Duration {
        match self.state() {
            QueryState::Running => self.started_at.elapsed(),
            QueryState::Finished(d) | QueryState::Failed(_, d) | QueryState::Cancelled(d) => d,
        }
    }

    /// Rows read by its sources against their total.
    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    /// When its tasks were busy so far: `(operator, partition, from, to)`, in milliseconds
    /// since it started, operators numbered as in [`Query::graph`].
    pub fn activity(&self) -> Vec<(usize, usize, f64, f64)> {
        self.activity
            .lock()
            .map(|activity| activity.busy().to_vec())
            .unwrap_or_default()
    }

    fn sample_activity(&self) {
        let at = self.started_at.elapsed().as_secs_f64() * 1e3;
        let times = task_compute(&self.plan);
        if let Ok(mut activity) = self.activity.lock() {
            activity.sample(at, &times);
        }
    }

    /// Memory its operators hold now, in bytes.
    pub fn memory_reserved(&self) -> usize {
        self.pool.reserved.load(Ordering::Relaxed)
    }

    /// The most memory its operators held at once, in bytes.
    pub fn memory_peak(&self) -> usize {
        self.pool.peak.load(Ordering::Relaxed)
    }

    /// The physical plan it runs.
    pub fn plan(&self) -> &Arc<dyn ExecutionPlan> {
        &self.plan
    }

    /// Its task graph with the metrics gathered so far, and the peak memory of the
    /// operators whose reservations the pool saw.
    pub fn graph(&self) -> TaskGraph {
        let mut graph = TaskGraph::new(&self.plan);
        graph.attribute_pool_peaks(&self.pool.consumer_peaks());
        graph
    }

    /// The files its scans read, with their sizes in bytes.
    pub fn files(&self) -> Vec<(String, u64)> {
        let mut files = Vec::new();
        let mut pending = vec![Arc::clone(&self.plan)];
        while let Some(node) = pending.pop() {
            let scan = rask_planner::cache::file_scan_config(node.as_ref());
            if let Some(scan) = scan {
                for file in scan.file_groups.iter().flat_map(|g| g.iter()) {
                    let path = rask_planner::files::shown_object(
                        scan.object_store_url.as_str(),
                        file.object_meta.location.as_ref(),
                    );
                    if !files.iter().any(|(seen, _)| seen == &path) {
                        files.push((path, file.object_meta.size));
                    }
                }
            }
            pending.extend(node.children().into_iter().cloned());
        }
        files.sort();
        files
    }

    pub(crate) fn finish(&self, outcome: QueryState) {
        self.sample_activity();
        let stopped = matches!(outcome, QueryState::Cancelled(_) | QueryState::Failed(..));
        if let Ok(mut state) = self.state.lock() {
            if state.is_running() {
                *state = outcome;
            }
        }
        if stopped {
            self.stopped.stop();
        }
    }

    pub(crate) fn duration(&self) -> Duration {
        self.started_at.elapsed()
    }
}

/// The session's memory pool as one query sees it: every reservation goes to the session's
/// pool (which enforces the limit), and the query's own share and peak are counted.
#[derive(Debug)]
pub(crate) struct QueryPool {
    inner: Arc<dyn MemoryPool>,
    reserved: AtomicUsize,
    peak: AtomicUsize,
    consumers: Mutex<Consumers>,
}

/// Each consumer's reservation now and at its peak, in the order they registered.
#[derive(Debug, Default)]
struct Consumers {
    uses: Vec<(String, usize, usize)>,
    /// Consumer id → its place in `uses`.
    by_id: std::collections::HashMap<usize, usize>,
}

impl Consumers {
    fn changed(&mut self, consumer: &MemoryConsumer, change: impl FnOnce(&mut usize)) {
        let at = match self.by_id.get(&consumer.id()) {
            Some(&at) => at,
            None => {
                self.by_id.insert(consumer.id(), self.uses.len());
                self.uses.push((consumer.name().to_string(), 0, 0));
                self.uses.len() - 1
            }
        };
        let (_, now, peak) = &mut self.uses[at];
        change(now);
        *peak = (*peak).max(*now);
    }
}

impl QueryPool {
    pub(crate) fn new(inner: Arc<dyn MemoryPool>) -> QueryPool {
        QueryPool {
            inner,
            reserved: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            consumers: Mutex::new(Consumers::default()),
        }
    }

    fn grown(&self, reservation: &MemoryReservation, additional: usize) {
        let now = self.reserved.fetch_add(additional, Ordering::Relaxed) + additional;
        self.peak.fetch_max(now, Ordering::Relaxed);
        if let Ok(mut consumers) = self.consumers.lock() {
            consumers.changed(reservation.consumer(), |now| *now += additional);
        }
    }

    /// Each consumer's name and peak reservation, in the order they registered.
    fn consumer_peaks(&self) -> Vec<(String, usize)> {
        self.consumers
            .lock()
            .map(|c| {
                c.uses
                    .iter()
                    .map(|(name, _, peak)| (name.clone(), *peak))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl std::fmt::Display for QueryPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl MemoryPool for QueryPool {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn register(&self, consumer: &MemoryConsumer) {
        self.inner.register(consumer);
        if let Ok(mut consumers) = self.consumers.lock() {
            consumers.changed(consumer, |_| {});
        }
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        self.inner.unregister(consumer)
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.inner.grow(reservation, additional);
        self.grown(reservation, additional);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.inner.shrink(reservation, shrink);
        self.reserved.fetch_sub(shrink, Ordering::Relaxed);
        if let Ok(mut consumers) = self.consumers.lock() {
            consumers.changed(reservation.consumer(), |now| {
                *now = now.saturating_sub(shrink)
            });
        }
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> DfResult<()> {
        self.inner.try_grow(reservation, additional)?;
        self.grown(reservation, additional);
        Ok(())
    }

    fn reserved(&self) -> usize {
        self.inner.reserved()
    }

    fn memory_limit(&self) -> MemoryLimit {
        self.inner.memory_limit()
    }
}
