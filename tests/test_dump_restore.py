"""DUMP / RESTORE against redis-server 7.0: payloads move both ways for every
type, small payloads are byte-identical, and every error matches Redis's."""
from __future__ import annotations

import redis

from persistence_support import populate
from vermilion.persistence.crc64 import crc64


def _clients(pair):
    ref = redis.Redis(port=pair.ref.sock.getpeername()[1], protocol=2)
    ver = redis.Redis(port=pair.ver.sock.getpeername()[1], protocol=2)
    return ref, ver


def _keys(r):
    return sorted(r.keys("*"))


def _move_all(src, dst):
    """DUMP every key of src and RESTORE it into dst (with its TTL)."""
    for key in _keys(src):
        payload = src.dump(key)
        ttl = src.pttl(key)
        dst.restore(key, max(ttl, 0), payload, replace=True)


def _compare(ref, ver):
    assert _keys(ref) == _keys(ver)
    for key in _keys(ref):
        assert ref.type(key) == ver.type(key), key
        assert ref.object("encoding", key) == ver.object("encoding", key), key
        assert ref.execute_command("DEBUG", "DIGEST-VALUE", key) == \
            ver.execute_command("DEBUG", "DIGEST-VALUE", key), key
        if ref.type(key) == b"stream":
            assert ref.execute_command("XINFO", "STREAM", key, "FULL") == \
                ver.execute_command("XINFO", "STREAM", key, "FULL"), key
        assert abs(ref.pttl(key) - ver.pttl(key)) < 5000


def test_redis_payloads_restore_in_vermilion(pair2):
    ref, ver = _clients(pair2)
    populate(ref, functions=False)
    _move_all(ref, ver)
    _compare(ref, ver)


def test_vermilion_payloads_restore_in_redis(pair2):
    ref, ver = _clients(pair2)
    populate(ver, functions=False)
    _move_all(ver, ref)
    _compare(ver, ref)


def test_small_payloads_are_byte_identical(pair2):
    pair2.run("""
        SET str hello
        SET int 12345
        SET neg -70000
        SET bigint 123456789012345
        RPUSH list a b 1 -2
        SADD iset 5 1 3
        SADD sset a
        HSET hash f v n 1
        ZADD zset 1 a 2.5 b -3 c
        XADD stream 1-1 f v
    """)
    for key in ("str", "int", "neg", "bigint", "list", "iset", "sset", "hash", "zset"):
        pair2.check("DUMP", key)


def test_restore_errors_and_options(pair2):
    p = pair2
    p.run("SET src value")
    payload = p.ref.call("DUMP", "src").value
    assert payload == p.ver.call("DUMP", "src").value
    p.check("DUMP", "missing")
    p.check_error("RESTORE", "src", 0, payload)                        # BUSYKEY
    p.check("RESTORE", "src", 0, payload, "REPLACE")
    p.check_error("RESTORE", "k", -1, payload)
    p.check_error("RESTORE", "k", "abc", payload)
    p.check_error("RESTORE", "k", 0, payload[:-1] + bytes([payload[-1] ^ 1]))
    p.check_error("RESTORE", "k", 0, b"short")
    future = payload[:-10] + (11).to_bytes(2, "little")
    p.check_error("RESTORE", "k", 0, future + crc64(future).to_bytes(8, "little"))
    garbage = b"\x00\xff\xff" + (10).to_bytes(2, "little")
    p.check_error("RESTORE", "k", 0, garbage + crc64(garbage).to_bytes(8, "little"))
    p.check_error("RESTORE", "k", 0, payload, "IDLETIME", -1)
    p.check_error("RESTORE", "k", 0, payload, "FREQ", 256)
    p.check_error("RESTORE", "k", 0, payload, "IDLETIME", 10, "FREQ", 5)
    p.check_error("RESTORE", "k", 0, payload, "BOGUS")
    p.check_error("RESTORE", "k", 0, payload, "IDLETIME")
    p.check("RESTORE", "k1", 0, payload, "IDLETIME", 100)
    p.check("RESTORE", "k2", 0, payload, "FREQ", 5)
    p.check("RESTORE", "k3", 100000, payload)
    p.check("RESTORE", "k4", 4102444800000, payload, "ABSTTL")
    p.check("PEXPIRETIME", "k4")
    p.check("RESTORE", "k5", 1, payload, "ABSTTL")                     # already expired
    p.check("EXISTS", "k5")
    p.check("RESTORE", "src", 1, payload, "ABSTTL", "REPLACE")         # replaced, then gone
    p.check("EXISTS", "src")
    p.check("TTL", "k3")
    p.check("GET", "k1")


def test_restore_wrongtype_payload_types(pair2):
    """A payload of each type restores as that type; RESTORE over another type needs REPLACE."""
    p = pair2
    p.run("""
        RPUSH l a b
        HSET h f v
        SET s x
    """)
    for key in ("l", "h"):
        payload = p.ref.call("DUMP", key).value
        p.check_error("RESTORE", "s", 0, payload)
        p.check("RESTORE", "s", 0, payload, "REPLACE")
        p.check("TYPE", "s")
