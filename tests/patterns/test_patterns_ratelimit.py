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
    for attempt in range(20):
        rl = RateLimiter(r, uid, limit=3, window=0.4, strategy="sliding_log")
        first_sent = time.monotonic()
        assert all(rl.hit(f"k{attempt}") for _ in range(3))
        time.sleep(0.2)
        refused = not rl.hit(f"k{attempt}")
        if time.monotonic() - first_sent >= 0.4:
            continue            # stalled past the window: the answer proves nothing
        assert refused          # within the window the three still count
        assert r.zcard(rl.key(f"k{attempt}")) == 3
        return
    raise AssertionError("the machine never answered within the window")


def test_gcra_refills_one_interval_at_a_time(r, uid):
    rl = RateLimiter(r, uid, limit=4, window=0.4, strategy="gcra", burst=2)
    # Checked only where the client's clock bounds the server's: each attempt's hits
    # all within two intervals (0.2 s) of its first. A stall makes an attempt
    # inconclusive, never wrong.
    for attempt in range(20):
        key = f"k{attempt}"
        sent = time.monotonic()
        burst = [rl.hit(key) for _ in range(3)]  # a burst of 2
        elapsed = time.monotonic() - sent
        denied = burst[2]
        time.sleep(denied.retry_after + 0.01)  # a lower bound: a stall only adds refills
        first, second = bool(rl.hit(key)), bool(rl.hit(key))
        if time.monotonic() - sent >= 0.2:
            continue
        assert [bool(b) for b in burst] == [True, True, False]
        # one interval = 0.4 / 4, counted from the first hit of the burst
        assert 0.1 - elapsed - 0.002 <= denied.retry_after <= 0.1
        assert first and not second  # one interval refilled one request
        return
    raise AssertionError("the machine never answered within one interval")


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


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_peek_and_test_record_nothing(r, uid, strategy):
    rl = RateLimiter(r, uid, limit=3, window=60, strategy=strategy)
    fresh = rl.peek("k")
    assert fresh.allowed and fresh.remaining == 3 and not r.exists(rl.key("k"))
    assert rl.test("k", cost=3) and not rl.test("k", cost=4)
    assert rl.hit("k", cost=2).remaining == 1
    for _ in range(5):
        p = rl.peek("k")
        assert p.allowed and p.remaining == 1 and p.reset_after > 0
    assert rl.test("k") and not rl.test("k", cost=2)
    denied = rl.peek("k", cost=2)
    assert not denied and denied.remaining == 1 and denied.retry_after > 0
    assert rl.hit("k").remaining == 0 and not rl.test("k") and not rl.peek("k")


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_several_limits_are_checked_and_consumed_together(r, uid, strategy):
    rl = RateLimiter(r, uid, "3/second;5/minute;1000 per 2 hours", strategy=strategy)
    assert [lim.window for lim in rl.limits] == [1, 60, 7200]
    first = rl.hit("k")
    assert first and len(first.limits) == 3 and first.remaining == 2 and first.limit == 3
    assert rl.hit("k", cost=2) and not rl.hit("k")  # the per-second limit refuses...
    refused = rl.hit("k")
    assert [x.allowed for x in refused.limits] == [False, True, True]
    # ...and a refusal is counted against none of them
    assert [x.remaining for x in rl.peek("k").limits] == [0, 2, 997]
    assert refused.retry_after <= (2 if strategy == "sliding_window" else 1)
    assert len(rl.keys("k")) == 3 and all(0 < r.pttl(k) for k in rl.keys("k"))
    assert len({k.split("}")[0] for k in rl.keys("k")}) == 1  # one hash tag, one slot
    rl.reset("k")
    assert rl.peek("k").remaining == 3


def test_the_binding_limit_is_the_longest_wait(r, uid):
    rl = RateLimiter(r, uid, "2/minute;1/hour", strategy="fixed_window")
    assert rl.hit("k")
    refused = rl.hit("k")
    assert not refused and refused.limit == 1 and refused.window == 3600
    assert refused.retry_after > 60 and refused.headers("legacy")["X-RateLimit-Limit"] == "1"


def test_limit_strings_parse_like_the_limits_package():
    from vermilion.patterns.ratelimit import RateLimitParseError, parse_limits
    got = parse_limits("10/second; 100 per minute, 5/2 hours|1 per day;2/months;1/year")
    assert [(x.amount, x.window) for x in got] == [
        (10, 1), (100, 60), (5, 7200), (1, 86400), (2, 30 * 86400), (1, 360 * 86400)]
    for bad in ("", "ten/second", "10/fortnight", "10 second", "0/second", "10/second;;"):
        with pytest.raises(RateLimitParseError, match="rate limit"):
            parse_limits(bad)
    with pytest.raises(ValueError, match="fortnight"):
        RateLimiter(None, "x", "1/second;10/fortnight")
    with pytest.raises(ValueError, match="window"):
        RateLimiter(None, "x", "1/second", window=3)


def test_header_styles(r, uid):
    rl = RateLimiter(r, uid, "2/minute;10/hour", strategy="fixed_window")
    ok = rl.hit("k")
    assert ok.headers() == {"RateLimit-Limit": "2", "RateLimit-Remaining": "1",
                            "RateLimit-Reset": str(math.ceil(ok.reset_after))}
    legacy = ok.headers("legacy")
    assert set(legacy) == {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}
    assert time.time() < int(legacy["X-RateLimit-Reset"]) <= time.time() + 61  # epoch seconds
    ietf = ok.headers("ietf")
    assert ietf["RateLimit-Policy"] == '"2-per-60s";q=2;w=60, "10-per-3600s";q=10;w=3600'
    assert ietf["RateLimit"].startswith('"2-per-60s";r=1;t=')
    rl.hit("k")
    refused = rl.hit("k")
    for style in ("draft", "legacy", "ietf"):
        h = refused.headers(style)
        assert 1 <= int(h["Retry-After"]) <= 60
    with pytest.raises(ValueError):
        ok.headers("nope")
