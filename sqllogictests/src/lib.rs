//! Runs sqllogictest files through a rask [`Session`]: the SQL behaviour of Rask, specified
//! as `.slt` files under `test_files/`.
//!
//! Values print as DataFusion's own sqllogictests print them: `NULL`, `(empty)` for the empty
//! string, floats rounded to 12 significant digits with no trailing zeros.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Float32Type, Float64Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use rask::{Error, RecordBatch, Session};
use sqllogictest::{DBOutput, DefaultColumnType};

/// A sqllogictest connection: one rask session.
pub struct RaskDb {
    session: Session,
}

impl RaskDb {
    /// A connection over `session`.
    pub fn new(session: Session) -> Self {
        RaskDb { session }
    }
}

#[async_trait::async_trait]
impl sqllogictest::AsyncDB for RaskDb {
    type Error = Error;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, Error> {
        let frame = self.session.sql(sql).await?;
        let schema = frame.schema();
        let batches = frame.collect().await?;
        if schema.fields().is_empty() {
            return Ok(DBOutput::StatementComplete(0));
        }
        let types = schema
            .fields()
            .iter()
            .map(|f| column_type(f.data_type()))
            .collect();
        let mut rows = Vec::new();
        for batch in &batches {
            rows.extend(format_rows(batch)?);
        }
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "rask"
    }

    async fn sleep(duration: std::time::Duration) {
        tokio::time::sleep(duration).await;
    }
}

fn column_type(data_type: &DataType) -> DefaultColumnType {
    match data_type {
        t if t.is_integer() => DefaultColumnType::Integer,
        t if t.is_floating()
            || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..)) =>
        {
            DefaultColumnType::FloatingPoint
        }
        _ => DefaultColumnType::Text,
    }
}

fn format_rows(batch: &RecordBatch) -> Result<Vec<Vec<String>>, Error> {
    let options = FormatOptions::default().with_null("NULL");
    let columns: Vec<Vec<String>> = batch
        .columns()
        .iter()
        .map(|column| format_column(column, &options))
        .collect::<Result<_, _>>()?;
    Ok((0..batch.num_rows())
        .map(|row| columns.iter().map(|c| c[row].clone()).collect())
        .collect())
}

fn format_column(column: &ArrayRef, options: &FormatOptions) -> Result<Vec<String>, Error> {
    let floats: Option<Vec<Option<f64>>> = match column.data_type() {
        DataType::Float64 => Some(column.as_primitive::<Float64Type>().iter().collect()),
        DataType::Float32 => Some(
            column
                .as_primitive::<Float32Type>()
                .iter()
                .map(|v| v.map(f64::from))
                .collect(),
        ),
        _ => None,
    };
    if let Some(values) = floats {
        return Ok(values
            .into_iter()
            .map(|v| v.map_or_else(|| "NULL".to_string(), format_float))
            .collect());
    }
    let formatter = ArrayFormatter::try_new(column.as_ref(), options)?;
    Ok((0..column.len())
        .map(|row| match formatter.value(row).to_string() {
            text if text.is_empty() && column.is_valid(row) => "(empty)".to_string(),
            // Plans span lines; one line per cell keeps the expected output readable.
            text if text.contains('\n') => text
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .collect::<Vec<_>>()
                .join(" | "),
            text => text,
        })
        .collect())
}

/// Floats rounded to 12 significant digits, printed without trailing zeros.
pub fn format_float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    let rounded: f64 = format!("{value:.11e}").parse().unwrap_or(value);
    if rounded == 0.0 {
        "0".to_string()
    } else {
        rounded.to_string()
    }
}

/// A session configured as the `.slt` files expect: four partitions, so plans and
/// parallelism are the same on every machine.
pub fn test_session() -> Result<Session, Error> {
    Session::builder().partitions(4).build()
}

/// A session as [`test_session`], whose queries run on the cluster at `url`.
pub async fn cluster_session(url: &str) -> Result<Session, Error> {
    Session::builder().partitions(4).connect(url).await
}

#[cfg(test)]
mod tests {
    use super::format_float;

    #[test]
    fn floats_print_like_datafusion_slt() {
        assert_eq!(format_float(3.0), "3");
        assert_eq!(format_float(1.7222222222222223), "1.72222222222");
        assert_eq!(format_float(0.1 + 0.2), "0.3");
        assert_eq!(format_float(-0.0), "0");
        assert_eq!(format_float(1e20), "100000000000000000000");
    }
}
