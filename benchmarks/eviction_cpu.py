#!/usr/bin/env python3
"""Server CPU per request with maxmemory evicting continuously, Vermilion against Redis.

Both servers get ``maxmemory`` (default 5mb) and ``allkeys-lru``, are pre-filled
past the limit, then redis-benchmark runs SET on random keys (-r 1000000), so
nearly every SET evicts a key. The server's utime+stime (/proc/PID/stat) over
the run, divided by the requests, is reported for each side with the ratio
Vermilion/Redis, and so are requests/s (what the issue's -P 1 target is stated in): the
rounds alternate Vermilion and Redis, so a change in the machine's load touches both, and
the median of each side is given with its range. ``--baseline-python`` adds plain SET/GET without maxmemory on
a second Vermilion (e.g. a checkout without the accounting), to measure what
the accounting costs.

    python benchmarks/eviction_cpu.py -P 16
    python benchmarks/eviction_cpu.py -P 1 -n 50000
    VERMILION_PURE_PYTHON=1 python benchmarks/eviction_cpu.py --baseline-python /path/to/python
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, kind: str, python: str, extra: list[str]):
        self.port = _free_port()
        self.dir = tempfile.mkdtemp(prefix=f"evictbench-{kind}-")
        common = ["--port", str(self.port), "--save", "", "--appendonly", "no", "--dir", self.dir, *extra]
        cmd = ["redis-server", *common] if kind == "redis" else [python, "-m", "vermilion", "server", *common]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + 30
        while time.monotonic() < end:
            r = subprocess.run(["redis-cli", "-p", str(self.port), "PING"], capture_output=True, text=True)
            if r.stdout.strip() == "PONG":
                return
            time.sleep(0.1)
        raise RuntimeError(f"{kind} did not start")

    def cli(self, *args: str) -> str:
        return subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True).stdout

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def bench(server: Server, test: str, requests: int, pipeline: int, clients: int) -> tuple[float, float]:
    before = cpu_seconds(server.proc.pid)
    out = subprocess.run(["redis-benchmark", "-p", str(server.port), "-c", str(clients), "-n", str(requests),
                          "-r", "1000000", "-P", str(pipeline), "-d", "100", "-q", "-t", test],
                         capture_output=True, text=True, check=True).stdout
    used = cpu_seconds(server.proc.pid) - before
    m = re.findall(r"([\d.]+) requests per second", out)
    return used * 1e6 / requests, float(m[-1]) if m else 0.0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--baseline-python", help="a second Vermilion for plain SET/GET (accounting cost)")
    p.add_argument("-P", "--pipeline", type=int, default=16)
    p.add_argument("-n", "--requests", type=int, default=200_000)
    p.add_argument("-c", "--clients", type=int, default=50)
    p.add_argument("--maxmemory", default="5mb")
    p.add_argument("--rounds", type=int, default=3)
    opts = p.parse_args()
    limit = ["--maxmemory", opts.maxmemory, "--maxmemory-policy", "allkeys-lru"]
    print(f"# -P {opts.pipeline} -c {opts.clients} -n {opts.requests}, median of {opts.rounds}; "
          f"loop: {'pure Python' if os.environ.get('VERMILION_PURE_PYTHON') else 'default'}")
    print(f"{'test':<22} {'V us/req':>9} {'R us/req':>9} {'CPU V/R':>8} {'V evicted':>10}  "
          f"{'V req/s (range)':>24} {'R req/s (range)':>24} {'rps V/R':>8}")
    servers = {"redis": Server("redis", opts.python, limit), "vermilion": Server("vermilion", opts.python, limit)}
    try:
        for s in servers.values():          # past the limit before measuring
            bench(s, "set", 100_000, 16, 50)
        samples: dict[str, list[float]] = {"redis": [], "vermilion": []}
        rates: dict[str, list[float]] = {"redis": [], "vermilion": []}
        for _ in range(opts.rounds):
            for kind, s in servers.items():
                cpu, rate = bench(s, "set", opts.requests, opts.pipeline, opts.clients)
                samples[kind].append(cpu)
                rates[kind].append(rate)
        v, r = statistics.median(samples["vermilion"]), statistics.median(samples["redis"])
        vr, rr = statistics.median(rates["vermilion"]), statistics.median(rates["redis"])
        evicted = re.search(r"evicted_keys:(\d+)", servers["vermilion"].cli("INFO", "stats"))

        def spread(kind: str) -> str:
            return f"{statistics.median(rates[kind]):.0f} ({min(rates[kind]):.0f}-{max(rates[kind]):.0f})"
        print(f"{'SET allkeys-lru':<22} {v:9.2f} {r:9.2f} {v / r:8.2f} {evicted.group(1) if evicted else '?':>10}  "
              f"{spread('vermilion'):>24} {spread('redis'):>24} {vr / rr:8.2f}", flush=True)
        print("# CPU us/req per round, V: " + " ".join(f"{x:.2f}" for x in samples["vermilion"]) +
              "; R: " + " ".join(f"{x:.2f}" for x in samples["redis"]), flush=True)
    finally:
        for s in servers.values():
            s.stop()
    if opts.baseline_python:
        print(f"{'plain (no maxmemory)':<22} {'this':>9} {'baseline':>9} {'this/base':>9}")
        mine, base = Server("vermilion", opts.python, []), Server("vermilion", opts.baseline_python, [])
        try:
            for test in ("set", "get"):
                got: dict[str, list[float]] = {"mine": [], "base": []}
                for _ in range(opts.rounds):
                    got["mine"].append(bench(mine, test, opts.requests, opts.pipeline, opts.clients)[0])
                    got["base"].append(bench(base, test, opts.requests, opts.pipeline, opts.clients)[0])
                a, b = statistics.median(got["mine"]), statistics.median(got["base"])
                print(f"{test.upper():<22} {a:9.2f} {b:9.2f} {a / b:9.3f}", flush=True)
        finally:
            mine.stop()
            base.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
