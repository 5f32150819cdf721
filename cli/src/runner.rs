//! The statement runner. SQL given on the command line, in `-f` scripts, on standard input,
//! typed in the shell or read there with `.read` all run here, so a statement prints, writes
//! and fails the same way wherever it came from.

use std::fs::File;
use std::future::Future;
use std::io::{BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use rask::sink::write_file;
use rask::{Error, Query, Result, Session, Statement};

use crate::args::Format;
use crate::command::{Command, Flow};
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

/// A statement or a dot command of a script, and the text of the script (where the
/// positions of its errors point).
pub struct Step {
    action: Action,
    script: Arc<str>,
}

enum Action {
    /// A statement and its text as written.
    Sql { statement: Statement, text: String },
    /// A line such as `.mode csv` between statements.
    Command(Command),
}

/// How deeply `.read` scripts may read others: a script reading itself stops there.
const READ_DEPTH: usize = 16;

/// Runs statements through one session with the current [`Settings`].
pub struct Runner {
    session: Session,
    pub settings: Settings,
    /// The catalog definitions are kept in (`--db`, `.open`).
    db: Option<Db>,
    /// The last result printed, for `.last` (kept in the shell only).
    last_result: Option<output::Kept>,
    /// How many `.read` scripts are running, one inside the other.
    reading: usize,
}

impl Runner {
    pub fn new(session: Session, settings: Settings) -> Runner {
        Runner {
            session,
            settings,
            db: None,
            last_result: None,
            reading: 0,
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

    /// Splits `scripts` into statements and the dot commands between them, all before any
    /// runs, so that a syntax error or an unknown command anywhere runs nothing; a script's
    /// errors name it.
    pub fn parse(&self, scripts: &[Script]) -> Result<Vec<Step>> {
        let mut steps = Vec::new();
        for script in scripts {
            let named = |error: Error| match &script.label {
                Some(label) => error.context(label),
                None => error,
            };
            // The commands' lines are blanked byte for byte, so that the statements keep
            // the lines, columns and offsets they have in the script.
            let mut sql = script.text.clone();
            let mut commands = Vec::new();
            for line in rask::command_lines(&script.text, '.') {
                let command = Command::parse(&script.text[line.range.clone()])
                    .map_err(|e| named(e.context(format_args!("line {}", line.line))))?;
                sql.replace_range(line.range.clone(), &" ".repeat(line.range.len()));
                commands.push((line.statements_before, command));
            }
            let parsed = self
                .session
                .parse_with_text(&sql)
                .map_err(|e| named(e.with_excerpt_of(&script.text)))?;
            let whole: Arc<str> = Arc::from(script.text.as_str());
            let step = |action| Step {
                action,
                script: Arc::clone(&whole),
            };
            let mut commands = commands.into_iter().peekable();
            for (index, (statement, text)) in parsed.into_iter().enumerate() {
                while let Some((_, command)) = commands.next_if(|(before, _)| *before <= index) {
                    steps.push(step(Action::Command(command)));
                }
                steps.push(step(Action::Sql { statement, text }));
            }
            steps.extend(commands.map(|(_, command)| step(Action::Command(command))));
        }
        Ok(steps)
    }

    /// Parses and runs one script whose last statement only prints, as the shell does.
    ///
    /// Boxed, as the statements it runs are: a dot command runs scripts (`.read`,
    /// `.tables`) from within a script, and a debug build's frames for these futures
    /// take megabytes of the stack where they are made.
    pub fn run_script(&mut self, script: Script) -> Pin<Box<dyn Future<Output = Result<()>> + '_>> {
        Box::pin(async move {
            let steps = self.parse(&[script])?;
            self.run(steps, &LastStatement::PRINT_ONLY).await
        })
    }

    /// Runs the script in the file at `path` (`.read`).
    pub async fn read_script(&mut self, path: &Path) -> Result<()> {
        if self.reading >= READ_DEPTH {
            return Err(Error::usage(format!(
                "'.read {}' nests scripts too deeply (limit {READ_DEPTH}): does a script read itself?",
                path.display()
            )));
        }
        let script = Script::read(path)?;
        self.reading += 1;
        let ran = self.run_script(script).await;
        self.reading -= 1;
        ran
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
    /// one run), and stops at the first failure or at `.quit`. A signal (Ctrl-C, SIGTERM)
    /// cancels the statement running and ends the run with
    /// [`rask::ErrorKind::Cancelled`]; a panic ends the statement with an internal error.
    pub async fn run(&mut self, steps: Vec<Step>, last: &LastStatement) -> Result<()> {
        let mut printed_before = false;
        let final_statement = steps
            .iter()
            .rposition(|step| matches!(step.action, Action::Sql { .. }));
        let since = interrupt::mark();
        for (index, Step { action, script }) in steps.into_iter().enumerate() {
            let started = Instant::now();
            match action {
                Action::Command(command) => {
                    let execute = Box::pin(command.execute(self));
                    if let Flow::Quit = cancellable(since, execute, &script).await? {
                        return Ok(());
                    }
                    continue;
                }
                Action::Sql { statement, text } => {
                    let after = if Some(index) == final_statement {
                        last
                    } else {
                        &LastStatement::PRINT_ONLY
                    };
                    // `.once` is for the next result only: each statement takes its
                    // destination anew.
                    let to_file = self.settings.once.is_some() || self.settings.output.is_some();
                    let mut out = BufWriter::new(self.destination()?);
                    let ran = Box::pin(self.run_one(
                        statement,
                        &text,
                        after,
                        &mut out,
                        &mut printed_before,
                        to_file,
                    ));
                    cancellable(since, ran, &script).await?;
                    out.flush()?;
                }
            }
            if self.settings.timer {
                eprintln!("elapsed: {:.3} s", started.elapsed().as_secs_f64());
            }
        }
        Ok(())
    }

    async fn run_one(
        &mut self,
        statement: Statement,
        text: &str,
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
            db.record(change, text)?;
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

/// Runs one step of a script: its result, the error a panic in it became, or the
/// cancellation a signal since `since` asked for. A cancel seen together with the end of a
/// write wins: the write is dropped before its rename.
async fn cancellable<T>(
    since: interrupt::Mark,
    work: impl Future<Output = Result<T>>,
    script: &str,
) -> Result<T> {
    tokio::select! {
        biased;
        cancelled = interrupt::after(since) => Err(cancelled),
        ran = rask::panics::contain_async(work) => ran.map_err(|e| e.with_excerpt_of(script)),
    }
}
