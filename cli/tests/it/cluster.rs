//! A Ballista cluster on 127.0.0.1, started as the README says: `query scheduler`, `query
//! worker`, and queries with `--cluster`; the answers must equal the local ones. Every wait is
//! bounded, so a hang fails the test instead of blocking it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command as StdCommand, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin;
use assert_cmd::Command;
use rask::prelude::*;

use crate::{late_quoted_rows, stderr, stdout, workspace};

/// A process of the cluster, killed when the test ends however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str]) -> Child {
    StdCommand::new(cargo_bin("query"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A scheduler on a free port, and its address `127.0.0.1:port`.
fn scheduler() -> (Server, String) {
    let mut child = spawn(&["scheduler", "--bind", "127.0.0.1:0"]);
    let err = child.stderr.take().unwrap();
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(err).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let _ = send.send(first);
        // Keep draining, as a terminal would, until the scheduler ends.
        lines.for_each(drop);
    });
    let line = receive.recv_timeout(Duration::from_secs(30)).unwrap();
    let address = line
        .split("df://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    (Server(child), address)
}

fn worker(scheduler: &str, extra: &[&str]) -> Server {
    let mut args = vec!["worker", "--scheduler", scheduler, "--bind", "127.0.0.1:0"];
    args.extend(extra);
    Server(spawn(&args))
}

/// Runs `query` from `dir`, failing the test if it has not ended within `limit`.
fn query_in(dir: &Path, args: &[&str], limit: Duration) -> Output {
    let output = Command::cargo_bin("query")
        .unwrap()
        .current_dir(dir)
        .args(args)
        .timeout(limit)
        .output()
        .unwrap();
    // A command stopped at the limit was killed by a signal: it has no exit code.
    assert!(
        output.status.code().is_some(),
        "query {args:?} did not end within {limit:?}; it said: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn ok_in(dir: &Path, args: &[&str]) -> String {
    let output = query_in(dir, args, Duration::from_secs(120));
    assert!(
        output.status.success(),
        "query {args:?}: {}",
        stderr(&output)
    );
    stdout(&output)
}

/// Asserts that two printed results are equal but for the last digits of floats, which
/// depend on the order partial sums are added in (different on a cluster).
fn assert_same(remote: &str, local: &str, what: &str) {
    let tokens = |text: &str| -> Vec<String> {
        text.split(|c: char| c == ',' || c == '|' || c.is_whitespace())
            // Table borders are as wide as the widest value, which may differ.
            .filter(|t| !t.is_empty() && !t.chars().all(|c| c == '-' || c == '+'))
            .map(str::to_string)
            .collect()
    };
    let (a, b) = (tokens(remote), tokens(local));
    let same = a.len() == b.len()
        && a.iter()
            .zip(&b)
            .all(|(x, y)| match (x.parse::<f64>(), y.parse::<f64>()) {
                (Ok(x), Ok(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
                _ => x == y,
            });
    assert!(
        same,
        "{what}: the cluster answered\n{remote}\nbut locally\n{local}"
    );
}

/// Waits until `n` workers have registered with the scheduler at `address`.
fn wait_for_workers(address: &str, n: usize) -> String {
    let started = Instant::now();
    let url = format!("df://{address}");
    loop {
        let info = query_in(
            &workspace(),
            &["cluster-info", "--cluster", &url],
            Duration::from_secs(30),
        );
        let text = stdout(&info);
        if text.contains(&format!("{n} worker(s)")) {
            return text;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "workers did not register: {text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The tutorial's `data_part_*.csv` in a fresh folder, beside an unrelated CSV with the same
/// columns that a glob too wide (or a scan of the folder) would also read.
fn tutorial_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    rask::datasets::data_parts(dir.path(), 3, 500).unwrap();
    let stray = tempfile::tempdir().unwrap();
    let parts = rask::datasets::data_parts(stray.path(), 1, 50).unwrap();
    std::fs::copy(&parts[0], dir.path().join("unrelated.csv")).unwrap();
    dir
}

const CATEGORY_STATS: &str =
    "SELECT category, avg(value) AS mean, stddev(value) AS std, count(*) AS n \
     FROM 'data_part_*.csv' GROUP BY category ORDER BY category";
const TIMESERIES_GROUPBY: &str = "SELECT name, max(x) AS x, avg(y) AS y, count(*) AS n \
     FROM timeseries('2000-01-01', '2000-01-05', '10s') GROUP BY name ORDER BY name";
const ROWS_READ: &str = "SELECT count(*) AS n FROM 'data_part_*.csv'";

#[test]
fn cluster_answers_equal_local_answers() {
    let data = tutorial_folder();
    let (_scheduler, address) = scheduler();
    let _small = worker(&address, &["--slots", "2", "--memory-limit", "1GB"]);
    let _big = worker(&address, &["--slots", "2"]);
    let info = wait_for_workers(&address, 2);
    assert!(info.contains("4 slot(s)"), "{info}");
    assert!(
        info.contains("memory=1000000000 bytes") && info.contains("memory=auto"),
        "{info}"
    );

    let url = format!("df://{address}");
    for sql in [CATEGORY_STATS, TIMESERIES_GROUPBY, ROWS_READ] {
        let local = ok_in(data.path(), &["--format", "csv", sql]);
        let remote = ok_in(data.path(), &["--cluster", &url, "--format", "csv", sql]);
        assert_same(&remote, &local, sql);
    }
    // The glob reads exactly its three files of 500 rows, never the unrelated CSV.
    assert_eq!(
        ok_in(
            data.path(),
            &["--cluster", &url, "--format", "csv", ROWS_READ]
        ),
        "n\n1500\n"
    );

    let refused = query_in(
        data.path(),
        &[
            "--cluster",
            &url,
            "CREATE TABLE t AS VALUES (1), (2); SELECT * FROM t",
        ],
        Duration::from_secs(60),
    );
    let err = stderr(&refused);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: cannot run on the cluster: 't' is an in-memory table"),
        "{err}"
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let session = Session::connect(&url).await.unwrap();
        assert_eq!(session.cluster_info().await.unwrap().workers.len(), 2);
        let x: rask::arrow::array::ArrayRef =
            std::sync::Arc::new(rask::arrow::array::Int64Array::from(vec![1, 2, 3]));
        let err = session
            .from_columns(vec![("x", x)], 2)
            .unwrap()
            .collect()
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("in-memory table"), "{err}");
    });

    quotes_past_the_sample_are_checked_on_the_workers(&url);
}

/// The workers read CSV files split at line breaks, as the client would: a quote opened
/// past the sampled first bytes is an error naming the file, line and column, never rows
/// folded into one field; a file fixed since is read afresh.
fn quotes_past_the_sample_are_checked_on_the_workers(url: &str) {
    // Split into several byte ranges, read by several tasks.
    const SPLIT: &str = "SET datafusion.optimizer.repartition_file_min_size = 1000; ";
    let dir = tempfile::tempdir().unwrap();
    let run = |sql: &str| {
        query_in(
            dir.path(),
            &[
                "--cluster",
                url,
                "--format",
                "csv",
                &format!("{SPLIT}{sql}"),
            ],
            Duration::from_secs(120),
        )
    };
    let fails_with = |sql: &str, expected: &str| {
        let output = run(sql);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{sql}: {err}");
        assert_eq!(err, format!("error: {expected}\n"), "{sql}");
    };
    let late = workspace().join("testdata/bad/late_quote.csv");
    let never_closed = format!(
        "{}:7001:6: malformed CSV: a quoted field opens here and is never closed",
        late.display()
    );
    // Twice: the second run of the same file is refused too, whatever the workers kept.
    for _ in 0..2 {
        fails_with(
            &format!("SELECT count(*) FROM '{}'", late.display()),
            &never_closed,
        );
    }

    let rows = dir.path().join("rows.csv");
    std::fs::write(&rows, late_quoted_rows("\"two\nlines\"")).unwrap();
    let line_break = format!(
        "{}:7001:6: a quoted field holding a line break opens here; a file whose first 64 KiB \
         quote no field is read in parts cut at line breaks, which would cut this field",
        rows.display()
    );
    fails_with("SELECT count(*) FROM 'rows.csv'", &line_break);

    // Fixed: the same name, a different file. (A bare name with a dot, as `rows.csv` is,
    // also checks that the workers read the table's columns by the name the client gave.)
    std::fs::write(&rows, late_quoted_rows("\"last, first\"")).unwrap();
    let output =
        run("SELECT count(*), sum(id), max(CASE WHEN id = 7000 THEN name END) FROM 'rows.csv'");
    assert!(output.status.success(), "{}", stderr(&output));
    let expected_sum: u64 = (1..=8000).sum();
    assert_eq!(
        stdout(&output).lines().nth(1),
        Some(&*format!("8000,{expected_sum},\"last, first\""))
    );
    // Referred to from a correlated subquery: every id but the last has a successor.
    let output = run("SELECT count(*) FROM 'rows.csv' \
         WHERE EXISTS (SELECT 1 FROM 'rows.csv' AS later WHERE later.id = \"rows.csv\".id + 1)");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "count(*)\n7999\n");
}

/// The tutorial workloads as DataFrame operations, on a `Session::local_cluster` and locally.
#[test]
fn local_cluster_frames_equal_local_frames() {
    let data = tutorial_folder();
    let glob = data.path().join("data_part_*.csv");
    let glob = glob.to_str().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let cluster = Session::local_cluster(2, 1, Some(500_000_000))
            .await
            .unwrap();
        let pids = cluster.local_cluster_pids();
        assert_eq!(pids.len(), 2);
        let info = cluster.cluster_info().await.unwrap();
        assert_eq!(info.slots(), 2);
        assert!(
            info.workers
                .iter()
                .all(|w| w.memory_limit == Some(500_000_000)),
            "{info}"
        );
        // The dashboard lists the workers with their slots and memory.
        let shown = {
            let cluster = cluster.clone();
            tokio::task::spawn_blocking(move || rask::dashboard::status(&cluster))
                .await
                .unwrap()
        };
        assert_eq!(shown["cluster"]["kind"], "cluster", "{shown}");
        let workers = shown["cluster"]["workers"].as_array().unwrap();
        assert_eq!(workers.len(), 2, "{shown}");
        assert!(workers
            .iter()
            .all(|w| w["slots"] == 1 && w["memory_limit"] == 500_000_000));
        let local = Session::new().unwrap();
        assert!(local.cluster_url().is_none());
        let mut answers = Vec::new();
        for session in [&cluster, &local] {
            let stats = session
                .read_csv(glob, rask::ReadOptions::default())
                .await
                .unwrap()
                .filter(col("value").gt(lit(0.0)))
                .unwrap()
                .groupby(&["category"])
                .agg(&[("value", &["mean", "std", "count"])])
                .unwrap()
                .compute()
                .await
                .unwrap()
                .to_string();
            let series = session
                .timeseries(
                    rask::TimeseriesParams::new(None, Some("2000-01-03"), Some("1min"), None, None)
                        .unwrap(),
                )
                .unwrap()
                .groupby(&["name"])
                .agg(&[("x", &["max"]), ("y", &["mean"])])
                .unwrap()
                .compute()
                .await
                .unwrap()
                .to_string();
            let blocks = rask::ReadOptions {
                blocksize: Some(4096),
                ..Default::default()
            };
            let sampled = session
                .read_csv(glob, blocks)
                .await
                .unwrap()
                .sample(0.5, 7)
                .unwrap()
                .len()
                .await
                .unwrap();
            let frame = session
                .read_csv(glob, rask::ReadOptions::default())
                .await
                .unwrap();
            // The built-in partition function travels by name; the rows add up either way.
            let lens = frame
                .clone()
                .map_partitions_by_name("len", None)
                .unwrap()
                .agg(&[("len", &["sum"])])
                .unwrap()
                .compute()
                .await
                .unwrap()
                .to_string();
            assert!(lens.contains("| 1500 "), "{lens}");
            let indexed = frame.clone().set_index("id", true).await.unwrap();
            assert!(indexed.known_divisions());
            let selected = indexed
                .loc(Some(495i64.into()), Some(505i64.into()))
                .unwrap()
                .len()
                .await
                .unwrap();
            assert_eq!(selected, 11);
            let together = session
                .compute(vec![
                    frame.clone().agg(&[("value", &["sum"])]).unwrap(),
                    frame.clone().agg(&[("id", &["max"])]).unwrap(),
                ])
                .await
                .unwrap();
            assert!(
                together[1].to_string().contains("| 1499 "),
                "{}",
                together[1]
            );
            answers.push((stats, series, sampled));
        }
        let closure = cluster
            .read_csv(glob, rask::ReadOptions::default())
            .await
            .unwrap()
            .map_partitions("mine", Ok, None)
            .unwrap()
            .compute()
            .await
            .unwrap_err()
            .to_string();
        assert!(
            closure.starts_with("cannot run on the cluster")
                && closure.contains("'mine' is a closure"),
            "{closure}"
        );
        assert_same(&answers[0].0, &answers[1].0, "category stats");
        assert_same(&answers[0].1, &answers[1].1, "timeseries groupby");
        assert_eq!(answers[0].2, answers[1].2, "sample of a blocksize read");
        drop(cluster);
        for pid in pids {
            assert!(
                !Path::new(&format!("/proc/{pid}")).exists(),
                "worker {pid} outlived its cluster"
            );
        }
    });
}

/// A query whose only worker is killed while it runs can never complete, so its one defined
/// outcome is failure with a clear error: the scheduler fails the job once no worker has
/// re-registered for 10 s (the client's watch, `engine/src/cluster/watch.rs`, would fail it
/// 30 s after the loss otherwise). With a surviving worker the scheduler may or may not finish
/// the query, depending on when the task is lost; the other cluster tests cover queries that
/// complete.
#[test]
fn a_query_whose_only_worker_is_killed_fails_rather_than_hangs() {
    let (_scheduler, address) = scheduler();
    let mut doomed = worker(&address, &["--slots", "2"]);
    wait_for_workers(&address, 1);
    let url = format!("df://{address}");
    // 5,184,000 rows grouped by their distinct timestamps: far longer than the 1.5 s
    // before the kill on this unoptimised build.
    let sql = "SELECT count(*) AS n FROM (SELECT timestamp, count(*) FROM timeseries('2000-01-01', '2000-03-01') GROUP BY timestamp)";
    let running = StdCommand::new(cargo_bin("query"))
        .args(["--cluster", &url, "--format", "csv", sql])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    doomed.0.kill().unwrap();
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(running.wait_with_output());
    });
    let output = receive
        .recv_timeout(Duration::from_secs(120))
        .expect("the query did not end within 120 s after its only worker was killed")
        .unwrap();
    let (out, err) = (stdout(&output), stderr(&output));
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout: {out}\nstderr: {err}"
    );
    assert_eq!(out, "", "no result without a worker");
    let first = err.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("error: ") && first.contains("all executors were lost"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn an_unreachable_scheduler_is_reported_within_seconds() {
    for address in ["127.0.0.1:1", "10.255.255.1:50050"] {
        let url = format!("df://{address}");
        for args in [
            vec!["--cluster", url.as_str(), "SELECT 1"],
            vec!["cluster-info", "--cluster", url.as_str()],
            vec!["worker", "--scheduler", address],
        ] {
            let output = query_in(&workspace(), &args, Duration::from_secs(10));
            let err = stderr(&output);
            assert_eq!(output.status.code(), Some(1), "{args:?}: {err}");
            assert!(
                err.contains(&format!(
                    "error: cannot reach the scheduler at df://{address}"
                )),
                "{args:?}: {err}"
            );
        }
    }
}

#[test]
fn workers_flag_runs_a_local_cluster_and_stops_it() {
    let data = tutorial_folder();
    let tag = format!("RASK_TEST_CLUSTER_{}", std::process::id());
    let local = ok_in(data.path(), &["--format", "csv", CATEGORY_STATS]);
    let output = Command::cargo_bin("query")
        .unwrap()
        .current_dir(data.path())
        .env(&tag, "1")
        .args(["--workers", "2", "--format", "csv", CATEGORY_STATS])
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_same(&stdout(&output), &local, CATEGORY_STATS);
    // Every process that inherited the tag has ended with the command.
    let survivors: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let environ = std::fs::read(path.join("environ")).ok()?;
            String::from_utf8_lossy(&environ)
                .contains(&tag)
                .then(|| path.display().to_string())
        })
        .collect();
    assert!(survivors.is_empty(), "left running: {survivors:?}");
}

#[test]
fn scheduler_and_worker_stop_cleanly_on_sigterm() {
    let (mut scheduler, address) = scheduler();
    let mut worker = worker(&address, &["--slots", "1"]);
    wait_for_workers(&address, 1);
    for server in [&mut worker, &mut scheduler] {
        let pid = server.0.id().to_string();
        assert!(StdCommand::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let started = Instant::now();
        let status = loop {
            if let Some(status) = server.0.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{pid} ignored SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(status.success(), "{pid} exited with {status}");
    }
}
