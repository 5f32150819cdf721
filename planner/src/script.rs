//! The text of each statement of a script as it was written. What a persistent catalog keeps
//! must be the statement itself: DataFusion's display of a parsed `CREATE EXTERNAL TABLE`
//! leaves out its columns, partition columns and options.

use std::ops::Range;

use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Location, Token, Tokenizer};

/// The statements of `sql`, each from its first token to its last, without the `;` between
/// them, the comments around them or empty statements: one text for each statement the
/// parser reads. Empty when the text does not tokenize.
pub fn statement_texts(sql: &str) -> Vec<String> {
    statement_spans(sql)
        .into_iter()
        .map(|span| sql[span].to_string())
        .collect()
}

/// Where in `sql` the texts of [`statement_texts`] are.
pub fn statement_spans(sql: &str) -> Vec<Range<usize>> {
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize_with_location() else {
        return Vec::new();
    };
    let lines: Vec<usize> = std::iter::once(0)
        .chain(sql.match_indices('\n').map(|(at, _)| at + 1))
        .collect();
    let offset = |location: Location| -> usize {
        let line = (location.line as usize).saturating_sub(1);
        let start = lines.get(line).copied().unwrap_or(sql.len());
        let column = (location.column as usize).saturating_sub(1);
        sql[start..]
            .char_indices()
            .nth(column)
            .map_or(sql.len(), |(at, _)| start + at)
    };
    let mut spans = Vec::new();
    let mut statement: Option<(usize, usize)> = None;
    for token in tokens {
        match token.token {
            Token::Whitespace(_) => {}
            Token::SemiColon => {
                if let Some((start, end)) = statement.take() {
                    spans.push(start..end);
                }
            }
            _ => {
                let end = offset(token.span.end);
                let start = statement.map_or_else(|| offset(token.span.start), |(start, _)| start);
                statement = Some((start, end));
            }
        }
    }
    if let Some((start, end)) = statement {
        spans.push(start..end);
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_statement_keeps_its_own_text() {
        let script = "-- setup\nCREATE EXTERNAL TABLE t (a INT) STORED AS CSV LOCATION 'x;y.csv'\n  OPTIONS ('format.delimiter' ';');;\n\n/* then */ SELECT 'é;' AS \"a;b\"\n; SET x = 1";
        assert_eq!(
            statement_texts(script),
            [
                "CREATE EXTERNAL TABLE t (a INT) STORED AS CSV LOCATION 'x;y.csv'\n  OPTIONS ('format.delimiter' ';')",
                "SELECT 'é;' AS \"a;b\"",
                "SET x = 1",
            ]
        );
        assert!(statement_texts(" ; -- nothing\n").is_empty());
        assert!(statement_texts("SELECT 'unclosed").is_empty());
    }
}
