"""Dask's DataFrame API on Rask's engine: ``import rask.dataframe as dd``.

Readers return lazy :class:`DataFrame` objects; ``.compute()`` gives pandas objects.
"""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd
import pyarrow as pa

from .. import _session
from . import _sql
from .core import DataFrame, Scalar, Series, _storage, concat, merge, read_files
from .groupby import DataFrameGroupBy, SeriesGroupBy


def _dtype_pairs(dtype: Any) -> list[tuple[str, str]]:
    if dtype is None:
        return []
    if not isinstance(dtype, dict):
        raise TypeError("read_csv: dtype must be a dict of column -> dtype")
    return [(str(column), _sql.arrow_type_name(t)) for column, t in dtype.items()]


def read_csv(
    urlpath: str | Sequence[str],
    blocksize: int | str | None = "64MB",
    dtype: dict[str, Any] | None = None,
    parse_dates: Sequence[str] | None = None,
    usecols: Sequence[str] | None = None,
    sep: str | None = ",",
    na_values: Sequence[str] | str | None = None,
    header: int | None = 0,
    storage_options: dict[str, Any] | None = None,
    union_by_name: bool = False,
    **kwargs: Any,
) -> DataFrame:
    """CSV files (a path, a glob such as ``'data_part_*.csv'``, or a URL) as a lazy frame,
    one partition per ``blocksize`` bytes of each file (Dask's default: 64 MB), or per file
    with ``blocksize=None``. ``sep=None`` sniffs the delimiter (``,`` ``;`` tab ``|``) and the
    quote from the first file, as pandas' does; ``union_by_name=True`` reads files whose
    columns differ as one frame of all their columns, NULL where a file lacks one."""
    if kwargs:
        raise TypeError(f"read_csv: unsupported arguments: {', '.join(sorted(kwargs))}")
    from .core import _bytes

    options: dict[str, Any] = {
        "sep": sep,
        "union_by_name": union_by_name,
        "header": header is not None,
        "blocksize": None if blocksize is None else _bytes(blocksize),
    }
    if dtype:
        options["dtype"] = _dtype_pairs(dtype)
    if parse_dates:
        options["parse_dates"] = list(parse_dates)
    if na_values is not None:
        options["na_values"] = [na_values] if isinstance(na_values, str) else [str(v) for v in na_values]
    if storage_options:
        options["storage_options"] = _storage(storage_options)
    frame = _read_each(urlpath, "csv", options)
    return frame[list(usecols)] if usecols is not None else frame


def read_parquet(
    path: str | Sequence[str],
    columns: Sequence[str] | str | None = None,
    filters: Sequence[Any] | None = None,
    storage_options: dict[str, Any] | None = None,
    **kwargs: Any,
) -> DataFrame:
    """Parquet files or folders (hive-style ``key=value`` folders become columns) as a lazy
    frame, a partition per file. ``filters`` take pyarrow's form: ``[('x', '>', 0), ...]``
    (AND), or a list of such lists (OR of ANDs); they reach the scan, which skips row groups
    they rule out."""
    if kwargs:
        raise TypeError(f"read_parquet: unsupported arguments: {', '.join(sorted(kwargs))}")
    frame = _read_each(path, "parquet", _whole_files(storage_options))
    if filters:
        frame = frame[_filter_series(frame, filters)]
    if columns is not None:
        if isinstance(columns, str):
            return frame[columns]
        frame = frame[list(columns)]
    return frame


def _filter_series(frame: DataFrame, filters: Sequence[Any]) -> Series:
    ops = {
        "=": lambda s, v: s == v,
        "==": lambda s, v: s == v,
        "!=": lambda s, v: s != v,
        "<": lambda s, v: s < v,
        "<=": lambda s, v: s <= v,
        ">": lambda s, v: s > v,
        ">=": lambda s, v: s >= v,
        "in": lambda s, v: s.isin(v),
        "not in": lambda s, v: ~s.isin(v),
    }

    def conjunction(terms: Sequence[Any]) -> Series:
        result = None
        for column, op, value in terms:
            if op not in ops:
                raise ValueError(f"read_parquet: unsupported filter operator '{op}'")
            term = ops[op](frame[column], value)
            result = term if result is None else result & term
        return result

    if filters and isinstance(filters[0], list):
        result = None
        for terms in filters:
            term = conjunction(terms)
            result = term if result is None else result | term
        return result
    return conjunction(filters)


def read_json(
    url_path: str | Sequence[str],
    lines: bool = True,
    orient: str = "records",
    storage_options: dict[str, Any] | None = None,
    **kwargs: Any,
) -> DataFrame:
    """Newline-delimited JSON files (one object per line) as a lazy frame, a partition per
    file."""
    if not lines or orient != "records":
        raise NotImplementedError("read_json: only lines=True, orient='records' (NDJSON) is supported")
    if kwargs:
        raise TypeError(f"read_json: unsupported arguments: {', '.join(sorted(kwargs))}")
    return _read_each(url_path, "json", _whole_files(storage_options))


def _whole_files(storage_options: dict[str, Any] | None) -> dict[str, Any]:
    """Read options for a partition per file, as Dask reads Parquet and JSON."""
    options: dict[str, Any] = {"blocksize": None}
    if storage_options:
        options["storage_options"] = _storage(storage_options)
    return options


def _read_each(paths: str | Sequence[str], format: str, options: dict[str, Any]) -> DataFrame:
    if isinstance(paths, (list, tuple)):
        frames = [read_files(str(p), format, **options) for p in paths]
        return concat(frames) if len(frames) > 1 else frames[0]
    return read_files(str(paths), format, **options)


def from_pandas(data: pd.DataFrame | pd.Series, npartitions: int | None = None, chunksize: int | None = None, sort: bool = True) -> Any:
    """A pandas DataFrame (or Series) as a lazy frame of ``npartitions`` partitions; a named
    index is kept as the frame's index."""
    if isinstance(data, pd.Series):
        name = data.name if data.name is not None else "__rask_value__"
        return from_pandas(data.to_frame(name), npartitions, chunksize)[name].rename(data.name)
    if npartitions is None:
        npartitions = max(1, -(-len(data) // chunksize)) if chunksize else 1
    index = [data.index.name] if data.index.name is not None else []
    table = pa.Table.from_pandas(data.reset_index() if index else data, preserve_index=False)
    frame = DataFrame(_session.current().frame_from_arrow(table, npartitions), index)
    return frame


def from_dict(data: dict[str, Any], npartitions: int = 1, orient: str = "columns") -> DataFrame:
    """A dict of columns as a lazy frame, as ``from_pandas(pd.DataFrame(data))``."""
    return from_pandas(pd.DataFrame.from_dict(data, orient=orient), npartitions=npartitions)


__all__ = [
    "DataFrame",
    "Series",
    "Scalar",
    "DataFrameGroupBy",
    "SeriesGroupBy",
    "read_csv",
    "read_parquet",
    "read_json",
    "from_pandas",
    "from_dict",
    "concat",
    "merge",
]
