"""The session computations run in: one per process, created on first use, replaced while a
``rask.distributed.Client`` is active (Dask's "default client")."""

from __future__ import annotations

import threading

from . import _rask

_lock = threading.Lock()
_local: _rask.Session | None = None
_active: list[_rask.Session] = []


def current() -> _rask.Session:
    """The session of the innermost active client, or the process's local session."""
    global _local
    with _lock:
        if _active:
            return _active[-1]
        if _local is None:
            _local = _rask.Session()
        return _local


def activate(session: _rask.Session) -> None:
    with _lock:
        _active.append(session)


def deactivate(session: _rask.Session) -> None:
    with _lock:
        if session in _active:
            _active.remove(session)
