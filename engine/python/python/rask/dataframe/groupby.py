"""``groupby``, ``resample`` and ``rolling``: aggregations named as pandas names them, results
indexed by the group keys (sorted) or the bins."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ._sql import quote
from .core import DataFrame, Series, _names

#: pandas' aggregation names the engine computes.
AGGREGATIONS = ("mean", "std", "var", "count", "size", "sum", "min", "max", "first", "last", "nunique")


def _func_name(func: Any) -> str:
    name = getattr(func, "__name__", func)
    if name not in AGGREGATIONS:
        raise ValueError(f"aggregation '{name}' is not supported; use one of: {', '.join(AGGREGATIONS)}")
    return name


class DataFrameGroupBy:
    """``df.groupby(by)``: aggregate with ``agg``, ``mean``, ``size`` …"""

    def __init__(self, frame: DataFrame, by: list[str], dropna: bool = True, columns: list[str] | None = None) -> None:
        self._frame = frame
        self._by = by
        self._dropna = dropna
        self._columns = columns

    def _value_columns(self) -> list[str]:
        if self._columns is not None:
            return self._columns
        return [c for c in self._frame._data_columns() if c not in self._by]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, list):
            return DataFrameGroupBy(self._frame, self._by, self._dropna, key)
        return SeriesGroupBy(self._frame, self._by, self._dropna, key)

    def __getattr__(self, name: str) -> SeriesGroupBy:
        if not name.startswith("_") and name in self._frame._data_columns():
            return self[name]
        raise AttributeError(name)

    def _aggregate(self, spec: list[tuple[str, list[str]]], labels: pd.Index) -> DataFrame:
        frame = self._frame._frame.groupby_agg(self._by, spec, dropna=self._dropna)
        return DataFrame(frame, self._by, labels)

    def agg(self, arg: Any) -> DataFrame:
        """``agg('mean')``, ``agg(['mean', 'max'])`` (columns as a MultiIndex) or
        ``agg({'x': 'max', 'y': ['mean', 'std']})``."""
        if isinstance(arg, dict):
            spec = [(c, [_func_name(f) for f in (fs if isinstance(fs, list) else [fs])]) for c, fs in arg.items()]
            if all(not isinstance(fs, list) for fs in arg.values()):
                return self._aggregate(spec, pd.Index([c for c, _ in spec]))
            labels = pd.MultiIndex.from_tuples([(c, f) for c, fs in spec for f in fs])
            return self._aggregate(spec, labels)
        if isinstance(arg, list):
            funcs = [_func_name(f) for f in arg]
            columns = self._value_columns()
            spec = [(c, funcs) for c in columns]
            return self._aggregate(spec, pd.MultiIndex.from_tuples([(c, f) for c in columns for f in funcs]))
        return self._each(_func_name(arg))

    aggregate = agg

    def _each(self, func: str) -> DataFrame:
        columns = self._value_columns()
        return self._aggregate([(c, [func]) for c in columns], pd.Index(columns))

    def mean(self, numeric_only: bool = False) -> DataFrame:
        """Mean of the non-missing values, per group."""
        return self._each("mean")

    def sum(self, numeric_only: bool = False) -> DataFrame:
        """Sum of the non-missing values, per group."""
        return self._each("sum")

    def std(self, ddof: int = 1, numeric_only: bool = False) -> DataFrame:
        """Standard deviation of the non-missing values (``ddof=1`` by default, as pandas), per group."""
        return self._each("std" if ddof == 1 else "std_pop")

    def var(self, ddof: int = 1, numeric_only: bool = False) -> DataFrame:
        """Variance of the non-missing values (``ddof=1`` by default, as pandas), per group."""
        return self._each("var" if ddof == 1 else "var_pop")

    def min(self, numeric_only: bool = False) -> DataFrame:
        """Smallest value, per group."""
        return self._each("min")

    def max(self, numeric_only: bool = False) -> DataFrame:
        """Largest value, per group."""
        return self._each("max")

    def count(self) -> DataFrame:
        """Number of non-missing values, per group."""
        return self._each("count")

    def first(self) -> DataFrame:
        """First value in each group, in input order."""
        return self._each("first")

    def last(self) -> DataFrame:
        """Last value in each group, in input order."""
        return self._each("last")

    def nunique(self) -> DataFrame:
        """Number of distinct non-missing values, per group."""
        return self._each("nunique")

    def size(self) -> Series:
        """Rows per group (NULLs included), as an unnamed Series."""
        frame = DataFrame(self._frame._frame.groupby_size(self._by, dropna=self._dropna), self._by)
        return Series(frame, quote("size"), None)


class SeriesGroupBy:
    """``df.groupby(by)[column]``."""

    def __init__(self, frame: DataFrame, by: list[str], dropna: bool, column: str) -> None:
        self._frame = frame
        self._by = by
        self._dropna = dropna
        self._column = column

    def _one(self, func: str) -> Series:
        frame = self._frame._frame.groupby_agg(self._by, [(self._column, [func])], dropna=self._dropna)
        result = DataFrame(frame, self._by)
        value = [c for c in frame.columns() if c not in self._by][0]
        return Series(result, quote(value), self._column)

    def agg(self, arg: Any) -> Any:
        """``agg('mean')`` (a Series) or ``agg(['mean', 'std', 'count'])`` (a DataFrame with a
        column per function)."""
        if isinstance(arg, (list, tuple)):
            funcs = [_func_name(f) for f in arg]
            frame = self._frame._frame.groupby_agg(self._by, [(self._column, funcs)], by_function=True, dropna=self._dropna)
            return DataFrame(frame, self._by, pd.Index(funcs))
        return self._one(_func_name(arg))

    aggregate = agg

    def mean(self) -> Series:
        """Mean of the non-missing values, per group."""
        return self._one("mean")

    def sum(self) -> Series:
        """Sum of the non-missing values, per group."""
        return self._one("sum")

    def std(self, ddof: int = 1) -> Series:
        """Standard deviation of the non-missing values (``ddof=1`` by default, as pandas), per group."""
        return self._one("std" if ddof == 1 else "std_pop")

    def var(self, ddof: int = 1) -> Series:
        """Variance of the non-missing values (``ddof=1`` by default, as pandas), per group."""
        return self._one("var" if ddof == 1 else "var_pop")

    def min(self) -> Series:
        """Smallest value, per group."""
        return self._one("min")

    def max(self) -> Series:
        """Largest value, per group."""
        return self._one("max")

    def count(self) -> Series:
        """Number of non-missing values, per group."""
        return self._one("count")

    def first(self) -> Series:
        """First value in each group, in input order."""
        return self._one("first")

    def last(self) -> Series:
        """Last value in each group, in input order."""
        return self._one("last")

    def nunique(self) -> Series:
        """Number of distinct non-missing values, per group."""
        return self._one("nunique")

    def size(self) -> Series:
        """Rows per group, missing values included."""
        return DataFrameGroupBy(self._frame, self._by, self._dropna).size()


def _picked(result: DataFrame, columns: Any) -> Any:
    """A Series when one column was picked by name (``resample(..)['x']``), else the frame."""
    if isinstance(columns, str):
        return Series(result, quote(columns), columns)
    return result


class Resampler:
    """``df.resample(rule)`` over a timestamp index."""

    def __init__(self, frame: DataFrame, rule: str, columns: Any = None) -> None:
        self._frame = frame
        self._rule = rule
        self._columns = columns

    def __getitem__(self, key: Any) -> Resampler:
        return Resampler(self._frame, self._rule, key)

    def _apply(self, func: str) -> Any:
        columns = _names(self._columns) if self._columns is not None else self._frame._data_columns()
        frame = self._frame._frame.resample(self._rule, [(c, func) for c in columns])
        return _picked(DataFrame(frame, self._frame._index), self._columns)

    def agg(self, func: str) -> Any:
        """One aggregation by name (``mean``, ``sum``, ``count`` …) per bin."""
        return self._apply(_func_name(func))

    def mean(self) -> Any:
        """Mean of the non-missing values."""
        return self._apply("mean")

    def sum(self) -> Any:
        """Sum of the non-missing values."""
        return self._apply("sum")

    def count(self) -> Any:
        """Number of non-missing values."""
        return self._apply("count")

    def min(self) -> Any:
        """Smallest value."""
        return self._apply("min")

    def max(self) -> Any:
        """Largest value."""
        return self._apply("max")

    def first(self) -> Any:
        """First value in each group, in input order."""
        return self._apply("first")

    def last(self) -> Any:
        """Last value in each group, in input order."""
        return self._apply("last")


class Rolling:
    """``df.rolling(window)`` over the sorted index."""

    def __init__(self, frame: DataFrame, window: int | str, columns: Any = None) -> None:
        self._frame = frame
        self._window = window
        self._columns = columns

    def __getitem__(self, key: Any) -> Rolling:
        return Rolling(self._frame, self._window, key)

    def _apply(self, func: str) -> Any:
        columns = _names(self._columns) if self._columns is not None else self._frame._numeric()
        frame = self._frame._frame.rolling(self._window, func, columns)
        result = DataFrame(frame, self._frame._index)
        # The engine keeps every column beside the rolled ones.
        return _picked(result[columns] if isinstance(self._columns, list) else result, self._columns)

    def mean(self) -> Any:
        """Mean of the values in each window."""
        return self._apply("mean")

    def sum(self) -> Any:
        """Sum of the values in each window."""
        return self._apply("sum")
