"""Pure helpers: no server needed."""

import datetime as dt
import math

import pytest

from vermilion.patterns._util import backoff, colocated, has_hash_tag, tagged
from vermilion.patterns.leaderboard import percentile_rank, period_bounds
from vermilion.patterns.ratelimit import parse_result
from vermilion.patterns.redlock import quorum, tally, validity


def test_tagged_and_colocated_keys_share_a_slot():
    from redis.crc import key_slot
    assert tagged("lock:", "cron:daily") == "lock:{cron:daily}"
    assert tagged("lock:", "x{user1}") == "lock:x{user1}"
    assert colocated("events", ":dead") == "{events}:dead"
    assert key_slot(b"events") == key_slot(b"{events}:dead")
    assert key_slot(b"a{b}c") == key_slot(colocated("a{b}c", ":dead").encode())
    assert not has_hash_tag("a{}b") and has_hash_tag("a{b}")
    with pytest.raises(ValueError):
        colocated("a{}b", ":dead")


def test_backoff_grows_is_capped_and_jittered():
    samples = [backoff(0, 0.1, 1.0) for _ in range(200)]
    assert all(0.05 <= s <= 0.1 for s in samples) and len(set(samples)) > 100
    assert all(0.5 <= backoff(10, 0.1, 1.0) <= 1.0 for _ in range(100))


def test_redlock_quorum_and_validity():
    assert [quorum(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]
    assert validity(10.0, 0.5) == pytest.approx(10 - 0.5 - 0.1 - 0.002)
    r = tally(["a", "b", "c"], [True, None, RuntimeError("boom")], 2, 1.0, 0.01, 0.01)
    assert not r.acquired and r.votes_for == ["a"]
    assert r.votes_against == {"b": "timeout", "c": "error: boom"}
    r = tally(["a", "b", "c"], [True, True, False], 2, 1.0, 0.01, 0.01)
    assert r.acquired and r.votes_against == {"c": "held by another owner"}
    # a quorum that took longer than the TTL is no lease at all
    assert not tally(["a", "b"], [True, True], 2, 1.0, 1.2, 0.01).acquired


def test_percentile_and_periods():
    assert percentile_rank(0, 1, 4) == 87.5
    assert percentile_rank(3, 1, 4) == 12.5
    label, end = period_bounds("weekly", dt.datetime(2024, 5, 9, 13, tzinfo=dt.timezone.utc))
    assert label == "2024-W19" and end == dt.datetime(2024, 5, 13, tzinfo=dt.timezone.utc)
    label, end = period_bounds("daily", dt.datetime(2024, 12, 31, 23, 59))
    assert label == "2024-12-31" and end.day == 1 and end.year == 2025


def test_rate_result_parsing():
    r = parse_result(10, [0, 3, -1, 1_500_000])
    assert not r and math.isinf(r.retry_after) and r.reset_after == 1.5
    assert parse_result(10, [1, 9, 0, 1_000]).headers()["RateLimit-Remaining"] == "9"


def test_an_entry_finished_during_a_pending_read_is_not_handed_out_again():
    # A reclaim (XAUTOCLAIM) or catch-up read answered just before an in-flight
    # entry's ack still lists it; once its handler call has ended it must not run
    # again. (Seen on a busy machine: an entry processed twice by one worker.)
    from vermilion.patterns._streams_core import StreamEntry, WorkerBase

    worker = WorkerBase(None, "s", "g", lambda entry: None)
    done = StreamEntry("1-1", {"f": "v"}, 1, "s")
    idle = StreamEntry("1-2", {"f": "v"}, 1, "s")
    worker._in_flight[done.id] = done
    worker._reading_pending()
    worker._settle([done])               # acked while the read was under way
    assert worker._accept_claimed([done, idle]) == [idle]
    worker._in_flight[done.id] = done
    worker._reading_pending()
    worker._settle([done])
    assert worker._fresh_pending([done, idle]) == [idle]
    # Outside a pending read, finished entries are not remembered.
    worker._settle([done])
    worker._reading_pending()
    assert worker._accept_claimed([done]) == [done]
