//! How far a running query is, read from its live execution metrics.

use std::sync::Arc;

use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_plan::{ExecutionPlan, StatisticsArgs, StatisticsContext};

/// Rows the query's sources (file scans, generators) have produced so far, against the rows
/// they will produce in all: exact for Parquet and `timeseries()`, estimated for CSV and
/// JSON from the files' sizes and the length of their first lines. A query that reads only
/// CSV and JSON files also counts the bytes it has read of them, against their sizes.
#[derive(Clone)]
pub struct Progress {
    sources: Vec<Arc<dyn ExecutionPlan>>,
    total: Option<u64>,
    text: Option<TextBytes>,
}

/// The bytes of a query's text files, and the counters their reads move, as they were when
/// it started.
#[derive(Clone, Copy)]
struct TextBytes {
    local: u64,
    remote: u64,
    /// The process's bytes read from files (the kernel's count), and fetched from object
    /// stores.
    read_before: u64,
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
        let text = sources
            .iter()
            .map(text_file_bytes)
            .try_fold((0, 0), |(local, remote), bytes| {
                let (l, r) = bytes?;
                Some((local + l, remote + r))
            })
            .filter(|&(local, remote)| local + remote > 0)
            .map(|(local, remote)| TextBytes {
                local,
                remote,
                read_before: process_bytes_read().unwrap_or(0),
                fetched_before: rask_planner::fetched::bytes_fetched(),
            });
        Progress {
            sources,
            total,
            text,
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

    /// Bytes read of the query's files since it started, and their size, when it reads only
    /// CSV and JSON files: local files by the kernel's count of the process's reads, remote
    /// ones by the bytes its object stores delivered. Other work of the process at the same
    /// time counts too; the count never passes the size.
    pub fn bytes(&self) -> Option<(u64, u64)> {
        let text = self.text?;
        let local = match text.local {
            0 => 0,
            size => process_bytes_read()?
                .saturating_sub(text.read_before)
                .min(size),
        };
        let fetched = rask_planner::fetched::bytes_fetched().saturating_sub(text.fetched_before);
        Some((local + fetched.min(text.remote), text.local + text.remote))
    }

    /// The fraction done, between 0 and 1, when the total is known: by bytes where they
    /// are counted, else by rows.
    pub fn fraction(&self) -> Option<f64> {
        if let Some((read, size)) = self.bytes() {
            return Some(read as f64 / size as f64);
        }
        let total = self.total.filter(|&t| t > 0)?;
        Some((self.rows_read() as f64 / total as f64).min(1.0))
    }
}

/// Bytes this process has read from files and pipes so far (`rchar` of `/proc/self/io`).
fn process_bytes_read() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines()
        .find_map(|line| line.strip_prefix("rchar:"))?
        .trim()
        .parse()
        .ok()
}

fn expected_rows(source: &Arc<dyn ExecutionPlan>) -> Option<u64> {
    let statistics = StatisticsContext::new().compute(source.as_ref(), &StatisticsArgs::new());
    if let Ok(statistics) = statistics {
        if let Some(&rows) = statistics.num_rows.get_value() {
            return Some(rows as u64);
        }
    }
    let scan = rask_planner::cache::file_scan_config(source.as_ref())?;
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

/// The bytes `source` scans of local and of remote files, when it is a scan of CSV or JSON
/// files read from disk or a store; `None` for any other source, and for scans through the
/// session's file cache, which may read no byte at all (their rows are counted instead).
fn text_file_bytes(source: &Arc<dyn ExecutionPlan>) -> Option<(u64, u64)> {
    let scan = source
        .as_ref()
        .downcast_ref::<DataSourceExec>()?
        .data_source()
        .as_ref()
        .downcast_ref::<FileScanConfig>()?;
    if !matches!(scan.file_source().file_type(), "csv" | "json") {
        return None;
    }
    let bytes: u64 = scan
        .file_groups
        .iter()
        .flat_map(|group| group.iter())
        .map(|file| {
            file.range
                .as_ref()
                .map_or(file.object_meta.size, |r| (r.end - r.start) as u64)
        })
        .sum();
    Some(if scan.object_store_url.as_str().starts_with("file://") {
        (bytes, 0)
    } else {
        (0, bytes)
    })
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
