//! Function calls given an argument of a type the function does not accept, told by name:
//! `avg(name): argument of type VARCHAR is not numeric`, with the cast that would do.
//!
//! DataFusion refuses such a call while it builds the plan, before any rule could look at
//! it, in words written for its own developers: the signatures it tried and, for functions
//! with several signatures (`avg`, `sum`, `median`, `round`, `md5`, …), a request to report
//! a bug in DataFusion. So when DataFusion finds no signature for a call, the statement is
//! planned once more with every scalar and aggregate function accepting arguments of any
//! type (a call the function refuses yields NULL); in that plan each call has its arguments
//! as typed expressions, and the first one its function refuses (the innermost first) is
//! checked against what the function accepts.

use std::marker::PhantomData;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef, TimeUnit};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion, TreeNodeVisitor};
use datafusion::common::{exec_err, Column, DFSchema, DataFusionError, Result};
use datafusion::execution::SessionState;
use datafusion::logical_expr::expr::{AggregateFunction, ScalarFunction, WindowFunctionDefinition};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::type_coercion::functions::{fields_with_udf, UDFCoercionExt};
use datafusion::logical_expr::{
    cast, Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, Expr, ExprSchemable,
    LogicalPlan, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};
use datafusion::sql::parser::Statement;
use datafusion::sql::unparser::dialect::Dialect;
use datafusion::sql::unparser::Unparser;

/// A call whose function does not accept one of its arguments, as a user reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgumentTypeError {
    /// `avg(name): argument of type VARCHAR is not numeric`.
    pub message: String,
    /// `cast it, e.g. avg(CAST(name AS DOUBLE))`.
    pub hint: String,
}

/// What DataFusion says of a call that none of its function's signatures fits.
const NO_MATCHING_SIGNATURE: &str = "No function matches the given name and argument types";

/// Why `statement` cannot be planned, DataFusion having refused it with `refusal`, when the
/// reason is a function call with an argument of a type the function does not accept;
/// `None` when it is something else (or the statement plans after all).
pub async fn argument_type_error(
    state: &SessionState,
    statement: &Statement,
    refusal: &DataFusionError,
) -> Option<ArgumentTypeError> {
    // Planning again resolves the statement's file tables again: only for calls refused.
    if !refusal.to_string().contains(NO_MATCHING_SIGNATURE) {
        return None;
    }
    let replanned = match accepting_any_arguments(state) {
        Ok(state) => state.statement_to_plan(statement.clone()).await.ok(),
        Err(_) => None,
    };
    replanned
        .and_then(|plan| first_refused_call(&plan))
        .or_else(|| signatures_refused(&refusal.to_string()))
}

/// `state` with every scalar and aggregate function replaced by one accepting any arguments.
/// DataFusion's refusal of arguments whose types do not fit, in one line: a call no
/// signature fits (the call with its argument types and what the function takes), or
/// operands that type coercion cannot reconcile. For refusals the replanning cannot pin down
/// (a call inside an argument of another refused one) and those of the type coercion rule,
/// which DataFusion words as bugs of its own.
pub fn signatures_refused(refusal: &str) -> Option<ArgumentTypeError> {
    // Every error a user sees passes here: most are nothing of the kind.
    let refused_types = [
        "failed to match any signature",
        "Failed to coerce types",
        NO_MATCHING_SIGNATURE,
    ];
    if !refused_types.iter().any(|words| refusal.contains(words)) {
        return None;
    }
    let hint =
        "cast the arguments to the types it takes, e.g. CAST(x AS TEXT) or CAST(x AS BIGINT)";
    let captured = |pattern: &str| {
        regex::Regex::new(pattern)
            .ok()?
            .captures(refusal)
            .map(|found| found[1].to_string())
    };
    if let Some(operands) = captured(r"(Failed to coerce types [^.;\n]*)") {
        return Some(ArgumentTypeError {
            message: operands.replacen("Failed to coerce", "cannot compare or combine", 1),
            hint: "cast one side to the other's type, e.g. CAST(x AS TEXT)".to_string(),
        });
    }
    let call = captured(&format!("{NO_MATCHING_SIGNATURE} '([^']+)'")).or_else(|| {
        let name = captured(r"Function '([^']+)' failed to match any signature")?;
        let reason = captured(r"failed to match any signature, errors: ([^;\n]*)")
            .map(|reason| {
                reason
                    .split(",Function")
                    .next()
                    .unwrap_or("")
                    .trim_end_matches('.')
                    .to_string()
            })
            .unwrap_or_default();
        Some(format!("{name} ({reason})"))
    })?;
    let candidates: Vec<&str> = refusal
        .split_once("Candidate functions:")
        .map(|(_, listed)| {
            listed
                .split([';', '\n'])
                .map(str::trim)
                .filter(|candidate| !candidate.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let takes = match candidates.as_slice() {
        [] => String::new(),
        listed => format!("; it takes {}", listed.join(" or ")),
    };
    Some(ArgumentTypeError {
        message: format!("{call}: no version of the function takes these argument types{takes}"),
        hint: hint.to_string(),
    })
}

fn accepting_any_arguments(state: &SessionState) -> Result<SessionState> {
    use datafusion::execution::FunctionRegistry;
    let mut lenient = state.clone();
    // Each function is listed under its name and again under every alias.
    for (name, udf) in state.scalar_functions() {
        if name == udf.name() {
            let wrapped = AnyArguments::new(Arc::clone(udf));
            lenient.register_udf(Arc::new(ScalarUDF::new_from_impl(wrapped)))?;
        }
    }
    for (name, udaf) in state.aggregate_functions() {
        if name == udaf.name() {
            let wrapped = AnyArguments::new(Arc::clone(udaf));
            lenient.register_udaf(Arc::new(AggregateUDF::new_from_impl(wrapped)))?;
        }
    }
    Ok(lenient)
}

/// A function that accepts arguments of any type; a call `inner` refuses yields NULL. Such a
/// plan is only looked at, never run.
#[derive(Debug, PartialEq, Eq, Hash)]
struct AnyArguments<F> {
    inner: Arc<F>,
    signature: Signature,
}

impl<F: UDFCoercionExt> AnyArguments<F> {
    fn new(inner: Arc<F>) -> Self {
        let mut any = Signature::user_defined(inner.signature().volatility);
        any.parameter_names = inner.signature().parameter_names.clone();
        AnyArguments {
            inner,
            signature: any,
        }
    }

    /// The argument of a call with `args` that the function refuses, as
    /// [`refused_argument`] finds it.
    fn refused(&self, args: &[Expr], schema: &DFSchema) -> Option<(usize, &'static str, DataType)> {
        refused_argument(self.inner.as_ref(), &types(args, schema)?)
    }

    fn coerced(&self, arg_types: &[DataType]) -> Vec<DataType> {
        match accepted(self.inner.as_ref(), arg_types) {
            Some(coerced) => coerced,
            None => arg_types.to_vec(),
        }
    }
}

fn refused_call_field(name: &str) -> FieldRef {
    Arc::new(Field::new(name, DataType::Null, true))
}

impl ScalarUDFImpl for AnyArguments<ScalarUDF> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        Ok(self.coerced(arg_types))
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Null)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        Ok(self
            .inner
            .return_field_from_args(args)
            .unwrap_or_else(|_| refused_call_field(self.name())))
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        exec_err!("{} was planned only to check its arguments", self.name())
    }
}

impl AggregateUDFImpl for AnyArguments<AggregateUDF> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        Ok(self.coerced(arg_types))
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Null)
    }

    fn return_field(&self, arg_fields: &[FieldRef]) -> Result<FieldRef> {
        Ok(self
            .inner
            .return_field(arg_fields)
            .unwrap_or_else(|_| refused_call_field(self.name())))
    }

    fn supports_null_handling_clause(&self) -> bool {
        self.inner.inner().supports_null_handling_clause()
    }

    fn supports_within_group_clause(&self) -> bool {
        self.inner.inner().supports_within_group_clause()
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        exec_err!("{} was planned only to check its arguments", self.name())
    }
}

/// The argument types `function` coerces `arg_types` to, if it accepts them.
fn accepted<F: UDFCoercionExt>(function: &F, arg_types: &[DataType]) -> Option<Vec<DataType>> {
    let fields: Vec<FieldRef> = arg_types
        .iter()
        .enumerate()
        .map(|(i, t)| Arc::new(Field::new(format!("arg{i}"), t.clone(), true)))
        .collect();
    fields_with_udf(&fields, function)
        .ok()
        .map(|fields| fields.iter().map(|f| f.data_type().clone()).collect())
}

/// What a function may expect of an argument, tried in this order: the first kind a refused
/// argument could be replaced by is what the function expects there.
const KINDS: [(&str, DataType); 6] = [
    ("numeric", DataType::Float64),
    ("an integer", DataType::Int64),
    ("boolean", DataType::Boolean),
    ("a string", DataType::Utf8),
    (
        "a timestamp",
        DataType::Timestamp(TimeUnit::Nanosecond, None),
    ),
    ("a date", DataType::Date32),
];

/// Beyond this many arguments, only one argument at a time is replaced when looking for the
/// refused one (every combination would be too many to try).
const COMBINED_ARGUMENTS: usize = 3;

/// Whether `function` accepts some call with `at` as argument `position`, the other
/// arguments being of their own types or of any kind.
fn accepts_with<F: UDFCoercionExt>(
    function: &F,
    arg_types: &[DataType],
    position: usize,
    at: &DataType,
) -> bool {
    let options: Vec<Vec<DataType>> = arg_types
        .iter()
        .enumerate()
        .map(|(i, own)| {
            if i == position {
                vec![at.clone()]
            } else if arg_types.len() <= COMBINED_ARGUMENTS {
                std::iter::once(own.clone())
                    .chain(KINDS.iter().map(|(_, t)| t.clone()))
                    .collect()
            } else {
                vec![own.clone()]
            }
        })
        .collect();
    let mut call: Vec<DataType> = options.iter().map(|o| o[0].clone()).collect();
    any_combination(function, &options, &mut call, 0)
}

/// Whether `function` accepts `call` with its arguments from `position` on replaced by any
/// of their `options`.
fn any_combination<F: UDFCoercionExt>(
    function: &F,
    options: &[Vec<DataType>],
    call: &mut Vec<DataType>,
    position: usize,
) -> bool {
    if position == call.len() {
        return accepted(function, call).is_some();
    }
    options[position].iter().any(|option| {
        call[position] = option.clone();
        any_combination(function, options, call, position + 1)
    })
}

/// The first argument `function` refuses whatever the others are, with the kind it expects
/// there.
fn refused_argument<F: UDFCoercionExt>(
    function: &F,
    arg_types: &[DataType],
) -> Option<(usize, &'static str, DataType)> {
    if accepted(function, arg_types).is_some() {
        return None;
    }
    (0..arg_types.len()).find_map(|position| {
        if accepts_with(function, arg_types, position, &arg_types[position]) {
            return None;
        }
        KINDS
            .iter()
            .find(|(_, kind)| accepts_with(function, arg_types, position, kind))
            .map(|(name, kind)| (position, *name, kind.clone()))
    })
}

/// The first call in `plan` (subqueries included, inputs before the nodes reading them,
/// arguments before the calls they are passed to) whose function refuses an argument.
fn first_refused_call(plan: &LogicalPlan) -> Option<ArgumentTypeError> {
    let written = written_names(plan);
    let mut nodes = BottomUp::new(|node: &LogicalPlan| refused_call_in_node(node, &written));
    plan.visit_with_subqueries(&mut nodes).ok()?;
    nodes.found
}

fn refused_call_in_node(
    node: &LogicalPlan,
    written: &[(String, String)],
) -> Option<ArgumentTypeError> {
    let mut schema = DFSchema::empty();
    for input in node.inputs() {
        schema.merge(input.schema());
    }
    let mut found = None;
    node.apply_expressions(|expr| {
        let mut calls = BottomUp::new(|e: &Expr| refused_call(e, &schema, written));
        expr.visit(&mut calls)?;
        found = calls.found;
        Ok(stop_once(&found))
    })
    .ok()?;
    found
}

/// The calls in `plan` made by another name of their function (`var_samp` for `var`), by
/// the name DataFusion gives the call, with the name written. DataFusion aliases such a call
/// `var_samp(..)`, where it is computed or, for an aggregate, where its result is read.
fn written_names(plan: &LogicalPlan) -> Vec<(String, String)> {
    let mut written = Vec::new();
    let _ = plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                if let Expr::Alias(alias) = e {
                    if let Some((name, _)) = alias.name.split_once('(') {
                        written.push((alias.expr.qualified_name().1, name.to_string()));
                    }
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    });
    written
}

/// Visits a tree children first and stops at the first node `check` finds something in.
struct BottomUp<N, C, T> {
    check: C,
    found: Option<T>,
    node: PhantomData<fn(&N)>,
}

impl<N, C, T> BottomUp<N, C, T> {
    fn new(check: C) -> Self {
        BottomUp {
            check,
            found: None,
            node: PhantomData,
        }
    }
}

impl<'n, N: TreeNode + 'n, T, C: FnMut(&N) -> Option<T>> TreeNodeVisitor<'n> for BottomUp<N, C, T> {
    type Node = N;

    fn f_up(&mut self, node: &'n N) -> Result<TreeNodeRecursion> {
        self.found = (self.check)(node);
        Ok(stop_once(&self.found))
    }
}

fn stop_once<T>(found: &Option<T>) -> TreeNodeRecursion {
    if found.is_some() {
        TreeNodeRecursion::Stop
    } else {
        TreeNodeRecursion::Continue
    }
}

/// The error of `expr`, when it is a call of a function that refuses one of its arguments;
/// `written` tells the calls made by another name of their function.
fn refused_call(
    expr: &Expr,
    schema: &DFSchema,
    written: &[(String, String)],
) -> Option<ArgumentTypeError> {
    let (name, aliases, args, refused) = match expr {
        Expr::ScalarFunction(ScalarFunction { func, args }) => {
            let accepting = func.inner().downcast_ref::<AnyArguments<ScalarUDF>>()?;
            (
                func.name(),
                func.aliases(),
                args,
                accepting.refused(args, schema),
            )
        }
        Expr::AggregateFunction(AggregateFunction { func, params }) => {
            let accepting = func.inner().downcast_ref::<AnyArguments<AggregateUDF>>()?;
            let args = &params.args;
            (
                func.name(),
                func.aliases(),
                args,
                accepting.refused(args, schema),
            )
        }
        Expr::WindowFunction(window) => {
            let WindowFunctionDefinition::AggregateUDF(func) = &window.fun else {
                return None;
            };
            let accepting = func.inner().downcast_ref::<AnyArguments<AggregateUDF>>()?;
            let args = &window.params.args;
            (
                func.name(),
                func.aliases(),
                args,
                accepting.refused(args, schema),
            )
        }
        _ => return None,
    };
    let (position, expected, kind) = refused?;
    let computed = expr.schema_name().to_string();
    let written_as = written
        .iter()
        .find(|(call, by)| *call == computed && aliases.contains(by))
        .map(|(_, by)| by);
    let arg_type = args[position].get_type(schema).ok()?;
    let call = as_written(expr);
    let spelled = |call: &Expr| -> Option<String> {
        let text = sql(call)?;
        Some(match written_as {
            Some(by) => format!("{by}{}", text.strip_prefix(name)?),
            None => text,
        })
    };
    let argument = if args.len() == 1 {
        "argument".to_string()
    } else {
        format!("argument {} ({})", position + 1, sql(&args[position])?)
    };
    let mut with_cast = call.clone();
    replace_argument(
        &mut with_cast,
        &args[position],
        cast(args[position].clone(), kind),
    );
    Some(ArgumentTypeError {
        message: format!(
            "{}: {argument} of type {} is not {expected}",
            spelled(&call)?,
            sql_type_name(&arg_type)
        ),
        hint: format!("cast it, e.g. {}", spelled(&with_cast)?),
    })
}

/// A call as the user wrote it: an aggregate over a window without the window's frame, which
/// DataFusion spells out in full.
fn as_written(call: &Expr) -> Expr {
    match call {
        Expr::WindowFunction(window) => match &window.fun {
            WindowFunctionDefinition::AggregateUDF(func) => {
                Expr::AggregateFunction(AggregateFunction::new_udf(
                    Arc::clone(func),
                    window.params.args.clone(),
                    window.params.distinct,
                    None,
                    vec![],
                    None,
                ))
            }
            WindowFunctionDefinition::WindowUDF(_) => call.clone(),
        },
        other => other.clone(),
    }
}

fn types(args: &[Expr], schema: &DFSchema) -> Option<Vec<DataType>> {
    args.iter().map(|arg| arg.get_type(schema).ok()).collect()
}

/// Replaces `argument` in `call`, also where it orders the aggregation (as the value of
/// `WITHIN GROUP (ORDER BY value)` does).
fn replace_argument(call: &mut Expr, argument: &Expr, replacement: Expr) {
    let (args, order_by) = match call {
        Expr::ScalarFunction(f) => (&mut f.args, None),
        Expr::AggregateFunction(f) => (&mut f.params.args, Some(&mut f.params.order_by)),
        _ => return,
    };
    let sorts = order_by.into_iter().flatten().map(|sort| &mut sort.expr);
    for expr in args.iter_mut().chain(sorts) {
        if expr == argument {
            *expr = replacement.clone();
        }
    }
}

/// Identifiers quoted only where SQL needs it, so that `name` is not shown as `"name"`.
struct Readable;

impl Dialect for Readable {
    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        let plain = identifier
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && identifier
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        (!plain).then_some('"')
    }
}

/// `expr` as SQL a user could have written, columns without their tables.
fn sql(expr: &Expr) -> Option<String> {
    let unqualified = expr
        .clone()
        .transform(|e| match e {
            Expr::Column(column) if column.relation.is_some() => Ok(Transformed::yes(
                Expr::Column(Column::new_unqualified(column.name)),
            )),
            other => Ok(Transformed::no(other)),
        })
        .ok()?
        .data;
    Unparser::new(&Readable)
        .with_pretty(true)
        .expr_to_sql(&unqualified)
        .ok()
        .map(|sql| sql.to_string())
}

/// The SQL name of an Arrow type, as `CAST(.. AS ..)` spells it.
fn sql_type_name(data_type: &DataType) -> String {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "VARCHAR".to_string(),
        DataType::Boolean => "BOOLEAN".to_string(),
        DataType::Int8 => "TINYINT".to_string(),
        DataType::Int16 => "SMALLINT".to_string(),
        DataType::Int32 => "INTEGER".to_string(),
        DataType::Int64 => "BIGINT".to_string(),
        DataType::UInt8 => "TINYINT UNSIGNED".to_string(),
        DataType::UInt16 => "SMALLINT UNSIGNED".to_string(),
        DataType::UInt32 => "INTEGER UNSIGNED".to_string(),
        DataType::UInt64 => "BIGINT UNSIGNED".to_string(),
        DataType::Float16 | DataType::Float32 => "REAL".to_string(),
        DataType::Float64 => "DOUBLE".to_string(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("DECIMAL({p}, {s})"),
        DataType::Date32 | DataType::Date64 => "DATE".to_string(),
        DataType::Timestamp(_, None) => "TIMESTAMP".to_string(),
        DataType::Timestamp(_, Some(_)) => "TIMESTAMP WITH TIME ZONE".to_string(),
        DataType::Time32(_) | DataType::Time64(_) => "TIME".to_string(),
        DataType::Interval(_) | DataType::Duration(_) => "INTERVAL".to_string(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "BYTEA".to_string(),
        DataType::Null => "NULL".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn refusals_replanning_cannot_pin_down_still_read_as_one_line() {
        let refusal = "Error during planning: Internal error: Function 'substr' failed to match any signature, errors: Function 'substr' expects 2 arguments but received 3. This issue was likely caused by a bug in DataFusion's code.; No function matches the given name and argument types 'substr(Float64, Utf8, UInt64)'. You might need to add explicit type casts.\n\tCandidate functions:\n\tsubstr(str: String, start_pos: Int64)\n\tsubstr(str: String, start_pos: Int64, length: Int64)";
        let refused = super::signatures_refused(refusal).unwrap();
        assert_eq!(
            refused.message,
            "substr(Float64, Utf8, UInt64): no version of the function takes these argument types; it takes substr(str: String, start_pos: Int64) or substr(str: String, start_pos: Int64, length: Int64)"
        );
        let coercion = "type_coercion\ncaused by\nError during planning: Function 'substr' failed to match any signature, errors: Function 'substr' expects 2 arguments but received 3,Function 'substr' requires String, but received Boolean (DataType: Boolean).";
        assert_eq!(
            super::signatures_refused(coercion).unwrap().message,
            "substr (Function 'substr' expects 2 arguments but received 3): no version of the function takes these argument types"
        );
        let between =
            "type_coercion: Failed to coerce types Boolean and Date32 in BETWEEN expression";
        assert_eq!(
            super::signatures_refused(between).unwrap().message,
            "cannot compare or combine types Boolean and Date32 in BETWEEN expression"
        );
    }

    use super::*;
    use datafusion::functions::math::round;
    use datafusion::functions_aggregate::average::avg_udaf;
    use datafusion::functions_aggregate::correlation::corr_udaf;

    #[test]
    fn the_refused_argument_and_what_is_expected_there() {
        let avg = avg_udaf();
        assert_eq!(refused_argument(avg.as_ref(), &[DataType::Float64]), None);
        assert_eq!(refused_argument(avg.as_ref(), &[DataType::Int32]), None);
        assert_eq!(
            refused_argument(avg.as_ref(), &[DataType::Utf8]),
            Some((0, "numeric", DataType::Float64))
        );
        let round = round();
        assert_eq!(
            refused_argument(round.as_ref(), &[DataType::Float64, DataType::Utf8]),
            Some((1, "an integer", DataType::Int64))
        );
        // Both refused: the first is told.
        let corr = corr_udaf();
        assert_eq!(
            refused_argument(corr.as_ref(), &[DataType::Utf8, DataType::Boolean]),
            Some((0, "numeric", DataType::Float64))
        );
        // No kind of argument makes a call with too many arguments right.
        assert_eq!(
            refused_argument(avg.as_ref(), &[DataType::Utf8, DataType::Utf8]),
            None
        );
    }

    #[test]
    fn calls_read_as_sql() {
        use datafusion::logical_expr::{col, ident, lit};
        let call = round().call(vec![col("t.price"), lit("2")]);
        assert_eq!(sql(&call).unwrap(), "round(price, '2')");
        let quoted = avg_udaf().call(vec![ident("Price") + lit(1)]);
        assert_eq!(sql(&quoted).unwrap(), r#"avg("Price" + 1)"#);
        assert_eq!(
            sql_type_name(&DataType::Timestamp(TimeUnit::Second, None)),
            "TIMESTAMP"
        );
    }
}
