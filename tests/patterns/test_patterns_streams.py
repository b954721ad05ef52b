"""StreamWorker, StreamProducer and DeadLetters (sync + asyncio)."""

import asyncio
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from vermilion.patterns import DeadLetters, StreamProducer, StreamWorker, aio

from patterns_support import ALL_SETUPS, wait_until

pytestmark = pytest.mark.needs("eval", "streams")

FAST = dict(block=0.05, claim_idle=0.3, retry_base=0.02, heartbeat=0.1)


def _pending(r, stream, group):
    return r.xpending(stream, group)["pending"]


@ALL_SETUPS
def test_processes_everything_once_with_bounded_concurrency(r, uid):
    prod = StreamProducer(r, uid)
    ids = prod.add_many([{"n": str(i)} for i in range(20)])
    seen, lock, running, peak = Counter(), threading.Lock(), [0], [0]

    def handle(entry):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.01)
        with lock:
            running[0] -= 1
            seen[entry.id] += 1

    w = StreamWorker(r, uid, "g", handle, concurrency=3, **FAST).start()
    assert wait_until(lambda: len(seen) == 20, 5)
    assert w.stop(2)
    assert set(seen) == set(ids) and set(seen.values()) == {1}
    assert 1 < peak[0] <= 3
    m = w.metrics()
    assert (m.processed, m.failed, m.pending, m.lag, m.in_flight) == (20, 0, 0, 0, 0)


@ALL_SETUPS
def test_retries_with_backoff_then_succeeds(r, uid):
    StreamProducer(r, uid).add({"job": "flaky"})
    deliveries = []

    def handle(entry):
        deliveries.append((entry.deliveries, time.monotonic()))
        if entry.deliveries < 3:
            raise RuntimeError("transient")

    w = StreamWorker(r, uid, "g", handle, max_deliveries=5, **FAST).start()
    assert wait_until(lambda: w.stats.processed == 1, 5)
    w.stop(1)
    assert [d for d, _ in deliveries] == [1, 2, 3]
    assert deliveries[2][1] - deliveries[1][1] >= 0.01  # backed off
    assert _pending(r, uid, "g") == 0 and w.stats.failed == 2 and w.stats.retried == 2
    assert DeadLetters(r, uid).count() == 0


@ALL_SETUPS
def test_poison_message_is_dead_lettered_then_replayed(r, uid):
    prod = StreamProducer(r, uid)
    good = prod.add({"kind": "good"})
    bad = prod.add({"kind": "poison", "payload": "x"})
    fixed, done = threading.Event(), []

    def handle(entry):
        if entry.fields["kind"] == "poison" and not fixed.is_set():
            raise ValueError("cannot parse payload")
        done.append(entry.fields["kind"])

    w = StreamWorker(r, uid, "g", handle, max_deliveries=3, **FAST).start()
    assert wait_until(lambda: w.stats.dead_lettered == 1, 5)
    dead = w.dead_letters.list()
    assert len(dead) == 1
    d = dead[0]
    assert (d.original_id, d.deliveries, d.fields) == (bad, 3, {"kind": "poison", "payload": "x"})
    assert "cannot parse payload" in d.error and d.consumer == w.consumer
    assert done == ["good"] and _pending(r, uid, "g") == 0 and w.stats.failed == 3
    fixed.set()
    new_ids = w.dead_letters.replay()
    assert len(new_ids) == 1 and new_ids[0] > good
    assert w.dead_letters.count() == 0
    assert wait_until(lambda: done == ["good", "poison"], 5)
    w.stop(1)


def test_killed_worker_entries_recovered_exactly_once(backend, r, uid):
    ids = StreamProducer(r, uid).add_many([{"n": str(i)} for i in range(6)])
    r.xgroup_create(uid, "g", id="0")
    crashed = subprocess.Popen([sys.executable, str(Path(__file__).with_name("_crash_worker.py")),
                                backend.url, uid, "g", "doomed", "2"])
    try:
        assert wait_until(lambda: r.llen(f"{uid}:done") == 2 and _pending(r, uid, "g") == 4, 10)
    finally:
        crashed.kill()  # SIGKILL mid-batch: four entries delivered, never acked
        crashed.wait()
    finished_before = set(r.lrange(f"{uid}:done", 0, -1))
    handled, lock = Counter(), threading.Lock()

    def handle(entry):
        time.sleep(0.05)
        with lock:
            handled[entry.id] += 1

    rescuers = [StreamWorker(r, uid, "g", handle, consumer=f"rescuer-{i}", concurrency=2,
                             claim_interval=0.05, **FAST).start() for i in range(2)]
    assert wait_until(lambda: sum(handled.values()) >= 4, 10)
    time.sleep(0.7)  # two more claim periods: a duplicate would show up now
    for w in rescuers:
        w.stop(1)
    assert set(handled) == set(ids) - finished_before
    assert set(handled.values()) == {1}
    assert sum(w.stats.reclaimed for w in rescuers) == 4
    assert _pending(r, uid, "g") == 0


def test_restarted_consumer_finishes_its_own_pending_first(r, uid):
    prod = StreamProducer(r, uid)
    old = prod.add_many([{"n": "1"}, {"n": "2"}, {"n": "3"}])
    r.xgroup_create(uid, "g", id="0")
    r.xreadgroup("g", "me", {uid: ">"}, count=3)  # delivered, then "crashed"
    r.xdel(uid, old[2])  # one of them was deleted meanwhile
    new = prod.add({"n": "4"})
    order = []
    w = StreamWorker(r, uid, "g", lambda e: order.append((e.id, e.deliveries)),
                     consumer="me", **FAST).start()
    # the handler runs before the ack: wait for the acks too, not for a grace period
    assert wait_until(lambda: len(order) == 3 and _pending(r, uid, "g") == 0, 15)
    w.stop(5)
    assert order == [(old[0], 2), (old[1], 2), (new, 1)]
    assert w.stats.deleted == 1 and _pending(r, uid, "g") == 0


def test_heartbeat_keeps_long_handler_from_being_stolen(r, uid):
    StreamProducer(r, uid).add({"job": "slow"})
    runs, thief_sweeps = Counter(), []
    # claim_idle leaves the busy worker's heartbeat (every 0.1 s) a 1.5 s margin, so
    # a loaded machine delaying it does not let the thief in; the handler runs until
    # the thief has swept the group many times over more than 2 x claim_idle.
    opts = dict(FAST, claim_idle=1.5, heartbeat=0.1)
    thief_started = threading.Event()

    def slow(entry):
        runs[entry.id] += 1
        thief_started.wait(20)
        start = time.monotonic()
        wait_until(lambda: time.monotonic() - start > 3.2 and len(thief_sweeps) >= 10, 30)

    w1 = StreamWorker(r, uid, "g", slow, consumer="busy", **opts).start()
    assert wait_until(lambda: runs, 10)
    w2 = StreamWorker(r, uid, "g", slow, consumer="thief", claim_interval=0.05, **opts)
    sweep = w2._reclaim_some

    def counted_sweep():
        sweep()
        thief_sweeps.append(1)

    w2._reclaim_some = counted_sweep
    w2.start()
    thief_started.set()
    assert wait_until(lambda: w1.stats.processed == 1, 40)
    w1.stop(5), w2.stop(5)
    assert list(runs.values()) == [1] and w2.stats.reclaimed == 0 and w1.stats.lost == 0


@ALL_SETUPS
def test_graceful_shutdown_finishes_or_leaves_pending(r, uid):
    StreamProducer(r, uid).add({"job": "a"})
    started = threading.Event()

    def handle(entry):
        started.set()
        time.sleep(0.3)

    w = StreamWorker(r, uid, "g", handle, **FAST).start()
    assert started.wait(10)
    assert w.stop(timeout=30) is True and w.stats.processed == 1  # waits only for the 0.3 s
    assert _pending(r, uid, "g") == 0

    StreamProducer(r, uid).add({"job": "b"})
    started.clear()
    w = StreamWorker(r, uid, "g", lambda e: (started.set(), time.sleep(6)), **FAST).start()
    assert started.wait(10)
    t = time.monotonic()
    assert w.stop(timeout=0.1) is False
    assert time.monotonic() - t < 5
    assert _pending(r, uid, "g") == 1  # left for a later run or another worker


@ALL_SETUPS
def test_metrics_report_lag_and_oldest_pending(r, uid):
    prod = StreamProducer(r, uid)
    prod.add_many([{"n": str(i)} for i in range(5)])
    r.xgroup_create(uid, "g", id="0")
    r.xreadgroup("g", "someone", {uid: ">"}, count=2)
    time.sleep(0.25)  # a lower bound (a stall only adds); 50 ms covers whole-ms rounding
    w = StreamWorker(r, uid, "g", lambda e: None)
    m = w.metrics()
    assert m.lag == 3 and m.pending == 2
    assert m.oldest_pending_age >= 0.2 and m.oldest_pending_idle >= 0.2


def test_producer_trims_approximately(r, uid):
    prod = StreamProducer(r, uid, maxlen=100)
    for _ in range(10):
        prod.add_many([{"i": "x"}] * 100)
    assert 100 <= r.xlen(uid) < 1000


# ------------------------------------------------------------------ asyncio


@ALL_SETUPS
async def test_async_worker_processes_retries_and_dead_letters(ar, uid):
    prod = aio.StreamProducer(ar, uid)
    await prod.add_many([{"n": str(i)} for i in range(10)] + [{"n": "poison"}])
    done = Counter()

    async def handle(entry):
        await asyncio.sleep(0.005)
        if entry.fields["n"] == "poison":
            raise ValueError("poison")
        done[entry.fields["n"]] += 1

    w = aio.StreamWorker(ar, uid, "g", handle, concurrency=4, max_deliveries=2, **FAST).start()
    for _ in range(200):
        if w.stats.dead_lettered == 1 and len(done) == 10:
            break
        await asyncio.sleep(0.02)
    assert await w.stop(1)
    assert set(done.values()) == {1} and len(done) == 10
    [dead] = await w.dead_letters.list()
    assert dead.fields == {"n": "poison"} and dead.deliveries == 2
    m = await w.metrics()
    assert (m.processed, m.dead_lettered, m.pending) == (10, 1, 0)
    assert await w.dead_letters.purge() == 1


@ALL_SETUPS
async def test_async_worker_with_sync_handler_and_recovery(ar, uid):
    await aio.StreamProducer(ar, uid).add_many([{"n": "1"}, {"n": "2"}])
    await ar.xgroup_create(uid, "g", id="0")
    await ar.xreadgroup("g", "dead-consumer", {uid: ">"}, count=2)
    seen = []
    w = aio.StreamWorker(ar, uid, "g", lambda e: seen.append(e.deliveries),
                         claim_interval=0.05, **FAST).start()
    for _ in range(100):
        if len(seen) == 2:
            break
        await asyncio.sleep(0.02)
    await w.stop(1)
    assert seen == [2, 2] and w.stats.reclaimed == 2
    assert (await ar.xpending(uid, "g"))["pending"] == 0


@ALL_SETUPS
def test_heartbeat_keeps_every_entry_of_a_batch(r, uid):
    StreamProducer(r, uid).add_many([{"n": str(i)} for i in range(3)])
    release, started = threading.Event(), threading.Event()

    def handle(batch):
        started.set()
        release.wait(30)

    w = StreamWorker(r, uid, "g", handle, batch_size=3, block=0.05, claim_idle=30,
                     heartbeat=0.1).start()
    try:
        assert started.wait(15)
        read_at = time.monotonic()
        assert wait_until(lambda: time.monotonic() - read_at > 2, 5)
        rows = r.xpending_range(uid, "g", "-", "+", 10)
        # each entry was re-claimed since its delivery 2 s ago, not only the first
        assert len(rows) == 3 and max(row["time_since_delivered"] for row in rows) < 2000
    finally:
        release.set()
        w.stop(5)
