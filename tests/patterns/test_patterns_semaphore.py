"""Semaphore and ReadWriteLock (sync + asyncio, on Redis, Vermilion and the cluster)."""

import asyncio
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from vermilion.patterns import LockNotOwned, ReadWriteLock, Semaphore, aio

from patterns_support import ALL_SETUPS, wait_until

pytestmark = pytest.mark.needs("eval")


@ALL_SETUPS
def test_semaphore_admits_limit_holders_with_increasing_fences(r, uid):
    permits = [Semaphore(r, uid, 3, ttl=10) for _ in range(4)]
    fences = [p.acquire(blocking=False) for p in permits]
    assert fences[3] is None and fences[:3] == sorted(fences[:3])
    assert permits[0].holders() == 3 and permits[1].owned()
    assert permits[0].release() is True
    assert permits[3].acquire(blocking=False) > fences[2]
    for p in permits[1:]:
        p.release()
    assert r.exists(permits[0].key) == 0


@ALL_SETUPS
def test_semaphore_bounds_concurrency_across_threads(r, uid):
    inside, peak, done = [0], [0], []
    mutex, two_inside = threading.Lock(), threading.Event()

    def work():
        with Semaphore(r, uid, 2, ttl=10, timeout=30):
            with mutex:
                inside[0] += 1
                peak[0] = max(peak[0], inside[0])
                if inside[0] == 2:
                    two_inside.set()
            # Hold until two were inside at once (the limit allows it), so that the
            # limit is reached whatever the scheduling, then let the others through.
            two_inside.wait(30)
            with mutex:
                inside[0] -= 1
        done.append(1)

    threads = [threading.Thread(target=work) for _ in range(8)]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    assert len(done) == 8 and peak[0] == 2


@ALL_SETUPS
def test_frozen_holders_permits_expire_and_their_release_reports_loss(backend, r, uid):
    holders = [subprocess.Popen([sys.executable, str(Path(__file__).with_name("_sem_holder.py")),
                                 backend.url, uid, "2", "1.2",
                                 *(["cluster"] if backend.cluster else [])],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    try:
        tokens = [int(h.stdout.readline()) for h in holders]
        assert Semaphore(r, uid, 2, ttl=5).acquire(blocking=False) is None  # both taken
        for h in holders:
            h.send_signal(signal.SIGSTOP)  # frozen past the TTL: the watchdog cannot renew
        newcomer = Semaphore(r, uid, 2, ttl=5)
        fence = newcomer.acquire(timeout=20)  # woken when a permit expires
        assert fence is not None and fence > max(tokens)
        for h in holders:
            h.send_signal(signal.SIGCONT)
            h.stdin.write("go\n")
            h.stdin.flush()
        outcomes = [h.stdout.readline().strip() for h in holders]
        assert "lost" in outcomes  # at least the one whose permit was given away
        assert newcomer.owned()
        newcomer.release()
    finally:
        for h in holders:
            h.send_signal(signal.SIGCONT)
            h.kill()
            h.wait()


@ALL_SETUPS
def test_semaphore_watchdog_and_lost_permit_raises_on_exit(r, uid):
    sem = Semaphore(r, uid, 1, ttl=1.5, watchdog=True)
    sem.acquire()
    assert wait_until(lambda: sem.renewals >= 3, 20)  # past the TTL
    assert sem.owned() and Semaphore(r, uid, 1).acquire(blocking=False) is None
    sem.release()
    with pytest.raises(LockNotOwned):
        with Semaphore(r, uid, 1, ttl=5) as held:
            r.zrem(held.key, held.owner)


@ALL_SETUPS
def test_read_write_lock_sharing_and_exclusion(r, uid):
    rw = ReadWriteLock(r, uid, ttl=10)
    r1, r2 = rw.read(), rw.read()
    assert r1.acquire(blocking=False) and r2.acquire(blocking=False)
    w = rw.write()
    assert w.acquire(blocking=False) is None  # readers inside
    assert r.zcard(w.waiting_key) == 0  # a writer that does not wait leaves no intent
    got = []
    t = threading.Thread(target=lambda: got.append(w.acquire(timeout=30)))
    t.start()
    assert wait_until(lambda: r.zcard(w.waiting_key) == 1, 10)
    # a writer is now waiting: writer preference keeps new readers out
    assert rw.read().acquire(blocking=False) is None
    r1.release(), r2.release()
    t.join(30)
    assert got and got[0] is not None
    assert rw.read().acquire(blocking=False) is None and rw.write().acquire(blocking=False) is None
    w.release()
    r3 = rw.read()
    assert r3.acquire(blocking=False) is not None
    r3.release()


@ALL_SETUPS
def test_waiting_writer_gets_in_despite_a_stream_of_readers(r, uid):
    rw = ReadWriteLock(r, uid, ttl=10, timeout=30)
    stop, order = threading.Event(), []

    def reader():
        while not stop.is_set():
            with rw.read():
                order.append("r")
                time.sleep(0.002)

    readers = [threading.Thread(target=reader) for _ in range(3)]
    [t.start() for t in readers]
    assert wait_until(lambda: len(order) > 10, 10)
    with rw.write():
        order.append("w")
    stop.set()
    [t.join(30) for t in readers]
    assert "w" in order


@ALL_SETUPS
def test_giving_up_writer_lets_readers_in_again(r, uid):
    rw = ReadWriteLock(r, uid, ttl=10)
    held = rw.read()
    held.acquire()
    assert rw.write().acquire(timeout=0.1) is None  # gave up, withdrew its intent
    assert rw.read().acquire(blocking=False) is not None
    held.release()


@ALL_SETUPS
async def test_async_semaphore_and_rwlock(ar, uid):
    a, b = aio.Semaphore(ar, uid, 1, ttl=10), aio.Semaphore(ar, uid, 1, ttl=10)
    assert await a.acquire() and await b.acquire(blocking=False) is None
    waiter = asyncio.ensure_future(b.acquire(timeout=20))
    await asyncio.sleep(0)
    await a.release()
    assert await asyncio.wait_for(waiter, 20) is not None and await b.holders() == 1
    await b.release()

    rw = aio.ReadWriteLock(ar, f"{uid}:rw", ttl=10, timeout=20)
    log = []

    async def read(i):
        async with rw.read():
            log.append(("r", i))
            await asyncio.sleep(0.02)

    async def write():
        async with rw.write():
            log.append(("w", 0))

    await asyncio.gather(read(1), read(2), write())
    assert sorted(log) == [("r", 1), ("r", 2), ("w", 0)]


@pytest.mark.cluster
def test_semaphore_and_rwlock_keys_share_a_slot_on_cluster(rc, uid):
    from redis.crc import key_slot
    sem = Semaphore(rc, f"q:{uid}", 2, ttl=5)
    assert sem.acquire() and key_slot(sem.key.encode()) == key_slot(sem.fence_key.encode())
    sem.release()
    rw = ReadWriteLock(rc, f"rw:{uid}", ttl=5)
    w = rw.write()
    assert w.acquire()
    assert len({key_slot(k.encode()) for k in (w.readers_key, w.writer_key, w.waiting_key,
                                               w.fence_key, w.wake_key)}) == 1
    w.release()
    with rw.read():
        pass
