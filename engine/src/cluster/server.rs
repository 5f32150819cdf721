//! The scheduler and worker processes (`query scheduler`, `query worker`).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ballista_core::config::TaskSchedulingPolicy;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service_with_listener};
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use tokio::net::TcpListener;

use super::codec::RaskCodec;
use super::info::worker_id;
use super::{scheduler_address, CONNECT_TIMEOUT};
use crate::error::{Error, Result};
use crate::scratch::ScratchDir;

/// Seconds without news from a worker after which the scheduler gives its tasks to the
/// others; Ballista's default (3 minutes) would leave a query waiting that long on a worker
/// that was killed.
const WORKER_TIMEOUT_SECONDS: u64 = 10;

fn cluster_error(what: &str, error: impl std::fmt::Display) -> Error {
    Error::execution(format!("{what}: {error}"))
}

/// Runs a scheduler on `listener` until `shutdown` completes or serving fails.
///
/// Workers pull their tasks (rather than the scheduler pushing them), so the scheduler never
/// connects to a worker: only workers and clients must reach the scheduler's address.
pub async fn serve_scheduler(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let address = listener
        .local_addr()
        .map_err(|e| cluster_error("cannot start the scheduler", e))?;
    let codec = Arc::new(RaskCodec::default());
    let config = SchedulerConfig {
        bind_host: address.ip().to_string(),
        bind_port: address.port(),
        external_host: address.ip().to_string(),
        scheduling_policy: TaskSchedulingPolicy::PullStaged,
        executor_timeout_seconds: WORKER_TIMEOUT_SECONDS,
        expire_dead_executor_interval_seconds: 2,
        no_executors_grace_period_seconds: WORKER_TIMEOUT_SECONDS,
        override_logical_codec: Some(codec.clone()),
        override_physical_codec: Some(codec),
        override_session_builder: Some(Arc::new(rask_session_state)),
        override_config_producer: Some(Arc::new(crate::config::cluster_session_config)),
        ..SchedulerConfig::default()
    };
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| cluster_error("cannot start the scheduler", e))?;
    let scheduler =
        create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, Arc::new(config))
            .await
            .map_err(|e| cluster_error("cannot start the scheduler", e))?;
    tokio::select! {
        served = start_grpc_service_with_listener(listener, scheduler) => {
            served.map_err(|e| cluster_error("the scheduler stopped", e))
        }
        () = shutdown => Ok(()),
    }
}

/// Ballista's scheduler session, planning Rask's own nodes (such as `map_partitions`) too,
/// and the workers' watch for quotes.
fn rask_session_state(
    config: datafusion::prelude::SessionConfig,
) -> datafusion::common::Result<datafusion::execution::SessionState> {
    let state = ballista_core::utils::default_session_builder(config)?;
    // The scheduler lists the files of remote tables again when it splits their scans.
    let runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::from_runtime_env(
        state.runtime_env(),
    )
    .with_object_store_registry(crate::config::object_stores_for(
        state.config(),
        &crate::config::object_stores(),
    ))
    .build_arc()?;
    Ok(
        datafusion::execution::SessionStateBuilder::new_from_existing(state)
            .with_query_planner(Arc::new(SchedulerPlanner))
            .with_runtime_env(runtime)
            .build(),
    )
}

/// Rask's planner, whose plans then have their CSV scans watched for quotes on the workers
/// ([`WatchQuotes`](rask_planner::rules::WatchQuotes)). The rule is applied here rather than
/// among the session's optimizer rules, which Ballista's adaptive planner replaces by its own.
#[derive(Debug)]
struct SchedulerPlanner;

#[async_trait::async_trait]
impl QueryPlanner for SchedulerPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session: &dyn datafusion::catalog::Session,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        let plan = rask_planner::extension::RaskQueryPlanner
            .create_physical_plan(logical_plan, session)
            .await?;
        rask_planner::rules::WatchQuotes.optimize(plan, session.config_options())
    }
}

/// How a worker (`query worker`) runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The scheduler, `df://host:port` or `host:port`.
    pub scheduler: String,
    /// Address to serve results on; the port `0` picks a free one.
    pub bind: SocketAddr,
    /// Tasks run at once (default: all cores).
    pub slots: Option<usize>,
    /// Memory all tasks together may hold, in bytes; beyond it they spill (default: a share
    /// of the machine's memory).
    pub memory_limit: Option<u64>,
    /// The directory in which the worker keeps its shuffle and spill files, in a folder of
    /// its own removed when it stops (default: the system's temporary directory).
    pub work_dir: Option<PathBuf>,
    /// Stop when the process that started this one ends, so that a [`LocalCluster`]'s
    /// workers never outlive it, even when it is killed.
    ///
    /// [`LocalCluster`]: super::LocalCluster
    pub exit_with_parent: bool,
}

/// A free TCP port on `host`. The port is released before Ballista binds it, so another
/// process could take it in between; the worker then fails to start with a clear error.
fn free_port(host: std::net::IpAddr) -> Result<u16> {
    std::net::TcpListener::bind((host, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|e| cluster_error("cannot find a free port for the worker", e))
}

/// Runs a worker until Ctrl-C or SIGTERM (then it tells the scheduler it leaves and finishes
/// its running tasks), or until it cannot reach the scheduler.
pub async fn serve_worker(options: WorkerOptions) -> Result<()> {
    let scheduler = scheduler_address(&options.scheduler)?;
    let Some((scheduler_host, scheduler_port)) = scheduler
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host.to_string(), port.parse().ok()?)))
    else {
        return Err(cluster_error("invalid scheduler address", &scheduler));
    };
    // Fail fast and clearly when nothing listens there: Ballista's own attempt reports only
    // "Could not connect to scheduler".
    super::info::cluster_info(&scheduler).await?;
    let host = options.bind.ip();
    let port = match options.bind.port() {
        0 => free_port(host)?,
        port => port,
    };
    let advertised = if host.is_unspecified() {
        None
    } else {
        Some(host.to_string())
    };
    crate::partitioned::register_builtin_partition_functions();
    // Shuffle and spill files live in a directory of this process, removed when it stops and
    // swept by the next worker if it was killed.
    let work_dir = ScratchDir::create(
        &options.work_dir.unwrap_or_else(std::env::temp_dir),
        "worker",
    )?;
    let codec = Arc::new(RaskCodec::default());
    let scratch = work_dir.path().to_path_buf();
    // Each worker builds its object stores from its own environment and the options its
    // tasks' sessions carry, secrets excepted: no secret travels. Tasks of sessions that
    // carry none share one set of stores, and so their connections.
    let stores = crate::config::object_stores();
    let runtime: ballista_core::RuntimeProducer = Arc::new(move |config| {
        datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
            .with_temp_file_path(scratch.clone())
            .with_object_store_registry(crate::config::object_stores_for(config, &stores))
            .build_arc()
    });
    let config = ExecutorProcessConfig {
        executor_id: worker_id(
            &advertised.clone().unwrap_or_else(|| "worker".into()),
            port,
            options.memory_limit,
        ),
        bind_host: host.to_string(),
        external_host: advertised,
        port,
        grpc_port: free_port(host)?,
        scheduler_host,
        scheduler_port,
        scheduler_connect_timeout_seconds: CONNECT_TIMEOUT.as_secs() as u16,
        vcores: options.slots.unwrap_or(0),
        task_scheduling_policy: TaskSchedulingPolicy::PullStaged,
        work_dir: Some(work_dir.path().to_string_lossy().into_owned()),
        executor_heartbeat_interval_seconds: 2,
        memory_pool_size: options.memory_limit,
        override_runtime_producer: Some(runtime),
        override_config_producer: Some(Arc::new(crate::config::cluster_session_config)),
        override_logical_codec: Some(codec.clone()),
        override_physical_codec: Some(codec),
        // Ballista's own registry lacks DataFusion's array functions (`range`, `make_array`,
        // …), which a plan may use: a worker knows every function a session knows.
        override_function_registry: Some(Arc::new(BallistaFunctionRegistry::from(
            &SessionStateBuilder::new().with_default_features().build(),
        ))),
        ..ExecutorProcessConfig::default()
    };
    let serving = start_executor_process(Arc::new(config));
    let orphaned = async {
        if options.exit_with_parent {
            parent_gone().await
        } else {
            std::future::pending().await
        }
    };
    tokio::select! {
        served = serving => served.map_err(|e| cluster_error("the worker stopped", e)),
        () = orphaned => Ok(()),
    }
}

/// Completes when the parent process has ended: the process is then re-parented, so its
/// parent id changes.
async fn parent_gone() {
    #[cfg(unix)]
    {
        let parent = std::os::unix::process::parent_id();
        while std::os::unix::process::parent_id() == parent {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }
    #[cfg(not(unix))]
    std::future::pending::<()>().await
}
