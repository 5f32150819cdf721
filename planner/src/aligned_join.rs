//! Joining two frames whose divisions match, partition by partition, without a shuffle.
//!
//! When both sides of a merge on their indexes are [`Divisions`] with the same ranges, a key
//! can only meet its match in the partition of the same number; so partition `i` of the
//! result is the join of the two partitions `i`, each planned as a
//! [`PartitionJoin`](crate::nodes::PartitionJoin): a hash join that builds on the left
//! partition and streams the right one through, with no repartitioning of either side.
//!
//! ```text
//! merge(left, right, on=index)
//!
//! Projection: ..                                Divisions: index=id, partitions=2
//!   Join: __left.id = __right.id                  Projection: ..
//!     Divisions: index=id, partitions=2  ──►        PartitionJoin: __left.id = __right.id
//!       TableScan: left_0                             TableScan: left_0
//!       TableScan: left_1                             TableScan: right_0
//!     Divisions: index=id, partitions=2           Projection: ..
//!       TableScan: right_0                          PartitionJoin: __left.id = __right.id
//!       TableScan: right_1                            TableScan: left_1
//!                                                     TableScan: right_1
//! ```

use datafusion::common::Result;
use datafusion::logical_expr::LogicalPlan;

use crate::nodes::{divisions, Divisions};

/// The two sides' divisions, when a join on `left_on` = `right_on` can run partition by
/// partition: both sides are divided on those keys, into the same disjoint ranges.
pub fn aligned<'a>(
    left: &'a LogicalPlan,
    right: &'a LogicalPlan,
    left_on: &[String],
    right_on: &[String],
) -> Option<(&'a Divisions, &'a Divisions)> {
    let as_divisions = |plan: &'a LogicalPlan| match plan {
        LogicalPlan::Extension(extension) => extension.node.as_any().downcast_ref::<Divisions>(),
        _ => None,
    };
    let (l, r) = (as_divisions(left)?, as_divisions(right)?);
    let keyed = left_on == [l.column().to_string()] && right_on == [r.column().to_string()];
    let same_ranges = l.bounds() == r.bounds() && l.half_open() == r.half_open();
    let known = l
        .bounds()
        .iter()
        .all(|(lo, hi)| !lo.is_null() && !hi.is_null());
    (keyed && same_ranges && known && l.disjoint()).then_some((l, r))
}

/// Joins partition `i` of `left` with partition `i` of `right` through `join` (which builds
/// and names one partition's result), keeping `left`'s divisions.
pub fn join_partitions(
    left: &Divisions,
    right: &Divisions,
    join: impl Fn(LogicalPlan, LogicalPlan) -> Result<LogicalPlan>,
) -> Result<LogicalPlan> {
    let inputs = left
        .partitions()
        .iter()
        .zip(right.partitions())
        .map(|(l, r)| join(l.clone(), r.clone()))
        .collect::<Result<Vec<_>>>()?;
    divisions(
        inputs,
        left.column(),
        left.bounds().to_vec(),
        true,
        left.half_open(),
    )
}
