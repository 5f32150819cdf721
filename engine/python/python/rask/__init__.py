"""Rask: Dask's parallel DataFrames and SQL over CSV, Parquet and JSON files, on a native
engine.

``import rask.dataframe as dd`` gives Dask's DataFrame names; ``.compute()`` returns pandas
objects. :func:`compute` computes several results sharing their scans, :func:`sql` runs SQL
over frames, files and globs.
"""

from __future__ import annotations

from typing import Any

from . import _rask, _session, datasets
from .errors import RaskError

__version__: str = _rask.rask_version()


def dashboard(address: str | None = None) -> str:
    """Starts the live dashboard of the local session (or the active client's) and returns
    its URL."""
    from .diagnostics import dashboard as start

    return start(address)


def compute(*collections: Any) -> tuple[Any, ...]:
    """Computes several lazy results at once, as ``dask.compute``: scans they share are read
    once. Returns a tuple of pandas objects and Python scalars; other arguments pass through."""
    from .dataframe.core import _compute_many

    return _compute_many(collections)


def sql(query: str, **tables: Any):
    """Runs SQL over frames passed by name, files and globs: ``rask.sql("SELECT x FROM t",
    t=ddf)`` or ``rask.sql("SELECT * FROM 'data_*.csv'")``. Returns a lazy DataFrame."""
    return Context(**tables).sql(query)


class Context:
    """Names for frames and files that SQL statements can use, as dask-sql's ``Context``."""

    def __init__(self, **tables: Any) -> None:
        self._tables: dict[str, Any] = {}
        for name, table in tables.items():
            self.register(name, table)

    def register(self, name: str, table: Any) -> None:
        """Names a lazy DataFrame (or a path, glob or URL of files) for SQL."""
        from .dataframe.core import DataFrame, read_files

        if isinstance(table, str):
            table = read_files(table)
        if not isinstance(table, DataFrame):
            raise TypeError(f"register: expected a rask DataFrame or a path, got {type(table).__name__}")
        self._tables[name] = table

    def sql(self, query: str):
        """The statement's result as a lazy DataFrame."""
        from .dataframe.core import DataFrame

        session = _session.current()
        registered = []
        try:
            for name, table in self._tables.items():
                session.register(name, table._plain_frame())
                registered.append(name)
            return DataFrame(session.sql(query))
        finally:
            for name in registered:
                session.deregister(name)


__all__ = ["compute", "sql", "dashboard", "Context", "RaskError", "datasets", "__version__"]
