"""Keyspace notifications against real redis-server 7.0, in RESP2 and RESP3.

A watcher connection on each server PSUBSCRIBEs to every ``__keyspace@*`` and
``__keyevent@*`` channel; the same commands run on both servers, then a
sentinel PUBLISH marks the end and the two event streams must be identical.
Commands of families not written yet are skipped one by one (when Vermilion
answers "unknown command"), never silently compared.
"""
from __future__ import annotations

import time

import pytest

from rawclient import RawClient
from test_pubsub import Twin, _reset, wait_pubsub_idle

SENTINEL = "ks-test-done"


class Events:
    def __init__(self, ref_port: int, ver_port: int, resp: int):
        self.watch = Twin(ref_port, ver_port, resp)
        self.watch.send("PSUBSCRIBE", "__key*__:*")
        self.watch.expect(1)
        self.watch.send("SUBSCRIBE", SENTINEL)
        self.watch.expect(1)
        self.cmd = Twin(ref_port, ver_port, resp)
        self.skipped: list[str] = []

    def flags(self, value: str) -> None:
        self.cmd.check("CONFIG", "SET", "notify-keyspace-events", value)

    def run(self, *args) -> bool:
        """Run one command on both (compared); False if Vermilion does not know it yet."""
        reply = self.cmd.ver.call(*args)
        if reply.kind == "-" and reply.value.startswith(b"ERR unknown command"):
            self.skipped.append(str(args[0]))
            return False
        expected = self.cmd.ref.call(*args)
        assert reply == expected, f"{args!r}: redis={expected!r} vermilion={reply!r}"
        return True

    def collect(self) -> list:
        """Every event frame since the last collect, compared between the servers."""
        self.cmd.ref.call("PUBLISH", SENTINEL, "x")
        self.cmd.ver.call("PUBLISH", SENTINEL, "x")
        streams = []
        for side in (self.watch.ref, self.watch.ver):
            frames = []
            while True:
                frame = side.read()
                if frame.value[0].value == b"message" and frame.value[1].value == SENTINEL.encode():
                    break
                frames.append(frame)
            streams.append(frames)
        expected, actual = streams
        assert actual == expected, f"redis={expected!r}\nvermilion={actual!r}"
        return [(f.value[2].value, f.value[3].value) for f in actual]

    def close(self) -> None:
        self.watch.close()
        self.cmd.close()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def events(request, reference_server, vermilion_process_server):
    ports = (reference_server.port, vermilion_process_server.port)
    for port in ports:
        _reset(port)
        wait_pubsub_idle(port)
    ev = Events(*ports, request.param)
    yield ev
    for port in ports:
        _reset(port)
    ev.close()


def test_notify_config_values(pair2):
    for value in ("KEA", "AKE", "Kg$", "E", "xeK", "KEAmn", "Ag", "g$lshzxetdKE", "", "Kz"):
        pair2.check("CONFIG", "SET", "notify-keyspace-events", value)
        pair2.check("CONFIG", "GET", "notify-keyspace-events")
    pair2.check("CONFIG", "SET", "notify-keyspace-events", "KQ")
    pair2.check("CONFIG", "GET", "notify-keyspace-events")
    pair2.check("CONFIG", "SET", "notify-keyspace-events", "")


def test_string_and_generic_events(events):
    events.flags("KEA")
    events.run("SET", "k1", "v")
    events.run("APPEND", "k1", "w")
    events.run("INCR", "n")
    events.run("INCRBYFLOAT", "n", "1.5")
    events.run("SETRANGE", "k1", "0", "xx")
    events.run("EXPIRE", "k1", "100")
    events.run("PERSIST", "k1")
    events.run("RENAME", "k1", "k2")
    events.run("MSET", "a", "1", "b", "2")
    events.run("GETDEL", "a")
    events.run("DEL", "b", "k2", "missing")
    events.run("SET", "gone", "x", "EX", "100")
    events.run("EXPIRE", "gone", "0")          # expire in the past: a del event
    got = events.collect()
    if not events.skipped:
        assert (b"__keyevent@0__:set", b"k1") in got and (b"__keyspace@0__:k1", b"set") in got
        assert (b"__keyevent@0__:del", b"k2") in got


@pytest.mark.parametrize("flags", ["K$", "Eg", "Kg$", "E", "K", "AK", "Ex", "Ag", "KE$"])
def test_class_filtering(events, flags):
    events.flags(flags)
    events.run("SET", "f", "1")
    events.run("EXPIRE", "f", "100")
    events.run("INCR", "f")
    events.run("DEL", "f")
    events.collect()


def test_events_carry_the_database_index(events):
    events.flags("KEA")
    events.cmd.check("SELECT", "5")
    events.run("SET", "in5", "v")
    events.run("DEL", "in5")
    got = events.collect()
    if not events.skipped:
        assert got == [(b"__keyspace@5__:in5", b"set"), (b"__keyevent@5__:set", b"in5"),
                       (b"__keyspace@5__:in5", b"del"), (b"__keyevent@5__:del", b"in5")]


def test_expired_events_from_active_expiry(events):
    events.flags("KEx")
    if not events.run("SET", "short", "v", "PX", "20"):
        pytest.skip("SET not available yet")
    events.run("SET", "long", "v", "PX", "100000")
    time.sleep(0.4)            # hz 10 on both: several active expiry cycles
    assert events.collect() == [(b"__keyspace@0__:short", b"expired"),
                                (b"__keyevent@0__:expired", b"short")]


def test_expired_events_from_lazy_expiry(events):
    events.flags("Ex")
    events.cmd.check("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        if not events.run("SET", "lazy", "v", "PX", "10"):
            pytest.skip("SET not available yet")
        time.sleep(0.1)
        events.run("GET", "lazy")
        assert events.collect() == [(b"__keyevent@0__:expired", b"lazy")]
    finally:
        events.cmd.check("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_hash_events(events):
    events.flags("KEA")
    if not events.run("HSET", "h", "f1", "1", "f2", "2"):
        pytest.skip("hash commands not available yet")
    events.run("HINCRBY", "h", "f1", "5")
    events.run("HINCRBYFLOAT", "h", "f1", "0.5")
    events.run("HSETNX", "h", "f3", "x")
    events.run("HDEL", "h", "f1", "nope")
    events.run("HDEL", "h", "f2", "f3")      # last field: hdel then del
    events.collect()


def test_list_set_zset_stream_events(events):
    events.flags("KEA")
    events.run("RPUSH", "l", "a", "b")
    events.run("LPOP", "l")
    events.run("LPOP", "l")
    events.run("SADD", "s", "a")
    events.run("SREM", "s", "a")
    events.run("ZADD", "z", "1", "a")
    events.run("ZINCRBY", "z", "2", "a")
    events.run("ZREM", "z", "a")
    events.run("XADD", "x", "1-1", "f", "v")
    events.run("XTRIM", "x", "MAXLEN", "0")
    events.collect()


def test_no_events_when_disabled(events):
    events.flags("")
    events.run("SET", "quiet", "v")
    events.run("DEL", "quiet")
    assert events.collect() == []
    events.flags("A")                 # classes without K or E publish nothing either
    events.run("SET", "quiet", "v")
    assert events.collect() == []


def test_any_family_notifies_with_one_call(vermilion_process_server):
    """engine.notify is the whole contract: a family calls it once per event."""
    srv = vermilion_process_server
    c = RawClient(srv.port)
    c.call("CONFIG", "SET", "notify-keyspace-events", "KEt")
    sub = RawClient(srv.port)
    try:
        sub.send("PSUBSCRIBE", "__key*@7__:*")
        sub.read()

        def emit():
            engine = srv.engine
            engine.notify(engine.dbs[7], "t", b"xadd", b"stream-key")
            engine.notify(engine.dbs[7], "h", b"hset", b"filtered-out")   # class h is off
            engine.notify(engine.dbs[7], "t", b"xtrim", b"stream-key")
        srv.call_in_loop(emit)
        got = [sub.read().value for _ in range(4)]
        assert [(f[2].value, f[3].value) for f in got] == [
            (b"__keyspace@7__:stream-key", b"xadd"), (b"__keyevent@7__:xadd", b"stream-key"),
            (b"__keyspace@7__:stream-key", b"xtrim"), (b"__keyevent@7__:xtrim", b"stream-key")]
    finally:
        c.call("CONFIG", "SET", "notify-keyspace-events", "")
        c.close()
        sub.close()


def test_expiry_inside_the_engine_notifies(vermilion_process_server):
    """Active and lazy expiry both publish `expired`, independent of any command family."""
    srv = vermilion_process_server
    c = RawClient(srv.port)
    c.call("CONFIG", "SET", "notify-keyspace-events", "Ex")
    sub = RawClient(srv.port)
    try:
        sub.send("SUBSCRIBE", "__keyevent@0__:expired")
        sub.read()

        def plant():
            db = srv.engine.dbs[0]
            now = srv.engine.clock.ms()
            db.set(b"active-key", b"v")
            db.set_expire(b"active-key", now + 10)
            srv.engine.active_expire_enabled = False
            db.set(b"lazy-key", b"v")
            db.set_expire(b"lazy-key", now - 1)
            db.get(b"lazy-key")                      # lazy expiry
            srv.engine.active_expire_enabled = True
        srv.call_in_loop(plant)
        got = [sub.read().value[2].value for _ in range(2)]
        assert got == [b"lazy-key", b"active-key"]
    finally:
        c.call("CONFIG", "SET", "notify-keyspace-events", "")
        c.close()
        sub.close()


@pytest.mark.parametrize("flags", ["KEn", "KEAn", "En$", "KEA"])
def test_new_key_events(events, flags):
    events.flags(flags)
    events.run("SET", "fresh", "1")
    events.run("SET", "fresh", "2")          # exists: no `new`
    events.run("MSET", "n1", "a", "n2", "b")
    events.run("HSET", "nh", "f", "v")
    events.run("HSET", "nh", "g", "v")
    events.run("RPUSH", "nl", "a")
    events.collect()


def test_keymiss_events(events):
    events.flags("KEm")
    events.run("GET", "no-such-key")
    events.run("HGET", "no-such-hash", "f")
    events.run("SET", "present", "v")
    events.run("GET", "present")
    events.run("EXISTS", "no-such-key")        # not a read lookup: no keymiss
    events.collect()
