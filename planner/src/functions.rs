//! Table functions in SQL: `read_csv(path, delimiter => ';', header => false, nulls => 'NA')`,
//! `read_parquet(path)`, `read_json(path)`, `read_arrow(path)` and `timeseries(..)`.
//!
//! DataFusion's table functions are synchronous and take positional arguments only, while
//! reading files needs asynchronous listing and schema inference and the options read best by
//! name. So a statement is prepared in two steps: [`TableFunctions::prepare`] walks the parsed
//! statement before planning, resolves every call (expanding globs, inferring schemas) and
//! keeps the resulting table; then [`TableFunctions`], registered as a DataFusion
//! [`RelationPlanner`], plans each call as a scan of the table prepared for it.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};

use datafusion::catalog::TableProvider;
use datafusion::common::{
    internal_datafusion_err, plan_datafusion_err, plan_err, Result, TableReference,
};
use datafusion::datasource::provider_as_source;
use datafusion::execution::SessionState;
use datafusion::logical_expr::planner::{
    PlannedRelation, RelationPlanner, RelationPlannerContext, RelationPlanning,
};
use datafusion::logical_expr::LogicalPlanBuilder;
use datafusion::sql::parser::{CopyToSource, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, FunctionArg, FunctionArgExpr, TableFactor, TableFunctionArgs, UnaryOperator,
    Value, Visit, Visitor,
};

use crate::files::{FileFormatKind, FileSet};
use crate::listing::{file_table, ReadOptions};
use crate::stores::StorageOptions;
use crate::timeseries::{TimeseriesParams, TimeseriesTable};

/// The table functions Rask adds to SQL.
pub const TABLE_FUNCTIONS: [&str; 9] = [
    "read_csv",
    "read_csv_auto",
    "read_tsv",
    "read_parquet",
    "read_json",
    "read_ndjson",
    "read_json_auto",
    "read_arrow",
    "timeseries",
];

/// A constant argument of a table function call.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// `'text'`
    Str(String),
    /// `42`, `-1`
    Int(i64),
    /// `1.5`
    Float(f64),
    /// `true`, `false`
    Bool(bool),
    /// `NULL`: the parameter's default.
    Null,
    /// `['NA', 'n/a']`
    List(Vec<Arg>),
}

impl Arg {
    fn from_sql(function: &str, expr: &SqlExpr) -> Result<Arg> {
        Ok(match expr {
            SqlExpr::Value(v) => {
                match &v.value {
                    Value::SingleQuotedString(s)
                    | Value::DoubleQuotedString(s)
                    | Value::EscapedStringLiteral(s) => Arg::Str(s.clone()),
                    Value::Number(n, _) => match n.parse::<i64>() {
                        Ok(i) => Arg::Int(i),
                        Err(_) => Arg::Float(n.parse().map_err(|_| {
                            plan_datafusion_err!("{function}: '{n}' is not a number")
                        })?),
                    },
                    Value::Boolean(b) => Arg::Bool(*b),
                    Value::Null => Arg::Null,
                    other => return plan_err!("{function}: unsupported argument {other}"),
                }
            }
            SqlExpr::UnaryOp {
                op: UnaryOperator::Minus,
                expr,
            } => match Arg::from_sql(function, expr)? {
                Arg::Int(i) => Arg::Int(-i),
                Arg::Float(f) => Arg::Float(-f),
                _ => return plan_err!("{function}: unsupported argument {expr}"),
            },
            SqlExpr::Array(array) => Arg::List(
                array
                    .elem
                    .iter()
                    .map(|e| Arg::from_sql(function, e))
                    .collect::<Result<_>>()?,
            ),
            SqlExpr::Nested(inner) => Arg::from_sql(function, inner)?,
            other => {
                return plan_err!(
                "{function}: arguments must be constants such as 'text', 42 or true; got {other}"
            )
            }
        })
    }
}

/// A parsed call such as `read_csv('x.csv', delimiter => ';')`.
#[derive(Debug, Clone, PartialEq)]
pub struct TableFunctionCall {
    /// Lower-case function name.
    pub name: String,
    /// Positional arguments, in order.
    pub positional: Vec<Arg>,
    /// `name => value` arguments, names lower-cased.
    pub named: Vec<(String, Arg)>,
    /// The call as written, identifying it between preparing and planning.
    key: String,
}

impl TableFunctionCall {
    /// The call in `factor`, if it is one of [`TABLE_FUNCTIONS`].
    pub fn from_factor(factor: &TableFactor) -> Result<Option<TableFunctionCall>> {
        let TableFactor::Table {
            name,
            args: Some(args),
            ..
        } = factor
        else {
            return Ok(None);
        };
        let [part] = name.0.as_slice() else {
            return Ok(None);
        };
        let Some(ident) = part.as_ident() else {
            return Ok(None);
        };
        let function = ident.value.to_ascii_lowercase();
        if !TABLE_FUNCTIONS.contains(&function.as_str()) {
            return Ok(None);
        }
        let mut call = TableFunctionCall {
            key: call_key(&function, args),
            name: function,
            positional: vec![],
            named: vec![],
        };
        for arg in &args.args {
            match arg {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => {
                    if !call.named.is_empty() {
                        return plan_err!(
                            "{}: positional arguments must come before named ones",
                            call.name
                        );
                    }
                    call.positional.push(Arg::from_sql(&call.name, e)?);
                }
                FunctionArg::Named {
                    name,
                    arg: FunctionArgExpr::Expr(e),
                    ..
                } => call.named.push((
                    name.value.to_ascii_lowercase(),
                    Arg::from_sql(&call.name, e)?,
                )),
                FunctionArg::ExprNamed {
                    name: SqlExpr::Identifier(name),
                    arg: FunctionArgExpr::Expr(e),
                    ..
                } => call.named.push((
                    name.value.to_ascii_lowercase(),
                    Arg::from_sql(&call.name, e)?,
                )),
                other => return plan_err!("{}: unsupported argument {other}", call.name),
            }
        }
        Ok(Some(call))
    }

    /// The arguments by parameter name: positional ones take `params` in order, named ones
    /// must be among `params`. Each parameter is given at most once.
    fn bind<'a>(&'a self, params: &[&str]) -> Result<HashMap<String, &'a Arg>> {
        if self.positional.len() > params.len() {
            return plan_err!(
                "{} takes at most {} positional argument(s) ({}), got {}",
                self.name,
                params.len(),
                params.join(", "),
                self.positional.len()
            );
        }
        let mut bound: HashMap<String, &Arg> = HashMap::new();
        let positional = params.iter().map(|p| p.to_string()).zip(&self.positional);
        let named = self
            .named
            .iter()
            .filter(|(name, _)| !is_storage_param(name))
            .map(|(n, a)| (n.clone(), a));
        for (name, arg) in positional.chain(named) {
            if !params.contains(&name.as_str()) {
                return plan_err!(
                    "{}: unknown option '{name}'; the options are {}{}",
                    self.name,
                    params.join(", "),
                    if params.contains(&"path") {
                        ", and storage options (region, endpoint, anonymous, access_key_id, …)"
                    } else {
                        ""
                    }
                );
            }
            if bound.insert(name.clone(), arg).is_some() {
                return plan_err!("{}: '{name}' is given twice", self.name);
            }
        }
        Ok(bound)
    }

    fn string(&self, bound: &HashMap<String, &Arg>, param: &str) -> Result<Option<String>> {
        match bound.get(param) {
            None | Some(Arg::Null) => Ok(None),
            Some(Arg::Str(s)) => Ok(Some(s.clone())),
            Some(other) => plan_err!("{}: {param} must be a string, got {other:?}", self.name),
        }
    }

    /// The object-store options given by name (`region => 'eu-west-1'`).
    fn storage_options(&self) -> Result<StorageOptions> {
        let mut options = StorageOptions::default();
        for (name, arg) in self.named.iter().filter(|(name, _)| is_storage_param(name)) {
            let value = match arg {
                Arg::Str(s) => s.clone(),
                Arg::Bool(b) => b.to_string(),
                Arg::Int(i) => i.to_string(),
                _ => return plan_err!("{}: {name} must be a string or a boolean", self.name),
            };
            options.insert(name, value);
        }
        Ok(options)
    }

    fn byte(&self, bound: &HashMap<String, &Arg>, param: &str) -> Result<Option<u8>> {
        let Some(text) = self.string(bound, param)? else {
            return Ok(None);
        };
        match text.as_str() {
            "\\t" | "tab" => Ok(Some(b'\t')),
            _ if text.len() == 1 => Ok(Some(text.as_bytes()[0])),
            _ => plan_err!(
                "{}: {param} must be a single character, got '{text}'",
                self.name
            ),
        }
    }

    async fn resolve(&self, state: &SessionState) -> Result<Arc<dyn TableProvider>> {
        if self.name == "timeseries" {
            if let Some((name, _)) = self.named.iter().find(|(name, _)| is_storage_param(name)) {
                return plan_err!("timeseries: unknown option '{name}'; it reads no files");
            }
            let bound = self.bind(&["start", "end", "freq", "partition_freq", "seed"])?;
            let seed = match bound.get("seed") {
                None | Some(Arg::Null) => None,
                Some(Arg::Int(seed)) => Some(*seed),
                Some(other) => {
                    return plan_err!("timeseries: seed must be an integer, got {other:?}")
                }
            };
            let params = TimeseriesParams::new(
                self.string(&bound, "start")?.as_deref(),
                self.string(&bound, "end")?.as_deref(),
                self.string(&bound, "freq")?.as_deref(),
                self.string(&bound, "partition_freq")?.as_deref(),
                seed,
            )?;
            return Ok(Arc::new(TimeseriesTable::new(params)));
        }
        let format = match self.name.as_str() {
            "read_csv" | "read_csv_auto" => FileFormatKind::Csv,
            "read_tsv" => FileFormatKind::Tsv,
            "read_parquet" => FileFormatKind::Parquet,
            "read_arrow" => FileFormatKind::Arrow,
            _ => FileFormatKind::Json,
        };
        let mut options = ReadOptions {
            format: Some(format),
            ..ReadOptions::default()
        };
        let bound = if matches!(format, FileFormatKind::Csv | FileFormatKind::Tsv) {
            let bound = self.bind(&[
                "path",
                "delimiter",
                "header",
                "nulls",
                "quote",
                "escape",
                "comment",
                "union_by_name",
            ])?;
            options.delimiter = self.byte(&bound, "delimiter")?;
            options.quote = self.byte(&bound, "quote")?;
            options.escape = self.byte(&bound, "escape")?;
            options.comment = self.byte(&bound, "comment")?;
            let flag = |name: &str| match bound.get(name) {
                None | Some(Arg::Null) => Ok(None),
                Some(Arg::Bool(b)) => Ok(Some(*b)),
                Some(other) => {
                    plan_err!("{}: {name} must be true or false, got {other:?}", self.name)
                }
            };
            options.header = flag("header")?;
            options.union_by_name = flag("union_by_name")?.unwrap_or(false);
            options.nulls = match bound.get("nulls") {
                None | Some(Arg::Null) => vec![],
                Some(Arg::Str(s)) => vec![s.clone()],
                Some(Arg::List(items)) => items
                    .iter()
                    .map(|item| match item {
                        Arg::Str(s) => Ok(s.clone()),
                        other => plan_err!("{}: nulls must be strings, got {other:?}", self.name),
                    })
                    .collect::<Result<_>>()?,
                Some(other) => {
                    return plan_err!(
                        "{}: nulls must be a string or a list of strings, got {other:?}",
                        self.name
                    )
                }
            };
            bound
        } else {
            self.bind(&["path"])?
        };
        let Some(path) = self.string(&bound, "path")? else {
            return plan_err!(
                "{} needs a path, e.g. {}('data_*.{}')",
                self.name,
                self.name,
                format.name()
            );
        };
        options.storage = self.storage_options()?;
        let files = FileSet::resolve_in(state, &path, &options.storage).await?;
        file_table(state, &files, &options).await
    }
}

/// Options of object stores that table functions take by name, besides any `aws_…`,
/// `google_…` or `azure_…` key the store understands.
const STORAGE_PARAMS: &[&str] = &[
    "region",
    "endpoint",
    "anonymous",
    "access_key_id",
    "secret_access_key",
    "session_token",
    "allow_http",
    "virtual_hosted_style_request",
    "skip_signature",
    "service_account_path",
    "service_account_key",
    "account_name",
    "account_key",
    "sas_token",
    "bearer_token",
    "use_emulator",
];

fn is_storage_param(name: &str) -> bool {
    STORAGE_PARAMS.contains(&name)
        || ["aws_", "google_", "azure_"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

fn call_key(function: &str, args: &TableFunctionArgs) -> String {
    let args: Vec<String> = args.args.iter().map(ToString::to_string).collect();
    // The key names the table in plans and EXPLAIN: secrets among the options stay out.
    crate::stores::redact(&format!("{function}({})", args.join(", ")))
}

/// Collects the table function calls of a statement.
#[derive(Default)]
struct CallCollector {
    calls: Vec<TableFunctionCall>,
    error: Option<datafusion::common::DataFusionError>,
}

impl Visitor for CallCollector {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        match TableFunctionCall::from_factor(factor) {
            Ok(Some(call)) => self.calls.push(call),
            Ok(None) => {}
            Err(e) => {
                self.error = Some(e);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }
}

fn collect_calls(statement: &DFStatement, collector: &mut CallCollector) {
    match statement {
        DFStatement::Statement(s) => {
            let _ = s.visit(collector);
        }
        DFStatement::CopyTo(copy) => {
            if let CopyToSource::Query(query) = &copy.source {
                let _ = query.visit(collector);
            }
        }
        DFStatement::Explain(explain) => collect_calls(&explain.statement, collector),
        DFStatement::CreateExternalTable(_) | DFStatement::Reset(_) => {}
    }
}

/// The tables behind the table function calls of the statements being planned; see the
/// module docs.
#[derive(Debug, Default)]
pub struct TableFunctions {
    prepared: Mutex<HashMap<String, Arc<dyn TableProvider>>>,
}

impl TableFunctions {
    /// Resolves every table function call in `statement`, so that planning it finds them.
    pub async fn prepare(&self, state: &SessionState, statement: &DFStatement) -> Result<()> {
        let mut collector = CallCollector::default();
        collect_calls(statement, &mut collector);
        if let Some(error) = collector.error {
            return Err(error);
        }
        for call in collector.calls {
            let table = call.resolve(state).await?;
            self.prepared
                .lock()
                .map_err(|_| internal_datafusion_err!("table function registry poisoned"))?
                .insert(call.key.clone(), table);
        }
        Ok(())
    }
}

impl RelationPlanner for TableFunctions {
    fn plan_relation(
        &self,
        relation: TableFactor,
        _context: &mut dyn RelationPlannerContext,
    ) -> Result<RelationPlanning> {
        let Some(call) = TableFunctionCall::from_factor(&relation)? else {
            return Ok(RelationPlanning::Original(Box::new(relation)));
        };
        let table = self
            .prepared
            .lock()
            .map_err(|_| internal_datafusion_err!("table function registry poisoned"))?
            .get(&call.key)
            .cloned()
            .ok_or_else(|| {
                internal_datafusion_err!("{} was not prepared before planning", call.key)
            })?;
        // The call's text names the scan: DataFusion compares scans by name and schema, so two
        // calls with different arguments must not share a name.
        let plan = LogicalPlanBuilder::scan(
            TableReference::bare(call.key.as_str()),
            provider_as_source(table),
            None,
        )?
        .build()?;
        let TableFactor::Table { alias, .. } = relation else {
            unreachable!("from_factor accepts only TableFactor::Table")
        };
        Ok(RelationPlanning::Planned(Box::new(PlannedRelation::new(
            plan, alias,
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::parser::DFParser;

    fn calls(sql: &str) -> Result<Vec<TableFunctionCall>> {
        let statements = DFParser::parse_sql(sql)?;
        let mut collector = CallCollector::default();
        for statement in &statements {
            collect_calls(statement, &mut collector);
        }
        match collector.error {
            Some(e) => Err(e),
            None => Ok(collector.calls),
        }
    }

    #[test]
    fn named_and_positional_arguments_are_read() {
        let found = calls(
            "SELECT * FROM read_csv('a.csv', delimiter => ';', header => false, nulls => ['NA', '-']) \
             JOIN timeseries('2000-01-01', NULL, '1h', seed => 42) t ON true",
        )
        .unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].name, "read_csv");
        assert_eq!(found[0].positional, [Arg::Str("a.csv".into())]);
        assert_eq!(
            found[0].named,
            [
                ("delimiter".to_string(), Arg::Str(";".into())),
                ("header".to_string(), Arg::Bool(false)),
                (
                    "nulls".to_string(),
                    Arg::List(vec![Arg::Str("NA".into()), Arg::Str("-".into())])
                ),
            ]
        );
        assert_eq!(found[1].positional.len(), 3);
        assert_eq!(found[1].named, [("seed".to_string(), Arg::Int(42))]);
    }

    #[test]
    fn calls_inside_explain_views_and_copy_are_found() {
        for sql in [
            "EXPLAIN SELECT * FROM timeseries()",
            "CREATE VIEW v AS SELECT * FROM (SELECT * FROM timeseries())",
            "COPY (SELECT * FROM timeseries()) TO 'x.parquet'",
        ] {
            assert_eq!(calls(sql).unwrap().len(), 1, "{sql}");
        }
    }

    #[test]
    fn bad_arguments_are_named() {
        let call = &calls("SELECT * FROM read_csv('a.csv', delim => ';')").unwrap()[0];
        let err = call.bind(&["path", "delimiter"]).unwrap_err().to_string();
        assert!(err.contains("unknown option 'delim'"), "{err}");
        let err = calls("SELECT * FROM timeseries(now())")
            .unwrap_err()
            .to_string();
        assert!(err.contains("must be constants"), "{err}");
    }
}
