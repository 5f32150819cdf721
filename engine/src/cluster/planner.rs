//! The client side: a session whose queries are planned and run by a Ballista scheduler.

use std::sync::Arc;

use async_trait::async_trait;
use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::planner::{scans_only_information_schema, BallistaQueryPlanner};
use datafusion::catalog::{Session as CatalogSession, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{plan_err, DataFusionError, Result};
use datafusion::datasource::listing::ListingTable;
use datafusion::datasource::{source_as_provider, MemTable};
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::bytes::logical_plan_to_bytes_with_extension_codec;
use datafusion_proto::protobuf::LogicalPlanNode;

use super::codec::RaskCodec;
use super::watch::WatchedExec;

/// Refuses, before anything is sent, the plans a cluster cannot run, then hands the plan to
/// Ballista's planner, which submits it to the scheduler.
#[derive(Debug)]
struct ClusterPlanner {
    ballista: BallistaQueryPlanner<LogicalPlanNode>,
    codec: Arc<RaskCodec>,
    /// The scheduler, `df://host:port`.
    url: String,
}

#[async_trait]
impl QueryPlanner for ClusterPlanner {
    async fn create_physical_plan(
        &self,
        plan: &LogicalPlan,
        session: &dyn CatalogSession,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // Questions about this session's own catalog and schemas are answered here: the
        // cluster does not share the catalog, and DESCRIBE reads no data.
        if matches!(plan, LogicalPlan::DescribeTable(_)) {
            return DefaultPhysicalPlanner::default()
                .create_physical_plan(plan, session)
                .await;
        }
        if scans_only_information_schema(plan)? {
            return self.ballista.create_physical_plan(plan, session).await;
        }
        let plan = rask_planner::extension::for_cluster(plan.clone())?;
        check_remote(&plan, &self.codec)?;
        let submitted = self.ballista.create_physical_plan(&plan, session).await?;
        Ok(Arc::new(WatchedExec::new(submitted, self.url.clone())))
    }
}

/// Why `plan` cannot leave this process, if it cannot: the data of in-memory tables lives only
/// here, DataFusion 55 does not tell workers that files are compressed, and every other node
/// must have a codec.
fn check_remote(plan: &LogicalPlan, codec: &RaskCodec) -> Result<()> {
    let mut refusal = None;
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let provider: Arc<dyn TableProvider> = source_as_provider(&scan.source)?;
            refusal = local_only(&scan.table_name.to_string(), provider.as_ref());
            if refusal.is_some() {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    if let Some(reason) = refusal {
        return plan_err!("cannot run on the cluster: {reason}");
    }
    logical_plan_to_bytes_with_extension_codec(plan, codec)
        .map(|_| ())
        .map_err(|e| {
            DataFusionError::Plan(format!(
                "cannot run on the cluster: the plan cannot be sent to the scheduler ({})",
                e.strip_backtrace()
            ))
        })
}

/// Why the table `name` can only be read in this process, if so.
fn local_only(name: &str, table: &dyn TableProvider) -> Option<String> {
    let in_memory = table.downcast_ref::<MemTable>().is_some()
        || table
            .downcast_ref::<crate::partitioned::Persisted>()
            .is_some();
    if in_memory {
        return Some(format!(
            "'{name}' is an in-memory table (from_batches, from_columns, CREATE TABLE AS, persist() or a computed result), which the workers cannot read; write it to a shared path (to_parquet) and read that"
        ));
    }
    let listing = table.downcast_ref::<ListingTable>()?;
    let compressed = listing
        .options()
        .format
        .compression_type()
        .is_some_and(|c| c.is_compressed());
    compressed.then(|| {
        format!(
            "'{name}' is compressed, and the workers would read it as plain text (DataFusion 55 does not send the compression with the plan); decompress it, or convert it to Parquet"
        )
    })
}

/// A context whose queries run on the scheduler at `address` (`host:port`), with `config`
/// and `runtime` for what stays on the client (planning, catalog, results).
pub(crate) async fn cluster_state(
    address: &str,
    config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
) -> Result<SessionContext> {
    let codec = Arc::new(RaskCodec::default());
    let config = config
        .with_ballista_logical_extension_codec(codec.clone())
        .with_ballista_physical_extension_codec(codec.clone())
        .upgrade_for_ballista();
    let planner = ClusterPlanner {
        ballista: BallistaQueryPlanner::with_extension(
            format!("http://{address}"),
            config.ballista_config(),
            codec.clone(),
        ),
        codec,
        url: format!("df://{address}"),
    };
    let config = config.with_ballista_query_planner(Arc::new(planner));
    let state = SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .with_runtime_env(runtime)
        .build();
    SessionContext::remote_with_state(&format!("df://{address}"), state).await
}
