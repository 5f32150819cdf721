"""Python values and pandas dtypes in the engine's terms: SQL literals and types, Arrow types."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa


def quote(name: str) -> str:
    """A column name as a SQL identifier, exactly as written (case and all)."""
    return '"' + str(name).replace('"', '""') + '"'


def literal(value: Any) -> str:
    """A Python value as a SQL literal."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "NULL"
    if isinstance(value, (bool, np.bool_)):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if np.isinf(value):
            return "CAST('inf' AS DOUBLE)" if value > 0 else "CAST('-inf' AS DOUBLE)"
        return f"CAST({float(value)!r} AS DOUBLE)"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, (pd.Timestamp, _dt.datetime, np.datetime64)):
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return f"TIMESTAMP '{stamp.isoformat(sep=' ')}'"
    if isinstance(value, _dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, (pd.Timedelta, _dt.timedelta, np.timedelta64)):
        return f"INTERVAL '{int(pd.Timedelta(value).value)} nanoseconds'"
    raise TypeError(f"cannot use a {type(value).__name__} as a value in an expression")


def _is_text(dtype: Any) -> bool:
    if dtype in (str, object, "str", "object", "string", "category"):
        return True
    try:
        return isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype)
    except TypeError:
        return False


def _numpy(dtype: Any) -> np.dtype:
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and hasattr(dtype, "numpy_dtype"):
        return np.dtype(dtype.numpy_dtype)
    try:
        return np.dtype(dtype)
    except TypeError as error:
        raise TypeError(f"data type {dtype!r} not understood") from error


def sql_type(dtype: Any) -> str:
    """The SQL type of a pandas/numpy dtype (``'f8'``, ``int``, ``'category'`` …)."""
    if _is_text(dtype):
        return "VARCHAR"
    np_dtype = _numpy(dtype)
    kind, size = np_dtype.kind, np_dtype.itemsize
    if kind == "b":
        return "BOOLEAN"
    if kind == "i":
        return {1: "TINYINT", 2: "SMALLINT", 4: "INT", 8: "BIGINT"}[size]
    if kind == "u":
        return {1: "TINYINT UNSIGNED", 2: "SMALLINT UNSIGNED", 4: "INT UNSIGNED", 8: "BIGINT UNSIGNED"}[size]
    if kind == "f":
        return "REAL" if size <= 4 else "DOUBLE"
    if kind == "M":
        return "TIMESTAMP"
    raise TypeError(f"cannot convert to dtype {dtype!r}")


def arrow_type(dtype: Any) -> pa.DataType:
    """The Arrow type of a pandas/numpy dtype."""
    if _is_text(dtype):
        return pa.string()
    np_dtype = _numpy(dtype)
    if np_dtype.kind == "M":
        return pa.timestamp("ns")
    if np_dtype.kind == "O":
        return pa.string()
    return pa.from_numpy_dtype(np_dtype)


def arrow_type_name(dtype: Any) -> str:
    """The engine's name of the Arrow type of a pandas dtype (``Int64``, ``Utf8`` …)."""
    names = {
        pa.bool_(): "Boolean",
        pa.int8(): "Int8",
        pa.int16(): "Int16",
        pa.int32(): "Int32",
        pa.int64(): "Int64",
        pa.uint8(): "UInt8",
        pa.uint16(): "UInt16",
        pa.uint32(): "UInt32",
        pa.uint64(): "UInt64",
        pa.float16(): "Float16",
        pa.float32(): "Float32",
        pa.float64(): "Float64",
        pa.string(): "Utf8",
        pa.timestamp("ns"): "Timestamp(ns)",
    }
    return names[arrow_type(dtype)]
