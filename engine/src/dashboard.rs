//! The live dashboard, as Dask's: a web page that follows the session's queries while they
//! run (progress, tasks, memory, spill, the task stream and graph of each). It serves only
//! its own routes (`/`, `/status`, `/graph.svg?query=N`), never files, and binds to
//! loopback unless given another address.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;

use serde_json::{json, Value};
use tiny_http::{Header, Method, Request, Response, Server};

use crate::error::{Error, Result};
use crate::monitor::{Query, QueryState};
use crate::session::Session;

/// Where the dashboard listens unless told otherwise: Dask's port, on loopback.
pub const DEFAULT_ADDRESS: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8787));

const PAGE: &str = include_str!("dashboard.html");

/// A running dashboard; dropping it stops the server.
pub struct Dashboard {
    server: Arc<Server>,
    address: SocketAddr,
    notice: Option<String>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard")
            .field("address", &self.address)
            .finish()
    }
}

impl Dashboard {
    /// Serves the dashboard of `session` on `address`, or on [`DEFAULT_ADDRESS`] when
    /// `None` — falling to a free port when that one is taken, as Dask does (see
    /// [`notice`](Self::notice)). A given address that is taken is an error.
    pub fn start(session: &Session, address: Option<SocketAddr>) -> Result<Dashboard> {
        let (listener, notice) = match address {
            Some(address) if !address.ip().is_loopback() => {
                let notice = format!(
                    "the dashboard on {address} can be reached from other machines; it shows every query's text"
                );
                (bind(address)?, Some(notice))
            }
            Some(address) => (bind(address)?, None),
            None => match TcpListener::bind(DEFAULT_ADDRESS) {
                Ok(listener) => (listener, None),
                Err(_) => {
                    let listener = bind(SocketAddr::new(DEFAULT_ADDRESS.ip(), 0))?;
                    let port = listener.local_addr().map_or(0, |a| a.port());
                    let notice = format!(
                        "port {} is already in use; serving the dashboard on port {port} instead",
                        DEFAULT_ADDRESS.port()
                    );
                    (listener, Some(notice))
                }
            },
        };
        let address = listener
            .local_addr()
            .map_err(|e| cannot_serve(address, e))?;
        let server =
            Server::from_listener(listener, None).map_err(|e| cannot_serve(Some(address), e))?;
        let server = Arc::new(server);
        let serving = Arc::clone(&server);
        let session = session.clone();
        let thread = std::thread::Builder::new()
            .name("rask-dashboard".into())
            .spawn(move || {
                for request in serving.incoming_requests() {
                    respond(&session, request);
                }
            })
            .map_err(|e| cannot_serve(Some(address), e))?;
        Ok(Dashboard {
            server,
            address,
            notice,
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The page's link, e.g. `http://127.0.0.1:8787/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    /// Set when the default port was taken and another was chosen, or when the address is
    /// not loopback.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn bind(address: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(address).map_err(|e| cannot_serve(Some(address), e))
}

fn cannot_serve(address: Option<SocketAddr>, why: impl std::fmt::Display) -> Error {
    let shown = address.map_or_else(|| DEFAULT_ADDRESS.to_string(), |a| a.to_string());
    Error::execution(format!("cannot serve the dashboard on {shown}: {why}"))
}

fn respond(session: &Session, request: Request) {
    let url = request.url().to_string();
    let (path, parameters) = url.split_once('?').unwrap_or((url.as_str(), ""));
    let response = match (request.method(), path) {
        (Method::Get, "/") => content(PAGE.to_string(), "text/html; charset=utf-8"),
        (Method::Get, "/status") => content(status(session).to_string(), "application/json"),
        (Method::Get, "/graph.svg") => {
            let wanted = parameters
                .split('&')
                .find_map(|p| p.strip_prefix("query="))
                .and_then(|id| id.parse::<u64>().ok());
            let query = session
                .queries()
                .queries()
                .into_iter()
                .find(|q| Some(q.id()) == wanted);
            match query {
                Some(query) => content(query.graph().to_svg(), "image/svg+xml"),
                None => plain("no such query", 404),
            }
        }
        (Method::Get, _) => plain("not found", 404),
        _ => plain("only GET is served", 405),
    };
    // The browser may have gone away; there is no one left to tell.
    let _ = request.respond(response);
}

fn header(name: &str, value: &str) -> Option<Header> {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

fn content(body: String, content_type: &str) -> Response<std::io::Cursor<Vec<u8>>> {
    let mut response = Response::from_string(body);
    for header in [
        header("Content-Type", content_type),
        header("Cache-Control", "no-store"),
        header("X-Content-Type-Options", "nosniff"),
    ]
    .into_iter()
    .flatten()
    {
        response.add_header(header);
    }
    response
}

fn plain(text: &str, code: u16) -> Response<std::io::Cursor<Vec<u8>>> {
    content(text.to_string(), "text/plain; charset=utf-8").with_status_code(code)
}

/// Everything the page shows, as JSON.
pub fn status(session: &Session) -> Value {
    let queries: Vec<Value> = session
        .queries()
        .queries()
        .iter()
        .map(|q| query_status(q))
        .collect();
    let mut cluster = json!({
        "kind": "local",
        "partitions": session.partitions(),
        "memory_limit": session.memory_limit(),
        "memory_reserved": session.memory_reserved(),
    });
    if let Some(url) = session.cluster_url() {
        cluster["kind"] = json!("cluster");
        cluster["scheduler"] = json!(url);
        match workers(url) {
            Ok(workers) => cluster["workers"] = workers,
            Err(error) => cluster["error"] = json!(error.to_string()),
        }
    }
    json!({
        "cluster": cluster,
        "queries": queries,
    })
}

/// The cluster's workers as the scheduler lists them, asked on a thread of its own so that
/// this works from the server's thread and from inside an async runtime alike.
fn workers(url: &str) -> Result<Value> {
    let asked = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| Error::execution(e.to_string()))?
                    .block_on(crate::cluster::cluster_info(url))
            })
            .join()
    });
    let info = asked.map_err(|_| Error::execution("asking the scheduler failed"))??;
    Ok(info
        .workers
        .iter()
        .map(|w| {
            json!({
                "id": w.id,
                "address": w.address,
                "slots": w.slots,
                "memory_limit": w.memory_limit,
            })
        })
        .collect())
}

fn query_status(query: &Query) -> Value {
    let graph = query.graph();
    let state = query.state();
    let origin = query
        .started()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    let millis = |ns: i64| (ns - origin) as f64 / 1e6;
    // When tasks were busy, as sampled; before the first sample, each task's span.
    let activity = query.activity();
    let mut stream: Vec<Value> = activity
        .iter()
        .map(|&(operator, partition, from, to)| json!([operator, partition, from, to]))
        .collect();
    let mut operators = Vec::new();
    let (mut done, mut spill_count, mut spilled_bytes) = (0, 0, 0);
    for (index, operator) in graph.operators.iter().enumerate() {
        let metrics = operator.metrics.clone().unwrap_or_default();
        let finished = metrics.tasks.iter().filter(|t| t.end_ns.is_some()).count();
        done += finished.min(operator.partitions);
        spill_count += metrics.spill_count;
        spilled_bytes += metrics.spilled_bytes;
        if activity.is_empty() {
            for task in &metrics.tasks {
                if let Some(start) = task.start_ns {
                    stream.push(json!([
                        index,
                        task.partition,
                        millis(start),
                        task.end_ns.map(millis)
                    ]));
                }
            }
        }
        operators.push(json!({
            "name": operator.name,
            "partitions": operator.partitions,
            "done": finished.min(operator.partitions),
            "rows": metrics.output_rows,
            "peak_memory": metrics.peak_memory,
        }));
    }
    let progress = query.progress();
    json!({
        "id": query.id(),
        "sql": query.sql(),
        "state": state.name(),
        "error": match &state { QueryState::Failed(message, _) => Some(message.clone()), _ => None },
        "elapsed": query.elapsed().as_secs_f64(),
        "rows_read": progress.rows_read(),
        "total_rows": progress.total_rows(),
        "fraction": progress.fraction(),
        "bytes": progress.bytes(),
        "tasks": graph.tasks(),
        "tasks_done": done,
        "memory_reserved": query.memory_reserved(),
        "memory_peak": query.memory_peak(),
        "spill_count": spill_count,
        "spilled_bytes": spilled_bytes,
        "operators": operators,
        "stream": stream,
    })
}
