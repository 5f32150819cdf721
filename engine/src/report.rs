//! Pictures of a query: its task graph as DOT, SVG or PNG, and the performance report, one
//! self-contained HTML page (inline SVG and CSS, nothing fetched) as Dask's
//! `performance_report` writes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use rask_planner::graph::{format_bytes, format_duration, TaskGraph};

use crate::error::{Error, Result};
use crate::monitor::{Query, QueryState};
use crate::staged::{cannot_write, check_destination, extension, write_atomically};

/// A file format for task graphs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    /// Graphviz source text.
    Dot,
    /// A picture laid out in-process.
    Svg,
    /// A picture rendered by Graphviz's `dot` program.
    Png,
}

/// The graph format `path`'s extension asks for, once its directory is known to exist (and,
/// for PNG, Graphviz's `dot` to be installed), so a query is not run for nothing.
pub fn check_graph_path(path: &Path) -> Result<GraphFormat> {
    let format = match extension(path).as_str() {
        "dot" | "gv" => GraphFormat::Dot,
        "svg" => GraphFormat::Svg,
        "png" => GraphFormat::Png,
        _ => {
            return Err(Error::output(format!(
                "cannot tell the graph format of '{}': use the extension .svg, .dot or .png",
                path.display()
            )))
        }
    };
    check_destination(path)?;
    if format == GraphFormat::Png && graphviz().is_none() {
        return Err(no_graphviz(path));
    }
    Ok(format)
}

fn no_graphviz(path: &Path) -> Error {
    cannot_write(
        path,
        "PNG needs Graphviz's `dot` program, which is not on PATH",
    )
    .with_hint("write .svg or .dot instead (drawn without Graphviz), or install graphviz")
}

/// Graphviz's `dot` program, if it is on `PATH`.
fn graphviz() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("dot"))
        .find(|candidate| candidate.is_file())
}

/// Writes `graph` to `path` in `format`, atomically.
pub fn write_graph(graph: &TaskGraph, path: &Path, format: GraphFormat) -> Result<()> {
    let bytes = match format {
        GraphFormat::Dot => graph.to_dot().into_bytes(),
        GraphFormat::Svg => graph.to_svg().into_bytes(),
        GraphFormat::Png => render_png(&graph.to_dot(), path)?,
    };
    write_atomically(path, &bytes)
}

fn render_png(dot: &str, path: &Path) -> Result<Vec<u8>> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let program = graphviz().ok_or_else(|| no_graphviz(path))?;
    let failed = |why: String| cannot_write(path, why);
    let mut child = Command::new(&program)
        .arg("-Tpng")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(format!("cannot run {}: {e}", program.display())))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(dot.as_bytes())
            .map_err(|e| failed(format!("cannot feed {}: {e}", program.display())))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| failed(format!("{} failed: {e}", program.display())))?;
    if !output.status.success() || output.stdout.is_empty() {
        let said = String::from_utf8_lossy(&output.stderr);
        return Err(failed(format!(
            "{} failed: {}",
            program.display(),
            said.lines().next().unwrap_or("no output")
        )));
    }
    Ok(output.stdout)
}

/// Checks that a report can be written at `path` before the query runs.
pub fn check_report_path(path: &Path) -> Result<()> {
    check_destination(path)
}

/// Writes the performance report of `query` to `path`, atomically.
pub fn write_report(query: &Query, path: &Path) -> Result<()> {
    write_atomically(path, render_report(query).as_bytes())
}

const STYLE: &str = "
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1200px; padding: 0 16px; color: #1d2433; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 32px; border-bottom: 1px solid #d8dee9; padding-bottom: 4px; }
pre { background: #f4f6fa; padding: 10px 12px; border-radius: 6px; white-space: pre-wrap; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e5e9f0; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; }
td.all { font-size: 12px; color: #4c566a; max-width: 420px; }
.graph { overflow: auto; border: 1px solid #e5e9f0; border-radius: 6px; padding: 8px; }
.muted { color: #6b7385; }
";

/// The report as one HTML page.
pub fn render_report(query: &Query) -> String {
    render_reports(&[query])
}

/// The reports of several queries (those run inside one `performance_report` block) as one
/// HTML page, in the order given.
pub fn render_reports(queries: &[&Query]) -> String {
    let title = match queries {
        [one] => format!("query {}", one.id()),
        _ => format!("{} queries", queries.len()),
    };
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Rask performance report: {title}</title><style>{STYLE}</style></head><body>\n"
    );
    let _ = writeln!(page, "<h1>Rask performance report</h1>");
    for query in queries {
        query_sections(&mut page, query);
    }
    page.push_str("</body></html>\n");
    page
}

/// Writes the reports of `queries` to `path` as one page, atomically.
pub fn write_reports(queries: &[&Query], path: &Path) -> Result<()> {
    write_atomically(path, render_reports(queries).as_bytes())
}

fn query_sections(page: &mut String, query: &Query) {
    let graph = query.graph();
    let state = query.state();
    let files = query.files();
    let _ = writeln!(
        page,
        "<p class=\"muted\">Query {} · {} in {} · {}</p>",
        query.id(),
        state.name(),
        format_duration(query.elapsed()),
        escape(&graph.summary())
    );
    if let QueryState::Failed(message, _) = &state {
        let _ = writeln!(page, "<p><strong>error:</strong> {}</p>", escape(message));
    }
    let _ = writeln!(
        page,
        "<section id=\"query\"><h2>Query</h2><pre>{}</pre></section>",
        escape(query.sql())
    );
    summary(page, query, &graph, &files);
    let svg = graph.to_svg();
    let svg = svg.find("<svg").map_or(svg.as_str(), |at| &svg[at..]);
    let _ = writeln!(
        page,
        "<section id=\"graph\"><h2>Task graph</h2><p class=\"muted\">Data flows down from the \
         sources; each operator runs as one task per partition. Colour: share of the compute \
         time.</p><div class=\"graph\">{svg}</div></section>"
    );
    operators_table(page, &graph);
    task_stream(page, query, &graph);
    files_table(page, &files);
}

fn summary(page: &mut String, query: &Query, graph: &TaskGraph, files: &[(String, u64)]) {
    let metrics = || graph.operators.iter().filter_map(|o| o.metrics.as_ref());
    let spill_count: usize = metrics().map(|m| m.spill_count).sum();
    let spilled: usize = metrics().map(|m| m.spilled_bytes).sum();
    let scanned: Option<usize> = metrics()
        .filter_map(|m| m.bytes_scanned)
        .reduce(|a, b| a + b);
    let result_rows = graph
        .operators
        .first()
        .and_then(|o| o.metrics.as_ref())
        .map_or(0, |m| m.output_rows);
    let file_bytes: u64 = files.iter().map(|(_, size)| size).sum();
    let rows: Vec<(&str, &str, String, String)> = vec![
        (
            "duration",
            "Duration",
            query.elapsed().as_secs_f64().to_string(),
            format_duration(query.elapsed()),
        ),
        (
            "result-rows",
            "Rows in the result",
            result_rows.to_string(),
            result_rows.to_string(),
        ),
        (
            "rows-read",
            "Rows read by the sources",
            query.progress().rows_read().to_string(),
            query.progress().rows_read().to_string(),
        ),
        (
            "tasks",
            "Tasks (operators × partitions)",
            graph.tasks().to_string(),
            format!("{} ({} operators)", graph.tasks(), graph.operators.len()),
        ),
        (
            "peak-memory",
            "Peak memory-pool reservation",
            query.memory_peak().to_string(),
            format_bytes(query.memory_peak()),
        ),
        (
            "spill-count",
            "Spills",
            spill_count.to_string(),
            spill_count.to_string(),
        ),
        (
            "spilled-bytes",
            "Spilled",
            spilled.to_string(),
            format_bytes(spilled),
        ),
        (
            "files",
            "Files read",
            files.len().to_string(),
            files.len().to_string(),
        ),
        (
            "file-bytes",
            "Size of the files read",
            file_bytes.to_string(),
            format_bytes(file_bytes as usize),
        ),
        (
            "bytes-scanned",
            "Bytes scanned (Parquet)",
            scanned.unwrap_or(0).to_string(),
            scanned.map_or("—".to_string(), format_bytes),
        ),
    ];
    page.push_str("<section id=\"summary\"><h2>Summary</h2><table>\n");
    for (key, label, value, shown) in rows {
        let _ = writeln!(
            page,
            "<tr data-key=\"{key}\"><th>{label}</th><td class=\"num\" data-value=\"{value}\">{}</td></tr>",
            escape(&shown)
        );
    }
    page.push_str("</table></section>\n");
}

fn operators_table(page: &mut String, graph: &TaskGraph) {
    page.push_str(
        "<section id=\"operators\"><h2>Operators</h2><table>\n<tr><th>#</th><th>operator</th>\
         <th class=\"num\">tasks</th><th class=\"num\">output rows</th><th class=\"num\">compute</th>\
         <th class=\"num\">spills</th><th class=\"num\">spilled</th><th class=\"num\">peak memory</th>\
         <th>all metrics</th></tr>\n",
    );
    for (index, operator) in graph.operators.iter().enumerate() {
        let metrics = operator.metrics.clone().unwrap_or_default();
        let depth = depth(graph, index);
        let _ = writeln!(
            page,
            "<tr class=\"operator\" data-name=\"{name}\"><td>{index}</td>\
             <td style=\"padding-left:{pad}px\">{name}</td>\
             <td class=\"num tasks\">{tasks}</td>\
             <td class=\"num rows\" data-value=\"{rows}\">{rows}</td>\
             <td class=\"num compute\" data-value=\"{compute_ns}\">{compute}</td>\
             <td class=\"num spills\">{spills}</td>\
             <td class=\"num spilled\" data-value=\"{spilled_bytes}\">{spilled}</td>\
             <td class=\"num peak\">{peak}</td><td class=\"all\">{all}</td></tr>",
            name = escape(&operator.name),
            pad = 10 + 14 * depth,
            tasks = operator.partitions,
            rows = metrics.output_rows,
            compute_ns = metrics.elapsed_compute.as_nanos(),
            compute = format_duration(metrics.elapsed_compute),
            spills = metrics.spill_count,
            spilled_bytes = metrics.spilled_bytes,
            spilled = format_bytes(metrics.spilled_bytes),
            peak = metrics.peak_memory.map_or("—".to_string(), format_bytes),
            all = escape(&metrics.all),
        );
    }
    page.push_str("</table></section>\n");
}

/// How deep operator `index` sits below the root.
fn depth(graph: &TaskGraph, index: usize) -> usize {
    let parent = graph
        .operators
        .iter()
        .position(|o| o.inputs.contains(&index));
    parent.map_or(0, |p| 1 + depth(graph, p))
}

/// The task stream: a lane per task (operator × partition), light from its start to its
/// end and solid where it was busy (its compute time sampled as it ran), lanes grouped by
/// operator, time from the query's start.
fn task_stream(page: &mut String, query: &Query, graph: &TaskGraph) {
    const LEFT: f64 = 210.0;
    const WIDTH: f64 = 900.0;
    const LANE: f64 = 8.0;
    const GAP: f64 = 8.0;
    let origin = query
        .started()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    let span = query.elapsed().as_nanos().max(1) as f64;
    let x = |ns: i64| LEFT + ((ns - origin).max(0) as f64 / span).min(1.0) * WIDTH;
    let mut bars = String::new();
    let mut y = 24.0;
    let mut drawn = 0usize;
    let activity = query.activity();
    let span_opacity = if activity.is_empty() { 1.0 } else { 0.3 };
    for (index, operator) in graph.operators.iter().enumerate().rev() {
        let Some(metrics) = &operator.metrics else {
            continue;
        };
        let top = y;
        let hue = (index * 47) % 360;
        for task in &metrics.tasks {
            let Some(start) = task.start_ns else {
                continue;
            };
            let end = task.end_ns.unwrap_or(origin + span as i64);
            let (x0, x1) = (x(start), x(end).max(x(start) + 1.0));
            let _ = write!(
                bars,
                "<rect class=\"task\" data-operator=\"{index}\" data-partition=\"{p}\" x=\"{x0:.1}\" \
                 y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"hsl({hue},60%,55%)\" \
                 fill-opacity=\"{span_opacity}\">\
                 <title>{name} · partition {p}: {from} → {to}, {rows} rows</title></rect>",
                p = task.partition,
                w = x1 - x0,
                h = LANE - 1.0,
                name = escape(&operator.name),
                from = format_duration(Duration::from_nanos((start - origin).max(0) as u64)),
                to = format_duration(Duration::from_nanos((end - origin).max(0) as u64)),
                rows = task.output_rows,
            );
            let busy = activity
                .iter()
                .filter(|stretch| stretch.0 == index && stretch.1 == task.partition);
            for &(_, _, from, to) in busy {
                let at = |ms: f64| LEFT + (ms * 1e6 / span).clamp(0.0, 1.0) * WIDTH;
                let _ = write!(
                    bars,
                    "<rect class=\"busy\" x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" \
                     height=\"{h:.1}\" fill=\"hsl({hue},60%,45%)\"/>",
                    x0 = at(from),
                    w = (at(to) - at(from)).max(1.0),
                    h = LANE - 1.0,
                );
            }
            y += LANE;
            drawn += 1;
        }
        let _ = write!(
            bars,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" dominant-baseline=\"middle\" \
             font-size=\"11\">{index} {}</text>",
            LEFT - 8.0,
            (top + y) / 2.0,
            escape(&operator.name)
        );
        y += GAP;
    }
    let mut axis = String::new();
    for tick in 0..=4 {
        let at = LEFT + WIDTH * tick as f64 / 4.0;
        let label = format_duration(Duration::from_nanos((span * tick as f64 / 4.0) as u64));
        let _ = write!(
            axis,
            "<line x1=\"{at:.1}\" y1=\"16\" x2=\"{at:.1}\" y2=\"{y:.1}\" stroke=\"#e5e9f0\"/>\
             <text x=\"{at:.1}\" y=\"11\" text-anchor=\"middle\" font-size=\"11\">{label}</text>"
        );
    }
    let _ = writeln!(
        page,
        "<section id=\"task-stream\"><h2>Task stream</h2><p class=\"muted\">{drawn} tasks; each \
         lane is one operator on one partition, light from its start to its end (hover for rows), \
         solid where it was computing (sampled every 0.1 s).</p>\
         <svg width=\"{w}\" height=\"{h:.0}\" xmlns=\"http://www.w3.org/2000/svg\" \
         font-family=\"system-ui, sans-serif\">{axis}{bars}</svg></section>",
        w = LEFT + WIDTH + 60.0,
        h = y + 4.0,
    );
}

fn files_table(page: &mut String, files: &[(String, u64)]) {
    page.push_str("<section id=\"files\"><h2>Files read</h2>");
    if files.is_empty() {
        page.push_str("<p class=\"muted\">No files: the data came from memory or a generator.</p>");
    } else {
        page.push_str("<table><tr><th>file</th><th class=\"num\">size</th></tr>\n");
        for (path, size) in files {
            let _ = writeln!(
                page,
                "<tr class=\"file\"><td>{}</td><td class=\"num\" data-value=\"{size}\">{}</td></tr>",
                escape(path),
                format_bytes(*size as usize)
            );
        }
        page.push_str("</table>");
    }
    page.push_str("</section>\n");
}

/// Text made safe for HTML.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}
