//! The session's cache of decoded text files: a CSV or JSON file read again, unchanged, is
//! served from the Arrow batches its last read decoded instead of being parsed again.
//!
//! Dask users explore interactively: the same glob, query after query. Parsing text is most of
//! what such a query costs, so a session keeps what it decoded, file by file, in memory it
//! counts against its memory pool, within a budget, evicting the least recently used files
//! first — but never those the running query uses, so a glob larger than the budget keeps
//! what fits instead of each file pushing out the one before. What does not fit in memory
//! goes, where the session has a scratch directory, to Arrow IPC files there (within a share
//! of the disk's free space), which read back far faster than the text they came from.
//!
//! A file is identified by its location, the byte range read and how it is decoded (format
//! options and column types); it is served only while its size, modification time and entity
//! tag are those it was read with, so an answer is never stale: a file rewritten, appended to
//! or removed is read again (or missed, like any removed file).
//!
//! Each file keeps the columns queries asked of it; a query asking for more reads the file
//! again with the columns of both, so a few queries in, the columns a session uses are all
//! there. Filters are applied on the served batches by the plan above the scan, as for
//! files read; a scan with a row limit reads the files (it stops early and caches nothing).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::FileReader;
use datafusion::arrow::ipc::writer::FileWriter;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result, Statistics};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig, FileScanConfigBuilder};
use datafusion::datasource::source::{DataSource, DataSourceExec};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryPool, MemoryReservation};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_expr::projection::ProjectionExprs;
use datafusion::physical_expr::{EquivalenceProperties, Partitioning, PhysicalExpr};
use datafusion::physical_plan::execution_plan::SchedulingType;
use datafusion::physical_plan::expressions::Column;
use datafusion::physical_plan::metrics::{Count, ExecutionPlanMetricsSet, MetricBuilder};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::{DisplayFormatType, ExecutionPlan};
use futures::{Stream, StreamExt};

/// Decoded files kept for the session, within a budget of bytes.
pub struct FileCache {
    enabled: AtomicBool,
    budget: usize,
    disk: Option<Disk>,
    store: Mutex<Store>,
}

/// Where files that do not fit in memory are kept, and how many bytes of them.
struct Disk {
    dir: PathBuf,
    budget: u64,
}

struct Store {
    files: HashMap<FileKey, Entry>,
    /// Per way of decoding (a table), the columns queries asked of its files.
    columns_asked: HashMap<Arc<str>, BTreeSet<usize>>,
    /// Bytes of cached files and of reads being written on disk.
    on_disk: u64,
    /// Numbers the files written.
    written: u64,
    /// Counts uses, to find the least recently used file.
    clock: u64,
    /// The memory held by cached files and by reads being collected, counted in the
    /// session's memory pool.
    reservation: MemoryReservation,
}

/// A file's part as one scan partition reads it, decoded one way.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FileKey {
    store: String,
    path: String,
    range: Option<(i64, i64)>,
    decoding: Arc<str>,
}

/// What a file was when it was read: served only while it still is.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version {
    size: u64,
    modified: chrono::DateTime<chrono::Utc>,
    e_tag: Option<String>,
}

impl Version {
    fn of(file: &PartitionedFile) -> Version {
        Version {
            size: file.object_meta.size,
            modified: file.object_meta.last_modified,
            e_tag: file.object_meta.e_tag.clone(),
        }
    }
}

struct Entry {
    version: Version,
    /// Table columns (indices into the table's schema) held, in the batches' order.
    columns: Vec<usize>,
    place: Place,
    /// Bytes held in memory, or written on disk.
    bytes: usize,
    rows: usize,
    last_used: u64,
    hits: u64,
}

enum Place {
    Memory(Vec<RecordBatch>),
    /// An Arrow IPC file.
    Disk(PathBuf),
}

/// What a lookup found: the batches with the columns asked, or the file holding them and
/// the positions of those columns in it.
enum Kept {
    Batches(Vec<RecordBatch>),
    File(PathBuf, Vec<usize>),
}

/// One cached file, as `.cache` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedFile {
    /// Where the file is (`/path` or the object's URL).
    pub file: String,
    /// The byte range cached, when the file is read in parts (`None`: all of it).
    pub range: Option<(i64, i64)>,
    /// Columns held.
    pub columns: usize,
    /// Rows held.
    pub rows: usize,
    /// Bytes held, in memory or on disk.
    pub bytes: usize,
    /// Whether it is kept in a file on disk rather than in memory.
    pub on_disk: bool,
    /// Times queries were served from it.
    pub hits: u64,
}

impl fmt::Debug for FileCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileCache")
            .field("enabled", &self.enabled())
            .field("budget", &self.budget)
            .field("held", &self.held())
            .finish()
    }
}

impl FileCache {
    /// A cache of at most `budget` bytes, counted against `pool`.
    pub fn new(budget: usize, pool: &Arc<dyn MemoryPool>) -> FileCache {
        let reservation = MemoryConsumer::new("file cache").register(pool);
        FileCache {
            enabled: AtomicBool::new(true),
            budget,
            disk: None,
            store: Mutex::new(Store {
                files: HashMap::new(),
                columns_asked: HashMap::new(),
                on_disk: 0,
                written: 0,
                clock: 0,
                reservation,
            }),
        }
    }

    /// The same cache, keeping up to `budget` bytes of what does not fit in memory in Arrow
    /// IPC files in `dir` (which the session removes when it ends).
    pub fn with_disk(mut self, dir: PathBuf, budget: u64) -> FileCache {
        self.disk = Some(Disk { dir, budget });
        self
    }

    /// The session's cache, when it keeps one (sessions on a cluster do not).
    pub fn of(state: &dyn Session) -> Option<Arc<FileCache>> {
        state.config().get_extension::<FileCache>()
    }

    /// Whether scans use the cache.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Turns the cache on or off; off also frees what it holds.
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::Relaxed);
        if !enabled {
            self.clear();
        }
    }

    /// Frees every cached file.
    pub fn clear(&self) {
        let mut store = self.lock();
        for (_, entry) in std::mem::take(&mut store.files) {
            store.drop_entry(entry);
        }
        store.columns_asked.clear();
    }

    /// The most bytes it holds.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Bytes it holds in memory now.
    pub fn held(&self) -> usize {
        self.lock().reservation.size()
    }

    /// Bytes of its files on disk now.
    pub fn on_disk(&self) -> u64 {
        self.lock().on_disk
    }

    /// The most bytes it keeps on disk (0 without a directory for them).
    pub fn disk_budget(&self) -> u64 {
        self.disk.as_ref().map_or(0, |disk| disk.budget)
    }

    /// The clock the files a query is about to read are stamped after: those it uses then
    /// are not evicted to make room for its other files.
    fn now(&self) -> u64 {
        self.lock().clock
    }

    /// The cached files, most recently used first.
    pub fn files(&self) -> Vec<CachedFile> {
        let store = self.lock();
        let mut files: Vec<(&FileKey, &Entry)> = store.files.iter().collect();
        files.sort_by_key(|(_, entry)| std::cmp::Reverse(entry.last_used));
        files
            .into_iter()
            .map(|(key, entry)| CachedFile {
                file: crate::files::shown_object(&key.store, &key.path),
                range: key
                    .range
                    .filter(|&(from, to)| (from, to) != (0, entry.version.size as i64)),
                columns: entry.columns.len(),
                rows: entry.rows,
                bytes: entry.bytes,
                on_disk: matches!(entry.place, Place::Disk(_)),
                hits: entry.hits,
            })
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock leaves the counts as they were: keep using them.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The columns queries asked of files decoded as `decoding`.
    fn columns_asked(&self, decoding: &Arc<str>) -> BTreeSet<usize> {
        self.lock()
            .columns_asked
            .get(decoding)
            .cloned()
            .unwrap_or_default()
    }

    fn ask_columns(&self, decoding: &Arc<str>, columns: &[usize]) {
        self.lock()
            .columns_asked
            .entry(Arc::clone(decoding))
            .or_default()
            .extend(columns);
    }

    /// What is kept of `key` with `columns`, and its rows, if it is cached as `version`
    /// with all of them; a cached file of another version is dropped.
    fn lookup(&self, key: &FileKey, version: &Version, columns: &[usize]) -> Option<(Kept, usize)> {
        let mut store = self.lock();
        let entry = store.files.get(key)?;
        if entry.version != *version {
            store.remove(key);
            return None;
        }
        let positions = columns
            .iter()
            .map(|c| entry.columns.iter().position(|held| held == c))
            .collect::<Option<Vec<usize>>>()?;
        let kept = match &entry.place {
            Place::Memory(batches) => Kept::Batches(
                batches
                    .iter()
                    .map(|batch| batch.project(&positions))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .ok()?,
            ),
            Place::Disk(path) => Kept::File(path.clone(), positions),
        };
        let rows = entry.rows;
        store.clock += 1;
        let now = store.clock;
        let entry = store.files.get_mut(key)?;
        entry.last_used = now;
        entry.hits += 1;
        Some((kept, rows))
    }

    /// Drops what is kept of `key` (its file could not be read back).
    fn forget(&self, key: &FileKey) {
        self.lock().remove(key);
    }

    /// Makes room for `bytes` more in memory, evicting the least recently used files the
    /// query started at `since` does not use; false when they do not fit in the budget or
    /// the memory pool.
    fn hold(&self, bytes: usize, since: u64) -> bool {
        let mut store = self.lock();
        loop {
            if store.reservation.size() + bytes <= self.budget
                && store.reservation.try_grow(bytes).is_ok()
            {
                return true;
            }
            if !store.evict_least_recently_used(since, false) {
                return false;
            }
        }
    }

    /// Makes room for `bytes` more on disk, as [`FileCache::hold`] does in memory.
    fn hold_on_disk(&self, bytes: usize, since: u64) -> bool {
        let Some(budget) = self.disk.as_ref().map(|disk| disk.budget) else {
            return false;
        };
        let mut store = self.lock();
        loop {
            if store.on_disk + bytes as u64 <= budget {
                store.on_disk += bytes as u64;
                return true;
            }
            if !store.evict_least_recently_used(since, true) {
                return false;
            }
        }
    }

    fn release(&self, bytes: usize) {
        self.lock().release(bytes);
    }

    fn release_on_disk(&self, bytes: usize, path: &Path) {
        self.lock().release_on_disk(bytes, path);
    }

    /// A new file for a read to be kept in, in the cache's directory.
    fn new_file(&self) -> Option<PathBuf> {
        let dir = &self.disk.as_ref()?.dir;
        std::fs::create_dir_all(dir).ok()?;
        let mut store = self.lock();
        store.written += 1;
        Some(dir.join(format!("{}.arrow", store.written)))
    }

    /// Keeps what a read collected (its bytes already held) as `key`'s, replacing what
    /// was kept of it.
    fn insert(&self, key: FileKey, entry: Entry) {
        let mut store = self.lock();
        store.remove(&key);
        if !self.enabled() {
            // Turned off while the file was being read.
            store.drop_entry(entry);
            return;
        }
        store.clock += 1;
        let entry = Entry {
            last_used: store.clock,
            ..entry
        };
        store.files.insert(key, entry);
    }
}

impl Store {
    fn remove(&mut self, key: &FileKey) {
        if let Some(entry) = self.files.remove(key) {
            self.drop_entry(entry);
        }
    }

    fn drop_entry(&mut self, entry: Entry) {
        match &entry.place {
            Place::Memory(_) => self.release(entry.bytes),
            Place::Disk(path) => self.release_on_disk(entry.bytes, path),
        }
    }

    fn release(&mut self, bytes: usize) {
        self.reservation.shrink(bytes.min(self.reservation.size()));
    }

    fn release_on_disk(&mut self, bytes: usize, path: &Path) {
        self.on_disk = self.on_disk.saturating_sub(bytes as u64);
        // A file already gone (its directory removed) needs no removing.
        let _ = std::fs::remove_file(path);
    }

    /// Evicts the least recently used file, in memory or on disk, that no query started
    /// at `since` or later has used; false when there is none.
    fn evict_least_recently_used(&mut self, since: u64, on_disk: bool) -> bool {
        let oldest = self
            .files
            .iter()
            .filter(|(_, entry)| {
                entry.last_used <= since && matches!(entry.place, Place::Disk(_)) == on_disk
            })
            .min_by_key(|(_, entry)| entry.last_used)
            .map(|(key, _)| key.clone());
        match oldest {
            Some(key) => {
                self.remove(&key);
                true
            }
            None => false,
        }
    }
}

/// A table of text files whose scans go through the session's [`FileCache`].
#[derive(Debug)]
pub struct CachedTable {
    inner: Arc<dyn TableProvider>,
    cache: Arc<FileCache>,
    decoding: Arc<str>,
}

impl CachedTable {
    /// `inner`, whose files are decoded as `decoding` says (format options and column
    /// types: files read another way are cached apart), read through `cache`.
    pub fn new(inner: Arc<dyn TableProvider>, cache: Arc<FileCache>, decoding: String) -> Self {
        CachedTable {
            inner,
            cache,
            decoding: decoding.into(),
        }
    }

    /// The table read.
    pub fn inner(&self) -> &Arc<dyn TableProvider> {
        &self.inner
    }
}

/// `provider` itself, or the table a [`CachedTable`] reads.
pub fn uncached(provider: &Arc<dyn TableProvider>) -> &Arc<dyn TableProvider> {
    match (provider.as_ref() as &dyn std::any::Any).downcast_ref::<CachedTable>() {
        Some(cached) => cached.inner(),
        None => provider,
    }
}

#[async_trait]
impl TableProvider for CachedTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    fn statistics(&self) -> Option<Statistics> {
        self.inner.statistics()
    }

    async fn scan(
        &self,
        session: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !self.cache.enabled() || limit.is_some() {
            return self.inner.scan(session, projection, filters, limit).await;
        }
        let asked: Vec<usize> = match projection {
            Some(columns) => columns.clone(),
            None => (0..self.schema().fields().len()).collect(),
        };
        // Read what earlier queries asked as well, so that the files cached serve them all.
        let mut read = asked.clone();
        read.extend(
            self.cache
                .columns_asked(&self.decoding)
                .into_iter()
                .filter(|c| !asked.contains(c)),
        );
        self.cache.ask_columns(&self.decoding, &asked);
        let plan = self.inner.scan(session, Some(&read), filters, None).await?;
        let Some(config) = plan
            .downcast_ref::<DataSourceExec>()
            .and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>())
        else {
            return Ok(plan);
        };
        let source = DataSourceExec::from_data_source(CachedFiles {
            config: config.clone(),
            cache: Arc::clone(&self.cache),
            decoding: Arc::clone(&self.decoding),
            columns: read.clone(),
            since: self.cache.now(),
        });
        if read.len() == asked.len() {
            return Ok(source);
        }
        let schema = source.schema();
        let narrowed = (0..asked.len())
            .map(|i| {
                let name = schema.field(i).name();
                (
                    Arc::new(Column::new(name, i)) as Arc<dyn PhysicalExpr>,
                    name.clone(),
                )
            })
            .collect::<Vec<_>>();
        Ok(Arc::new(ProjectionExec::try_new(narrowed, source)?))
    }

    async fn insert_into(
        &self,
        state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner.insert_into(state, input, insert_op).await
    }
}

/// A file scan whose files are served from the cache where it holds them, and cached as they
/// are read otherwise. Each partition reads its own files, in order.
#[derive(Debug, Clone)]
pub struct CachedFiles {
    config: FileScanConfig,
    cache: Arc<FileCache>,
    decoding: Arc<str>,
    /// The table columns the scan outputs, in order.
    columns: Vec<usize>,
    /// The cache's clock when the query was planned.
    since: u64,
}

impl CachedFiles {
    /// The file scan underneath.
    pub fn config(&self) -> &FileScanConfig {
        &self.config
    }

    fn with_config(&self, config: FileScanConfig) -> Arc<dyn DataSource> {
        Arc::new(CachedFiles {
            config,
            ..self.clone()
        })
    }

    fn key(&self, file: &PartitionedFile) -> FileKey {
        FileKey {
            store: self.config.object_store_url.as_str().to_string(),
            path: file.object_meta.location.to_string(),
            range: file.range.as_ref().map(|r| (r.start, r.end)),
            decoding: Arc::clone(&self.decoding),
        }
    }
}

/// The file scan configuration of `plan`, when it scans files (through the cache or not).
pub fn file_scan_config(plan: &dyn ExecutionPlan) -> Option<&FileScanConfig> {
    let source = plan.downcast_ref::<DataSourceExec>()?.data_source();
    source.downcast_ref::<FileScanConfig>().or_else(|| {
        source
            .downcast_ref::<CachedFiles>()
            .map(CachedFiles::config)
    })
}

impl DataSource for CachedFiles {
    fn open(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let files = self
            .config
            .file_groups
            .get(partition)
            .map(|group| group.iter().cloned().collect())
            .unwrap_or_default();
        let metrics = self.config.metrics();
        Ok(Box::pin(CachedStream {
            scan: self.clone(),
            schema: self.config.projected_schema()?,
            partition,
            context,
            files,
            current: Current::Between,
            served: None,
            metrics,
        }))
    }

    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        self.config.fmt_as(t, f)
    }

    fn repartitioned(
        &self,
        target_partitions: usize,
        repartition_file_min_size: usize,
        output_ordering: Option<datafusion::physical_expr::LexOrdering>,
    ) -> Result<Option<Arc<dyn DataSource>>> {
        let repartitioned = self.config.repartitioned(
            target_partitions,
            repartition_file_min_size,
            output_ordering,
        )?;
        Ok(repartitioned.and_then(|source| {
            let config = source.downcast_ref::<FileScanConfig>()?.clone();
            Some(self.with_config(config))
        }))
    }

    fn output_partitioning(&self) -> Partitioning {
        self.config.output_partitioning()
    }

    fn eq_properties(&self) -> EquivalenceProperties {
        self.config.eq_properties()
    }

    fn scheduling_type(&self) -> SchedulingType {
        self.config.scheduling_type()
    }

    fn partition_statistics(&self, partition: Option<usize>) -> Result<Arc<Statistics>> {
        self.config.partition_statistics(partition)
    }

    fn with_fetch(&self, _limit: Option<usize>) -> Option<Arc<dyn DataSource>> {
        None
    }

    fn fetch(&self) -> Option<usize> {
        None
    }

    fn metrics(&self) -> ExecutionPlanMetricsSet {
        self.config.metrics()
    }

    fn try_swapping_with_projection(
        &self,
        _projection: &ProjectionExprs,
    ) -> Result<Option<Arc<dyn DataSource>>> {
        // The cached columns are the table's; expressions stay above the scan.
        Ok(None)
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.config.apply_expressions(f)
    }
}

enum Current {
    Between,
    Served(std::vec::IntoIter<RecordBatch>),
    FromDisk(Box<FileReader<BufReader<std::fs::File>>>),
    Reading {
        stream: SendableRecordBatchStream,
        fill: Option<Box<Fill>>,
    },
}

/// What a partition's scan counts of the files served from the cache, as file scans count
/// the files they read.
struct Served {
    files: Count,
    opened: Count,
    processed: Count,
    rows: Count,
}

struct CachedStream {
    scan: CachedFiles,
    schema: SchemaRef,
    partition: usize,
    context: Arc<TaskContext>,
    files: VecDeque<PartitionedFile>,
    current: Current,
    served: Option<Served>,
    metrics: ExecutionPlanMetricsSet,
}

impl CachedStream {
    /// Starts on the next file: its cached batches, or a read of it that caches them.
    /// `None` when no file is left.
    fn next_file(&mut self) -> Option<Result<Current>> {
        let file = self.files.pop_front()?;
        let key = self.scan.key(&file);
        let version = Version::of(&file);
        let cache = &self.scan.cache;
        match cache.lookup(&key, &version, &self.scan.columns) {
            Some((Kept::Batches(batches), rows)) => {
                self.count_served(rows);
                return Some(Ok(Current::Served(batches.into_iter())));
            }
            Some((Kept::File(path, positions), rows)) => {
                let reader = std::fs::File::open(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|file| {
                        FileReader::try_new_buffered(file, Some(positions))
                            .map_err(|e| e.to_string())
                    });
                match reader {
                    Ok(reader) => {
                        self.count_served(rows);
                        return Some(Ok(Current::FromDisk(Box::new(reader))));
                    }
                    // Read the file itself instead.
                    Err(_) => cache.forget(&key),
                }
            }
            None => {}
        }
        let fill = Fill::new(cache, key, version, &self.scan);
        Some(self.read(file).map(|stream| Current::Reading {
            stream,
            fill: Some(Box::new(fill)),
        }))
    }

    /// Reads `file` alone, counted under this partition like the scan's own reads.
    fn read(&self, file: PartitionedFile) -> Result<SendableRecordBatchStream> {
        let mut groups = vec![FileGroup::default(); self.partition];
        groups.push(FileGroup::new(vec![file]));
        let config = FileScanConfigBuilder::from(self.scan.config.clone())
            .with_file_groups(groups)
            .with_output_partitioning(None)
            .build();
        config.open(self.partition, Arc::clone(&self.context))
    }

    fn count_served(&mut self, rows: usize) {
        let (metrics, partition) = (&self.metrics, self.partition);
        let served = self.served.get_or_insert_with(|| {
            let count = |name: &'static str| MetricBuilder::new(metrics).counter(name, partition);
            Served {
                files: count("files_from_cache"),
                opened: count("files_opened"),
                processed: count("files_processed"),
                rows: MetricBuilder::new(metrics).output_rows(partition),
            }
        });
        served.files.add(1);
        served.opened.add(1);
        served.processed.add(1);
        served.rows.add(rows);
    }
}

impl Stream for CachedStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match &mut this.current {
                Current::Between => match this.next_file() {
                    None => return Poll::Ready(None),
                    Some(Ok(current)) => this.current = current,
                    Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                },
                Current::Served(batches) => match batches.next() {
                    Some(batch) => return Poll::Ready(Some(Ok(batch))),
                    None => this.current = Current::Between,
                },
                Current::FromDisk(reader) => match reader.next() {
                    Some(batch) => return Poll::Ready(Some(batch.map_err(DataFusionError::from))),
                    None => this.current = Current::Between,
                },
                Current::Reading { stream, fill } => match stream.poll_next_unpin(cx) {
                    Poll::Ready(Some(Ok(batch))) => {
                        if let Some(collecting) = fill {
                            if !collecting.push(&batch) {
                                *fill = None;
                            }
                        }
                        return Poll::Ready(Some(Ok(batch)));
                    }
                    Poll::Ready(None) => {
                        if let Some(fill) = fill.take() {
                            fill.finish();
                        }
                        this.current = Current::Between;
                    }
                    Poll::Ready(Some(Err(e))) => {
                        // What was read of a file that failed is not the file.
                        *fill = None;
                        return Poll::Ready(Some(Err(e)));
                    }
                    Poll::Pending => return Poll::Pending,
                },
            }
        }
    }
}

impl RecordBatchStream for CachedStream {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}

/// A file being read, its batches kept as they come: in memory while the cache has room,
/// then (where the cache keeps files on disk) written to an Arrow IPC file.
struct Fill {
    cache: Arc<FileCache>,
    key: FileKey,
    version: Version,
    columns: Vec<usize>,
    /// The clock when the query was planned: files it uses are not evicted for this one.
    since: u64,
    rows: usize,
    kept: Keeping,
}

enum Keeping {
    Memory {
        batches: Vec<RecordBatch>,
        bytes: usize,
    },
    Disk {
        writer: Box<FileWriter<BufWriter<std::fs::File>>>,
        path: PathBuf,
        bytes: usize,
    },
    /// Finished, or given up.
    Nothing,
}

impl Fill {
    fn new(cache: &Arc<FileCache>, key: FileKey, version: Version, scan: &CachedFiles) -> Fill {
        Fill {
            cache: Arc::clone(cache),
            key,
            version,
            columns: scan.columns.clone(),
            since: scan.since,
            rows: 0,
            kept: Keeping::Memory {
                batches: Vec::new(),
                bytes: 0,
            },
        }
    }

    /// Keeps `batch`; false (and the fill given up) when the cache has no room for it.
    fn push(&mut self, batch: &RecordBatch) -> bool {
        let size = batch.get_array_memory_size();
        self.rows += batch.num_rows();
        let kept = match &mut self.kept {
            Keeping::Memory { batches, bytes } if self.cache.hold(size, self.since) => {
                *bytes += size;
                batches.push(batch.clone());
                true
            }
            Keeping::Memory { .. } => self.spill_to_disk(batch.schema()) && self.write(batch, size),
            Keeping::Disk { .. } => self.write(batch, size),
            Keeping::Nothing => false,
        };
        if !kept {
            self.give_up();
        }
        kept
    }

    /// Moves what was kept in memory to a file on disk; false where there is no room (or
    /// no directory) for it.
    fn spill_to_disk(&mut self, schema: SchemaRef) -> bool {
        let Keeping::Memory { batches, bytes } =
            std::mem::replace(&mut self.kept, Keeping::Nothing)
        else {
            return false;
        };
        self.cache.release(bytes);
        let Some(path) = self.cache.new_file() else {
            return false;
        };
        let writer = std::fs::File::create(&path)
            .map_err(|e| e.to_string())
            .and_then(|file| {
                FileWriter::try_new_buffered(file, &schema).map_err(|e| e.to_string())
            });
        let Ok(writer) = writer else {
            let _ = std::fs::remove_file(&path);
            return false;
        };
        self.kept = Keeping::Disk {
            writer: Box::new(writer),
            path,
            bytes: 0,
        };
        batches
            .iter()
            .all(|batch| self.write(batch, batch.get_array_memory_size()))
    }

    fn write(&mut self, batch: &RecordBatch, size: usize) -> bool {
        let Keeping::Disk { writer, bytes, .. } = &mut self.kept else {
            return false;
        };
        if !self.cache.hold_on_disk(size, self.since) {
            return false;
        }
        *bytes += size;
        // A disk that fills up only ends the keeping: the query goes on.
        writer.write(batch).is_ok()
    }

    fn give_up(&mut self) {
        match std::mem::replace(&mut self.kept, Keeping::Nothing) {
            Keeping::Memory { bytes, .. } => self.cache.release(bytes),
            Keeping::Disk { path, bytes, .. } => self.cache.release_on_disk(bytes, &path),
            Keeping::Nothing => {}
        }
    }

    fn finish(mut self) {
        let (place, bytes) = match std::mem::replace(&mut self.kept, Keeping::Nothing) {
            Keeping::Memory { batches, bytes } => (Place::Memory(batches), bytes),
            Keeping::Disk {
                mut writer,
                path,
                bytes,
            } => {
                if writer.finish().is_err() {
                    self.cache.release_on_disk(bytes, &path);
                    return;
                }
                (Place::Disk(path), bytes)
            }
            Keeping::Nothing => return,
        };
        let entry = Entry {
            version: self.version.clone(),
            columns: self.columns.clone(),
            place,
            bytes,
            rows: self.rows,
            last_used: 0,
            hits: 0,
        };
        self.cache.insert(self.key.clone(), entry);
    }
}

impl Drop for Fill {
    fn drop(&mut self) {
        // A read that did not finish (an error, a cancelled query, no room) keeps nothing.
        self.give_up();
    }
}
