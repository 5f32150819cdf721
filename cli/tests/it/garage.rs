//! The tutorial's workloads against Garage, an S3 server of another make than the moto of
//! `remote.rs` (Rust, from crates.io; `.ci/run` installs it), configured only as the README
//! tells a user: `AWS_ENDPOINT_URL`, the keys, and `AWS_REGION`, which Garage checks (its
//! region is `garage`). The data are `data_part_*.csv` as the tutorial has them, written
//! here, and every answer is worked out here from the rows.

use std::path::PathBuf;
use std::process::{Child, Command as StdCommand, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::remote::{configured_query, refused, run, started_once, succeeded};

const BUCKET: &str = "tutorial";
const FILES: usize = 5;
const ROWS_PER_FILE: usize = 1000;
const CATEGORIES: [&str; 4] = ["A", "B", "C", "D"];

/// Row `i` of all files: `id, category, value, timestamp`, one minute apart from
/// 2000-01-01. Values are whole numbers, so that sums and means are exact.
fn row(i: usize) -> (usize, &'static str, f64, String) {
    let value = ((i * 37) % 101) as f64 - 50.0;
    let (day, minute) = (i / 1440, i % 1440);
    let timestamp = format!(
        "2000-01-{:02}T{:02}:{:02}:00",
        day + 1,
        minute / 60,
        minute % 60
    );
    (i, CATEGORIES[i % 4], value, timestamp)
}

struct Garage {
    endpoint: String,
    key_id: String,
    secret: String,
    dir: tempfile::TempDir,
    _server: Mutex<Child>,
}

fn garage() -> Option<&'static Garage> {
    static SERVER: OnceLock<Option<Garage>> = OnceLock::new();
    started_once(&SERVER, "Garage", start_garage)
}

/// `RASK_TEST_GARAGE`, else `garage` on the `PATH`, else where `.ci/run` installs it.
fn garage_binary() -> Result<PathBuf, String> {
    if let Some(binary) = std::env::var_os("RASK_TEST_GARAGE") {
        return Ok(PathBuf::from(binary));
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .chain([home.join(".cache/rask/garage/bin")])
        .map(|dir| dir.join("garage"))
        .find(|binary| binary.is_file())
        .ok_or_else(|| {
            "Garage is not installed (cargo install garage --locked --no-default-features \
             --features bundled-libs,sqlite)"
                .to_string()
        })
}

/// Two ports no one listens on, for Garage's S3 API and its RPC: the listeners are held
/// until both are known, so that the two differ.
fn free_ports() -> (u16, u16) {
    let listen = || std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (api, rpc) = (listen(), listen());
    let port = |listener: &std::net::TcpListener| listener.local_addr().unwrap().port();
    (port(&api), port(&rpc))
}

fn start_garage() -> Result<Garage, String> {
    let binary = garage_binary()?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (port, rpc_port) = free_ports();
    let config = dir.path().join("garage.toml");
    let root = dir.path().display();
    std::fs::write(
        &config,
        format!(
            "metadata_dir = \"{root}/meta\"\ndata_dir = \"{root}/data\"\ndb_engine = \"sqlite\"\n\
             replication_factor = 1\nrpc_bind_addr = \"127.0.0.1:{rpc_port}\"\n\
             rpc_secret = \"{}\"\n\n[s3_api]\ns3_region = \"garage\"\n\
             api_bind_addr = \"127.0.0.1:{port}\"\n",
            "0f".repeat(32)
        ),
    )
    .map_err(|e| e.to_string())?;
    // Garage's key ids are GK and 24 hexadecimal digits; its secrets 64.
    let (key_id, secret) = (format!("GK{}", "5a".repeat(12)), "c3".repeat(32));
    let log = std::fs::File::create(dir.path().join("garage.log")).map_err(|e| e.to_string())?;
    // A static is never dropped, so the server is stopped by a shell that waits for its
    // stdin to close, as it does when the test process ends.
    let server = StdCommand::new("sh")
        .args(["-c", "\"$0\" \"$@\" & server=$!; read _; kill $server"])
        .arg(&binary)
        .arg("-c")
        .arg(&config)
        .args(["server", "--single-node", "--default-bucket"])
        .env("RUST_LOG", "warn")
        .env("GARAGE_DEFAULT_ACCESS_KEY", &key_id)
        .env("GARAGE_DEFAULT_SECRET_KEY", &secret)
        .env("GARAGE_DEFAULT_BUCKET", BUCKET)
        .stdin(Stdio::piped())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let garage = Garage {
        endpoint: format!("http://127.0.0.1:{port}"),
        key_id,
        secret,
        _server: Mutex::new(server),
        dir,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err(format!(
                "Garage did not listen on {} in 60 s",
                garage.endpoint
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    upload_data_parts(&garage)?;
    Ok(garage)
}

/// Writes the data parts into the server's folder and uploads them with boto3, a client other than Rask.
fn upload_data_parts(garage: &Garage) -> Result<(), String> {
    let parts = garage.dir.path().join("parts");
    std::fs::create_dir_all(&parts).map_err(|e| e.to_string())?;
    for part in 0..FILES {
        let mut text = String::from("id,category,value,timestamp\n");
        for i in part * ROWS_PER_FILE..(part + 1) * ROWS_PER_FILE {
            let (id, category, value, timestamp) = row(i);
            text.push_str(&format!("{id},{category},{value},{timestamp}\n"));
        }
        std::fs::write(parts.join(format!("data_part_{part}.csv")), text)
            .map_err(|e| e.to_string())?;
    }
    let python = crate::venv::python("import boto3", &["boto3"])?;
    let script = format!(
        "import boto3, pathlib\n\
         s3 = boto3.client('s3', endpoint_url={:?}, region_name='garage', \
         aws_access_key_id={:?}, aws_secret_access_key={:?})\n\
         for path in sorted(pathlib.Path({:?}).iterdir()):\n    \
         s3.upload_file(str(path), {BUCKET:?}, path.name)\n\
         s3.put_object(Bucket={BUCKET:?}, Key='data_part_9.txt', Body=b'stray')\n",
        garage.endpoint,
        garage.key_id,
        garage.secret,
        parts.display().to_string()
    );
    let output = StdCommand::new(&python)
        .args(["-c", &script])
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "uploading to Garage failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// `query` configured for Garage as the README says.
fn garage_query(garage: &Garage) -> StdCommand {
    configured_query(&garage.endpoint, (&garage.key_id, &garage.secret), "garage")
}

fn csv_answer(command: StdCommand, args: &[&str]) -> Vec<Vec<String>> {
    let mut all = vec!["--format", "csv"];
    all.extend_from_slice(args);
    succeeded(run(command, &all))
        .lines()
        .skip(1)
        .map(|line| line.split(',').map(str::to_string).collect())
        .collect()
}

/// `category, mean, count` of the rows `keep` keeps, worked out from the rows.
fn category_stats(keep: impl Fn(f64) -> bool) -> Vec<(String, f64, usize)> {
    CATEGORIES
        .iter()
        .map(|category| {
            let values: Vec<f64> = (0..FILES * ROWS_PER_FILE)
                .map(row)
                .filter(|(_, c, value, _)| c == category && keep(*value))
                .map(|(_, _, value, _)| value)
                .collect();
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            (category.to_string(), mean, values.len())
        })
        .collect()
}

fn assert_category_stats(answer: &[Vec<String>], expected: &[(String, f64, usize)]) {
    assert_eq!(answer.len(), expected.len(), "{answer:?}");
    for (got, (category, mean, count)) in answer.iter().zip(expected) {
        assert_eq!(&got[0], category, "{answer:?}");
        let got_mean: f64 = got[1].parse().unwrap();
        assert!(
            (got_mean - mean).abs() < 1e-9,
            "{category}: {got_mean} != {mean}"
        );
        assert_eq!(got[2], count.to_string(), "{answer:?}");
    }
}

const CATEGORY_STATS: &str = "SELECT category, avg(value) AS mean, count(value) AS n \
     FROM 's3://tutorial/data_part_*.csv' GROUP BY category ORDER BY category";

#[test]
fn the_tutorial_workloads_read_from_garage() {
    let Some(garage) = garage() else { return };
    assert_category_stats(
        &csv_answer(garage_query(garage), &[CATEGORY_STATS]),
        &category_stats(|_| true),
    );

    // Daily means, as resample('D') gives them: 1440 rows a day, the rest on the 4th.
    let daily = csv_answer(
        garage_query(garage),
        &[
            "SELECT date_trunc('day', timestamp) AS day, count(*) AS n, sum(value) AS total \
           FROM 's3://tutorial/data_part_*.csv' GROUP BY 1 ORDER BY 1",
        ],
    );
    let rows = FILES * ROWS_PER_FILE;
    let expected: Vec<(usize, f64)> = (0..rows.div_ceil(1440))
        .map(|day| {
            let of_day = day * 1440..((day + 1) * 1440).min(rows);
            (of_day.len(), of_day.map(|i| row(i).2).sum())
        })
        .collect();
    assert_eq!(daily.len(), expected.len(), "{daily:?}");
    for (day, (got, (n, total))) in daily.iter().zip(&expected).enumerate() {
        assert!(
            got[0].starts_with(&format!("2000-01-{:02}", day + 1)),
            "{got:?}"
        );
        assert_eq!(got[1], n.to_string(), "{got:?}");
        assert_eq!(got[2].parse::<f64>().unwrap(), *total, "{got:?}");
    }

    // The tutorial's exercise: positive values to Parquet partitioned by category, on
    // Garage, read back from there.
    succeeded(run(
        garage_query(garage),
        &[
            "COPY (SELECT * FROM 's3://tutorial/data_part_*.csv' WHERE value > 0) \
           TO 's3://tutorial/positive/' STORED AS PARQUET PARTITIONED BY (category)",
        ],
    ));
    assert_category_stats(
        &csv_answer(
            garage_query(garage),
            &["SELECT category, avg(value) AS mean, count(value) AS n \
               FROM 's3://tutorial/positive/' GROUP BY category ORDER BY category"],
        ),
        &category_stats(|value| value > 0.0),
    );
}

#[test]
fn a_local_cluster_reads_from_garage() {
    let Some(garage) = garage() else { return };
    assert_category_stats(
        &csv_answer(garage_query(garage), &["--workers", "2", CATEGORY_STATS]),
        &category_stats(|_| true),
    );
}

#[test]
fn a_request_signed_for_another_region_names_the_right_one() {
    let Some(garage) = garage() else { return };
    let mut elsewhere = garage_query(garage);
    elsewhere.env("AWS_REGION", "eu-west-1");
    refused(
        run(elsewhere, &[CATEGORY_STATS]),
        &[
            "wrong region for 's3://tutorial/data_part_*.csv': ",
            "(the bucket's region is 'garage': set AWS_REGION or region => 'garage')",
        ],
    );
    // A single file is asked for with a HEAD, whose answer has no body to say why.
    let mut elsewhere = garage_query(garage);
    elsewhere.env("AWS_REGION", "eu-west-1");
    refused(
        run(
            elsewhere,
            &["SELECT count(*) FROM 's3://tutorial/data_part_0.csv'"],
        ),
        &[
            "cannot read 's3://tutorial/data_part_0.csv': ",
            "400 Bad Request",
            "check AWS_REGION or region => '…'",
        ],
    );
    // The statement's own region wins over the environment's.
    let mut elsewhere = garage_query(garage);
    elsewhere.env("AWS_REGION", "eu-west-1");
    assert_eq!(
        csv_answer(
            elsewhere,
            &["SELECT count(*) FROM read_csv('s3://tutorial/data_part_*.csv', region => 'garage')"],
        ),
        vec![vec![(FILES * ROWS_PER_FILE).to_string()]]
    );
}
