"""Lock: mutual exclusion, owner-checked release/extend, fencing, watchdog (sync + asyncio)."""

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from vermilion.patterns import FencedStore, Lock, LockNotAcquired
from vermilion.patterns import aio

from patterns_support import ALL_SETUPS, wait_until

pytestmark = pytest.mark.needs("eval")


@ALL_SETUPS
def test_acquire_release_and_tokens_increase(r, uid):
    tokens = []
    for _ in range(3):
        lock = Lock(r, uid, ttl=5)
        tokens.append(lock.acquire())
        assert lock.held and lock.owned()
        assert Lock(r, uid, ttl=5).acquire(blocking=False) is None
        assert lock.release() is True
        assert r.exists(lock.key) == 0
    assert tokens == sorted(tokens) and len(set(tokens)) == 3


def test_expired_holder_cannot_release_or_extend_the_next_holders_lock(r, uid):
    first = Lock(r, uid, ttl=0.1)
    first.acquire()
    assert wait_until(lambda: not r.exists(first.key), 10)  # expired on the server
    second = Lock(r, uid, ttl=5)
    assert second.acquire(blocking=False)
    assert first.extend() is False and first.lost
    assert first.release() is False
    assert second.owned() and r.pttl(second.key) > 4000


@ALL_SETUPS
def test_blocking_acquire_waits_for_release_and_times_out(r, uid):
    holder = Lock(r, uid, ttl=5)
    holder.acquire()
    start = time.monotonic()
    assert Lock(r, uid, ttl=5).acquire(timeout=0.2) is None
    assert 0.18 <= time.monotonic() - start < 5
    threading.Timer(0.15, holder.release).start()
    waiter = Lock(r, uid, ttl=5, retry_base=0.01, retry_cap=0.05)
    start = time.monotonic()
    assert waiter.acquire(timeout=10) is not None
    assert time.monotonic() - start < 5
    with pytest.raises(LockNotAcquired):
        with Lock(r, uid, ttl=5, timeout=0.05):
            pass
    waiter.release()
    with Lock(r, uid, ttl=5) as lock:
        assert lock.owned()
    assert r.exists(lock.key) == 0


def test_watchdog_keeps_lock_alive_and_stops_on_release(r, uid):
    lock = Lock(r, uid, ttl=1.5, watchdog=True)
    lock.acquire()
    assert wait_until(lambda: lock.renewals >= 3, 20)  # past the TTL
    assert lock.owned() and not lock.lost
    lock.release()
    assert r.exists(lock.key) == 0


@ALL_SETUPS
def test_watchdog_reports_loss(r, uid):
    seen = []
    lock = Lock(r, uid, ttl=0.3, watchdog=True, on_lost=lambda l, why: seen.append(why))
    lock.acquire()
    r.delete(lock.key)  # as if it expired during a stall and someone took it
    assert lock.lost_event.wait(1.0)
    assert lock.lost and not lock.held and "refused" in seen[0]
    assert lock.release() is False


def test_watchdog_renewal_cap(r, uid):
    lock = Lock(r, uid, ttl=0.3, watchdog=True, max_renewals=1)
    start = time.monotonic()
    lock.acquire()
    assert lock.lost_event.wait(2.0)
    # one renewal at ~0.1s, then the TTL (0.3s) runs out
    assert 0.3 <= time.monotonic() - start < 5
    assert lock.renewals == 1 and "cap" in lock.lost_reason
    # we report the loss by our own conservative clock: at, or just before, the server expires it
    assert wait_until(lambda: r.exists(lock.key) == 0, timeout=0.1)


def test_paused_holder_late_write_is_rejected_by_fencing(backend, r, uid):
    holder = subprocess.Popen([sys.executable, str(Path(__file__).with_name("_holder.py")),
                               backend.url, uid, "0.3"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        old_token = int(holder.stdout.readline())
        holder.send_signal(19)  # SIGSTOP: a GC pause, a swapped-out VM...
        new_lock = Lock(r, uid, ttl=5)
        # ...longer than the TTL: its lock expires on the server while it is frozen
        assert wait_until(lambda: not r.exists(new_lock.key), 10)
        new_token = new_lock.acquire(timeout=1)
        assert new_token > old_token
        assert FencedStore(r).write(uid, new_token, {"writer": "new-holder"})
        holder.send_signal(18)  # SIGCONT: the old holder wakes up and writes
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "rejected"
        record = FencedStore(r).read(uid)
        assert record["writer"] == "new-holder" and int(record[":fence"]) == new_token
    finally:
        holder.kill()
        holder.wait()


def test_lock_works_with_bytes_replies(backend, uid):
    import redis
    r = redis.Redis.from_url(backend.url)  # decode_responses=False
    lock = Lock(r, uid, ttl=2)
    assert lock.acquire() and lock.owned()
    assert FencedStore(r).write(uid, 1, {"a": "b"}) and FencedStore(r).read(uid)[":fence"] == b"1"
    assert lock.release()


# ------------------------------------------------------------------ asyncio


@ALL_SETUPS
async def test_async_lock_basics(ar, uid):
    a = aio.Lock(ar, uid, ttl=5)
    b = aio.Lock(ar, uid, ttl=5)
    t1 = await a.acquire()
    assert await b.acquire(timeout=0.1) is None
    assert await a.release()
    t2 = await b.acquire(blocking=False)
    assert t2 > t1 and await b.owned()
    await b.release()
    async with aio.Lock(ar, uid, ttl=5) as lock:
        assert await lock.owned()
    assert await ar.exists(lock.key) == 0


async def test_async_watchdog_renews(ar, uid):
    async with aio.Lock(ar, uid, ttl=1.5, watchdog=True) as lock:
        deadline = time.monotonic() + 20
        while lock.renewals < 3:  # past the TTL
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        assert await lock.owned() and not lock.lost


async def test_async_lost_lock_cancels_guarded_task(ar, uid):
    seen = []

    async def on_lost(lock, why):
        seen.append(why)

    lock = aio.Lock(ar, uid, ttl=0.3, watchdog=True, cancel_on_lost=True, on_lost=on_lost)
    reached_end = False

    async def critical_section():
        nonlocal reached_end
        async with lock:
            await ar.delete(lock.key)  # the lock vanishes under us
            await asyncio.sleep(30)
            reached_end = True

    start = time.monotonic()
    with pytest.raises(aio.LockLost):
        await critical_section()
    assert not reached_end and time.monotonic() - start < 10
    assert lock.lost and seen and lock.lost_event.is_set()


async def test_async_fenced_store(ar, uid):
    store = aio.FencedStore(ar)
    assert await store.write(uid, 7, {"v": "new"})
    assert not await store.write(uid, 6, {"v": "stale"})
    assert (await store.read(uid))["v"] == "new"
