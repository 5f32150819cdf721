//! Flags, scripts, stdin, EXPLAIN, and execution settings.

use assert_cmd::Command;

use crate::{ok, query, stderr, workspace};

#[test]
fn statements_and_scripts_run_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let setup = dir.path().join("setup.sql");
    std::fs::write(
        &setup,
        "CREATE VIEW sales AS SELECT * FROM 'testdata/sales/part_*.csv';\n\
         CREATE TABLE per_region AS SELECT region, sum(qty) AS qty FROM sales GROUP BY region;",
    )
    .unwrap();
    let out = ok(&[
        "-f",
        setup.to_str().unwrap(),
        "--format",
        "csv",
        "SELECT qty FROM per_region WHERE region = 'north'; SELECT count(*) AS n FROM sales",
    ]);
    assert_eq!(out, "qty\n17\nn\n10\n");
}

#[test]
fn statements_come_from_stdin_when_piped() {
    let output = Command::cargo_bin("query")
        .unwrap()
        .current_dir(workspace())
        .args(["--format", "csv"])
        .write_stdin("SELECT 1 + 1 AS two;\nSELECT count(*) AS n FROM 'testdata/products.csv';\n")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(String::from_utf8(output.stdout).unwrap(), "two\n2\nn\n4\n");
}

#[test]
fn piped_statements_stop_at_the_first_failure_with_a_non_zero_exit() {
    let output = Command::cargo_bin("query")
        .unwrap()
        .current_dir(workspace())
        .args(["--format", "csv"])
        .write_stdin("SELECT 1 AS one;\nSELECT * FROM 'testdata/missing.csv';\nSELECT 2 AS two;\n")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let out = String::from_utf8(output.stdout.clone()).unwrap();
    assert_eq!(
        out, "one\n1\n",
        "no prompt, no colour, nothing after the failure"
    );
    assert!(stderr(&output).contains("file not found: 'testdata/missing.csv'"));
}

#[test]
fn tables_can_be_named_on_the_command_line() {
    let out = ok(&[
        "--table",
        "s=testdata/sales/part_*.csv",
        "--table",
        "p=testdata/products.csv",
        "--format",
        "csv",
        "SELECT p.origin, sum(s.qty) AS qty FROM s JOIN p USING (product) GROUP BY p.origin ORDER BY 1",
    ]);
    // apple (Spain) 11, banana (Ecuador) 6, cherry (Chile) 21
    assert_eq!(out, "origin,qty\nChile,21\nEcuador,6\nSpain,11\n");
}

#[test]
fn explain_lists_the_resolved_files() {
    let out = ok(&["EXPLAIN SELECT count(*) FROM 'testdata/sales/part_*.csv'"]);
    assert!(out.contains("physical_plan"), "{out}");
    assert!(
        out.contains("testdata/sales/part_*.csv: 3 file(s): testdata/sales/part_0.csv, testdata/sales/part_1.csv, testdata/sales/part_2.csv"),
        "{out}"
    );
    let analyzed = ok(&["EXPLAIN ANALYZE SELECT count(*) FROM 'testdata/sales/part_*.csv'"]);
    assert!(analyzed.contains("output_rows"), "{analyzed}");
}

#[test]
fn timing_and_quiet() {
    let output = query(&["--timing", "SELECT 1"]);
    assert!(stderr(&output).contains("elapsed: "), "{}", stderr(&output));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.csv");
    let output = query(&["-q", "-o", path.to_str().unwrap(), "SELECT 1 AS a"]);
    assert!(output.status.success());
    assert!(
        stderr(&output).is_empty(),
        "-q prints nothing: {}",
        stderr(&output)
    );
    assert_eq!(std::fs::read_to_string(path).unwrap(), "a\n1\n");
}

#[test]
fn results_do_not_depend_on_partitions() {
    let sql = "SELECT name, count(*) AS n, round(sum(x), 6) AS x FROM timeseries('2000-01-01', '2000-01-02', '10s') GROUP BY name ORDER BY name";
    let one = ok(&["--partitions", "1", "--format", "csv", sql]);
    let four = ok(&["--partitions", "4", "--format", "csv", sql]);
    assert_eq!(one, four);
    // 8,640 rows (a day every 10 s) over 26 names
    let total: i64 = one
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(total, 8_640);
}

#[test]
fn large_group_by_spills_under_a_memory_limit() {
    // 172,800 distinct keys (two days every second) under 8 MB: the aggregation spills and
    // still finds every key once.
    let spill = tempfile::tempdir().unwrap();
    let out = ok(&[
        "--memory-limit",
        "8MB",
        "--spill-dir",
        spill.path().to_str().unwrap(),
        "--format",
        "csv",
        "SELECT count(*) AS keys, sum(n) AS rows, max(n) AS most FROM \
         (SELECT timestamp, count(*) AS n FROM timeseries('2000-01-01', '2000-01-03') GROUP BY timestamp)",
    ]);
    assert_eq!(out, "keys,rows,most\n172800,172800,1\n");
    let analyzed = ok(&[
        "--memory-limit",
        "8MB",
        "--maxrows",
        "inf",
        "EXPLAIN ANALYZE SELECT count(*) FROM \
         (SELECT timestamp, count(*) AS n FROM timeseries('2000-01-01', '2000-01-03') GROUP BY timestamp)",
    ]);
    let spills: Vec<u64> = analyzed
        .split("spill_count=")
        .skip(1)
        .map(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(
        spills.iter().any(|&n| n > 0),
        "the aggregation spilled: {analyzed}"
    );
}

#[test]
fn help_and_version() {
    let help = ok(&["--help"]);
    for needle in [
        "Examples:",
        "data_part_*.csv",
        "--memory-limit",
        "--format",
        "timeseries()",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}");
    }
    let version = ok(&["--version"]);
    assert!(version.starts_with("query "), "{version}");
}
