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
    let mut offsets = Offsets::new(sql);
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
                let start = match statement {
                    Some((start, _)) => start,
                    None => offsets.of(token.span.start),
                };
                let end = offsets.of(token.span.end);
                statement = Some((start, end));
            }
        }
    }
    if let Some((start, end)) = statement {
        spans.push(start..end);
    }
    spans
}

/// Byte offsets in `sql` of the tokenizer's locations (1-based lines, and columns counted in
/// characters), asked for in the order the tokens come: each character is stepped over
/// once, where counting from the start of the line for every token took time quadratic in
/// a long line (a `VALUES` list of 20,000 rows took 19 s).
struct Offsets<'a> {
    sql: &'a str,
    line_starts: Vec<usize>,
    /// The last location found: its 0-based line and column, and its byte offset.
    line: usize,
    column: usize,
    at: usize,
}

impl<'a> Offsets<'a> {
    fn new(sql: &'a str) -> Offsets<'a> {
        let line_starts = std::iter::once(0)
            .chain(sql.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        Offsets {
            sql,
            line_starts,
            line: 0,
            column: 0,
            at: 0,
        }
    }

    fn of(&mut self, location: Location) -> usize {
        let line = (location.line as usize).saturating_sub(1);
        let column = (location.column as usize).saturating_sub(1);
        if line != self.line || column < self.column {
            self.line = line;
            self.column = 0;
            self.at = self
                .line_starts
                .get(line)
                .copied()
                .unwrap_or(self.sql.len());
        }
        match self.sql[self.at..].char_indices().nth(column - self.column) {
            Some((ahead, _)) => {
                self.at += ahead;
                self.column = column;
                self.at
            }
            None => self.sql.len(),
        }
    }
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

    #[test]
    fn statements_sharing_a_line_are_cut_where_their_characters_are() {
        let line = "SELECT 'é' AS a; SELECT 'ü;ö', 2 AS \"b\u{1F600}\" ;SELECT 3";
        assert_eq!(
            statement_texts(line),
            [
                "SELECT 'é' AS a",
                "SELECT 'ü;ö', 2 AS \"b\u{1F600}\"",
                "SELECT 3"
            ]
        );
        let rows: Vec<String> = (0..20_000).map(|i| format!("({i}, 'é')")).collect();
        let values = format!("VALUES {}", rows.join(","));
        assert_eq!(
            statement_texts(&format!("{values}; SELECT 1")),
            [&*values, "SELECT 1"]
        );
    }
}
