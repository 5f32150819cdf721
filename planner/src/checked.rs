//! Integer arithmetic that fails instead of wrapping: `checked_add`, `checked_subtract`,
//! `checked_multiply` and `checked_negate`, which [`CheckedArithmetic`] puts in place of
//! DataFusion's `+ - *` and unary minus on integers.
//!
//! DataFusion evaluates these operators with Arrow's wrapping kernels, so `i64::MAX + 1` is
//! `i64::MIN`; PostgreSQL raises "bigint out of range" ("Mathematical Functions and Operators":
//! integer operators raise an error on overflow). Arrow's checked kernels skip NULL slots, so a
//! NULL never overflows. The functions name their results as the operators do (`a + b`), so
//! replacing an operator changes no column name.
//!
//! [`CheckedArithmetic`]: crate::rules::CheckedArithmetic

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Datum};
use datafusion::arrow::compute::kernels::numeric;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::error::ArrowError;
use datafusion::common::{exec_err, DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    ColumnarValue, Expr, Operator, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

/// One checked operation on integers of one type; the result has the arguments' type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckedOperation {
    /// `a + b`
    Add,
    /// `a - b`
    Subtract,
    /// `a * b`
    Multiply,
    /// `-a`
    Negate,
}

impl CheckedOperation {
    /// The checked operation standing for `operator`, if it can overflow on integers.
    pub fn of(operator: Operator) -> Option<Self> {
        match operator {
            Operator::Plus => Some(Self::Add),
            Operator::Minus => Some(Self::Subtract),
            Operator::Multiply => Some(Self::Multiply),
            _ => None,
        }
    }

    /// The name of its function in plans.
    pub fn name(self) -> &'static str {
        match self {
            Self::Add => "checked_add",
            Self::Subtract => "checked_subtract",
            Self::Multiply => "checked_multiply",
            Self::Negate => "checked_negate",
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Self::Add => "+",
            Self::Subtract | Self::Negate => "-",
            Self::Multiply => "*",
        }
    }

    /// Its function, `checked_add(a, b)` and so on.
    pub fn udf(self) -> ScalarUDF {
        self.function(None)
    }

    /// Its function applied to `args`, named once as the operator would name the call.
    /// DataFusion asks a call for its name at every level of the expression above it, and
    /// each time the name would be built again from the names below: cubic in the length of
    /// a chain `1 + 1 + … + 1`, minutes for a thousand terms.
    pub fn call(self, args: Vec<Expr>) -> Result<Expr> {
        let shown = self.shown(&args)?;
        Ok(Expr::ScalarFunction(ScalarFunction::new_udf(
            Arc::new(self.function(Some(shown))),
            args,
        )))
    }

    fn function(self, shown: Option<String>) -> ScalarUDF {
        let arity = if self == Self::Negate { 1 } else { 2 };
        ScalarUDF::from(CheckedFunction {
            operation: self,
            signature: Signature::any(arity, Volatility::Immutable),
            shown,
        })
    }

    /// The operator's own spelling of a call, so that a column keeps the name `a + b`.
    fn shown(self, args: &[Expr]) -> Result<String> {
        match args {
            [operand] => Ok(format!("(- {})", operand.schema_name())),
            [left, right] => Ok(format!(
                "{} {} {}",
                left.schema_name(),
                self.symbol(),
                right.schema_name()
            )),
            _ => exec_err!("{} takes one or two arguments", self.name()),
        }
    }

    /// Every checked function, for registries and codecs.
    pub fn all() -> [ScalarUDF; 4] {
        [Self::Add, Self::Subtract, Self::Multiply, Self::Negate].map(Self::udf)
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct CheckedFunction {
    operation: CheckedOperation,
    signature: Signature,
    /// The call's name, when the function was made for one call.
    shown: Option<String>,
}

impl ScalarUDFImpl for CheckedFunction {
    fn name(&self) -> &str {
        self.operation.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [only] if self.operation == CheckedOperation::Negate && only.is_integer() => {
                Ok(only.clone())
            }
            [left, right] if left == right && left.is_integer() => Ok(left.clone()),
            _ => exec_err!(
                "{} takes integers of one type, got {arg_types:?}",
                self.operation.name()
            ),
        }
    }

    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        match &self.shown {
            Some(shown) => Ok(shown.clone()),
            None => self.operation.shown(args),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalars = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let data_type = args.return_field.data_type().clone();
        let result = match (self.operation, args.args.as_slice()) {
            (CheckedOperation::Negate, [operand]) => {
                let array = operand.to_array(args.number_rows)?;
                numeric::neg(array.as_ref())
            }
            (operation, [left, right]) => {
                let (left, right) = (datum(left)?, datum(right)?);
                match operation {
                    CheckedOperation::Add => numeric::add(left.as_ref(), right.as_ref()),
                    CheckedOperation::Subtract => numeric::sub(left.as_ref(), right.as_ref()),
                    _ => numeric::mul(left.as_ref(), right.as_ref()),
                }
            }
            _ => return exec_err!("{} got the wrong number of arguments", self.name()),
        }
        .map_err(|error| out_of_range(error, &data_type))?;
        if scalars {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &result, 0,
            )?));
        }
        Ok(ColumnarValue::Array(result))
    }
}

fn datum(value: &ColumnarValue) -> Result<Box<dyn Datum>> {
    Ok(match value {
        ColumnarValue::Array(array) => Box::new(ArrayRef::clone(array)),
        ColumnarValue::Scalar(scalar) => Box::new(scalar.to_scalar()?),
    })
}

/// PostgreSQL's wording ("bigint out of range"), with the operation that overflowed.
fn out_of_range(error: ArrowError, data_type: &DataType) -> DataFusionError {
    match error {
        ArrowError::ArithmeticOverflow(detail) => DataFusionError::Execution(format!(
            "{} out of range: {}",
            sql_integer_name(data_type),
            spelled(detail.trim_start_matches("Overflow happened on: "))
        )),
        other => other.into(),
    }
}

/// Arrow spells a negation `- -5`; SQL reads `-(-5)`.
fn spelled(operation: &str) -> String {
    match operation.strip_prefix("- ") {
        Some(operand) => format!("-({operand})"),
        None => operation.to_string(),
    }
}

/// The SQL name of an integer type, as PostgreSQL and DuckDB spell it.
pub fn sql_integer_name(data_type: &DataType) -> &'static str {
    match data_type {
        DataType::Int8 => "tinyint",
        DataType::Int16 => "smallint",
        DataType::Int32 => "integer",
        DataType::Int64 => "bigint",
        DataType::UInt8 => "utinyint",
        DataType::UInt16 => "usmallint",
        DataType::UInt32 => "uinteger",
        DataType::UInt64 => "ubigint",
        _ => "integer",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Array, Int64Array};
    use datafusion::arrow::datatypes::Field;
    use datafusion::common::config::ConfigOptions;

    use super::*;

    fn call(operation: CheckedOperation, args: Vec<ColumnarValue>) -> Result<ColumnarValue> {
        let arg_fields = args
            .iter()
            .map(|a| Arc::new(Field::new("a", a.data_type(), true)))
            .collect();
        operation.udf().invoke_with_args(ScalarFunctionArgs {
            number_rows: 3,
            arg_fields,
            return_field: Arc::new(Field::new("r", DataType::Int64, true)),
            args,
            config_options: Arc::new(ConfigOptions::default()),
        })
    }

    fn column(values: Vec<Option<i64>>) -> ColumnarValue {
        ColumnarValue::Array(Arc::new(Int64Array::from(values)))
    }

    #[test]
    fn results_in_range_equal_plain_arithmetic() {
        let sum = call(
            CheckedOperation::Add,
            vec![
                column(vec![Some(1), None, Some(i64::MAX - 1)]),
                ColumnarValue::Scalar(ScalarValue::Int64(Some(1))),
            ],
        )
        .unwrap()
        .to_array(3)
        .unwrap();
        let expected: ArrayRef = Arc::new(Int64Array::from(vec![Some(2), None, Some(i64::MAX)]));
        assert_eq!(&sum, &expected);
    }

    #[test]
    fn overflow_is_an_error_naming_the_type_and_values() {
        let error = call(
            CheckedOperation::Multiply,
            vec![
                column(vec![Some(1), Some(i64::MAX), Some(3)]),
                column(vec![Some(1), Some(2), Some(3)]),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("bigint out of range: 9223372036854775807 * 2"),
            "{error}"
        );
        let negated = call(
            CheckedOperation::Negate,
            vec![ColumnarValue::Scalar(ScalarValue::Int64(Some(i64::MIN)))],
        )
        .unwrap_err()
        .to_string();
        assert!(
            negated.contains("bigint out of range: -(-9223372036854775808)"),
            "{negated}"
        );
    }

    #[test]
    fn null_slots_never_overflow() {
        let garbage = Int64Array::new(vec![i64::MAX, 1].into(), Some(vec![false, true].into()));
        let sum = call(
            CheckedOperation::Add,
            vec![
                ColumnarValue::Array(Arc::new(garbage)),
                column(vec![Some(1), Some(1)]),
            ],
        )
        .unwrap()
        .to_array(2)
        .unwrap();
        assert_eq!(sum.null_count(), 1);
        assert_eq!(
            sum.as_any().downcast_ref::<Int64Array>().unwrap().value(1),
            2
        );
    }
}
