//! Scanning an input once for several consumers, as `dask.compute(a, b, c)` shares the tasks
//! its results have in common.
//!
//! A [`SharedScan`] node marks a sub-plan that appears in several places of one query (or of
//! several results computed together). Each place is planned as a [`SharedScanExec`]; the
//! physical rule [`BindSharedScans`] then ties all the places with the same id to one
//! producer that runs the sub-plan once per partition and hands every batch to each place.
//!
//! ```text
//! compute([mean(value), std(value), count(value > 0)])
//!
//! ComputeAll                               ComputeAllExec
//!   Aggregate: avg(value)                    AggregateExec: avg(value)
//!     SharedScan: id=1                         SharedScanExec: id=1, consumer 1 of 3
//!       TableScan: data         ──►              DataSourceExec: data_part_*.csv   (runs once)
//!   Aggregate: stddev(value)                 AggregateExec: stddev(value)
//!     SharedScan: id=1                         SharedScanExec: id=1, consumer 2 of 3
//!       TableScan: data
//!   Aggregate: count(value > 0)              AggregateExec: count(value > 0)
//!     SharedScan: id=1                         SharedScanExec: id=1, consumer 3 of 3
//!       TableScan: data
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, DFSchemaRef, Result};
use datafusion::logical_expr::{
    Expr, Extension, LogicalPlan, LogicalPlanBuilder, TableScan, UserDefinedLogicalNodeCore,
};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;

use crate::operators::{Producer, SharedScanExec};

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// A sub-plan computed once for every place that reads it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub struct SharedScan {
    id: usize,
    input: LogicalPlan,
}

/// Marks `input` as shared under a fresh id: clones of the returned plan, wherever they are
/// placed in one query, share one computation of `input`.
pub fn shared(input: LogicalPlan) -> LogicalPlan {
    let id = NEXT_ID.fetch_add(1, AtomicOrdering::Relaxed);
    LogicalPlan::Extension(Extension {
        node: Arc::new(SharedScan { id, input }),
    })
}

impl SharedScan {
    /// The id every place reading the same sub-plan shares.
    pub fn id(&self) -> usize {
        self.id
    }
}

impl UserDefinedLogicalNodeCore for SharedScan {
    fn name(&self) -> &str {
        "SharedScan"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        self.input.schema()
    }

    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "SharedScan: id={}", self.id)
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> Result<Self> {
        let input = crate::nodes::single(inputs, "SharedScan")?;
        Ok(SharedScan { id: self.id, input })
    }
}

/// Several results planned together, so that their shared scans can be bound to one
/// producer. Its physical form is never run as a whole: each input is run on its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ComputeAll {
    inputs: Vec<LogicalPlan>,
    schema: DFSchemaRef,
}

/// Plans are ordered by their inputs; schemas have no order.
impl PartialOrd for ComputeAll {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.inputs.partial_cmp(&other.inputs)
    }
}

/// The plans of several results, optimized each on its own, with every file or table scan
/// that more than one of them reads replaced by one [`SharedScan`] reading the union of the
/// columns they need. Each consumer keeps its own filters and columns above the shared scan.
pub fn compute_all(plans: Vec<LogicalPlan>) -> Result<LogicalPlan> {
    let mut groups: BTreeMap<String, Vec<TableScan>> = BTreeMap::new();
    for plan in &plans {
        plan.apply(|node| {
            if let LogicalPlan::TableScan(scan) = node {
                groups.entry(scan_key(scan)).or_default().push(scan.clone());
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
    }
    let mut replacements: HashMap<String, LogicalPlan> = HashMap::new();
    for (key, scans) in groups {
        if scans.len() < 2 {
            continue;
        }
        let columns: BTreeSet<usize> = scans
            .iter()
            .flat_map(|scan| match &scan.projection {
                Some(projection) => projection.clone(),
                None => (0..scan.source.schema().fields().len()).collect(),
            })
            .collect();
        let first = &scans[0];
        let union = LogicalPlanBuilder::scan(
            first.table_name.clone(),
            Arc::clone(&first.source),
            Some(columns.into_iter().collect()),
        )?
        .build()?;
        replacements.insert(key, shared(union));
    }
    let inputs = plans
        .into_iter()
        .map(|plan| {
            plan.transform_up(|node| {
                let LogicalPlan::TableScan(scan) = &node else {
                    return Ok(Transformed::no(node));
                };
                let Some(shared) = replacements.get(&scan_key(scan)) else {
                    return Ok(Transformed::no(node));
                };
                Ok(Transformed::yes(consumer(shared.clone(), scan)?))
            })
            .map(|t| t.data)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(LogicalPlan::Extension(Extension {
        node: Arc::new(ComputeAll {
            inputs,
            schema: Arc::new(DFSchema::empty()),
        }),
    }))
}

/// Scans with the same key read the same rows: file tables over the same files with the same
/// schema (SQL plans a new table for every mention of a glob), any other table only when it
/// is the very same table.
fn scan_key(scan: &TableScan) -> String {
    let schema = scan.source.schema();
    let provider = datafusion::datasource::source_as_provider(&scan.source).ok();
    let listing = provider.as_ref().and_then(|p| {
        let any: &dyn std::any::Any = p.as_ref();
        any.downcast_ref::<datafusion::datasource::listing::ListingTable>()
    });
    match listing {
        Some(listing) => {
            let files: Vec<String> = listing
                .table_paths()
                .iter()
                .map(|p| p.to_string())
                .collect();
            let format = &listing.options().format;
            format!(
                "files\u{0}{}\u{0}{format:?}\u{0}{schema:?}",
                files.join("\u{0}")
            )
        }
        None => format!(
            "table\u{0}{}\u{0}{:p}",
            scan.table_name,
            Arc::as_ptr(&scan.source)
        ),
    }
}

/// What `scan` produced, computed from the shared scan: its filters, then its columns.
fn consumer(shared: LogicalPlan, scan: &TableScan) -> Result<LogicalPlan> {
    let mut builder = LogicalPlanBuilder::from(shared);
    if let Some(predicate) = datafusion::logical_expr::utils::conjunction(scan.filters.clone()) {
        builder = builder.filter(predicate)?;
    }
    let columns: Vec<Expr> = scan
        .projected_schema
        .fields()
        .iter()
        .map(|f| Expr::Column(datafusion::common::Column::from_name(f.name())))
        .collect();
    builder = builder.project(columns)?;
    if let Some(fetch) = scan.fetch {
        builder = builder.limit(0, Some(fetch))?;
    }
    // The shared scan qualifies its columns as the table does, so the consumer's schema
    // keeps the qualifiers its parents refer to.
    builder.build()
}

impl UserDefinedLogicalNodeCore for ComputeAll {
    fn name(&self) -> &str {
        "ComputeAll"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        self.inputs.iter().collect()
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ComputeAll: results={}", self.inputs.len())
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> Result<Self> {
        Ok(ComputeAll {
            inputs,
            schema: Arc::clone(&self.schema),
        })
    }
}

/// Binds every group of [`SharedScanExec`]s with the same id in a plan to one producer.
/// Runs last among the physical rules, once the plan's shape is final.
#[derive(Debug, Default)]
pub struct BindSharedScans;

impl PhysicalOptimizerRule for BindSharedScans {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut counts: HashMap<usize, usize> = HashMap::new();
        plan.apply(|node| {
            if let Some(shared) = node.downcast_ref::<SharedScanExec>() {
                if shared.unbound_input().is_some() {
                    *counts.entry(shared.id()).or_default() += 1;
                }
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        if counts.values().all(|&n| n < 2) {
            return Ok(plan);
        }
        let mut producers: HashMap<usize, (Arc<Producer>, usize)> = HashMap::new();
        plan.transform_down(|node| {
            let Some(shared) = node.downcast_ref::<SharedScanExec>() else {
                return Ok(Transformed::no(node));
            };
            let consumers = counts.get(&shared.id()).copied().unwrap_or(0);
            let (Some(input), true) = (shared.unbound_input(), consumers > 1) else {
                return Ok(Transformed::no(node));
            };
            let (producer, next) = producers
                .entry(shared.id())
                .or_insert_with(|| (Arc::new(Producer::new(Arc::clone(input), consumers)), 0));
            let consumer = *next;
            *next += 1;
            let bound = shared.bound(producer, consumer, consumers);
            Ok(Transformed::new(
                Arc::new(bound) as Arc<dyn ExecutionPlan>,
                true,
                TreeNodeRecursion::Jump,
            ))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "bind_shared_scans"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
