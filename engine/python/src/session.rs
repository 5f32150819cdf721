//! `rask._rask.Session`: where frames are read, registered and computed.

use std::sync::Mutex;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rask::{DataType, FileFormatKind, ReadOptions, TimeseriesParams, WHOLE_FILES};

use crate::arrow_ffi::{import_stream, ArrowData};
use crate::errors;
use crate::frame::PyFrame;
use crate::wait::wait;

#[pyclass(frozen, name = "Session", module = "rask._rask")]
pub struct PySession {
    pub(crate) inner: rask::Session,
    /// The live dashboard, once started; it stops with the session.
    dashboard: Mutex<Option<rask::dashboard::Dashboard>>,
}

type ClusterWorkers = (String, Vec<(String, String, u32, Option<u64>)>);

#[pymethods]
impl PySession {
    /// A local session: `partitions` streams at once (default: the cores), spilling past
    /// `memory_limit` bytes (default: no limit).
    #[new]
    #[pyo3(signature = (partitions = None, memory_limit = None))]
    fn new(partitions: Option<usize>, memory_limit: Option<usize>) -> PyResult<Self> {
        let mut builder = rask::Session::builder();
        if let Some(partitions) = partitions {
            builder = builder.partitions(partitions);
        }
        if let Some(bytes) = memory_limit {
            builder = builder.memory_limit(bytes);
        }
        let inner = builder.build().map_err(errors::to_python)?;
        Ok(PySession {
            inner,
            dashboard: Mutex::new(None),
        })
    }

    /// A session whose queries run on the cluster whose scheduler is at `url`.
    #[staticmethod]
    fn connect(py: Python<'_>, url: &str) -> PyResult<Self> {
        let url = url.to_string();
        let inner = wait(py, async move { rask::Session::connect(&url).await })?;
        Ok(PySession {
            inner,
            dashboard: Mutex::new(None),
        })
    }

    /// Starts a local cluster of `n_workers` worker processes (each `threads_per_worker`
    /// tasks at once, under `memory_limit` bytes) and a session on it; the workers stop when
    /// the session is gone.
    #[staticmethod]
    #[pyo3(signature = (n_workers, threads_per_worker, memory_limit = None))]
    fn local_cluster(
        py: Python<'_>,
        n_workers: usize,
        threads_per_worker: usize,
        memory_limit: Option<u64>,
    ) -> PyResult<Self> {
        let inner = wait(
            py,
            rask::Session::local_cluster(n_workers, threads_per_worker, memory_limit),
        )?;
        Ok(PySession {
            inner,
            dashboard: Mutex::new(None),
        })
    }

    /// The workers of the session's cluster: `(scheduler, [(id, address, slots,
    /// memory_limit)])`.
    fn cluster_info(&self, py: Python<'_>) -> PyResult<ClusterWorkers> {
        let session = self.inner.clone();
        let info = wait(py, async move { session.cluster_info().await })?;
        let workers = info
            .workers
            .into_iter()
            .map(|w| (w.id, w.address, w.slots, w.memory_limit))
            .collect();
        Ok((info.scheduler, workers))
    }

    /// The live dashboard's URL, starting it on `address` (`host:port`; a free port on
    /// 127.0.0.1 by default) the first time.
    #[pyo3(signature = (address = None))]
    fn dashboard(&self, address: Option<&str>) -> PyResult<String> {
        let mut dashboard = self.dashboard.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(running) = dashboard.as_ref() {
            return Ok(running.url());
        }
        let address = address
            .map(|a| {
                a.parse().map_err(|_| {
                    PyValueError::new_err(format!("invalid dashboard address '{a}'; use host:port"))
                })
            })
            .transpose()?;
        let started =
            crate::wait::enter(|| rask::dashboard::Dashboard::start(&self.inner, address))?
                .map_err(errors::to_python)?;
        let url = started.url();
        *dashboard = Some(started);
        Ok(url)
    }

    /// Files (a path, glob or URL) as a lazy frame; `options` as `rask.dataframe`'s readers
    /// name them.
    #[pyo3(signature = (path, format = None, options = None))]
    fn read(
        &self,
        py: Python<'_>,
        path: &str,
        format: Option<&str>,
        options: Option<ReadArgs>,
    ) -> PyResult<PyFrame> {
        let mut read = options.map(|o| o.0).unwrap_or_default();
        read.format = format.map(format_kind).transpose()?;
        let session = self.inner.clone();
        let path = path.to_string();
        let frame = wait(py, async move { session.read_files(&path, read).await })?;
        Ok(PyFrame::new(frame))
    }

    /// A SQL statement's result as a lazy frame (statements without one, such as CREATE
    /// VIEW, run now).
    fn sql(&self, py: Python<'_>, query: &str) -> PyResult<PyFrame> {
        let session = self.inner.clone();
        let query = query.to_string();
        let frame = wait(py, async move { session.sql(&query).await })?;
        Ok(PyFrame::new(frame))
    }

    /// Makes `frame` visible to SQL as `name`.
    fn register(&self, name: &str, frame: &PyFrame) -> PyResult<()> {
        self.inner
            .register_frame(name, &frame.inner)
            .map_err(errors::to_python)
    }

    /// Forgets the table or view `name`.
    fn deregister(&self, name: &str) -> PyResult<()> {
        self.inner
            .context()
            .deregister_table(name)
            .map_err(|e| errors::to_python(e.into()))?;
        Ok(())
    }

    /// Arrow data (anything with `__arrow_c_stream__`) as a frame of `npartitions`.
    fn frame_from_arrow(&self, data: &Bound<'_, PyAny>, npartitions: usize) -> PyResult<PyFrame> {
        let (schema, batches) = import_stream(data)?;
        let frame = self
            .inner
            .from_batches_with_schema(schema, batches, npartitions)
            .map_err(errors::to_python)?;
        Ok(PyFrame::new(frame))
    }

    /// Dask's `timeseries()` dataset.
    #[pyo3(signature = (start = None, end = None, freq = None, partition_freq = None, seed = None))]
    fn timeseries(
        &self,
        start: Option<&str>,
        end: Option<&str>,
        freq: Option<&str>,
        partition_freq: Option<&str>,
        seed: Option<i64>,
    ) -> PyResult<PyFrame> {
        let params = TimeseriesParams::new(start, end, freq, partition_freq, seed)
            .map_err(|e| errors::to_python(e.into()))?;
        let frame = self.inner.timeseries(params).map_err(errors::to_python)?;
        Ok(PyFrame::new(frame))
    }

    /// Computes several frames at once, sharing the scans they have in common.
    fn compute(&self, py: Python<'_>, frames: Vec<PyRef<'_, PyFrame>>) -> PyResult<Vec<ArrowData>> {
        let frames: Vec<rask::DataFrame> = frames.iter().map(|f| f.inner.clone()).collect();
        let session = self.inner.clone();
        let tables = wait(py, async move { session.compute(frames).await })?;
        Ok(tables
            .into_iter()
            .map(|table| ArrowData::new(table.schema, table.batches))
            .collect())
    }

    /// What the dashboard shows (queries, their progress, the cluster), as JSON.
    fn status(&self) -> String {
        rask::dashboard::status(&self.inner).to_string()
    }

    /// The id of the latest query the session ran, if any.
    fn last_query_id(&self) -> Option<u64> {
        self.inner.queries().queries().last().map(|q| q.id())
    }

    /// Writes one HTML performance report of the queries run after query `after` (all when
    /// `None`); false when there were none.
    #[pyo3(signature = (path, after = None))]
    fn write_report(&self, path: &str, after: Option<u64>) -> PyResult<bool> {
        let queries = self.inner.queries().queries();
        let ran: Vec<&rask::Query> = queries
            .iter()
            .filter(|q| after.is_none_or(|after| q.id() > after))
            .map(|q| q.as_ref())
            .collect();
        if ran.is_empty() {
            return Ok(false);
        }
        rask::report::write_reports(&ran, std::path::Path::new(path)).map_err(errors::to_python)?;
        Ok(true)
    }

    /// The scheduler's URL when the session runs on a cluster.
    fn cluster_url(&self) -> Option<String> {
        self.inner.cluster_url().map(str::to_string)
    }
}

/// The readers' keyword arguments, as a dict from Python.
pub struct ReadArgs(ReadOptions);

impl<'a, 'py> FromPyObject<'a, 'py> for ReadArgs {
    type Error = PyErr;

    fn extract(options: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let mut read = ReadOptions::default();
        let byte = |value: Borrowed<'_, '_, PyAny>, name: &str| -> PyResult<u8> {
            let text: String = value.extract()?;
            match text.as_bytes() {
                [byte] => Ok(*byte),
                _ => Err(PyValueError::new_err(format!(
                    "{name} must be a single one-byte character, got {text:?}"
                ))),
            }
        };
        for (key, value) in options.cast::<pyo3::types::PyDict>()?.iter() {
            let key: String = key.extract()?;
            let value = value.as_borrowed();
            match key.as_str() {
                "sep" if value.is_none() => read.delimiter = None,
                "sep" => read.delimiter = Some(byte(value, "sep")?),
                "union_by_name" => read.union_by_name = value.extract()?,
                "quotechar" => read.quote = Some(byte(value, "quotechar")?),
                "escapechar" => read.escape = Some(byte(value, "escapechar")?),
                "comment" => read.comment = Some(byte(value, "comment")?),
                "header" => read.header = Some(value.extract()?),
                "na_values" => read.nulls = value.extract()?,
                "parse_dates" => read.parse_dates = value.extract()?,
                "blocksize" => {
                    let blocksize: Option<u64> = value.extract()?;
                    read.blocksize = Some(blocksize.unwrap_or(WHOLE_FILES));
                }
                "dtype" => {
                    let pairs: Vec<(String, String)> = value.extract()?;
                    read.dtypes = pairs
                        .into_iter()
                        .map(|(column, name)| Ok((column, arrow_type(&name)?)))
                        .collect::<PyResult<_>>()?;
                }
                "storage_options" => {
                    let pairs: Vec<(String, String)> = value.extract()?;
                    for (key, value) in pairs {
                        read.storage.insert(&key, value);
                    }
                }
                other => {
                    return Err(PyValueError::new_err(format!(
                        "unknown read option '{other}'"
                    )))
                }
            }
        }
        Ok(ReadArgs(read))
    }
}

/// An Arrow type by its Arrow name (`Int64`, `Float64`, `Utf8`, `Timestamp(ns)`).
pub fn arrow_type(name: &str) -> PyResult<DataType> {
    name.parse::<DataType>()
        .map_err(|_| PyValueError::new_err(format!("unknown Arrow type '{name}'")))
}

fn format_kind(name: &str) -> PyResult<FileFormatKind> {
    Ok(match name {
        "csv" => FileFormatKind::Csv,
        "parquet" => FileFormatKind::Parquet,
        "json" => FileFormatKind::Json,
        "arrow" => FileFormatKind::Arrow,
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown file format '{other}'"
            )))
        }
    })
}
