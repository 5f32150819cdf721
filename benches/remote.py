#!/usr/bin/env python3
"""The tutorial workloads over an S3-compatible server on 127.0.0.1 against the same files on
local disk, through the same `query` binary.

Usage:
    remote.py DATADIR [--query BIN] [--python MOTO_PYTHON] [--endpoint URL [--server-pid PID]]
              [--static] [--queries q1,q2,...] [--runs N] [--warmup W]

DATADIR holds the data of ../shared/bench/gen_data.py (seed_a/seed_b/seed_c). Without
--endpoint, a moto server (`moto_server` from the virtualenv of MOTO_PYTHON; moto[server]
from PyPI) is started on a free port; with it, any S3-compatible server already running
there is used (its credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY). The files are
uploaded to bucket `rask-bench`, then each workload runs N times on each side, the two
sides taking turns; printed are the medians and the ratio remote / local.

With --static, nginx (Debian's package) serves DATADIR instead: GET with a byte range and
HEAD of each file as S3 answers them, and the bucket's listing as one fixed document (the
client picks the keys its glob matches). It is not an S3 server (it checks no signature and
takes no writes, so q5 is left out) but the least a server can cost: what remains of the
ratio is the client's own.

It prints the CPU seconds each side's query spent, and with the server's process id (the
server it starts, or --server-pid) the server's: both share the machine's cores, so
(query CPU + server CPU) / cores is the least wall time the S3 side can take here.

It also reads a tenth of the row groups of the Parquet files (a filter on the first tenth of
`timestamp`) and prints the bytes the scan fetched (EXPLAIN ANALYZE's `bytes_scanned`) next
to those of a full scan.
"""
import argparse
import datetime
import glob
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from compare import PEER_BENCH, QUERIES, SOURCE, SQL, TARGET, one_run, q5_copy  # noqa: E402

BUCKET = "rask-bench"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(python):
    port = free_port()
    server = os.path.join(os.path.dirname(python), "moto_server")
    proc = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, wait_for(proc, port, "moto_server")


def wait_for(proc, port, name):
    """The endpoint of `proc` once it accepts connections on `port`."""
    deadline = time.time() + 30
    while time.time() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    sys.exit(f"{name} did not start")


def upload(python, endpoint, datadir, names):
    """Uploads with boto3 from the moto virtualenv (multipart for large files)."""
    script = f"""
import boto3, os, sys
s3 = boto3.client("s3", endpoint_url={endpoint!r}, region_name="us-east-1")
try:
    s3.create_bucket(Bucket={BUCKET!r})
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
for name in sys.argv[1:]:
    s3.upload_file(os.path.join({datadir!r}, name), {BUCKET!r}, name)
"""
    subprocess.run([python, "-c", script, *names], check=True)


def start_static(datadir, workdir):
    """nginx serving DATADIR's files as the objects of BUCKET, in one process (its CPU is
    that process's), and a ListObjectsV2 answer naming them all."""
    port = free_port()
    root = os.path.join(workdir, "root")
    os.makedirs(os.path.join(root, BUCKET))
    contents = []
    for name in sorted(os.listdir(datadir)):
        path = os.path.join(datadir, name)
        os.symlink(path, os.path.join(root, BUCKET, name))
        stat = os.stat(path)
        modified = datetime.datetime.fromtimestamp(int(stat.st_mtime), datetime.timezone.utc)
        # nginx's own entity tag for the file, so that the listing and a HEAD agree.
        etag = f"&quot;{int(stat.st_mtime):x}-{stat.st_size:x}&quot;"
        contents.append(f"<Contents><Key>{name}</Key>"
                        f"<LastModified>{modified:%Y-%m-%dT%H:%M:%S.000Z}</LastModified>"
                        f"<ETag>{etag}</ETag><Size>{stat.st_size}</Size></Contents>")
    with open(os.path.join(root, "list.xml"), "w") as listing:
        listing.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                      '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                      f"<Name>{BUCKET}</Name><KeyCount>{len(contents)}</KeyCount>"
                      "<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>"
                      + "".join(contents) + "</ListBucketResult>\n")
    # TCP_CORK (tcp_nopush) holds a response's last segment back: 40 ms stalls seen here.
    config = f"""
{"user root;" if os.geteuid() == 0 else ""}
daemon off;
master_process off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush off;
  keepalive_requests 100000;
  server {{
    listen 127.0.0.1:{port};
    root {root};
    location = /{BUCKET} {{ default_type application/xml; try_files /list.xml =404; }}
    location / {{ default_type application/octet-stream; }}
  }}
}}
"""
    with open(os.path.join(workdir, "nginx.conf"), "w") as f:
        f.write(config)
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if nginx is None:
        sys.exit("--static needs nginx: apt-get install nginx-light")
    proc = subprocess.Popen([nginx, "-c", os.path.join(workdir, "nginx.conf"), "-p", workdir],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, wait_for(proc, port, "nginx")


def cpu_seconds(pid):
    """CPU seconds (user + system) the process `pid` has used so far, all its threads."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as stat:
        # Fields after the parenthesised command name; utime and stime are the 12th and 13th.
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sql_for(query, table, outdir):
    return q5_copy(table, outdir) if query == "q5" else SQL[query].replace("from t", f"from {table}")


def bytes_scanned(query_bin, table, where):
    # Both scans read the same columns, so that only the row groups differ.
    sql = f"EXPLAIN ANALYZE SELECT count(*), avg(value), max(timestamp) FROM {table} {where}"
    out = subprocess.run([query_bin, "-q", "--format", "csv", sql], check=True,
                         capture_output=True, text=True).stdout
    scale = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
    return sum(float(n) * scale[unit]
               for n, unit in re.findall(r"bytes_scanned=([\d.]+)\s*([KMGT]?)", out))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("datadir")
    ap.add_argument("--query", default=os.path.join(TARGET, "release", "query"))
    ap.add_argument("--python", default=os.path.join(os.path.expanduser("~"), ".cache/rask/venv/bin/python"))
    ap.add_argument("--endpoint", default=None)
    ap.add_argument("--server-pid", type=int, default=None)
    ap.add_argument("--static", action="store_true")
    ap.add_argument("--queries", default=",".join(QUERIES))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    args = ap.parse_args()
    queries = args.queries.split(",")

    server = None
    server_pid = args.server_pid
    outdir = tempfile.mkdtemp(prefix="rask_remote_bench_")
    if args.endpoint:
        endpoint = args.endpoint
    elif args.static:
        queries = [q for q in queries if q != "q5"]
        server, endpoint = start_static(args.datadir, outdir)
        server_pid = server.pid
    else:
        server, endpoint = start_moto(args.python)
        server_pid = server.pid
    if server:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ.setdefault("AWS_REGION", "us-east-1")
    try:
        if not args.static:
            patterns = sorted({SOURCE[q] for q in queries} | {SOURCE["q1p"]})
            names = sorted({os.path.basename(f) for p in patterns
                            for f in glob.glob(os.path.join(args.datadir, p))})
            started = time.time()
            upload(args.python, endpoint, args.datadir, names)
            print(f"uploaded {len(names)} files in {time.time() - started:.1f} s", file=sys.stderr)

        rows = []
        q5dir = os.path.join(outdir, "q5")
        for query in queries:
            local = f"'{os.path.join(args.datadir, SOURCE[query])}'"
            remote = f"'s3://{BUCKET}/{SOURCE[query]}'"
            cmds = {
                side: [args.query, "-q", "--format", "csv", sql_for(query, table, q5dir)]
                for side, table in (("local", local), ("s3", remote))
            }
            samples = {side: [] for side in cmds}
            for i in range(args.warmup + args.runs):
                for side, cmd in cmds.items():
                    served = cpu_seconds(server_pid)
                    wall, _, cpu = one_run(cmd, q5dir)
                    if i >= args.warmup:
                        samples[side].append((wall, cpu, cpu_seconds(server_pid) - served))
            local_s, remote_s = (statistics.median(w for w, _, _ in samples[s]) for s in ("local", "s3"))
            query_cpu, server_cpu = (statistics.median(run[k] for run in samples["s3"]) for k in (1, 2))
            local_cpu = statistics.median(cpu for _, cpu, _ in samples["local"])
            floor = (query_cpu + server_cpu) / os.cpu_count()
            rows.append((query, local_s, remote_s, local_cpu, query_cpu, server_cpu, floor))
            print(f"{query:4} local {local_s:6.3f} s  s3 {remote_s:6.3f} s  ratio {remote_s / local_s:.2f}x"
                  f"  (CPU: local {local_cpu:.2f} s; s3 query {query_cpu:.2f} s, server {server_cpu:.2f} s)",
                  file=sys.stderr, flush=True)

        cores = os.cpu_count()
        print(f"| workload | local disk | S3 (loopback) | S3 / local | local CPU | S3 CPU: query + server | CPU / {cores} cores |")
        print("|---|---|---|---|---|---|---|")
        for query, local_s, remote_s, local_cpu, query_cpu, server_cpu, floor in rows:
            print(f"| {query} | {local_s:.2f} s | {remote_s:.2f} s | {remote_s / local_s:.2f}x "
                  f"| {local_cpu:.2f} s | {query_cpu:.2f} + {server_cpu:.2f} s | {floor:.2f} s |")
        ratios = [row[2] / row[1] for row in rows]
        geo = statistics.geometric_mean(ratios)
        print(f"| geometric mean | | | {geo:.2f}x | | | |")

        table = f"'s3://{BUCKET}/{SOURCE['q1p']}'"
        # A literal bound, so that row groups are pruned by their statistics.
        first, last = subprocess.run(
            [args.query, "-q", "--format", "csv", f"SELECT min(timestamp), max(timestamp) FROM {table}"],
            check=True, capture_output=True, text=True).stdout.splitlines()[1].split(",")
        first, last = (datetime.datetime.fromisoformat(t) for t in (first, last))
        bound = (first + (last - first) / 10).isoformat(sep=" ")
        full = bytes_scanned(args.query, table, "")
        tenth = bytes_scanned(args.query, table, f"WHERE timestamp < TIMESTAMP '{bound}'")
        print(f"\nParquet bytes fetched: full scan {full:,.0f}; first tenth of timestamp {tenth:,.0f} "
              f"({tenth / full:.2f} of the full scan)")
    finally:
        shutil.rmtree(outdir, ignore_errors=True)
        if server:
            server.kill()


if __name__ == "__main__":
    main()
