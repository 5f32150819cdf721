//! Flags, scripts, stdin, EXPLAIN, and execution settings.

use assert_cmd::Command;

use crate::{ok, query, stderr, stdout, workspace};

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

/// splitmix64: enough randomness to pick options, reproducible from a seed.
struct Picks(u64);

impl Picks {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % n as u64) as usize
    }

    fn one<'a>(&mut self, choices: &[&'a str]) -> &'a str {
        choices[self.below(choices.len())]
    }
}

/// Random command lines: options with values good, bad and absurd, and statements that run,
/// fail or do not parse. Every run ends by itself with exit 0, 1 (a statement failed) or 2 (a
/// usage error) and says why in one `error:` line (a `hint:` may follow); never a panic, a
/// signal or a half-written output. `RASK_FUZZ_SEED=N` repeats a pass, `RASK_FUZZ_ITERATIONS=N`
/// makes it longer.
#[test]
fn random_command_lines_end_cleanly() {
    let seed: u64 = std::env::var("RASK_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(11);
    let runs: usize = std::env::var("RASK_FUZZ_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    println!("flag fuzz seed {seed} (RASK_FUZZ_SEED={seed} repeats this pass)");
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).display().to_string();
    let script = at("script.sql");
    std::fs::write(&script, "SELECT 2 AS two; SELEC oops;").unwrap();
    let (out_csv, out_parquet, out_odd) = (at("out.csv"), at("out.parquet"), at("out.xyz"));
    let (graph, report, spill) = (at("graph.svg"), at("report.html"), at("spill"));
    std::fs::create_dir(&spill).unwrap();
    let sales = "t=testdata/sales/part_*.csv";
    let options: Vec<(&str, Vec<&str>)> = vec![
        (
            "--partitions",
            vec![
                "1",
                "3",
                "0",
                "-1",
                "1025",
                "abc",
                "99999999999999999999999",
            ],
        ),
        (
            "--memory-limit",
            vec![
                "200MB",
                "1GB",
                "0",
                "-5",
                "10XB",
                "1e99",
                "18446744073709551616",
            ],
        ),
        ("--batch-size", vec!["1", "8192", "0", "1048577", "x"]),
        ("--maxrows", vec!["0", "inf", "3", "-1", "x"]),
        (
            "--format",
            vec![
                "table", "csv", "json", "ndjson", "markdown", "tsv", "xml", "",
            ],
        ),
        (
            "--spill-dir",
            vec![spill.as_str(), "/nonexistent/spill", "/dev/null"],
        ),
        (
            "--table",
            vec![sales, "t=", "=x", "t=/nonexistent/*.csv", "noequals"],
        ),
        (
            "-o",
            vec![
                out_csv.as_str(),
                out_parquet.as_str(),
                out_odd.as_str(),
                "/nonexistent/x.csv",
            ],
        ),
        (
            "--graph",
            vec![graph.as_str(), "/nonexistent/g.svg", "graph.txt"],
        ),
        ("--report", vec![report.as_str(), "/nonexistent/r.html"]),
        (
            "--cluster",
            vec!["http://x", "nonsense", "127.0.0.1:99999", ""],
        ),
        ("--workers", vec!["0", "-1", "x", "65"]),
        ("--dashboard", vec!["=notaport", "=99999"]),
        ("-f", vec![script.as_str(), "/nonexistent.sql"]),
        ("-q", vec![]),
        ("--timing", vec![]),
        ("--no-progress", vec![]),
    ];
    let statements = [
        "SELECT 1 AS one",
        "SELECT count(*) AS n FROM 'testdata/sales/part_*.csv'",
        "SELECT * FROM t",
        "SELEC 1",
        "SELECT 1/0",
        "",
    ];
    let mut picks = Picks(seed);
    for run in 0..runs {
        let mut args: Vec<String> = Vec::new();
        for _ in 0..1 + picks.below(4) {
            let (flag, values) = &options[picks.below(options.len())];
            match (values.is_empty(), flag.starts_with("--dashboard")) {
                (true, _) => args.push(flag.to_string()),
                (false, true) => args.push(format!("{flag}{}", picks.one(values))),
                (false, false) => args.extend([flag.to_string(), picks.one(values).to_string()]),
            }
        }
        args.push(picks.one(&statements).to_string());
        let _ = std::fs::remove_file(&out_csv);
        let output = Command::cargo_bin("query")
            .unwrap()
            .env_remove("RUST_BACKTRACE")
            .current_dir(workspace())
            .args(&args)
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        let shown = format!("run {run} of seed {seed}: query {args:?}");
        let code = output.status.code();
        assert!(
            matches!(code, Some(0..=2)),
            "{shown} ended with {:?}",
            output.status
        );
        let text = stderr(&output);
        assert!(
            !text.contains("panicked") && !text.contains("internal error"),
            "{shown}:\n{text}"
        );
        if code != Some(0) {
            let errors = text.lines().filter(|l| l.starts_with("error: ")).count();
            assert_eq!(errors, 1, "{shown}: one error line expected:\n{text}");
            // Besides the error and its hint, only the statement's line with a caret under
            // the place.
            let lines: Vec<&str> = text.lines().collect();
            let excerpt = |i: usize| {
                lines[i].starts_with("LINE ")
                    && lines.get(i + 1).is_some_and(|caret| caret.trim() == "^")
            };
            assert!(
                lines.iter().enumerate().all(|(i, l)| {
                    l.starts_with("error: ")
                        || l.starts_with("hint: ")
                        || excerpt(i)
                        || (i > 0 && excerpt(i - 1))
                }),
                "{shown}:\n{text}"
            );
            if args.iter().any(|a| a == &out_csv) {
                assert!(
                    !std::path::Path::new(&out_csv).exists(),
                    "{shown}: a failed run wrote {out_csv}"
                );
            }
        }
    }
}

/// Runs `query` with `args` and `script` piped in.
fn piped(args: &[&str], script: &str) -> std::process::Output {
    Command::cargo_bin("query")
        .unwrap()
        .current_dir(workspace())
        .env("RASK_HISTORY", "/dev/null")
        .args(args)
        .write_stdin(script)
        .output()
        .unwrap()
}

#[test]
fn dot_commands_between_piped_or_read_statements_run_in_their_place() {
    let dir = tempfile::tempdir().unwrap();
    let inner = dir.path().join("inner.sql");
    std::fs::write(&inner, ".mode json\nSELECT 3 AS c;\n.mode csv\n").unwrap();
    // A line starting with `.` inside a statement or a string is SQL.
    let script = format!(
        ".mode csv\nSELECT 1 AS a;\n  .mode tsv\nSELECT 2 +\n.5 AS b,\n'x\n.y' AS s;\n-- then\n.read {}\nSELECT 4 AS d;\n.quit\nSELECT 5 AS e;\n",
        inner.display()
    );
    let output = piped(&[], &script);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "a\n1\nb\ts\n2.5\t\"x\n.y\"\n[{\"c\":3}]\nd\n4\n"
    );

    // The same script from -f, and a dot command as the query argument.
    let file = dir.path().join("script.sql");
    std::fs::write(&file, &script).unwrap();
    let out = ok(&["-f", file.to_str().unwrap()]);
    assert!(
        out.starts_with("a\n1\n") && out.ends_with("d\n4\n"),
        "{out}"
    );
    let out = ok(&["--table", "p=testdata/products.csv", ".schema p"]);
    assert!(out.contains("origin"), "{out}");
}

#[test]
fn a_bad_dot_command_in_a_script_runs_nothing_and_names_its_line() {
    let output = piped(
        &["--format", "csv"],
        "SELECT 1 AS a;\n.mode nope\nSELECT 2 AS b;\n",
    );
    assert_ne!(output.status.code(), Some(0));
    assert!(output.stdout.is_empty(), "{}", stdout(&output));
    let err = stderr(&output);
    assert!(err.starts_with("error: standard input: line 2: "), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let itself = dir.path().join("itself.sql");
    std::fs::write(
        &itself,
        format!("SELECT 1 AS a;\n.read {}\n", itself.display()),
    )
    .unwrap();
    let output = piped(
        &["--format", "csv"],
        &format!(".read {}\n", itself.display()),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(stdout(&output), "a\n1\n".repeat(16));
    assert!(
        stderr(&output).contains("nests scripts too deeply (limit 16)"),
        "{}",
        stderr(&output)
    );
}
