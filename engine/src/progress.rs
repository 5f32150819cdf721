//! How far a running query is, read from its live execution metrics.

use std::sync::Arc;

use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_plan::{ExecutionPlan, StatisticsArgs, StatisticsContext};

/// Rows the query's sources (file scans, generators) have produced so far, against the rows
/// they will produce in all: exact for Parquet and `timeseries()`, estimated for CSV and
/// JSON from the files' sizes and the length of their first lines.
#[derive(Clone)]
pub struct Progress {
    sources: Vec<Arc<dyn ExecutionPlan>>,
    total: Option<u64>,
    /// Bytes of the files read from object stores, and the process's count of bytes
    /// fetched when the query started.
    remote_bytes: u64,
    fetched_before: u64,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("rows_read", &self.rows_read())
            .field("total_rows", &self.total)
            .finish()
    }
}

impl Progress {
    pub(crate) fn new(plan: &Arc<dyn ExecutionPlan>) -> Progress {
        let mut sources = Vec::new();
        let mut pending = vec![Arc::clone(plan)];
        while let Some(node) = pending.pop() {
            let children = node.children();
            if children.is_empty() {
                sources.push(node);
            } else {
                pending.extend(children.into_iter().cloned());
            }
        }
        let total = sources.iter().map(expected_rows).sum::<Option<u64>>();
        let remote_bytes = sources.iter().map(remote_bytes).sum();
        Progress {
            sources,
            total,
            remote_bytes,
            fetched_before: rask_planner::fetched::bytes_fetched(),
        }
    }

    /// Rows produced by the sources so far.
    pub fn rows_read(&self) -> u64 {
        self.sources
            .iter()
            .filter_map(|source| source.metrics()?.output_rows())
            .sum::<usize>() as u64
    }

    /// Rows the sources will produce in all, if known or estimable.
    pub fn total_rows(&self) -> Option<u64> {
        self.total
    }

    /// Bytes fetched from object stores since the query started, and the bytes of the
    /// remote files it reads; `None` when it reads none. Other queries' reads at the same
    /// time count too.
    pub fn remote_bytes(&self) -> Option<(u64, u64)> {
        let fetched = rask_planner::fetched::bytes_fetched() - self.fetched_before;
        (self.remote_bytes > 0).then_some((fetched.min(self.remote_bytes), self.remote_bytes))
    }

    /// The fraction done, between 0 and 1, when the total is known.
    pub fn fraction(&self) -> Option<f64> {
        let total = self.total.filter(|&t| t > 0)?;
        Some((self.rows_read() as f64 / total as f64).min(1.0))
    }
}

fn expected_rows(source: &Arc<dyn ExecutionPlan>) -> Option<u64> {
    let statistics = StatisticsContext::new().compute(source.as_ref(), &StatisticsArgs::new());
    if let Ok(statistics) = statistics {
        if let Some(&rows) = statistics.num_rows.get_value() {
            return Some(rows as u64);
        }
    }
    let scan = source
        .as_ref()
        .downcast_ref::<DataSourceExec>()?
        .data_source()
        .as_ref()
        .downcast_ref::<FileScanConfig>()?;
    let files: Vec<_> = scan.file_groups.iter().flat_map(|g| g.iter()).collect();
    let bytes: u64 = files
        .iter()
        .map(|f| {
            f.range
                .as_ref()
                .map_or(f.object_meta.size, |r| (r.end - r.start) as u64)
        })
        .sum();
    let first = files.first()?;
    // Remote objects are not sampled: the estimate is not worth a request per query.
    if !scan.object_store_url.as_str().starts_with("file://") {
        return None;
    }
    let path = std::path::Path::new("/").join(first.object_meta.location.as_ref());
    Some(bytes / bytes_per_line(&path)?.max(1))
}

/// The bytes of the remote files `source` scans.
fn remote_bytes(source: &Arc<dyn ExecutionPlan>) -> u64 {
    let scan = source
        .as_ref()
        .downcast_ref::<DataSourceExec>()
        .and_then(|exec| exec.data_source().as_ref().downcast_ref::<FileScanConfig>());
    match scan {
        Some(scan) if !scan.object_store_url.as_str().starts_with("file://") => scan
            .file_groups
            .iter()
            .flat_map(|group| group.iter())
            .map(|file| {
                file.range
                    .as_ref()
                    .map_or(file.object_meta.size, |r| (r.end - r.start) as u64)
            })
            .sum(),
        _ => 0,
    }
}

/// The mean length of the first lines of a text file.
fn bytes_per_line(path: &std::path::Path) -> Option<u64> {
    use std::io::Read;
    let mut sample = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(64 * 1024)
        .read_to_end(&mut sample)
        .ok()?;
    let lines = sample.iter().filter(|&&b| b == b'\n').count() as u64;
    (lines > 0).then(|| sample.len() as u64 / lines)
}
