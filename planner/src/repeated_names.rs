//! Results that repeat a column name: `SELECT id, id FROM t`, `SELECT 1, 1`,
//! `SELECT count(*), (SELECT count(*) FROM t) FROM t`.
//!
//! SQL allows them, and PostgreSQL returns them as written; DataFusion's plans do not: a
//! projection whose expressions share a name is refused ("Projections require unique
//! expression names"). So a statement DataFusion
//! refuses is planned again with its top-level select items named apart: once under
//! placeholders, to learn the name each item would have, then under those names made
//! unique by a number (`id`, `id:2`). [`RepeatedNames`] keeps the names to show; the engine
//! renames the columns back where results leave it.
//!
//! ```text
//! SELECT id, id FROM t                    -- refused
//! SELECT id AS "id", id AS "id:2" FROM t  -- planned; shown as id, id
//! ```
//!
//! `ORDER BY` a repeated name means the item of that name; two different items of that name
//! make it ambiguous, as in PostgreSQL. Where the names become the columns of something else,
//! they must be unique: `CREATE VIEW`, `CREATE TABLE .. AS` (PostgreSQL: "column "id"
//! specified more than once") and `COPY`, which writes them as a file's header. Where only
//! positions matter (`INSERT .. SELECT`, `EXPLAIN`, a view naming its own columns) the
//! statement is planned with the unique names; `DESCRIBE SELECT ..` lists the names shown.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use datafusion::arrow::datatypes::Schema;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{plan_err, DFSchema, DataFusionError, Result, SchemaError};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{DescribeTable, Expr, LogicalPlan};
use datafusion::sql::parser::{CopyToSource, Statement};
use datafusion::sql::planner::IdentNormalizer;
use datafusion::sql::sqlparser::ast::{
    self, Ident, OrderBy, OrderByKind, Query, SelectItem, SetExpr,
};

/// What the top-level select items are named to learn the names they would have.
const PLACEHOLDER: &str = "__rask_output_";

/// Between a repeated name and the number that makes it unique in the plan: `id:2`.
const SEPARATOR: char = ':';

/// The names to show for the columns of a result that repeats names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatedNames {
    /// What was appended to each column's name to make it unique; empty where nothing was.
    suffixes: Vec<String>,
}

impl RepeatedNames {
    /// The names to show for the columns of `schema`, the schema of the statement's plan
    /// (whose names may since have been tidied, which leaves the suffixes in place).
    pub fn shown(&self, schema: &DFSchema) -> Vec<String> {
        self.shown_of(schema.fields().iter().map(|field| field.name()))
    }

    /// `DESCRIBE` of the result, listing the names to show.
    fn described(&self, described: DescribeTable) -> DescribeTable {
        let schema = &described.schema;
        let shown = self.shown_of(schema.fields().iter().map(|field| field.name()));
        let fields: Vec<_> = schema
            .fields()
            .iter()
            .zip(shown)
            .map(|(field, name)| field.as_ref().clone().with_name(name))
            .collect();
        DescribeTable {
            schema: Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())),
            output_schema: described.output_schema,
        }
    }

    fn shown_of<'a>(&self, names: impl Iterator<Item = &'a String>) -> Vec<String> {
        names
            .zip(&self.suffixes)
            .map(|(name, suffix)| {
                name.strip_suffix(suffix.as_str())
                    .unwrap_or(name)
                    .to_string()
            })
            .collect()
    }
}

/// A statement planned with its top-level select items named apart.
#[derive(Debug)]
pub struct Replanned {
    /// Its plan, whose columns have unique names.
    pub plan: LogicalPlan,
    /// The names to show, when the statement returns the query's rows.
    pub names: Option<RepeatedNames>,
}

/// Plans `statement`, which DataFusion refused with `refusal`, with its top-level select
/// items named apart. `Ok(None)` when that is not why it was refused; an error when the
/// statement makes repeated names into columns, or orders by an ambiguous name.
pub async fn plan_with_repeated_names(
    state: &SessionState,
    statement: &Statement,
    refusal: &DataFusionError,
) -> Result<Option<Replanned>> {
    // Each planning resolves the statement's file tables again: only names are worth it.
    if !refuses_repeated_names(refusal) {
        return Ok(None);
    }
    let normalizer =
        IdentNormalizer::new(state.config_options().sql_parser.enable_ident_normalization);
    let mut original = statement.clone();
    let Some((query, names_use)) = query_of(&mut original) else {
        return Ok(None);
    };
    let aliases: Vec<Option<String>> = named_items(&mut query.body)
        .iter()
        .map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(normalizer.normalize(alias.clone())),
            _ => None,
        })
        .collect();
    let items = aliases.len();
    let placeholders: Vec<String> = (0..items).map(|k| format!("{PLACEHOLDER}{k}")).collect();
    let mut probe_query = query.clone();
    name_items(&mut probe_query, &placeholders, &normalizer)?;
    let probe = Statement::Statement(Box::new(ast::Statement::Query(Box::new(probe_query))));
    let Ok(probed) = state.statement_to_plan(probe).await else {
        return Ok(None);
    };
    let Some(columns) = columns(&probed, &aliases) else {
        return Ok(None);
    };
    let mut seen = HashSet::new();
    let Some(repeated) = columns.iter().map(Column::name).find(|n| !seen.insert(*n)) else {
        return Ok(None);
    };
    if let NamesUse::Columns = names_use {
        return plan_err!("column \"{repeated}\" specified more than once");
    }
    let (unique, suffixes) = unique_names(&columns, items);
    let mut renamed = statement.clone();
    let Some((query, _)) = query_of(&mut renamed) else {
        return Ok(None);
    };
    name_items(query, &unique, &normalizer)?;
    let Ok(plan) = state.statement_to_plan(renamed).await else {
        return Ok(None);
    };
    let names = RepeatedNames { suffixes };
    Ok(Some(match (names_use, plan) {
        (NamesUse::Result, plan) => Replanned {
            plan,
            names: Some(names),
        },
        (NamesUse::Described, LogicalPlan::DescribeTable(described)) => Replanned {
            plan: LogicalPlan::DescribeTable(names.described(described)),
            names: None,
        },
        (_, plan) => Replanned { plan, names: None },
    }))
}

/// Whether `error` is DataFusion refusing a plan whose columns would share a name.
fn refuses_repeated_names(error: &DataFusionError) -> bool {
    match error.find_root() {
        DataFusionError::SchemaError(error, _) => matches!(
            error.as_ref(),
            SchemaError::DuplicateQualifiedField { .. }
                | SchemaError::DuplicateUnqualifiedField { .. }
                | SchemaError::AmbiguousReference { .. }
        ),
        DataFusionError::Plan(message) => {
            message.starts_with("Projections require unique expression names")
        }
        _ => false,
    }
}

/// How a statement uses the names of its query's columns.
enum NamesUse {
    /// They name the rows it returns.
    Result,
    /// They are what it returns: `DESCRIBE SELECT ..`.
    Described,
    /// Only their positions matter.
    Positions,
    /// They become the columns of a view, a table or a file, and must be unique.
    Columns,
}

/// The query whose top-level names `statement` uses, and how it uses them.
fn query_of(statement: &mut Statement) -> Option<(&mut Query, NamesUse)> {
    match statement {
        Statement::Statement(statement) => sql_query_of(statement),
        Statement::Explain(explain) => {
            query_of(&mut explain.statement).map(|(query, _)| (query, NamesUse::Positions))
        }
        Statement::CopyTo(copy) => match &mut copy.source {
            CopyToSource::Query(query) => Some((query, NamesUse::Columns)),
            CopyToSource::Relation(_) => None,
        },
        _ => None,
    }
}

fn sql_query_of(statement: &mut ast::Statement) -> Option<(&mut Query, NamesUse)> {
    match statement {
        ast::Statement::Query(query) => Some((query, NamesUse::Result)),
        ast::Statement::Insert(insert) => insert
            .source
            .as_deref_mut()
            .map(|query| (query, NamesUse::Positions)),
        ast::Statement::CreateView(view) => {
            let names_use = if view.columns.is_empty() {
                NamesUse::Columns
            } else {
                NamesUse::Positions
            };
            Some((&mut view.query, names_use))
        }
        ast::Statement::CreateTable(table) => table
            .query
            .as_deref_mut()
            .map(|query| (query, NamesUse::Columns)),
        ast::Statement::Explain {
            statement,
            describe_alias,
            ..
        } => {
            let names_use = match describe_alias {
                ast::DescribeAlias::Describe | ast::DescribeAlias::Desc => NamesUse::Described,
                ast::DescribeAlias::Explain => NamesUse::Positions,
            };
            sql_query_of(statement).map(|(query, _)| (query, names_use))
        }
        _ => None,
    }
}

/// The select lists of `body`, the one naming the result (the first of a set operation)
/// first.
fn select_lists(body: &mut SetExpr) -> Vec<&mut Vec<SelectItem>> {
    match body {
        SetExpr::Select(select) => vec![&mut select.projection],
        SetExpr::Query(query) => select_lists(&mut query.body),
        SetExpr::SetOperation { left, right, .. } => {
            let mut lists = select_lists(left);
            lists.extend(select_lists(right));
            lists
        }
        _ => vec![],
    }
}

/// The items naming the result that are expressions (not wildcards), in order.
fn named_items(body: &mut SetExpr) -> Vec<&mut SelectItem> {
    select_lists(body)
        .into_iter()
        .next()
        .map(|items| {
            items
                .iter_mut()
                .filter(|item| expression(item).is_some())
                .collect()
        })
        .unwrap_or_default()
}

fn expression(item: &SelectItem) -> Option<&ast::Expr> {
    match item {
        SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => Some(expr),
        _ => None,
    }
}

/// The name a user gave item `item` in SQL (its alias or the column it is), and what it
/// names.
fn written_name(item: &SelectItem, normalizer: &IdentNormalizer) -> Option<(String, Referent)> {
    let (name, expr) = match item {
        SelectItem::ExprWithAlias { expr, alias } => (normalizer.normalize(alias.clone()), expr),
        SelectItem::UnnamedExpr(expr) => match Referent::of(expr, normalizer) {
            Referent::Column { name, .. } => (name, expr),
            Referent::Expression(_) => return None,
        },
        _ => return None,
    };
    Some((name, Referent::of(expr, normalizer)))
}

/// What a select item stands for, as far as telling two items of one name apart needs.
#[derive(Debug, PartialEq)]
enum Referent {
    /// A column, with the table if one is named.
    Column { table: Option<String>, name: String },
    /// Any other expression, as written.
    Expression(String),
}

impl Referent {
    fn of(expr: &ast::Expr, normalizer: &IdentNormalizer) -> Referent {
        let idents = match expr {
            ast::Expr::Identifier(ident) => std::slice::from_ref(ident),
            ast::Expr::CompoundIdentifier(idents) if !idents.is_empty() => idents.as_slice(),
            other => return Referent::Expression(other.to_string()),
        };
        let mut parts: Vec<String> = idents
            .iter()
            .map(|i| normalizer.normalize(i.clone()))
            .collect();
        let name = parts.pop().unwrap_or_default();
        let table = (!parts.is_empty()).then(|| parts.join("."));
        Referent::Column { table, name }
    }

    /// Whether both stand for the same value: a column named without its table is the column
    /// of that name named with it, since the query would not plan were the name ambiguous.
    fn same_as(&self, other: &Referent) -> bool {
        match (self, other) {
            (
                Referent::Column { table, name },
                Referent::Column {
                    table: other_table,
                    name: other_name,
                },
            ) => {
                name == other_name
                    && (table.is_none() || other_table.is_none() || table == other_table)
            }
            _ => self == other,
        }
    }
}

/// Names the expression items of every select list of `query` by `aliases`, in order, and
/// points its `ORDER BY` at the item a name in it stands for.
fn name_items(query: &mut Query, aliases: &[String], normalizer: &IdentNormalizer) -> Result<()> {
    let written: Vec<Option<(String, Referent)>> = named_items(&mut query.body)
        .iter()
        .map(|item| written_name(item, normalizer))
        .collect();
    for items in select_lists(&mut query.body) {
        let expressions = items.iter_mut().filter(|item| expression(item).is_some());
        for (item, alias) in expressions.zip(aliases) {
            if let Some(expr) = expression(item).cloned() {
                *item = SelectItem::ExprWithAlias {
                    expr,
                    alias: Ident::with_quote('"', alias),
                };
            }
        }
    }
    let Some(OrderBy {
        kind: OrderByKind::Expressions(order),
        ..
    }) = &mut query.order_by
    else {
        return Ok(());
    };
    for key in order {
        let ast::Expr::Identifier(ident) = &key.expr else {
            continue;
        };
        let name = normalizer.normalize(ident.clone());
        let mut named = written.iter().enumerate().filter_map(|(k, item)| {
            item.as_ref()
                .filter(|(n, _)| *n == name)
                .map(|(_, e)| (k, e))
        });
        let Some((first, expr)) = named.next() else {
            continue;
        };
        if named.any(|(_, other)| !other.same_as(expr)) {
            return plan_err!("ORDER BY \"{name}\" is ambiguous");
        }
        if let Some(alias) = aliases.get(first) {
            key.expr = ast::Expr::Identifier(Ident::with_quote('"', alias));
        }
    }
    Ok(())
}

/// A column of the result planned with placeholders.
enum Column {
    /// The expression item `k`, with the name DataFusion would give it.
    Item(usize, String),
    /// A column of a wildcard, with its name.
    Expanded(String),
}

impl Column {
    fn name(&self) -> &str {
        match self {
            Column::Item(_, name) | Column::Expanded(name) => name,
        }
    }
}

/// The columns of `plan`, planned with placeholders; `aliases` are the names the items were
/// given in SQL.
fn columns(plan: &LogicalPlan, aliases: &[Option<String>]) -> Option<Vec<Column>> {
    let computed = placeholder_names(plan);
    plan.schema()
        .fields()
        .iter()
        .map(|field| {
            let name = field.name();
            match name
                .strip_prefix(PLACEHOLDER)
                .and_then(|k| k.parse::<usize>().ok())
            {
                Some(k) => {
                    let alias = aliases.get(k)?.as_ref();
                    Some(Column::Item(k, alias.or(computed.get(name))?.clone()))
                }
                None => Some(Column::Expanded(name.clone())),
            }
        })
        .collect()
}

/// For each placeholder in `plan`, the name of the expression it stands for, found where the
/// placeholder is given (the projection nearest the root).
fn placeholder_names(plan: &LogicalPlan) -> HashMap<String, String> {
    let mut names = HashMap::new();
    let _ = plan.apply(|node| {
        if let LogicalPlan::Projection(projection) = node {
            for expr in &projection.expr {
                if let Expr::Alias(alias) = expr {
                    if alias.name.starts_with(PLACEHOLDER) {
                        names
                            .entry(alias.name.clone())
                            .or_insert_with(|| alias.expr.qualified_name().1);
                    }
                }
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    names
}

/// Unique names for the `items` expression items (a wildcard's columns keep theirs), and
/// for each column what was appended to make its name unique.
fn unique_names(columns: &[Column], items: usize) -> (Vec<String>, Vec<String>) {
    let all: HashSet<&str> = columns.iter().map(Column::name).collect();
    let mut used: HashSet<String> = columns
        .iter()
        .filter_map(|column| match column {
            Column::Expanded(name) => Some(name.clone()),
            Column::Item(..) => None,
        })
        .collect();
    let mut aliases = vec![String::new(); items];
    let mut suffixes = Vec::with_capacity(columns.len());
    for column in columns {
        let Column::Item(k, name) = column else {
            suffixes.push(String::new());
            continue;
        };
        let suffix = if used.insert(name.clone()) {
            String::new()
        } else {
            (2..)
                .map(|n| format!("{SEPARATOR}{n}"))
                .find(|suffix| {
                    let unique = format!("{name}{suffix}");
                    !all.contains(unique.as_str()) && used.insert(unique)
                })
                .unwrap_or_default()
        };
        if let Some(alias) = aliases.get_mut(*k) {
            *alias = format!("{name}{suffix}");
        }
        suffixes.push(suffix);
    }
    (aliases, suffixes)
}

#[cfg(test)]
mod tests {
    use datafusion::sql::parser::DFParser;

    use super::*;

    fn named(sql: &str, aliases: &[&str]) -> Result<String> {
        let mut statement = DFParser::parse_sql(sql).unwrap().pop_front().unwrap();
        let (query, _) = query_of(&mut statement).unwrap();
        let aliases: Vec<String> = aliases.iter().map(|a| a.to_string()).collect();
        name_items(query, &aliases, &IdentNormalizer::new(true))?;
        Ok(query.to_string())
    }

    #[test]
    fn items_are_named_and_order_by_follows_them() {
        assert_eq!(
            named(
                "SELECT id, Id AS ID2, t.id, * FROM t ORDER BY id2, t.x",
                &["a", "b", "c"]
            )
            .unwrap(),
            r#"SELECT id AS "a", Id AS "b", t.id AS "c", * FROM t ORDER BY "b", t.x"#
        );
        // Every select list of a set operation, the first one naming the result.
        assert_eq!(
            named("SELECT 1, 1 UNION ALL SELECT 2, 2 ORDER BY 1", &["a", "b"]).unwrap(),
            r#"SELECT 1 AS "a", 1 AS "b" UNION ALL SELECT 2 AS "a", 2 AS "b" ORDER BY 1"#
        );
    }

    #[test]
    fn one_name_for_two_expressions_is_ambiguous_in_order_by() {
        assert_eq!(
            named("SELECT id AS a, id AS a FROM t ORDER BY a", &["x", "y"]).unwrap(),
            r#"SELECT id AS "x", id AS "y" FROM t ORDER BY "x""#
        );
        // A column named with and without its table is one column.
        assert_eq!(
            named("SELECT id, t.id FROM t ORDER BY id", &["x", "y"]).unwrap(),
            r#"SELECT id AS "x", t.id AS "y" FROM t ORDER BY "x""#
        );
        assert!(named("SELECT a.id, b.id FROM a, b ORDER BY id", &["x", "y"]).is_err());
        let error = named("SELECT id AS a, price AS a FROM t ORDER BY a", &["x", "y"]);
        assert_eq!(
            error.unwrap_err().strip_backtrace(),
            "Error during planning: ORDER BY \"a\" is ambiguous"
        );
    }

    #[test]
    fn repeated_names_are_numbered_apart_from_every_name_in_the_result() {
        // SELECT id, *, id, "id:2" over a table of id and x.
        let columns = [
            Column::Item(0, "id".to_string()),
            Column::Expanded("id".to_string()),
            Column::Expanded("x".to_string()),
            Column::Item(1, "id".to_string()),
            Column::Item(2, "id:2".to_string()),
        ];
        let (aliases, suffixes) = unique_names(&columns, 3);
        assert_eq!(aliases, ["id:3", "id:4", "id:2"]);
        assert_eq!(suffixes, [":3", "", "", ":4", ""]);
        let names = RepeatedNames { suffixes };
        let shown = ["id:3", "id", "x", "id:4", "id:2"].map(String::from);
        assert_eq!(
            names.shown_of(shown.iter()),
            ["id", "id", "x", "id", "id:2"]
        );
    }
}
