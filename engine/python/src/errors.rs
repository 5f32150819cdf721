//! Rask's errors as Python exceptions of the classes a pandas user catches. The classes live
//! in `rask.errors`: each derives from `rask.RaskError` and from the built-in class pandas
//! would raise (`FileNotFoundError`, `KeyError`, `ValueError`, `TypeError`, `MemoryError`),
//! and carries the same one-line message (and hint) as the CLI prints.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use rask::ErrorKind;

/// The `rask.errors` class for `error`.
fn class_name(error: &rask::Error) -> &'static str {
    if error.is_missing_file() {
        return "RaskFileNotFoundError";
    }
    if error.is_missing_column() {
        return "ColumnNotFoundError";
    }
    match error.kind() {
        ErrorKind::Syntax => "SQLSyntaxError",
        ErrorKind::Plan if is_about_types(error.message()) => "RaskTypeError",
        ErrorKind::Plan | ErrorKind::Usage => "PlanError",
        ErrorKind::Input => "InputError",
        ErrorKind::Memory => "RaskMemoryError",
        ErrorKind::Cancelled => "CancelledError",
        ErrorKind::Output | ErrorKind::Execution => "RaskError",
    }
}

/// Plan errors that say a value has the wrong type, which pandas raises as `TypeError`.
fn is_about_types(message: &str) -> bool {
    [
        "argument of type",
        "is not numeric",
        "cannot be cast",
        "Cannot coerce",
        "No function matches",
    ]
    .iter()
    .any(|words| message.contains(words))
}

pub fn to_python(error: rask::Error) -> PyErr {
    Python::attach(|py| {
        let class = py
            .import("rask.errors")
            .and_then(|errors| errors.getattr(class_name(&error)));
        match class {
            Ok(class) => match class.call1((error.message(), error.hint())) {
                Ok(instance) => PyErr::from_value(instance),
                Err(failed) => failed,
            },
            Err(_) => PyRuntimeError::new_err(error.to_string()),
        }
    })
}

/// Arrow's own failures while moving data across the boundary.
pub fn arrow(error: rask::arrow::error::ArrowError) -> PyErr {
    to_python(rask::Error::from(error))
}
