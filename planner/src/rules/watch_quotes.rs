//! [`WatchQuotes`]: CSV scans read split at line breaks are watched for quotes wherever they
//! run.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::Result;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;

use crate::operators::QuoteWatchExec;

/// Puts a [`QuoteWatchExec`] over each CSV scan read split at line breaks, in the plans a
/// cluster's scheduler makes: the workers that run them never created the scans' tables, so
/// without it they would read a quote opened past the sampled first bytes as an unclosed
/// field swallowing the rest of the range, silently. (A local session's tables watch their
/// files when they are created; it has no need of the rule.)
///
/// ```text
/// DataSourceExec: file_groups={2 groups}, file_type=csv, has_header=true
/// ```
///
/// becomes
///
/// ```text
/// QuoteWatchExec
///   DataSourceExec: file_groups={2 groups}, file_type=csv, has_header=true
/// ```
#[derive(Debug, Default)]
pub struct WatchQuotes;

impl PhysicalOptimizerRule for WatchQuotes {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_down(|node| {
            // A scan watched already (the rule run twice) is left as it is.
            if node.downcast_ref::<QuoteWatchExec>().is_some() {
                return Ok(Transformed::new(node, false, TreeNodeRecursion::Jump));
            }
            if QuoteWatchExec::dialect(node.as_ref()).is_none() {
                return Ok(Transformed::no(node));
            }
            let watched = Arc::new(QuoteWatchExec::new(node));
            Ok(Transformed::new(watched, true, TreeNodeRecursion::Jump))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "watch_quotes"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
