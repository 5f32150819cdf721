"""Example datasets, as ``dask.datasets``."""

from __future__ import annotations

from typing import Any

from . import _session
from .dataframe.core import DataFrame


def timeseries(
    start: str = "2000-01-01",
    end: str = "2000-01-31",
    freq: str = "1s",
    partition_freq: str = "1D",
    seed: int | None = None,
    dtypes: dict[str, Any] | None = None,
) -> DataFrame:
    """Dask's demo frame: a row every ``freq`` from ``start`` to ``end`` with columns ``id``
    (int), ``name`` (str), ``x`` and ``y`` (floats), indexed by ``timestamp``, one partition
    per ``partition_freq``."""
    generated = _session.current().timeseries(str(start), str(end), str(freq), str(partition_freq), seed)
    # Indexed by its sorted timestamps: one partition per `partition_freq` with known
    # divisions, as Dask's (the engine takes them from the parameters, generating nothing).
    frame = DataFrame(generated.set_index("timestamp", True), ["timestamp"])
    if dtypes is not None:
        missing = [c for c in dtypes if c not in frame._data_columns()]
        if missing:
            raise ValueError(f"timeseries: no column {', '.join(missing)}; it makes id, name, x and y")
        frame = frame[list(dtypes)]
    return frame
