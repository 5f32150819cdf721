"""A cluster worker process: ``python -m rask._worker worker --scheduler HOST:PORT ...``, the
arguments a LocalCluster gives the ``query worker`` command, served by the same engine."""

from __future__ import annotations

import argparse
import sys

from . import _rask


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="rask-worker")
    parser.add_argument("command", choices=["worker"])
    parser.add_argument("--scheduler", required=True)
    parser.add_argument("--bind", default="127.0.0.1:0")
    parser.add_argument("--slots", type=int)
    parser.add_argument("--memory-limit", type=int)
    parser.add_argument("--exit-with-parent", action="store_true")
    args = parser.parse_args(argv)
    _rask.serve_worker(args.scheduler, args.bind, args.slots, args.memory_limit, args.exit_with_parent)


if __name__ == "__main__":
    main(sys.argv[1:])
