//! `rask::Error`: DataFusion's errors, told the way a user needs them.

use datafusion::common::DataFusionError;
use rask_planner::argument_types::signatures_refused;

/// What kind of problem an [`Error`] reports; the CLI chooses exit codes and hints from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The SQL text does not parse.
    Syntax,
    /// The query cannot be planned: unknown table or column, wrong types, bad arguments.
    Plan,
    /// An input file is missing, unreadable or malformed.
    Input,
    /// The query needs more memory than the limit allows, even with spilling.
    Memory,
    /// Writing a result failed.
    Output,
    /// The query was cancelled.
    Cancelled,
    /// A command or API was used wrongly: an unknown option, a bad option value, a missing
    /// argument. The CLI exits with 2 for these.
    Usage,
    /// Anything else that went wrong while running.
    Execution,
}

/// An error with the context a user needs: which file, line and column, what was expected,
/// and a hint where one helps. `Display` is a single line.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    hint: Option<String>,
    #[source]
    source: Option<DataFusionError>,
    /// What the operating system said, when the error came from it.
    io: Option<std::io::ErrorKind>,
    /// Lines shown under the message: the statement's line with a caret.
    excerpt: Option<String>,
}

/// One constructor per [`ErrorKind`]: `Error::plan(message)` is `Error::new(ErrorKind::Plan, message)`.
macro_rules! constructors {
    ($($name:ident => $kind:ident),* $(,)?) => {
        impl Error {
            $(
                #[doc = concat!("A [`ErrorKind::", stringify!($kind), "`] error.")]
                pub fn $name(message: impl Into<String>) -> Self {
                    Error::new(ErrorKind::$kind, message)
                }
            )*
        }
    };
}

constructors! {
    syntax => Syntax,
    plan => Plan,
    input => Input,
    memory => Memory,
    output => Output,
    cancelled => Cancelled,
    execution => Execution,
    usage => Usage,
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let message = one_line(&message.into());
        let internal = internal_message(kind, &message);
        Error {
            kind,
            hint: internal.as_ref().map(|_| INTERNAL_HINT.to_string()),
            message: internal.unwrap_or(message),
            source: None,
            io: None,
            excerpt: None,
        }
    }

    /// An internal error: Rask or a library it runs broke at `site` (a panic contained, see
    /// [`crate::panics`]), which the user can only report.
    pub(crate) fn internal(site: impl std::fmt::Display, message: impl std::fmt::Display) -> Self {
        Error::execution(format!("internal error in {site}: {message}")).with_hint(INTERNAL_HINT)
    }

    /// Adds a hint: what the user can do about it.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// What kind of problem this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// What the user can do about it, if known.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// The one-line message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What the operating system said, when the error came from it: a reader that went
    /// away (`BrokenPipe`), a missing file (`NotFound`).
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        self.io
    }

    /// Whether the error names a column the frame does not have (pandas raises `KeyError`).
    pub fn is_missing_column(&self) -> bool {
        let field_not_found = |error: &DataFusionError| {
            matches!(error, DataFusionError::SchemaError(schema, _)
                if matches!(**schema, datafusion::common::SchemaError::FieldNotFound { .. }))
        };
        self.source
            .as_ref()
            .is_some_and(|source| field_not_found(source.find_root()))
            || self.message.contains("no column named")
    }

    /// Whether the error is about an input that is not there: a missing file, a glob that
    /// matches nothing, a missing object or bucket (Python raises `FileNotFoundError`).
    pub fn is_missing_file(&self) -> bool {
        self.io == Some(std::io::ErrorKind::NotFound)
            || [
                "file not found: ",
                "no files match ",
                "bucket not found: ",
                "not found: '",
            ]
            .iter()
            .any(|start| self.message.starts_with(start))
    }

    /// The same error, known to come from the operating system's `kind` of failure.
    pub(crate) fn with_io_kind(mut self, kind: std::io::ErrorKind) -> Self {
        self.io = Some(kind);
        self
    }

    /// Where in the SQL text the problem is, as line and column counted from 1, when known:
    /// from a syntax error, or from the span of what planning refused (an unknown column).
    pub fn position(&self) -> Option<(usize, usize)> {
        let spanned = self
            .source
            .iter()
            .flat_map(|source| source.iter())
            .find_map(|error| {
                let start = error.diagnostic()?.span?.start;
                (start.line > 0).then_some((start.line as usize, start.column as usize))
            });
        // Other errors may give lines and columns of files, not of the statement.
        let of_statement =
            self.kind == ErrorKind::Syntax || self.message.contains("nested too deeply");
        spanned.or_else(|| {
            if !of_statement {
                return None;
            }
            static AT: std::sync::LazyLock<Option<regex::Regex>> =
                std::sync::LazyLock::new(|| regex::Regex::new(r"at line (\d+), column (\d+)").ok());
            let captures = AT.as_ref()?.captures(&self.message)?;
            Some((captures[1].parse().ok()?, captures[2].parse().ok()?))
        })
    }

    /// The same error showing the line of `sql` at [`Error::position`] with a caret under
    /// the column, as PostgreSQL and DuckDB show it.
    pub fn with_excerpt_of(mut self, sql: &str) -> Self {
        if let Some((line, column)) = self.position() {
            if let Some(text) = sql.lines().nth(line - 1) {
                let label = format!("LINE {line}: ");
                let before: usize = text
                    .chars()
                    .take(column.saturating_sub(1))
                    .map(|c| unicode_width::UnicodeWidthChar::width(c).unwrap_or(1))
                    .sum();
                let shown = text.replace('\t', " ");
                self.excerpt = Some(format!(
                    "{label}{shown}\n{}^",
                    " ".repeat(label.len() + before)
                ));
            }
        }
        self
    }

    /// The lines shown under the message, if any (see [`Error::with_excerpt_of`]).
    pub fn excerpt(&self) -> Option<&str> {
        self.excerpt.as_deref()
    }

    /// The same error with `context` before its message (`context: message`).
    pub fn context(mut self, context: impl std::fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

/// Folds a multi-line message onto one line, its overlong words (a name or value of a
/// megabyte echoed back) cut in the middle.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            line.split(' ')
                .map(shortened_word)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The characters of a word a message keeps from its start and from its end.
const WORD_HEAD: usize = 100;
const WORD_TAIL: usize = 20;

/// `word`, or its first [`WORD_HEAD`] and last [`WORD_TAIL`] characters around `…` when it is
/// longer than twice that.
fn shortened_word(word: &str) -> std::borrow::Cow<'_, str> {
    let length = word.chars().count();
    if length <= 2 * (WORD_HEAD + WORD_TAIL) {
        return word.into();
    }
    let head: String = word.chars().take(WORD_HEAD).collect();
    let tail: String = word.chars().skip(length - WORD_TAIL).collect();
    format!("{head}…{tail}").into()
}

/// DataFusion's category prefixes, which say nothing to a user.
const NOISE: [&str; 16] = [
    "Error during planning: ",
    "Execution error: ",
    "Arrow error: ",
    "External error: ",
    "Parser error: ",
    "Schema error: ",
    "Invalid argument error: ",
    "Csv error: ",
    "Json error: ",
    "Parquet error: ",
    "IO error: ",
    "Object Store error: ",
    "Generic CSV error: ",
    "Generic LocalFileSystem error: ",
    "Internal error: ",
    "Optimizer rule 'type_coercion' failed, due to: ",
];

fn strip_noise(mut text: &str) -> &str {
    loop {
        let before = text.len();
        for prefix in NOISE {
            text = text.trim_start().strip_prefix(prefix).unwrap_or(text);
        }
        if text.len() == before {
            return text.trim();
        }
    }
}

/// The request ending DataFusion's internal errors. It does not reach a user: what broke is
/// told as an internal error of the stage it broke in (see [`internal_message`]).
const BUG_REPORT_REQUEST: &str = "This issue was likely caused by a bug in DataFusion's code. Please help us to resolve this by filing a bug report in our issue tracker: https://github.com/apache/datafusion/issues";

/// What a user can do about an internal error.
const INTERNAL_HINT: &str =
    "if the statement looks right, please report this as a bug, with the statement";

/// `internal error in <stage>: <what DataFusion said>` for a message holding DataFusion's
/// [`BUG_REPORT_REQUEST`], which is dropped, as are the category prefixes of the errors it
/// collected.
fn internal_message(kind: ErrorKind, message: &str) -> Option<String> {
    let (before, after) = message.split_once(BUG_REPORT_REQUEST)?;
    let mut said = [before, after]
        .iter()
        .map(|part| part.trim_matches(|c: char| c.is_whitespace() || c == '.' || c == ';'))
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    for prefix in NOISE {
        said = said.replace(prefix, "");
    }
    let stage = match kind {
        ErrorKind::Syntax | ErrorKind::Plan | ErrorKind::Usage => "planning",
        ErrorKind::Input => "reading the input",
        ErrorKind::Output => "writing the result",
        ErrorKind::Memory | ErrorKind::Cancelled | ErrorKind::Execution => "execution",
    };
    Some(format!("internal error in {stage}: {said}"))
}

fn kind_of(error: &DataFusionError) -> ErrorKind {
    match error {
        DataFusionError::SQL(..) => ErrorKind::Syntax,
        DataFusionError::Plan(_)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(_)
        | DataFusionError::Configuration(_) => ErrorKind::Plan,
        DataFusionError::ResourcesExhausted(_) => ErrorKind::Memory,
        DataFusionError::IoError(_) | DataFusionError::ObjectStore(_) => ErrorKind::Input,
        DataFusionError::ArrowError(..) | DataFusionError::ParquetError(_) => ErrorKind::Input,
        DataFusionError::Context(_, inner) => kind_of(inner),
        DataFusionError::Shared(inner) => kind_of(inner),
        DataFusionError::Diagnostic(_, inner) => kind_of(inner),
        DataFusionError::Collection(errors) => errors.first().map_or(ErrorKind::Execution, kind_of),
        DataFusionError::External(inner) => match inner.downcast_ref::<DataFusionError>() {
            Some(inner) => kind_of(inner),
            None => ErrorKind::Execution,
        },
        _ => ErrorKind::Execution,
    }
}

/// The message of `error` without DataFusion's category prefixes, contexts joined by ": ".
fn describe(error: &DataFusionError) -> String {
    match error {
        DataFusionError::Context(context, inner) => format!("{context}: {}", describe(inner)),
        DataFusionError::Shared(inner) => describe(inner),
        DataFusionError::Diagnostic(_, inner) => describe(inner),
        DataFusionError::External(inner) => match inner.downcast_ref::<DataFusionError>() {
            Some(inner) => describe(inner),
            None => strip_noise(&inner.to_string()).to_string(),
        },
        other => strip_noise(&other.strip_backtrace()).to_string(),
    }
}

fn syntax_message(error: &DataFusionError) -> String {
    let text = error.strip_backtrace();
    let text = text
        .trim_start_matches("SQL error: ")
        .trim_start_matches("ParserError(\"")
        .trim_start_matches("TokenizerError(\"")
        .trim_end_matches("\")");
    let text = text
        .replace(" at Line: ", " at line ")
        .replace(", Column: ", ", column ");
    format!("syntax error: {text}")
}

/// How DataFusion's file sinks tell a write that failed as a file was finished, without
/// saying which or why.
const UNTOLD_WRITE_FAILURE: &str = "Error encountered while finalizing writes";

impl From<DataFusionError> for Error {
    fn from(error: DataFusionError) -> Self {
        // A call no signature fits, found by a rule rather than while planning: DataFusion
        // calls it internal, yet the user wrote it.
        if let Some(refused) = signatures_refused(&error.to_string()) {
            let mut rask = Error::plan(refused.message).with_hint(refused.hint);
            rask.source = Some(error);
            return rask;
        }
        // A panic in a task DataFusion spawned, joined (or passed on by a repartition).
        let joined = match error.find_root() {
            DataFusionError::ExecutionJoin(joined) => Some(joined.to_string()),
            DataFusionError::External(external) => Some(external.to_string()),
            _ => None,
        };
        if let Some(panicked) = joined.and_then(|said| crate::panics::in_task(&said)) {
            return panicked;
        }
        // A write the store refused: it kept which file and why, where DataFusion's sinks
        // tell neither (as a file is finished) or not the file (the Parquet writer).
        let text = error.to_string();
        if text.contains(UNTOLD_WRITE_FAILURE) || text.contains("No space left on device") {
            if let Some(refused) = rask_planner::fetched::take_refused_write() {
                let mut rask = Error::new(ErrorKind::Output, refused);
                rask.source = Some(error);
                return rask;
            }
        }
        let kind = kind_of(&error);
        let message = match kind {
            ErrorKind::Syntax => syntax_message(&error),
            ErrorKind::Memory => memory_message(&error.strip_backtrace()),
            _ => out_of_range(division_by_zero(unsupported_construct(worker_failure(
                describe(&error).replace("'datafusion.public.", "'"),
            )))),
        };
        let mut rask = Error::new(kind, message);
        rask.hint = hint_for(kind, &rask.message).or(rask.hint);
        rask.io = io_kind_of(&error);
        rask.source = Some(error);
        rask
    }
}

/// How Ballista tells a task that failed on a worker, after the job and stage: the worker's
/// error in Rust's debug notation (`DataFusionError(Shared(ObjectStore(Generic { store: "CSV",
/// source: "x.csv:7:2: malformed CSV: …" })))`).
const TASK_FAILED: &str = "Task failed due to runtime execution error: ";

/// The errors that only wrap another in a worker's failure.
const WRAPPERS: [&str; 3] = ["DataFusionError(", "Shared(", "External("];

/// A task's failure on a worker as the worker's own message: the last string of the debug
/// notation (the innermost error's), or where it holds none the innermost error
/// (`ArrowError(DivideByZero)`).
fn worker_failure(message: String) -> String {
    let Some((_, said)) = message.split_once(TASK_FAILED) else {
        return message;
    };
    if let Some(told) = last_debug_string(said) {
        return told;
    }
    let mut innermost = said.trim();
    while let Some(inner) = WRAPPERS
        .iter()
        .find_map(|wrapper| innermost.strip_prefix(wrapper))
        .and_then(|inner| inner.strip_suffix(')'))
    {
        innermost = inner;
    }
    innermost.to_string()
}

/// The last complete string literal in `text`, written in Rust's debug notation, unescaped.
fn last_debug_string(text: &str) -> Option<String> {
    let mut last = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut literal = String::new();
        let mut closed = false;
        while let Some(c) = chars.next() {
            match c {
                '"' => {
                    closed = true;
                    break;
                }
                '\\' => match chars.next() {
                    Some('n') => literal.push('\n'),
                    Some('t') => literal.push('\t'),
                    Some('r') => literal.push('\r'),
                    Some('0') => literal.push('\0'),
                    Some('u') => {
                        let code: String = chars
                            .by_ref()
                            .skip_while(|&c| c == '{')
                            .take_while(|&c| c != '}')
                            .collect();
                        let decoded = u32::from_str_radix(&code, 16).ok().and_then(char::from_u32);
                        literal.push(decoded.unwrap_or(char::REPLACEMENT_CHARACTER));
                    }
                    Some(other) => literal.push(other),
                    None => break,
                },
                c => literal.push(c),
            }
        }
        if closed {
            last = Some(literal);
        }
    }
    last
}

/// DataFusion names a construct it cannot plan (`PIVOT`, `AT TIME ZONE` with an unusual
/// zone) by the whole syntax tree of it, thousands of characters on one line: only its kind
/// is kept.
fn unsupported_construct(message: String) -> String {
    let Some((_, tree)) = message.split_once("Unsupported ast node ") else {
        return message;
    };
    let tree = tree.strip_prefix("in sqltorel: ").unwrap_or(tree);
    let kind: String = tree
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    format!("this SQL is not supported: {kind}")
}

/// Arrow's "Divide by zero error", which a cluster's worker reports as `DivideByZero`, as
/// PostgreSQL words it: "division by zero".
fn division_by_zero(message: String) -> String {
    [
        "Divide by zero error",
        "ArrowError(DivideByZero)",
        "ArrowError(DivideByZero, None)",
    ]
    .iter()
    .fold(message, |message, arrow| {
        message.replace(arrow, "division by zero")
    })
}

/// Arrow's two wordings of an integer cast that does not fit ("Can't cast value 1e20 to type
/// Int32", "value of 9223372036854775808 is out of range Int64") as PostgreSQL words it:
/// "integer out of range: 1e20".
fn out_of_range(message: String) -> String {
    static CAST: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"(?:Cast error: )?(?:Can't cast value (\S+) to type|value of (\S+) is out of range) (U?Int(?:8|16|32|64))\b",
        )
        .ok()
    });
    let Some(captures) = CAST.as_ref().and_then(|re| re.captures(&message)) else {
        return message;
    };
    let value = captures
        .get(1)
        .or(captures.get(2))
        .map_or("", |m| m.as_str());
    let Ok(data_type) = captures[3].parse::<datafusion::arrow::datatypes::DataType>() else {
        return message;
    };
    let name = rask_planner::checked::sql_integer_name(&data_type);
    message.replace(&captures[0], &format!("{name} out of range: {value}"))
}

/// What the operating system said, when `error` came from it, however deeply wrapped (a
/// writer's `BrokenPipe` arrives inside an Arrow error).
fn io_kind_of(error: &DataFusionError) -> Option<std::io::ErrorKind> {
    use datafusion::arrow::error::ArrowError;
    match error {
        DataFusionError::IoError(e) => Some(e.kind()),
        DataFusionError::ArrowError(arrow, _) => match arrow.as_ref() {
            ArrowError::IoError(_, e) => Some(e.kind()),
            ArrowError::ExternalError(inner) => {
                inner.downcast_ref::<std::io::Error>().map(|e| e.kind())
            }
            _ => None,
        },
        DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner) => {
            io_kind_of(inner)
        }
        DataFusionError::Shared(inner) => io_kind_of(inner),
        DataFusionError::External(inner) => match inner.downcast_ref::<DataFusionError>() {
            Some(inner) => io_kind_of(inner),
            None => inner.downcast_ref::<std::io::Error>().map(|e| e.kind()),
        },
        _ => None,
    }
}

/// Condenses DataFusion's memory-pool report into what a user acts on: which operator needed
/// how much, how much was left, and who held the rest.
fn memory_message(report: &str) -> String {
    let capture = |pattern: &str| {
        regex::Regex::new(pattern)
            .ok()
            .and_then(|re| re.captures(report))
    };
    let Some(failed) = capture(r"Failed to allocate additional ([\d.]+ \w+) for (\w+)\[") else {
        return format!(
            "the query needs more memory than the limit: {}",
            strip_noise(report)
        );
    };
    let mut message = format!(
        "the query needs more memory than the limit: {} needed {} more",
        &failed[2], &failed[1]
    );
    if let Some(pool) = capture(
        r"([\d.]+ \w+) remain available for the total memory pool: \w+\(pool_size: ([\d.]+ \w+)\)",
    ) {
        message.push_str(&format!(" with {} of {} left", &pool[1], &pool[2]));
    }
    let holders: Vec<String> =
        regex::Regex::new(r"(\w+)\[\d+\]#\d+\(can spill: (\w+)\) consumed ([\d.]+ \w+)")
            .map(|re| {
                re.captures_iter(report)
                    .filter(|c| !c[3].starts_with("0.0 "))
                    .map(|c| {
                        let spill = if &c[2] == "true" {
                            ""
                        } else {
                            ", cannot spill"
                        };
                        format!("{} {}{spill}", &c[1], &c[3])
                    })
                    .collect()
            })
            .unwrap_or_default();
    if !holders.is_empty() {
        message.push_str(&format!("; held by: {}", holders.join(", ")));
    }
    message
}

fn hint_for(kind: ErrorKind, message: &str) -> Option<String> {
    match kind {
        ErrorKind::Memory => Some(
            "raise the memory limit (query --memory-limit, RASK_MEMORY_LIMIT) or use fewer partitions so fewer operators hold memory at once"
                .to_string(),
        ),
        ErrorKind::Plan if message.contains("table '") && message.contains("not found") => Some(
            "query a file by quoting its path, e.g. FROM 'data.csv' or FROM 'data_*.parquet'"
                .to_string(),
        ),
        _ => None,
    }
}

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Self {
        let mut rask = Error::output(error.to_string());
        rask.io = Some(error.kind());
        rask
    }
}

impl From<datafusion::arrow::error::ArrowError> for Error {
    fn from(error: datafusion::arrow::error::ArrowError) -> Self {
        Error::from(DataFusionError::from(error))
    }
}

impl From<datafusion::parquet::errors::ParquetError> for Error {
    fn from(error: datafusion::parquet::errors::ParquetError) -> Self {
        Error::from(DataFusionError::from(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::common::plan_datafusion_err;

    #[test]
    fn overlong_words_are_cut_in_the_middle_and_the_rest_kept() {
        let name = format!("{}z", "a".repeat(1_000_000));
        let error = Error::plan(format!("No field named {name}.\nDid you mean 'b'?"));
        let expected = format!(
            "No field named {}…{}z.; Did you mean 'b'?",
            "a".repeat(WORD_HEAD),
            "a".repeat(WORD_TAIL - 2)
        );
        assert_eq!(error.message(), expected);
        let path = format!("'/{}.csv'", "é".repeat(2 * (WORD_HEAD + WORD_TAIL) - 7));
        assert_eq!(
            Error::input(format!("cannot read {path}")).message(),
            format!("cannot read {path}")
        );
    }

    #[test]
    fn a_task_failed_on_a_worker_is_told_by_the_workers_message() {
        let ballista = |said: &str| {
            Error::from(DataFusionError::Execution(format!(
                "Job 038JF6F5JT000 failed: Job failed due to stage 0 failed: {TASK_FAILED}{said}"
            )))
            .message()
            .to_string()
        };
        assert_eq!(
            ballista(
                r#"DataFusionError(Shared(External(DataFusionError(ObjectStore(Generic { store: "CSV", source: "/d/x.csv:7001:6: malformed CSV: a \"quoted\" field \u{e9}" })))))"#
            ),
            "/d/x.csv:7001:6: malformed CSV: a \"quoted\" field é"
        );
        for said in [
            "DataFusionError(Shared(External(ArrowError(DivideByZero))))",
            "DataFusionError(ArrowError(DivideByZero, None))",
        ] {
            assert_eq!(ballista(said), "division by zero", "{said}");
        }
    }

    #[test]
    fn integer_casts_out_of_range_are_told_as_postgresql_tells_them() {
        use datafusion::arrow::error::ArrowError;
        let told = |text: &str| {
            Error::from(DataFusionError::from(ArrowError::CastError(
                text.to_string(),
            )))
            .message()
            .to_string()
        };
        assert_eq!(
            told("Can't cast value 1e20 to type Int32"),
            "integer out of range: 1e20"
        );
        assert_eq!(
            told("value of 9223372036854775808 is out of range Int64"),
            "bigint out of range: 9223372036854775808"
        );
        let divided = Error::from(DataFusionError::from(ArrowError::DivideByZero));
        assert_eq!(divided.message(), "division by zero");
        assert_eq!(
            told("Cannot cast string 'x' to value of Int64 type"),
            "Cast error: Cannot cast string 'x' to value of Int64 type"
        );
    }

    #[test]
    fn planning_prefixes_are_dropped_and_lines_folded() {
        let err = Error::from(DataFusionError::Context(
            "while reading".into(),
            Box::new(plan_datafusion_err!("no files match 'x*'\nsecond line")),
        ));
        assert_eq!(err.kind(), ErrorKind::Plan);
        assert!(!err.to_string().contains("Error during planning"), "{err}");
        assert!(!err.to_string().contains('\n'), "{err}");
    }

    #[test]
    fn memory_reports_are_condensed() {
        let report = "Additional allocation failed for TopK[1] with top memory consumers (across reservations) as:\n  FinalHashAggregateStream[1]#7(can spill: true) consumed 1053.4 KB, peak 1184.1 KB,\n  TopK[0]#4(can spill: false) consumed 0.0 B, peak 0.0 B.\nError: Failed to allocate additional 353.5 KB for TopK[1] with 0.0 B already allocated for this reservation - 131.8 KB remain available for the total memory pool: fair(pool_size: 1953.1 KB)";
        let err = Error::from(DataFusionError::ResourcesExhausted(report.into()));
        assert_eq!(
            err.message(),
            "the query needs more memory than the limit: TopK needed 353.5 KB more with 131.8 KB of 1953.1 KB left; held by: FinalHashAggregateStream 1053.4 KB"
        );
    }

    #[test]
    fn writers_broken_pipes_keep_their_io_kind() {
        use datafusion::arrow::error::ArrowError;
        let pipe = || std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let from_csv_writer = Error::from(ArrowError::IoError("write".into(), pipe()));
        assert_eq!(
            from_csv_writer.io_kind(),
            Some(std::io::ErrorKind::BrokenPipe)
        );
        let wrapped = Error::from(DataFusionError::Context(
            "writing".into(),
            Box::new(DataFusionError::IoError(pipe())),
        ));
        assert_eq!(wrapped.io_kind(), Some(std::io::ErrorKind::BrokenPipe));
        assert_eq!(
            Error::from(pipe()).io_kind(),
            Some(std::io::ErrorKind::BrokenPipe)
        );
        assert_eq!(Error::plan("Broken pipe").io_kind(), None);
    }

    /// DataFusion's own bugs reach the user as internal errors of the stage they broke in,
    /// without DataFusion's request to report them there; a call no signature fits, which
    /// DataFusion words as such a bug, is the user's plan error.
    #[test]
    fn internal_errors_do_not_ask_to_report_a_bug_in_datafusion() {
        let internal = DataFusionError::Internal(
            "Physical input schema should be the same as the one converted from logical input schema".into(),
        );
        let err = Error::from(DataFusionError::Plan(format!(
            "while planning: {}",
            internal.strip_backtrace()
        )));
        assert_eq!(err.kind(), ErrorKind::Plan);
        assert_eq!(
            err.message(),
            "internal error in planning: while planning: Physical input schema should be the same as the one converted from logical input schema"
        );
        assert_eq!(err.hint(), Some(INTERNAL_HINT));
        let signature = DataFusionError::Internal(
            "Function 'substr' failed to match any signature, errors: Error during planning: Function 'substr' requires Int64, but received String (DataType: Utf8).".into(),
        );
        let refused = Error::from(DataFusionError::Plan(format!(
            "{}. No function matches the given name and argument types 'substr(Utf8, Utf8)'.",
            signature.strip_backtrace()
        )));
        assert_eq!(refused.kind(), ErrorKind::Plan);
        assert_eq!(
            refused.message(),
            "substr(Utf8, Utf8): no version of the function takes these argument types"
        );
        let alone = Error::from(DataFusionError::Internal("no partition 3".into()));
        assert_eq!(alone.kind(), ErrorKind::Execution);
        assert_eq!(
            alone.message(),
            "internal error in execution: no partition 3"
        );
        // However a message is made, the request does not get through.
        let retold = Error::execution(format!("while writing: {}", alone.source.unwrap()));
        assert_eq!(
            retold.message(),
            "internal error in execution: while writing: no partition 3"
        );
        assert_eq!(retold.hint(), Some(INTERNAL_HINT));
    }

    #[test]
    fn memory_errors_carry_a_hint() {
        let err = Error::from(DataFusionError::ResourcesExhausted(
            "Failed to allocate".into(),
        ));
        assert_eq!(err.kind(), ErrorKind::Memory);
        assert!(err.hint().unwrap().contains("--memory-limit"));
    }
}
