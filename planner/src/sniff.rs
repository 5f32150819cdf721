//! Reading a CSV file right the first time: what the user did not say about its dialect —
//! the delimiter (`,` `;` tab `|`), the quote, the escape, whether the first row is a header —
//! is guessed from a sample of its first bytes, and text columns whose every value is a date
//! or time in a format other than ISO's (`03/15/2024`, `15.03.2024`, `2024/03/15 2:30 PM`)
//! are found, to be read as dates and timestamps.

/// The dialect a sample reads best in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sniffed {
    /// Between fields.
    pub delimiter: u8,
    /// Around values that hold delimiters, quotes or line breaks.
    pub quote: u8,
    /// Before a quote inside a quoted value; `None`: quotes are doubled there.
    pub escape: Option<u8>,
    /// Whether the first row names the columns.
    pub header: bool,
}

/// What the user gave; `None` is for the sniffer to find.
#[derive(Clone, Copy, Debug, Default)]
pub struct Given {
    /// See [`Sniffed::delimiter`].
    pub delimiter: Option<u8>,
    /// See [`Sniffed::quote`].
    pub quote: Option<u8>,
    /// See [`Sniffed::escape`].
    pub escape: Option<u8>,
    /// See [`Sniffed::header`].
    pub header: Option<bool>,
}

const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Records sampled: enough to see a pattern, few enough to stay cheap.
const SAMPLE_RECORDS: usize = 200;

/// The dialect of `sample`, the first bytes of a file (`whole` when that is all of it: its
/// last record is then complete).
pub fn sniff(sample: &[u8], whole: bool, given: Given) -> Sniffed {
    let text = String::from_utf8_lossy(sample);
    let quote = given.quote.unwrap_or_else(|| sniff_quote(&text));
    let escape = given.escape.or_else(|| sniff_escape(&text, quote));
    let split = |delimiter: u8| records(&text, whole, delimiter, quote, escape);
    // Each candidate's records are split once: the chosen one's also tell the header.
    let (delimiter, records) = match given.delimiter {
        Some(delimiter) => (delimiter, split(delimiter)),
        None => DELIMITERS
            .iter()
            .map(|&delimiter| (delimiter, split(delimiter)))
            .max_by_key(|(_, records)| consistency(records))
            .filter(|(_, records)| consistency(records).1 > 1)
            .unwrap_or_else(|| (b',', split(b','))),
    };
    let header = given.header.unwrap_or_else(|| has_header(&records));
    Sniffed {
        delimiter,
        quote,
        escape,
        header,
    }
}

/// How well records split: how many have the most common field count, and that count.
/// A delimiter that splits every record into the same number of fields (more than one) wins.
fn consistency(records: &[Vec<String>]) -> (usize, usize) {
    let mut counts = std::collections::HashMap::<usize, usize>::new();
    for record in records {
        *counts.entry(record.len()).or_default() += 1;
    }
    counts
        .into_iter()
        .filter(|&(fields, _)| fields > 1)
        .map(|(fields, records)| (records, fields))
        .max()
        .unwrap_or((0, 1))
}

/// `'` when values are quoted with it and nothing is quoted with `"`; else `"`.
fn sniff_quote(text: &str) -> u8 {
    if text.contains('"') {
        return b'"';
    }
    // Lines where a `'` opens a field (at the start, or after a delimiter) and one closes a
    // field (at the end, or before a delimiter).
    let single_quoted = text
        .lines()
        .take(SAMPLE_RECORDS)
        .filter(|line| {
            let line = line.trim_end_matches('\r');
            let around = |first: u8, second: u8| {
                line.as_bytes()
                    .windows(2)
                    .any(|pair| pair == [first, second])
            };
            let opens = line.starts_with('\'') || DELIMITERS.iter().any(|&d| around(d, b'\''));
            let closes = line.ends_with('\'') || DELIMITERS.iter().any(|&d| around(b'\'', d));
            opens && closes
        })
        .count();
    if single_quoted >= 2 {
        b'\''
    } else {
        b'"'
    }
}

/// A backslash when quotes inside quoted values are escaped with it (`\"`) rather than
/// doubled.
fn sniff_escape(text: &str, quote: u8) -> Option<u8> {
    let quote = quote as char;
    text.contains(&format!("\\{quote}")).then_some(b'\\')
}

/// The records of `text` split by `delimiter`, quotes and escapes honoured, at most
/// [`SAMPLE_RECORDS`]; the last one left out unless the text is `whole`.
pub fn records(
    text: &str,
    whole: bool,
    delimiter: u8,
    quote: u8,
    escape: Option<u8>,
) -> Vec<Vec<String>> {
    let (delimiter, quote) = (delimiter as char, quote as char);
    let escape = escape.map(char::from);
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if records.len() == SAMPLE_RECORDS {
            return records;
        }
        match c {
            c if Some(c) == escape && quoted => {
                if let Some(next) = chars.next() {
                    field.push(next);
                }
            }
            c if c == quote && quoted && chars.peek() == Some(&quote) => {
                field.push(quote);
                chars.next();
            }
            c if c == quote => quoted = !quoted,
            c if c == delimiter && !quoted => record.push(std::mem::take(&mut field)),
            '\r' if !quoted && chars.peek() == Some(&'\n') => {}
            '\n' if !quoted => {
                record.push(std::mem::take(&mut field));
                let line = std::mem::take(&mut record);
                if !(line.len() == 1 && line[0].is_empty()) {
                    records.push(line);
                }
            }
            c => field.push(c),
        }
    }
    if whole && (!field.is_empty() || !record.is_empty()) {
        record.push(field);
        records.push(record);
    }
    records
}

/// What a value looks like, for telling a header from data.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Empty,
    Number,
    Boolean,
    Temporal,
    Text,
}

fn kind(value: &str) -> Kind {
    let value = value.trim();
    if value.is_empty() {
        Kind::Empty
    } else if value.parse::<f64>().is_ok() {
        Kind::Number
    } else if value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false") {
        Kind::Boolean
    } else if temporal_format(value).is_some() || is_iso_temporal(value) {
        Kind::Temporal
    } else {
        Kind::Text
    }
}

fn is_iso_temporal(value: &str) -> bool {
    use chrono::{NaiveDate, NaiveDateTime};
    NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok()
        || NaiveDateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S").is_ok()
        || NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S").is_ok()
}

/// Whether the first record names the columns. Text over a column of numbers, dates or
/// booleans names it; a number over numbers (or a date over dates) is data; text over text
/// says nothing. Without a sign either way the first row is taken as a header, as most
/// files have one.
fn has_header(records: &[Vec<String>]) -> bool {
    let Some((first, rest)) = records.split_first() else {
        return true;
    };
    if rest.is_empty() {
        return true;
    }
    let mut data_like = 0;
    for (column, value) in first.iter().enumerate() {
        let below: Vec<Kind> = rest
            .iter()
            .filter_map(|record| record.get(column))
            .map(|v| kind(v))
            .filter(|&k| k != Kind::Empty)
            .collect();
        let column_kind = match below.split_first() {
            Some((&k, others)) if others.iter().all(|&o| o == k) => Some(k),
            _ => None,
        };
        match (kind(value), column_kind) {
            (Kind::Text, Some(k)) if k != Kind::Text => return true,
            (k, Some(column_kind)) if k == column_kind && k != Kind::Text => data_like += 1,
            _ => {}
        }
    }
    data_like == 0
}

/// What a column of text holds, when every value sampled is a date or time in one format.
#[derive(Clone, Debug, PartialEq)]
pub enum Temporal {
    /// Dates, in this `strftime` format.
    Date(&'static str),
    /// Dates with times.
    Timestamp(&'static str),
}

const DATE_FORMATS: [&str; 6] = [
    "%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y/%m/%d", "%m-%d-%Y", "%d-%m-%Y",
];

const TIME_FORMATS: [&str; 4] = ["%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p"];

/// The formats a date and time may take: each date format alone, and followed by a time.
fn formats() -> &'static [Temporal] {
    static FORMATS: std::sync::LazyLock<Vec<Temporal>> = std::sync::LazyLock::new(|| {
        let mut formats: Vec<Temporal> = DATE_FORMATS.iter().map(|d| Temporal::Date(d)).collect();
        for date in DATE_FORMATS {
            for time in TIME_FORMATS {
                let format: &'static str = Box::leak(format!("{date} {time}").into_boxed_str());
                formats.push(Temporal::Timestamp(format));
            }
        }
        formats
    });
    &FORMATS
}

fn parses(value: &str, format: &Temporal) -> bool {
    match format {
        Temporal::Date(f) => chrono::NaiveDate::parse_from_str(value, f).is_ok(),
        Temporal::Timestamp(f) => chrono::NaiveDateTime::parse_from_str(value, f).is_ok(),
    }
}

fn temporal_format(value: &str) -> Option<&'static Temporal> {
    formats().iter().find(|format| parses(value, format))
}

/// The one format every non-empty value in `values` parses in (the first listed, where
/// several do: month before day, as `03/04/2024` is read in the US), if there is one and a
/// value at all.
pub fn column_format<'a>(values: impl Iterator<Item = &'a str> + Clone) -> Option<Temporal> {
    let values = values.map(str::trim).filter(|v| !v.is_empty());
    values.clone().next()?;
    formats()
        .iter()
        .find(|format| values.clone().all(|value| parses(value, format)))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniffed(text: &str) -> Sniffed {
        sniff(text.as_bytes(), true, Given::default())
    }

    #[test]
    fn the_delimiter_is_the_one_that_splits_every_row_alike() {
        assert_eq!(sniffed("a;b;c\n1;2,5;3\n4;5,5;6\n").delimiter, b';');
        assert_eq!(sniffed("a\tb\n1\t2\n").delimiter, b'\t');
        assert_eq!(sniffed("a|b|c\nx|y|z\n").delimiter, b'|');
        assert_eq!(sniffed("a,b\n1,2\n").delimiter, b',');
        // A delimiter inside quotes does not count.
        assert_eq!(
            sniffed("name;note\nx;\"a, b, c\"\ny;\"d, e\"\n").delimiter,
            b';'
        );
        // A single column: nothing splits, the default stays.
        assert_eq!(sniffed("word\nalpha\nbeta\n").delimiter, b',');
    }

    #[test]
    fn quotes_and_escapes_are_found() {
        let single = sniffed("id,name\n1,'Smith, J'\n2,'Doe, A'\n");
        assert_eq!((single.quote, single.delimiter), (b'\'', b','));
        let escaped = sniffed("id,say\n1,\"a \\\"b\\\" c\"\n2,\"d\"\n");
        assert_eq!((escaped.quote, escaped.escape), (b'"', Some(b'\\')));
        assert_eq!(sniffed("id,say\n1,\"a \"\"b\"\"\"\n").escape, None);
    }

    #[test]
    fn a_header_is_told_from_data() {
        assert!(sniffed("id,price\n1,2.5\n2,3.5\n").header);
        assert!(!sniffed("1,2.5\n2,3.5\n3,4.5\n").header);
        assert!(!sniffed("03/15/2024,5\n03/16/2024,6\n").header);
        // Text over text: most files have a header.
        assert!(sniffed("name,city\nann,oslo\nbob,rome\n").header);
        // Text in a numeric column's first row names it.
        assert!(sniffed("x,label\n1,a\n2,b\n").header);
        assert!(!sniffed("1,a\n2,b\n3,c\n").header);
        // What the user said stands.
        let given = Given {
            header: Some(true),
            ..Given::default()
        };
        assert!(sniff(b"1,2\n3,4\n", true, given).header);
    }

    #[test]
    fn dates_beyond_iso_are_found_per_column() {
        let format = |values: &[&str]| column_format(values.iter().copied());
        assert_eq!(
            format(&["03/15/2024", "12/01/2023", ""]),
            Some(Temporal::Date("%m/%d/%Y"))
        );
        assert_eq!(
            format(&["15/03/2024", "01/12/2023"]),
            Some(Temporal::Date("%d/%m/%Y"))
        );
        assert_eq!(format(&["15.03.2024"]), Some(Temporal::Date("%d.%m.%Y")));
        assert_eq!(format(&["2024/03/15"]), Some(Temporal::Date("%Y/%m/%d")));
        assert_eq!(
            format(&["03/15/2024 2:30 PM", "03/16/2024 11:05 AM"]),
            Some(Temporal::Timestamp("%m/%d/%Y %I:%M %p"))
        );
        assert_eq!(
            format(&["15.03.2024 14:30:15"]),
            Some(Temporal::Timestamp("%d.%m.%Y %H:%M:%S"))
        );
        assert_eq!(format(&["03/15/2024", "not a date"]), None);
        assert_eq!(format(&["", " "]), None);
    }

    #[test]
    fn a_sample_cut_short_drops_its_last_record() {
        assert_eq!(records("a,b\n1,2\n3,", false, b',', b'"', None).len(), 2);
        assert_eq!(records("a,b\n1,2\n3,", true, b',', b'"', None).len(), 3);
        assert_eq!(
            records("a,\"x\ny\"\r\n", true, b',', b'"', None),
            [["a", "x\ny"]]
        );
    }
}
