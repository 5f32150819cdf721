//! Every way of running a frame takes the same path: a malformed CSV value is named by file
//! and line whichever entry point meets it, and each run is an entry of the session's query
//! log that ends as finished, failed or cancelled.

use std::future::Future;
use std::pin::Pin;

use rask::sink::ParquetSink;
use rask::{col, lit, DataFrame, QueryState, Result, Session};

use super::testdata;

/// The place of the one bad value of `bad/bad_value.csv` ('abc' in an Int64 column).
const BAD_LINE: &str = "bad_value.csv:10052";

type Run = fn(DataFrame, &Session, &std::path::Path) -> Pin<Box<dyn Future<Output = Result<()>>>>;

/// A frame that must read the bad value: the filter needs column `v` parsed.
async fn bad_frame(session: &Session) -> DataFrame {
    session
        .sql(&format!(
            "SELECT * FROM '{}'",
            testdata("bad/bad_value.csv")
        ))
        .await
        .unwrap()
        .filter(col("v").gt(lit(0)))
        .unwrap()
}

fn entry_points() -> Vec<(&'static str, Run)> {
    vec![
        ("collect", |f, _, _| {
            Box::pin(async { f.collect().await.map(drop) })
        }),
        ("compute", |f, _, _| {
            Box::pin(async { f.compute().await.map(drop) })
        }),
        ("head", |f, _, _| {
            Box::pin(async { f.head(20_000).await.map(drop) })
        }),
        ("len", |f, _, _| Box::pin(async { f.len().await.map(drop) })),
        ("to_parquet", |f, _, dir| {
            let out = dir.join("out");
            Box::pin(async move { f.to_parquet(&out, &ParquetSink::default()).await.map(drop) })
        }),
        ("to_csv per partition", |f, _, dir| {
            let out = dir.join("part-*.csv");
            Box::pin(async move { f.to_csv(&out).await.map(drop) })
        }),
        ("to_json", |f, _, dir| {
            let out = dir.join("out.ndjson");
            Box::pin(async move { f.to_json(&out).await.map(drop) })
        }),
        ("persist", |f, _, _| {
            Box::pin(async { f.persist().await.map(drop) })
        }),
        ("set_index", |f, _, _| {
            Box::pin(async { f.set_index("v", false).await.map(drop) })
        }),
        ("repartition_by_size", |f, _, _| {
            Box::pin(async { f.repartition_by_size(1 << 20).await.map(drop) })
        }),
        ("describe", |f, _, _| {
            Box::pin(async { f.describe().await.map(drop) })
        }),
        ("explain analyze", |f, _, _| {
            Box::pin(async { f.explain(true).await.map(drop) })
        }),
        ("compute_with_report", |f, _, dir| {
            let out = dir.join("report.html");
            Box::pin(async move { f.compute_with_report(&out).await.map(drop) })
        }),
        ("session.compute", |f, session, _| {
            let session = session.clone();
            Box::pin(async move { session.compute(vec![f.clone(), f]).await.map(drop) })
        }),
        ("explain_compute analyze", |f, session, _| {
            let session = session.clone();
            Box::pin(async move { session.explain_compute(vec![f], true).await.map(drop) })
        }),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_entry_point_names_the_bad_line_and_logs_the_failure() {
    for (name, run) in entry_points() {
        let session = Session::builder().partitions(2).build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let frame = bad_frame(&session).await;
        let error = run(frame, &session, dir.path()).await.unwrap_err();
        assert!(error.to_string().contains(BAD_LINE), "{name}: {error}");
        let failed: Vec<String> = session
            .queries()
            .queries()
            .iter()
            .filter_map(|q| match q.state() {
                QueryState::Failed(message, _) => Some(message),
                _ => None,
            })
            .collect();
        assert!(
            failed.iter().any(|m| m.contains(BAD_LINE)),
            "{name}: no failed query in the log names the line: {failed:?}"
        );
        assert!(
            session
                .queries()
                .queries()
                .iter()
                .all(|q| !q.state().is_running()),
            "{name}: a query is still running after the failure"
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "{name}: a failed write left files behind"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn successful_runs_are_logged_as_finished() {
    let session = Session::builder().partitions(2).build().unwrap();
    let sales = session
        .read_csv(&testdata("sales/part_*.csv"), Default::default())
        .await
        .unwrap();
    // 10 rows, 38 items sold (testdata/README.md).
    assert_eq!(sales.clone().len().await.unwrap(), 10);
    let first: usize = sales
        .clone()
        .head(3)
        .await
        .unwrap()
        .iter()
        .map(|b| b.num_rows())
        .sum();
    assert_eq!(first, 3);
    let persisted = sales.persist().await.unwrap();
    assert_eq!(persisted.len().await.unwrap(), 10);

    let log = session.queries().queries();
    let labels: Vec<&str> = log.iter().map(|q| q.sql()).collect();
    assert_eq!(log.len(), 4, "{labels:?}");
    assert!(labels[0].starts_with("len: "), "{labels:?}");
    assert!(labels[1].starts_with("head(3): "), "{labels:?}");
    assert!(labels[2].starts_with("persist: "), "{labels:?}");
    for query in &log {
        // head stops reading early, yet its result is complete: finished, not cancelled.
        assert!(
            matches!(query.state(), QueryState::Finished(_)),
            "{}: {:?}",
            query.sql(),
            query.state()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_stream_is_logged_as_cancelled() {
    let session = Session::new().unwrap();
    let stream = session
        .sql("SELECT * FROM timeseries('2000-01-01', '2000-01-03', '1s')")
        .await
        .unwrap()
        .execute_stream()
        .await
        .unwrap();
    let query = std::sync::Arc::clone(stream.query());
    assert!(query.state().is_running());
    drop(stream);
    assert!(
        matches!(query.state(), QueryState::Cancelled(_)),
        "{:?}",
        query.state()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persist_beyond_the_limit_is_a_failed_query() {
    let session = Session::builder().memory_limit(64 * 1024).build().unwrap();
    let frame = session
        .sql("SELECT * FROM timeseries('2000-01-01', '2000-01-02', '1s')")
        .await
        .unwrap();
    let error = frame.persist().await.unwrap_err();
    assert_eq!(error.kind(), rask::ErrorKind::Memory, "{error}");
    let latest = session.queries().latest().unwrap();
    assert!(latest.sql().starts_with("persist: "), "{}", latest.sql());
    match latest.state() {
        QueryState::Failed(message, _) => assert!(message.contains("does not fit"), "{message}"),
        other => panic!("persist ended as {other:?}"),
    }
}
