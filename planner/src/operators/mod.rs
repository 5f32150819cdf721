//! Rask's physical operators, one file each, and what they have in common.
//!
//! | operator | runs |
//! |---|---|
//! | [`MapPartitionsExec`] | a [`PartitionFunction`](crate::partitions::PartitionFunction) once per whole input partition |
//! | [`RebalanceExec`] | a round-robin repartition into the number of partitions asked for |
//! | [`DivisionsExec`] | input `i` of a [`Divisions`](crate::nodes::Divisions) as output partition `i` |
//! | [`SharedScanExec`] | one place that reads a sub-plan computed once for all of them |
//! | [`ComputeAllExec`] | nothing itself: it holds the plans of results computed together |
//! | [`JoinFilterExec`] | the dynamic filters pushed into a Parquet scan, on its rows, while they pay |
//! | [`TimeseriesExec`] | the rows of `timeseries()`, generated as they are read |
//!
//! Each states what is its own in [`Operator`] (or, with one input, [`OneInput`]) and lets
//! [`operator_methods!`](crate::operator_methods) write the `ExecutionPlan` methods that
//! follow from it, so that replacing an operator's inputs works the same everywhere.

mod compute_all;
mod divisions;
mod join_filter;
mod map_partitions;
mod quote_watch;
mod rebalance;
mod shared_scan;
mod timeseries;

pub use compute_all::ComputeAllExec;
pub use divisions::DivisionsExec;
pub use join_filter::JoinFilterExec;
pub use map_partitions::MapPartitionsExec;
pub use quote_watch::QuoteWatchExec;
pub use rebalance::RebalanceExec;
pub(crate) use shared_scan::Producer;
pub use shared_scan::SharedScanExec;
pub use timeseries::{QueryStopped, TimeseriesExec};

use std::sync::Arc;

use datafusion::common::{internal_err, Result};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::{ExecutionPlan, PlanProperties};

/// What an operator says about its inputs, output and the physical expressions it
/// evaluates, from which [`operator_methods!`](crate::operator_methods) writes `name`,
/// `properties`, `children`, `apply_expressions` and `with_new_children`.
pub trait Operator: Sized {
    /// The inputs, in order: the plan's children.
    fn inputs(&self) -> Vec<&Arc<dyn ExecutionPlan>>;

    /// This operator over `inputs`, which are as many as [`Operator::inputs`] returns.
    fn with_inputs(self: Arc<Self>, inputs: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<Self>>;

    /// What the operator's output promises: partitioning, ordering, boundedness.
    fn plan_properties(&self) -> &Arc<PlanProperties>;

    /// The physical expressions it evaluates (DataFusion finds its dynamic filters' users by
    /// them); none by default.
    fn expressions(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![]
    }
}

/// [`Operator`] for an operator with exactly one input.
pub trait OneInput: Sized {
    /// The input.
    fn input(&self) -> &Arc<dyn ExecutionPlan>;

    /// This operator over `input` instead.
    fn with_input(&self, input: Arc<dyn ExecutionPlan>) -> Result<Self>;

    /// What the operator's output promises; by default what its input's does.
    fn plan_properties(&self) -> &Arc<PlanProperties> {
        self.input().properties()
    }

    /// The physical expressions it evaluates; none by default.
    fn expressions(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![]
    }
}

impl<T: OneInput + ExecutionPlan> Operator for T {
    fn inputs(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![self.input()]
    }

    fn with_inputs(self: Arc<Self>, inputs: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<Self>> {
        let input = crate::nodes::single(inputs, self.name())?;
        self.with_input(input).map(Arc::new)
    }

    fn plan_properties(&self) -> &Arc<PlanProperties> {
        OneInput::plan_properties(self)
    }

    fn expressions(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        OneInput::expressions(self)
    }
}

/// `ExecutionPlan::with_new_children` of an [`Operator`]: DataFusion passes as many children
/// as the operator has, so any other number is a bug.
pub fn with_new_children<T: Operator + ExecutionPlan>(
    operator: Arc<T>,
    children: Vec<Arc<dyn ExecutionPlan>>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let expected = operator.inputs().len();
    if children.len() != expected {
        return internal_err!(
            "{} takes {expected} inputs, not {}",
            operator.name(),
            children.len()
        );
    }
    let rebuilt: Arc<dyn ExecutionPlan> = operator.with_inputs(children)?;
    Ok(rebuilt)
}

/// Writes, inside `impl ExecutionPlan for T`, the methods that follow from `T`'s
/// [`Operator`](crate::operators::Operator) (or [`OneInput`](crate::operators::OneInput))
/// implementation: `name` (the type's name), `properties`, `children`, `apply_expressions`
/// (over its `expressions`) and `with_new_children`. The impl adds only what is `T`'s own, such as
/// `execute`.
///
/// ```
/// use std::sync::Arc;
///
/// use datafusion::common::Result;
/// use datafusion::execution::{SendableRecordBatchStream, TaskContext};
/// use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan};
/// use rask_planner::operators::OneInput;
///
/// /// Passes its input through unchanged.
/// #[derive(Debug)]
/// struct PassExec {
///     input: Arc<dyn ExecutionPlan>,
/// }
///
/// impl OneInput for PassExec {
///     fn input(&self) -> &Arc<dyn ExecutionPlan> {
///         &self.input
///     }
///
///     fn with_input(&self, input: Arc<dyn ExecutionPlan>) -> Result<Self> {
///         Ok(PassExec { input })
///     }
/// }
///
/// impl DisplayAs for PassExec {
///     fn fmt_as(&self, _: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
///         write!(f, "PassExec")
///     }
/// }
///
/// impl ExecutionPlan for PassExec {
///     rask_planner::operator_methods!();
///
///     fn execute(
///         &self,
///         partition: usize,
///         context: Arc<TaskContext>,
///     ) -> Result<SendableRecordBatchStream> {
///         self.input.execute(partition, context)
///     }
/// }
/// ```
#[macro_export]
macro_rules! operator_methods {
    () => {
        fn name(&self) -> &str {
            Self::static_name()
        }

        fn properties(&self) -> &::std::sync::Arc<::datafusion::physical_plan::PlanProperties> {
            <Self as $crate::operators::Operator>::plan_properties(self)
        }

        fn children(
            &self,
        ) -> ::std::vec::Vec<&::std::sync::Arc<dyn ::datafusion::physical_plan::ExecutionPlan>> {
            <Self as $crate::operators::Operator>::inputs(self)
        }

        fn apply_expressions(
            &self,
            f: &mut dyn FnMut(
                &::std::sync::Arc<dyn ::datafusion::physical_expr::PhysicalExpr>,
            ) -> ::datafusion::common::Result<
                ::datafusion::common::tree_node::TreeNodeRecursion,
            >,
        ) -> ::datafusion::common::Result<::datafusion::common::tree_node::TreeNodeRecursion> {
            for expression in <Self as $crate::operators::Operator>::expressions(self) {
                if f(expression)? == ::datafusion::common::tree_node::TreeNodeRecursion::Stop {
                    return Ok(::datafusion::common::tree_node::TreeNodeRecursion::Stop);
                }
            }
            Ok(::datafusion::common::tree_node::TreeNodeRecursion::Continue)
        }

        fn with_new_children(
            self: ::std::sync::Arc<Self>,
            children: ::std::vec::Vec<
                ::std::sync::Arc<dyn ::datafusion::physical_plan::ExecutionPlan>,
            >,
        ) -> ::datafusion::common::Result<
            ::std::sync::Arc<dyn ::datafusion::physical_plan::ExecutionPlan>,
        > {
            $crate::operators::with_new_children(self, children)
        }
    };
}
