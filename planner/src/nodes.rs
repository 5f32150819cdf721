//! What Rask's plan nodes share.

use datafusion::common::{plan_err, Result};

/// The one item of `items`, or an error naming `node`, which takes exactly one input.
pub(crate) fn single<T>(items: Vec<T>, node: &str) -> Result<T> {
    match <[T; 1]>::try_from(items) {
        Ok([item]) => Ok(item),
        Err(items) => plan_err!("{node} takes one input, not {}", items.len()),
    }
}
