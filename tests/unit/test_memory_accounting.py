"""Memory accounting and maxmemory eviction, in process on a FakeClock (no sockets, no sleeping).

The ledger test runs random commands of every family and checks that deleting
everything brings the accounted total back to exactly zero; the eviction tests
fill a database past a small maxmemory under each policy and look at which keys
went.
"""
from __future__ import annotations

import random

import pytest

from vermilion.config import Config
from vermilion.engine.client import Client
from vermilion.engine.clock import FakeClock
from vermilion.engine.engine import Engine
from vermilion.engine.memory import STARTUP, value_size
from vermilion.engine.replies import ErrorReply

MB = 1024 * 1024


@pytest.fixture
def engine():
    eng = Engine(Config(), clock=FakeClock())
    eng.effects_seen = []
    eng.sinks.append(lambda db, argv: eng.effects_seen.append((db, list(argv))))
    return eng


def run(engine, client, *args):
    return engine.execute(client, [a if isinstance(a, bytes) else str(a).encode() for a in args])


def total(engine) -> int:
    return engine.memory.ledger_total()


def recount(engine) -> int:
    """What the ledger should hold, measured from scratch for the values as they are."""
    from vermilion.engine.memory import ACCESS_ENTRY, EXPIRE_ENTRY, HEAP_ENTRY, KEY_SLOT, SAMPLE_ENTRY
    n = 0
    for db in engine.dbs:
        for key, value in db.data.items():
            n += ((len(key) + 48) & -16) + KEY_SLOT + value_size(value)
        n += len(db.expires) * EXPIRE_ENTRY + len(db.heap) * HEAP_ENTRY + len(db.access) * ACCESS_ENTRY
        if db.sample is not None:
            n += len(db.sample) * SAMPLE_ENTRY
    return n


_WRITES = [
    ("SET", "{k}", "{v}"), ("APPEND", "{k}", "{v}"), ("SETRANGE", "{k}", "7", "{v}"),
    ("SETBIT", "{k}", "99", "1"), ("INCR", "n{i}"), ("SET", "{k}", "{v}", "EX", "100"),
    ("HSET", "h{i}", "f{j}", "{v}"), ("HDEL", "h{i}", "f{j}"), ("HINCRBY", "h{i}", "c", "3"),
    ("LPUSH", "l{i}", "{v}", "{v}"), ("RPOP", "l{i}"), ("LSET", "l{i}", "0", "{v}"), ("LTRIM", "l{i}", "0", "3"),
    ("SADD", "s{i}", "{v}", "m{j}"), ("SREM", "s{i}", "m{j}"), ("SPOP", "s{i}"),
    ("ZADD", "z{i}", "{j}", "m{j}"), ("ZREM", "z{i}", "m{j}"), ("ZINCRBY", "z{i}", "2", "m{j}"),
    ("XADD", "x{i}", "*", "f", "{v}"), ("XTRIM", "x{i}", "MAXLEN", "2"),
    ("XGROUP", "CREATE", "x{i}", "g", "0", "MKSTREAM"), ("XREADGROUP", "GROUP", "g", "c{j}", "STREAMS", "x{i}", ">"),
    ("XACK", "x{i}", "g", "0-1"), ("EXPIRE", "h{i}", "50"), ("PERSIST", "h{i}"), ("DEL", "{k}"),
    ("RENAME", "h{i}", "h{j}"), ("COPY", "l{i}", "l{j}"), ("SUNIONSTORE", "s{j}", "s{i}", "s{j}"),
    ("ZUNIONSTORE", "z{j}", "2", "z{i}", "z{j}"), ("LMOVE", "l{i}", "l{j}", "LEFT", "RIGHT"),
    ("GETDEL", "{k}"), ("SMOVE", "s{i}", "s{j}", "m{j}"), ("HSETNX", "h{i}", "new{j}", "{v}"),
    ("MOVE", "h{i}", "1"), ("SWAPDB", "0", "1"), ("BITFIELD", "{k}", "SET", "u8", "200", "7"),
]


@pytest.mark.parametrize("policy", ["noeviction", "allkeys-lru", "allkeys-lfu"])
def test_the_ledger_matches_the_values_and_returns_to_zero(engine, policy):
    """Whatever sequence of writes ran, the ledger equals a fresh measurement of every
    value, and deleting every key leaves exactly nothing counted."""
    run(engine, Client(engine), "CONFIG", "SET", "maxmemory-policy", policy)
    run(engine, Client(engine), "CONFIG", "SET", "maxmemory", "1gb")
    c = Client(engine)
    rnd = random.Random(7)
    for step in range(2000):
        cmd = rnd.choice(_WRITES)
        i, j = rnd.randrange(6), rnd.randrange(6)
        v = "x" * rnd.choice((1, 5, 40, 300))
        args = [a.format(k="k%d" % i, i=i, j=j, v=v) for a in cmd]
        run(engine, c, *args)
        if step % 7 == 0:
            run(engine, c, "GET", "k%d" % j)
        if step % 500 == 499:
            assert total(engine) == recount(engine), args
    assert total(engine) == recount(engine)
    for db in engine.dbs:
        for key in list(db.data):
            db.delete(key)
        db.compact_heap()
    assert total(engine) - sum(len(db.sample or ()) for db in engine.dbs) * 8 == 0


def test_collections_written_by_the_aof_loader_are_measured(engine):
    """Replaying an AOF runs handlers without Engine.call: the collections it writes are
    measured too, also inside MULTI and when a command fails half-way."""
    from vermilion.persistence.aof import CommandReplayer
    replay = CommandReplayer(engine)
    for i in range(50):
        replay.run([b"HSET", b"h", b"f%d" % i, b"v" * 40])
        replay.run([b"RPUSH", b"l", b"x" * 30])
        replay.run([b"SADD", b"s%d" % (i % 3), b"m%d" % i])
    replay.run([b"MULTI"])
    replay.run([b"ZADD", b"z", b"1", b"a" * 100])
    replay.run([b"LPUSH", b"l", b"y" * 200])
    replay.run([b"EXEC"])
    replay.run([b"HINCRBY", b"h", b"f1", b"1"])        # not an integer: fails
    assert engine.memory.ledger.unmeasured > 0
    assert total(engine) == recount(engine)
    assert engine.memory.ledger.unmeasured == 0
    assert all(not db.unmeasured for db in engine.dbs)


def test_queued_keys_are_measured_once_and_bounded(engine, monkeypatch):
    """A key written again before it is measured is queued once; past the bound, the
    queue is measured at once (a server that nothing reads keeps no long queue)."""
    import vermilion.engine.keyspace as keyspace
    c = Client(engine)
    for i in range(10):
        run(engine, c, "HSET", "h", "f%d" % i, "v")
    assert engine.dbs[0].unmeasured == {b"h"} and engine.memory.ledger.unmeasured == 1
    run(engine, c, "SELECT", "3")
    run(engine, c, "SADD", "s", "m")
    assert engine.dbs[3].unmeasured == {b"s"} and engine.memory.ledger.unmeasured == 2
    monkeypatch.setattr(keyspace, "UNMEASURED_MAX", 5)
    for i in range(6):
        run(engine, c, "RPUSH", "l%d" % i, "x")
    assert engine.memory.ledger.unmeasured <= 5
    assert all(not db.unmeasured for db in engine.dbs[:3])
    assert total(engine) == recount(engine)


def test_flushall_and_expiry_uncount(engine):
    c = Client(engine)
    for i in range(100):
        run(engine, c, "SET", "k%d" % i, "v" * 50, "PX", "10")
        run(engine, c, "HSET", "h%d" % i, "f", "v")
    assert total(engine) > 100 * 200
    engine.clock.advance(20)
    for db in engine.dbs:
        db.active_expire(engine.clock.ms(), 1000)
    assert total(engine) == recount(engine)
    run(engine, c, "FLUSHALL")
    assert total(engine) == 0


def test_used_memory_is_startup_plus_what_is_counted(engine):
    c = Client(engine)
    base = engine.memory.used()
    # An empty server is counted as Redis counts its own: a tiny maxmemory is exceeded.
    assert base == STARTUP == engine.memory.counted()
    run(engine, c, "CONFIG", "SET", "maxmemory", "1")
    assert run(engine, c, "SET", "k", "v").message.startswith(b"OOM ")
    run(engine, c, "CONFIG", "SET", "maxmemory", str(STARTUP + 10000))
    assert not isinstance(run(engine, c, "SET", "k", "v"), ErrorReply)
    run(engine, c, "CONFIG", "SET", "maxmemory", "0")
    run(engine, c, "DEL", "k")
    run(engine, c, "SET", "k", "v" * 1000)
    grown = engine.memory.used() - base
    assert 1000 < grown < 1300
    run(engine, c, "DEL", "k")
    assert engine.memory.used() == base


# -- eviction --------------------------------------------------------------------------------

def _fill(engine, c, n, prefix="k", ttl=None, size=100):
    for i in range(n):
        args = ["SET", "%s%d" % (prefix, i), "v" * size]
        if ttl is not None:
            args += ["EX", str(ttl(i))]
        reply = run(engine, c, *args)
        assert not isinstance(reply, ErrorReply), reply


def _limit(engine, c, policy, dataset=MB):
    """A maxmemory that leaves `dataset` bytes for the data (the empty server is counted)."""
    run(engine, c, "CONFIG", "SET", "maxmemory-policy", policy)
    run(engine, c, "CONFIG", "SET", "maxmemory", str(STARTUP + dataset))


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu", "allkeys-random"])
def test_allkeys_policies_hold_the_limit(engine, policy):
    c = Client(engine)
    _limit(engine, c, policy)
    _fill(engine, c, 8000)
    assert total(engine) <= MB * 1.1
    assert engine.stats.evicted_keys > 3000
    assert len(engine.dbs[0].data) + engine.stats.evicted_keys == 8000


@pytest.mark.parametrize("policy", ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"])
def test_volatile_policies_never_touch_keys_without_ttl(engine, policy):
    c = Client(engine)
    _limit(engine, c, policy)
    _fill(engine, c, 1000, prefix="keep")
    _fill(engine, c, 8000, prefix="tmp", ttl=lambda i: 1000 + i)
    db = engine.dbs[0]
    assert all(b"keep%d" % i in db.data for i in range(1000))
    assert total(engine) <= MB * 1.1
    assert engine.stats.evicted_keys > 3000


def test_volatile_ttl_evicts_the_nearest_expiry_first(engine):
    c = Client(engine)
    _limit(engine, c, "volatile-ttl")
    # TTLs decrease as keys are added: the newest keys expire first, so they go first.
    _fill(engine, c, 8000, prefix="t", ttl=lambda i: 100000 - i)
    db = engine.dbs[0]
    alive = [i for i in range(8000) if b"t%d" % i in db.data]
    assert engine.stats.evicted_keys > 3000
    # The survivors are the keys with the longest TTL (the oldest ones).
    early = sum(1 for i in alive if i < 8000 - engine.stats.evicted_keys)
    assert early / len(alive) > 0.9


def test_volatile_without_candidates_refuses_with_oom(engine):
    c = Client(engine)
    _limit(engine, c, "volatile-lru")
    for i in range(10000):
        reply = run(engine, c, "SET", "k%d" % i, "v" * 100)
        if isinstance(reply, ErrorReply):
            break
    assert reply.message.startswith(b"OOM command not allowed")
    assert engine.stats.evicted_keys == 0
    assert run(engine, c, "GET", "k1") == b"v" * 100       # reads keep working
    assert run(engine, c, "DEL", "k1") == 1                # and DEL


def test_allkeys_lru_keeps_the_hot_set(engine):
    c = Client(engine)
    _limit(engine, c, "allkeys-lru")
    hot = ["hot%d" % i for i in range(300)]
    for k in hot:
        run(engine, c, "SET", k, "v" * 100)
    for i in range(10000):
        run(engine, c, "SET", "cold%d" % i, "v" * 100)
        engine.clock.advance(1)
        if i % 10 == 0:
            for k in hot[(i // 10) % 10::10]:
                run(engine, c, "GET", k)
    db = engine.dbs[0]
    hot_alive = sum(1 for k in hot if k.encode() in db.data) / len(hot)
    cold_alive = sum(1 for i in range(10000) if b"cold%d" % i in db.data) / 10000
    assert hot_alive > 0.9 and cold_alive < 0.5, (hot_alive, cold_alive)


def test_allkeys_lru_evicts_keys_written_before_tracking_first(engine):
    """Keys stored before an LRU policy was set have no access record: they count as
    idle since tracking started, so they go before the keys written since (the sampler
    tells a stale pick from a live one by that record, and must not drop these)."""
    c = Client(engine)
    _fill(engine, c, 2000, prefix="old")
    engine.clock.advance(1000)
    _limit(engine, c, "allkeys-lru")
    for i in range(6000):
        run(engine, c, "SET", "new%d" % i, "v" * 100)
        engine.clock.advance(1)
    db = engine.dbs[0]
    assert engine.stats.evicted_keys > 2000
    assert sum(1 for i in range(2000) if b"old%d" % i in db.data) < 200
    assert total(engine) <= MB * 1.1


def test_allkeys_lfu_keeps_frequently_read_keys(engine):
    c = Client(engine)
    _limit(engine, c, "allkeys-lfu")
    hot = ["hot%d" % i for i in range(200)]
    for k in hot:
        run(engine, c, "SET", k, "v" * 100)
        for _ in range(30):
            run(engine, c, "GET", k)
    _fill(engine, c, 10000, prefix="cold")
    db = engine.dbs[0]
    assert sum(1 for k in hot if k.encode() in db.data) / len(hot) > 0.9


def test_evictions_propagate_as_del_and_notify(engine):
    c = Client(engine)
    events = []
    engine.memory.evictor.hooks.append(lambda db, key: events.append(key))
    _limit(engine, c, "allkeys-random")
    engine.effects_seen.clear()
    _fill(engine, c, 6000)
    dels = [argv[1] for _, argv in engine.effects_seen if argv[0] == b"DEL"]
    assert len(dels) == engine.stats.evicted_keys == len(events) > 0
    assert dels == events
    assert all(k not in engine.dbs[0].data for k in dels)


def test_tenacity_bounds_one_eviction_round(engine):
    c = Client(engine)
    _fill(engine, c, 5000)
    run(engine, c, "CONFIG", "SET", "maxmemory-eviction-tenacity", "0")
    _limit(engine, c, "allkeys-random", 100 * 1024)
    run(engine, c, "SET", "x", "y")         # runs: the round stopped at its time bound
    assert engine.memory.evictor.running
    assert engine.stats.evicted_keys < 5000
    for _ in range(200):
        engine.memory.evictor.cron(engine.clock.ms())
        if not engine.memory.evictor.running:
            break
    assert total(engine) <= 100 * 1024


def test_no_limit_costs_dispatch_nothing(engine):
    from vermilion.engine.engine import BUSY_MAXMEMORY
    c = Client(engine)
    assert not engine.busy & BUSY_MAXMEMORY
    run(engine, c, "CONFIG", "SET", "maxmemory", "10mb")
    assert engine.busy & BUSY_MAXMEMORY
    run(engine, c, "CONFIG", "SET", "maxmemory", "0")
    assert not engine.busy & BUSY_MAXMEMORY
    run(engine, c, "CONFIG", "SET", "maxmemory-clients", "1mb")
    assert engine.busy & BUSY_MAXMEMORY
    run(engine, c, "CONFIG", "SET", "maxmemory-clients", "0")
    assert not engine.busy & BUSY_MAXMEMORY


def test_maxmemory_clients_limit(engine):
    c = Client(engine)
    ev = engine.memory.evictor
    run(engine, c, "CONFIG", "SET", "maxmemory-clients", "10%")
    assert ev.clients_limit == 0                    # a percentage of no maxmemory
    run(engine, c, "CONFIG", "SET", "maxmemory", "10mb")
    assert ev.clients_limit == 1024 * 1024
    run(engine, c, "CONFIG", "SET", "maxmemory-clients", "1")
    assert ev.clients_limit == 128 * 1024           # Redis's floor
    run(engine, c, "CONFIG", "SET", "maxmemory-clients", "0")
    assert ev.clients_limit == 0


@pytest.mark.parametrize("policy", ["volatile-ttl", "volatile-lru", "allkeys-lfu"])
def test_candidates_sampled_twice_do_not_stall_eviction(engine, policy):
    """A small keyspace with equal ranks (same deadline, same counter): the same key is
    sampled several times; once evicted, its other copies must not block the pool."""
    c = Client(engine)
    _limit(engine, c, policy, 20 * 1024)
    rnd = random.Random(3)
    for _ in range(5000):
        reply = run(engine, c, "SETEX", "k%d" % rnd.randrange(1000), "10000", "x")
        assert not isinstance(reply, ErrorReply), reply
    assert total(engine) <= 20 * 1024 * 1.1


def test_pool_keeps_the_best_candidates_in_offer_order():
    """The eviction pool keeps the `cap` smallest ranks, ties in the order offered (as a
    stable sort of survivors then new samples would), and a round's leftovers carry over."""
    from vermilion.engine.memory import POOL_CAP, POOL_SIZE, Pool
    rnd = random.Random(7)
    pool = Pool()
    for cap in (POOL_SIZE, 21, POOL_CAP):
        pool.reset(POOL_SIZE)
        kept: list = []
        for round_ in range(20):
            pool.widen(cap)
            offered = [(rnd.randrange(50), rnd.randrange(3), b"k%d-%d" % (round_, i)) for i in range(60)]
            for rank, db, key in offered:
                pool.offer(rank, db, key)
            expected = sorted(kept + offered, key=lambda entry: entry[0])[:cap]
            # Keys are unique: their order is the order of the ranks kept.
            assert pool.size == len(expected) and pool.keys == [key for _, _, key in expected]
            taken = rnd.randrange(cap + 1)
            pool.keep(taken, POOL_SIZE)
            kept = expected[taken:taken + POOL_SIZE]
            assert pool.size == len(kept) and pool.keys == [key for _, _, key in kept]


def test_allkeys_lru_takes_the_oldest_keys_of_any_database(engine):
    """Candidates of several databases share one pool: the keys idle longest go first,
    whichever database holds them."""
    c = Client(engine)
    _limit(engine, c, "allkeys-lru", 200 * 1024)
    run(engine, c, "SELECT", 1)
    for i in range(400):
        run(engine, c, "SET", "old%d" % i, "x" * 100)
    engine.clock.advance(10_000)
    run(engine, c, "SELECT", 0)
    i = 0
    while len(engine.dbs[1].data) > 200:
        assert not isinstance(run(engine, c, "SET", "new%d" % i, "y" * 100), ErrorReply)
        engine.clock.advance(1)
        i += 1
        assert i < 5000
    assert len(engine.dbs[0].data) == i         # no new key went while old ones were left


def test_a_served_blocking_move_measures_its_destination(engine):
    """BLMOVE served when another client pushes: the element lands on a destination list
    that exists already, and the ledger counts it there (not only the source's change)."""
    pusher, mover = Client(engine), Client(engine)
    run(engine, pusher, "RPUSH", "dst", *["d%d" % i for i in range(20)])
    run(engine, mover, "BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")
    assert total(engine) == recount(engine)     # the ledger is read while the mover waits
    run(engine, pusher, "RPUSH", "src", "x" * 3000)
    engine.blocking.handle_ready()      # what the server's loop does after each command
    assert run(engine, pusher, "LLEN", "dst") == 21
    assert total(engine) == recount(engine)
