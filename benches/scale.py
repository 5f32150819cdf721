#!/usr/bin/env python3
"""How the seed workloads' time grows with their data: seed_a at 1x, 2x, 4x, 8x its rows.

Usage:
    scale.py ROOT [--scales 1,2,4,8] [--query BIN] [--engines rask,duckdb]
             [--queries q1,q2,q3,q1p,q3p] [--runs N] [--warmup W]

ROOT/scale<N>/ holds seed_a at scale N (data_part_*.csv and .parquet, 5 files of N million
rows); a missing one is written first with ../shared/bench/gen_data.py --scale N --only seed_a
(8x takes ~4 GB). The workloads are those of compare.py that read seed_a, each run as one
whole fresh process (see compare.py), engines taking turns. Printed per engine and workload:
the median time at each scale, the least-squares line time = fixed + slope * scale, the
slope per million rows, and the largest distance of a measured time from the line relative
to that time (small when time grows linearly).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from types import SimpleNamespace

import compare

GEN_DATA = os.path.join(compare.PEER_BENCH, "gen_data.py")
SEED_A = ["q1", "q2", "q3", "q1p", "q3p"]
ROWS_PER_SCALE = 5_000_000


def ensure_data(root, scale, python):
    folder = os.path.join(root, f"scale{scale}")
    if not os.path.exists(os.path.join(folder, "data_part_4.parquet")):
        subprocess.run([python, GEN_DATA, folder, "--scale", str(scale), "--only", "seed_a"],
                       check=True)
    return folder


def fit(xs, ys):
    """Least-squares intercept and slope."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return my - slope * mx, slope


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root")
    ap.add_argument("--scales", default="1,2,4,8")
    ap.add_argument("--query", default=os.path.join(compare.TARGET, "release", "query"))
    ap.add_argument("--python", default=os.path.join(os.path.expanduser("~"), "peerbench/venv/bin/python"))
    ap.add_argument("--engines", default="rask")
    ap.add_argument("--queries", default=",".join(SEED_A))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    args = ap.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    engines = args.engines.split(",")
    queries = args.queries.split(",")
    options = SimpleNamespace(builds={"rask": args.query}, python=args.python)

    folders = {scale: ensure_data(args.root, scale, args.python) for scale in scales}
    times = {}
    outdir = tempfile.mkdtemp(prefix="rask_scale_")
    try:
        q5dir = os.path.join(outdir, "q5")
        for query in queries:
            for scale in scales:
                cmds = {e: compare.command(e, query, folders[scale], options, q5dir) for e in engines}
                for engine, (median, _, _, peak) in compare.measure(cmds, args.runs, args.warmup, q5dir).items():
                    times[(engine, query, scale)] = median
                    print(f"{engine:8} {query:4} x{scale}: {median:6.3f} s, peak {peak:5.0f} MiB",
                          file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(outdir, ignore_errors=True)

    print("| engine | workload | " + " | ".join(f"{s}x (s)" for s in scales)
          + " | fixed (s) | slope (s per 1x) | s per million rows | largest deviation |")
    print("|" + "---|" * (5 + len(scales)))
    for engine in engines:
        for query in queries:
            ys = [times[(engine, query, s)] for s in scales]
            fixed, slope = fit(scales, ys)
            deviation = max(abs(y - (fixed + slope * s)) / y for s, y in zip(scales, ys))
            cells = " | ".join(f"{y:.3f}" for y in ys)
            print(f"| {engine} | {query} | {cells} | {fixed:.3f} | {slope:.3f} | "
                  f"{slope / (ROWS_PER_SCALE / 1e6):.4f} | {deviation:.1%} |")


if __name__ == "__main__":
    main()
