//! Rask's analyzer and optimizer rules, one file each; [`install`](crate::install) adds them to a session.
//!
//! | rule | kind | rewrite |
//! |---|---|---|
//! | [`PruneDivisions`] (`prune_divisions`) | logical | drops the partitions of known divisions a filter on the index excludes |
//! | [`MergeUsingColumns`] (`merge_using_columns`) | analyzer, before type coercion | the `USING` column of a right or full join is the merged `coalesce(l.k, r.k)`; `SELECT *` over `USING` joins shows those columns first |
//! | [`IntersectExceptAll`] (`intersect_except_all`) | analyzer, after type coercion | counts the copies of each row on both sides of `INTERSECT ALL` / `EXCEPT ALL` and emits min(m, n) / max(m − n, 0) of them |
//! | [`BindSharedScans`] (`bind_shared_scans`) | physical, runs last | ties the places reading one shared sub-plan to one producer |

mod bind_shared_scans;
mod intersect_except_all;
mod merge_using_columns;
mod prune_divisions;

pub use bind_shared_scans::BindSharedScans;
pub use intersect_except_all::IntersectExceptAll;
pub use merge_using_columns::MergeUsingColumns;
pub use prune_divisions::PruneDivisions;
