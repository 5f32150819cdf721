//! Errors told with the file and line that caused them.

use datafusion::common::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use rask_planner::diagnose::{is_csv_decode_error, locate_csv_error};

use crate::error::Error;

/// Turns a failure into an [`Error`]; malformed CSV is traced to its file and line by
/// re-reading the plan's CSV files (a parallel scan's decoder knows neither).
pub(crate) async fn traced(error: DataFusionError, plan: &LogicalPlan) -> Error {
    if is_csv_decode_error(&error) {
        let plan = plan.clone();
        if let Ok(Some(located)) =
            tokio::task::spawn_blocking(move || locate_csv_error(&plan)).await
        {
            return Error::input(located);
        }
    }
    Error::from(error)
}
