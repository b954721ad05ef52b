#!/usr/bin/env python3
"""The replica side against real Redis: a real redis-server primary holding --keys
string keys (DEBUG POPULATE), and a fresh replica of it, Vermilion or redis-server.
Measured: from REPLICAOF to master_link_status:up (transfer and load of the RDB).

    python benchmarks/replica_sync.py --keys 1000000 --rounds 3
"""
from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import redis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(argv: list[str]) -> tuple[subprocess.Popen, redis.Redis]:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=int(argv[argv.index("--port") + 1]), socket_timeout=300)
    deadline = time.monotonic() + 60
    while True:
        try:
            client.ping()
            return proc, client
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def sync_seconds(kind: str, primary_port: int, directory: str) -> float:
    port = str(free_port())
    argv = ([sys.executable, "-m", "vermilion", "server"] if kind == "vermilion"
            else [shutil.which("redis-server")]) + ["--port", port, "--save", "", "--dir", directory]
    proc, client = start(argv)
    try:
        started = time.monotonic()
        client.replicaof("127.0.0.1", primary_port)
        while True:
            try:
                if client.info("replication").get("master_link_status") == "up":
                    return time.monotonic() - started
            except redis.BusyLoadingError:
                pass
            time.sleep(0.01)
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="replica-sync-")
    port = free_port()
    primary, client = start([shutil.which("redis-server"), "--port", str(port), "--save", "",
                             "--dir", directory, "--enable-debug-command", "yes",
                             "--repl-diskless-sync-delay", "0"])
    try:
        client.execute_command("DEBUG", "POPULATE", args.keys)
        times = {kind: [sync_seconds(kind, port, directory) for _ in range(args.rounds)]
                 for kind in ("redis", "vermilion")}
    finally:
        primary.kill()
        primary.wait()
        shutil.rmtree(directory, ignore_errors=True)
    for kind, values in times.items():
        print(f"{kind:10} full sync of {args.keys} keys: median {statistics.median(values):.2f} s")
    print(f"ratio vermilion/redis: {statistics.median(times['vermilion']) / statistics.median(times['redis']):.2f}")


if __name__ == "__main__":
    main()
