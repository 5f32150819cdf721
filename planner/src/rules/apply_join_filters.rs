//! [`ApplyJoinFilters`]: the dynamic filters a Parquet scan only prunes row groups with are
//! applied to its rows.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::Result;
use datafusion::datasource::physical_plan::{FileSource, ParquetSource};
use datafusion::physical_expr::expressions::DynamicFilterPhysicalExpr;
use datafusion::physical_expr::utils::{reassign_expr_columns, split_conjunction};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::joins::HashJoinExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::{replace_children_if_necessary, ExecutionPlan};

use crate::operators::JoinFilterExec;

/// Puts a [`JoinFilterExec`] above each Parquet scan holding dynamic filters (pushed by
/// DataFusion's filter pushdown from hash joins, TopK sorts and aggregations) when the scan
/// does not filter rows itself (`parquet.pushdown_filters` off) and its rows would travel
/// before the nearest hash join above sees them: through a repartition, an aggregation, a
/// sort, into a hash join's build side. Right under the probe side of a hash join (through
/// projections and filters only) the filter would repeat the join's own hash lookups for
/// nothing. The filter goes above the static `FilterExec`s over the scan, so that cheap
/// comparisons thin the rows it looks up. Runs after DataFusion's rules, which place the
/// dynamic filters.
///
/// TPC-H Q17's correlated `avg(l_quantity)` per part:
///
/// ```text
/// AggregateExec: mode=Partial, gby=[l_partkey@0 as l_partkey], aggr=[sum, count]
///   DataSourceExec: projection=[l_partkey, l_quantity], file_type=parquet,
///     predicate=DynamicFilter [ l_partkey@1 IN (SET) ([...]) ]
/// ```
///
/// becomes
///
/// ```text
/// AggregateExec: mode=Partial, gby=[l_partkey@0 as l_partkey], aggr=[sum, count]
///   JoinFilterExec: DynamicFilter [ l_partkey@0 IN (SET) ([...]) ]
///     DataSourceExec: projection=[l_partkey, l_quantity], file_type=parquet,
///       predicate=DynamicFilter [ l_partkey@1 IN (SET) ([...]) ]
/// ```
///
/// and the aggregation sees the rows of the 200 parts the outer query asks about, not all 6
/// million. The scan keeps its `predicate` for row-group pruning; the filter's columns are
/// renumbered to the output it filters.
#[derive(Debug, Default)]
pub struct ApplyJoinFilters;

impl PhysicalOptimizerRule for ApplyJoinFilters {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        placed(plan, true)
    }

    fn name(&self) -> &str {
        "apply_join_filters"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `plan` with join filters placed over its scans; `rows_travel` says whether rows coming out
/// of `plan` do work before a hash join probes with them.
fn placed(plan: Arc<dyn ExecutionPlan>, rows_travel: bool) -> Result<Arc<dyn ExecutionPlan>> {
    if plan.downcast_ref::<JoinFilterExec>().is_some() {
        return Ok(plan);
    }
    if rows_travel {
        if let Some(filtered) = filtered_scan(&plan)? {
            return Ok(filtered);
        }
    }
    let is_hash_join = plan.downcast_ref::<HashJoinExec>().is_some();
    let passes_rows = plan.downcast_ref::<ProjectionExec>().is_some()
        || plan.downcast_ref::<FilterExec>().is_some();
    let children = plan.children();
    let mut rebuilt = Vec::with_capacity(children.len());
    for (i, child) in children.iter().enumerate() {
        let travel = if is_hash_join {
            // Its build side's rows fill a hash table; its probe side's rows are looked up
            // in it, as the filter would.
            i == 0
        } else {
            !passes_rows || rows_travel
        };
        rebuilt.push(placed(Arc::clone(child), travel)?);
    }
    replace_children_if_necessary(plan, rebuilt)
}

/// `plan` — a scan holding dynamic filters, or static filters over one — under a
/// [`JoinFilterExec`] of those dynamic filters: above the static filters where they keep
/// the filters' columns, else right above the scan.
fn filtered_scan(plan: &Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let mut scan = plan;
    while let Some(filter) = scan.downcast_ref::<FilterExec>() {
        scan = filter.input();
    }
    let filters = dynamic_filters(scan);
    if filters.is_empty() {
        return Ok(None);
    }
    let over = |node: &Arc<dyn ExecutionPlan>| -> Option<Arc<dyn ExecutionPlan>> {
        let schema = node.schema();
        let filters = filters
            .iter()
            .map(|filter| reassign_expr_columns(Arc::clone(filter), &schema).ok())
            .collect::<Option<Vec<_>>>()?;
        Some(Arc::new(JoinFilterExec::new(Arc::clone(node), filters)))
    };
    if let Some(filtered) = over(plan) {
        return Ok(Some(filtered));
    }
    let Some(at_scan) = over(scan) else {
        return Ok(None);
    };
    let replaced = Arc::clone(plan)
        .transform_down(|node| {
            Ok(if Arc::ptr_eq(&node, scan) {
                Transformed::new(Arc::clone(&at_scan), true, TreeNodeRecursion::Jump)
            } else {
                Transformed::no(node)
            })
        })?
        .data;
    Ok(Some(replaced))
}

/// The dynamic filters of `plan`'s Parquet scan that it applies to no row, as it holds them
/// (over the table's columns).
fn dynamic_filters(plan: &Arc<dyn ExecutionPlan>) -> Vec<Arc<dyn PhysicalExpr>> {
    let Some(files) = crate::cache::file_scan_config(plan.as_ref()) else {
        return vec![];
    };
    let Some(parquet) = files.file_source().downcast_ref::<ParquetSource>() else {
        return vec![];
    };
    let (Some(predicate), false) = (
        parquet.filter(),
        parquet.table_parquet_options().global.pushdown_filters,
    ) else {
        return vec![];
    };
    split_conjunction(&predicate)
        .into_iter()
        .filter(|expr| expr.downcast_ref::<DynamicFilterPhysicalExpr>().is_some())
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::physical_plan::displayable;
    use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

    use super::ApplyJoinFilters;

    fn tpch(table: &str) -> String {
        format!(
            "{}/../testdata/tpch/{table}.parquet",
            env!("CARGO_MANIFEST_DIR")
        )
    }

    /// The physical plan of `sql` over TPC-H's part and lineitem, with `ApplyJoinFilters`
    /// run after DataFusion's rules, one operator a line (names and scans' files only).
    async fn plan(sql: &str, pushdown_filters: bool) -> Vec<String> {
        let mut config = SessionConfig::new().with_target_partitions(1);
        config.options_mut().execution.parquet.pushdown_filters = pushdown_filters;
        let state = datafusion::execution::SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .with_physical_optimizer_rule(Arc::new(ApplyJoinFilters))
            .build();
        let ctx = SessionContext::new_with_state(state);
        for table in ["part", "lineitem"] {
            ctx.register_parquet(table, tpch(table), ParquetReadOptions::default())
                .await
                .unwrap();
        }
        let physical = ctx
            .sql(sql)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let text = displayable(physical.as_ref()).indent(true).to_string();
        text.lines()
            .map(|line| {
                let name_end = line.find(':').unwrap_or(line.len());
                let file = ["part.parquet", "lineitem.parquet"]
                    .into_iter()
                    .find(|file| line.contains(file))
                    .map(|file| format!(" {file}"))
                    .unwrap_or_default();
                let filter = if line.contains("DynamicFilter") {
                    " (dynamic filter)"
                } else {
                    ""
                };
                format!("{}{file}{filter}", &line[..name_end])
            })
            .collect()
    }

    /// Parts of one brand joined with lineitem's quantities per part.
    const PER_PART: &str = "SELECT p_partkey, q FROM part JOIN \
        (SELECT l_partkey, sum(l_quantity) AS q FROM lineitem WHERE l_quantity > 10 GROUP BY l_partkey) \
        ON p_partkey = l_partkey WHERE p_brand = 'Brand#23'";

    #[tokio::test]
    async fn rows_aggregated_before_the_join_are_filtered_above_the_static_filters() {
        let expected = [
            "HashJoinExec",
            "  FilterExec",
            "    DataSourceExec part.parquet",
            "  ProjectionExec",
            "    AggregateExec",
            "      JoinFilterExec (dynamic filter)",
            "        FilterExec",
            "          DataSourceExec lineitem.parquet (dynamic filter)",
        ];
        assert_eq!(plan(PER_PART, false).await, expected);
    }

    #[tokio::test]
    async fn a_scan_the_join_probes_directly_is_left_to_the_join() {
        let join = "SELECT sum(l_quantity) FROM lineitem JOIN part ON l_partkey = p_partkey \
                    WHERE p_brand = 'Brand#23'";
        let expected = [
            "AggregateExec",
            "  HashJoinExec",
            "    FilterExec",
            "      DataSourceExec part.parquet",
            "    DataSourceExec lineitem.parquet (dynamic filter)",
        ];
        assert_eq!(plan(join, false).await, expected);
    }

    #[tokio::test]
    async fn scans_that_filter_rows_themselves_or_have_no_dynamic_filter_are_left_alone() {
        let pushed = plan(PER_PART, true).await;
        assert!(
            pushed.iter().all(|line| !line.contains("JoinFilterExec")),
            "{pushed:?}"
        );
        let alone = plan(
            "SELECT sum(l_quantity) FROM lineitem WHERE l_quantity > 10",
            false,
        )
        .await;
        assert!(
            alone.iter().all(|line| !line.contains("JoinFilterExec")),
            "{alone:?}"
        );
    }
}
