#!/usr/bin/env python3
"""Time the tutorial workloads through `query`, a minimal DataFusion program and the peers.

Usage:
    compare.py DATADIR [--query BIN | --rask NAME=BIN ...] [--baseline BIN] [--python PEER_VENV_PYTHON]
               [--engines rask,df-baseline,duckdb,...] [--queries q1,q2,...]
               [--runs N] [--warmup W] [--out results.tsv]

DATADIR holds the data of ../shared/bench/gen_data.py (data_part_*.csv, large_data_*.csv,
large_data.csv, data_part_*.parquet). Each (engine, workload) runs as one whole fresh process,
W times uncounted, then N times counted, one at a time, the engines of a workload taking
turns; reported are the median wall time and the median peak RSS of the process (from wait4). The SQL is the same as ../shared/bench/peers.py
runs (imported from there), with the table name replaced by the files.

Engines: rask (the release `query` binary, or each `--rask NAME=BIN` given, to compare two
builds of `query` in one run, e.g. `--rask before=/tmp/query-old --rask after=target/release/query`), df-baseline (benches/src/main.rs, release),
rask-python (peers.py's Dask code run unchanged on `rask.dataframe` by dask_as_rask.py, with
the release build of the extension, `cargo build --release -p rask-python`), python (the
interpreter starting and importing pandas and pyarrow, which any program that gets pandas
objects back pays: `rask-python / (rask + python)` is the cost of the Python layer), and
the peers of ../shared/bench/peers.py (duckdb, polars, datafusion, dask, pandas), which need
the virtualenv of ../shared/bench/setup_peers.sh.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEER_BENCH = os.path.join(os.path.dirname(ROOT), "shared", "bench")
sys.path.insert(0, PEER_BENCH)
from peers import SOURCE, SQL  # noqa: E402  (the workloads, shared with the peers)

QUERIES = ["q1", "q2", "q3", "q4", "q5", "q6", "q1p", "q3p"]
PEERS = ["duckdb", "polars", "datafusion", "dask", "pandas"]
PYTHON_PACKAGE = os.path.join(ROOT, "engine", "python", "python", "rask")
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.expanduser("~"), ".cache/rask/target"))


def q5_copy(source_sql, outdir):
    """q5 writes Parquet partitioned by category (snappy), as the peers do."""
    select = SQL["q5"].replace("from t", f"from {source_sql}")
    return (f"COPY ({select}) TO '{outdir}/' STORED AS PARQUET PARTITIONED BY (category) "
            f"OPTIONS ('format.compression' 'snappy')")


def command(engine, query, datadir, args, outdir):
    src = os.path.join(datadir, SOURCE[query])
    if engine in args.builds:
        table = f"'{src}'"
        sql = q5_copy(table, outdir) if query == "q5" else SQL[query].replace("from t", f"from {table}")
        return [args.builds[engine], "-q", "--format", "csv", sql]
    if engine == "df-baseline":
        kind = "--parquet" if src.endswith(".parquet") else "--csv"
        sql = q5_copy("t", outdir) if query == "q5" else SQL[query]
        return [args.baseline, kind, f"t={src}", sql]
    if engine == "rask-python":
        script = os.path.join(HERE, "dask_as_rask.py")
        return ["env", f"PYTHONPATH={args.package}", args.python, script, query, datadir]
    if engine == "python":
        return [args.python, "-c", "import pandas, pyarrow"]
    return [args.python, os.path.join(PEER_BENCH, "peers.py"), engine, query, datadir]


def stage_package(folder):
    """The `rask` package with the release extension, importable from `folder`."""
    library = os.path.join(TARGET, "release", "lib_rask.so")
    if not os.path.exists(library):
        sys.exit(f"{library} is missing: cargo build --release -p rask-python")
    package = os.path.join(folder, "rask")
    shutil.copytree(PYTHON_PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    os.symlink(library, os.path.join(package, "_rask.abi3.so"))
    return folder


def one_run(cmd, outdir):
    """Wall seconds, peak RSS (MiB) and CPU seconds (user + system) of one whole process."""
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd)[:300]} failed:\n{err[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def measure(cmds, runs, warmup, outdir):
    """Runs the engines of one workload in turns (a, b, c, a, b, c, ..), so that a slow
    moment of the machine falls on all of them alike; returns per engine the median,
    min and max wall time and the median peak RSS."""
    samples = {engine: [] for engine in cmds}
    for i in range(warmup + runs):
        for engine, cmd in cmds.items():
            sample = one_run(cmd, outdir)
            if i >= warmup:
                samples[engine].append(sample)
    result = {}
    for engine, runs_of_engine in samples.items():
        walls = [w for w, _, _ in runs_of_engine]
        peaks = [p for _, p, _ in runs_of_engine]
        result[engine] = (statistics.median(walls), min(walls), max(walls), statistics.median(peaks))
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("datadir")
    ap.add_argument("--query", default=os.path.join(TARGET, "release", "query"))
    ap.add_argument("--rask", action="append", default=[], metavar="NAME=BIN")
    ap.add_argument("--baseline", default=os.path.join(TARGET, "release", "df-baseline"))
    ap.add_argument("--python", default=os.path.join(os.path.expanduser("~"), "peerbench/venv/bin/python"))
    ap.add_argument("--engines", default="rask,rask-python,python,df-baseline," + ",".join(PEERS))
    ap.add_argument("--queries", default=",".join(QUERIES))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    args.builds = dict(spec.split("=", 1) for spec in args.rask) or {"rask": args.query}
    engines = []
    for engine in args.engines.split(","):
        engines += list(args.builds) if engine == "rask" else [engine]
    queries = args.queries.split(",")
    results = {}
    outdir = tempfile.mkdtemp(prefix="rask_bench_")
    if "rask-python" in engines:
        args.package = stage_package(os.path.join(outdir, "package"))
    try:
        q5dir = os.path.join(outdir, "q5")
        for query in queries:
            cmds = {engine: command(engine, query, args.datadir, args, q5dir) for engine in engines}
            for engine, measured in measure(cmds, args.runs, args.warmup, q5dir).items():
                results[(engine, query)] = measured
                med, lo, hi, peak = measured
                print(f"{engine:12} {query:4} median {med:6.3f} s (min {lo:.3f}, max {hi:.3f})  peak {peak:6.0f} MiB",
                      file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(outdir, ignore_errors=True)

    first = next(iter(args.builds))
    header = "| workload | " + " | ".join(engines) + f" | {first} / df-baseline (time, peak) | rask-python / ({first} + python) |"
    print(header)
    print("|" + "---|" * (len(engines) + 3))
    for query in queries:
        cells = [f"{results[(e, query)][0]:.2f} s / {results[(e, query)][3]:.0f} MiB" for e in engines]
        ratio = layer = ""
        if (first, query) in results and ("df-baseline", query) in results:
            r, b = results[(first, query)], results[("df-baseline", query)]
            ratio = f"{r[0] / b[0]:.2f}x, {r[3] / b[3]:.2f}x"
        if all((e, query) in results for e in (first, "python", "rask-python")):
            layer = f"{results[('rask-python', query)][0] / (results[(first, query)][0] + results[('python', query)][0]):.2f}x"
        print(f"| {query} | " + " | ".join(cells) + f" | {ratio} | {layer} |")
    if args.out:
        with open(args.out, "w") as f:
            f.write("engine\tquery\tmedian_s\tmin_s\tmax_s\tpeak_mib\n")
            for (engine, query), (med, lo, hi, peak) in results.items():
                f.write(f"{engine}\t{query}\t{med:.4f}\t{lo:.4f}\t{hi:.4f}\t{peak:.1f}\n")


if __name__ == "__main__":
    main()
