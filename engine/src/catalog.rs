//! What a session knows by name: its tables and views with their columns, the functions SQL
//! can call, and SQL's keywords. Enough to list, describe and complete without reaching into
//! DataFusion's catalog.

use std::sync::Arc;

use datafusion::catalog::SchemaProvider;
use rask_planner::functions::TABLE_FUNCTIONS;

use crate::error::Result;
use crate::session::Session;
use crate::SchemaRef;

/// Every keyword of the SQL dialect Rask parses, upper case and sorted.
///
/// ```
/// assert!(rask::SQL_KEYWORDS.contains(&"SELECT"));
/// assert!(!rask::SQL_KEYWORDS.contains(&"select"));
/// ```
pub const SQL_KEYWORDS: &[&str] = datafusion::sql::sqlparser::keywords::ALL_KEYWORDS;

impl Session {
    /// The tables and views a statement can name without qualifying them, sorted: those
    /// created with `CREATE TABLE`/`VIEW`, `CREATE EXTERNAL TABLE` or
    /// [`register_files`](Session::register_files).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let session = rask::Session::new().unwrap();
    /// session.sql("CREATE VIEW answer AS SELECT 42 AS n").await.unwrap();
    /// assert_eq!(session.table_names(), ["answer"]);
    /// # });
    /// ```
    pub fn table_names(&self) -> Vec<String> {
        let mut names = self
            .default_schema()
            .map(|schema| schema.table_names())
            .unwrap_or_default();
        names.sort();
        names
    }

    /// The columns of the table or view `name`, or `None` when there is none by that name.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let session = rask::Session::new().unwrap();
    /// session.sql("CREATE VIEW answer AS SELECT 42 AS n").await.unwrap();
    /// let schema = session.table_schema("answer").await.unwrap().unwrap();
    /// assert_eq!(schema.field(0).name(), "n");
    /// assert!(session.table_schema("question").await.unwrap().is_none());
    /// # });
    /// ```
    pub async fn table_schema(&self, name: &str) -> Result<Option<SchemaRef>> {
        let Some(schema) = self.default_schema() else {
            return Ok(None);
        };
        Ok(schema.table(name).await?.map(|table| table.schema()))
    }

    /// Every function SQL can call, sorted: scalar, aggregate and window functions, and
    /// table functions such as `read_csv` and `timeseries`.
    ///
    /// ```
    /// let names = rask::Session::new().unwrap().function_names();
    /// for name in ["abs", "avg", "row_number", "read_csv", "timeseries"] {
    ///     assert!(names.iter().any(|n| n == name), "{name}");
    /// }
    /// ```
    pub fn function_names(&self) -> Vec<String> {
        let state = self.context().state();
        let mut names: Vec<String> = state
            .scalar_functions()
            .keys()
            .chain(state.aggregate_functions().keys())
            .chain(state.window_functions().keys())
            .chain(state.table_functions().keys())
            .cloned()
            .chain(TABLE_FUNCTIONS.iter().map(|name| name.to_string()))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The schema unqualified names resolve in.
    fn default_schema(&self) -> Option<Arc<dyn SchemaProvider>> {
        let ctx = self.context();
        let state = ctx.state();
        let defaults = &state.config_options().catalog;
        ctx.catalog(&defaults.default_catalog)?
            .schema(&defaults.default_schema)
    }
}
