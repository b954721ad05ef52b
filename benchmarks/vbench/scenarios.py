"""Custom Python scenarios: what redis-benchmark cannot measure.

Each scenario is ``fn(ctx) -> Measurement``; the runner runs it against both servers in turn.
Client-side work is kept small (raw sockets, byte counting, redis-benchmark as the load
generator where it can be) so the client is not what is measured -- see docs/benchmarks.md
for the limits of that on a 2-core machine.
"""

from __future__ import annotations

import multiprocessing
import os
import selectors
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, Sequence

from .model import (BenchError, BenchTimeout, Context, Measurement, Unsupported,
                    check_benchmark_failure)
from .resp import Incomplete, RawConn, ReplyError, encode, encode_many, parse


def _raise_if_error(value, what: str):
    if isinstance(value, ReplyError):
        raise Unsupported(f"{what}: {value}")
    if isinstance(value, list):
        for v in value:
            _raise_if_error(v, what)


# -- byte-counted pipelined units (MULTI/EXEC) ------------------------------------------------------

def pipelined_units(ctx: Context, unit_for_client: Callable[[int], Sequence[Sequence]], units: int,
                    clients: int, pipeline: int, check: Callable[[list], None] | None = None,
                    unit_name: str = "units/s") -> Measurement:
    """Send ``units`` copies of a command group over ``clients`` connections, ``pipeline``
    groups per write, and count reply bytes (each group's reply must have a constant length,
    learned from a probe).  Returns groups per second."""
    payloads, lengths = [], []
    for i in range(clients):
        cmds = unit_for_client(i)
        data = encode_many(cmds)
        with ctx.raw() as c:
            lens = []
            for _ in range(2):  # twice: first-time replies (HSET -> :1) must match later ones
                c.send(data)
                start = c.consumed
                replies = [c.read_reply() for _ in cmds]
                _raise_if_error(replies, "probe")
                if check:
                    check(replies)
                lens.append(c.consumed - start)
            if lens[0] != lens[1]:
                raise BenchError("reply length of a unit is not constant; cannot byte-count")
        payloads.append(data)
        lengths.append(lens[0])

    socks = []
    sel = selectors.DefaultSelector()
    per = [units // clients + (1 if i < units % clients else 0) for i in range(clients)]
    try:
        for i in range(clients):
            s = socket.create_connection((ctx.host, ctx.port), timeout=ctx.timeout)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            socks.append(s)
        state = []
        t0 = time.perf_counter()
        for i, s in enumerate(socks):
            st = {"i": i, "left": per[i], "batch": 0, "want": 0, "got": 0}
            state.append(st)
            _send_batch(s, st, payloads[i], lengths[i], pipeline)
            if st["batch"]:
                sel.register(s, selectors.EVENT_READ, st)
        done = 0
        last_progress = time.monotonic()
        while done < units:
            events = sel.select(timeout=1.0)
            now = time.monotonic()
            if not events:
                if now - last_progress > min(30.0, ctx.timeout):
                    raise BenchTimeout(f"replies stalled after {done}/{units} units")
                continue
            last_progress = now
            for key, _ in events:
                st = key.data
                s = key.fileobj
                data = s.recv(1 << 16)
                if not data:
                    raise BenchError("server closed a connection")
                st["got"] += len(data)
                if st["got"] > st["want"]:
                    raise BenchError("more reply bytes than expected (an error reply?)")
                if st["got"] == st["want"]:
                    done += st["batch"]
                    if st["left"]:
                        _send_batch(s, st, payloads[st["i"]], lengths[st["i"]], pipeline)
                    else:
                        sel.unregister(s)
        elapsed = time.perf_counter() - t0
    finally:
        sel.close()
        for s in socks:
            s.close()
    return Measurement(units / elapsed, unit_name, True, {"units": units, "seconds": elapsed})


def _send_batch(sock, st, payload, length, pipeline):
    k = min(pipeline, st["left"])
    st["left"] -= k
    st["batch"] = k
    st["want"] = k * length
    st["got"] = 0
    if k:
        sock.sendall(payload * k)


def multi_exec(ctx: Context) -> Measurement:
    """MULTI; SET; GET; HSET; EXPIRE; EXEC per transaction (replies of constant length)."""
    def unit(i):
        k, h = f"tx:{i:04d}", f"txh:{i:04d}"
        return [("MULTI",), ("SET", k, "v"), ("GET", k), ("HSET", h, "f", "v"), ("EXPIRE", k, "100"),
                ("EXEC",)]

    def check(replies):
        if not isinstance(replies[-1], list) or len(replies[-1]) != 4:
            raise BenchError(f"EXEC returned {replies[-1]!r}")
    units = max(1, ctx.requests // 4)  # four commands per transaction: same command count as -n
    return pipelined_units(ctx, unit, units, ctx.clients, ctx.pipeline or 1, check, "tx/s")


# -- pub/sub fan-out -----------------------------------------------------------------------------

def fanout(ctx: Context) -> Measurement:
    """1 publisher (redis-benchmark, one connection, pipelined) and N subscribers, half on the
    channel and half on a matching pattern.  Deliveries per second, end to end."""
    subs = ctx.params.get("subscribers", 50)
    messages = ctx.params.get("messages") or max(1000, ctx.requests // 10)
    channel, pattern, payload = "fan:ch", "fan:*", "p" * 32
    marker = b"message\r\n"   # in every 'message' and 'pmessage' push, nowhere else here
    expected = messages * subs
    conns: list[RawConn] = []
    sel = selectors.DefaultSelector()
    pub = None
    try:
        for i in range(subs):
            c = ctx.raw()
            conns.append(c)
            reply = c.call("SUBSCRIBE" if i % 2 == 0 else "PSUBSCRIBE",
                           channel if i % 2 == 0 else pattern, raise_errors=False)
            _raise_if_error(reply, "subscribe")
            if c.pos != len(c.buf):
                raise BenchError("unexpected bytes after the subscribe confirmation")
            c.sock.settimeout(None)
            sel.register(c.sock, selectors.EVENT_READ, {"tail": b"", "n": 0})
        argv = ctx.benchmark_argv("PUBLISH", channel, payload, clients=1, requests=messages,
                                  pipeline=ctx.params.get("publisher_pipeline", 8))
        received = 0
        t0 = time.perf_counter()
        pub = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        t_last = t0
        last_progress = time.monotonic()
        deadline = last_progress + ctx.timeout
        while received < expected:
            events = sel.select(timeout=0.5)
            now = time.monotonic()
            for key, _ in events:
                st = key.data
                data = key.fileobj.recv(1 << 17)
                if not data:
                    raise BenchError("server closed a subscriber connection "
                                     f"(after {received}/{expected} deliveries)")
                buf = st["tail"] + data
                n = buf.count(marker)
                st["n"] += n
                received += n
                st["tail"] = buf[-(len(marker) - 1):]
            if events:
                t_last = time.perf_counter()
                last_progress = now
            if pub.poll() is not None and pub.returncode != 0:
                out, err = pub.communicate()
                check_benchmark_failure(subprocess.CompletedProcess(argv, pub.returncode, out, err))
            if now > deadline:
                raise BenchTimeout(f"fan-out: {received}/{expected} deliveries after {ctx.timeout:.0f}s")
            if pub.poll() is not None and now - last_progress > 10:
                raise BenchError(f"fan-out: only {received}/{expected} deliveries arrived")
        elapsed = t_last - t0
        pub.communicate(timeout=ctx.timeout)
        pub = None
    finally:
        if pub is not None and pub.poll() is None:
            pub.kill()
            pub.wait()
        sel.close()
        for c in conns:
            c.close()
    return Measurement(expected / elapsed, "deliveries/s", True,
                       {"messages": messages, "subscribers": subs, "seconds": elapsed})


# -- streams: consumer group end to end ------------------------------------------------------------

def _cg_consumer(host, port, stream, group, name, total, acked, end_time, barrier, errq, timeout):
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the driver handles Ctrl-C and stops us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # don't inherit the driver's handler
    try:
        import redis
        # A bare connection: hiredis parses, no response callbacks build dicts per entry.
        conn = redis.Connection(host=host, port=port, socket_timeout=timeout)
        conn.connect()
        read = ("XREADGROUP", "GROUP", group, name, "COUNT", "100", "BLOCK", "20", "STREAMS", stream, ">")
        barrier.wait(timeout)
        ids: list = []
        deadline = time.monotonic() + timeout
        while True:
            if ids:
                conn.send_packed_command(conn.pack_commands([("XACK", stream, group, *ids), read]))
                n = conn.read_response()
                if isinstance(n, Exception):
                    raise n
                with acked.get_lock():
                    acked.value += int(n)
                    if acked.value >= total and end_time.value == 0:
                        end_time.value = time.monotonic()
            else:
                conn.send_packed_command(conn.pack_command(*read))
            got = conn.read_response()
            if isinstance(got, Exception):
                raise got
            got = got or []
            if isinstance(got, dict):          # RESP3 shape
                got = list(got.items())
            ids = [entry[0] for _s, entries in got for entry in entries]
            if not ids and acked.value >= total:
                break
            if time.monotonic() > deadline:
                errq.put(("timeout", f"{name}: timed out"))
                break
    except Exception as e:  # report, don't hang the driver
        import redis
        kind = "unsupported" if isinstance(e, redis.ResponseError) else "error"
        errq.put((kind, f"{name}: {type(e).__name__}: {e}"))
        try:
            barrier.abort()
        except Exception:
            pass


def consumer_group(ctx: Context) -> Measurement:
    """Producer (redis-benchmark XADD, pipelined) + N consumers doing XREADGROUP COUNT 100 and
    XACK (pipelined with the next read).  Entries per second from the first XADD to the last
    XACK.

    The producer is given enough connections to stay ahead of the consumers: when consumers
    catch up they read tiny batches and the result swings with scheduling luck."""
    n_consumers = ctx.params.get("consumers", 4)
    total = ctx.params.get("entries") or max(1000, ctx.requests)
    stream, group = "cg:stream", "cg:group"
    with ctx.raw() as c:
        c.call("DEL", stream)
        _raise_if_error(c.call("XGROUP", "CREATE", stream, group, "$", "MKSTREAM", raise_errors=False),
                        "XGROUP CREATE")
    mp = multiprocessing.get_context("fork")
    acked = mp.Value("q", 0)
    end_time = mp.Value("d", 0.0)
    barrier = mp.Barrier(n_consumers + 1)
    errq = mp.Queue()
    procs = [mp.Process(target=_cg_consumer, daemon=True,
                        args=(ctx.host, ctx.port, stream, group, f"c{i}", total, acked, end_time,
                              barrier, errq, ctx.timeout))
             for i in range(n_consumers)]
    for p in procs:
        p.start()
    pub = None
    try:
        try:
            barrier.wait(60)
        except threading.BrokenBarrierError:
            time.sleep(1.0)
            _drain_errors(errq)
            raise BenchError("consumers failed to start")
        argv = ctx.benchmark_argv("XADD", stream, "*", "f", "v",
                                  clients=ctx.params.get("producer_clients", 1), requests=total,
                                  pipeline=ctx.params.get("producer_pipeline", 16))
        t0 = time.monotonic()
        pub = subprocess.run(argv, capture_output=True, text=True, timeout=ctx.timeout)
        check_benchmark_failure(pub)
        for p in procs:
            p.join(max(1.0, ctx.timeout - (time.monotonic() - t0)))
        _drain_errors(errq)
        if acked.value < total:
            raise BenchError(f"only {acked.value}/{total} entries acknowledged")
        elapsed = end_time.value - t0
        with ctx.raw() as c:
            pending = c.call("XPENDING", stream, group, raise_errors=False)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(5)
    pend = pending[0] if isinstance(pending, list) and pending else None
    return Measurement(total / elapsed, "entries/s", True,
                       {"entries": total, "consumers": n_consumers, "seconds": elapsed,
                        "pending_after": pend})


def _drain_errors(errq):
    import queue
    try:
        kind, msg = errq.get_nowait()
    except queue.Empty:
        return
    if kind == "unsupported":
        raise Unsupported(msg)
    if kind == "timeout":
        raise BenchTimeout(msg)
    raise BenchError(msg)


# -- memory ------------------------------------------------------------------------------------------

def rss_growth(loader: Callable[[Context], None]) -> Callable[[Context], Measurement]:
    """VmRSS of the server process before and after ``loader`` (run on a fresh server)."""
    def fn(ctx: Context) -> Measurement:
        before = ctx.server.rss_kb()
        t0 = time.perf_counter()
        loader(ctx)
        load_s = time.perf_counter() - t0
        time.sleep(0.5)
        after = ctx.server.rss_kb()
        return Measurement((after - before) / 1024.0, "MB", False,
                           {"rss_before_mb": before / 1024.0, "rss_after_mb": after / 1024.0,
                            "load_seconds": load_s})
    fn.__name__ = f"rss_growth({getattr(loader, '__name__', 'loader')})"
    return fn


# -- persistence: load time -------------------------------------------------------------------------

def _data_bytes(d: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(d):
        for f in files:
            if not f.endswith("-server.log"):
                try:
                    total += os.path.getsize(os.path.join(root, f))
                except OSError:
                    pass
    return total


def _restart_and_time(ctx: Context, n: int, how: str, extra: dict) -> Measurement:
    empty_start = ctx.server.last_ready_seconds
    ctx.server.stop(timeout=max(60.0, ctx.timeout))      # SIGTERM: graceful, AOF flushed
    extra["data_bytes"] = _data_bytes(ctx.server.datadir)
    ready = ctx.server.start(timeout=max(60.0, ctx.timeout), port=ctx.server.port)
    with ctx.raw() as c:
        got = c.call("DBSIZE")
    if got == 0:
        raise Unsupported(f"restarted server holds no keys: {how} not written or not loaded")
    if got != n:
        raise BenchError(f"restarted server holds {got} keys, expected {n}")
    extra.update({"keys": n, "empty_start_s": empty_start})
    return Measurement(ready, "s", False, extra)


def aof_load_time(ctx: Context) -> Measurement:
    """Write N keys with SET (one AOF record each), restart, time until PING answers PONG."""
    n = ctx.size(ctx.params.get("keys", 1_000_000))
    with ctx.raw() as c:
        c.bulk_raise((("SET", f"key:{i:012d}", "xxx") for i in range(n)), batch=5000)
    return _restart_and_time(ctx, n, "AOF", {})


def rdb_load_time(ctx: Context) -> Measurement:
    """Write N keys, SAVE, restart, time until PING answers PONG."""
    n = ctx.size(ctx.params.get("keys", 1_000_000))
    with ctx.raw() as c:
        def cmds():
            for start in range(0, n, 1000):
                args = ["MSET"]
                for i in range(start, min(n, start + 1000)):
                    args += [f"key:{i:012d}", "xxx"]
                yield args
        c.bulk_raise(cmds(), batch=50)
        reply = c.call("SAVE", raise_errors=False)
        _raise_if_error(reply, "SAVE")
    return _restart_and_time(ctx, n, "RDB", {})
