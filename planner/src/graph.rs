//! A physical plan as a task graph, as Dask draws one: each operator runs as one task per
//! partition, data flows from the sources down to the result, and after execution every
//! operator carries what it did (rows, compute time, spill) and when each task ran.
//!
//! Rendered as Graphviz DOT text, or laid out in-process as SVG (no `dot` binary needed).
//!
//! ```text
//! DataSourceExec (2 tasks) ─► FilterExec (2 tasks) ─► AggregateExec Partial (2 tasks)
//!   ─► RepartitionExec (2 tasks) ─► AggregateExec FinalPartitioned (2 tasks) ─► ...
//! ```

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use datafusion::physical_plan::metrics::{MetricValue, MetricsSet};
use datafusion::physical_plan::{DisplayFormatType, ExecutionPlan};
use layout::backends::svg::SVGWriter;
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::format::{ClipHandle, RenderBackend};
use layout::core::geometry::Point;
use layout::core::style::StyleAttr;
use layout::std_shapes::shapes::{Arrow, Element, ShapeKind};
use layout::topo::layout::VisualGraph;

/// Longest detail value shown in a node before it is cut with `…`.
const DETAIL_WIDTH: usize = 48;

/// A physical plan as operators × partitions.
#[derive(Debug, Clone)]
pub struct TaskGraph {
    /// The operators, the plan's root (which yields the result) first.
    pub operators: Vec<Operator>,
}

/// One operator of the plan and the tasks it runs as.
#[derive(Debug, Clone)]
pub struct Operator {
    /// Its name, e.g. `AggregateExec`.
    pub name: String,
    /// What it does, as `(key, value)` pairs (DataFusion's tree-explain details); the key
    /// is empty for a detail that is a plain line (a sort's order).
    pub details: Vec<(String, String)>,
    /// Its output partitions: one task each.
    pub partitions: usize,
    /// The operators it reads from, as indices into [`TaskGraph::operators`].
    pub inputs: Vec<usize>,
    /// What it did, once the plan has run.
    pub metrics: Option<OperatorMetrics>,
}

/// What an operator did during execution, summed over its partitions.
#[derive(Debug, Clone, Default)]
pub struct OperatorMetrics {
    /// Rows it produced.
    pub output_rows: usize,
    /// CPU-bound time spent in it (not in its inputs).
    pub elapsed_compute: Duration,
    /// Times it spilled to disk.
    pub spill_count: usize,
    /// Bytes it spilled.
    pub spilled_bytes: usize,
    /// Its largest memory use, where it reports one.
    pub peak_memory: Option<usize>,
    /// Bytes read from files, where it reads any (Parquet reports this).
    pub bytes_scanned: Option<usize>,
    /// Every metric, summed over partitions, as `EXPLAIN ANALYZE` prints them.
    pub all: String,
    /// When each of its tasks ran.
    pub tasks: Vec<TaskTiming>,
}

/// One task: an operator on one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskTiming {
    /// The partition.
    pub partition: usize,
    /// Start, in nanoseconds since the Unix epoch.
    pub start_ns: Option<i64>,
    /// End, in nanoseconds since the Unix epoch; `None` while it runs.
    pub end_ns: Option<i64>,
    /// Rows it produced so far.
    pub output_rows: usize,
}

impl TaskGraph {
    /// The graph of `plan`, with the metrics it holds (none before it runs).
    pub fn new(plan: &Arc<dyn ExecutionPlan>) -> TaskGraph {
        let mut operators = Vec::new();
        add(plan, &mut operators);
        TaskGraph { operators }
    }

    /// Gives operators DataFusion reports no peak memory for the peaks of the memory-pool
    /// consumers that are theirs: `consumers` are `(name, peak)` in the order they
    /// registered. A consumer's name says its operator's kind and partition
    /// (`ExternalSorter[1]`, `GroupedHashAggregateStream[0] (…)`); where a plan has several
    /// operators of that kind, the consumers of each partition registered first belong to
    /// the deepest (an operator starts its input before it reserves memory). An operator's
    /// peak is the sum of its tasks' peaks.
    pub fn attribute_pool_peaks(&mut self, consumers: &[(String, usize)]) {
        let mut peaks: Vec<usize> = vec![0; self.operators.len()];
        let mut seen: Vec<(String, usize)> = Vec::new();
        for (consumer, peak) in consumers {
            let Some((kind, mode)) = consumer_operator(consumer) else {
                continue;
            };
            let mut candidates: Vec<usize> = (0..self.operators.len())
                .filter(|&i| {
                    let operator = &self.operators[i];
                    operator.name == kind
                        && mode.is_none_or(|mode| {
                            operator
                                .details
                                .iter()
                                .any(|(key, value)| key == "mode" && value.starts_with(mode))
                        })
                })
                .collect();
            candidates.sort_by_key(|&i| std::cmp::Reverse(self.depth(i)));
            // The consumer's kind and partition, without what follows (`(count(1))`).
            let key = consumer.split(']').next().unwrap_or(consumer).to_string();
            let earlier = match seen.iter_mut().find(|(k, _)| *k == key) {
                Some((_, count)) => {
                    *count += 1;
                    *count - 1
                }
                None => {
                    seen.push((key, 1));
                    0
                }
            };
            if let Some(&operator) = candidates.get(earlier) {
                peaks[operator] += peak;
            }
        }
        for (operator, peak) in self.operators.iter_mut().zip(peaks) {
            if let Some(metrics) = &mut operator.metrics {
                if metrics.peak_memory.is_none() && peak > 0 {
                    metrics.peak_memory = Some(peak);
                }
            }
        }
    }

    /// How far below the root operator `index` is.
    fn depth(&self, index: usize) -> usize {
        let parent = self
            .operators
            .iter()
            .position(|o| o.inputs.contains(&index));
        parent.map_or(0, |p| 1 + self.depth(p))
    }

    /// Tasks in all, as Dask counts them: every operator once per partition.
    pub fn tasks(&self) -> usize {
        self.operators.iter().map(|o| o.partitions).sum()
    }

    /// Partitions of the result.
    pub fn npartitions(&self) -> usize {
        self.operators.first().map_or(0, |o| o.partitions)
    }

    /// Whether the plan has run (its operators carry metrics).
    pub fn executed(&self) -> bool {
        self.operators.iter().any(|o| o.metrics.is_some())
    }

    /// A one-line summary: operators, tasks, partitions.
    pub fn summary(&self) -> String {
        format!(
            "{} operators, {} tasks, {} output partition(s)",
            self.operators.len(),
            self.tasks(),
            self.npartitions()
        )
    }

    /// The lines a node shows: name, tasks, details, then (after execution) its metrics.
    pub fn node_label(&self, index: usize) -> Vec<String> {
        let operator = &self.operators[index];
        let tasks = match operator.partitions {
            1 => "1 task".to_string(),
            n => format!("{n} tasks"),
        };
        let mut lines = vec![format!("{} · {tasks}", operator.name)];
        for (key, value) in &operator.details {
            let value = if value.chars().count() > DETAIL_WIDTH {
                let cut: String = value.chars().take(DETAIL_WIDTH - 1).collect();
                format!("{cut}…")
            } else {
                value.clone()
            };
            if key.is_empty() {
                lines.push(value);
            } else {
                lines.push(format!("{key}: {value}"));
            }
        }
        if let Some(metrics) = &operator.metrics {
            let mut done = format!(
                "rows {} · compute {}",
                metrics.output_rows,
                format_duration(metrics.elapsed_compute)
            );
            if let Some(peak) = metrics.peak_memory.filter(|&peak| peak > 0) {
                let _ = write!(done, " · peak {}", format_bytes(peak));
            }
            if metrics.spill_count > 0 {
                let _ = write!(
                    done,
                    " · spilled {} ({}×)",
                    format_bytes(metrics.spilled_bytes),
                    metrics.spill_count
                );
            }
            lines.push(done);
        }
        lines
    }

    /// Each operator's share of the plan's compute time, 0 to 1 (0 before execution).
    fn heat(&self, index: usize) -> f64 {
        let total: Duration = self
            .operators
            .iter()
            .filter_map(|o| o.metrics.as_ref())
            .map(|m| m.elapsed_compute)
            .sum();
        let own = self.operators[index]
            .metrics
            .as_ref()
            .map_or(Duration::ZERO, |m| m.elapsed_compute);
        if total.is_zero() {
            0.0
        } else {
            own.as_secs_f64() / total.as_secs_f64()
        }
    }

    /// The graph as Graphviz DOT: data flows from the sources at the top to the result.
    pub fn to_dot(&self) -> String {
        let mut dot = String::from("digraph tasks {\n");
        let _ = writeln!(dot, "  label=\"{}\";", escape_dot(&self.summary()));
        dot.push_str("  labelloc=t;\n  fontname=\"Helvetica\";\n");
        dot.push_str(
            "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=11];\n",
        );
        for index in 0..self.operators.len() {
            let label: Vec<String> = self
                .node_label(index)
                .iter()
                .map(|l| escape_dot(l))
                .collect();
            let _ = writeln!(
                dot,
                "  n{index} [label=\"{}\\l\", fillcolor=\"{}\"];",
                label.join("\\l"),
                fill_color(self.heat(index))
            );
        }
        for (index, operator) in self.operators.iter().enumerate() {
            for input in &operator.inputs {
                let _ = writeln!(dot, "  n{input} -> n{index};");
            }
        }
        dot.push_str("}\n");
        dot
    }

    /// The graph laid out and drawn as a standalone SVG document.
    pub fn to_svg(&self) -> String {
        const FONT: usize = 12;
        let mut graph = VisualGraph::new(Orientation::TopToBottom);
        let handles: Vec<_> = (0..self.operators.len())
            .map(|index| {
                let lines = self.node_label(index);
                let widest = lines.iter().map(|l| l.chars().count()).max().unwrap_or(1);
                let size = Point::new(
                    widest as f64 * FONT as f64 * 0.62 + 24.0,
                    lines.len() as f64 * FONT as f64 * 1.25 + 16.0,
                );
                let look = StyleAttr::new(
                    Color::new(0x4a5a78ff),
                    1,
                    Some(Color::new(fill_rgba(self.heat(index)))),
                    6,
                    FONT,
                );
                graph.add_node(Element::create(
                    ShapeKind::new_box(&lines.join("\n")),
                    look,
                    Orientation::LeftToRight,
                    size,
                ))
            })
            .collect();
        for (index, operator) in self.operators.iter().enumerate() {
            for &input in &operator.inputs {
                graph.add_edge(Arrow::simple(""), handles[input], handles[index]);
            }
        }
        let mut svg = Bounded {
            svg: SVGWriter::new(),
            right: 0.0,
            bottom: 0.0,
        };
        graph.do_it(false, false, false, &mut svg);
        svg.finish()
    }
}

/// layout-rs's SVG writer sizes the picture by the length of its labels' text as if it ran
/// downwards, leaving a tall empty canvas; this one measures what is drawn instead.
struct Bounded {
    svg: SVGWriter,
    right: f64,
    bottom: f64,
}

impl Bounded {
    fn cover(&mut self, x: f64, y: f64) {
        self.right = self.right.max(x);
        self.bottom = self.bottom.max(y);
    }

    fn finish(&self) -> String {
        let drawn = self.svg.finalize();
        let (width, height) = (self.right + 10.0, self.bottom + 10.0);
        let Some(start) = drawn.find("<svg") else {
            return drawn;
        };
        let Some(end) = drawn[start..].find('>').map(|e| start + e + 1) else {
            return drawn;
        };
        format!(
            "{}<svg width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" \
             xmlns=\"http://www.w3.org/2000/svg\">{}",
            &drawn[..start],
            &drawn[end..]
        )
    }
}

impl RenderBackend for Bounded {
    fn draw_rect(
        &mut self,
        xy: Point,
        size: Point,
        look: &StyleAttr,
        properties: Option<String>,
        clip: Option<ClipHandle>,
    ) {
        self.cover(xy.x + size.x, xy.y + size.y);
        self.svg.draw_rect(xy, size, look, properties, clip);
    }

    fn draw_line(
        &mut self,
        start: Point,
        stop: Point,
        look: &StyleAttr,
        properties: Option<String>,
    ) {
        self.cover(start.x.max(stop.x), start.y.max(stop.y));
        self.svg.draw_line(start, stop, look, properties);
    }

    fn draw_circle(
        &mut self,
        xy: Point,
        size: Point,
        look: &StyleAttr,
        properties: Option<String>,
    ) {
        self.cover(xy.x + size.x / 2.0, xy.y + size.y / 2.0);
        self.svg.draw_circle(xy, size, look, properties);
    }

    fn draw_text(&mut self, xy: Point, text: &str, look: &StyleAttr) {
        self.cover(xy.x, xy.y);
        self.svg.draw_text(xy, text, look);
    }

    fn draw_arrow(
        &mut self,
        path: &[(Point, Point)],
        dashed: bool,
        head: (bool, bool),
        look: &StyleAttr,
        properties: Option<String>,
        text: &str,
    ) {
        for (point, control) in path {
            self.cover(point.x.max(control.x), point.y.max(control.y));
        }
        self.svg
            .draw_arrow(path, dashed, head, look, properties, text);
    }

    fn create_clip(&mut self, xy: Point, size: Point, rounded_px: usize) -> ClipHandle {
        self.svg.create_clip(xy, size, rounded_px)
    }
}

fn add(plan: &Arc<dyn ExecutionPlan>, operators: &mut Vec<Operator>) -> usize {
    let index = operators.len();
    let mut details = details(plan.as_ref());
    if let Some(names) = file_names(plan.as_ref()) {
        // A source box names what it reads, not only how many files.
        let count = names.len();
        let listed = format!("{} ({count})", names.join(", "));
        match details.iter_mut().find(|(key, _)| key == "files") {
            Some((_, value)) => *value = listed,
            None => details.push(("files".to_string(), listed)),
        }
    }
    operators.push(Operator {
        name: plan.name().to_string(),
        details,
        partitions: plan.properties().output_partitioning().partition_count(),
        inputs: vec![],
        metrics: plan
            .metrics()
            .and_then(|m| operator_metrics(&m, files_per_partition(plan.as_ref()).as_deref())),
    });
    let inputs = plan
        .children()
        .into_iter()
        .map(|child| add(child, operators))
        .collect();
    operators[index].inputs = inputs;
    index
}

/// DataFusion's tree-explain details of one operator: short `key=value` lines.
fn details(plan: &dyn ExecutionPlan) -> Vec<(String, String)> {
    struct Tree<'a>(&'a dyn ExecutionPlan);
    impl std::fmt::Display for Tree<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            self.0.fmt_as(DisplayFormatType::TreeRender, f)
        }
    }
    Tree(plan)
        .to_string()
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| match line.split_once('=') {
            Some((key, value)) => (key.trim().to_string(), value.trim().to_string()),
            None => (String::new(), line.trim().to_string()),
        })
        .collect()
}

/// The compute time each task of `plan` has used so far, in nanoseconds: `(operator,
/// partition, time)`, operators numbered as [`TaskGraph::new`] numbers them. Cheap enough
/// to read every tenth of a second while the plan runs.
pub fn task_compute(plan: &Arc<dyn ExecutionPlan>) -> Vec<(usize, usize, u64)> {
    let mut times = Vec::new();
    let mut pending = vec![Arc::clone(plan)];
    let mut index = 0;
    while let Some(node) = pending.pop() {
        if let Some(metrics) = node.metrics() {
            let mut by_partition: Vec<(usize, u64, u64)> = Vec::new();
            for metric in metrics.iter() {
                let Some(partition) = metric.partition() else {
                    continue;
                };
                let (compute, processing) = match metric.value() {
                    MetricValue::ElapsedCompute(time) => (time.value() as u64, 0),
                    MetricValue::Time { name, time } if name == "time_elapsed_processing" => {
                        (0, time.value() as u64)
                    }
                    _ => continue,
                };
                match by_partition.iter_mut().find(|(p, _, _)| *p == partition) {
                    Some((_, c, t)) => {
                        *c += compute;
                        *t += processing;
                    }
                    None => by_partition.push((partition, compute, processing)),
                }
            }
            times.extend(
                by_partition
                    .into_iter()
                    .map(|(partition, compute, processing)| {
                        (index, partition, compute.max(processing))
                    }),
            );
        }
        index += 1;
        // Children in reverse, so that they are taken in order: the numbering of `add`.
        pending.extend(node.children().into_iter().rev().cloned());
    }
    times
}

/// When a query's tasks were busy, sampled from their compute time: a task that used compute
/// between two samples was busy between them. One bar per busy stretch, not one from a
/// task's first poll to its end.
#[derive(Debug, Default)]
pub struct Activity {
    last: std::collections::HashMap<(usize, usize), u64>,
    last_at: f64,
    busy: Vec<(usize, usize, f64, f64)>,
    /// Each task's latest stretch in `busy`.
    latest: std::collections::HashMap<(usize, usize), usize>,
}

/// The most busy stretches kept for one query.
const MAX_STRETCHES: usize = 20_000;

impl Activity {
    /// Takes the tasks' compute times (see [`task_compute`]) read at `at` milliseconds
    /// after the query started.
    pub fn sample(&mut self, at: f64, times: &[(usize, usize, u64)]) {
        for &(operator, partition, compute) in times {
            let before = self
                .last
                .insert((operator, partition), compute)
                .unwrap_or(0);
            if compute <= before {
                continue;
            }
            match self.latest.get(&(operator, partition)) {
                Some(&index) if self.busy[index].3 >= self.last_at => self.busy[index].3 = at,
                _ if self.busy.len() < MAX_STRETCHES => {
                    self.latest.insert((operator, partition), self.busy.len());
                    self.busy.push((operator, partition, self.last_at, at));
                }
                _ => {}
            }
        }
        self.last_at = at;
    }

    /// The busy stretches so far: `(operator, partition, from, to)` in milliseconds.
    pub fn busy(&self) -> &[(usize, usize, f64, f64)] {
        &self.busy
    }
}

/// The operator a memory-pool consumer belongs to, by DataFusion 55's names for them: the
/// operator's name and, for aggregations that say, the start of its mode.
fn consumer_operator(consumer: &str) -> Option<(&'static str, Option<&'static str>)> {
    let kind = consumer.split('[').next()?;
    Some(match kind {
        "PartialHashAggregateStream"
        | "OrderedPartialAggregateStream"
        | "PartialReduceHashAggregateStream" => ("AggregateExec", Some("Partial")),
        "FinalHashAggregateStream" | "OrderedFinalAggregateStream" => {
            ("AggregateExec", Some("Final"))
        }
        "GroupedHashAggregateStream" | "AggregateStream" | "SingleHashAggregateStream" => {
            ("AggregateExec", None)
        }
        "ExternalSorter" | "ExternalSorterMerge" | "TopK" => ("SortExec", None),
        "SortPreservingMergeExec" => ("SortPreservingMergeExec", None),
        "HashJoinInput" => ("HashJoinExec", None),
        "SMJStream" => ("SortMergeJoinExec", None),
        "NestedLoopJoinLoad" => ("NestedLoopJoinExec", None),
        "CrossJoinExec" => ("CrossJoinExec", None),
        "RepartitionExec" => ("RepartitionExec", None),
        _ => return None,
    })
}

/// The names of the files a file scan reads, in order.
fn file_names(plan: &dyn ExecutionPlan) -> Option<Vec<String>> {
    let scan = crate::cache::file_scan_config(plan)?;
    let mut names: Vec<String> = Vec::new();
    for file in scan.file_groups.iter().flat_map(|group| group.iter()) {
        let name = file
            .object_meta
            .location
            .filename()
            .unwrap_or_default()
            .to_string();
        // A file read in several blocks is one file.
        if names.last() != Some(&name) {
            names.push(name);
        }
    }
    Some(names)
}

/// The files in each partition's group of a file scan, for telling when its tasks are done.
fn files_per_partition(plan: &dyn ExecutionPlan) -> Option<Vec<usize>> {
    let scan = crate::cache::file_scan_config(plan)?;
    Some(scan.file_groups.iter().map(|group| group.len()).collect())
}

/// The metrics of an operator. A file scan records a start and an end for each file it opens
/// (all under its partition), so its task starts at the first, and ends once the scan's files
/// (`files`, per partition) are all processed: not at the end of its first file. Another
/// operator's task ends when one of its streams has ended.
fn operator_metrics(metrics: &MetricsSet, files: Option<&[usize]>) -> Option<OperatorMetrics> {
    // Before execution an operator has registered no metric at all.
    metrics.iter().next()?;
    let mut tasks: Vec<TaskTiming> = Vec::new();
    // Per task: ends recorded, files opened and files processed.
    let mut counts: Vec<(usize, usize, usize)> = Vec::new();
    let mut peak_memory = None;
    for metric in metrics.iter() {
        let Some(partition) = metric.partition() else {
            continue;
        };
        let at = match tasks.iter().position(|t| t.partition == partition) {
            Some(at) => at,
            None => {
                tasks.push(TaskTiming {
                    partition,
                    start_ns: None,
                    end_ns: None,
                    output_rows: 0,
                });
                counts.push((0, 0, 0));
                tasks.len() - 1
            }
        };
        let task = &mut tasks[at];
        let (ends, opened, processed) = &mut counts[at];
        match metric.value() {
            MetricValue::StartTimestamp(t) => {
                if let Some(start) = t.value().and_then(|d| d.timestamp_nanos_opt()) {
                    task.start_ns = Some(task.start_ns.map_or(start, |s| s.min(start)));
                }
            }
            MetricValue::EndTimestamp(t) => {
                if let Some(end) = t.value().and_then(|d| d.timestamp_nanos_opt()) {
                    *ends += 1;
                    task.end_ns = Some(task.end_ns.map_or(end, |e| e.max(end)));
                }
            }
            MetricValue::Count { name, count } if name == "files_processed" => {
                *processed += count.value();
            }
            MetricValue::Count { name, count } if name == "files_opened" => {
                *opened += count.value();
            }
            MetricValue::OutputRows(count) => task.output_rows += count.value(),
            MetricValue::PeakMemoryUsage { gauge, .. } => {
                *peak_memory.get_or_insert(0) += gauge.value();
            }
            _ => {}
        }
    }
    // A scan's partitions take files from one queue, not each its own group: a task is done
    // once every file of the scan is processed and it has finished the ones it opened.
    let all_processed = files.map(|files| {
        counts
            .iter()
            .map(|&(_, _, processed)| processed)
            .sum::<usize>()
            >= files.iter().sum()
    });
    for (task, &(ends, opened, processed)) in tasks.iter_mut().zip(&counts) {
        let done = match all_processed {
            Some(all) => all && processed >= opened,
            None => ends > 0,
        };
        if !done {
            task.end_ns = None;
        }
    }
    tasks.sort_by_key(|t| t.partition);
    let aggregated = metrics.aggregate_by_name();
    let sum = |name: &str| aggregated.sum_by_name(name).map(|v| v.as_usize());
    Some(OperatorMetrics {
        output_rows: metrics.output_rows().unwrap_or(0),
        // A file scan counts the time it decodes as processing, not as compute.
        elapsed_compute: Duration::from_nanos(
            metrics
                .elapsed_compute()
                .unwrap_or(0)
                .max(sum("time_elapsed_processing").unwrap_or(0)) as u64,
        ),
        spill_count: metrics.spill_count().unwrap_or(0),
        spilled_bytes: metrics.spilled_bytes().unwrap_or(0),
        peak_memory,
        bytes_scanned: sum("bytes_scanned"),
        all: aggregated
            .sorted_for_display()
            .timestamps_removed()
            .to_string(),
        tasks,
    })
}

/// A duration as a person reads it: `850 ns`, `1.2 ms`, `3.40 s`.
pub fn format_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    match nanos {
        0..=999 => format!("{nanos} ns"),
        1_000..=999_999 => format!("{:.1} µs", nanos as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.1} ms", nanos as f64 / 1e6),
        _ => format!("{:.2} s", nanos as f64 / 1e9),
    }
}

/// A byte count in binary units: `512 B`, `1.5 KiB`, `20.0 MiB`.
pub fn format_bytes(bytes: usize) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// From pale blue (no share of the compute time) to orange (all of it).
fn fill_rgba(heat: f64) -> u32 {
    let (cold, hot) = ([0xee, 0xf3, 0xfb], [0xfd, 0xae, 0x61]);
    let mix = |c: usize| (cold[c] as f64 + (hot[c] as f64 - cold[c] as f64) * heat).round() as u32;
    (mix(0) << 24) | (mix(1) << 16) | (mix(2) << 8) | 0xff
}

fn fill_color(heat: f64) -> String {
    format!("#{:06x}", fill_rgba(heat) >> 8)
}

fn escape_dot(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two aggregations of a GROUP BY share their consumers' names: the first registered of
    /// each partition is the deeper, partial one's.
    #[test]
    fn pool_peaks_go_to_their_operators() {
        let operator = |name: &str, mode: Option<&str>, inputs: Vec<usize>| Operator {
            name: name.to_string(),
            details: mode
                .map(|m| vec![("mode".to_string(), m.to_string())])
                .unwrap_or_default(),
            partitions: 2,
            inputs,
            metrics: Some(OperatorMetrics::default()),
        };
        let mut graph = TaskGraph {
            operators: vec![
                operator("SortExec", None, vec![1]),
                operator("AggregateExec", Some("FinalPartitioned"), vec![2]),
                operator("RepartitionExec", None, vec![3]),
                operator("AggregateExec", Some("Partial"), vec![]),
            ],
        };
        let consumers: Vec<(String, usize)> = [
            ("GroupedHashAggregateStream[0] (count(1))", 10),
            ("GroupedHashAggregateStream[1] (count(1))", 20),
            ("RepartitionExec[0]", 5),
            ("GroupedHashAggregateStream[0] (count(1))", 300),
            ("GroupedHashAggregateStream[1] (count(1))", 400),
            ("ExternalSorter[0]", 1000),
            ("ExternalSorterMerge[0]", 50),
            ("SomethingElse[0]", 7),
        ]
        .map(|(name, peak)| (name.to_string(), peak))
        .to_vec();
        graph.attribute_pool_peaks(&consumers);
        let peaks: Vec<Option<usize>> = graph
            .operators
            .iter()
            .map(|o| o.metrics.as_ref().unwrap().peak_memory)
            .collect();
        assert_eq!(peaks, [Some(1050), Some(700), Some(5), Some(30)]);
    }

    #[test]
    fn activity_is_the_stretches_where_compute_grew() {
        let mut activity = Activity::default();
        // Operator 0 works in the first and third tenths, operator 1 throughout.
        activity.sample(100.0, &[(0, 0, 5), (1, 0, 10)]);
        activity.sample(200.0, &[(0, 0, 5), (1, 0, 20)]);
        activity.sample(300.0, &[(0, 0, 9), (1, 0, 30)]);
        assert_eq!(
            activity.busy(),
            [(0, 0, 0.0, 100.0), (1, 0, 0.0, 300.0), (0, 0, 200.0, 300.0)]
        );
    }

    /// The numbering of `task_compute` is the graph's.
    #[test]
    fn task_compute_numbers_operators_as_the_graph_does() {
        use datafusion::physical_plan::empty::EmptyExec;
        use datafusion::physical_plan::union::UnionExec;
        let schema = Arc::new(datafusion::arrow::datatypes::Schema::empty());
        let leaf = || Arc::new(EmptyExec::new(Arc::clone(&schema))) as Arc<dyn ExecutionPlan>;
        let plan: Arc<dyn ExecutionPlan> = UnionExec::try_new(vec![leaf(), leaf()]).unwrap();
        let graph = TaskGraph::new(&plan);
        assert_eq!(graph.operators.len(), 3);
        assert_eq!(graph.operators[0].inputs, [1, 2]);
        // Nothing has run: no times, but no operator numbered differently either.
        assert!(task_compute(&plan).is_empty());
    }

    /// A file scan's partition that has read the first of its two files: started at the first
    /// file's start, and still running though that file's reader ended.
    #[test]
    fn a_scan_task_ends_with_its_last_file() {
        use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricBuilder};
        let set = ExecutionPlanMetricsSet::new();
        let file = |set: &ExecutionPlanMetricsSet| {
            let start = MetricBuilder::new(set).start_timestamp(0);
            start.record();
            std::thread::sleep(Duration::from_millis(2));
            MetricBuilder::new(set).end_timestamp(0).record();
            start.value().and_then(|t| t.timestamp_nanos_opt()).unwrap()
        };
        let opened = MetricBuilder::new(&set).counter("files_opened", 0);
        let processed = MetricBuilder::new(&set).counter("files_processed", 0);
        opened.add(1);
        let first_start = file(&set);
        processed.add(1);
        let running = operator_metrics(&set.clone_inner(), Some(&[2])).unwrap();
        assert_eq!(running.tasks[0].start_ns, Some(first_start));
        assert_eq!(running.tasks[0].end_ns, None, "one of two files read");
        opened.add(1);
        file(&set);
        processed.add(1);
        let done = operator_metrics(&set.clone_inner(), Some(&[2])).unwrap();
        assert_eq!(done.tasks[0].start_ns, Some(first_start));
        assert!(done.tasks[0].end_ns.unwrap() > first_start + 2_000_000);
        // Other operators end when every stream they started has ended.
        assert!(operator_metrics(&set.clone_inner(), None).unwrap().tasks[0]
            .end_ns
            .is_some());
    }

    #[test]
    fn durations_and_sizes_read_naturally() {
        assert_eq!(format_duration(Duration::from_nanos(850)), "850 ns");
        assert_eq!(format_duration(Duration::from_micros(1500)), "1.5 ms");
        assert_eq!(format_duration(Duration::from_millis(3400)), "3.40 s");
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(20 << 20), "20.0 MiB");
    }

    #[test]
    fn colours_run_from_cold_to_hot() {
        assert_eq!(fill_color(0.0), "#eef3fb");
        assert_eq!(fill_color(1.0), "#fdae61");
    }

    #[test]
    fn quotes_in_labels_are_escaped() {
        assert_eq!(escape_dot(r#"a "b" \c"#), r#"a \"b\" \\c"#);
    }
}
