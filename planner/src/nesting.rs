//! How deeply a statement may nest: [`NESTING_LIMIT`] levels of parentheses, `CASE`s,
//! subqueries, operator chains (`1 + 1 + …`, `a AND b AND …`), set operations (`UNION ALL`)
//! and joins.
//!
//! Every layer below walks a statement recursively: the SQL parser, DataFusion's planner and
//! optimizer, expression display, the drop of the trees. Past some depth one of them runs out
//! of stack, which aborts the process, and a few take time growing with the square or cube of
//! the depth. A statement is therefore measured before it is planned, in two linear passes:
//!
//! - [`check_tokens`] on the text, before parsing: the parser's own recursion limit makes it
//!   backtrack exponentially as it nears the limit (`CAST(` nested 48 deep under the default
//!   of 50 takes minutes), so nesting the parser would reach deeply is refused before it runs;
//! - [`check_statement`] on the parsed tree, for what the parser builds without recursing:
//!   left-deep chains of binary operators, set operations and joins.
//!
//! Both refuse with `statement nested too deeply (limit 1000)`, as SQLite and DuckDB refuse
//! expression trees deeper than 1000. Subqueries within expressions have a limit of their own,
//! [`SUBQUERY_LIMIT`]. The parser's limit is [`PARSER_RECURSION_LIMIT`], high
//! enough that a statement within [`NESTING_LIMIT`] never reaches it.

use std::ops::ControlFlow;

use datafusion::common::{plan_datafusion_err, DataFusionError, Result};
use datafusion::sql::parser::{CopyToSource, CopyToStatement, Statement as ParsedStatement};
use datafusion::sql::sqlparser::ast::{
    Expr, Query, SetExpr, Statement, TableFactor, TableWithJoins, Visit, Visitor,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Location, Token, Tokenizer};

/// The most tables one `FROM` may join (a list and its joins). DataFusion's optimizer takes
/// time growing with the cube of their number: 128 plan in under a second, 400 in 30 s, 800
/// in 8 minutes.
pub const JOINED_TABLES_LIMIT: usize = 128;

/// The deepest nesting a statement may have.
pub const NESTING_LIMIT: usize = 1000;

/// The deepest nesting of subqueries in expressions (`(SELECT …)`, `EXISTS`, `IN (SELECT …)`).
/// DataFusion 55 checks a plan's subqueries in time that doubles with each level of nesting
/// (`assert_subqueries_are_valid` validates every subquery again for each one around it), at
/// the start and end of optimization and, in builds with debug assertions, after every rule;
/// 16 levels take milliseconds in a release build, 30 would take minutes.
pub const SUBQUERY_LIMIT: usize = 16;

/// The recursion limit given to the SQL parser: it counts up to three levels for one level of
/// nesting (an expression inside a subquery inside a table factor), so a statement within
/// [`NESTING_LIMIT`] stays below it.
pub const PARSER_RECURSION_LIMIT: usize = 3 * NESTING_LIMIT + 50;

/// The error for a statement nested deeper than [`NESTING_LIMIT`], `at` where known.
pub fn too_deep(at: Option<Location>) -> DataFusionError {
    let place = at.map_or(String::new(), |at| {
        format!(" at line {}, column {}", at.line, at.column)
    });
    plan_datafusion_err!("statement nested too deeply (limit {NESTING_LIMIT}){place}")
}

/// Refuses SQL text that nests parentheses, brackets, `CASE … END` or prefix operators
/// (`NOT NOT …`, `- - …`) deeper than [`NESTING_LIMIT`]. Text that does not tokenize is let
/// through: the parser reports it with its position.
pub fn check_tokens(sql: &str) -> Result<()> {
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize_with_location() else {
        return Ok(());
    };
    let mut depth = 0usize;
    let mut prefix_run = 0usize;
    let mut after_operand = false;
    for token in tokens {
        let (opens, closes, prefix, operand) = match &token.token {
            Token::Whitespace(_) => continue,
            Token::LParen | Token::LBracket | Token::LBrace => (true, false, false, false),
            Token::RParen | Token::RBracket | Token::RBrace => (false, true, false, true),
            Token::Word(word) => match word.keyword {
                Keyword::CASE => (true, false, false, false),
                Keyword::END => (false, true, false, true),
                Keyword::NOT => (false, false, true, false),
                Keyword::NoKeyword => (false, false, false, true),
                _ => (false, false, false, false),
            },
            Token::Minus | Token::Plus | Token::Tilde => (false, false, !after_operand, false),
            Token::Number(..)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::Placeholder(_) => (false, false, false, true),
            _ => (false, false, false, false),
        };
        if opens {
            depth += 1;
        }
        if closes {
            depth = depth.saturating_sub(1);
        }
        prefix_run = if prefix { prefix_run + 1 } else { 0 };
        after_operand = operand;
        if depth + prefix_run > NESTING_LIMIT {
            return Err(too_deep(Some(token.span.start)));
        }
    }
    Ok(())
}

/// [`check_statement`] for the statements of DataFusion's parser: SQL, `COPY (query) TO`, and
/// `EXPLAIN` of either.
pub fn check_parsed(statement: &ParsedStatement) -> Result<()> {
    match statement {
        ParsedStatement::Statement(statement) => check_statement(statement),
        ParsedStatement::CopyTo(CopyToStatement {
            source: CopyToSource::Query(query),
            ..
        }) => within_limit(query.as_ref()),
        ParsedStatement::Explain(explain) => check_parsed(&explain.statement),
        _ => Ok(()),
    }
}

/// Refuses a parsed statement whose expressions, queries, set operations or joins nest
/// deeper than [`NESTING_LIMIT`]. The walk stops at the limit, so it never recurses deeper
/// than that itself.
pub fn check_statement(statement: &Statement) -> Result<()> {
    within_limit(statement)
}

fn within_limit(tree: &impl Visit) -> Result<()> {
    let mut depth = Depth::default();
    match tree.visit(&mut depth) {
        ControlFlow::Break(Passed::Nesting) => Err(too_deep(None)),
        ControlFlow::Break(Passed::Subqueries) => Err(plan_datafusion_err!(
            "subqueries nested too deeply (limit {SUBQUERY_LIMIT})"
        )),
        ControlFlow::Break(Passed::JoinedTables) => Err(plan_datafusion_err!(
            "a FROM joins too many tables (limit {JOINED_TABLES_LIMIT})"
        )),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// Which limit a statement passed.
enum Passed {
    Nesting,
    Subqueries,
    JoinedTables,
}

#[derive(Default)]
struct Depth {
    current: usize,
    subqueries: usize,
}

impl Depth {
    fn enter(&mut self, levels: usize) -> ControlFlow<Passed> {
        self.current += levels;
        if self.current > NESTING_LIMIT {
            ControlFlow::Break(Passed::Nesting)
        } else {
            ControlFlow::Continue(())
        }
    }
}

/// Whether `expr` is a subquery that DataFusion validates with the plan around it.
fn is_subquery(expr: &Expr) -> bool {
    matches!(
        expr,
        Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. }
    )
}

impl Visitor for Depth {
    type Break = Passed;

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<Passed> {
        // The set operations and joins below are walked as part of the query, not as levels
        // of it, so their depth is added here, before the walk goes down into them.
        self.enter(1)?;
        let below = set_depth(&query.body, NESTING_LIMIT - self.current + 1);
        self.enter(below)?;
        self.current -= below;
        if most_joined_tables(&query.body, below) > JOINED_TABLES_LIMIT {
            return ControlFlow::Break(Passed::JoinedTables);
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<Passed> {
        self.current -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<Passed> {
        if is_subquery(expr) {
            self.subqueries += 1;
            if self.subqueries > SUBQUERY_LIMIT {
                return ControlFlow::Break(Passed::Subqueries);
            }
        }
        self.enter(1)
    }

    fn post_visit_expr(&mut self, expr: &Expr) -> ControlFlow<Passed> {
        if is_subquery(expr) {
            self.subqueries -= 1;
        }
        self.current -= 1;
        ControlFlow::Continue(())
    }
}

/// How deeply the set operations and joins of `body` nest, counted up to `budget` and no
/// further, so the recursion is bounded by it.
fn set_depth(body: &SetExpr, budget: usize) -> usize {
    if budget == 0 {
        return 0;
    }
    match body {
        SetExpr::SetOperation { left, right, .. } => {
            let left = set_depth(left, budget - 1);
            let right = set_depth(right, budget - 1);
            1 + left.max(right)
        }
        SetExpr::Select(select) => select
            .from
            .iter()
            .map(|from| from.joins.len())
            .max()
            .unwrap_or(0)
            .min(budget),
        _ => 0,
    }
}

/// The most tables a `FROM` of `body` joins, over its set operations down to `depth` (which
/// the nesting limit bounds).
fn most_joined_tables(body: &SetExpr, depth: usize) -> usize {
    match body {
        SetExpr::SetOperation { left, right, .. } if depth > 0 => {
            let left = most_joined_tables(left, depth - 1);
            left.max(most_joined_tables(right, depth - 1))
        }
        SetExpr::Select(select) => select.from.iter().map(joined_tables).sum(),
        _ => 0,
    }
}

/// The tables `from` joins, those of parenthesized joins included.
fn joined_tables(from: &TableWithJoins) -> usize {
    std::iter::once(&from.relation)
        .chain(from.joins.iter().map(|join| &join.relation))
        .map(|relation| match relation {
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => joined_tables(table_with_joins),
            _ => 1,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use datafusion::sql::parser::DFParserBuilder;

    use super::*;

    fn statement(sql: &str) -> Statement {
        let mut parser = DFParserBuilder::new(sql)
            .with_recursion_limit(PARSER_RECURSION_LIMIT)
            .build()
            .unwrap();
        match parser.parse_statements().unwrap().pop_front().unwrap() {
            datafusion::sql::parser::Statement::Statement(statement) => *statement,
            other => panic!("not a SQL statement: {other:?}"),
        }
    }

    fn refused(result: Result<()>) -> String {
        result.unwrap_err().strip_backtrace()
    }

    #[test]
    fn nesting_in_the_text_up_to_the_limit_passes_and_beyond_it_is_refused_where_it_passes() {
        let nested = |n: usize| format!("SELECT {}1{}", "(".repeat(n), ")".repeat(n));
        check_tokens(&nested(NESTING_LIMIT)).unwrap();
        let message = refused(check_tokens(&nested(NESTING_LIMIT + 1)));
        assert_eq!(
            message,
            "Error during planning: statement nested too deeply (limit 1000) at line 1, column 1008"
        );
        let casts = |n: usize| format!("SELECT {}1{}", "CAST(".repeat(n), " AS INT)".repeat(n));
        check_tokens(&casts(NESTING_LIMIT)).unwrap();
        assert!(refused(check_tokens(&casts(NESTING_LIMIT + 1))).contains("too deeply"));
        let cases = |n: usize| {
            format!(
                "SELECT {}1{}",
                "CASE WHEN x THEN ".repeat(n),
                " END".repeat(n)
            )
        };
        check_tokens(&cases(NESTING_LIMIT)).unwrap();
        assert!(refused(check_tokens(&cases(NESTING_LIMIT + 1))).contains("too deeply"));
    }

    #[test]
    fn runs_of_prefix_operators_count_as_nesting_and_binary_ones_do_not() {
        check_tokens(&format!("SELECT {}x", "NOT ".repeat(NESTING_LIMIT))).unwrap();
        assert!(refused(check_tokens(&format!(
            "SELECT {}x",
            "NOT ".repeat(NESTING_LIMIT + 1)
        )))
        .contains("too deeply"));
        assert!(refused(check_tokens(&format!(
            "SELECT {}1",
            "- ".repeat(NESTING_LIMIT + 1)
        )))
        .contains("too deeply"));
        let sum = format!("SELECT 1{}", " - 1".repeat(5 * NESTING_LIMIT));
        check_tokens(&sum).unwrap();
        let negations = format!("SELECT -1{}", ", -1".repeat(5 * NESTING_LIMIT));
        check_tokens(&negations).unwrap();
    }

    #[test]
    fn chains_the_parser_builds_without_nesting_are_measured_on_the_tree() {
        let chain = |n: usize| format!("SELECT 1{}", " + 1".repeat(n));
        // The query is one level and `1 + 1` two (an operator over literals), so n operators
        // make n + 2.
        check_statement(&statement(&chain(NESTING_LIMIT - 2))).unwrap();
        let message = refused(check_statement(&statement(&chain(NESTING_LIMIT - 1))));
        assert_eq!(
            message,
            "Error during planning: statement nested too deeply (limit 1000)"
        );
        let conjunction = format!("SELECT 1 WHERE TRUE{}", " AND TRUE".repeat(NESTING_LIMIT));
        assert!(refused(check_statement(&statement(&conjunction))).contains("too deeply"));
    }

    #[test]
    fn subqueries_in_expressions_have_a_limit_of_their_own_and_derived_tables_do_not() {
        let scalar = |n: usize| format!("SELECT {}1{}", "(SELECT ".repeat(n), ")".repeat(n));
        check_statement(&statement(&scalar(SUBQUERY_LIMIT))).unwrap();
        assert_eq!(
            refused(check_statement(&statement(&scalar(SUBQUERY_LIMIT + 1)))),
            "Error during planning: subqueries nested too deeply (limit 16)"
        );
        let exists = |n: usize| {
            format!(
                "SELECT 1 WHERE {}TRUE{}",
                "EXISTS (SELECT 1 WHERE ".repeat(n),
                ")".repeat(n)
            )
        };
        check_statement(&statement(&exists(SUBQUERY_LIMIT))).unwrap();
        assert!(
            refused(check_statement(&statement(&exists(SUBQUERY_LIMIT + 1))))
                .contains("subqueries nested too deeply")
        );
        let derived = format!(
            "SELECT * FROM {}t{}",
            "(SELECT * FROM ".repeat(100),
            ") AS s".repeat(100)
        );
        check_statement(&statement(&derived)).unwrap();
    }

    #[test]
    fn set_operations_count_as_levels() {
        let unions = |n: usize| format!("SELECT 1{}", " UNION ALL SELECT 1".repeat(n));
        check_statement(&statement(&unions(NESTING_LIMIT - 2))).unwrap();
        assert!(refused(check_statement(&statement(&unions(NESTING_LIMIT)))).contains("too deeply"));
    }

    #[test]
    fn a_from_joins_a_bounded_number_of_tables_however_it_lists_them() {
        let too_many = format!(
            "Error during planning: a FROM joins too many tables (limit {JOINED_TABLES_LIMIT})"
        );
        let joins = |n: usize| format!("SELECT 1 FROM t{}", " JOIN t USING (k)".repeat(n - 1));
        check_statement(&statement(&joins(JOINED_TABLES_LIMIT))).unwrap();
        assert_eq!(
            refused(check_statement(&statement(&joins(JOINED_TABLES_LIMIT + 1)))),
            too_many
        );
        let listed = |n: usize| format!("SELECT 1 FROM t{}", ", t".repeat(n - 1));
        check_statement(&statement(&listed(JOINED_TABLES_LIMIT))).unwrap();
        assert_eq!(
            refused(check_statement(&statement(&listed(
                JOINED_TABLES_LIMIT + 1
            )))),
            too_many
        );
        // Parenthesized joins count their tables, and so does each branch of a UNION.
        let half = JOINED_TABLES_LIMIT / 2;
        let group = joins(half).replace("SELECT 1 FROM ", "");
        let nested = format!("SELECT 1 FROM t, ({group}) JOIN ({group}) USING (k)");
        assert_eq!(refused(check_statement(&statement(&nested))), too_many);
        let branches = format!("SELECT 1 UNION ALL {}", listed(JOINED_TABLES_LIMIT + 1));
        assert_eq!(refused(check_statement(&statement(&branches))), too_many);
        // Tables in subqueries are their own FROMs'.
        let derived = format!(
            "SELECT 1 FROM ({}) a, ({}) b",
            listed(half + 1),
            listed(half + 1)
        );
        check_statement(&statement(&derived)).unwrap();
    }
}
