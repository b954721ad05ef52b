"""The seed's data-structure patterns, run against real Redis and Vermilion side by side.

* Sliding-window rate limiter: ZREMRANGEBYSCORE, ZADD, ZCARD, EXPIRE inside MULTI.
* Session store: HSET of several fields, EXPIRE, HGET, HGETALL.
* Leaderboard: ZADD updates, ZRANGE 0 9 REV WITHSCORES, ZREVRANK with ties.

Each pattern is also driven through redis-py (the client the patterns library is
written against), and its replies compared between the two servers.
"""
from __future__ import annotations

import pytest
import redis

from vermilion.engine.table import COMMANDS


def test_rate_limiter_in_multi(pair):
    if "multi" not in COMMANDS:
        pytest.skip("needs MULTI")
    window_ms = 60_000
    limit = 5
    now = 1_700_000_000_000
    counts = []
    for i in range(8):
        now += 1000 if i < 6 else 61_000      # the last requests arrive after the window
        key = "ratelimit:42"
        replies = [pair.check("MULTI"),
                   pair.check("ZREMRANGEBYSCORE", key, 0, now - window_ms),
                   pair.check("ZADD", key, now, str(now)),
                   pair.check("ZCARD", key),
                   pair.check("EXPIRE", key, window_ms // 1000),
                   pair.check("EXEC")]
        exec_reply = replies[-1]
        counts.append(exec_reply.value[2].value)
    assert counts == [1, 2, 3, 4, 5, 6, 1, 1]
    assert [c > limit for c in counts] == [False] * 5 + [True] + [False] * 2
    pair.check("TTL", "ratelimit:42")
    pair.check("ZRANGE", "ratelimit:42", 0, -1, "WITHSCORES")


def test_session_store(pair):
    key = "session:abc123"
    pair.run(f"""
    HSET {key} userId 42 role admin createdAt 1700000000000
    EXPIRE {key} 3600
    HGET {key} role
    HGETALL {key}
    HSET {key} role viewer lastSeen 1700000001000
    HGETALL {key}
    HMGET {key} userId nothing role
    TTL {key}
    HDEL {key} lastSeen
    HLEN {key}
    HGET session:missing role
    HGETALL session:missing
    """)


def test_leaderboard_with_ties(pair):
    pair.run("""
    ZADD leaderboard 1500 alice
    ZADD leaderboard 1200 bob 1500 carol 900 dave 1500 erin 1100 frank
    ZADD leaderboard 1600 bob
    ZADD leaderboard GT 1000 alice
    ZADD leaderboard GT 1700 alice
    ZINCRBY leaderboard 100 dave
    ZRANGE leaderboard 0 9 REV WITHSCORES
    ZREVRANGE leaderboard 0 2 WITHSCORES
    ZREVRANK leaderboard alice
    ZREVRANK leaderboard carol
    ZREVRANK leaderboard erin
    ZREVRANK leaderboard nobody
    ZRANK leaderboard carol
    ZSCORE leaderboard erin
    ZCARD leaderboard
    ZCOUNT leaderboard 1500 +inf
    """)


def test_leaderboard_large(pair):
    members = []
    for i in range(2000):
        members += [i % 97, f"player:{i}"]
    pair.check("ZADD", "lb", *members)
    pair.check("ZRANGE", "lb", 0, 9, "REV", "WITHSCORES")
    for p in ("player:0", "player:96", "player:1999", "player:1000"):
        pair.check("ZREVRANK", "lb", p)
        pair.check("ZRANK", "lb", p)
    pair.check("ZADD", "lb", "XX", "CH", 500, "player:5", 96, "player:6")
    pair.check("ZRANGE", "lb", 0, 9, "REV", "WITHSCORES")
    pair.check("ZREVRANK", "lb", "player:6")


@pytest.fixture
def clients(reference_server, vermilion_process_server):
    out = []
    for port in (reference_server.port, vermilion_process_server.port):
        r = redis.Redis(port=port)
        r.flushall()
        out.append(r)
    yield out
    for r in out:
        r.close()


def _rate_limited(r: redis.Redis, user: str, now: int, limit: int = 3, window_ms: int = 10_000):
    key = f"ratelimit:{user}"
    pipe = r.pipeline(transaction=True)
    pipe.zremrangebyscore(key, 0, now - window_ms)
    pipe.zadd(key, {str(now): now})
    pipe.zcard(key)
    pipe.expire(key, window_ms // 1000)
    results = pipe.execute()
    return results[2] > limit


def test_patterns_through_redis_py(clients):
    if "multi" not in COMMANDS:
        pytest.skip("needs MULTI")
    outcomes = []
    for r in clients:
        seen = []
        now = 1_000_000
        for step in range(6):
            now += 1000
            seen.append(_rate_limited(r, "u1", now))
        r.hset("session:s1", mapping={"userId": "42", "role": "admin", "createdAt": "1700000000000"})
        r.expire("session:s1", 3600)
        seen.append(r.hget("session:s1", "role"))
        seen.append(r.hgetall("session:s1"))
        r.zadd("leaderboard", {"alice": 1500, "bob": 1500, "carol": 900})
        r.zadd("leaderboard", {"carol": 1500})
        seen.append(r.zrange("leaderboard", 0, 9, desc=True, withscores=True))
        seen.append([r.zrevrank("leaderboard", m) for m in ("alice", "bob", "carol")])
        outcomes.append(seen)
    assert outcomes[0] == outcomes[1]
    assert outcomes[1][:6] == [False, False, False, True, True, True]
