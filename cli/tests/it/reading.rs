//! Files read right the first time: CSV dialects sniffed, dates beyond ISO found, globs whose
//! files differ read by name, and the report of how they differ. Every expected value is
//! read off the fixtures in `testdata/dialects/` and `testdata/drift/` by hand.

use crate::{fails, ok};

fn csv(sql: &str) -> String {
    ok(&["--format", "csv", sql])
}

#[test]
fn dialects_are_sniffed_when_not_given() {
    for (file, expected) in [
        (
            "semicolon.csv",
            "id,city,visits\n1,Paris; FR,10\n2,Oslo,7\n3,Rome,12\n",
        ),
        ("pipe.csv", "code,label,ratio\nA,alpha,0.5\nB,beta,1.25\n"),
        ("tabs.csv", "k,word\n1,one\n2,two\n"),
        (
            "noheader.csv",
            "column_1,column_2,column_3\n1,2.5,2024-01-05\n2,3.5,2024-01-06\n3,4.5,2024-01-07\n",
        ),
        (
            "quoted_newlines.csv",
            "id,note\n1,\"first line\nsecond line\"\n2,plain\n",
        ),
        (
            "single_quotes.csv",
            "id,name\n1,\"Smith, J\"\n2,\"Doe, A\"\n",
        ),
    ] {
        let sql = format!("SELECT * FROM 'testdata/dialects/{file}'");
        assert_eq!(csv(&sql), expected, "{file}");
    }
    // Types follow the dialect: `visits` is a number, not part of one long text column.
    assert_eq!(
        csv("SELECT sum(visits) AS total FROM 'testdata/dialects/semicolon.csv'"),
        "total\n29\n"
    );
    // What the user says stands: the semicolon file read with commas is one column.
    assert_eq!(
        csv("SELECT * FROM read_csv('testdata/dialects/semicolon.csv', delimiter => ',') LIMIT 0"),
        "id;city;visits\n"
    );
}

#[test]
fn explain_shows_the_dialect_read() {
    let plan = |file: &str| ok(&[&format!("EXPLAIN SELECT * FROM 'testdata/dialects/{file}'")]);
    assert!(
        plan("semicolon.csv").contains("(csv: delimiter ';', quote '\"', header)"),
        "{}",
        plan("semicolon.csv")
    );
    assert!(plan("noheader.csv").contains("(csv: delimiter ',', quote '\"', no header)"));
    assert!(plan("tabs.csv").contains("(csv: delimiter '\\t', quote '\"', header)"));
    assert!(plan("single_quotes.csv").contains("(csv: delimiter ',', quote ''', header)"));
}

#[test]
fn dates_in_other_formats_are_read_as_dates() {
    let file = "'testdata/dialects/dates.csv'";
    assert_eq!(
        csv(&format!("DESCRIBE {file}")),
        "column_name,data_type,is_nullable\nus,Date32,YES\neu,Date32,YES\ndotted,Date32,YES\n\
         slashed,Date32,YES\nus_time,Timestamp(ns),YES\neu_time,Timestamp(ns),YES\n"
    );
    // Every column of the first row is 15 March 2024, of the second 1 December 2023.
    let matching = |day: &str, us_time: &str, eu_time: &str| {
        csv(&format!(
            "SELECT count(*) AS n FROM {file} WHERE us = DATE '{day}' AND eu = DATE '{day}' \
             AND dotted = DATE '{day}' AND slashed = DATE '{day}' \
             AND us_time = TIMESTAMP '{us_time}' AND eu_time = TIMESTAMP '{eu_time}'"
        ))
    };
    assert_eq!(
        matching("2024-03-15", "2024-03-15 14:30:00", "2024-03-15 14:30:15"),
        "n\n1\n"
    );
    assert_eq!(
        matching("2023-12-01", "2023-12-01 11:05:00", "2023-12-01 09:05:00"),
        "n\n1\n"
    );
    // The empty third row is NULL in every column.
    assert_eq!(
        csv(&format!(
            "SELECT count(*) AS n FROM {file} WHERE us IS NULL AND eu_time IS NULL"
        )),
        "n\n1\n"
    );
}

#[test]
fn union_by_name_reads_files_whose_columns_differ() {
    fails(
        &["SELECT * FROM 'testdata/drift/*.csv'"],
        1,
        &["disagree on columns", "union_by_name => true"],
    );
    assert_eq!(
        csv("SELECT * FROM read_csv('testdata/drift/*.csv', union_by_name => true) ORDER BY id"),
        "id,name,score,city\n1,ann,3.5,\n2,bob,4.0,\n3,cy,2.0,Oslo\n4,dee,,\n"
    );
    fails(
        &["SELECT * FROM read_csv('testdata/drift/*.csv', union_by_name => 'yes')"],
        1,
        &["union_by_name must be true or false"],
    );
}

#[test]
fn schema_drift_names_which_files_differ_how() {
    let output = std::process::Command::new(assert_cmd::cargo::cargo_bin("query"))
        .args(["-i", "--format", "csv"])
        .current_dir(crate::workspace())
        .env("RASK_HISTORY", "/dev/null")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b".schema --files 'testdata/drift/*.csv'\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(output.status.success(), "{}", crate::stderr(&output));
    let report = crate::stdout(&output);
    let expected = "file,columns,drift\n\
        testdata/drift/part_1.csv,\"id int64, name varchar, score double\",same\n\
        testdata/drift/part_2.csv,\"id int64, name varchar, score int64, city varchar\",adds city varchar; score is int64 (not double)\n\
        testdata/drift/part_3.csv,\"name varchar, id int64\",lacks score; orders its columns otherwise\n";
    assert!(report.ends_with(expected), "{report}");
}
