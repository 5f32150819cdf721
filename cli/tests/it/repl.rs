//! The interactive shell, driven through a pseudo-terminal as a person would use it.

use std::process::Command;
use std::time::{Duration, Instant};

use rexpect::session::{spawn_command, PtySession};

use crate::workspace;

pub const PROMPT: &str = "rask> ";

/// Types `text` and Enter, as a person would: after the shell has taken the terminal.
pub fn type_line(shell: &mut PtySession, text: &str) {
    type_text(shell, text);
    shell.send("\n").unwrap();
}

fn type_text(shell: &mut PtySession, text: &str) {
    // rustyline switches the terminal to raw mode for every line it reads; keys sent
    // before that may be flushed away.
    std::thread::sleep(Duration::from_millis(150));
    shell.send(text).unwrap();
    shell.flush().unwrap();
}

/// A shell with its own history file, kept as long as the returned folder.
fn fresh_shell() -> (tempfile::TempDir, PtySession) {
    let (history, shell, _) = fresh_shell_with(&[]);
    (history, shell)
}

/// [`fresh_shell`] started with `args`; also returns what the shell printed between its
/// greeting and its first prompt.
pub fn fresh_shell_with(args: &[&str]) -> (tempfile::TempDir, PtySession, String) {
    let history = tempfile::tempdir().unwrap();
    let (shell, intro) = shell_with_intro(&history.path().join("history"), args);
    (history, shell, intro)
}

/// Ctrl-D leaves the shell. It is pressed as any key is (see [`type_text`]): once the shell
/// has taken the terminal, or it may be lost and the shell never leave.
pub fn leave(mut shell: PtySession) {
    type_text(&mut shell, "\x04");
    shell.exp_eof().unwrap();
}

fn shell(history: &std::path::Path) -> PtySession {
    shell_with_intro(history, &[]).0
}

fn shell_with_intro(history: &std::path::Path, args: &[&str]) -> (PtySession, String) {
    shell_with_env(history, args, &[])
}

/// A shell started with `args` and the variables `env` set.
fn shell_with_env(
    history: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (PtySession, String) {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("query"));
    command
        .envs(env.iter().copied())
        .args(args)
        .current_dir(workspace())
        .env("RASK_HISTORY", history)
        .env("NO_COLOR", "1")
        .env("LC_ALL", "C")
        .env("TERM", "xterm");
    let mut session = spawn_command(command, Some(20_000)).unwrap();
    session.exp_string("Type .help for help").unwrap();
    let intro = session.exp_string(PROMPT).unwrap();
    (session, intro)
}

#[test]
fn a_query_prints_its_result_and_errors_keep_the_shell() {
    let (_history, mut shell) = fresh_shell();
    type_line(&mut shell, "SELECT count(*) AS n, sum(qty) AS q");
    shell.exp_string(" ...> ").unwrap();
    type_line(&mut shell, "FROM 'testdata/sales/part_*.csv';");
    shell.exp_regex(r"\|\s+10 \|\s+38 \|").unwrap();
    shell.exp_string(PROMPT).unwrap();
    type_line(&mut shell, "SELECT * FROM nowhere;");
    shell
        .exp_string("error: table 'nowhere' not found")
        .unwrap();
    shell.exp_string(PROMPT).unwrap();
    type_line(&mut shell, ".bogus");
    shell.exp_string("unknown command '.bogus'").unwrap();
    type_line(&mut shell, "SELECT 6 * 7 AS answer;");
    shell.exp_regex(r"\|\s+42 \|").unwrap();
    shell.exp_string(PROMPT).unwrap();
    type_line(&mut shell, "SELECT 6 * 7 AS answer WHERE false;");
    shell
        .exp_string(
            "+--------+\r\n| answer |\r\n| int64  |\r\n+--------+\r\n+--------+\r\n0 rows\r\n",
        )
        .unwrap();
    leave(shell);
}

#[test]
fn dot_commands() {
    let (_history, mut shell) = fresh_shell();
    type_line(
        &mut shell,
        "CREATE VIEW products AS SELECT * FROM 'testdata/products.csv';",
    );
    shell.exp_string(PROMPT).unwrap();
    type_line(&mut shell, ".tables");
    shell.exp_regex(r"\| products\s+\| VIEW").unwrap();
    type_line(&mut shell, ".schema products");
    shell
        .exp_regex(r"\| products\s+\| origin\s+\| Utf8")
        .unwrap();
    type_line(&mut shell, ".mode csv");
    shell.exp_string(PROMPT).unwrap();
    type_line(
        &mut shell,
        "SELECT product FROM products ORDER BY product LIMIT 2;",
    );
    shell.exp_string("product\r\napple\r\nbanana").unwrap();
    shell.exp_string(PROMPT).unwrap();
    type_line(&mut shell, "SELECT product FROM products WHERE false;");
    shell.exp_string("product\r\n").unwrap();
    shell.exp_string(PROMPT).unwrap();
    type_line(&mut shell, ".quit");
    shell.exp_eof().unwrap();
}

#[test]
fn tab_completes_columns_and_file_names() {
    let (_history, mut shell) = fresh_shell();
    type_line(
        &mut shell,
        "CREATE VIEW products AS SELECT * FROM 'testdata/products.csv';",
    );
    shell.exp_string(PROMPT).unwrap();
    // `orig` can only be the column `origin` of the table the statement names.
    type_text(&mut shell, "SELECT orig\t");
    shell.exp_string("origin").unwrap();
    type_line(&mut shell, " FROM products WHERE product = 'durian';");
    shell.exp_string("NULL").unwrap();
    shell.exp_string(PROMPT).unwrap();
    // A single file found closes the quote.
    type_text(&mut shell, "SELECT count(*) AS n FROM 'testdata/prod\t");
    shell.exp_string("products.csv'").unwrap();
    type_line(&mut shell, ";");
    shell.exp_regex(r"\|\s+4 \|").unwrap();
    leave(shell);
}

#[test]
fn ctrl_c_cancels_a_running_query_and_the_prompt_returns() {
    let (_history, mut shell) = fresh_shell();
    // Ten years every second: minutes of work unoptimised.
    type_line(
        &mut shell,
        "SELECT sum(x) FROM timeseries('2000-01-01', '2010-01-01');",
    );
    std::thread::sleep(Duration::from_millis(1500));
    let pressed = Instant::now();
    shell.send_control('c').unwrap();
    shell.exp_string("query cancelled").unwrap();
    shell.exp_string(PROMPT).unwrap();
    assert!(
        pressed.elapsed() < Duration::from_secs(1),
        "took {:?}",
        pressed.elapsed()
    );
    type_line(&mut shell, "SELECT 1 + 1 AS two;");
    shell.exp_regex(r"\|\s+2 \|").unwrap();
    // Ctrl-C at the prompt clears the line instead of leaving.
    type_text(&mut shell, "SELECT half a line");
    shell.send_control('c').unwrap();
    shell.exp_string(PROMPT).unwrap();
    type_line(&mut shell, "SELECT 3 AS three;");
    shell.exp_regex(r"\|\s+3 \|").unwrap();
    leave(shell);
}

#[test]
fn history_survives_a_restart() {
    let history = tempfile::tempdir().unwrap();
    let file = history.path().join("nested/history");
    let mut first = shell(&file);
    type_line(&mut first, "SELECT 'remembered' AS word;");
    first.exp_string("remembered").unwrap();
    first.exp_string(PROMPT).unwrap();
    leave(first);
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains("SELECT 'remembered' AS word;"));

    let mut second = shell(&file);
    type_text(&mut second, "\x1b[A"); // arrow up: the last statement comes back
    type_text(&mut second, "\n");
    second.exp_regex(r"\| remembered \|").unwrap();
    leave(second);
}

#[test]
fn history_keeps_no_secret() {
    let history = tempfile::tempdir().unwrap();
    let file = history.path().join("history");
    let mut shell = shell(&file);
    // The statement fails (nothing listens there), but it is remembered: without its secret.
    type_line(
        &mut shell,
        "SELECT * FROM read_csv('s3://b/x.csv', endpoint => 'http://127.0.0.1:9', access_key_id => 'AKIAEXAMPLE', secret_access_key => 'hush-hush');",
    );
    shell.exp_string("error:").unwrap();
    shell.exp_string(PROMPT).unwrap();
    leave(shell);
    let kept = std::fs::read_to_string(&file).unwrap();
    assert!(kept.contains("secret_access_key => '***'"), "{kept}");
    assert!(!kept.contains("hush-hush"), "{kept}");
}

#[test]
fn graph_and_report_commands_draw_the_last_query() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| dir.path().join(name).display().to_string();
    let (_history, mut shell) = fresh_shell();
    type_line(&mut shell, &format!(".graph {}", file("early.dot")));
    shell.exp_string("error: no query has run yet").unwrap();
    type_line(
        &mut shell,
        "SELECT region, count(*) FROM 'testdata/sales/part_*.csv' GROUP BY region;",
    );
    // The prompt is redrawn while the line is typed; the result's last row means it ran.
    shell.exp_string("| NULL    |        1 |").unwrap();
    shell.exp_string(PROMPT).unwrap();
    type_line(&mut shell, &format!(".graph {}", file("run.dot")));
    shell.exp_string("wrote task graph (").unwrap();
    type_line(
        &mut shell,
        &format!(
            ".graph {} SELECT count(*) FROM 'testdata/sales/part_*.csv';",
            file("plan.svg")
        ),
    );
    shell.exp_string("not run) to").unwrap();
    type_line(&mut shell, &format!(".report {}", file("report.html")));
    shell.exp_string("wrote performance report to").unwrap();
    leave(shell);

    assert!(!dir.path().join("early.dot").exists());
    let run = std::fs::read_to_string(file("run.dot")).unwrap();
    assert!(
        run.contains("DataSourceExec") && run.contains("rows 10 ·"),
        "{run}"
    );
    let plan = std::fs::read_to_string(file("plan.svg")).unwrap();
    assert!(
        plan.contains("<svg") && !plan.contains("rows "),
        "not annotated"
    );
    let report = std::fs::read_to_string(file("report.html")).unwrap();
    assert!(report.contains("<section id=\"operators\">"));
}

#[test]
fn tall_results_go_to_the_pager_and_prompts_change() {
    let history = tempfile::tempdir().unwrap();
    // The pseudo-terminal reports no size: `LINES` says 10.
    let (mut shell, _) = shell_with_env(
        &history.path().join("history"),
        &[],
        &[("PAGER", "sed 's/^/paged: /'"), ("LINES", "10")],
    );
    let tall = "SELECT value FROM generate_series(1, 30);";
    type_line(&mut shell, tall);
    shell.exp_string("paged: |    30 |").unwrap();
    shell.exp_string(PROMPT).unwrap();
    // A short result prints as it is.
    type_line(&mut shell, "SELECT 41 + 1 AS short;");
    let before = shell.exp_string("|    42 |").unwrap();
    assert!(!before.contains("paged:"), "{before}");
    type_line(&mut shell, ".pager off");
    shell.exp_string(PROMPT).unwrap();
    type_line(&mut shell, tall);
    let before = shell.exp_string("|    30 |").unwrap();
    assert!(!before.contains("paged:"), "{before}");
    type_line(&mut shell, ".prompt 'sql> ' '  -> '");
    shell.exp_string("sql> ").unwrap();
    type_line(&mut shell, "SELECT 1");
    shell.exp_string("  -> ").unwrap();
    type_line(&mut shell, "AS one;");
    shell.exp_string("|     1 |").unwrap();
    shell.exp_string("sql> ").unwrap();
    leave(shell);
}

#[test]
fn tab_completes_the_common_prefix_then_lists_the_candidates() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["alpha_1.csv", "alpha_2.csv", "beta.csv"] {
        std::fs::write(dir.path().join(name), "a,b\n1,2\n").unwrap();
    }
    let folder = dir.path().display().to_string();
    let (_history, mut shell) = fresh_shell();
    type_text(&mut shell, &format!("SELECT * FROM '{folder}/al\t"));
    shell.exp_string("alpha_").unwrap();
    type_text(&mut shell, "\t");
    shell.exp_regex(r"alpha_1\.csv\s+alpha_2\.csv").unwrap();
    type_text(&mut shell, "2\t");
    shell.exp_string("alpha_2.csv'").unwrap();
    type_line(&mut shell, ";");
    shell.exp_string("|     1 |     2 |").unwrap();
    shell.exp_string(PROMPT).unwrap();

    // Columns of a file the statement names, wherever the cursor is: typed before it.
    let from = " FROM 'testdata/products.csv';";
    type_text(&mut shell, &format!("SELECT {from}"));
    type_text(&mut shell, &"\x1b[D".repeat(from.len()));
    type_text(&mut shell, "categ\t");
    shell.exp_string("category").unwrap();
    type_text(&mut shell, "\n");
    shell.exp_string("| stone fruit |").unwrap();
    shell.exp_string(PROMPT).unwrap();

    // After FROM only tables: the view, not its column `product`.
    type_line(
        &mut shell,
        "CREATE VIEW products AS SELECT * FROM 'testdata/products.csv';",
    );
    shell.exp_string(PROMPT).unwrap();
    type_text(&mut shell, "SELECT count(*) AS n FROM prod\t");
    shell.exp_string("products").unwrap();
    type_line(&mut shell, ";");
    shell.exp_string("|     4 |").unwrap();
    shell.exp_string(PROMPT).unwrap();

    // Dot commands and their words.
    type_text(&mut shell, ".mo\t");
    shell.exp_string(".mode").unwrap();
    type_text(&mut shell, " \t\t");
    shell
        .exp_regex(r"table\s+csv\s+tsv\s+json\s+ndjson\s+markdown")
        .unwrap();
    type_line(&mut shell, "csv");
    shell.exp_string(PROMPT).unwrap();
    type_line(&mut shell, "SELECT 'in csv' AS s;");
    shell.exp_string("s\r\nin csv\r\n").unwrap();
    leave(shell);
}

/// On a terminal, the bar of a query over CSV counts the bytes read of the files against
/// their size (worked out here from the file written).
#[test]
fn the_progress_bar_counts_bytes_of_csv_files() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(file, "id,word").unwrap();
    for id in 0..4_000_000 {
        writeln!(file, "{id},word{}", id % 97).unwrap();
    }
    file.flush().unwrap();
    drop(file);
    let size = std::fs::metadata(&path).unwrap().len();
    let total = format!("/{:.2} MiB", size as f64 / (1 << 20) as f64);
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("query"));
    command.args([
        "--partitions",
        "1",
        &format!(
            "SELECT word, count(DISTINCT id) FROM '{}' GROUP BY word",
            path.display()
        ),
    ]);
    let mut query = spawn_command(command, Some(120_000)).unwrap();
    query.exp_string(&total).unwrap();
    query.exp_string("word96").unwrap();
    query.exp_eof().unwrap();
}
