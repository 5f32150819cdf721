//! Object stores: a real S3-compatible server (moto, from PyPI, in a virtualenv the tests
//! create when `.ci/run` has not) and an HTTP file server, both on 127.0.0.1. Answers are
//! compared with the same files read locally and with the fixtures' known values.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::process::{Child, Command as StdCommand, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use assert_cmd::Command;

use crate::{stderr, stdout, workspace};

/// The moto version the tests were written against.
const MOTO: &str = "moto[server]==5.2.6";

/// The server and the one access key it lets in (to every bucket but `private`).
struct S3 {
    endpoint: String,
    access_key_id: String,
    secret_access_key: String,
    _server: Mutex<Child>,
}

/// The server, started once for all tests; `None` (with the reason printed) where Python or
/// moto cannot be had. Under CI that is a failure.
fn s3() -> Option<&'static S3> {
    static SERVER: OnceLock<Option<S3>> = OnceLock::new();
    started_once(&SERVER, "S3", start_s3)
}

/// The server in `cell`, started by `start` on first use; `None` (with the reason printed)
/// where it cannot be had, which under CI fails the test instead.
pub(crate) fn started_once<T>(
    cell: &'static OnceLock<Option<T>>,
    name: &str,
    start: fn() -> Result<T, String>,
) -> Option<&'static T> {
    cell.get_or_init(|| match start() {
        Ok(server) => Some(server),
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("the {name} tests must run under CI: {why}")
        }
        Err(why) => {
            eprintln!("skipping the {name} tests: {why}");
            None
        }
    })
    .as_ref()
}

fn start_s3() -> Result<S3, String> {
    let python = crate::venv::python("import moto.server, boto3", &[MOTO])?;
    let script = workspace().join("cli/tests/it/s3_server.py");
    let mut child = StdCommand::new(&python)
        .arg(script)
        .arg(workspace().join("testdata"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    let out = child.stdout.take().unwrap();
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        let _ = send.send(line);
    });
    let line = receive
        .recv_timeout(Duration::from_secs(120))
        .map_err(|_| "the S3 server did not start within 120 s".to_string())?;
    let started: serde_json::Value =
        serde_json::from_str(&line).map_err(|e| format!("the S3 server said {line:?}: {e}"))?;
    let field = |name: &str| started[name].as_str().unwrap_or_default().to_string();
    Ok(S3 {
        endpoint: field("endpoint"),
        access_key_id: field("access_key_id"),
        secret_access_key: field("secret_access_key"),
        _server: Mutex::new(child),
    })
}

/// `query` with nothing of the caller's cloud setup: no variables, no `~/.aws` files.
pub(crate) fn bare_query() -> StdCommand {
    let mut command = StdCommand::new(assert_cmd::cargo::cargo_bin("query"));
    command
        .current_dir(workspace())
        .env_remove("RUST_BACKTRACE");
    let credentials = ["AWS_", "GOOGLE_", "AZURE_", "GCE_", "IDENTITY_", "MSI_"];
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if credentials.iter().any(|prefix| name.starts_with(prefix)) {
            command.env_remove(key);
        }
    }
    // No `~/.config/gcloud` either.
    command.env("HOME", "/nonexistent");
    command
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
        .env("AWS_CONFIG_FILE", "/nonexistent/config");
    command
}

/// `query` configured for the server as the README says: the standard variables.
fn remote_query(s3: &S3) -> StdCommand {
    configured_query(
        &s3.endpoint,
        (&s3.access_key_id, &s3.secret_access_key),
        "us-east-1",
    )
}

/// `query` for the S3 server at `endpoint` with `key` (id, secret) in `region`, set as the
/// README says: the standard variables.
pub(crate) fn configured_query(endpoint: &str, key: (&str, &str), region: &str) -> StdCommand {
    let mut command = bare_query();
    command
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", key.0)
        .env("AWS_SECRET_ACCESS_KEY", key.1)
        .env("AWS_REGION", region);
    command
}

/// Runs `command` with `args`, failing the test after 3 minutes rather than hanging.
pub(crate) fn run(mut command: StdCommand, args: &[&str]) -> Output {
    command.args(args);
    Command::from_std(command)
        .timeout(Duration::from_secs(180))
        .output()
        .unwrap()
}

fn with_env(mut command: StdCommand, key: &str, value: impl AsRef<std::ffi::OsStr>) -> StdCommand {
    command.env(key, value);
    command
}

pub(crate) fn succeeded(output: Output) -> String {
    assert!(output.status.success(), "failed: {}", stderr(&output));
    stdout(&output)
}

/// One `error:` line holding every needle, exit 1, nothing on stdout; returns it.
pub(crate) fn refused(output: Output, needles: &[&str]) -> String {
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "one line expected: {err}");
    assert!(err.starts_with("error: "), "{err}");
    for needle in needles {
        assert!(err.contains(needle), "expected {needle:?} in {err}");
    }
    assert!(output.stdout.is_empty(), "{}", stdout(&output));
    err
}

#[test]
fn globs_over_many_keys_match_as_local_globs_do() {
    let Some(s3) = s3() else { return };
    let sum = |sql: &str| succeeded(run(remote_query(s3), &["--format", "csv", sql]));
    // part_00 … part_59 hold 0 … 59; part_99.txt, deeper/part_50.csv and _SUCCESS are strays.
    assert_eq!(
        sum("SELECT count(*), sum(n) FROM 's3://data/many/*.csv'"),
        "count(*),sum(n)\n60,1770\n"
    );
    assert_eq!(
        sum("SELECT count(*), sum(n) FROM 's3://data/many/part_[0-1]?.csv'"),
        format!("count(*),sum(n)\n20,{}\n", (0..20).sum::<i32>())
    );
    assert_eq!(
        sum("SELECT count(*), sum(n) FROM 's3://data/many/**/*.csv'"),
        "count(*),sum(n)\n61,2770\n"
    );
    assert_eq!(
        sum("SELECT count(*) FROM 's3a://data/many/part_0?.csv'"),
        "count(*)\n10\n"
    );
    let explained = sum("EXPLAIN SELECT * FROM 's3://data/many/part_0[0-2].csv'");
    assert!(
        explained.contains("3 file(s): s3://data/many/part_00.csv, s3://data/many/part_01.csv, s3://data/many/part_02.csv"),
        "{explained}"
    );
}

#[test]
fn reads_equal_the_same_files_read_locally() {
    let Some(s3) = s3() else { return };
    let queries = [
        // Known answers: 10 rows, 38 items, 4 regions (one NULL).
        (
            "SELECT count(*), sum(qty), count(DISTINCT region) FROM '{}sales/part_*.csv'",
            "10,38,3",
        ),
        (
            "SELECT count(*), sum(qty) FROM '{}logs/**/*.parquet'",
            "10,38",
        ),
        ("SELECT count(*), sum(qty) FROM '{}sales.parquet'", "10,38"),
        ("SELECT count(*) FROM '{}events.ndjson'", "4"),
        ("SELECT count(*) FROM read_csv('{}multiline.csv')", "40"),
        ("SELECT count(*) FROM '{}compressed/*.csv.gz'", ""),
        (
            "SELECT region, sum(price) FROM read_csv('{}sales/part_*.csv') GROUP BY 1 ORDER BY 1",
            "",
        ),
    ];
    for (template, known) in queries {
        let remote = template.replace("{}", "s3://data/testdata/");
        let local = template.replace("{}", "testdata/");
        let remote = succeeded(run(remote_query(s3), &["--format", "csv", &remote]));
        let local = succeeded(run(remote_query(s3), &["--format", "csv", &local]));
        assert_eq!(remote, local, "{template}");
        if !known.is_empty() {
            assert_eq!(remote.lines().nth(1), Some(known), "{template}");
        }
    }
}

/// A scan of remote Parquet files reads in twice as many streams as the session has
/// partitions, so that one fetches while another decodes; CSV keeps the session's. Every row
/// is still read once.
#[test]
fn remote_parquet_scans_read_in_twice_the_sessions_partitions() {
    let Some(s3) = s3() else { return };
    let rows: u64 = 100_000;
    // Splits every file, however small: the fixtures are far below DataFusion's 10 MB.
    let split = "SET datafusion.optimizer.repartition_file_min_size = 1";
    for (url, options, groups) in [
        ("s3://data/streams/rows.csv", "", 2),
        // Row groups of 5,000 rows, so that each stream has some to read.
        (
            "s3://data/streams/rows.parquet",
            " OPTIONS ('format.max_row_group_size' '5000')",
            4,
        ),
    ] {
        // 1 to `rows` shuffled (7919 is prime to `rows`): a file written in order would be
        // read as sorted, and a sorted scan keeps its partitions.
        let write = format!(
            "COPY (SELECT value * 7919 % {rows} + 1 AS id FROM generate_series(1, {rows})) TO '{url}'{options}"
        );
        succeeded(run(remote_query(s3), &[&write]));
        let explain = format!("{split}; EXPLAIN SELECT sum(id) FROM '{url}'");
        let explained = succeeded(run(
            remote_query(s3),
            &["--partitions", "2", "--format", "csv", &explain],
        ));
        let shown = format!("file_groups={{{groups} groups");
        assert!(explained.contains(&shown), "{url}: {explained}");
        let sql = format!("{split}; SELECT count(*), sum(id), count(DISTINCT id) FROM '{url}'");
        let answer = succeeded(run(
            remote_query(s3),
            &["--partitions", "2", "--format", "csv", &sql],
        ));
        let expected = format!("{rows},{},{rows}", rows * (rows + 1) / 2);
        assert_eq!(answer.lines().last(), Some(expected.as_str()), "{url}");
    }

    // A session of one partition reads the Parquet file in two streams merged back into one,
    // but not under a limit, which takes the first rows of the file.
    let url = "s3://data/streams/rows.parquet";
    let one = |sql: &str| {
        succeeded(run(
            remote_query(s3),
            &[
                "--partitions",
                "1",
                "--format",
                "csv",
                &format!("{split}; {sql}"),
            ],
        ))
    };
    let explained = one(&format!("EXPLAIN SELECT sum(id) FROM '{url}'"));
    assert!(
        explained.contains("CoalescePartitionsExec") && explained.contains("file_groups={2 groups"),
        "{explained}"
    );
    let answer = one(&format!(
        "SELECT count(*), sum(id), count(DISTINCT id) FROM '{url}'"
    ));
    let expected = format!("{rows},{},{rows}", rows * (rows + 1) / 2);
    assert_eq!(answer.lines().last(), Some(expected.as_str()));
    let explained = one(&format!("EXPLAIN SELECT id FROM '{url}' LIMIT 3"));
    assert!(
        explained.contains("file_groups={1 group") && !explained.contains("CoalescePartitionsExec"),
        "{explained}"
    );
}

#[test]
fn writes_read_back_and_failed_writes_leave_nothing() {
    let Some(s3) = s3() else { return };
    let count = |url: &str| {
        let sql = format!("SELECT count(*), sum(qty) FROM '{url}'");
        succeeded(run(remote_query(s3), &["--format", "csv", &sql]))
    };
    let source = "SELECT * FROM 'testdata/sales/part_*.csv'";
    for url in [
        "s3://data/written/sales.parquet",
        "s3://data/written/sales.csv",
        "s3://data/written/sales.ndjson",
        "s3://data/written/sales.csv.gz",
    ] {
        let output = run(remote_query(s3), &["-o", url, source]);
        assert!(
            stderr(&output).contains("wrote 10 row(s)"),
            "{}",
            stderr(&output)
        );
        assert_eq!(count(url), "count(*),sum(qty)\n10,38\n", "{url}");
    }
    for copy in ["copy.csv", "copy.tsv.zst"] {
        let copied = format!("COPY (SELECT region, count(*) AS n FROM 'testdata/sales/part_*.csv' GROUP BY 1) TO 's3://data/written/{copy}'");
        succeeded(run(remote_query(s3), &[&copied]));
        let sql = format!("SELECT sum(n) FROM 's3://data/written/{copy}'");
        assert_eq!(
            succeeded(run(remote_query(s3), &["--format", "csv", &sql])),
            "sum(n)\n10\n",
            "{copy}"
        );
    }

    // A query failing part-way through its rows: nothing appears at the destination.
    let failing = "SELECT CAST(v AS INT) FROM (VALUES ('1'), ('2'), ('x')) AS t(v)";
    let output = run(remote_query(s3), &["-o", "s3://data/failed/x.csv", failing]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    refused(
        run(remote_query(s3), &["SELECT * FROM 's3://data/failed/'"]),
        &["directory 's3://data/failed/' holds no files"],
    );
}

#[test]
fn a_write_killed_midway_leaves_nothing_visible() {
    let Some(s3) = s3() else { return };
    let mut command = remote_query(s3);
    let mut child = command
        .args([
            "-o",
            "s3://data/killed/big.csv",
            "SELECT * FROM timeseries() CROSS JOIN (VALUES (1), (2), (3)) AS t(k)",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the write ended too soon"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    refused(
        run(remote_query(s3), &["SELECT * FROM 's3://data/killed/'"]),
        &["directory 's3://data/killed/' holds no files"],
    );
}

#[test]
fn each_failure_is_one_line_naming_what_failed() {
    let Some(s3) = s3() else { return };
    refused(
        run(
            with_env(bare_query(), "AWS_ENDPOINT_URL", &s3.endpoint),
            &["SELECT * FROM 's3://data/many/part_01.csv'"],
        ),
        &[
            "no credentials found for 's3://data'",
            "AWS_ACCESS_KEY_ID",
            "~/.aws/credentials",
            "anonymous => true",
        ],
    );
    refused(
        run(remote_query(s3), &["SELECT * FROM 's3://private/x.csv'"]),
        &["access denied to 's3://private/x.csv'"],
    );
    refused(
        run(
            with_env(remote_query(s3), "AWS_SECRET_ACCESS_KEY", "wrong"),
            &["SELECT * FROM 's3://data/many/part_01.csv'"],
        ),
        &["access denied to 's3://data/many/part_01.csv'"],
    );
    refused(
        run(
            remote_query(s3),
            &["SELECT * FROM 's3://no-such-bucket/x.csv'"],
        ),
        &["bucket not found: 's3://no-such-bucket/x.csv'"],
    );
    refused(
        run(
            remote_query(s3),
            &["SELECT * FROM 's3://data/many/part_77.csv'"],
        ),
        &["file not found: 's3://data/many/part_77.csv'"],
    );
    refused(
        run(
            remote_query(s3),
            &["SELECT * FROM 's3://data/many/nothing_*.csv'"],
        ),
        &[
            "no files match 's3://data/many/nothing_*.csv'",
            "listed s3://data/many/",
        ],
    );
    for file in ["late_quote.csv", "late_quote.csv.gz"] {
        refused(
            run(
                remote_query(s3),
                &[&format!(
                    "SELECT count(*) FROM 's3://data/testdata/bad/{file}'"
                )],
            ),
            &[&format!(
                "s3://data/testdata/bad/{file}:7001:6: malformed CSV: a quoted field opens"
            )],
        );
    }
    refused(
        run(remote_query(s3), &["SELECT * FROM 'ftp://host/x.csv'"]),
        &["unsupported URL scheme 'ftp://'"],
    );
    // Nothing listens on a port just freed: a bounded retry, then the endpoint and time.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let started = Instant::now();
    refused(
        run(
            with_env(
                remote_query(s3),
                "AWS_ENDPOINT_URL",
                format!("http://{closed}"),
            ),
            &["SELECT * FROM 's3://data/many/part_01.csv'"],
        ),
        &[
            "cannot reach the endpoint of 's3://data/many/part_01.csv'",
            "gave up after",
        ],
    );
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn secrets_never_show_in_explain_or_errors() {
    let Some(s3) = s3() else { return };
    let with_keys = |extra: &str| {
        format!(
            "SELECT count(*) FROM read_csv('s3://data/testdata/sales/part_*.csv', endpoint => '{}', access_key_id => '{}', secret_access_key => '{}'{extra})",
            s3.endpoint, s3.access_key_id, s3.secret_access_key
        )
    };
    // The options alone are enough: the environment has no credentials.
    let counted = succeeded(run(bare_query(), &["--format", "csv", &with_keys("")]));
    assert_eq!(counted, "count(*)\n10\n");
    let explained = succeeded(run(bare_query(), &[&format!("EXPLAIN {}", with_keys(""))]));
    assert!(!explained.contains(&s3.secret_access_key), "{explained}");
    assert!(
        explained.contains("secret_access_key => '***'"),
        "{explained}"
    );
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.html");
    let report_arg = report.to_str().unwrap();
    succeeded(run(bare_query(), &["--report", report_arg, &with_keys("")]));
    let page = std::fs::read_to_string(&report).unwrap();
    assert!(
        page.contains("s3://data/testdata/sales/part_0.csv"),
        "the report names the files"
    );
    assert!(
        !page.contains(&s3.secret_access_key),
        "the report shows a secret"
    );
    let failed = run(bare_query(), &[&with_keys(", delimiter => 'too long'")]);
    let err = stderr(&failed);
    assert!(!failed.status.success());
    assert!(!err.contains(&s3.secret_access_key), "{err}");
    let failed = run(bare_query(), &[&format!("{} FROM nowhere", with_keys(""))]);
    let err = stderr(&failed);
    assert!(
        !failed.status.success() && !err.contains(&s3.secret_access_key),
        "{err}"
    );
}

#[test]
fn profiles_and_table_options_configure_the_store() {
    let Some(s3) = s3() else { return };
    let aws = tempfile::tempdir().unwrap();
    let credentials = aws.path().join("credentials");
    let config = aws.path().join("config");
    std::fs::write(
        &credentials,
        format!(
            "[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n[test]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            s3.access_key_id, s3.secret_access_key
        ),
    )
    .unwrap();
    std::fs::write(
        &config,
        format!(
            "[profile test]\nregion = us-east-1\nendpoint_url = {}\n",
            s3.endpoint
        ),
    )
    .unwrap();
    let mut command = bare_query();
    command
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_PROFILE", "test");
    let sql = "SELECT count(*) FROM 's3://data/many/*.csv'";
    assert_eq!(
        succeeded(run(command, &["--format", "csv", sql])),
        "count(*)\n60\n"
    );

    let ddl = format!(
        "CREATE EXTERNAL TABLE parts STORED AS CSV LOCATION 's3://data/many/part_0*.csv' OPTIONS ('aws.endpoint' '{}', 'aws.access_key_id' '{}', 'aws.secret_access_key' '{}', 'format.has_header' 'true'); SELECT sum(n) FROM parts",
        s3.endpoint, s3.access_key_id, s3.secret_access_key
    );
    let summed = succeeded(run(bare_query(), &["--format", "csv", &ddl]));
    assert_eq!(summed.lines().nth(1), Some("45"), "{summed}");

    let named = succeeded(run(
        remote_query(s3),
        &[
            "--table",
            "parts=s3://data/many/part_1*.csv",
            "--format",
            "csv",
            "SELECT sum(n) FROM parts",
        ],
    ));
    assert_eq!(
        named.lines().nth(1),
        Some(&*(10..20).sum::<i32>().to_string()),
        "{named}"
    );
}

#[test]
fn a_local_cluster_reads_the_same_glob() {
    let Some(s3) = s3() else { return };
    let sql = "SELECT count(*), sum(n) FROM 's3://data/many/*.csv'";
    let clustered = succeeded(run(
        remote_query(s3),
        &["--workers", "2", "--format", "csv", sql],
    ));
    assert_eq!(clustered, "count(*),sum(n)\n60,1770\n");

    // The workers watch what they read for quotes past the sampled first bytes.
    let sql = "SELECT count(*) FROM 's3://data/testdata/bad/late_quote.csv'";
    let output = run(remote_query(s3), &["--workers", "2", sql]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert_eq!(
        stderr(&output),
        "error: s3://data/testdata/bad/late_quote.csv:7001:6: malformed CSV: a quoted field opens here and is never closed\n"
    );

    // The statement's endpoint reaches the workers; the keys come from their environment.
    let mut keys_only = bare_query();
    keys_only
        .env("AWS_ACCESS_KEY_ID", &s3.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &s3.secret_access_key);
    let sql = format!(
        "SELECT count(*), sum(n) FROM read_csv('s3://data/many/*.csv', endpoint => '{}')",
        s3.endpoint
    );
    let clustered = succeeded(run(keys_only, &["--workers", "2", "--format", "csv", &sql]));
    assert_eq!(clustered, "count(*),sum(n)\n60,1770\n");

    // Secrets given in the statement stay with the client: the workers have none.
    let sql = format!(
        "SELECT count(*) FROM read_csv('s3://data/many/*.csv', endpoint => '{}', access_key_id => '{}', secret_access_key => '{}')",
        s3.endpoint, s3.access_key_id, s3.secret_access_key
    );
    let output = run(bare_query(), &["--workers", "2", &sql]);
    let err = stderr(&output);
    assert!(!output.status.success(), "{}", stdout(&output));
    assert!(
        err.contains("no credentials found for 's3://data'"),
        "{err}"
    );
    assert!(!err.contains(&s3.secret_access_key), "{err}");
}

#[test]
fn the_library_reads_and_writes_with_storage_options() {
    let Some(s3) = s3() else { return };
    let mut storage = rask::StorageOptions::default();
    storage.insert("endpoint", s3.endpoint.clone());
    storage.insert("access_key_id", s3.access_key_id.clone());
    storage.insert("secret_access_key", s3.secret_access_key.clone());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let session = rask::Session::builder().build().unwrap();
        let options = rask::ReadOptions {
            storage: storage.clone(),
            ..Default::default()
        };
        let frame = session
            .read_files("s3://data/testdata/sales/part_*.csv", options.clone())
            .await
            .unwrap();
        let rows = frame
            .to_parquet("s3://data/library/sales", &Default::default())
            .await;
        assert_eq!(rows.unwrap(), 10);
        let back = session
            .read_files("s3://data/library/sales/", options.clone())
            .await
            .unwrap();
        assert_eq!(back.len().await.unwrap(), 10);
        // One object per partition, all published together.
        let frame = session
            .read_files("s3://data/testdata/sales/part_*.csv", options.clone())
            .await
            .unwrap();
        assert_eq!(
            frame.to_csv("s3://data/library/parts-*.csv").await.unwrap(),
            10
        );
        let parts = session
            .read_files("s3://data/library/parts-*.csv", options)
            .await
            .unwrap();
        assert_eq!(parts.len().await.unwrap(), 10);
    });
}

/// A static file server with byte ranges, as object stores' HTTP readers need.
fn http_server(root: PathBuf) -> String {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let address = server.server_addr().to_ip().unwrap();
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let path = root.join(request.url().trim_start_matches('/'));
            let Ok(mut file) = std::fs::File::open(&path) else {
                let _ = request.respond(tiny_http::Response::empty(404));
                continue;
            };
            let size = file.metadata().unwrap().len();
            let range = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("Range"))
                .and_then(|h| {
                    let (start, end) = h.value.as_str().strip_prefix("bytes=")?.split_once('-')?;
                    let start: u64 = start.parse().ok()?;
                    let end = end.parse::<u64>().map_or(size - 1, |e| e.min(size - 1));
                    Some((start, end))
                });
            let (status, start, end) = match range {
                Some((start, end)) => (206, start, end),
                None => (200, 0, size.saturating_sub(1)),
            };
            let mut body = Vec::new();
            file.seek(SeekFrom::Start(start)).unwrap();
            file.take(end + 1 - start).read_to_end(&mut body).unwrap();
            let mut response = tiny_http::Response::from_data(body).with_status_code(status);
            if status == 206 {
                let header = format!("Content-Range: bytes {start}-{end}/{size}");
                response.add_header(header.parse::<tiny_http::Header>().unwrap());
            }
            let _ = request.respond(response);
        }
    });
    format!("http://{address}")
}

#[test]
fn http_urls_read_single_files() {
    let base = http_server(workspace().join("testdata"));
    let sql = format!("SELECT count(*), sum(qty) FROM '{base}/sales/part_0.csv'");
    let local = "SELECT count(*), sum(qty) FROM 'testdata/sales/part_0.csv'";
    let remote = succeeded(run(bare_query(), &["--format", "csv", &sql]));
    assert_eq!(
        remote,
        succeeded(run(bare_query(), &["--format", "csv", local]))
    );
    let sql = format!("SELECT count(*) FROM '{base}/sales.parquet'");
    assert_eq!(
        succeeded(run(bare_query(), &["--format", "csv", &sql])),
        "count(*)\n10\n"
    );
    refused(
        run(
            bare_query(),
            &[&format!("SELECT * FROM '{base}/sales/*.csv'")],
        ),
        &["names a single file; globs and directories need a store that lists keys"],
    );
    refused(
        run(
            bare_query(),
            &[&format!("SELECT * FROM '{base}/missing.csv'")],
        ),
        &["file not found"],
    );
    refused(
        run(
            bare_query(),
            &[&format!("SELECT * FROM '{base}/sales.parquet?raw=true'")],
        ),
        &["http(s) URLs with a query string are not supported"],
    );
}

#[test]
fn other_stores_say_what_they_lack() {
    refused(
        run(bare_query(), &["SELECT * FROM 'gs://some-bucket/x.csv'"]),
        &[
            "no credentials found for 'gs://some-bucket'",
            "GOOGLE_APPLICATION_CREDENTIALS",
        ],
    );
    refused(
        run(bare_query(), &["SELECT * FROM 'az://container/x.csv'"]),
        &[
            "no storage account for 'az://container'",
            "AZURE_STORAGE_ACCOUNT_NAME",
        ],
    );
    refused(
        run(
            bare_query(),
            &["SELECT * FROM 'abfss://container@account.dfs.core.windows.net/x.csv'"],
        ),
        &[
            "no credentials found for 'abfss://container@account.dfs.core.windows.net'",
            "AZURE_STORAGE_ACCOUNT_KEY",
        ],
    );
    refused(
        run(
            bare_query(),
            &["-o", "https://example.com/x.csv", "SELECT 1"],
        ),
        &["cannot write 'https://example.com/x.csv': http(s) URLs are read-only"],
    );
}
