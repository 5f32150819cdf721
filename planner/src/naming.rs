//! Result column names as a user wrote them: `max(x)`, not `max(timeseries('2000-01-01').x)`.
//!
//! DataFusion names a computed column after its expression with every column qualified by
//! its table, and tables named by a path or a function call make such names unreadable.
//! Before: `Projection: max(t.x)` → output column `max(t.x)`;
//! after: `Projection: max(t.x) AS max(x)`. Names are only changed when the result stays
//! unambiguous.

use std::collections::HashSet;

use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::Result;
use datafusion::logical_expr::{col, Expr, LogicalPlan, LogicalPlanBuilder};

/// Whether `plan` returns rows whose names a user sees (a query, not DDL or EXPLAIN).
fn is_query(plan: &LogicalPlan) -> bool {
    !matches!(
        plan,
        LogicalPlan::Ddl(_)
            | LogicalPlan::Dml(_)
            | LogicalPlan::Copy(_)
            | LogicalPlan::Explain(_)
            | LogicalPlan::Analyze(_)
            | LogicalPlan::Statement(_)
            | LogicalPlan::DescribeTable(_)
    )
}

fn table_names(plan: &LogicalPlan) -> Vec<String> {
    let mut names = HashSet::new();
    let _ = plan.apply_with_subqueries(|node| {
        match node {
            LogicalPlan::TableScan(scan) => {
                names.insert(scan.table_name.to_string());
            }
            LogicalPlan::SubqueryAlias(alias) => {
                names.insert(alias.alias.to_string());
            }
            _ => {}
        }
        Ok(TreeNodeRecursion::Continue)
    });
    // Longest first, so that `t.x` inside `"t.csv".x` is not stripped before `"t.csv".`.
    let mut names: Vec<String> = names.into_iter().collect();
    names.sort_by_key(|name| std::cmp::Reverse(name.len()));
    names
}

fn unqualified(name: &str, tables: &[String]) -> String {
    let mut name = name.to_string();
    for table in tables {
        let table = regex::escape(table);
        // Only whole qualifiers: `s.` in `sum(s.x)`, not in `ends.x`.
        let pattern = format!(r#"(^|[^\w"])(?:"{table}"|{table})\."#);
        if let Ok(re) = regex::Regex::new(&pattern) {
            name = re.replace_all(&name, "$1").into_owned();
        }
    }
    name
}

/// Renames the output columns of a query whose names embed table qualifiers.
pub fn tidy_output_names(plan: LogicalPlan) -> Result<LogicalPlan> {
    if !is_query(&plan) {
        return Ok(plan);
    }
    let tables = table_names(&plan);
    let schema = plan.schema().clone();
    let renamed: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| unqualified(f.name(), &tables))
        .collect();
    let changed = renamed
        .iter()
        .zip(schema.fields())
        .any(|(new, f)| new != f.name());
    let unique = renamed.iter().collect::<HashSet<_>>().len() == renamed.len();
    if !changed || !unique {
        return Ok(plan);
    }
    let projection: Vec<Expr> = schema
        .iter()
        .zip(renamed)
        .map(|((qualifier, field), name)| {
            let column = col(datafusion::common::Column::new(
                qualifier.cloned(),
                field.name(),
            ));
            if &name == field.name() {
                column
            } else {
                column.alias(name)
            }
        })
        .collect();
    LogicalPlanBuilder::from(plan).project(projection)?.build()
}

#[cfg(test)]
mod tests {
    use super::unqualified;

    #[test]
    fn qualifiers_of_known_tables_are_removed() {
        let tables = [
            "\"t.csv\"".to_string(),
            "t.csv".to_string(),
            "s".to_string(),
        ];
        assert_eq!(unqualified("max(t.csv.x)", &tables[1..]), "max(x)");
        assert_eq!(
            unqualified("sum(s.qty * s.price)", &tables[2..]),
            "sum(qty * price)"
        );
        assert_eq!(unqualified("ends.x", &tables[2..]), "ends.x");
    }
}
