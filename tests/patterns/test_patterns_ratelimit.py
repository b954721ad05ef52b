"""RateLimiter: every strategy, sync and asyncio, and hammered from many threads."""

import asyncio
import math
import threading
import time

import pytest

from vermilion.patterns import RateLimiter, aio

pytestmark = pytest.mark.needs("eval")

STRATEGIES = ["sliding_log", "sliding_window", "gcra", "fixed_window"]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_limit_remaining_and_rejections_not_recorded(r, uid, strategy):
    rl = RateLimiter(r, uid, limit=5, window=60, strategy=strategy)
    results = [rl.hit("alice") for _ in range(5)]
    assert all(results) and [x.remaining for x in results] == [4, 3, 2, 1, 0]
    for _ in range(20):  # hammering while limited...
        denied = rl.hit("alice")
        assert not denied and denied.remaining == 0 and 0 < denied.retry_after
        # the sliding-window *estimate* can take into the next window to decay
        assert denied.retry_after <= (120 if strategy == "sliding_window" else 60)
    assert 0 < denied.reset_after <= 120
    assert rl.hit("bob").allowed  # identities are independent
    ttl = r.pttl(rl.key("alice"))
    assert 0 < ttl <= 120_000  # keys clean themselves up
    rl.reset("alice")
    assert rl.hit("alice").remaining == 4


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_retry_after_is_honest_and_denials_do_not_extend_it(r, uid, strategy):
    rl = RateLimiter(r, uid, limit=2, window=0.3, strategy=strategy)
    assert rl.hit("k") and rl.hit("k")
    first = rl.hit("k")
    assert not first
    for _ in range(5):
        assert not rl.hit("k")  # rejected requests record nothing...
    time.sleep(first.retry_after + 0.02)
    assert rl.hit("k").allowed  # ...so the first retry_after still holds


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_weighted_cost(r, uid, strategy):
    rl = RateLimiter(r, uid, limit=10, window=60, strategy=strategy)
    assert rl.hit("k", cost=7).remaining == 3
    assert not rl.hit("k", cost=4)
    assert rl.hit("k", cost=3).remaining == 0
    too_big = rl.hit("other", cost=11)
    assert not too_big and math.isinf(too_big.retry_after)


def test_sliding_log_has_no_window_edge_burst(r, uid):
    rl = RateLimiter(r, uid, limit=3, window=0.4, strategy="sliding_log")
    assert all(rl.hit("k") for _ in range(3))
    time.sleep(0.2)
    assert not rl.hit("k")  # half a window later the three still count
    assert r.zcard(rl.key("k")) == 3


def test_gcra_refills_one_interval_at_a_time(r, uid):
    rl = RateLimiter(r, uid, limit=4, window=0.4, strategy="gcra", burst=2)
    assert rl.hit("k") and rl.hit("k") and not rl.hit("k")  # burst of 2
    denied = rl.hit("k")
    assert 0.05 < denied.retry_after <= 0.1  # one interval = 0.4 / 4
    time.sleep(denied.retry_after + 0.01)
    assert rl.hit("k") and not rl.hit("k")


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_many_threads_same_millisecond_never_exceed_limit(r, uid, strategy):
    rl = RateLimiter(r, uid, limit=50, window=60, strategy=strategy)
    barrier, allowed, lock = threading.Barrier(16), [0], threading.Lock()

    def hammer():
        barrier.wait()
        for _ in range(20):
            if rl.hit("shared"):
                with lock:
                    allowed[0] += 1

    threads = [threading.Thread(target=hammer) for _ in range(16)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert allowed[0] == 50  # 320 attempts, exactly the limit got through
    if strategy == "sliding_log":
        assert r.zcard(rl.key("shared")) == 50  # same-instant requests all counted


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_async_limiter_under_concurrency(ar, uid, strategy):
    rl = aio.RateLimiter(ar, uid, limit=25, window=60, strategy=strategy)
    results = await asyncio.gather(*(rl.hit("k") for _ in range(100)))
    assert sum(1 for x in results if x.allowed) == 25
    assert all(x.retry_after > 0 for x in results if not x.allowed)
