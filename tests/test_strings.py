"""String commands, compared frame by frame with a real redis-server 7.0 (RESP2 and RESP3).

Covers SET (every option, conflict and error), GET, GETSET, GETDEL, GETEX, SETNX,
SETEX, PSETEX, MSET, MSETNX, MGET, APPEND, STRLEN, the INCR family, INCRBYFLOAT
(long double arithmetic and formatting), GETRANGE, SUBSTR, SETRANGE and LCS, and
what the embedded engine propagates for each write (checked against the forms
real Redis writes to its AOF). Bit commands are in test_bits.py.
"""
from __future__ import annotations

import itertools
import random

import pytest

from rawclient import RawClient
from test_keyspace_events import events  # noqa: F401 (fixture)
from vermilion.engine.table import COMMANDS

FAR_S = 4102444800            # 2100-01-01 in seconds: an absolute time that stays ahead
FAR_MS = FAR_S * 1000 + 123


class _Opaque:
    """Stands for a value of a family not written yet (only WRONGTYPE is asked of it)."""


@pytest.fixture
def wrongtype(pair, vermilion_process_server):
    """make(key): give `key` a list value on both servers, for WRONGTYPE checks."""
    server = vermilion_process_server

    def make(key: str = "wrong") -> None:
        assert pair.ref.call("RPUSH", key, "x").kind == ":"
        if "rpush" in COMMANDS:
            assert pair.ver.call("RPUSH", key, "x").kind == ":"
        else:
            server.call_in_loop(lambda: server.engine.dbs[0].add(key.encode(), _Opaque()))

    return make


def ttl_close(pair, key: str) -> None:
    """TTL matches (it is measured in whole seconds right after the write)."""
    ref, ver = pair.ref.call("TTL", key), pair.ver.call("TTL", key)
    assert ref.kind == ver.kind == ":" and abs(ref.value - ver.value) <= 1, (ref, ver)


# -- SET / GET ----------------------------------------------------------------------------------


def test_set_get_basics(pair):
    pair.run("""
    GET nokey
    SET k v
    GET k
    SET k other
    GET k
    SET empty ""
    GET empty
    STRLEN empty
    SET n 12345
    GET n
    SET n -0
    GET n
    SET k "with space"
    GET k
    """)
    pair.check("SET", "bin", b"a\r\nb\x00c\xff")
    pair.check("GET", "bin")
    big = random.Random(1).randbytes(100_000)
    pair.check("SET", "big", big)
    pair.check("GET", "big")
    pair.check("STRLEN", "big")


def test_set_arity_and_case(pair):
    pair.run("""
    SET k
    GET
    GET a b
    set k v
    Set k v
    sEt k v nX
    seT k2 v nx
    GET k2
    """)


def test_set_nx_xx(pair):
    pair.run("""
    SET k v XX
    GET k
    SET k v NX
    SET k w NX
    GET k
    SET k w XX
    GET k
    SET k x NX NX
    SET k y XX XX
    GET k
    """)


def test_set_get_option(pair, wrongtype):
    pair.run("""
    SET k v GET
    SET k w GET
    SET k x get GET
    SET k y GET NX
    GET k
    SET new v NX GET
    GET new
    SET new2 v XX GET
    EXISTS new2
    SET k z XX GET
    GET k
    """)
    wrongtype()
    pair.check("SET", "wrong", "v", "GET")
    pair.check("SET", "wrong", "v", "GET", "NX")
    pair.check("SET", "wrong", "v", "NX")
    pair.check("SET", "wrong", "v", "XX")
    pair.check("GET", "wrong")
    pair.check("SET", "wrong", "v")
    pair.check("GET", "wrong")


def test_set_expiry_options(pair):
    pair.run(f"""
    SET k v EX 100
    TTL k
    SET k v
    TTL k
    SET k v PX 100000
    TTL k
    SET k v EXAT {FAR_S}
    EXPIRETIME k
    PEXPIRETIME k
    SET k v PXAT {FAR_MS}
    PEXPIRETIME k
    SET k w KEEPTTL
    PEXPIRETIME k
    GET k
    SET k w keepttl GET
    PEXPIRETIME k
    SET k x KEEPTTL KEEPTTL XX
    PEXPIRETIME k
    SET k v EX 10 EX 20
    TTL k
    SET k v PX 5000 PX 100000
    TTL k
    SET k v ex 100 nx
    SET k v ex 100 xx get
    SET k v px 100000 nx get
    set k v Px 100000 kEEpttl
    SET k v PXAT 1
    GET k
    EXISTS k
    SET k v EXAT 1 GET
    GET k
    """)


@pytest.mark.parametrize("opts", [
    "NX XX", "XX NX", "NX GET XX", "EX 10 PX 10", "PX 10 EX 10", "EX 10 EXAT 10", "EXAT 10 PXAT 10",
    "PXAT 10 PX 10", "EX 10 KEEPTTL", "KEEPTTL EX 10", "KEEPTTL PXAT 10", "PXAT 10 KEEPTTL", "EX",
    "PX", "EXAT", "PXAT", "NX EX", "PERSIST", "FOO", "EX 10 FOO", "NXX", "GETT", "E", "10",
    "EX 10 20", "KEEPTTL PERSIST",
])
def test_set_syntax_errors(pair, opts):
    pair.check_error("SET", "k", "v", *opts.split())
    pair.check("EXISTS", "k")


@pytest.mark.parametrize("opts", [
    "EX abc", "EX 1.5", "EX 0", "EX -1", "PX 0", "PX -100", "EXAT 0", "EXAT -1", "PXAT 0",
    "PXAT -5", "EX 9223372036854775807", "EX 9223372036854776", "EX 9223372036854775",
    "PX 9223372036854775807", "PX 9223372036854775808", "EX ' 10'", "EX +10", "EX 010",
    "EX ''", "PX 9223372036854775000",
])
def test_set_expire_errors(pair, opts):
    from vermilion.server.parser import split_inline
    pair.check_error("SET", "k", "v", *split_inline(opts.encode()))
    pair.check_error("SET", "k", "v", "NX", "GET", *split_inline(opts.encode()))
    pair.check("EXISTS", "k")


def test_set_far_absolute_expiry(pair):
    # Absolute times are never added to "now", so the largest values are accepted.
    pair.run("""
    SET k v EXAT 9223372036854775
    PEXPIRETIME k
    SET k v PXAT 9223372036854775807
    PEXPIRETIME k
    GET k
    SET k v EXAT 9223372036854776
    """)


def test_set_options_up_to_nul_byte(pair):
    # Redis compares options as C strings: whatever follows a NUL byte is ignored.
    pair.check("SET", "k", "v", b"NX\x00junk")
    pair.check("SET", "k", "v", b"GET\x00", b"XX")
    pair.check("SET", "k", "v", b"EX\x00x", "100")
    ttl_close(pair, "k")
    pair.check("SET", "k", "v", b"N\x00X")


def test_get_and_strlen_wrongtype(pair, wrongtype):
    wrongtype()
    for cmd in ("GET", "STRLEN", "GETDEL"):
        pair.check_error(cmd, "wrong")
    pair.check_error("GETEX", "wrong")
    pair.check_error("GETEX", "wrong", "PERSIST")
    pair.check_error("GETSET", "wrong", "v")
    pair.check_error("APPEND", "wrong", "v")
    pair.check("SETNX", "wrong", "v")
    pair.check("MGET", "wrong", "nokey")


# -- GETSET / GETDEL / GETEX ---------------------------------------------------------------------


def test_getset_getdel(pair):
    pair.run(f"""
    GETSET k v
    GETSET k w
    GET k
    SET k v EXAT {FAR_S}
    GETSET k x
    TTL k
    GETDEL k
    GETDEL k
    EXISTS k
    SET k v PX 100000
    GETDEL k
    TTL k
    GETSET k
    GETDEL
    """)


def test_getex(pair):
    pair.run(f"""
    GETEX nokey
    GETEX nokey EX 10
    GETEX nokey EX abc
    GETEX nokey PXAT 0
    SET k v
    GETEX k
    TTL k
    GETEX k EX 100
    TTL k
    GETEX k PERSIST
    TTL k
    GETEX k PERSIST
    GETEX k PX 100000
    TTL k
    GETEX k EXAT {FAR_S}
    EXPIRETIME k
    GETEX k PXAT {FAR_MS}
    PEXPIRETIME k
    GETEX k ex 10 ex 100
    TTL k
    GETEX k persist persist
    TTL k
    GETEX k EXAT 1
    EXISTS k
    SET k v
    GETEX k PXAT 1000
    GET k
    """)


@pytest.mark.parametrize("opts", [
    "EX", "PX", "NX", "XX", "GET", "KEEPTTL", "PERSIST EX 10", "EX 10 PERSIST", "EX 10 PX 10",
    "PXAT 10 EXAT 10", "FOO", "PERSIST KEEPTTL", "EX 10 EX",
])
def test_getex_syntax_errors(pair, opts):
    pair.check("SET", "k", "v")
    pair.check_error("GETEX", "k", *opts.split())
    pair.check_error("GETEX", "nokey", *opts.split())


@pytest.mark.parametrize("opts", [
    "EX abc", "EX 0", "EX -5", "PX 0", "EXAT 0", "PXAT -1", "EX 9223372036854775807",
    "PX 9223372036854775807", "EX 1.5",
])
def test_getex_expire_errors(pair, opts):
    pair.check("SET", "k", "v")
    pair.check_error("GETEX", "k", *opts.split())
    pair.check("TTL", "k")


# -- SETNX / SETEX / PSETEX ----------------------------------------------------------------------


def test_setnx(pair):
    pair.run(f"""
    SETNX k v
    SETNX k w
    GET k
    SET t v EXAT {FAR_S}
    SETNX t w
    EXPIRETIME t
    """)


def test_setex_psetex(pair):
    pair.run(f"""
    SETEX k 100 v
    GET k
    TTL k
    PSETEX k 100000 w
    GET k
    TTL k
    SETEX k 0 v
    SETEX k -1 v
    SETEX k abc v
    SETEX k 1.5 v
    PSETEX k 0 v
    PSETEX k -10 v
    PSETEX k 9223372036854775807 v
    SETEX k 9223372036854775807 v
    SETEX k 9223372036854775 v
    SETEX k 100
    PSETEX k
    GET k
    """)


def test_setex_replaces_other_types(pair, wrongtype):
    wrongtype()
    pair.check("SETEX", "wrong", "100", "v")
    pair.check("GET", "wrong")
    wrongtype("w2")
    pair.check("PSETEX", "w2", "100000", "v")
    pair.check("GET", "w2")


# -- MSET / MSETNX / MGET ------------------------------------------------------------------------


def test_mset_mget(pair):
    pair.run(f"""
    MSET a 1 b 2 c 3
    MGET a b c nokey a
    MSET a 1 b
    MSET a
    MSETNX a 1 b
    MSET a x a y
    GET a
    SET t v EXAT {FAR_S}
    MSET t w
    TTL t
    MSETNX a 1 new 2
    EXISTS new
    MSETNX new 1 new2 2
    MGET new new2
    MSETNX dup 1 dup 2
    GET dup
    MGET
    """)


def test_mget_skips_other_types(pair, wrongtype):
    wrongtype()
    pair.check("SET", "s", "v")
    pair.check("MGET", "s", "wrong", "nokey")
    pair.check("MSETNX", "wrong", "v")
    pair.check("MSET", "wrong", "v")
    pair.check("MGET", "wrong")


# -- APPEND / STRLEN ---------------------------------------------------------------------------------


def test_append_strlen(pair):
    pair.run(f"""
    APPEND k Hello
    APPEND k " World"
    GET k
    STRLEN k
    STRLEN nokey
    SET n 10
    APPEND n 5
    GET n
    INCR n
    APPEND n ""
    GET n
    APPEND e ""
    EXISTS e
    GET e
    SET t v EXAT {FAR_S}
    APPEND t w
    EXPIRETIME t
    """)


def test_object_encoding_after_writes(pair):
    pair.run("""
    SET k 123
    OBJECT ENCODING k
    SET k abc
    OBJECT ENCODING k
    APPEND k d
    OBJECT ENCODING k
    SET k 123
    APPEND k 4
    OBJECT ENCODING k
    SETRANGE r 0 x
    OBJECT ENCODING r
    SET r2 abc
    SETRANGE r2 1 x
    OBJECT ENCODING r2
    INCR c
    OBJECT ENCODING c
    SET c2 abc
    APPEND new 5
    OBJECT ENCODING new
    INCRBYFLOAT f 1.5
    OBJECT ENCODING f
    """)


# -- INCR / DECR / INCRBY / DECRBY -----------------------------------------------------------------


def test_incr_decr(pair):
    pair.run(f"""
    INCR n
    INCR n
    DECR n
    DECR m
    INCRBY n 100
    INCRBY n -200
    DECRBY n 50
    DECRBY n -50
    GET n
    SET n 9223372036854775806
    INCR n
    INCR n
    GET n
    SET n -9223372036854775807
    DECR n
    DECR n
    INCRBY n -1
    DECRBY n 1
    SET n 0
    INCRBY n 9223372036854775807
    INCRBY n 1
    SET n -1
    INCRBY n -9223372036854775808
    INCRBY n -1
    SET n 5
    DECRBY n -9223372036854775808
    DECRBY nokey -9223372036854775808
    DECRBY n 9223372036854775807
    DECRBY n 9223372036854775807
    SET t 1 EXAT {FAR_S}
    INCR t
    EXPIRETIME t
    INCRBY t 5
    DECRBY t 5
    DECR t
    EXPIRETIME t
    """)


@pytest.mark.parametrize("stored", [
    "abc", "", " 1", "1 ", "+1", "01", "-0", "00", "1.0", "1e3", "0x10", "9223372036854775808",
    "-9223372036854775809", "99999999999999999999", "1_000", "١", "-", "12345678901234567890123",
])
def test_incr_refuses_non_integers(pair, stored):
    pair.check("SET", "k", stored)
    pair.check_error("INCR", "k")
    pair.check_error("DECR", "k")
    pair.check_error("INCRBY", "k", "1")
    pair.check("SET", "n", "1")
    pair.check_error("INCRBY", "n", stored)
    pair.check_error("DECRBY", "n", stored)
    pair.check("GET", "n")


def test_incr_wrongtype_and_order(pair, wrongtype):
    wrongtype()
    pair.run("""
    INCR wrong
    DECR wrong
    INCRBY wrong 1
    INCRBY wrong x
    DECRBY wrong -9223372036854775808
    DECRBY wrong x
    INCRBYFLOAT wrong 1
    INCRBYFLOAT wrong x
    INCR
    INCRBY n
    """)


# -- INCRBYFLOAT ----------------------------------------------------------------------------------


def test_incrbyfloat_repeated_tenths(pair):
    for _ in range(25):
        pair.check("INCRBYFLOAT", "f", "0.1")
    for _ in range(25):
        pair.check("INCRBYFLOAT", "f", "-0.1")
    for _ in range(10):
        pair.check("INCRBYFLOAT", "g", "0.3333333333333333333")
    pair.check("GET", "f")


@pytest.mark.parametrize("start,incr", [
    ("3.0e3", "0"), ("0", "3.0e3"), ("10.50", "0.1"), ("5.0e3", "2.0e2"), ("1.5", "1.12345678901234567890"),
    ("0", "1e30"), ("1", "1e400"), ("1e400", "-1e400"), ("0", "-1e4000"), ("0", "1e-4940"), ("0", "0x1p-3"),
    ("0", "0X1.8P+1"), ("0", "0x.8"), ("0", "+1"), ("0", ".5"), ("0", "5."), ("0", "-0"),
    ("-0", "-0"), ("0", "1.000000000000000000001"), ("1", "2e-17"), ("1", "7e-18"), ("1", "5e-18"),
    ("0", "0.000003814697265625"), ("0", "-0.000003814697265625"), ("0", "1e-18"), ("0", "-1e-18"),
    ("123", "0"), ("9223372036854775807", "1"), ("-9223372036854775808", "-1"),
    ("18446744073709551615", "1"), ("0", "123456789012345678901234567890"), ("0", "1e308"),
    ("1e308", "1e308"), ("0", "1.18973149535723176502e+4932"), ("0", "3.6e-4951"),
    ("0", "00012.5000"), ("0", "1E3"), ("0", "0e99999999999999999999"), ("0", "1e-99999999999999999"),
    ("0.1", "0.2"), ("100", "-100.00000000000000001"), ("0", "1e0"), ("0", "1e+00"), ("0", "1e-0"),
    ("0", "0x1p0"), ("0", "0x1P-0"), ("0", "2.5E-000001"), ("0", "0x10"), ("0", "0x0p99999999999"),
])
def test_incrbyfloat_values(pair, start, incr):
    pair.check("SET", "f", start)
    pair.check("INCRBYFLOAT", "f", incr)
    pair.check("GET", "f")
    pair.check("INCRBYFLOAT", "missing", incr)


@pytest.mark.parametrize("bad", [
    "abc", "", " 1", "1 ", "1e", "1e+", "0x", "0xg", "nan", "NaN", "-nan", "1_0", "1,5", "--1",
    "1e5000", "-1e5000", "0x1p99999", "1e-5000", "infx", "in", "1.2.3", "0x1p", "1..2", "e5",
    "\x001", "1\x00",
])
def test_incrbyfloat_invalid(pair, bad):
    pair.check("SET", "f", "1")
    pair.check_error("INCRBYFLOAT", "f", bad)
    pair.check("SET", "s", bad)
    pair.check_error("INCRBYFLOAT", "s", "1")
    pair.check("GET", "f")


def test_incrbyfloat_infinity(pair):
    pair.run("""
    INCRBYFLOAT f inf
    INCRBYFLOAT f -inf
    INCRBYFLOAT f infinity
    INCRBYFLOAT f +INF
    INCRBYFLOAT f -Infinity
    SET w inf
    INCRBYFLOAT w 1
    INCRBYFLOAT w -inf
    SET big 1.18973149535723176502e+4932
    INCRBYFLOAT big 1.18973149535723176502e+4932
    INCRBYFLOAT big -1.18973149535723176502e+4932
    EXISTS f
    """)


def test_incrbyfloat_keeps_ttl(pair):
    pair.run(f"""
    SET f 1 EXAT {FAR_S}
    INCRBYFLOAT f 1.5
    EXPIRETIME f
    INCRBYFLOAT f -0.5
    GET f
    INCR f
    EXPIRETIME f
    """)


def test_incrbyfloat_long_string_refused(pair):
    pair.check("SET", "f", "1")
    pair.check_error("INCRBYFLOAT", "f", "1" + "0" * 5200)
    pair.check("INCRBYFLOAT", "f", "0." + "0" * 5000 + "1")
    pair.check("INCRBYFLOAT", "f", "1" + "0" * 4000)


# -- GETRANGE / SUBSTR / SETRANGE -------------------------------------------------------------------


def test_getrange_matrix(pair):
    pair.check("SET", "s", "Hello World")
    pair.check("SET", "n", "1234567")
    pair.check("SET", "e", "")
    pair.check("APPEND", "raw", "abcdef")
    points = [-100, -12, -11, -10, -3, -1, 0, 1, 2, 5, 10, 11, 12, 100,
              9223372036854775807, -9223372036854775808]
    for key in ("s", "n", "e", "raw", "nokey"):
        for start, end in itertools.product(points, repeat=2):
            pair.check("GETRANGE", key, start, end)
    pair.check("SUBSTR", "s", 0, 4)
    pair.check("SUBSTR", "s", -5, -1)


def test_getrange_errors(pair, wrongtype):
    wrongtype()
    pair.run("""
    SET s abc
    GETRANGE s a 1
    GETRANGE s 0 b
    GETRANGE s 1.5 2
    GETRANGE s 9223372036854775808 1
    GETRANGE nokey a b
    GETRANGE wrong 0 1
    GETRANGE wrong x 1
    SUBSTR wrong 0 1
    SUBSTR s x 1
    GETRANGE s 0
    SUBSTR s 0 1 2
    """)


def test_setrange(pair):
    pair.run(f"""
    SETRANGE k 0 Hello
    SETRANGE k 6 World
    GET k
    SETRANGE k 0 J
    GET k
    SETRANGE k 20 !
    GET k
    SETRANGE k 1 ""
    SETRANGE nokey 0 ""
    SETRANGE nokey 100 ""
    EXISTS nokey
    SETRANGE new 3 abc
    GET new
    SET n 12345
    SETRANGE n 2 xx
    GET n
    SET t v EXAT {FAR_S}
    SETRANGE t 0 w
    EXPIRETIME t
    SETRANGE k -1 x
    SETRANGE k abc x
    SETRANGE k 9223372036854775808 x
    SETRANGE k 536870912 x
    SETRANGE k 536870911 xx
    SETRANGE k 9223372036854775807 x
    SETRANGE nokey 536870912 x
    SETRANGE nokey 536870912 ""
    SETRANGE nokey -1 ""
    EXISTS nokey
    SETRANGE k 1
    """)


def test_setrange_wrongtype(pair, wrongtype):
    wrongtype()
    pair.check_error("SETRANGE", "wrong", "0", "x")
    pair.check_error("SETRANGE", "wrong", "0", "")
    pair.check_error("SETRANGE", "wrong", "-1", "x")
    pair.check_error("SETRANGE", "wrong", "536870912", "x")


# -- LCS -------------------------------------------------------------------------------------------


def test_lcs_documented_examples(pair):
    pair.run("""
    MSET key1 ohmytext key2 mynewtext
    LCS key1 key2
    LCS key1 key2 LEN
    LCS key1 key2 IDX
    LCS key1 key2 IDX MINMATCHLEN 4
    LCS key1 key2 IDX MINMATCHLEN 4 WITHMATCHLEN
    LCS key1 key2 IDX WITHMATCHLEN
    LCS key1 key2 idx minmatchlen 0 withmatchlen
    LCS key1 key2 IDX MINMATCHLEN -5
    LCS key1 key2 IDX MINMATCHLEN 3 MINMATCHLEN 5
    LCS key1 key2 WITHMATCHLEN
    LCS key1 key2 MINMATCHLEN 4
    LCS key1 key2 LEN LEN
    LCS key2 key1 IDX WITHMATCHLEN
    LCS key1 nokey
    LCS nokey key1 IDX
    LCS nokey nokey2 LEN
    LCS key1 key1 IDX WITHMATCHLEN
    """)


def test_lcs_errors(pair, wrongtype):
    wrongtype()
    pair.run("""
    MSET a abc b abd
    LCS a b IDX LEN
    LCS a b LEN IDX
    LCS a b FOO
    LCS a b MINMATCHLEN
    LCS a b MINMATCHLEN x
    LCS a b MINMATCHLEN 1.5
    LCS a b IDX MINMATCHLEN 9223372036854775808
    LCS a wrong
    LCS wrong a IDX LEN
    LCS wrong nokey FOO
    LCS a
    """)


def test_lcs_random_pairs(pair):
    rng = random.Random(7)
    for _ in range(40):
        a = "".join(rng.choice("abcd") for _ in range(rng.randint(0, 30)))
        b = "".join(rng.choice("abcde") for _ in range(rng.randint(0, 30)))
        pair.check("MSET", "a", a, "b", b)
        pair.check("LCS", "a", "b")
        pair.check("LCS", "a", "b", "LEN")
        pair.check("LCS", "a", "b", "IDX", "WITHMATCHLEN")
        pair.check("LCS", "a", "b", "IDX", "MINMATCHLEN", rng.randint(0, 4))


def test_lcs_larger_strings(pair):
    rng = random.Random(11)
    a = bytes(rng.choice(b"ACGT") for _ in range(2000))
    b = bytes(rng.choice(b"ACGT") for _ in range(1500))
    pair.check("MSET", "a", a, "b", b)
    pair.check("LCS", "a", "b", "LEN")
    pair.check("LCS", "a", "b")
    pair.check("LCS", "a", "b", "IDX", "MINMATCHLEN", "6", "WITHMATCHLEN")
    binary = bytes(range(256)) * 3
    pair.check("MSET", "x", binary, "y", binary[::-1])
    pair.check("LCS", "x", "y", "IDX")


# -- propagation (what the AOF and replicas receive) ------------------------------------------------


class Sink:
    """Collects what the embedded engine propagates while it is installed."""

    def __init__(self, server):
        self.server = server
        self.seen: list = []

    def __call__(self, db_index, argv):
        self.seen.append([bytes(a) for a in argv])

    def __enter__(self):
        self.server.call_in_loop(self.server.engine.sinks.append, self)
        return self

    def __exit__(self, *exc):
        self.server.call_in_loop(self.server.engine.sinks.remove, self)

    def run(self, client: RawClient, *args) -> None:
        client.call(*args)

    def take(self) -> list:
        seen, self.seen = self.server.call_in_loop(lambda: list(self.seen)), []
        return seen


def _as_bytes(*args):
    return [a if isinstance(a, bytes) else str(a).encode() for a in args]


@pytest.fixture
def propagation(vermilion_process_server):
    server = vermilion_process_server
    client = RawClient(server.port)
    client.call("FLUSHALL")
    sink = Sink(server)
    with sink:
        yield sink, client, server
    client.call("FLUSHALL")
    client.close()


def test_propagated_set_forms(propagation):
    sink, c, server = propagation
    now = server.call_in_loop(server.engine.clock.ms)
    c.call("SET", "k", "v")
    c.call("set", "k", "v", "NX")             # refused: nothing propagated
    c.call("set", "k", "v", "XX", "GET", "get")
    c.call("SET", "k", "v", "PXAT", "9000000000000")
    c.call("set", "k", "v", "exat", "9000000000", "GET", "XX")
    c.call("SET", "k", "v", "KEEPTTL", "GET")
    seen = sink.take()
    assert seen[:2] == [_as_bytes("SET", "k", "v"), _as_bytes("set", "k", "v", "XX")]
    assert seen[2] == _as_bytes("SET", "k", "v", "PXAT", "9000000000000")
    assert seen[3] == _as_bytes("SET", "k", "v", "PXAT", "9000000000000")
    assert seen[4] == _as_bytes("SET", "k", "v", "KEEPTTL")
    assert len(seen) == 5
    c.call("SET", "k", "v", "EX", "100", "NX")   # refused
    c.call("SET", "k", "v", "EX", "100", "XX")
    c.call("SET", "k", "v", "PX", "5000", "GET")
    c.call("SETEX", "k", "100", "v")
    c.call("PSETEX", "k", "5000", "v")
    seen = sink.take()
    assert len(seen) == 4
    for argv, delta in zip(seen, (100_000, 5000, 100_000, 5000)):
        assert argv[:4] == _as_bytes("SET", "k", "v", "PXAT")
        assert abs(int(argv[4]) - (now + delta)) < 5000, argv


def test_propagated_get_family(propagation):
    sink, c, server = propagation
    c.call("SET", "k", "v")
    c.call("GETSET", "k", "w")
    c.call("GETDEL", "k")
    c.call("GETDEL", "k")                     # missing: nothing
    c.call("SET", "k", "v")
    c.call("GETEX", "k")                      # no option: nothing
    c.call("GETEX", "k", "PXAT", "9000000000000")
    c.call("GETEX", "k", "EXAT", "9000000000")
    c.call("GETEX", "k", "PERSIST")
    c.call("GETEX", "k", "PERSIST")           # no TTL left: nothing
    c.call("GETEX", "k", "EX", "100")
    c.call("GETEX", "k", "EXAT", "1")         # in the past: the key is deleted
    seen = sink.take()
    assert seen[:8] == [
        _as_bytes("SET", "k", "v"), _as_bytes("SET", "k", "w"), _as_bytes("DEL", "k"),
        _as_bytes("SET", "k", "v"), _as_bytes("PEXPIREAT", "k", "9000000000000"),
        _as_bytes("PEXPIREAT", "k", "9000000000000"), _as_bytes("PERSIST", "k"), seen[7],
    ]
    assert seen[7][:2] == _as_bytes("PEXPIREAT", "k")
    assert seen[8:] == [_as_bytes("DEL", "k")]


def test_propagated_counters_and_ranges(propagation):
    sink, c, server = propagation
    c.call("INCR", "n")
    c.call("INCRBY", "n", "5")
    c.call("INCRBYFLOAT", "n", "0.1")
    c.call("INCRBYFLOAT", "n", "abc")         # error: nothing
    c.call("SETNX", "n", "1")                 # exists: nothing
    c.call("SETNX", "m", "1")
    c.call("MSET", "a", "1", "b", "2")
    c.call("MSETNX", "a", "1", "c", "2")      # refused: nothing
    c.call("APPEND", "a", "x")
    c.call("SETRANGE", "a", "0", "")          # no change: nothing
    c.call("SETRANGE", "a", "0", "y")
    c.call("GET", "a")
    c.call("LCS", "a", "b")
    seen = sink.take()
    assert seen == [
        _as_bytes("INCR", "n"), _as_bytes("INCRBY", "n", "5"),
        _as_bytes("SET", "n", "6.1", "KEEPTTL"), _as_bytes("SETNX", "m", "1"),
        _as_bytes("MSET", "a", "1", "b", "2"), _as_bytes("APPEND", "a", "x"),
        _as_bytes("SETRANGE", "a", "0", "y"),
    ]


def test_lazy_expiry_propagates_del(propagation):
    sink, c, server = propagation
    c.call("SET", "k", "v", "PXAT", "1")
    assert c.call("GET", "k").value is None
    assert sink.take() == [_as_bytes("SET", "k", "v", "PXAT", "1"), _as_bytes("DEL", "k")]


# -- replies are snapshots; keyspace events --------------------------------------------------------


def test_replies_inside_exec_are_snapshots(pair):
    # A bytearray value changed later in the same transaction must not change an
    # earlier reply (Redis copies the value into the reply buffer at once).
    pair.run("""
    SET k abc
    APPEND k d
    MULTI
    GET k
    APPEND k e
    GETRANGE k 0 -1
    MGET k
    SETRANGE k 0 X
    GETSET k new
    SETBIT k 0 1
    GETDEL k
    EXEC
    """)


def test_string_keyspace_events(events):
    events.flags("KEA")
    for args in [
        ("SET", "a", "1"), ("SET", "a", "1", "NX"), ("SET", "a", "2", "XX", "GET"),
        ("SET", "b", "1", "EX", "100"), ("SET", "b", "1", "KEEPTTL"), ("SETEX", "c", "100", "v"),
        ("PSETEX", "c", "100000", "v"), ("SETNX", "c", "v"), ("SETNX", "d", "v"),
        ("GETSET", "d", "w"), ("GETDEL", "d"), ("GETDEL", "d"), ("GETEX", "a"),
        ("GETEX", "a", "EX", "100"), ("GETEX", "a", "PERSIST"), ("GETEX", "a", "PERSIST"),
        ("GETEX", "a", "PXAT", str(FAR_MS)), ("GETEX", "a", "EXAT", "1"),
        ("MSET", "m1", "1", "m2", "2"), ("MSETNX", "m1", "1", "m3", "3"), ("MSETNX", "m4", "1", "m5", "2"),
        ("APPEND", "m1", "x"), ("SETRANGE", "m1", "0", ""), ("SETRANGE", "m1", "5", "y"),
        ("INCR", "n"), ("DECR", "n"), ("INCRBY", "n", "5"), ("DECRBY", "n", "5"),
        ("INCRBY", "n", "x"), ("INCRBYFLOAT", "n", "1.5"), ("INCRBYFLOAT", "n", "inf"),
        ("SETBIT", "bits", "1", "0"), ("SETBIT", "bits", "1", "0"), ("SETBIT", "bits", "1", "1"),
        ("SETBIT", "bits", "30", "0"),
        ("BITFIELD", "bf", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "9"),
        ("BITFIELD", "bf", "SET", "u8", "0", "0"),
        ("BITFIELD", "bf", "SET", "u8", "0", "7", "INCRBY", "u8", "0", "1"),
        ("BITFIELD", "bf", "GET", "u8", "0"), ("BITOP", "NOT", "dest", "bf"),
        ("BITOP", "AND", "dest", "nokey"),
        ("BITOP", "AND", "dest", "nokey"), ("SET", "e", "v", "PXAT", "1"), ("GET", "e"),
        ("LCS", "m1", "m2"), ("GETRANGE", "m1", "0", "1"), ("BITCOUNT", "bits"),
    ]:
        events.run(*args)
    events.collect()


def test_limits_follow_proto_max_bulk_len(pair):
    pair.check("CONFIG", "SET", "proto-max-bulk-len", "1mb")
    try:
        pair.run("""
        SETRANGE k 1048575 x
        STRLEN k
        SETRANGE k 1048576 x
        SETRANGE k 1048575 xy
        APPEND k y
        SET a abc
        SETRANGE a 1048574 xyz
        SETBIT b 8388607 1
        SETBIT b 8388608 1
        GETBIT b 8388608
        BITFIELD b GET u8 8388600
        BITFIELD b GET u8 8388608
        BITFIELD b SET u8 #1048575 1
        BITFIELD b SET u8 #1048576 1
        """)
        pair.check("MSET", "x", "a" * 500, "y", "b" * 500)
        pair.check("LCS", "x", "y", "LEN")
        pair.check("MSET", "x", "a" * 600, "y", "b" * 600)
        pair.check("LCS", "x", "y", "LEN")
        pair.check("LCS", "x", "nokey")
        pair.check("LCS", "y", "y", "IDX", "FOO")
    finally:
        pair.check("CONFIG", "SET", "proto-max-bulk-len", "512mb")


def test_random_option_lists(pair):
    # Seeded random token soups for SET and GETEX: every conflict, repeat and
    # misplaced value must fail (or succeed) exactly as in Redis.
    rng = random.Random(13)
    tokens = ["NX", "XX", "GET", "KEEPTTL", "PERSIST", "EX", "PX", "EXAT", "PXAT", "ex", "pXaT",
              "100", "0", "-1", str(FAR_S), str(FAR_MS), "1", "x", "get"]
    for _ in range(150):
        opts = [rng.choice(tokens) for _ in range(rng.randint(0, 5))]
        for i in range(1, len(opts)):
            if opts[i - 1].upper() in ("EX", "PX") and opts[i] in ("1", "100"):
                opts[i] = "100000"      # a relative expiry must not elapse mid-test
        pair.check("SET", "k", "v", *opts)
        pair.check("GET", "k")
        pair.check("GETEX", "k", *opts)
        pair.check("EXISTS", "k")
        pair.check("SET", "k", "v")


def test_lcs_table_matches_the_dynamic_programming_table():
    # Unit check (no server): every cell of the bit-parallel table equals the
    # uint32 table Redis fills, for random strings over small alphabets.
    from vermilion.types.lcs import LcsTable
    rng = random.Random(17)
    for _ in range(200):
        a = bytes(rng.choice(b"abc") for _ in range(rng.randint(0, 14)))
        b = bytes(rng.choice(b"abcd\x00\xff") for _ in range(rng.randint(0, 14)))
        table = LcsTable(a, b)
        dp = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i in range(1, len(a) + 1):
            for j in range(1, len(b) + 1):
                dp[i][j] = dp[i - 1][j - 1] + 1 if a[i - 1] == b[j - 1] else \
                    max(dp[i - 1][j], dp[i][j - 1])
        assert all(table.length(i, j) == dp[i][j]
                   for i in range(len(a) + 1) for j in range(len(b) + 1)), (a, b)
