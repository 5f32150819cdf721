//! Rask's analyzer and optimizer rules, one file each; [`install`](crate::install) adds them to a session.
//!
//! | rule | kind | rewrite |
//! |---|---|---|
//! | [`PruneDivisions`] (`prune_divisions`) | logical | drops the partitions of known divisions a filter on the index excludes |
//! | [`PushSemiJoins`] (`push_semi_joins`) | logical | a semi or anti join on the key of an inner join below it goes under that join, on the key's side |
//! | [`MergeUsingColumns`] (`merge_using_columns`) | analyzer, before type coercion | the `USING` column of a right or full join is the merged `coalesce(l.k, r.k)`; `SELECT *` over `USING` joins shows those columns first |
//! | [`IntersectExceptAll`] (`intersect_except_all`) | analyzer, after type coercion | counts the copies of each row on both sides of `INTERSECT ALL` / `EXCEPT ALL` and emits min(m, n) / max(m − n, 0) of them |
//! | [`OverlapRemoteReads`] (`overlap_remote_reads`) | physical, right after DataFusion's `EnsureRequirements` | a scan of an object store's Parquet files reads in twice as many streams as the session has partitions; in a session of one partition, two streams merged back into one (not under a limit) |
//! | [`KeepSourcePartitions`] (`keep_source_partitions`) | physical, after DataFusion's | no round-robin repartition over sources in Dask's partitions (blocks, days, in-memory partitions) |
//! | [`ApplyJoinFilters`] (`apply_join_filters`) | physical, after DataFusion's | the dynamic filters of joins, TopK sorts and aggregations filter a Parquet scan's rows, not only its row groups |
//! | [`BindSharedScans`] (`bind_shared_scans`) | physical, runs last | ties the places reading one shared sub-plan to one producer |
//! | [`WatchQuotes`] (`watch_quotes`) | physical, applied by a cluster's scheduler after all others | a CSV scan read split at line breaks is watched for quotes on the workers too |
//! | [`CheckedArithmetic`] (`checked_arithmetic`) | analyzer, after type coercion | integer `+ - *` and unary minus raise `bigint out of range` instead of wrapping |
//! | [`ExactAggregates`] (`exact_aggregates`) | analyzer, before type coercion | `sum` of integers in 128 bits (an error past the result type, never a wrapped number); `avg` of integers and decimals from exact sums |
//! | [`DecimalDivision`] (`decimal_division`) | analyzer, before type coercion | decimal quotients to at least 16 places, rounded half away from zero |
//! | [`RoundingCasts`] (`rounding_casts`) | analyzer, after type coercion | float and decimal casts to integers round half away from zero |
//! | [`FrameBounds`] (`frame_bounds`) | analyzer, after type coercion | `ROWS`/`GROUPS` frame offsets past 2^62 are 2^62, the same frame without DataFusion's position arithmetic overflowing |

mod apply_join_filters;
mod bind_shared_scans;
mod checked_arithmetic;
mod decimal_division;
mod exact_aggregates;
mod expressions;
mod frame_bounds;
mod intersect_except_all;
mod keep_source_partitions;
mod merge_using_columns;
mod overlap_remote_reads;
mod prune_divisions;
mod push_semi_joins;
mod rounding_casts;
mod watch_quotes;

pub use apply_join_filters::ApplyJoinFilters;
pub use bind_shared_scans::BindSharedScans;
pub use checked_arithmetic::CheckedArithmetic;
pub use decimal_division::DecimalDivision;
pub use exact_aggregates::ExactAggregates;
pub use frame_bounds::FrameBounds;
pub use intersect_except_all::IntersectExceptAll;
pub use keep_source_partitions::KeepSourcePartitions;
pub use merge_using_columns::MergeUsingColumns;
pub use overlap_remote_reads::OverlapRemoteReads;
pub use prune_divisions::PruneDivisions;
pub use push_semi_joins::PushSemiJoins;
pub use rounding_casts::RoundingCasts;
pub use watch_quotes::WatchQuotes;
