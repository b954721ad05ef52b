"""StreamWorker failure control: handler_timeout, Retry/Unrecoverable, batches,
delayed and deduplicated entries, draining on SIGTERM, the CLI, SIGKILL mid-batch,
Prometheus metrics (sync + asyncio, on Redis, Vermilion and the cluster)."""

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from vermilion.patterns import (Retry, StreamProducer, StreamWorker, Unrecoverable, aio)

from patterns_support import ALL_SETUPS, wait_until

pytestmark = pytest.mark.needs("eval", "streams")

FAST = dict(block=0.05, claim_idle=5.0, retry_base=0.02, heartbeat=0.2)
HERE = Path(__file__).resolve().parent


def _done(r, stream):
    return r.lrange(f"{stream}:done", 0, -1)


def test_hung_handler_is_abandoned_counted_as_timeout_and_retried(r, uid):
    entry_id = StreamProducer(r, uid).add({"job": "x"})
    release, attempts = threading.Event(), []

    def handle(entry):
        attempts.append(entry.attempt)
        if entry.attempt == 1:
            release.wait(30)  # hangs far past the limit

    w = StreamWorker(r, uid, "g", handle, handler_timeout=0.3, **FAST).start()
    try:
        assert wait_until(lambda: w.stats.processed == 1, 15)
        assert attempts == [1, 2] and w.stats.timed_out == 1 and w.stats.failed == 1
        assert r.xpending(uid, "g")["pending"] == 0
    finally:
        release.set()
        w.stop(5)
    # the abandoned call returning late acks nothing and counts nothing
    assert w.stats.processed == 1 and entry_id


def test_hung_handler_past_last_delivery_is_dead_lettered_with_reason(r, uid):
    StreamProducer(r, uid).add({"job": "x"})
    release = threading.Event()
    w = StreamWorker(r, uid, "g", lambda e: release.wait(30), handler_timeout=0.2,
                     max_deliveries=1, **FAST).start()
    try:
        assert wait_until(lambda: w.stats.dead_lettered == 1, 15)
        dead = w.dead_letters.list()
        assert len(dead) == 1 and dead[0].error.startswith("timeout")
        assert r.xpending(uid, "g")["pending"] == 0
    finally:
        release.set()
        w.stop(5)


def test_retry_with_delay_and_unrecoverable(r, uid):
    prod = StreamProducer(r, uid)
    retry_id = prod.add({"kind": "retry"})
    bad_id = prod.add({"kind": "bad"})
    busy_id = prod.add({"kind": "busy"})
    seen = {}

    def handle(entry):
        seen.setdefault(entry.id, []).append((entry.attempt, time.monotonic()))
        kind = entry.fields["kind"]
        if kind == "bad":
            raise Unrecoverable("bad payload")
        if kind == "busy":
            raise Retry("busy")
        if entry.attempt == 1:
            raise Retry("later", delay=0.3)

    w = StreamWorker(r, uid, "g", handle, max_deliveries=3, **FAST).start()
    try:
        assert wait_until(lambda: w.stats.processed == 1 and w.stats.dead_lettered == 2, 15)
    finally:
        w.stop(5)
    (a1, t1), (a2, t2) = seen[retry_id]
    assert (a1, a2) == (1, 2) and t2 - t1 >= 0.29  # not before the delay it asked for
    assert [a for a, _ in seen[bad_id]] == [1]  # no retries
    assert [a for a, _ in seen[busy_id]] == [1, 2, 3]
    dead = {d.original_id: d for d in w.dead_letters.list()}
    assert dead[bad_id].error == "unrecoverable: bad payload" and dead[bad_id].deliveries == 1
    assert dead[busy_id].error.startswith("retry: busy") and dead[busy_id].deliveries == 3


def test_batch_handler_gets_lists_and_acks_them_together(r, uid):
    ids = StreamProducer(r, uid).add_many([{"n": str(i)} for i in range(250)])
    sizes, seen, failed_once = [], Counter(), []

    def handle(batch):
        sizes.append(len(batch))
        if not failed_once and any(e.fields["n"] == "7" for e in batch):
            failed_once.append([e.id for e in batch])
            raise RuntimeError("whole batch fails")
        for e in batch:
            seen[e.id] += 1

    w = StreamWorker(r, uid, "g", handle, batch_size=100, concurrency=2, **FAST).start()
    try:
        assert wait_until(lambda: len(seen) == 250, 15)
    finally:
        w.stop(5)
    assert set(seen) == set(ids) and set(seen.values()) == {1}
    assert max(sizes) <= 100 and w.stats.processed == 250
    assert w.stats.failed == len(failed_once[0]) and r.xpending(uid, "g")["pending"] == 0


def _server_ms(r):
    s, us = r.time()
    return s * 1000 + us // 1000


def test_delayed_entries_are_delivered_no_earlier_than_their_delay(r, uid):
    prod = StreamProducer(r, uid)
    before = _server_ms(r)
    token = prod.add({"n": "later"}, delay=0.5)
    now_id = prod.add({"n": "now"})
    assert token.startswith("delayed:") and prod.delayed_count() == 1
    assert r.xlen(uid) == 1
    got = []
    w = StreamWorker(r, uid, "g", lambda e: got.append((e.id, e.fields["n"])), **FAST).start()
    try:
        assert wait_until(lambda: len(got) == 2, 15)
    finally:
        w.stop(5)
    assert got[0] == (now_id, "now") and got[1][1] == "later"
    assert int(got[1][0].split("-")[0]) - before >= 500
    assert prod.delayed_count() == 0


def test_idempotency_key_adds_once_within_the_window(r, uid):
    prod = StreamProducer(r, uid, dedup_window=60)
    first = prod.add({"order": "1"}, idempotency_key="order-1")
    assert prod.add({"order": "1"}, idempotency_key="order-1") == first
    assert prod.add({"order": "2"}, idempotency_key="order-2") != first
    assert r.xlen(uid) == 2
    assert 30_000 < r.pttl(prod.dedup_key("order-1")) <= 60_000
    later = prod.add({"order": "3"}, idempotency_key="order-3", delay=30)
    assert prod.add({"order": "3"}, idempotency_key="order-3", delay=30) == later
    assert prod.delayed_count() == 1
    short = StreamProducer(r, uid, dedup_window=0.05)
    a = short.add({"x": "1"}, idempotency_key="k")
    assert wait_until(lambda: not r.exists(short.dedup_key("k")), 5)
    assert short.add({"x": "1"}, idempotency_key="k") != a


@ALL_SETUPS
def test_prometheus_metrics(r, uid):
    from prometheus_client import CollectorRegistry

    from vermilion.patterns.metrics import PrometheusMetrics
    registry = CollectorRegistry()
    StreamProducer(r, uid).add_many([{"n": str(i)} for i in range(5)])

    def handle(entry):
        if entry.fields["n"] == "3":
            raise Unrecoverable("no")

    w = StreamWorker(r, uid, "g", handle, prometheus=PrometheusMetrics(registry),
                     **FAST).start()
    try:
        assert wait_until(lambda: w.stats.processed == 4 and w.stats.dead_lettered == 1, 15)
    finally:
        w.stop(5)
    labels = {"stream": uid, "group": "g"}
    value = lambda name: registry.get_sample_value(f"vermilion_stream_{name}", labels)  # noqa
    assert value("processed_total") == 4 and value("failed_total") == 1
    assert value("dead_lettered_total") == 1 and value("handler_duration_seconds_count") == 5
    assert value("in_flight") is not None and value("lag") is not None


# ------------------------------------------------------------------ processes


def _cli(backend, uid, handler, *extra):
    env = {**os.environ, "VERMILION_TEST_URL": backend.url,
           "VERMILION_TEST_CLUSTER": "1" if backend.cluster else "",
           "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parents[1] / "src")])}
    return subprocess.Popen(
        [sys.executable, "-m", "vermilion", "worker", f"_cli_handler:{handler}",
         "--url", backend.url, *(["--cluster"] if backend.cluster else []),
         "--stream", uid, "--group", "g", "--block", "0.05",
         "--claim-idle", "30", "--log-level", "WARNING", *extra],
        env=env, cwd=str(HERE), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@ALL_SETUPS
@pytest.mark.parametrize("handler", ["handle", "ahandle"], ids=["threads", "asyncio"])
def test_sigterm_drains_hands_over_and_exits_zero(backend, r, uid, handler):
    # The CLI runs StreamWorker.run() (a coroutine handler: the asyncio worker's).
    prod = StreamProducer(r, uid)
    ids = prod.add_many([{"n": str(i)} for i in range(100)])
    slow = prod.add({"slow": "1"})  # still running when the grace period ends
    proc = _cli(backend, uid, handler, "--concurrency", "4", "--grace", "1")
    try:
        assert wait_until(lambda: r.llen(f"{uid}:done") >= 20, 30)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    by_cli = Counter(_done(r, uid))
    assert all(n == 1 for n in by_cli.values())  # nothing processed twice by that worker
    # The rest, the slow entry included, is taken over at once (claim_idle is 30 s).
    finished = Counter(x.split(":", 1)[1] for x in by_cli)
    w = StreamWorker(r, uid, "g", lambda e: finished.update([e.id]), block=0.05,
                     claim_idle=30, claim_interval=0.05).start()
    try:
        assert wait_until(lambda: len(finished) == 101, 20)
    finally:
        w.stop(5)
    assert set(finished) == set(ids) | {slow} and set(finished.values()) == {1}
    assert r.xpending(uid, "g")["pending"] == 0


@ALL_SETUPS
def test_sigkill_mid_batch_loses_nothing(backend, r, uid):
    prod = StreamProducer(r, uid)
    ids = prod.add_many([{"n": str(i)} if i != 25 else {"n": str(i), "hang": "1"}
                         for i in range(50)])
    proc = _cli(backend, uid, "handle_batch", "--batch-size", "10")
    try:
        # batches 0-9 and 10-19 done; 20-29 is stuck in the handler
        assert wait_until(lambda: r.llen(f"{uid}:done") == 20
                          and r.xpending(uid, "g")["pending"] == 10, 30)
    finally:
        proc.kill()
        proc.wait()
    done = Counter(x.split(":", 1)[1] for x in _done(r, uid))
    w = StreamWorker(r, uid, "g", lambda batch: done.update(e.id for e in batch),
                     batch_size=10, block=0.05, claim_idle=0.3, claim_interval=0.05).start()
    try:
        assert wait_until(lambda: len(done) == 50, 20)
    finally:
        w.stop(5)
    assert set(done) == set(ids) and set(done.values()) == {1}


# ------------------------------------------------------------------ asyncio


async def test_async_timeout_retry_unrecoverable_batch_delay(ar, uid):
    prod = aio.StreamProducer(ar, uid)
    hang = await prod.add({"kind": "hang"})
    bad = await prod.add({"kind": "bad"})
    later = await prod.add({"kind": "later"}, delay=0.3)
    assert await prod.add({"kind": "bad"}, idempotency_key="b") == \
        await prod.add({"kind": "bad"}, idempotency_key="b")
    seen = Counter()
    cancelled = []

    async def handle(entry):
        seen[entry.fields["kind"], entry.attempt] += 1
        if entry.fields["kind"] == "hang" and entry.attempt == 1:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                cancelled.append(entry.id)
                raise
        if entry.fields["kind"] == "bad":
            raise Unrecoverable("nope")

    w = aio.StreamWorker(ar, uid, "g", handle, handler_timeout=0.3, **FAST).start()
    try:
        deadline = time.monotonic() + 15
        while not (w.stats.processed == 2 and w.stats.dead_lettered == 2):
            assert time.monotonic() < deadline, w.stats
            await asyncio.sleep(0.02)
    finally:
        await w.stop(5)
    assert cancelled == [hang] and w.stats.timed_out == 1
    assert seen["hang", 2] == 1 and seen["later", 1] == 1
    dead = await w.dead_letters.list()
    assert {d.error for d in dead} == {"unrecoverable: nope"} and bad in {d.original_id for d in dead}
    assert later.startswith("delayed:")

    got = []
    await prod.add_many([{"n": str(i)} for i in range(30)])
    w = aio.StreamWorker(ar, uid, "g2", lambda b: got.append(len(b)), batch_size=8,
                         start_id="$", **FAST)
    await ar.xgroup_create(uid, "g2", id="0")
    w.start()
    try:
        deadline = time.monotonic() + 15
        while sum(got) < 30 + 4:  # the group sees the 4 earlier entries too
            assert time.monotonic() < deadline, got
            await asyncio.sleep(0.02)
    finally:
        await w.stop(5)
    assert max(got) <= 8


# ------------------------------------------------------------------ cluster


@pytest.mark.cluster
def test_delayed_dedup_and_batches_on_cluster(rc, uid):
    from redis.crc import key_slot
    prod = StreamProducer(rc, f"jobs-{uid}")
    slot = key_slot(prod.stream.encode() if "{" in prod.stream else b"jobs-" + uid.encode())
    assert key_slot(prod.delayed_key.encode()) == slot == key_slot(prod.dedup_key("x").encode())
    a = prod.add({"n": "1"}, idempotency_key="x")
    assert prod.add({"n": "1"}, idempotency_key="x") == a
    prod.add({"n": "2"}, delay=0.2)
    prod.add_many([{"n": str(i)} for i in range(3, 20)])
    seen = Counter()
    w = StreamWorker(rc, f"jobs-{uid}", "g", lambda b: seen.update(e.fields["n"] for e in b),
                     batch_size=5, **FAST).start()
    try:
        assert wait_until(lambda: len(seen) == 19, 15)
    finally:
        w.stop(5)
    assert set(seen.values()) == {1}


async def test_async_worker_past_the_stuck_cap_keeps_the_slot_until_the_call_returns(ar, uid):
    await aio.StreamProducer(ar, uid).add_many([{"kind": "hang"}, {"kind": "ok"}, {"kind": "ok"}])
    release, ok_seen = threading.Event(), []

    def handle(entry):
        if entry.fields["kind"] == "hang" and entry.attempt == 1:
            release.wait(60)
        elif entry.fields["kind"] == "ok":
            ok_seen.append(entry.id)

    w = aio.StreamWorker(ar, uid, "g", handle, concurrency=1, max_stuck_threads=0,
                         handler_timeout=0.3, **FAST).start()
    try:
        for _ in range(400):
            if w.stats.timed_out == 1:
                break
            await asyncio.sleep(0.02)
        assert w.stats.timed_out == 1 and (await w.metrics()).stuck_threads == 1
        assert ok_seen == []  # no replacement thread: the only slot waits for the hung call
        release.set()
        for _ in range(400):
            if w.stats.processed == 3:
                break
            await asyncio.sleep(0.05)
        assert w.stats.processed == 3 and len(ok_seen) == 2
        assert (await w.metrics()).stuck_threads == 0
    finally:
        release.set()
        await w.stop(5)


@pytest.mark.cluster
def test_failure_control_on_cluster(rc, uid):
    stream = f"fc-{uid}"
    prod = StreamProducer(rc, stream)
    ids = {k: prod.add({"kind": k}) for k in ("hang", "retry", "bad")}
    release, seen = threading.Event(), Counter()

    def handle(entry):
        kind = entry.fields["kind"]
        seen[kind] += 1
        if kind == "hang" and entry.attempt == 1:
            release.wait(30)
        if kind == "retry" and entry.attempt == 1:
            raise Retry("later", delay=0.1)
        if kind == "bad":
            raise Unrecoverable("no")

    w = StreamWorker(rc, stream, "g", handle, concurrency=1, handler_timeout=0.5,
                     **FAST).start()
    try:
        assert wait_until(lambda: w.stats.processed == 2 and w.stats.dead_lettered == 1, 20)
        assert w.stats.timed_out == 1 and w.metrics().stuck_threads == 1
    finally:
        release.set()
        w.stop(5)
    assert seen == {"hang": 2, "retry": 2, "bad": 1}
    (dead,) = w.dead_letters.list()
    assert dead.original_id == ids["bad"] and dead.error == "unrecoverable: no"
    assert rc.xpending(stream, "g")["pending"] == 0


@pytest.mark.cluster
async def test_async_worker_batches_delays_and_timeouts_on_cluster(arc, uid):
    stream = f"afc-{uid}"
    prod = aio.StreamProducer(arc, stream)
    await prod.add({"n": "0"}, delay=0.1)
    await prod.add_many([{"n": str(i)} for i in range(1, 12)])
    seen, hung = Counter(), []

    async def handle(batch):
        if not hung:
            hung.append(1)
            await asyncio.sleep(30)  # cancelled by handler_timeout, then retried
        seen.update(e.fields["n"] for e in batch)

    w = aio.StreamWorker(arc, stream, "g", handle, batch_size=4, handler_timeout=0.5,
                         **FAST).start()
    try:
        for _ in range(400):
            if len(seen) == 12:
                break
            await asyncio.sleep(0.05)
    finally:
        await w.stop(5)
    assert len(seen) == 12 and set(seen.values()) == {1} and w.stats.timed_out >= 1


# ------------------------------------------------------------------ tracing


def _memory_tracing():
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from vermilion.patterns.tracing import StreamTracing
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return StreamTracing(provider), exporter


@ALL_SETUPS
def test_trace_context_travels_in_the_entry_and_links_consumer_to_producer(r, uid):
    from opentelemetry.trace import SpanKind, StatusCode
    tracing, exporter = _memory_tracing()
    prod = StreamProducer(r, uid, tracing=tracing)
    ok_id = prod.add({"n": "1"})
    bad_id = prod.add({"n": "bad"})
    assert r.xrange(uid, ok_id, ok_id)[0][1]["traceparent"].startswith("00-")

    def handle(entry):
        with tracing.tracer.start_as_current_span("inner"):
            if entry.fields["n"] == "bad":
                raise Unrecoverable("no")

    w = StreamWorker(r, uid, "g", handle, tracing=tracing, **FAST).start()
    try:
        assert wait_until(lambda: w.stats.processed == 1 and w.stats.dead_lettered == 1, 15)
    finally:
        w.stop(5)
    spans = exporter.get_finished_spans()
    publish = {s.attributes["messaging.message.id"]: s for s in spans if s.kind == SpanKind.PRODUCER}
    process = {s.attributes["messaging.message.id"]: s for s in spans if s.kind == SpanKind.CONSUMER}
    inner = [s for s in spans if s.name == "inner"]
    for entry_id in (ok_id, bad_id):
        link = process[entry_id].links[0].context
        assert link.span_id == publish[entry_id].context.span_id
        assert link.trace_id == publish[entry_id].context.trace_id
    assert process[bad_id].status.status_code == StatusCode.ERROR
    assert {s.parent.span_id for s in inner} == {p.context.span_id for p in process.values()}


@ALL_SETUPS
async def test_async_worker_spans_link_to_producer(ar, uid):
    from opentelemetry.trace import SpanKind
    tracing, exporter = _memory_tracing()
    ids = await aio.StreamProducer(ar, uid, tracing=tracing).add_many([{"n": "1"}, {"n": "2"}])
    got = []
    w = aio.StreamWorker(ar, uid, "g", got.extend, batch_size=10, tracing=tracing, **FAST).start()
    try:
        deadline = time.monotonic() + 15
        while len(got) < 2:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
    finally:
        await w.stop(5)
    spans = exporter.get_finished_spans()
    publish = {s.context.span_id for s in spans if s.kind == SpanKind.PRODUCER}
    (batch,) = [s for s in spans if s.kind == SpanKind.CONSUMER]
    assert {link.context.span_id for link in batch.links} == publish and len(ids) == 2


def test_add_many_adds_in_order_across_chunks_and_trims(r, uid):
    from vermilion.patterns._streams_core import ADD_MANY_CHUNK
    n = ADD_MANY_CHUNK * 2 + 7
    ids = StreamProducer(r, uid, maxlen=None).add_many([{"n": str(i)} for i in range(n)])
    stored = r.xrange(uid)
    assert ids == [i for i, _ in stored] and [f["n"] for _, f in stored] == [str(i) for i in range(n)]
    exact = StreamProducer(r, f"{uid}:x", maxlen=10, approximate=False)
    exact.add_many([{"n": str(i)} for i in range(25)])
    assert [f["n"] for _, f in r.xrange(f"{uid}:x")] == [str(i) for i in range(15, 25)]
    with pytest.raises(ValueError):
        exact.add_many([{"n": "1"}, {}])


def test_add_many_packs_values_like_redis_py_and_keeps_the_connection_usable(backend, uid):
    import redis
    from redis.exceptions import DataError, ResponseError
    r = redis.Redis.from_url(backend.url)  # bytes replies: binary values come back as sent
    fields = {"a": 1, b"b": b"\x00\xff\r\n", "c": 1.5, "\u00e9": "\u00fc", 7: bytearray(b"x")}
    ids = StreamProducer(r, uid, maxlen=None).add_many([fields] * 3)
    stored = r.xrange(uid)
    assert [i.decode() for i, _ in stored] == ids
    assert stored[0][1] == {b"a": b"1", b"b": b"\x00\xff\r\n", b"c": b"1.5",
                            "\u00e9".encode(): "\u00fc".encode(), b"7": b"x"}
    with pytest.raises(DataError):
        StreamProducer(r, uid).add_many([{"a": True}])
    r.set(f"{uid}:str", "1")
    with pytest.raises(ResponseError, match="WRONGTYPE"):  # refused inside the transaction
        StreamProducer(r, f"{uid}:str").add_many([{"a": "1"}] * 3)
    assert r.ping() and r.get(f"{uid}:str") == b"1" and r.xlen(uid) == 3
    r.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_packed_reads_and_acks_on_resp2_and_resp3_bytes_clients(backend, uid, protocol):
    import redis
    r = redis.Redis.from_url(backend.url, protocol=protocol)
    StreamProducer(r, uid).add_many([{"n": str(i), b"bin": b"\xff"} for i in range(150)])
    got, done = [], threading.Event()

    def handle(batch):
        got.extend(batch)
        if len(got) >= 150:
            done.set()

    w = StreamWorker(r, uid, "g", handle, batch_size=50, concurrency=2, **FAST).start()
    try:
        assert done.wait(15)
        assert wait_until(lambda: r.xpending(uid, "g")["pending"] == 0, 10)
    finally:
        w.stop(5)
        r.close()
    assert sorted(int(e.fields[b"n"]) for e in got) == list(range(150))
    assert all(e.fields[b"bin"] == b"\xff" and isinstance(e.id, str) for e in got)


def test_gc_paused_nests_across_threads_and_leaves_a_disabled_collector_off():
    import gc

    from vermilion.patterns._util import gc_paused
    assert gc.isenabled()
    inside, leave = threading.Event(), threading.Event()

    def other():
        with gc_paused():
            inside.set()
            leave.wait(10)

    t = threading.Thread(target=other)
    with gc_paused():
        t.start()
        assert inside.wait(10) and not gc.isenabled()
    assert not gc.isenabled()  # the other thread is still inside
    leave.set()
    t.join(10)
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # off before: stays off
    finally:
        gc.enable()


def test_packed_parse_runs_with_the_collector_paused_and_errors_keep_the_connection(r, uid):
    import gc

    from redis.exceptions import ResponseError

    from vermilion.patterns._ops import Packed, pack, run_sync
    seen = []

    def parse(replies):
        seen.append(gc.isenabled())
        return [len(x) for x in replies]

    r.rpush(uid, "a", "bb")
    assert run_sync(r, Packed(pack(b"LRANGE", uid, 0, -1), 1, parse=parse)) == [2]
    assert seen == [False] and gc.isenabled()
    r.set(f"{uid}:s", "x")
    conn = r.connection_pool.get_connection()
    r.connection_pool.release(conn)
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        run_sync(r, Packed(pack(b"LRANGE", f"{uid}:s", 0, -1), 1, parse=parse))
    assert gc.isenabled() and seen == [False]
    # the error reply was read whole: the same connection serves the next command
    assert r.connection_pool.get_connection() is conn
    r.connection_pool.release(conn)
    assert r.llen(uid) == 2


async def test_async_packed_parse_runs_with_the_collector_paused(ar, uid):
    import gc

    from vermilion.patterns._ops import Packed, pack, run_async
    seen = []

    def parse(replies):
        seen.append(gc.isenabled())
        return len(replies[0])

    await ar.rpush(uid, "a")
    assert await run_async(ar, Packed(pack(b"LRANGE", uid, 0, -1), 1, parse=parse)) == 1
    assert seen == [False] and gc.isenabled()


def test_packed_commands_reconnect_like_redis_py_after_a_server_restart(redis_farm):
    import redis
    (proc,) = redis_farm(1)
    r = redis.Redis(port=proc.port)
    prod = StreamProducer(r, "s", maxlen=None)
    prod.add_many([{"a": "1"}] * 3)
    proc.restart()  # the pooled connection is now dead: retried on a new one
    assert len(prod.add_many([{"a": "2"}] * 3)) == 3 and r.xlen("s") == 3
    r.close()


async def test_async_add_many_packs_and_reports_errors(ar, uid):
    from redis.exceptions import ResponseError
    ids = await aio.StreamProducer(ar, uid, maxlen=None).add_many([{"n": str(i)} for i in range(700)])
    assert len(ids) == 700 and await ar.xlen(uid) == 700
    await ar.set(f"{uid}:str", "1")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await aio.StreamProducer(ar, f"{uid}:str").add_many([{"a": "1"}])
    assert await ar.ping()


async def test_async_handler_raising_timeouterror_is_an_ordinary_failure(ar, uid):
    await aio.StreamProducer(ar, uid).add({"n": "1"})

    async def handle(entry):
        raise TimeoutError("the handler's own timeout")

    w = aio.StreamWorker(ar, uid, "g", handle, handler_timeout=30, max_deliveries=1,
                         **FAST).start()
    try:
        deadline = time.monotonic() + 15
        while w.stats.dead_lettered < 1:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
    finally:
        await w.stop(5)
    assert w.stats.timed_out == 0 and w.stats.failed == 1
    (dead,) = await w.dead_letters.list()
    assert "the handler's own timeout" in dead.error


def _handler_threads(worker):
    prefix = f"stream-handler:{worker.consumer}-"
    return sum(1 for t in threading.enumerate() if t.name.startswith(prefix))


def test_hung_sync_handlers_get_replacement_threads_up_to_a_cap(r, uid):
    prod = StreamProducer(r, uid)
    prod.add_many([{"kind": "hang"}] * 2 + [{"kind": "ok"}] * 10)
    release, started = threading.Event(), []

    def handle(entry):
        if entry.fields["kind"] == "hang" and entry.attempt == 1:
            started.append(entry.id)
            release.wait(60)

    w = StreamWorker(r, uid, "g", handle, concurrency=2, max_stuck_threads=1,
                     handler_timeout=0.5, count=2, **FAST).start()
    try:
        # Both hung calls are abandoned: the first gets a replacement thread, the
        # second (past the cap) keeps its slot. The one slot left does all the work.
        assert wait_until(lambda: w.stats.processed == 12, 20), w.stats
        assert len(started) == 2 and w.stats.timed_out == 2
        m = w.metrics()
        assert m.stuck_threads == 2 and m.pending == 0
        assert _handler_threads(w) == 3  # 2 stuck + 1 replacement, never more
        release.set()
        # The replaced thread leaves; the other one serves again.
        assert wait_until(lambda: w.metrics().stuck_threads == 0 and _handler_threads(w) == 2, 10)
        r.xadd(uid, {"kind": "ok"})
        assert wait_until(lambda: w.stats.processed == 13, 10)
    finally:
        release.set()
        w.stop(5)
    assert w.stats.processed == 13


async def test_async_worker_sync_handler_hung_past_timeout_keeps_no_slot(ar, uid):
    await aio.StreamProducer(ar, uid).add_many([{"kind": "hang"}] + [{"kind": "ok"}] * 5)
    release = threading.Event()

    def handle(entry):
        if entry.fields["kind"] == "hang" and entry.attempt == 1:
            release.wait(60)

    w = aio.StreamWorker(ar, uid, "g", handle, concurrency=1, handler_timeout=0.5,
                         **FAST).start()
    try:
        # concurrency 1: the rest is processed only because a new thread took the slot
        for _ in range(400):
            if w.stats.processed == 6:
                break
            await asyncio.sleep(0.05)
        assert w.stats.processed == 6 and w.stats.timed_out == 1
        assert (await w.metrics()).stuck_threads == 1
        release.set()
        for _ in range(200):
            if (await w.metrics()).stuck_threads == 0:
                break
            await asyncio.sleep(0.05)
        assert (await w.metrics()).stuck_threads == 0
    finally:
        release.set()
        await w.stop(5)


@ALL_SETUPS
async def test_async_stop_releases_what_a_cancelled_read_left_pending(ar, uid):
    # stop() abandons a blocked XREADGROUP; had the server just served it, its entries
    # would be pending for the worker, never seen by it. Here a read made under the
    # worker's name while it waits stands for that reply.
    await ar.xgroup_create(uid, "g", id="0", mkstream=True)
    w = aio.StreamWorker(ar, uid, "g", lambda e: None, consumer="c1", block=1, claim_idle=30)
    w.start()
    deadline = time.monotonic() + 15
    while not w._reading:  # the worker is blocked in its own read
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    # In one script, so that the worker's blocked read is not served first.
    assert await ar.eval(
        "redis.call('XADD', KEYS[1], '*', 'n', '1') redis.call('XADD', KEYS[1], '*', 'n', '2') "
        "local r = redis.call('XREADGROUP', 'GROUP', 'g', 'c1', 'COUNT', 2, 'STREAMS', KEYS[1], '>') "
        "return #r[1][2]", 1, uid) == 2
    assert await w.stop(5)
    rows = await ar.xpending_range(uid, "g", "-", "+", 10)
    # still pending, but idle past claim_idle: another worker reclaims them at once
    assert len(rows) == 2 and all(row["time_since_delivered"] >= 30_000 for row in rows)
