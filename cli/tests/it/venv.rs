//! The Python the tests run their real parts with (moto's S3 server, the `rask` package's
//! pytest suite): `RASK_TEST_PYTHON` (`.ci/run` makes it), or the virtualenv in Rask's cache,
//! created and filled here when it lacks a package (one process at a time, under a lock
//! directory). Shared by the CLI's and the Python package's tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A Python where `imports` (a Python statement) runs, installing `packages` when it does
/// not.
pub fn python(imports: &str, packages: &[&str]) -> Result<PathBuf, String> {
    if let Some(python) = std::env::var_os("RASK_TEST_PYTHON") {
        return Ok(PathBuf::from(python));
    }
    let home = std::env::var_os("HOME").ok_or("HOME is not set")?;
    let venv = Path::new(&home).join(".cache/rask/venv");
    let python = venv.join("bin/python");
    let ready = |python: &Path| {
        Command::new(python)
            .args(["-c", imports])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if ready(&python) {
        return Ok(python);
    }
    let lock = venv.with_extension("lock");
    std::fs::create_dir_all(venv.parent().unwrap()).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(600);
    while std::fs::create_dir(&lock).is_err() {
        if Instant::now() > deadline {
            return Err(format!("{} stayed locked", lock.display()));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let installed = (|| {
        if ready(&python) {
            return Ok(());
        }
        let run = |program: &Path, args: &[&str]| {
            let output = Command::new(program)
                .args(args)
                .output()
                .map_err(|e| format!("{}: {e}", program.display()))?;
            if output.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "{} {args:?}: {}",
                    program.display(),
                    String::from_utf8_lossy(&output.stderr)
                ))
            }
        };
        if !python.exists() {
            run(
                Path::new("python3"),
                &["-m", "venv", venv.to_str().unwrap()],
            )?;
        }
        let mut install = vec!["-m", "pip", "install", "-q"];
        install.extend(packages);
        run(&python, &install)
    })();
    let _ = std::fs::remove_dir(&lock);
    installed.map(|()| python)
}
