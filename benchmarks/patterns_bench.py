"""Throughput of the patterns library on real Redis and on Vermilion, side by side.

    python benchmarks/patterns_bench.py                      # starts both servers itself
    python benchmarks/patterns_bench.py --redis-url redis://localhost:6379 \
        --vermilion-url redis://localhost:7379 --seconds 3 --json out.json

Measures, on one client connection each (no pipelining, so it is latency-bound,
like an application):
  lock        Lock acquire + release pairs per second (two scripts per pair)
  ratelimit   RateLimiter.hit calls per second (sliding window counter)
  stream      StreamWorker end-to-end entries per second: a pipelined producer
              and a worker with concurrency 4, from the first XADD to the last XACK
  ratelimit <strategy>   RateLimiter.hit per second for each strategy, and for a
              key with three limits ("100000/second;1000000/minute;10000000/hour")
  asgi ratelimit µs/request   what RateLimitMiddleware adds to each request of a
              bare ASGI app (called in-process, no HTTP server): the rate-limit
              check's round trip plus the header work; lower is better
Prints a table with the Vermilion/Redis ratio and writes the numbers as JSON.
  stream c8 b100   the same with concurrency 8 and batch_size 100 (batch handler,
              one XACK per batch); the producer adds 1,000 entries per add_many call
              (two MULTI/EXEC round trips of 500 XADDs). Also printed: the commands
              the server ran and the client's round trips (writes to a socket) per
              100 entries, and the 1-minute load average during each run
  semaphore   Semaphore acquire + release pairs per second (limit 10)
With ``--rounds N`` each benchmark runs N times per server, the servers taking turns
to go first; the table shows medians, followed by every round's figures and the spread.
For the stream worker target (concurrency 8, batch 100), on a quiet machine:

    python benchmarks/patterns_bench.py --only "stream c8" --rounds 5 --seconds 1

Prints a table with the Vermilion/Redis ratio and, for servers it started itself (Linux),
the server's CPU time per operation (utime+stime / operations, approximate: setup counts
too), which a busy machine distorts far less than operations per second, and the same for
this process (the client side: library, producer, handlers). Writes JSON.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
try:
    import vermilion  # noqa: F401
except ImportError:
    sys.path.insert(0, str(ROOT / "src"))

import redis  # noqa: E402

from vermilion.patterns import (Lock, RateLimiter, Semaphore, StreamProducer,  # noqa: E402
                                StreamWorker)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            redis.Redis.from_url(url, socket_timeout=1).ping()
            return True
        except redis.RedisError:
            time.sleep(0.05)
    return False


def start_server(kind: str) -> tuple[str | None, subprocess.Popen | None, str]:
    port = free_port()
    # Both servers alike: no persistence, an empty directory of their own (Vermilion's
    # default directory may hold an RDB from another run, whose replication info
    # restores a backlog that then costs every write).
    workdir = tempfile.mkdtemp(prefix=f"patterns-bench-{kind}-")
    atexit.register(shutil.rmtree, workdir, True)
    common = ["--port", str(port), "--save", "", "--appendonly", "no", "--dir", workdir]
    if kind == "redis":
        binary = shutil.which("redis-server")
        if not binary:
            return None, None, "redis-server not installed"
        cmd = [binary, *common]
    else:
        cmd = [sys.executable, "-m", "vermilion", "server", *common]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"),
                                                        os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    url = f"redis://127.0.0.1:{port}"
    if wait_ready(url, proc):
        return url, proc, ""
    proc.kill()
    err = proc.stderr.read().decode(errors="replace")[-300:] if proc.stderr else ""
    return None, None, f"{' '.join(cmd[:4])}... did not start: {err.strip()}"


LAST_OPS = [0]  # operations the last ``timed`` run made (for CPU per operation)


def timed(seconds: float, step) -> float:
    """Run ``step`` repeatedly for ``seconds``; operations per second."""
    n, start = 0, time.perf_counter()
    end = start + seconds
    while time.perf_counter() < end:
        for _ in range(50):
            step()
        n += 50
    LAST_OPS[0] = n
    return n / (time.perf_counter() - start)


def process_cpu(pid: int | None) -> float | None:
    """utime + stime of a server process we started, in seconds (Linux /proc)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def bench_lock(client, seconds: float) -> float:
    name = f"bench:{uuid.uuid4().hex[:6]}"

    def step():
        lock = Lock(client, name, ttl=10)
        lock.acquire(blocking=False)
        lock.release()

    step()  # load the scripts
    return timed(seconds, step)


def bench_ratelimit(client, seconds: float) -> float:
    limiter = RateLimiter(client, f"bench:{uuid.uuid4().hex[:6]}", limit=10**9, window=60)
    return timed(seconds, lambda: limiter.hit("user"))


def bench_stream(client, seconds: float) -> float:
    stream = f"bench:{uuid.uuid4().hex[:6]}"
    total = max(500, int(2000 * seconds))
    done, finished = [0], threading.Event()
    lock = threading.Lock()

    def handle(entry):
        with lock:
            done[0] += 1
            if done[0] == total:
                finished.set()

    worker = StreamWorker(client, stream, "bench", handle, concurrency=4, count=100,
                          block=0.05, start_id="0")
    producer = StreamProducer(client, stream, maxlen=None)
    start = time.perf_counter()
    worker.start()
    for i in range(0, total, 100):
        producer.add_many([{"i": str(j)} for j in range(i, min(total, i + 100))])
    finished.wait(120)
    elapsed = time.perf_counter() - start
    worker.stop(5)
    client.delete(stream)
    return done[0] / elapsed


def bench_ratelimit_strategy(strategy: str, limit: str | None = None):
    def run(client, seconds: float) -> float:
        name = f"bench:{uuid.uuid4().hex[:6]}"
        if limit is None:
            limiter = RateLimiter(client, name, limit=10**9, window=60, strategy=strategy)
        else:
            limiter = RateLimiter(client, name, limit, strategy=strategy)
        limiter.hit("user")  # load the script
        return timed(seconds, lambda: limiter.hit("user"))
    return run


def bench_asgi_overhead(client, seconds: float) -> float:
    """Microseconds RateLimitMiddleware adds per request to a bare ASGI app."""
    import asyncio

    import redis.asyncio

    from vermilion.integrations.ratelimit import RateLimitMiddleware
    from vermilion.patterns import aio

    kw = client.connection_pool.connection_kwargs
    headers = [(b"content-type", b"text/plain")]

    async def bare(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    async def main() -> float:
        ar = redis.asyncio.Redis(host=kw.get("host", "127.0.0.1"), port=kw.get("port", 6379))
        limiter = aio.RateLimiter(ar, f"bench:{uuid.uuid4().hex[:6]}", "100000000/minute")
        wrapped = RateLimitMiddleware(bare, limiter, headers="legacy")
        scope = {"type": "http", "method": "GET", "path": "/", "headers": [],
                 "client": ("127.0.0.1", 1234)}

        async def receive():
            return {"type": "http.request", "body": b""}

        async def send(message):
            pass

        async def per_request(app) -> float:
            n, start = 0, time.perf_counter()
            end = start + seconds / 2
            while time.perf_counter() < end:
                for _ in range(50):
                    await app(scope, receive, send)
                n += 50
            return (time.perf_counter() - start) / n

        await per_request(wrapped)  # load the script, open the connection
        overhead = (await per_request(wrapped) - await per_request(bare)) * 1e6
        await ar.aclose()
        return overhead

    return asyncio.run(main())


def bench_semaphore(client, seconds: float) -> float:
    name = f"bench:{uuid.uuid4().hex[:6]}"

    def step():
        sem = Semaphore(client, name, 10, ttl=10)
        sem.acquire(blocking=False)
        sem.release()

    step()  # load the scripts
    return timed(seconds, step)


class RoundTrips:
    """Counts the writes redis-py's connections make while active: one per command
    sent alone, one per pipeline or packed batch, i.e. the client's round trips."""

    def __init__(self):
        from redis.connection import AbstractConnection
        self.cls, self.count, self._lock = AbstractConnection, 0, threading.Lock()
        self._orig = AbstractConnection.send_packed_command

    def __enter__(self):
        orig, counter = self._orig, self

        def counted(conn, command, check_health=True):
            with counter._lock:
                counter.count += 1
            return orig(conn, command, check_health)

        self.cls.send_packed_command = counted
        return self

    def __exit__(self, *exc):
        self.cls.send_packed_command = self._orig


def command_calls(client) -> dict[str, int]:
    """The server's calls per command so far (INFO commandstats)."""
    return {name.removeprefix("cmdstat_"): stats["calls"]
            for name, stats in client.info("commandstats").items()}


STREAM_SHAPE: dict[str, dict] = {}  # per server: commands and round trips per 100 entries


def bench_stream_batch(client, seconds: float) -> float:
    """Concurrency 8, batches of 100, producer running at the same time."""
    stream = f"bench:{uuid.uuid4().hex[:6]}"
    total = max(20_000, int(40_000 * seconds))
    done, finished = [0], threading.Event()
    lock = threading.Lock()

    def handle(batch):
        with lock:
            done[0] += len(batch)
            if done[0] >= total:
                finished.set()

    worker = StreamWorker(client, stream, "bench", handle, concurrency=8, batch_size=100,
                          block=0.05, start_id="0")
    producer = StreamProducer(client, stream, maxlen=None)
    payload = {"i": "x" * 16}
    calls0 = command_calls(client)
    with RoundTrips() as trips:
        start = time.perf_counter()
        worker.start()
        for i in range(0, total, 1000):
            producer.add_many([payload] * min(1000, total - i))
        finished.wait(300)
        elapsed = time.perf_counter() - start
        worker.stop(5)
    calls = command_calls(client)
    per100 = {name: round(100 * (n - calls0.get(name, 0)) / done[0], 2)
              for name, n in calls.items() if n - calls0.get(name, 0) > 1}
    per100.pop("info", None)
    STREAM_SHAPE[client.connection_pool.connection_kwargs.get("port")] = {
        "commands per 100 entries": per100,
        "round trips per 100 entries": round(100 * trips.count / done[0], 2)}
    client.delete(stream)
    return done[0] / elapsed


BENCHES = {"lock acquire+release": bench_lock, "semaphore acquire+release": bench_semaphore,
           "ratelimit check": bench_ratelimit, "stream end-to-end": bench_stream,
           "stream c8 b100": bench_stream_batch}
BENCHES.update({f"ratelimit {s}": bench_ratelimit_strategy(s)
                for s in ("sliding_log", "sliding_window", "gcra", "fixed_window")})
BENCHES["ratelimit 3 limits (sw)"] = bench_ratelimit_strategy(
    "sliding_window", "100000/second;1000000/minute;10000000/hour")
BENCHES["asgi ratelimit µs/request"] = bench_asgi_overhead


def measure(bench: str, fn, kind: str, url: str, pid: int | None, seconds: float,
            notes: dict) -> dict | None:
    """One run of one benchmark on one server: ops/s, the 1-minute load average,
    the server's and this process's CPU per operation, the stream shape."""
    client = redis.Redis.from_url(url, socket_timeout=30)
    got: dict = {}
    try:
        LAST_OPS[0] = 0
        cpu0, wall0 = process_cpu(pid), time.perf_counter()
        own0 = time.process_time()
        load0 = os.getloadavg()[0]
        got["ops"] = fn(client, seconds)
        got["load"] = max(load0, os.getloadavg()[0])
        shape = STREAM_SHAPE.pop(client.connection_pool.connection_kwargs.get("port"), None)
        if shape:
            got["shape"] = shape
        cpu1, wall = process_cpu(pid), time.perf_counter() - wall0
        own = time.process_time() - own0
        # Server CPU per operation: steadier than ops/s on a shared machine.
        # Timed loops count their operations; the stream runs report a rate.
        ops = LAST_OPS[0] or got["ops"] * wall
        if cpu0 is not None and cpu1 is not None and ops:
            got["server us/op"] = 1e6 * (cpu1 - cpu0) / ops
        if ops:  # this process: the client library, producer and handlers
            got["client us/op"] = 1e6 * own / ops
        return got
    except Exception as exc:  # a server that lacks a command: say so, go on
        notes[f"{bench} on {kind}"] = f"{type(exc).__name__}: {exc}"[:200]
        return None
    finally:
        client.close()


def summarize(row: dict, runs: dict[str, list[dict]]) -> None:
    """Medians over the rounds (and min-max spreads), per server, into ``row``; the
    ratio is Vermilion's median over Redis's, and the median of the rounds' ratios
    (each round runs both servers back to back) when there are several."""
    for kind, got in runs.items():
        if not got:
            row[kind] = None
            continue
        for name, key in (("ops", kind), ("server us/op", f"{kind} server us/op"),
                          ("client us/op", f"{kind} client us/op"),
                          ("load", f"{kind} load average")):
            values = [g[name] for g in got if name in g]
            if not values:
                continue
            digits = 1 if name == "ops" else 2
            row[key] = round(statistics.median(values), digits)
            if len(values) > 1:
                row[f"{key} all"] = [round(v, digits) for v in values]
        shapes = [g["shape"] for g in got if "shape" in g]
        if shapes:
            row[f"{kind} shape"] = shapes[-1]
    r, v = row.get("redis"), row.get("vermilion")
    row["ratio"] = round(v / r, 3) if r and v else None
    paired = [g["ops"] / h["ops"] for g, h in zip(runs.get("vermilion", []), runs.get("redis", []))
              if h["ops"]]
    if len(paired) > 1:
        row["ratio per round"] = [round(x, 3) for x in paired]
        row["ratio median of rounds"] = round(statistics.median(paired), 3)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--redis-url")
    ap.add_argument("--vermilion-url")
    ap.add_argument("--seconds", type=float, default=2.0, help="per benchmark (default 2)")
    ap.add_argument("--json", default="patterns_bench.json", help="where to write the results")
    ap.add_argument("--only", help="run only the benchmarks whose name contains this text")
    ap.add_argument("--rounds", type=int, default=1,
                    help="runs of each benchmark per server, alternating which goes first; "
                         "the table shows medians and the spread (default 1)")
    args = ap.parse_args()

    targets, procs, notes, pids = {}, [], {}, {}
    for kind, url in (("redis", args.redis_url), ("vermilion", args.vermilion_url)):
        if url is None:
            url, proc, why = start_server(kind)
            if proc:
                procs.append(proc)
                pids[kind] = proc.pid
            if why:
                notes[kind] = why
        if url:
            targets[kind] = url

    results: dict[str, dict] = {}
    try:
        for bench, fn in BENCHES.items():
            if args.only and args.only not in bench:
                continue
            row = results.setdefault(bench, {})
            runs: dict[str, list[dict]] = {kind: [] for kind in targets}
            for n in range(args.rounds):
                # Alternate which server goes first, so that a change in the machine's
                # load during the run weighs on both alike.
                kinds = list(targets) if n % 2 == 0 else list(reversed(targets))
                for kind in kinds:
                    got = measure(bench, fn, kind, targets[kind], pids.get(kind), args.seconds,
                                  notes)
                    if got is not None:
                        runs[kind].append(got)
            summarize(row, runs)
    finally:
        for p in procs:
            p.kill()

    print(f"{'benchmark':26} {'redis ops/s':>12} {'vermilion ops/s':>16} {'ratio':>7}"
          f" {'server us/op redis':>19} {'vermilion':>10} {'client us/op redis':>19}"
          f" {'vermilion':>10}")
    for bench, row in results.items():
        fmt = lambda x: "n/a" if x is None else f"{x:,.0f}"  # noqa: E731
        us = lambda x: "n/a" if x is None else f"{x:.1f}"  # noqa: E731
        ratio = "n/a" if row["ratio"] is None else f"{row['ratio']:.2f}"
        print(f"{bench:26} {fmt(row.get('redis')):>12} {fmt(row.get('vermilion')):>16} {ratio:>7}"
              f" {us(row.get('redis server us/op')):>19} {us(row.get('vermilion server us/op')):>10}"
              f" {us(row.get('redis client us/op')):>19} {us(row.get('vermilion client us/op')):>10}")
    if args.rounds > 1:
        print(f"medians of {args.rounds} rounds; every round (servers alternating first):")
        for bench, row in results.items():
            for key in ("redis", "vermilion", "redis server us/op", "vermilion server us/op",
                        "redis client us/op", "vermilion client us/op", "ratio per round"):
                values = row.get(key if key == "ratio per round" else f"{key} all")
                if values:
                    spread = f" (spread {min(values):,.2f}-{max(values):,.2f})"
                    print(f"  {bench} {key}: {values}{spread}")
            if row.get("ratio median of rounds") is not None:
                print(f"  {bench} ratio, median of the rounds' ratios: "
                      f"{row['ratio median of rounds']:.2f}")
    for bench, row in results.items():
        for kind in ("redis", "vermilion"):
            if f"{kind} shape" in row:
                print(f"{bench} on {kind}: {row[f'{kind} shape']}")
        loads = [row.get(f"{k} load average") for k in ("redis", "vermilion")]
        if any(loads):
            print(f"{bench}: 1-min load average during the runs (redis, vermilion): {loads}")
    for what, why in notes.items():
        print(f"note: {what}: {why}")
    Path(args.json).write_text(json.dumps({"results": results, "notes": notes,
                                           "seconds": args.seconds,
                                           "rounds": args.rounds, "targets": targets}, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
