"""Lazy DataFrame, Series and scalar results with Dask's names, over the engine's frames.

A :class:`DataFrame` wraps one engine frame (an immutable logical plan). A :class:`Series` is
a SQL expression over the columns of the DataFrame it came from, so ``ddf[ddf.x > 0]`` and
``ddf['y'] = ddf.x * 2`` stay one plan; reductions are :class:`Scalar` results. Nothing runs
until ``compute()`` (or ``head``, ``len``, ``persist``, a write).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import _rask, _session
from . import _sql
from ._sql import literal, quote

#: The name a Series' values take while they travel as a column of their own.
_VALUE = "__rask_value__"
#: The column a partition function's Series result keeps its index in.
_INDEX = "__rask_index__"


def _to_pandas(data: Any) -> pd.DataFrame:
    return pa.table(data).to_pandas()


def _storage(storage_options: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Dask's ``storage_options`` as name/value pairs; s3fs's ``client_kwargs``
    (``endpoint_url``, ``region_name``) are taken as options of their own."""
    pairs: list[tuple[str, str]] = []
    for key, value in (storage_options or {}).items():
        if key == "client_kwargs" and isinstance(value, dict):
            pairs.extend(_storage(value))
        else:
            pairs.append((str(key), str(value).lower() if isinstance(value, bool) else str(value)))
    return pairs


def _use_storage(frame: _rask.Frame, path: Any, storage_options: dict[str, Any] | None) -> None:
    if storage_options:
        frame.use_storage(str(path), _storage(storage_options))


def _names(columns: Any) -> list[str]:
    if columns is None:
        return []
    if isinstance(columns, (str, int)):
        return [columns]
    return list(columns)


class DataFrame:
    """A lazy, partitioned table, as ``dask.dataframe.DataFrame``."""

    def __init__(
        self,
        frame: _rask.Frame,
        index: Sequence[str] | None = None,
        labels: pd.Index | None = None,
    ) -> None:
        self._frame = frame
        #: Columns shown as the pandas index (set_index, group keys).
        self._index: list[str] = list(index or [])
        #: Labels of the data columns when they are not plain names (MultiIndex).
        self._labels = labels

    # -- structure -------------------------------------------------------------------------

    def _data_columns(self) -> list[str]:
        return [c for c in self._frame.columns() if c not in self._index]

    @property
    def columns(self) -> pd.Index:
        """Column labels, the index's excluded."""
        if self._labels is not None:
            return self._labels
        return pd.Index(self._data_columns())

    @property
    def _meta(self) -> pd.DataFrame:
        """An empty pandas frame with the result's columns, dtypes and index."""
        empty = pa.schema(self._frame.schema()).empty_table().to_pandas()
        return self._finish(empty)

    @property
    def dtypes(self) -> pd.Series:
        """The pandas dtype of each column."""
        return self._meta.dtypes

    @property
    def npartitions(self) -> int:
        """How many partitions the frame is computed in."""
        return self._frame.npartitions()

    @property
    def divisions(self) -> tuple[Any, ...]:
        """Index values bounding the partitions, or ``None``s when they are not known."""
        divisions = self._frame.divisions()
        if divisions is None:
            return (None,) * (self.npartitions + 1)
        return tuple(pa.table(divisions).column(0).to_pylist())

    @property
    def known_divisions(self) -> bool:
        """Whether the partitions' index bounds are known (after ``set_index``)."""
        return self._frame.known_divisions()

    @property
    def index(self) -> Series:
        """The index as a Series."""
        if len(self._index) != 1:
            raise NotImplementedError("index: the frame has no single-column index")
        return Series(self, quote(self._index[0]), self._index[0])

    def __len__(self) -> int:
        return self._frame.len()

    @property
    def shape(self) -> tuple[Scalar, int]:
        """``(rows, columns)``, the row count lazy as Dask's is."""
        counted = (self._data_columns() or self._index)[0]
        return Scalar(self._frame.agg([(counted, ["size"])]), "size"), len(self.columns)

    def __repr__(self) -> str:
        meta = self._meta
        header = pd.DataFrame(
            [[str(t) for t in meta.dtypes], ["..."] * len(meta.columns)],
            columns=meta.columns,
            index=[f"npartitions={self.npartitions}", ""],
        )
        return f"Rask DataFrame Structure:\n{header.to_string()}"

    def __dir__(self) -> Iterable[str]:
        return list(super().__dir__()) + [c for c in self._data_columns() if c.isidentifier()]

    # -- results ---------------------------------------------------------------------------

    def _finish(self, pdf: pd.DataFrame) -> pd.DataFrame:
        """A computed table as pandas shows this frame: index set, labels applied."""
        if self._index:
            pdf = pdf.set_index(self._index)
        if self._labels is not None:
            pdf.columns = self._labels
        return pdf

    def _lazy(self) -> tuple[_rask.Frame, Callable[[Any], Any]]:
        return self._frame, lambda data: self._finish(_to_pandas(data))

    def compute(self) -> pd.DataFrame:
        """The rows as a pandas DataFrame."""
        return self._finish(_to_pandas(self._frame.compute()))

    def head(self, n: int = 5, npartitions: int = 1, compute: bool = True) -> pd.DataFrame:
        """The first ``n`` rows, reading only as much input as they need."""
        return self._finish(_to_pandas(self._frame.head(n)))

    def tail(self, n: int = 5, compute: bool = True) -> pd.DataFrame:
        """The last ``n`` rows."""
        return self.compute().tail(n)

    def persist(self) -> DataFrame:
        """The frame computed into memory; later operations start from there."""
        return self._derive(self._frame.persist())

    def _derive(self, frame: _rask.Frame, labels: pd.Index | None = None) -> DataFrame:
        return DataFrame(frame, [i for i in self._index if i in frame.columns()], labels)

    def _plain_frame(self) -> _rask.Frame:
        """The engine frame with the index as ordinary columns, for SQL."""
        return self._frame

    # -- columns ---------------------------------------------------------------------------

    def __getattr__(self, name: str) -> Series:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._frame.columns():
            return self[name]
        raise AttributeError(f"'DataFrame' object has no attribute '{name}'")

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, Series):
            return self._derive(self._frame.filter(key._over(self)))
        if isinstance(key, list):
            return self._derive(self._frame.select(self._index + list(key)))
        if isinstance(key, str):
            if key not in self._frame.columns():
                from ..errors import ColumnNotFoundError

                raise ColumnNotFoundError(
                    f"no column named '{key}'; the columns are: {', '.join(self._data_columns())}"
                )
            return Series(self, quote(key), key)
        raise TypeError(f"cannot index a DataFrame with a {type(key).__name__}")

    def __setitem__(self, key: str, value: Any) -> None:
        self._frame = self.assign(**{key: value})._frame

    def __delitem__(self, key: str) -> None:
        self._frame = self._frame.drop([key])

    def assign(self, **columns: Any) -> DataFrame:
        """Adds or replaces columns: Series of this frame, scalars, or callables of the frame."""
        frame = self
        for name, value in columns.items():
            if callable(value) and not isinstance(value, Series):
                value = value(frame)
            if isinstance(value, _PartitionSeries):
                frame = value._assigned_to(frame, name)
                continue
            expr = value._over(frame) if isinstance(value, Series) else literal(value)
            frame = frame._derive(frame._frame.assign([(name, expr)]))
        return frame

    def drop(self, labels: Any = None, axis: int = 0, columns: Any = None, errors: str = "raise") -> DataFrame:
        """Removes columns (``columns=`` or ``labels`` with ``axis=1``)."""
        names = _names(columns if columns is not None else labels)
        if errors == "ignore":
            names = [n for n in names if n in self._frame.columns()]
        return self._derive(self._frame.drop(names))

    def rename(self, columns: dict[str, str] | Callable[[str], str] | None = None) -> DataFrame:
        """Renames columns by a mapping or a function."""
        if callable(columns):
            mapping = [(c, columns(c)) for c in self._data_columns()]
        else:
            mapping = [(old, new) for old, new in (columns or {}).items() if old in self._frame.columns()]
        index = [dict(mapping).get(i, i) for i in self._index]
        return DataFrame(self._frame.rename(mapping), index)

    def astype(self, dtype: Any) -> DataFrame:
        """Casts columns: one dtype for all, or ``{column: dtype}``."""
        mapping = dtype if isinstance(dtype, dict) else {c: dtype for c in self._data_columns()}
        return self.assign(**{c: self[c].astype(t) for c, t in mapping.items()})

    def fillna(self, value: Any) -> DataFrame:
        """NULLs replaced: by ``value`` in every column it fits, or per column from a dict."""
        if isinstance(value, dict):
            return self.assign(**{c: self[c].fillna(v) for c, v in value.items()})
        return self._derive(self._frame.fillna(value, []))

    def dropna(self, how: str = "any", subset: Any = None) -> DataFrame:
        """Rows with NULLs removed."""
        return self._derive(self._frame.dropna(how, _names(subset)))

    def isna(self) -> DataFrame:
        """True where a value is missing, per column."""
        return self._derive(self._frame.assign([(c, self[c].isna()._over(self)) for c in self._data_columns()]))

    def isnull(self) -> DataFrame:
        """Alias of :meth:`isna`."""
        return self.isna()

    def where(self, cond: Series, other: Any = None) -> DataFrame:
        """Values where ``cond`` holds, ``other`` (NULL by default) elsewhere."""
        return self.assign(**{c: self[c].where(cond, other) for c in self._data_columns()})

    def clip(self, lower: Any = None, upper: Any = None) -> DataFrame:
        """Values limited to ``[lower, upper]``."""
        return self.assign(**{c: self[c].clip(lower, upper) for c in self._data_columns()})

    def drop_duplicates(self, subset: Any = None, keep: str = "first") -> DataFrame:
        """One row per distinct value of ``subset`` (all columns by default)."""
        if keep != "first":
            raise NotImplementedError("drop_duplicates: only keep='first' is supported")
        return self._derive(self._frame.drop_duplicates(_names(subset)))

    def nunique(self) -> Series:
        """Distinct non-null values per column."""
        return self._reduce("nunique")

    def nlargest(self, n: int = 5, columns: Any = None) -> DataFrame:
        """The ``n`` rows with the largest ``columns`` values."""
        return self._derive(self._frame.nlargest(n, _names(columns)[0]))

    def nsmallest(self, n: int = 5, columns: Any = None) -> DataFrame:
        """The ``n`` rows with the smallest ``columns`` values."""
        return self._derive(self._frame.nsmallest(n, _names(columns)[0]))

    def sort_values(self, by: Any, ascending: bool = True) -> DataFrame:
        """Rows sorted by ``by`` (NULLs last)."""
        return self._derive(self._frame.sort_values(_names(by), ascending))

    def describe(self) -> DataFrame:
        """count, mean, std, min, quartiles and max of the numeric columns."""
        described = self._frame.describe()
        index = [c for c in described.columns() if c not in self._data_columns()]
        return DataFrame(described, index[:1])

    def sample(self, frac: float, replace: bool = False, random_state: int | None = None) -> DataFrame:
        """About ``frac`` of the rows, the same ones for the same ``random_state``."""
        if replace:
            raise NotImplementedError("sample: replace=True is not supported")
        return self._derive(self._frame.sample(frac, random_state or 0))

    # -- reductions ------------------------------------------------------------------------

    def _reduce(self, func: str, columns: list[str] | None = None, **kwargs: Any) -> Series:
        columns = columns if columns is not None else self._data_columns()
        return _ReducedSeries(self._frame.agg([(c, [func]) for c in columns]), columns, func)

    def _numeric(self) -> list[str]:
        meta = self._meta
        return [c for c in meta.columns if pd.api.types.is_numeric_dtype(meta[c]) and not pd.api.types.is_bool_dtype(meta[c])]

    def sum(self, numeric_only: bool = False) -> Series:
        """Sum of the non-missing values."""
        return self._reduce("sum", self._numeric() if numeric_only else None)

    def mean(self, numeric_only: bool = False) -> Series:
        """Mean of the non-missing values."""
        return self._reduce("mean", self._numeric() if numeric_only else None)

    def std(self, ddof: int = 1, numeric_only: bool = False) -> Series:
        """Standard deviation of the non-missing values (``ddof=1`` by default, as pandas)."""
        return self._reduce("std" if ddof == 1 else "std_pop", self._numeric() if numeric_only else None)

    def var(self, ddof: int = 1, numeric_only: bool = False) -> Series:
        """Variance of the non-missing values (``ddof=1`` by default, as pandas)."""
        return self._reduce("var" if ddof == 1 else "var_pop", self._numeric() if numeric_only else None)

    def min(self, numeric_only: bool = False) -> Series:
        """Smallest value."""
        return self._reduce("min", self._numeric() if numeric_only else None)

    def max(self, numeric_only: bool = False) -> Series:
        """Largest value."""
        return self._reduce("max", self._numeric() if numeric_only else None)

    def count(self) -> Series:
        """Number of non-missing values."""
        return self._reduce("count")

    # -- grouping, joining -----------------------------------------------------------------

    def groupby(self, by: Any, dropna: bool = True, sort: bool = True) -> Any:
        """Rows grouped by the key column(s); results are sorted by key, NULL keys dropped
        unless ``dropna=False``."""
        from .groupby import DataFrameGroupBy

        return DataFrameGroupBy(self, _names(by), dropna)

    def merge(
        self,
        right: DataFrame,
        how: str = "inner",
        on: Any = None,
        left_on: Any = None,
        right_on: Any = None,
        left_index: bool = False,
        right_index: bool = False,
        suffixes: tuple[str, str] = ("_x", "_y"),
    ) -> DataFrame:
        """A join on equal keys, as ``pandas.merge``."""
        return merge(self, right, how, on, left_on, right_on, left_index, right_index, suffixes)

    def join(self, other: DataFrame, how: str = "left", lsuffix: str = "", rsuffix: str = "") -> DataFrame:
        """A join on the indexes."""
        return merge(self, other, how, left_index=True, right_index=True, suffixes=(lsuffix, rsuffix))

    # -- partitions ------------------------------------------------------------------------

    def set_index(self, other: str, sorted: bool = False, drop: bool = True) -> DataFrame:
        """The column as the index, the rows range-partitioned by it (known divisions)."""
        return DataFrame(self._frame.set_index(other, sorted), [other])

    def reset_index(self, drop: bool = False) -> DataFrame:
        """The index back as ordinary columns (dropped with ``drop=True``)."""
        frame = self._frame.drop(self._index) if drop and self._index else self._frame
        return DataFrame(frame)

    @property
    def loc(self) -> _Loc:
        """Rows by index range: ``loc[start:end]``, both ends included."""
        return _Loc(self)

    def resample(self, rule: str) -> Any:
        """Fixed-frequency bins of a timestamp index."""
        from .groupby import Resampler

        return Resampler(self, rule)

    def rolling(self, window: int | str) -> Any:
        """A window over the sorted index: a row count or a duration such as ``'1h'``."""
        from .groupby import Rolling

        return Rolling(self, window)

    def repartition(self, npartitions: int | None = None, partition_size: int | str | None = None) -> DataFrame:
        """The same rows in ``npartitions`` partitions, or in partitions of about
        ``partition_size`` bytes (``'100MB'``)."""
        if partition_size is not None:
            return self._derive(self._frame.repartition_by_size(_bytes(partition_size)))
        if npartitions is None:
            raise ValueError("repartition: give npartitions or partition_size")
        return self._derive(self._frame.repartition(npartitions))

    def map_partitions(self, func: Callable[..., Any], *args: Any, meta: Any = None, **kwargs: Any) -> Any:
        """``func`` over each partition as a pandas DataFrame; its results (frames, series or
        scalars) make the new collection. ``meta`` describes them as Dask's does; without it
        ``func`` is tried on a few made-up rows."""
        from .partitions import map_partitions

        return map_partitions(self, func, args, kwargs, meta)

    def apply(self, func: Callable[..., Any], axis: int = 1, args: tuple = (), meta: Any = None, **kwargs: Any) -> Series:
        """``func`` over each row (``axis=1``), as pandas' ``apply``."""
        from .partitions import apply_rows

        if axis not in (1, "columns"):
            raise NotImplementedError("apply: only axis=1 (one call per row) is supported")
        return apply_rows(self, func, args, kwargs, meta)

    # -- output ----------------------------------------------------------------------------

    def to_parquet(
        self,
        path: str,
        partition_on: Any = None,
        compression: str = "snappy",
        write_index: bool | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        """Writes a folder of Parquet files (hive-style folders per ``partition_on`` value)."""
        frame = self._frame if write_index is not False else self._frame.drop(self._index)
        _use_storage(frame, path, storage_options)
        frame.to_parquet(str(path), _names(partition_on), compression or "uncompressed")

    def to_csv(self, filename: str, index: bool = False, storage_options: dict[str, Any] | None = None) -> list[str]:
        """Writes CSV: one file, or one per partition when ``filename`` has a ``*``."""
        frame = self._frame if index else self._frame.drop(self._index) if self._index else self._frame
        _use_storage(frame, filename, storage_options)
        frame.to_csv(str(filename))
        return [str(filename)]

    def to_json(self, filename: str, storage_options: dict[str, Any] | None = None) -> list[str]:
        """Writes newline-delimited JSON, files named as :meth:`to_csv` names them."""
        _use_storage(self._frame, filename, storage_options)
        self._frame.to_json(str(filename))
        return [str(filename)]

    def visualize(self, filename: str = "mydask.png") -> str:
        """Draws the task graph into ``filename`` (.svg, .png, .dot or .html)."""
        return self._frame.visualize(str(filename))

    def explain(self, analyze: bool = False) -> str:
        """The logical and physical plans (with ``analyze``, run and annotated)."""
        text = self._frame.explain(analyze)
        print(text)
        return text


class _Loc:
    def __init__(self, frame: DataFrame) -> None:
        self._frame = frame

    def __getitem__(self, key: Any) -> DataFrame:
        if not isinstance(key, slice) or key.step is not None:
            raise NotImplementedError("loc: only index ranges (loc[start:end]) are supported")
        start, end = _bound(key.start, False), _bound(key.stop, True)
        return self._frame._derive(self._frame._frame.loc(start, end))


def _bound(value: Any, is_end: bool) -> Any:
    """A loc bound as the engine takes it; a date string as an end covers its whole day (as
    pandas' partial string indexing does)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str) and is_end and len(value) == 10 and value[4] == "-":
        value = pd.Timestamp(value) + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
    if isinstance(value, (pd.Timestamp, np.datetime64)) or hasattr(value, "isoformat"):
        return pd.Timestamp(value).isoformat()
    return str(value)


def _bytes(size: int | str) -> int:
    if isinstance(size, int):
        return size
    text = size.strip().upper().replace("IB", "B")
    for unit, factor in (("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10), ("B", 1)):
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


def _operator(op: str, reverse: bool = False) -> Callable[[Series, Any], Series]:
    """A binary operator of Series: ``op`` between the Series and the other operand."""

    def apply(self: Series, other: Any) -> Series:
        return self._binary(op, other, reverse)

    return apply


def _comparison(op: str) -> Callable[[Series, Any], Series]:
    """A comparison of Series, missing values compared as pandas compares them."""

    def apply(self: Series, other: Any) -> Series:
        return self._compare(op, other)

    return apply


class Series:
    """One lazy column: a SQL expression over the columns of the frame it came from."""

    def __init__(self, frame: DataFrame, expr: str, name: Any) -> None:
        self._base = frame
        self._expr = expr
        self.name = name

    def _over(self, frame: DataFrame) -> str:
        """The expression, checked to belong to ``frame``: Series of different frames do not
        align row by row."""
        if frame._frame is not self._base._frame:
            raise ValueError(
                "the Series comes from a different DataFrame; combine Series of one DataFrame "
                "(Rask does not align partitions of different frames)"
            )
        return self._expr

    def _frame_of(self) -> DataFrame:
        """The values as a frame: the index columns and one column named ``_VALUE``."""
        frame = self._base._frame.assign([(_VALUE, self._expr)])
        return DataFrame(frame.select(self._base._index + [_VALUE]), self._base._index)

    def _finish(self, pdf: pd.DataFrame) -> pd.Series:
        if self._base._index:
            pdf = pdf.set_index(self._base._index)
        series = pdf[_VALUE]
        series.name = self.name
        if series.index.name == _INDEX:
            series.index.name = None
        return series

    def _lazy(self) -> tuple[_rask.Frame, Callable[[Any], Any]]:
        return self._frame_of()._frame, lambda data: self._finish(_to_pandas(data))

    def compute(self) -> pd.Series:
        """The values as a pandas Series."""
        return self._finish(_to_pandas(self._frame_of()._frame.compute()))

    def head(self, n: int = 5, compute: bool = True) -> pd.Series:
        """The first ``n`` values, reading only as much input as they need."""
        return self._finish(_to_pandas(self._frame_of()._frame.head(n)))

    def tail(self, n: int = 5) -> pd.Series:
        """The last ``n`` values (computes the whole column)."""
        return self.compute().tail(n)

    def __len__(self) -> int:
        return len(self._base)

    @property
    def dtype(self) -> Any:
        """The pandas dtype of the values."""
        schema = pa.schema(self._frame_of()._frame.schema())
        return schema.empty_table().to_pandas()[_VALUE].dtype

    @property
    def npartitions(self) -> int:
        """How many partitions the values are computed in."""
        return self._base.npartitions

    def __repr__(self) -> str:
        return f"Rask Series Structure:\nname: {self.name}, dtype: {self.dtype}, npartitions={self.npartitions}"

    def _with(self, expr: str, name: Any = None) -> Series:
        return Series(self._base, expr, self.name if name is None else name)

    def rename(self, name: Any) -> Series:
        """The same values under another name."""
        return self._with(self._expr, name)

    def __getitem__(self, key: Any) -> Series:
        if not isinstance(key, Series):
            raise NotImplementedError("a lazy Series is indexed by a boolean Series of its frame")
        return Series(self._base._derive(self._base._frame.filter(key._over(self._base))), self._expr, self.name)

    def apply(self, func: Callable[..., Any], args: tuple = (), meta: Any = None, **kwargs: Any) -> Series:
        """``func`` over each value, run per partition as pandas' ``Series.apply``."""
        if self._expr != quote(self.name):
            raise NotImplementedError("apply: call it on a column of a DataFrame (df['x'].apply(f))")
        column = self.name

        def per_value(part: pd.DataFrame) -> pd.Series:
            return part[column].apply(func, args=args, **kwargs)

        if meta is None:
            from .partitions import _nonempty

            dtype = per_value(_nonempty(self._base._meta)).dtype
        else:
            dtype = meta[1] if isinstance(meta, tuple) else meta
        return _PartitionSeries(self._base, per_value, column, dtype)

    def to_frame(self, name: Any = None) -> DataFrame:
        """The values as a one-column lazy DataFrame."""
        name = self.name if name is None else name
        frame = self._base._frame.assign([(str(name), self._expr)])
        return DataFrame(frame.select(self._base._index + [str(name)]), self._base._index)

    # -- operators -------------------------------------------------------------------------

    def _operand(self, other: Any) -> str:
        return other._over(self._base) if isinstance(other, Series) else literal(other)

    def _binary(self, op: str, other: Any, reverse: bool = False) -> Series:
        left, right = self._expr, self._operand(other)
        if reverse:
            left, right = right, left
        name = self.name if not isinstance(other, Series) or other.name == self.name else None
        return Series(self._base, f"({left} {op} {right})", name)

    def _compare(self, op: str, other: Any) -> Series:
        """A comparison as pandas answers it: a missing value compares False (and unequal)."""
        missing = "TRUE" if op == "<>" else "FALSE"
        compared = self._binary(op, other)
        return compared._with(f"coalesce({compared._expr}, {missing})")

    def _is_integer(self) -> bool:
        return pd.api.types.is_integer_dtype(self.dtype)

    __add__, __radd__ = _operator("+"), _operator("+", reverse=True)
    __sub__, __rsub__ = _operator("-"), _operator("-", reverse=True)
    __mul__, __rmul__ = _operator("*"), _operator("*", reverse=True)

    def __truediv__(self, other: Any) -> Series:
        # pandas divides as floats, whatever the operands
        return Series(self._base, f"(CAST({self._expr} AS DOUBLE) / {self._operand(other)})", self.name)

    def __rtruediv__(self, other: Any) -> Series:
        return Series(self._base, f"(CAST({self._operand(other)} AS DOUBLE) / {self._expr})", self.name)

    def __floordiv__(self, other: Any) -> Series:
        quotient = f"floor(CAST({self._expr} AS DOUBLE) / {self._operand(other)})"
        both_integers = self._is_integer() and (isinstance(other, (int, np.integer)) or (isinstance(other, Series) and other._is_integer()))
        return Series(self._base, f"CAST({quotient} AS BIGINT)" if both_integers else quotient, self.name)

    def __mod__(self, other: Any) -> Series:
        # pandas' remainder takes the divisor's sign
        divisor = self._operand(other)
        return Series(self._base, f"((({self._expr} % {divisor}) + {divisor}) % {divisor})", self.name)

    def __pow__(self, other: Any) -> Series:
        return Series(self._base, f"power(CAST({self._expr} AS DOUBLE), {self._operand(other)})", self.name)

    def __rpow__(self, other: Any) -> Series:
        return Series(self._base, f"power(CAST({self._operand(other)} AS DOUBLE), {self._expr})", self.name)

    def __neg__(self) -> Series:
        return self._with(f"(- {self._expr})")

    def __abs__(self) -> Series:
        return self.abs()

    __eq__ = _comparison("=")  # type: ignore[assignment]
    __ne__ = _comparison("<>")  # type: ignore[assignment]
    __lt__, __le__ = _comparison("<"), _comparison("<=")
    __gt__, __ge__ = _comparison(">"), _comparison(">=")
    __and__, __rand__ = _operator("AND"), _operator("AND", reverse=True)
    __or__, __ror__ = _operator("OR"), _operator("OR", reverse=True)

    def __invert__(self) -> Series:
        return self._with(f"(NOT {self._expr})")

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        raise ValueError("the truth value of a lazy Series is ambiguous; use & | ~ and compute()")

    # -- element-wise ----------------------------------------------------------------------

    def isna(self) -> Series:
        """True where a value is missing (NULL or NaN)."""
        if pd.api.types.is_float_dtype(self.dtype):
            return self._with(f"({self._expr} IS NULL OR isnan({self._expr}))")
        return self._with(f"({self._expr} IS NULL)")

    isnull = isna

    def notna(self) -> Series:
        """True where a value is present."""
        return self._with(f"(NOT {self.isna()._expr})")

    notnull = notna

    def fillna(self, value: Any) -> Series:
        """Missing values replaced by ``value``."""
        if pd.api.types.is_float_dtype(self.dtype):
            return self._with(f"CASE WHEN {self.isna()._expr} THEN {literal(value)} ELSE {self._expr} END")
        return self._with(f"coalesce({self._expr}, {literal(value)})")

    def astype(self, dtype: Any) -> Series:
        """The values cast to ``dtype`` (a pandas or NumPy dtype)."""
        return self._with(f"CAST({self._expr} AS {_sql.sql_type(dtype)})")

    def where(self, cond: Series, other: Any = None) -> Series:
        """The value where ``cond`` holds, ``other`` (missing by default) elsewhere."""
        return self._with(f"CASE WHEN {self._operand(cond)} THEN {self._expr} ELSE {self._operand(other)} END")

    def mask(self, cond: Series, other: Any = None) -> Series:
        """``other`` where ``cond`` holds, the value elsewhere."""
        return self._with(f"CASE WHEN {self._operand(cond)} THEN {self._operand(other)} ELSE {self._expr} END")

    def clip(self, lower: Any = None, upper: Any = None) -> Series:
        """Values limited to ``[lower, upper]``; missing values stay missing."""
        expr = self._expr
        if lower is not None:
            expr = f"CASE WHEN {expr} < {literal(lower)} THEN {literal(lower)} ELSE {expr} END"
        if upper is not None:
            expr = f"CASE WHEN {expr} > {literal(upper)} THEN {literal(upper)} ELSE {expr} END"
        return self._with(expr)

    def abs(self) -> Series:
        """Absolute values."""
        return self._with(f"abs({self._expr})")

    def round(self, decimals: int = 0) -> Series:
        """Values rounded to ``decimals`` places."""
        return self._with(f"round({self._expr}, {int(decimals)})")

    def between(self, left: Any, right: Any, inclusive: str = "both") -> Series:
        """True where the value lies between ``left`` and ``right``."""
        low = ">=" if inclusive in ("both", "left") else ">"
        high = "<=" if inclusive in ("both", "right") else "<"
        return self._with(f"({self._expr} {low} {literal(left)} AND {self._expr} {high} {literal(right)})")

    def isin(self, values: Iterable[Any]) -> Series:
        """True where the value is one of ``values`` (False for a missing value, as pandas)."""
        values = list(values)
        if not values:
            return self._with("FALSE")
        return self._with(f"coalesce({self._expr} IN ({', '.join(literal(v) for v in values)}), FALSE)")

    def map_partitions(self, func: Callable[..., Any], *args: Any, meta: Any = None, **kwargs: Any) -> Any:
        """``func`` over each partition of the values, as a pandas Series."""
        return self.to_frame(_VALUE if self.name is None else self.name).map_partitions(
            lambda part, *a, **k: func(part.iloc[:, 0], *a, **k), *args, meta=meta, **kwargs
        )

    @property
    def dt(self) -> _DatetimeAccessor:
        """Parts of timestamps: ``.dt.year``, ``.dt.hour``, ``.dt.dayofweek`` …"""
        return _DatetimeAccessor(self)

    @property
    def str(self) -> _StringAccessor:
        """String methods: ``.str.lower()``, ``.str.contains(pat)`` …"""
        return _StringAccessor(self)

    # -- whole-column results --------------------------------------------------------------

    def _column_frame(self) -> tuple[DataFrame, str]:
        """A frame with the values as a column, and the column's name."""
        column = self.name if isinstance(self.name, str) and self._expr == quote(self.name) else _VALUE
        if column == _VALUE:
            return DataFrame(self._base._frame.assign([(_VALUE, self._expr)])), _VALUE
        return self._base, column

    def _reduce(self, func: str) -> Scalar:
        frame, column = self._column_frame()
        return Scalar(frame._frame.agg([(column, [func])]), func)

    def sum(self) -> Scalar:
        """Sum of the non-missing values."""
        return self._reduce("sum")

    def mean(self) -> Scalar:
        """Mean of the non-missing values."""
        return self._reduce("mean")

    def std(self, ddof: int = 1) -> Scalar:
        """Standard deviation of the non-missing values (``ddof=1`` by default, as pandas)."""
        return self._reduce("std" if ddof == 1 else "std_pop")

    def var(self, ddof: int = 1) -> Scalar:
        """Variance of the non-missing values (``ddof=1`` by default, as pandas)."""
        return self._reduce("var" if ddof == 1 else "var_pop")

    def min(self) -> Scalar:
        """Smallest value."""
        return self._reduce("min")

    def max(self) -> Scalar:
        """Largest value."""
        return self._reduce("max")

    def count(self) -> Scalar:
        """Number of non-missing values."""
        return self._reduce("count")

    def nunique(self) -> Scalar:
        """Number of distinct non-missing values."""
        return self._reduce("nunique")

    def quantile(self, q: float = 0.5) -> Scalar:
        """The ``q`` quantile (approximate, as Dask's)."""
        frame, column = self._column_frame()
        return Scalar(frame._frame.quantile([column], q), "quantile")

    def value_counts(self, sort: bool = True, ascending: bool = False, dropna: bool = True) -> Series:
        """Rows per distinct value, most frequent first, indexed by the value."""
        frame, column = self._column_frame()
        counted = frame._frame.value_counts(column)
        name = self.name if self.name is not None else _VALUE
        if column != name:
            counted = counted.rename([(column, name)])
        result = DataFrame(counted, [name])
        series = Series(result, quote("count"), "count")
        return series

    def unique(self) -> Series:
        """The distinct values."""
        frame, column = self._column_frame()
        return Series(DataFrame(frame._frame.select([column]).drop_duplicates([column])), quote(column), self.name)

    def drop_duplicates(self) -> Series:
        """The distinct values."""
        return self.unique()

    def nlargest(self, n: int = 5) -> Series:
        """The ``n`` largest values."""
        frame, column = self._column_frame()
        return Series(DataFrame(frame._frame.select([column]).nlargest(n, column)), quote(column), self.name)

    def nsmallest(self, n: int = 5) -> Series:
        """The ``n`` smallest values."""
        frame, column = self._column_frame()
        return Series(DataFrame(frame._frame.select([column]).nsmallest(n, column)), quote(column), self.name)

    def sort_values(self, ascending: bool = True) -> Series:
        """The values sorted (missing values last)."""
        frame, column = self._column_frame()
        sorted_frame = frame._frame.select(frame._index + [column]).sort_values([column], ascending)
        return Series(DataFrame(sorted_frame, frame._index), quote(column), self.name)

    def describe(self) -> pd.Series:
        """count, mean, std, min, quartiles and max, as a pandas Series."""
        frame, column = self._column_frame()
        return frame[[column]].describe().compute()[column].rename(self.name)

    def persist(self) -> Series:
        """The values computed into memory; later operations start from there."""
        frame = self._frame_of().persist()
        return Series(frame, quote(_VALUE), self.name)

    def to_parquet(self, path: str, **kwargs: Any) -> None:
        """Writes the values as a one-column Parquet folder."""
        self.to_frame().to_parquet(path, **kwargs)


class _ReducedSeries(Series):
    """A reduction of several columns: one value per column, indexed by column name."""

    def __init__(self, frame: _rask.Frame, columns: list[str], func: str) -> None:
        super().__init__(DataFrame(frame), "NULL", None)
        self._columns = columns
        self._func = func

    def _lazy(self) -> tuple[_rask.Frame, Callable[[Any], Any]]:
        return self._base._frame, self._finish_reduced

    def _finish_reduced(self, data: Any) -> pd.Series:
        row = pa.table(data).to_pylist()
        values = list(row[0].values()) if row else [None] * len(self._columns)
        return pd.Series(values, index=self._columns, name=None)

    def compute(self) -> pd.Series:
        return self._finish_reduced(self._base._frame.compute())


class Scalar:
    """A lazy single value (a reduction); ``compute()`` returns it."""

    def __init__(self, frame: _rask.Frame, func: str) -> None:
        self._frame = frame
        self._func = func

    def _finish(self, data: Any) -> Any:
        column = pa.table(data).column(0)
        value = column[0].as_py() if len(column) else None
        if value is None:
            return np.int64(0) if self._func in ("count", "nunique", "sum", "size") else np.float64("nan")
        if isinstance(value, bool):
            return np.bool_(value)
        if isinstance(value, int):
            return np.int64(value)
        if isinstance(value, float):
            return np.float64(value)
        if isinstance(value, pd.Timestamp) or hasattr(value, "isoformat"):
            return pd.Timestamp(value)
        return value

    def _lazy(self) -> tuple[_rask.Frame, Callable[[Any], Any]]:
        return self._frame, self._finish

    def compute(self) -> Any:
        """The value, as a NumPy scalar (or pandas Timestamp)."""
        return self._finish(self._frame.compute())

    def __repr__(self) -> str:
        return f"rask.Scalar<{self._func}>"


class _DatetimeAccessor:
    """``.dt``: parts of timestamps, numbered as pandas numbers them."""

    def __init__(self, series: Series) -> None:
        self._series = series

    def _part(self, part: str) -> Series:
        return self._series._with(f"CAST(date_part('{part}', {self._series._expr}) AS INT)")

    year = property(lambda self: self._part("year"))
    month = property(lambda self: self._part("month"))
    day = property(lambda self: self._part("day"))
    hour = property(lambda self: self._part("hour"))
    minute = property(lambda self: self._part("minute"))
    second = property(lambda self: self._part("second"))
    quarter = property(lambda self: self._part("quarter"))
    dayofyear = property(lambda self: self._part("doy"))

    @property
    def dayofweek(self) -> Series:
        # pandas counts Monday as 0, SQL's dow Sunday as 0
        return self._series._with(f"CAST((date_part('dow', {self._series._expr}) + 6) % 7 AS INT)")

    weekday = day_of_week = dayofweek

    @property
    def date(self) -> Series:
        return self._series._with(f"CAST({self._series._expr} AS DATE)")

    def floor(self, freq: str) -> Series:
        """Timestamps rounded down to a multiple of ``freq`` (``'D'``, ``'15min'``), counted
        from 1970 as pandas counts them."""
        nanos = pd.tseries.frequencies.to_offset(freq).nanos
        return self._series._with(f"date_bin(INTERVAL '{nanos} nanoseconds', {self._series._expr})")


class _StringAccessor:
    """``.str``: string methods applied to every value."""

    def __init__(self, series: Series) -> None:
        self._series = series

    def _call(self, template: str) -> Series:
        return self._series._with(template.format(x=self._series._expr))

    def lower(self) -> Series:
        return self._call("lower({x})")

    def upper(self) -> Series:
        return self._call("upper({x})")

    def len(self) -> Series:
        return self._call("CAST(character_length({x}) AS BIGINT)")

    def strip(self) -> Series:
        return self._call("btrim({x})")

    def lstrip(self) -> Series:
        return self._call("ltrim({x})")

    def rstrip(self) -> Series:
        return self._call("rtrim({x})")

    def contains(self, pat: str, case: bool = True, regex: bool = True) -> Series:
        if regex:
            flags = "" if case else ", 'i'"
            return self._call(f"regexp_like({{x}}, {literal(pat)}{flags})")
        if case:
            return self._call(f"(strpos({{x}}, {literal(pat)}) > 0)")
        return self._call(f"(strpos(lower({{x}}), {literal(pat.lower())}) > 0)")

    def startswith(self, pat: str) -> Series:
        return self._call(f"starts_with({{x}}, {literal(pat)})")

    def endswith(self, pat: str) -> Series:
        return self._call(f"ends_with({{x}}, {literal(pat)})")

    def replace(self, pat: str, repl: str, regex: bool = False) -> Series:
        if regex:
            return self._call(f"regexp_replace({{x}}, {literal(pat)}, {literal(repl)}, 'g')")
        return self._call(f"replace({{x}}, {literal(pat)}, {literal(repl)})")

    def slice(self, start: int | None = None, stop: int | None = None) -> Series:
        begin = (start or 0) + 1
        if stop is None:
            return self._call(f"substr({{x}}, {begin})")
        return self._call(f"substr({{x}}, {begin}, {max(stop - (start or 0), 0)})")


class _PartitionSeries(Series):
    """A column computed per partition by a Python function (``apply(axis=1)``)."""

    def __init__(self, frame: DataFrame, func: Callable[[pd.DataFrame], pd.Series], name: Any, dtype: Any) -> None:
        super().__init__(frame, "NULL", name)
        self._func = func
        self._dtype = dtype

    def _assigned_to(self, frame: DataFrame, name: str) -> DataFrame:
        from .partitions import map_partitions

        if frame._frame is not self._base._frame:
            raise ValueError("the applied Series comes from a different DataFrame")
        meta = frame._meta.assign(**{name: pd.Series([], dtype=self._dtype)})
        func = self._func
        return map_partitions(frame, lambda part: part.assign(**{name: func(part)}), (), {}, meta)

    def _frame_of(self) -> DataFrame:
        name = _VALUE
        assigned = self._assigned_to(self._base, name)
        return DataFrame(assigned._frame.select(self._base._index + [name]), self._base._index)

    def _over(self, frame: DataFrame) -> str:
        raise NotImplementedError("a Series made by apply can be computed or assigned as a column, not combined")

    @property
    def dtype(self) -> Any:
        return pd.Series([], dtype=self._dtype).dtype


# -- module functions --------------------------------------------------------------------


def merge(
    left: DataFrame,
    right: DataFrame,
    how: str = "inner",
    on: Any = None,
    left_on: Any = None,
    right_on: Any = None,
    left_index: bool = False,
    right_index: bool = False,
    suffixes: tuple[str, str] = ("_x", "_y"),
) -> DataFrame:
    """A join on equal keys, as ``pandas.merge``: ``how`` is inner, left, right or outer."""
    if on is not None:
        left_keys = right_keys = _names(on)
    else:
        left_keys = left._index if left_index else _names(left_on)
        right_keys = right._index if right_index else _names(right_on)
    if not left_keys and not right_keys:
        shared = [c for c in left._data_columns() if c in right._data_columns()]
        left_keys = right_keys = shared
    if not left_keys or len(left_keys) != len(right_keys):
        raise ValueError("merge: give on=, or left_on= and right_on= of the same length")
    frame = left._frame.merge(right._frame, how, left_keys, right_keys, tuple(suffixes))
    index = left._index if left_index and right_index else []
    return DataFrame(frame, [i for i in index if i in frame.columns()])


def concat(dfs: Sequence[DataFrame], axis: int = 0, join: str = "outer", interleave_partitions: bool = False) -> DataFrame:
    """The rows of each frame in turn, columns matched by name."""
    if axis not in (0, "index"):
        raise NotImplementedError("concat: only axis=0 (rows) is supported")
    frames = list(dfs)
    if not frames:
        raise ValueError("concat: no frames to concatenate")
    return frames[0]._derive(frames[0]._frame.concat([f._frame for f in frames[1:]]))


def read_files(path: str, format: str | None = None, **options: Any) -> DataFrame:
    """Any files Rask reads (CSV, Parquet, NDJSON, Arrow), by extension or ``format``."""
    return DataFrame(_session.current().read(str(path), format, options or None))


def _compute_many(collections: Iterable[Any]) -> tuple[Any, ...]:
    lazy = [(i, c._lazy()) for i, c in enumerate(collections) if hasattr(c, "_lazy")]
    results: list[Any] = list(collections)
    if lazy:
        computed = _session.current().compute([frame for _, (frame, _) in lazy])
        for (i, (_, finish)), data in zip(lazy, computed):
            results[i] = finish(data)
    return tuple(results)

