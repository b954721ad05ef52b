"""Random sequences of key and expiry commands, run on redis-server and Vermilion side by side.

Every reply is compared as it comes. Replies that depend on the clock or on
chance are compared by what they mean: TTL-like replies by their category
(-2, -1 or ">= 0"), RANDOMKEY by whether it found a key, SCAN/KEYS as sets.
Relative expiry times are far apart (and GT/LT only go with absolute times), so
the millisecond at which each server ran a command never changes an outcome.
"""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rawclient import normalize

KEYS = ["a", "b", "c", "{a}x"]
FAR = 4102444800

key = st.sampled_from(KEYS)
value = st.sampled_from(["1", "42", "x", "hello", "-7", "x" * 50])
flag_nx_xx = st.sampled_from([[], ["NX"], ["XX"]])
flag_any = st.sampled_from([[], ["NX"], ["XX"], ["GT"], ["LT"], ["XX", "GT"], ["xx", "lt"]])

commands = st.one_of(
    st.tuples(st.just("SET"), key, value).map(list),
    st.tuples(st.just("SET"), key, value, st.just("EX"), st.sampled_from(["100", "200"])).map(list),
    st.tuples(st.sampled_from(["DEL", "UNLINK", "EXISTS", "TOUCH"]),
              st.lists(key, min_size=1, max_size=3)).map(lambda t: [t[0], *t[1]]),
    st.tuples(st.sampled_from(["TYPE", "PERSIST", "GET", "TTL", "PTTL", "EXPIRETIME",
                               "PEXPIRETIME", "OBJECT ENCODING", "INCR"]), key)
    .map(lambda t: [*t[0].split(), t[1]]),
    st.tuples(st.just("EXPIRE"), key, st.sampled_from(["-1", "0", "100", "200", "x"]), flag_nx_xx)
    .map(lambda t: [t[0], t[1], t[2], *t[3]]),
    st.tuples(st.just("PEXPIRE"), key, st.sampled_from(["-5", "0", "150000", "250000"]), flag_nx_xx)
    .map(lambda t: [t[0], t[1], t[2], *t[3]]),
    st.tuples(st.just("EXPIREAT"), key, st.sampled_from(["1", "-1", str(FAR), str(FAR + 1)]), flag_any)
    .map(lambda t: [t[0], t[1], t[2], *t[3]]),
    st.tuples(st.just("PEXPIREAT"), key, st.sampled_from(["0", f"{FAR}000", f"{FAR}500", f"{FAR + 2}000"]),
              flag_any).map(lambda t: [t[0], t[1], t[2], *t[3]]),
    st.tuples(st.sampled_from(["RENAME", "RENAMENX"]), key, key).map(list),
    st.tuples(st.just("COPY"), key, key, st.sampled_from([[], ["REPLACE"], ["DB", "1"],
                                                          ["DB", "1", "REPLACE"]]))
    .map(lambda t: [t[0], t[1], t[2], *t[3]]),
    st.tuples(st.just("MOVE"), key, st.sampled_from(["0", "1"])).map(list),
    st.tuples(st.just("APPEND"), key, value).map(list),
    st.sampled_from([["SELECT", "0"], ["SELECT", "1"], ["SWAPDB", "0", "1"], ["DBSIZE"],
                     ["KEYS", "*"], ["KEYS", "?"], ["SCAN", "0", "COUNT", "1000"], ["RANDOMKEY"],
                     ["FLUSHDB"]]),
)

TTL_LIKE = {"TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"}


def comparable(args: list[str], frame):
    name = args[0].upper()
    if name in TTL_LIKE and frame.kind == ":":
        return ("ttl", frame.value if frame.value < 0 else ">=0")
    if name == "RANDOMKEY":
        return ("randomkey", frame.kind, frame.value is None)
    if name == "KEYS":
        return normalize(frame, True)
    if name == "SCAN" and frame.kind == "*":
        cursor, keys = frame.value
        return (cursor, normalize(keys, True))
    return frame


@settings(max_examples=50, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(commands, min_size=1, max_size=25))
def test_random_key_commands_match_redis(pair, program):
    for c in (pair.ref, pair.ver):
        c.call("FLUSHALL")
        c.call("SELECT", "0")
    for args in program:
        expected, actual = pair.both(*args)
        assert comparable(args, actual) == comparable(args, expected), \
            f"{args}: redis={expected!r} vermilion={actual!r} in {program}"
