//! The native half of the `rask` Python package: Rask's [`Session`](rask::Session) and lazy
//! [`DataFrame`](rask::DataFrame) for `rask.dataframe` to drive. Every method is one call into
//! the `rask` crate; Arrow data crosses by the C stream interface (PyCapsules), so results
//! reach pyarrow and pandas without a copy.

mod arrow_ffi;
mod errors;
mod frame;
mod session;
mod wait;

use pyo3::prelude::*;

#[pymodule]
fn _rask(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<session::PySession>()?;
    module.add_class::<frame::PyFrame>()?;
    module.add_class::<arrow_ffi::ArrowData>()?;
    module.add_class::<arrow_ffi::ArrowSchema>()?;
    module.add_function(wrap_pyfunction!(rask_version, module)?)?;
    module.add_function(wrap_pyfunction!(serve_worker, module)?)?;
    Ok(())
}

/// Runs a cluster worker in this process until it is stopped (Ctrl-C, SIGTERM, or its
/// parent ending with `exit_with_parent`): what `query worker` does, for the worker
/// processes a `LocalCluster` starts from Python.
#[pyfunction]
#[pyo3(signature = (scheduler, bind, slots = None, memory_limit = None, exit_with_parent = false))]
fn serve_worker(
    py: Python<'_>,
    scheduler: String,
    bind: &str,
    slots: Option<usize>,
    memory_limit: Option<u64>,
    exit_with_parent: bool,
) -> PyResult<()> {
    let bind = bind.parse().map_err(|_| {
        pyo3::exceptions::PyValueError::new_err(format!("invalid address '{bind}'"))
    })?;
    let options = rask::cluster::WorkerOptions {
        scheduler,
        bind,
        slots,
        memory_limit,
        work_dir: None,
        exit_with_parent,
    };
    wait::wait(py, rask::cluster::serve_worker(options))
}

/// The version of the engine the package was built with.
#[pyfunction]
fn rask_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
