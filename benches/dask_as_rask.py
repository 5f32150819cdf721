#!/usr/bin/env python3
"""Run one workload of ../shared/bench/peers.py through the Dask engine's own code, with
`dask` and `dask.dataframe` being `rask` and `rask.dataframe`: the program a Dask user runs,
unchanged, on Rask.

Usage: dask_as_rask.py QUERY DATADIR   (QUERY: q1 ... q6, q1p, q3p; prints what peers.py prints)

`rask` must be importable (installed with `pip install ./engine/python`, or the folder of a
build on PYTHONPATH, as compare.py arranges).
"""
import os
import sys

import rask
import rask.dataframe

sys.modules["dask"] = rask
sys.modules["dask.dataframe"] = rask.dataframe

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench"))
import peers  # noqa: E402  (the workloads, as every peer runs them)

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "dask", *sys.argv[1:]]
    peers.main()
