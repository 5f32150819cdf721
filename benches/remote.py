#!/usr/bin/env python3
"""The tutorial workloads over an S3-compatible server on 127.0.0.1 against the same files on
local disk, through the same `query` binary.

Usage:
    remote.py DATADIR [--query BIN] [--server moto|garage|nginx] [--python MOTO_PYTHON]
              [--garage BIN] [--endpoint URL [--server-pid PID]] [--pin]
              [--queries q1,q2,...] [--runs N] [--warmup W]

DATADIR holds the data of ../shared/bench/gen_data.py (seed_a/seed_b/seed_c). The server:

- moto (the default): `moto_server` from the virtualenv of MOTO_PYTHON (moto[server] from
  PyPI), an S3 server in one Python process.
- garage: Garage, an S3 server in Rust, run as one node with compression off: `garage` on
  the PATH, else the one `.ci/run` installs in ~/.cache/rask/garage/bin (`cargo install
  garage --locked --no-default-features --features bundled-libs,sqlite`), or --garage BIN.
  It checks each block's hash as it reads it (BLAKE2): about half of its CPU.
- nginx (Debian's package) serving DATADIR: GET with a byte range and HEAD of each file as
  S3 answers them, and the bucket's listing as one fixed document (the client picks the keys
  its glob matches). It is not an S3 server (it checks no signature and takes no writes, so
  q5 is left out) but the least a server can cost: what remains of the ratio is the
  client's own.
- --endpoint: any S3-compatible server already running there (its credentials from
  AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY).

The files are uploaded to bucket `rask-bench` (but for nginx); each workload's answers over
S3 are checked against the local ones (floats to 1e-9, as the order of summing differs);
then each workload runs N times on each side, the two sides taking turns; printed are the
medians and the ratio remote / local.

It prints the CPU seconds each side's query spent, and with the server's process id (the
server it starts, or --server-pid) the server's: both share the machine's cores, so
(query CPU + server CPU) / cores is the least wall time the S3 side can take here. With
--pin, the server runs on the last core alone and both sides' queries on the others, as
when the server is another machine: the ratio is then the client's cost of reading over
HTTP from a server that keeps up, not the server's CPU taken from the query.

It also reads a tenth of the row groups of the Parquet files (a filter on the first tenth of
`timestamp`) and prints the bytes the scan fetched (EXPLAIN ANALYZE's `bytes_scanned`) next
to those of a full scan.
"""
import argparse
import datetime
import glob
import math
import os
import re
import secrets
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


def start_moto(python, workdir, cores):
    port = free_port()
    server = os.path.join(os.path.dirname(python), "moto_server")
    proc = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)], preexec_fn=on_cores(cores),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, wait_for(proc, port, "moto_server"), ("bench", "bench")


def start_garage(binary, workdir, cores):
    """One Garage node holding BUCKET, with a key of its own (Garage's key ids are GK and 24
    hex digits, its secrets 64)."""
    if not binary or not os.access(binary, os.X_OK):
        sys.exit("--server garage needs Garage: cargo install garage --locked "
                 "--no-default-features --features bundled-libs,sqlite (or --garage BIN)")
    port, rpc_port = free_port(), free_port()
    key = ("GK" + secrets.token_hex(12), secrets.token_hex(32))
    config = os.path.join(workdir, "garage.toml")
    with open(config, "w") as f:
        f.write(f"""metadata_dir = "{workdir}/garage/meta"
data_dir = "{workdir}/garage/data"
db_engine = "sqlite"
replication_factor = 1
compression_level = "none"
rpc_bind_addr = "127.0.0.1:{rpc_port}"
rpc_secret = "{secrets.token_hex(32)}"

[s3_api]
s3_region = "us-east-1"
api_bind_addr = "127.0.0.1:{port}"
""")
    env = dict(os.environ, RUST_LOG="warn", GARAGE_DEFAULT_ACCESS_KEY=key[0],
               GARAGE_DEFAULT_SECRET_KEY=key[1], GARAGE_DEFAULT_BUCKET=BUCKET)
    log = open(os.path.join(workdir, "garage.log"), "w")
    proc = subprocess.Popen([binary, "-c", config, "server", "--single-node", "--default-bucket"],
                            env=env, preexec_fn=on_cores(cores), stdout=log, stderr=log)
    return proc, wait_for(proc, port, "garage"), key


def on_cores(cores):
    """For Popen's preexec_fn: the child and every thread it starts run on `cores` only."""
    return None if cores is None else lambda: os.sched_setaffinity(0, cores)


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
except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
    pass
for name in sys.argv[1:]:
    s3.upload_file(os.path.join({datadir!r}, name), {BUCKET!r}, name)
"""
    subprocess.run([python, "-c", script, *names], check=True)


def start_static(datadir, workdir, cores):
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
                            preexec_fn=on_cores(cores), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, wait_for(proc, port, "nginx"), ("bench", "bench")


def cpu_seconds(pid):
    """CPU seconds (user + system) the process `pid` has used so far, all its threads."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as stat:
        # Fields after the parenthesised command name; utime and stime are the 12th and 13th.
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def check_answers(query, cmds, outdir):
    """Exits unless both sides answer the same: the same lines, numbers equal to 1e-9 (sums
    are added up in another order when the files are read in other pieces)."""
    def answer(cmd):
        shutil.rmtree(outdir, ignore_errors=True)
        return [line.split(",") for line in subprocess.run(
            cmd, check=True, capture_output=True, text=True).stdout.splitlines()]

    def same(a, b):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
        except ValueError:
            return a == b

    local, remote = answer(cmds["local"]), answer(cmds["s3"])
    if len(local) != len(remote) or any(
            len(x) != len(y) or not all(map(same, x, y)) for x, y in zip(local, remote)):
        sys.exit(f"{query}: the answer over S3 differs from the local one:\n{local}\n{remote}")


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
    ap.add_argument("--server", choices=["moto", "garage", "nginx"], default="moto")
    ap.add_argument("--garage", default=shutil.which("garage")
                    or os.path.join(os.path.expanduser("~"), ".cache/rask/garage/bin/garage"))
    ap.add_argument("--endpoint", default=None)
    ap.add_argument("--server-pid", type=int, default=None)
    ap.add_argument("--pin", action="store_true")
    ap.add_argument("--queries", default=",".join(QUERIES))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    args = ap.parse_args()
    queries = args.queries.split(",")

    cores = sorted(os.sched_getaffinity(0))
    server_cores = {cores[-1]} if args.pin else None
    if args.pin and len(cores) < 2:
        sys.exit("--pin needs two cores or more")

    server = None
    server_pid = args.server_pid
    outdir = tempfile.mkdtemp(prefix="rask_remote_bench_")
    if args.endpoint:
        endpoint = args.endpoint
        if args.pin and server_pid:
            for thread in os.listdir(f"/proc/{server_pid}/task"):
                os.sched_setaffinity(int(thread), server_cores)
    else:
        if args.server == "nginx":
            queries = [q for q in queries if q != "q5"]
            server, endpoint, key = start_static(args.datadir, outdir, server_cores)
        elif args.server == "garage":
            server, endpoint, key = start_garage(args.garage, outdir, server_cores)
        else:
            server, endpoint, key = start_moto(args.python, outdir, server_cores)
        server_pid = server.pid
        os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"] = key
    if args.pin:
        # Inherited by every query this process starts, on either side.
        os.sched_setaffinity(0, set(cores[:-1]))
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ.setdefault("AWS_REGION", "us-east-1")
    try:
        if args.endpoint or args.server != "nginx":
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
            check_answers(query, cmds, q5dir)
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
            # The least wall time the CPU allows: the cores the query and server share, or
            # (pinned) the slower of the two on its own cores.
            floor = (max(query_cpu / (len(cores) - 1), server_cpu) if args.pin
                     else (query_cpu + server_cpu) / len(cores))
            rows.append((query, local_s, remote_s, local_cpu, query_cpu, server_cpu, floor))
            print(f"{query:4} local {local_s:6.3f} s  s3 {remote_s:6.3f} s  ratio {remote_s / local_s:.2f}x"
                  f"  (CPU: local {local_cpu:.2f} s; s3 query {query_cpu:.2f} s, server {server_cpu:.2f} s)",
                  file=sys.stderr, flush=True)

        print("| workload | local disk | S3 (loopback) | S3 / local | local CPU | S3 CPU: query + server | CPU floor |")
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
