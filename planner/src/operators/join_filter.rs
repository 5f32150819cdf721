//! [`JoinFilterExec`]: the rows of a Parquet scan that a join's dynamic filter already rules
//! out are dropped as they are read, not after travelling up to the join.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use datafusion::arrow::compute::BatchCoalescer;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::Result;
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::filter::batch_filter;
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan};
use futures::{Stream, StreamExt};

use super::OneInput;

/// Rows a partition filters before judging whether its filter is worth its cost.
const SAMPLE_ROWS: usize = 65_536;

/// Applies the dynamic filters DataFusion pushed into a Parquet scan (a hash join's build-side
/// keys, a TopK's current bound) to the scan's rows.
///
/// With `parquet.pushdown_filters` off (Rask's default: static filters are cheaper evaluated
/// after decoding, measured on TPC-H) such a filter only skips row groups whose statistics
/// exclude it, which a join on keys spread over the file rarely does: every row travels on to
/// the join, through repartitions and aggregations — TPC-H Q17 aggregates all 6 million rows
/// of lineitem per part to compare 6,000 of them. Here the rows are dropped right above the
/// scan, and what is left is gathered into full batches again.
///
/// Filtering costs a hash lookup per row, as the join's probe does, so each filter is tried:
/// the filters run one after the other, each on the rows the ones before kept, and a filter
/// that keeps more than half of the first [`SAMPLE_ROWS`] rows it sees in a partition is not
/// evaluated again there. A filter not yet set (its join still building) lets rows pass;
/// the join drops them later.
#[derive(Debug)]
pub struct JoinFilterExec {
    input: Arc<dyn ExecutionPlan>,
    filters: Vec<Arc<dyn PhysicalExpr>>,
    metrics: ExecutionPlanMetricsSet,
}

impl JoinFilterExec {
    /// Filters `input` by `filters`, dynamic filters over `input`'s columns.
    pub fn new(input: Arc<dyn ExecutionPlan>, filters: Vec<Arc<dyn PhysicalExpr>>) -> Self {
        JoinFilterExec {
            input,
            filters,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for JoinFilterExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "JoinFilterExec: ")?;
        for (i, filter) in self.filters.iter().enumerate() {
            if i > 0 {
                write!(f, " AND ")?;
            }
            write!(f, "{filter}")?;
        }
        Ok(())
    }
}

impl OneInput for JoinFilterExec {
    fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }

    fn with_input(&self, input: Arc<dyn ExecutionPlan>) -> Result<Self> {
        Ok(JoinFilterExec::new(input, self.filters.clone()))
    }

    fn expressions(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        self.filters.iter().collect()
    }
}

impl ExecutionPlan for JoinFilterExec {
    crate::operator_methods!();

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let batch_size = context.session_config().batch_size();
        // Batches of at least half the size go on as they are; smaller ones are gathered.
        let coalescer = BatchCoalescer::new(self.schema(), batch_size)
            .with_biggest_coalesce_batch_size(Some(batch_size / 2));
        Ok(Box::pin(JoinFilterStream {
            input: Some(self.input.execute(partition, context)?),
            filters: self.filters.iter().map(Filter::new).collect(),
            coalescer,
            schema: self.schema(),
            baseline: BaselineMetrics::new(&self.metrics, partition),
            dropped: MetricBuilder::new(&self.metrics).counter("rows_dropped", partition),
            unfiltered: MetricBuilder::new(&self.metrics).counter("rows_unfiltered", partition),
        }))
    }
}

/// One dynamic filter of a partition, and what it has kept while on trial.
struct Filter {
    expr: Arc<dyn PhysicalExpr>,
    seen: usize,
    kept: usize,
    on_trial: bool,
    applied: bool,
}

impl Filter {
    fn new(expr: &Arc<dyn PhysicalExpr>) -> Self {
        Filter {
            expr: Arc::clone(expr),
            seen: 0,
            kept: 0,
            on_trial: true,
            applied: true,
        }
    }

    /// Whether its producer has set it (generation 1 is the placeholder, `true`).
    fn set(&self) -> bool {
        self.expr.snapshot_generation() > 1
    }

    fn apply(&mut self, batch: &RecordBatch) -> Result<RecordBatch> {
        let kept = batch_filter(batch, &self.expr)?;
        if self.on_trial {
            self.seen += batch.num_rows();
            self.kept += kept.num_rows();
            if self.seen >= SAMPLE_ROWS {
                self.on_trial = false;
                self.applied = self.kept * 2 <= self.seen;
            }
        }
        Ok(kept)
    }
}

struct JoinFilterStream {
    /// `None` once the input has ended.
    input: Option<SendableRecordBatchStream>,
    filters: Vec<Filter>,
    coalescer: BatchCoalescer,
    schema: SchemaRef,
    baseline: BaselineMetrics,
    dropped: Count,
    unfiltered: Count,
}

impl JoinFilterStream {
    /// Filters `batch` by one filter after the other, each on the rows the ones before kept,
    /// and hands what is left to the coalescer.
    fn push(&mut self, batch: RecordBatch) -> Result<()> {
        let _timer = self.baseline.elapsed_compute().timer();
        let rows = batch.num_rows();
        let mut kept = batch;
        let mut filtered = false;
        for filter in self.filters.iter_mut() {
            if kept.num_rows() == 0 {
                break;
            }
            if filter.applied && filter.set() {
                kept = filter.apply(&kept)?;
                filtered = true;
            }
        }
        if filtered {
            self.dropped.add(rows - kept.num_rows());
        } else {
            self.unfiltered.add(rows);
        }
        Ok(self.coalescer.push_batch(kept)?)
    }
}

impl Stream for JoinFilterStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(batch) = self.coalescer.next_completed_batch() {
                return self.baseline.record_poll(Poll::Ready(Some(Ok(batch))));
            }
            let Some(input) = self.input.as_mut() else {
                return self.baseline.record_poll(Poll::Ready(None));
            };
            let outcome = match input.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(batch))) => self.push(batch),
                Poll::Ready(Some(Err(e))) => Err(e),
                Poll::Ready(None) => {
                    self.input = None;
                    self.coalescer.finish_buffered_batch().map_err(Into::into)
                }
            };
            if let Err(e) = outcome {
                return self.baseline.record_poll(Poll::Ready(Some(Err(e))));
            }
        }
    }
}

impl RecordBatchStream for JoinFilterStream {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{AsArray, Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::logical_expr::Operator;
    use datafusion::physical_expr::expressions::{binary, col, lit, DynamicFilterPhysicalExpr};
    use datafusion::physical_expr::PhysicalExpr;
    use datafusion::physical_plan::{collect, ExecutionPlan};
    use datafusion::prelude::SessionContext;

    use super::{JoinFilterExec, SAMPLE_ROWS};

    const ROWS: i64 = 200_000;
    const BATCH: i64 = 8_192;

    /// `a` = 0, 1, …, ROWS - 1 in batches of BATCH rows, filtered by `filter` (unset, or set to
    /// `a < below` or `a % 4 != 0`): the values of `a` that come out and the operator's
    /// metrics.
    async fn run(filter: Option<&str>) -> (Vec<i64>, usize, usize) {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, false)]));
        let batches: Vec<RecordBatch> = (0..ROWS)
            .step_by(BATCH as usize)
            .map(|start| {
                let values = Int64Array::from_iter_values(start..(start + BATCH).min(ROWS));
                RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(values)]).unwrap()
            })
            .collect();
        let input =
            MemorySourceConfig::try_new_exec(&[batches], Arc::clone(&schema), None).unwrap();
        let a = col("a", &schema).unwrap();
        let dynamic = Arc::new(DynamicFilterPhysicalExpr::new(
            vec![Arc::clone(&a)],
            lit(true),
        ));
        let set: Option<Arc<dyn PhysicalExpr>> = match filter {
            None => None,
            Some("a < 1000") => {
                Some(binary(Arc::clone(&a), Operator::Lt, lit(1000i64), &schema).unwrap())
            }
            Some("a % 4 != 0") => {
                let remainder =
                    binary(Arc::clone(&a), Operator::Modulo, lit(4i64), &schema).unwrap();
                Some(binary(remainder, Operator::NotEq, lit(0i64), &schema).unwrap())
            }
            Some(other) => panic!("no filter {other}"),
        };
        if let Some(expr) = set {
            dynamic.update(expr).unwrap();
        }
        let exec = Arc::new(JoinFilterExec::new(input, vec![dynamic]));
        let out = collect(exec.clone(), SessionContext::new().task_ctx())
            .await
            .unwrap();
        let values = out
            .iter()
            .flat_map(|batch| {
                batch
                    .column(0)
                    .as_primitive::<Int64Type>()
                    .values()
                    .to_vec()
            })
            .collect();
        let metrics = exec.metrics().unwrap();
        let count = |name: &str| metrics.sum_by_name(name).map_or(0, |v| v.as_usize());
        (values, count("rows_dropped"), count("rows_unfiltered"))
    }

    #[tokio::test]
    async fn a_filter_not_yet_set_passes_every_row() {
        let (values, dropped, unfiltered) = run(None).await;
        assert_eq!(values, (0..ROWS).collect::<Vec<_>>());
        assert_eq!((dropped, unfiltered), (0, ROWS as usize));
    }

    #[tokio::test]
    async fn a_selective_filter_drops_rows_to_the_end() {
        let (values, dropped, unfiltered) = run(Some("a < 1000")).await;
        assert_eq!(values, (0..1000).collect::<Vec<_>>());
        assert_eq!((dropped, unfiltered), (ROWS as usize - 1000, 0));
    }

    #[tokio::test]
    async fn a_filter_keeping_most_rows_stops_after_its_sample() {
        let (values, dropped, unfiltered) = run(Some("a % 4 != 0")).await;
        // The sample ends with the batch that reaches SAMPLE_ROWS rows.
        let sampled = (SAMPLE_ROWS as i64 + BATCH - 1) / BATCH * BATCH;
        let expected: Vec<i64> = (0..ROWS).filter(|a| *a >= sampled || a % 4 != 0).collect();
        assert_eq!(values, expected);
        assert_eq!(dropped, sampled as usize / 4);
        assert_eq!(unfiltered, (ROWS - sampled) as usize);
    }
}
