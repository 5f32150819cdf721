//! Rask's optimizer rules, one file each; [`install`](crate::install) adds them to a session.
//!
//! | rule | kind | rewrite |
//! |---|---|---|
//! | [`PruneDivisions`] (`prune_divisions`) | logical | drops the partitions of known divisions a filter on the index excludes |
//! | [`BindSharedScans`] (`bind_shared_scans`) | physical, runs last | ties the places reading one shared sub-plan to one producer |

mod bind_shared_scans;
mod prune_divisions;

pub use bind_shared_scans::BindSharedScans;
pub use prune_divisions::PruneDivisions;
