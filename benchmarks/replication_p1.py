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

Per configuration and round, from the kernel's scheduler statistics of every thread of
the primary (/proc/PID/task/*/schedstat, nanoseconds, not clock ticks): its CPU per
request, the time it was runnable but waiting for a core per request (``wait``), and
how many times it was put on a core per request (``slices``); requests/s as
redis-benchmark reports it; and the replica's CPU per request. ``wait`` is what
requests/s at -P 1 depends on besides CPU on a shared machine: while the primary
waits for a core, its 50 clients wait for their replies. Reported: the median and
the interquartile range over the rounds, and the ratio Vermilion / Redis taken round
by round (the two ran seconds apart), also as a median and quartiles. All four see
the same client settings; no taskset/nice is applied to any process.

    python benchmarks/replication_p1.py                  # 15 rounds of 20,000 SETs
    python benchmarks/replication_p1.py --rounds 25 -n 30000 --json out.json
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cpu_per_request import Server  # noqa: E402
from replication import Replica  # noqa: E402

CONFIGS = ("vermilion+replica", "redis+replica", "vermilion", "redis")


def quartiles(xs: list[float]) -> tuple[float, float, float]:
    if len(xs) < 2:
        return (xs[0], xs[0], xs[0])
    q1, q2, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return q1, q2, q3


def schedstat(pid: int) -> tuple[int, int, int]:
    """(ns on a core, ns runnable but waiting for one, times put on a core), summed over
    the process's threads (a thread that ended meanwhile is not counted)."""
    run = wait = slices = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            a, b, c = (task / "schedstat").read_text().split()
        except (OSError, ValueError):
            continue
        run, wait, slices = run + int(a), wait + int(b), slices + int(c)
    return run, wait, slices


SYSCALLS = ("syscalls:sys_enter_epoll_wait", "syscalls:sys_enter_epoll_pwait", "syscalls:sys_enter_write", "syscalls:sys_enter_sendto")


def switches(pid: int) -> tuple[int, int]:
    """(voluntary, involuntary) context switches of the process's threads: how often it
    went to sleep waiting for input (for a replica: about one per write of the primary it
    read), and how often it was taken off a core while it could still run (preempted)."""
    vol = invol = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            for line in (task / "status").read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    vol += int(line.split()[1])
                elif line.startswith("nonvoluntary_ctxt_switches:"):
                    invol += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return vol, invol


def one_round(server: Server, replica, opts) -> dict:
    """One redis-benchmark run against `server`; per request: the primary's, the
    replica's and the benchmark client's scheduler figures."""
    port = str(server.port)
    subprocess.run(["redis-cli", "-p", port, "FLUSHALL"], capture_output=True, check=True)
    n = opts.requests
    pid = server.proc.pid
    before, r_before = schedstat(pid), (replica and schedstat(replica.proc.pid))
    w_before = replica and switches(replica.proc.pid)[0]
    p_before = switches(pid)[1]
    perf = None
    if opts.syscalls:
        # The primary's system calls during the run: epoll_wait is one per event-loop turn.
        perf = subprocess.Popen(["perf", "stat", "-x", ",", "-e", ",".join(SYSCALLS), "-p", str(pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.2)     # perf attaches to the process
    client = subprocess.Popen(["redis-benchmark", "-p", port, "-c", str(opts.clients), "-n", str(n),
                               "-r", "100000", "-P", str(opts.pipeline), "-q", "-t", "set"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    # The client's figures can only be read while it runs: the last reading, at most a
    # poll interval before its end, stands for the whole run.
    client_stat = (0, 0, 0)
    while client.poll() is None:
        try:
            client_stat = schedstat(client.pid)
        except OSError:
            break
        time.sleep(0.005)
    out = client.communicate()[0]
    after = schedstat(pid)
    preempted = switches(pid)[1] - p_before
    counts = {}
    if perf is not None:
        perf.send_signal(signal.SIGINT)
        for line in perf.communicate()[1].splitlines():
            fields = line.split(",")
            if len(fields) > 2 and fields[2].startswith("syscalls:sys_enter_"):
                name = fields[2][len("syscalls:sys_enter_"):]
                counts[name] = int(fields[0]) / n if fields[0].isdigit() else float("nan")
    if client.returncode:
        raise RuntimeError(f"redis-benchmark failed on port {port}")
    m = re.findall(r"([\d.]+) requests per second", out)
    sample = {"rps": float(m[-1]), "cpu_us": (after[0] - before[0]) / 1e3 / n,
              "wait_us": (after[1] - before[1]) / 1e3 / n,
              "slices": (after[2] - before[2]) / n, "preempted": preempted / n,
              "client_cpu_us": client_stat[0] / 1e3 / n, "client_wait_us": client_stat[1] / 1e3 / n}
    if counts:
        sample["turns"] = counts.get("epoll_wait", 0.0) + counts.get("epoll_pwait", 0.0)
        # Redis reads and writes with read/write, asyncio with recvfrom/sendto.
        sample["writes"] = counts.get("write", 0.0) + counts.get("sendto", 0.0)
    if replica:
        sample["replica_cpu_us"] = (schedstat(replica.proc.pid)[0] - r_before[0]) / 1e3 / n
        sample["replica_wakeups"] = (switches(replica.proc.pid)[0] - w_before) / n
    return sample


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
    p.add_argument("--syscalls", action="store_true",
                   help="count the primary's event-loop turns and writes per request with "
                        "perf stat (syscall tracepoints: root or perf_event_paranoid <= -1)")
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
                sample = one_round(servers[config], replica, opts)
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
    print(f"{'configuration':<18} {'req/s median [q1-q3]':>24} {'primary CPU us/req':>22} "
          f"{'wait us/req':>20} {'slices/req':>17} {'client CPU, wait':>16} {'replica us, wakeups/req':>24}")
    for config in CONFIGS:
        rows = samples[config]
        entry = {key: summary([row[key] for row in rows]) for key in rows[0]}
        result["configs"][config] = entry
        rep = entry.get("replica_cpu_us")

        def cell(key: str, fmt: str, entry: dict = entry) -> str:
            e = entry[key]
            return f"{e['median']:{fmt}} [{e['q1']:{fmt}}-{e['q3']:{fmt}}]"
        print(f"{config:<18} {cell('rps', '6.0f'):>24} {cell('cpu_us', '5.2f'):>22} "
              f"{cell('wait_us', '5.1f'):>20} {cell('slices', '4.2f'):>17} "
              f"{entry['client_cpu_us']['median']:7.2f} {entry['client_wait_us']['median']:7.2f}  "
              f"{rep['median'] if rep else float('nan'):10.2f} "
              f"{entry['replica_wakeups']['median'] if rep else float('nan'):6.3f}")
    print("the primary preempted per request (median): " + ", ".join(
        f"{c} {result['configs'][c]['preempted']['median']:.4f}" for c in CONFIGS))
    if opts.syscalls:
        print("the primary's event-loop turns and writes per request (median): " + ", ".join(
            f"{c} {result['configs'][c]['turns']['median']:.3f} / {result['configs'][c]['writes']['median']:.3f}"
            for c in CONFIGS))
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
