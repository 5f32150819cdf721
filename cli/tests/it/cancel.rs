//! Interrupts and kills at moments spread over a run: an output file is either the old one
//! or the complete new one, and no temporary or spill file outlives the run (after SIGKILL,
//! the next run that uses the same directory sweeps them).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{ok, workspace};

/// Rows of [`ROWS_QUERY`]: five days of one row a second.
const ROWS: usize = 5 * 86_400;
const ROWS_QUERY: &str = "SELECT * FROM timeseries('2000-01-01', '2000-01-06', '1s')";

/// Moments of a run (as parts of its uninterrupted length) at which signals are sent.
const MOMENTS: [f64; 5] = [0.0, 0.15, 0.45, 0.8, 1.05];

fn start(args: &[&str]) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("query"))
        .current_dir(workspace())
        .env_remove("RUST_BACKTRACE")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: kill only sends a signal to the child's process id.
    unsafe { libc::kill(child.id() as libc::pid_t, signal) };
}

/// Scratch entries (`.rask-out-…`, `rask-spill-…`) left in `dir`.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("rask-"))
        .collect()
}

fn rows_in(file: &Path) -> usize {
    let counted = ok(&[
        "--format",
        "csv",
        &format!("SELECT count(*) AS n FROM '{}'", file.display()),
    ]);
    counted.lines().nth(1).unwrap().parse().unwrap()
}

/// How long an uninterrupted run of `args` takes, checking that it succeeds.
fn uninterrupted(args: &[&str]) -> Duration {
    let started = Instant::now();
    let output = start(args).wait_with_output().unwrap();
    assert!(output.status.success(), "{args:?}: {:?}", output);
    started.elapsed()
}

/// SIGINT and SIGTERM at any moment of an `-o` write: cancelled (exit 130 or 143) with the
/// old file in place, or finished (exit 0) with the new file complete; never a temporary
/// file left beside it.
#[test]
fn interrupted_writes_keep_the_old_file_or_finish_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    for extension in ["csv", "parquet"] {
        let destination = dir.path().join(format!("out.{extension}"));
        let destination_arg = destination.to_str().unwrap().to_string();
        let args = ["-o", destination_arg.as_str(), ROWS_QUERY];
        let length = uninterrupted(&args);
        assert_eq!(rows_in(&destination), ROWS);
        for (moment, sent) in MOMENTS
            .iter()
            .zip([libc::SIGINT, libc::SIGTERM].iter().cycle())
        {
            ok(&["-o", &destination_arg, "SELECT 1 AS old"]);
            let child = start(&args);
            std::thread::sleep(length.mul_f64(*moment));
            signal(&child, *sent);
            let output = child.wait_with_output().unwrap();
            let code = output.status.code();
            match code {
                Some(0) => assert_eq!(rows_in(&destination), ROWS, "{extension} at {moment}"),
                // Killed by the signal itself: sent before the handlers were installed.
                Some(130) | Some(143) | None => {
                    assert_eq!(
                        rows_in(&destination),
                        1,
                        "{extension} at {moment}: old file"
                    )
                }
                other => panic!(
                    "{extension} at {moment}: exit {other:?}: {}",
                    String::from_utf8_lossy(&output.stderr)
                ),
            }
            assert_eq!(
                leftovers(dir.path()),
                Vec::<String>::new(),
                "{extension} at {moment}"
            );
        }
    }
}

/// SIGKILL at any moment of an `-o` write leaves the old file or the complete new one, and
/// the next write into the directory sweeps the killed process's temporary file.
#[test]
fn a_killed_write_leaves_the_old_file_or_the_new_one_and_is_swept_next_time() {
    let dir = tempfile::tempdir().unwrap();
    let destination = dir.path().join("out.parquet");
    let destination_arg = destination.to_str().unwrap().to_string();
    let args = ["-o", destination_arg.as_str(), ROWS_QUERY];
    let length = uninterrupted(&args);
    let next = dir.path().join("next.csv");
    for moment in MOMENTS {
        ok(&["-o", &destination_arg, "SELECT 1 AS old"]);
        let mut child = start(&args);
        std::thread::sleep(length.mul_f64(moment));
        child.kill().unwrap();
        child.wait().unwrap();
        let rows = rows_in(&destination);
        assert!(rows == 1 || rows == ROWS, "at {moment}: {rows} rows");
        ok(&["-o", next.to_str().unwrap(), "SELECT 1 AS x"]);
        assert_eq!(leftovers(dir.path()), Vec::<String>::new(), "at {moment}");
    }
}

/// A sort spilling under `--memory-limit`: its spill directory is empty after the run ends,
/// whether it finished, was interrupted, failed after spilling, or was killed (then swept
/// by the next run spilling there).
#[test]
fn spill_files_go_with_the_query_that_made_them() {
    let spill = tempfile::tempdir().unwrap();
    let spill_arg = spill.path().to_str().unwrap().to_string();
    let sorted = "SELECT * FROM timeseries('2000-01-01', '2000-01-11', '1s') ORDER BY name, x";
    // One partition: two sorts merging at once (a merge cannot spill) can need more than
    // the limit between them, which fails the query or not by timing.
    let args = [
        "--partitions",
        "1",
        "--memory-limit",
        "20MB",
        "--spill-dir",
        spill_arg.as_str(),
        "--format",
        "csv",
        sorted,
    ];
    let length = uninterrupted(&args);
    assert_eq!(leftovers(spill.path()), Vec::<String>::new());
    for moment in [0.3, 0.6, 0.9] {
        let child = start(&args);
        std::thread::sleep(length.mul_f64(moment));
        signal(&child, libc::SIGINT);
        let output = child.wait_with_output().unwrap();
        assert!(
            matches!(output.status.code(), Some(0 | 130)),
            "at {moment}: {:?}: {}",
            output.status,
            crate::stderr(&output)
        );
        assert_eq!(leftovers(spill.path()), Vec::<String>::new(), "at {moment}");
    }
    // Sorted and spilled in full, then failing on its first row.
    let failing = format!("SELECT CAST(name AS INT) FROM ({sorted})");
    let output = start(&[
        "--partitions",
        "1",
        "--memory-limit",
        "20MB",
        "--spill-dir",
        &spill_arg,
        &failing,
    ])
    .wait_with_output()
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(leftovers(spill.path()), Vec::<String>::new());
    let mut killed = start(&args);
    std::thread::sleep(length.mul_f64(0.6));
    killed.kill().unwrap();
    killed.wait().unwrap();
    ok(&[
        "--memory-limit",
        "20MB",
        "--spill-dir",
        &spill_arg,
        "SELECT 1",
    ]);
    assert_eq!(leftovers(spill.path()), Vec::<String>::new());
}
