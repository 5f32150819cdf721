//! `query scheduler`, `query worker` and `query cluster-info`.

use rask::cluster::{cluster_info, serve_scheduler, serve_worker, WorkerOptions};
use rask::{Error, Result};

use crate::args::ClusterCommand;

/// Runs a cluster subcommand to its end.
pub async fn run(command: &ClusterCommand) -> Result<()> {
    match command {
        ClusterCommand::Scheduler { bind } => {
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .map_err(|e| Error::execution(format!("cannot listen on {bind}: {e}")))?;
            let address = listener
                .local_addr()
                .map_err(|e| Error::execution(e.to_string()))?;
            notice(format_args!(
                "scheduler listening on df://{address} (Ctrl-C or SIGTERM stops it)"
            ));
            serve_scheduler(listener, shutdown_signal()).await?;
            notice(format_args!("scheduler stopped"));
            Ok(())
        }
        ClusterCommand::Worker {
            scheduler,
            slots,
            memory_limit,
            work_dir,
            bind,
            exit_with_parent,
        } => {
            notice(format_args!(
                "worker starting for scheduler {scheduler} (Ctrl-C or SIGTERM stops it)"
            ));
            serve_worker(WorkerOptions {
                scheduler: scheduler.clone(),
                bind: *bind,
                slots: *slots,
                memory_limit: memory_limit.map(|m| m as u64),
                work_dir: work_dir.clone(),
                exit_with_parent: *exit_with_parent,
            })
            .await?;
            notice(format_args!("worker stopped"));
            Ok(())
        }
        ClusterCommand::ClusterInfo { cluster } => {
            print!("{}", cluster_info(cluster).await?);
            Ok(())
        }
    }
}

/// Prints a line on stderr. A server outlives whoever reads its stderr (the terminal may be
/// closed, a supervisor may stop reading), so a failed write is ignored rather than fatal.
fn notice(line: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Completes on Ctrl-C or, on Unix, SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
