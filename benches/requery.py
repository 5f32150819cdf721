#!/usr/bin/env python3
"""Time a CSV query run twice in one session: the second run against the first.

Usage:
    requery.py DATADIR [--query BIN] [--python PEER_VENV_PYTHON] [--queries q1,q2,...]
               [--runs N] [--no-duckdb] [--memory-limit SIZE]

Each workload of ../shared/bench/peers.py over CSV (q1-q4, q6; q5 writes its whole input)
runs twice in one shell session of the release `query` (`query -i`, statements on stdin,
`.timer on`), once with the file cache (the default) and once with `--no-cache`, and twice
in one DuckDB connection (the peer virtualenv's Python, from ../shared/bench/setup_peers.sh);
the sessions take turns, N times. With `--memory-limit`, a fourth session runs under that
limit, whose cache keeps a quarter of it in memory and the rest in Arrow IPC files on disk. Printed: per engine and workload, the medians of the first
and second run and their ratio (second / first), from the timings each engine reports for
the statement itself (session start-up is not counted).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEER_BENCH = os.path.join(os.path.dirname(ROOT), "shared", "bench")
sys.path.insert(0, PEER_BENCH)
from peers import SOURCE, SQL  # noqa: E402  (the workloads, shared with the peers)

QUERIES = ["q1", "q2", "q3", "q4", "q6"]
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.expanduser("~"), ".cache/rask/target"))

DUCKDB_TWICE = """
import sys, time, duckdb
sql = sys.argv[1]
con = duckdb.connect()
for _ in range(2):
    started = time.perf_counter()
    con.execute(sql).fetchall()
    print(f"elapsed: {time.perf_counter() - started:.3f} s", file=sys.stderr)
"""


def sql_over(query, datadir):
    return SQL[query].replace("from t", f"from '{os.path.join(datadir, SOURCE[query])}'")


def rask_twice(binary, sql, flags):
    script = f".timer on\n{sql};\n{sql};\n"
    done = subprocess.run([binary, "-i", "--format", "csv", *flags], input=script,
                          capture_output=True, text=True, check=True)
    return elapsed_times(done.stderr)


def duckdb_twice(python, sql):
    done = subprocess.run([python, "-c", DUCKDB_TWICE, sql],
                          capture_output=True, text=True, check=True)
    return elapsed_times(done.stderr)


def elapsed_times(stderr):
    times = [float(t) for t in re.findall(r"elapsed: ([0-9.]+) s", stderr)]
    if len(times) != 2:
        sys.exit(f"expected two timings, got: {stderr}")
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("datadir")
    ap.add_argument("--query", default=os.path.join(TARGET, "release", "query"))
    ap.add_argument("--python", default=os.path.join(os.path.expanduser("~"), "peerbench/venv/bin/python"))
    ap.add_argument("--queries", default=",".join(QUERIES))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-duckdb", action="store_true")
    ap.add_argument("--memory-limit", default=None)
    args = ap.parse_args()

    engines = {
        "rask": lambda sql: rask_twice(args.query, sql, []),
        "rask --no-cache": lambda sql: rask_twice(args.query, sql, ["--no-cache"]),
    }
    if args.memory_limit:
        limited = ["--memory-limit", args.memory_limit]
        engines[f"rask {' '.join(limited)}"] = lambda sql: rask_twice(args.query, sql, limited)
    if not args.no_duckdb:
        engines["duckdb"] = lambda sql: duckdb_twice(args.python, sql)

    width = max(len(name) for name in engines)
    print(f"{'engine':<{width}} {'query':<5} {'first':>8} {'second':>8} {'second/first':>13}")
    ratios = {name: [] for name in engines}
    for query in args.queries.split(","):
        sql = sql_over(query, args.datadir)
        runs = {name: [] for name in engines}
        for _ in range(args.runs):
            for name, twice in engines.items():
                runs[name].append(twice(sql))
        for name, times in runs.items():
            first = statistics.median(t[0] for t in times)
            second = statistics.median(t[1] for t in times)
            ratios[name].append(second / first)
            print(f"{name:<{width}} {query:<5} {first:>7.3f}s {second:>7.3f}s {second / first:>13.2f}")
    for name, values in ratios.items():
        print(f"{name:<{width}} geometric mean of second/first: {statistics.geometric_mean(values):.2f}")


if __name__ == "__main__":
    main()
