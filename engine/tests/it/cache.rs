//! The session's file cache: files read again, unchanged, are served from the batches kept,
//! with answers equal to sums computed here from the rows written; a file that changes is
//! read again; the cache keeps within its budget and the memory limit.

use std::collections::BTreeMap;
use std::path::Path;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use rask::{CachedFile, ReadOptions, Session};

/// Writes `rows` as a CSV file of columns `k` (a group), `v` (a value) and `s` (text).
fn write_csv(path: &Path, rows: &[(i64, i64)]) {
    let mut text = String::from("k,v,s\n");
    for (k, v) in rows {
        text.push_str(&format!("{k},{v},row{v}\n"));
    }
    std::fs::write(path, text).unwrap();
}

fn rows_of(first: i64, count: i64) -> Vec<(i64, i64)> {
    (first..first + count).map(|v| (v % 5, v)).collect()
}

/// Per `k`: the sum of `v` and the row count, as the query below computes them.
fn reference(files: &[&[(i64, i64)]]) -> BTreeMap<i64, (i64, i64)> {
    let mut sums = BTreeMap::new();
    for (k, v) in files.iter().flat_map(|rows| rows.iter()) {
        let entry = sums.entry(*k).or_insert((0, 0));
        entry.0 += v;
        entry.1 += 1;
    }
    sums
}

async fn sums_by_key(session: &Session, glob: &str) -> BTreeMap<i64, (i64, i64)> {
    let sql = format!("SELECT k, sum(v), count(*) FROM '{glob}' GROUP BY k");
    let batches = session.sql(&sql).await.unwrap().collect().await.unwrap();
    let mut sums = BTreeMap::new();
    for batch in &batches {
        for row in 0..batch.num_rows() {
            let value = |c: usize| batch.column(c).as_primitive::<Int64Type>().value(row);
            sums.insert(value(0), (value(1), value(2)));
        }
    }
    sums
}

fn cached(session: &Session) -> Vec<CachedFile> {
    let mut files = session.file_cache().unwrap().files();
    files.sort_by(|a, b| a.file.cmp(&b.file));
    files
}

fn hits(session: &Session) -> Vec<u64> {
    cached(session).iter().map(|f| f.hits).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_glob_read_again_is_served_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let parts = [rows_of(0, 300), rows_of(300, 200), rows_of(500, 100)];
    for (i, rows) in parts.iter().enumerate() {
        write_csv(&dir.path().join(format!("part_{i}.csv")), rows);
    }
    let glob = format!("{}/part_*.csv", dir.path().display());
    let expected = reference(&[&parts[0], &parts[1], &parts[2]]);
    let session = Session::builder().partitions(2).build().unwrap();

    assert_eq!(sums_by_key(&session, &glob).await, expected);
    let files = cached(&session);
    assert_eq!(files.len(), 3, "{files:?}");
    assert_eq!(
        files.iter().map(|f| f.rows).collect::<Vec<_>>(),
        [300, 200, 100]
    );
    assert_eq!(hits(&session), [0, 0, 0]);

    assert_eq!(sums_by_key(&session, &glob).await, expected);
    assert_eq!(hits(&session), [1, 1, 1], "the second read is served");

    // Filters apply to the served rows as to rows read.
    let sql = format!("SELECT count(*), sum(v) FROM '{glob}' WHERE v % 7 = 0 AND k <> 1");
    let batches = session.sql(&sql).await.unwrap().collect().await.unwrap();
    let kept: Vec<i64> = (0..600).filter(|v| v % 7 == 0 && v % 5 != 1).collect();
    assert_eq!(single(&batches, 0), kept.len() as i64);
    assert_eq!(single(&batches, 1), kept.iter().sum::<i64>());
    assert_eq!(hits(&session), [2, 2, 2]);
    // Served files read no byte: progress counts their rows.
    let frame = session
        .sql(&format!("SELECT v FROM '{glob}'"))
        .await
        .unwrap();
    let (mut stream, progress) = frame.execute_stream_with_progress().await.unwrap();
    while let Some(batch) = stream.next_batch().await {
        batch.unwrap();
    }
    assert_eq!(progress.bytes(), None);
    assert_eq!(progress.rows_read(), 600);
    assert!(progress.fraction().unwrap() > 0.5);
    let held: usize = cached(&session).iter().map(|f| f.bytes).sum();
    assert_eq!(session.file_cache().unwrap().held(), held);
    assert!(
        session.memory_reserved() >= held,
        "the pool counts what the cache holds"
    );
}

fn single(batches: &[RecordBatch], column: usize) -> i64 {
    batches[0]
        .column(column)
        .as_primitive::<Int64Type>()
        .value(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_rewritten_appended_to_or_removed_is_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("a.csv");
    let second = dir.path().join("b.csv");
    let (a, b) = (rows_of(0, 50), rows_of(50, 50));
    write_csv(&first, &a);
    write_csv(&second, &b);
    let glob = format!("{}/*.csv", dir.path().display());
    let session = Session::new().unwrap();
    assert_eq!(sums_by_key(&session, &glob).await, reference(&[&a, &b]));

    // The same size, other values: only the modification time tells.
    let size = std::fs::metadata(&first).unwrap().len();
    let rewritten: Vec<(i64, i64)> = a.iter().map(|&(k, v)| ((k + 1) % 5, v)).collect();
    write_csv(&first, &rewritten);
    assert_eq!(std::fs::metadata(&first).unwrap().len(), size);
    assert_eq!(
        sums_by_key(&session, &glob).await,
        reference(&[&rewritten, &b])
    );
    assert_eq!(hits(&session), [0, 1], "a.csv read again, b.csv served");

    let mut appended = b.clone();
    appended.extend(rows_of(100, 25));
    write_csv(&second, &appended);
    assert_eq!(
        sums_by_key(&session, &glob).await,
        reference(&[&rewritten, &appended])
    );

    std::fs::remove_file(&first).unwrap();
    assert_eq!(sums_by_key(&session, &glob).await, reference(&[&appended]));
    // A table registered over the removed file no longer reads it either.
    let registered = Session::new().unwrap();
    write_csv(&first, &a);
    registered
        .register_files("t", &first.display().to_string())
        .await
        .unwrap();
    let count = "SELECT count(*) FROM t";
    let batches = registered
        .sql(count)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(single(&batches, 0), 50);
    std::fs::remove_file(&first).unwrap();
    let failed = match registered.sql(count).await {
        Ok(frame) => frame.collect().await.map(|b| single(&b, 0)),
        Err(e) => Err(e),
    };
    assert!(
        !matches!(failed, Ok(50)),
        "a removed file is not served: {failed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn columns_asked_later_are_read_with_those_cached() {
    let dir = tempfile::tempdir().unwrap();
    let rows = rows_of(0, 40);
    write_csv(&dir.path().join("t.csv"), &rows);
    let glob = format!("{}/t.csv", dir.path().display());
    let session = Session::new().unwrap();
    let sum_v = format!("SELECT sum(v) FROM '{glob}'");
    let batches = session.sql(&sum_v).await.unwrap().collect().await.unwrap();
    assert_eq!(single(&batches, 0), (0..40).sum::<i64>());
    assert_eq!(cached(&session)[0].columns, 1);

    let texts = format!("SELECT count(DISTINCT s), max(k) FROM '{glob}'");
    let batches = session.sql(&texts).await.unwrap().collect().await.unwrap();
    assert_eq!((single(&batches, 0), single(&batches, 1)), (40, 4));
    assert_eq!(cached(&session)[0].columns, 3, "v kept beside s and k");

    let batches = session.sql(&sum_v).await.unwrap().collect().await.unwrap();
    assert_eq!(single(&batches, 0), (0..40).sum::<i64>());
    let all = format!("SELECT * FROM '{glob}' ORDER BY v DESC LIMIT 1");
    let frame = session.sql(&all).await.unwrap();
    let batches = frame.collect().await.unwrap();
    assert_eq!(batches[0].num_columns(), 3);
    assert_eq!(batches[0].column(2).as_string::<i32>().value(0), "row39");
    assert_eq!(hits(&session), [2]);
}

async fn set_partitions(session: &Session, partitions: usize) {
    let set = format!("SET datafusion.execution.target_partitions = {partitions}");
    session.sql(&set).await.unwrap().collect().await.unwrap();
}

fn arrow_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| entries.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_a_quarter_of_the_memory_limit_files_are_kept_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let write_parts = |prefix: &str, count: i64| -> Vec<Vec<(i64, i64)>> {
        let parts: Vec<Vec<(i64, i64)>> = (0..count).map(|i| rows_of(i * 20_000, 20_000)).collect();
        for (i, rows) in parts.iter().enumerate() {
            write_csv(&dir.path().join(format!("{prefix}{i:02}.csv")), rows);
        }
        parts
    };
    // About 330 KiB decoded per file (the two 64-bit columns of 20,000 rows): twice the
    // memory budget in all.
    let parts = write_parts("p", 12);
    let limit = 8 << 20;
    let session = Session::builder()
        .memory_limit(limit)
        .partitions(2)
        .build()
        .unwrap();
    let cache = session.file_cache().unwrap();
    assert_eq!(cache.budget(), limit / 4);
    let on_disk_dir = session.spill_dir().unwrap().join("cache");
    let glob = format!("{}/p*.csv", dir.path().display());
    let all: Vec<&[(i64, i64)]> = parts.iter().map(Vec::as_slice).collect();

    assert_eq!(sums_by_key(&session, &glob).await, reference(&all));
    // Every file kept (a file split between the two partitions as two parts).
    let files = cached(&session);
    let mut names: Vec<&str> = files.iter().map(|f| f.file.as_str()).collect();
    names.dedup();
    assert_eq!(names.len(), 12, "{files:?}");
    let in_memory: Vec<&CachedFile> = files.iter().filter(|f| !f.on_disk).collect();
    assert!(
        !in_memory.is_empty() && in_memory.len() < files.len(),
        "{files:?}"
    );
    assert!(
        cache.held() <= cache.budget(),
        "{} > {}",
        cache.held(),
        cache.budget()
    );
    let written: usize = files.iter().filter(|f| f.on_disk).map(|f| f.bytes).sum();
    assert_eq!(cache.on_disk(), written as u64);
    assert_eq!(arrow_files(&on_disk_dir), files.len() - in_memory.len());

    // Read again: every file served, none pushed out by the query's own reads.
    assert_eq!(sums_by_key(&session, &glob).await, reference(&all));
    assert!(
        hits(&session).iter().all(|&h| h == 1),
        "{:?}",
        cached(&session)
    );

    // Another glob's reads push out the least recently used files in memory, not its own.
    let others = write_parts("q", 4);
    let other_glob = format!("{}/q*.csv", dir.path().display());
    let other_rows: Vec<&[(i64, i64)]> = others.iter().map(Vec::as_slice).collect();
    assert_eq!(
        sums_by_key(&session, &other_glob).await,
        reference(&other_rows)
    );
    let files = cached(&session);
    let parts_of = |prefix: &str| -> Vec<&CachedFile> {
        let prefix = format!("{}/{prefix}", dir.path().display());
        files
            .iter()
            .filter(|f| f.file.starts_with(&prefix))
            .collect()
    };
    let others_kept = parts_of("q");
    assert!(others_kept.iter().all(|f| !f.on_disk), "{files:?}");
    let mut names: Vec<&str> = others_kept.iter().map(|f| f.file.as_str()).collect();
    names.dedup();
    assert_eq!(names.len(), 4, "{files:?}");
    let first_in_memory = parts_of("p").iter().filter(|f| !f.on_disk).count();
    assert!(first_in_memory < in_memory.len(), "{files:?}");
    assert!(cache.held() <= cache.budget());

    // A query needing the memory the limit leaves still runs beside a full cache: the
    // sort spills. In one partition: with two, whether 8 MB suffice depends on timing (a
    // sorter still buffering keeps memory that the merge across partitions, which cannot
    // spill, may ask for first).
    set_partitions(&session, 1).await;
    let sql = format!("SELECT v, s FROM '{glob}' ORDER BY s DESC, v");
    let batches = session.sql(&sql).await.unwrap().collect().await.unwrap();
    set_partitions(&session, 2).await;
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(total, 240_000);
    let mut expected: Vec<(String, i64)> = (0..240_000).map(|v| (format!("row{v}"), v)).collect();
    expected.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let first = &batches[0];
    assert_eq!(first.column(1).as_string::<i32>().value(0), expected[0].0);
    assert!(cache.held() <= cache.budget());

    // A file larger than the whole memory budget goes to disk.
    let big = dir.path().join("big.csv");
    let big_rows = rows_of(0, 300_000);
    write_csv(&big, &big_rows);
    let big_glob = big.display().to_string();
    for _ in 0..2 {
        assert_eq!(
            sums_by_key(&session, &big_glob).await,
            reference(&[&big_rows])
        );
    }
    let big_parts: Vec<CachedFile> = cached(&session)
        .into_iter()
        .filter(|f| f.file.ends_with("big.csv"))
        .collect();
    assert!(!big_parts.is_empty(), "{big_parts:?}");
    assert!(
        big_parts.iter().all(|f| f.on_disk && f.hits == 1),
        "{big_parts:?}"
    );

    cache.clear();
    assert_eq!((cache.held(), cache.on_disk()), (0, 0));
    assert_eq!(arrow_files(&on_disk_dir), 0, "clearing removes the files");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_it_keeps_nothing_and_a_read_cut_short_keeps_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let rows = rows_of(0, 1000);
    let path = dir.path().join("t.csv");
    write_csv(&path, &rows);
    let glob = path.display().to_string();
    let expected = reference(&[&rows]);

    let session = Session::builder().file_cache(false).build().unwrap();
    let cache = session.file_cache().unwrap();
    assert!(!cache.enabled());
    for _ in 0..2 {
        assert_eq!(sums_by_key(&session, &glob).await, expected);
    }
    assert!(cache.files().is_empty());
    cache.set_enabled(true);
    assert_eq!(sums_by_key(&session, &glob).await, expected);
    assert_eq!(cache.files().len(), 1);
    cache.set_enabled(false);
    assert_eq!((cache.files().len(), cache.held()), (0, 0), "off frees it");

    // A stream dropped after its first batch leaves no half-read file behind.
    let session = Session::builder()
        .batch_size(100)
        .partitions(1)
        .build()
        .unwrap();
    let frame = session
        .sql(&format!("SELECT v FROM '{glob}'"))
        .await
        .unwrap();
    let mut stream = frame.execute_stream().await.unwrap();
    let first = stream.next_batch().await.unwrap().unwrap();
    assert_eq!(first.num_rows(), 100);
    drop(stream);
    let cache = session.file_cache().unwrap();
    assert!(cache.files().is_empty(), "{:?}", cache.files());
    assert_eq!(cache.held(), 0);
    // Nor does a read that fails part way (a bad value at line 10052, past the batches
    // decoded before it).
    let bad = format!(
        "SELECT sum(v) FROM '{}'",
        crate::testdata("bad/bad_value.csv")
    );
    let failed = session.sql(&bad).await.unwrap().collect().await;
    assert!(failed.is_err());
    assert!(cache.files().is_empty(), "{:?}", cache.files());
    assert_eq!(cache.held(), 0);
    // A LIMIT stops reading early: nothing is kept either.
    let limited = format!("SELECT v FROM '{glob}' LIMIT 3");
    let batches = session
        .sql(&limited)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 3);
    assert!(cache.files().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hive_folders_blocks_and_json_are_served_right() {
    let dir = tempfile::tempdir().unwrap();
    let mut by_year = BTreeMap::new();
    for (year, first) in [(2020, 0), (2021, 100), (2022, 200)] {
        let folder = dir.path().join(format!("year={year}"));
        std::fs::create_dir(&folder).unwrap();
        let rows = rows_of(first, 100);
        write_csv(&folder.join("data.csv"), &rows);
        by_year.insert(year, rows);
    }
    let session = Session::builder().partitions(2).build().unwrap();
    let sql = format!(
        "SELECT sum(v), count(*) FROM '{}' WHERE year >= 2021",
        dir.path().display()
    );
    let expected: i64 = (100..300).sum();
    for _ in 0..2 {
        let batches = session.sql(&sql).await.unwrap().collect().await.unwrap();
        assert_eq!((single(&batches, 0), single(&batches, 1)), (expected, 200));
    }
    let served: Vec<u64> = hits(&session);
    assert_eq!(
        served,
        [1, 1],
        "only the two folders the filter keeps are read"
    );

    // Dask's blocks: the same partitions, and rows, when served.
    let big = dir.path().join("blocks.csv");
    let rows = rows_of(0, 3000);
    write_csv(&big, &rows);
    let options = || ReadOptions {
        blocksize: Some(8 << 10),
        ..ReadOptions::default()
    };
    let path = big.display().to_string();
    let mut seen = Vec::new();
    for _ in 0..2 {
        let frame = session.read_csv(&path, options()).await.unwrap();
        let npartitions = frame.npartitions().await.unwrap();
        let table = frame.compute().await.unwrap();
        let values: Vec<i64> = table
            .batches
            .iter()
            .flat_map(|b| b.column(1).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        seen.push((npartitions, values));
    }
    assert!(seen[0].0 > 1, "{} partitions", seen[0].0);
    assert_eq!(seen[0], seen[1]);
    assert_eq!(
        seen[1].1,
        (0..3000).collect::<Vec<i64>>(),
        "rows in file order"
    );
    let blocks = cached(&session)
        .iter()
        .filter(|f| f.file.ends_with("blocks.csv"))
        .map(|f| (f.range, f.hits))
        .collect::<Vec<_>>();
    assert_eq!(
        blocks.len(),
        seen[0].0,
        "a cached part per block: {blocks:?}"
    );
    assert!(blocks
        .iter()
        .all(|(range, hits)| range.is_some() && *hits == 1));

    let json = dir.path().join("events.ndjson");
    let lines: String = (0..50)
        .map(|i| format!("{{\"id\": {i}, \"n\": {}}}\n", i * 2))
        .collect();
    std::fs::write(&json, lines).unwrap();
    let sql = format!("SELECT sum(n) FROM '{}'", json.display());
    for _ in 0..2 {
        let batches = session.sql(&sql).await.unwrap().collect().await.unwrap();
        assert_eq!(single(&batches, 0), (0..50).map(|i| i * 2).sum::<i64>());
    }
    let json_hits: Vec<u64> = cached(&session)
        .iter()
        .filter(|f| f.file.ends_with(".ndjson"))
        .map(|f| f.hits)
        .collect();
    assert_eq!(json_hits, [1]);
}
