//! Session settings: the analogue of Dask's `Client(n_workers, threads_per_worker,
//! memory_limit)` and `dask.config` for temporary storage.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::object_store::ObjectStoreRegistry;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::SessionConfig;

use rask_planner::cache::FileCache;

use crate::error::{Error, Result};
use crate::monitor::QueryLog;
use crate::scratch::ScratchDir;

/// Builds a [`Session`]. Defaults suit a laptop: every core, no memory limit, spill files in
/// the system temporary directory.
///
/// ```
/// let session = rask::Session::builder()
///     .partitions(4)
///     .memory_limit(512 * 1024 * 1024)
///     .build()
///     .unwrap();
/// assert_eq!(session.partitions(), 4);
/// ```
#[derive(Debug, Clone, Default)]
pub struct SessionBuilder {
    partitions: Option<usize>,
    memory_limit: Option<usize>,
    spill_dir: Option<PathBuf>,
    batch_size: Option<usize>,
    no_file_cache: bool,
}

impl SessionBuilder {
    /// How many partitions queries run in, i.e. how many threads work at once
    /// (default: all cores).
    /// At most [`MAX_PARTITIONS`]: a repartition connects every input partition to every
    /// output one, so its buffers grow with the square of the count.
    pub fn partitions(mut self, partitions: usize) -> Self {
        self.partitions = Some(partitions);
        self
    }

    /// Caps the memory that sorts, aggregations and joins hold, in bytes; beyond it they
    /// spill to disk (default: no limit).
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = Some(bytes);
        self
    }

    /// Where spill files go (default: the system temporary directory).
    pub fn spill_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spill_dir = Some(dir.into());
        self
    }

    /// Rows per record batch (default 8192, at most [`MAX_BATCH_SIZE`]: readers and operators
    /// allocate a batch's room up front).
    pub fn batch_size(mut self, rows: usize) -> Self {
        self.batch_size = Some(rows);
        self
    }

    /// Whether CSV and JSON files read again, unchanged, are served from the batches their
    /// last read decoded (default: on; see [`rask_planner::cache`]).
    pub fn file_cache(mut self, on: bool) -> Self {
        self.no_file_cache = !on;
        self
    }

    /// The session's file cache: a quarter of the memory limit, or of what a query may hold
    /// without one, so that queries keep most of the memory; beyond it, files in `scratch`
    /// up to a quarter of the free space there.
    pub(crate) fn file_cache_for(&self, runtime: &RuntimeEnv, scratch: &ScratchDir) -> FileCache {
        let budget = self.memory_limit.unwrap_or_else(machine_share) / 4;
        let disk_budget = free_space(scratch.path()).unwrap_or(0) / 4;
        let cache = FileCache::new(budget, &runtime.memory_pool)
            .with_disk(scratch.path().join("cache"), disk_budget);
        cache.set_enabled(!self.no_file_cache);
        cache
    }

    /// The memory limit in bytes, if one was set.
    pub(crate) fn memory_limit_bytes(&self) -> Option<usize> {
        self.memory_limit
    }

    /// A new scratch directory for this process's spill files inside the spill directory
    /// (the system's temporary directory by default), so that a query that is cancelled or
    /// fails, or a process that is killed, leaves no spill file behind (see [`crate::scratch`]).
    pub(crate) fn spill_scratch(&self) -> Result<ScratchDir> {
        let parent = self.spill_dir.clone().unwrap_or_else(std::env::temp_dir);
        if !parent.is_dir() {
            return Err(Error::plan(format!(
                "spill directory '{}' does not exist",
                parent.display()
            )));
        }
        ScratchDir::create(&parent, "spill")
    }

    /// The DataFusion configuration and runtime these settings describe, spilling into
    /// `spill` when queries run here.
    pub(crate) fn settings(
        &self,
        spill: Option<&ScratchDir>,
    ) -> Result<(SessionConfig, Arc<RuntimeEnv>)> {
        let partitions = match self.partitions {
            Some(n) => within("partitions", n, MAX_PARTITIONS)?,
            None => std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
        };
        let mut config = SessionConfig::new()
            .with_target_partitions(partitions)
            // A round-robin repartition spreads a few input partitions over all of them, and
            // the hash repartition after it then connects every partition to every other:
            // channels outside the memory pool, about 700 bytes per pair (840 MB at 1024
            // partitions for a 50-row GROUP BY). Past a few hundred partitions there are
            // inputs enough without it.
            .with_round_robin_repartition(partitions <= ROUND_ROBIN_PARTITIONS)
            .with_information_schema(true)
            // DataFusion's scans let an idle stream take files queued for another: that
            // mixes partitions (the rows of `head`, per-partition files and `compute` would
            // leave their files' order) and makes a query's per-partition work, and so its
            // metrics, differ from run to run. Scans split files into ranges of equal size
            // anyway.
            .set_bool(
                "datafusion.execution.enable_file_stream_work_stealing",
                false,
            )
            // Planning errors then carry where the statement went wrong, for the caret
            // under it.
            .set_bool("datafusion.sql_parser.collect_spans", true)
            .with_option_extension(rask_planner::stores::CarriedOptions::default())
            .with_extension(Arc::new(QueryLog::default()));
        if let Some(rows) = self.batch_size {
            config = config.with_batch_size(within("batch size", rows, MAX_BATCH_SIZE)?);
        }
        let mut runtime = RuntimeEnvBuilder::new()
            .with_object_store_registry(object_stores())
            // Rask lists a table's files for each statement; DataFusion's cache of listings
            // would keep showing a folder as it was when first listed.
            .with_cache_manager(CacheManagerConfig::default().with_list_files_cache_limit(0));
        if let Some(limit) = self.memory_limit {
            // A hash join's build side cannot spill; a sort-merge join can.
            config = config.set_bool("datafusion.optimizer.prefer_hash_join", false);
            // Each sort reserves room up front for merging its spill files (10 MB by
            // default); under a small limit that reservation alone would fail the query.
            let merge_reservation = (limit / (4 * partitions)).min(10 << 20);
            config = config.set_usize(
                "datafusion.execution.sort_spill_reservation_bytes",
                merge_reservation,
            );
            let top_consumers = NonZeroUsize::new(5).expect("5 is not zero");
            runtime = runtime.with_memory_pool(Arc::new(TrackConsumersPool::new(
                FairSpillPool::new(limit),
                top_consumers,
            )));
        }
        if let Some(dir) = spill {
            runtime = runtime.with_disk_manager_builder(
                DiskManagerBuilder::default()
                    .with_mode(DiskManagerMode::Directories(vec![dir.path().to_path_buf()])),
            );
        }
        Ok((config, runtime.build_arc()?))
    }
}

/// Object stores built per bucket the first time a URL names it, from this process's
/// environment (see [`rask_planner::stores`]).
pub(crate) fn object_stores() -> Arc<dyn ObjectStoreRegistry> {
    Arc::new(rask_planner::stores::LazyStores::default())
}

/// The stores of a cluster process for a session whose configuration carries storage
/// options; `shared` when it carries none.
pub(crate) fn object_stores_for(
    config: &SessionConfig,
    shared: &Arc<dyn ObjectStoreRegistry>,
) -> Arc<dyn ObjectStoreRegistry> {
    match rask_planner::stores::LazyStores::carrying(config) {
        Some(stores) => Arc::new(stores),
        None => Arc::clone(shared),
    }
}

/// Ballista's configuration of a session on a cluster process, able to take the storage
/// options a client's session carries.
pub(crate) fn cluster_session_config() -> SessionConfig {
    ballista_core::utils::default_config_producer()
        .with_option_extension(rask_planner::stores::CarriedOptions::default())
}

/// The most partitions a session runs queries in.
pub const MAX_PARTITIONS: usize = 1024;

/// The most partitions for which queries spread their inputs round-robin.
const ROUND_ROBIN_PARTITIONS: usize = 256;

/// The most rows a record batch holds.
pub const MAX_BATCH_SIZE: usize = 1 << 20;

/// The largest size [`parse_size`] accepts: 1 PiB, past any machine's memory or disk.
const MAX_SIZE: f64 = (1u64 << 50) as f64;

/// What a query may hold without a memory limit: half the machine's physical memory, or
/// 4 GiB where the system does not tell it.
pub(crate) fn machine_share() -> usize {
    // SAFETY: sysconf only reads system constants.
    let (pages, page_size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    match (usize::try_from(pages), usize::try_from(page_size)) {
        (Ok(pages), Ok(size)) if pages > 0 && size > 0 => pages.saturating_mul(size) / 2,
        _ => 4 << 30,
    }
}

/// Bytes free for this process on the filesystem holding `dir`.
fn free_space(dir: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a NUL-terminated string and `stats` is written by statvfs before it
    // is read.
    let stats = unsafe {
        if libc::statvfs(path.as_ptr(), stats.as_mut_ptr()) != 0 {
            return None;
        }
        stats.assume_init()
    };
    Some((stats.f_bavail as u64).saturating_mul(stats.f_frsize as u64))
}

/// Refuses a `SET` of a setting to a value DataFusion or the Parquet writer takes and then
/// panics, hangs or allocates without bound on (a batch of 2^32 rows, a Parquet row group of
/// none), as the flags setting the same things refuse it. Values that are not numbers are
/// left to DataFusion's own check.
pub(crate) fn check_setting(variable: &str, value: &str) -> Result<()> {
    let setting = variable.to_ascii_lowercase();
    check_value(
        variable,
        setting.trim_start_matches("datafusion.execution."),
        value,
    )
}

/// Refuses what [`check_setting`] refuses when it comes as an option of a `COPY` or of a
/// table's `OPTIONS` (`format.max_row_group_size`, `'format.bloom_filter_fpp::col'`).
pub(crate) fn check_format_options<'a>(
    options: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Result<()> {
    options.into_iter().try_for_each(|(key, value)| {
        let option = key.to_ascii_lowercase();
        let option = option.strip_prefix("format.").unwrap_or(&option);
        let option = option.split("::").next().unwrap_or(option);
        check_value(key, &format!("parquet.{option}"), value)
    })
}

/// Checks `value` of `setting` (named without `datafusion.execution.`), refused as `shown`.
fn check_value(shown: &str, setting: &str, value: &str) -> Result<()> {
    let count = |max: usize| match value.trim().parse::<usize>() {
        Ok(n) => within(shown, n, max).map(drop),
        Err(_) => Ok(()),
    };
    match setting {
        "batch_size" | "parquet.write_batch_size" => count(MAX_BATCH_SIZE),
        "target_partitions"
        | "parquet.maximum_parallel_row_group_writers"
        | "parquet.maximum_buffered_record_batches_per_stream" => count(MAX_PARTITIONS),
        "parquet.max_row_group_size" | "parquet.data_page_row_count_limit" => count(usize::MAX),
        "parquet.bloom_filter_fpp" => match value.trim().parse::<f64>() {
            Ok(p) if !(p > 0.0 && p < 1.0) => Err(Error::plan(format!(
                "{shown} must be between 0 and 1 (both excluded), not {value}"
            ))),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// `value` when it is from 1 to `max`.
fn within(setting: &str, value: usize, max: usize) -> Result<usize> {
    if (1..=max).contains(&value) {
        Ok(value)
    } else if max == usize::MAX {
        Err(Error::plan(format!(
            "{setting} must be at least 1, not {value}"
        )))
    } else {
        Err(Error::plan(format!(
            "{setting} must be from 1 to {max}, not {value}"
        )))
    }
}

/// Parses a size such as `512MB`, `2GB`, `1.5GiB` or `1000000` into bytes, as Dask's
/// `parse_bytes` does: `KB`/`MB`/`GB`/`TB` (and `K`/`M`/`G`/`T`) are powers of 1000,
/// `KiB`/`MiB`/`GiB`/`TiB` powers of 1024.
///
/// ```
/// assert_eq!(rask::parse_size("512MB").unwrap(), 512_000_000);
/// assert_eq!(rask::parse_size("2GiB").unwrap(), 2 << 30);
/// assert!(rask::parse_size("lots").is_err());
/// ```
pub fn parse_size(text: &str) -> Result<usize> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let multiplier: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => f64::NAN,
    };
    match number.parse::<f64>() {
        Ok(n) if multiplier.is_finite() && n * multiplier > MAX_SIZE => {
            Err(Error::plan(format!("invalid size '{text}': at most 1PiB")))
        }
        Ok(n) if multiplier.is_finite() && n * multiplier >= 1.0 => Ok((n * multiplier) as usize),
        _ => Err(Error::plan(format!(
            "invalid size '{text}': use a number with a unit, e.g. 512MB, 2GB or 1GiB"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_dask() {
        assert_eq!(parse_size("300MB").unwrap(), 300_000_000);
        assert_eq!(parse_size("1.5 GB").unwrap(), 1_500_000_000);
        assert_eq!(parse_size("64KiB").unwrap(), 65_536);
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("1024TiB").unwrap(), 1 << 50);
        for bad in [
            "",
            "MB",
            "-1GB",
            "0",
            "12XB",
            "1.2.3MB",
            "1.1PiB",
            "99999999999999999999GB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert!(parse_size("2TiB").is_ok());
    }
}
