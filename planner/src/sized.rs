//! Functions whose result size an argument chooses: `lpad`, `rpad`, `repeat` and
//! `array_repeat`, in place of DataFusion's under the same names.
//!
//! DataFusion's versions allocate whatever the arguments ask for: `rpad(name, 2147483647)`
//! over a column of 50 rows asks the allocator for 107 GB, which aborts the process (an
//! allocation failure is no panic, so no boundary can catch it), and `rpad('a', -1, fill)`
//! with a fill column panics on a negative capacity. Each function here first works out how
//! many bytes its result would take and refuses a batch whose result would exceed the
//! session's budget (its memory limit, or a share of the machine's memory without one); a
//! negative length or count is zero, as in PostgreSQL, where `rpad('a', -1)` is `''`.
//!
//! Aggregates whose state an argument sizes are checked in the plan instead
//! ([`check_aggregate_arguments`]): `approx_percentile_cont` allocates its centroids up
//! front, 16 bytes each, so 2^32 of them abort on a 64 GiB allocation.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::compute::kernels::length::length;
use datafusion::arrow::datatypes::{DataType, FieldRef, Int64Type};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature,
};
use datafusion::logical_expr::{Expr, LogicalPlan};

use crate::graph::format_bytes;

/// How a function's arguments decide the size of its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Growth {
    /// `lpad(text, length[, fill])`: the text, then up to `length` characters of fill.
    Pad,
    /// `repeat(text, count)`: `count` copies of the text.
    Repeat,
    /// `array_repeat(element, count)`: a list of `count` copies of the element.
    ArrayRepeat,
}

/// DataFusion's `lpad`, `rpad`, `repeat` and `array_repeat`, each refusing a batch whose
/// result would take more than `budget` bytes.
pub fn sized_functions(budget: usize) -> Vec<ScalarUDF> {
    use datafusion::functions::{string, unicode};
    use datafusion::functions_nested::repeat::array_repeat_udf;
    [
        (unicode::lpad(), Growth::Pad),
        (unicode::rpad(), Growth::Pad),
        (string::repeat(), Growth::Repeat),
        (array_repeat_udf(), Growth::ArrayRepeat),
    ]
    .into_iter()
    .map(|(inner, growth)| {
        ScalarUDF::new_from_impl(Sized {
            inner,
            growth,
            budget,
        })
    })
    .collect()
}

/// The most centroids an `approx_percentile_cont` may keep (DataFusion's default is 100):
/// 1 MiB of state for each group.
pub const MAX_CENTROIDS: i64 = 65_536;

/// Refuses calls in `plan` of aggregates given a size they would allocate without bound, or
/// a position they assert on: `approx_percentile_cont(x, p, centroids)` (and `…_with_weight`)
/// with centroids outside 1..=[`MAX_CENTROIDS`], `nth_value(x, 0)`.
pub fn check_aggregate_arguments(plan: &LogicalPlan) -> Result<()> {
    let mut refused = Ok(());
    plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|expr| {
                if let Expr::AggregateFunction(call) = expr {
                    refused = check_call(call);
                }
                Ok(match refused {
                    Ok(()) => TreeNodeRecursion::Continue,
                    Err(_) => TreeNodeRecursion::Stop,
                })
            })
        })
    })?;
    refused
}

fn check_call(call: &AggregateFunction) -> Result<()> {
    let name = call.func.name();
    let literal = |position: usize| match call.params.args.get(position) {
        Some(Expr::Literal(value, _)) => value.cast_to(&DataType::Int64).ok(),
        _ => None,
    };
    let centroids_at = match name {
        "approx_percentile_cont" => 2,
        "approx_percentile_cont_with_weight" => 3,
        "nth_value" => {
            return match literal(1) {
                Some(ScalarValue::Int64(Some(0))) => {
                    plan_err!("nth_value: positions start at 1, not 0")
                }
                _ => Ok(()),
            }
        }
        _ => return Ok(()),
    };
    match literal(centroids_at) {
        Some(ScalarValue::Int64(Some(n))) if !(1..=MAX_CENTROIDS).contains(&n) => {
            plan_err!("{name}: the number of centroids must be from 1 to {MAX_CENTROIDS}, not {n}")
        }
        _ => Ok(()),
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Sized {
    inner: Arc<ScalarUDF>,
    growth: Growth,
    budget: usize,
}

impl ScalarUDFImpl for Sized {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }

    fn invoke_with_args(&self, mut args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [subject, size, rest @ ..] = args.args.as_mut_slice() else {
            return self.inner.invoke_with_args(args);
        };
        *size = at_least_zero(size)?;
        let rows = match (&*subject, &*size, &*rest) {
            (
                ColumnarValue::Scalar(_),
                ColumnarValue::Scalar(_),
                [] | [ColumnarValue::Scalar(_)],
            ) => 1,
            _ => args.number_rows,
        };
        let counts = int64s(size, rows)?;
        let units = match self.growth {
            Growth::Pad => fill_width(rest.first()),
            Growth::Repeat => byte_lengths(subject, rows)?,
            Growth::ArrayRepeat => element_sizes(subject, rows)?,
        };
        let mut total: u128 = match self.growth {
            Growth::Pad => byte_lengths(subject, rows)?.total(),
            Growth::Repeat | Growth::ArrayRepeat => 0,
        };
        let counts = counts.as_primitive::<Int64Type>();
        for row in 0..rows {
            if counts.is_valid(row) {
                total += counts.value(row) as u128 * units.at(row);
            }
        }
        let needed = || format_bytes(usize::try_from(total).unwrap_or(usize::MAX));
        if total > self.budget as u128 {
            return exec_err!(
                "{}: the result would take {}, more than the {} a query may hold",
                self.name(),
                needed(),
                format_bytes(self.budget)
            );
        }
        // Strings with 32-bit offsets hold at most 2 GiB per array.
        let narrow = matches!(
            args.return_field.data_type(),
            DataType::Utf8 | DataType::Binary
        );
        if narrow && total > i32::MAX as u128 {
            return exec_err!(
                "{}: the result would take {}, more than one column of {} can hold (2 GiB)",
                self.name(),
                needed(),
                args.return_field.data_type()
            );
        }
        self.inner.invoke_with_args(args)
    }
}

/// A length or count with negative values made zero.
fn at_least_zero(value: &ColumnarValue) -> Result<ColumnarValue> {
    Ok(match value {
        ColumnarValue::Scalar(ScalarValue::Int64(Some(n))) if *n < 0 => {
            ColumnarValue::Scalar(ScalarValue::Int64(Some(0)))
        }
        ColumnarValue::Scalar(_) => value.clone(),
        ColumnarValue::Array(array) => match array.as_primitive_opt::<Int64Type>() {
            Some(ints) if ints.values().iter().any(|n| *n < 0) => {
                ColumnarValue::Array(Arc::new(ints.unary::<_, Int64Type>(|n| n.max(0))))
            }
            _ => value.clone(),
        },
    })
}

fn int64s(value: &ColumnarValue, rows: usize) -> Result<ArrayRef> {
    Ok(cast(&value.to_array(rows)?, &DataType::Int64)?)
}

/// Bytes per unit of count, per row or the same for all.
enum Units {
    Each(ArrayRef),
    All(u128),
}

impl Units {
    fn at(&self, row: usize) -> u128 {
        match self {
            Units::All(bytes) => *bytes,
            Units::Each(bytes) => {
                let bytes = bytes.as_primitive::<Int64Type>();
                if bytes.is_valid(row) {
                    bytes.value(row).max(0) as u128
                } else {
                    0
                }
            }
        }
    }

    fn total(&self) -> u128 {
        match self {
            Units::All(bytes) => *bytes,
            Units::Each(bytes) => (0..bytes.len()).map(|row| self.at(row)).sum(),
        }
    }
}

/// The bytes of one character of fill: its widest character (a space by default; up to four
/// bytes when the fill varies by row).
fn fill_width(fill: Option<&ColumnarValue>) -> Units {
    let widest = |text: &str| text.chars().map(char::len_utf8).max().unwrap_or(1);
    Units::All(match fill {
        None => 1,
        Some(ColumnarValue::Scalar(scalar)) => match scalar.try_as_str() {
            Some(Some(text)) => widest(text) as u128,
            _ => 1,
        },
        Some(ColumnarValue::Array(_)) => 4,
    })
}

fn byte_lengths(text: &ColumnarValue, rows: usize) -> Result<Units> {
    let lengths = length(text.to_array(rows)?.as_ref())?;
    Ok(Units::Each(cast(&lengths, &DataType::Int64)?))
}

/// The bytes each copy of an element takes: its type's width, or else its share of the
/// memory its array holds.
fn element_sizes(element: &ColumnarValue, rows: usize) -> Result<Units> {
    if let Some(width) = element.data_type().primitive_width() {
        return Ok(Units::All(width as u128));
    }
    let array = element.to_array(rows)?;
    let per_row = array.get_array_memory_size() / array.len().max(1);
    Ok(Units::All(per_row.max(1) as u128))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::StringArray;
    use datafusion::prelude::SessionContext;

    use super::*;

    async fn run(ctx: &SessionContext, sql: &str) -> Result<Vec<Option<String>>> {
        let batches = ctx.sql(sql).await?.collect().await?;
        let mut values = Vec::new();
        for batch in batches {
            let column = cast(batch.column(0), &DataType::Utf8)?;
            let strings = column.as_any().downcast_ref::<StringArray>().unwrap();
            values.extend(strings.iter().map(|s| s.map(str::to_string)));
        }
        Ok(values)
    }

    fn session(budget: usize) -> SessionContext {
        let ctx = SessionContext::new();
        for function in sized_functions(budget) {
            ctx.register_udf(function);
        }
        ctx
    }

    #[tokio::test]
    async fn negative_lengths_and_counts_give_empty_results_as_in_postgresql() {
        let ctx = session(1 << 20);
        let fills = "(VALUES ('ab', '-'), ('c', '+')) AS t(s, f)";
        let empty = || vec![Some(String::new()), Some(String::new())];
        for (call, expected) in [
            ("rpad('a', -1, f)", empty()),
            ("lpad(s, -5, f)", empty()),
            ("repeat(s, -2)", empty()),
            (
                "rpad(s, 4, f)",
                vec![Some("ab--".to_string()), Some("c+++".to_string())],
            ),
        ] {
            let got = run(&ctx, &format!("SELECT {call} FROM {fills}"))
                .await
                .unwrap();
            assert_eq!(got, expected, "{call}");
        }
    }

    #[tokio::test]
    async fn results_past_the_budget_are_refused_before_they_are_allocated() {
        let ctx = session(1000);
        let rows = "(VALUES ('ab'), ('c'), ('d')) AS t(s)";
        // 3 rows padded to 300 bytes each fit 1000 bytes; to 400 they do not.
        assert_eq!(
            run(
                &ctx,
                &format!("SELECT length(rpad(s, 300, 'x')) FROM {rows}")
            )
            .await
            .unwrap(),
            vec![Some("300".to_string()); 3]
        );
        let refused = run(&ctx, &format!("SELECT rpad(s, 400, 'x') FROM {rows}"))
            .await
            .unwrap_err()
            .strip_backtrace();
        assert!(refused.contains("rpad: the result would take"), "{refused}");
        assert!(refused.contains("more than the 1000 B"), "{refused}");
        // A multibyte fill counts at its width: 100 'é' are 200 bytes.
        assert!(run(&ctx, &format!("SELECT lpad(s, 200, 'é') FROM {rows}"))
            .await
            .is_err());
        let unbounded = session(usize::MAX);
        let refused = run(
            &unbounded,
            &format!("SELECT rpad(s, 1000000000, 'x') FROM {rows}"),
        )
        .await
        .unwrap_err()
        .strip_backtrace();
        assert!(
            refused.contains("more than one column of Utf8 can hold (2 GiB)"),
            "{refused}"
        );
        let huge = [
            "SELECT rpad(s, 2147483647, 'x') FROM",
            "SELECT repeat(s, 2000000000) FROM",
        ];
        for sql in huge {
            let refused = run(&ctx, &format!("{sql} {rows}"))
                .await
                .unwrap_err()
                .strip_backtrace();
            assert!(refused.contains("the result would take"), "{refused}");
        }
        let refused = run(&ctx, "SELECT array_repeat(1, 1000000)")
            .await
            .unwrap_err()
            .strip_backtrace();
        assert!(
            refused.contains("array_repeat: the result would take"),
            "{refused}"
        );
        assert_eq!(
            run(&ctx, "SELECT repeat('ab', 3)").await.unwrap(),
            [Some("ababab".to_string())]
        );
    }
}
