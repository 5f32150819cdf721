//! [`OverlapRemoteReads`]: a scan of Parquet files in an object store reads in more streams
//! than the session has partitions, so that fetching and decoding overlap.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::Result;
use datafusion::datasource::physical_plan::ParquetSource;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};

/// How many streams a remote Parquet scan reads in, per partition the session runs.
const REMOTE_STREAMS_PER_PARTITION: usize = 2;

/// Splits a scan of remote Parquet files into [`REMOTE_STREAMS_PER_PARTITION`] times the
/// session's partitions (by byte ranges, as DataFusion splits files; a row group goes to the
/// range holding its middle).
///
/// A Parquet stream asks for a row group's columns only once it has decoded the last row
/// group's: each request's round trip leaves its core idle. From a local disk that wait is a
/// page-cache copy; from an object store it is a request to a server. With twice as many
/// streams as cores, one stream decodes while another waits. CSV and JSON are left as they
/// are: each range is one streamed GET that the socket's buffer reads ahead of the decoder,
/// and more ranges would only add requests (which servers that copy the whole object for
/// each ranged GET, moto among them, pay dearly for).
///
/// With 2 partitions:
///
/// ```text
/// DataSourceExec: file_groups={2 groups: [[a.parquet], [b.parquet]]}, file_type=parquet
/// ```
///
/// becomes
///
/// ```text
/// DataSourceExec: file_groups={4 groups: [[a.parquet:0..33554432], [a.parquet:33554432..67108864],
///   [b.parquet:0..33554432], [b.parquet:33554432..67108864]]}, file_type=parquet
/// ```
///
/// The rule runs right after DataFusion has distributed the plan (which deals every file
/// scan into the session's partitions, whatever it was split into before). A scan it left in
/// several partitions, in no declared partitioning or order, feeds only steps that take any
/// number of partitions: steps partition by partition, repartitions and merges, so
/// aggregations and joins still run in the session's partitions.
///
/// A session of one partition (a machine or container with one core) would read with no
/// overlap at all. There, with [`OverlapRemoteReads::merging`], the scan is split the same
/// way and merged back into one partition, which the steps above it get as before:
///
/// ```text
/// CoalescePartitionsExec
///   DataSourceExec: file_groups={2 groups: [[a.parquet:0..33554432], [a.parquet:33554432..67108864]]}
/// ```
///
/// unless the plan holds a limit: `LIMIT n` without `ORDER BY` takes the first rows of the
/// files, which a merge of two streams would not. Not where a cluster plans the query: there
/// a merge ends a stage, and each of its tasks reads a partition of its own anyway.
///
/// The others keep their partitions: a scan in one partition in a session of several (a
/// step above may need exactly one, as a `LIMIT` does), a sorted one (a step above may rely
/// on its order), one in Dask's partitions (`read_parquet` of a partitioned frame and the
/// like), and local files.
#[derive(Debug, Default)]
pub struct OverlapRemoteReads {
    merging: bool,
}

impl OverlapRemoteReads {
    /// The rule that also splits and merges back the scans of a session of one partition.
    pub fn merging() -> Self {
        Self { merging: true }
    }
}

impl PhysicalOptimizerRule for OverlapRemoteReads {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let one_partition = config.execution.target_partitions == 1;
        let merge_one =
            self.merging && one_partition && !plan.exists(|node| Ok(node.fetch().is_some()))?;
        let streams = config.execution.target_partitions * REMOTE_STREAMS_PER_PARTITION;
        plan.transform_up(|node| {
            let remote_parquet =
                crate::cache::file_scan_config(node.as_ref()).is_some_and(|files| {
                    files
                        .file_source()
                        .downcast_ref::<ParquetSource>()
                        .is_some()
                        && files.object_store_url != ObjectStoreUrl::local_filesystem()
                        && files.output_partitioning.is_none()
                });
            let partitions = node.output_partitioning().partition_count();
            let may_split =
                remote_parquet && node.output_ordering().is_none() && (partitions > 1 || merge_one);
            if !may_split || partitions >= streams {
                return Ok(Transformed::no(node));
            }
            let Some(split) = node.repartitioned(streams, config)? else {
                return Ok(Transformed::no(node));
            };
            Ok(if partitions > 1 {
                Transformed::yes(split)
            } else if split.output_partitioning().partition_count() > 1 {
                Transformed::yes(Arc::new(CoalescePartitionsExec::new(split)) as _)
            } else {
                Transformed::no(node)
            })
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "overlap_remote_reads"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::datasource::listing::PartitionedFile;
    use datafusion::datasource::physical_plan::{
        CsvSource, FileGroup, FileScanConfigBuilder, FileSource,
    };
    use datafusion::datasource::source::DataSourceExec;
    use datafusion::physical_expr::expressions::col;
    use datafusion::physical_expr::{LexOrdering, PhysicalSortExpr};
    use datafusion::physical_plan::limit::GlobalLimitExec;
    use datafusion::physical_plan::{displayable, Partitioning};

    use super::*;

    const SIZE: u64 = 64 << 20;

    fn file(name: &str) -> PartitionedFile {
        PartitionedFile::new(name, SIZE)
    }

    /// A scan of the 64 MiB files `a` and `b` in `format` at `store`, one group each as
    /// DataFusion deals them in 2 partitions, as `shaped` leaves it.
    fn scan(
        store: &str,
        format: &str,
        shaped: impl FnOnce(FileScanConfigBuilder, Arc<Schema>) -> FileScanConfigBuilder,
    ) -> Arc<dyn ExecutionPlan> {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
        let source: Arc<dyn FileSource> = match format {
            "parquet" => Arc::new(ParquetSource::new(Arc::clone(&schema))),
            _ => Arc::new(CsvSource::new(Arc::clone(&schema))),
        };
        let groups = ["a", "b"].map(|name| FileGroup::new(vec![file(&format!("{name}.{format}"))]));
        let files = FileScanConfigBuilder::new(ObjectStoreUrl::parse(store).unwrap(), source)
            .with_file_groups(groups.to_vec());
        DataSourceExec::from_data_source(shaped(files, schema).build())
    }

    fn as_dealt(files: FileScanConfigBuilder, _: Arc<Schema>) -> FileScanConfigBuilder {
        files
    }

    /// `plan` optimized by `rule` in a session of `partitions`, one line per step.
    fn optimized(
        rule: OverlapRemoteReads,
        partitions: usize,
        plan: Arc<dyn ExecutionPlan>,
    ) -> String {
        let mut config = ConfigOptions::new();
        config.execution.target_partitions = partitions;
        let plan = rule.optimize(plan, &config).unwrap();
        let text = displayable(plan.as_ref()).indent(false).to_string();
        text
    }

    /// The file groups of `plan` optimized in a session of 2 partitions.
    fn optimized_groups(plan: Arc<dyn ExecutionPlan>) -> String {
        let text = optimized(OverlapRemoteReads::merging(), 2, plan);
        let groups = text.split("file_groups=").nth(1).unwrap();
        groups[..groups.find("]]}").unwrap() + 3].to_string()
    }

    fn in_one_group(files: FileScanConfigBuilder, _: Arc<Schema>) -> FileScanConfigBuilder {
        files.with_file_groups(vec![FileGroup::new(vec![file("a.parquet")])])
    }

    #[test]
    fn a_session_of_one_partition_reads_in_two_streams_merged_back() {
        let half = SIZE / 2;
        let text = optimized(
            OverlapRemoteReads::merging(),
            1,
            scan("s3://bucket", "parquet", in_one_group),
        );
        assert!(text.starts_with("CoalescePartitionsExec\n"), "{text}");
        assert!(
            text.contains(&format!(
                "file_groups={{2 groups: [[a.parquet:0..{half}], [a.parquet:{half}..{SIZE}]]}}"
            )),
            "{text}"
        );
        // A limit takes the first rows, which only the one stream gives; a cluster's
        // planning (no merging) keeps the scan whole; so does a local scan.
        let kept = "file_groups={1 group: [[a.parquet]]}";
        let limited = Arc::new(GlobalLimitExec::new(
            scan("s3://bucket", "parquet", in_one_group),
            0,
            Some(5),
        ));
        let text = optimized(OverlapRemoteReads::merging(), 1, limited);
        assert!(text.contains(kept) && !text.contains("Coalesce"), "{text}");
        let text = optimized(
            OverlapRemoteReads::default(),
            1,
            scan("s3://bucket", "parquet", in_one_group),
        );
        assert!(text.contains(kept) && !text.contains("Coalesce"), "{text}");
        let text = optimized(
            OverlapRemoteReads::merging(),
            1,
            scan("file://", "parquet", in_one_group),
        );
        assert!(text.contains(kept) && !text.contains("Coalesce"), "{text}");
    }

    #[test]
    fn a_remote_parquet_scan_reads_in_twice_the_sessions_partitions() {
        let half = SIZE / 2;
        assert_eq!(
            optimized_groups(scan("s3://bucket", "parquet", as_dealt)),
            format!(
                "{{4 groups: [[a.parquet:0..{half}], [a.parquet:{half}..{SIZE}], [b.parquet:0..{half}], [b.parquet:{half}..{SIZE}]]}}"
            )
        );
    }

    #[test]
    fn local_files_csv_and_declared_partitions_keep_theirs() {
        let kept = |format: &str| format!("{{2 groups: [[a.{format}], [b.{format}]]}}");
        let remote = "s3://bucket";
        assert_eq!(
            optimized_groups(scan("file://", "parquet", as_dealt)),
            kept("parquet")
        );
        assert_eq!(optimized_groups(scan(remote, "csv", as_dealt)), kept("csv"));
        let declared = scan(remote, "parquet", |files, _| {
            files.with_output_partitioning(Some(Partitioning::UnknownPartitioning(2)))
        });
        assert_eq!(optimized_groups(declared), kept("parquet"));
    }

    #[test]
    fn a_scan_in_one_partition_or_in_order_keeps_its_partitions() {
        let one = scan("s3://bucket", "parquet", |files, _| {
            files.with_file_groups(vec![FileGroup::new(vec![
                file("a.parquet"),
                file("b.parquet"),
            ])])
        });
        assert_eq!(optimized_groups(one), "{1 group: [[a.parquet, b.parquet]]}");
        let sorted = scan("s3://bucket", "parquet", |files, schema| {
            let by_x = PhysicalSortExpr::new_default(col("x", &schema).unwrap());
            files.with_output_ordering(vec![LexOrdering::new([by_x]).unwrap()])
        });
        assert_eq!(
            optimized_groups(sorted),
            "{2 groups: [[a.parquet], [b.parquet]]}"
        );
    }
}
