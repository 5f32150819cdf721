//! Printing results in the chosen `--format`.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use rask::report::{check_graph_path, check_report_path};
use rask::sink::{BatchWriter, OutputFormat};
use rask::{BatchStream, Error, Query, RecordBatch, Result, SchemaRef, TaskGraph};

use crate::args::Format;
use crate::table::{render_markdown, render_table, ShownRows, TableStyle};

/// Computes `frame` and prints it, with a progress bar on stderr while it runs when
/// `progress` allows one; the bar goes before the first row is printed. Returns the query
/// as run, with its metrics, and the result when the view keeps it.
pub async fn print_frame(
    frame: rask::DataFrame,
    view: &View<'_>,
    progress: bool,
    out: &mut (impl Write + Send),
) -> Result<(Arc<Query>, Option<Kept>)> {
    let (stream, bar) = if progress {
        let (stream, watched) = frame.execute_stream_with_progress().await?;
        (stream, Some(crate::progress::Bar::start(watched)))
    } else {
        (frame.execute_stream().await?, None)
    };
    let query = Arc::clone(stream.query());
    let kept = print(Batches::Running(stream), view, out, bar).await?;
    Ok((query, kept))
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
    /// Keep the result for `.last`.
    pub keep: bool,
}

/// The most of a result kept for `.last`.
pub const KEPT_LIMIT: usize = 256 << 20;

/// A result kept to be shown again, unless it was larger than [`KEPT_LIMIT`].
pub struct Kept {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    bytes: usize,
    rows: u64,
    whole: bool,
}

impl Kept {
    fn new(schema: SchemaRef) -> Kept {
        Kept {
            schema,
            batches: Vec::new(),
            bytes: 0,
            rows: 0,
            whole: true,
        }
    }

    fn push(&mut self, batch: &RecordBatch) {
        self.rows += batch.num_rows() as u64;
        if !self.whole {
            return;
        }
        self.bytes += batch.get_array_memory_size();
        if self.bytes > KEPT_LIMIT {
            self.whole = false;
            self.batches = Vec::new();
        } else {
            self.batches.push(batch.clone());
        }
    }

    /// The kept batches, to print again.
    pub fn batches(&self) -> Result<Batches> {
        if !self.whole {
            return Err(Error::execution(format!(
                "the last result ({} rows) was larger than {} MiB and was not kept: run it again",
                self.rows,
                KEPT_LIMIT >> 20
            )));
        }
        Ok(Batches::Kept(
            Arc::clone(&self.schema),
            self.batches.clone().into_iter(),
        ))
    }
}

/// Where printed batches come from: a query running, or a result kept from before.
pub enum Batches {
    Running(BatchStream),
    Kept(SchemaRef, std::vec::IntoIter<RecordBatch>),
}

impl Batches {
    fn schema(&self) -> SchemaRef {
        match self {
            Batches::Running(stream) => stream.schema(),
            Batches::Kept(schema, _) => Arc::clone(schema),
        }
    }

    async fn next(&mut self) -> Option<Result<RecordBatch>> {
        match self {
            Batches::Running(stream) => stream.next_batch().await,
            Batches::Kept(_, batches) => batches.next().map(Ok),
        }
    }
}

/// Prints every batch to `out`; the table formats show at most `maxrows` rows (the first
/// and last ones, in the table format) fitted to the width, with a footer saying what was
/// left out. Returns the result when the view keeps it.
pub async fn print(
    mut batches: Batches,
    view: &View<'_>,
    out: &mut (impl Write + Send),
    mut bar: Option<crate::progress::Bar>,
) -> Result<Option<Kept>> {
    let schema = batches.schema();
    let mut kept = view.keep.then(|| Kept::new(Arc::clone(&schema)));
    let streamed = match view.format {
        Format::Csv => Some(OutputFormat::Csv),
        Format::Tsv => Some(OutputFormat::Tsv),
        Format::Json => Some(OutputFormat::Json),
        Format::Ndjson => Some(OutputFormat::NdJson),
        Format::Table | Format::Markdown => None,
    };
    if let Some(output) = streamed {
        let mut writer = BatchWriter::new(output, &mut *out, &schema)?;
        while let Some(batch) = batches.next().await {
            let batch = batch?;
            bar.take();
            writer.write(&batch)?;
            if let Some(kept) = &mut kept {
                kept.push(&batch);
            }
        }
        drop(bar);
        writer.finish()?;
        return Ok(kept);
    }
    let table = view.format == Format::Table;
    let mut rows = ShownRows::new(view.maxrows, table);
    while let Some(batch) = batches.next().await {
        let batch = batch?;
        rows.push(&batch);
        if let Some(kept) = &mut kept {
            kept.push(&batch);
        }
    }
    drop(bar);
    let text = if table {
        render_table(&schema, &rows, view.style, view.width)?
    } else {
        render_markdown(&schema, &rows, view.style)?
    };
    if view.pager && crate::terminal::taller_than_screen(&text) {
        crate::terminal::page(&text)?;
    } else {
        writeln!(out, "{text}")?;
    }
    Ok(kept)
}
