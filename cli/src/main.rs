//! `query`: SQL straight over CSV / Parquet / NDJSON files and globs.

mod args;
mod cluster;
mod output;
mod progress;
mod repl;

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use rask::dashboard::Dashboard;
use rask::report::{check_graph_path, check_report_path, write_report};
use rask::sink::{check_output_path, write_file};
use rask::{Error, ErrorKind, Result, Session, Statement};

use crate::args::Args;

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return report(&Error::execution(format!("cannot start: {e}"))),
    };
    if let Some(command) = &args.command {
        // Servers handle Ctrl-C and SIGTERM themselves, to shut down cleanly.
        let outcome = runtime.block_on(cluster::run(command));
        runtime.shutdown_background();
        return match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => report(&error),
        };
    }
    let interactive = args.interactive
        || (args.sql.is_none() && args.files.is_empty() && std::io::stdin().is_terminal());
    let outcome = runtime.block_on(async {
        tokio::select! {
            outcome = prepare_and_run(&args, interactive) => outcome,
            _ = tokio::signal::ctrl_c() => Err(Error::cancelled("cancelled")),
        }
    });
    let outcome = match outcome {
        Ok((session, dashboard)) if interactive => {
            repl::run(&runtime, &session, &args, dashboard.as_ref())
        }
        Ok(_) => Ok(()),
        Err(error) => Err(error),
    };
    // Queries still winding down after a cancel must not hold the exit.
    runtime.shutdown_background();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => report(&error),
    }
}

/// Builds the session, starts the dashboard if asked, and runs the statements given on the
/// command line (none is fine when a REPL follows).
async fn prepare_and_run(args: &Args, interactive: bool) -> Result<(Session, Option<Dashboard>)> {
    if let Some(path) = &args.output {
        check_output_path(path)?;
    }
    if let Some(path) = &args.graph {
        check_graph_path(path)?;
    }
    if let Some(path) = &args.report {
        check_report_path(path)?;
    }
    let session = build_session(args).await?;
    let dashboard = match args.dashboard {
        Some(address) => {
            let dashboard = Dashboard::start(&session, address)?;
            if let Some(notice) = dashboard.notice() {
                eprintln!("{notice}");
            }
            if !interactive {
                eprintln!("dashboard: {}", dashboard.url());
            }
            Some(dashboard)
        }
        None => None,
    };
    for (name, path) in &args.tables {
        session.register_files(name, path).await?;
    }
    let sources = sources(args, interactive)?;
    if !sources.is_empty() {
        run(args, &session, sources).await?;
    }
    Ok((session, dashboard))
}

/// Prints the error as `error: ..` (and `hint: ..`) and picks the exit code: 2 for usage
/// errors, 130 for Ctrl-C, 1 otherwise.
fn report(error: &Error) -> ExitCode {
    if error.kind() == ErrorKind::Output && error.message().contains("Broken pipe") {
        // The reader of our output went away (`query .. | head`): nothing left to say.
        return ExitCode::SUCCESS;
    }
    eprintln!("error: {error}");
    if let Some(hint) = error.hint() {
        eprintln!("hint: {hint}");
    }
    match error.kind() {
        ErrorKind::Cancelled => ExitCode::from(130),
        _ if error.message().starts_with("usage: ") => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    }
}

fn usage(message: impl std::fmt::Display) -> Error {
    Error::plan(format!("usage: {message}"))
}

async fn build_session(args: &Args) -> Result<Session> {
    let mut builder = Session::builder();
    if let Some(partitions) = args.partitions {
        builder = builder.partitions(partitions);
    }
    if let Some(limit) = args.memory_limit {
        builder = builder.memory_limit(limit);
    }
    if let Some(dir) = &args.spill_dir {
        builder = builder.spill_dir(dir);
    }
    if let Some(rows) = args.batch_size {
        builder = builder.batch_size(rows);
    }
    if let Some(url) = &args.cluster {
        return builder.connect(url).await;
    }
    if let Some(workers) = args.workers {
        if workers == 0 {
            return Err(usage("--workers must be at least 1"));
        }
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let threads = (cores / workers).max(1);
        let memory = args.memory_limit.map(|m| m as u64);
        return builder.local_cluster(workers, threads, memory).await;
    }
    builder.build().map_err(usage)
}

/// The SQL to run, each text labelled with where it came from: `-f` files in order, then the
/// query argument, or standard input when neither is given.
fn sources(args: &Args, interactive: bool) -> Result<Vec<(String, String)>> {
    let mut sources = Vec::new();
    for file in &args.files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| Error::input(format!("cannot read script '{}': {e}", file.display())))?;
        sources.push((file.display().to_string(), text));
    }
    if let Some(sql) = &args.sql {
        sources.push(("query".to_string(), sql.clone()));
    }
    if sources.is_empty() && !interactive {
        let mut stdin = std::io::stdin();
        if stdin.is_terminal() {
            return Err(usage("no SQL given: pass a query, -f FILE, or pipe statements on standard input (see --help)"));
        }
        let mut text = String::new();
        stdin
            .read_to_string(&mut text)
            .map_err(|e| Error::input(format!("cannot read standard input: {e}")))?;
        sources.push(("standard input".to_string(), text));
    }
    Ok(sources)
}

async fn run(args: &Args, session: &Session, sources: Vec<(String, String)>) -> Result<()> {
    let mut statements: Vec<Statement> = Vec::new();
    for (label, sql) in sources {
        let parsed = session.parse(&sql).map_err(|e| match label.as_str() {
            "query" => e,
            _ => e.context(&label),
        })?;
        statements.extend(parsed);
    }
    if statements.is_empty() {
        return Err(usage("no SQL statement given"));
    }
    let last = statements.len() - 1;
    let mut out = std::io::BufWriter::new(std::io::stdout());
    let mut printed_before = false;
    for (index, statement) in statements.into_iter().enumerate() {
        let started = Instant::now();
        let frame = session.execute(statement).await?;
        let query = match &args.output {
            Some(path) if index == last => {
                let stream = frame.execute_stream().await?;
                let query = Some(std::sync::Arc::clone(stream.query()));
                let rows = write_file(stream, path).await?;
                if !args.quiet {
                    eprintln!("wrote {rows} row(s) to {}", path.display());
                }
                query
            }
            _ if frame.schema().fields().is_empty() => output::drain(frame).await?,
            _ => {
                if printed_before
                    && matches!(args.format, args::Format::Table | args::Format::Markdown)
                {
                    writeln!(out)?;
                }
                let query = output::print_frame(
                    frame,
                    args.format,
                    args.maxrows,
                    progress::wanted(args.no_progress),
                    &mut out,
                )
                .await?;
                out.flush()?;
                printed_before = true;
                query
            }
        };
        if let (true, Some(query)) = (index == last, query) {
            if let Some(path) = &args.graph {
                output::write_graph(&query.graph(), path, args.quiet)?;
            }
            if let Some(path) = &args.report {
                write_report(&query, path)?;
                if !args.quiet {
                    eprintln!("wrote performance report to {}", path.display());
                }
            }
        }
        if args.timing {
            eprintln!("elapsed: {:.3} s", started.elapsed().as_secs_f64());
        }
    }
    out.flush()?;
    Ok(())
}
