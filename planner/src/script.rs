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

/// A line of a script that is not SQL but a command to the program running the script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// Where the line is in the script, without its line break.
    pub range: Range<usize>,
    /// Its number, counted from 1.
    pub line: usize,
    /// How many statements of the script come before it.
    pub statements_before: usize,
}

/// The lines of `script` that start (after blanks) with `marker` where no statement is open:
/// nothing but whitespace and comments since the last `;`. There a line cannot be SQL, so it
/// is the running program's, as a shell's `.mode csv` between statements; the same line
/// inside a statement, a string or a comment is left to them.
pub fn command_lines(script: &str, marker: char) -> Vec<CommandLine> {
    let mut commands = Vec::new();
    let mut statements_before = 0;
    // Where the SQL since the last command line starts.
    let mut sql_from = 0;
    let mut line_start = 0;
    for (index, line) in script.split_inclusive('\n').enumerate() {
        let start = line_start;
        line_start += line.len();
        if !line.trim_start().starts_with(marker) {
            continue;
        }
        // Only lines that could be commands cost a look at the statements before them, and
        // only where these could have ended: a long statement whose lines start with `.`
        // (`.5,` in a list of values) is not tokenized again for each of them.
        let before = &script[sql_from..start];
        if !may_end_statements(before) {
            continue;
        }
        let Some(statements) = closed_statements(before) else {
            continue;
        };
        statements_before += statements;
        let text = line.trim_end_matches(['\n', '\r']);
        commands.push(CommandLine {
            range: start..start + text.len(),
            line: index + 1,
            statements_before,
        });
        sql_from = line_start;
    }
    commands
}

/// Whether `sql` can end outside any statement: nothing but blanks, or a `;` or a comment
/// last.
fn may_end_statements(sql: &str) -> bool {
    let sql = sql.trim_end();
    let last_line = sql.rsplit('\n').next().unwrap_or_default();
    sql.is_empty() || sql.ends_with(';') || sql.ends_with("*/") || last_line.contains("--")
}

/// Whether a shell holding `sql` has statements to run: it ends after a `;` outside strings
/// and comments (`SELECT 1; -- done` has, `SELECT "it's"` and `SELECT 1 /* ; */` have not).
/// Text the tokenizer refuses for another reason than a string or comment left open ends at
/// a `;` too, for the parser to say what is wrong with it.
pub fn statements_end(sql: &str) -> bool {
    match Tokenizer::new(&GenericDialect {}, sql).tokenize() {
        Ok(tokens) => closed_among(tokens).is_some_and(|statements| statements > 0),
        Err(error) => {
            let open = error.message.contains("Unterminated") || error.message.contains("EOF");
            !open && sql.trim_end().ends_with(';')
        }
    }
}

/// How many statements `sql` holds when it ends outside any of them, a string and a
/// comment; `None` when one is still open.
fn closed_statements(sql: &str) -> Option<usize> {
    closed_among(Tokenizer::new(&GenericDialect {}, sql).tokenize().ok()?)
}

fn closed_among(tokens: Vec<Token>) -> Option<usize> {
    let mut statements = 0;
    let mut open = false;
    for token in tokens {
        match token {
            Token::Whitespace(_) => {}
            Token::SemiColon => {
                statements += usize::from(open);
                open = false;
            }
            _ => open = true,
        }
    }
    (!open).then_some(statements)
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
    fn command_lines_are_found_between_statements_only() {
        let script = ".mode csv\nSELECT 1;\n  .timer on\r\nSELECT 2\n.5 AS half;\n-- note\n.maxrows 3\nSELECT '\n.not a command';\n/* a\n.comment */\n.tables";
        let found: Vec<(&str, usize, usize)> = command_lines(script, '.')
            .into_iter()
            .map(|c| (&script[c.range], c.line, c.statements_before))
            .collect();
        assert_eq!(
            found,
            [
                (".mode csv", 1, 0),
                ("  .timer on", 3, 1),
                (".maxrows 3", 7, 2),
                (".tables", 12, 3)
            ]
        );
        assert!(command_lines("SELECT 1;\n", '.').is_empty());
        assert_eq!(closed_statements("SELECT 1; -- done\n"), Some(1));
        assert_eq!(closed_statements("SELECT \"it's\";"), Some(1));
        assert_eq!(closed_statements("SELECT 1 /* ; */"), None);
        assert_eq!(closed_statements("SELECT 1; SELECT 2"), None);
        assert_eq!(closed_statements(" -- nothing\n"), Some(0));
        assert!(statements_end("SELECT 1; -- done"));
        assert!(!statements_end("SELECT 1 -- not yet;"));
        assert!(!statements_end("SELECT 'open;"));
        assert!(!statements_end("SELECT 1 /* open;"));
        assert!(!statements_end(" -- nothing\n"));
        assert!(statements_end("SELECT 1;  \n"));
        assert!(!statements_end("SELECT 1"));
        assert!(statements_end("SELECT ';';"));
        assert!(statements_end("SELECT \"it's\" FROM t;"));
        assert!(!statements_end("SELECT 1; SELECT 2"));
        assert!(command_lines("SELECT 'open\n.x", '.').is_empty());
        // A statement of many lines starting with `.` is found in linear time.
        let values: String = (0..200_000).map(|i| format!(".{i},\n")).collect();
        let script = format!("SELECT\n{values}1;\n.tables\n");
        let found = command_lines(&script, '.');
        assert_eq!(found.len(), 1);
        assert_eq!(&script[found[0].range.clone()], ".tables");
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
