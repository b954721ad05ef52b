"""Expiry in real time: lazy and active expiry, what they notify and propagate.

Differential where the reference can be observed (replies, DBSIZE, INFO keyspace,
keyspace notifications); propagated effects are checked on Vermilion's sinks
against what Redis 7.0 writes to its AOF/replicas. TTLs are tens of
milliseconds and sleeps short, so the whole file runs in about a second.
"""
from __future__ import annotations

import time

import pytest

from rawclient import RawClient


def both_run(pair, *lines: str) -> None:
    for line in lines:
        pair.check(*line.split())


def wait_until(predicate, timeout: float = 2.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def no_active_expire(pair):
    for c in (pair.ref, pair.ver):
        c.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    yield pair
    for c in (pair.ref, pair.ver):
        c.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_lazy_expiry_on_access(no_active_expire):
    pair = no_active_expire
    both_run(pair, "SET k v PX 30", "SET k2 v PX 30", "SET live v", "PEXPIRE k3 30")
    time.sleep(0.06)
    pair.check("DBSIZE")                    # nothing touched them yet: still counted
    pair.check("GET", "k")
    pair.check("DBSIZE")
    pair.check("TTL", "k2")
    pair.check("EXISTS", "k2", "live")
    pair.check("DBSIZE")


@pytest.mark.parametrize("line", ["TYPE k", "PTTL k", "EXPIRETIME k", "PERSIST k", "EXPIRE k 100",
                                  "OBJECT ENCODING k", "TOUCH k", "RENAME k x", "RENAMENX k x",
                                  "COPY k x", "MOVE k 1", "DEL k", "UNLINK k"])
def test_commands_see_expired_keys_as_missing(no_active_expire, line):
    pair = no_active_expire
    pair.check("SET", "k", "v", "PX", "20")
    time.sleep(0.04)
    pair.check(*line.split())
    pair.check("DBSIZE")
    pair.check("EXISTS", "x")


def test_keys_scan_randomkey_skip_expired(no_active_expire):
    pair = no_active_expire
    for i in range(10):
        pair.check("SET", f"gone:{i}", "v", "PX", "20")
    pair.check("SET", "live", "v")
    time.sleep(0.04)
    pair.check("KEYS", "*")
    pair.check("DBSIZE")                    # KEYS does not delete
    pair.check("RANDOMKEY")                 # the only live key
    pair.check("SCAN", "0", "COUNT", "100")
    pair.check("DBSIZE")                    # SCAN and RANDOMKEY did
    pair.check("DEL", "live")
    for i in range(3):
        pair.check("SET", f"gone:{i}", "v", "PX", "20")
    time.sleep(0.04)
    pair.check("RANDOMKEY")
    pair.check("DBSIZE")


def test_active_expiry_frees_untouched_keys(pair):
    for i in range(30):
        pair.check("SET", f"short:{i}", "v", "PX", "20")
    pair.check("SET", "long", "v", "EX", "100")
    pair.check("SET", "forever", "v")
    for c in (pair.ref, pair.ver):
        assert wait_until(lambda: c.call("DBSIZE").value == 2), "active expiry did not run"
    pair.check("DBSIZE")
    ref, ver = pair.both("INFO", "keyspace")
    line = [x for x in ver.value.split(b"\r\n") if x.startswith(b"db0:")]
    ref_line = [x for x in ref.value.split(b"\r\n") if x.startswith(b"db0:")]
    assert line[0].split(b",")[:2] == ref_line[0].split(b",")[:2] == [b"db0:keys=2", b"expires=1"]
    stats = pair.ver.call("INFO", "stats").value
    assert int(stats.split(b"expired_keys:")[1].split(b"\r\n")[0]) >= 30


def test_ttl_counts_down(pair):
    pair.check("SET", "k", "v", "PX", "100000")
    time.sleep(0.05)
    ref, ver = pair.both("PTTL", "k")
    assert 0 < ver.value <= 99950 and 0 < ref.value <= 99950
    pair.check("TTL", "k")


def test_expire_then_wait(pair):
    both_run(pair, "SET k v", "PEXPIRE k 30", "SET p v", "PEXPIRE p 30", "PERSIST p")
    time.sleep(0.05)
    both_run(pair, "EXISTS k", "TTL k", "GET k", "TTL p", "GET p")


# -- keyspace notifications --------------------------------------------------------------


def _subscriber(port: int) -> RawClient:
    sub = RawClient(port)
    sub.call("PSUBSCRIBE", "__key*__:*")
    return sub


def _drain(sub: RawClient) -> list:
    """Messages received so far: a PING round trip is the barrier."""
    sub.send("PING")
    out = []
    while True:
        frame = sub.read()
        if frame.value and frame.value[0].value == b"pong":
            return out
        out.append(frame)


def test_keyspace_events(pair):
    for c in (pair.ref, pair.ver):
        c.call("CONFIG", "SET", "notify-keyspace-events", "KEAn")
    subs = (_subscriber(pair.ref.sock.getpeername()[1]), _subscriber(pair.ver.sock.getpeername()[1]))
    try:
        pair.run("""
        SET a 1
        SET b 2
        DEL a nokey b
        SET a 1
        UNLINK a
        SET k v
        EXPIRE k 100
        PEXPIREAT k 4102444800000
        EXPIRE k 100 NX
        PERSIST k
        PERSIST k
        EXPIRE k -1
        SET k v
        RENAME k k2
        RENAMENX k2 k3
        RENAME k3 k3
        COPY k3 k4
        COPY k3 k4 REPLACE
        COPY k3 k5 DB 2
        MOVE k4 1
        TOUCH k3
        SWAPDB 0 1
        SWAPDB 0 1
        FLUSHDB
        """)
        pair.check("SET", "e", "v", "PX", "10")
        time.sleep(0.03)
        pair.check("GET", "e")
        ref_msgs, ver_msgs = _drain(subs[0]), _drain(subs[1])
        assert ver_msgs == ref_msgs
        assert any(b"expired" in repr(m).encode() for m in ref_msgs)
        assert any(b"__keyevent@1__:new" in repr(m).encode() for m in ref_msgs)   # MOVE's dbAdd
        # Active expiry notifies too.
        pair.check("SET", "f", "v", "PX", "10")
        for sub in subs:
            got = []
            assert wait_until(lambda: got.extend(_drain(sub)) or any(b"expired" in repr(m).encode()
                                                                      for m in got))
    finally:
        for sub in subs:
            sub.close()
        for c in (pair.ref, pair.ver):
            c.call("CONFIG", "SET", "notify-keyspace-events", "")


# -- propagation ------------------------------------------------------------------------------


@pytest.fixture
def sink(vermilion_process_server, pair2):
    engine = vermilion_process_server.engine
    got: list = []

    def record(db_index, argv):
        got.append((db_index, [bytes(a) for a in argv]))

    engine.sinks.append(record)
    yield pair2.ver, got
    engine.sinks.remove(record)


def test_propagated_effects(sink):
    client, got = sink
    client.call("SET", "k", "v")
    got.clear()
    client.call("EXPIRE", "k", "100")
    (db, argv), = got
    assert db == 0 and argv[:2] == [b"PEXPIREAT", b"k"] and abs(int(argv[2]) - (time.time() * 1000 + 100_000)) < 5000
    got.clear()
    client.call("EXPIREAT", "k", "4102444800", "GT")
    assert got == [(0, [b"PEXPIREAT", b"k", b"4102444800000", b"GT"])]
    got.clear()
    client.call("PEXPIREAT", "k", "4102444800001")
    assert got == [(0, [b"PEXPIREAT", b"k", b"4102444800001"])]
    got.clear()
    client.call("PEXPIRE", "k", "50000", "XX")
    assert got[0][1][0] == b"PEXPIREAT" and got[0][1][3:] == [b"XX"]
    got.clear()
    client.call("EXPIRE", "k", "100", "NX")           # refused: nothing propagated
    client.call("EXPIRE", "nokey", "100")
    client.call("PERSIST", "nokey")
    client.call("TTL", "k")
    assert got == []
    client.call("EXPIRE", "k", "-1")                   # in the past: DEL
    assert got == [(0, [b"DEL", b"k"])]
    got.clear()
    client.call("SELECT", "3")
    client.call("SET", "lazy", "v", "PX", "10")
    time.sleep(0.001)
    client.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    time.sleep(0.03)
    got.clear()
    try:
        client.call("GET", "lazy")                     # lazy expiry: DEL, and not the GET
        client.call("EXPIRE", "lazy", "100")           # nothing left to do: not propagated
        assert got == [(3, [b"DEL", b"lazy"])]
    finally:
        client.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    got.clear()
    client.call("SET", "act", "v", "PX", "10")
    got.clear()
    assert wait_until(lambda: (3, [b"DEL", b"act"]) in got)
    got.clear()
    client.call("FLUSHDB")                             # propagated even when already empty
    client.call("FLUSHDB")
    assert got == [(3, [b"FLUSHDB"]), (3, [b"FLUSHDB"])]
