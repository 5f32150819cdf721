//! Arrow across the boundary by the Arrow PyCapsule interface: results leave as objects with
//! `__arrow_c_stream__` (pyarrow takes their buffers without copying), inputs arrive as any
//! object that has one (a pyarrow Table, a pandas frame converted by pyarrow, a polars frame).

use std::ffi::CStr;
use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;
use rask::arrow::array::{RecordBatch, RecordBatchIterator, RecordBatchReader};
use rask::arrow::datatypes::{Schema, SchemaRef};
use rask::arrow::ffi::FFI_ArrowSchema;
use rask::arrow::ffi_stream::{ArrowArrayStreamReader, FFI_ArrowArrayStream};

const STREAM: &CStr = c"arrow_array_stream";
const SCHEMA: &CStr = c"arrow_schema";

/// Computed rows: pass to `pyarrow.table()` (or anything reading `__arrow_c_stream__`).
#[pyclass(frozen, module = "rask._rask")]
pub struct ArrowData {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl ArrowData {
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        ArrowData { schema, batches }
    }
}

#[pymethods]
impl ArrowData {
    /// The rows as an Arrow C stream; `requested_schema` is not honoured (pyarrow casts).
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        // Batches share their buffers: cloning them copies pointers, not data.
        let reader = RecordBatchIterator::new(
            self.batches.clone().into_iter().map(Ok),
            self.schema.clone(),
        );
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        PyCapsule::new_with_value(py, stream, STREAM)
    }

    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        schema_capsule(py, &self.schema)
    }
}

/// A frame's column names and types, for `pyarrow.schema()`.
#[pyclass(frozen, module = "rask._rask")]
pub struct ArrowSchema {
    schema: SchemaRef,
}

impl ArrowSchema {
    pub fn new(schema: SchemaRef) -> Self {
        ArrowSchema { schema }
    }
}

#[pymethods]
impl ArrowSchema {
    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        schema_capsule(py, &self.schema)
    }
}

fn schema_capsule<'py>(py: Python<'py>, schema: &Schema) -> PyResult<Bound<'py, PyCapsule>> {
    let ffi = FFI_ArrowSchema::try_from(schema).map_err(crate::errors::arrow)?;
    PyCapsule::new_with_value(py, ffi, SCHEMA)
}

/// The batches of any object with `__arrow_c_stream__`.
pub fn import_stream(data: &Bound<'_, PyAny>) -> PyResult<(SchemaRef, Vec<RecordBatch>)> {
    if !data.hasattr("__arrow_c_stream__")? {
        return Err(PyTypeError::new_err(format!(
            "expected Arrow data (an object with __arrow_c_stream__, such as a pyarrow.Table), got {}",
            data.get_type().name()?
        )));
    }
    let capsule = data.call_method0("__arrow_c_stream__")?;
    let capsule = capsule.cast::<PyCapsule>()?;
    let pointer = capsule.pointer_checked(Some(STREAM))?;
    // SAFETY: a capsule named "arrow_array_stream" holds an FFI_ArrowArrayStream (the
    // PyCapsule interface's contract); `from_raw` moves it out and marks the capsule's
    // copy released, so the capsule's destructor does not release it again.
    let reader = unsafe {
        ArrowArrayStreamReader::from_raw(pointer.cast::<FFI_ArrowArrayStream>().as_ptr())
    }
    .map_err(crate::errors::arrow)?;
    let schema = reader.schema();
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(crate::errors::arrow)?;
    Ok((schema, batches))
}

/// A schema from any object with `__arrow_c_schema__` (a pyarrow Schema).
pub fn import_schema(schema: &Bound<'_, PyAny>) -> PyResult<SchemaRef> {
    let capsule = schema.call_method0("__arrow_c_schema__")?;
    let capsule = capsule.cast::<PyCapsule>()?;
    let pointer = capsule.pointer_checked(Some(SCHEMA))?;
    // SAFETY: a capsule named "arrow_schema" holds an FFI_ArrowSchema, which the capsule
    // keeps owning: it is only read here.
    let ffi = unsafe { pointer.cast::<FFI_ArrowSchema>().as_ref() };
    Ok(Arc::new(
        Schema::try_from(ffi).map_err(crate::errors::arrow)?,
    ))
}
