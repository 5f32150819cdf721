//! `decimal_divide(a, b)`: the quotient of decimals (or integers, taken as scale 0) to at
//! least 16 decimal places, rounded half away from zero, as PostgreSQL's `numeric` division
//! gives it.
//!
//! DataFusion keeps only `scale(a) + 4` digits (`1.00 / 3.00` is `0.333333`), and `avg` of a
//! decimal likewise; PostgreSQL computes "at least 16 significant digits" ("Arbitrary Precision
//! Numbers": division's result scale, `select_div_scale` in `numeric.c`). A type has one scale, so
//! the result is `DECIMAL(38, max(16, scale(a), scale(b)))`: as many digits as PostgreSQL shows
//! for quotients below 10⁴ and a few more above, leaving 22 digits before the point.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal128Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{i256, DataType, Decimal128Type, DECIMAL128_MAX_PRECISION};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// The name of the function in plans.
pub const DECIMAL_DIVIDE: &str = "decimal_divide";

/// The fewest decimal places of a quotient.
const MINIMUM_SCALE: i8 = 16;

/// `decimal_divide(a, b)`.
pub fn decimal_divide_udf() -> ScalarUDF {
    ScalarUDF::from(DecimalDivide {
        signature: Signature::any(2, Volatility::Immutable),
    })
}

/// The scale of a decimal or integer type, if it is one `decimal_divide` takes.
pub fn dividend_scale(data_type: &DataType) -> Option<i8> {
    match data_type {
        DataType::Decimal128(_, scale) => Some(*scale),
        t if t.is_integer() => Some(0),
        _ => None,
    }
}

/// The type of `a / b` for operands of scales `left` and `right`.
pub fn quotient_type(left: i8, right: i8) -> DataType {
    let scale = MINIMUM_SCALE
        .max(left)
        .max(right)
        .min(DECIMAL128_MAX_PRECISION as i8);
    DataType::Decimal128(DECIMAL128_MAX_PRECISION, scale)
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct DecimalDivide {
    signature: Signature,
}

impl ScalarUDFImpl for DecimalDivide {
    fn name(&self) -> &str {
        DECIMAL_DIVIDE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [left, right] => match (dividend_scale(left), dividend_scale(right)) {
                (Some(left), Some(right)) => Ok(quotient_type(left, right)),
                _ => exec_err!("{DECIMAL_DIVIDE} takes decimals or integers, got {arg_types:?}"),
            },
            _ => exec_err!("{DECIMAL_DIVIDE} takes two arguments"),
        }
    }

    /// The operator's spelling, so that a column keeps the name `a / b`.
    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        match args {
            [left, right] => Ok(format!("{} / {}", left.schema_name(), right.schema_name())),
            _ => exec_err!("{DECIMAL_DIVIDE} takes two arguments"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [left, right] = args.args.as_slice() else {
            return exec_err!("{DECIMAL_DIVIDE} takes two arguments");
        };
        let DataType::Decimal128(_, scale) = *args.return_field.data_type() else {
            return exec_err!("{DECIMAL_DIVIDE} returns a decimal");
        };
        let scalars = matches!(
            (left, right),
            (ColumnarValue::Scalar(_), ColumnarValue::Scalar(_))
        );
        let (left, left_scale) = as_decimals(left, args.number_rows)?;
        let (right, right_scale) = as_decimals(right, args.number_rows)?;
        let quotient = divide(&left, &right, scale - left_scale + right_scale)?
            .with_precision_and_scale(DECIMAL128_MAX_PRECISION, scale)?;
        let quotient: ArrayRef = Arc::new(quotient);
        if scalars {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &quotient, 0,
            )?));
        }
        Ok(ColumnarValue::Array(quotient))
    }
}

/// The values as unscaled 128-bit integers, with their scale.
fn as_decimals(value: &ColumnarValue, rows: usize) -> Result<(Decimal128Array, i8)> {
    let array = value.to_array(rows)?;
    let Some(scale) = dividend_scale(array.data_type()) else {
        return exec_err!("{DECIMAL_DIVIDE} takes decimals or integers");
    };
    let array = match array.data_type() {
        DataType::Decimal128(..) => array,
        _ => cast(&array, &DataType::Decimal128(DECIMAL128_MAX_PRECISION, 0))?,
    };
    Ok((array.as_primitive::<Decimal128Type>().clone(), scale))
}

/// `left * 10^shift / right`, each rounded half away from zero.
fn divide(left: &Decimal128Array, right: &Decimal128Array, shift: i8) -> Result<Decimal128Array> {
    let Some(factor) = u32::try_from(shift)
        .ok()
        .and_then(|shift| i256::from_i128(10).checked_pow(shift))
    else {
        return exec_err!("numeric field overflow: the quotient needs more than 76 digits");
    };
    let limit = i256::from_i128(10).wrapping_pow(DECIMAL128_MAX_PRECISION as u32);
    left.iter()
        .zip(right.iter())
        .map(|pair| match pair {
            (Some(_), Some(0)) => exec_err!("division by zero"),
            (Some(dividend), Some(divisor)) => quotient(dividend, divisor, factor, limit).map(Some),
            _ => Ok(None),
        })
        .collect()
}

fn quotient(dividend: i128, divisor: i128, factor: i256, limit: i256) -> Result<i128> {
    let overflow = || exec_err!("numeric field overflow: the quotient exceeds DECIMAL(38)");
    let Some(scaled) = i256::from_i128(dividend).checked_mul(factor) else {
        return overflow();
    };
    let divisor = i256::from_i128(divisor);
    let (whole, remainder) = (scaled.wrapping_div(divisor), scaled.wrapping_rem(divisor));
    let two = i256::from_i128(2);
    let rounded = if remainder.wrapping_abs().wrapping_mul(two) >= divisor.wrapping_abs() {
        whole.wrapping_add(scaled.signum().wrapping_mul(divisor.signum()))
    } else {
        whole
    };
    if rounded.wrapping_abs() >= limit {
        return overflow();
    }
    Ok(rounded.as_i128())
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::Field;
    use datafusion::common::config::ConfigOptions;

    use super::*;

    fn call(left: ScalarValue, right: ScalarValue) -> Result<ScalarValue> {
        let return_type =
            decimal_divide_udf().return_type(&[left.data_type(), right.data_type()])?;
        let result = decimal_divide_udf().invoke_with_args(ScalarFunctionArgs {
            arg_fields: vec![
                Arc::new(Field::new("a", left.data_type(), true)),
                Arc::new(Field::new("b", right.data_type(), true)),
            ],
            args: vec![ColumnarValue::Scalar(left), ColumnarValue::Scalar(right)],
            number_rows: 1,
            return_field: Arc::new(Field::new("q", return_type, true)),
            config_options: Arc::new(ConfigOptions::default()),
        })?;
        match result {
            ColumnarValue::Scalar(value) => Ok(value),
            ColumnarValue::Array(_) => panic!("scalars in, scalar out"),
        }
    }

    fn decimal(unscaled: i128, scale: i8) -> ScalarValue {
        ScalarValue::Decimal128(Some(unscaled), 20, scale)
    }

    #[test]
    fn quotients_keep_sixteen_places_rounded_half_away_from_zero() {
        // PostgreSQL: SELECT 1.00 / 3.00 → 0.33333333333333333333 (20 places: it shows more
        // below 1); at 16 places that is 0.3333333333333333.
        assert_eq!(
            call(decimal(100, 2), decimal(300, 2)).unwrap().to_string(),
            "0.3333333333333333"
        );
        // 2 / 3 = 0.666…, the 17th digit rounds the 16th up.
        assert_eq!(
            call(decimal(2, 0), ScalarValue::Int64(Some(3)))
                .unwrap()
                .to_string(),
            "0.6666666666666667"
        );
        assert_eq!(
            call(decimal(-2, 0), ScalarValue::Int64(Some(3)))
                .unwrap()
                .to_string(),
            "-0.6666666666666667"
        );
        // TPC-H Q1's avg_qty at SF1: sum(l_quantity) / count(*) = 37734107.00 / 1478493.
        assert_eq!(
            call(
                decimal(3_773_410_700, 2),
                ScalarValue::Int64(Some(1_478_493))
            )
            .unwrap()
            .to_string(),
            "25.5220058532573370"
        );
    }

    #[test]
    fn nulls_propagate_and_zero_divisors_fail() {
        assert!(call(ScalarValue::Decimal128(None, 20, 2), decimal(0, 2))
            .unwrap()
            .is_null());
        let error = call(decimal(100, 2), decimal(0, 2))
            .unwrap_err()
            .to_string();
        assert!(error.contains("division by zero"), "{error}");
    }
}
