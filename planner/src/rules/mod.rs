//! Rask's analyzer and optimizer rules, one file each; [`install`](crate::install) adds them to a session.
//!
//! | rule | kind | rewrite |
//! |---|---|---|
//! | [`PruneDivisions`] (`prune_divisions`) | logical | drops the partitions of known divisions a filter on the index excludes |
//! | [`BindSharedScans`] (`bind_shared_scans`) | physical, runs last | ties the places reading one shared sub-plan to one producer |
//! | [`CheckedArithmetic`] (`checked_arithmetic`) | analyzer | integer `+ - *` and unary minus raise `bigint out of range` instead of wrapping |
//! | [`ExactAggregates`] (`exact_aggregates`) | analyzer | `sum` of integers as `DECIMAL(38, 0)`; `avg` of integers and decimals from exact sums |
//! | [`DecimalDivision`] (`decimal_division`) | analyzer | decimal quotients to at least 16 places, rounded half away from zero |
//! | [`RoundingCasts`] (`rounding_casts`) | analyzer | float and decimal casts to integers round half away from zero |

mod bind_shared_scans;
mod checked_arithmetic;
mod decimal_division;
mod exact_aggregates;
mod expressions;
mod prune_divisions;
mod rounding_casts;

pub use bind_shared_scans::BindSharedScans;
pub use checked_arithmetic::CheckedArithmetic;
pub use decimal_division::DecimalDivision;
pub use exact_aggregates::ExactAggregates;
pub use prune_divisions::PruneDivisions;
pub use rounding_casts::RoundingCasts;
