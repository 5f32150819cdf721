//! Files named straight in SQL (`FROM 'data_part_*.csv'`) and `CREATE EXTERNAL TABLE` over a
//! glob, both resolved to an explicit file list when the statement is planned.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use datafusion::arrow::datatypes::Schema;
use datafusion::catalog::{Session, TableProvider, TableProviderFactory, UrlTableFactory};
use datafusion::common::{internal_datafusion_err, plan_datafusion_err, plan_err, Result};
use datafusion::datasource::listing_table_factory::ListingTableFactory;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::CreateExternalTable;

use crate::files::{looks_like_path, FileFormatKind, FileSet};
use crate::listing::{file_table, ReadOptions};
use crate::stores::StorageOptions;

fn session_state(session: &dyn Session) -> Result<&SessionState> {
    session
        .as_any()
        .downcast_ref::<SessionState>()
        .ok_or_else(|| internal_datafusion_err!("file tables need a DataFusion SessionState"))
}

type StateSource = Box<dyn Fn() -> Option<SessionState> + Send + Sync>;

/// Resolves a quoted table name that looks like a path into a table over its files.
#[derive(Default)]
pub struct FileTableFactory {
    session: OnceLock<StateSource>,
}

impl std::fmt::Debug for FileTableFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileTableFactory")
    }
}

impl FileTableFactory {
    /// Sets where the current session state (partitions, object stores) comes from; the
    /// factory lives inside that session, so it must not own it.
    pub fn set_session(&self, state: impl Fn() -> Option<SessionState> + Send + Sync + 'static) {
        let _ = self.session.set(Box::new(state));
    }
}

#[async_trait]
impl UrlTableFactory for FileTableFactory {
    async fn try_new(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if !looks_like_path(name) {
            return Ok(None);
        }
        let state = self
            .session
            .get()
            .and_then(|state| state())
            .ok_or_else(|| internal_datafusion_err!("the session has been dropped"))?;
        let files = FileSet::resolve_in(&state, name, &StorageOptions::default()).await?;
        Ok(Some(
            file_table(&state, &files, &ReadOptions::default()).await?,
        ))
    }
}

/// `CREATE EXTERNAL TABLE .. LOCATION '<path, URL, directory or glob>'`: files are resolved
/// now, like a path in a query (directories include their subdirectories), with storage
/// options from `OPTIONS ('aws.region' '…')`; `PARTITIONED BY` tables go to DataFusion's
/// own factory unchanged.
#[derive(Debug, Default)]
pub struct GlobTableFactory {
    fallback: ListingTableFactory,
}

#[async_trait]
impl TableProviderFactory for GlobTableFactory {
    async fn create(
        &self,
        session: &dyn Session,
        cmd: &CreateExternalTable,
    ) -> Result<Arc<dyn TableProvider>> {
        if !cmd.table_partition_cols.is_empty() {
            return self.fallback.create(session, cmd).await;
        }
        let format = match cmd.file_type.to_ascii_uppercase().as_str() {
            "CSV" => FileFormatKind::Csv,
            "TSV" => FileFormatKind::Tsv,
            "PARQUET" => FileFormatKind::Parquet,
            "JSON" | "NDJSON" => FileFormatKind::Json,
            "ARROW" => FileFormatKind::Arrow,
            other => {
                return plan_err!(
                    "STORED AS {other} is not supported; use CSV, PARQUET, JSON or ARROW"
                )
            }
        };
        let mut options = ReadOptions {
            format: Some(format),
            ..ReadOptions::default()
        };
        for (key, value) in &cmd.options {
            if StorageOptions::is_storage_key(key) {
                options.storage.insert(key, value.clone());
                continue;
            }
            let byte = || match value.as_bytes() {
                [b] => Ok(Some(*b)),
                _ => plan_err!("option '{key}' must be a single character, got '{value}'"),
            };
            match key.trim_start_matches("format.") {
                "delimiter" => options.delimiter = byte()?,
                "quote" => options.quote = byte()?,
                "escape" => options.escape = byte()?,
                "comment" => options.comment = byte()?,
                "has_header" => {
                    options.header = Some(value.parse().map_err(|_| {
                        plan_datafusion_err!("option '{key}' must be true or false, got '{value}'")
                    })?)
                }
                "null_value" => options.nulls.push(value.clone()),
                "compression" => {} // taken from the file extensions
                _ => {
                    return plan_err!(
                        "option '{key}' is not supported; file options are format.delimiter, format.quote, format.escape, format.comment, format.has_header, format.null_value; storage options start with aws., gcp. or azure."
                    )
                }
            }
        }
        let declared: &Schema = cmd.schema.as_arrow();
        options.dtypes = declared
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect();
        let state = session_state(session)?;
        let mut files = FileSet {
            pattern: cmd.locations.join(", "),
            files: vec![],
        };
        for location in &cmd.locations {
            let resolved = FileSet::resolve_in(state, location, &options.storage).await?;
            files.files.extend(resolved.files);
        }
        files.files.sort();
        files.files.dedup();
        file_table(state, &files, &options).await
    }
}
