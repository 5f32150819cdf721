//! Printing results in the chosen `--format`.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use comfy_table::{Cell, CellAlignment, Table};
use rask::arrow::util::display::{ArrayFormatter, FormatOptions};
use rask::report::{check_graph_path, check_report_path};
use rask::sink::{BatchWriter, OutputFormat};
use rask::{BatchStream, DataType, Query, RecordBatch, Result, SchemaRef, TaskGraph};

use crate::args::Format;

/// Computes `frame` and prints it, with a progress bar on stderr while it runs when
/// `progress` allows one; the bar goes before the first row is printed. Returns the query
/// as run, with its metrics.
pub async fn print_frame(
    frame: rask::DataFrame,
    format: Format,
    maxrows: usize,
    progress: bool,
    out: &mut (impl Write + Send),
) -> Result<Arc<Query>> {
    let (stream, bar) = if progress {
        let (stream, watched) = frame.execute_stream_with_progress().await?;
        (stream, Some(crate::progress::Bar::start(watched)))
    } else {
        (frame.execute_stream().await?, None)
    };
    let query = Arc::clone(stream.query());
    print(stream, format, maxrows, out, bar).await?;
    Ok(query)
}

/// Runs a frame with nothing to print (DDL, `COPY`) to its end; returns the query as run.
pub async fn drain(frame: rask::DataFrame) -> Result<Arc<Query>> {
    let stream = frame.execute_stream().await?;
    let query = Arc::clone(stream.query());
    stream.collect().await?;
    Ok(query)
}

/// Writes a task graph in the format `path` names and says so on stderr unless `quiet`.
pub fn write_graph(graph: &TaskGraph, path: &Path, quiet: bool) -> Result<()> {
    let format = check_graph_path(path)?;
    rask::report::write_graph(graph, path, format)?;
    if !quiet {
        eprintln!(
            "wrote task graph ({}) to {}",
            graph.summary(),
            path.display()
        );
    }
    Ok(())
}

/// Writes the performance report of `query` and says so on stderr unless `quiet`.
pub fn write_report(query: &Query, path: &Path, quiet: bool) -> Result<()> {
    check_report_path(path)?;
    rask::report::write_report(query, path)?;
    if !quiet {
        eprintln!("wrote performance report to {}", path.display());
    }
    Ok(())
}

/// Prints every batch of `stream` to `out`; table formats show at most `maxrows` rows and
/// say how many were left out, or that there were none (as DuckDB's shell does, the row count
/// is told only when the table alone does not show all rows).
pub async fn print(
    mut stream: BatchStream,
    format: Format,
    maxrows: usize,
    out: &mut (impl Write + Send),
    mut bar: Option<crate::progress::Bar>,
) -> Result<()> {
    let schema = stream.schema();
    let streamed = match format {
        Format::Csv => Some(OutputFormat::Csv),
        Format::Tsv => Some(OutputFormat::Tsv),
        Format::Json => Some(OutputFormat::Json),
        Format::Ndjson => Some(OutputFormat::NdJson),
        Format::Table | Format::Markdown => None,
    };
    if let Some(output) = streamed {
        let mut writer = BatchWriter::new(output, &mut *out, &schema)?;
        while let Some(batch) = stream.next_batch().await {
            let batch = batch?;
            bar.take();
            writer.write(&batch)?;
        }
        drop(bar);
        return writer.finish();
    }
    let mut shown: Vec<RecordBatch> = Vec::new();
    let (mut kept, mut total) = (0usize, 0u64);
    while let Some(batch) = stream.next_batch().await {
        let batch = batch?;
        total += batch.num_rows() as u64;
        let room = maxrows - kept;
        if room > 0 {
            let take = room.min(batch.num_rows());
            shown.push(batch.slice(0, take));
            kept += take;
        }
    }
    drop(bar);
    writeln!(out, "{}", render(&schema, &shown, format)?)?;
    if total == 0 {
        writeln!(out, "0 rows")?;
    } else if total > kept as u64 {
        writeln!(
            out,
            "{total} rows in total, {} not shown (use --maxrows N or --maxrows inf to see more)",
            total - kept as u64
        )?;
    }
    Ok(())
}

/// Renders batches as an ASCII or Markdown table, numbers right-aligned, NULL spelled out.
fn render(schema: &SchemaRef, batches: &[RecordBatch], format: Format) -> Result<String> {
    let mut table = Table::new();
    if format == Format::Markdown {
        table.load_preset(comfy_table::presets::ASCII_MARKDOWN);
    } else {
        table.load_preset("||--+-++|    ++++++");
    }
    table.set_header(schema.fields().iter().map(|f| Cell::new(f.name())));
    let numeric: Vec<bool> = schema
        .fields()
        .iter()
        .map(|f| is_numeric(f.data_type()))
        .collect();
    let options = FormatOptions::default().with_null("NULL");
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            table.add_row(formatters.iter().zip(&numeric).map(|(f, &numeric)| {
                let mut text = f.value(row).to_string();
                if format == Format::Markdown {
                    text = text.replace('|', "\\|");
                }
                let cell = Cell::new(text);
                if numeric {
                    cell.set_alignment(CellAlignment::Right)
                } else {
                    cell
                }
            }));
        }
    }
    Ok(table.to_string())
}

fn is_numeric(data_type: &DataType) -> bool {
    data_type.is_numeric()
}
