"""MIGRATE between servers, differential: every scenario runs Redis -> Redis (the
reference observations), then Vermilion -> Redis, Redis -> Vermilion and
Vermilion -> Vermilion, and each must observe exactly the same replies on both
sides. Single-server argument errors go through `pair`.
"""
from __future__ import annotations

import socket
import time

import pytest

from rawclient import RawClient
from support import RedisProcess, free_port, require_reference

TARGET_DB = 9


@pytest.fixture(scope="module")
def second_servers():
    """A second redis-server and a second Vermilion, the targets besides the session's."""
    import vermilion
    ref = RedisProcess(require_reference())
    with vermilion.embedded(config={"enable-debug-command": "yes"}) as ver:
        yield ref.port, ver.port
    ref.stop()


@pytest.fixture
def routes(reference_server, vermilion_process_server, second_servers):
    """(source port, target port) for Redis->Redis first, then the three routes
    with Vermilion at one end or both."""
    redis_a, ver_a = reference_server.port, vermilion_process_server.port
    redis_b, ver_b = second_servers
    return [(redis_a, redis_b), (ver_a, redis_b), (redis_a, ver_b), (ver_a, ver_b)]


def _fresh(port: int) -> RawClient:
    c = RawClient(port)
    c.call("FLUSHALL")
    c.call("CONFIG", "SET", "requirepass", "")
    return c


def everywhere(routes, scenario):
    """scenario(src, dst, dst_port) -> observations; equal on every route."""
    seen = []
    for src_port, dst_port in routes:
        src, dst = _fresh(src_port), _fresh(dst_port)
        try:
            seen.append(scenario(src, dst, dst_port))
        finally:
            dst.call("CONFIG", "SET", "requirepass", "")
            src.close()
            dst.close()
    for route, got in zip(routes[1:], seen[1:]):
        assert got == seen[0], f"route {route}: {got!r}\nredis->redis: {seen[0]!r}"
    return seen[0]


def _migrate(src, dst_port, *args):
    return src.call("MIGRATE", "127.0.0.1", dst_port, *args)


def test_migrate_moves_a_key_and_caches_the_connection(routes):
    def scenario(src, dst, port):
        src.call("SET", "key", "Some Value")
        out = [_migrate(src, port, "key", TARGET_DB, 5000),
               src.call("EXISTS", "key")]
        dst.call("SELECT", TARGET_DB)
        out += [dst.call("GET", "key"), dst.call("TTL", "key")]
        info = src.call("INFO", "stats").value.decode()
        # One connection per target, kept for 10 s (this source may also keep one to
        # the other target from an earlier test).
        cached = int(info.split("migrate_cached_sockets:")[1].split()[0])
        out.append(1 <= cached <= 2)
        return out
    assert everywhere(routes, scenario)[0].value == b"OK"


def test_migrate_copy_replace_and_busy_key(routes):
    def scenario(src, dst, port):
        src.call("RPUSH", "list", "a", "b", "c", "d")
        dst.call("SELECT", TARGET_DB)
        dst.call("SET", "list", "somevalue")
        return [_migrate(src, port, "list", TARGET_DB, 5000, "COPY"),
                _migrate(src, port, "list", TARGET_DB, 5000, "COPY", "REPLACE"),
                src.call("LRANGE", "list", 0, -1), dst.call("LRANGE", "list", 0, -1),
                _migrate(src, port, "list", TARGET_DB, 5000, "REPLACE"),
                src.call("EXISTS", "list"), dst.call("LLEN", "list")]
    out = everywhere(routes, scenario)
    assert out[0].kind == "-" and b"BUSYKEY" in out[0].value


def test_migrate_keeps_the_ttl_and_every_type(routes):
    def scenario(src, dst, port):
        src.call("SET", "s", "v", "EX", 100)
        src.call("HSET", "h", *[f"f{i}" for i in range(6) for _ in (0, 1)])
        src.call("ZADD", "z", 1, "a", 2.5, "b")
        src.call("SADD", "set", *range(300))
        src.call("XADD", "x", "1-1", "f", "v")
        src.call("RPUSH", "big", *[f"item {i}" for i in range(20000)])
        out = [_migrate(src, port, "", TARGET_DB, 10000, "KEYS", "s", "h", "z", "set", "x", "big"),
               src.call("DBSIZE")]
        dst.call("SELECT", TARGET_DB)
        ttl = dst.call("TTL", "s").value
        out += [95 <= ttl <= 100, dst.call("HGETALL", "h"), dst.call("ZRANGE", "z", 0, -1, "WITHSCORES"),
                dst.call("SCARD", "set"), dst.call("XRANGE", "x", "-", "+"), dst.call("LLEN", "big"),
                dst.call("LINDEX", "big", -1)]
        return out
    everywhere(routes, scenario)


def test_migrate_several_keys_only_existing_and_only_acknowledged(routes):
    def scenario(src, dst, port):
        out = [_migrate(src, port, "", TARGET_DB, 5000, "KEYS", "nokey-1", "nokey-2")]
        src.call("MSET", *[x for c in "abcdefgh" for x in (c, c.upper())])
        dst.call("SELECT", TARGET_DB)
        dst.call("MSET", "c", "_", "d", "_")       # busy, and no REPLACE
        out += [_migrate(src, port, "", TARGET_DB, 5000, "KEYS", "nokey", *"abcdefgh"),
                src.call("DBSIZE"), src.call("MGET", "c", "d", "a"), dst.call("DBSIZE"),
                dst.call("MGET", *"abcdefgh")]
        # The connection is still usable (all the replies were read).
        out += [_migrate(src, port, "", TARGET_DB, 5000, "REPLACE", "KEYS", "c", "d"),
                src.call("DBSIZE"), dst.call("MGET", "c", "d")]
        return out
    out = everywhere(routes, scenario)
    assert out[0] == ("+", b"NOKEY")


def test_migrate_auth_and_auth2(routes):
    def scenario(src, dst, port):
        src.call("RPUSH", "list", "a", "b")
        dst.call("ACL", "SETUSER", "mover", "on", ">movepass", "~*", "+@all")
        dst.call("CONFIG", "SET", "requirepass", "foobar")
        out = [_migrate(src, port, "list", TARGET_DB, 5000, "AUTH", "wrong"),
               _migrate(src, port, "list", TARGET_DB, 5000, "AUTH", "foobar"),
               src.call("EXISTS", "list")]
        src.call("SET", "k", "v")
        out += [_migrate(src, port, "k", TARGET_DB, 5000, "AUTH2", "mover", "nope"),
                _migrate(src, port, "k", TARGET_DB, 5000, "AUTH2", "mover", "movepass")]
        dst.call("AUTH", "foobar")
        dst.call("SELECT", TARGET_DB)
        out += [dst.call("LRANGE", "list", 0, -1), dst.call("GET", "k")]
        dst.call("ACL", "DELUSER", "mover")
        return out
    out = everywhere(routes, scenario)
    assert b"WRONGPASS" in out[0].value


def test_migrate_target_errors_pass_through(routes):
    def scenario(src, dst, port):
        src.call("SET", "k", "v")
        out = [_migrate(src, port, "k", 100000, 5000),        # SELECT refused by the target
               src.call("EXISTS", "k")]
        # The RESTORE after the refused SELECT ran in whichever database the cached
        # connection had selected: start from an empty target again.
        dst.call("FLUSHALL")
        out += [_migrate(src, port, "k", TARGET_DB, 5000),    # selects again, and works
                src.call("EXISTS", "k")]
        return out
    out = everywhere(routes, scenario)
    assert out[0].value == b"ERR Target instance replied with error: ERR DB index is out of range"


def test_migrate_argument_errors(pair):
    port = free_port()          # nothing listens there
    pair.check("SET", "k", "v")
    pair.check_error("MIGRATE", "127.0.0.1", port, "k", 0, 1000, "FOO")
    pair.check_error("MIGRATE", "127.0.0.1", port, "k", 0, 1000, "AUTH")
    pair.check_error("MIGRATE", "127.0.0.1", port, "k", 0, 1000, "AUTH2", "user")
    pair.check_error("MIGRATE", "127.0.0.1", port, "k", 0, 1000, "KEYS", "a")
    pair.check_error("MIGRATE", "127.0.0.1", port, "k", 0, "soon")
    pair.check_error("MIGRATE", "127.0.0.1", port, "k", "zero", 1000)
    pair.check_error("MIGRATE", "127.0.0.1", port, "k", 0)
    pair.check("MIGRATE", "127.0.0.1", port, "missing", 0, 1000)
    pair.check("MIGRATE", "127.0.0.1", port, "", 0, 1000, "KEYS", "m1", "m2")
    pair.check_error("MIGRATE", "127.0.0.1", port, "k", 0, 1000)
    pair.check_error("MIGRATE", "127.0.0.1", "notaport", "k", 0, 1000, "COPY")
    pair.check_error("MIGRATE", "127.0.0.1", port, "k", 0, 99999999999999, "COPY")
    pair.check_error("MIGRATE", "no-such-host.invalid", port, "k", 0, 1000, "COPY")
    pair.check("EXISTS", "k")
    pair.check("COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "5", "KEYS", "a", "b")
    pair.check("COMMAND", "GETKEYS", "MIGRATE", "h", "1", "key", "0", "5", "COPY")
    # A password reading KEYS is not the KEYS option.
    pair.check("COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "5", "AUTH", "KEYS", "KEYS", "rw")
    pair.check("COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "5", "AUTH2", "KEYS", "KEYS",
               "KEYS", "a")
    # Name, arity, flags, legacy key range, categories and tips (the key specs of
    # COMMAND INFO are approximated for every command: docs/compatibility.md).
    ref, ver = pair.both("COMMAND", "INFO", "MIGRATE", "RESTORE-ASKING")
    assert [e.value[:7] for e in ver.value] == [e.value[:7] for e in ref.value]


def test_migrate_timeout_when_the_target_does_not_answer(ports):
    """A target that accepts the connection and never replies: IOERR after the
    timeout, and the key stays."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    try:
        seen = []
        for src_port in ports:
            c = RawClient(src_port)
            c.call("SET", "key", "v")
            started = time.monotonic()
            reply = c.call("MIGRATE", "127.0.0.1", port, "key", 0, 200)
            waited = time.monotonic() - started
            seen.append((reply, c.call("EXISTS", "key"), waited >= 0.2))
            c.close()
        assert seen[1] == seen[0]
        assert seen[0][0].value == b"IOERR error or timeout reading to target instance"
    finally:
        silent.close()


def test_cached_connections_close_after_ten_idle_seconds():
    from vermilion.commands.migrate import MigrateSockets
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = b"%d" % listener.getsockname()[1]
    try:
        cache = MigrateSockets()
        cs = cache.get(b"127.0.0.1", port, 1.0)
        assert cache.get(b"127.0.0.1", port, 1.0) is cs
        cache.close_idle(0)
        assert len(cache.cached) == 1
        cs.last_use -= 11
        cache.close_idle(0)
        assert not cache.cached and cs.sock.fileno() == -1
    finally:
        listener.close()


def test_migrate_propagates_del_of_the_acknowledged_keys(vermilion_process_server, reference_server):
    """Replicas and the AOF see a DEL of the keys the target took (none with COPY)."""
    srv = vermilion_process_server
    seen: list = []

    def sink(db, argv):
        seen.append((db, [bytes(a) for a in argv]))

    target = _fresh(reference_server.port)
    target.call("SELECT", TARGET_DB)
    target.call("SET", "busy", "x")
    c = _fresh(srv.port)
    c.call("MSET", "a", "1", "b", "2", "busy", "3", "c", "4")
    srv.call_in_loop(srv.engine.sinks.append, sink)
    try:
        c.call("MIGRATE", "127.0.0.1", reference_server.port, "", TARGET_DB, 5000, "COPY",
               "KEYS", "c")
        reply = c.call("MIGRATE", "127.0.0.1", reference_server.port, "", TARGET_DB, 5000,
                       "KEYS", "a", "busy", "b")
    finally:
        srv.call_in_loop(srv.engine.sinks.remove, sink)
        c.close()
        target.close()
    assert reply.kind == "-" and b"BUSYKEY" in reply.value
    assert seen == [(0, [b"DEL", b"a", b"b"])]
