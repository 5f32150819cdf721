//! Printing results in the chosen `--format`.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use rask::report::{check_graph_path, check_report_path};
use rask::sink::{BatchWriter, OutputFormat};
use rask::{BatchStream, Query, Result, TaskGraph};

use crate::args::Format;
use crate::table::{render_markdown, render_table, ShownRows, TableStyle};

/// Computes `frame` and prints it, with a progress bar on stderr while it runs when
/// `progress` allows one; the bar goes before the first row is printed. Returns the query
/// as run, with its metrics.
pub async fn print_frame(
    frame: rask::DataFrame,
    view: &View<'_>,
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
    print(stream, view, out, bar).await?;
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

/// How a result is shown: its format, and for the table formats the rows, width and style.
pub struct View<'a> {
    pub format: Format,
    pub maxrows: usize,
    pub style: &'a TableStyle,
    /// Text columns the table may take.
    pub width: usize,
    /// Hand a table taller than the terminal to the pager.
    pub pager: bool,
}

/// Prints every batch of `stream` to `out`; the table formats show at most `maxrows` rows
/// (the first and last ones, in the table format) fitted to the width, with a footer saying
/// what was left out.
pub async fn print(
    mut stream: BatchStream,
    view: &View<'_>,
    out: &mut (impl Write + Send),
    mut bar: Option<crate::progress::Bar>,
) -> Result<()> {
    let schema = stream.schema();
    let streamed = match view.format {
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
    let table = view.format == Format::Table;
    let mut rows = ShownRows::new(view.maxrows, table);
    while let Some(batch) = stream.next_batch().await {
        rows.push(&batch?);
    }
    drop(bar);
    let text = if table {
        render_table(&schema, &rows, view.style, view.width)?
    } else {
        render_markdown(&schema, &rows, view.style)?
    };
    if view.pager && crate::terminal::taller_than_screen(&text) {
        return crate::terminal::page(&text);
    }
    writeln!(out, "{text}")?;
    Ok(())
}
