//! The live dashboard watched in a real browser (headless Chromium) while the shell runs a
//! long query: the page shows the query's progress rising, then the query finished.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::repl::{fresh_shell_with, leave, type_line, PROMPT};

/// 182 days (2000 is a leap year) of one row per second: several seconds to watch.
const LONG_QUERY: &str = "SELECT name, count(*) AS n, avg(x) AS x FROM timeseries('2000-01-01', '2000-07-01', '1s') GROUP BY name ORDER BY name;";
const LONG_QUERY_ROWS: u64 = 182 * 86_400;

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
}

/// What the page shows of one query row: `(id, state, rows read, total rows, (tasks done,
/// tasks))`.
type Row = (u64, String, u64, Option<u64>, (u64, u64));

/// Loads `url` in headless Chromium, lets its scripts run, and reads the query rows off the
/// rendered page.
fn page_rows(chromium: &Path, url: &str) -> Vec<Row> {
    rows_of(&page(chromium, url))
}

/// The page at `url` as headless Chromium renders it, its scripts run.
fn page(chromium: &Path, url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--timeout=20000",
            "--virtual-time-budget=1500",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", url])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The query rows of a rendered page.
fn rows_of(dom: &str) -> Vec<Row> {
    let parsed = tl::parse(dom, tl::ParserOptions::default()).unwrap();
    let parser = parsed.parser();
    parsed
        .query_selector("tr.query")
        .unwrap()
        .filter_map(|handle| handle.get(parser)?.as_tag())
        .map(|row| {
            let attribute = |name: &str| {
                row.attributes()
                    .get(name)
                    .flatten()
                    .map(|v| v.as_utf8_str().into_owned())
                    .unwrap_or_default()
            };
            (
                attribute("data-id").parse().unwrap(),
                attribute("data-state"),
                attribute("data-rows-read").parse().unwrap(),
                attribute("data-total-rows").parse().ok(),
                (
                    attribute("data-tasks-done").parse().unwrap(),
                    attribute("data-tasks").parse().unwrap(),
                ),
            )
        })
        .collect()
}

#[test]
fn the_dashboard_shows_a_running_query_rise_then_finish() {
    let Some(chromium) = chromium() else {
        // CI installs Chromium (.ci/run), so there a missing browser is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "Chromium is not installed, and CI must run this test (apt-get install chromium)"
        );
        eprintln!("skipped: Chromium is not installed (apt-get install chromium)");
        return;
    };
    let (_history, mut shell, intro) = fresh_shell_with(&[
        "--dashboard=127.0.0.1:0",
        "--partitions",
        "2",
        "--no-progress",
    ]);
    let url = intro
        .lines()
        .find_map(|line| line.trim().strip_prefix("Dashboard: "))
        .unwrap_or_else(|| panic!("no dashboard link in {intro:?}"))
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(page_rows(&chromium, &url).is_empty(), "no query yet");

    type_line(&mut shell, LONG_QUERY);
    let started = Instant::now();
    let mut running = Vec::new();
    let mut tasks_seen = Vec::new();
    let mut last = None;
    let mut finished_page = String::new();
    while started.elapsed() < Duration::from_secs(300) {
        let dom = page(&chromium, &url);
        let rows = rows_of(&dom);
        let Some(row) = rows.into_iter().max_by_key(|row| row.0) else {
            continue;
        };
        assert_eq!(row.3, Some(LONG_QUERY_ROWS), "the total is known up front");
        match row.1.as_str() {
            "running" => {
                running.push(row.2);
                tasks_seen.push(row.4);
            }
            "finished" => {
                last = Some(row);
                finished_page = dom;
                break;
            }
            other => panic!("unexpected state {other}"),
        }
    }
    shell.exp_string("Alice").unwrap();
    shell.exp_string(PROMPT).unwrap();
    leave(shell);

    assert!(
        running.len() >= 2,
        "watched the query running only {} time(s)",
        running.len()
    );
    assert!(
        running.windows(2).all(|pair| pair[0] <= pair[1])
            && running[0] < running[running.len() - 1],
        "progress rises: {running:?}"
    );
    // Tasks are counted done as they end, never more than there are, never fewer later.
    assert!(
        tasks_seen.windows(2).all(|pair| pair[0].0 <= pair[1].0)
            && tasks_seen.iter().all(|&(done, tasks)| done < tasks),
        "tasks done while running: {tasks_seen:?}"
    );
    let (id, _, rows_read, _, (done, tasks)) = last.expect("the page showed the query finished");
    assert_eq!(id, 1);
    assert_eq!(rows_read, LONG_QUERY_ROWS);
    assert_eq!(done, tasks, "every task done once the query is");
    // The task stream has a time axis.
    let ticks = finished_page.matches("class=\"axis-tick\"").count();
    assert!(ticks >= 2, "{ticks} ticks on the task stream's time axis");
}
