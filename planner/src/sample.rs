//! `sample(frac, seed)`: a reproducible random subset of rows.
//!
//! A row is kept when a seeded hash of its values falls below `frac` of the hash range, so
//! the sample is the same for a seed whatever the partitioning or the order rows arrive in
//! (identical rows are kept or dropped together).
//! Before: `TableScan: t`; after: `Filter: rask_row_hash(Int64(seed), t.a, t.b) < UInt64(..)`.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, UInt64Array};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::hash_utils::{create_hashes, RandomState};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    col, lit, ColumnarValue, LogicalPlan, LogicalPlanBuilder, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};

/// `rask_row_hash(seed, col, ..)`: a seeded 64-bit hash of each row's values.
#[derive(Debug, PartialEq, Eq, Hash)]
struct RowHash {
    signature: Signature,
}

impl ScalarUDFImpl for RowHash {
    fn name(&self) -> &str {
        ROW_HASH
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::UInt64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let Some((ColumnarValue::Scalar(ScalarValue::Int64(Some(seed))), columns)) =
            args.args.split_first()
        else {
            return exec_err!("rask_row_hash needs a constant seed first");
        };
        let arrays = columns
            .iter()
            .map(|c| c.to_array(rows))
            .collect::<Result<Vec<ArrayRef>>>()?;
        let mut hashes = vec![0u64; rows];
        create_hashes(&arrays, &RandomState::with_seed(*seed as u64), &mut hashes)?;
        Ok(ColumnarValue::Array(Arc::new(UInt64Array::from(hashes))))
    }
}

/// The name of the row hash function [`sample`] filters with.
pub const ROW_HASH: &str = "rask_row_hash";

/// The row hash function [`sample`] filters with: `rask_row_hash(seed, col, ..)`.
pub fn row_hash_udf() -> ScalarUDF {
    ScalarUDF::from(RowHash {
        signature: Signature::variadic_any(Volatility::Immutable),
    })
}

/// Keeps about `frac` of the rows of `plan`, the same ones for the same `seed`.
pub fn sample(plan: LogicalPlan, frac: f64, seed: u64) -> Result<LogicalPlan> {
    if !(0.0..=1.0).contains(&frac) {
        return plan_err!("sample: frac must be between 0 and 1, got {frac}");
    }
    let hash = row_hash_udf();
    let mut args = vec![lit(seed as i64)];
    args.extend(plan.schema().columns().into_iter().map(col));
    let threshold = (frac * u64::MAX as f64) as u64;
    let keep = if frac >= 1.0 {
        lit(true)
    } else {
        hash.call(args).lt(lit(threshold))
    };
    LogicalPlanBuilder::from(plan).filter(keep)?.build()
}
