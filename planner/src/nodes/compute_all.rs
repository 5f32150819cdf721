//! [`ComputeAll`]: the plans of several results computed together, their common scans
//! shared.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, DFSchemaRef, Result};
use datafusion::logical_expr::{
    Expr, Extension, LogicalPlan, LogicalPlanBuilder, TableScan, UserDefinedLogicalNodeCore,
};

use super::shared;

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
/// that more than one of them reads replaced by one [`SharedScan`](super::SharedScan)
/// reading the union of the columns they need. Each consumer keeps its own filters and
/// columns above the shared scan.
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
        let any: &dyn std::any::Any = crate::cache::uncached(p).as_ref();
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

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    super::node_inputs!(many inputs);

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
