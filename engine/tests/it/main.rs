//! The embedded API: sessions, SQL, file tables, errors and sinks, checked against the
//! fixtures' known answers (see `testdata/README.md`).

mod arithmetic;
mod cache;
mod execution;
mod frame;
mod fuzz;
mod partitions;
mod semantics;
mod tpch;
mod visual;

use std::path::{Path, PathBuf};

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, Int64Type};
use rask::{ErrorKind, Session};

pub fn testdata(path: &str) -> String {
    let root: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("testdata");
    root.join(path).display().to_string()
}

async fn rows(session: &Session, sql: &str) -> Vec<RecordBatch> {
    session.sql(sql).await.unwrap().collect().await.unwrap()
}

fn single_i64(batches: &[RecordBatch], column: usize) -> i64 {
    batches[0]
        .column(column)
        .as_primitive::<Int64Type>()
        .value(0)
}

fn single_f64(batches: &[RecordBatch], column: usize) -> f64 {
    batches[0]
        .column(column)
        .as_primitive::<Float64Type>()
        .value(0)
}

#[tokio::test]
async fn sql_over_a_glob() {
    let session = Session::new().unwrap();
    let sql = format!(
        "SELECT count(*), sum(qty), sum(qty * price) FROM '{}'",
        testdata("sales/part_*.csv")
    );
    let batches = rows(&session, &sql).await;
    assert_eq!(single_i64(&batches, 0), 10);
    assert_eq!(single_i64(&batches, 1), 38);
    assert_eq!(single_f64(&batches, 2), 86.5);
}

#[tokio::test]
async fn registered_files_and_scripts_compose() {
    let session = Session::builder().partitions(2).build().unwrap();
    assert_eq!(session.partitions(), 2);
    session
        .register_files("sales", &testdata("sales/part_*.csv"))
        .await
        .unwrap();
    let batches = rows(
        &session,
        "CREATE VIEW north AS SELECT * FROM sales WHERE region = 'north'; SELECT sum(qty) FROM north",
    )
    .await;
    assert_eq!(single_i64(&batches, 0), 17);
}

#[tokio::test]
async fn timeseries_values_do_not_depend_on_partitions() {
    let sql = "SELECT sum(x), sum(id), count(*) FROM timeseries('2000-01-01', '2000-01-04', '1min', seed => 11)";
    let mut sums = Vec::new();
    for partitions in [1, 3, 8] {
        let session = Session::builder().partitions(partitions).build().unwrap();
        let batches = rows(&session, sql).await;
        assert_eq!(
            batches[0].column(2).as_primitive::<Int64Type>().value(0),
            3 * 1440
        );
        sums.push((single_f64(&batches, 0), single_i64(&batches, 1)));
    }
    // Floating-point sums may differ in the last bits with the order of addition.
    for (x, id) in &sums[1..] {
        assert!((x - sums[0].0).abs() < 1e-9, "{sums:?}");
        assert_eq!(*id, sums[0].1);
    }
}

#[tokio::test]
async fn errors_have_kinds() {
    let session = Session::new().unwrap();
    let kind = |sql: String| {
        let session = session.clone();
        async move {
            match session.sql(&sql).await {
                Ok(frame) => frame.collect().await.unwrap_err().kind(),
                Err(e) => e.kind(),
            }
        }
    };
    assert_eq!(kind("SELEC 1".into()).await, ErrorKind::Syntax);
    assert_eq!(kind("SELECT * FROM nowhere".into()).await, ErrorKind::Plan);
    assert_eq!(
        kind(format!("SELECT * FROM '{}'", testdata("nothing_*.csv"))).await,
        ErrorKind::Plan
    );
    assert_eq!(
        kind(format!(
            "SELECT sum(v) FROM '{}'",
            testdata("bad/bad_value.csv")
        ))
        .await,
        ErrorKind::Input
    );
}

#[tokio::test]
async fn sinks_write_atomically() {
    let session = Session::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.parquet");
    let frame = session
        .sql(&format!(
            "SELECT * FROM '{}' ORDER BY id",
            testdata("sales/part_*.csv")
        ))
        .await
        .unwrap();
    let written = rask::sink::write_file(frame.execute_stream().await.unwrap(), &target)
        .await
        .unwrap();
    assert_eq!(written, 10);
    let batches = rows(
        &session,
        &format!("SELECT count(*), sum(qty) FROM '{}'", target.display()),
    )
    .await;
    assert_eq!((single_i64(&batches, 0), single_i64(&batches, 1)), (10, 38));

    let failing = session
        .sql(&format!(
            "SELECT * FROM '{}'",
            testdata("bad/bad_value.csv")
        ))
        .await
        .unwrap();
    let err = rask::sink::write_file(failing.execute_stream().await.unwrap(), &target)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("bad_value.csv:10052"), "{err}");
    let batches = rows(
        &session,
        &format!("SELECT count(*) FROM '{}'", target.display()),
    )
    .await;
    assert_eq!(single_i64(&batches, 0), 10, "the earlier file is intact");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_rises_to_the_known_total() {
    let session = Session::new().unwrap();
    let frame = session
        .sql("SELECT name, avg(x) FROM timeseries('2000-01-01', '2000-01-03', '1s') GROUP BY name")
        .await
        .unwrap();
    let (mut stream, progress) = frame.execute_stream_with_progress().await.unwrap();
    assert_eq!(progress.total_rows(), Some(2 * 86_400));
    let start = progress.fraction().unwrap();
    assert!((0.0..=1.0).contains(&start), "{start}");
    while let Some(batch) = stream.next_batch().await {
        batch.unwrap();
    }
    assert_eq!(progress.rows_read(), 2 * 86_400);
    assert_eq!(progress.fraction(), Some(1.0));

    // CSV totals are estimated from the file sizes and the first lines' length.
    let csv = session
        .sql(&format!(
            "SELECT * FROM '{}'",
            testdata("bad/bad_value.csv")
        ))
        .await
        .unwrap()
        .filter(rask::col("id").lt(rask::lit(0)))
        .unwrap();
    let (_, progress) = csv.execute_stream_with_progress().await.unwrap();
    let estimate = progress.total_rows().unwrap() as f64;
    assert!(
        (estimate / 10_051.0 - 1.0).abs() < 0.2,
        "estimated {estimate} rows"
    );
}
