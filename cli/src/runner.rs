//! The statement runner. SQL given on the command line, in `-f` scripts, on standard input,
//! typed in the shell or read there with `.read` all run here, so a statement prints, writes
//! and fails the same way wherever it came from.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rask::sink::write_file;
use rask::{Error, Query, Result, Session, Statement};

use crate::args::Format;
use crate::db::{self, Db};
use crate::exit::usage;
use crate::interrupt;
use crate::output;
use crate::table::TableStyle;

/// SQL text to run, with the name its syntax errors are reported under.
pub struct Script {
    /// `None` for SQL the user typed, whose errors need no name.
    label: Option<String>,
    text: String,
}

impl Script {
    /// SQL typed by the user: the command line's argument or a line of the shell.
    pub fn typed(text: impl Into<String>) -> Script {
        Script {
            label: None,
            text: text.into(),
        }
    }

    /// The statements in the file at `path` (`-f`, `.read`).
    pub fn read(path: &Path) -> Result<Script> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::input(format!("cannot read script '{}': {e}", path.display())))?;
        Ok(Script {
            label: Some(path.display().to_string()),
            text,
        })
    }

    /// The statements piped on standard input; a terminal there means the user forgot them.
    pub fn stdin() -> Result<Script> {
        let mut stdin = std::io::stdin();
        if stdin.is_terminal() {
            return Err(usage(
                "no SQL given: pass a query, -f FILE, or pipe statements on standard input (see --help)",
            ));
        }
        let mut text = String::new();
        stdin
            .read_to_string(&mut text)
            .map_err(|e| Error::input(format!("cannot read standard input: {e}")))?;
        Ok(Script {
            label: Some("standard input".to_string()),
            text,
        })
    }
}

/// How statements print; the shell's dot commands change these between statements.
pub struct Settings {
    pub format: Format,
    /// Rows shown by the table formats.
    pub maxrows: usize,
    /// Print each statement's elapsed time on stderr (`--timing`, `.timer`).
    pub timer: bool,
    /// Draw a progress bar for long statements.
    pub progress: bool,
    /// No notices about the files written (`-q`).
    pub quiet: bool,
    /// Where results print instead of standard output (`.output FILE`).
    pub output: Option<File>,
    /// How the table format draws.
    pub style: TableStyle,
    /// Show tables taller than the terminal in the pager (the shell, `.pager`).
    pub pager: bool,
    /// Where the next result prints instead (`.once FILE`).
    pub once: Option<File>,
    /// Keep each result printed for `.last` (the shell).
    pub keep_last: bool,
    /// The shell's prompts: for a statement, and for its lines after the first.
    pub prompt: String,
    pub continuation: String,
}

impl Settings {
    /// How results print now: to a file, tables are never cut to the terminal nor paged.
    fn view(&self, to_file: bool) -> output::View<'_> {
        output::View {
            format: self.format,
            maxrows: self.maxrows,
            style: &self.style,
            width: match self.style.max_width {
                Some(width) => width,
                None if to_file => usize::MAX,
                None => crate::terminal::width(),
            },
            pager: self.pager && !to_file,
            keep: self.keep_last,
        }
    }
}

/// What becomes of the last statement of a run besides printing: the command line's `-o`,
/// `--graph` and `--report`.
pub struct LastStatement {
    /// Write its result here instead of printing it.
    pub output: Option<PathBuf>,
    /// Draw its task graph here once it has run.
    pub graph: Option<PathBuf>,
    /// Write its performance report here once it has run.
    pub report: Option<PathBuf>,
}

impl LastStatement {
    /// Every statement but the last of a run, and every statement of the shell, only prints.
    const PRINT_ONLY: LastStatement = LastStatement {
        output: None,
        graph: None,
        report: None,
    };
}

/// A statement, its text as written and the text of the script it is part of (where the
/// positions of its errors point).
pub struct Step {
    statement: Statement,
    text: String,
    script: Arc<str>,
}

/// Runs statements through one session with the current [`Settings`].
pub struct Runner {
    session: Session,
    pub settings: Settings,
    /// The catalog definitions are kept in (`--db`, `.open`).
    db: Option<Db>,
    /// The last result printed, for `.last` (kept in the shell only).
    last_result: Option<output::Kept>,
}

impl Runner {
    pub fn new(session: Session, settings: Settings) -> Runner {
        Runner {
            session,
            settings,
            db: None,
            last_result: None,
        }
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Keeps the session's definitions in the catalog at `path` from now on, after defining
    /// what it already keeps; the tables of the catalog used before leave the session.
    pub async fn open_db(&mut self, path: &Path) -> Result<()> {
        if self.db_path() == Some(path) {
            return Ok(());
        }
        let db = Db::open(path, &self.session).await?;
        if let Some(previous) = self.db.replace(db) {
            let kept: Vec<String> = self
                .db
                .iter()
                .flat_map(Db::tables)
                .map(str::to_string)
                .collect();
            for table in previous.tables().filter(|t| !kept.iter().any(|k| k == t)) {
                self.session.context().deregister_table(table)?;
            }
        }
        Ok(())
    }

    /// The catalog in use, if any.
    pub fn db_path(&self) -> Option<&Path> {
        self.db.as_ref().map(Db::path)
    }

    /// Splits `scripts` into statements, all before any runs, so that a syntax error
    /// anywhere runs nothing; a script's errors name it.
    pub fn parse(&self, scripts: &[Script]) -> Result<Vec<Step>> {
        let mut steps = Vec::new();
        for script in scripts {
            let parsed = self.session.parse_with_text(&script.text).map_err(|e| {
                let e = e.with_excerpt_of(&script.text);
                match &script.label {
                    Some(label) => e.context(label),
                    None => e,
                }
            })?;
            let whole: Arc<str> = Arc::from(script.text.as_str());
            steps.extend(parsed.into_iter().map(|(statement, text)| Step {
                statement,
                text,
                script: Arc::clone(&whole),
            }));
        }
        Ok(steps)
    }

    /// Parses and runs one script whose last statement only prints, as the shell does.
    pub async fn run_script(&mut self, script: Script) -> Result<()> {
        let steps = self.parse(&[script])?;
        self.run(steps, &LastStatement::PRINT_ONLY).await
    }

    /// Where results print: `.once`'s file (taken), `.output`'s, or standard output.
    fn destination(&mut self) -> Result<Box<dyn Write + Send>> {
        Ok(match (self.settings.once.take(), &self.settings.output) {
            (Some(file), _) => Box::new(file),
            (None, Some(file)) => Box::new(file.try_clone()?),
            (None, None) => Box::new(std::io::stdout()),
        })
    }

    /// Runs `steps` in order, printing each result (a blank line between the tables of
    /// one run), and stops at the first failure. A signal (Ctrl-C, SIGTERM) cancels the
    /// statement running and ends the run with [`rask::ErrorKind::Cancelled`]; a panic ends
    /// the statement with an internal error.
    pub async fn run(&mut self, steps: Vec<Step>, last: &LastStatement) -> Result<()> {
        let to_file = self.settings.once.is_some() || self.settings.output.is_some();
        let mut out = BufWriter::new(self.destination()?);
        let mut printed_before = false;
        let final_index = steps.len().saturating_sub(1);
        let since = interrupt::mark();
        for (index, step) in steps.into_iter().enumerate() {
            let after = if index == final_index {
                last
            } else {
                &LastStatement::PRINT_ONLY
            };
            let started = Instant::now();
            let script = Arc::clone(&step.script);
            let ran = rask::panics::contain_async(self.run_one(
                step,
                after,
                &mut out,
                &mut printed_before,
                to_file,
            ));
            tokio::select! {
                // A cancel seen together with the end of a write wins: the write is dropped
                // before its rename.
                biased;
                cancelled = interrupt::after(since) => return Err(cancelled),
                ran = ran => ran.map_err(|e| e.with_excerpt_of(&script))?,
            }
            if self.settings.timer {
                eprintln!("elapsed: {:.3} s", started.elapsed().as_secs_f64());
            }
        }
        out.flush()?;
        Ok(())
    }

    async fn run_one(
        &mut self,
        Step {
            statement, text, ..
        }: Step,
        last: &LastStatement,
        out: &mut (impl Write + Send),
        printed_before: &mut bool,
        to_file: bool,
    ) -> Result<()> {
        let change = self.db.as_ref().and(db::change(&statement));
        let frame = self.session.execute(statement).await?;
        let query = match &last.output {
            Some(path) => self.write(frame, path).await?,
            None if frame.schema().fields().is_empty() => output::drain(frame).await?,
            None => {
                let settings = &self.settings;
                if *printed_before && matches!(settings.format, Format::Table | Format::Markdown) {
                    writeln!(out)?;
                }
                let view = settings.view(to_file);
                let (query, kept) =
                    output::print_frame(frame, &view, settings.progress, out).await?;
                out.flush()?;
                *printed_before = true;
                if kept.is_some() {
                    self.last_result = kept;
                }
                query
            }
        };
        if let (Some(db), Some(change)) = (&mut self.db, change) {
            db.record(change, &text)?;
        }
        self.write_graph_and_report(&query, last)
    }

    /// Prints `frame` as a statement's result prints.
    pub async fn show(&mut self, frame: rask::DataFrame) -> Result<()> {
        let to_file = self.settings.once.is_some() || self.settings.output.is_some();
        let mut out = BufWriter::new(self.destination()?);
        let view = self.settings.view(to_file);
        let (_, kept) = output::print_frame(frame, &view, false, &mut out).await?;
        out.flush()?;
        if kept.is_some() {
            self.last_result = kept;
        }
        Ok(())
    }

    /// Prints the last result again, every row and column of it.
    pub async fn print_last(&mut self) -> Result<()> {
        let kept = self.last_result.as_ref().ok_or_else(|| {
            Error::plan("no result yet: .last shows the last result printed again")
        })?;
        let batches = kept.batches()?;
        let style = TableStyle {
            max_width: Some(usize::MAX),
            ..self.settings.style.clone()
        };
        let to_file = self.settings.once.is_some() || self.settings.output.is_some();
        let view = output::View {
            maxrows: usize::MAX,
            style: &style,
            keep: false,
            ..self.settings.view(to_file)
        };
        let mut out = BufWriter::new(self.destination()?);
        output::print(batches, &view, &mut out, None).await?;
        out.flush()?;
        Ok(())
    }

    /// Writes the result of `frame` to the file at `path`; returns the query as run.
    async fn write(&self, frame: rask::DataFrame, path: &Path) -> Result<Arc<Query>> {
        let stream = frame.execute_stream().await?;
        let query = Arc::clone(stream.query());
        let rows = write_file(stream, path).await?;
        if !self.settings.quiet {
            eprintln!("wrote {rows} row(s) to {}", path.display());
        }
        Ok(query)
    }

    /// Draws the task graph and writes the performance report of `query`, where asked.
    fn write_graph_and_report(&self, query: &Query, last: &LastStatement) -> Result<()> {
        if let Some(path) = &last.graph {
            output::write_graph(&query.graph(), path, self.settings.quiet)?;
        }
        if let Some(path) = &last.report {
            output::write_report(query, path, self.settings.quiet)?;
        }
        Ok(())
    }
}
