"""Random sequences of string, bitmap and expiry commands, sent to real Redis and to
Vermilion and compared reply by reply (RESP2 and RESP3).

Keys and values come from small pools so that commands collide: counters meet
text, bit commands meet counters, options conflict, keys expire (absolute times
in the past) or get long TTLs. Replies that depend on the clock (TTL, PTTL) are
compared by sign only; relative expiries are always long enough not to elapse
during an example.
"""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_strings import FAR_MS, FAR_S

KEYS = ["a", "b", "c", "n"]
VALUES = ["", "0", "1", "-1", "42", "9223372036854775807", "-9223372036854775808", "1.5",
          "3.0e3", "abc", "hello world", "\x00\xff", "0.1", " 1", "inf", "10"]
NUMBERS = ["0", "1", "-1", "5", "100", "-100", "9223372036854775807", "-9223372036854775808",
           "x", "1.5", "01"]

key = st.sampled_from(KEYS)
value = st.sampled_from(VALUES)
number = st.sampled_from(NUMBERS)
small = st.integers(-20, 20).map(str)
long_ttl = st.sampled_from(["100", "1000", "0", "-5", "x"])
absolute = st.sampled_from([str(FAR_S), "1", "0"])
absolute_ms = st.sampled_from([str(FAR_MS), "1", "1000"])

set_expiry = st.one_of(
    st.just([]), st.tuples(st.just("EX"), long_ttl).map(list),
    st.tuples(st.just("PX"), st.sampled_from(["100000", "0", "x"])).map(list),
    st.tuples(st.just("EXAT"), absolute).map(list), st.tuples(st.just("PXAT"), absolute_ms).map(list),
    st.just(["KEEPTTL"]),
)
set_flags = st.lists(st.sampled_from(["NX", "XX", "GET"]), max_size=2)


@st.composite
def set_command(draw):
    flags = draw(set_flags) + draw(set_expiry)
    flags = draw(st.permutations(flags)) if len(flags) < 4 else flags
    return ["SET", draw(key), draw(value), *flags]


getex_option = st.one_of(
    st.just([]), st.just(["PERSIST"]), st.tuples(st.just("EX"), long_ttl).map(list),
    st.tuples(st.just("PX"), st.sampled_from(["100000", "0"])).map(list),
    st.tuples(st.just("EXAT"), absolute).map(list), st.tuples(st.just("PXAT"), absolute_ms).map(list),
)

command = st.one_of(
    set_command(),
    st.tuples(st.just("GET"), key),
    st.tuples(st.just("GETSET"), key, value),
    st.tuples(st.just("GETDEL"), key),
    st.builds(lambda k, o: ["GETEX", k, *o], key, getex_option),
    st.tuples(st.just("SETNX"), key, value),
    st.tuples(st.sampled_from(["SETEX", "PSETEX"]), key, st.sampled_from(["100000", "0", "-1", "x"]), value),
    st.builds(lambda pairs: ["MSET", *sum(pairs, [])],
              st.lists(st.lists(st.one_of(key, value), min_size=2, max_size=2), min_size=1, max_size=3)),
    st.builds(lambda pairs: ["MSETNX", *sum(pairs, [])],
              st.lists(st.tuples(key, value).map(list), min_size=1, max_size=3)),
    st.builds(lambda ks: ["MGET", *ks], st.lists(key, min_size=1, max_size=4)),
    st.tuples(st.just("APPEND"), key, value),
    st.tuples(st.just("STRLEN"), key),
    st.tuples(st.sampled_from(["INCR", "DECR"]), key),
    st.tuples(st.sampled_from(["INCRBY", "DECRBY"]), key, number),
    st.tuples(st.just("INCRBYFLOAT"), key, st.sampled_from(["0.1", "-0.1", "1e3", "2.5", "x", "inf", "-3"])),
    st.tuples(st.sampled_from(["GETRANGE", "SUBSTR"]), key, small, small),
    st.tuples(st.just("SETRANGE"), key, st.integers(-1, 12).map(str), value),
    st.builds(lambda a, b, o: ["LCS", a, b, *o], key, key,
              st.sampled_from([[], ["LEN"], ["IDX"], ["IDX", "WITHMATCHLEN"], ["IDX", "MINMATCHLEN", "2"]])),
    st.tuples(st.just("SETBIT"), key, st.integers(-1, 40).map(str), st.sampled_from(["0", "1", "2"])),
    st.tuples(st.just("GETBIT"), key, st.integers(-1, 40).map(str)),
    st.builds(lambda k, r: ["BITCOUNT", k, *r], key,
              st.one_of(st.just([]), st.tuples(small, small).map(list),
                        st.tuples(small, small, st.sampled_from(["BIT", "BYTE"])).map(list))),
    st.builds(lambda k, b, r: ["BITPOS", k, b, *r], key, st.sampled_from(["0", "1"]),
              st.one_of(st.just([]), st.tuples(small).map(list), st.tuples(small, small).map(list),
                        st.tuples(small, small, st.sampled_from(["BIT", "BYTE"])).map(list))),
    st.builds(lambda op, d, ks: ["BITOP", op, d, *ks], st.sampled_from(["AND", "OR", "XOR", "NOT"]),
              key, st.lists(key, min_size=1, max_size=3)),
    st.builds(lambda k, ops: ["BITFIELD", k, *sum(ops, [])], key, st.lists(st.one_of(
        st.tuples(st.just("GET"), st.sampled_from(["u8", "i8", "u4", "i16", "u63", "i64"]),
                  st.integers(0, 20).map(str)).map(list),
        st.tuples(st.sampled_from(["SET", "INCRBY"]), st.sampled_from(["u8", "i8", "u4", "i16"]),
                  st.integers(0, 20).map(str), number).map(list),
        st.tuples(st.just("OVERFLOW"), st.sampled_from(["WRAP", "SAT", "FAIL"])).map(list),
    ), max_size=3)),
    # Expiry and generic commands (keys family) that change what string commands see.
    st.tuples(st.sampled_from(["EXPIRE", "PEXPIRE"]), key, st.sampled_from(["100000", "0", "-1"])),
    st.tuples(st.just("EXPIREAT"), key, absolute),
    st.tuples(st.just("PERSIST"), key),
    st.tuples(st.sampled_from(["TTL", "PTTL"]), key),
    st.tuples(st.sampled_from(["DEL", "EXISTS", "TYPE"]), key),
)


def _comparable(args, frame):
    # TTL/PTTL values move with the clock: compare -2 / -1 exactly, positives by sign.
    if args[0] in ("TTL", "PTTL") and frame.kind == ":" and frame.value > 0:
        return (":", "positive")
    return frame


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(command, min_size=5, max_size=30))
def test_random_string_sequences(pair, commands):
    pair.both("FLUSHALL")
    for args in commands:
        args = [str(a) for a in args]
        expected, actual = pair.both(*args)
        assert _comparable(args, actual) == _comparable(args, expected), \
            f"{args!r}: redis={expected!r} vermilion={actual!r}"


# Number-like strings, valid and not, for INCRBYFLOAT's strtold and %.17Lf emulation.
_digits = st.text("0123456789", max_size=25)
_hexdigits = st.text("0123456789abcdefABCDEF", max_size=18)
_exponent = st.one_of(st.just(""), st.builds(lambda e, s, d: e + s + d, st.sampled_from("eE"),
                                             st.sampled_from(["", "+", "-"]), _digits))
_decimal = st.builds(lambda s, a, dot, b, e: s + a + dot + b + e, st.sampled_from(["", "+", "-"]),
                     _digits, st.sampled_from(["", "."]), _digits, _exponent)
_hexfloat = st.builds(lambda s, x, a, dot, b, p: s + x + a + dot + b + p, st.sampled_from(["", "-"]),
                      st.sampled_from(["0x", "0X"]), _hexdigits, st.sampled_from(["", "."]), _hexdigits,
                      st.one_of(st.just(""), st.builds(lambda d: "p" + d, st.integers(-17000, 17000).map(str))))
_float_text = st.one_of(
    _decimal, _hexfloat, st.floats(allow_nan=False).map(repr),
    st.integers(-(2**70), 2**70).map(str),
    st.builds(lambda m, e: f"{m}e{e}", st.integers(-10**20, 10**20), st.integers(-5000, 5000)),
    st.sampled_from(["inf", "-inf", "Infinity", "nan", "", " 1", "1 ", "0x", ".", "-.", "e5", "1e"]),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(_float_text, _float_text), min_size=1, max_size=8))
def test_random_incrbyfloat_operands(pair, operands):
    for start, increment in operands:
        pair.check("SET", "f", start)
        pair.check("INCRBYFLOAT", "f", increment)
        pair.check("GET", "f")
