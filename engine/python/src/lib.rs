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
    Ok(())
}

/// The version of the engine the package was built with.
#[pyfunction]
fn rask_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
