"""HyperLogLog commands, compared frame by frame with a real redis-server 7.0 (RESP2 and
RESP3): replies, errors, and the stored bytes (GET) after every kind of update, so
that sparse and dense values, cached cardinalities and estimates are Redis's own.
Also: random PFADD/PFMERGE workloads (hypothesis) across the sparse -> dense
promotion, corrupted values, propagation, keyspace events, WATCH, DUMP/RESTORE and
RDB files in both directions, and the pure register helpers against plain Python.
"""
from __future__ import annotations

import os

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from persistence_support import redis_server, vermilion
from rawclient import RawClient
from support import require_reference, same_on_both
from test_strings import _as_bytes, propagation, wrongtype  # noqa: F401 (fixtures)
from vermilion.types import hyperloglog as hll

KEYS = ["h1", "h2", "h3"]


def _elements(start: int, count: int) -> list[str]:
    return [f"el:{i}" for i in range(start, start + count)]


def _same_values(pair, keys=KEYS) -> None:
    for key in keys:
        pair.check("GET", key)
        pair.check("STRLEN", key)


@pytest.fixture
def sparse_limit(pair):
    """Changes hll-sparse-max-bytes on both servers for one test."""
    def set_limit(n: int) -> None:
        pair.check("CONFIG", "SET", "hll-sparse-max-bytes", str(n))
    yield set_limit
    pair.both("CONFIG", "SET", "hll-sparse-max-bytes", "3000")


# -- PFADD / PFCOUNT -----------------------------------------------------------------------------


def test_pfadd_pfcount_basics(pair):
    pair.run("""
    PFADD h1 a b c
    GET h1
    PFADD h1 a
    PFADD h1
    PFADD h2
    GET h2
    PFCOUNT h2
    OBJECT ENCODING h1
    TYPE h1
    PFCOUNT h1
    GET h1
    PFCOUNT h1
    PFADD h1 d
    GET h1
    PFCOUNT nokey
    PFCOUNT h1 nokey h2
    PFCOUNT nokey nokey2
    PFDEBUG ENCODING h1
    PFDEBUG DECODE h1
    COPY h1 h3
    PFADD h1 e f g
    PFCOUNT h1
    GET h3
    PFCOUNT h3
    """)
    # An HLL set as a plain (embedded) string: every command makes it raw first.
    value = pair.check("GET", "h1").value
    for command in (["PFCOUNT", "c"], ["PFADD", "c"], ["PFDEBUG", "ENCODING", "c"],
                    ["PFMERGE", "c"], ["PFCOUNT", "c", "c"]):
        pair.check("SET", "c", value)
        pair.check("OBJECT", "ENCODING", "c")
        pair.check(*command)
        pair.check("OBJECT", "ENCODING", "c")


def test_estimates_and_bytes_at_many_sizes(pair):
    """The estimate at cardinalities from 1 to 60000 (sparse, promotion, dense),
    with the bytes after each step."""
    done = 0
    for target in (1, 7, 40, 200, 800, 1500, 3000, 12000, 60000):
        pair.check("PFADD", "h1", *_elements(done, target - done))
        done = target
        pair.check("PFDEBUG", "ENCODING", "h1")
        pair.check("GET", "h1")
        pair.check("PFCOUNT", "h1")
        pair.check("GET", "h1")
    pair.check("PFADD", "h2", *_elements(50000, 20000))
    pair.check("PFCOUNT", "h1", "h2")


def test_sparse_to_dense_at_the_configured_size(pair, sparse_limit):
    for limit in (40, 200):
        pair.both("DEL", "h1")
        sparse_limit(limit)
        for i in range(0, 120, 3):
            pair.check("PFADD", "h1", *_elements(i, 3))
            pair.check("PFDEBUG", "ENCODING", "h1")
            pair.check("STRLEN", "h1")
        pair.check("GET", "h1")
    # A run above 32 (one element in 2**32) cannot be sparse: the value is promoted.
    value = hll.new_sparse()
    assert hll.Sparse(value).set(5, 33, 3000) == 2


def test_sparse_limit_directive(pair, sparse_limit):
    for value in ("1kb", "0", "-1", "abc", "4gb", "9223372036854775807", "3000"):
        pair.check("CONFIG", "SET", "hll-sparse-max-bytes", value)
        pair.check("CONFIG", "GET", "hll-sparse-max-bytes")


# -- PFMERGE -------------------------------------------------------------------------------------


def test_pfmerge(pair):
    pair.check("PFADD", "h1", *_elements(0, 50))
    pair.check("PFADD", "h2", *_elements(25, 50))
    pair.check("PFADD", "big", *_elements(0, 5000))
    pair.run("""
    PFMERGE h3 h1 h2
    GET h3
    PFDEBUG ENCODING h3
    PFCOUNT h3
    PFMERGE h3
    GET h3
    PFMERGE h1 h2
    GET h1
    PFMERGE new nokey
    GET new
    PFMERGE h2 big
    PFDEBUG ENCODING h2
    GET h2
    PFCOUNT h2
    PFMERGE big h1
    GET big
    PFCOUNT h1 h2 h3 big
    """)


def test_pfmerge_of_many_sparse_registers_promotes(pair, sparse_limit):
    pair.check("PFADD", "h1", *_elements(0, 300))
    pair.check("PFADD", "h2", *_elements(300, 300))
    sparse_limit(800)
    pair.check("PFMERGE", "h3", "h1", "h2")
    pair.check("PFDEBUG", "ENCODING", "h3")
    _same_values(pair)


def test_in_scripts_and_transactions(pair):
    pair.run("""
    EVAL "redis.call('pfadd', KEYS[1], 'a', 'b'); return redis.call('pfcount', KEYS[1])" 1 h1
    GET h1
    EVAL_RO "return redis.call('pfcount', KEYS[1])" 1 h1
    PFADD h1 c
    EVAL_RO "return redis.call('pfcount', KEYS[1])" 1 h1
    EVAL_RO "return redis.call('pfcount', KEYS[1], 'h2')" 1 h1
    EVAL "return redis.call('pfdebug', 'encoding', KEYS[1])" 1 h1
    MULTI
    PFADD h2 x
    PFCOUNT h2
    PFMERGE h3 h1 h2
    PFCOUNT h3
    EXEC
    GET h3
    """)


# -- PFDEBUG / PFSELFTEST ------------------------------------------------------------------------


def test_pfdebug(pair):
    pair.check("PFADD", "h1", *_elements(0, 20))
    pair.check("PFADD", "h2", *_elements(0, 20))
    pair.run("""
    PFDEBUG DECODE h1
    PFDEBUG ENCODING h1
    PFDEBUG GETREG h2
    PFDEBUG ENCODING h2
    GET h2
    PFDEBUG TODENSE h1
    PFDEBUG TODENSE h1
    PFDEBUG ENCODING h1
    GET h1
    PFDEBUG DECODE h1
    PFDEBUG decode nokey
    PFDEBUG nosuch h1
    PFDEBUG nosuch nokey
    PFDEBUG
    PFDEBUG GETREG h1 extra
    SET s hello
    PFDEBUG encoding s
    """)


def test_pfselftest(pair2):
    pair2.check("PFSELFTEST")
    pair2.check_error("PFSELFTEST", "x")


def test_command_table_rows(pair):
    """Arity, flags, key positions and ACL categories as COMMAND INFO shows them."""
    for name in ("pfadd", "pfcount", "pfmerge", "pfdebug", "pfselftest"):
        ref, ver = pair.both("COMMAND", "INFO", name)
        assert ver.value[0].value[:7] == ref.value[0].value[:7], name


# -- errors and corrupted values -----------------------------------------------------------------

def _header(encoding: int = 1, card: bytes = b"\x00" * 7 + b"\x80") -> bytes:
    return b"HYLL" + bytes((encoding, 0, 0, 0)) + card


def test_wrong_types_and_invalid_strings(pair, wrongtype):
    wrongtype("list")
    dense_short = _header(0) + bytes(100)
    pair.check("SET", "str", "hello")
    pair.check("SET", "int", "123")
    pair.check("SET", "hyll", "HYLL")
    pair.check("SET", "enc2", _header(2) + b"\x7f\xff")
    pair.check("SET", "dense_short", dense_short)
    pair.check("SET", "dense_long", _header(0) + bytes(hll.DENSE_BYTES + 1))
    for key in ("list", "str", "int", "hyll", "enc2", "dense_short", "dense_long"):
        pair.check_error("PFADD", key, "a")
        pair.check_error("PFCOUNT", key)
        pair.check_error("PFCOUNT", "nokey", key)
        pair.check_error("PFMERGE", key, "nokey")
        pair.check_error("PFMERGE", "dest", key)
        pair.check_error("PFDEBUG", "GETREG", key)
    pair.check("EXISTS", "dest")
    pair.check_error("PFADD")
    pair.check_error("PFCOUNT")
    pair.check_error("PFMERGE")


CORRUPT = {
    # Opcodes covering fewer registers than 16384.
    "short": _header() + b"\x7e\x00",
    # More than 16384.
    "long": _header() + b"\x7f\xff\x05",
    # Full, then a VAL (refused since the CVE-2025-32023 fix).
    "trailing_val": _header() + b"\x7f\xff\x88",
    "trailing_zero": _header() + b"\x7f\xff\x00\x88",
    # No opcodes at all.
    "empty": _header(),
    # A stale-looking value whose cache is valid: PFCOUNT answers from the cache.
    "cached": _header(card=b"\x2a" + bytes(7)) + b"\x00",
    "partly": _header() + b"\x5f\xff\x84\x3f",
}


@pytest.mark.parametrize("name", sorted(CORRUPT))
def test_corrupted_sparse_values(pair, name):
    value = CORRUPT[name]
    for key in ("c", "c2", "c3"):
        pair.check("SET", key, value)
    pair.check("PFCOUNT", "c")
    pair.check("PFCOUNT", "c", "nokey")
    pair.check("PFDEBUG", "DECODE", "c")
    pair.check("PFADD", "c", *_elements(0, 40))
    pair.check("GET", "c")
    pair.check("PFMERGE", "dest", "c2")
    pair.check("GET", "dest")
    pair.check("PFDEBUG", "TODENSE", "c3")
    pair.check("GET", "c3")
    pair.check("PFADD", "c3", "x")


@pytest.mark.parametrize("run", [b"\x7f\xff", b"\x3f", b"\x84"])
def test_huge_corrupted_sparse_values(pair2, run):
    """Far more opcodes than registers (Redis's CVE-2025-32023 tests use these): every
    reader refuses them, and PFADD updates the registers they do cover."""
    value = _header() + run * (300_000 // len(run)) + b"\xff"
    pair2.check("SET", "c", value)
    pair2.check("SET", "c2", value)
    pair2.check("PFCOUNT", "c", "c")
    pair2.check("PFDEBUG", "GETREG", "c")
    pair2.check("PFCOUNT", "c")
    pair2.check("PFMERGE", "c2", "nokey")
    pair2.check("PFADD", "c", *_elements(0, 50))
    assert pair2.ref.call("GET", "c") == pair2.ver.call("GET", "c")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=12), cached=st.booleans())
def test_random_sparse_bodies(pair, body, cached):
    # A value whose last byte is half an XZERO makes Redis read past the string's
    # end (see docs/compatibility.md); the other bodies behave alike.
    ops = hll._OPCODE.findall(body)
    if ops and len(ops[-1]) == 1 and 0x40 <= ops[-1][0] < 0x80:
        body = body[:-1]
    value = _header(card=b"\x05" + bytes(6) + (b"\x00" if cached else b"\x80")) + body
    pair.check("SET", "c", value)
    pair.check("SET", "c2", value)
    pair.check("PFCOUNT", "c")
    pair.check("PFCOUNT", "c2", "nokey")
    pair.check("PFADD", "c", "a", "b", "c")
    pair.check("GET", "c")
    pair.check("PFMERGE", "c2", "nokey")
    pair.check("GET", "c2")


# -- random workloads ----------------------------------------------------------------------------

key = st.sampled_from(KEYS)
small_elements = st.lists(st.sampled_from([f"m{i}" for i in range(60)]), max_size=6)
operation = st.one_of(
    st.builds(lambda k, e: ["PFADD", k, *e], key, small_elements),
    st.builds(lambda k, s, n: ["PFADD", k, *_elements(s, n)], key,
              st.integers(0, 4000), st.integers(1, 1500)),
    st.builds(lambda d, s: ["PFMERGE", d, *s], key, st.lists(key, max_size=3)),
    st.builds(lambda ks: ["PFCOUNT", *ks], st.lists(key, min_size=1, max_size=3)),
    st.builds(lambda k: ["PFDEBUG", "TODENSE", k], key),
    st.builds(lambda n: ["CONFIG", "SET", "hll-sparse-max-bytes", str(n)],
              st.sampled_from([0, 30, 100, 500, 3000])),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(operation, min_size=1, max_size=12))
def test_random_workloads(pair, sparse_limit, operations):
    pair.both("FLUSHALL")
    sparse_limit(3000)
    for args in operations:
        pair.check(*args)
    for k in KEYS:
        pair.check("GET", k)
        pair.check("PFCOUNT", k)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_seeded_large_workloads(pair2, seed):
    """Longer runs than the hypothesis examples: thousands of elements per key, so
    every key goes through sparse, promotion and dense, merged in every mix."""
    import random
    rnd = random.Random(seed)
    for _ in range(25):
        k = rnd.choice(KEYS)
        roll = rnd.random()
        if roll < 0.5:
            pair2.check("PFADD", k, *_elements(rnd.randrange(20000), rnd.choice([1, 10, 300, 2000])))
        elif roll < 0.7:
            pair2.check("PFMERGE", k, *rnd.sample(KEYS, rnd.randint(0, 3)))
        elif roll < 0.9:
            pair2.check("PFCOUNT", *rnd.sample(KEYS, rnd.randint(1, 3)))
        else:
            pair2.check("GET", k)
    _same_values(pair2)
    for k in KEYS:
        pair2.check("PFCOUNT", k)


def _opcode(kind: str, value: int, length: int) -> bytes:
    if kind == "val":
        return bytes((0x80 | (value - 1) << 2 | (length - 1),))
    if kind == "zero":
        return bytes((length - 1,))
    return bytes((0x40 | (length - 1) >> 8, (length - 1) & 0xFF))


_run = st.one_of(
    st.tuples(st.just("val"), st.integers(1, 32), st.integers(1, 4)),
    st.tuples(st.just("zero"), st.just(0), st.integers(1, 64)),
    st.tuples(st.just("xzero"), st.just(0), st.integers(1, 400)),
)


@st.composite
def sparse_layouts(draw):
    """Any opcode sequence covering exactly 16384 registers: VAL runs of every value
    (1..32) and length, ZERO and XZERO runs, not necessarily as Redis would write them."""
    body, left = [], hll.REGISTERS
    for kind, value, length in draw(st.lists(_run, max_size=80)):
        if length > left:
            break
        body.append(_opcode(kind, value, length))
        left -= length
    while left:
        length = min(left, 16384)
        body.append(_opcode("xzero", 0, length))
        left -= length
    return _header() + b"".join(body)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sparse_layouts(), sparse_layouts(), st.integers(0, 300), st.sampled_from([300, 3000]))
def test_any_valid_sparse_layout(pair, sparse_limit, dest, source, added, limit):
    """Sparse values Redis accepts but would not write itself: PFCOUNT, PFADD into
    them (splitting runs of any value) and PFMERGE between them keep Redis's bytes."""
    sparse_limit(limit)
    for key, value in (("d", dest), ("s", source), ("d2", dest)):
        pair.check("SET", key, value)
    pair.check("PFCOUNT", "d")
    pair.check("PFCOUNT", "d", "s")
    pair.check("PFMERGE", "d", "s")
    pair.check("GET", "d")
    pair.check("PFADD", "d2", *_elements(0, added))
    pair.check("GET", "d2")
    pair.check("PFDEBUG", "ENCODING", "d2")


# -- propagation, events, WATCH, keyspace stats ----------------------------------------------------

def test_propagation(propagation):
    sink, c, _ = propagation
    c.call("PFADD", "h", "a")
    c.call("PFADD", "h", "a")             # nothing changed: not propagated
    c.call("PFCOUNT", "h")                # writes the cache: propagated
    c.call("PFCOUNT", "h")                # cached: not propagated
    c.call("PFCOUNT", "h", "nokey")       # several keys never write
    c.call("PFMERGE", "m", "h")
    c.call("PFDEBUG", "TODENSE", "m")     # converted: propagated
    c.call("PFDEBUG", "TODENSE", "m")
    c.call("PFDEBUG", "GETREG", "h")
    c.call("PFDEBUG", "ENCODING", "h")
    assert sink.take() == [
        _as_bytes("PFADD", "h", "a"), _as_bytes("PFCOUNT", "h"), _as_bytes("PFMERGE", "m", "h"),
        _as_bytes("PFDEBUG", "TODENSE", "m"), _as_bytes("PFDEBUG", "GETREG", "h"),
    ]


def _events_and_stats(port):
    c = RawClient(port)
    sub = RawClient(port)
    c.call("CONFIG", "SET", "notify-keyspace-events", "KEAmn")
    sub.call("PSUBSCRIBE", "__key*__:*")
    c.call("CONFIG", "RESETSTAT")
    c.call("PFADD", "h", "a", "b")
    c.call("PFADD", "h", "a")
    c.call("PFCOUNT", "h")
    c.call("PFCOUNT", "h", "missing")
    c.call("PFMERGE", "m", "h", "missing")
    c.call("PFDEBUG", "TODENSE", "m")
    c.call("PUBLISH", "__keyspace@0__:end", "end")
    events = []
    while True:
        frame = sub.read()
        events.append(frame)
        if frame.value[-1].value == b"end":
            break
    stats = [line for line in c.call("INFO", "stats").value.decode().split("\r\n")
             if line.startswith("keyspace_")]
    c.call("CONFIG", "SET", "notify-keyspace-events", "")
    c.close()
    sub.close()
    return events, stats


def test_keyspace_events_and_stats(ports):
    same_on_both(ports, _events_and_stats)


def _error_stats(port):
    c = RawClient(port)
    c.call("CONFIG", "RESETSTAT")
    c.call("SET", "s", "hello")
    c.call("SET", "bad", _header() + b"\x00")
    c.call("RPUSH", "l", "x")
    for args in (["PFADD", "s", "a"], ["PFCOUNT", "bad"], ["PFCOUNT", "l"], ["PFMERGE", "d", "bad"],
                 ["PFDEBUG", "GETREG", "nokey"], ["PFDEBUG", "nosuch", "bad"], ["PFADD"],
                 ["PFADD", "ok", "a"], ["PFCOUNT", "ok"]):
        c.call(*args)
    lines = c.call("INFO", "errorstats").value.decode().split("\r\n")
    stats = [(line.split(":")[0], [f for f in line.split(":", 1)[1].split(",") if "usec" not in f])
             for line in c.call("INFO", "commandstats").value.decode().split("\r\n")
             if line.startswith("cmdstat_pf")]
    c.close()
    return [line for line in lines if line.startswith("errorstat_")], sorted(stats)


def test_error_and_command_stats(ports):
    same_on_both(ports, _error_stats)


def _watch_and_pfcount(port):
    a, b = RawClient(port), RawClient(port)
    a.call("PFADD", "h", "a")
    a.call("WATCH", "h")
    b.call("PFCOUNT", "h")              # writes the cached cardinality: a change
    a.call("MULTI")
    a.call("PING")
    first = a.call("EXEC")
    a.call("WATCH", "h")
    b.call("PFCOUNT", "h")              # cached now: no change
    a.call("MULTI")
    a.call("PING")
    second = a.call("EXEC")
    a.call("WATCH", "h")
    b.call("PFDEBUG", "TODENSE", "h")   # converts in place without telling watchers
    a.call("MULTI")
    a.call("PING")
    third = a.call("EXEC")
    a.close()
    b.close()
    return first, second, third


def test_pfcount_cache_write_touches_watch(ports):
    same_on_both(ports, _watch_and_pfcount)


# -- DUMP / RESTORE and RDB ---------------------------------------------------------------------

def _fill(r: redis.Redis) -> None:
    r.pfadd("sparse", *_elements(0, 100))
    r.pfadd("sparse_cached", *_elements(0, 30))
    r.pfcount("sparse_cached")
    r.pfadd("dense", *_elements(0, 20000))
    r.pfadd("dense_cached", *_elements(7, 5000))
    r.pfcount("dense_cached")
    r.pfadd("empty")


HLL_KEYS = ["sparse", "sparse_cached", "dense", "dense_cached", "empty"]


def _observe(r: redis.Redis) -> list:
    out = []
    for k in HLL_KEYS:
        out.append((k, r.get(k), r.execute_command("PFDEBUG", "ENCODING", k)))
    for k in HLL_KEYS:
        out.append((k, r.pfcount(k), r.get(k)))
    out.append(r.pfcount(*HLL_KEYS))
    r.pfadd("sparse", "more", "elements")
    r.pfadd("dense", "more", "elements")
    out.append((r.get("sparse"), r.get("dense")))
    return out


@pytest.mark.parametrize("direction", ["redis_to_vermilion", "vermilion_to_redis"])
def test_dump_restore_both_ways(pair2, direction):
    ref = redis.Redis(port=pair2.ref.sock.getpeername()[1])
    ver = redis.Redis(port=pair2.ver.sock.getpeername()[1])
    src, dst = (ref, ver) if direction == "redis_to_vermilion" else (ver, ref)
    _fill(src)
    for k in HLL_KEYS:
        payload = src.dump(k)
        dst.restore(k, 0, payload)
        src.restore(k + ":copy", 0, payload)
    for k in HLL_KEYS:
        assert src.get(k) == dst.get(k)
        assert dst.object("encoding", k) == src.object("encoding", k + ":copy"), k
        src.delete(k + ":copy")
    assert _observe(dst) == _observe(src)


@pytest.fixture
def reference_dir(tmp_path):
    require_reference()
    return tmp_path


@pytest.mark.parametrize("writer", ["redis", "vermilion"])
def test_rdb_files_both_ways(reference_dir, writer):
    d = reference_dir
    start = {"redis": redis_server, "vermilion": vermilion}
    reader = "vermilion" if writer == "redis" else "redis"
    first = start[writer](str(d / writer), "--save", "", "--appendonly", "no").start()
    try:
        _fill(first.client())
        first.client().save()
        values = {k: first.client().get(k) for k in HLL_KEYS}
        expected = _observe(first.client())
    finally:
        first.kill()
    os.makedirs(d / reader)
    os.replace(d / writer / "dump.rdb", d / reader / "dump.rdb")
    second = start[reader](str(d / reader), "--save", "", "--appendonly", "no").start()
    try:
        assert {k: second.client().get(k) for k in HLL_KEYS} == values
        assert _observe(second.client()) == expected
    finally:
        second.kill()


@pytest.mark.parametrize("writer", ["redis", "vermilion"])
def test_aof_replayed_by_the_other_server(reference_dir, writer):
    """The AOF holds PFADD/PFMERGE/PFCOUNT/PFDEBUG as propagated; replaying it on the
    other server rebuilds the same bytes, cached cardinalities included."""
    import shutil
    d = reference_dir
    start = {"redis": redis_server, "vermilion": vermilion}
    reader = "vermilion" if writer == "redis" else "redis"
    first = start[writer](str(d / writer), "--save", "", "--appendonly", "yes").start()
    try:
        r = first.client()
        _fill(r)
        r.pfmerge("merged", "sparse", "dense")
        r.execute_command("PFDEBUG", "TODENSE", "sparse_cached")
        values = {k: r.get(k) for k in [*HLL_KEYS, "merged"]}
    finally:
        first.stop()
    shutil.copytree(d / writer / "appendonlydir", d / reader / "appendonlydir")
    second = start[reader](str(d / reader), "--save", "", "--appendonly", "yes").start()
    try:
        assert {k: second.client().get(k) for k in values} == values
    finally:
        second.kill()


# -- the pure helpers ----------------------------------------------------------------------------

def test_patterns_match_redis_registers(pair2):
    """The register index and run length of single elements, read back with GETREG."""
    for element in (b"a", b"hello", b"\x00" * 9, b"x" * 100):
        pair2.ref.call("DEL", "one")
        pair2.ref.call("PFADD", "one", element)
        regs = pair2.ref.call("PFDEBUG", "GETREG", "one").value
        index, run = hll.pattern(element)
        assert [r.value for r in regs] == [run if i == index else 0 for i in range(hll.REGISTERS)]


def _random_registers(seed: int, top: int) -> bytes:
    import random
    rnd = random.Random(seed)
    return bytes(rnd.randint(0, top) for _ in range(hll.REGISTERS))


registers = st.builds(_random_registers, st.integers(0, 2**32), st.sampled_from([0, 1, 5, 33, 63]))


@settings(max_examples=30, deadline=None)
@given(registers, registers)
def test_register_helpers_against_plain_python(a, b):
    dense = hll.pack(a)
    assert len(dense) == hll.DENSE_BYTES
    assert hll.unpack(dense) == a
    value = bytearray(hll.HDR) + dense
    assert [hll.dense_get(value, i) for i in range(0, hll.REGISTERS, 101)] == \
        [a[i] for i in range(0, hll.REGISTERS, 101)]
    assert hll.max_registers(a, b) == bytes(map(max, a, b))
    hist = hll.raw_histogram(a)
    assert hist == [a.count(v) for v in range(64)]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, hll.REGISTERS - 1), st.integers(1, 51)), max_size=200))
def test_dense_set_against_plain_python(updates):
    value = bytearray(hll.HDR + hll.DENSE_BYTES)
    plain = [0] * hll.REGISTERS
    for index, run in updates:
        changed = hll.dense_set(value, index, run)
        assert changed == (run > plain[index])
        plain[index] = max(plain[index], run)
    assert hll.unpack(bytes(value[hll.HDR:])) == bytes(plain)


@settings(max_examples=60, deadline=None)
@given(sparse_layouts(), st.lists(st.tuples(st.integers(0, hll.REGISTERS - 1), st.integers(1, 32)),
                                  max_size=40))
def test_sparse_updates_keep_their_bookkeeping(value, updates):
    """After every update the opcode index agrees with the bytes: the string length
    the promotion test reads, and the first register of every opcode."""
    sparse = hll.Sparse(value)
    for index, run in updates:
        before = hll.Sparse(hll.HDR * b"\0" + sparse.body()).registers()
        result = sparse.set(index, run, 1 << 20)
        assert sparse.size == hll.HDR + len(sparse.body())
        fresh = hll.Sparse(hll.HDR * b"\0" + sparse.body())
        assert fresh.starts == sparse.starts and fresh.ops == sparse.ops
        after = fresh.registers()
        assert result == (1 if run > before[index] else 0)
        assert after == before[:index] + bytes((max(run, before[index]),)) + before[index + 1:]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(
    st.tuples(st.just("add"), st.integers(0, 10**6), st.integers(0, 10)),
    st.tuples(st.just("poke"), st.integers(hll.HDR, hll.DENSE_SIZE - 1), st.integers(0, 255)),
    st.tuples(st.just("count"), st.just(0), st.just(0)),
), max_size=40))
def test_dense_cache_follows_every_change(operations):
    """The unpacked registers kept for a dense value match the value after PFADD-style
    updates and after bytes changed behind its back (SETRANGE on an HLL string)."""
    value = hll.new_sparse()
    hll.add(value, [b"el:%d" % i for i in range(3000)], 3000)
    assert value[4] == hll.DENSE
    for kind, a, b in operations:
        if kind == "add":
            hll.add(value, [b"x%d:%d" % (a, b)], 3000)
        elif kind == "poke":
            value[a] = b
        fresh = hll.unpack(bytes(value[hll.HDR:]))
        assert hll.registers(value) == fresh
        assert hll.count(value) == hll.estimate(hll.raw_histogram(fresh))
