//! Runs every `.slt` file of `test_files/` through a rask session, and the whole suite again
//! on a local cluster of two worker processes.

mod cluster;

use std::path::{Path, PathBuf};
use std::sync::Once;

use rask_sqllogictests::{test_session, RaskDb};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The `.slt` files name fixtures as `testdata/..`, relative to the workspace root.
pub(crate) fn enter_workspace_root() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| std::env::set_current_dir(workspace_root()).unwrap());
}

pub(crate) fn slt_path(name: &str) -> PathBuf {
    workspace_root()
        .join("sqllogictests/test_files")
        .join(format!("{name}.slt"))
}

async fn run(name: &str) {
    enter_workspace_root();
    let path = slt_path(name);
    let mut runner = sqllogictest::Runner::new(|| async { Ok(RaskDb::new(test_session()?)) });
    if let Err(error) = runner.run_file_async(&path).await {
        panic!("{}\n{error}", path.display());
    }
}

macro_rules! slt_files {
    ($($name:ident),* $(,)?) => {
        pub(crate) const LISTED: &[&str] = &[$(stringify!($name)),*];
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                run(stringify!($name)).await;
            }
        )*
    };
}

slt_files!(
    select,
    aggregate,
    join,
    window,
    timestamp,
    files,
    table_functions,
    timeseries,
    ddl,
    errors,
    integer_overflow,
    casts,
    decimals,
    engine_differences,
    set_operations,
    full_join,
    type_errors,
    output_names,
);

#[test]
fn every_slt_file_is_run() {
    let dir = workspace_root().join("sqllogictests/test_files");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut listed: Vec<String> = LISTED.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(found, listed, "list every .slt file in slt_files!");
}
