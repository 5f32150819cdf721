//! The interactive SQL shell: line editing and history (rustyline), completion from the live
//! session and syntax highlighting. What it reads runs through the [`Runner`] (statements)
//! or [`Command`] (dot commands); an error is printed and the shell carries on.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use rask::dashboard::Dashboard;
use rask::{Error, Result, Session, SQL_KEYWORDS};
use regex::Regex;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Context, Editor, Helper};

use crate::command::{argument_kind, command_names, ArgumentKind, Command, Flow};
use crate::exit::print_error;
use crate::runner::{Runner, Script};

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
        let mut tables = BTreeMap::new();
        for name in session.table_names() {
            if let Ok(Some(schema)) = session.table_schema(&name).await {
                let columns = schema.fields().iter().map(|f| f.name().clone()).collect();
                tables.insert(name, columns);
            }
        }
        Vocabulary {
            keywords: SQL_KEYWORDS.iter().map(|k| k.to_string()).collect(),
            functions: session.function_names(),
            tables,
        }
    }
}

struct ReplHelper {
    vocabulary: Arc<Mutex<Vocabulary>>,
    /// Earlier lines of the statement being typed, whose tables count for completion.
    pending: Arc<Mutex<String>>,
    colour: bool,
    /// Where the columns of files named in a statement are looked up.
    session: Session,
    runtime: tokio::runtime::Handle,
    /// The columns of the files and `read_*()` calls completion has looked at.
    file_columns: Mutex<HashMap<String, Vec<String>>>,
}

/// A file, directory or glob in quotes, or a `read_*()` call, after `FROM` or `JOIN`.
static NAMED_FILE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:from|join)\s+('(?:[^']|'')+'|read_\w+\s*\([^)]*\))").ok()
});

impl ReplHelper {
    /// Paths completing `prefix` (typed inside quotes, or as a dot command's argument): a
    /// directory ends in `/`, and with `close` a single file found closes the quote.
    fn complete_path(prefix: &str, close: bool) -> Vec<Pair> {
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
        let mut pairs: Vec<(Pair, bool)> = entries
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !name.starts_with(stem) || (name.starts_with('.') && !stem.starts_with('.')) {
                    return None;
                }
                let is_dir = entry.path().is_dir();
                let slash = if is_dir { "/" } else { "" };
                Some((
                    Pair {
                        display: format!("{name}{slash}"),
                        replacement: format!("{dir}{name}{slash}"),
                    },
                    is_dir,
                ))
            })
            .collect();
        if let [(only, false)] = pairs.as_mut_slice() {
            if close {
                only.replacement.push('\'');
            }
        }
        let mut pairs: Vec<Pair> = pairs.into_iter().map(|(pair, _)| pair).collect();
        pairs.sort_by(|a, b| a.display.cmp(&b.display));
        pairs
    }

    /// The columns of the local files and `read_*()` calls `statement` names, looked up
    /// once each.
    fn named_file_columns(&self, statement: &str) -> Vec<String> {
        let Some(pattern) = NAMED_FILE.as_ref() else {
            return vec![];
        };
        let mut columns = Vec::new();
        for found in pattern.captures_iter(statement) {
            let relation = found[1].to_string();
            // A remote store may be slow to answer or ask for credentials: not while typing.
            if relation.contains("://") {
                continue;
            }
            let Ok(mut cache) = self.file_columns.lock() else {
                return columns;
            };
            let known = cache.entry(relation.clone()).or_insert_with(|| {
                let sql = format!("SELECT * FROM {relation} LIMIT 0");
                self.runtime
                    .block_on(self.session.sql(&sql))
                    .map(|frame| {
                        frame
                            .schema()
                            .fields()
                            .iter()
                            .map(|f| f.name().clone())
                            .collect()
                    })
                    .unwrap_or_default()
            });
            columns.extend(known.iter().cloned());
        }
        columns
    }

    fn complete_word(&self, line: &str, word: &str, tables_only: bool) -> Vec<Pair> {
        let statement = match self.pending.lock() {
            Ok(pending) => format!("{pending} {line}"),
            Err(_) => line.to_string(),
        };
        let file_columns = if tables_only {
            vec![]
        } else {
            self.named_file_columns(&statement)
        };
        let vocabulary = match self.vocabulary.lock() {
            Ok(v) => v,
            Err(_) => return vec![],
        };
        let lower = word.to_ascii_lowercase();
        let words: Vec<String> = statement
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map(str::to_ascii_lowercase)
            .collect();
        let named = |table: &String| words.contains(&table.to_ascii_lowercase());
        // Columns of the tables the statement names; before it names one (the select list
        // comes first), those of every table.
        let any_named = !file_columns.is_empty() || vocabulary.tables.keys().any(named);
        let table_columns = vocabulary
            .tables
            .iter()
            .filter(|(table, _)| !any_named || named(table))
            .flat_map(|(_, columns)| columns.iter().cloned());
        let tables = vocabulary.tables.keys().cloned();
        let candidates: Vec<String> = if tables_only {
            tables.collect()
        } else {
            let functions = vocabulary.functions.iter().cloned();
            let keywords = vocabulary.keywords.iter().map(|k| {
                // Keep the case the user types in.
                if word.chars().next().is_some_and(char::is_lowercase) {
                    k.to_ascii_lowercase()
                } else {
                    k.clone()
                }
            });
            file_columns
                .into_iter()
                .chain(table_columns)
                .chain(tables)
                .chain(functions)
                .chain(keywords)
                .collect()
        };
        let mut seen = std::collections::HashSet::new();
        candidates
            .into_iter()
            .filter(|candidate| candidate.to_ascii_lowercase().starts_with(&lower))
            .filter(|candidate| seen.insert(candidate.clone()))
            .map(|candidate| Pair {
                display: candidate.clone(),
                replacement: candidate,
            })
            .collect()
    }

    /// A dot command's name, or its first argument: one of its words, a table, a file.
    fn complete_command(&self, before: &str) -> (usize, Vec<Pair>) {
        let start = before.len() - before.trim_start().len();
        let typed = &before[start..];
        let Some((name, _)) = typed.split_once(char::is_whitespace) else {
            let names = command_names()
                .filter(|name| name.starts_with(typed))
                .map(|name| Pair {
                    display: name.to_string(),
                    replacement: name.to_string(),
                });
            return (start, names.collect());
        };
        let argument_start = before
            .rfind(char::is_whitespace)
            .map_or(before.len(), |i| i + 1);
        let word = &before[argument_start..];
        let words = |candidates: Vec<String>| -> Vec<Pair> {
            candidates
                .into_iter()
                .filter(|candidate| candidate.starts_with(word))
                .map(|candidate| Pair {
                    display: candidate.clone(),
                    replacement: candidate,
                })
                .collect()
        };
        let pairs = match argument_kind(name) {
            ArgumentKind::Word(options) => words(
                options
                    .into_iter()
                    // `N` and the like are placeholders, not words to type.
                    .filter(|w| !w.chars().all(|c| c.is_ascii_uppercase()))
                    .map(str::to_string)
                    .collect(),
            ),
            ArgumentKind::Table => match self.vocabulary.lock() {
                Ok(vocabulary) => words(vocabulary.tables.keys().cloned().collect()),
                Err(_) => vec![],
            },
            ArgumentKind::File => ReplHelper::complete_path(word, false),
            ArgumentKind::Other => vec![],
        };
        (argument_start, pairs)
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
        let continuing = self.pending.lock().is_ok_and(|pending| !pending.is_empty());
        if !continuing && before.trim_start().starts_with('.') {
            return Ok(self.complete_command(before));
        }
        if before.matches('\'').count() % 2 == 1 {
            let quote = before.rfind('\'').map_or(0, |q| q + 1);
            return Ok((quote, ReplHelper::complete_path(&before[quote..], true)));
        }
        let start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let word = &before[start..];
        let previous = before[..start]
            .split_whitespace()
            .last()
            .unwrap_or_default();
        let tables_only = ["FROM", "JOIN"]
            .iter()
            .any(|keyword| previous.eq_ignore_ascii_case(keyword));
        if word.is_empty() && !tables_only {
            return Ok((pos, vec![]));
        }
        Ok((start, self.complete_word(line, word, tables_only)))
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
            if SQL_KEYWORDS.contains(&upper.as_str()) {
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

/// Runs the shell until `.quit` or Ctrl-D.
pub fn run(
    runtime: &tokio::runtime::Runtime,
    mut runner: Runner,
    dashboard: Option<&Dashboard>,
) -> Result<()> {
    let colour = std::env::var_os("NO_COLOR").is_none();
    runner.settings.pager = std::io::stdout().is_terminal();
    runner.settings.keep_last = true;
    let session = runner.session().clone();
    let vocabulary = Arc::new(Mutex::new(runtime.block_on(Vocabulary::load(&session))));
    // Tab completes the prefix the candidates share; a second Tab lists them in columns.
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .build();
    let mut editor: Editor<ReplHelper, DefaultHistory> = Editor::with_config(config)
        .map_err(|e| Error::execution(format!("cannot open the terminal: {e}")))?;
    let shared_pending = Arc::new(Mutex::new(String::new()));
    editor.set_helper(Some(ReplHelper {
        vocabulary: vocabulary.clone(),
        pending: shared_pending.clone(),
        colour,
        session: session.clone(),
        runtime: runtime.handle().clone(),
        file_columns: Mutex::new(HashMap::new()),
    }));
    let history = history_path();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    println!(
        "Rask {}: SQL over files. Type .help for help, Ctrl-D to leave.",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(dashboard) = dashboard {
        println!("Dashboard: {}", dashboard.url());
    }
    if let Some(path) = runner.db_path() {
        println!("Catalog: {}", path.display());
    }
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() {
            runner.settings.prompt.clone()
        } else {
            runner.settings.continuation.clone()
        };
        match editor.readline(&prompt) {
            Ok(line) => {
                if pending.is_empty() && line.trim_start().starts_with('.') {
                    let _ = editor.add_history_entry(line.trim());
                    let ran = Command::parse(&line)
                        .and_then(|command| runtime.block_on(command.execute(&mut runner)));
                    match ran {
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
                if !rask::statements_end(&pending) {
                    continue;
                }
                let sql = std::mem::take(&mut pending);
                if let Ok(mut shared) = shared_pending.lock() {
                    shared.clear();
                }
                let _ = editor.add_history_entry(rask::redact_secrets(sql.trim()));
                if let Err(error) = runtime.block_on(runner.run_script(Script::typed(sql))) {
                    print_error(&error);
                }
                if let Ok(mut v) = vocabulary.lock() {
                    *v = runtime.block_on(Vocabulary::load(&session));
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

#[cfg(test)]
mod tests {
    use super::*;

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
