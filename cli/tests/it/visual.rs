//! `--graph`, `--report` and `--dashboard`: what they write, and how they fail.

use std::net::TcpListener;
use std::path::Path;
use std::process::Output;

use assert_cmd::Command;

use crate::{fails, ok, stderr, stdout, workspace, SALES_QUERY};

/// Above price 1: east 1 sale, north 3, south 2 (see `SALES`).
const BY_REGION: &str = "SELECT region, count(*) AS n, sum(qty) AS qty FROM sales WHERE price > 1 GROUP BY region ORDER BY region";
const SALES_TABLE: &str = "sales=testdata/sales/part_*.csv";

fn by_region(extra: &[&str]) -> String {
    let mut args = vec!["--partitions", "2", "--table", SALES_TABLE];
    args.extend_from_slice(extra);
    args.push(BY_REGION);
    ok(&args)
}

/// The DOT text without what the run added: the metrics line of each node and its colour.
fn unannotated(dot: &str) -> String {
    dot.lines()
        .map(|line| {
            let Some(rows) = line.find("\\lrows ") else {
                return format!("{line}\n");
            };
            let rest = &line[rows + 2..];
            let end = rest.find("\\l").map_or(line.len(), |e| rows + 2 + e);
            let line = format!("{}{}", &line[..rows], &line[end..]);
            let colour = line.find("fillcolor=\"#").map_or(line.len(), |c| c + 11);
            format!(
                "{}#eef3fb{}\n",
                &line[..colour],
                &line[(colour + 7).min(line.len())..]
            )
        })
        .collect()
}

#[test]
fn the_graph_of_a_run_is_the_plan_with_each_operators_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.dot");
    let printed = by_region(&["--graph", path.to_str().unwrap()]);
    assert!(printed.contains("| north   |     3 |    13 |"), "{printed}");
    let dot = std::fs::read_to_string(&path).unwrap();
    // Worked out from the fixture: 10 rows read, 6 above price 1, 3 regions through the
    // final aggregation, sort, projection and merge. The partial aggregation yields each
    // region once per partition that holds it: how the scan splits the files between the
    // two partitions decides how many, between 3 and 5 (north and south in both).
    let rows: Vec<u64> = dot
        .match_indices("\\lrows ")
        .map(|(at, _)| {
            let digits: String = dot[at + 7..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().unwrap()
        })
        .collect();
    assert_eq!(rows.len(), 8, "{dot}");
    assert_eq!(rows[..4], [3, 3, 3, 3], "{dot}");
    assert_eq!(rows[6..], [6, 10], "{dot}");
    assert!((3..=5).contains(&rows[5]) && rows[4] == rows[5], "{dot}");
    assert!(dot.contains("compute "));
    // The engine's visualize test writes this file under RASK_BLESS; here it is only read.
    let golden =
        std::fs::read_to_string(workspace().join("testdata/graphs/sales_by_region.dot")).unwrap();
    assert_eq!(
        unannotated(&dot),
        golden,
        "the graph of the run is not the plan of testdata/graphs/sales_by_region.dot"
    );
}

/// `(operator, output_rows)` of every line of an `EXPLAIN ANALYZE` plan.
fn analyzed_rows(plan: &str) -> Vec<(String, u64)> {
    plan.lines()
        .filter_map(|line| {
            let name = line.trim().split(':').next()?.to_string();
            let at = line.find("output_rows=")? + "output_rows=".len();
            let digits: String = line[at..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            Some((name, digits.parse().ok()?))
        })
        .collect()
}

#[test]
fn the_report_matches_explain_analyze() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.html");
    by_region(&["-q", "--report", path.to_str().unwrap()]);
    let explained = ok(&[
        "--partitions",
        "2",
        "--table",
        SALES_TABLE,
        "--format",
        "json",
        &format!("EXPLAIN ANALYZE {BY_REGION}"),
    ]);
    let rows: serde_json::Value = serde_json::from_str(&explained).unwrap();
    let plan = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["plan_type"] == "Plan with Metrics")
        .unwrap()["plan"]
        .as_str()
        .unwrap()
        .to_string();
    let expected = analyzed_rows(&plan);
    assert_eq!(expected.len(), 8, "{plan}");

    let html = std::fs::read_to_string(&path).unwrap();
    let dom = tl::parse(&html, tl::ParserOptions::default()).unwrap();
    let parser = dom.parser();
    let attribute = |tag: &tl::HTMLTag, name: &str| {
        tag.attributes()
            .get(name)
            .flatten()
            .map(|v| v.as_utf8_str().into_owned())
    };
    let reported: Vec<(String, u64)> = dom
        .query_selector("tr.operator")
        .unwrap()
        .filter_map(|handle| handle.get(parser)?.as_tag())
        .map(|row| {
            let cell = row
                .query_selector(parser, "td.rows")
                .unwrap()
                .next()
                .and_then(|h| h.get(parser)?.as_tag().cloned())
                .unwrap();
            (
                attribute(row, "data-name").unwrap(),
                attribute(&cell, "data-value").unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(reported, expected);
    let query = dom.get_element_by_id("query").unwrap().get(parser).unwrap();
    assert!(query.inner_text(parser).contains("GROUP BY region"));
}

/// Runs `query` with `PATH` set to `path`.
fn query_with_path(path: &str, args: &[&str]) -> Output {
    Command::cargo_bin("query")
        .unwrap()
        .current_dir(workspace())
        .env("PATH", path)
        .args(args)
        .output()
        .unwrap()
}

#[cfg(unix)]
#[test]
fn png_goes_through_graphviz_and_says_when_it_is_missing() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    // A stand-in for Graphviz that shows what it was given.
    let dot = bin.join("dot");
    std::fs::write(
        &dot,
        "#!/bin/sh\n[ \"$1\" = -Tpng ] || exit 3\necho PNG\ncat\n",
    )
    .unwrap();
    std::fs::set_permissions(&dot, std::fs::Permissions::from_mode(0o755)).unwrap();
    let png = dir.path().join("plan.png");
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let output = query_with_path(&path, &["--graph", png.to_str().unwrap(), SALES_QUERY]);
    assert!(output.status.success(), "{}", stderr(&output));
    let drawn = std::fs::read_to_string(&png).unwrap();
    assert!(drawn.starts_with("PNG\ndigraph tasks {"), "{drawn}");

    let missing = dir.path().join("missing.png");
    let output = query_with_path(
        dir.path().to_str().unwrap(),
        &["--graph", missing.to_str().unwrap(), SALES_QUERY],
    );
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.starts_with(&format!(
            "error: cannot write '{}': PNG needs Graphviz's `dot` program, which is not on PATH\nhint: write .svg or .dot",
            missing.display()
        )),
        "{err}"
    );
    assert!(stdout(&output).is_empty(), "refused before the query ran");
    assert!(!missing.exists());
}

#[test]
fn bad_paths_and_addresses_fail_before_the_query_runs() {
    let dir = tempfile::tempdir().unwrap();
    fails(
        &["--graph", "plan.txt", SALES_QUERY],
        1,
        &["cannot tell the graph format of 'plan.txt'", ".svg"],
    );
    fails(
        &["--graph", "/no/such/dir/plan.svg", SALES_QUERY],
        1,
        &["directory '/no/such/dir' does not exist"],
    );
    fails(
        &["--report", "/no/such/dir/report.html", SALES_QUERY],
        1,
        &["directory '/no/such/dir' does not exist"],
    );
    fails(
        &["--report", dir.path().to_str().unwrap(), SALES_QUERY],
        1,
        &["it is a directory"],
    );
    fails(
        &["--dashboard=nowhere", SALES_QUERY],
        2,
        &["expected HOST:PORT or PORT"],
    );
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    fails(
        &[&format!("--dashboard={address}"), SALES_QUERY],
        1,
        &[&format!("cannot serve the dashboard on {address}")],
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    assert!(!Path::new("plan.txt").exists());
}

#[test]
fn a_one_shot_query_prints_the_dashboard_link() {
    let output = crate::query(&["--dashboard=127.0.0.1:0", SALES_QUERY]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).starts_with("dashboard: http://127.0.0.1:"),
        "{}",
        stderr(&output)
    );
    assert!(stdout(&output).contains("|    10 |"));
}

/// The compute time in a node's label, in nanoseconds.
fn compute_ns(dot: &str, operator: &str) -> f64 {
    let line = dot
        .lines()
        .find(|line| line.contains(&format!("label=\"{operator} ·")))
        .unwrap_or_else(|| panic!("no {operator} in {dot}"));
    let text = line.split(" · compute ").nth(1).unwrap();
    let (number, unit) = text.split_once(' ').unwrap();
    let scale = match &unit[..unit.find(['\\', ' ']).unwrap_or(unit.len())] {
        "ns" => 1.0,
        "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        other => panic!("unit {other}"),
    };
    number.parse::<f64>().unwrap() * scale
}

/// Sources are credited with the time they take to make their rows: a generator's, and a
/// file scan's decoding (which DataFusion counts apart from its compute).
#[test]
fn sources_are_credited_with_their_own_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.dot");
    let graph = path.to_str().unwrap();
    ok(&[
        "-q",
        "--graph",
        graph,
        "SELECT name, avg(x) FROM timeseries('2000-01-01', '2000-01-08') GROUP BY name",
    ]);
    let dot = std::fs::read_to_string(&path).unwrap();
    // 604,800 rows of five columns cannot be made in a microsecond.
    assert!(compute_ns(&dot, "TimeseriesExec") > 1e6, "{dot}");
    ok(&[
        "-q",
        "--graph",
        graph,
        "SELECT sum(price) FROM 'testdata/sales.parquet'",
    ]);
    let dot = std::fs::read_to_string(&path).unwrap();
    assert!(compute_ns(&dot, "DataSourceExec") > 1e3, "{dot}");
}
