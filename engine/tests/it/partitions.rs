//! Dask's partition semantics: map_partitions, apply, repartition, set_index and divisions,
//! loc pruning, resample, rolling, persist and compute of several frames. Expected values
//! come from the rows the tests write themselves; pruning and single scans are proven by
//! the scans' row counts in `EXPLAIN ANALYZE`.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use rask::prelude::*;
use rask::{ErrorKind, How, ReadOptions};

/// Row `i` of the test files: id `i`, value `(i * 37) % 101` (a scrambled order), category
/// `"c{i % 3}"`, and a timestamp `i` hours after 2024-01-01.
fn value_of(i: i64) -> f64 {
    ((i * 37) % 101) as f64
}

/// Writes ids `first..first + rows` to `name` in `dir`.
fn write_part(dir: &Path, name: &str, ids: std::ops::Range<i64>) {
    let mut text = String::from("id,value,category,timestamp\n");
    for i in ids {
        let hours = i;
        text.push_str(&format!(
            "{i},{:.1},c{},2024-01-{:02}T{:02}:00:00\n",
            value_of(i),
            i % 3,
            1 + hours / 24,
            hours % 24
        ));
    }
    std::fs::write(dir.join(name), text).unwrap();
}

/// Four files of 25 rows each, ids 0..100 in order.
fn four_parts() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for part in 0..4 {
        write_part(
            dir.path(),
            &format!("part_{part}.csv"),
            part * 25..(part + 1) * 25,
        );
    }
    dir
}

async fn read(session: &Session, dir: &Path) -> DataFrame {
    session
        .read_csv(
            &format!("{}/part_*.csv", dir.display()),
            ReadOptions::default(),
        )
        .await
        .unwrap()
}

fn one_batch(table: &rask::Table) -> RecordBatch {
    concat_batches(&table.schema, &table.batches).unwrap()
}

fn i64s(batch: &RecordBatch, column: &str) -> Vec<i64> {
    let array = batch.column_by_name(column).unwrap();
    array.as_primitive::<Int64Type>().values().to_vec()
}

fn f64s(batch: &RecordBatch, column: &str) -> Vec<Option<f64>> {
    let array = batch.column_by_name(column).unwrap();
    array.as_primitive::<Float64Type>().iter().collect()
}

/// Rows each scan of an `EXPLAIN ANALYZE` text produced (DataSourceExec lines).
fn scanned_rows(explained: &str) -> Vec<usize> {
    explained
        .lines()
        .filter(|line| line.contains("DataSourceExec"))
        .map(|line| {
            let start = line.find("output_rows=").expect("scan metrics") + "output_rows=".len();
            line[start..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect::<String>()
                .parse()
                .unwrap()
        })
        .collect()
}

/// A frame's rows as printed (an EXPLAIN's plans).
async fn printed(frame: DataFrame) -> String {
    rask::pretty_format(&frame.collect().await.unwrap()).unwrap()
}

fn len_of_partition(part: RecordBatch) -> Result<RecordBatch> {
    let len: ArrayRef = Arc::new(Int64Array::from(vec![part.num_rows() as i64]));
    Ok(RecordBatch::try_from_iter(vec![("len", len)])?)
}

#[tokio::test]
async fn map_partitions_runs_once_per_partition_and_shows_in_the_plan() {
    let session = Session::new().unwrap();
    let x: ArrayRef = Arc::new(Int64Array::from_iter_values(1..=10));
    let frame = session.from_columns(vec![("x", x)], 3).unwrap();
    let sizes = frame
        .clone()
        .map_partitions("len", len_of_partition, None)
        .unwrap();
    assert_eq!(sizes.columns(), ["len"]);
    let plan = sizes.clone().explain(false).await.unwrap();
    assert!(plan.contains("MapPartitions: func=len"), "{plan}");
    assert!(
        plan.contains("MapPartitionsExec: func=len, partitions=3"),
        "{plan}"
    );
    let mut lens = i64s(&one_batch(&sizes.compute().await.unwrap()), "len");
    lens.sort_unstable();
    // from_columns splits 10 rows into ceil(10 / 3) = 4 per partition.
    assert_eq!(lens, [2, 4, 4]);

    let repartitioned = frame.repartition(5).unwrap();
    assert_eq!(repartitioned.npartitions().await.unwrap(), 5);
    let lens = i64s(
        &one_batch(
            &repartitioned
                .map_partitions("len", len_of_partition, None)
                .unwrap()
                .compute()
                .await
                .unwrap(),
        ),
        "len",
    );
    assert_eq!(lens.len(), 5);
    assert_eq!(lens.iter().sum::<i64>(), 10);
}

/// The tutorial's `custom_processing`: `A_squared = A ** 2`, `B_log = log1p(|B|)`.
fn custom_processing(part: RecordBatch) -> Result<RecordBatch> {
    let a = part
        .column_by_name("A")
        .unwrap()
        .as_primitive::<Float64Type>();
    let b = part
        .column_by_name("B")
        .unwrap()
        .as_primitive::<Float64Type>();
    let squared: Float64Array = a.iter().map(|v| v.map(|v| v * v)).collect();
    let logs: Float64Array = b.iter().map(|v| v.map(|v| v.abs().ln_1p())).collect();
    let mut columns: Vec<(&str, ArrayRef)> =
        vec![("A", part.column(0).clone()), ("B", part.column(1).clone())];
    columns.push(("A_squared", Arc::new(squared)));
    columns.push(("B_log", Arc::new(logs)));
    Ok(RecordBatch::try_from_iter(columns)?)
}

fn a_b_frame(session: &Session) -> (Vec<f64>, Vec<f64>, DataFrame) {
    let a: Vec<f64> = (0..20).map(|i| i as f64 * 0.5 - 3.0).collect();
    let b: Vec<f64> = (0..20).map(|i| (i * 7 % 11) as f64 - 5.0).collect();
    let frame = session
        .from_columns(
            vec![
                ("A", Arc::new(Float64Array::from(a.clone())) as ArrayRef),
                ("B", Arc::new(Float64Array::from(b.clone())) as ArrayRef),
            ],
            4,
        )
        .unwrap();
    (a, b, frame)
}

#[tokio::test]
async fn map_partitions_adds_columns_with_inferred_or_given_meta() {
    let session = Session::new().unwrap();
    let (a, b, frame) = a_b_frame(&session);
    let processed = frame
        .clone()
        .map_partitions("custom_processing", custom_processing, None)
        .unwrap();
    assert_eq!(processed.columns(), ["A", "B", "A_squared", "B_log"]);
    let batch = one_batch(
        &processed
            .sort_values(&["A"], true)
            .unwrap()
            .compute()
            .await
            .unwrap(),
    );
    for (i, (a, b)) in a.iter().zip(&b).enumerate() {
        assert_eq!(f64s(&batch, "A_squared")[i], Some(a * a));
        assert!((f64s(&batch, "B_log")[i].unwrap() - b.abs().ln_1p()).abs() < 1e-12);
    }

    let wrong_meta = Arc::new(Schema::new(vec![Field::new("A", DataType::Float64, true)]));
    let error = frame
        .clone()
        .map_partitions("custom_processing", custom_processing, Some(wrong_meta))
        .unwrap()
        .compute()
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("'custom_processing' returned [A: Float64, B: Float64, A_squared"),
        "{error}"
    );

    let needs_rows = |part: RecordBatch| -> Result<RecordBatch> {
        if part.num_rows() == 0 {
            return Err(Error::execution("empty partition"));
        }
        Ok(part)
    };
    let error = frame
        .map_partitions("needs_rows", needs_rows, None)
        .unwrap_err();
    assert!(error.to_string().contains("pass meta"), "{error}");
}

#[tokio::test]
async fn per_partition_aggregation_and_named_functions() {
    let session = Session::new().unwrap();
    let (a, _, frame) = a_b_frame(&session);
    let custom_agg = |part: RecordBatch| -> Result<RecordBatch> {
        let values: Vec<f64> = part
            .column(0)
            .as_primitive::<Float64Type>()
            .values()
            .to_vec();
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let min = values.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let column = |v: f64| Arc::new(Float64Array::from(vec![v])) as ArrayRef;
        Ok(RecordBatch::try_from_iter(vec![
            ("mean", column(mean)),
            ("std", column(std)),
            ("min", column(min)),
            ("max", column(max)),
        ])?)
    };
    session.register_partition_function("custom_agg", custom_agg);
    let stats = frame
        .clone()
        .map_partitions_by_name("custom_agg", None)
        .unwrap()
        .sort_values(&["min"], true)
        .unwrap()
        .compute()
        .await
        .unwrap();
    let batch = one_batch(&stats);
    assert_eq!(batch.num_rows(), 4);
    // 20 rows in 4 partitions of 5 consecutive A values each.
    for (p, chunk) in a.chunks(5).enumerate() {
        let mean = chunk.iter().sum::<f64>() / 5.0;
        let std = (chunk.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 4.0).sqrt();
        assert!((f64s(&batch, "mean")[p].unwrap() - mean).abs() < 1e-12);
        assert!((f64s(&batch, "std")[p].unwrap() - std).abs() < 1e-12);
        assert_eq!(f64s(&batch, "min")[p], Some(chunk[0]));
        assert_eq!(f64s(&batch, "max")[p], Some(chunk[4]));
    }
    let error = frame.map_partitions_by_name("nowhere", None).unwrap_err();
    assert!(error
        .to_string()
        .contains("no partition function is registered as 'nowhere'"));
}

#[tokio::test]
async fn apply_computes_a_column_row_by_row() {
    let session = Session::new().unwrap();
    let (a, b, frame) = a_b_frame(&session);
    let with_product = frame
        .apply(
            "A_times_B",
            |row| Ok(ScalarValue::from(row.f64("A") * row.f64("B"))),
            DataType::Float64,
        )
        .unwrap();
    assert_eq!(with_product.columns(), ["A", "B", "A_times_B"]);
    let batch = one_batch(
        &with_product
            .sort_values(&["A"], true)
            .unwrap()
            .compute()
            .await
            .unwrap(),
    );
    let expected: Vec<Option<f64>> = a.iter().zip(&b).map(|(a, b)| Some(a * b)).collect();
    assert_eq!(f64s(&batch, "A_times_B"), expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn sorted_files_give_known_divisions_and_loc_reads_only_overlapping_files() {
    let dir = four_parts();
    let session = Session::new().unwrap();
    let frame = read(&session, dir.path()).await;
    assert!(!frame.known_divisions());
    let indexed = frame.clone().set_index("id", true).await.unwrap();
    assert!(indexed.known_divisions());
    assert_eq!(indexed.npartitions().await.unwrap(), 4);
    let divisions: Vec<ScalarValue> = [0i64, 25, 50, 75, 99].map(ScalarValue::from).to_vec();
    assert_eq!(indexed.divisions().unwrap(), divisions);
    let structure = indexed.to_string();
    assert!(structure.contains("npartitions=4\n"), "{structure}");
    assert!(
        structure.contains("index=id, divisions=[0, 25, 50, 75, 99]"),
        "{structure}"
    );

    let selected = indexed
        .clone()
        .loc(Some(30i64.into()), Some(40i64.into()))
        .unwrap();
    let batch = one_batch(&selected.clone().compute().await.unwrap());
    assert_eq!(i64s(&batch, "id"), (30..=40).collect::<Vec<_>>());
    let explained = selected.explain(true).await.unwrap();
    // Only part_1.csv (ids 25..50) is read.
    assert_eq!(scanned_rows(&explained), [25], "{explained}");

    // SQL over the frame registered as a table prunes the same way.
    session.register_frame("indexed", &indexed).unwrap();
    let explained = printed(
        session
            .sql("EXPLAIN ANALYZE SELECT count(*) FROM indexed WHERE id BETWEEN 30 AND 40")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(scanned_rows(&explained), [25], "{explained}");

    // A range across two files reads those two; the whole frame all four.
    let across = indexed
        .clone()
        .loc(Some(70i64.into()), Some(80i64.into()))
        .unwrap();
    assert_eq!(across.npartitions().await.unwrap(), 2);
    let explained = across.explain(true).await.unwrap();
    assert_eq!(scanned_rows(&explained), [25, 25]);
    let filtered = indexed.filter(col("id").gt(lit(90i64))).unwrap();
    let explained = filtered.explain(true).await.unwrap();
    assert_eq!(scanned_rows(&explained), [25]);

    // Overlapping files are not sorted: refused with the two boundaries.
    write_part(dir.path(), "part_4.csv", 60..70);
    let error = read(&session, dir.path())
        .await
        .set_index("id", true)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("not sorted on 'id'"), "{error}");
}

#[tokio::test]
async fn set_index_sorts_into_ranges_computed_from_quantiles_in_one_scan() {
    let dir = four_parts();
    let session = Session::builder().partitions(4).build().unwrap();
    let indexed = read(&session, dir.path())
        .await
        .set_index("value", false)
        .await
        .unwrap();
    let divisions = indexed.divisions().unwrap();
    assert!(divisions.len() >= 3, "{divisions:?}");
    assert_eq!(divisions.first(), Some(&ScalarValue::from(0.0)));
    assert_eq!(divisions.last(), Some(&ScalarValue::from(100.0)));
    let partitions = indexed.npartitions().await.unwrap();
    assert_eq!(partitions, divisions.len() - 1);

    // Each partition is sorted and inside its range; together they hold every row once.
    let identity = indexed
        .clone()
        .map_partitions("identity", Ok, None)
        .unwrap();
    let per_partition = identity.compute().await.unwrap();
    let mut seen: Vec<f64> = Vec::new();
    for batch in &per_partition.batches {
        let values: Vec<f64> = f64s(batch, "value").into_iter().flatten().collect();
        assert!(values.windows(2).all(|w| w[0] <= w[1]), "{values:?}");
        seen.extend(values);
    }
    let mut expected: Vec<f64> = (0..100).map(value_of).collect();
    expected.sort_by(f64::total_cmp);
    seen.sort_by(f64::total_cmp);
    assert_eq!(seen, expected);

    let explained = indexed.clone().explain(true).await.unwrap();
    assert_eq!(scanned_rows(&explained), [100], "{explained}");

    // Text is split at the running count of its sorted distinct values: c0 (34 rows) alone,
    // then c1 and c2 (33 each).
    let by_category = read(&session, dir.path())
        .await
        .set_index("category", false)
        .await
        .unwrap();
    let text = |v: &str| ScalarValue::Utf8(Some(v.to_string()));
    assert_eq!(
        by_category.divisions().unwrap(),
        [text("c0"), text("c1"), text("c2")]
    );
    let lens = i64s(
        &one_batch(
            &by_category
                .map_partitions("len", len_of_partition, None)
                .unwrap()
                .compute()
                .await
                .unwrap(),
        ),
        "len",
    );
    assert_eq!(lens, [34, 66]);

    let low = indexed.loc(None, Some(10.0.into())).unwrap();
    let batch = one_batch(&low.compute().await.unwrap());
    let mut values: Vec<f64> = f64s(&batch, "value").into_iter().flatten().collect();
    values.sort_by(f64::total_cmp);
    let expected: Vec<f64> = expected.into_iter().filter(|v| *v <= 10.0).collect();
    assert_eq!(values, expected);
}

#[tokio::test]
async fn resample_bins_the_index_with_empty_bins_as_pandas() {
    let dir = tempfile::tempdir().unwrap();
    // Day 1: 2.0 and 4.0; day 2: nothing; day 3: 10.0.
    std::fs::write(
        dir.path().join("part_0.csv"),
        "timestamp,value\n2024-01-03T05:00:00,10.0\n2024-01-01T01:00:00,2.0\n2024-01-01T23:00:00,4.0\n",
    )
    .unwrap();
    let session = Session::new().unwrap();
    let indexed = read(&session, dir.path())
        .await
        .set_index("timestamp", false)
        .await
        .unwrap();
    let daily = indexed
        .clone()
        .resample("1D")
        .unwrap()
        .agg(&[
            ("value", "mean"),
            ("value", "count"),
            ("value", "sum"),
            ("value", "first"),
            ("value", "last"),
        ])
        .unwrap();
    assert_eq!(
        daily.columns(),
        [
            "timestamp",
            "value_mean",
            "value_count",
            "value_sum",
            "value_first",
            "value_last"
        ]
    );
    let batch = one_batch(&daily.compute().await.unwrap());
    let days: Vec<i64> = batch
        .column(0)
        .as_primitive::<datafusion::arrow::datatypes::TimestampNanosecondType>()
        .values()
        .to_vec();
    let day = 86_400_000_000_000i64;
    let first = 1_704_067_200_000_000_000i64;
    assert_eq!(days, [first, first + day, first + 2 * day]);
    assert_eq!(f64s(&batch, "value_mean"), [Some(3.0), None, Some(10.0)]);
    assert_eq!(i64s(&batch, "value_count"), [2, 0, 1]);
    assert_eq!(
        f64s(&batch, "value_sum"),
        [Some(6.0), Some(0.0), Some(10.0)]
    );
    assert_eq!(f64s(&batch, "value_first"), [Some(2.0), None, Some(10.0)]);
    assert_eq!(f64s(&batch, "value_last"), [Some(4.0), None, Some(10.0)]);

    let means = indexed.resample("12h").unwrap().mean(&["value"]).unwrap();
    let batch = one_batch(&means.compute().await.unwrap());
    // Bins from 01-01 00:00 to 01-03 00:00: 2.0 | 4.0 | - | - | 10.0
    assert_eq!(
        f64s(&batch, "value"),
        [Some(2.0), Some(4.0), None, None, Some(10.0)]
    );

    let unindexed = read(&session, dir.path()).await;
    let error = unindexed.resample("1D").unwrap_err();
    assert!(error.to_string().contains("set_index"), "{error}");
}

#[tokio::test]
async fn rolling_windows_over_rows_and_durations() {
    let dir = tempfile::tempdir().unwrap();
    write_part(dir.path(), "part_0.csv", 0..6);
    let session = Session::new().unwrap();
    let indexed = read(&session, dir.path())
        .await
        .set_index("timestamp", true)
        .await
        .unwrap();
    let values: Vec<f64> = (0..6).map(value_of).collect();
    let by_rows = indexed
        .clone()
        .rolling(3)
        .unwrap()
        .mean(&["value"])
        .unwrap();
    let batch = one_batch(&by_rows.compute().await.unwrap());
    let mut expected = vec![None, None];
    expected.extend(values.windows(3).map(|w| Some(w.iter().sum::<f64>() / 3.0)));
    assert_eq!(f64s(&batch, "value"), expected);

    // Rows are an hour apart: a 2h window holds this row and the one before, (t-2h, t].
    let by_span = indexed.rolling("2h").unwrap().sum(&["value"]).unwrap();
    let batch = one_batch(&by_span.compute().await.unwrap());
    let mut expected = vec![Some(values[0])];
    expected.extend(values.windows(2).map(|w| Some(w[0] + w[1])));
    assert_eq!(f64s(&batch, "value"), expected);
}

#[tokio::test]
async fn persisted_frames_do_not_read_their_files_again() {
    let dir = four_parts();
    let session = Session::new().unwrap();
    let indexed = read(&session, dir.path())
        .await
        .set_index("id", true)
        .await
        .unwrap()
        .persist()
        .await
        .unwrap();
    let logged = session.queries().latest().unwrap();
    assert!(logged.sql().starts_with("persist: "), "{}", logged.sql());
    assert_eq!(logged.state().name(), "finished");
    for part in 0..4 {
        std::fs::remove_file(dir.path().join(format!("part_{part}.csv"))).unwrap();
    }
    assert_eq!(indexed.divisions().unwrap().len(), 5);
    let total = indexed
        .clone()
        .agg(&[("value", &["sum", "count"])])
        .unwrap()
        .compute()
        .await
        .unwrap();
    let batch = one_batch(&total);
    let expected: f64 = (0..100).map(value_of).sum();
    assert_eq!(f64s(&batch, "value_sum"), [Some(expected)]);
    assert_eq!(i64s(&batch, "value_count"), [100]);
    let selected = indexed.loc(Some(10i64.into()), Some(12i64.into())).unwrap();
    let batch = one_batch(&selected.compute().await.unwrap());
    assert_eq!(i64s(&batch, "id"), [10, 11, 12]);
}

#[tokio::test]
async fn persist_refuses_a_frame_beyond_the_memory_limit() {
    let session = Session::builder().memory_limit(64 * 1024).build().unwrap();
    let frame = session
        .timeseries(
            rask::TimeseriesParams::new(None, Some("2000-01-03"), None, None, None).unwrap(),
        )
        .unwrap();
    let error = frame.persist().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Memory);
    let logged = session.queries().latest().unwrap();
    assert!(logged.sql().starts_with("persist: "), "{}", logged.sql());
    assert_eq!(logged.state().name(), "failed");
    assert!(
        error
            .to_string()
            .contains("persist: the frame does not fit in memory"),
        "{error}"
    );
}

#[tokio::test]
async fn compute_scans_a_shared_input_once() {
    let dir = four_parts();
    let session = Session::new().unwrap();
    let frame = read(&session, dir.path()).await;
    let mean = frame.clone().agg(&[("value", &["mean"])]).unwrap();
    let std = frame.clone().agg(&[("value", &["std"])]).unwrap();
    let positive = frame
        .clone()
        .filter(col("value").gt(lit(50.0)))
        .unwrap()
        .agg(&[("id", &["count"])])
        .unwrap();
    let explained = session
        .explain_compute(vec![mean.clone(), std.clone(), positive.clone()], true)
        .await
        .unwrap();
    assert_eq!(scanned_rows(&explained), [100], "{explained}");
    assert_eq!(
        explained.matches("SharedScanExec").count(),
        3,
        "{explained}"
    );

    let logged = session.queries().queries().len();
    let results = session.compute(vec![mean, std, positive]).await.unwrap();
    // Each result is a query of the session's log (what the dashboard shows), finished.
    let queries = session.queries().queries();
    assert_eq!(queries.len(), logged + 3);
    assert!(queries[logged..]
        .iter()
        .all(|q| q.state().name() == "finished"));
    let values: Vec<f64> = (0..100).map(value_of).collect();
    let expected_mean = values.iter().sum::<f64>() / 100.0;
    let expected_std = (values
        .iter()
        .map(|v| (v - expected_mean).powi(2))
        .sum::<f64>()
        / 99.0)
        .sqrt();
    let mean = f64s(&one_batch(&results[0]), "value")[0].unwrap();
    let std = f64s(&one_batch(&results[1]), "value")[0].unwrap();
    assert!((mean - expected_mean).abs() < 1e-12);
    assert!((std - expected_std).abs() < 1e-12);
    let expected_positive = values.iter().filter(|v| **v > 50.0).count() as i64;
    assert_eq!(i64s(&one_batch(&results[2]), "id"), [expected_positive]);

    // Tables that merely look alike (same name and columns) are not merged.
    let column = |values: Vec<i64>| vec![("x", Arc::new(Int64Array::from(values)) as ArrayRef)];
    let small = session.from_columns(column(vec![1, 2]), 1).unwrap();
    let large = session.from_columns(column(vec![10, 20, 30]), 1).unwrap();
    let sums = session
        .compute(vec![
            small.agg(&[("x", &["sum"])]).unwrap(),
            large.agg(&[("x", &["sum"])]).unwrap(),
        ])
        .await
        .unwrap();
    assert_eq!(i64s(&one_batch(&sums[0]), "x"), [3]);
    assert_eq!(i64s(&one_batch(&sums[1]), "x"), [60]);

    // SQL frames over the same glob share their scan too.
    let glob = format!("{}/part_*.csv", dir.path().display());
    let low = session
        .sql(&format!("SELECT min(value) AS low FROM '{glob}'"))
        .await
        .unwrap();
    let high = session
        .sql(&format!("SELECT max(id) AS high FROM '{glob}'"))
        .await
        .unwrap();
    let explained = session
        .explain_compute(vec![low.clone(), high.clone()], true)
        .await
        .unwrap();
    assert_eq!(scanned_rows(&explained), [100], "{explained}");
    let results = session.compute(vec![low, high]).await.unwrap();
    assert_eq!(f64s(&one_batch(&results[0]), "low"), [Some(0.0)]);
    assert_eq!(i64s(&one_batch(&results[1]), "high"), [99]);
}

#[tokio::test]
async fn merging_frames_with_matching_divisions_joins_partition_by_partition() {
    let left_dir = four_parts();
    let right_dir = tempfile::tempdir().unwrap();
    for part in 0..4i64 {
        let mut text = String::from("id,score\n");
        for i in part * 25..(part + 1) * 25 {
            text.push_str(&format!("{i},{}\n", i * 2));
        }
        std::fs::write(right_dir.path().join(format!("part_{part}.csv")), text).unwrap();
    }
    let session = Session::builder().partitions(4).build().unwrap();
    let left = read(&session, left_dir.path())
        .await
        .set_index("id", true)
        .await
        .unwrap();
    let right = read(&session, right_dir.path())
        .await
        .set_index("id", true)
        .await
        .unwrap();
    let merged = left
        .clone()
        .merge(right.clone(), How::Inner, &["id"], (&[], &[]), ("_x", "_y"))
        .unwrap();
    assert_eq!(
        merged.columns(),
        ["id", "value", "category", "timestamp", "score"]
    );
    assert_eq!(merged.divisions(), left.divisions());
    let plan = merged.clone().explain(false).await.unwrap();
    assert!(plan.contains("PartitionJoin"), "{plan}");
    assert!(plan.contains("HashJoinExec: mode=CollectLeft"), "{plan}");
    assert!(!plan.contains("Hash(["), "no shuffle expected:\n{plan}");
    let batch = one_batch(
        &merged
            .sort_values(&["id"], true)
            .unwrap()
            .compute()
            .await
            .unwrap(),
    );
    assert_eq!(i64s(&batch, "id"), (0..100).collect::<Vec<_>>());
    assert_eq!(
        i64s(&batch, "score"),
        (0..100).map(|i| i * 2).collect::<Vec<_>>()
    );

    // A range of the merged frame reads one file of each side.
    let selected = left
        .merge(right, How::Left, &["id"], (&[], &[]), ("_x", "_y"))
        .unwrap()
        .loc(Some(60i64.into()), Some(61i64.into()))
        .unwrap();
    let explained = selected.clone().explain(true).await.unwrap();
    assert_eq!(scanned_rows(&explained), [25, 25], "{explained}");
    let batch = one_batch(&selected.compute().await.unwrap());
    assert_eq!(i64s(&batch, "score"), [120, 122]);
}

#[tokio::test]
async fn timeseries_keeps_its_daily_partitions_as_divisions() {
    let session = Session::new().unwrap();
    let params =
        rask::TimeseriesParams::new(None, Some("2000-01-04"), Some("1h"), None, None).unwrap();
    let frame = session.timeseries(params).unwrap();
    let whole = one_batch(
        &frame
            .clone()
            .sort_values(&["timestamp"], true)
            .unwrap()
            .compute()
            .await
            .unwrap(),
    );
    let indexed = frame.set_index("timestamp", true).await.unwrap();
    assert_eq!(indexed.npartitions().await.unwrap(), 3);
    let hour = 3_600_000_000_000i64;
    let start = 946_684_800_000_000_000i64;
    let expected: Vec<ScalarValue> = [0, 24, 48, 71]
        .map(|h| ScalarValue::TimestampNanosecond(Some(start + h * hour), None))
        .to_vec();
    assert_eq!(indexed.divisions().unwrap(), expected);
    // The second day alone, with the values the whole frame has for it.
    let day = indexed
        .loc(
            Some(expected[1].clone()),
            Some(ScalarValue::TimestampNanosecond(
                Some(start + 47 * hour),
                None,
            )),
        )
        .unwrap();
    let explained = day.clone().explain(true).await.unwrap();
    assert!(
        explained.contains("TimeseriesExec: rows=24, partitions=1"),
        "{explained}"
    );
    let batch = one_batch(&day.compute().await.unwrap());
    assert_eq!(f64s(&batch, "x"), f64s(&whole.slice(24, 24), "x"));
}

#[tokio::test]
async fn repartition_by_size_and_bad_partition_arguments() {
    let session = Session::new().unwrap();
    let x: ArrayRef = Arc::new(Int64Array::from_iter_values(0..10_000));
    let frame = session.from_columns(vec![("x", x)], 1).unwrap();
    let bytes: usize = frame
        .clone()
        .collect()
        .await
        .unwrap()
        .iter()
        .map(|b| b.get_array_memory_size())
        .sum();
    let quarters = frame
        .clone()
        .repartition_by_size(bytes.div_ceil(4))
        .await
        .unwrap();
    assert_eq!(quarters.npartitions().await.unwrap(), 4);

    let error = frame.clone().repartition(0).unwrap_err();
    assert!(
        error.to_string().contains("npartitions must be at least 1"),
        "{error}"
    );
    let error = frame.clone().repartition_by_size(0).await.unwrap_err();
    assert!(error.to_string().contains("partition_size"), "{error}");
    let error = frame.clone().loc(Some(1i64.into()), None).unwrap_err();
    assert!(error.to_string().contains("loc needs an index"), "{error}");
    let sorted = frame.clone().set_index("x", true).await.unwrap();
    let error = sorted.loc(Some("soon".into()), None).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("loc: soon cannot be compared with the index 'x' (Int64)"),
        "{error}"
    );
    let failing =
        |_: RecordBatch| -> Result<RecordBatch> { Err(Error::execution("bad partition")) };
    let schema = frame.schema();
    let error = frame
        .clone()
        .map_partitions("fails", failing, Some(schema))
        .unwrap()
        .compute()
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("fails: bad partition"),
        "{error}"
    );
    let error = frame.clone().set_index("nope", true).await.unwrap_err();
    assert!(
        error.to_string().contains("no column named 'nope'"),
        "{error}"
    );
    let indexed = frame.set_index("x", false).await.unwrap();
    let error = indexed
        .clone()
        .rolling(0)
        .unwrap()
        .mean(&["x"])
        .unwrap_err();
    assert!(error.to_string().contains("at least one row"), "{error}");
    let error = indexed
        .clone()
        .rolling("1h")
        .unwrap()
        .mean(&["x"])
        .unwrap_err();
    assert!(
        error.to_string().contains("needs a timestamp index"),
        "{error}"
    );
    let error = indexed
        .clone()
        .resample("1D")
        .unwrap()
        .mean(&["x"])
        .unwrap_err();
    assert!(
        error.to_string().contains("timestamp or date index"),
        "{error}"
    );
    let error = indexed.resample("1 fortnight").unwrap_err();
    assert!(
        error.to_string().contains("unsupported frequency"),
        "{error}"
    );
}

/// Past 256 partitions a query's inputs are no longer spread round-robin: the hash
/// repartition after such a spread connects every partition to every other, in memory the
/// pool does not see (840 MB for a 50-row GROUP BY at 1024 partitions). The answer is the
/// same either way: region counts of the sales fixture, by hand 2 east, 4 north, 3 south,
/// 1 NULL.
#[tokio::test]
async fn many_partitions_do_not_spread_inputs_round_robin() {
    let counted = format!(
        "SELECT region, count(*) AS n FROM '{}' GROUP BY region ORDER BY region NULLS LAST",
        crate::testdata("sales/*.csv")
    );
    for (partitions, spread) in [(4, true), (256, true), (257, false), (1024, false)] {
        let session = Session::builder().partitions(partitions).build().unwrap();
        let explained = printed(session.sql(&format!("EXPLAIN {counted}")).await.unwrap()).await;
        assert_eq!(
            explained.contains("RoundRobinBatch"),
            spread,
            "{partitions}: {explained}"
        );
        let counts = printed(session.sql(&counted).await.unwrap()).await;
        for row in [
            "| east   | 2 |",
            "| north  | 4 |",
            "| south  | 3 |",
            "|        | 1 |",
        ] {
            assert!(counts.contains(row), "{partitions}: {row} in {counts}");
        }
    }
}
