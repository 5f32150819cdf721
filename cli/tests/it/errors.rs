//! Bad input: one clear `error:` line, a non-zero exit, no panic, no partial output.

use crate::{fails, late_quoted_rows, ok, query, stderr, workspace};

#[test]
fn missing_inputs() {
    fails(
        &["SELECT * FROM 'testdata/nothing_*.csv'"],
        1,
        &["no files match 'testdata/nothing_*.csv'"],
    );
    fails(
        &["SELECT * FROM 'testdata/missing.csv'"],
        1,
        &["file not found: 'testdata/missing.csv'"],
    );
    fails(
        &["-f", "no_such_script.sql"],
        1,
        &["cannot read script 'no_such_script.sql'"],
    );
    fails(
        &["--table", "t=testdata/none_*.csv", "SELECT 1"],
        1,
        &["no files match"],
    );
}

#[test]
fn unreadable_inputs() {
    fails(
        &["SELECT * FROM 'testdata/bad/not_gzip.csv.gz'"],
        1,
        &["not_gzip.csv.gz", "gzip header"],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("locked.csv");
    std::fs::write(&file, "a\n1\n").unwrap();
    let readable_anyway = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
        std::fs::File::open(&file).is_ok()
    };
    if readable_anyway {
        eprintln!("running as root: permission bits do not stop reads, skipping the chmod case");
    } else {
        let sql = format!("SELECT * FROM '{}'", file.display());
        fails(
            &[&sql],
            1,
            &["cannot read", "locked.csv", "ermission denied"],
        );
    }
}

#[test]
fn malformed_csv_names_file_and_line() {
    fails(
        &["SELECT * FROM 'testdata/bad/bad_row.csv'"],
        1,
        &["testdata/bad/bad_row.csv:3: malformed CSV row: expected 2 fields, found 3"],
    );
    fails(
        &["SELECT sum(v) FROM 'testdata/bad/bad_value.csv'"],
        1,
        &["testdata/bad/bad_value.csv:10052: value 'abc' in column 'v' is not a valid Int64"],
    );
    // A quote left open would otherwise fold the rest of the file into one value.
    let dir = tempfile::tempdir().unwrap();
    let unclosed = dir.path().join("unclosed.csv");
    std::fs::write(&unclosed, "a,b\n1,\"x\n2,y\n3,z\n").unwrap();
    let later = dir.path().join("unclosed_later.csv");
    std::fs::write(&later, "a,b\n1,\"x\"\n2,5\"\n3,\"z\n").unwrap();
    for (file, place) in [(&unclosed, ":2:3: "), (&later, ":4:3: ")] {
        fails(
            &[&format!("SELECT * FROM '{}'", file.display())],
            1,
            &[place, "a quoted field opens here and is never closed"],
        );
    }
    // A long bad value is quoted in part, so the message stays a readable line.
    let long = dir.path().join("long_value.csv");
    let mut text: String = (0..20_000).map(|i| format!("{i},{i}\n")).collect();
    text.insert_str(0, "a,b\n");
    text.push_str(&format!("20000,{}\n", "z".repeat(5000)));
    std::fs::write(&long, text).unwrap();
    let err = fails(
        &[&format!("SELECT sum(b) FROM '{}'", long.display())],
        1,
        &[
            ":20002: value 'zzzz",
            "…' (5000 bytes) in column 'b' is not a valid Int64",
        ],
    );
    assert!(err.lines().next().unwrap().len() < 400, "{err}");
    fails(
        &["SELECT * FROM 'testdata/disagree/*.csv'"],
        1,
        &["disagree on columns", "(x, z)"],
    );
}

/// Files whose first 64 KiB quote nothing are read in parts cut at line breaks, unchecked up
/// front; the quotes they turn out to hold are checked as their bytes are read, whether the
/// file is read whole or in parts. Compressed files, read whole, are decompressed and walked
/// beside the read.
#[test]
fn quotes_past_the_sample_are_checked_as_the_file_is_read() {
    const SPLIT: &str = "SET datafusion.optimizer.repartition_file_min_size = 1000; ";
    for compressed in [
        "late_quote.csv.gz",
        "late_quote.csv.zst",
        "late_quote.csv.bz2",
    ] {
        fails(
            &[&format!("SELECT count(*) FROM 'testdata/bad/{compressed}'")],
            1,
            &[&format!("testdata/bad/{compressed}:7001:6: malformed CSV: a quoted field opens here and is never closed")],
        );
    }
    for split in ["", SPLIT] {
        for partitions in ["1", "3"] {
            let err = fails(
                &[
                    "--partitions",
                    partitions,
                    &format!("{split}SELECT count(*) FROM 'testdata/bad/late_quote.csv'"),
                ],
                1,
                &["testdata/bad/late_quote.csv:7001:6: malformed CSV: a quoted field opens here and is never closed"],
            );
            assert!(!err.contains("Generic"), "{err}");
        }
    }
    // The same rows with line 7001's name quoted properly, or quoting a line break.
    let dir = tempfile::tempdir().unwrap();
    let quoted = dir.path().join("quoted.csv");
    std::fs::write(&quoted, late_quoted_rows("\"last, first\"")).unwrap();
    let broken = dir.path().join("broken.csv");
    std::fs::write(&broken, late_quoted_rows("\"two\nlines\"")).unwrap();
    let expected_sum: u64 = (1..=8000).sum();
    for split in ["", SPLIT] {
        let sql = format!(
            "{split}SELECT count(*), sum(id), max(CASE WHEN id = 7000 THEN name END) FROM '{}'",
            quoted.display()
        );
        let out = ok(&["--partitions", "3", "--format", "csv", &sql]);
        assert_eq!(
            out.lines().nth(1),
            Some(&*format!("8000,{expected_sum},\"last, first\""))
        );
        let sql = format!("{split}SELECT count(*) FROM '{}'", broken.display());
        fails(
            &["--partitions", "3", &sql],
            1,
            &[":7001:6: a quoted field holding a line break opens here"],
        );
    }
    // Compressed, both read whole: right, line break and all.
    for (name_sql, name_7000) in [
        ("'last, first'", "\"last, first\""),
        ("'two' || chr(10) || 'lines'", "\"two\nlines\""),
    ] {
        let gz = dir.path().join("rows.csv.gz");
        let compress = format!(
            "COPY (SELECT value AS id, CASE WHEN value = 7000 THEN {name_sql} ELSE 'name ' || value END AS name \
             FROM generate_series(1, 8000)) TO '{}' STORED AS CSV OPTIONS ('format.compression' 'gzip')",
            gz.display()
        );
        ok(&[&compress]);
        let sql = format!(
            "SELECT count(*), sum(id), max(CASE WHEN id = 7000 THEN name END) FROM '{}'",
            gz.display()
        );
        let out = ok(&["--partitions", "3", "--format", "csv", &sql]);
        assert_eq!(
            out.split_once('\n').map(|(_, rows)| rows),
            Some(&*format!("8000,{expected_sum},{name_7000}\n"))
        );
    }
}

#[test]
fn unknown_names_get_suggestions() {
    let err = fails(&["SELECT * FROM sales"], 1, &["table 'sales' not found"]);
    assert!(
        err.contains("hint: query a file by quoting its path"),
        "{err}"
    );
    fails(
        &["SELECT nme FROM 'testdata/sales/part_0.csv'"],
        1,
        &["No field named nme", "Did you mean"],
    );
}

#[test]
fn syntax_errors_give_the_position() {
    fails(
        &["SELECT * FROM 'testdata/sales/part_0.csv' WHERE id = = 1"],
        1,
        &["syntax error", "line 1, column"],
    );
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("broken.sql");
    std::fs::write(&script, "SELECT 1;\nSELEC 2;\n").unwrap();
    fails(
        &["-f", script.to_str().unwrap()],
        1,
        &["broken.sql: syntax error", "line 2, column 1"],
    );
}

/// Every refused flag value, whatever part refuses it, is one `error:` line naming the flag
/// and one `hint:` line, with exit code 2.
#[test]
fn usage_errors_are_one_line_and_a_hint_with_exit_2() {
    for (args, names) in [
        (vec!["--no-such-flag", "SELECT 1"], "'--no-such-flag'"),
        (
            vec!["--format", "xml", "SELECT 1"],
            "[possible values: table, csv",
        ),
        (vec!["--memory-limit", "lots", "SELECT 1"], "--memory-limit"),
        (
            vec!["--memory-limit", "99999999999999999999GB", "SELECT 1"],
            "at most 1PiB",
        ),
        (vec!["--partitions", "0", "SELECT 1"], "--partitions"),
        (vec!["--partitions", "-1", "SELECT 1"], "from 1 to 1024"),
        (
            vec!["--partitions", "18446744073709551615", "SELECT 1"],
            "--partitions",
        ),
        (vec!["--partitions", "10000", "SELECT 1"], "--partitions"),
        (
            vec!["--batch-size", "18446744073709551615", "SELECT 1"],
            "--batch-size",
        ),
        (
            vec!["--batch-size", "1000000000000", "SELECT 1"],
            "from 1 to 1048576",
        ),
        (vec!["--maxrows", "many", "SELECT 1"], "--maxrows"),
        (vec!["--table", "noequals", "SELECT 1"], "--table"),
        (
            vec!["--cluster", "http://127.0.0.1:50050", "SELECT 1"],
            "expected df://HOST:PORT",
        ),
        (vec!["--workers", "0", "SELECT 1"], "--workers"),
        (
            vec!["worker"],
            "required arguments were not provided: --scheduler",
        ),
    ] {
        let output = query(&args);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 2, "{args:?}: {err}");
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains(names),
            "{args:?}: {err}"
        );
        assert!(lines[1].starts_with("hint: "), "{args:?}: {err}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn a_failing_statement_stops_a_script_with_the_earlier_results_printed() {
    let output = query(&["SELECT 1 AS one; SELECT * FROM 'testdata/missing.csv'; SELECT 2"]);
    assert_eq!(output.status.code(), Some(1));
    let out = String::from_utf8(output.stdout).unwrap();
    assert!(out.contains("one"), "{out}");
    assert!(
        !out.contains("| 2"),
        "statements after the failure do not run: {out}"
    );
}

#[test]
fn memory_that_cannot_fit_says_which_operator_and_which_flag() {
    // A TopK cannot spill: with a limit far below its need the query must fail clearly.
    let err = fails(
        &[
            "--memory-limit",
            "100KB",
            "SELECT x FROM timeseries('2000-01-01', '2000-01-02') ORDER BY x LIMIT 50000",
        ],
        1,
        &["the query needs more memory than the limit", "needed"],
    );
    assert!(
        err.contains("hint: raise the memory limit (query --memory-limit"),
        "{err}"
    );
}

/// A function given an argument of a type it does not accept: one `error:` line naming the
/// call, the argument's type and what the function expects, one `hint:` line with a cast,
/// exit code 1 and nothing on stdout.
#[test]
fn arguments_of_the_wrong_type_are_named_with_a_cast_that_would_do() {
    let output = query(&["SELECT avg(region) FROM 'testdata/sales/part_*.csv'"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: avg(region): argument of type VARCHAR is not numeric\n\
         hint: cast it, e.g. avg(CAST(region AS DOUBLE))\n"
    );
    assert!(output.stdout.is_empty());
    let output = query(&[
        "--format",
        "csv",
        "SELECT region, sum(sold_at > '2024-01-02') FROM 'testdata/sales/part_*.csv' GROUP BY region",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: sum(sold_at > '2024-01-02'): argument of type BOOLEAN is not numeric\n\
         hint: cast it, e.g. sum(CAST((sold_at > '2024-01-02') AS DOUBLE))\n"
    );
}

/// A call none of a function's signatures fits, which DataFusion reports as a bug of its own,
/// reaches the user as a plan error on one line, with the types it takes and no request to
/// report a bug.
#[test]
fn calls_no_signature_fits_are_one_line_with_what_the_function_takes() {
    let err = fails(
        &["SELECT substr(note, 'x') FROM 'testdata/sales/part_0.csv'"],
        1,
        &[
            "substr(Utf8, Utf8): no version of the function takes these argument types",
            "it takes substr(str: String, start_pos: Int64) or substr(str: String, start_pos: Int64, length: Int64)",
        ],
    );
    assert!(!err.contains("likely caused by a bug"), "{err}");
    assert!(!err.contains("internal error"), "{err}");
    assert_eq!(err.lines().count(), 2, "{err}");
}

/// Sizes that arguments ask for are checked before anything is allocated: against the memory
/// limit, or against what a string column can hold.
#[test]
fn results_sized_by_arguments_are_refused_before_they_are_allocated() {
    let padded = "SELECT rpad(note, 2147483647, 'x') FROM 'testdata/sales/part_*.csv'";
    fails(
        &["--memory-limit", "100MB", padded],
        1,
        &[
            "rpad: the result would take",
            "more than the 95.4 MiB a query may hold",
        ],
    );
    fails(
        &[
            "--memory-limit",
            "100MB",
            "SELECT repeat(region, 100000000) FROM 'testdata/sales/part_*.csv'",
        ],
        1,
        &["repeat: the result would take"],
    );
    fails(&[padded], 1, &["rpad: the result would take"]);
    // A negative length pads to nothing, as in PostgreSQL, whatever the fill.
    let empty = ok(&[
        "--format",
        "csv",
        "SELECT rpad('a', -1, note) AS p, lpad(note, -3) AS q FROM 'testdata/sales/part_*.csv' WHERE id < 4",
    ]);
    assert_eq!(empty, "p,q\n,\n,\n,\n");
    // Centroids are allocated up front, 16 bytes each: 2^32 of them aborted the process.
    for call in [
        "approx_percentile_cont(x, 0.5, 4294967296)",
        "approx_percentile_cont(0.5, 9223372036854775807) WITHIN GROUP (ORDER BY x)",
        "approx_percentile_cont_with_weight(x, 1, 0.5, 0)",
    ] {
        let sql = format!("SELECT {call} FROM (VALUES (1.0), (2.0), (3.0)) t(x)");
        fails(
            &[&sql],
            1,
            &["the number of centroids must be from 1 to 65536"],
        );
    }
    fails(
        &["SELECT nth_value(x, 0) FROM (VALUES (1)) t(x)"],
        1,
        &["nth_value: positions start at 1, not 0"],
    );
    let median = ok(&[
        "--format",
        "csv",
        "SELECT approx_percentile_cont(x, 0.5, 65536) AS p, nth_value(x, 3 ORDER BY x) AS n \
         FROM (VALUES (1.0), (2.0), (3.0)) t(x)",
    ]);
    assert_eq!(median, "p,n\n2.0,3.0\n");
    fails(
        &["SELECT count(*) FROM timeseries(partition_freq => '1ns')"],
        1,
        &["'1ns' cuts the span into 2592000000000000 partitions, more than 100000"],
    );
}

/// `SET` takes a batch size, a partition count or a Parquet writer setting within the range
/// the flags allow: DataFusion takes these values and then allocates 32 GiB (a batch of 2^32
/// rows), loops for ever (Parquet batches of no rows) or panics (row groups of no rows, a
/// bloom filter false-positive rate of 2, no writer).
#[test]
fn settings_out_of_range_are_refused_by_set() {
    for (setting, value, expected) in [
        (
            "batch_size",
            "4294967296",
            "must be from 1 to 1048576, not 4294967296",
        ),
        (
            "target_partitions",
            "100000",
            "must be from 1 to 1024, not 100000",
        ),
        (
            "parquet.write_batch_size",
            "0",
            "must be from 1 to 1048576, not 0",
        ),
        (
            "parquet.max_row_group_size",
            "0",
            "must be at least 1, not 0",
        ),
        (
            "parquet.maximum_parallel_row_group_writers",
            "0",
            "must be from 1 to 1024",
        ),
        (
            "parquet.maximum_buffered_record_batches_per_stream",
            "0",
            "must be from 1 to 1024",
        ),
        (
            "parquet.bloom_filter_fpp",
            "2",
            "must be between 0 and 1 (both excluded), not 2",
        ),
    ] {
        let name = format!("datafusion.execution.{setting}");
        let sql = format!("SET {name} = {value}; COPY (SELECT 1 AS a) TO 'never.parquet'");
        fails(&[&sql], 1, &[&format!("{name} {expected}")]);
    }
    // The same as options of a COPY, or of a table written by INSERT.
    for (option, expected) in [
        (
            "format.max_row_group_size 0",
            "format.max_row_group_size must be at least 1, not 0",
        ),
        (
            "format.write_batch_size 0",
            "format.write_batch_size must be from 1 to 1048576, not 0",
        ),
        (
            "'format.bloom_filter_fpp::a' 5, 'format.bloom_filter_enabled::a' true",
            "format.bloom_filter_fpp::a must be between 0 and 1 (both excluded), not 5",
        ),
    ] {
        let sql = format!("COPY (SELECT 1 AS a) TO 'never.parquet' OPTIONS ({option})");
        fails(&[&sql], 1, &[expected]);
    }
    let dir = tempfile::tempdir().unwrap();
    let table = format!(
        "CREATE EXTERNAL TABLE t (a INT) STORED AS PARQUET LOCATION '{}/' \
         OPTIONS ('format.max_row_group_size' '0'); INSERT INTO t VALUES (1)",
        dir.path().display()
    );
    fails(
        &[&table],
        1,
        &["format.max_row_group_size must be at least 1, not 0"],
    );
    assert!(!workspace().join("never.parquet").exists());
    let counted = ok(&[
        "--format",
        "csv",
        "SET datafusion.execution.batch_size = 7; SELECT count(*) AS n FROM generate_series(1, 1000)",
    ]);
    assert_eq!(counted, "n\n1000\n");
}

/// A construct DataFusion cannot plan is named by its kind, not by its syntax tree.
#[test]
fn unsupported_constructs_are_named_in_a_short_line() {
    let err = fails(
        &["SELECT * FROM (SELECT 1 AS a) PIVOT (sum(a) FOR a IN (1))"],
        1,
        &["this SQL is not supported: Pivot"],
    );
    assert!(err.lines().next().unwrap().len() < 120, "{err}");
}

/// A window frame offset past any partition's reach is the partition's end, not an integer
/// overflow: over ids 1..=10 the frame from the current row holds 11 - id rows.
#[test]
fn huge_window_offsets_reach_the_end_of_the_partition() {
    let counts = ok(&[
        "--format",
        "csv",
        "SELECT id, count(*) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND 18446744073709551615 FOLLOWING) AS n \
         FROM 'testdata/sales/part_*.csv' ORDER BY id",
    ]);
    let expected: String = (1..=10).map(|id| format!("{id},{}\n", 11 - id)).collect();
    assert_eq!(counts, format!("id,n\n{expected}"));
}

/// A damaged file is named, whether its reader fails or panics, while the table is created
/// or while it is read, alone or in a glob with good files.
#[test]
fn damaged_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let good = path("good.parquet");
    let arrow = path("good.arrow");
    let rows = "SELECT v, 'x' || v AS s FROM generate_series(1, 100000) AS t(v)";
    ok(&["-o", &good, rows]);
    ok(&["-o", &arrow, rows]);
    let bytes = std::fs::read(&good).unwrap();
    let glob = dir.path().join("glob");
    std::fs::create_dir(&glob).unwrap();
    std::fs::write(glob.join("a.parquet"), &bytes).unwrap();
    // Its data pages overwritten: the footer still reads, the pages no longer decompress.
    let mut pages = bytes.clone();
    pages[100..400].fill(0xff);
    std::fs::write(glob.join("b.parquet"), &pages).unwrap();
    let b = glob.join("b.parquet");
    fails(
        &[&format!(
            "SELECT sum(v) FROM '{}/*.parquet'",
            glob.display()
        )],
        1,
        &[&format!("{}: ", b.display())],
    );
    // A footer length past the start of the file panics in the footer decoder.
    std::fs::write(path("footer.parquet"), "PAR1PAR1").unwrap();
    fails(
        &[&format!("SELECT * FROM '{}'", path("footer.parquet"))],
        1,
        &[&format!("cannot read '{}'", path("footer.parquet"))],
    );
    // An Arrow file cut short: its footer length would be read from the middle of the data.
    let arrow_bytes = std::fs::read(&arrow).unwrap();
    std::fs::write(path("cut.arrow"), &arrow_bytes[..arrow_bytes.len() / 2]).unwrap();
    fails(
        &[&format!("SELECT * FROM '{}'", path("cut.arrow"))],
        1,
        &[&format!("cannot read '{}'", path("cut.arrow")), "truncated"],
    );
    std::fs::write(path("tiny.arrow"), "ARROW").unwrap();
    fails(
        &[&format!("SELECT * FROM '{}'", path("tiny.arrow"))],
        1,
        &["tiny.arrow", "the Arrow file is damaged"],
    );
}

/// Statements and files of great width finish or are refused clearly: ten thousand select
/// items run; a CSV file of more columns than a table may have is refused before planning.
#[test]
fn very_wide_statements_run_and_very_wide_files_are_refused() {
    let items: Vec<String> = (0..10_000).map(|i| i.to_string()).collect();
    let printed = ok(&["--format", "csv", &format!("SELECT {}", items.join(", "))]);
    let values: Vec<&str> = printed.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(values.len(), 10_000);
    assert_eq!(values[9_999], "9999");
    let dir = tempfile::tempdir().unwrap();
    let wide = dir.path().join("wide.csv");
    let header: Vec<String> = (0..10_001).map(|i| format!("c{i}")).collect();
    let row: Vec<String> = (0..10_001).map(|i| i.to_string()).collect();
    std::fs::write(&wide, format!("{}\n{}\n", header.join(","), row.join(","))).unwrap();
    fails(
        &[&format!("SELECT c5 FROM '{}'", wide.display())],
        1,
        &["has 10001 columns, more than the 10000 a table may have"],
    );
}

/// A syntax error, and a column planning cannot find, show their statement's line with a
/// caret under the place, counted in the script the statement is part of.
#[test]
fn errors_point_at_the_place_in_the_statement() {
    let err = crate::fails(
        &["SELECT 1 +* FROM t"],
        1,
        &["syntax error", "line 1, column 11"],
    );
    assert_eq!(
        err.lines().skip(1).take(2).collect::<Vec<_>>(),
        ["LINE 1: SELECT 1 +* FROM t", "                  ^"]
    );
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("report.sql");
    std::fs::write(
        &script,
        "SELECT 1;\nSELECT product\nFROM 'testdata/products.csv' WHERE categori = 'fruit';\n",
    )
    .unwrap();
    let output = crate::query(&["-f", script.to_str().unwrap()]);
    let err = crate::stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(
        err.lines().skip(1).take(2).collect::<Vec<_>>(),
        [
            "LINE 3: FROM 'testdata/products.csv' WHERE categori = 'fruit';",
            "                                           ^"
        ],
        "{err}"
    );
    // Wide characters before the place count two columns each.
    let err = crate::fails(&["SELECT '日本' AS j, nope"], 1, &["nope"]);
    assert_eq!(
        err.lines().nth(2),
        Some(&*format!("{}^", " ".repeat(8 + 20))),
        "{err}"
    );
}
