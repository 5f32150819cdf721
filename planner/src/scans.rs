//! The file tables a plan reads, found by walking it (views and subqueries included).

use std::any::Any;
use std::path::PathBuf;

use std::sync::Arc;
use url::Url;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::config::CsvOptions;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::listing::{ListingTable, ListingTableConfig};
use datafusion::datasource::{provider_as_source, source_as_provider};
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};

use crate::timeseries::TimeseriesTable;

/// One scan of a file table.
#[derive(Debug, Clone)]
pub struct FileScan {
    /// The table as the query names it (`'data_*.csv'`, `read_csv`, `trips`).
    pub table: String,
    /// The files' URLs (`file:///…` for local ones), in order.
    pub files: Vec<Url>,
    /// The table's schema.
    pub schema: SchemaRef,
    /// How CSV files are decoded, for CSV tables.
    pub csv: Option<CsvOptions>,
}

impl FileScan {
    /// The files on this machine's disk; damage in remote files is not diagnosed further.
    pub fn local_files(&self) -> impl Iterator<Item = PathBuf> + '_ {
        self.files
            .iter()
            .filter(|url| url.scheme() == "file")
            .filter_map(|url| url.to_file_path().ok())
    }
}

/// Every file table scanned by `plan`, in plan order.
pub fn file_scans(plan: &LogicalPlan) -> Vec<FileScan> {
    let mut scans = Vec::new();
    collect(plan, &mut scans);
    scans
}

fn collect(plan: &LogicalPlan, scans: &mut Vec<FileScan>) {
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            if let Ok(provider) = source_as_provider(&scan.source) {
                collect_provider(scan.table_name.to_string(), &provider, scans);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
}

fn collect_provider(table: String, provider: &Arc<dyn TableProvider>, scans: &mut Vec<FileScan>) {
    if let Some(view) = provider.get_logical_plan() {
        collect(&view, scans);
        return;
    }
    let provider = crate::cache::uncached(provider);
    let any: &dyn Any = provider.as_ref();
    if let Some(blocks) = any.downcast_ref::<crate::listing::BlockTable>() {
        collect_provider(table, blocks.inner(), scans);
        return;
    }
    let Some(listing) = any.downcast_ref::<ListingTable>() else {
        return;
    };
    let format: &dyn Any = listing.options().format.as_ref();
    let files = listing
        .table_paths()
        .iter()
        .map(|url| url.get_url().clone())
        .collect();
    scans.push(FileScan {
        table,
        files,
        schema: listing.schema(),
        csv: format
            .downcast_ref::<CsvFormat>()
            .map(|f| f.options().clone()),
    });
}

/// One plan per natural partition when `plan` is a bare scan of a file table (one per file,
/// whatever its blocks, with the table's options and reconciled schema, under the file's
/// name) or of
/// `timeseries()` (one per Dask partition). `None` for any other plan.
pub fn partition_scans(plan: &LogicalPlan) -> datafusion::common::Result<Option<Vec<LogicalPlan>>> {
    let LogicalPlan::TableScan(scan) = plan else {
        return Ok(None);
    };
    let mut provider = Arc::clone(crate::cache::uncached(&source_as_provider(&scan.source)?));
    if let Some(blocks) =
        (provider.as_ref() as &dyn Any).downcast_ref::<crate::listing::BlockTable>()
    {
        provider = Arc::clone(blocks.inner());
    }
    let any: &dyn Any = provider.as_ref();
    let parts: Vec<(String, Arc<dyn TableProvider>)> =
        if let Some(listing) = any.downcast_ref::<ListingTable>() {
            listing
                .table_paths()
                .iter()
                .map(|url| {
                    let config = ListingTableConfig::new(url.clone())
                        .with_listing_options(listing.options().clone())
                        .with_schema(listing.schema());
                    let name = url
                        .get_url()
                        .path_segments()
                        .and_then(|mut segments| segments.next_back())
                        .unwrap_or("part")
                        .to_string();
                    Ok((name, Arc::new(ListingTable::try_new(config)?) as _))
                })
                .collect::<datafusion::common::Result<_>>()?
        } else if let Some(timeseries) = any.downcast_ref::<TimeseriesTable>() {
            timeseries
                .partitions()
                .into_iter()
                .enumerate()
                .map(|(i, part)| (format!("timeseries[{i}]"), Arc::new(part) as _))
                .collect()
        } else {
            return Ok(None);
        };
    parts
        .into_iter()
        .map(|(name, table)| {
            LogicalPlanBuilder::scan_with_filters_fetch(
                name,
                provider_as_source(table),
                scan.projection.clone(),
                scan.filters.clone(),
                scan.fetch,
            )?
            .build()
        })
        .collect::<datafusion::common::Result<Vec<_>>>()
        .map(Some)
}
