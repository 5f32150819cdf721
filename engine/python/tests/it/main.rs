//! Runs the `rask` package's pytest suite (`engine/python/tests/`) against the extension
//! built from this checkout with the tests' own profile and target directory, so the Python
//! tests share the Rust tests' one build of DataFusion.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../../../../cli/tests/it/venv.rs"]
mod venv;

/// What the suite needs besides the package itself.
const PACKAGES: [&str; 4] = ["pytest>=7", "pandas>=2.2", "pyarrow>=14", "numpy>=1.26"];

fn package_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The extension, built as the `rask` package's `_rask` module: `cargo build` of this crate,
/// whose dependencies the test build has already compiled.
fn build_extension() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "-p", "rask-python", "--lib"]);
    // What Cargo sets for this test program must not reach the inner build: build scripts
    // that watch such variables (ring's watch CARGO_MANIFEST_DIR and CARGO_PKG_*) would see
    // them change and rebuild, and everything above them with them.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let set_for_tests = [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix));
        if set_for_tests {
            build.env_remove(name.as_ref());
        }
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "the extension does not build");
    // Test programs live in <target>/debug/deps; the library is uplifted to <target>/debug.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let library = profile_dir.join("lib_rask.so");
    assert!(library.exists(), "{} was not built", library.display());
    library
}

/// The package as pip would install it: the Python sources with the extension beside them,
/// as links in a temporary directory.
fn stage_package(extension: &Path, into: &Path) {
    let sources = package_dir().join("python/rask");
    link_tree(&sources, &into.join("rask"));
    std::os::unix::fs::symlink(extension, into.join("rask/_rask.abi3.so")).unwrap();
}

fn link_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.is_dir() {
            if entry.file_name() != "__pycache__" {
                link_tree(&path, &to.join(entry.file_name()));
            }
        } else {
            std::os::unix::fs::symlink(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

#[test]
fn pytest_suite() {
    let python = match venv::python("import pytest, pandas, pyarrow, numpy", &PACKAGES) {
        Ok(python) => python,
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("the Python tests must run under CI: {why}")
        }
        Err(why) => {
            eprintln!("skipping the Python tests: {why}");
            return;
        }
    };
    let extension = build_extension();
    let staged = tempfile::tempdir().unwrap();
    stage_package(&extension, staged.path());
    let output = Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-x"])
        .arg(package_dir().join("tests"))
        .env("PYTHONPATH", staged.path())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env(
            "RASK_TESTDATA",
            package_dir().join("../../testdata").canonicalize().unwrap(),
        )
        .current_dir(staged.path())
        .output()
        .expect("pytest runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{said}");
    assert!(output.status.success(), "pytest failed:\n{said}");
}
