"""The multi-key patterns on a real 3-master Redis Cluster (keys of one instance share a slot)."""

import time

import pytest
from redis.crc import key_slot

from vermilion.patterns import (Lock, RateLimiter, RotatingLeaderboard, SessionStore,
                                StreamProducer, StreamWorker, aio)

from patterns_support import wait_until

pytestmark = pytest.mark.cluster


def test_cluster_really_has_three_masters(rc):
    assert len(rc.get_primaries()) == 3


def test_lock_and_fencing_counter_share_a_slot(rc, uid):
    lock = Lock(rc, f"cron:{uid}", ttl=2)
    first = lock.acquire()
    assert key_slot(lock.key.encode()) == key_slot(lock.fence_key.encode())
    assert Lock(rc, f"cron:{uid}", ttl=2).acquire(blocking=False) is None
    assert lock.release()
    assert Lock(rc, f"cron:{uid}", ttl=2).acquire() == first + 1


def test_stream_worker_dead_letters_and_replays_on_cluster(rc, uid):
    StreamProducer(rc, f"jobs-{uid}").add_many([{"n": "ok"}, {"n": "bad"}])
    done = []

    def handle(entry):
        if entry.fields["n"] == "bad":
            raise ValueError("bad")
        done.append(entry.fields["n"])

    w = StreamWorker(rc, f"jobs-{uid}", "g", handle, max_deliveries=2, block=0.05,
                     claim_idle=0.3, retry_base=0.02).start()
    assert wait_until(lambda: w.stats.dead_lettered == 1, 5)
    assert done == ["ok"]
    assert key_slot(w.stream.encode()) == key_slot(w.dead_letter_stream.encode())
    assert len(w.dead_letters.replay()) == 1 and w.dead_letters.count() == 0
    assert wait_until(lambda: w.stats.dead_lettered == 2, 5)  # still bad: back it goes
    w.stop(1)


def test_sessions_regenerate_and_log_out_everywhere_on_cluster(rc, uid):
    s = SessionStore(rc, f"app-{uid}")
    sids = [s.create({"i": str(i)}, user="u") for i in range(3)]
    new = s.regenerate(sids[0])
    assert s.get(new, "i") == "0" and s.get_all(sids[0]) is None
    assert len({key_slot(s.key(x).encode()) for x in sids + [new]} |
               {key_slot(s.user_key("u").encode())}) == 1
    assert s.destroy_user("u") == 3 and s.sessions_of("u") == []


def test_rate_limiter_and_rotating_board_on_cluster(rc, uid):
    rl = RateLimiter(rc, uid, limit=3, window=60, strategy="sliding_window")
    assert [bool(rl.hit(f"user{i % 2}")) for i in range(8)] == [True] * 6 + [False] * 2
    rot = RotatingLeaderboard(rc, uid, period="daily", keep=1)
    rot.current().add("a", 3)
    rot.previous().add("a", 1)
    assert rot.current().rank("a") == 1 and rc.pttl(rot.previous().key) > 0


async def test_async_patterns_on_cluster(arc, uid):
    lock = aio.Lock(arc, uid, ttl=2)
    assert await lock.acquire() and await lock.release()
    s = aio.SessionStore(arc, f"a-{uid}")
    sid = await s.create({"x": "1"}, user="v")
    new = await s.regenerate(sid)
    assert await s.destroy_user("v") == 1 and await s.get_all(new) is None
    rl = aio.RateLimiter(arc, uid, limit=2, window=60, strategy="gcra")
    assert [bool(await rl.hit("k")) for _ in range(3)] == [True, True, False]


def test_web_pattern_additions_on_cluster(rc, uid):
    from vermilion.patterns import Leaderboard
    from vermilion.patterns.sessions import LoginRevoked
    rl = RateLimiter(rc, uid, "2/second;3/minute", strategy="sliding_log")
    assert [bool(rl.hit("k")) for _ in range(3)] == [True, True, False]
    assert len({key_slot(k.encode()) for k in rl.keys("k")}) == 1
    s = SessionStore(rc, f"gen-{uid}")
    gen = s.generation("u")
    sid = s.create({"a": 1}, user="u", generation=gen)
    assert s.destroy_user("u") == 1 and not s.exists(sid)
    with pytest.raises(LoginRevoked):
        s.create(user="u", generation=gen)
    week = Leaderboard(rc, f"{{{uid}}}:week")
    day = Leaderboard(rc, f"{{{uid}}}:day")
    day.add("a", 2, data={"x": 1})
    assert week.merge([day], weights=[3]) == 1 and week.member_data("a") == {"x": 1}
    assert week.score("a") == 6 and week.remove("a") == 1 and week.member_data("a") is None
