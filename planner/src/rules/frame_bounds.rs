//! [`FrameBounds`]: window frame offsets no partition can reach, brought within reach.

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::{Expr, LogicalPlan, WindowFrameBound, WindowFrameUnits};
use datafusion::optimizer::AnalyzerRule;

use super::expressions::rewrite_expressions;

/// No partition holds this many rows or peer groups, and a row's position plus this many
/// does not overflow.
const REACHABLE: u64 = 1 << 62;

/// `ROWS BETWEEN CURRENT ROW AND 18446744073709551615 FOLLOWING` is `ROWS BETWEEN CURRENT ROW
/// AND 4611686018427387904 FOLLOWING`. DataFusion adds the offset to a row's position, which
/// overflows for offsets near 2^64: a panic in a debug build, and in a release build a
/// wrapped position that silently gives NULL sums and short counts. Every offset past what a
/// partition can hold gives the same frame (up to the partition's end, or empty), so
/// [`REACHABLE`] stands for all of them. `RANGE` offsets are values, not positions.
#[derive(Debug, Default)]
pub struct FrameBounds;

impl AnalyzerRule for FrameBounds {
    fn name(&self) -> &str {
        "frame_bounds"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, unbounded_past_reach)
    }
}

fn unbounded_past_reach(expr: Expr, _schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::WindowFunction(mut function) = expr else {
        return Ok(Transformed::no(expr));
    };
    let frame = &mut function.params.window_frame;
    if frame.units == WindowFrameUnits::Range {
        return Ok(Transformed::no(Expr::WindowFunction(function)));
    }
    let changed = within_reach(&mut frame.start_bound) | within_reach(&mut frame.end_bound);
    Ok(Transformed::new_transformed(
        Expr::WindowFunction(function),
        changed,
    ))
}

/// Brings the offset of `bound` down to [`REACHABLE`]; whether it had to.
fn within_reach(bound: &mut WindowFrameBound) -> bool {
    let (WindowFrameBound::Preceding(offset) | WindowFrameBound::Following(offset)) = bound else {
        return false;
    };
    let past_reach = match offset {
        ScalarValue::UInt64(Some(n)) => *n > REACHABLE,
        _ => false,
    };
    if past_reach {
        *offset = ScalarValue::UInt64(Some(REACHABLE));
    }
    past_reach
}
