"""The request loop: one implementation in Python, compiled when it can be.

`Connection.data_received` and `Engine.execute`/`call` exist once, in Python.
What makes them fast is optional and must never change a reply: the C codec
(vermilion._resp: the request splitter and the encoders, each with a
pure-Python twin compared here by hypothesis) and the Cython build of the hot
modules from their own source. The whole suite runs against whatever is built
(everything, in CI); the tests here make sure CI really runs the compiled path,
that requests are served by it, and rerun the dispatch-heavy test files on the
pure-Python form.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import IN_CI
from vermilion import _native
from vermilion.server import framing

ROOT = Path(__file__).resolve().parent.parent
_resp = _native.native_module("_resp")

# Files rerun on the pure-Python form: the path from bytes in to bytes out (framing,
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


def _needs_codec():
    """Skip without the C codec on a laptop; in CI a missing build is a failure."""
    if _resp is None:
        if IN_CI and not _pure_requested():
            pytest.fail("vermilion._resp is not built")
        pytest.skip("vermilion._resp is not built here")


def test_compiled_code_follows_the_environment():
    import importlib
    for name in _native.COMPILED_MODULES:
        importlib.import_module(name)
    import vermilion.server.connection as connection
    from vermilion.types import sortedset
    if _pure_requested():
        assert _native.compiled_modules() == [] and _resp is None
        assert connection.Requests is framing.Requests
        assert sortedset.OrderedKeys.__name__ == "SortedList"
        assert _native.describe() == "pure Python"
    elif IN_CI:
        # CI installs with a C compiler and Cython: a silent fallback would hide a broken build.
        assert _native.stale == []
        assert sorted(_native.compiled_modules()) == sorted(_native.COMPILED_MODULES)
        assert connection.Requests is _resp.Requests
        assert sortedset.OrderedKeys.__name__ == "SortedKeys"


def test_pipelined_requests_are_served_by_the_compiled_path(vermilion_process_server):
    # The embedded server runs in this process: the C splitter's counter and the
    # compiled modules seen here are the ones that served the requests.
    _needs_codec()
    from rawclient import RawClient
    burst = 2000
    c = RawClient(vermilion_process_server.port)
    try:
        before = _resp.requests_parsed()
        c.send_raw(b"".join(b"*3\r\n$3\r\nSET\r\n$6\r\nk:%04d\r\n$1\r\nv\r\n" % i
                            for i in range(burst)) + b"*1\r\n$6\r\nDBSIZE\r\n")
        for _ in range(burst):
            assert c.read() == ("+", b"OK")
        assert c.read()[0] == ":"
        c.send_raw(b"DBSIZE\r\n")
        assert c.read()[0] == ":"
        assert _resp.requests_parsed() - before >= burst + 1
    finally:
        c.close()
    import vermilion.server.connection as connection
    if IN_CI:
        assert "vermilion.server.connection" in _native.compiled_modules()
        assert connection.Connection.data_received.__class__.__name__ != "function"


def test_a_compiled_module_older_than_its_source_is_not_used(tmp_path):
    # An editable install whose .py changed after the build must run the .py, and so
    # must every other compiled module: they call into each other's compiled layouts.
    module, neighbour = "vermilion.server.parser", "vermilion.server.resp"
    package_dir = tmp_path / "server"
    package_dir.mkdir()
    source = package_dir / "parser.py"
    source.write_text("X = 1\n")
    (package_dir / "resp.py").write_text("Y = 1\n")
    layout = _native.layout_digest(str(tmp_path))
    # A C header the compiled modules include (a C API's struct) is part of the layout.
    (tmp_path / "api.h").write_text("/* v1 */\n")
    assert _native.layout_digest(str(tmp_path)) != layout
    layout = _native.layout_digest(str(tmp_path))

    def finder(manifest):
        return _native._SourceWhenStale(manifest, str(tmp_path))

    def digest(name, layout=layout):
        return _native.build_digest(str(package_dir / name), layout)

    def runs_source(finder, name):
        spec = finder.find_spec(name, [str(package_dir)])
        return spec is not None and spec.origin == str(package_dir / (name.rpartition(".")[2] + ".py"))

    before = len(_native.stale)
    current = finder({module: digest("parser.py"), neighbour: digest("resp.py")})
    assert runs_source(current, module) == _pure_requested()
    assert runs_source(current, neighbour) == _pure_requested()
    # Built against other .pxd layouts: stale too, though the source is the same.
    other_layout = finder({module: digest("parser.py", "0" * 64), neighbour: digest("resp.py")})
    assert runs_source(other_layout, module) and runs_source(other_layout, neighbour)
    # One module edited since the build: its neighbour, unchanged, runs as source too.
    edited = finder({module: "0" * 64, neighbour: digest("resp.py")})
    assert runs_source(edited, neighbour) and runs_source(edited, module)
    # One module the build left out (its compilation failed, or Cython was missing
    # while an older extension file stayed behind): the same.
    partial = finder({neighbour: digest("resp.py")})
    assert runs_source(partial, neighbour) and runs_source(partial, module)
    if not _pure_requested():
        assert _native.stale[before:] == [module, module, module]
    del _native.stale[before:]
    # Not a compiled module: the normal machinery decides.
    assert finder({}).find_spec("vermilion.server.framing", [str(package_dir)]) is None



def test_a_build_without_cython_fails_unless_pure_python_is_asked_for():
    # Without Cython, setup.py used to record an empty manifest and exit 0, so every
    # module ran as pure Python with nothing but a log line to say so.
    code = ("import runpy, sys; sys.modules['Cython'] = None; sys.argv = ['setup.py', '--name']; "
            "runpy.run_path('setup.py', run_name='__main__')")

    def build(pure: str):
        env = {**os.environ, "VERMILION_PURE_PYTHON": pure}
        return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
    refused = build("")
    assert refused.returncode != 0
    assert "Cython is not installed" in refused.stderr and "VERMILION_PURE_PYTHON=1" in refused.stderr
    asked = build("1")
    assert asked.returncode == 0, asked.stderr[-2000:]
    assert asked.stdout.split()[-1] == "vermilion"

def test_a_handler_that_crashes_gets_an_error_reply_and_the_connection_lives(vermilion_process_server):
    # A bug in a handler must cost one error reply, never the connection or the
    # replies around it: Engine.call hands the exception to Engine.crashed.
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


def test_incr_matches_redis_in_its_edge_cases(pair):
    # The conditions the hot path of INCR depends on (a plain integer string, TTL,
    # watcher, keyspace event, tracking): walk through both sides of each.
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


def test_set_and_get_match_redis_in_their_edge_cases(pair):
    # SET key value and GET key with and without keyspace events, WATCH, a SCAN index,
    # access tracking and a TTL.
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


def test_expire_matches_redis_in_its_edge_cases(pair):
    # EXPIRE key seconds on existing and missing keys, due and future TTLs, with and
    # without anything listening.
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


def test_expire_keeps_the_ttl_heap_and_wakes_watchers(ports):
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
        # The TTL heap entry drives active expiry: the key goes without a lookup.
        a.call("SET", "short", "v")
        a.call("EXPIRE", "short", 1)
        before = a.call("DBSIZE")
        deadline = time.monotonic() + 30     # the cron runs hz times a second; a busy machine is slower
        while a.call("DBSIZE") == before and time.monotonic() < deadline:
            time.sleep(0.05)
        return replies, ttls[0] > 3000, exec_reply, before, a.call("DBSIZE")
    same_on_both_with_clients(ports, scenario)


def test_hset_matches_redis_in_its_edge_cases(pair):
    # HSET key field value on new and existing hashes, with a TTL, an HRANDFIELD pool,
    # something listening, and across the listpack limits (the encoding converts).
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
    # HRANDFIELD gives the hash a random-pick pool (Vermilion), which HSET must keep right.
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


def test_sorted_set_hot_commands_match_redis_in_their_edge_cases(pair):
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


def test_zadd_matches_redis_in_its_edge_cases(pair):
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


def test_zadd_counts_changes_and_wakes_watchers_like_redis(ports):
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


def test_sorted_set_reads_count_hits_and_wake_watchers_like_redis(ports):
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


@settings(max_examples=400, deadline=None)
@given(value=_replies, resp3=st.booleans())
def test_c_encoder_writes_what_the_python_encoder_writes(value, resp3):
    _needs_codec()
    c_out, py_out = [], []
    resp.encode(value, c_out, resp3)
    resp.python_encode(value, py_out, resp3)
    assert b"".join(c_out) == b"".join(py_out)


def test_c_encoder_gives_each_status_its_own_bytes():
    # The C encoder keeps the bytes of the last Status it encoded (a run of +OK reads
    # no attribute): a different Status, or a new one with the same text, is read anew.
    _needs_codec()
    statuses = [OK, OK, Status(b"QUEUED"), OK, Status(b"PONG"), Status(b"PONG"), OK]
    for resp3 in (False, True):
        out: list = []
        for status in statuses:
            resp.encode(status, out, resp3)
        assert out == [b"+OK\r\n", b"+OK\r\n", b"+QUEUED\r\n", b"+OK\r\n", b"+PONG\r\n",
                       b"+PONG\r\n", b"+OK\r\n"]


@settings(max_examples=300, deadline=None)
@given(argv=st.lists(st.one_of(st.binary(max_size=30), st.integers(-(2 ** 63), 2 ** 63 - 1),
                               st.builds(bytearray, st.binary(max_size=5))), min_size=1, max_size=80))
def test_aof_c_encoder_writes_what_the_python_encoder_writes(argv):
    _needs_codec()
    from vermilion.persistence import aof
    assert aof.c_encode_command(argv) == aof.encode_command(argv) == aof._encode_unrolled(argv)


# -- the request splitter: vermilion._resp.Requests against server/framing.py ------------------

def _multibulk(args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in args)


_words = st.binary(min_size=1, max_size=12).filter(lambda w: not any(c in w for c in b" \t\r\n"))
_request_bytes = st.one_of(
    st.lists(st.binary(max_size=20), min_size=1, max_size=6).map(_multibulk),
    st.lists(_words, min_size=0, max_size=5).map(lambda ws: b" ".join(ws) + b"\r\n"),
    st.lists(_words, min_size=1, max_size=3).map(lambda ws: b"\t".join(ws) + b"\n"),
    st.sampled_from([b"*0\r\n", b"*-1\r\n", b"*01\r\n$1\r\nx\r\n", b"*1\r\n$01\r\nx\r\n",
                     b"*1\r\n+x\r\n", b"*1\r\n$1\r\nxy\r\n", b"GET \"quoted\"\r\n", b"PING\0\r\n",
                     b"*2\r\n$3\r\nGET\r\n", b"*1048577\r\n", b"\r\n", b"  \r\n"]),
)


def _split(requests_type, data: bytes):
    it = requests_type(data)
    out = []
    for request in it:
        out.append((request, it.pos))
    return out, it.pos


@settings(max_examples=500, deadline=None)
@given(parts=st.lists(_request_bytes, max_size=12), cut=st.integers(min_value=0), tail=st.binary(max_size=8))
def test_c_request_splitter_takes_what_the_python_one_takes(parts, cut, tail):
    # Pipelines in every framing, cut anywhere by the read, with or without garbage.
    _needs_codec()
    data = b"".join(parts)
    data = data[:cut % (len(data) + 1)] + tail
    assert _split(_resp.Requests, data) == _split(framing.Requests, data)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=64))
def test_c_request_splitter_agrees_on_arbitrary_bytes(data):
    _needs_codec()
    assert _split(_resp.Requests, data) == _split(framing.Requests, data)


def test_request_splitter_stops_where_the_parser_of_record_must_judge():
    for requests_type in (framing.Requests, *((_resp.Requests,) if _resp is not None else ())):
        data = b"PING\r\n*1\r\n$4\r\nPING\r\nSET \"a b\" c\r\nPING\r\n"
        it = requests_type(data)
        assert list(it) == [[b"PING"], [b"PING"]]
        assert data[it.pos:] == b"SET \"a b\" c\r\nPING\r\n"
        big = requests_type(b"*1\r\n$1048577\r\n")      # over the splitter's bulk bound
        assert list(big) == [] and big.pos == 0


# -- CLIENT PAUSE holds commands back in every reply mode --------------------------------------

def test_client_pause_holds_a_write_from_a_client_with_replies_off(ports):
    # The held command must be run when the pause ends, whatever the client's reply
    # mode, and its connection must survive (it used to be dropped with a TypeError).
    def scenario(a, b):
        a.call("DEL", "held")
        b.send("CLIENT", "REPLY", "OFF")            # (no reply)
        a.call("CLIENT", "PAUSE", "100000", "WRITE")
        b.send("SET", "held", "v")
        before = a.call("GET", "held")           # reads are not paused
        a.call("CLIENT", "UNPAUSE")
        return before, b.call("CLIENT", "REPLY", "ON"), b.call("PING"), a.call("GET", "held")
    same_on_both_with_clients(ports, scenario)


def test_compiled_modules_run_as_plain_python_without_cython_installed():
    # The @cython.locals declarations must cost nothing and change nothing when the
    # modules run as plain Python on a machine without Cython.
    code = """
import sys
sys.modules["cython"] = None            # as if Cython were not installed
import vermilion
with vermilion.embedded() as server:
    r = server.client()
    r.set("a", 1)
    print(r.get("a"), r.incr("a"), r.hset("h", "f", "v"), r.sadd("s", "m"), r.lpush("l", "x"),
          r.publish("c", "m"), r.xadd("x", {"f": "v"}, id="1-1"))
"""
    env = {**os.environ, "VERMILION_PURE_PYTHON": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["b'1'", "2", "1", "1", "1", "0", "b'1-1'"]
