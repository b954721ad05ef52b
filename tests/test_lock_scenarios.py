"""The lock and rate-limiter scenarios that depend on atomicity, run on both servers.

Locks: acquire with SET key token NX PX ttl, release with the compare-and-delete
script (a stranger's release returns 0), eight concurrent contenders with exactly
one winner, expiry freeing a lock, extension with a compare-and-pexpire script.
Rate limiting: the sliding-window limiter as a MULTI pipeline on a sorted set.
Every scenario runs through redis-py against redis-server and Vermilion, and the
observable results must be the same.
"""
from __future__ import annotations

import threading
import time

import pytest
import redis

from vermilion.engine.table import COMMANDS

RELEASE = ("if redis.call('GET', KEYS[1]) == ARGV[1] then "
           "return redis.call('DEL', KEYS[1]) else return 0 end")
EXTEND = ("if redis.call('GET', KEYS[1]) == ARGV[1] then "
          "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end")


@pytest.fixture(params=["redis", "vermilion"])
def r(request, reference_server, vermilion_process_server):
    port = reference_server.port if request.param == "redis" else vermilion_process_server.port
    client = redis.Redis(port=port)
    client.flushall()
    yield client
    client.close()


def test_acquire_and_release(r):
    release = r.register_script(RELEASE)
    assert r.set("lock:a", "token-1", nx=True, px=10_000) is True
    assert r.set("lock:a", "token-2", nx=True, px=10_000) is None
    assert 0 < r.pttl("lock:a") <= 10_000
    assert release(keys=["lock:a"], args=["token-1"]) == 1
    assert r.exists("lock:a") == 0
    assert release(keys=["lock:a"], args=["token-1"]) == 0


def test_stranger_cannot_release(r):
    release = r.register_script(RELEASE)
    r.set("lock:b", "owner", nx=True, px=10_000)
    assert release(keys=["lock:b"], args=["stranger"]) == 0
    assert r.get("lock:b") == b"owner"


def test_release_after_script_flush_falls_back_to_eval(r):
    release = r.register_script(RELEASE)
    r.set("lock:c", "me", px=10_000)
    r.script_flush()
    assert release(keys=["lock:c"], args=["me"]) == 1      # NOSCRIPT -> EVAL -> cached again
    assert r.script_exists(release.sha) == [True]


def test_extend_only_by_owner(r):
    extend = r.register_script(EXTEND)
    r.set("lock:d", "me", px=1_000)
    assert extend(keys=["lock:d"], args=["stranger", 60_000]) == 0
    assert r.pttl("lock:d") <= 1_000
    assert extend(keys=["lock:d"], args=["me", 60_000]) == 1
    assert r.pttl("lock:d") > 1_000


def test_eight_contenders_one_winner(r):
    port = r.connection_pool.connection_kwargs["port"]
    barrier = threading.Barrier(8)
    results = [None] * 8

    def contend(i):
        c = redis.Redis(port=port)
        barrier.wait()
        results[i] = c.set("lock:e", f"token-{i}", nx=True, px=10_000)
        c.close()

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    winners = [i for i, ok in enumerate(results) if ok]
    assert len(winners) == 1
    assert r.get("lock:e") == f"token-{winners[0]}".encode()


def test_expiry_frees_the_lock(r):
    assert r.set("lock:f", "first", nx=True, px=100)
    assert r.set("lock:f", "second", nx=True, px=100) is None
    time.sleep(0.25)
    assert r.set("lock:f", "second", nx=True, px=10_000) is True
    assert r.get("lock:f") == b"second"


def test_contenders_loop_until_acquired(r):
    """Four workers each take the lock five times; the guarded counter never races."""
    port = r.connection_pool.connection_kwargs["port"]
    release_sha = r.script_load(RELEASE)
    errors = []

    def worker(i):
        c = redis.Redis(port=port)
        for n in range(5):
            token = f"{i}-{n}"
            deadline = time.time() + 10
            while not c.set("lock:g", token, nx=True, px=5_000):
                if time.time() > deadline:
                    errors.append("timeout")
                    return
                time.sleep(0.001)
            value = int(c.get("counter") or 0)
            c.set("counter", value + 1)
            if c.evalsha(release_sha, 1, "lock:g", token) != 1:
                errors.append("lost lock")
        c.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert int(r.get("counter")) == 20


def _rate_limit(client, key: str, now_ms: int, window_ms: int, limit: int, member: str):
    """Sliding-window limiter as one MULTI/EXEC pipeline; returns (allowed, count)."""
    pipe = client.pipeline(transaction=True)
    pipe.zremrangebyscore(key, 0, now_ms - window_ms)
    pipe.zadd(key, {member: now_ms})
    pipe.zcard(key)
    pipe.pexpire(key, window_ms)
    _, _, count, _ = pipe.execute()
    return count <= limit, count


def test_sliding_window_rate_limiter_pipeline(r):
    missing = [c for c in ("zadd", "zcard", "zremrangebyscore") if c not in COMMANDS]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    start = 1_700_000_000_000
    decisions = []
    for i in range(12):
        decisions.append(_rate_limit(r, "rl:user", start + i * 100, 1_000, 5, f"req-{i}"))
    assert decisions == [(n <= 5, n) for n in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10]]
    assert 0 < r.pttl("rl:user") <= 1_000


def test_rate_limiter_under_concurrency(r):
    missing = [c for c in ("zadd", "zcard", "zremrangebyscore") if c not in COMMANDS]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    port = r.connection_pool.connection_kwargs["port"]
    counts = []
    lock = threading.Lock()

    def client(i):
        c = redis.Redis(port=port)
        for n in range(10):
            _, count = _rate_limit(c, "rl:shared", 1_700_000_000_000, 60_000, 1_000, f"{i}-{n}")
            with lock:
                counts.append(count)
        c.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # Each transaction saw a distinct cardinality: the pipelines did not interleave.
    assert sorted(counts) == list(range(1, 81))
