#!/usr/bin/env python3
"""SET at -P 1 on a primary with one replica: many short interleaved rounds.

One `redis-benchmark -P 1` run per server says little on a shared 2-core machine: the
load of other processes changes within seconds (last measured: 0.81x and 1.89x with the
same build). So four primaries run side by side for the whole measurement, and each
round runs the same short benchmark against each of them, in an order that rotates from
round to round:

* Vermilion primary with a redis-server replica, Redis primary with a redis-server replica
  (the replica is the same program in both, so the comparison is the primary's);
* Vermilion and Redis primaries without a replica (what the replica itself costs).

Per configuration: requests/s and the primary's CPU per request (utime+stime / requests,
as cpu_per_request.py measures it), and the replica's CPU per request. Reported: the
median and the interquartile range over the rounds, and the ratio Vermilion / Redis
taken round by round (the two ran seconds apart), also as a median and quartiles.
All four see the same client settings; no taskset/nice is applied to any process.

    python benchmarks/replication_p1.py                  # 15 rounds of 20,000 SETs
    python benchmarks/replication_p1.py --rounds 25 -n 30000 --json out.json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cpu_per_request import Server, cpu_seconds, run_one  # noqa: E402
from replication import Replica  # noqa: E402

CONFIGS = ("vermilion+replica", "redis+replica", "vermilion", "redis")


def quartiles(xs: list[float]) -> tuple[float, float, float]:
    if len(xs) < 2:
        return (xs[0], xs[0], xs[0])
    q1, q2, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return q1, q2, q3


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--python", default=sys.executable)
    p.add_argument("-n", "--requests", type=int, default=20_000)
    p.add_argument("-c", "--clients", type=int, default=50)
    p.add_argument("-P", "--pipeline", type=int, default=1)
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--replica-nice", type=int, default=0,
                   help="renice both replicas by this much (the same for both sides): does the "
                        "replica's wake-up on each write take the primary's CPU?")
    p.add_argument("--json")
    opts = p.parse_args(argv)

    servers: dict[str, Server] = {}
    replicas: dict[str, Replica] = {}
    samples: dict[str, list[dict]] = {c: [] for c in CONFIGS}
    load_before = loadavg()
    t_start = time.monotonic()
    try:
        for config in CONFIGS:
            kind = config.split("+")[0]
            servers[config] = s = Server(kind, opts.python)
            subprocess.run(["redis-cli", "-p", str(s.port), "CONFIG", "SET", "repl-diskless-sync-delay", "0"],
                           capture_output=True, check=True)
            if config.endswith("+replica"):
                replicas[config] = r = Replica(s.port)
                r.wait_up()
                if opts.replica_nice:
                    os.setpriority(os.PRIO_PROCESS, r.proc.pid, opts.replica_nice)
        impl = servers["vermilion"].implementation()
        print(f"# Vermilion loop: {impl}; -P {opts.pipeline} -c {opts.clients} -n {opts.requests}, "
              f"{opts.rounds} rounds; replicas niced by {opts.replica_nice}; load average {load_before}", flush=True)
        for i in range(opts.rounds):
            order = CONFIGS[i % len(CONFIGS):] + CONFIGS[:i % len(CONFIGS)]
            for config in order:
                replica = replicas.get(config)
                r_before = cpu_seconds(replica.proc.pid) if replica else 0.0
                cpu, rps = run_one(servers[config], ["-t", "set"], opts.requests, opts.pipeline,
                                   opts.clients)
                sample = {"cpu_us": cpu, "rps": rps}
                if replica:
                    sample["replica_cpu_us"] = (cpu_seconds(replica.proc.pid) - r_before) * 1e6 / opts.requests
                samples[config].append(sample)
    finally:
        for r in replicas.values():
            r.stop()
        for s in servers.values():
            s.stop()
    load_after = loadavg()

    def summary(values: list[float]) -> dict:
        q1, med, q3 = quartiles(values)
        return {"median": med, "q1": q1, "q3": q3}

    result: dict = {"loop": impl, "pipeline": opts.pipeline, "clients": opts.clients,
                    "replica_nice": opts.replica_nice,
                    "requests": opts.requests, "rounds": opts.rounds,
                    "load_before": load_before, "load_after": load_after,
                    "seconds": time.monotonic() - t_start, "configs": {}, "ratios": {}}
    print(f"{'configuration':<18} {'req/s median [q1-q3]':>28} {'primary us/req [q1-q3]':>26} "
          f"{'replica us/req':>14}")
    for config in CONFIGS:
        rows = samples[config]
        entry = {key: summary([row[key] for row in rows]) for key in rows[0]}
        result["configs"][config] = entry
        rps, cpu = entry["rps"], entry["cpu_us"]
        rep = entry.get("replica_cpu_us")
        print(f"{config:<18} {rps['median']:10.0f} [{rps['q1']:6.0f}-{rps['q3']:6.0f}]   "
              f"{cpu['median']:8.2f} [{cpu['q1']:5.2f}-{cpu['q3']:5.2f}]   "
              f"{rep['median'] if rep else float('nan'):12.2f}")
    # Each round's CPU is counted in clock ticks (10 ms): the mean over all rounds is finer.
    means = {c: statistics.fmean(row["cpu_us"] for row in samples[c]) for c in CONFIGS}
    result["cpu_us_mean"] = means
    print("primary us/req, mean of all rounds: " +
          ", ".join(f"{c} {means[c]:.2f}" for c in CONFIGS))
    print("V/R, round by round (median [q1-q3]):")
    for suffix in ("+replica", ""):
        v, r = samples["vermilion" + suffix], samples["redis" + suffix]
        for key, label in (("rps", "req/s"), ("cpu_us", "primary CPU/req")):
            ratios = [a[key] / b[key] for a, b in zip(v, r)]
            s = summary(ratios)
            result["ratios"][f"{key}{suffix or ' alone'}"] = s
            print(f"  {label:<16} {'with replica' if suffix else 'no replica':<13} "
                  f"{s['median']:5.2f} [{s['q1']:4.2f}-{s['q3']:4.2f}]")
    print(f"# load average before {load_before}, after {load_after}; {result['seconds']:.0f} s")
    if opts.json:
        Path(opts.json).write_text(json.dumps({"result": result, "samples": samples}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
