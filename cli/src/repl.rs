//! The interactive SQL shell: line editing and history (rustyline), completion from the live
//! session, syntax highlighting, DuckDB-style dot commands, and Ctrl-C that cancels the
//! running query instead of the shell.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rask::dashboard::Dashboard;
use rask::report::{check_report_path, write_report};
use rask::{Error, Query, Result, Session};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};

use crate::args::{Args, Format};
use crate::output;

const PROMPT: &str = "rask> ";
const CONTINUATION: &str = " ...> ";

const HELP: &str = "\
Statements end with ';' and may span lines. Tab completes keywords, functions, tables,
columns and (inside quotes) file names. Ctrl-C cancels a running query or clears the
line; Ctrl-D leaves.

.help                      this text
.tables                    tables and views
.schema [NAME]             columns and types of one table, or of all
.describe NAME             summary statistics of a table's numeric columns
.mode table|csv|tsv|json|ndjson|markdown
                           how results are printed
.maxrows N|inf             rows shown by table and markdown output
.timer on|off              print each statement's elapsed time
.explain [analyze] SQL     the plan of SQL (run and annotated with analyze)
.graph FILE [SQL]          the task graph of the last query run (with its rows, times
                           and spill), or of SQL without running it: .svg, .dot, .png
.report FILE               a performance report (HTML) of the last query run
.read FILE                 run the statements in FILE
.output [FILE]             write results to FILE, or back to the terminal
.quit                      leave (also .exit)";

/// Where the shell keeps its history: `RASK_HISTORY`, or the user's data directory.
fn history_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("RASK_HISTORY") {
        return Some(PathBuf::from(path));
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".local/share")))?;
    Some(data.join("rask").join("history"))
}

/// What completion offers, refreshed from the session after every statement.
#[derive(Default)]
struct Vocabulary {
    keywords: Vec<String>,
    functions: Vec<String>,
    /// Table name → column names.
    tables: BTreeMap<String, Vec<String>>,
}

impl Vocabulary {
    async fn load(session: &Session) -> Vocabulary {
        let ctx = session.context();
        let state = ctx.state();
        let mut functions: Vec<String> = state
            .scalar_functions()
            .keys()
            .chain(state.aggregate_functions().keys())
            .chain(state.window_functions().keys())
            .cloned()
            .chain(rask_table_functions())
            .collect();
        functions.sort();
        functions.dedup();
        let mut tables = BTreeMap::new();
        if let Some(schema) = ctx.catalog("datafusion").and_then(|c| c.schema("public")) {
            for name in schema.table_names() {
                if let Ok(Some(table)) = schema.table(&name).await {
                    let columns = table
                        .schema()
                        .fields()
                        .iter()
                        .map(|f| f.name().clone())
                        .collect();
                    tables.insert(name, columns);
                }
            }
        }
        let keywords = datafusion::sql::sqlparser::keywords::ALL_KEYWORDS
            .iter()
            .map(|k| k.to_string())
            .collect();
        Vocabulary {
            keywords,
            functions,
            tables,
        }
    }
}

fn rask_table_functions() -> impl Iterator<Item = String> {
    [
        "read_csv",
        "read_parquet",
        "read_json",
        "read_arrow",
        "timeseries",
    ]
    .into_iter()
    .map(String::from)
}

struct ReplHelper {
    vocabulary: Arc<Mutex<Vocabulary>>,
    /// Earlier lines of the statement being typed, whose tables count for completion.
    pending: Arc<Mutex<String>>,
    colour: bool,
}

impl ReplHelper {
    /// File names completing `prefix` (a path typed inside quotes).
    fn complete_path(prefix: &str) -> Vec<Pair> {
        let (dir, stem) = match prefix.rfind('/') {
            Some(slash) => (&prefix[..=slash], &prefix[slash + 1..]),
            None => ("", prefix),
        };
        let listing = if dir.is_empty() {
            Path::new(".")
        } else {
            Path::new(dir)
        };
        let Ok(entries) = std::fs::read_dir(listing) else {
            return vec![];
        };
        let mut pairs: Vec<Pair> = entries
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !name.starts_with(stem) || (name.starts_with('.') && !stem.starts_with('.')) {
                    return None;
                }
                let slash = if entry.path().is_dir() { "/" } else { "" };
                Some(Pair {
                    display: format!("{name}{slash}"),
                    replacement: format!("{dir}{name}{slash}"),
                })
            })
            .collect();
        pairs.sort_by(|a, b| a.display.cmp(&b.display));
        pairs
    }

    fn complete_word(&self, line: &str, word: &str) -> Vec<Pair> {
        let vocabulary = match self.vocabulary.lock() {
            Ok(v) => v,
            Err(_) => return vec![],
        };
        let lower = word.to_ascii_lowercase();
        let statement = match self.pending.lock() {
            Ok(pending) => format!("{pending} {line}"),
            Err(_) => line.to_string(),
        };
        let words: Vec<String> = statement
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map(str::to_ascii_lowercase)
            .collect();
        let named = |table: &String| words.contains(&table.to_ascii_lowercase());
        // Columns of the tables the statement names; before it names one (the select list
        // comes first), those of every table.
        let any_named = vocabulary.tables.keys().any(named);
        let columns = vocabulary
            .tables
            .iter()
            .filter(|(table, _)| !any_named || named(table))
            .flat_map(|(_, columns)| columns.iter().cloned());
        let tables = vocabulary.tables.keys().cloned();
        let functions = vocabulary.functions.iter().cloned();
        let keywords = vocabulary.keywords.iter().map(|k| {
            // Keep the case the user types in.
            if word.chars().next().is_some_and(char::is_lowercase) {
                k.to_ascii_lowercase()
            } else {
                k.clone()
            }
        });
        let mut seen = std::collections::HashSet::new();
        columns
            .chain(tables)
            .chain(functions)
            .chain(keywords)
            .filter(|candidate| candidate.to_ascii_lowercase().starts_with(&lower))
            .filter(|candidate| seen.insert(candidate.clone()))
            .map(|candidate| Pair {
                display: candidate.clone(),
                replacement: candidate,
            })
            .collect()
    }
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        if before.matches('\'').count() % 2 == 1 {
            let quote = before.rfind('\'').map_or(0, |q| q + 1);
            return Ok((quote, ReplHelper::complete_path(&before[quote..])));
        }
        let start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let word = &before[start..];
        if word.is_empty() {
            return Ok((pos, vec![]));
        }
        Ok((start, self.complete_word(line, word)))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Validator for ReplHelper {}

impl Highlighter for ReplHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if !self.colour {
            return Cow::Borrowed(line);
        }
        Cow::Owned(highlight_sql(line))
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        self.colour
    }
}

impl Helper for ReplHelper {}

/// SQL with keywords in bold blue, strings in green and numbers in yellow (ANSI).
fn highlight_sql(line: &str) -> String {
    let mut out = String::with_capacity(line.len() * 2);
    let mut chars = line.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c == '\'' {
            let mut end = line.len();
            for (i, d) in chars.by_ref() {
                if d == '\'' {
                    end = i + 1;
                    break;
                }
            }
            out.push_str(&format!("\x1b[32m{}\x1b[0m", &line[start..end]));
        } else if c.is_alphabetic() || c == '_' {
            let mut end = start + c.len_utf8();
            while let Some(&(i, d)) = chars.peek() {
                if !(d.is_alphanumeric() || d == '_') {
                    break;
                }
                end = i + d.len_utf8();
                chars.next();
            }
            let word = &line[start..end];
            let upper = word.to_ascii_uppercase();
            if datafusion::sql::sqlparser::keywords::ALL_KEYWORDS.contains(&upper.as_str()) {
                out.push_str(&format!("\x1b[1;34m{word}\x1b[0m"));
            } else {
                out.push_str(word);
            }
        } else if c.is_ascii_digit() {
            out.push_str(&format!("\x1b[33m{c}\x1b[0m"));
        } else {
            out.push(c);
        }
    }
    out
}

/// The shell's settings, changed by dot commands.
struct Settings {
    format: Format,
    maxrows: usize,
    timer: bool,
    progress: bool,
    output: Option<(PathBuf, std::fs::File)>,
}

/// Runs the shell until `.quit` or Ctrl-D.
pub fn run(
    runtime: &tokio::runtime::Runtime,
    session: &Session,
    args: &Args,
    dashboard: Option<&Dashboard>,
) -> Result<()> {
    let colour = std::env::var_os("NO_COLOR").is_none();
    let vocabulary = Arc::new(Mutex::new(runtime.block_on(Vocabulary::load(session))));
    let mut editor: Editor<ReplHelper, DefaultHistory> =
        Editor::new().map_err(|e| Error::execution(format!("cannot open the terminal: {e}")))?;
    let shared_pending = Arc::new(Mutex::new(String::new()));
    editor.set_helper(Some(ReplHelper {
        vocabulary: vocabulary.clone(),
        pending: shared_pending.clone(),
        colour,
    }));
    let history = history_path();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    let mut settings = Settings {
        format: args.format,
        maxrows: args.maxrows,
        timer: args.timing,
        progress: crate::progress::wanted(args.no_progress),
        output: None,
    };
    println!(
        "Rask {}: SQL over files. Type .help for help, Ctrl-D to leave.",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(dashboard) = dashboard {
        println!("Dashboard: {}", dashboard.url());
    }
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() {
            PROMPT
        } else {
            CONTINUATION
        };
        match editor.readline(prompt) {
            Ok(line) => {
                if pending.is_empty() && line.trim_start().starts_with('.') {
                    let _ = editor.add_history_entry(line.trim());
                    match dot_command(runtime, session, line.trim(), &mut settings) {
                        Ok(Flow::Quit) => break,
                        Ok(Flow::Continue) => {}
                        Err(error) => print_error(&error),
                    }
                    continue;
                }
                pending.push_str(&line);
                pending.push('\n');
                if let Ok(mut shared) = shared_pending.lock() {
                    shared.clone_from(&pending);
                }
                if !statement_complete(&pending) {
                    continue;
                }
                let sql = std::mem::take(&mut pending);
                if let Ok(mut shared) = shared_pending.lock() {
                    shared.clear();
                }
                let _ = editor.add_history_entry(sql.trim());
                if let Err(error) = run_sql(runtime, session, &sql, &mut settings) {
                    print_error(&error);
                }
                if let Ok(mut v) = vocabulary.lock() {
                    *v = runtime.block_on(Vocabulary::load(session));
                }
            }
            Err(ReadlineError::Interrupted) => {
                pending.clear();
                if let Ok(mut shared) = shared_pending.lock() {
                    shared.clear();
                }
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                return Err(Error::execution(format!("cannot read input: {e}")));
            }
        }
    }
    if let Some(path) = &history {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = editor.save_history(path) {
            eprintln!("warning: cannot save history to {}: {e}", path.display());
        }
    }
    Ok(())
}

fn print_error(error: &Error) {
    eprintln!("error: {error}");
    if let Some(hint) = error.hint() {
        eprintln!("hint: {hint}");
    }
}

/// Whether the text ends a statement: a `;` outside quotes ends it.
fn statement_complete(text: &str) -> bool {
    let mut quoted = false;
    let mut last = None;
    for c in text.chars() {
        if c == '\'' {
            quoted = !quoted;
        }
        if !c.is_whitespace() {
            last = Some(c);
        }
    }
    !quoted && last == Some(';')
}

enum Flow {
    Continue,
    Quit,
}

/// Runs the statements of `sql`, printing each result; Ctrl-C cancels the one running.
fn run_sql(
    runtime: &tokio::runtime::Runtime,
    session: &Session,
    sql: &str,
    settings: &mut Settings,
) -> Result<()> {
    let statements = session.parse(sql)?;
    for statement in statements {
        let started = Instant::now();
        let format = settings.format;
        let maxrows = settings.maxrows;
        let show_progress = settings.progress;
        let mut out: Box<dyn Write + Send> = match &settings.output {
            Some((_, file)) => Box::new(file.try_clone()?),
            None => Box::new(std::io::stdout()),
        };
        let outcome = runtime.block_on(async {
            let work = async {
                let frame = session.execute(statement).await?;
                if frame.schema().fields().is_empty() {
                    output::drain(frame).await?;
                    return Ok(());
                }
                output::print_frame(frame, format, maxrows, show_progress, &mut out).await?;
                out.flush()?;
                Ok(())
            };
            tokio::select! {
                outcome = work => outcome,
                _ = tokio::signal::ctrl_c() => Err(Error::cancelled("query cancelled")),
            }
        });
        outcome?;
        if settings.timer {
            eprintln!("elapsed: {:.3} s", started.elapsed().as_secs_f64());
        }
    }
    Ok(())
}

fn dot_command(
    runtime: &tokio::runtime::Runtime,
    session: &Session,
    line: &str,
    settings: &mut Settings,
) -> Result<Flow> {
    let (command, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim();
    let bad = |message: String| Err(Error::plan(message));
    match command {
        ".quit" | ".exit" => return Ok(Flow::Quit),
        ".help" => println!("{HELP}"),
        ".tables" => {
            run_sql(runtime, session, "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name;", settings)?;
        }
        ".schema" => {
            let filter = if rest.is_empty() {
                String::new()
            } else {
                format!(" AND table_name = '{}'", rest.replace('\'', "''"))
            };
            run_sql(
                runtime,
                session,
                &format!("SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'public'{filter} ORDER BY table_name, ordinal_position;"),
                settings,
            )?;
        }
        ".describe" => {
            if rest.is_empty() {
                return bad("usage: .describe TABLE".into());
            }
            let stats = runtime.block_on(async {
                let frame = session.sql(&format!("SELECT * FROM {rest}")).await?;
                frame.describe().await?.compute().await
            })?;
            println!("{stats}");
        }
        ".mode" => {
            settings.format = match rest {
                "table" => Format::Table,
                "csv" => Format::Csv,
                "tsv" => Format::Tsv,
                "json" => Format::Json,
                "ndjson" => Format::Ndjson,
                "markdown" => Format::Markdown,
                _ => {
                    return bad(format!(
                        "unknown mode '{rest}': use table, csv, tsv, json, ndjson or markdown"
                    ))
                }
            }
        }
        ".maxrows" => {
            settings.maxrows = match rest {
                "inf" | "0" => usize::MAX,
                n => match n.parse() {
                    Ok(n) => n,
                    Err(_) => return bad(format!("usage: .maxrows N|inf (got '{rest}')")),
                },
            }
        }
        ".timer" => {
            settings.timer = match rest {
                "on" => true,
                "off" => false,
                _ => return bad(format!("usage: .timer on|off (got '{rest}')")),
            }
        }
        ".explain" => {
            let (analyze, sql) = match rest.strip_prefix("analyze") {
                Some(sql) => (" ANALYZE", sql.trim()),
                None => ("", rest),
            };
            if sql.is_empty() {
                return bad("usage: .explain [analyze] SQL".into());
            }
            run_sql(
                runtime,
                session,
                &format!("EXPLAIN{analyze} {}", sql.trim_end_matches(';')),
                settings,
            )?;
        }
        ".graph" => {
            let (file, sql) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            if file.is_empty() {
                return bad("usage: .graph FILE [SQL]".into());
            }
            let path = Path::new(file);
            let sql = sql.trim().trim_end_matches(';');
            if sql.is_empty() {
                output::write_graph(&last_query(session)?.graph(), path, false)?;
            } else {
                let graph =
                    runtime.block_on(async { session.sql(sql).await?.visualize(path).await })?;
                eprintln!("wrote task graph ({}, not run) to {file}", graph.summary());
            }
        }
        ".report" => {
            if rest.is_empty() {
                return bad("usage: .report FILE".into());
            }
            let path = Path::new(rest);
            check_report_path(path)?;
            let query = last_query(session)?;
            write_report(&query, path)?;
            eprintln!("wrote performance report to {rest}");
        }
        ".read" => {
            let script = std::fs::read_to_string(rest)
                .map_err(|e| Error::input(format!("cannot read script '{rest}': {e}")))?;
            run_sql(runtime, session, &script, settings)?;
        }
        ".output" => {
            settings.output = if rest.is_empty() {
                None
            } else {
                let file = std::fs::File::create(rest)
                    .map_err(|e| Error::output(format!("cannot write '{rest}': {e}")))?;
                Some((PathBuf::from(rest), file))
            };
        }
        other => {
            return bad(format!(
                "unknown command '{other}'; .help lists the commands"
            ))
        }
    }
    Ok(Flow::Continue)
}

/// The query run last in the session, once it has ended.
fn last_query(session: &Session) -> Result<Arc<Query>> {
    match session.queries().latest() {
        Some(query) if !query.state().is_running() => Ok(query),
        _ => Err(Error::plan(
            "no query has run yet: run one first, or give the SQL to draw (.graph FILE SQL)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_end_at_a_semicolon_outside_quotes() {
        assert!(statement_complete("SELECT 1;"));
        assert!(statement_complete("SELECT 1;  \n"));
        assert!(!statement_complete("SELECT 1"));
        assert!(!statement_complete("SELECT ';"));
        assert!(statement_complete("SELECT ';';"));
    }

    #[test]
    fn keywords_strings_and_numbers_are_coloured() {
        let shown = highlight_sql("select 'a' from t where x = 1");
        assert!(shown.contains("\x1b[1;34mselect\x1b[0m"));
        assert!(shown.contains("\x1b[32m'a'\x1b[0m"));
        assert!(shown.contains("\x1b[33m1\x1b[0m"));
        assert!(
            shown.contains(" t "),
            "plain identifiers stay plain: {shown}"
        );
    }
}
