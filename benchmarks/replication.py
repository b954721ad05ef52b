#!/usr/bin/env python3
"""A primary with one replica attached: Vermilion against real Redis.

The replica is a real redis-server in both cases, so what differs is the primary.

* SET: server CPU per request on the primary (utime+stime / requests, as
  cpu_per_request.py measures it) and requests/s (thousands) at -P 16 and -P 1, with
  the replica attached (and CPU at -P 16 before it attached, for reference).
* Replication lag under that -P 16 load: a probe client XADDs an entry on the primary
  and, from the primary's reply, waits for it on the replica with an XREAD BLOCK sent
  before (``--lag-probe poll``: GETs a key from the replica in a loop, the older
  measure, which competes for the CPU it measures); median and p99 of that delay.
  ``--lag-only`` runs just this part.
* Full sync: a fresh replica of a primary holding --keys string keys, from its start
  to master_link_status:up (the primary's default diskless sync, without delay).

    python benchmarks/replication.py                    # defaults
    python benchmarks/replication.py --keys 1000000 --rounds 3 --json out.json
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import redis  # noqa: E402

from cpu_per_request import Server, run_one, wait_ready  # noqa: E402
from vbench.resp import RawConn, encode  # noqa: E402
from vbench.servers import free_port  # noqa: E402

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


class Replica:
    """A redis-server replicating from `port`."""

    def __init__(self, port: int):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="replbench-replica-")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [REDIS, "--port", str(self.port), "--save", "", "--appendonly", "no", "--dir", self.dir,
             "--replicaof", "127.0.0.1", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_ready(self.port)
        self.client = redis.Redis(port=self.port)

    def wait_up(self, timeout: float = 600.0) -> float:
        """Seconds from the replica's start until its link is up (the sync is done)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.client.info("replication").get("master_link_status") == "up":
                return time.monotonic() - self.started
            time.sleep(0.01)
        raise RuntimeError("replica never synced")

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def lag_samples(primary_port: int, replica: Replica, n: int, load: threading.Event,
                how: str = "block") -> list[float]:
    """Milliseconds from a write on the primary (its reply) to its arrival on the replica.

    ``block`` (the default): the probe has an XREAD BLOCK for the entry waiting on the
    replica before it XADDs on the primary, and sleeps in recv until the replica
    serves it. ``poll``: it GETs the key from the replica in a loop until the value
    shows, which keeps a core busy: on a 2-core machine already saturated by the
    load generator and a primary that uses a whole core (Vermilion) that probe
    mostly measures the scheduler (time slices of several ms), not replication.
    """
    out = []
    if how == "poll":
        p = redis.Redis(port=primary_port)
        for i in range(n):
            if not load.is_set():
                break
            p.set("lag:probe", i)
            t0 = time.perf_counter()        # from the primary's reply: the write is done there
            want = str(i).encode()
            while replica.client.get("lag:probe") != want:
                pass
            out.append((time.perf_counter() - t0) * 1000)
        return out
    p = RawConn("127.0.0.1", primary_port)
    r = RawConn("127.0.0.1", replica.port)
    p.send(encode("DEL", "lag:stream"))
    p.read_reply()
    try:
        for i in range(1, n + 1):
            if not load.is_set():
                break
            # Entries i-1 with explicit IDs: the read asks for what follows the previous one,
            # so it is answered whether it reaches the replica before the entry or after.
            r.send(encode("XREAD", "BLOCK", "0", "STREAMS", "lag:stream", f"{i - 1}-1"))
            p.send(encode("XADD", "lag:stream", "MAXLEN", "1", f"{i}-1", "v", str(i)))
            p.read_reply()
            t0 = time.perf_counter()
            r.read_reply()
            out.append((time.perf_counter() - t0) * 1000)
    finally:
        p.close()
        r.close()
    return out


def measure(kind: str, python: str, opts) -> dict:
    primary = Server(kind, python)
    subprocess.run(["redis-cli", "-p", str(primary.port), "CONFIG", "SET", "repl-diskless-sync-delay", "0"],
                   capture_output=True, check=True)
    out: dict = {}
    if not opts.lag_only:
        cpu = [run_one(primary, ["-t", "set"], opts.requests, 16, opts.clients)[0]
               for _ in range(opts.rounds)]
        out["set_P16_alone_us"] = statistics.median(cpu)
    replica = Replica(primary.port)
    try:
        replica.wait_up()
        for pipeline in () if opts.lag_only else (16, 1):
            runs = [run_one(primary, ["-t", "set"], opts.requests // (4 if pipeline == 1 else 1),
                            pipeline, opts.clients) for _ in range(opts.rounds)]
            out[f"set_P{pipeline}_us"] = statistics.median(cpu for cpu, _ in runs)
            out[f"set_P{pipeline}_krps"] = statistics.median(rps for _, rps in runs) / 1000
        load = threading.Event()
        load.set()
        bench = subprocess.Popen(["redis-benchmark", "-p", str(primary.port),
                                  "-c", str(opts.lag_clients or opts.clients),
                                  "-n", str(opts.requests * 4), "-r", "100000",
                                  "-P", str(opts.lag_pipeline), "-q", "-t", "set"],
                                 stdout=subprocess.DEVNULL)
        # Samples are taken under load only: the probe stops when the load ends.
        threading.Thread(target=lambda: (bench.wait(), load.clear()), daemon=True).start()
        try:
            time.sleep(0.5)
            lags = sorted(lag_samples(primary.port, replica, opts.lag_samples, load, opts.lag_probe))
        finally:
            bench.kill()
            bench.wait()
        out["lag_median_ms"] = statistics.median(lags)
        out["lag_p99_ms"] = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
        out["lag_samples"] = len(lags)
    finally:
        replica.stop()
    if opts.lag_only:
        primary.stop()
        return out
    try:
        fill = redis.Redis(port=primary.port)
        fill.flushall()
        batch = 1000
        pipe = fill.pipeline(transaction=False)
        for start in range(0, opts.keys, batch):
            pipe.mset({f"key:{i}": f"value:{i}" for i in range(start, min(start + batch, opts.keys))})
            if len(pipe) >= 50:
                pipe.execute()
        pipe.execute()
        assert fill.dbsize() == opts.keys
        times = []
        for _ in range(opts.rounds):
            fresh = Replica(primary.port)
            try:
                times.append(fresh.wait_up())
            finally:
                fresh.stop()
        out["full_sync_s"] = statistics.median(times)
    finally:
        primary.stop()
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--python", default=sys.executable)
    p.add_argument("-n", "--requests", type=int, default=200_000)
    p.add_argument("-c", "--clients", type=int, default=50)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--keys", type=int, default=1_000_000)
    p.add_argument("--lag-samples", type=int, default=300)
    p.add_argument("--lag-probe", choices=("block", "poll"), default="block",
                   help="how the lag probe waits for the replica (see lag_samples)")
    p.add_argument("--lag-only", action="store_true", help="only SET -P 16 load with the lag probe")
    # A saturating load measures throughput too: the faster primary outruns a CPU-starved
    # replica. Fewer clients without pipelining compare the two at a load neither saturates.
    p.add_argument("--lag-clients", type=int, default=0, help="clients of the load (default -c)")
    p.add_argument("--lag-pipeline", type=int, default=16, help="pipeline of the load")
    p.add_argument("--json")
    opts = p.parse_args(argv)
    results = {kind: measure(kind, opts.python, opts) for kind in ("redis", "vermilion")}
    v, r = results["vermilion"], results["redis"]
    print(f"{'metric':<16} {'Vermilion':>10} {'Redis':>10} {'V/R':>6}")
    for key in ("set_P16_alone_us", "set_P16_us", "set_P1_us", "set_P16_krps", "set_P1_krps",
                "lag_median_ms", "lag_p99_ms", "full_sync_s"):
        if key in v:
            print(f"{key:<16} {v[key]:10.3f} {r[key]:10.3f} {v[key] / r[key]:6.2f}")
    if opts.json:
        Path(opts.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
