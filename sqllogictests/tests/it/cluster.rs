//! The whole suite on a `LocalCluster` of two worker processes: the same files, the same
//! expected results, except for the statements listed in [`LOCAL_ONLY`].

use std::time::Duration;

use rask::cluster::LocalCluster;
use rask_sqllogictests::{cluster_session, RaskDb};
use sqllogictest::{DefaultColumnType, Record};

use crate::{enter_workspace_root, slt_path, LISTED};

/// Statements that cannot run on a cluster, by a fragment of their SQL, with the reason; the
/// records holding them (and those that read what they create) are skipped in the cluster run.
const LOCAL_ONLY: &[(&str, &str)] = &[
    (
        "EXPLAIN ",
        "the plan text differs: a cluster shows Ballista's distributed stages",
    ),
    (
        "per_product",
        "CREATE TABLE AS keeps its rows in the client's memory, which the workers cannot read \
         (refused with a clear error instead)",
    ),
    (
        "testdata/compressed/",
        "DataFusion 55 does not send a file's compression to the workers (refused with a clear \
         error instead)",
    ),
];

/// The suite must finish within this; a hang fails instead of blocking CI.
const SUITE_TIMEOUT: Duration = Duration::from_secs(600);

fn local_only(sql: &str) -> bool {
    LOCAL_ONLY
        .iter()
        .any(|(fragment, _)| sql.contains(fragment))
}

/// Runs one file on the cluster; returns its failures.
async fn run_on(url: &str, name: &str) -> Vec<String> {
    let path = slt_path(name);
    let records = sqllogictest::parse_file::<DefaultColumnType>(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let url = url.to_string();
    let mut runner = sqllogictest::Runner::new(move || {
        let url = url.clone();
        async move { Ok(RaskDb::new(cluster_session(&url).await?)) }
    });
    let mut failures = Vec::new();
    for record in records {
        let skipped = match &record {
            Record::Statement { sql, .. } | Record::Query { sql, .. } => local_only(sql),
            _ => false,
        };
        if skipped {
            continue;
        }
        if let Err(error) = runner.run_async(record).await {
            failures.push(format!("{}: {error}", path.display()));
        }
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suite_on_a_local_cluster_of_two_workers() {
    enter_workspace_root();
    let cluster = LocalCluster::start(2, 2, None).await.unwrap();
    let suite = async {
        let mut failures = Vec::new();
        for name in LISTED {
            failures.extend(run_on(cluster.url(), name).await);
        }
        failures
    };
    let Ok(failures) = tokio::time::timeout(SUITE_TIMEOUT, suite).await else {
        panic!("the suite did not finish on the cluster within {SUITE_TIMEOUT:?}");
    };
    assert!(
        failures.is_empty(),
        "{} record(s) differ on the cluster:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
