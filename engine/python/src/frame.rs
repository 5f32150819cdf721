//! `rask._rask.Frame`: a lazy [`rask::DataFrame`]. Each method returns a new frame (the
//! engine's frames are immutable); `rask.dataframe` gives them Dask's names and types.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyString};
use rask::arrow::array::RecordBatch;
use rask::arrow::compute::concat_batches;
use rask::arrow::datatypes::SchemaRef;
use rask::sink::ParquetSink;
use rask::{DropHow, How, ScalarValue};

use crate::arrow_ffi::{import_schema, import_stream, ArrowData, ArrowSchema};
use crate::errors;
use crate::session::arrow_type;
use crate::wait::wait;

#[pyclass(frozen, name = "Frame", module = "rask._rask")]
#[derive(Clone)]
pub struct PyFrame {
    pub(crate) inner: rask::DataFrame,
}

impl PyFrame {
    pub fn new(inner: rask::DataFrame) -> Self {
        PyFrame { inner }
    }

    fn derived(
        &self,
        make: impl FnOnce(rask::DataFrame) -> rask::Result<rask::DataFrame>,
    ) -> PyResult<PyFrame> {
        make(self.inner.clone())
            .map(PyFrame::new)
            .map_err(errors::to_python)
    }

    fn parse(&self, sql: &str) -> PyResult<rask::Expr> {
        self.inner.parse_expr(sql).map_err(errors::to_python)
    }
}

fn strs(names: &[String]) -> Vec<&str> {
    names.iter().map(String::as_str).collect()
}

/// An aggregation spec from Python as the engine's `(column, functions)` pairs.
fn with_pairs<T>(spec: &[(String, Vec<String>)], run: impl FnOnce(&[(&str, &[&str])]) -> T) -> T {
    let funcs: Vec<Vec<&str>> = spec.iter().map(|(_, f)| strs(f)).collect();
    let pairs: Vec<(&str, &[&str])> = spec
        .iter()
        .zip(&funcs)
        .map(|((column, _), f)| (column.as_str(), f.as_slice()))
        .collect();
    run(&pairs)
}

#[pymethods]
impl PyFrame {
    fn columns(&self) -> Vec<String> {
        self.inner.columns()
    }

    /// Column names and Arrow types, for `pyarrow.schema()`.
    fn schema(&self) -> ArrowSchema {
        ArrowSchema::new(self.inner.schema())
    }

    /// Rows where the SQL condition `predicate` holds.
    fn filter(&self, predicate: &str) -> PyResult<PyFrame> {
        let predicate = self.parse(predicate)?;
        self.derived(|f| f.filter(predicate))
    }

    /// Adds or replaces each `(name, SQL expression)` in turn.
    fn assign(&self, columns: Vec<(String, String)>) -> PyResult<PyFrame> {
        let mut frame = self.inner.clone();
        for (name, sql) in columns {
            let value = frame.parse_expr(&sql).map_err(errors::to_python)?;
            frame = frame.assign(&name, value).map_err(errors::to_python)?;
        }
        Ok(PyFrame::new(frame))
    }

    fn select(&self, columns: Vec<String>) -> PyResult<PyFrame> {
        self.derived(|f| f.select(&strs(&columns)))
    }

    fn drop(&self, columns: Vec<String>) -> PyResult<PyFrame> {
        self.derived(|f| f.drop(&strs(&columns)))
    }

    fn rename(&self, mapping: Vec<(String, String)>) -> PyResult<PyFrame> {
        let pairs: Vec<(&str, &str)> = mapping
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        self.derived(|f| f.rename(&pairs))
    }

    fn sort_values(&self, by: Vec<String>, ascending: bool) -> PyResult<PyFrame> {
        self.derived(|f| f.sort_values(&strs(&by), ascending))
    }

    /// `groupby(keys).agg({column: [functions]})`; `by_function` names the result columns
    /// after the functions alone (one column aggregated); `dropna` drops NULL keys first.
    #[pyo3(signature = (keys, spec, by_function = false, dropna = true))]
    fn groupby_agg(
        &self,
        keys: Vec<String>,
        spec: Vec<(String, Vec<String>)>,
        by_function: bool,
        dropna: bool,
    ) -> PyResult<PyFrame> {
        self.derived(|f| {
            let groups = f.groupby(&strs(&keys)).dropna(dropna);
            if by_function {
                let [(column, funcs)] = spec.as_slice() else {
                    return Err(rask::Error::usage(
                        "aggregations by function name one column",
                    ));
                };
                groups.column(column).agg(&strs(funcs))
            } else {
                with_pairs(&spec, |pairs| groups.agg(pairs))
            }
        })
    }

    /// Whole-frame reductions: one row, a column per `(column, function)`.
    fn agg(&self, spec: Vec<(String, Vec<String>)>) -> PyResult<PyFrame> {
        self.derived(|f| with_pairs(&spec, |pairs| f.agg(pairs)))
    }

    #[pyo3(signature = (keys, dropna = true))]
    fn groupby_size(&self, keys: Vec<String>, dropna: bool) -> PyResult<PyFrame> {
        self.derived(|f| f.groupby(&strs(&keys)).dropna(dropna).size())
    }

    /// Columns to Arrow types: `(column, Arrow type name)`.
    fn astype(&self, types: Vec<(String, String)>) -> PyResult<PyFrame> {
        let types = types
            .into_iter()
            .map(|(column, name)| Ok((column, arrow_type(&name)?)))
            .collect::<PyResult<Vec<_>>>()?;
        let pairs: Vec<(&str, rask::DataType)> =
            types.iter().map(|(c, t)| (c.as_str(), t.clone())).collect();
        self.derived(|f| f.astype(&pairs))
    }

    fn fillna(&self, value: &Bound<'_, PyAny>, columns: Vec<String>) -> PyResult<PyFrame> {
        let value = scalar(value)?;
        self.derived(|f| f.fillna(value, &strs(&columns)))
    }

    fn dropna(&self, how: &str, subset: Vec<String>) -> PyResult<PyFrame> {
        let how = match how {
            "any" => DropHow::Any,
            "all" => DropHow::All,
            other => {
                return Err(PyValueError::new_err(format!(
                    "invalid how option: {other}"
                )))
            }
        };
        self.derived(|f| f.dropna(how, &strs(&subset)))
    }

    fn drop_duplicates(&self, subset: Vec<String>) -> PyResult<PyFrame> {
        self.derived(|f| f.drop_duplicates(&strs(&subset)))
    }

    fn value_counts(&self, column: &str) -> PyResult<PyFrame> {
        self.derived(|f| f.value_counts(column))
    }

    fn nlargest(&self, n: usize, column: &str) -> PyResult<PyFrame> {
        self.derived(|f| f.nlargest(n, column))
    }

    fn nsmallest(&self, n: usize, column: &str) -> PyResult<PyFrame> {
        self.derived(|f| f.nsmallest(n, column))
    }

    #[pyo3(signature = (other, how, left_on, right_on, suffixes))]
    fn merge(
        &self,
        other: &PyFrame,
        how: &str,
        left_on: Vec<String>,
        right_on: Vec<String>,
        suffixes: (String, String),
    ) -> PyResult<PyFrame> {
        let how = match how {
            "inner" => How::Inner,
            "left" => How::Left,
            "right" => How::Right,
            "outer" => How::Outer,
            "leftsemi" => How::LeftSemi,
            "leftanti" => How::LeftAnti,
            other => {
                return Err(PyValueError::new_err(format!(
                    "merge: how must be 'inner', 'left', 'right' or 'outer', got '{other}'"
                )))
            }
        };
        let right = other.inner.clone();
        self.derived(|f| {
            f.merge(
                right,
                how,
                &[],
                (&strs(&left_on), &strs(&right_on)),
                (&suffixes.0, &suffixes.1),
            )
        })
    }

    fn concat(&self, others: Vec<PyRef<'_, PyFrame>>) -> PyResult<PyFrame> {
        let others = others.iter().map(|f| f.inner.clone()).collect();
        self.derived(|f| f.concat(others))
    }

    fn sample(&self, frac: f64, seed: u64) -> PyResult<PyFrame> {
        self.derived(|f| f.sample(frac, seed))
    }

    fn quantile(&self, columns: Vec<String>, q: f64) -> PyResult<PyFrame> {
        self.derived(|f| f.quantile(&strs(&columns), q))
    }

    fn describe(&self, py: Python<'_>) -> PyResult<PyFrame> {
        let frame = self.inner.clone();
        wait(py, frame.describe()).map(PyFrame::new)
    }

    /// The partitions the frame has, as Dask counts them.
    fn npartitions(&self, py: Python<'_>) -> PyResult<usize> {
        let frame = self.inner.clone();
        wait(py, async move { frame.npartitions().await })
    }

    fn repartition(&self, npartitions: usize) -> PyResult<PyFrame> {
        self.derived(|f| f.repartition(npartitions))
    }

    fn repartition_by_size(&self, py: Python<'_>, bytes: usize) -> PyResult<PyFrame> {
        let frame = self.inner.clone();
        wait(py, frame.repartition_by_size(bytes)).map(PyFrame::new)
    }

    /// `func(table) -> table` over each partition's rows, as pyarrow Tables; `meta` is the
    /// result's pyarrow schema (`None`: inferred from a call on no rows).
    #[pyo3(signature = (name, func, meta = None))]
    fn map_partitions(
        &self,
        name: &str,
        func: Py<PyAny>,
        meta: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyFrame> {
        let meta = meta.map(import_schema).transpose()?;
        let run = move |partition: RecordBatch| -> rask::Result<RecordBatch> {
            Python::attach(|py| {
                let schema = partition.schema();
                let data = ArrowData::new(schema, vec![partition]);
                let result = func.call1(py, (data,))?;
                let (schema, batches) = import_stream(result.bind(py))?;
                one_batch(&schema, &batches)
            })
            .map_err(python_failure)
        };
        self.derived(|f| f.map_partitions(name, run, meta))
    }

    /// `map_partitions` with a partition function every Rask process knows by `name`
    /// (`len`), which runs on a cluster's workers too.
    fn map_partitions_by_name(&self, name: &str) -> PyResult<PyFrame> {
        self.derived(|f| f.map_partitions_by_name(name, None))
    }

    fn set_index(&self, py: Python<'_>, column: &str, sorted: bool) -> PyResult<PyFrame> {
        let frame = self.inner.clone();
        let column = column.to_string();
        wait(py, async move { frame.set_index(&column, sorted).await }).map(PyFrame::new)
    }

    fn index(&self) -> Option<String> {
        self.inner.index()
    }

    /// The index values that bound the partitions, as a one-column Arrow table.
    fn divisions(&self) -> PyResult<Option<ArrowData>> {
        let Some(divisions) = self.inner.divisions() else {
            return Ok(None);
        };
        let values =
            ScalarValue::iter_to_array(divisions).map_err(|e| errors::to_python(e.into()))?;
        let batch = RecordBatch::try_from_iter([("divisions", values)]).map_err(errors::arrow)?;
        Ok(Some(ArrowData::new(batch.schema(), vec![batch])))
    }

    fn known_divisions(&self) -> bool {
        self.inner.known_divisions()
    }

    #[pyo3(signature = (start = None, end = None))]
    fn loc(
        &self,
        start: Option<&Bound<'_, PyAny>>,
        end: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyFrame> {
        let start = start.map(scalar).transpose()?;
        let end = end.map(scalar).transpose()?;
        self.derived(|f| f.loc(start, end))
    }

    /// `resample(freq)` aggregated: `(column, function)` pairs.
    fn resample(&self, freq: &str, spec: Vec<(String, String)>) -> PyResult<PyFrame> {
        let pairs: Vec<(&str, &str)> = spec.iter().map(|(c, f)| (c.as_str(), f.as_str())).collect();
        self.derived(|f| f.resample(freq)?.agg(&pairs))
    }

    /// `rolling(window)` aggregated with `func` (`mean` or `sum`) over `columns`; the window
    /// is a number of rows or a duration such as `"1h"`.
    fn rolling(
        &self,
        window: &Bound<'_, PyAny>,
        func: &str,
        columns: Vec<String>,
    ) -> PyResult<PyFrame> {
        let window = match window.extract::<u64>() {
            Ok(rows) => rask::RollingWindow::Rows(rows),
            Err(_) => rask::RollingWindow::Span(window.extract()?),
        };
        let func = func.to_string();
        self.derived(|f| {
            let rolling = f.rolling(window)?;
            match func.as_str() {
                "mean" => rolling.mean(&strs(&columns)),
                "sum" => rolling.sum(&strs(&columns)),
                other => Err(rask::Error::usage(format!(
                    "rolling: no aggregation '{other}'; use mean or sum"
                ))),
            }
        })
    }

    fn persist(&self, py: Python<'_>) -> PyResult<PyFrame> {
        let frame = self.inner.clone();
        wait(py, frame.persist()).map(PyFrame::new)
    }

    fn compute(&self, py: Python<'_>) -> PyResult<ArrowData> {
        let frame = self.inner.clone();
        let table = wait(py, frame.compute())?;
        Ok(ArrowData::new(table.schema, table.batches))
    }

    fn head(&self, py: Python<'_>, n: usize) -> PyResult<ArrowData> {
        let frame = self.inner.clone();
        let schema = frame.schema();
        let batches = wait(py, frame.head(n))?;
        Ok(ArrowData::new(schema, batches))
    }

    fn len(&self, py: Python<'_>) -> PyResult<usize> {
        let frame = self.inner.clone();
        wait(py, frame.len())
    }

    /// Dask's `storage_options` for the store `url` is in, for the writes that follow.
    fn use_storage(&self, url: String, options: Vec<(String, String)>) -> PyResult<()> {
        let mut storage = rask::StorageOptions::default();
        for (key, value) in options {
            storage.insert(&key, value);
        }
        self.inner
            .use_storage(&url, &storage)
            .map_err(errors::to_python)
    }

    #[pyo3(signature = (path, partition_on = vec![], compression = "snappy".to_string()))]
    fn to_parquet(
        &self,
        py: Python<'_>,
        path: String,
        partition_on: Vec<String>,
        compression: String,
    ) -> PyResult<u64> {
        let frame = self.inner.clone();
        let options = ParquetSink {
            partition_on,
            compression,
        };
        wait(py, async move { frame.to_parquet(&path, &options).await })
    }

    fn to_csv(&self, py: Python<'_>, path: String) -> PyResult<u64> {
        let frame = self.inner.clone();
        wait(py, async move { frame.to_csv(&path).await })
    }

    fn to_json(&self, py: Python<'_>, path: String) -> PyResult<u64> {
        let frame = self.inner.clone();
        wait(py, async move { frame.to_json(&path).await })
    }

    #[pyo3(signature = (analyze = false))]
    fn explain(&self, py: Python<'_>, analyze: bool) -> PyResult<String> {
        let frame = self.inner.clone();
        wait(py, frame.explain(analyze))
    }

    /// Writes the task graph (`.svg`, `.png`, `.dot`, `.html`) and returns its DOT text.
    fn visualize(&self, py: Python<'_>, path: String) -> PyResult<String> {
        let frame = self.inner.clone();
        let graph = wait(py, async move { frame.visualize(&path).await })?;
        Ok(graph.to_dot())
    }
}

/// A Python value as an engine scalar: None, bool, int, float, str (others are converted to
/// text by the caller).
fn scalar(value: &Bound<'_, PyAny>) -> PyResult<ScalarValue> {
    Ok(if value.is_none() {
        ScalarValue::Null
    } else if value.is_instance_of::<PyBool>() {
        ScalarValue::Boolean(Some(value.extract()?))
    } else if value.is_instance_of::<PyInt>() {
        ScalarValue::Int64(Some(value.extract()?))
    } else if value.is_instance_of::<PyFloat>() {
        ScalarValue::Float64(Some(value.extract()?))
    } else if value.is_instance_of::<PyString>() {
        ScalarValue::Utf8(Some(value.extract()?))
    } else {
        return Err(PyValueError::new_err(format!(
            "cannot use a {} as a value here",
            value.get_type().name()?
        )));
    })
}

/// A partition function's result as one batch of its own schema.
fn one_batch(schema: &SchemaRef, batches: &[RecordBatch]) -> PyResult<RecordBatch> {
    match batches {
        [one] => Ok(one.clone()),
        _ => concat_batches(schema, batches).map_err(errors::arrow),
    }
}

/// A Python exception raised by a partition function, as the engine's error: its message
/// names the exception class, as Python prints it.
fn python_failure(error: PyErr) -> rask::Error {
    let message = Python::attach(|py| {
        let class = error
            .get_type(py)
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "Exception".to_string());
        format!("{class}: {}", error.value(py))
    });
    rask::Error::execution(message)
}
