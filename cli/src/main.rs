//! `query`: SQL straight over CSV / Parquet / NDJSON files and globs.

mod args;
mod cluster;
mod command;
mod db;
mod exit;
mod interrupt;
mod output;
mod progress;
mod repl;
mod runner;
mod table;
mod terminal;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use rask::dashboard::Dashboard;
use rask::report::{check_graph_path, check_report_path};
use rask::sink::check_output_path;
use rask::{Result, Session};

use crate::args::Args;
use crate::exit::usage;
use crate::runner::{LastStatement, Runner, Script, Settings};
use crate::table::TableStyle;

fn main() -> ExitCode {
    // Scripts read one another (`.read`) up to 16 deep, and each level polls a few futures
    // whose frames a debug build makes hundreds of KB: the main thread's 8 MiB are too few.
    // The runtime's threads have a stack reserved, and backed only as far as it is used,
    // for the same reason.
    let command = std::thread::Builder::new()
        .name("main".to_string())
        .stack_size(rask::stack::WORKER_STACK)
        .spawn(command);
    match command.map(std::thread::JoinHandle::join) {
        Ok(Ok(code)) => code,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(e) => exit::fail(&rask::Error::execution(format!("cannot start: {e}"))),
    }
}

/// Runs the command line: a query, a script, the shell or a cluster process.
fn command() -> ExitCode {
    let runtime = match rask::stack::runtime() {
        Ok(runtime) => runtime,
        Err(e) => return exit::fail(&e),
    };
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(refused) => return exit::refused_arguments(&refused),
    };
    let outcome = match &args.command {
        // Servers handle Ctrl-C and SIGTERM themselves, to shut down cleanly.
        Some(command) => runtime.block_on(cluster::run(command)),
        None => run(&runtime, &args),
    };
    // Queries still winding down after a cancel must not hold the exit, nor keep their
    // spill and temporary files.
    runtime.shutdown_background();
    rask::scratch::remove_all();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => exit::fail(&error),
    }
}

/// Runs the statements the command line gives, then the shell when it is wanted.
fn run(runtime: &tokio::runtime::Runtime, args: &Args) -> Result<()> {
    let interactive = args.interactive
        || (args.sql.is_none() && args.files.is_empty() && std::io::stdin().is_terminal());
    runtime.block_on(async { interrupt::listen(interactive) })?;
    rask::panics::report_panics_as_errors();
    let since = interrupt::mark();
    let (mut runner, scripts, dashboard) = runtime.block_on(async {
        tokio::select! {
            biased;
            cancelled = interrupt::after(since) => Err(cancelled),
            prepared = prepare(args, interactive) => prepared,
        }
    })?;
    if !scripts.is_empty() {
        let statements = runner.parse(&scripts)?;
        if statements.is_empty() {
            return Err(usage("no SQL statement given"));
        }
        if statements.len() == 1 && !interactive {
            // Nothing reads the files again: keeping them decoded would only hold memory.
            if let Some(cache) = runner.session().file_cache() {
                cache.set_enabled(false);
            }
        }
        let last = LastStatement {
            output: args.output.clone(),
            graph: args.graph.clone(),
            report: args.report.clone(),
        };
        runtime.block_on(runner.run(statements, &last))?;
    }
    if interactive {
        repl::run(runtime, runner, dashboard.as_ref())?;
    }
    Ok(())
}

/// Checks the destinations, builds the session, starts the dashboard if asked, registers
/// `--table`s and reads the scripts to run (none is fine when the shell follows).
async fn prepare(
    args: &Args,
    interactive: bool,
) -> Result<(Runner, Vec<Script>, Option<Dashboard>)> {
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
    let scripts = scripts(args, interactive)?;
    let settings = Settings {
        format: args.format,
        maxrows: args.maxrows,
        timer: args.timing,
        progress: progress::wanted(args.no_progress),
        quiet: args.quiet,
        output: None,
        style: TableStyle {
            max_width: args.maxwidth,
            ..TableStyle::for_locale(args.ascii)
        },
        pager: false,
        once: None,
        keep_last: false,
        prompt: "rask> ".to_string(),
        continuation: " ...> ".to_string(),
    };
    let mut runner = Runner::new(session, settings);
    if let Some(path) = &args.db {
        runner.open_db(path).await?;
    }
    Ok((runner, scripts, dashboard))
}

async fn build_session(args: &Args) -> Result<Session> {
    let mut builder = Session::builder();
    if let Some(partitions) = args.partitions {
        builder = builder.partitions(partitions);
    }
    if let Some(limit) = args.memory_limit {
        builder = builder.memory_limit(limit);
    }
    builder = builder.file_cache(!args.no_cache);
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
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let threads = (cores / workers).max(1);
        let memory = args.memory_limit.map(|m| m as u64);
        return builder.local_cluster(workers, threads, memory).await;
    }
    // Settings the builder refuses (`--partitions 0`, a missing `--spill-dir`) are bad
    // flag values.
    builder.build().map_err(usage)
}

/// The scripts to run: `-f` files in order, then the query argument, or standard input
/// when neither is given and the shell is not wanted.
fn scripts(args: &Args, interactive: bool) -> Result<Vec<Script>> {
    let mut scripts = args
        .files
        .iter()
        .map(|file| Script::read(file))
        .collect::<Result<Vec<_>>>()?;
    if let Some(sql) = &args.sql {
        scripts.push(Script::typed(sql.clone()));
    }
    if scripts.is_empty() && !interactive {
        scripts.push(Script::stdin()?);
    }
    Ok(scripts)
}
