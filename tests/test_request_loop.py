"""The request loop exists twice: in C (vermilion._speedups) and in Python.

The C one is what users run; the Python one is the reference and the fallback
when no compiler was available at install time. The whole suite runs against
whichever is active (C, in CI); the tests here make sure CI really builds the C
loop, and rerun the dispatch-heavy test files against the Python loop.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import IN_CI
from vermilion.engine import core

ROOT = Path(__file__).resolve().parent.parent

# Files rerun on the pure-Python twins: the path from bytes in to bytes out (framing,
# errors, command statistics and the slowlog, MULTI, blocking, pub/sub ordering), and
# sorted sets, whose index is SortedList without vermilion._sortedkeys.
DISPATCH_TESTS = [
    "tests/test_zsets.py",
    "tests/test_request_loop.py",
    "tests/test_protocol.py",
    "tests/test_connection.py",
    "tests/test_strings.py",
    "tests/test_server_commands.py",
    "tests/test_transactions.py",
    "tests/test_blocking.py",
    "tests/test_pubsub.py",
]


def _pure_requested() -> bool:
    return os.environ.get("VERMILION_PURE_PYTHON", "") not in ("", "0")


def test_implementation_follows_the_environment():
    if _pure_requested():
        assert core.IMPLEMENTATION == "Python" and core.speedups is None
    elif IN_CI:
        # CI installs with a C compiler: a silent fallback would hide a broken build.
        assert core.IMPLEMENTATION == "C"
    if core.speedups is None:
        from vermilion.engine.engine import Engine
        assert Engine.execute.__class__.__name__ == "function"
    from vermilion.types import sortedset
    expected = "SortedList" if _pure_requested() else ("SortedKeys" if IN_CI else None)
    if expected:
        assert sortedset.OrderedKeys.__name__ == expected


@pytest.mark.skipif(core.speedups is None, reason="the C loop is not built here")
def test_c_twins_are_bound_and_fall_back_to_python():
    from vermilion.engine.engine import Engine
    from vermilion.engine.core import EngineCore
    assert Engine.execute is EngineCore.c_execute
    assert Engine.call is EngineCore.c_call


def test_a_handler_that_crashes_gets_an_error_reply_and_the_connection_lives(vermilion_process_server):
    # A bug in a handler must cost one error reply, never the connection or the
    # replies around it; the C loop hands the exception to Engine.crashed.
    from rawclient import RawClient
    from vermilion.engine.table import COMMANDS

    def broken(client, args):
        raise RuntimeError("boom")

    cmd = COMMANDS["echo"]
    original = cmd.handler
    cmd.handler = broken
    c = RawClient(vermilion_process_server.port)
    try:
        c.send_raw(b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n*1\r\n$4\r\nPING\r\n")
        assert c.read() == ("+", b"PONG")
        kind, text = c.read()
        assert kind == "-" and text == b"ERR internal error in 'echo': RuntimeError('boom')"
        assert c.read() == ("+", b"PONG")
    finally:
        cmd.handler = original
        c.close()


def test_incr_matches_redis_in_every_case_its_c_twin_declines(pair):
    # INCR runs in C (_speedups.c native_incr) only for a plain integer string with no
    # TTL, watcher, keyspace event or tracking; every other case is the Python
    # handler's. Walk through both sides of each condition.
    pair.run("""
        INCR fresh
        INCR fresh
        SET neg -5
        INCR neg
        SET zero 0
        INCR zero
        SET big 9223372036854775806
        INCR big
        INCR big
        SET lead 007
        INCR lead
        SET plus +1
        INCR plus
        SET space " 1"
        INCR space
        SET minuszero -0
        INCR minuszero
        SET float 1.0
        INCR float
        SET low -9223372036854775808
        INCR low
        SET twenty 12345678901234567890
        INCR twenty
        SET app 1
        APPEND app 2
        INCR app
        RPUSH alist x
        INCR alist
        SET ttl 10 EX 100
        INCR ttl
        TTL ttl
        SET gone 5 PX 1
        DEBUG SLEEP 0.01
        INCR gone
        CONFIG SET notify-keyspace-events KA
        INCR evented
        CONFIG SET notify-keyspace-events ""
        MULTI
        INCR inmulti
        INCR inmulti
        EXEC
        GET fresh
    """)


def test_set_and_get_match_redis_in_every_case_their_c_twins_decline(pair):
    # SET key value and GET key run in C (native_set / native_get) only with no keyspace
    # events, WATCH, SCAN index or access tracking; GET also only for a string without
    # a TTL. Everything else is the Python handlers'.
    pair.run("""
        SET k v
        GET k
        GET missing
        SET ttl v EX 100
        SET ttl w
        TTL ttl
        GET ttl
        SET exp v PX 1
        DEBUG SLEEP 0.01
        GET exp
        EXISTS exp
        RPUSH alist x
        GET alist
        SET alist now-a-string
        TYPE alist
        GET alist
        SETRANGE ranged 0 abc
        APPEND ranged def
        GET ranged
        CONFIG SET notify-keyspace-events KA
        SET evented v
        GET evented
        CONFIG SET notify-keyspace-events ""
        CONFIG SET maxmemory-policy allkeys-lru
        SET lru v
        GET lru
        OBJECT IDLETIME lru
        CONFIG SET maxmemory-policy noeviction
        MULTI
        SET inmulti 1
        GET inmulti
        EXEC
        SET "" empty-key
        GET ""
    """)


def test_expire_matches_redis_in_every_case_its_c_twin_declines(pair):
    # EXPIRE key seconds runs in C (native_expire) only for an existing key without a
    # due TTL, a future time, and nothing listening or propagating.
    pair.run("""
        SET k v
        EXPIRE k 100
        TTL k
        EXPIRE k 200
        TTL k
        EXPIRE missing 100
        SET neg v
        EXPIRE neg -1
        EXISTS neg
        SET zero v
        EXPIRE zero 0
        EXISTS zero
        SET big v
        EXPIRE big 9223372036854775
        EXPIRE big 9223372036854776
        EXPIRE big 9223372036854775807
        EXPIRE big -9223372036854775808
        EXPIRE big abc
        EXPIRE big 01
        EXPIRE big " 1"
        EXISTS big
        SET due v PX 1
        DEBUG SLEEP 0.01
        EXPIRE due 100
        EXISTS due
        SET flagged v
        EXPIRE flagged 100 NX
        EXPIRE flagged 50 GT
        EXPIRE flagged 50 LT
        TTL flagged
        HSET h f v
        EXPIRE h 100
        TTL h
        CONFIG SET notify-keyspace-events KA
        SET evented v
        EXPIRE evented 100
        TTL evented
        CONFIG SET notify-keyspace-events ""
        MULTI
        SET inmulti v
        EXPIRE inmulti 100
        TTL inmulti
        EXEC
    """)


def test_expire_twin_keeps_the_ttl_heap_and_wakes_watchers(ports):
    def scenario(a, b):
        a.call("FLUSHALL")
        for i in range(3000):           # past the heap's compaction threshold
            a.send("SET", "key:%d" % (i % 50), "v")
            a.send("EXPIRE", "key:%d" % (i % 50), 1000 + i)
        replies = {a.read() for _ in range(6000)}
        ttls = sorted(a.call("TTL", "key:%d" % i).value for i in range(50))
        a.call("SET", "w", "v")
        a.call("WATCH", "w")
        b.call("EXPIRE", "w", 100)
        a.call("MULTI")
        a.call("GET", "w")
        exec_reply = a.call("EXEC")
        # The twin's heap entry drives active expiry: the key goes without a lookup.
        a.call("SET", "short", "v")
        a.call("EXPIRE", "short", 1)
        before = a.call("DBSIZE")
        time.sleep(1.4)
        return replies, ttls[0] > 3000, exec_reply, before, a.call("DBSIZE")
    same_on_both_with_clients(ports, scenario)


def test_hset_matches_redis_in_every_case_its_c_twin_declines(pair):
    # HSET key field value runs in C (native_hset) only on an existing hash with no TTL
    # or HRANDFIELD pool and nothing listening; it converts the encoding like Redis.
    pair.run("""
        HSET h f1 v1
        HSET h f1 v2
        HSET h f2 v2
        HGETALL h
        OBJECT ENCODING h
        CONFIG SET hash-max-listpack-entries 3
        HSET h f3 v3
        OBJECT ENCODING h
        HSET h f4 v4
        OBJECT ENCODING h
        CONFIG SET hash-max-listpack-entries 128
        HSET long f v
        HSET long f 0123456789012345678901234567890123456789012345678901234567890123456789
        OBJECT ENCODING long
        HSET long f2 x
        HLEN long
        SET str v
        HSET str f v
        HSET ttl f v
        EXPIRE ttl 100
        HSET ttl g v
        TTL ttl
        HSET due f v
        PEXPIRE due 1
        DEBUG SLEEP 0.01
        HSET due g v
        HGETALL due
        HSET pooled a 1 b 2 c 3
    """)
    # HRANDFIELD gives the hash a random-pick pool (Vermilion), which the twin declines.
    assert all(r.kind == "$" for r in pair.both("HRANDFIELD", "pooled"))
    pair.run("""
        HSET pooled d 4
        HLEN pooled
        CONFIG SET notify-keyspace-events KA
        HSET h f5 v5
        CONFIG SET notify-keyspace-events ""
        HSET h f6 v6 f7 v7
        HLEN h
        MULTI
        HSET h f8 v8
        HGET h f8
        EXEC
    """)


def same_on_both_with_clients(ports, scenario):
    """scenario(a, b) with two fresh connections, on redis-server then Vermilion."""
    from support import connect, same_on_both

    def run(port):
        a, b = connect(port), connect(port)
        try:
            return scenario(a, b)
        finally:
            a.close()
            b.close()
    return same_on_both(ports, run)


def _info_stat(c, name: str, section: str = "stats") -> int:
    """One counter of an INFO section (keyspace_hits ...)."""
    info = c.call("INFO", section).value.decode()
    return int(next(line.split(":")[1] for line in info.splitlines() if line.startswith(name + ":")))


def test_sorted_set_twins_match_redis_in_every_case_they_decline(pair):
    # ZRANK / ZREVRANK and ZPOPMIN / ZPOPMAX (no count) run in C only on an existing
    # sorted set without a TTL, nothing listening, and (pops) a member left after.
    pair.run("""
        ZADD z 1 a 2 b 3 c 2 bb -1.5 neg
        ZRANK z a
        ZREVRANK z a
        ZRANK z bb
        ZREVRANK z neg
        ZRANK z missing
        ZREVRANK nokey a
        SET str v
        ZRANK str a
        ZPOPMIN str
        ZPOPMIN z
        ZPOPMAX z
        ZRANGE z 0 -1 WITHSCORES
        ZPOPMIN nokey
        ZADD one 5 only
        ZPOPMAX one
        EXISTS one
        ZADD two 1 x 2 y
        ZPOPMIN two
        ZPOPMIN two
        EXISTS two
        ZADD ttl 1 x 2 y 3 z
        EXPIRE ttl 100
        ZPOPMIN ttl
        ZRANK ttl z
        TTL ttl
        ZADD inf -inf lo +inf hi 0 mid
        ZPOPMAX inf
        ZPOPMIN inf
        ZRANK inf mid
        CONFIG SET notify-keyspace-events KA
        ZADD ev 1 a 2 b 3 c
        ZPOPMIN ev
        ZREVRANK ev c
        CONFIG SET notify-keyspace-events ""
        MULTI
        ZPOPMAX z
        ZRANK z b
        EXEC
        ZPOPMIN z 1
        ZPOPMIN z 0
    """)


def test_zadd_twin_matches_redis_in_every_case_it_declines(pair):
    # ZADD key score member runs in C only on an existing skiplist-encoded set without
    # a TTL, with a plain decimal score (-?digits[.digits]) and nothing listening.
    pair.run("""
        CONFIG SET zset-max-listpack-entries 2
        ZADD small 1 a
        OBJECT ENCODING small
        ZADD big 1 a 2 b 3 c
        OBJECT ENCODING big
        ZADD big 4 d
        ZADD big 4 d
        ZADD big 5 d
        ZADD big 4.0 d
        ZADD big -0 z
        ZSCORE big z
        ZADD big 0 z
        ZSCORE big z
        ZADD big 1.50 e
        ZADD big 007 f
        ZADD big -.5 g
        ZADD big 1. h
        ZADD big 1e3 i
        ZADD big inf j
        ZADD big -inf k
        ZADD big nan l
        ZADD big " 1" m
        ZADD big 99999999999999999999 n
        ZADD big 0.1 o
        ZADD big 0.30000000000000004 p
        ZADD big 123456789012345678901234567890 q
        ZADD big 1_0 r
        ZADD big -12.125 s
        ZRANGE big 0 -1 WITHSCORES
        ZRANK big d
        ZCARD big
        SET str x
        ZADD str 1 a
        ZADD big 1 a extra
        ZADD big NX 1 fresh
        ZADD ttl 1 a 2 b 3 c
        EXPIRE ttl 100
        ZADD ttl 9 t
        TTL ttl
        CONFIG SET notify-keyspace-events KA
        ZADD big 10 u
        CONFIG SET notify-keyspace-events ""
        MULTI
        ZADD big 11 v
        ZRANK big v
        EXEC
        ZRANGE big -3 -1 WITHSCORES
        CONFIG SET zset-max-listpack-entries 128
    """)


def test_zadd_twin_counts_changes_and_wakes_watchers_like_redis(ports):
    def scenario(a, b):
        try:
            a.call("FLUSHALL")
            a.call("CONFIG", "SET", "zset-max-listpack-entries", "2")
            a.call("ZADD", "z", 1, "a", 2, "b", 3, "c")
            before = _info_stat(a, "rdb_changes_since_last_save", "persistence")
            seen = [b.call("ZADD", "z", 4, "d"), b.call("ZADD", "z", 4, "d"), b.call("ZADD", "z", 5, "d")]
            seen.append(_info_stat(a, "rdb_changes_since_last_save", "persistence") - before)
            a.call("WATCH", "z")
            seen.append(b.call("ZADD", "z", 6, "e"))
            a.call("MULTI")
            a.call("ZCARD", "z")
            seen.append(a.call("EXEC"))
            return seen
        finally:
            a.call("CONFIG", "SET", "zset-max-listpack-entries", "128")
    same_on_both_with_clients(ports, scenario)


def test_sorted_set_twins_count_hits_and_wake_watchers_like_redis(ports):
    def scenario(a, b):
        a.call("FLUSHALL")
        a.call("ZADD", "z", 1, "a", 2, "b", 3, "c")
        a.call("CONFIG", "RESETSTAT")
        seen = [a.call("ZRANK", "z", "b"), a.call("ZREVRANK", "z", "nope"), a.call("ZRANK", "none", "a")]
        seen.append((_info_stat(a, "keyspace_hits"), _info_stat(a, "keyspace_misses")))
        a.call("WATCH", "z")
        seen.append(b.call("ZPOPMIN", "z"))
        a.call("MULTI")
        a.call("ZCARD", "z")
        seen.append(a.call("EXEC"))
        return seen
    same_on_both_with_clients(ports, scenario)


def test_set_and_get_count_keyspace_hits_and_wake_watchers_like_redis(ports):
    def scenario(a, b):
        a.call("FLUSHALL")
        a.call("CONFIG", "RESETSTAT")
        a.call("SET", "h", "1")
        for _ in range(3):
            a.call("GET", "h")
        a.call("GET", "nothing")
        counts = _info_stat(a, "keyspace_hits"), _info_stat(a, "keyspace_misses")
        a.call("WATCH", "h")
        b.call("SET", "h", "2")         # another client's plain SET touches the watched key
        a.call("MULTI")
        a.call("GET", "h")
        return counts, a.call("EXEC"), a.call("GET", "h")
    same_on_both_with_clients(ports, scenario)


def test_network_byte_counters_match_redis(ports):
    # The C loop adds to these at the Stats slots' offsets (stat_add).
    from support import connect, same_on_both

    def scenario(port):
        c = connect(port)
        try:
            c.call("CONFIG", "RESETSTAT")
            for _ in range(10):
                c.call("PING")
            c.send_raw(b"PING\r\nECHO hello\r\n*2\r\n$3\r\nGET\r\n$7\r\nmissing\r\n")
            replies = [c.read() for _ in range(3)]
            # One INFO: its reply (longer from Redis) is not counted yet when it runs.
            info = c.call("INFO", "stats").value.decode().splitlines()
            return replies, [line for line in info if line.startswith(("total_net_input_bytes:",
                                                                        "total_net_output_bytes:"))]
        finally:
            c.close()
    same_on_both(ports, scenario)


def test_incr_of_a_watched_key_aborts_the_transaction(ports):
    def scenario(a, b):
        a.call("SET", "w", "1")
        a.call("WATCH", "w")
        b.call("INCR", "w")
        a.call("MULTI")
        a.call("INCR", "w")
        return a.call("EXEC"), a.call("GET", "w")
    same_on_both_with_clients(ports, scenario)


@pytest.mark.skipif(_pure_requested(), reason="this is the run that starts the pure-Python one")
def test_pure_python_loop_passes_the_dispatch_tests():
    env = {**os.environ, "VERMILION_PURE_PYTHON": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *DISPATCH_TESTS],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


# -- the reply encoder ---------------------------------------------------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402

from vermilion.engine.replies import NULL_ARRAY, OK, ErrorReply, RespSet, Status  # noqa: E402
from vermilion.server import resp  # noqa: E402

_scalars = st.one_of(
    st.binary(max_size=40),
    st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
    st.none(), st.booleans(), st.floats(allow_nan=False),
    st.just(NULL_ARRAY), st.just(OK), st.builds(Status, st.sampled_from([b"QUEUED", b"PONG"])),
    st.builds(bytearray, st.binary(max_size=10)),
    st.builds(ErrorReply, st.sampled_from([b"ERR x", b"WRONGTYPE y\r\nz"])),
)
_replies = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=12),
        st.lists(inner, max_size=5).map(tuple),
        st.dictionaries(st.binary(max_size=8), inner, max_size=5),
        st.lists(st.binary(max_size=8), max_size=5).map(RespSet),
    ),
    max_leaves=40,
)


@pytest.mark.skipif(core.speedups is None, reason="the C encoder is not built here")
@settings(max_examples=400, deadline=None)
@given(value=_replies, resp3=st.booleans())
def test_c_encoder_writes_what_the_python_encoder_writes(value, resp3):
    c_out, py_out = [], []
    resp.encode(value, c_out, resp3)
    resp.python_encode(value, py_out, resp3)
    assert b"".join(c_out) == b"".join(py_out)


# -- XADD's C twin builds the same stream as the Python code -------------------------------------

class _Transport:
    def __init__(self):
        self.data = bytearray()

    def write(self, data):
        self.data += data

    def is_closing(self):
        return False

    def get_write_buffer_size(self):
        return 0

    def get_extra_info(self, name, default=None):
        return {"peername": ("127.0.0.1", 1), "sockname": ("127.0.0.1", 2)}.get(name, default)

    def close(self):
        pass


class _Turns:
    """call_soon callbacks run when the test says the loop turn is over."""

    def __init__(self):
        self.ready = []

    def call_soon(self, fn, *args):
        self.ready.append((fn, args))

    def end_turn(self):
        ready, self.ready = self.ready, []
        for fn, args in ready:
            fn(*args)


def _node_state(stream):
    return [(n.ms, n.seq, n.fields, list(n.msd), list(n.sq), list(n.offs), bytes(n.flags),
             bytes(n.blob), n.live, n.dead, n.lpbytes) for n in stream._nodes[stream._head:]] + [
        (stream.length, tuple(stream.last_id), tuple(stream.first_id), stream.entries_added)]


_xadds = st.lists(st.tuples(
    st.sampled_from([b"f", b"f", b"f", b"g"]),                       # mostly the master field
    st.one_of(st.binary(max_size=8), st.sampled_from([b"7", b"-1", b"x" * 63, b"y" * 64])),
    st.sampled_from([0, 0, 0, 1, 5, -3]),                           # clock moves, ms
), min_size=1, max_size=160)


@pytest.mark.skipif(core.speedups is None, reason="the C loop is not built here")
@settings(max_examples=60, deadline=None)
@given(adds=_xadds, node_entries=st.sampled_from([0, 3, 100]), node_bytes=st.sampled_from([0, 60, 4096]),
       cap=st.sampled_from([None, None, 4, 40]))
def test_xadd_c_twin_builds_the_same_nodes_as_python(adds, node_entries, node_bytes, cap):
    from vermilion.config import Config
    from vermilion.engine.clock import FakeClock
    from vermilion.engine.engine import Engine
    from vermilion.server.connection import Connection
    from vermilion.server.server import Server
    from vermilion.types.stream import Stream, default_trim_limit

    config = Config()
    config.set_from_text("stream-node-max-entries", str(node_entries))
    config.set_from_text("stream-node-max-bytes", str(node_bytes))
    clock = FakeClock()
    engine = Engine(config, clock=clock)
    engine.loop = _Turns()
    conn = Connection(Server(engine))
    transport = _Transport()
    conn.connection_made(transport)
    propagated = []
    engine.sinks.append(lambda db_index, argv: propagated.append(argv))
    reference = Stream()
    replies, effects = [], []
    options = [] if cap is None else [b"MAXLEN", b"~", b"%d" % cap]
    for field, value, move in adds:
        clock.advance(move)
        request = [b"XADD", b"s", *options, b"*", field, value]
        conn.data_received(b"*%d\r\n" % len(request) +
                           b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in request))
        engine.loop.end_turn()
        sid = reference.add([field, value], None, clock.ms(), node_max_entries=node_entries,
                            node_max_bytes=node_bytes)
        written = b"%d-%d" % sid
        if cap is not None:
            reference.trim("maxlen", cap, True, default_trim_limit(node_entries))
            effects.append([b"XADD", b"s", b"MAXLEN", b"=", b"%d" % reference.length, written, field, value])
        else:
            effects.append([b"XADD", b"s", written, field, value])
        replies.append(b"$%d\r\n%b\r\n" % (len(written), written))
    assert bytes(transport.data) == b"".join(replies)
    assert _node_state(conn.db.data[b"s"]) == _node_state(reference)
    assert propagated == effects


@pytest.mark.skipif(core.speedups is None, reason="the C encoder is not built here")
@settings(max_examples=300, deadline=None)
@given(argv=st.lists(st.one_of(st.binary(max_size=30), st.integers(-(2 ** 63), 2 ** 63 - 1),
                               st.builds(bytearray, st.binary(max_size=5))), min_size=1, max_size=80))
def test_aof_c_encoder_writes_what_the_python_encoder_writes(argv):
    from vermilion.persistence import aof
    assert aof.c_encode_command(argv) == aof.encode_command(argv) == aof._encode_unrolled(argv)


# -- integer arguments ------------------------------------------------------------------------------

_int_texts = st.one_of(
    st.integers(-(2 ** 64), 2 ** 64).map(lambda n: str(n).encode()),
    st.binary(max_size=22),
    st.text(alphabet="0123456789-+ ", max_size=22).map(str.encode),
)


@pytest.mark.skipif(core.speedups is None, reason="the C loop is not built here")
@settings(max_examples=3000, deadline=None)
@given(_int_texts)
def test_c_parse_int_agrees_with_the_python_reference(text):
    from vermilion.commands._args import parse_int, python_parse_int
    from vermilion.engine.errors import CommandError

    def outcome(fn):
        try:
            return fn(text)
        except CommandError as err:
            return ("error", str(err))
    assert outcome(parse_int) == outcome(python_parse_int)


_stream_ids = st.one_of(
    st.tuples(st.integers(0, 2 ** 64 - 1), st.integers(0, 2 ** 64 - 1)).map(lambda t: b"%d-%d" % t),
    st.integers(0, 2 ** 64 - 1).map(lambda n: b"%d" % n),
    st.text(alphabet="0123456789-+ *$>", max_size=24).map(str.encode),
)


@pytest.mark.skipif(core.speedups is None, reason="the C loop is not built here")
@settings(max_examples=2000, deadline=None)
@given(st.lists(_stream_ids, max_size=5))
def test_c_stream_id_keys_agree_with_the_python_parser(ids):
    # XACK parses its IDs in C when all are plain digits; otherwise (None) the Python
    # parser runs. Whenever C answers, it must be what Python computes.
    from vermilion.commands.streams import _strict_all
    args = [b"XACK", b"k", b"g", *ids]
    keys = core.speedups.stream_id_keys(args, 3)
    plain = all(i.count(b"-") <= 1 and all(part.isdigit() and len(part) < 20 for part in i.split(b"-"))
                for i in ids)
    assert (keys is not None) == plain
    if keys is not None:
        assert keys == [(ms << 64) | seq for ms, seq in _strict_all(args, 3)]
