//! The [`Session`]: where tables live and queries run.

use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{DFParser, Statement};
use rask_planner::functions::TableFunctions;
use rask_planner::scans::file_scans;

use crate::config::SessionBuilder;
use crate::dataframe::DataFrame;
use crate::error::{Error, ErrorKind, Result};

/// A Rask session: settings, registered tables and views, and the engine that runs queries.
/// Cloning it is cheap and shares everything.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let session = rask::Session::new().unwrap();
/// let rows = session
///     .sql("SELECT count(*) AS n FROM timeseries('2000-01-01', '2000-01-02', '1min')")
///     .await
///     .unwrap()
///     .collect()
///     .await
///     .unwrap();
/// assert_eq!(rask::pretty_format(&rows).unwrap().lines().nth(3).unwrap(), "| 1440 |");
/// # });
/// ```
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    ctx: SessionContext,
    functions: Arc<TableFunctions>,
    memory_limit: Option<usize>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("partitions", &self.partitions())
            .field("memory_limit", &self.inner.memory_limit)
            .finish()
    }
}

impl Session {
    /// A session with the default settings (see [`SessionBuilder`]).
    pub fn new() -> Result<Session> {
        SessionBuilder::default().build()
    }

    /// Starts configuring a session.
    pub fn builder() -> SessionBuilder {
        SessionBuilder::default()
    }

    pub(crate) fn from_context(
        ctx: SessionContext,
        memory_limit: Option<usize>,
    ) -> Result<Session> {
        let (ctx, functions) = rask_planner::install(ctx)?;
        Ok(Session {
            inner: Arc::new(Inner {
                ctx,
                functions,
                memory_limit,
            }),
        })
    }

    /// The DataFusion context underneath, for what Rask does not wrap.
    pub fn context(&self) -> &SessionContext {
        &self.inner.ctx
    }

    /// How many partitions queries run in.
    pub fn partitions(&self) -> usize {
        self.inner.ctx.state().config().target_partitions()
    }

    /// The memory limit in bytes, if any.
    pub fn memory_limit(&self) -> Option<usize> {
        self.inner.memory_limit
    }

    /// Splits SQL text into statements without running them; a syntax error names its
    /// line and column.
    pub fn parse(&self, sql: &str) -> Result<Vec<Statement>> {
        Ok(DFParser::parse_sql(sql)?.into_iter().collect())
    }

    /// Plans one statement. DDL (`CREATE ..`, `DROP ..`) takes effect now; queries and `COPY`
    /// run when the returned frame is computed.
    pub async fn execute(&self, statement: Statement) -> Result<DataFrame> {
        let state = self.inner.ctx.state();
        self.inner.functions.prepare(&state, &statement).await?;
        let plan = state.statement_to_plan(statement).await?;
        if let LogicalPlan::Explain(explain) = &plan {
            let files = files_table(&explain.plan)?;
            let frame = self.inner.ctx.execute_logical_plan(plan).await?;
            return DataFrame::new(frame)
                .with_appended_rows(&self.inner.ctx, files)
                .await;
        }
        let plan = rask_planner::naming::tidy_output_names(plan)?;
        Ok(DataFrame::new(
            self.inner.ctx.execute_logical_plan(plan).await?,
        ))
    }

    /// Runs every statement of `sql` in order and returns the last one's frame; the others
    /// are run to completion first (so a script can create what later statements read).
    pub async fn sql(&self, sql: &str) -> Result<DataFrame> {
        let mut statements = self.parse(sql)?;
        let Some(last) = statements.pop() else {
            return Err(Error::new(
                ErrorKind::Syntax,
                "syntax error: no SQL statement given",
            ));
        };
        for statement in statements {
            self.execute(statement).await?.collect().await?;
        }
        self.execute(last).await
    }

    /// Registers the files at `path` (a file, directory or glob) as table `name`.
    pub async fn register_files(&self, name: &str, path: &str) -> Result<()> {
        let files = rask_planner::files::FileSet::resolve(path)?;
        let state = self.inner.ctx.state();
        let table = rask_planner::listing::file_table(&state, &files, &Default::default()).await?;
        self.inner.ctx.register_table(name, table)?;
        Ok(())
    }
}

/// EXPLAIN rows listing the files each file table of `plan` resolved to.
fn files_table(plan: &LogicalPlan) -> Result<Option<RecordBatch>> {
    let scans = file_scans(plan);
    if scans.is_empty() {
        return Ok(None);
    }
    let described: Vec<String> = scans
        .iter()
        .map(|scan| {
            let files: Vec<String> = scan.files.iter().map(|f| shown_path(f)).collect();
            format!(
                "{}: {} file(s): {}",
                scan.table,
                files.len(),
                files.join(", ")
            )
        })
        .collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("plan_type", DataType::Utf8, false),
        Field::new("plan", DataType::Utf8, false),
    ]));
    let kinds = StringArray::from(vec!["resolved_files"; described.len()]);
    let plans = StringArray::from(described);
    Ok(Some(RecordBatch::try_new(
        schema,
        vec![Arc::new(kinds), Arc::new(plans)],
    )?))
}

/// A path as the user most likely wrote it: relative when it lies below the current directory.
fn shown_path(path: &std::path::Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| path.display().to_string())
}
