//! A quoted CSV field that is never closed.
//!
//! The CSV decoder ends a quoted field at the end of the file without complaint, so a file
//! with one stray opening quote reads as fewer rows than it has, the rest of the file folded
//! into one value: a wrong answer, silently. Files whose first bytes quote values (the only
//! ones read with quoted newlines allowed, see [`listing`](crate::listing)) are walked once
//! when their table is created, with the decoder's rules: a quote opens a field only at the
//! field's start, a doubled quote or an escaped one inside it is a literal quote, comment lines
//! are skipped. A field still open at the end is an error naming the file, line and column
//! where it opened.

use std::io::{BufRead, BufReader, Read};

/// The dialect of a CSV file, as far as quoting goes.
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    /// The field separator.
    pub delimiter: u8,
    /// The quote character.
    pub quote: u8,
    /// The character that makes the next quote inside a quoted field literal.
    pub escape: Option<u8>,
    /// The first character of lines to skip.
    pub comment: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field: a quote here opens a quoted field.
    FieldStart,
    /// At the start of a record, where a comment character starts a comment line.
    RecordStart,
    Unquoted,
    Quoted,
    /// After a quote inside a quoted field: another quote is a literal one, else it closed.
    QuoteInQuoted,
    /// After an escape character inside a quoted field.
    Escaped,
    Comment,
}

/// Where a field that is never closed opens: 1-based line and column (in bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenQuote {
    /// The line of the opening quote.
    pub line: u64,
    /// Its column.
    pub column: u64,
}

/// Reads `input` to its end and tells where a quoted field that is still open there began.
pub fn unclosed_quote(input: impl Read, dialect: Dialect) -> std::io::Result<Option<OpenQuote>> {
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let mut state = State::RecordStart;
    let (mut line, mut column) = (1u64, 0u64);
    let mut opened = OpenQuote { line: 1, column: 1 };
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        for &byte in chunk {
            column += 1;
            state = match state {
                State::Quoted if byte == dialect.quote => State::QuoteInQuoted,
                State::Quoted if Some(byte) == dialect.escape => State::Escaped,
                State::Quoted | State::Escaped => State::Quoted,
                State::QuoteInQuoted if byte == dialect.quote => State::Quoted,
                State::Comment if byte != b'\n' => State::Comment,
                State::RecordStart if Some(byte) == dialect.comment => State::Comment,
                State::FieldStart | State::RecordStart if byte == dialect.quote => {
                    opened = OpenQuote { line, column };
                    State::Quoted
                }
                _ if byte == b'\n' => State::RecordStart,
                _ if byte == dialect.delimiter => State::FieldStart,
                _ => State::Unquoted,
            };
            if byte == b'\n' {
                line += 1;
                column = 0;
            }
        }
        let read = chunk.len();
        reader.consume(read);
    }
    Ok(matches!(state, State::Quoted | State::Escaped).then_some(opened))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Option<(u64, u64)> {
        let dialect = Dialect {
            delimiter: b',',
            quote: b'"',
            escape: None,
            comment: Some(b'#'),
        };
        unclosed_quote(text.as_bytes(), dialect)
            .unwrap()
            .map(|open| (open.line, open.column))
    }

    #[test]
    fn a_field_left_open_is_found_where_it_opens() {
        assert_eq!(check("a,b\n1,\"x\n2,y\n3,z\n"), Some((2, 3)));
        assert_eq!(check("a,b\n1,x\n2,\"y\n"), Some((3, 3)));
        assert_eq!(check("\"a"), Some((1, 1)));
    }

    #[test]
    fn closed_doubled_and_mid_field_quotes_are_not_open() {
        // A quoted newline, a doubled quote, an inch mark inside an unquoted field, a quote
        // in a comment line, and a quoted field followed by more text.
        assert_eq!(check("a,b\n1,\"x\n2,y\"\n3,z\n"), None);
        assert_eq!(check("a,b\n1,\"say \"\"hi\"\"\"\n"), None);
        assert_eq!(check("a,b\n1,5\"\n2,6\"\n"), None);
        assert_eq!(check("# it's \"quoted\n1,2\n"), None);
        assert_eq!(check("\"ab\"c,d\n"), None);
        assert_eq!(check(""), None);
    }

    #[test]
    fn an_escaped_quote_keeps_the_field_open() {
        let dialect = Dialect {
            delimiter: b',',
            quote: b'"',
            escape: Some(b'\\'),
            comment: None,
        };
        let open = |text: &str| unclosed_quote(text.as_bytes(), dialect).unwrap();
        assert_eq!(open("1,\"a\\\"b\"\n"), None);
        assert_eq!(open("1,\"a\\\"\n"), Some(OpenQuote { line: 1, column: 3 }));
    }
}
