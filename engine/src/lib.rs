//! Rask: Dask's lazy, partitioned DataFrames and SQL over CSV / Parquet / NDJSON files and
//! globs, on every core, past memory by spilling.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use rask::prelude::*;
//!
//! let session = Session::new().unwrap();
//! let frame = session
//!     .sql("SELECT name, max(x) AS x, avg(y) AS y FROM timeseries() GROUP BY name ORDER BY name LIMIT 3")
//!     .await
//!     .unwrap();
//! let batches = frame.collect().await.unwrap();
//! assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
//! # });
//! ```

#![warn(missing_docs)]

mod catalog;
pub mod cluster;
mod config;
pub mod dashboard;
mod dataframe;
pub mod datasets;
mod error;
mod execution;
mod monitor;
pub mod panics;
mod partitioned;
mod progress;
pub mod report;
pub mod scratch;
mod session;
pub mod sink;
pub mod stack;
mod staged;
mod upload;

pub use catalog::SQL_KEYWORDS;
pub use config::{parse_size, SessionBuilder, MAX_BATCH_SIZE, MAX_PARTITIONS};
pub use dataframe::{DataFrame, GroupBy, SeriesGroupBy, Table};
pub use error::{Error, ErrorKind, Result};
pub use execution::BatchStream;
pub use monitor::{Query, QueryLog, QueryState};
pub use partitioned::{PartitionFn, Resampler, Rolling, RollingWindow, Row};
pub use progress::Progress;
pub use rask_planner::accessors::DaskExpr;
pub use rask_planner::cache::{CachedFile, FileCache};
pub use rask_planner::files::FileFormatKind;
pub use rask_planner::frame::{AggFunc, AggSpec, DropHow, How, MergeSpec};
pub use rask_planner::graph::{format_bytes, TaskGraph};
pub use rask_planner::listing::{ReadOptions, WHOLE_FILES};
pub use rask_planner::script::{command_lines, statements_end, CommandLine};
pub use rask_planner::stores::{redact as redact_secrets, StorageOptions};
pub use rask_planner::timeseries::TimeseriesParams;
pub use rask_planner::type_names::sql_type_name;
pub use session::Session;

/// Arrow, as Rask uses it: arrays, record batches, data types.
pub use datafusion::arrow;
pub use datafusion::arrow::array::RecordBatch;
pub use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
pub use datafusion::common::ScalarValue;
pub use datafusion::logical_expr::{col, lit, Expr};
pub use datafusion::sql::parser::{ResetStatement, Statement};
/// The SQL syntax trees statements are made of.
pub use datafusion::sql::sqlparser;
/// The version of DataFusion queries run on.
pub use datafusion::DATAFUSION_VERSION;

/// Formats batches as an ASCII table.
pub fn pretty_format(batches: &[RecordBatch]) -> Result<String> {
    Ok(datafusion::arrow::util::pretty::pretty_format_batches(batches)?.to_string())
}

/// What an embedding program needs: `use rask::prelude::*;`.
pub mod prelude {
    pub use crate::{
        col, lit, DaskExpr, DataFrame, DropHow, Error, Expr, How, RecordBatch, Result, ScalarValue,
        Session,
    };
}
