"""Watching computations, as ``dask.diagnostics`` and ``dask.distributed`` offer: a console
progress bar, an HTML performance report, and the live dashboard."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any, TextIO

from . import _session


class ProgressBar:
    """A console bar for each computation, as Dask's: ``with ProgressBar(): x.compute()``, or
    ``ProgressBar().register()`` for every computation until ``unregister()``."""

    def __init__(self, minimum: float = 0.0, width: int = 40, dt: float = 0.1, out: TextIO | None = None) -> None:
        self._minimum = minimum
        self._width = width
        self._dt = dt
        self._out = out if out is not None else sys.stdout
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def register(self) -> None:
        """Shows a bar for every computation from now on, until :meth:`unregister`."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._watch, name="rask-progress", daemon=True)
            self._thread.start()

    def unregister(self) -> None:
        """Stops showing bars."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None

    def __enter__(self) -> ProgressBar:
        self.register()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.unregister()

    def _watch(self) -> None:
        session = _session.current()
        seen = session.last_query_id() or 0
        shown: dict[int, float] = {}
        while True:
            stopping = self._stop.is_set()
            for query in json.loads(session.status())["queries"]:
                if query["id"] <= seen:
                    continue
                running = query["state"] == "running"
                if query["elapsed"] < self._minimum and running:
                    continue
                fraction = query["fraction"]
                if fraction is None:
                    fraction = query["tasks_done"] / query["tasks"] if query["tasks"] else 0.0
                if not running:
                    fraction = 1.0 if query["state"] == "finished" else fraction
                if shown.get(query["id"]) != fraction or not running:
                    self._draw(fraction, query["elapsed"], done=not running)
                    shown[query["id"]] = fraction
                if not running:
                    seen = max(seen, query["id"])
            if stopping:
                return
            time.sleep(self._dt)

    def _draw(self, fraction: float, elapsed: float, done: bool) -> None:
        filled = int(round(self._width * fraction))
        bar = "#" * filled + " " * (self._width - filled)
        end = "\n" if done else ""
        self._out.write(f"\r[{bar}] | {fraction * 100:3.0f}% Completed | {elapsed:5.1f}s{end}")
        self._out.flush()


class performance_report:
    """Writes an HTML report of the computations run inside the block (their plans, task
    graphs, per-operator times, rows, memory and spills): ``with performance_report(
    filename='report.html'): ...``."""

    def __init__(self, filename: str = "dask-report.html") -> None:
        self.filename = filename
        self._after: int | None = None

    def __enter__(self) -> performance_report:
        self._after = _session.current().last_query_id()
        return self

    def __exit__(self, *exc: Any) -> None:
        _session.current().write_report(str(self.filename), self._after)


def dashboard(address: str | None = None) -> str:
    """Starts the live dashboard of the current session (at ``address``, ``host:port``) and
    returns its URL."""
    return _session.current().dashboard(address)


__all__ = ["ProgressBar", "performance_report", "dashboard"]
