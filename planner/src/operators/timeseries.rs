//! [`TimeseriesExec`]: the rows of `timeseries()`, generated batch by batch as they are read.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Float64Array, Int64Array, StringArray, TimestampNanosecondArray,
};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::stats::Precision;
use datafusion::common::{internal_datafusion_err, plan_err, project_schema, Result};
use datafusion::common::{ScalarValue, Statistics};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
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

use super::Operator;
use crate::timeseries::{timeseries_schema, TimeseriesParams, NAMES};

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

/// A leaf: generated rows have no input.
impl Operator for TimeseriesExec {
    fn inputs(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn with_inputs(self: Arc<Self>, _: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<Self>> {
        Ok(self)
    }

    fn plan_properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }
}

impl ExecutionPlan for TimeseriesExec {
    crate::operator_methods!();

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    /// The row count is known exactly, so a progress bar knows how far a query is.
    fn partition_statistics(&self, partition: Option<usize>) -> Result<Arc<Statistics>> {
        let parts = match partition {
            Some(p) => self.streams.get(p).cloned().unwrap_or(0..0),
            None => self.parts.clone(),
        };
        let rows = self.rows_in(parts.clone());
        let mut statistics = Statistics::new_unknown(&self.schema());
        statistics.num_rows = Precision::Exact(rows as usize);
        // The timestamps' range is known too, so `min`/`max` of it (set_index(sorted=True)
        // measuring each day) need no rows generated.
        if let (Ok(index), Some(first), Some(last)) = (
            self.schema().index_of("timestamp"),
            parts.clone().next(),
            parts.last(),
        ) {
            let divisions = self.params.divisions();
            let rows_last = self
                .params
                .rows_between(divisions[last], divisions[last + 1]);
            let max = divisions[last] + (rows_last as i64 - 1) * self.params.freq;
            let stamp =
                |ns: i64| Precision::Exact(ScalarValue::TimestampNanosecond(Some(ns), None));
            let column = &mut statistics.column_statistics[index];
            column.min_value = stamp(divisions[first]);
            column.max_value = stamp(max);
            column.null_count = Precision::Exact(0);
        }
        Ok(Arc::new(statistics))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let range =
            self.streams.get(partition).cloned().ok_or_else(|| {
                internal_datafusion_err!("TimeseriesExec has no stream {partition}")
            })?;
        let divisions = self.params.divisions();
        let batch_size = context.session_config().batch_size();
        let params = self.params.clone();
        let columns = self.columns.clone();
        let schema = self.schema();
        let generated = BaselineMetrics::new(&self.metrics, partition);
        let stopped = context.session_config().get_extension::<QueryStopped>();
        let mut generating = range.flat_map(move |part| {
            PartitionGenerator::new(
                &params,
                part,
                divisions[part],
                divisions[part + 1],
                columns.clone(),
                Arc::clone(&schema),
                batch_size,
            )
        });
        // Batches are made when asked for: the time to make each is the generator's compute.
        let compute = generated.elapsed_compute().clone();
        let timed = std::iter::from_fn(move || {
            let _timer = compute.timer();
            generating.next()
        });
        let batches = timed
            .take_while(move |_| !stopped.as_ref().is_some_and(|s| s.is_stopped()))
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

/// Raised once the query a task context runs was cancelled or failed (kept in its session
/// config): generators stop at their next batch. Below a partial aggregation a generator is
/// never told that nobody reads any more (the aggregation sends only at its input's end),
/// so the tasks of a cancelled query over many daily partitions would go on generating for
/// minutes.
#[derive(Debug, Default)]
pub struct QueryStopped(AtomicBool);

impl QueryStopped {
    /// Tells the query's generators to stop.
    pub fn stop(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed)
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
