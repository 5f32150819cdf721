//! The shell's dot commands and its catalog file, with statements piped in as a script
//! would: standard input and output are no terminal.

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

use crate::{stderr, stdout, workspace};

/// Runs `query -i` with `args`, `lines` piped in, in the C locale; `env` set.
fn shell(args: &[&str], lines: &str, env: &[(&str, &str)]) -> Output {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("query"))
        .arg("-i")
        .args(args)
        .current_dir(workspace())
        .env("LC_ALL", "C")
        .env_remove("COLUMNS")
        .env("RASK_HISTORY", "/dev/null")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn shell_ok(args: &[&str], lines: &str) -> String {
    let output = shell(args, lines, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output)
}

#[test]
fn last_shows_the_whole_result_again_and_once_writes_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let once = dir.path().join("once.csv");
    let printed = shell_ok(
        &[],
        &format!(
            ".maxrows 2\nSELECT value AS v FROM generate_series(1, 5);\n.last\n\
             .once {}\n.mode csv\nSELECT 'to file' AS s;\nSELECT 'to screen' AS s;\n",
            once.display()
        ),
    );
    let (cut, rest) = printed.split_once("5 rows (2 shown)\n").unwrap();
    assert!(cut.contains("|     1 |\n|   ... |\n|     5 |"), "{cut}");
    // .last: every row, no footer.
    let rows: Vec<&str> = rest.lines().filter(|l| l.starts_with("|     ")).collect();
    assert_eq!(
        rows,
        [
            "|     1 |",
            "|     2 |",
            "|     3 |",
            "|     4 |",
            "|     5 |"
        ],
        "{rest}"
    );
    assert_eq!(std::fs::read_to_string(&once).unwrap(), "s\nto file\n");
    assert!(rest.ends_with("s\nto screen\n"), "{rest}");
    assert!(!rest.contains("to file"), "{rest}");
    // Nothing printed yet: .last says so.
    let output = shell(&[], ".last\n", &[]);
    assert!(
        stderr(&output).contains("error: no result yet"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn null_text_column_widths_version_and_the_system_shell() {
    let printed = shell_ok(
        &[],
        ".nullvalue '(none)'\nSELECT NULL AS x;\n.width 5\n\
         SELECT 'abcdef' AS letters, 'wide' AS w;\n.width\nSELECT 'abcdef' AS letters;\n\
         .version\n.shell echo from-the-shell\n",
    );
    assert!(printed.contains("| (none) |"), "{printed}");
    // `.width 5`: the first column cut to five, the second fitted.
    assert!(printed.contains("| le... | w       |\n"), "{printed}");
    assert!(printed.contains("| ab... | wide    |\n"), "{printed}");
    assert!(printed.contains("| abcdef  |\n"), "{printed}");
    assert!(
        printed.contains(&format!(
            "Rask {} (DataFusion 55.",
            env!("CARGO_PKG_VERSION")
        )),
        "{printed}"
    );
    assert!(printed.contains("from-the-shell\n"), "{printed}");
    let output = shell(&[], ".shell exit 3\nSELECT 'still here' AS s;\n", &[]);
    assert!(
        stderr(&output).contains("error: 'exit 3' exited with status 3"),
        "{}",
        stderr(&output)
    );
    assert!(stdout(&output).contains("still here"));
}

#[test]
fn no_pager_when_the_output_is_no_terminal() {
    let output = shell(
        &[],
        ".pager on\nSELECT value FROM generate_series(1, 30);\n",
        &[("PAGER", "sed 's/^/paged: /'"), ("LINES", "5")],
    );
    let printed = stdout(&output);
    assert!(
        printed.contains("|    30 |") && !printed.contains("paged"),
        "{printed}"
    );
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_catalog_keeps_definitions_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("my.db");
    let db_arg = db.to_str().unwrap();
    // Definitions as typed: the external table's columns and options must survive.
    let table = "CREATE EXTERNAL TABLE fruit (product VARCHAR, category VARCHAR, origin VARCHAR)\n  STORED AS CSV LOCATION 'testdata/products.csv' OPTIONS ('format.has_header' 'true')";
    let output = shell(
        &["--db", db_arg],
        &format!(
            "{table};\nCREATE VIEW spanish AS SELECT product AS name FROM fruit WHERE origin = 'Spain';\n\
             CREATE VIEW gone AS SELECT 1;\nDROP VIEW gone;\nCREATE TABLE scratch AS SELECT 1;\n\
             SET datafusion.execution.batch_size = 1234;\n"
        ),
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("note: table 'scratch' is held in memory and is not kept"),
        "{}",
        stderr(&output)
    );
    let kept = std::fs::read_to_string(&db).unwrap();
    assert!(kept.contains(&format!("{table};\n")), "{kept}");
    assert!(
        !kept.contains("gone") && !kept.contains("scratch"),
        "{kept}"
    );
    assert_eq!(mode(&db), 0o600);

    // A new process, one-shot: the view, the table's column names and the setting are back.
    let answer = crate::ok(&[
        "--db",
        db_arg,
        "--format",
        "csv",
        "SELECT name FROM spanish ORDER BY name; SELECT count(*) AS kinds FROM fruit WHERE category = 'fruit'; SHOW datafusion.execution.batch_size",
    ]);
    assert_eq!(
        answer,
        "name\napple\nkinds\n3\nname,value\ndatafusion.execution.batch_size,1234\n"
    );

    // `.open` another catalog: the first one's tables leave the session.
    let other = dir.path().join("other.db");
    let output = shell(
        &["--db", db_arg],
        &format!(".open {}\nSELECT * FROM spanish;\n.open\n", other.display()),
        &[],
    );
    assert!(
        stderr(&output).contains("table 'spanish' not found"),
        "{}",
        stderr(&output)
    );
    assert!(stdout(&output).contains(&format!("{}\n", other.display())));
}

#[test]
fn a_catalog_that_cannot_be_kept_or_read_is_refused() {
    crate::fails(
        &["--db", "/nonexistent/folder/my.db", "SELECT 1"],
        1,
        &["cannot open catalog", "/nonexistent/folder"],
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("broken.db");
    std::fs::write(&db, "CREATE VIEW v AS SELEC 1;\n").unwrap();
    crate::fails(
        &["--db", db.to_str().unwrap(), "SELECT 1"],
        1,
        &["broken.db", "syntax error"],
    );
}

#[test]
fn cache_shows_the_files_kept_and_serves_them_until_one_changes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    std::fs::write(&data, "k,v\na,1\nb,2\na,3\n").unwrap();
    let sum = format!("SELECT sum(v) AS total FROM '{}';\n", data.display());
    let rewrite = format!(".shell printf 'k,v\\na,5\\n' > {}\n", data.display());
    let script = format!(
        ".mode csv\n{sum}{sum}.cache\n{rewrite}{sum}.cache\n.cache clear\n.cache\n.cache off\n{sum}.cache\n"
    );
    let printed = shell_ok(&[], &script);
    let (banner, printed) = printed.split_once('\n').unwrap();
    assert!(banner.starts_with("Rask "), "{banner}");
    let shown = data.display().to_string();
    let budgets = budgets_of(printed);
    let expected = format!(
        "total\n6\ntotal\n6\n\
         file cache on: 1 file, 128 B in memory{budgets}\n\
         file,range,columns,rows,bytes,kept,hits\n{shown},,1,3,128,memory,1\n\
         total\n5\n\
         file cache on: 1 file, 128 B in memory{budgets}\n\
         file,range,columns,rows,bytes,kept,hits\n{shown},,1,1,128,memory,0\n\
         file cache on: 0 files, 0 B in memory{budgets}\n\
         total\n5\n\
         file cache off: 0 files, 0 B in memory{budgets}\n"
    );
    assert_eq!(printed, expected);

    let off = shell_ok(&["--no-cache"], &format!("{sum}{sum}.cache\n"));
    let line = format!(
        "file cache off: 0 files, 0 B in memory{}\n",
        budgets_of(&off)
    );
    assert!(off.ends_with(&line), "{off}");
    let usage = shell(&[], ".cache maybe\n", &[]);
    assert!(
        stderr(&usage).contains("usage: .cache [on|off|clear]"),
        "{}",
        stderr(&usage)
    );
}

/// The budgets a `.cache` line names (` of 2.9 GiB, 0 B on disk of 9.1 GiB`): shares of
/// the machine's memory and of the disk's free space.
fn budgets_of(printed: &str) -> String {
    let line = printed
        .lines()
        .find(|line| line.starts_with("file cache"))
        .unwrap();
    let budgets = &line[line.find(" in memory").unwrap() + " in memory".len()..];
    assert!(budgets.contains(" on disk of "), "{line}");
    budgets.to_string()
}
