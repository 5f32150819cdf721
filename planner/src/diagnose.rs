//! Where in which file a CSV read went wrong.
//!
//! A parallel scan splits files into byte ranges and the CSV decoder reports lines relative to
//! its own range, without the file name, so its errors cannot be shown as they are. When a
//! query fails on CSV data, the files the plan reads are re-read here one by one, from the
//! start, with the same schema and options: the first failure found names the file, the line
//! (counting the header) and the column. This runs only after a failure.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::csv::ReaderBuilder;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::common::config::CsvOptions;
use datafusion::common::DataFusionError;
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::logical_expr::LogicalPlan;

use crate::scans::file_scans;

/// Whether `error` comes from decoding CSV text (field counts, values of the wrong type).
pub fn is_csv_decode_error(error: &DataFusionError) -> bool {
    let text = error.to_string();
    text.contains("incorrect number of fields")
        || text.contains("Error while parsing value")
        || text.contains("invalid UTF-8")
        || matches!(
            error.find_root(),
            DataFusionError::ArrowError(e, _) if matches!(**e, ArrowError::CsvError(_) | ArrowError::ParseError(_))
        )
}

/// Re-reads the CSV files of `plan` to find the first malformed row; returns a one-line
/// description naming file, line and column, or `None` if every file reads cleanly.
pub fn locate_csv_error(plan: &LogicalPlan) -> Option<String> {
    file_scans(plan)
        .iter()
        .filter_map(|scan| scan.csv.as_ref().map(|csv| (scan, csv)))
        .flat_map(|(scan, csv)| scan.local_files().map(move |file| (scan, csv, file)))
        .find_map(|(scan, options, file)| check_file(&scan.schema, options, &file))
}

fn check_file(schema: &SchemaRef, options: &CsvOptions, file: &Path) -> Option<String> {
    let header = options.has_header.unwrap_or(true);
    let compression = FileCompressionType::from(options.compression);
    let opened = std::fs::File::open(file)
        .map_err(|e| e.to_string())
        .and_then(|f| compression.convert_read(f).map_err(|e| e.to_string()));
    let reader = match opened {
        Ok(reader) => reader,
        Err(e) => return Some(format!("cannot read '{}': {e}", file.display())),
    };
    let mut builder = ReaderBuilder::new(Arc::clone(schema))
        .with_header(header)
        .with_delimiter(options.delimiter)
        .with_quote(options.quote);
    if let Some(escape) = options.escape {
        builder = builder.with_escape(escape);
    }
    if let Some(comment) = options.comment {
        builder = builder.with_comment(comment);
    }
    if let Some(null_regex) = options
        .null_regex
        .as_deref()
        .and_then(|r| regex::Regex::new(r).ok())
    {
        builder = builder.with_null_regex(null_regex);
    }
    let reader = match builder.build(reader) {
        Ok(reader) => reader,
        Err(e) => return Some(format!("cannot read '{}': {e}", file.display())),
    };
    for batch in reader {
        if let Err(error) = batch {
            return Some(describe(file, header, schema, &error.to_string()));
        }
    }
    None
}

/// Characters of a bad value a message quotes: enough to find it, short enough to read.
const QUOTED_VALUE_CHARS: usize = 60;

/// `value` in quotes, cut to [`QUOTED_VALUE_CHARS`] (with its whole length) when longer.
fn quoted_value(value: &str) -> String {
    match value.char_indices().nth(QUOTED_VALUE_CHARS) {
        Some((cut, _)) => format!("'{}…' ({} bytes)", &value[..cut], value.len()),
        None => format!("'{value}'"),
    }
}

/// Rewrites an arrow-csv message as "file:line: what is wrong", with lines counted from 1 at
/// the top of the file, header included.
fn describe(file: &Path, header: bool, schema: &SchemaRef, message: &str) -> String {
    let file = file.display();
    let header_lines = usize::from(header);
    let number = |pattern: &str| {
        regex::Regex::new(pattern)
            .ok()?
            .captures(message)
            .and_then(|c| c.get(1)?.as_str().parse::<usize>().ok())
    };
    let value_error = regex::Regex::new(
        r"parsing value '(.*)' as type '?([^' ]+)'? for column (\d+) at line (\d+)",
    )
    .ok()
    .and_then(|re| re.captures(message));
    if let Some(c) = value_error {
        let column: usize = c[3].parse().unwrap_or(0);
        let name = schema
            .fields()
            .get(column)
            .map(|f| f.name().as_str())
            .unwrap_or("?");
        // The value decoder counts data rows from 1.
        let line = c[4].parse::<usize>().unwrap_or(0) + header_lines;
        return format!(
            "{file}:{line}: value {} in column '{name}' is not a valid {} (the type inferred from the first rows); fix the value or give the column's type explicitly",
            quoted_value(&c[1]),
            &c[2]
        );
    }
    if let Some(line) = number(r"incorrect number of fields for line (\d+)") {
        let expected = number(r"expected (\d+)").unwrap_or(schema.fields().len());
        let found = regex::Regex::new(r"got (more than )?(\d+)")
            .ok()
            .and_then(|re| re.captures(message))
            .map(|c| format!("{}{}", c.get(1).map_or("", |m| m.as_str()), &c[2]))
            .unwrap_or_else(|| "a different number".to_string());
        // The record decoder counts every record from 1, the header included.
        return format!(
            "{file}:{line}: malformed CSV row: expected {expected} fields, found {found}"
        );
    }
    format!("{file}: malformed CSV: {message}")
}
