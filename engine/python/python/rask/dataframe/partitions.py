"""``map_partitions`` and row ``apply`` with ordinary Python functions over pandas frames.

The engine calls back once per partition, handing over its rows as Arrow (no copy); the
function sees a pandas DataFrame, as in Dask. What it returns — a DataFrame, a Series or a
scalar — is described by ``meta`` (Dask's forms) or inferred by calling it on made-up rows.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import _session
from . import _sql
from .core import _INDEX, _VALUE, DataFrame, Series, _PartitionSeries


def _nonempty(meta: pd.DataFrame) -> pd.DataFrame:
    """Two made-up rows of ``meta``'s dtypes, as Dask's ``meta_nonempty``."""
    columns = {}
    for name, dtype in meta.dtypes.items():
        if pd.api.types.is_bool_dtype(dtype):
            values: Any = [True, False]
        elif pd.api.types.is_numeric_dtype(dtype):
            values = [1, 1]
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            values = [pd.Timestamp("2000-01-01"), pd.Timestamp("2000-01-02")]
        else:
            values = ["foo", "foo"]
        columns[name] = pd.Series(values).astype(dtype)
    frame = pd.DataFrame(columns)
    if meta.index.name is not None:
        frame.index = pd.Index(pd.Series(_nonempty(meta.index.to_frame(index=False)).iloc[:, 0]), name=meta.index.name)
    return frame


def _kind_of(result: Any) -> str:
    if isinstance(result, pd.DataFrame):
        return "frame"
    if isinstance(result, pd.Series):
        return "series"
    return "scalar"


def _as_table(result: Any, kind: str, schema: pa.Schema | None) -> pa.Table:
    """A partition function's result as Arrow: frames as they are, a Series with its index
    beside it, a scalar as one row."""
    if kind == "frame":
        frame = result
    elif kind == "series":
        frame = pd.DataFrame({_INDEX: result.index, _VALUE: result.to_numpy()})
        frame[_VALUE] = frame[_VALUE].astype(result.dtype)
    else:
        frame = pd.DataFrame({_VALUE: [result]})
    if kind != "frame" or frame.index.name is None:
        return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    return pa.Table.from_pandas(frame.reset_index(), schema=schema, preserve_index=False)


def _meta_schema(meta: Any) -> tuple[pa.Schema, str, Any]:
    """Dask's ``meta`` forms as an Arrow schema, the result's kind and its name."""
    if isinstance(meta, pd.DataFrame):
        if meta.index.name is not None:
            meta = meta.reset_index()
        fields = [pa.field(str(c), _sql.arrow_type(t)) for c, t in meta.dtypes.items()]
        return pa.schema(fields), "frame", None
    if isinstance(meta, pd.Series):
        return _series_schema(meta.index.dtype, meta.dtype), "series", meta.name
    if isinstance(meta, dict):
        return pa.schema([pa.field(str(c), _sql.arrow_type(t)) for c, t in meta.items()]), "frame", None
    if isinstance(meta, list):
        return pa.schema([pa.field(str(c), _sql.arrow_type(t)) for c, t in meta]), "frame", None
    if isinstance(meta, tuple) and len(meta) == 2:
        return _series_schema(np.dtype("int64"), meta[1]), "series", meta[0]
    return pa.schema([pa.field(_VALUE, _sql.arrow_type(meta))]), "scalar", None


def _series_schema(index_dtype: Any, dtype: Any) -> pa.Schema:
    return pa.schema([pa.field(_INDEX, _sql.arrow_type(index_dtype)), pa.field(_VALUE, _sql.arrow_type(dtype))])


def _inferred(frame: DataFrame, func: Callable[..., Any], args: tuple, kwargs: dict) -> tuple[pa.Schema, str, Any]:
    sample = func(_nonempty(frame._meta), *args, **kwargs)
    kind = _kind_of(sample)
    table = _as_table(sample, kind, None)
    # Made-up rows say nothing of NULLs: every column may hold them.
    schema = pa.schema([field.with_nullable(True) for field in table.schema])
    name = sample.name if kind == "series" else None
    return schema, kind, name


def map_partitions(frame: DataFrame, func: Callable[..., Any], args: tuple, kwargs: dict, meta: Any) -> Any:
    if func is len and not args and not kwargs:
        # The engine's own `len` runs anywhere, a cluster's workers included.
        counted = frame._frame.map_partitions_by_name("len")
        return Series(DataFrame(counted), '"len"', None)
    if _session.current().cluster_url() is not None:
        raise NotImplementedError(
            "map_partitions: a Python function runs in this process only, not on a cluster's "
            "workers; compute without the client, or use expressions and SQL"
        )
    schema, kind, name = _meta_schema(meta) if meta is not None else _inferred(frame, func, args, kwargs)
    index = frame._index

    def run(data: Any) -> pa.Table:
        part = pa.table(data).to_pandas()
        if index:
            part = part.set_index(index)
        return _as_table(func(part, *args, **kwargs), kind, schema)

    name_of_function = getattr(func, "__name__", "function")
    mapped = frame._frame.map_partitions(f"map_partitions({name_of_function})", run, schema)
    if kind == "frame":
        return DataFrame(mapped, [i for i in index if i in mapped.columns()])
    if kind == "series":
        return Series(DataFrame(mapped, [_INDEX]), f'"{_VALUE}"', name)
    return Series(DataFrame(mapped), f'"{_VALUE}"', None)


def apply_rows(frame: DataFrame, func: Callable[..., Any], args: tuple, kwargs: dict, meta: Any) -> Series:
    def per_row(part: pd.DataFrame) -> pd.Series:
        return part.apply(func, axis=1, args=args, **kwargs)

    if meta is None:
        sample = per_row(_nonempty(frame._meta))
        name, dtype = sample.name, sample.dtype
    elif isinstance(meta, tuple):
        name, dtype = meta
    else:
        name, dtype = None, meta
    return _PartitionSeries(frame, per_row, name, dtype)


__all__ = ["map_partitions", "apply_rows"]
