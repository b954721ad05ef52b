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


# -- command table, keyspace events and WATCH for the four families ----------------------------

FAMILY_COMMANDS = """hset hsetnx hget hmget hmset hgetall hdel hlen hexists hkeys hvals hincrby hincrbyfloat
hstrlen hrandfield hscan lpush rpush lpushx rpushx lpop rpop llen lrange lindex lset linsert lrem ltrim lpos
lmove rpoplpush lmpop blpop brpop blmove brpoplpush blmpop sadd srem smembers sismember smismember scard
spop srandmember smove sinter sintercard sunion sdiff sinterstore sunionstore sdiffstore sscan zadd zincrby
zscore zmscore zcard zcount zlexcount zrange zrangestore zrangebyscore zrevrangebyscore zrangebylex
zrevrangebylex zrevrange zrank zrevrank zrem zremrangebyscore zremrangebyrank zremrangebylex zpopmin zpopmax
bzpopmin bzpopmax zmpop bzmpop zrandmember zunion zinter zdiff zunionstore zinterstore zdiffstore zintercard
zscan""".split()


def test_command_info(pair2):
    """Arity, flags, legacy key positions, ACL categories and tips as Redis declares them.

    Key specs (element 8) are rendered by the server family. ZUNIONSTORE & co declare
    their destination (1, 1, 1) beside computed source keys; the server family
    reports commands with computed keys as (0, 0, 0), so those three are compared
    without positions.
    """
    computed = {"zunionstore", "zinterstore", "zdiffstore"}
    for name in FAMILY_COMMANDS:
        ref, ver = pair2.both("COMMAND", "INFO", name)
        a, b = list(ref.value[0].value), list(ver.value[0].value)
        a[8] = b[8] = None
        if name in computed:
            a[3:6] = b[3:6] = [None] * 3
        assert b == a, name


EVENT_SCRIPT = """
HSET h a 1 b 2
HSET h a 1
HSETNX h a 1
HSETNX h c 3
HINCRBY h n 1
HINCRBYFLOAT h f 1.5
HDEL h zz
HDEL h a b c n f
LPUSH l a b c
RPUSH l d
LPUSHX nolist a
RPUSHX l e
LPOP l
RPOP l 2
LSET l 0 x
LINSERT l BEFORE x y
LREM l 0 y
LREM l 0 nothing
LTRIM l 0 0
LMOVE l l2 LEFT RIGHT
RPOPLPUSH l2 l3
LMPOP 1 l3 LEFT COUNT 5
RPUSH l a b c
BLPOP l 0
BRPOP l 0
BLMOVE l l4 LEFT LEFT 0
BLMPOP 0 1 l4 RIGHT
SADD s 1 2 3 a
SADD s 1
SREM s 1 zz
SREM s zz
SMOVE s s2 2
SMOVE s s2 nothing
SINTERSTORE d s s2
SUNIONSTORE d s s2
SDIFFSTORE d s s2
SDIFFSTORE d s s
SPOP s 1
SPOP s 10
SADD s x
SPOP s
ZADD z 1 a 2 b 3 c 4 d
ZADD z 1 a
ZADD z INCR 1 a
ZINCRBY z 1 b
ZREM z zz
ZREM z a
ZREMRANGEBYSCORE z 100 200
ZREMRANGEBYSCORE z 2 2
ZREMRANGEBYRANK z 0 0
ZADD z 0 p 0 q 0 r
ZREMRANGEBYLEX z [p [q
ZPOPMIN z
ZPOPMAX z 5
ZADD z 1 a 2 b
ZMPOP 1 z MIN COUNT 1
BZPOPMIN z 0
ZADD z 1 a 2 b
BZMPOP 0 1 z MAX COUNT 9
ZADD z 1 a 2 b
ZADD y 2 b 3 c
ZUNIONSTORE d 2 z y
ZINTERSTORE d 2 z y
ZDIFFSTORE d 2 z y
ZRANGESTORE d z 0 0
ZRANGESTORE d z 5 6
ZDIFFSTORE d 2 z z
SET sentinel x
"""


def _events(client) -> list:
    seen = []
    while True:
        frame = client.read()
        channel, key = frame.value[2].value, frame.value[3].value
        if key == b"sentinel":
            return seen
        seen.append((channel.split(b":", 1)[1], key))


def test_keyspace_events(reference_server, vermilion_process_server):
    """Every write notifies Redis's event names, in Redis's order."""
    from rawclient import RawClient
    from vermilion.server.parser import split_inline
    results = []
    for port in (reference_server.port, vermilion_process_server.port):
        c = RawClient(port)
        c.call("FLUSHALL")
        c.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
        listener = RawClient(port)
        listener.call("PSUBSCRIBE", "__keyevent@0__:*")
        for line in EVENT_SCRIPT.strip().splitlines():
            c.call(*split_inline(line.encode()))
        results.append(_events(listener))
        c.call("CONFIG", "SET", "notify-keyspace-events", "")
        c.close()
        listener.close()
    assert results[1] == results[0]


WATCHED_WRITES = [line.strip() for line in """
HSET k f 1|HSET k f 2|HSET k f 1|HSETNX k f 9|HSETNX k g 9|HDEL k zz|HDEL k f|HINCRBY k f 1|HINCRBYFLOAT k f 1
LPUSH k x|RPUSHX k x|LPUSHX nokey x|LPOP k|RPOP k 0|LSET k 0 z|LINSERT k BEFORE nothing y|LINSERT k BEFORE a y
LREM k 0 zz|LREM k 0 a|LTRIM k 0 -1|LTRIM k 0 0|LMOVE k other LEFT LEFT|LMOVE other k LEFT LEFT|LMPOP 1 k LEFT
SADD k a|SADD k zz|SREM k zz|SREM k a|SMOVE k other a|SMOVE other k q|SPOP k|SINTERSTORE k s1 s2|SUNIONSTORE k s1
SDIFFSTORE k nokey
ZADD k 1 a|ZADD k 5 a|ZADD k NX 5 a|ZADD k XX 9 zz|ZINCRBY k 0 a|ZREM k zz|ZREM k a|ZREMRANGEBYSCORE k 100 200
ZREMRANGEBYRANK k 0 0|ZPOPMIN k|ZPOPMAX k 0|ZUNIONSTORE k 1 z1|ZRANGESTORE k z1 0 0|ZMPOP 1 k MAX
""".replace("\n", "|").split("|") if line.strip()]

SETUP = {"H": "HSET k f 1 a 1", "L": "RPUSH k a b c", "S": "SADD k a b c", "Z": "ZADD k 1 a 2 b 3 c"}


@pytest.mark.parametrize("write", WATCHED_WRITES)
def test_writes_touch_watched_keys(pair2, write):
    """EXEC after WATCH fails exactly when the command changed the watched key."""
    from vermilion.engine.table import COMMANDS
    if "watch" not in COMMANDS:
        pytest.skip("needs WATCH")
    family = write[0] if write[0] in "HLSZ" else "S"
    setup = SETUP[family] if not write.startswith("LMOVE other") else "RPUSH k a"
    pair2.run(f"""
    {setup}
    RPUSH other o
    SADD other q
    SADD s1 x
    SADD s2 y
    ZADD z1 1 m
    """)
    from rawclient import RawClient
    from vermilion.server.parser import split_inline
    watchers = [RawClient(pair2.ref.sock.getpeername()[1]), RawClient(pair2.ver.sock.getpeername()[1])]
    for w in watchers:
        w.call("WATCH", "k")
    ref, ver = pair2.both(*split_inline(write.encode()))
    assert ref.kind == ver.kind and (write.startswith("SPOP") or ref == ver), (write, ref, ver)
    replies = []
    for w in watchers:
        w.call("MULTI")
        w.call("PING")
        replies.append(w.call("EXEC"))
        w.close()
    assert replies[1] == replies[0], (write, replies)


def test_small_hash_keeps_listpack_order_and_binary_strings(pair):
    # Updates keep a field's place, deletes close the gap, and any byte (0xff, the
    # long-length marker of the packed form) is data; strings around 255 bytes cross
    # the packed form's one-byte length.
    try:
        pair.check("CONFIG", "SET", "hash-max-listpack-value", "400")
        pair.check("HSET", "h", "a", "1", "b", "2", "c", "3", "", "empty", b"\xff\x00", b"\xff" * 5)
        pair.check("HSET", "h", "b", "x" * 254, "d", "y" * 255, "z" * 300, "")
        pair.check("HSET", "h", "a", "11")
        pair.check("HDEL", "h", "c", "nosuch")
        for cmd in (("HGETALL", "h"), ("HKEYS", "h"), ("HVALS", "h"), ("HLEN", "h"),
                    ("HGET", "h", "d"), ("HGET", "h", "z" * 300), ("HGET", "h", b"\xff\x00"),
                    ("HSTRLEN", "h", "b"), ("HEXISTS", "h", ""), ("HMGET", "h", "a", "c", ""),
                    ("HSCAN", "h", "0"), ("HSCAN", "h", "0", "MATCH", "?"),
                    ("HRANDFIELD", "h", "100", "WITHVALUES"), ("OBJECT", "ENCODING", "h")):
            pair.check(*cmd)
        pair.check("HINCRBY", "h", "n", "5")
        pair.check("HINCRBYFLOAT", "h", "a", "0.5")
        pair.check("HSETNX", "h", "a", "no")
        pair.check("HGETALL", "h")
        ref, ver = pair.both("HRANDFIELD", "h", "-20")
        assert len(ver.value) == len(ref.value) == 20 and {f.value for f in ver.value} <= set(
            f.value for f in pair.check("HKEYS", "h").value)
        pair.check("DEBUG", "RELOAD")
        pair.check("HGETALL", "h")
        pair.check("OBJECT", "ENCODING", "h")
        pair.check("RESTORE", "h2", "0", pair.ref.call("DUMP", "h").value)    # Redis's payload
        pair.check("RESTORE", "h3", "0", pair.ver.call("DUMP", "h").value)    # Vermilion's
        pair.check("HGETALL", "h3")
        pair.check("HGETALL", "h2")
        pair.check("OBJECT", "ENCODING", "h2")
        pair.check("HDEL", "h", *[f.value for f in pair.check("HKEYS", "h").value])
        pair.check("EXISTS", "h")
    finally:
        pair.both("CONFIG", "SET", "hash-max-listpack-value", "64")


def test_small_hash_crosses_limits_as_redis(pair):
    # One HSET of many pairs past hash-max-listpack-entries (with duplicates),
    # then HSET/HINCRBYFLOAT values past hash-max-listpack-value.
    try:
        pair.check("CONFIG", "SET", "hash-max-listpack-entries", "4")
        pair.check("HSET", "h", "a", "1", "b", "2", "a", "3", "c", "4", "d", "5")
        pair.check("OBJECT", "ENCODING", "h")
        pair.check("HSET", "h", "e", "6", "a", "7")
        pair.check("OBJECT", "ENCODING", "h")
        pair.check("HGETALL", "h", unordered=True)
        pair.check("HSET", "g", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5")
        pair.check("OBJECT", "ENCODING", "g")
        pair.check("HSET", "f", "a", "1")
        pair.check("HINCRBYFLOAT", "f", "a", "0.0000000000000000000000000000000000000000000000000000000000000000001")
        pair.check("OBJECT", "ENCODING", "f")
    finally:
        pair.both("CONFIG", "SET", "hash-max-listpack-entries", "512")
