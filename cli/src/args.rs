//! Command-line flags.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  # SQL straight over files: globs, directories, any of csv / parquet / json
  query \"SELECT category, avg(value), count(*) FROM 'data_part_*.csv' GROUP BY 1 ORDER BY 1\"
  query \"SELECT * FROM 'logs/**/*.parquet' WHERE status >= 500 LIMIT 10\"
  query \"SELECT count(*) FROM 'events.ndjson.gz'\"

  # The built-in dataset (dask.datasets.timeseries): no files needed
  query \"SELECT name, max(x), avg(y) FROM timeseries() GROUP BY name ORDER BY name\"
  query \"SELECT count(*) FROM timeseries('2000-01-01', '2000-03-01', '1s')\"

  # Reader options and named tables
  query \"SELECT * FROM read_csv('export.txt', delimiter => ';', header => false, nulls => 'NA')\"
  query --table trips=data/trips/ \"SELECT count(*) FROM trips\"

  # Formats and output files
  query --format markdown \"SELECT * FROM 'small.csv'\"
  query -o summary.parquet \"SELECT category, sum(value) FROM 'data_part_*.csv' GROUP BY 1\"

  # Big work under a memory limit: sorts, aggregations and joins spill to disk
  query --memory-limit 2GB --spill-dir /mnt/scratch \"SELECT k, count(*) FROM 'big_*.parquet' GROUP BY k\"

  # See the work: the task graph, a performance report, the live dashboard
  query --graph plan.svg \"SELECT name, avg(x) FROM timeseries() GROUP BY name\"
  query --report report.html \"SELECT name, avg(x) FROM timeseries() GROUP BY name\"
  query --dashboard      # the shell, with the dashboard on http://127.0.0.1:8787/

  # Scripts: statements separated by ';'
  query -f setup.sql -f report.sql
  cat report.sql | query --format csv

  # A Ballista cluster: a scheduler, workers on every machine, queries from anywhere
  query scheduler --bind 0.0.0.0:50050
  query worker --scheduler 10.0.0.5:50050 --slots 8 --memory-limit 16GB
  query --cluster df://10.0.0.5:50050 \"SELECT count(*) FROM '/shared/data_part_*.csv'\"
  query cluster-info --cluster df://10.0.0.5:50050
  query --workers 2 \"SELECT name, avg(x) FROM timeseries() GROUP BY name\"   # a local cluster";

/// Run SQL straight over CSV, Parquet and NDJSON files and globs, on every core.
#[derive(Debug, Parser)]
#[command(name = "query", version, about, after_help = EXAMPLES, args_conflicts_with_subcommands = true, subcommand_precedence_over_arg = true)]
pub struct Args {
    /// Cluster processes and their information, instead of running SQL here.
    #[command(subcommand)]
    pub command: Option<ClusterCommand>,

    /// SQL to run: one or more statements separated by ';'. Without it (and without -f),
    /// statements are read from standard input.
    pub sql: Option<String>,

    /// Open the interactive SQL shell (after any -f scripts and SQL); it opens by itself
    /// when no SQL is given on a terminal.
    #[arg(short, long)]
    pub interactive: bool,

    /// Run the statements in FILE (repeatable; files run in order, before SQL). Scripts may
    /// hold the shell's dot commands on lines of their own between statements.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Keep the views, external tables and settings statements define in FILE, and define
    /// those it keeps first (created by the first definition; the data stays in its files).
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,

    /// Register the files at PATH (file, directory or glob) as table NAME (repeatable).
    #[arg(long = "table", value_name = "NAME=PATH", value_parser = parse_table)]
    pub tables: Vec<(String, String)>,

    /// How results are printed.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Rows shown by the table and markdown formats; the footer tells how many were left out
    /// ('inf' or 0 for all).
    #[arg(long, value_name = "N", default_value = "40", value_parser = parse_maxrows)]
    pub maxrows: usize,

    /// Text columns the table format may take; wider results have long cells cut and middle
    /// columns left out ('inf' or 0 for no limit) [default: the terminal's width, no limit
    /// when output is not a terminal].
    #[arg(long, value_name = "N", value_parser = parse_maxwidth)]
    pub maxwidth: Option<usize>,

    /// Draw tables with ASCII characters instead of box drawing (the default in a locale
    /// that is not UTF-8).
    #[arg(long)]
    pub ascii: bool,

    /// Write the last statement's result to FILE instead of printing it; the format follows
    /// the extension: .csv, .tsv, .json, .ndjson, .parquet, .arrow (the text formats
    /// compressed with a further .gz, .zst, .bz2 or .xz). Written atomically.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Draw the last statement's task graph to FILE once it has run, each operator with its
    /// tasks (one per partition), rows, compute time and spill: .svg or .dot (drawn
    /// in-process) or .png (needs Graphviz's `dot`). Written atomically.
    #[arg(long, value_name = "FILE")]
    pub graph: Option<PathBuf>,

    /// Write a performance report of the last statement to FILE: one self-contained HTML page
    /// with the query, its task graph, per-operator metrics, the task stream, memory, spill
    /// and files read. Written atomically.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Serve the live dashboard while queries run, on 127.0.0.1:8787 (or a free port if that
    /// one is taken); --dashboard=ADDR serves on ADDR (HOST:PORT or PORT) instead.
    #[arg(
        long,
        value_name = "ADDR",
        num_args = 0..=1,
        require_equals = true,
        value_parser = parse_address
    )]
    pub dashboard: Option<Option<SocketAddr>>,

    /// Never draw the progress bar (drawn on a terminal for queries longer than 0.5 s).
    #[arg(long)]
    pub no_progress: bool,

    /// Print each statement's elapsed time on stderr.
    #[arg(long)]
    pub timing: bool,

    /// Print results only: no row counts, timings or notices.
    #[arg(short, long)]
    pub quiet: bool,

    /// Partitions (threads) queries run in [default: all cores].
    #[arg(long, value_name = "N", env = "RASK_PARTITIONS", allow_negative_numbers = true, value_parser = parse_partitions)]
    pub partitions: Option<usize>,

    /// Memory that sorts, aggregations and joins may hold, e.g. 512MB, 2GB, 1GiB; beyond it
    /// they spill to disk [default: no limit].
    #[arg(long, value_name = "SIZE", env = "RASK_MEMORY_LIMIT", value_parser = parse_size)]
    pub memory_limit: Option<usize>,

    /// Read CSV and JSON files afresh for every statement, instead of serving files read
    /// again, unchanged, from the batches kept decoded in memory (`.cache` in the shell).
    #[arg(long)]
    pub no_cache: bool,

    /// Directory for spill files [default: the system temporary directory].
    #[arg(long, value_name = "DIR", env = "RASK_SPILL_DIR")]
    pub spill_dir: Option<PathBuf>,

    /// Rows per record batch.
    #[arg(long, value_name = "ROWS", env = "RASK_BATCH_SIZE", allow_negative_numbers = true, value_parser = parse_batch_size)]
    pub batch_size: Option<usize>,

    /// Run the queries on the Ballista cluster whose scheduler is at df://HOST:PORT (its
    /// workers must see the same file paths).
    #[arg(
        long,
        value_name = "df://HOST:PORT",
        env = "RASK_CLUSTER",
        conflicts_with = "workers",
        value_parser = parse_scheduler
    )]
    pub cluster: Option<String>,

    /// Run the queries on a cluster of N worker processes started on this machine for the
    /// duration of the command; each runs cores / N tasks at once, under --memory-limit.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_workers)]
    pub workers: Option<usize>,
}

/// The cluster subcommands.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Run a Ballista scheduler until Ctrl-C or SIGTERM.
    Scheduler {
        /// Address to listen on; port 0 picks a free one (printed at start).
        #[arg(long, value_name = "HOST:PORT", default_value = "0.0.0.0:50050")]
        bind: std::net::SocketAddr,
    },
    /// Run a worker for the scheduler at HOST:PORT until Ctrl-C or SIGTERM.
    Worker {
        /// The scheduler, HOST:PORT or df://HOST:PORT.
        #[arg(long, value_name = "HOST:PORT", value_parser = parse_scheduler)]
        scheduler: String,
        /// Tasks run at once [default: all cores].
        #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_partitions)]
        slots: Option<usize>,
        /// Memory all tasks together may hold, e.g. 4GB; beyond it they spill
        /// [default: a share of the machine's memory].
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        memory_limit: Option<usize>,
        /// Directory for shuffle and spill files [default: a temporary directory].
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
        /// Address to serve results on, reachable from the other workers and the clients;
        /// port 0 picks a free one.
        #[arg(long, value_name = "HOST:PORT", default_value = "0.0.0.0:0")]
        bind: std::net::SocketAddr,
        /// Stop when the process that started this one ends (used by --workers).
        #[arg(long, hide = true)]
        exit_with_parent: bool,
    },
    /// List the workers of a cluster: their slots and memory.
    ClusterInfo {
        /// The scheduler.
        #[arg(long, value_name = "df://HOST:PORT", env = "RASK_CLUSTER", value_parser = parse_scheduler)]
        cluster: String,
    },
}

/// Output formats for printed results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// An aligned ASCII table.
    Table,
    /// Comma-separated values with a header.
    Csv,
    /// Tab-separated values with a header.
    Tsv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// A Markdown table.
    Markdown,
}

fn parse_table(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => {
            Ok((name.to_string(), path.to_string()))
        }
        _ => Err(format!("expected NAME=PATH, got '{text}'")),
    }
}

/// A number of rows, `inf` or `0` for all of them: `--maxrows` and the shell's `.maxrows`.
pub fn parse_maxrows(text: &str) -> Result<usize, String> {
    parse_limit(text, "rows")
}

/// A table width, `inf` or `0` for no limit: `--maxwidth` and the shell's `.maxwidth`.
pub fn parse_maxwidth(text: &str) -> Result<usize, String> {
    parse_limit(text, "columns")
}

fn parse_limit(text: &str, unit: &str) -> Result<usize, String> {
    match text {
        "inf" | "0" => Ok(usize::MAX),
        _ => text
            .parse()
            .map_err(|_| format!("expected a number of {unit} or 'inf', got '{text}'")),
    }
}

/// The most worker processes `--workers` starts on one machine.
const MAX_LOCAL_WORKERS: usize = 64;

fn parse_partitions(text: &str) -> Result<usize, String> {
    parse_count(text, rask::MAX_PARTITIONS)
}

fn parse_batch_size(text: &str) -> Result<usize, String> {
    parse_count(text, rask::MAX_BATCH_SIZE)
}

fn parse_workers(text: &str) -> Result<usize, String> {
    parse_count(text, MAX_LOCAL_WORKERS)
}

/// A whole number from 1 to `max`.
fn parse_count(text: &str, max: usize) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number from 1 to {max}")),
    }
}

fn parse_scheduler(text: &str) -> Result<String, String> {
    rask::cluster::scheduler_address(text)
        .map(|_| text.to_string())
        .map_err(|e| e.message().to_string())
}

fn parse_size(text: &str) -> Result<usize, String> {
    rask::parse_size(text).map_err(|e| e.to_string())
}

/// `HOST:PORT` or a bare port (on loopback); `localhost` means 127.0.0.1.
fn parse_address(text: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    text.replace("localhost:", "127.0.0.1:")
        .parse()
        .map_err(|_| format!("expected HOST:PORT or PORT (e.g. 127.0.0.1:8787), got '{text}'"))
}
