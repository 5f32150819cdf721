//! `SUMMARIZE`, as DuckDB has it: a row for each column of a table, file or query, with its
//! type, min, max, approximate number of distinct values, mean, standard deviation,
//! approximate quartiles, the row count and the share of NULLs.
//!
//! `SUMMARIZE x` is sugar for `SELECT * FROM summarize((SELECT * FROM x))` (a query stays as
//! written), so the summary can be filtered, sorted or written like any other relation. The
//! plan is one aggregation over the input — every statistic of every column in a single pass
//! — whose one row is turned into a row per column by unnesting arrays built from it.

use std::borrow::Cow;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{plan_datafusion_err, plan_err, Column, Result, ScalarValue};
use datafusion::functions::expr_fn::{nullif, replace};
use datafusion::functions_aggregate::expr_fn::{
    approx_distinct, approx_percentile_cont, avg, count, max, min, stddev,
};
use datafusion::functions_nested::expr_fn::make_array;
use datafusion::logical_expr::planner::{
    PlannedRelation, RelationPlanner, RelationPlannerContext, RelationPlanning,
};
use datafusion::logical_expr::{cast, lit, Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::sql::sqlparser::ast::{Expr as SqlExpr, FunctionArg, FunctionArgExpr, TableFactor};

use crate::script::statement_spans;
use crate::type_names::sql_type_name;

const FUNCTION: &str = "summarize";

/// The summary's columns, in order.
pub const SUMMARY_COLUMNS: [&str; 12] = [
    "column_name",
    "column_type",
    "min",
    "max",
    "approx_unique",
    "avg",
    "std",
    "q25",
    "q50",
    "q75",
    "count",
    "null_percentage",
];

/// `sql` with each `SUMMARIZE x` statement written as the query it stands for; other text is
/// left as it is, and line breaks stay where they were.
pub fn rewrite_statements(sql: &str) -> Cow<'_, str> {
    let mut rewritten = String::new();
    let mut copied = 0;
    for span in statement_spans(sql) {
        let text = &sql[span.clone()];
        let Some(target) = strip_keyword(text, "SUMMARIZE") else {
            continue;
        };
        let target = target.trim();
        let query = if starts_a_query(target) {
            target.to_string()
        } else {
            format!("SELECT * FROM {target}")
        };
        rewritten.push_str(&sql[copied..span.start]);
        rewritten.push_str(&format!("SELECT * FROM {FUNCTION}(({query}))"));
        copied = span.end;
    }
    if copied == 0 {
        return Cow::Borrowed(sql);
    }
    rewritten.push_str(&sql[copied..]);
    Cow::Owned(rewritten)
}

/// The text after `keyword` when `text` starts with it as a whole word (any case).
fn strip_keyword<'a>(text: &'a str, keyword: &str) -> Option<&'a str> {
    let head = text.get(..keyword.len())?;
    let rest = &text[keyword.len()..];
    (head.eq_ignore_ascii_case(keyword) && rest.starts_with(char::is_whitespace)).then_some(rest)
}

fn starts_a_query(text: &str) -> bool {
    text.starts_with('(')
        || ["SELECT", "WITH", "VALUES", "FROM"]
            .iter()
            .any(|keyword| strip_keyword(text, keyword).is_some())
}

/// Plans `summarize((query))` in `FROM`. The argument must be a query written in the
/// statement: DataFusion resolves the tables and files a statement names before planning it,
/// so a relation named only here would not be found; `SUMMARIZE x` writes that query.
#[derive(Debug, Default)]
pub struct SummarizePlanner;

impl RelationPlanner for SummarizePlanner {
    fn plan_relation(
        &self,
        relation: TableFactor,
        context: &mut dyn RelationPlannerContext,
    ) -> Result<RelationPlanning> {
        let TableFactor::Table {
            name,
            args: Some(args),
            alias,
            ..
        } = &relation
        else {
            return Ok(RelationPlanning::Original(Box::new(relation)));
        };
        let is_summarize = matches!(name.0.as_slice(), [part]
            if part.as_ident().is_some_and(|i| i.value.eq_ignore_ascii_case(FUNCTION)));
        if !is_summarize {
            return Ok(RelationPlanning::Original(Box::new(relation)));
        }
        let usage = || {
            plan_datafusion_err!(
                "{FUNCTION} takes a query: {FUNCTION}((SELECT * FROM sales)); \
                 or write SUMMARIZE sales"
            )
        };
        let [FunctionArg::Unnamed(FunctionArgExpr::Expr(argument))] = args.args.as_slice() else {
            return Err(usage());
        };
        let SqlExpr::Subquery(query) = argument else {
            return Err(usage());
        };
        let input = context.plan(TableFactor::Derived {
            lateral: false,
            subquery: query.clone(),
            alias: None,
            sample: None,
        })?;
        let plan = summarize(input)?;
        Ok(RelationPlanning::Planned(Box::new(PlannedRelation::new(
            plan,
            alias.clone(),
        ))))
    }
}

/// Which statistics a column's type has.
struct Applicable {
    ordered: bool,
    hashable: bool,
    numeric: bool,
}

fn applicable(data_type: &DataType) -> Applicable {
    let nested = data_type.is_nested();
    Applicable {
        ordered: !nested && !matches!(data_type, DataType::Null),
        hashable: !nested && !matches!(data_type, DataType::Null),
        numeric: data_type.is_numeric(),
    }
}

/// The summary of `input`, a row per column (see the module docs).
pub fn summarize(input: LogicalPlan) -> Result<LogicalPlan> {
    let fields: Vec<(Column, Arc<datafusion::arrow::datatypes::Field>)> = input
        .schema()
        .iter()
        .map(|(qualifier, field)| {
            (
                Column::new(qualifier.cloned(), field.name()),
                Arc::clone(field),
            )
        })
        .collect();
    if fields.is_empty() {
        return plan_err!("{FUNCTION}: the relation has no columns");
    }
    let stat = |i: usize, name: &str| format!("{i}\u{1}{name}");
    let mut aggregates = vec![count(lit(1)).alias("rows")];
    let mut shown_as_text = Vec::with_capacity(fields.len());
    for (i, (column, field)) in fields.iter().enumerate() {
        let value = Expr::Column(column.clone());
        let as_float = || cast(value.clone(), DataType::Float64);
        let has = applicable(field.data_type());
        aggregates.push(count(value.clone()).alias(stat(i, "present")));
        if has.ordered {
            aggregates.push(min(value.clone()).alias(stat(i, "min")));
            aggregates.push(max(value.clone()).alias(stat(i, "max")));
        }
        // Timestamps read as tables show them, with a space rather than ISO's `T`.
        shown_as_text.push(matches!(field.data_type(), DataType::Timestamp(..)));
        if has.hashable {
            // DataFusion 55 counts no floats; their text is as distinct as they are.
            let counted = if field.data_type().is_floating() {
                cast(value.clone(), DataType::Utf8)
            } else {
                value.clone()
            };
            aggregates.push(approx_distinct(counted).alias(stat(i, "approx_unique")));
        }
        if has.numeric {
            aggregates.push(avg(as_float()).alias(stat(i, "avg")));
            aggregates.push(stddev(as_float()).alias(stat(i, "std")));
            for (name, q) in [("q25", 0.25), ("q50", 0.5), ("q75", 0.75)] {
                let quantile = approx_percentile_cont(as_float().sort(true, false), lit(q), None);
                aggregates.push(quantile.alias(stat(i, name)));
            }
        }
    }
    let aggregated = LogicalPlanBuilder::from(input)
        .aggregate(Vec::<Expr>::new(), aggregates)?
        .build()?;
    let rows = || Expr::Column(Column::from_name("rows"));
    // One array per summary column, an element per summarized column; a statistic a type
    // does not have is a NULL of the summary column's type.
    let per_column = |make: &dyn Fn(usize, &Applicable) -> Expr| -> Expr {
        make_array(
            fields
                .iter()
                .enumerate()
                .map(|(i, (_, field))| make(i, &applicable(field.data_type())))
                .collect(),
        )
    };
    let statistic = |i: usize, name: &str, present: bool, data_type: DataType| -> Expr {
        if present {
            cast(Expr::Column(Column::from_name(stat(i, name))), data_type)
        } else {
            lit(ScalarValue::try_from(&data_type).unwrap_or(ScalarValue::Null))
        }
    };
    let float = DataType::Float64;
    let extreme = |i: usize, name: &str, has: &Applicable| {
        let text = statistic(i, name, has.ordered, DataType::Utf8);
        if has.ordered && shown_as_text[i] {
            replace(text, lit("T"), lit(" "))
        } else {
            text
        }
    };
    let arrays = vec![
        per_column(&|i, _| lit(fields[i].1.name().as_str())),
        per_column(&|i, _| lit(sql_type_name(fields[i].1.data_type()))),
        per_column(&|i, has| extreme(i, "min", has)),
        per_column(&|i, has| extreme(i, "max", has)),
        per_column(&|i, has| statistic(i, "approx_unique", has.hashable, DataType::Int64)),
        per_column(&|i, has| statistic(i, "avg", has.numeric, float.clone())),
        per_column(&|i, has| statistic(i, "std", has.numeric, float.clone())),
        per_column(&|i, has| statistic(i, "q25", has.numeric, float.clone())),
        per_column(&|i, has| statistic(i, "q50", has.numeric, float.clone())),
        per_column(&|i, has| statistic(i, "q75", has.numeric, float.clone())),
        per_column(&|_, _| cast(rows(), DataType::Int64)),
        per_column(&|i, _| {
            let missing = cast(rows(), float.clone())
                - cast(
                    Expr::Column(Column::from_name(stat(i, "present"))),
                    float.clone(),
                );
            lit(100.0) * missing / nullif(cast(rows(), float.clone()), lit(0.0))
        }),
    ];
    let named: Vec<Expr> = arrays
        .into_iter()
        .zip(SUMMARY_COLUMNS)
        .map(|(array, name)| array.alias(name))
        .collect();
    LogicalPlanBuilder::from(aggregated)
        .project(named)?
        .unnest_columns_with_options(
            SUMMARY_COLUMNS
                .iter()
                .map(|name| Column::from_name(*name))
                .collect(),
            Default::default(),
        )?
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarize_statements_become_queries_and_nothing_else_changes() {
        assert_eq!(
            rewrite_statements("SELECT 1;\nsummarize sales;\nSUMMARIZE 'a b.csv'"),
            "SELECT 1;\nSELECT * FROM summarize((SELECT * FROM sales));\nSELECT * FROM summarize((SELECT * FROM 'a b.csv'))"
        );
        assert_eq!(
            rewrite_statements("SUMMARIZE SELECT x\nFROM t WHERE x > 1;"),
            "SELECT * FROM summarize((SELECT x\nFROM t WHERE x > 1));"
        );
        let untouched = "SELECT 'SUMMARIZE x'; SELECT summarize_me FROM t";
        assert!(matches!(rewrite_statements(untouched), Cow::Borrowed(_)));
    }
}
