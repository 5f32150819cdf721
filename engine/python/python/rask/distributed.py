"""Clusters, as ``dask.distributed``: ``Client(address)`` connects to a Ballista scheduler,
``LocalCluster`` starts one with worker processes on this machine. While a client is open,
computations run on its cluster (Dask's "default client")."""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from typing import Any

from . import _rask, _session


def _bytes(limit: int | str | None) -> int | None:
    if limit is None or isinstance(limit, int):
        return limit
    from .dataframe.core import _bytes as parse

    return parse(limit)


def _worker_command() -> str:
    """An executable that runs a worker in this Python: LocalCluster starts its workers
    with the command ``RASK_QUERY_BIN`` names, as it would start ``query worker``."""
    folder = tempfile.mkdtemp(prefix="rask-worker-")
    path = os.path.join(folder, "query")
    with open(path, "w") as script:
        script.write(f'#!/bin/sh\nexec "{sys.executable}" -m rask._worker "$@"\n')
    os.chmod(path, stat.S_IRWXU)
    return path


class LocalCluster:
    """A scheduler in this process and ``n_workers`` worker processes, each running
    ``threads_per_worker`` tasks at once under ``memory_limit`` (bytes or ``'2GB'``). The
    workers stop with :meth:`close`, or when this process ends."""

    def __init__(self, n_workers: int = 2, threads_per_worker: int = 1, memory_limit: int | str | None = None) -> None:
        if "RASK_QUERY_BIN" not in os.environ:
            os.environ["RASK_QUERY_BIN"] = _worker_command()
        self._session: _rask.Session | None = _rask.Session.local_cluster(n_workers, threads_per_worker, _bytes(memory_limit))
        self.scheduler_address: str = self._session.cluster_url() or ""

    def close(self) -> None:
        """Stops the workers and the scheduler."""
        self._session = None

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LocalCluster({self.scheduler_address!r})"


class Client:
    """Runs the computations made while it is open on a cluster: ``Client('host:50050')``
    (a Ballista scheduler, ``df://`` optional), ``Client(LocalCluster(...))``, or
    ``Client(n_workers=..., threads_per_worker=..., memory_limit=...)`` for a new local one.
    ``dashboard_address`` serves the live dashboard there."""

    def __init__(
        self,
        address: str | LocalCluster | None = None,
        n_workers: int | None = None,
        threads_per_worker: int = 1,
        memory_limit: int | str | None = None,
        dashboard_address: str | None = None,
    ) -> None:
        self._own_cluster: LocalCluster | None = None
        if isinstance(address, LocalCluster):
            cluster = address
        elif address is None:
            cluster = self._own_cluster = LocalCluster(n_workers or 2, threads_per_worker, memory_limit)
        else:
            cluster = None
        if cluster is not None:
            if cluster._session is None:
                raise ValueError("Client: the LocalCluster is closed")
            self._session = cluster._session
        else:
            self._session = _rask.Session.connect(str(address))
        self._dashboard_address = dashboard_address
        _session.activate(self._session)

    @property
    def dashboard_link(self) -> str:
        """The live dashboard's URL (started on first use)."""
        return self._session.dashboard(self._dashboard_address)

    def scheduler_info(self) -> dict[str, Any]:
        """The scheduler's address and its workers, as Dask's ``scheduler_info()`` shapes it."""
        scheduler, workers = self._session.cluster_info()
        return {
            "address": scheduler,
            "workers": {
                address: {"id": worker_id, "nthreads": slots, "memory_limit": memory_limit or 0}
                for worker_id, address, slots, memory_limit in workers
            },
        }

    def close(self) -> None:
        """Computations go back to the local session; a cluster the client started stops."""
        _session.deactivate(self._session)
        if self._own_cluster is not None:
            self._own_cluster.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Client: {self._session.cluster_url()}>"


__all__ = ["Client", "LocalCluster"]
