#!/usr/bin/env python3
"""TPC-H through `query` and DuckDB: every query's time, the ratios, and whether the answers agree.

Usage:
    tpch.py DATADIR [--rask NAME=BIN ...] [--python PEER_VENV_PYTHON] [--no-duckdb]
            [--queries 1,2,...] [--runs N] [--warmup W] [--generate SF]

DATADIR/tpch/ holds the eight tables as Parquet (lineitem.parquet, ...), as
../shared/bench/gen_data.py writes them; `--generate SF` writes them first with `tpchgen-cli`
from the peer virtualenv (SF1 by default in gen_data.py; SF10 takes ~10 GB).

Each (engine, query) runs as one whole fresh process, W times uncounted, then N times counted,
the engines of a query taking turns; reported is the median wall time. `--rask` names a
`query` binary (default: the release build, as `rask`); give it twice to compare two builds
(`--rask before=/tmp/query-old --rask after=target/release/query`). The SQL texts are the 22
of ../shared/bench/peers.py. Every engine's answer is compared with DuckDB's: same rows in the
same order (sorted when the query's ORDER BY leaves ties), text equal, numbers equal to 12
significant digits (so decimals to the cent and averages to DuckDB's double precision; an
average kept to 6 places, as DataFusion keeps `avg` of DECIMAL(15,2), differs).
"""
import argparse
import csv
import io
import math
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEER_BENCH = os.path.join(os.path.dirname(ROOT), "shared", "bench")
sys.path.insert(0, PEER_BENCH)
from peers import TPCH, TPCH_TABLES  # noqa: E402  (the query texts, shared with the peers)

TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.expanduser("~"), ".cache/rask/target"))

DUCKDB_SCRIPT = """
import csv, sys, duckdb
tables, sql = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("set enable_progress_bar = false")  # drawn on stdout for queries past 2 s
for spec in tables.split(","):
    name, path = spec.split("=", 1)
    con.execute(f"create view {name} as select * from read_parquet('{path}')")
result = con.sql(sql)
out = csv.writer(sys.stdout)
out.writerow(result.columns)
for row in result.fetchall():
    out.writerow(["" if v is None else v for v in row])
"""


def tables(datadir):
    return [(t, os.path.join(datadir, "tpch", f"{t}.parquet")) for t in TPCH_TABLES]


def command(engine, binary, query, datadir, python):
    sql = TPCH[f"q{query}"]
    if engine == "duckdb":
        spec = ",".join(f"{name}={path}" for name, path in tables(datadir))
        return [python, "-c", DUCKDB_SCRIPT, spec, sql]
    args = [binary, "-q", "--format", "csv"]
    for name, path in tables(datadir):
        args += ["--table", f"{name}={path}"]
    return args + [sql]


def one_run(cmd):
    """Wall seconds and standard output of one whole process."""
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return elapsed, proc.stdout


def rows_of(text):
    rows = list(csv.reader(io.StringIO(text)))
    return rows[1:] if rows else []


def number(cell):
    try:
        return float(cell)
    except ValueError:
        return None


def cells_agree(a, b):
    if a == b:
        return True
    x, y = number(a), number(b)
    if x is None or y is None:
        return False
    return math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-9)


def answers_agree(got, expected):
    """Same rows, in order, or in some order when ties leave the order open."""
    def same(left, right):
        return len(left) == len(right) and all(
            len(r) == len(e) and all(cells_agree(a, b) for a, b in zip(r, e))
            for r, e in zip(left, right))
    return same(got, expected) or same(sorted(got), sorted(expected))


def geomean(values):
    return math.exp(statistics.fmean(math.log(v) for v in values)) if values else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("datadir")
    ap.add_argument("--rask", action="append", default=[], metavar="NAME=BIN")
    ap.add_argument("--python", default=os.path.join(os.path.expanduser("~"), "peerbench/venv/bin/python"))
    ap.add_argument("--no-duckdb", action="store_true")
    ap.add_argument("--queries", default=",".join(str(i) for i in range(1, 23)))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--generate", metavar="SF")
    args = ap.parse_args()

    if args.generate:
        out = os.path.join(args.datadir, "tpch")
        tpchgen = os.path.join(os.path.dirname(args.python), "tpchgen-cli")
        subprocess.run([tpchgen, "parquet", "-s", args.generate, "-o", out], check=True)
    engines = {}
    for spec in args.rask or [f"rask={os.path.join(TARGET, 'release', 'query')}"]:
        name, _, binary = spec.partition("=")
        engines[name] = binary
    if not args.no_duckdb:
        engines["duckdb"] = None
    queries = [int(q) for q in args.queries.split(",")]

    times = {}
    wrong = []
    for query in queries:
        samples = {engine: [] for engine in engines}
        answers = {}
        for i in range(args.warmup + args.runs):
            for engine, binary in engines.items():
                elapsed, out = one_run(command(engine, binary, query, args.datadir, args.python))
                if i >= args.warmup:
                    samples[engine].append(elapsed)
                answers[engine] = rows_of(out)
        for engine in engines:
            times[(engine, query)] = statistics.median(samples[engine])
        verdicts = []
        if "duckdb" in answers:
            for engine in engines:
                if engine != "duckdb" and not answers_agree(answers[engine], answers["duckdb"]):
                    wrong.append((engine, query))
                    verdicts.append(f"{engine} differs")
        line = "  ".join(f"{e} {times[(e, query)]:6.3f} s" for e in engines)
        print(f"Q{query:<2} {line}  {'; '.join(verdicts) or 'answers agree'}", file=sys.stderr, flush=True)

    names = list(engines)
    reference = "duckdb" if "duckdb" in engines else names[0]
    others = [e for e in names if e != reference]
    print("| query | " + " | ".join(f"{e} (s)" for e in names) + " | "
          + " | ".join(f"{e} / {reference}" for e in others) + " |")
    print("|" + "---|" * (1 + len(names) + len(others)))
    for query in queries:
        cells = [f"{times[(e, query)]:.3f}" for e in names]
        ratios = [f"{times[(e, query)] / times[(reference, query)]:.2f}x" for e in others]
        marks = ["" if (e, query) not in wrong else " (wrong answer)" for e in others]
        print(f"| Q{query} | " + " | ".join(cells) + " | "
              + " | ".join(r + m for r, m in zip(ratios, marks)) + " |")
    means = [f"{geomean([times[(e, q)] / times[(reference, q)] for q in queries]):.2f}x" for e in others]
    print("| geometric mean | " + " | ".join("" for _ in names) + " | " + " | ".join(means) + " |")
    if wrong:
        print("answers differing from DuckDB's: "
              + ", ".join(f"{e} Q{q}" for e, q in wrong), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
