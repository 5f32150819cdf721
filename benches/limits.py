#!/usr/bin/env python3
"""Peak memory of the release `query` under --memory-limit, over ten times that much data.

Each workload runs in a process of its own; its peak RSS (the kernel's ru_maxrss of the
child) is compared with the limit. The data is `timeseries()` itself, generated as it is read,
so no file stands between the engine and the measurement. A last row runs a 50-row GROUP BY
with --partitions 1000, whose cost is outside the memory pool.

    cargo build --release -p rask-cli
    python3 benches/limits.py --query target/release/query --limit 200MB
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

# A row of timeseries() in Arrow: timestamp, id, x and y (8 bytes each) and a short name.
BYTES_PER_ROW = 40


def workloads(source, out_dir):
    return [
        ("group-by", f"SELECT x, count(*) FROM {source} GROUP BY x", None),
        ("sort", f"SELECT * FROM {source} ORDER BY x", os.path.join(out_dir, "sorted.parquet")),
        (
            "join",
            f"SELECT count(*) FROM {source} AS a JOIN {source} AS b ON a.timestamp = b.timestamp",
            None,
        ),
        (
            "window",
            f"SELECT max(s) FROM (SELECT sum(x) OVER (PARTITION BY name ORDER BY timestamp) AS s FROM {source})",
            None,
        ),
    ]


def run(query, extra, sql, output):
    """Runs one query; its seconds, peak RSS in bytes, exit code and stderr. The peak is the
    largest of this interpreter's children, so each workload runs from an interpreter of its
    own (see `--one`)."""
    args = [query, "--no-progress", *extra]
    if output:
        args += ["-o", output]
    args.append(sql)
    started = time.monotonic()
    finished = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return seconds, peak, finished.returncode, finished.stderr.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--query", required=True, help="the release query binary")
    parser.add_argument("--limit", default="200MB", help="--memory-limit of every run")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()

    units = {"MB": 10**6, "GB": 10**9}
    limit = int(float(args.limit[:-2]) * units[args.limit[-2:].upper()])
    rows = 10 * limit // BYTES_PER_ROW
    # One row a second from 2000-01-01 (946,684,800 s after the epoch).
    end = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(946684800 + rows))
    source = f"timeseries('2000-01-01', '{end}', '1s')"

    if args.one:
        # A child run: print seconds, peak bytes and exit code of one workload.
        name, sql, output = args.one.split("\x1f")
        extra = ["--memory-limit", args.limit]
        if name == "partitions":
            extra = ["--memory-limit", args.limit, "--partitions", "1000"]
        seconds, peak, code, err = run(args.query, extra, sql, output or None)
        print(f"{seconds:.1f}\t{peak}\t{code}\t{err.splitlines()[0] if err else ''}")
        return

    with tempfile.TemporaryDirectory() as out_dir:
        cases = workloads(source, out_dir)
        cases.append(
            (
                "partitions",
                "SELECT name, count(*) FROM timeseries('2000-01-01', '2000-01-01 00:00:50', '1s') GROUP BY name",
                None,
            )
        )
        print(f"query {args.query}, --memory-limit {args.limit}, {rows:,} rows of timeseries() (~{rows * BYTES_PER_ROW / 1e9:.1f} GB)")
        print("| workload | time | peak RSS | peak / limit | exit |")
        print("|---|---|---|---|---|")
        for name, sql, output in cases:
            spec = "\x1f".join([name, sql, output or ""])
            child = subprocess.run(
                [sys.executable, __file__, "--query", args.query, "--limit", args.limit, "--one", spec],
                capture_output=True,
                text=True,
                check=True,
            )
            seconds, peak, code, err = child.stdout.rstrip("\n").split("\t")
            peak = int(peak)
            print(f"| {name} | {float(seconds):.1f} s | {peak / 2**20:.0f} MiB | {peak / limit:.2f}x | {code} {err} |")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
