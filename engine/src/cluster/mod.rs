//! Running on a Ballista cluster: the scheduler and worker processes, the client side of a
//! [`Session`](crate::Session) connected to one, a [`LocalCluster`] of processes on this
//! machine, and what the scheduler knows of its workers ([`ClusterInfo`]).
//!
//! Every process runs the same Rask build, so the scheduler and the workers know Rask's tables,
//! operators and functions; they travel through [`codec::RaskCodec`].

pub mod codec;
mod info;
mod local;
mod planner;
mod server;
mod watch;

use std::time::Duration;

pub use info::{cluster_info, ClusterInfo, WorkerInfo};
pub use local::{LocalCluster, QUERY_BIN_ENV};
pub use server::{serve_scheduler, serve_worker, WorkerOptions};

pub(crate) use planner::cluster_state;

use crate::error::{Error, Result};

/// How long a client or worker waits for the scheduler to accept a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A scheduler address as `host:port`, from `df://host:port` or `host:port`.
pub fn scheduler_address(url: &str) -> Result<String> {
    let address = url
        .strip_prefix("df://")
        .unwrap_or(url)
        .trim_end_matches('/');
    // Ballista speaks its own protocol: an http:// or grpc:// URL names no scheduler.
    let valid = address.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && !host.contains('/') && port.parse::<u16>().is_ok()
    });
    if !valid {
        return Err(Error::plan(format!(
            "invalid scheduler address '{url}': expected df://HOST:PORT, e.g. df://10.0.0.5:50050"
        )));
    }
    Ok(address.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_addresses() {
        assert_eq!(scheduler_address("df://h:50050").unwrap(), "h:50050");
        assert_eq!(scheduler_address("127.0.0.1:1").unwrap(), "127.0.0.1:1");
        for bad in [
            "df://h",
            "df://:1",
            "h:port",
            "",
            "http://h:50050",
            "grpc://h:1",
            "h/x:1",
        ] {
            assert!(scheduler_address(bad).is_err(), "{bad}");
        }
    }
}
