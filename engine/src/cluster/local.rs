//! A cluster on this machine, as Dask's `LocalCluster`: a scheduler in this process and worker
//! processes on 127.0.0.1.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::info::cluster_info;
use super::server::serve_scheduler;
use crate::error::{Error, Result};

/// How long workers have to start and register.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Names the `query` binary that worker processes run.
pub const QUERY_BIN_ENV: &str = "RASK_QUERY_BIN";

/// A scheduler and worker processes on 127.0.0.1, on free ports; dropping it stops them all.
///
/// Workers run the `query` binary (`query worker`): the one named by `RASK_QUERY_BIN`, else
/// this program if it is `query`, else a `query` beside this program or one directory up (where
/// Cargo puts it relative to tests and examples).
#[derive(Debug)]
pub struct LocalCluster {
    url: String,
    workers: Vec<Child>,
    stop_scheduler: Option<oneshot::Sender<()>>,
}

fn start_error(message: impl Into<String>) -> Error {
    Error::execution(format!(
        "cannot start the local cluster: {}",
        message.into()
    ))
}

/// The `query` binary; see [`LocalCluster`].
fn query_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(QUERY_BIN_ENV) {
        return Ok(PathBuf::from(path));
    }
    let name = format!("query{}", std::env::consts::EXE_SUFFIX);
    let exe = std::env::current_exe().map_err(|e| start_error(e.to_string()))?;
    if exe.file_name().is_some_and(|n| n == name.as_str()) {
        return Ok(exe);
    }
    exe.ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join(&name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            start_error(format!(
                "workers run the `query` binary, which is not beside {}; set {QUERY_BIN_ENV} to its path (cargo build -p rask-cli builds it)",
                exe.display()
            ))
        })
}

impl LocalCluster {
    /// Starts a scheduler and `n_workers` worker processes, each running
    /// `threads_per_worker` tasks at once under `memory_limit` bytes (default: a share of the
    /// machine's memory), and waits until all have registered.
    pub async fn start(
        n_workers: usize,
        threads_per_worker: usize,
        memory_limit: Option<u64>,
    ) -> Result<LocalCluster> {
        if n_workers == 0 || threads_per_worker == 0 {
            return Err(start_error("it needs at least one worker with one thread"));
        }
        let binary = query_binary()?;
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| start_error(e.to_string()))?;
        let address = listener
            .local_addr()
            .map_err(|e| start_error(e.to_string()))?;
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve_scheduler(listener, async {
            let _ = stopped.await;
        }));
        let mut cluster = LocalCluster {
            url: format!("df://{address}"),
            workers: Vec::with_capacity(n_workers),
            stop_scheduler: Some(stop),
        };
        for _ in 0..n_workers {
            let mut command = Command::new(&binary);
            command
                .args([
                    "worker",
                    "--scheduler",
                    &address.to_string(),
                    "--bind",
                    "127.0.0.1:0",
                ])
                .args(["--slots", &threads_per_worker.to_string()])
                .arg("--exit-with-parent")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            if let Some(limit) = memory_limit {
                command.args(["--memory-limit", &limit.to_string()]);
            }
            let child = command
                .spawn()
                .map_err(|e| start_error(format!("{}: {e}", binary.display())))?;
            cluster.workers.push(child);
        }
        cluster.wait_for_workers(n_workers).await?;
        Ok(cluster)
    }

    async fn wait_for_workers(&mut self, n_workers: usize) -> Result<()> {
        let started = Instant::now();
        loop {
            for worker in &mut self.workers {
                if let Ok(Some(status)) = worker.try_wait() {
                    return Err(start_error(format!("a worker exited at start ({status})")));
                }
            }
            if let Ok(info) = cluster_info(&self.url).await {
                if info.workers.len() >= n_workers {
                    return Ok(());
                }
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(start_error(format!(
                    "the workers did not register within {} s",
                    START_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The scheduler, `df://127.0.0.1:port`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The process ids of the workers.
    pub fn worker_pids(&self) -> Vec<u32> {
        self.workers.iter().map(Child::id).collect()
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for worker in &mut self.workers {
            let _ = worker.kill();
            let _ = worker.wait();
        }
        if let Some(stop) = self.stop_scheduler.take() {
            let _ = stop.send(());
        }
    }
}
