"""Eviction and the end of a turn, in process (the real Engine, Server and Connections, a
loop stand-in whose callbacks run when told): the cron may run between an eviction and the
turn's writes, as it does on a busy server, and must not make the next command evict again
for the invalidation messages the eviction queued for tracking clients (Redis's maxmemory
test "client tracking don't cause eviction feedback loop", made deterministic here).
"""
from __future__ import annotations

from test_turn_order import Turn, command, recorder

from vermilion.config import Config
from vermilion.engine.engine import Engine
from vermilion.server.connection import Connection
from vermilion.server.server import Server

KEYS = 300
TRACKERS = 10


def key(j: int) -> bytes:
    return b"%d" % j + b"x" * 1000


def test_the_cron_between_an_eviction_and_its_writes_does_not_drain_the_dataset():
    engine = Engine(Config())
    engine.loop = Turn()
    server = Server(engine)
    log: list = []
    conns = []
    for i in range(TRACKERS + 1):
        conn = Connection(server)
        conn.connection_made(recorder(f"client{i}", log))
        conns.append(conn)
    writer, trackers = conns[0], conns[1:]
    writer.data_received(command(b"CONFIG", b"SET", b"maxmemory-policy", b"allkeys-lru")
                         + command(b"CONFIG", b"SET", b"maxmemory-eviction-tenacity", b"100"))
    for t in trackers:
        t.data_received(command(b"HELLO", b"3") + command(b"CLIENT", b"TRACKING", b"on"))
    for j in range(KEYS):
        writer.data_received(command(b"SET", key(j), b"x"))
        for t in trackers:
            t.data_received(command(b"GET", key(j)))
    engine.loop.end_turn()
    db = engine.dbs[0]
    assert len(db.data) == KEYS

    limit = engine.memory.used() - 40000
    writer.data_received(command(b"CONFIG", b"SET", b"maxmemory", b"%d" % limit))
    # The eviction CONFIG SET starts runs first; then the cron, before the writes.
    ready, engine.loop.ready = engine.loop.ready, []
    fn, args = ready.pop(0)
    fn(*args)
    evicted = engine.stats.evicted_keys
    assert 10 <= evicted <= 50
    assert all(t.pending for t in trackers)             # the invalidations wait for the turn's end
    engine.cron()
    for fn, args in ready:
        fn(*args)
    engine.loop.end_turn()
    assert not any(t.pending for t in trackers)

    writer.data_received(command(b"SET", b"after", b"x"))   # the gate checks memory again
    engine.loop.end_turn()
    assert engine.stats.evicted_keys - evicted <= 5
    assert 200 <= len(db.data) <= KEYS
