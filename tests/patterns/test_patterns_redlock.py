"""Redlock over real, independent redis-server processes, with some frozen or killed."""

import time

import pytest
import redis

from vermilion.patterns import LockNotAcquired, Redlock, aio

from patterns_support import wait_until


def _keys_everywhere(procs, key):
    out = []
    for p in procs:
        try:
            out.append(redis.Redis(port=p.port, socket_timeout=0.2).exists(key))
        except redis.RedisError:
            out.append(None)
    return out


def _redlock(procs, **kw):
    kw.setdefault("retry_count", 1)
    kw.setdefault("retry_delay", 0.02)
    kw.setdefault("retry_jitter", 0.02)
    kw.setdefault("node_timeout", 0.1)
    # A long socket timeout: waiting on a frozen node would show as seconds, far
    # from the node timeout, so the time bounds below hold on a busy machine.
    return Redlock([redis.Redis(host="127.0.0.1", port=p.port, socket_timeout=10)
                    for p in procs], **kw)


def test_quorum_acquire_release_and_exclusion(redis_farm):
    procs = redis_farm(3)
    a, b = _redlock(procs), _redlock(procs)
    lease = a.acquire("payment:1", ttl=2)
    assert len(lease.result.votes_for) == 3 and not lease.result.votes_against
    assert 1.0 < lease.validity < 2.0 - 2 * 0.01
    assert _keys_everywhere(procs, "lock:payment:1") == [1, 1, 1]
    other, result = b.try_acquire("payment:1", ttl=2)
    assert other is None and result.attempts == 2
    assert set(result.votes_against.values()) == {"held by another owner"}
    assert lease.release() == 3
    assert _keys_everywhere(procs, "lock:payment:1") == [0, 0, 0]
    with b.acquire(["payment:1", "payment:2"], ttl=2) as both:
        assert len(both.result.votes_for) == 3
        assert _keys_everywhere(procs, "lock:payment:2") == [1, 1, 1]
    assert _keys_everywhere(procs, "lock:payment:2") == [0, 0, 0]
    a.close(), b.close()


@pytest.mark.parametrize("n, fault", [(3, "pause"), (5, "kill")])
def test_minority_down_still_locks_majority_down_does_not(redis_farm, n, fault):
    procs = redis_farm(n)
    # The live nodes must answer within the node timeout even on a busy machine (0.1 s
    # was not always enough), far below the frozen nodes' socket timeout (10 s).
    rl = _redlock(procs, node_timeout=0.5)
    down = []

    def take_down(p):
        (p.pause if fault == "pause" else p.kill)()
        down.append(p)

    try:
        for p in procs[: (n - 1) // 2]:  # a minority
            take_down(p)
        start = time.monotonic()
        lease = rl.acquire("job", ttl=6)
        assert time.monotonic() - start < 5  # did not wait on the dead nodes (10 s)
        assert len(lease.result.votes_for) == n - len(down)
        assert set(lease.result.votes_against) == {f"127.0.0.1:{p.port}" for p in down}
        assert set(lease.result.votes_against.values()) <= {"timeout"} | {
            v for v in lease.result.votes_against.values() if v.startswith("error")}
        ext = lease.extend(6)
        assert ext.acquired and lease.validity > 1.5  # 6 s less two node timeouts at most
        lease.release()

        take_down(procs[(n - 1) // 2])  # now a majority is gone
        with pytest.raises(LockNotAcquired) as info:
            rl.acquire("job", ttl=3)
        result = info.value.result
        assert len(result.votes_for) == n - len(down) < rl.quorum
        assert len(result.votes_against) == len(down)
        # the minority that said yes was released again
        alive = [p for p in procs if p not in down]
        assert _keys_everywhere(alive, "lock:job") == [0] * len(alive)
    finally:
        for p in down:
            if fault == "pause":
                p.resume()
        rl.close()


def test_extend_fails_without_quorum(redis_farm):
    procs = redis_farm(3)
    rl = _redlock(procs)
    lease = rl.acquire("res", ttl=3)
    procs[0].kill()
    procs[1].kill()
    result = lease.extend(3)
    assert not result.acquired and lease.validity == 0
    assert len(result.votes_for) == 1
    rl.close()


def test_two_contenders_never_hold_at_once(redis_farm):
    import threading
    procs = redis_farm(3)
    holders, overlaps, acquired = [], [], []

    def contend():
        rl = _redlock(procs, retry_count=20, retry_delay=0.01, retry_jitter=0.02)
        for _ in range(5):
            lease, _ = rl.try_acquire("shared", ttl=1)
            if lease is None:
                continue
            holders.append(1)
            if len(holders) > 1:
                overlaps.append(1)
            acquired.append(1)
            time.sleep(0.01)
            holders.pop()
            lease.release()
        rl.close()

    threads = [threading.Thread(target=contend) for _ in range(3)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not overlaps and len(acquired) >= 5


async def test_async_redlock_with_a_frozen_node(redis_farm):
    procs = redis_farm(3)
    import redis.asyncio
    rl = aio.Redlock([redis.asyncio.Redis(host="127.0.0.1", port=p.port, socket_timeout=10)
                      for p in procs], retry_count=1, retry_delay=0.02, node_timeout=0.1)
    procs[2].pause()
    try:
        start = time.monotonic()
        async with await rl.acquire("pay", ttl=2) as lease:
            assert time.monotonic() - start < 5  # not the 10 s socket timeout
            assert len(lease.result.votes_for) == 2
            assert lease.result.votes_against == {f"127.0.0.1:{procs[2].port}": "timeout"}
            assert (await lease.extend(2)).acquired
        assert _keys_everywhere(procs[:2], "lock:pay") == [0, 0]
        procs[1].pause()
        lease, result = await rl.try_acquire("pay", ttl=2)
        assert lease is None and result.votes_for == [f"127.0.0.1:{procs[0].port}"]
        assert _keys_everywhere(procs[:1], "lock:pay") == [0]
    finally:
        procs[1].resume()
        procs[2].resume()
        await rl.close()


def _shared_frozen_node_rounds(procs, rl, threads=6, rounds=4):
    """Six threads on one Redlock, separate resources: acquire+release ``rounds`` times."""
    import threading
    granted, slowest = [], []

    def worker(i):
        for n in range(rounds):
            start = time.monotonic()
            lease, _ = rl.try_acquire(f"res:{i}:{n}", ttl=2)
            slowest.append(time.monotonic() - start)
            if lease is not None:
                granted.append(1)
                lease.release()

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    [t.start() for t in ts]
    [t.join(60) for t in ts]
    return len(granted), max(slowest)


def test_threads_sharing_a_redlock_keep_quorum_with_a_frozen_node(redis_farm):
    procs = redis_farm(3)
    # Clients without a short socket timeout: a call on the frozen node is stuck
    # for as long as the node is; each attempt must still cost one node timeout.
    clients = [redis.Redis(port=p.port, socket_timeout=30) for p in procs]
    rl = Redlock(clients, retry_count=2, retry_delay=0.01, retry_jitter=0.01, node_timeout=0.3)
    procs[0].pause()
    try:
        granted, slowest = _shared_frozen_node_rounds(procs, rl)
        assert granted >= 22, f"only {granted}/24 granted"
        # each attempt waits at most node_timeout for the frozen node (acquire + release
        # of a failed attempt), whatever the number of threads: far below 30 s
        assert slowest < 10
    finally:
        procs[0].resume()
        rl.close()
        for c in clients:
            c.close()


async def test_async_tasks_sharing_a_redlock_keep_quorum_with_a_frozen_node(redis_farm):
    import asyncio
    procs = redis_farm(3)
    rl = aio.Redlock([p.url for p in procs], retry_count=2, retry_delay=0.01,
                     retry_jitter=0.01, node_timeout=0.3)
    procs[0].pause()
    try:
        async def worker(i):
            n_ok = 0
            for n in range(4):
                lease, _ = await rl.try_acquire(f"res:{i}:{n}", ttl=2)
                if lease is not None:
                    n_ok += 1
                    await lease.release()
            return n_ok
        granted = sum(await asyncio.gather(*(worker(i) for i in range(6))))
        assert granted >= 22, f"only {granted}/24 granted"
    finally:
        procs[0].resume()
        await rl.close()


def test_watchdog_renews_by_quorum_through_a_frozen_node_then_reports_loss(redis_farm):
    from vermilion.patterns import LockNotOwned
    procs = redis_farm(3)
    rl = _redlock(procs, node_timeout=0.2)
    seen = []
    try:
        with pytest.raises(LockNotOwned):
            with rl.acquire("job", ttl=1.5, watchdog=True,
                            on_lost=lambda lease, why: seen.append(why)) as lease:
                assert wait_until(lambda: lease.renewals >= 2, 20)
                procs[0].pause()  # a minority frozen while renewing: nothing changes
                n = lease.renewals
                assert wait_until(lambda: lease.renewals >= n + 3, 20) and not lease.lost
                assert _keys_everywhere(procs[1:], "lock:job") == [1, 1]
                procs[1].pause()  # now the majority is gone: the next renewal fails
                assert lease.lost_event.wait(20)
                assert lease.lost and "quorum" in seen[0]
    finally:
        procs[0].resume()
        procs[1].resume()
        rl.close()


async def test_async_watchdog_cancels_the_holder_when_the_lease_is_lost(redis_farm):
    import asyncio
    procs = redis_farm(3)
    rl = aio.Redlock([p.url for p in procs], retry_count=1, retry_delay=0.02, node_timeout=0.2)
    reached_end = False
    try:
        async def critical():
            nonlocal reached_end
            async with await rl.acquire("pay", ttl=1.5, watchdog=True,
                                        cancel_on_lost=True) as lease:
                deadline = time.monotonic() + 20
                while lease.renewals < 2:
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.02)
                procs[0].pause()
                procs[1].pause()
                await asyncio.sleep(60)
                reached_end = True

        with pytest.raises(aio.LockLost):
            await asyncio.wait_for(critical(), 40)
        assert not reached_end
    finally:
        procs[0].resume()
        procs[1].resume()
        await rl.close()


@pytest.fixture
def vermilion_process():
    """A Vermilion server in its own process, which a test can freeze (SIGSTOP)."""
    import signal
    import subprocess
    import sys
    from patterns_support import free_port
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "vermilion", "server", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port, socket_timeout=1)
    try:
        assert wait_until(lambda: _pings(client) or proc.poll() is not None, 60)
        assert proc.poll() is None, "vermilion server did not start"
        yield port, proc
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.wait(10)


def _pings(client):
    try:
        return client.ping()
    except redis.RedisError:
        return False


def test_frozen_vermilion_node_with_threads_sharing_a_redlock(vermilion_process, vermilion_url,
                                                              redis_proc):
    """Mixed nodes: a Vermilion process frozen with SIGSTOP, the embedded Vermilion
    and a redis-server. The quorum (embedded + Redis) keeps granting to six threads;
    then the watchdog renews through the frozen node."""
    import signal
    port, proc = vermilion_process
    clients = [redis.Redis(port=port, socket_timeout=30), redis.Redis.from_url(vermilion_url),
               redis.Redis.from_url(redis_proc.url)]
    rl = Redlock(clients, retry_count=2, retry_delay=0.01, retry_jitter=0.01, node_timeout=0.3)
    # The watchdog's renewals need a vote from the embedded node, which shares this
    # process (and its GIL) with the test's threads: on a busy machine one answer can
    # take longer than 0.3 s. So that phase has generous margins: a node timeout of
    # 2 s, a TTL of 9 s renewed every 3 s (each renewal waits out the frozen node).
    slow_rl = Redlock(clients, retry_count=2, retry_delay=0.01, node_timeout=2.0)
    proc.send_signal(signal.SIGSTOP)
    try:
        granted, slowest = _shared_frozen_node_rounds(None, rl)
        assert granted >= 22, f"only {granted}/24 granted"
        assert slowest < 10
        with slow_rl.acquire("job", ttl=9, watchdog=True) as lease:
            assert wait_until(lambda: lease.renewals >= 3, 60) and not lease.lost
    finally:
        proc.send_signal(signal.SIGCONT)
        rl.close()
        slow_rl.close()
        for c in clients:
            c.close()
