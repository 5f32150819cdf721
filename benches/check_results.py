#!/usr/bin/env python3
"""Checks `query`'s answers to the benchmark workloads against DuckDB's.

Usage: PEER_VENV_PYTHON benches/check_results.py DATADIR QUERY_BINARY

Runs each SQL workload of ../shared/bench/peers.py (q5 writes files and is left out) through
`query --format csv` and through DuckDB, and compares every value: numbers to a relative
1e-9, the rest exactly (timestamps with either separator). Exits 1 on any difference.
"""
import csv
import io
import os
import subprocess
import sys

import duckdb

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench"))
from peers import SOURCE, SQL  # noqa: E402

D = sys.argv[1]; Q = sys.argv[2]
ok = True
for q in ["q1", "q2", "q3", "q4", "q6", "q1p", "q3p"]:
    src = f"{D}/{SOURCE[q]}"
    duck_src = f"read_parquet('{src}')" if src.endswith(".parquet") else f"read_csv('{src}')"
    expected = duckdb.sql(SQL[q].replace("from t", f"from {duck_src}")).fetchall()
    out = subprocess.run([Q, "-q", "--format", "csv", SQL[q].replace("from t", f"from '{src}'")], capture_output=True, text=True, check=True).stdout
    rows = list(csv.reader(io.StringIO(out)))[1:]
    if len(rows) != len(expected):
        print(q, "row count", len(rows), len(expected)); ok = False; continue
    worst = 0.0
    for got, exp in zip(rows, expected):
        for g, e in zip(got, exp):
            if isinstance(e, (int, float)):
                g = float(g); e = float(e)
                worst = max(worst, abs(g - e) / max(abs(e), 1e-300))
            elif str(e).replace(" ", "T") != g.replace(" ", "T") and str(e) != g:
                print(q, "mismatch", g, e); ok = False
    print(f"{q}: {len(rows)} rows, max relative difference {worst:.2e}")
    ok &= worst < 1e-9
print("ALL OK" if ok else "DIFFERENCES")
sys.exit(0 if ok else 1)
