//! What the scheduler knows of its workers, as Dask's `client.scheduler_info()`.

use std::fmt;

use http_body_util::BodyExt;
use tonic::client::GrpcService;
use tonic::transport::Endpoint;

use super::{scheduler_address, CONNECT_TIMEOUT};
use crate::error::{Error, Result};

/// One worker registered with the scheduler.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerInfo {
    /// The worker's id.
    pub id: String,
    /// Where it serves its results: `host:port`.
    pub address: String,
    /// Tasks it runs at once.
    pub slots: u32,
    /// Its memory limit in bytes; `None` when it takes a share of the machine's memory.
    pub memory_limit: Option<u64>,
}

/// The workers of a cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterInfo {
    /// The scheduler, `df://host:port`.
    pub scheduler: String,
    /// Its workers, by id.
    pub workers: Vec<WorkerInfo>,
}

impl ClusterInfo {
    /// Total task slots.
    pub fn slots(&self) -> u32 {
        self.workers.iter().map(|w| w.slots).sum()
    }
}

impl fmt::Display for ClusterInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "scheduler {}: {} worker(s), {} slot(s)",
            self.scheduler,
            self.workers.len(),
            self.slots()
        )?;
        for worker in &self.workers {
            let memory = worker
                .memory_limit
                .map_or_else(|| "auto".to_string(), |m| format!("{m} bytes"));
            writeln!(
                f,
                "  {}  {}  slots={}  memory={}",
                worker.id, worker.address, worker.slots, memory
            )?;
        }
        Ok(())
    }
}

/// The id a worker registers under: unique, and carrying its memory limit, which Ballista's
/// registration has no field for.
pub(crate) fn worker_id(host: &str, port: u16, memory_limit: Option<u64>) -> String {
    let memory = memory_limit.map_or_else(|| "auto".to_string(), |m| m.to_string());
    format!("{host}-{port}-{}-mem-{memory}", std::process::id())
}

fn memory_of(id: &str) -> Option<u64> {
    id.rsplit_once("-mem-")?.1.parse().ok()
}

/// Asks the scheduler at `url` (`df://host:port`) for its workers. Fails within a few seconds
/// when nothing answers there.
pub async fn cluster_info(url: &str) -> Result<ClusterInfo> {
    let address = scheduler_address(url)?;
    let unreachable = |reason: String| {
        Error::execution(format!(
            "cannot reach the scheduler at df://{address}: {reason}"
        ))
        .with_hint("start one with `query scheduler --bind HOST:PORT`, or check the address")
    };
    let endpoint = Endpoint::from_shared(format!("http://{address}"))
        .map_err(|e| unreachable(e.to_string()))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(CONNECT_TIMEOUT * 2);
    let mut channel = endpoint
        .connect()
        .await
        .map_err(|e| unreachable(source_text(&e)))?;
    // The scheduler serves its REST API on the same port as gRPC, HTTP/2 included.
    let request = http::Request::get(format!("http://{address}/api/executors"))
        .body(tonic::body::Body::empty())
        .map_err(|e| unreachable(e.to_string()))?;
    std::future::poll_fn(|cx| GrpcService::poll_ready(&mut channel, cx))
        .await
        .map_err(|e| unreachable(source_text(&e)))?;
    let response = GrpcService::call(&mut channel, request)
        .await
        .map_err(|e| unreachable(source_text(&e)))?;
    if !response.status().is_success() {
        return Err(unreachable(format!(
            "it answered {} (is it a Rask scheduler?)",
            response.status()
        )));
    }
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| unreachable(e.to_string()))?
        .to_bytes();
    let executors: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| unreachable(format!("unexpected answer: {e}")))?;
    let mut workers: Vec<WorkerInfo> = executors
        .as_array()
        .into_iter()
        .flatten()
        .map(|executor| {
            let id = executor["id"].as_str().unwrap_or_default().to_string();
            WorkerInfo {
                address: format!(
                    "{}:{}",
                    executor["host"].as_str().unwrap_or_default(),
                    executor["port"]
                ),
                slots: executor["specification"]["vcores"].as_u64().unwrap_or(0) as u32,
                memory_limit: memory_of(&id),
                id,
            }
        })
        .collect();
    workers.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(ClusterInfo {
        scheduler: format!("df://{address}"),
        workers,
    })
}

/// The innermost cause of a transport error, which names what actually went wrong
/// ("Connection refused") where the outer ones say only "transport error".
fn source_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_ids_carry_the_memory_limit() {
        assert_eq!(
            memory_of(&worker_id("h", 1, Some(2_000_000_000))),
            Some(2_000_000_000)
        );
        assert_eq!(memory_of(&worker_id("h", 1, None)), None);
    }
}
