//! The shell's dot commands. [`COMMANDS`] lists each once, with its names, syntax and
//! description; a line is parsed and `.help` is written from that table, so a command cannot
//! be listed without being understood, or understood without being listed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::ValueEnum;
use rask::{Error, Query, Result, Session};

use crate::args::{parse_maxrows, parse_maxwidth, Format};
use crate::exit::usage;
use crate::output;
use crate::runner::{Runner, Script};

/// A dot command with its arguments.
#[derive(Debug, PartialEq)]
pub enum Command {
    Help,
    Tables,
    /// One table's columns, or every table's.
    Schema(Option<String>),
    /// How the columns of the files a glob matches differ.
    SchemaOfFiles(String),
    Describe(String),
    Summarize(String),
    Mode(Format),
    MaxRows(usize),
    Timer(bool),
    /// Show the file cache, or turn it on or off, or empty it.
    Cache(Option<CacheSetting>),
    Explain {
        analyze: bool,
        sql: String,
    },
    /// The task graph of SQL without running it, or of the last query run.
    Graph {
        file: PathBuf,
        sql: Option<String>,
    },
    Report(PathBuf),
    Read(PathBuf),
    /// Results to a file, or back to the terminal.
    Output(Option<PathBuf>),
    /// The next result to a file.
    Once(PathBuf),
    /// The last result again, whole.
    Last,
    /// Keep definitions in a catalog file, or say which one is in use.
    Open(Option<PathBuf>),
    /// A command of the system shell.
    Shell(String),
    NullValue(String),
    /// Column widths by position, 0 for fitted; none: all fitted.
    Width(Vec<usize>),
    /// `None` fits the terminal.
    MaxWidth(Option<usize>),
    Pager(bool),
    Prompt {
        main: String,
        continuation: Option<String>,
    },
    Version,
    Quit,
}

/// What `.cache` does.
#[derive(Debug, PartialEq)]
pub enum CacheSetting {
    On,
    Off,
    Clear,
}

/// What the shell does once a command has run.
pub enum Flow {
    Continue,
    Quit,
}

/// One row of [`COMMANDS`].
struct Spec {
    /// The first is the one `.help` shows.
    names: &'static [&'static str],
    syntax: &'static str,
    /// Lines after the first are indented under it.
    about: &'static str,
    /// The command for the text after the name (trimmed), if that text fits `syntax`.
    parse: fn(&str) -> Option<Command>,
}

const COMMANDS: [Spec; 25] = [
    Spec {
        names: &[".help"],
        syntax: ".help",
        about: "this text",
        parse: |rest| nothing(rest, Command::Help),
    },
    Spec {
        names: &[".tables"],
        syntax: ".tables",
        about: "tables and views",
        parse: |rest| nothing(rest, Command::Tables),
    },
    Spec {
        names: &[".schema"],
        syntax: ".schema [NAME|--files GLOB]",
        about: "columns and types of one table, or of all; with --files,\n\
                each file's columns and how they differ from the first's",
        parse: |rest| match rest.strip_prefix("--files") {
            Some(glob) if glob.is_empty() || glob.starts_with(char::is_whitespace) => {
                let glob = glob.trim();
                let unquoted = glob
                    .strip_prefix('\'')
                    .and_then(|g| g.strip_suffix('\''))
                    .unwrap_or(glob);
                argument(unquoted).map(Command::SchemaOfFiles)
            }
            _ => Some(Command::Schema(argument(rest))),
        },
    },
    Spec {
        names: &[".describe"],
        syntax: ".describe NAME",
        about: "summary statistics of a table's numeric columns",
        parse: |rest| argument(rest).map(Command::Describe),
    },
    Spec {
        names: &[".summarize"],
        syntax: ".summarize NAME",
        about: "per column of a table or 'file': type, min, max, distinct\n\
                values, mean, std, quartiles and NULL share (SUMMARIZE)",
        parse: |rest| argument(rest).map(Command::Summarize),
    },
    Spec {
        names: &[".mode"],
        // The formats of `--format`, in its order; a test keeps the two together.
        syntax: ".mode table|csv|tsv|json|ndjson|markdown",
        about: "how results are printed",
        parse: |rest| Format::from_str(rest, false).ok().map(Command::Mode),
    },
    Spec {
        names: &[".maxrows"],
        syntax: ".maxrows N|inf",
        about: "rows shown by table and markdown output",
        parse: |rest| parse_maxrows(rest).ok().map(Command::MaxRows),
    },
    Spec {
        names: &[".maxwidth"],
        syntax: ".maxwidth N|inf|auto",
        about: "text columns a table may take (auto: the terminal's)",
        parse: |rest| match rest {
            "auto" => Some(Command::MaxWidth(None)),
            _ => parse_maxwidth(rest)
                .ok()
                .map(|n| Command::MaxWidth(Some(n))),
        },
    },
    Spec {
        names: &[".width"],
        syntax: ".width [N ...]",
        about: "widths of the first columns of tables, 0 to fit one;\n\
                none: all fitted",
        parse: |rest| {
            rest.split_whitespace()
                .map(|n| n.parse().ok())
                .collect::<Option<Vec<usize>>>()
                .map(Command::Width)
        },
    },
    Spec {
        names: &[".nullvalue"],
        syntax: ".nullvalue TEXT",
        about: "how tables show NULL",
        parse: |rest| match words(rest)?.as_slice() {
            [text] => Some(Command::NullValue(text.clone())),
            _ => None,
        },
    },
    Spec {
        names: &[".pager"],
        syntax: ".pager on|off",
        about: "show tables taller than the terminal in $PAGER (less -S)",
        parse: |rest| on_off(rest).map(Command::Pager),
    },
    Spec {
        names: &[".timer"],
        syntax: ".timer on|off",
        about: "print each statement's elapsed time",
        parse: |rest| on_off(rest).map(Command::Timer),
    },
    Spec {
        names: &[".cache"],
        syntax: ".cache [on|off|clear]",
        about: "the CSV and JSON files kept decoded, which queries reading\n\
                them again, unchanged, are served from; off or clear frees them",
        parse: |rest| match rest {
            "" => Some(Command::Cache(None)),
            "on" => Some(Command::Cache(Some(CacheSetting::On))),
            "off" => Some(Command::Cache(Some(CacheSetting::Off))),
            "clear" => Some(Command::Cache(Some(CacheSetting::Clear))),
            _ => None,
        },
    },
    Spec {
        names: &[".explain"],
        syntax: ".explain [analyze] SQL",
        about: "the plan of SQL (run and annotated with analyze)",
        parse: |rest| {
            let (analyze, sql) = match rest.strip_prefix("analyze") {
                Some(sql) if sql.is_empty() || sql.starts_with(char::is_whitespace) => (true, sql),
                _ => (false, rest),
            };
            let sql = sql_argument(sql)?;
            Some(Command::Explain { analyze, sql })
        },
    },
    Spec {
        names: &[".graph"],
        syntax: ".graph FILE [SQL]",
        about: "the task graph of the last query run (with its rows, times\n\
                and spill), or of SQL without running it: .svg, .dot, .png",
        parse: |rest| {
            let (file, sql) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            Some(Command::Graph {
                file: argument(file)?.into(),
                sql: sql_argument(sql),
            })
        },
    },
    Spec {
        names: &[".report"],
        syntax: ".report FILE",
        about: "a performance report (HTML) of the last query run",
        parse: |rest| argument(rest).map(|file| Command::Report(file.into())),
    },
    Spec {
        names: &[".read"],
        syntax: ".read FILE",
        about: "run the statements in FILE",
        parse: |rest| argument(rest).map(|file| Command::Read(file.into())),
    },
    Spec {
        names: &[".output"],
        syntax: ".output [FILE]",
        about: "write results to FILE, or back to the terminal",
        parse: |rest| Some(Command::Output(argument(rest).map(PathBuf::from))),
    },
    Spec {
        names: &[".once"],
        syntax: ".once FILE",
        about: "write the next result to FILE",
        parse: |rest| argument(rest).map(|file| Command::Once(file.into())),
    },
    Spec {
        names: &[".last"],
        syntax: ".last",
        about: "the last result again, every row and column",
        parse: |rest| nothing(rest, Command::Last),
    },
    Spec {
        names: &[".open"],
        syntax: ".open [FILE]",
        about: "keep views, external tables and settings in FILE (as\n\
                --db), defining those it keeps; none: the file in use",
        parse: |rest| Some(Command::Open(argument(rest).map(PathBuf::from))),
    },
    Spec {
        names: &[".shell", ".system"],
        syntax: ".shell COMMAND",
        about: "run COMMAND in the system shell",
        parse: |rest| argument(rest).map(Command::Shell),
    },
    Spec {
        names: &[".prompt"],
        syntax: ".prompt MAIN [CONTINUE]",
        about: "the prompts, quoted to keep spaces: .prompt 'sql> ' '...> '",
        parse: |rest| match words(rest)?.as_slice() {
            [main] => Some(Command::Prompt {
                main: main.clone(),
                continuation: None,
            }),
            [main, continuation] => Some(Command::Prompt {
                main: main.clone(),
                continuation: Some(continuation.clone()),
            }),
            _ => None,
        },
    },
    Spec {
        names: &[".version"],
        syntax: ".version",
        about: "the versions of Rask and DataFusion",
        parse: |rest| nothing(rest, Command::Version),
    },
    Spec {
        names: &[".quit", ".exit"],
        syntax: ".quit",
        about: "leave (also .exit)",
        parse: |rest| nothing(rest, Command::Quit),
    },
];

/// What a command's first argument can be, read off its syntax line.
pub enum ArgumentKind {
    /// One of these words.
    Word(Vec<&'static str>),
    Table,
    File,
    Other,
}

/// Every command's names, `.help` first.
pub fn command_names() -> impl Iterator<Item = &'static str> {
    COMMANDS.iter().flat_map(|spec| spec.names.iter().copied())
}

/// What the first argument of the command called `name` can be.
pub fn argument_kind(name: &str) -> ArgumentKind {
    let Some(spec) = COMMANDS.iter().find(|spec| spec.names.contains(&name)) else {
        return ArgumentKind::Other;
    };
    let argument = spec
        .syntax
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .trim_matches(|c| c == '[' || c == ']');
    match argument {
        words if words.split('|').any(|word| word == "NAME") => ArgumentKind::Table,
        "FILE" => ArgumentKind::File,
        words if words.contains('|') => ArgumentKind::Word(words.split('|').collect()),
        _ => ArgumentKind::Other,
    }
}

/// For commands that take no argument.
fn nothing(rest: &str, command: Command) -> Option<Command> {
    rest.is_empty().then_some(command)
}

fn on_off(rest: &str) -> Option<bool> {
    match rest {
        "on" => Some(true),
        "off" => Some(false),
        _ => None,
    }
}

/// Words separated by spaces, a word in single or double quotes keeping its spaces (a quote
/// doubled inside stands for itself); `None` for an unclosed quote or no word.
fn words(rest: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut chars = rest.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '\'' || c == '"' {
            chars.next();
            loop {
                match chars.next()? {
                    q if q == c && chars.peek() == Some(&c) => {
                        chars.next();
                        word.push(c);
                    }
                    q if q == c => break,
                    other => word.push(other),
                }
            }
        } else {
            while let Some(&d) = chars.peek() {
                if d.is_whitespace() {
                    break;
                }
                word.push(d);
                chars.next();
            }
        }
        words.push(word);
    }
    (!words.is_empty()).then_some(words)
}

/// The argument, if one was given.
fn argument(rest: &str) -> Option<String> {
    (!rest.is_empty()).then(|| rest.to_string())
}

/// SQL given to a command, which people end with `;` out of habit.
fn sql_argument(text: &str) -> Option<String> {
    argument(text.trim().trim_end_matches(';').trim_end())
}

const HELP_INTRO: &str = "\
Statements end with ';' and may span lines. Tab completes what the candidates share and
a second Tab lists them: keywords, functions, tables (only tables after FROM and JOIN),
the columns of the statement's tables and quoted files, file names inside quotes, dot
commands and their arguments. Ctrl-C cancels a running query or clears the line; Ctrl-D
leaves.
";

/// Where descriptions start in `.help`.
const ABOUT_COLUMN: usize = 27;

/// The text `.help` prints.
pub fn help() -> String {
    let mut text = String::from(HELP_INTRO);
    let indent = " ".repeat(ABOUT_COLUMN);
    for spec in &COMMANDS {
        text.push('\n');
        text.push_str(spec.syntax);
        // A syntax too long for its column puts the description on the next line.
        text.push_str(&match ABOUT_COLUMN.checked_sub(spec.syntax.len()) {
            Some(padding) if padding > 0 => " ".repeat(padding),
            _ => format!("\n{indent}"),
        });
        text.push_str(&spec.about.replace('\n', &format!("\n{indent}")));
    }
    text
}

impl Command {
    /// Parses a line starting with `.`: an unknown name, or arguments that do not fit the
    /// command's syntax, are usage errors.
    pub fn parse(line: &str) -> Result<Command> {
        let line = line.trim();
        let (name, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let spec = COMMANDS
            .iter()
            .find(|spec| spec.names.contains(&name))
            .ok_or_else(|| {
                Error::usage(format!(
                    "unknown command '{name}'; .help lists the commands"
                ))
            })?;
        let rest = rest.trim();
        (spec.parse)(rest).ok_or_else(|| match rest {
            "" => usage(spec.syntax),
            _ => usage(format_args!("{} (got '{rest}')", spec.syntax)),
        })
    }

    /// Runs the command: SQL it stands for goes through `runner`, settings it changes are
    /// the runner's.
    pub async fn execute(self, runner: &mut Runner) -> Result<Flow> {
        match self {
            Command::Help => println!("{}", help()),
            Command::Tables => runner.run_script(Script::typed(TABLES)).await?,
            Command::Schema(table) => {
                let sql = columns_sql(table.as_deref());
                runner.run_script(Script::typed(sql)).await?;
            }
            Command::SchemaOfFiles(glob) => {
                let options = rask::ReadOptions::default();
                let report = runner.session().schema_drift(&glob, &options).await?;
                runner.show(report).await?;
            }
            Command::Describe(table) => {
                let frame = runner
                    .session()
                    .sql(&format!("SELECT * FROM {table}"))
                    .await?;
                runner.show(frame.describe().await?).await?;
            }
            Command::Summarize(table) => {
                runner
                    .run_script(Script::typed(format!("SUMMARIZE {table};")))
                    .await?
            }
            Command::Mode(format) => runner.settings.format = format,
            Command::MaxRows(rows) => runner.settings.maxrows = rows,
            Command::Timer(on) => runner.settings.timer = on,
            Command::Cache(setting) => show_or_set_cache(runner, setting).await?,
            Command::Explain { analyze, sql } => {
                let analyze = if analyze { " ANALYZE" } else { "" };
                runner
                    .run_script(Script::typed(format!("EXPLAIN{analyze} {sql}")))
                    .await?;
            }
            Command::Graph { file, sql: None } => {
                output::write_graph(&last_query(runner.session())?.graph(), &file, false)?;
            }
            Command::Graph {
                file,
                sql: Some(sql),
            } => {
                let graph = runner.session().sql(&sql).await?.visualize(&file).await?;
                eprintln!(
                    "wrote task graph ({}, not run) to {}",
                    graph.summary(),
                    file.display()
                );
            }
            Command::Report(file) => {
                let query = last_query(runner.session())?;
                output::write_report(&query, &file, false)?;
            }
            Command::Read(file) => runner.read_script(&file).await?,
            Command::Output(file) => {
                runner.settings.output = file.as_deref().map(create_output).transpose()?;
            }
            Command::Once(file) => runner.settings.once = Some(create_output(&file)?),
            Command::Last => runner.print_last().await?,
            Command::Open(Some(file)) => runner.open_db(&file).await?,
            Command::Open(None) => match runner.db_path() {
                Some(path) => println!("{}", path.display()),
                None => println!("no catalog file: definitions last as long as the session"),
            },
            Command::Shell(command) => run_shell(&command)?,
            Command::NullValue(text) => runner.settings.style.null = text,
            Command::Width(widths) => runner.settings.style.widths = widths,
            Command::MaxWidth(width) => runner.settings.style.max_width = width,
            Command::Pager(on) => runner.settings.pager = on,
            Command::Prompt { main, continuation } => {
                runner.settings.prompt = main;
                if let Some(continuation) = continuation {
                    runner.settings.continuation = continuation;
                }
            }
            Command::Version => println!(
                "Rask {} (DataFusion {})",
                env!("CARGO_PKG_VERSION"),
                rask::DATAFUSION_VERSION
            ),
            Command::Quit => return Ok(Flow::Quit),
        }
        Ok(Flow::Continue)
    }
}

async fn show_or_set_cache(runner: &mut Runner, setting: Option<CacheSetting>) -> Result<()> {
    let Some(cache) = runner.session().file_cache() else {
        return Err(Error::plan(
            "this session has no file cache: its queries run on a cluster, whose workers read the files",
        ));
    };
    match setting {
        Some(CacheSetting::On) => cache.set_enabled(true),
        Some(CacheSetting::Off) => cache.set_enabled(false),
        Some(CacheSetting::Clear) => cache.clear(),
        None => {
            let files = cache.files();
            println!(
                "file cache {}: {} file{}, {} in memory of {}, {} on disk of {}",
                if cache.enabled() { "on" } else { "off" },
                files.len(),
                if files.len() == 1 { "" } else { "s" },
                rask::format_bytes(cache.held()),
                rask::format_bytes(cache.budget()),
                rask::format_bytes(cache.on_disk() as usize),
                rask::format_bytes(cache.disk_budget() as usize)
            );
            if !files.is_empty() {
                runner.show(runner.session().cached_files()?).await?;
            }
        }
    }
    Ok(())
}

/// What `.tables` lists.
const TABLES: &str = "SELECT table_name, table_type FROM information_schema.tables \
    WHERE table_schema = 'public' ORDER BY table_name;";

/// What `.schema` lists: the columns of `table`, or of every table.
fn columns_sql(table: Option<&str>) -> String {
    let filter = match table {
        Some(name) => format!(" AND table_name = '{}'", name.replace('\'', "''")),
        None => String::new(),
    };
    format!(
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns \
         WHERE table_schema = 'public'{filter} ORDER BY table_name, ordinal_position;"
    )
}

/// Runs `command` with `sh -c`, its output on the terminal; a failure is an error.
fn run_shell(command: &str) -> Result<()> {
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .status()
        .map_err(|e| Error::execution(format!("cannot run the shell: {e}")))?;
    if status.success() {
        return Ok(());
    }
    Err(Error::execution(match status.code() {
        Some(code) => format!("'{command}' exited with status {code}"),
        None => format!("'{command}' was ended by a signal"),
    }))
}

fn create_output(path: &Path) -> Result<std::fs::File> {
    std::fs::File::create(path)
        .map_err(|e| Error::output(format!("cannot write '{}': {e}", path.display())))
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
    use rask::ErrorKind;

    /// `syntax` with every placeholder filled in and every option taken.
    fn example(syntax: &str) -> String {
        syntax
            .split(' ')
            .map(|word| {
                let word = word.trim_matches(|c| c == '[' || c == ']');
                match word.split('|').next().unwrap_or(word) {
                    "NAME" => "sales",
                    "FILE" => "plan.svg",
                    "SQL" => "SELECT 1;",
                    "N" => "10",
                    "TEXT" | "MAIN" | "CONTINUE" => "'> '",
                    "COMMAND" => "true",
                    "..." => "",
                    other => other,
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn every_command_parses_from_its_own_syntax_line() {
        for spec in &COMMANDS {
            let line = example(spec.syntax);
            assert!(Command::parse(&line).is_ok(), "{line}");
            for name in spec.names {
                let line = line.replacen(spec.names[0], name, 1);
                assert!(Command::parse(&line).is_ok(), "{line}");
            }
        }
    }

    #[test]
    fn lines_parse_into_their_arguments() {
        let parsed = |line: &str| Command::parse(line).unwrap();
        assert_eq!(parsed(".mode csv"), Command::Mode(Format::Csv));
        assert_eq!(
            parsed("  .mode   markdown "),
            Command::Mode(Format::Markdown)
        );
        assert_eq!(parsed(".maxrows inf"), Command::MaxRows(usize::MAX));
        assert_eq!(parsed(".maxrows 7"), Command::MaxRows(7));
        assert_eq!(parsed(".timer off"), Command::Timer(false));
        assert_eq!(parsed(".schema"), Command::Schema(None));
        assert_eq!(parsed(".schema t"), Command::Schema(Some("t".into())));
        assert_eq!(
            parsed(".explain analyze SELECT 1;"),
            Command::Explain {
                analyze: true,
                sql: "SELECT 1".into()
            }
        );
        assert_eq!(
            parsed(".explain SELECT analyze FROM t"),
            Command::Explain {
                analyze: false,
                sql: "SELECT analyze FROM t".into()
            }
        );
        assert_eq!(
            parsed(".graph g.dot"),
            Command::Graph {
                file: "g.dot".into(),
                sql: None
            }
        );
        assert_eq!(
            parsed(".graph g.svg SELECT * FROM 'a b.csv' ;"),
            Command::Graph {
                file: "g.svg".into(),
                sql: Some("SELECT * FROM 'a b.csv'".into())
            }
        );
        assert_eq!(parsed(".output"), Command::Output(None));
        assert_eq!(parsed(".exit"), Command::Quit);
    }

    #[test]
    fn mode_takes_exactly_the_formats_of_the_format_flag() {
        let formats: Vec<String> = Format::value_variants()
            .iter()
            .filter_map(|format| format.to_possible_value())
            .map(|value| value.get_name().to_string())
            .collect();
        let mode = COMMANDS
            .iter()
            .find(|spec| spec.names == [".mode"])
            .unwrap();
        assert_eq!(mode.syntax, format!(".mode {}", formats.join("|")));
        for name in formats {
            assert!(Command::parse(&format!(".mode {name}")).is_ok(), "{name}");
        }
    }

    #[test]
    fn bad_arguments_are_usage_errors_that_show_the_syntax() {
        for (line, message) in [
            (
                ".mode xml",
                "usage: .mode table|csv|tsv|json|ndjson|markdown (got 'xml')",
            ),
            (".maxrows many", "usage: .maxrows N|inf (got 'many')"),
            (".timer maybe", "usage: .timer on|off (got 'maybe')"),
            (".describe", "usage: .describe NAME"),
            (
                ".explain analyze",
                "usage: .explain [analyze] SQL (got 'analyze')",
            ),
            (".explain ;", "usage: .explain [analyze] SQL (got ';')"),
            (".graph", "usage: .graph FILE [SQL]"),
            (".report", "usage: .report FILE"),
            (".read", "usage: .read FILE"),
            (".tables extra", "usage: .tables (got 'extra')"),
            (
                ".bogus",
                "unknown command '.bogus'; .help lists the commands",
            ),
        ] {
            let error = Command::parse(line).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Usage, "{line}");
            assert_eq!(error.message(), message, "{line}");
        }
    }

    #[test]
    fn help_lists_every_command_with_its_description() {
        let help = help();
        assert!(help.starts_with(HELP_INTRO));
        let listed: Vec<&str> = help.lines().filter(|line| line.starts_with('.')).collect();
        assert_eq!(listed.len(), COMMANDS.len(), "{help}");
        for (line, spec) in listed.iter().zip(&COMMANDS) {
            assert!(line.starts_with(spec.syntax), "{line}");
        }
        for about in COMMANDS.iter().flat_map(|spec| spec.about.lines()) {
            assert!(
                help.lines()
                    .any(|line| line.get(ABOUT_COLUMN..) == Some(about)),
                "{about} is not in its column:\n{help}"
            );
        }
    }
}
