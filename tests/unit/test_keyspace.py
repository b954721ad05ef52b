"""Database and the keys family on a FakeClock: expiry, SCAN order, access times, no sleeping."""
from __future__ import annotations

import random

import pytest

from vermilion.config import Config
from vermilion.engine.client import Client
from vermilion.engine.clock import FakeClock
from vermilion.engine.engine import Engine
from vermilion.engine.keyspace import SCAN_INDEX_IDLE_MS, scan_cursor_of
from vermilion.engine.replies import ErrorReply, Status


@pytest.fixture
def engine():
    eng = Engine(Config(), clock=FakeClock())
    eng.effects_seen = []
    eng.sinks.append(lambda db, argv: eng.effects_seen.append((db, list(argv))))
    return eng


@pytest.fixture
def db(engine):
    return engine.dbs[0]


def run(engine, client, *args):
    return engine.execute(client, [a if isinstance(a, bytes) else str(a).encode() for a in args])


# -- expiry -----------------------------------------------------------------------------------


def test_lazy_expiry_is_strictly_after_the_deadline(engine, db):
    now = engine.clock.ms()
    db.set(b"k", b"v")
    db.set_expire(b"k", now + 100)
    engine.clock.advance(100)
    assert db.get(b"k") == b"v"            # now == when: still alive (Redis: now > when)
    engine.clock.advance(1)
    assert db.get(b"k") is None
    assert b"k" not in db.data and b"k" not in db.expires
    assert engine.stats.expired_keys == 1
    assert engine.effects_seen == [(0, [b"DEL", b"k"])]
    assert engine.dirty == 0                # expiry is not a change (see Engine.key_expired)


def test_active_expiry_frees_only_due_keys(engine, db):
    now = engine.clock.ms()
    for i in range(1000):
        db.set(b"k%d" % i, b"v")
        db.set_expire(b"k%d" % i, now + 1 + i)    # one key per ms
    db.set(b"forever", b"v")

    def tick():     # each cron has a time budget: on a busy machine it may take several
        for _ in range(1000):
            engine.cron()
            if not db.has_due_keys(engine.clock.ms()):
                return

    engine.clock.advance(500)
    tick()
    assert len(db) == 1000 - 499 + 1
    engine.clock.advance(10_000)
    tick()
    assert list(db.data) == [b"forever"]
    assert len(engine.effects_seen) == 1000
    assert engine.stats.expired_keys == 1000


def test_active_expiry_skips_stale_heap_entries(engine, db):
    now = engine.clock.ms()
    db.set(b"a", b"v")
    db.set_expire(b"a", now + 10)
    db.set_expire(b"a", now + 1000)         # TTL moved: the first heap entry is stale
    db.set(b"b", b"v")
    db.set_expire(b"b", now + 10)
    db.persist(b"b")
    db.set(b"c", b"v")
    db.set_expire(b"c", now + 10)
    db.set(b"c", b"w")                      # SET drops the TTL
    engine.clock.advance(100)
    engine.cron()
    assert sorted(db.data) == [b"a", b"b", b"c"]
    engine.clock.advance(1000)
    engine.cron()
    assert sorted(db.data) == [b"b", b"c"]


def test_refreshing_a_ttl_does_not_grow_the_heap(engine, db):
    db.set(b"session", b"v")
    for i in range(20_000):
        db.set_expire(b"session", engine.clock.ms() + 1_000_000 + i)
    assert len(db.heap) <= 2 * len(db.expires) + 1025


def test_deleting_keys_with_ttls_shrinks_the_heap(engine, db):
    far = engine.clock.ms() + 10**9
    for i in range(10_000):
        db.set(b"k%d" % i, b"v")
        db.set_expire(b"k%d" % i, far)
    for i in range(9_000):
        [db.delete, db.pop, db.persist, lambda k: db.set(k, b"w")][i % 4](b"k%d" % i)
    assert len(db.expires) == 1000                    # set() drops the TTL too
    assert len(db.heap) <= 2 * len(db.expires) + 1025


def test_cron_respects_disabled_active_expire(engine, db):
    db.set(b"k", b"v")
    db.set_expire(b"k", engine.clock.ms() + 1)
    engine.clock.advance(5)
    engine.active_expire_enabled = False
    engine.cron()
    assert b"k" in db.data
    engine.active_expire_enabled = True
    engine.cron()
    assert b"k" not in db.data


# -- commands on the fake clock ---------------------------------------------------------------


def test_ttl_rounding_and_expiretime(engine):
    c = Client(engine)
    now = engine.clock.ms()
    run(engine, c, "SET", "k", "v")
    assert run(engine, c, "PEXPIRE", "k", 1500) == 1
    assert run(engine, c, "TTL", "k") == 2          # (1500 + 500) // 1000
    engine.clock.advance(1)
    assert run(engine, c, "TTL", "k") == 1
    assert run(engine, c, "PTTL", "k") == 1499
    assert run(engine, c, "PEXPIRETIME", "k") == now + 1500
    assert run(engine, c, "EXPIRETIME", "k") == (now + 1500 + 500) // 1000
    engine.clock.advance(1499)
    assert run(engine, c, "PTTL", "k") == 0         # due but not yet past
    engine.clock.advance(1)
    assert run(engine, c, "PTTL", "k") == -2


def test_expire_rewrites_to_pexpireat(engine):
    c = Client(engine)
    now = engine.clock.ms()
    run(engine, c, "SET", "k", "v")
    engine.effects_seen.clear()
    run(engine, c, "EXPIRE", "k", 10, "nx")
    assert engine.effects_seen == [(0, [b"PEXPIREAT", b"k", b"%d" % (now + 10_000), b"nx"])]
    engine.effects_seen.clear()
    run(engine, c, "PEXPIRE", "k", -1)
    assert engine.effects_seen == [(0, [b"DEL", b"k"])]


def test_expire_notifies(engine, monkeypatch):
    events = []
    # Handlers skip notify() when no event class is enabled (its own first test).
    monkeypatch.setattr(engine, "notify_flags", 1)
    monkeypatch.setattr(engine, "notify", lambda db, klass, event, key: events.append((klass, event, key)))
    c = Client(engine)
    run(engine, c, "SET", "k", "v")
    events.clear()
    run(engine, c, "EXPIRE", "k", 10)
    run(engine, c, "PERSIST", "k")
    run(engine, c, "RENAME", "k", "j")
    run(engine, c, "EXPIRE", "j", 0)
    assert events == [("g", b"expire", b"k"), ("g", b"persist", b"k"), ("g", b"rename_from", b"k"),
                      ("g", b"rename_to", b"j"), ("g", b"del", b"j")]


def test_randomkey_skips_and_frees_expired(engine, db):
    c = Client(engine)
    for i in range(50):
        db.set(b"gone%d" % i, b"v")
        db.set_expire(b"gone%d" % i, engine.clock.ms() + 5)
    db.set(b"live", b"v")
    engine.clock.advance(10)
    assert run(engine, c, "RANDOMKEY") == b"live"
    assert list(db.data) == [b"live"]
    run(engine, c, "DEL", "live")
    assert run(engine, c, "RANDOMKEY") is None


def test_object_idletime_on_fake_clock(engine):
    c = Client(engine)
    run(engine, c, "SET", "k", "v")
    assert run(engine, c, "OBJECT", "IDLETIME", "k") == 0     # tracking starts here
    engine.clock.advance(5_400)
    assert run(engine, c, "OBJECT", "IDLETIME", "k") == 5
    assert run(engine, c, "TTL", "k") == -1                   # not an access
    assert run(engine, c, "OBJECT", "IDLETIME", "k") == 5
    run(engine, c, "GET", "k")
    assert run(engine, c, "OBJECT", "IDLETIME", "k") == 0
    engine.clock.advance(3_000)
    run(engine, c, "RENAME", "k", "j")                        # the access record moves along
    engine.clock.advance(2_000)
    assert run(engine, c, "OBJECT", "IDLETIME", "j") == 2
    run(engine, c, "DEL", "j")
    assert engine.dbs[0].access == {}


def test_object_freq_lfu_counter_and_decay(engine):
    c = Client(engine)
    assert run(engine, c, "CONFIG", "SET", "maxmemory-policy", "allkeys-lfu") == Status(b"OK")
    run(engine, c, "SET", "k", "v")
    assert run(engine, c, "OBJECT", "FREQ", "k") == 5
    run(engine, c, "GET", "k")
    assert run(engine, c, "OBJECT", "FREQ", "k") == 6           # p = 1 at the initial value
    for _ in range(2000):
        run(engine, c, "GET", "k")
    high = run(engine, c, "OBJECT", "FREQ", "k")
    assert 10 < high < 255
    engine.clock.advance(3 * 60_000)                            # lfu-decay-time 1: -1 per minute
    assert run(engine, c, "OBJECT", "FREQ", "k") == high - 3
    assert isinstance(run(engine, c, "OBJECT", "IDLETIME", "k"), ErrorReply)
    run(engine, c, "CONFIG", "SET", "maxmemory-policy", "noeviction")
    assert isinstance(run(engine, c, "OBJECT", "FREQ", "k"), ErrorReply)


# -- SCAN ------------------------------------------------------------------------------------


def full_scan(db, count, between=None):
    cursor, seen, calls = 0, [], 0
    while True:
        cursor, keys = db.scan(cursor, count)
        seen += keys
        calls += 1
        if between:
            between(calls)
        if cursor == 0:
            return seen, calls


def test_scan_visits_everything_once_without_changes(db):
    keys = [b"key:%d" % i for i in range(1000)]
    for k in keys:
        db.set(k, b"v")
    seen, calls = full_scan(db, 10)
    assert sorted(seen) == sorted(keys) and calls == 100


def test_scan_guarantee_under_random_churn(db):
    rng = random.Random(7)
    stable = [b"stable:%d" % i for i in range(300)]
    for k in stable:
        db.set(k, b"v")
    churn = []

    def mutate(step):
        for _ in range(rng.randint(0, 30)):
            k = b"churn:%d" % rng.randrange(10_000)
            db.set(k, b"v")
            churn.append(k)
        for _ in range(rng.randint(0, 10)):
            if churn:
                db.delete(churn.pop(rng.randrange(len(churn))))

    seen, _ = full_scan(db, rng.randint(1, 20), mutate)
    assert set(stable) <= set(seen)
    assert len(db.scan_index) == len(db.data)


class Colliding(bytes):
    """A key whose hash collides with every other Colliding key."""

    def __hash__(self):
        return 12345


def test_scan_never_splits_a_hash_collision_group(db):
    group = [Colliding(b"c%d" % i) for i in range(5)]
    for k in group + [b"x", b"y", b"z"]:
        db.set(k, b"v")
    seen, calls = full_scan(db, 1)
    assert sorted(seen) == sorted(group + [b"x", b"y", b"z"])
    assert calls == 4       # x, y, z one per call, the five colliding keys together
    cursor = scan_cursor_of(group[0])
    nxt, keys = db.scan(cursor, 1)
    assert sorted(keys) == sorted(group)


def test_scan_index_follows_writes_and_is_dropped_when_idle(engine, db):
    for i in range(10):
        db.set(b"k%d" % i, b"v")
    db.scan(0, 1)
    index = db.scan_index
    assert index is not None
    db.set(b"new", b"v")
    db.add(b"new2", b"v")
    db.delete(b"k0")
    db.pop(b"k1")
    db.set(b"k2", b"overwrite")
    db.set_expire(b"k3", engine.clock.ms() + 1)
    engine.clock.advance(5)
    db.get(b"k3")
    assert sorted(index) == sorted(db.data)
    db.data[b"sneaky"] = b"v"       # a write that bypassed Database: detected, rebuilt
    seen, _ = full_scan(db, 100)
    assert b"sneaky" in seen
    engine.clock.advance(SCAN_INDEX_IDLE_MS + 1)
    engine.cron()
    assert db.scan_index is None


@pytest.mark.parametrize("size", [100, 40_000])    # dict walk, then the sorted index
def test_random_key_is_spread_over_the_db(db, size):
    for i in range(size):
        db.set(b"k%d" % i, b"v")
    picks = {db.random_key() for _ in range(500)}
    assert len(picks) > min(size * 0.6, 400) and picks <= set(db.data)
    assert (db.scan_index is not None) == (size >= 32768)


# -- SWAPDB / transfer / clear --------------------------------------------------------------


def test_swap_moves_contents_and_touches_watchers(engine):
    a, b = engine.dbs[0], engine.dbs[1]
    a.set(b"x", b"1")
    a.set_expire(b"x", engine.clock.ms() + 1000)
    b.set(b"y", b"2")

    class Watcher:
        dirty_cas = False

    wa, wb, wz = Watcher(), Watcher(), Watcher()
    a.watched[b"y"] = {wa}          # absent in db0 now, present after the swap
    b.watched[b"x"] = {wb}
    a.watched[b"zzz"] = {wz}        # absent on both sides: untouched
    a.swap(b)
    assert a.data == {b"y": b"2"} and b.data == {b"x": b"1"}
    assert b.ttl_ms(b"x") is not None and a.expires == {}
    assert wa.dirty_cas and wb.dirty_cas and not wz.dirty_cas
    engine.clock.advance(2000)
    engine.cron()
    assert b.data == {}


def test_transfer_keeps_ttl(engine):
    a, b = engine.dbs[0], engine.dbs[1]
    a.set(b"k", b"v")
    a.set_expire(b"k", engine.clock.ms() + 50)
    a.transfer(b"k", b, b"k")
    assert a.data == {} and b.ttl_ms(b"k") == engine.clock.ms() + 50
    engine.clock.advance(51)
    engine.cron()
    assert b.data == {}


def test_clear_resets_everything(db):
    db.set(b"a", b"v")
    db.set_expire(b"a", 10**15)
    db.scan(0, 10)
    assert db.clear() == 1
    assert (db.data, db.expires, db.heap, db.scan_index) == ({}, {}, [], None)
