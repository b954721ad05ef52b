"""Set commands, compared frame by frame with a real redis-server (RESP2 and RESP3).

Integer-only small sets are intsets in Redis and list in ascending order, which
Vermilion reproduces, so those replies compare exactly; other sets come in hash
order and compare unordered. Random replies are checked for shape and membership.
"""
from __future__ import annotations

from rawclient import RawClient


def test_sadd_srem_basics(pair):
    pair.run("""
    SADD s 3 1 2
    SADD s 2 4
    SMEMBERS s
    SCARD s
    SISMEMBER s 1
    SISMEMBER s 9
    SISMEMBER nokey 1
    SMISMEMBER s 1 9 4
    SMISMEMBER nokey a b
    SREM s 1 9
    SREM s 9
    SREM nokey 1
    SMEMBERS s
    SREM s 2 3 4
    EXISTS s
    SMEMBERS nokey
    SCARD nokey
    """)


def test_intset_order_and_encoding(pair):
    pair.run("""
    SADD s 10 -5 3 9223372036854775807 -9223372036854775808 0
    SMEMBERS s
    OBJECT ENCODING s
    SADD s 01
    OBJECT ENCODING s
    SREM s 01
    OBJECT ENCODING s
    SADD t 9223372036854775808
    OBJECT ENCODING t
    SADD u -0
    OBJECT ENCODING u
    SADD v +1
    OBJECT ENCODING v
    SADD w " 1"
    OBJECT ENCODING w
    SADD x a
    OBJECT ENCODING x
    """)


def test_encoding_follows_config(pair):
    try:
        pair.check("CONFIG", "SET", "set-max-intset-entries", "3")
        pair.run("""
        SADD s 1 2 3
        OBJECT ENCODING s
        SADD s 4
        OBJECT ENCODING s
        SREM s 4 3
        OBJECT ENCODING s
        SADD a 1 2
        SADD b 2 3
        SUNIONSTORE u a b
        OBJECT ENCODING u
        SADD b 4 5
        SUNIONSTORE u a b
        OBJECT ENCODING u
        """)
    finally:
        pair.both("CONFIG", "SET", "set-max-intset-entries", "512")
    pair.check("SADD", "big", *range(600))
    pair.check("OBJECT", "ENCODING", "big")
    pair.check("COPY", "big", "big2")
    pair.check("OBJECT", "ENCODING", "big2")


def test_algebra_intsets(pair):
    pair.run("""
    SADD a 1 2 3 4 5
    SADD b 4 5 6 7
    SADD c 5 7 9
    SINTER a b
    SINTER a b c
    SINTER a nokey
    SINTER nokey
    SUNION a b c
    SUNION a nokey
    SDIFF a b
    SDIFF a b c
    SDIFF b a
    SDIFF nokey a
    SDIFF a a
    SINTERSTORE d a b
    SMEMBERS d
    SUNIONSTORE d a c
    SMEMBERS d
    SDIFFSTORE d a b c
    SMEMBERS d
    SINTERSTORE d a nokey
    EXISTS d
    SUNIONSTORE d nokey
    SDIFFSTORE d nokey a
    SINTERCARD 2 a b
    SINTERCARD 3 a b c
    SINTERCARD 2 a nokey
    SINTERCARD 1 a LIMIT 2
    SINTERCARD 1 a LIMIT 0
    SINTERCARD 0 a
    SINTERCARD 2 a
    SINTERCARD 1 a LIMIT -1
    SINTERCARD 1 a LIMIT x
    SINTERCARD 1 a FOO
    SINTERCARD x a
    SINTERCARD 1 a LIMIT
    """)


def test_algebra_strings_unordered(pair):
    pair.check("SADD", "a", *"abcdefgh")
    pair.check("SADD", "b", *"efghijkl")
    pair.check("SADD", "n", 1, 2, "e")
    for cmd in (("SINTER", "a", "b"), ("SUNION", "a", "b", "n"), ("SDIFF", "a", "b"),
                ("SDIFF", "b", "a", "n"), ("SINTER", "a", "n"), ("SMEMBERS", "a")):
        pair.check(*cmd, unordered=True)
    pair.check("SUNIONSTORE", "d", "a", "b")
    pair.check("SMEMBERS", "d", unordered=True)
    pair.check("OBJECT", "ENCODING", "d")
    pair.check("SINTERSTORE", "d", "a", "n")
    pair.check("SMEMBERS", "d")
    pair.check("OBJECT", "ENCODING", "d")


def test_store_replaces_and_drops_ttl(pair):
    pair.run("""
    SET d string
    EXPIRE d 1000
    SADD a x y
    SUNIONSTORE d a
    TTL d
    TYPE d
    SET d2 v
    SINTERSTORE d2 a nokey
    EXISTS d2
    """)


def test_wrongtype(pair):
    pair.run("""
    SET str v
    SADD a 1
    SADD str a
    SREM str a
    SMEMBERS str
    SISMEMBER str a
    SMISMEMBER str a
    SCARD str
    SPOP str
    SPOP str 2
    SRANDMEMBER str
    SRANDMEMBER str 2
    SMOVE str a x
    SMOVE a str 1
    SMOVE nokey str 1
    SINTER a str
    SINTER nokey str
    SUNION a str
    SDIFF nokey str
    SINTERSTORE d a str
    SINTERCARD 2 a str
    SSCAN str 0
    """)


def test_smove(pair):
    pair.run("""
    SADD a 1 2
    SADD b 3
    SMOVE a b 1
    SMOVE a b 9
    SMOVE a b 2
    EXISTS a
    SMEMBERS b
    SMOVE b b 3
    SMOVE b b 9
    SMOVE nokey b 1
    SMOVE b c 3
    SMEMBERS c
    OBJECT ENCODING c
    SADD b x
    SMOVE b c x
    OBJECT ENCODING c
    SADD c 2
    SMOVE c b 2
    """)


def test_spop_srandmember_deterministic(pair):
    pair.run("""
    SPOP nokey
    SPOP nokey 3
    SPOP nokey 0
    SRANDMEMBER nokey
    SRANDMEMBER nokey 3
    SRANDMEMBER nokey -3
    SADD s 1 2 3
    SPOP s 0
    SPOP s -1
    SPOP s x
    SPOP s 1 2
    SRANDMEMBER s 0
    SRANDMEMBER s 3
    SRANDMEMBER s 10
    SRANDMEMBER s x
    SRANDMEMBER s 1 2
    SRANDMEMBER s -9223372036854775808
    SPOP s 3
    EXISTS s
    SADD s 5 6
    SPOP s 10
    EXISTS s
    SADD one x
    SPOP one
    EXISTS one
    """)


def test_spop_srandmember_random(pair):
    members = {str(i).encode() for i in range(100)}
    pair.check("SADD", "s", *sorted(members))
    pair.check("SADD", "s", "x")      # hashtable encoding: hash order on both sides
    members.add(b"x")
    for count in (1, 7, 40, 100):
        ref, ver = pair.both("SRANDMEMBER", "s", count)
        assert ref.kind == ver.kind
        got = [f.value for f in ver.value]
        assert len(got) == len(set(got)) == count and set(got) <= members
    ref, ver = pair.both("SRANDMEMBER", "s", -300)
    assert ref.kind == ver.kind and len(ver.value) == 300
    assert {f.value for f in ver.value} <= members
    one = pair.ver.call("SRANDMEMBER", "s")
    assert one.kind == "$" and one.value in members
    ref, ver = pair.both("SPOP", "s", 30)
    assert ref.kind == ver.kind and len(ver.value) == 30
    popped = {f.value for f in ver.value}
    assert len(popped) == 30 and popped <= members
    assert pair.ver.call("SCARD", "s").value == 71
    left = {f.value for f in pair.ver.call("SMEMBERS", "s").value}
    assert left == members - popped
    single = pair.ver.call("SPOP", "s").value
    assert single in left
    assert pair.ver.call("SISMEMBER", "s", single).value == 0


def test_spop_uniformity(vermilion_process_server):
    """SPOP and SRANDMEMBER pick uniformly, even after removals and re-additions."""
    c = RawClient(vermilion_process_server.port)
    c.call("DEL", "u")
    c.call("SADD", "u", *[f"m{i}" for i in range(20)])
    c.call("SRANDMEMBER", "u")              # builds the random pool
    c.call("SREM", "u", "m0", "m1")
    c.call("SADD", "u", "m0")               # re-added: must not count twice
    counts: dict = {}
    for _ in range(4000):
        m = c.call("SRANDMEMBER", "u").value
        counts[m] = counts.get(m, 0) + 1
    assert set(counts) == {f"m{i}".encode() for i in range(20) if i != 1}
    assert max(counts.values()) < 2.2 * min(counts.values())
    c.call("DEL", "u")
    c.close()


def test_sscan(pair):
    pair.run("""
    SSCAN nokey 0
    SADD s 5 3 1
    SSCAN s 0
    SSCAN s 0 MATCH 1*
    SSCAN s 0 COUNT 1
    SSCAN s 0 COUNT 0
    SSCAN s x
    SADD t a b c
    SSCAN t 0 MATCH a
    """)


def test_sscan_large(pair):
    pair.check("SADD", "big", *[f"m{i}" for i in range(2000)])
    for side in (pair.ref, pair.ver):
        cursor, seen, calls = b"0", [], 0
        while True:
            reply = side.call("SSCAN", "big", cursor, "COUNT", "100")
            cursor = reply.value[0].value
            seen += [f.value for f in reply.value[1].value]
            calls += 1
            if cursor == b"0":
                break
        assert set(seen) == {f"m{i}".encode() for i in range(2000)} and calls > 5


def test_notifications_and_dirty_paths(pair):
    # Emptying through every removal path deletes the key.
    pair.run("""
    SADD a 1
    SREM a 1
    EXISTS a
    SADD a 1
    SPOP a
    EXISTS a
    SADD a 1
    SPOP a 1
    EXISTS a
    SADD a 1
    SMOVE a b 1
    EXISTS a
    """)


def _same_set_state(pair, key, probes):
    """Every read of `key` answers as Redis does (member order compared unordered
    where Redis keeps a hashtable, exactly for an intset)."""
    enc = pair.check("OBJECT", "ENCODING", key).value
    pair.check("SMEMBERS", key, unordered=enc != b"intset")
    pair.check("SCARD", key)
    pair.check("SMISMEMBER", key, *probes)
    for m in probes:
        pair.check("SISMEMBER", key, m)
    pair.check("SORT", key, "ALPHA")
    pair.check("SRANDMEMBER", key, "1000", unordered=True)


def test_small_sets_across_the_packed_bounds(pair):
    """Vermilion packs small sets (up to 128 members of up to 64 bytes): each command
    answers as Redis does below, at and past those bounds, and after members leave."""
    strings = [f"m{i}" for i in range(140)]
    probes = ["m0", "m126", "m127", "m128", "m139", "nope", ""]
    pair.check("SADD", "s", *strings[:127])
    pair.check("SADD", "s", "m0", "m127", "m127")           # duplicates, one new: 128
    _same_set_state(pair, "s", probes)
    pair.check("SADD", "s", "m128")                         # 129: past the packed bound
    _same_set_state(pair, "s", probes)
    pair.check("SREM", "s", *strings[5:129])
    _same_set_state(pair, "s", probes)
    pair.check("SADD", "one", *strings)                     # one SADD past the bound
    _same_set_state(pair, "one", probes)

    ints = [str(i) for i in range(-64, 600)]
    pair.check("SADD", "i", *ints[:100])
    _same_set_state(pair, "i", ints[:3] + ["599", "x"])
    pair.check("SADD", "i", *ints[100:512])                 # 512: still an intset
    _same_set_state(pair, "i", ints[:3] + ["599", "x"])
    pair.check("SADD", "i", "599")                          # 513: hashtable
    _same_set_state(pair, "i", ints[:3] + ["599", "x"])

    long64, long65 = "x" * 64, "y" * 65
    pair.check("SADD", "l", "a", long64)
    _same_set_state(pair, "l", ["a", long64, long65])
    pair.check("SADD", "l", long65)                         # a member past 64 bytes
    _same_set_state(pair, "l", ["a", long64, long65])
    pair.check("SREM", "l", long65, long64, "nope")
    _same_set_state(pair, "l", ["a", long64, long65])
    pair.check("SADD", "e", "", "0", "-1")                  # empty and integer-like members
    _same_set_state(pair, "e", ["", "0", "-1", "1"])
    pair.check("SREM", "e", "", "0", "-1")
    pair.check("EXISTS", "e")


def test_packed_sets_in_algebra_moves_and_persistence(pair):
    pair.check("SADD", "a", "x", "y", "z", "1")             # packed, hashtable encoding
    pair.check("SADD", "b", *[f"m{i}" for i in range(200)], "x", "1")   # table
    pair.check("SADD", "c", "1", "2", "3")                  # packed intset
    for cmd in ("SINTER", "SUNION", "SDIFF"):
        for keys in (("a", "b"), ("b", "a"), ("a", "c"), ("c", "a", "b"), ("a", "a")):
            pair.check(cmd, *keys, unordered=True)
            pair.check(cmd + "STORE", "dst", *keys)
            pair.check("OBJECT", "ENCODING", "dst")
            pair.check("SMEMBERS", "dst", unordered=True)
    pair.check("SINTERCARD", "2", "a", "b")
    pair.check("SINTERCARD", "2", "b", "a", "LIMIT", "1")
    pair.check("SMOVE", "a", "c", "z")                      # intset gets a string
    pair.check("OBJECT", "ENCODING", "c")
    pair.check("SMOVE", "c", "a", "2")
    pair.check("SMOVE", "b", "a", "m7")
    pair.check("SMOVE", "a", "b", "nope")
    for key in ("a", "b", "c"):
        pair.check("SMEMBERS", key, unordered=True)
    # SSCAN answers a small set whole, with cursor 0.
    pair.check("SSCAN", "a", "0", unordered=True)
    pair.check("SSCAN", "a", "0", "MATCH", "x*", unordered=True)
    # DUMP payloads cross over: Redis's into Vermilion and Vermilion's into Redis.
    for key in ("a", "c"):
        pair.check("RESTORE", key + "2", "0", pair.ref.call("DUMP", key).value)
        assert pair.ref.call("RESTORE", key + "3", "0", pair.ver.call("DUMP", key).value).value == b"OK"
        pair.check("SMEMBERS", key + "2", unordered=True)
        assert {m.value for m in pair.ref.call("SMEMBERS", key + "3").value} == \
            {m.value for m in pair.ver.call("SMEMBERS", key).value}
    pair.check("DEBUG", "RELOAD")
    for key in ("a", "b", "c", "a2"):
        pair.check("OBJECT", "ENCODING", key)
        pair.check("SMEMBERS", key, unordered=True)
    for side in (pair.ref, pair.ver):
        before = {m.value for m in side.call("SMEMBERS", "a").value}
        popped = {m.value for m in side.call("SPOP", "a", "2").value}
        rest = {m.value for m in side.call("SPOP", "a", "10").value}   # the rest: the key goes
        assert len(popped) == 2 and popped | rest == before and not popped & rest
    pair.check("EXISTS", "a")
    pair.check("COPY", "c", "c2")
    pair.check("SMEMBERS", "c2", unordered=True)


def _int_probes(values):
    return [str(v) for v in values] + ["x", "0x1", "-0", "99999999999999999999"]


def test_integer_sets_past_the_packed_bound(pair):
    """Sets of 129 to set-max-intset-entries integers (Redis: intset; Vermilion: a
    sorted integer array) list ascending and answer as Redis does while they grow,
    widen from 16 to 32 to 64-bit values, shrink, and convert to a hashtable."""
    ints = list(range(-64, 136))                            # 200 values, 16-bit
    probes = _int_probes([-64, 0, 135, 136, 40000, -(2**40)])
    pair.check("SADD", "i", *ints[:128])                   # packed
    pair.check("SADD", "i", *ints[128:129])                 # 129: past the packed bound
    _same_set_state(pair, "i", probes)
    pair.check("SADD", "i", *ints[129:], 0, 5)              # 200, duplicates ignored
    _same_set_state(pair, "i", probes)
    pair.check("SADD", "i", 40000, -40000)                  # 32-bit values
    pair.check("SMEMBERS", "i")
    pair.check("SADD", "i", 2**40, -(2**63), 2**63 - 1)     # 64-bit values
    _same_set_state(pair, "i", probes + [str(-(2**63)), str(2**63 - 1)])
    pair.check("SREM", "i", 2**40, 40000, 7, 7, "x", 136, "-0")
    _same_set_state(pair, "i", probes)
    pair.check("SSCAN", "i", "0")                           # an intset answers whole, in order
    pair.check("SSCAN", "i", "0", "MATCH", "1*", "COUNT", "5")
    pair.check("SINTER", "i", "i")
    pair.check("SINTERSTORE", "d", "i", "i")
    pair.check("OBJECT", "ENCODING", "d")
    pair.check("SMEMBERS", "d")
    pair.check("SUNION", "i", "d")
    pair.check("SDIFF", "i", "d")
    pair.check("SMOVE", "i", "d", -64)
    pair.check("SMOVE", "i", "d", -64)
    pair.check("SMOVE", "i", "other", 135)
    pair.check("SMEMBERS", "i")
    pair.check("COPY", "i", "i2")
    _same_set_state(pair, "i2", probes)
    pair.check("SADD", "i", "a")                            # a string: hashtable
    _same_set_state(pair, "i", probes + ["a"])
    pair.check("SREM", "i", "a")
    _same_set_state(pair, "i", probes)                      # no way back
    pair.check("SADD", "big", *range(512))                  # 512: still an intset
    _same_set_state(pair, "big", _int_probes([0, 511, 512]))
    pair.check("SADD", "big", 512)                          # 513: hashtable
    _same_set_state(pair, "big", _int_probes([0, 511, 512]))
    pair.check("SADD", "one", *range(513))                  # one SADD past the limit
    pair.check("OBJECT", "ENCODING", "one")


def test_integer_sets_random_reads_and_pops(pair):
    for side in (pair.ref, pair.ver):
        side.call("SADD", "i", *range(1000, 1300))
        members = {m.value for m in side.call("SMEMBERS", "i").value}
        one = side.call("SRANDMEMBER", "i").value
        some = [m.value for m in side.call("SRANDMEMBER", "i", "50").value]
        many = [m.value for m in side.call("SRANDMEMBER", "i", "-500").value]
        assert one in members and len(set(some)) == 50 and set(some) <= members
        assert len(many) == 500 and set(many) <= members
        popped = side.call("SPOP", "i").value
        more = {m.value for m in side.call("SPOP", "i", "99").value}
        assert popped in members and len(more) == 99 and popped not in more
        rest = {m.value for m in side.call("SMEMBERS", "i").value}
        assert rest | more | {popped} == members and len(rest) == 200
        assert side.call("OBJECT", "ENCODING", "i").value == b"intset"
    pair.check("SPOP", "nokey", "3")


def test_integer_sets_follow_set_max_intset_entries(pair):
    try:
        pair.check("CONFIG", "SET", "set-max-intset-entries", "1000")
        pair.check("SADD", "i", *range(900))
        _same_set_state(pair, "i", _int_probes([0, 899, 900]))
        pair.check("CONFIG", "SET", "set-max-intset-entries", "200")
        pair.check("OBJECT", "ENCODING", "i")               # kept until the next add
        pair.check("SADD", "i", 0)
        pair.check("OBJECT", "ENCODING", "i")
        pair.check("SADD", "i", 900)
        _same_set_state(pair, "i", _int_probes([0, 899, 900]))
        pair.check("SADD", "j", *range(150))
        pair.check("OBJECT", "ENCODING", "j")
        pair.check("SADD", "j", *range(150, 201))           # 201 > 200: hashtable
        pair.check("OBJECT", "ENCODING", "j")
        pair.check("SADD", "k", *range(150))                # reloaded past the limit: hashtable
        pair.check("CONFIG", "SET", "set-max-intset-entries", "100")
        pair.check("DEBUG", "RELOAD")
        pair.check("OBJECT", "ENCODING", "k")
        pair.check("SMEMBERS", "k", unordered=True)
    finally:
        pair.both("CONFIG", "SET", "set-max-intset-entries", "512")


def test_integer_sets_persist_and_cross_over(pair):
    values = [*range(-100, 100), 70000, -(2**50)]
    pair.check("SADD", "i", *values)
    pair.check("SADD", "w", *range(300))
    for key in ("i", "w"):
        # DUMP payloads cross over: Redis's intset into Vermilion and Vermilion's into Redis.
        pair.check("RESTORE", key + "2", "0", pair.ref.call("DUMP", key).value)
        assert pair.ref.call("RESTORE", key + "3", "0", pair.ver.call("DUMP", key).value).value == b"OK"
        pair.check("OBJECT", "ENCODING", key + "2")
        pair.check("SMEMBERS", key + "2")
        assert pair.ref.call("SMEMBERS", key + "3").value == pair.ver.call("SMEMBERS", key).value
        assert pair.ref.call("OBJECT", "ENCODING", key + "3").value == b"intset"
    pair.check("DEBUG", "RELOAD")
    for key in ("i", "w", "i2", "w2"):
        _same_set_state(pair, key, _int_probes([0, -100, 70000, 299, 300]))
    pair.check("SADD", "w", "x")
    pair.check("DEBUG", "RELOAD")
    pair.check("OBJECT", "ENCODING", "w")
    pair.check("SMEMBERS", "w", unordered=True)


def _int_set_commands():
    from hypothesis import strategies as st
    value = st.one_of(st.integers(-300, 300), st.sampled_from([40000, -70000, 2**40, -(2**63), 2**63 - 1]))
    bulk = st.builds(lambda lo, n, step: list(range(lo, lo + n * step, step)),
                     st.integers(-400, 400), st.integers(1, 200), st.sampled_from([1, 3, -2]))
    members = st.one_of(bulk, st.lists(value, min_size=1, max_size=5),
                        st.lists(st.sampled_from(["x", "01", "-0", "+1"]), min_size=1, max_size=2))
    key = st.sampled_from(["i", "j"])
    return st.lists(st.one_of(
        st.builds(lambda c, k, ms: [c, k, *ms], st.sampled_from(["SADD", "SADD", "SREM"]), key, members),
        st.tuples(st.just("SMOVE"), key, key, value),
        st.tuples(st.just("SPOP"), key, st.sampled_from(["0", "1000"])),     # none or all
        st.tuples(st.sampled_from(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), key, key, key),
    ), min_size=1, max_size=12)


def test_random_integer_set_sequences(pair):
    """Random bulk adds, removals, moves and stores on integer sets around the packed
    bound and set-max-intset-entries: after each command both servers report the same
    encoding and members (in order while an intset), and answer membership alike."""
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=25, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(_int_set_commands())
    def run(commands):
        pair.both("FLUSHALL")
        for args in commands:
            pair.check(*args, unordered=args[0] == "SPOP")
            for k in ("i", "j"):
                enc = pair.check("OBJECT", "ENCODING", k).value
                pair.check("SMEMBERS", k, unordered=enc != b"intset")
                pair.check("SCARD", k)
                pair.check("SMISMEMBER", k, 0, 1, -300, 299, 40000, 2**40, "x", "01")
    run()
