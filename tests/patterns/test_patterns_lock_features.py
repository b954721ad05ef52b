"""Lock: reentrancy, wake-up on release, LockNotOwned on exit, @synchronized and the
exception hierarchy (sync + asyncio, on Redis, Vermilion and the cluster)."""

import asyncio
import threading
import time

import pytest
import redis.exceptions

from vermilion.patterns import (Lock, LockError, LockLost, LockNotAcquired, LockNotOwned,
                                aio, synchronized)

from patterns_support import ALL_SETUPS

pytestmark = pytest.mark.needs("eval")


def test_exceptions_subclass_redis_py():
    assert issubclass(LockError, redis.exceptions.LockError)
    assert issubclass(LockNotOwned, redis.exceptions.LockNotOwnedError)
    assert issubclass(LockNotOwned, LockLost) and issubclass(LockNotAcquired, LockError)


@ALL_SETUPS
def test_reentrant_lock_counts_acquires_per_thread(r, uid):
    lock = Lock(r, uid, ttl=5, reentrant=True)
    fence = lock.acquire()
    assert lock.acquire(blocking=False) == fence and lock.depth == 2
    with lock:
        assert lock.depth == 3
    other_thread = []
    t = threading.Thread(target=lambda: other_thread.append(
        pytest.raises(LockError, lock.acquire, blocking=False)))
    t.start(), t.join()
    assert lock.release() and r.exists(lock.key) == 1  # one release to go
    assert lock.release() and r.exists(lock.key) == 0
    plain = Lock(r, uid, ttl=5)
    plain.acquire()
    with pytest.raises(LockError):
        plain.acquire(blocking=False)
    plain.release()


def _node_of(client, key: str) -> dict:
    """On a cluster, CLIENT LIST goes to one node: the one serving ``key``."""
    get_node = getattr(client, "get_node_from_key", None)
    return {"target_nodes": get_node(key)} if get_node else {}


@ALL_SETUPS
def test_waiter_is_woken_by_release_not_by_polling(r, uid):
    alone = Lock(r, uid, ttl=30)
    alone.acquire(), alone.release()
    assert r.exists(alone.wake_key, alone.waiters_key) == 0  # nobody waited: no signal
    holder = Lock(r, uid, ttl=30)
    holder.acquire()
    # Polling alone would next look after retry_cap (20 s); the release wakes it.
    waiter = Lock(r, uid, ttl=5, retry_base=20, retry_cap=20)
    got, started = [], threading.Event()

    def wait():
        started.set()
        got.append(waiter.acquire(timeout=25))

    t = threading.Thread(target=wait)
    t.start()
    started.wait(5)
    # Wait until the waiter is blocked on the wake-up list, then release.
    deadline = time.monotonic() + 10
    while not any(c.get("cmd") == "blpop" for c in r.client_list(**_node_of(r, holder.wake_key))):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    released_at = time.monotonic()
    holder.release()
    t.join(15)
    assert got and got[0] is not None
    assert time.monotonic() - released_at < 10  # far less than the 20 s poll
    waiter.release()


@ALL_SETUPS
def test_polling_fallback_when_notify_is_off(r, uid):
    holder = Lock(r, uid, ttl=5, notify=False)
    holder.acquire()
    threading.Timer(0.1, holder.release).start()
    assert Lock(r, uid, ttl=5, notify=False, retry_base=0.01, retry_cap=0.05).acquire(timeout=10)
    assert r.exists(holder.wake_key) == 0  # no signal list without notify


@ALL_SETUPS
def test_lost_lock_raises_on_exit_unless_opted_out(r, uid):
    with pytest.raises(LockNotOwned):
        with Lock(r, uid, ttl=5) as lock:
            r.delete(lock.key)  # expired and taken while we worked
    with Lock(r, uid, ttl=5, raise_on_lost=False) as lock:
        r.delete(lock.key)
    with pytest.raises(ValueError):  # the block's own error is not masked
        with Lock(r, uid, ttl=5) as lock:
            r.delete(lock.key)
            raise ValueError("inside")


@ALL_SETUPS
def test_synchronized_decorator_serialises_calls(r, uid):
    inside, overlaps, calls = [], [], []

    @synchronized(r, lambda n: f"{uid}:{n % 2}", ttl=5, timeout=20)
    def critical(n):
        inside.append(n % 2)
        if inside.count(n % 2) > 1:
            overlaps.append(n)
        time.sleep(0.005)
        inside.remove(n % 2)
        calls.append(n)
        return n * 10

    threads = [threading.Thread(target=critical, args=(i,)) for i in range(8)]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    assert sorted(calls) == list(range(8)) and not overlaps
    assert critical(3) == 30 and critical.__name__ == "critical"


@ALL_SETUPS
async def test_async_reentrant_notify_lost_and_synchronized(ar, uid):
    lock = aio.Lock(ar, uid, ttl=5, reentrant=True)
    async with lock:
        async with lock:
            assert lock.depth == 2
        assert await ar.exists(lock.key) == 1
    assert await ar.exists(lock.key) == 0

    holder = aio.Lock(ar, uid, ttl=30)
    await holder.acquire()
    waiter = asyncio.ensure_future(aio.Lock(ar, uid, ttl=5, retry_base=20,
                                            retry_cap=20).acquire(timeout=25))
    deadline = time.monotonic() + 10
    while not any(c.get("cmd") == "blpop"
                  for c in await ar.client_list(**_node_of(ar, holder.wake_key))):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    await holder.release()
    assert await asyncio.wait_for(waiter, 15) is not None

    with pytest.raises(LockNotOwned):
        async with aio.Lock(ar, f"{uid}:x", ttl=5) as lost:
            await ar.delete(lost.key)

    seen = []

    @aio.synchronized(ar, f"{uid}:s", ttl=5, timeout=20)
    async def critical(n):
        seen.append(("in", n))
        await asyncio.sleep(0.01)
        seen.append(("out", n))

    await asyncio.gather(*(critical(i) for i in range(4)))
    assert all(seen[i][0] == "in" and seen[i + 1] == ("out", seen[i][1])
               for i in range(0, 8, 2))


@pytest.mark.cluster
def test_lock_wake_key_shares_the_slot_on_cluster(rc, uid):
    from redis.crc import key_slot
    holder = Lock(rc, f"c:{uid}", ttl=30)
    holder.acquire()
    assert key_slot(holder.key.encode()) == key_slot(holder.wake_key.encode())
    threading.Timer(0.2, holder.release).start()
    assert Lock(rc, f"c:{uid}", ttl=5, retry_base=20, retry_cap=20).acquire(timeout=25)
