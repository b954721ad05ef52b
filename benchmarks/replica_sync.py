#!/usr/bin/env python3
"""The replica side against real Redis: a real redis-server primary holding --keys
string keys (DEBUG POPULATE), and a fresh replica of it, Vermilion or redis-server.
Measured:

* full sync: from REPLICAOF to master_link_status:up (transfer and load of the RDB),
  and the replica's peak RSS by then (VmHWM) beside its RSS once synced, with the replica's --load
  (repl-diskless-load: disabled writes the RDB to disk first, on-empty-db parses it
  from the socket) and a disk or disk-less primary (--primary-sync);
* apply (--apply N): the replica's CPU (utime+stime) per write while it applies N
  SETs (redis-benchmark -P 16 on the primary) until its offset is the primary's.

    python benchmarks/replica_sync.py --keys 1000000 --rounds 3
    python benchmarks/replica_sync.py --keys 1000 --apply 300000 --rounds 3
"""
from __future__ import annotations

import argparse
import os
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


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int, field: str = "VmHWM") -> float:
    """The process's peak (VmHWM) or current (VmRSS) resident set, in MB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def wait_up(client: redis.Redis) -> None:
    while True:
        try:
            if client.info("replication").get("master_link_status") == "up":
                return
        except redis.BusyLoadingError:
            pass
        time.sleep(0.01)


def replica(kind: str, parent: str, load: str) -> tuple[subprocess.Popen, redis.Redis]:
    """A fresh replica process in a directory of its own under `parent`: an RDB a former
    replica left there (a disk-based sync keeps it as dbfilename) would be loaded at start."""
    port = str(free_port())
    directory = tempfile.mkdtemp(dir=parent)
    argv = ([sys.executable, "-m", "vermilion", "server"] if kind == "vermilion"
            else [shutil.which("redis-server")]) + ["--port", port, "--save", "", "--dir", directory,
                                                     "--repl-diskless-load", load]
    return start(argv)


def sync_once(kind: str, primary_port: int, directory: str, load: str) -> tuple[float, float, float]:
    """(seconds to sync, peak RSS, RSS once synced, in MB) of a fresh replica: the
    difference of the two is what the sync itself held beyond the dataset."""
    proc, client = replica(kind, directory, load)
    try:
        started = time.monotonic()
        client.replicaof("127.0.0.1", primary_port)
        wait_up(client)
        return time.monotonic() - started, rss_mb(proc.pid), rss_mb(proc.pid, "VmRSS")
    finally:
        proc.kill()
        proc.wait()


def apply_cpu_us(kind: str, primary_port: int, directory: str, writes: int) -> float:
    """Replica CPU microseconds per applied SET."""
    proc, client = replica(kind, directory, "disabled")
    primary = redis.Redis(port=primary_port)
    try:
        client.replicaof("127.0.0.1", primary_port)
        wait_up(client)
        before = cpu_seconds(proc.pid)
        subprocess.run(["redis-benchmark", "-p", str(primary_port), "-c", "50", "-n", str(writes),
                        "-r", "100000", "-P", "16", "-q", "-t", "set"], capture_output=True, check=True)
        target = primary.info("replication")["master_repl_offset"]
        while client.info("replication")["slave_repl_offset"] < target:
            time.sleep(0.005)
        return (cpu_seconds(proc.pid) - before) * 1e6 / writes
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--load", default="disabled", choices=("disabled", "on-empty-db", "swapdb"))
    parser.add_argument("--primary-sync", default="diskless", choices=("disk", "diskless"))
    parser.add_argument("--apply", type=int, default=0, help="also measure CPU per applied write")
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="replica-sync-")
    port = free_port()
    primary, client = start([shutil.which("redis-server"), "--port", str(port), "--save", "",
                             "--dir", directory, "--enable-debug-command", "yes",
                             "--repl-diskless-sync", "yes" if args.primary_sync == "diskless" else "no",
                             "--repl-diskless-sync-delay", "0"])
    kinds = ("redis", "vermilion")
    try:
        client.execute_command("DEBUG", "POPULATE", args.keys)
        syncs = {kind: [sync_once(kind, port, directory, args.load) for _ in range(args.rounds)]
                 for kind in kinds}
        applied = {kind: [apply_cpu_us(kind, port, directory, args.apply) for _ in range(args.rounds)]
                   for kind in kinds} if args.apply else {}
    finally:
        primary.kill()
        primary.wait()
        shutil.rmtree(directory, ignore_errors=True)
    median = {}
    for kind in kinds:
        secs = statistics.median(s for s, _, _ in syncs[kind])
        rss = statistics.median(m for _, m, _ in syncs[kind])
        after = statistics.median(m for _, _, m in syncs[kind])
        median[kind] = secs
        print(f"{kind:10} full sync of {args.keys} keys ({args.primary_sync} primary, load "
              f"{args.load}): median {secs:.2f} s, peak RSS {rss:.0f} MB, {after:.0f} MB once "
              f"synced (runs: {', '.join(f'{s:.2f}' for s, _, _ in syncs[kind])})")
    print(f"ratio vermilion/redis: {median['vermilion'] / median['redis']:.2f}")
    if applied:
        for kind in kinds:
            print(f"{kind:10} replica CPU per applied SET: median {statistics.median(applied[kind]):.2f} us "
                  f"(runs: {', '.join(f'{v:.2f}' for v in applied[kind])})")
        print(f"ratio vermilion/redis: "
              f"{statistics.median(applied['vermilion']) / statistics.median(applied['redis']):.2f}")


if __name__ == "__main__":
    main()
