#!/usr/bin/env python3
"""What one Prometheus scrape of /metrics costs the server's event loop.

A Vermilion server is started in its own process (`vermilion server`, this
interpreter, compiled modules unless VERMILION_PURE_PYTHON=1; `--src DIR` runs
another checkout's code, e.g. for a before/after comparison) and filled with
--keys keys (all but the streams with a TTL) and --streams streams, each with one
group and one consumer holding one pending entry, all exported
(`metrics-streams *`). Then /metrics is fetched --repeats times over HTTP, and for
each scrape the CPU time of the server's threads is read from
/proc/PID/task/TID/schedstat (nanoseconds on the CPU):

* loop: the event-loop (main) thread's CPU time across the whole HTTP request
  on a kept-alive connection, as Prometheus scrapes (whatever of the request
  runs there: now the snapshot of the numbers);
* other: every other server thread (the metrics endpoint's thread: the HTTP
  request and the text). Python work there holds the GIL, so the loop cannot run
  meanwhile, in stretches `--gil` measures.

The minimum, median and 99th percentile over the repeats are printed: the minimum
is the cost, the median and p99 show the noise of a shared machine (between two
scrapes the server does its periodic work too, which lands in some of the samples:
the loop thread's CPU time in a window as long as the scrape's, without a scrape,
is printed as well, as `idle`).

By default nothing changes between two scrapes (a scrape then reuses what it read
of the streams and TTLs before). `--writes` makes every stream and some keys change
before each scrape, outside the measured window: one XADD, one XREADGROUP and one
XACK per stream and a SET with a TTL per 100 keys, so that each scrape reads every
stream's numbers and copies the TTLs again, as on a busy server (then 150 ms pass
before the scrape: the cron's measuring of the written collections' memory, done at
every tick whether or not anyone scrapes, is not counted as the scrape's).

Then, as a second phase, how long the loop can be kept waiting by a scrape (for
its own work, or for the GIL while another thread holds it): a client sends PING
after PING on its own connection while scrapes run, and the longest round trip
during each scrape is compared with the longest in a window as long just before
it (no scrape). The median and the worst over the repeats are printed. On a loaded
machine the scheduler's noise hides it; `--gil` measures it inside one process
instead (an embedded server filled the same way):

* the encoding worker's GIL holds: the thread CPU time between two points where
  it gives the GIL up (the longest, per scrape), which is the longest the loop can
  wait for the GIL because of a scrape;
* a loop-lag probe on the server's loop (a 1 ms timer re-armed without end): how
  late it fires during scrapes and in as long a window before each.

    python benchmarks/scrape_cost.py                   # 10,000 keys, 100 streams
    python benchmarks/scrape_cost.py --keys 100000 --streams 0 --repeats 31
    python benchmarks/scrape_cost.py --path /          # the HTTP handling alone
    python benchmarks/scrape_cost.py --src ../main/src # another checkout's code
    python benchmarks/scrape_cost.py --writes          # every stream changed between scrapes
    python benchmarks/scrape_cost.py --callgrind [--writes]   # instructions per scrape

`--callgrind` counts instructions instead, which the machine's load does not
change: the server runs under valgrind's callgrind (`--separate-threads=yes`,
`--hz 1`), --repeats scrapes 0.2 s apart (each after the writes with `--writes`)
are counted between two dumps, then a window with the same writes and pauses and
no scrape, whose counts are subtracted; printed per thread (the loop is the
main thread, 01) and per scrape.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import socket
import tempfile
import threading
import time
from pathlib import Path

import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from vbench.servers import free_port, server_env  # noqa: E402


def on_cpu(pid: int, tid: int) -> float:
    """Seconds thread `tid` of process `pid` has run."""
    with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9


def threads(pid: int) -> dict[int, float]:
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            out[int(tid)] = on_cpu(pid, int(tid))
        except OSError:
            pass                # a thread that just ended
    return out


def fill(r, keys: int, streams: int) -> None:
    pipe = r.pipeline(transaction=False)
    for i in range(max(keys - streams, 0)):
        pipe.set(f"key:{i}", "v", ex=1000 + i)
        if i % 1000 == 999:
            pipe.execute()
    for i in range(streams):
        pipe.xadd(f"stream:{i}", {"f": "v"})
        pipe.xgroup_create(f"stream:{i}", "g", id="0")
        pipe.xreadgroup("g", "c", {f"stream:{i}": ">"})
    pipe.execute()
    r.config_set("metrics-streams", "*")
    r.config_set("metrics-streams-max", str(max(streams, 1)))


def write_between(r, keys: int, streams: int, round_: int) -> None:
    """Change every stream (a new entry, delivered and acknowledged) and one key in
    100 (a new value and TTL)."""
    pipe = r.pipeline(transaction=False)
    for i in range(streams):
        pipe.xadd(f"stream:{i}", {"f": "v"})
        pipe.xreadgroup("g", "c", {f"stream:{i}": ">"}, count=1)
    replies = pipe.execute()
    for i in range(streams):
        for _, entries in replies[2 * i + 1] or []:
            for entry_id, _ in entries:
                pipe.xack(f"stream:{i}", "g", entry_id)
    for i in range(round_ % 100, max(keys - streams, 0), 100):
        pipe.set(f"key:{i}", "w", ex=2000 + i)
    pipe.execute()


def callgrind(args) -> None:
    """The --callgrind measure (see the module's docstring), printed."""
    import glob
    env = server_env()
    if args.src:
        env["PYTHONPATH"] = str(Path(args.src).resolve())
    port, metrics_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg")
        proc = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--separate-threads=yes", f"--callgrind-out-file={out}.%p",
             sys.executable, "-m", "vermilion", "server", "--port", str(port), "--metrics-port",
             str(metrics_port), "--save", "", "--appendonly", "no", "--hz", "1", "--dir", tmp],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 600
            while True:
                try:
                    redis.Redis(port=port, socket_timeout=120).ping()
                    break
                except (redis.ConnectionError, redis.TimeoutError):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("the server did not start under valgrind") from None
                    time.sleep(1)
            r = redis.Redis(port=port, socket_timeout=300)
            fill(r, args.keys, args.streams)
            conn = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=300)

            def scrape() -> None:
                conn.request("GET", "/metrics")
                conn.getresponse().read()

            def window(scraping: bool) -> None:
                for i in range(args.repeats):
                    if args.writes:
                        write_between(r, args.keys, args.streams, i)
                    time.sleep(0.2)
                    if scraping:
                        scrape()
                subprocess.run(["callgrind_control", "-d", str(proc.pid)], capture_output=True, check=False)

            for i in range(3):          # warm-up: discovery, first allocations
                if args.writes:
                    write_between(r, args.keys, args.streams, i)
                scrape()
            time.sleep(1)
            subprocess.run(["callgrind_control", "-d", str(proc.pid)], capture_output=True, check=False)
            window(True)
            window(False)
        finally:
            proc.terminate()
            proc.wait(120)

        def totals(dump: int) -> dict[int, int]:
            found = {}
            for name in glob.glob(f"{out}.{proc.pid}.{dump}-*"):
                with open(name, errors="replace") as f:
                    for line in f:
                        if line.startswith(("summary:", "totals:")):
                            found[int(name.rsplit("-", 1)[1])] = int(line.split()[1])
                            break
            return found

        scraping, idle = totals(2), totals(3)
    print(f"callgrind, {args.keys} keys, {args.streams} streams, {args.repeats} scrapes"
          f"{' with writes before each' if args.writes else ''}, less a window without scrapes:")
    for thread in sorted(scraping):
        name = "loop (main thread)" if thread == 1 else f"thread {thread:02d}"
        print(f"  {name}: {(scraping[thread] - idle.get(thread, 0)) / args.repeats / 1e6:.2f} "
              f"million instructions per scrape")


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def wait_for(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            redis.Redis(port=port).ping()
            return
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.05)


class Pinger(threading.Thread):
    """PING after PING on one connection: (sent at, round trip) of each, in seconds."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.times: list[tuple[float, float]] = []
        self.stopping = False

    def run(self) -> None:
        sock, clock, times = self.sock, time.perf_counter, self.times
        while not self.stopping:
            sent = clock()
            sock.sendall(b"PING\r\n")
            got = b""
            while not got.endswith(b"\r\n"):
                got += sock.recv(64)
            times.append((sent, clock() - sent))

    def longest(self, start: float, end: float) -> float:
        """The longest round trip of the PINGs in flight during [start, end), ms."""
        return max((rtt for sent, rtt in self.times if sent < end and sent + rtt > start), default=0.0) * 1e3


def probe(port: int, metrics_port: int, path: str, headers: dict, repeats: int) -> tuple[list, list]:
    """(longest PING round trip during each scrape, in as long a window just before it), ms."""
    pinger = Pinger(port)
    pinger.start()
    conn = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=30)
    windows = []
    try:
        for i in range(repeats + 2):
            time.sleep(0.05)
            start = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            end = time.perf_counter()
            if i >= 2:
                windows.append((start, end))
        time.sleep(0.01)
    finally:
        pinger.stopping = True
        pinger.join(10)
        conn.close()
    during = [pinger.longest(start, end) for start, end in windows]
    before = [pinger.longest(start - (end - start) - 0.01, start - 0.01) for start, end in windows]
    return during, before


def gil_phase(keys: int, streams: int, repeats: int) -> None:
    """The --gil measures (see the module's docstring), printed."""
    import asyncio

    import vermilion
    from vermilion.observe import metrics

    holds: list[float] = []         # per scrape: the longest hold, seconds of thread CPU
    current: list[float] = []
    real_time = time

    class Clock:
        """What the metrics module sees as `time`: its sleep(0) marks a GIL release."""
        def __getattr__(self, name):
            return getattr(real_time, name)

        def sleep(self, seconds):
            if not current:         # outside an encoding (the discovery's GIL releases)
                return real_time.sleep(seconds)
            now = real_time.thread_time()
            current.append(now - current.pop())
            real_time.sleep(seconds)
            current.append(real_time.thread_time())

    encode = metrics.Encoder.encode

    def measured(self, snapshot):
        current[:] = [real_time.thread_time()]
        body = encode(self, snapshot)
        current.append(real_time.thread_time() - current.pop())
        holds.append(max(current))
        current.clear()
        return body

    metrics.time = Clock()
    metrics.Encoder.encode = measured
    lags: list[tuple[float, float]] = []
    stop = []

    async def probe():
        clock = real_time.perf_counter
        while not stop:
            at = clock()
            await asyncio.sleep(0.001)
            lags.append((at, clock() - at - 0.001))

    with vermilion.embedded(metrics_port=0) as server:
        r = server.client()
        fill(r, keys, streams)
        url = server.metrics_url.split("//", 1)[1]
        host, rest = url.split(":", 1)
        conn = http.client.HTTPConnection(host, int(rest.split("/", 1)[0]), timeout=30)
        server.call_in_loop(lambda: asyncio.ensure_future(probe()))
        windows = []
        for i in range(repeats + 2):
            time.sleep(0.05)
            start = time.perf_counter()
            conn.request("GET", "/metrics")
            conn.getresponse().read()
            if i >= 2:
                windows.append((start, time.perf_counter()))
        stop.append(True)
        time.sleep(0.01)
        r.close()
    holds = holds[2:]

    def late(start, end):
        return max((lag for at, lag in lags if start <= at < end), default=0.0) * 1e3

    during = [late(a, b) for a, b in windows]
    before = [late(a - (b - a) - 0.01, a - 0.01) for a, b in windows]
    print(f"in one process: the encoding worker's longest GIL hold per scrape: median "
          f"{statistics.median(holds) * 1e3:.3f} ms, worst {max(holds) * 1e3:.3f} ms")
    print(f"1 ms loop timer, latest firing during a scrape: median {statistics.median(during):.3f} ms, "
          f"worst {max(during):.3f} ms; in as long a window before it: median "
          f"{statistics.median(before):.3f} ms, worst {max(before):.3f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=10_000)
    ap.add_argument("--streams", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=31)
    ap.add_argument("--accept", default="", help="Accept header (default: none, the text format)")
    ap.add_argument("--path", default="/metrics", help="/ measures the HTTP handling alone")
    ap.add_argument("--src", help="the src directory of the Vermilion to run (default: this checkout's)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--gil", action="store_true", help="measure GIL holds and loop lag in one process")
    ap.add_argument("--writes", action="store_true", help="change every stream between two scrapes")
    ap.add_argument("--callgrind", action="store_true", help="count instructions per scrape under callgrind")
    args = ap.parse_args()
    if args.callgrind:
        callgrind(args)
        return
    if args.gil:
        gil_phase(args.keys, args.streams, args.repeats)
        return

    env = server_env()
    if args.src:
        env["PYTHONPATH"] = str(Path(args.src).resolve())
    port, metrics_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([sys.executable, "-m", "vermilion", "server", "--port", str(port),
                                 "--metrics-port", str(metrics_port), "--save", "", "--appendonly", "no",
                                 "--dir", tmp], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for(port, proc)
            r = redis.Redis(port=port)
            fill(r, args.keys, args.streams)
            # One kept-alive connection, as Prometheus scrapes.
            conn = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=30)
            headers = {"Accept": args.accept} if args.accept else {}
            loop_ms, other_ms, inner_ms, idle_ms, body = [], [], [], [], b""
            for i in range(args.repeats + 2):
                if args.writes:
                    write_between(r, args.keys, args.streams, i)
                    # A cron tick (hz 10) passes, which measures the memory of the
                    # collections written, as it does whether or not anyone scrapes.
                    time.sleep(0.15)
                before = threads(proc.pid)
                started = time.perf_counter()
                conn.request("GET", args.path, headers=headers)
                response = conn.getresponse()
                body = response.read()
                assert response.status == 200, response.status
                # Whatever the scrape asks of the loop is done before the reply is
                # written (the metrics thread waits for the snapshot).
                after = threads(proc.pid)
                took = time.perf_counter() - started
                if i < 2:
                    continue            # warm-up: first discovery, first allocation of everything
                loop_ms.append((after[proc.pid] - before[proc.pid]) * 1e3)
                quiet_at = on_cpu(proc.pid, proc.pid)
                time.sleep(took)
                idle_ms.append((on_cpu(proc.pid, proc.pid) - quiet_at) * 1e3)
                for line in body.split(b"\n"):
                    if line.startswith(b"redis_exporter_last_scrape_duration_seconds "):
                        inner_ms.append(float(line.split()[1]) * 1e3)
                other_ms.append(sum(after[t] - before[t] for t in after if t in before and t != proc.pid) * 1e3)
            conn.close()
            r.close()
            during, quiet = probe(port, metrics_port, args.path, headers, args.repeats)
        finally:
            proc.terminate()
            proc.wait(30)
    samples = sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))
    result = {
        "keys": args.keys, "streams": args.streams, "samples": samples, "bytes": len(body),
        "writes": args.writes, "python": sys.version.split()[0],
        "loop_ms_min": min(loop_ms), "loop_ms_median": statistics.median(loop_ms),
        "loop_ms_p99": percentile(loop_ms, 99),
        "idle_loop_ms_median": statistics.median(idle_ms), "idle_loop_ms_p99": percentile(idle_ms, 99),
        "snapshot_ms_min": min(inner_ms or [0.0]), "snapshot_ms_median": statistics.median(inner_ms or [0.0]),
        "snapshot_ms_p99": percentile(inner_ms or [0.0], 99),
        "other_threads_ms_min": min(other_ms), "other_threads_ms_median": statistics.median(other_ms),
        "repeats": args.repeats,
        "ping_during_scrape_ms_median": statistics.median(during), "ping_during_scrape_ms_max": max(during),
        "ping_before_scrape_ms_median": statistics.median(quiet), "ping_before_scrape_ms_max": max(quiet),
    }
    print(f"{args.keys} keys, {args.streams} streams: {samples} samples, {len(body)} bytes")
    print(f"loop thread CPU per scrape:   min {min(loop_ms):.3f} ms, median {statistics.median(loop_ms):.3f} ms, "
          f"p99 {percentile(loop_ms, 99):.3f} ms{' (streams written between scrapes)' if args.writes else ''}")
    print(f"  idle: the loop thread in as long a window without a scrape: median "
          f"{statistics.median(idle_ms):.3f} ms, p99 {percentile(idle_ms, 99):.3f} ms")
    if inner_ms:
        print(f"  of which the snapshot of the numbers (the server's own measure, "
              f"redis_exporter_last_scrape_duration_seconds): min {min(inner_ms):.3f} ms, "
              f"median {statistics.median(inner_ms):.3f} ms, p99 {percentile(inner_ms, 99):.3f} ms")
    print(f"other server threads (GIL):   min {min(other_ms):.3f} ms, median {statistics.median(other_ms):.3f} ms")
    print(f"longest PING round trip during a scrape: median {statistics.median(during):.3f} ms, "
          f"worst {max(during):.3f} ms; in as long a window before it: median "
          f"{statistics.median(quiet):.3f} ms, worst {max(quiet):.3f} ms")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
