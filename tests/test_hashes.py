"""Hash commands, compared frame by frame with a real redis-server (RESP2 and RESP3).

Small hashes are listpacks in Redis and keep insertion order, which Vermilion's
dict keeps too, so their replies compare exactly; large ones compare unordered.
"""
from __future__ import annotations

import pytest


def test_hset_hget_basics(pair):
    pair.run("""
    HSET h f1 v1
    HSET h f1 v2 f2 v3
    HSET h f3 a f3 b
    HGET h f1
    HGET h nofield
    HGET nokey f
    HMGET h f1 nofield f2
    HMGET nokey a b
    HGETALL h
    HGETALL nokey
    HKEYS h
    HVALS h
    HKEYS nokey
    HVALS nokey
    HLEN h
    HLEN nokey
    HEXISTS h f1
    HEXISTS h zz
    HEXISTS nokey f
    HSTRLEN h f1
    HSTRLEN h zz
    HSTRLEN nokey f
    HSET h odd
    HSET h a b c
    HMSET h x 1 y 2
    HMSET h x
    HMSET h x 1 y
    HGETALL h
    """)


def test_hsetnx_hdel(pair):
    pair.run("""
    HSETNX h f v
    HSETNX h f w
    HGET h f
    HSET h a 1 b 2 c 3
    HDEL h a zz a
    HDEL h nofield
    HDEL nokey f
    HDEL h f b c
    EXISTS h
    HSETNX h f v
    HGETALL h
    """)


def test_insertion_order_after_updates(pair):
    pair.run("""
    HSET h a 1 b 2 c 3 d 4
    HSET h b 20
    HDEL h a
    HSET h a 10
    HGETALL h
    HKEYS h
    HVALS h
    HSCAN h 0
    """)


def test_hincrby(pair):
    pair.run("""
    HINCRBY h n 5
    HINCRBY h n -10
    HINCRBY h n 0
    HINCRBY h n x
    HINCRBY h n 1.5
    HSET h s abc
    HINCRBY h s 1
    HSET h big 9223372036854775807
    HINCRBY h big 1
    HSET h small -9223372036854775808
    HINCRBY h small -1
    HINCRBY h big -9223372036854775808
    HSET h sp " 1"
    HINCRBY h sp 1
    HSET h lead 01
    HINCRBY h lead 1
    HGETALL h
    """)


def test_hincrbyfloat(pair):
    pair.run("""
    HINCRBYFLOAT h f 0.1
    HINCRBYFLOAT h f 0.2
    HINCRBYFLOAT h f -0.3
    HINCRBYFLOAT h f 1e30
    HINCRBYFLOAT h f -1e30
    HINCRBYFLOAT h g 10.5
    HINCRBYFLOAT h g 5.0e3
    HINCRBYFLOAT h g 2.0e2
    HINCRBYFLOAT h g 0x10
    HINCRBYFLOAT h g inf
    HINCRBYFLOAT h g -inf
    HINCRBYFLOAT h g nan
    HINCRBYFLOAT h g x
    HINCRBYFLOAT h g ""
    HINCRBYFLOAT h g " 1"
    HINCRBYFLOAT h g 1e400
    HSET h s abc
    HINCRBYFLOAT h s 1
    HSET h i 3
    HINCRBYFLOAT h i 1.5
    HSET h e 1e3
    HINCRBYFLOAT h e 1
    HSET h t 1.23
    HINCRBYFLOAT h t 0.000001
    HINCRBYFLOAT h t -1.230001
    HINCRBYFLOAT h n -0.0
    OBJECT ENCODING h
    """)
    pair.check("HGETALL", "h", unordered=True)


def test_wrongtype(pair):
    pair.run("""
    SET s v
    HSET s a b
    HGET s a
    HMGET s a
    HGETALL s
    HKEYS s
    HVALS s
    HLEN s
    HEXISTS s a
    HSTRLEN s a
    HDEL s a
    HSETNX s a b
    HINCRBY s a 1
    HINCRBYFLOAT s a 1
    HRANDFIELD s
    HRANDFIELD s 1
    HSCAN s 0
    HMSET s a b
    """)


def test_hrandfield_deterministic_cases(pair):
    pair.run("""
    HRANDFIELD nokey
    HRANDFIELD nokey 3
    HRANDFIELD nokey -3 WITHVALUES
    HSET h a 1 b 2 c 3
    HRANDFIELD h 0
    HRANDFIELD h 3
    HRANDFIELD h 10
    HRANDFIELD h 10 WITHVALUES
    HRANDFIELD h 10 withvalues
    HRANDFIELD h 1 foo
    HRANDFIELD h 1 WITHVALUES x
    HRANDFIELD h x
    HRANDFIELD h -9223372036854775808
    HRANDFIELD h -9223372036854775807 WITHVALUES
    HRANDFIELD h -4611686018427387904 WITHVALUES
    HRANDFIELD h 0 WITHVALUES
    """)


def test_hrandfield_random_shapes(pair):
    fields = {f"f{i}": f"v{i}" for i in range(30)}
    pair.check("HSET", "h", *[x for kv in fields.items() for x in kv])
    for count in (1, 5, 20, 29):
        ref, ver = pair.both("HRANDFIELD", "h", count)
        assert len(ver.value) == len(ref.value) == count
        names = [f.value.decode() for f in ver.value]
        assert len(set(names)) == count and set(names) <= set(fields)
    ref, ver = pair.both("HRANDFIELD", "h", -50)
    assert len(ver.value) == 50 and {f.value.decode() for f in ver.value} <= set(fields)
    ref, ver = pair.both("HRANDFIELD", "h", -5, "WITHVALUES")
    assert ref.kind == ver.kind and len(ref.value) == len(ver.value)
    if pair.resp == 3:
        for frame in ver.value:
            assert frame.kind == "*" and len(frame.value) == 2
            f, v = frame.value
            assert fields[f.value.decode()] == v.value.decode()
    else:
        flat = [f.value.decode() for f in ver.value]
        for f, v in zip(flat[::2], flat[1::2]):
            assert fields[f] == v
    ref, ver = pair.both("HRANDFIELD", "h")
    assert ver.kind == ref.kind == "$" and ver.value.decode() in fields


def test_hscan(pair):
    pair.run("""
    HSCAN nokey 0
    HSCAN nokey 0 FOO bar
    HSCAN nokey x
    HSET h a 1 b 2 abc 3 x 4
    HSCAN h 0
    HSCAN h 0 COUNT 1
    HSCAN h 0 MATCH a*
    HSCAN h 0 MATCH * COUNT 100
    HSCAN h 0 MATCH
    HSCAN h 0 COUNT 0
    HSCAN h 0 COUNT x
    HSCAN h 0 FOO
    HSCAN h x
    HSCAN h -1
    HSCAN h +5
    HSCAN h 18446744073709551615
    HSCAN h 18446744073709551616
    HSCAN h " 1"
    HSCAN h ""
    HSCAN h 0 TYPE string
    """)


def scan_all(client, cmd, key, *opts):
    cursor, items, calls = b"0", [], 0
    while True:
        reply = client.call(cmd, key, cursor, *opts)
        cursor = reply.value[0].value
        items += [f.value for f in reply.value[1].value]
        calls += 1
        if cursor == b"0":
            return items, calls
        assert calls < 100_000


def test_hscan_large_hash_returns_everything(pair):
    args = []
    for i in range(1000):
        args += [f"field:{i}", str(i)]
    pair.check("HSET", "h", *args)
    for cmd in (pair.ref, pair.ver):
        items, calls = scan_all(cmd, "HSCAN", "h", "COUNT", "50")
        pairs = dict(zip(items[::2], items[1::2]))
        assert len(pairs) == 1000 and calls > 5
        assert all(pairs[f"field:{i}".encode()] == str(i).encode() for i in range(1000))
    ver_items, _ = scan_all(pair.ver, "HSCAN", "h", "MATCH", "field:1*", "COUNT", "100")
    ref_items, _ = scan_all(pair.ref, "HSCAN", "h", "MATCH", "field:1*", "COUNT", "100")
    assert sorted(ver_items[::2]) == sorted(ref_items[::2])


def test_hscan_guarantee_under_churn(vermilion_process_server):
    """Fields present for the whole scan come back even while others come and go."""
    from rawclient import RawClient
    c = RawClient(vermilion_process_server.port)
    c.call("DEL", "churn")
    stable = {f"s{i}".encode() for i in range(600)}
    c.call("HSET", "churn", *[x for f in stable for x in (f, b"1")])
    cursor, seen, step = b"0", set(), 0
    while True:
        reply = c.call("HSCAN", "churn", cursor, "COUNT", "17")
        cursor = reply.value[0].value
        seen.update(f.value for f in reply.value[1].value[::2])
        step += 1
        c.call("HSET", "churn", f"t{step}", "x")           # added meanwhile
        c.call("HDEL", "churn", f"t{step - 3}")             # removed meanwhile
        if cursor == b"0":
            break
    assert stable <= seen
    c.call("DEL", "churn")
    c.close()


@pytest.mark.parametrize("entries,value,expected_change", [(512, 64, True)])
def test_encoding_listpack_to_hashtable(pair, entries, value, expected_change):
    pair.run("""
    HSET h a 1
    OBJECT ENCODING h
    """)
    pair.check("HSET", "h", "long", "x" * 64)
    pair.check("OBJECT", "ENCODING", "h")
    pair.check("HSET", "h", "long", "x" * 65)
    pair.check("OBJECT", "ENCODING", "h")
    pair.check("HDEL", "h", "long")
    pair.check("OBJECT", "ENCODING", "h")      # never converts back
    pair.check("HSET", "h2", *[str(i) for i in range(2 * 512)])
    pair.check("OBJECT", "ENCODING", "h2")
    pair.check("HSET", "h2", "one", "more")
    pair.check("OBJECT", "ENCODING", "h2")
    pair.check("HSET", "h3", "x" * 65, "v")
    pair.check("OBJECT", "ENCODING", "h3")
    pair.check("HINCRBY", "h4", "y" * 65, 1)
    pair.check("OBJECT", "ENCODING", "h4")
    pair.check("HSETNX", "h5", "f", "z" * 65)
    pair.check("OBJECT", "ENCODING", "h5")
    pair.check("COPY", "h", "hcopy")
    pair.check("OBJECT", "ENCODING", "hcopy")


def test_encoding_follows_config(pair):
    try:
        pair.check("CONFIG", "SET", "hash-max-listpack-entries", "2")
        pair.check("CONFIG", "SET", "hash-max-listpack-value", "4")
        pair.run("""
        HSET h a 1 b 2
        OBJECT ENCODING h
        HSET h c 3
        OBJECT ENCODING h
        HSET g a 12345
        OBJECT ENCODING g
        HINCRBYFLOAT g2 f 1.5
        OBJECT ENCODING g2
        HINCRBYFLOAT g2 f 0.25
        OBJECT ENCODING g2
        """)
    finally:
        pair.both("CONFIG", "SET", "hash-max-listpack-entries", "512")
        pair.both("CONFIG", "SET", "hash-max-listpack-value", "64")


def test_large_hash_unordered_reads(pair):
    args = []
    for i in range(700):
        args += [f"k{i}", f"v{i}"]
    pair.check("HSET", "big", *args)
    pair.check("HGETALL", "big", unordered=True)
    pair.check("HKEYS", "big", unordered=True)
    pair.check("HVALS", "big", unordered=True)
    pair.check("HLEN", "big")
    pair.check("OBJECT", "ENCODING", "big")
    pair.check("HRANDFIELD", "big", 1000, unordered=True)


def test_binary_fields(pair):
    pair.check("HSET", "h", "", "empty", "\x00\xff", "\r\n")
    pair.check("HGETALL", "h")
    pair.check("HGET", "h", "")
    pair.check("HSTRLEN", "h", "\x00\xff")
