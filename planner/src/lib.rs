//! What to compute: Rask's logical layer over DataFusion.
//!
//! - [`frame`]: pandas/Dask aggregation semantics for the DataFrame API;
//! - [`graph`]: a physical plan as a task graph (operators × partitions), as DOT or SVG;
//! - [`accessors`]: pandas element-wise methods and `.dt`/`.str` accessors on expressions;
//! - [`files`]: paths, directories and globs expanded into an explicit, sorted file list;
//! - [`listing`]: a table over such a list, with a schema reconciled across all files;
//! - [`cache`]: the session's cache of decoded CSV and JSON files;
//! - [`functions`]: `read_csv(..)`, `read_parquet(..)`, `read_json(..)`, `timeseries(..)` in SQL;
//! - [`url_table`]: `FROM 'data_*.csv'` and `CREATE EXTERNAL TABLE` over a glob;
//! - [`timeseries`]: the built-in dataset of `dask.datasets.timeseries()`;
//! - [`naming`]: readable result column names;
//! - [`nesting`]: how deeply a statement may nest, measured before it is planned;
//! - [`repeated_names`]: results that repeat a column name, planned under unique names;
//! - [`argument_types`]: function calls given arguments of types they do not accept, told by name;
//! - [`sample`]: reproducible row samples;
//! - [`scans`]: the file tables a plan reads;
//! - [`diagnose`]: naming the file and line of malformed CSV data;
//! - [`quotes`]: finding a quoted CSV field that is never closed, up front or as the file is read;
//! - [`nodes`]: Rask's logical nodes (`map_partitions`, `repartition`, divisions, partition
//!   joins, shared scans, results computed together) and the functions that build them;
//! - [`operators`]: their physical operators, and what every Rask operator shares;
//! - [`rules`]: the analyzer and optimizer rules (PostgreSQL semantics, pruning partitions by
//!   divisions, binding shared scans);
//! - [`checked`]: integer arithmetic that fails instead of wrapping;
//! - [`decimal`]: decimal division to PostgreSQL's precision;
//! - [`sized`]: `lpad`, `rpad`, `repeat`, `array_repeat` refusing results past a budget;
//! - [`partitions`]: named partition functions, which `map_partitions` runs;
//! - [`aligned_join`]: joins of frames with matching divisions, partition by partition;
//! - [`resample`]: time bins and rolling windows over an index;
//! - [`extension`]: physical planning of Rask's own nodes.
//!
//! [`install`] wires all of them into a DataFusion [`SessionContext`].

#![warn(missing_docs)]

pub mod accessors;
pub mod aligned_join;
pub mod argument_types;
pub mod cache;
pub mod checked;
pub mod decimal;
pub mod diagnose;
pub mod extension;
pub mod fetched;
pub mod files;
pub mod frame;
pub mod functions;
pub mod graph;
pub mod hive;
pub mod listing;
pub mod naming;
pub mod nesting;
pub mod nodes;
pub mod operators;
pub mod partitions;
pub mod quotes;
mod remote;
pub mod repeated_names;
pub mod resample;
pub mod rules;
pub mod sample;
pub mod scans;
pub mod script;
pub mod sized;
pub mod sniff;
pub mod stores;
pub mod summarize;
pub mod timeseries;
pub mod type_names;
pub mod url_table;

use std::sync::Arc;

use datafusion::catalog::{CatalogProviderList, DynamicFileCatalog, UrlTableFactory};
use datafusion::common::Result;
use datafusion::optimizer::{Analyzer, AnalyzerRule};
use datafusion::prelude::SessionContext;

use crate::functions::TableFunctions;
use crate::url_table::{FileTableFactory, GlobTableFactory};

/// The scalar functions Rask's rewrites put in plans, which a process receiving a plan must
/// know by name.
pub fn plan_functions() -> Vec<datafusion::logical_expr::ScalarUDF> {
    let mut functions = vec![sample::row_hash_udf()];
    functions.extend(checked::CheckedOperation::all());
    functions.push(decimal::decimal_divide_udf());
    functions
}

/// Rules that add expressions or change a type run before type coercion, so that the
/// expressions above them are coerced to what they produce; rules that need the coerced types
/// of operands run after it.
fn add_analyzer_rules(analyzer: &mut Analyzer) {
    analyzer.rules.insert(0, Arc::new(rules::MergeUsingColumns));
    let coercion = analyzer
        .rules
        .iter()
        .position(|rule| rule.name() == "type_coercion")
        .unwrap_or(analyzer.rules.len());
    let before: [Arc<dyn AnalyzerRule + Send + Sync>; 2] = [
        Arc::new(rules::ExactAggregates),
        Arc::new(rules::DecimalDivision),
    ];
    analyzer.rules.splice(coercion..coercion, before);
    analyzer.rules.push(Arc::new(rules::IntersectExceptAll));
    analyzer.rules.push(Arc::new(rules::CheckedArithmetic));
    analyzer.rules.push(Arc::new(rules::RoundingCasts));
    analyzer.rules.push(Arc::new(rules::FrameBounds));
}

/// Adds Rask's SQL sources to `ctx`: file paths and globs as table names, the table functions,
/// and globs in `CREATE EXTERNAL TABLE`; with `plan_locally`, also Rask's planner of its own
/// nodes (a session whose queries a cluster plans keeps the cluster's planner). Statements must be passed through
/// [`TableFunctions::prepare`] (the returned handle) before they are planned.
pub fn install(
    ctx: SessionContext,
    plan_locally: bool,
) -> Result<(SessionContext, Arc<TableFunctions>)> {
    let functions = Arc::new(TableFunctions::default());
    let factory = Arc::new(FileTableFactory::default());
    let catalogs = Arc::new(DynamicFileCatalog::new(
        Arc::clone(ctx.state().catalog_list()),
        Arc::clone(&factory) as Arc<dyn UrlTableFactory>,
    )) as Arc<dyn CatalogProviderList>;
    let session_id = ctx.session_id();
    let mut builder = ctx
        .into_state_builder()
        .with_session_id(session_id)
        .with_catalog_list(catalogs)
        .with_optimizer_rule(Arc::new(rules::PruneDivisions))
        .with_optimizer_rule(Arc::new(rules::PushSemiJoins))
        .with_physical_optimizer_rule(Arc::new(rules::KeepSourcePartitions));
    if plan_locally {
        // A cluster's workers run DataFusion's own operators only, so its scans keep their
        // dynamic filters for row-group pruning alone.
        builder = builder
            .with_query_planner(Arc::new(extension::RaskQueryPlanner))
            .with_physical_optimizer_rule(Arc::new(rules::ApplyJoinFilters));
    }
    builder = builder.with_physical_optimizer_rule(Arc::new(rules::BindSharedScans));
    if let Some(optimizer) = builder.physical_optimizers() {
        // Right after the plan is distributed: that step deals every file scan into the
        // session's partitions, whatever it was read in before.
        let distributed = optimizer
            .rules
            .iter()
            .position(|rule| rule.name() == "EnsureRequirements")
            .map_or(optimizer.rules.len(), |at| at + 1);
        let overlap = if plan_locally {
            rules::OverlapRemoteReads::merging()
        } else {
            rules::OverlapRemoteReads::default()
        };
        optimizer.rules.insert(distributed, Arc::new(overlap));
    }
    add_analyzer_rules(builder.analyzer().get_or_insert_with(Analyzer::new));
    if let Some(factories) = builder.table_factories() {
        let glob_factory = Arc::new(GlobTableFactory::default());
        for format in ["CSV", "TSV", "PARQUET", "JSON", "NDJSON", "ARROW"] {
            factories.insert(format.to_string(), glob_factory.clone());
        }
    }
    let ctx = SessionContext::new_with_state(builder.build());
    ctx.register_relation_planner(functions.clone())?;
    ctx.register_relation_planner(Arc::new(summarize::SummarizePlanner))?;
    let state = ctx.state_weak_ref();
    factory.set_session(move || state.upgrade().map(|state| state.read().clone()));
    Ok((ctx, functions))
}
