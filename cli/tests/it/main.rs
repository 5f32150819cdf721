//! Runs the real `query` binary. Expected values come from the fixtures in `testdata/`,
//! read off by hand (see `SALES`), never from an earlier run.

mod cancel;
mod cluster;
mod dashboard;
mod errors;
mod formats;
mod garage;
mod options;
mod outputs;
mod reading;
mod remote;
mod repl;
mod shell;
mod venv;
mod visual;

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

/// One row of `id, region, price, note`.
pub type SalesRow = (i64, Option<&'static str>, Option<f64>, Option<&'static str>);

/// `id, region, price, note` of `testdata/sales/*.csv`, ordered by id.
pub const SALES: [SalesRow; 10] = [
    (1, Some("north"), Some(1.25), Some("plain")),
    (2, Some("south"), Some(0.5), Some("with, comma")),
    (3, Some("north"), Some(4.0), Some("say \"hi\"")),
    (4, Some("east"), Some(1.25), None),
    (5, Some("south"), Some(1.5), Some("über")),
    (6, None, Some(0.5), Some("日本語")),
    (7, Some("east"), None, Some("x")),
    (8, Some("north"), Some(0.75), Some("y")),
    (9, Some("south"), Some(4.5), Some("z")),
    (10, Some("north"), Some(1.25), Some("emoji 🎉")),
];

pub const SALES_QUERY: &str =
    "SELECT id, region, price, note FROM 'testdata/sales/part_*.csv' ORDER BY id";

/// The rows of a CSV file of ids 1 to 8000 named `name {id}`, but for id 7000 named
/// `name_7000` as written: past the first 64 KiB, which the planner samples for quotes.
pub fn late_quoted_rows(name_7000: &str) -> String {
    let mut text = String::from("id,name\n");
    for id in 1..=8000 {
        match id {
            7000 => text.push_str(&format!("7000,{name_7000}\n")),
            _ => text.push_str(&format!("{id},name {id}\n")),
        }
    }
    text
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs `query` from the workspace root with `args`, without `RUST_BACKTRACE` (with it, a
/// contained panic is also shown as Rust reports panics, for debugging), in the C locale
/// (tables drawn in ASCII) and with no `COLUMNS` to fit tables to.
pub fn query(args: &[&str]) -> Output {
    Command::cargo_bin("query")
        .unwrap()
        .env_remove("RUST_BACKTRACE")
        .env("LC_ALL", "C")
        .env_remove("COLUMNS")
        .current_dir(workspace())
        .args(args)
        .output()
        .unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Asserts success and returns stdout.
pub fn ok(args: &[&str]) -> String {
    let output = query(args);
    assert!(
        output.status.success(),
        "query {args:?} failed: {}",
        stderr(&output)
    );
    stdout(&output)
}

/// Asserts a failure with exit `code` and a single `error:` line containing every one of
/// `needles`; returns stderr.
pub fn fails(args: &[&str], code: i32, needles: &[&str]) -> String {
    let output = query(args);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(code), "query {args:?}: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(!err.contains("stack backtrace"), "backtrace: {err}");
    let first = err.lines().next().unwrap_or_default();
    assert!(first.starts_with("error: "), "{err}");
    for needle in needles {
        assert!(first.contains(needle), "expected {needle:?} in {first:?}");
    }
    assert!(
        output.stdout.is_empty(),
        "no partial output expected: {}",
        stdout(&output)
    );
    err
}
