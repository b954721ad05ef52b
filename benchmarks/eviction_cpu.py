#!/usr/bin/env python3
"""SET with maxmemory evicting continuously, Vermilion against Redis: both of issue 17's
figures in one run.

Both servers get ``maxmemory`` (default 5mb) and ``allkeys-lru`` and are filled past the
limit; then redis-benchmark runs SET on random keys (-r 1000000, 100-byte values), so
nearly every SET evicts a key. Each round measures, on each server, ``-P 16`` (server CPU
per request: what the -P 16 target is stated in) and ``-P 1`` (requests/s, the -P 1
target, and CPU per request). Within a round the order alternates (Vermilion first in
odd rounds, Redis first in even ones), so a change of the machine's load touches both
sides alike. Reported: the median of each side with its range, the ratio of the medians,
and the median of the per-round ratios (paired: each round's two figures were taken
seconds apart).

CPU time is read from ``/proc/PID/task/*/schedstat`` (nanoseconds on the CPU, summed over
the server's threads), not from the 10 ms ticks of ``/proc/PID/stat``: at -P 16 a run of
200,000 SETs costs Redis ~0.3 s, which ticks would measure to ±3%.

    python benchmarks/eviction_cpu.py                   # 5 rounds, about 1-2 minutes idle
    python benchmarks/eviction_cpu.py --rounds 9 --p1-requests 60000
    VERMILION_PURE_PYTHON=1 python benchmarks/eviction_cpu.py --baseline-python /path/to/python

``--baseline-python`` adds plain SET/GET without maxmemory on this Vermilion and on a
second one (e.g. a checkout without the accounting): the accounting's cost.
"""
from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of `pid` so far, in seconds (scheduler nanoseconds)."""
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass        # a thread that ended between the listing and the read
    return total / 1e9


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, kind: str, python: str, extra: list[str]):
        self.kind = kind
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

    def evicted(self) -> int:
        m = re.search(r"evicted_keys:(\d+)", self.cli("INFO", "stats"))
        return int(m.group(1)) if m else -1

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def bench(server: Server, test: str, requests: int, pipeline: int, clients: int) -> tuple[float, float]:
    """(server CPU us per request, requests/s) of one redis-benchmark run."""
    before = cpu_seconds(server.proc.pid)
    out = subprocess.run(["redis-benchmark", "-p", str(server.port), "-c", str(clients), "-n", str(requests),
                          "-r", "1000000", "-P", str(pipeline), "-d", "100", "-q", "-t", test],
                         capture_output=True, text=True, check=True).stdout
    used = cpu_seconds(server.proc.pid) - before
    m = re.findall(r"([\d.]+) requests per second", out)
    return used * 1e6 / requests, float(m[-1]) if m else 0.0


def _spread(values: list[float], fmt: str) -> str:
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--baseline-python", help="a second Vermilion for plain SET/GET (accounting cost)")
    p.add_argument("-n", "--requests", type=int, default=200_000, help="SETs per -P 16 run")
    p.add_argument("--p1-requests", type=int, default=40_000, help="SETs per -P 1 run")
    p.add_argument("-c", "--clients", type=int, default=50)
    p.add_argument("--maxmemory", default="5mb")
    p.add_argument("--rounds", type=int, default=5)
    opts = p.parse_args()
    limit = ["--maxmemory", opts.maxmemory, "--maxmemory-policy", "allkeys-lru"]
    print(f"# SET allkeys-lru, maxmemory {opts.maxmemory}, -c {opts.clients}, {opts.rounds} rounds "
          f"(-P 16: -n {opts.requests}; -P 1: -n {opts.p1_requests}); Vermilion: "
          f"{'pure Python' if os.environ.get('VERMILION_PURE_PYTHON') else 'default build'}; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    servers = {"vermilion": Server("vermilion", opts.python, limit), "redis": Server("redis", opts.python, limit)}
    modes = ((16, opts.requests), (1, opts.p1_requests))
    cpu: dict = {(kind, pl): [] for kind in servers for pl, _ in modes}
    rate: dict = {(kind, pl): [] for kind in servers for pl, _ in modes}
    try:
        for s in servers.values():          # past the limit before measuring
            bench(s, "set", 100_000, 16, 50)
        evicted_before = {kind: s.evicted() for kind, s in servers.items()}
        for r in range(opts.rounds):
            order = ("vermilion", "redis") if r % 2 == 0 else ("redis", "vermilion")
            for pipeline, requests in modes:
                for kind in order:
                    c, q = bench(servers[kind], "set", requests, pipeline, opts.clients)
                    cpu[kind, pipeline].append(c)
                    rate[kind, pipeline].append(q)
            print(f"# round {r + 1}: " + "; ".join(
                f"-P {pl} V {cpu['vermilion', pl][-1]:.2f} / R {cpu['redis', pl][-1]:.2f} us, "
                f"V {rate['vermilion', pl][-1]:.0f} / R {rate['redis', pl][-1]:.0f} req/s" for pl, _ in modes),
                flush=True)
        sent = opts.rounds * sum(n for _, n in modes)
        per_req = {kind: (s.evicted() - evicted_before[kind]) / sent for kind, s in servers.items()}
    finally:
        for s in servers.values():
            s.stop()
    print(f"# evictions per SET: Vermilion {per_req['vermilion']:.2f}, Redis {per_req['redis']:.2f}")
    print(f"{'':<6} {'V CPU us/req':>20} {'R CPU us/req':>20} {'CPU V/R':>8} {'paired':>7}  "
          f"{'V req/s':>22} {'R req/s':>22} {'rps V/R':>8} {'paired':>7}")
    for pipeline, _ in modes:
        vc, rc = cpu["vermilion", pipeline], cpu["redis", pipeline]
        vq, rq = rate["vermilion", pipeline], rate["redis", pipeline]
        paired_cpu = statistics.median(v / r for v, r in zip(vc, rc))
        paired_rps = statistics.median(v / r for v, r in zip(vq, rq) if r)
        print(f"-P {pipeline:<3} {_spread(vc, '.2f'):>20} {_spread(rc, '.2f'):>20} "
              f"{statistics.median(vc) / statistics.median(rc):8.2f} {paired_cpu:7.2f}  "
              f"{_spread(vq, '.0f'):>22} {_spread(rq, '.0f'):>22} "
              f"{statistics.median(vq) / statistics.median(rq):8.2f} {paired_rps:7.2f}", flush=True)
    print("# targets (issue 17): -P 16 CPU V/R <= 2.0; -P 1 rps V/R >= 0.9")
    if opts.baseline_python:
        print(f"{'plain (no maxmemory)':<22} {'this':>9} {'baseline':>9} {'this/base':>9}")
        mine, base = Server("vermilion", opts.python, []), Server("vermilion", opts.baseline_python, [])
        try:
            for test in ("set", "get"):
                got: dict[str, list[float]] = {"mine": [], "base": []}
                for _ in range(opts.rounds):
                    got["mine"].append(bench(mine, test, opts.requests, 16, opts.clients)[0])
                    got["base"].append(bench(base, test, opts.requests, 16, opts.clients)[0])
                a, b = statistics.median(got["mine"]), statistics.median(got["base"])
                print(f"{test.upper():<22} {a:9.2f} {b:9.2f} {a / b:9.3f}", flush=True)
        finally:
            mine.stop()
            base.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
