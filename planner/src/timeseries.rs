//! `timeseries(start, end, freq, partition_freq, seed)`: the built-in dataset of
//! `dask.datasets.timeseries()`.
//!
//! One row per `freq` from `start` (inclusive) to `end` (exclusive), in one partition per
//! `partition_freq`, with Dask's columns: `timestamp`, `id` (Poisson, λ = 1000), `name` (one of
//! 26 first names, uniformly), `x` and `y` (uniform on [-1, 1)). Rows are generated lazily,
//! batch by batch, inside each partition's stream, so any range runs in constant memory; each
//! partition and column has its own random stream derived from the seed, so the values do not
//! depend on how many threads run, which columns a query reads, or where a query stops.
//! [`TimeseriesTable`] is the table; [`TimeseriesExec`] generates its rows.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{plan_datafusion_err, plan_err, Result};
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;

use crate::operators::TimeseriesExec;

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

/// The most partitions `timeseries()` cuts its span into.
pub const MAX_PARTITIONS: usize = 100_000;

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
        // Each partition is a task with its own state; a tiny partition_freq over a long span
        // would plan billions of them.
        let span = (end as i128 - start as i128) as u128;
        let partitions = span.div_ceil(partition_freq as u128);
        if partitions > MAX_PARTITIONS as u128 {
            return plan_err!(
                "timeseries: partition_freq '{partition_freq_text}' cuts the span into {partitions} partitions, more than {MAX_PARTITIONS}; use a longer partition_freq"
            );
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
    pub(crate) fn rows_between(&self, lo: i64, hi: i64) -> u64 {
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
    /// Whether each Dask partition is a stream of its own, whatever the session's partitions.
    stream_per_part: bool,
}

impl TimeseriesTable {
    /// A table generating `params`' rows when scanned.
    pub fn new(params: TimeseriesParams) -> Self {
        TimeseriesTable {
            parts: 0..params.divisions().len() - 1,
            params,
            schema: timeseries_schema(),
            max_streams: None,
            stream_per_part: false,
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
                stream_per_part: self.stream_per_part,
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

    /// Generates each Dask partition in a stream of its own, so the frame's partitions are
    /// Dask's (30 for the default month) however many the session runs.
    pub fn with_stream_per_part(mut self) -> Self {
        self.stream_per_part = true;
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
        let streams = if self.stream_per_part {
            self.parts.len()
        } else {
            self.max_streams
                .unwrap_or(usize::MAX)
                .min(state.config().target_partitions())
        };
        Ok(Arc::new(TimeseriesExec::new(
            self.params.clone(),
            self.parts.clone(),
            columns,
            streams,
        )?))
    }
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
    fn partitions_past_the_limit_are_refused_before_they_are_planned() {
        let within = TimeseriesParams::new(None, Some("2000-01-02"), None, Some("1s"), None);
        // One day of one-second partitions: 86,400, within the limit.
        assert_eq!(within.unwrap().divisions().len(), 86_401);
        let refused = TimeseriesParams::new(None, None, None, Some("1ns"), None)
            .unwrap_err()
            .strip_backtrace();
        assert!(
            refused.contains("partition_freq '1ns' cuts the span into 2592000000000000 partitions, more than 100000"),
            "{refused}"
        );
    }
}
