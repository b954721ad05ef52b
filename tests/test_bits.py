"""Bitmap commands, compared frame by frame with a real redis-server 7.0 (RESP2 and RESP3).

SETBIT, GETBIT, BITCOUNT and BITPOS (BYTE and BIT ranges), BITOP AND/OR/XOR/NOT,
BITFIELD (GET/SET/INCRBY, every OVERFLOW policy, i1..i64 and u1..u63, ``#``
offsets) and BITFIELD_RO, including every error text and the order Redis checks
things in; plus what the embedded engine propagates for them.
"""
from __future__ import annotations

import itertools
import random

import pytest

from test_strings import FAR_S, _as_bytes, propagation, wrongtype  # noqa: F401 (fixtures)

# -- SETBIT / GETBIT ------------------------------------------------------------------------------


def test_setbit_getbit(pair):
    pair.run(f"""
    SETBIT k 7 1
    GET k
    SETBIT k 7 1
    SETBIT k 7 0
    GETBIT k 7
    SETBIT k 0 1
    GET k
    SETBIT k 100 1
    STRLEN k
    GETBIT k 100
    GETBIT k 99
    GETBIT k 100000
    GETBIT nokey 0
    GETBIT nokey 99999
    SETBIT z 20 0
    GET z
    SET n 5
    GETBIT n 5
    GETBIT n 7
    SETBIT n 6 1
    GET n
    SET t a EXAT {FAR_S}
    SETBIT t 0 1
    EXPIRETIME t
    SETBIT big 8000000 0
    STRLEN big
    """)


@pytest.mark.parametrize("args", [
    "k -1 1", "k abc 1", "k 4294967296 1", "k #1 1", "k 1.5 1", "k 9223372036854775808 0",
    "k 0 2", "k 0 -1", "k 0 a", "k 0 ''", "k 0 1.0", "k 0 10", "k -1 5",
])
def test_setbit_errors(pair, args):
    from vermilion.server.parser import split_inline
    pair.check_error("SETBIT", *split_inline(args.encode()))
    pair.check("EXISTS", "k")


def test_getbit_errors(pair, wrongtype):
    wrongtype()
    pair.run("""
    GETBIT k -1
    GETBIT k abc
    GETBIT k 4294967296
    GETBIT k #3
    GETBIT wrong 0
    GETBIT wrong -1
    SETBIT wrong 0 1
    SETBIT wrong 0 2
    SETBIT wrong x 1
    """)


# -- BITCOUNT --------------------------------------------------------------------------------------


def test_bitcount_basics(pair):
    pair.run("""
    SET k foobar
    BITCOUNT k
    BITCOUNT k 0 0
    BITCOUNT k 1 1
    BITCOUNT k 1 1 BYTE
    BITCOUNT k 5 30 BIT
    BITCOUNT k 5 30 bit
    BITCOUNT nokey
    BITCOUNT nokey 0 5
    BITCOUNT nokey 0
    BITCOUNT nokey a b c d
    SET e ""
    BITCOUNT e
    BITCOUNT e 0 -1
    BITCOUNT e 0 -1 BIT
    SET n 12345
    BITCOUNT n
    BITCOUNT n 1 2
    """)


def test_bitcount_errors(pair, wrongtype):
    wrongtype()
    pair.run("""
    SET k foobar
    BITCOUNT k 0
    BITCOUNT k 0 1 2
    BITCOUNT k 0 1 BIT extra
    BITCOUNT k a 1
    BITCOUNT k 0 b
    BITCOUNT k 0 1 bits
    BITCOUNT k -1 -2 bits
    BITCOUNT k 0 9223372036854775808
    BITCOUNT wrong
    BITCOUNT wrong 0
    BITCOUNT wrong a b
    """)


def test_bitcount_ranges(pair):
    pair.check("SET", "k", b"\xff\x0f\xf0\x01\x80\xaa\x55")
    points = [-100, -57, -56, -9, -8, -2, -1, 0, 1, 3, 6, 7, 8, 13, 55, 56, 100]
    for start, end in itertools.product(points, repeat=2):
        pair.check("BITCOUNT", "k", start, end)
        pair.check("BITCOUNT", "k", start, end, "BIT")


# -- BITPOS ----------------------------------------------------------------------------------------


def test_bitpos_basics(pair):
    pair.run(r"""
    SET k "\xff\xf0\x00"
    BITPOS k 0
    BITPOS k 1
    SET k "\x00\xff\xf0"
    BITPOS k 1 0
    BITPOS k 1 2
    BITPOS k 1 2 -1 BYTE
    BITPOS k 1 7 15 BIT
    SET k "\x00\x00\x00"
    BITPOS k 1
    BITPOS k 0
    SET k "\xff\xff\xff"
    BITPOS k 0
    BITPOS k 0 0
    BITPOS k 0 0 -1
    BITPOS k 0 0 -1 BIT
    BITPOS k 1 0 -1 bit
    BITPOS nokey 0
    BITPOS nokey 1
    BITPOS nokey 0 5 10 BIT
    SET e ""
    BITPOS e 0
    BITPOS e 1
    BITPOS e 0 0
    BITPOS e 0 0 -1 BIT
    SET n 12
    BITPOS n 1
    BITPOS n 0 1
    """)


def test_bitpos_errors(pair, wrongtype):
    wrongtype()
    pair.run("""
    SET k foobar
    BITPOS k 2
    BITPOS k -1
    BITPOS k x
    BITPOS nokey 2
    BITPOS k 1 a
    BITPOS k 1 0 a
    BITPOS k 1 0 -1 bitx
    BITPOS k 1 0 -1 BIT x
    BITPOS k 0 -1 -2 bitx
    BITPOS nokey 1 a
    BITPOS nokey 0 a b c d e
    BITPOS wrong 1
    BITPOS wrong 2
    BITPOS wrong 1 a
    BITPOS k
    """)


@pytest.mark.parametrize("value", [
    b"\xff\xf0\x00", b"\x00\xff\xf0", b"\x00\x00\x00", b"\xff\xff\xff", b"\x01", b"\x80\x00\x01",
    b"\xfe\xff\x7f", b"\x00", b"\xff",
])
def test_bitpos_ranges(pair, value):
    pair.check("SET", "k", value)
    bits = len(value) * 8
    points = sorted({-bits - 5, -bits, -bits + 1, -9, -8, -2, -1, 0, 1, 2, 3, 7, 8, 9, 15, 16,
                     bits - 1, bits, bits + 3})
    for bit in (0, 1):
        pair.check("BITPOS", "k", bit)
        for start in points:
            pair.check("BITPOS", "k", bit, start)
            for end in points:
                pair.check("BITPOS", "k", bit, start, end)
                pair.check("BITPOS", "k", bit, start, end, "BIT")


def test_bitpos_random(pair):
    rng = random.Random(5)
    for _ in range(60):
        size = rng.randint(1, 40)
        value = bytes(rng.choice((0, 0xFF, rng.randrange(256))) for _ in range(size))
        pair.check("SET", "k", value)
        for _ in range(6):
            bit = rng.randint(0, 1)
            start = rng.randint(-size * 9, size * 9)
            end = rng.randint(-size * 9, size * 9)
            unit = rng.choice(["BYTE", "BIT"])
            pair.check("BITPOS", "k", bit, start, end, unit)
            pair.check("BITCOUNT", "k", start, end, unit)
            pair.check("BITPOS", "k", bit, start)


# -- BITOP -----------------------------------------------------------------------------------------


def test_bitop(pair):
    pair.run(r"""
    SET a "\xff\x0f\xaa"
    SET b "\x0f\xf0"
    SET c "\x01"
    BITOP AND dest a b
    GET dest
    BITOP OR dest a b c
    GET dest
    BITOP XOR dest a b c
    GET dest
    BITOP NOT dest a
    GET dest
    BITOP and dest a nokey
    GET dest
    BITOP or dest nokey a
    GET dest
    BITOP NOT dest nokey
    EXISTS dest
    SET dest x
    BITOP AND dest nokey nokey2
    EXISTS dest
    BITOP XOR a a a
    GET a
    SET e ""
    BITOP OR dest e e
    EXISTS dest
    SET n 123
    BITOP NOT dest n
    GET dest
    BITOP AND dest n a
    STRLEN dest
    """)


def test_bitop_errors(pair, wrongtype):
    wrongtype()
    pair.run(f"""
    SET a x
    BITOP NAND dest a
    BITOP NOT dest a a
    BITOP NOT dest
    BITOP AND dest
    BITOP AND dest a wrong
    BITOP AND dest wrong a
    BITOP NOT dest wrong
    BITOP FOO dest wrong
    SET t v EXAT {FAR_S}
    BITOP OR t a
    TTL t
    BITOP AND wrong a
    GET wrong
    """)


def test_bitop_destination_of_other_type_is_deleted(pair, wrongtype):
    wrongtype()
    pair.check("BITOP", "AND", "wrong", "nokey")
    pair.check("EXISTS", "wrong")


def test_bitop_option_up_to_nul_byte(pair):
    pair.check("SET", "a", "x")
    pair.check("BITOP", b"OR\x00junk", "d", "a")
    pair.check("GET", "d")


def test_bitop_random(pair):
    rng = random.Random(3)
    for _ in range(30):
        keys = []
        for i in range(rng.randint(1, 4)):
            pair.check("SET", f"s{i}", rng.randbytes(rng.randint(0, 20)))
            keys.append(f"s{i}")
        for op in ("AND", "OR", "XOR"):
            pair.check("BITOP", op, "d", *keys)
            pair.check("GET", "d")
        pair.check("BITOP", "NOT", "d", keys[0])
        pair.check("GET", "d")


# -- BITFIELD ---------------------------------------------------------------------------------------


def test_bitfield_basics(pair):
    pair.run("""
    BITFIELD k SET i8 0 100 GET i8 0
    BITFIELD k INCRBY i8 0 100 GET u8 0
    GET k
    BITFIELD k SET u4 #1 15 GET u4 #1 GET u4 4 GET i4 4
    BITFIELD k GET u8 0 GET u8 8 GET u8 16 GET u16 100
    BITFIELD nokey GET u8 0 GET i64 0 GET u63 1000
    EXISTS nokey
    BITFIELD k
    BITFIELD nokey
    EXISTS nokey
    BITFIELD k set i5 3 -3 get u5 3 incrby u2 102 1
    BITFIELD k GET i1 0 GET u1 0 SET i1 1 -1 SET u1 2 1
    GET k
    SET n 12
    BITFIELD n GET u8 0 GET u16 0
    BITFIELD n SET u8 0 65
    GET n
    """)


def test_bitfield_overflow(pair):
    pair.run("""
    BITFIELD k SET u8 0 255 INCRBY u8 0 10
    BITFIELD k OVERFLOW SAT INCRBY u8 0 10 INCRBY u8 0 -300
    BITFIELD k OVERFLOW FAIL INCRBY u8 0 -1 INCRBY u8 0 255 INCRBY u8 0 256 GET u8 0
    BITFIELD k OVERFLOW WRAP INCRBY u8 0 -1 OVERFLOW SAT INCRBY u8 0 -1000 OVERFLOW fail INCRBY u8 0 1000
    BITFIELD s SET i8 0 127 INCRBY i8 0 1 INCRBY i8 0 -1
    BITFIELD s OVERFLOW SAT INCRBY i8 0 1000 INCRBY i8 0 -1000 INCRBY i8 0 -1000
    BITFIELD s OVERFLOW FAIL INCRBY i8 0 200 INCRBY i8 0 -200 INCRBY i8 0 100
    BITFIELD s OVERFLOW WRAP SET i8 0 200 SET i8 0 -200 GET i8 0
    BITFIELD s OVERFLOW SAT SET i8 0 200 GET i8 0 SET i8 0 -200 GET i8 0
    BITFIELD s OVERFLOW FAIL SET i8 0 200 SET i8 0 -128 SET i8 0 -129 GET i8 0
    BITFIELD u OVERFLOW WRAP SET u8 0 -1 GET u8 0 SET u8 0 256 GET u8 0 SET u8 0 -300
    BITFIELD u OVERFLOW SAT SET u8 0 -1 GET u8 0 SET u8 0 -9223372036854775808 GET u8 0
    BITFIELD u OVERFLOW FAIL SET u8 0 -1 SET u8 0 255 SET u8 0 256
    BITFIELD w OVERFLOW WRAP INCRBY i64 0 9223372036854775807 INCRBY i64 0 1 INCRBY i64 0 -1
    BITFIELD w OVERFLOW SAT INCRBY i64 0 -9223372036854775808 INCRBY i64 0 -9223372036854775808
    BITFIELD w OVERFLOW SAT INCRBY i64 0 9223372036854775807 INCRBY i64 0 9223372036854775807
    BITFIELD w OVERFLOW FAIL INCRBY i64 0 1 INCRBY i64 0 -1 GET i64 0
    BITFIELD x OVERFLOW WRAP INCRBY u63 0 9223372036854775807 INCRBY u63 0 1 INCRBY u63 0 -1
    BITFIELD x OVERFLOW SAT INCRBY u63 0 9223372036854775807 INCRBY u63 0 5 INCRBY u63 0 -9223372036854775808
    BITFIELD x OVERFLOW FAIL INCRBY u63 0 -1 INCRBY u63 0 1 GET u63 0
    BITFIELD y SET u63 3 -1 GET u63 3 SET i64 5 -1 GET i64 5 GET u1 5 GET i1 5
    BITFIELD z OVERFLOW WRAP INCRBY i1 0 1 INCRBY i1 0 1 INCRBY u1 1 3
    BITFIELD z OVERFLOW SAT INCRBY i1 2 5 INCRBY i1 2 -5 INCRBY u1 3 7 INCRBY u1 3 -7
    """)


def test_bitfield_fail_on_missing_key_creates_it(pair):
    pair.run("""
    BITFIELD k OVERFLOW FAIL INCRBY u2 0 9
    EXISTS k
    STRLEN k
    GET k
    BITFIELD k SET u8 0 0
    GET k
    """)


def test_bitfield_offsets(pair):
    pair.run("""
    BITFIELD k SET u8 #0 1 SET u8 #1 2 SET u8 #2 3 GET u16 #1 GET u8 #3
    GET k
    BITFIELD k SET i16 #2 -2 GET u16 32 GET u16 #2
    BITFIELD k GET u8 #4294967295
    BITFIELD k GET u8 #536870912
    BITFIELD k GET u8 #-1
    BITFIELD k GET u8 -1
    BITFIELD k GET u8 4294967296
    BITFIELD k GET u8 4294967295
    BITFIELD k GET i64 #1152921504606846976
    BITFIELD k GET i64 #144115188075855872
    BITFIELD k GET i64 #288230376151711744
    BITFIELD k GET u8 ##1
    BITFIELD k GET u8 #
    BITFIELD k GET u8 #a
    BITFIELD k GET u8 1.5
    BITFIELD k GET u8 #01
    """)


@pytest.mark.parametrize("args", [
    "GET u8", "GET", "SET u8 0", "INCRBY i8 0", "FOO", "GET u8 0 FOO", "OVERFLOW", "OVERFLOW FOO",
    "OVERFLOW SATX GET u8 0", "GET u64 0", "GET i65 0", "GET u0 0", "GET i0 0", "GET x8 0",
    "GET u 0", "GET i-1 0", "GET 8 0", "GET U8 0", "GET I64 0", "GET u08 0", "GET u8 a",
    "SET u8 0 a", "SET u8 0 1.5", "INCRBY u8 0 9223372036854775808", "SET i8 0", "GET u8 0 GET",
    "GET u8 0 SET u8 8", "SET u8 -1 1", "INCRBY u64 0 1", "GET u8 0 OVERFLOW FAIL",
    "OVERFLOW WRAP OVERFLOW SAT", "GET u8 0 GET u63 0 GET i64 0",
])
def test_bitfield_errors(pair, args):
    pair.check("SET", "k", "abc")
    pair.check("BITFIELD", "k", *args.split())
    pair.check("BITFIELD", "nokey", *args.split())
    pair.check("EXISTS", "nokey")
    pair.check("BITFIELD_RO", "k", *args.split())
    pair.check("GET", "k")


def test_bitfield_wrongtype_and_ro(pair, wrongtype):
    wrongtype()
    pair.run("""
    BITFIELD wrong GET u8 0
    BITFIELD wrong SET u8 0 1
    BITFIELD wrong
    BITFIELD wrong FOO
    BITFIELD wrong GET u99 0
    BITFIELD_RO wrong GET u8 0
    BITFIELD_RO wrong SET u8 0 1
    BITFIELD_RO wrong
    SET k abc
    BITFIELD_RO k GET u8 0 GET i4 #1 GET u63 #0
    BITFIELD_RO k SET u8 0 1
    BITFIELD_RO k GET u8 0 INCRBY u8 0 1
    BITFIELD_RO k OVERFLOW FAIL GET u8 0
    BITFIELD_RO nokey GET u8 0
    BITFIELD_RO k
    BITFIELD_RO
    """)


def test_bitfield_type_up_to_nul_byte(pair):
    pair.check("BITFIELD", "k", b"SET\x00x", b"u8\x00junk", "0", "200")
    pair.check("BITFIELD", "k", "OVERFLOW", b"SAT\x00", "INCRBY", "u8", "0", "100")
    pair.check("GET", "k")


def test_bitfield_random(pair):
    rng = random.Random(9)
    pair.check("SET", "k", rng.randbytes(12))
    for _ in range(150):
        ops = []
        for _ in range(rng.randint(1, 4)):
            signed = rng.random() < 0.5
            bits = rng.randint(1, 64 if signed else 63)
            kind = f"{'i' if signed else 'u'}{bits}"
            offset = f"#{rng.randint(0, 6)}" if rng.random() < 0.3 else str(rng.randint(0, 100))
            choice = rng.random()
            if choice < 0.15:
                ops += ["OVERFLOW", rng.choice(["WRAP", "SAT", "FAIL"])]
            if choice < 0.4:
                ops += ["GET", kind, offset]
            else:
                value = rng.choice([0, 1, -1, 2**63 - 1, -(2**63), rng.randint(-(2**63), 2**63 - 1),
                                    rng.randint(-300, 300), 2 ** (bits - 1), 2 ** bits])
                value = max(min(value, 2**63 - 1), -(2**63))
                ops += [rng.choice(["SET", "INCRBY"]), kind, offset, str(value)]
        pair.check("BITFIELD", "k", *ops)
    pair.check("GET", "k")


# -- propagation ------------------------------------------------------------------------------------


def test_propagated_bit_commands(propagation):
    sink, c, server = propagation
    c.call("SETBIT", "b", "1", "0")                       # creates: propagated
    c.call("SETBIT", "b", "1", "0")                       # no change: not propagated
    c.call("SETBIT", "b", "1", "1")
    c.call("SETBIT", "b", "20", "0")                      # grows: propagated
    c.call("BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "9")   # creates, no change
    c.call("BITFIELD", "f", "SET", "u8", "0", "0")        # same value: nothing
    c.call("BITFIELD", "f", "SET", "u8", "0", "1", "GET", "u8", "0")
    c.call("BITFIELD", "f", "GET", "u8", "0")
    c.call("BITFIELD_RO", "f", "GET", "u8", "0")
    c.call("BITOP", "NOT", "d", "f")
    c.call("BITOP", "AND", "d", "nokey")                  # deletes d
    c.call("BITOP", "AND", "d", "nokey")                  # nothing to delete
    c.call("BITCOUNT", "b")
    seen = sink.take()
    assert seen == [
        _as_bytes("SETBIT", "b", "1", "0"), _as_bytes("SETBIT", "b", "1", "1"),
        _as_bytes("SETBIT", "b", "20", "0"),
        _as_bytes("BITFIELD", "f", "SET", "u8", "0", "1", "GET", "u8", "0"),
        _as_bytes("BITOP", "NOT", "d", "f"), _as_bytes("BITOP", "AND", "d", "nokey"),
    ]
