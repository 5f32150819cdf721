//! The persistent catalog of `--db FILE` and `.open FILE`: the views, external tables and
//! settings a session defines, kept as the statements that defined them in a small SQL file
//! and run again when it is opened. Tables' data stays in their files; tables held in memory
//! (`CREATE TABLE … AS`) are not kept, and the shell says so.
//!
//! The file is rewritten (atomically, readable by its owner only: an external table's
//! options may hold credentials) after each statement that changes what it keeps; a
//! definition replaced or dropped leaves it.

use std::io::Write;
use std::path::{Path, PathBuf};

use rask::sqlparser::ast::{ObjectType, Set, Statement as SqlStatement};
use rask::{Error, Result, Session, Statement};

/// What a catalog entry defines: one name of the table namespace, or one setting.
#[derive(Clone, Debug, PartialEq)]
pub enum Key {
    Table(String),
    Setting(String),
}

/// How a statement changes a catalog.
#[derive(Debug, PartialEq)]
pub enum Change {
    /// Defines `key`; with `if_absent` (`IF NOT EXISTS`) an existing definition stays.
    Define {
        key: Key,
        if_absent: bool,
    },
    Remove(Vec<Key>),
    /// A table whose rows live in the session's memory: nothing a file can keep.
    InMemory(String),
}

/// Names are kept as DataFusion resolves unquoted identifiers: in lower case.
fn name(object: &impl std::fmt::Display) -> String {
    let text = object.to_string();
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(quoted) => quoted.to_string(),
        None => text.to_lowercase(),
    }
}

/// How `statement` changes a catalog, if it does.
pub fn change(statement: &Statement) -> Option<Change> {
    match statement {
        Statement::CreateExternalTable(table) => Some(Change::Define {
            key: Key::Table(name(&table.name)),
            if_absent: table.if_not_exists,
        }),
        Statement::Reset(rask::ResetStatement::Variable(variable)) => {
            Some(Change::Remove(vec![Key::Setting(name(variable))]))
        }
        Statement::Statement(statement) => match statement.as_ref() {
            SqlStatement::CreateView(view) => Some(Change::Define {
                key: Key::Table(name(&view.name)),
                if_absent: view.if_not_exists,
            }),
            SqlStatement::CreateTable(table) => Some(Change::InMemory(name(&table.name))),
            SqlStatement::Drop {
                object_type: ObjectType::Table | ObjectType::View,
                names,
                ..
            } => Some(Change::Remove(
                names.iter().map(|n| Key::Table(name(n))).collect(),
            )),
            SqlStatement::Set(Set::SingleAssignment { variable, .. }) => Some(Change::Define {
                key: Key::Setting(name(variable)),
                if_absent: false,
            }),
            _ => None,
        },
        _ => None,
    }
}

/// A catalog file and the definitions it keeps, in the order they were made.
pub struct Db {
    path: PathBuf,
    entries: Vec<(Key, String)>,
}

const HEADER: &str = "-- Rask catalog: the views, external tables and settings of `query --db`,\n\
                      -- run in this order when it is opened. Their data stays in their files.\n";

impl Db {
    /// Opens the catalog at `path` (a file not there yet is created by the first definition)
    /// and defines what it keeps in `session`. A definition that fails (its files are gone,
    /// say) is reported as a warning and kept.
    pub async fn open(path: &Path, session: &Session) -> Result<Db> {
        // A catalog that could never be written is refused now, not after a definition.
        let folder = match path.parent() {
            Some(folder) if !folder.as_os_str().is_empty() => folder,
            _ => Path::new("."),
        };
        if !folder.is_dir() {
            return Err(Error::input(format!(
                "cannot open catalog '{}': folder '{}' does not exist",
                path.display(),
                folder.display()
            )));
        }
        let mut db = Db {
            path: path.to_path_buf(),
            entries: Vec::new(),
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(db),
            Err(e) => {
                return Err(Error::input(format!(
                    "cannot read catalog '{}': {e}",
                    path.display()
                )))
            }
        };
        let statements = session
            .parse_with_text(&text)
            .map_err(|e| e.context(format!("catalog '{}'", path.display())))?;
        // A view may read a table defined after it, once that was replaced: what fails is
        // tried again while something else succeeds.
        let mut pending = statements;
        loop {
            let mut failed = Vec::new();
            let mut errors = Vec::new();
            let before = pending.len();
            for (statement, text) in pending {
                let Some(Change::Define { key, .. }) = change(&statement) else {
                    continue;
                };
                match run(session, statement.clone()).await {
                    Ok(()) => db.entries.push((key, text)),
                    Err(error) => {
                        errors.push(error);
                        failed.push((statement, text));
                    }
                }
            }
            if failed.is_empty() || failed.len() == before {
                for ((statement, text), error) in failed.into_iter().zip(errors) {
                    eprintln!("warning: catalog '{}': {}", path.display(), error.message());
                    if let Some(Change::Define { key, .. }) = change(&statement) {
                        db.entries.push((key, text));
                    }
                }
                return Ok(db);
            }
            pending = failed;
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps what a statement that succeeded, written as `text`, changed.
    pub fn record(&mut self, change: Change, text: &str) -> Result<()> {
        match change {
            Change::Define { key, if_absent } => {
                if if_absent && self.entries.iter().any(|(k, _)| *k == key) {
                    return Ok(());
                }
                self.entries.retain(|(k, _)| *k != key);
                self.entries.push((key, text.trim().to_string()));
            }
            Change::Remove(keys) => self.entries.retain(|(k, _)| !keys.contains(k)),
            Change::InMemory(table) => {
                eprintln!(
                    "note: table '{table}' is held in memory and is not kept in '{}' \
                     (an external table or a view over files would be)",
                    self.path.display()
                );
                return Ok(());
            }
        }
        self.save()
    }

    /// The tables the catalog defines, to remove from a session it no longer serves.
    pub fn tables(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().filter_map(|(key, _)| match key {
            Key::Table(name) => Some(name.as_str()),
            Key::Setting(_) => None,
        })
    }

    fn save(&self) -> Result<()> {
        let cannot = |e: std::io::Error| {
            Error::output(format!(
                "cannot write catalog '{}': {e}",
                self.path.display()
            ))
        };
        let mut text = String::from(HEADER);
        for (_, statement) in &self.entries {
            text.push_str(statement);
            text.push_str(";\n");
        }
        let mut staged = self.path.clone().into_os_string();
        staged.push(".tmp");
        let staged = PathBuf::from(staged);
        let mut file = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&staged)
                .map_err(cannot)?
        };
        file.write_all(text.as_bytes()).map_err(cannot)?;
        file.sync_all().map_err(cannot)?;
        std::fs::rename(&staged, &self.path).map_err(cannot)
    }
}

async fn run(session: &Session, statement: Statement) -> Result<()> {
    session.execute(statement).await?.collect().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(sql: &str) -> Vec<Option<Change>> {
        let session = Session::new().unwrap();
        session.parse(sql).unwrap().iter().map(change).collect()
    }

    #[test]
    fn definitions_drops_and_settings_are_told_apart() {
        let table = |name: &str| Key::Table(name.into());
        assert_eq!(
            changes(
                "CREATE VIEW Sales AS SELECT 1; CREATE EXTERNAL TABLE IF NOT EXISTS \"Raw\" STORED AS CSV LOCATION 'x.csv'; \
                 DROP VIEW a, b; SET datafusion.execution.batch_size = 100; RESET datafusion.execution.batch_size; \
                 CREATE TABLE t AS SELECT 1; SELECT 1; DROP FUNCTION f"
            ),
            [
                Some(Change::Define { key: table("sales"), if_absent: false }),
                Some(Change::Define { key: table("Raw"), if_absent: true }),
                Some(Change::Remove(vec![table("a"), table("b")])),
                Some(Change::Define {
                    key: Key::Setting("datafusion.execution.batch_size".into()),
                    if_absent: false
                }),
                Some(Change::Remove(vec![Key::Setting("datafusion.execution.batch_size".into())])),
                Some(Change::InMemory("t".into())),
                None,
                None,
            ]
        );
    }
}
