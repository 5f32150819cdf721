//! `timeseries(start, end, freq, partition_freq, seed)`: the built-in dataset of
//! `dask.datasets.timeseries()`.
//!
//! One row per `freq` from `start` (inclusive) to `end` (exclusive), in one partition per
//! `partition_freq`, with Dask's columns: `timestamp`, `id` (Poisson, λ = 1000), `name` (one of
//! 26 first names, uniformly), `x` and `y` (uniform on [-1, 1)). Rows are generated lazily,
//! batch by batch, inside each partition's stream, so any range runs in constant memory; each
//! partition and column has its own random stream derived from the seed, so the values do not
//! depend on how many threads run, which columns a query reads, or where a query stops.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Float64Array, Int64Array, StringArray, TimestampNanosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::stats::Precision;
use datafusion::common::Statistics;
use datafusion::common::{plan_datafusion_err, plan_err, project_schema, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::coop::make_cooperative;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType, SchedulingType};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Poisson};

/// The names Dask draws from.
pub const NAMES: [&str; 26] = [
    "Alice", "Bob", "Charlie", "Dan", "Edith", "Frank", "George", "Hannah", "Ingrid", "Jerry",
    "Kevin", "Laura", "Michael", "Norbert", "Oliver", "Patricia", "Quinn", "Ray", "Sarah", "Tim",
    "Ursula", "Victor", "Wendy", "Xavier", "Yvonne", "Zelda",
];

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// The parameters of one `timeseries(..)` call, with Dask's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeseriesParams {
    /// First timestamp, nanoseconds since the epoch (default 2000-01-01).
    pub start: i64,
    /// End of the range, exclusive (default 2000-01-31).
    pub end: i64,
    /// Distance between rows in nanoseconds (default `'1s'`).
    pub freq: i64,
    /// Width of one partition in nanoseconds (default `'1D'`).
    pub partition_freq: i64,
    /// Seed of the random columns (default 0).
    pub seed: u64,
    /// The frequencies as the user wrote them, for display.
    pub freq_text: String,
    /// See `freq_text`.
    pub partition_freq_text: String,
}

impl Default for TimeseriesParams {
    fn default() -> Self {
        TimeseriesParams::new(None, None, None, None, None).expect("the defaults are valid")
    }
}

impl TimeseriesParams {
    /// Validates the arguments of `timeseries(start, end, freq, partition_freq, seed)`;
    /// `None` takes Dask's default.
    ///
    /// ```
    /// use rask_planner::timeseries::TimeseriesParams;
    /// let p = TimeseriesParams::new(None, None, None, None, None).unwrap();
    /// assert_eq!(p.rows(), 2_592_000);
    /// assert_eq!(p.divisions().len(), 31); // 30 daily partitions
    /// ```
    pub fn new(
        start: Option<&str>,
        end: Option<&str>,
        freq: Option<&str>,
        partition_freq: Option<&str>,
        seed: Option<i64>,
    ) -> Result<Self> {
        let start = parse_time(start.unwrap_or("2000-01-01"))?;
        let end = parse_time(end.unwrap_or("2000-01-31"))?;
        let freq_text = freq.unwrap_or("1s").to_string();
        let partition_freq_text = partition_freq.unwrap_or("1D").to_string();
        let freq = parse_freq(&freq_text)?;
        let partition_freq = parse_freq(&partition_freq_text)?;
        if end <= start {
            return plan_err!("timeseries: end must come after start");
        }
        let seed = match seed {
            Some(seed) if seed < 0 => return plan_err!("timeseries: seed must not be negative"),
            Some(seed) => seed as u64,
            None => 0,
        };
        Ok(TimeseriesParams {
            start,
            end,
            freq,
            partition_freq,
            seed,
            freq_text,
            partition_freq_text,
        })
    }

    /// Partition boundaries as Dask computes them: every `partition_freq` from `start`, then
    /// `end` (so the last partition may be shorter).
    pub fn divisions(&self) -> Vec<i64> {
        let mut divisions: Vec<i64> = (0..)
            .map(|i| {
                self.start
                    .saturating_add(self.partition_freq.saturating_mul(i))
            })
            .take_while(|t| *t < self.end)
            .collect();
        divisions.push(self.end);
        divisions
    }

    /// Rows in the partition spanning `[lo, hi)`: one per `freq` from `lo`.
    fn rows_between(&self, lo: i64, hi: i64) -> u64 {
        ((hi - lo - 1) / self.freq + 1) as u64
    }

    /// Total number of rows.
    pub fn rows(&self) -> u64 {
        self.divisions()
            .windows(2)
            .map(|w| self.rows_between(w[0], w[1]))
            .sum()
    }
}

fn parse_time(text: &str) -> Result<i64> {
    datafusion::arrow::compute::kernels::cast_utils::string_to_timestamp_nanos(text)
        .map_err(|_| plan_datafusion_err!("timeseries: '{text}' is not a date or timestamp such as '2000-01-01' or '2000-01-01 12:00:00'"))
}

/// Parses a fixed pandas frequency such as `'1s'`, `'500ms'`, `'5min'`, `'1h'`, `'1D'`, `'1W'`
/// into nanoseconds.
pub fn parse_freq(text: &str) -> Result<i64> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (count, unit) = trimmed.split_at(split);
    let count: i64 = if count.is_empty() {
        1
    } else {
        count.parse().unwrap_or(0)
    };
    let unit_nanos = match unit {
        "ns" | "N" => 1,
        "us" | "U" | "µs" => 1_000,
        "ms" | "L" => 1_000_000,
        "s" | "S" => NANOS_PER_SECOND,
        "min" | "T" | "m" => 60 * NANOS_PER_SECOND,
        "h" | "H" => 3_600 * NANOS_PER_SECOND,
        "D" | "d" => 86_400 * NANOS_PER_SECOND,
        "W" | "w" => 7 * 86_400 * NANOS_PER_SECOND,
        _ => 0,
    };
    match count.checked_mul(unit_nanos) {
        Some(nanos) if nanos > 0 => Ok(nanos),
        _ => plan_err!(
            "unsupported frequency '{text}'; use a fixed one such as '1s', '500ms', '5min', '1h', '1D' or '1W'"
        ),
    }
}

/// The schema Dask's `timeseries()` has (with the index as a column).
pub fn timeseries_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            false,
        ),
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("x", DataType::Float64, false),
        Field::new("y", DataType::Float64, false),
    ]))
}

/// The table behind `timeseries(..)`.
#[derive(Debug)]
pub struct TimeseriesTable {
    params: TimeseriesParams,
    /// The Dask partitions this table generates (all of them unless restricted).
    parts: std::ops::Range<usize>,
    schema: SchemaRef,
    max_streams: Option<usize>,
}

impl TimeseriesTable {
    /// A table generating `params`' rows when scanned.
    pub fn new(params: TimeseriesParams) -> Self {
        TimeseriesTable {
            parts: 0..params.divisions().len() - 1,
            params,
            schema: timeseries_schema(),
            max_streams: None,
        }
    }

    /// One table per Dask partition, each generating exactly the rows (and values) of its
    /// partition in the whole table.
    pub fn partitions(&self) -> Vec<TimeseriesTable> {
        self.parts
            .clone()
            .map(|part| TimeseriesTable {
                params: self.params.clone(),
                parts: part..part + 1,
                schema: Arc::clone(&self.schema),
                max_streams: self.max_streams,
            })
            .collect()
    }

    /// Only the Dask partitions `parts` (indices into [`TimeseriesParams::divisions`]).
    pub fn with_parts(mut self, parts: std::ops::Range<usize>) -> Self {
        self.parts = parts;
        self
    }

    /// The Dask partitions this table generates.
    pub fn parts(&self) -> std::ops::Range<usize> {
        self.parts.clone()
    }

    /// Generates the rows in at most `streams` streams, whatever the session's partitions.
    pub fn with_max_streams(mut self, streams: usize) -> Self {
        self.max_streams = Some(streams);
        self
    }

    /// The dataset's parameters.
    pub fn params(&self) -> &TimeseriesParams {
        &self.params
    }
}

#[async_trait::async_trait]
impl TableProvider for TimeseriesTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let columns = match projection {
            Some(p) => p.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        Ok(Arc::new(TimeseriesExec::new(
            self.params.clone(),
            self.parts.clone(),
            columns,
            self.max_streams
                .unwrap_or(usize::MAX)
                .min(state.config().target_partitions()),
        )?))
    }
}

/// Generates `timeseries()` rows: Dask's partitions are spread over at most
/// `target_partitions` streams, each generating its partitions one after another.
#[derive(Debug)]
pub struct TimeseriesExec {
    params: TimeseriesParams,
    parts: std::ops::Range<usize>,
    columns: Vec<usize>,
    /// For each output stream, the range of Dask partitions it generates.
    streams: Vec<std::ops::Range<usize>>,
    properties: Arc<PlanProperties>,
    /// Rows generated so far, live: what a progress bar reads.
    metrics: ExecutionPlanMetricsSet,
}

impl TimeseriesExec {
    /// Generates `params`' rows, the columns at indices `columns` of [`timeseries_schema`], in
    /// at most `target_partitions` streams.
    pub fn new(
        params: TimeseriesParams,
        parts: std::ops::Range<usize>,
        columns: Vec<usize>,
        target_partitions: usize,
    ) -> Result<Self> {
        let schema = project_schema(&timeseries_schema(), Some(&columns))?;
        let available = params.divisions().len() - 1;
        if parts.start > parts.end || parts.end > available {
            return plan_err!(
                "timeseries: partitions {}..{} requested of {available}",
                parts.start,
                parts.end
            );
        }
        let partitions = parts.len();
        let stream_count = target_partitions.clamp(1, partitions.max(1));
        let first = parts.start;
        let streams = (0..stream_count)
            .map(|s| {
                (first + s * partitions / stream_count)
                    ..(first + (s + 1) * partitions / stream_count)
            })
            .collect();
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(stream_count),
            EmissionType::Incremental,
            Boundedness::Bounded,
        )
        .with_scheduling_type(SchedulingType::Cooperative);
        Ok(TimeseriesExec {
            params,
            parts,
            columns,
            streams,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// The dataset's parameters.
    pub fn params(&self) -> &TimeseriesParams {
        &self.params
    }

    /// The generated columns, as indices into [`timeseries_schema`].
    pub fn columns(&self) -> &[usize] {
        &self.columns
    }

    /// The Dask partitions it generates.
    pub fn parts(&self) -> std::ops::Range<usize> {
        self.parts.clone()
    }

    /// How many output streams generate the rows.
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }
}

impl TimeseriesExec {
    /// Rows generated for the Dask partitions `parts`.
    fn rows_in(&self, parts: std::ops::Range<usize>) -> u64 {
        let divisions = self.params.divisions();
        parts
            .map(|part| {
                self.params
                    .rows_between(divisions[part], divisions[part + 1])
            })
            .sum()
    }
}

impl DisplayAs for TimeseriesExec {
    fn fmt_as(&self, format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let schema = timeseries_schema();
        let names: Vec<&str> = self
            .columns
            .iter()
            .map(|&i| schema.field(i).name().as_str())
            .collect();
        if let DisplayFormatType::TreeRender = format {
            // One `key=value` per line, as tree explains and task graphs show details.
            return write!(
                f,
                "rows={}\npartitions={} (every {})\nfreq={}\nseed={}",
                self.params.rows(),
                self.params.divisions().len() - 1,
                self.params.partition_freq_text,
                self.params.freq_text,
                self.params.seed,
            );
        }
        write!(
            f,
            "TimeseriesExec: rows={}, partitions={} (every {}), freq={}, seed={}, streams={}, projection=[{}]",
            self.rows_in(self.parts.clone()),
            self.parts.len(),
            self.params.partition_freq_text,
            self.params.freq_text,
            self.params.seed,
            self.streams.len(),
            names.join(", ")
        )
    }
}

impl ExecutionPlan for TimeseriesExec {
    fn name(&self) -> &str {
        "TimeseriesExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    crate::nodes::without_expressions!();

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            Ok(self)
        } else {
            plan_err!("TimeseriesExec has no inputs")
        }
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    /// The row count is known exactly, so a progress bar knows how far a query is.
    fn partition_statistics(&self, partition: Option<usize>) -> Result<Arc<Statistics>> {
        let parts = match partition {
            Some(p) => self.streams.get(p).cloned().unwrap_or(0..0),
            None => self.parts.clone(),
        };
        let rows = self.rows_in(parts);
        let mut statistics = Statistics::new_unknown(&self.schema());
        statistics.num_rows = Precision::Exact(rows as usize);
        Ok(Arc::new(statistics))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let range = self
            .streams
            .get(partition)
            .cloned()
            .ok_or_else(|| plan_datafusion_err!("TimeseriesExec has no stream {partition}"))?;
        let divisions = self.params.divisions();
        let batch_size = context.session_config().batch_size();
        let params = self.params.clone();
        let columns = self.columns.clone();
        let schema = self.schema();
        let generated = BaselineMetrics::new(&self.metrics, partition);
        let batches = range
            .flat_map(move |part| {
                PartitionGenerator::new(
                    &params,
                    part,
                    divisions[part],
                    divisions[part + 1],
                    columns.clone(),
                    Arc::clone(&schema),
                    batch_size,
                )
            })
            .inspect(move |batch| {
                if let Ok(batch) = batch {
                    generated.record_output(batch.num_rows());
                }
            });
        // Generating never waits, so the stream must give the thread back now and then:
        // otherwise other tasks (and Ctrl-C) could starve while a long range is generated.
        Ok(make_cooperative(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            futures::stream::iter(batches),
        ))))
    }
}

/// One Dask partition's rows, a batch at a time.
struct PartitionGenerator {
    next_timestamp: i64,
    freq: i64,
    remaining: u64,
    batch_size: usize,
    columns: Vec<usize>,
    schema: SchemaRef,
    rngs: [SmallRng; 5],
    poisson: Poisson<f64>,
}

impl PartitionGenerator {
    fn new(
        params: &TimeseriesParams,
        partition: usize,
        lo: i64,
        hi: i64,
        columns: Vec<usize>,
        schema: SchemaRef,
        batch_size: usize,
    ) -> Self {
        let rng = |column: u64| {
            SmallRng::seed_from_u64(mix(params.seed, (partition as u64) << 8 | column))
        };
        PartitionGenerator {
            next_timestamp: lo,
            freq: params.freq,
            remaining: params.rows_between(lo, hi),
            batch_size: batch_size.max(1),
            columns,
            schema,
            rngs: [rng(0), rng(1), rng(2), rng(3), rng(4)],
            poisson: Poisson::new(1000.0).expect("λ = 1000 is a valid Poisson rate"),
        }
    }

    fn column(&mut self, index: usize, rows: usize) -> ArrayRef {
        let rng = &mut self.rngs[index];
        match index {
            0 => Arc::new(TimestampNanosecondArray::from_iter_values(
                (0..rows as i64).map(|i| self.next_timestamp + i * self.freq),
            )),
            1 => Arc::new(Int64Array::from_iter_values(
                (0..rows).map(|_| self.poisson.sample(rng) as i64),
            )),
            2 => Arc::new(StringArray::from_iter_values(
                (0..rows).map(|_| NAMES[rng.random_range(0..NAMES.len())]),
            )),
            _ => Arc::new(Float64Array::from_iter_values(
                (0..rows).map(|_| rng.random_range(-1.0..1.0)),
            )),
        }
    }
}

impl Iterator for PartitionGenerator {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let rows = self.remaining.min(self.batch_size as u64) as usize;
        let arrays: Vec<ArrayRef> = self
            .columns
            .clone()
            .into_iter()
            .map(|index| self.column(index, rows))
            .collect();
        self.remaining -= rows as u64;
        self.next_timestamp += rows as i64 * self.freq;
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Some(
            RecordBatch::try_new_with_options(Arc::clone(&self.schema), arrays, &options)
                .map_err(Into::into),
        )
    }
}

/// SplitMix64 finaliser: decorrelates the seeds of neighbouring partitions and columns.
fn mix(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_dask() {
        let p = TimeseriesParams::default();
        assert_eq!(p.start, 946_684_800 * NANOS_PER_SECOND); // 2000-01-01T00:00:00Z
        assert_eq!(p.end - p.start, 30 * 86_400 * NANOS_PER_SECOND);
        assert_eq!(p.rows(), 30 * 86_400);
        assert_eq!(p.divisions().len(), 31);
    }

    #[test]
    fn frequencies_follow_pandas_aliases() {
        assert_eq!(parse_freq("1s").unwrap(), NANOS_PER_SECOND);
        assert_eq!(parse_freq("500ms").unwrap(), NANOS_PER_SECOND / 2);
        assert_eq!(parse_freq("5min").unwrap(), 300 * NANOS_PER_SECOND);
        assert_eq!(parse_freq("H").unwrap(), 3_600 * NANOS_PER_SECOND);
        assert_eq!(parse_freq("1D").unwrap(), 86_400 * NANOS_PER_SECOND);
        assert!(parse_freq("1M").is_err());
        assert!(parse_freq("0s").is_err());
        assert!(parse_freq("fast").is_err());
    }

    #[test]
    fn a_short_last_partition_is_kept() {
        // 2.5 days of hourly rows in daily partitions: 24 + 24 + 12.
        let p = TimeseriesParams::new(
            Some("2000-01-01"),
            Some("2000-01-03 12:00:00"),
            Some("1h"),
            None,
            None,
        )
        .unwrap();
        assert_eq!(p.divisions().len(), 4);
        assert_eq!(p.rows(), 60);
    }

    #[test]
    fn values_do_not_depend_on_batching_or_projection() {
        let p =
            TimeseriesParams::new(None, Some("2000-01-02"), Some("1min"), None, Some(7)).unwrap();
        let (lo, hi) = (p.start, p.end);
        let all = |batch_size, columns: Vec<usize>| -> Vec<f64> {
            let schema = project_schema(&timeseries_schema(), Some(&columns)).unwrap();
            let x = columns.iter().position(|&c| c == 3).unwrap();
            PartitionGenerator::new(&p, 0, lo, hi, columns, schema, batch_size)
                .flat_map(|b| {
                    let b = b.unwrap();
                    let a = b
                        .column(x)
                        .as_any()
                        .downcast_ref::<Float64Array>()
                        .unwrap()
                        .clone();
                    a.values().to_vec()
                })
                .collect()
        };
        let whole = all(10_000, vec![0, 1, 2, 3, 4]);
        assert_eq!(whole.len(), 1440);
        assert_eq!(whole, all(7, vec![3]));
        assert!(whole.iter().all(|v| (-1.0..1.0).contains(v)));
        let mean = whole.iter().sum::<f64>() / whole.len() as f64;
        assert!(mean.abs() < 0.1, "uniform(-1, 1) has mean 0, got {mean}");
    }
}
