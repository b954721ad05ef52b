"""MEMORY, INFO memory and the -OOM paths, differential against redis-server 7.0.

The OOM scenarios set ``maxmemory 1``: both servers count an empty server's
own structures (Redis its startup allocations, Vermilion the same amount, see
docs/memory.md), so both are over it even with no key at all.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from rawclient import RawClient
from support import free_port, wait_port

OOM = b"OOM command not allowed when used memory > 'maxmemory'."


@pytest.fixture
def oom(pair):
    """Both servers over maxmemory with noeviction; restored afterwards."""
    pair.check("SET", "filler", "x" * 100)
    pair.check("SET", "filler2", "y")
    pair.check("FUNCTION", "LOAD", "REPLACE",
               "#!lua name=memlib\n"
               "redis.register_function('plain', function(k, a) return redis.call('set', 'fx', '1') end)\n"
               "redis.register_function{function_name='oomok', callback=function(k, a) "
               "return redis.call('set', 'fy', '1') end, flags={'allow-oom'}}\n"
               "redis.register_function{function_name='ro', callback=function(k, a) "
               "return redis.call('get', 'filler2') end, flags={'no-writes'}}\n")
    for c in (pair.ref, pair.ver):
        c.call("CONFIG", "SET", "maxmemory-policy", "noeviction")
        c.call("CONFIG", "SET", "maxmemory", "1")
    try:
        yield pair
    finally:
        for c in (pair.ref, pair.ver):
            c.call("CONFIG", "SET", "maxmemory", "0")
            c.call("CONFIG", "SET", "maxmemory-policy", "noeviction")
            c.call("FUNCTION", "FLUSH")


def test_denyoom_commands_get_oom_and_reads_and_del_keep_working(oom):
    oom.run("""
        SET k v
        INCR counter
        HSET h f v
        LPUSH l a
        SADD s a
        ZADD z 1 a
        XADD x * f v
        APPEND filler more
        GET filler
        STRLEN filler
        EXPIRE filler2 100
        PERSIST filler2
        DEL filler2
        EXISTS filler2
        PING
    """)
    assert oom.check_error("SET", "k", "v").value == OOM


@pytest.mark.parametrize("policy", ["noeviction", "allkeys-lru", "volatile-ttl"])
def test_an_empty_server_is_over_a_tiny_maxmemory(pair, policy):
    """Redis's own suites (scripting, functions, maxmemory) rely on this: with
    nothing to evict, denyoom commands are refused, everything else runs."""
    for c in (pair.ref, pair.ver):
        c.call("FLUSHALL")
        c.call("CONFIG", "SET", "maxmemory-policy", policy)
        c.call("CONFIG", "SET", "maxmemory", "1")
    try:
        pair.run("""
            SET k v
            EVAL "return redis.call('set', 'x', 'y')" 0
            GET k
            DBSIZE
            DEL k
            PING
        """)
        pair.check("EVAL", "#!lua\nreturn 1", "0")
        pair.check("EVAL", "#!lua flags=no-writes\nreturn 1", "0")
        assert pair.check_error("SET", "k", "v").value == OOM
    finally:
        for c in (pair.ref, pair.ver):
            c.call("CONFIG", "SET", "maxmemory", "0")
            c.call("CONFIG", "SET", "maxmemory-policy", "noeviction")


def test_a_few_megabytes_hold_about_the_dataset_redis_holds(pair2):
    """2 MB over what each server counts when empty (Redis's own tests set limits this
    way; the shared servers may hold other tests' connections): the keys kept after a
    fill are within a factor of Redis's (values cost what each server's objects cost)."""
    kept = {}
    for name, c in (("ref", pair2.ref), ("ver", pair2.ver)):
        c.call("FLUSHALL")
        text = c.call("INFO", "memory").value
        used = int(dict(line.split(b":", 1) for line in text.split(b"\r\n") if b":" in line)[b"used_memory"])
        c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
        c.call("CONFIG", "SET", "maxmemory", str(used + 2 * 1024 * 1024))
        try:
            for b in range(40):
                c.send_raw(b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$100\r\n%s\r\n" % (
                    len(k), k, b"v" * 100) for k in (b"key:%d:%d" % (b, i) for i in range(500))))
                for _ in range(500):
                    reply = c.read()
                    assert reply.kind == "+", (name, reply)
            kept[name] = c.call("DBSIZE").value
        finally:
            c.call("CONFIG", "SET", "maxmemory", "0")
            c.call("CONFIG", "SET", "maxmemory-policy", "noeviction")
            c.call("FLUSHALL")
    assert kept["ref"] < 20000 and kept["ver"] < 20000, kept
    assert 0.4 <= kept["ver"] / kept["ref"] <= 1.5, kept


def test_oom_inside_multi(oom):
    oom.run("""
        MULTI
        SET k v
        GET filler
        EXEC
        GET k
    """)


def _set_maxmemory(pair, value):
    """From connections of their own: the pair's connections are inside MULTI."""
    for port in (pair.ref.sock.getpeername()[1], pair.ver.sock.getpeername()[1]):
        c = RawClient(port)
        c.call("CONFIG", "SET", "maxmemory", value)
        c.close()


def test_exec_with_a_queued_denyoom_command_aborts(pair):
    pair.check("SET", "filler", "x" * 100)
    pair.run("""
        MULTI
        SET k v
        GET filler
    """)
    _set_maxmemory(pair, "1")
    try:
        assert b"EXECABORT" in pair.check_error("EXEC").value
        pair.check("GET", "k")
        # A transaction of reads and DEL runs.
        _set_maxmemory(pair, "0")
        pair.run("""
            MULTI
            GET filler
            DEL filler
        """)
        _set_maxmemory(pair, "1")
        pair.check("EXEC")
    finally:
        _set_maxmemory(pair, "0")


def test_scripts_are_checked_when_they_start(oom):
    oom.check_error("EVAL", "return redis.call('set', 'x', 'y')", "0")
    oom.check("EVAL", "return redis.call('get', 'filler2')", "0")
    # The script wrote first (DEL is not denyoom): it cannot be stopped halfway.
    oom.check("EVAL", "redis.call('del', 'nothing'); return redis.call('set', 'x', 'y')", "0")
    oom.check("EVAL", "return redis.pcall('set', 'x', 'y')", "0")
    # Declared flags: without allow-oom (or no-writes) the script is denyoom.
    oom.check_error("EVAL", "#!lua\nreturn redis.call('get', 'filler2')", "0")
    oom.check("EVAL", "#!lua flags=allow-oom\nreturn redis.call('set', 'y', 'z')", "0")
    oom.check("EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'filler2')", "0")
    oom.check_error("FCALL", "plain", "0")
    oom.check("FCALL", "oomok", "0")
    oom.check("FCALL", "ro", "0")
    oom.check("FCALL_RO", "ro", "0")
    oom.check_error("FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('f', function() return 1 end)")
    oom.run("""
        MULTI
        EVAL "return 1" 0
        EXEC
    """)


def test_evicted_keyspace_event(pair2):
    subs = {}
    for name, port_client in (("ref", pair2.ref), ("ver", pair2.ver)):
        port_client.call("CONFIG", "SET", "notify-keyspace-events", "Ee")
    ports = (pair2.ref.sock.getpeername()[1], pair2.ver.sock.getpeername()[1])
    for name, port in zip(("ref", "ver"), ports):
        s = RawClient(port)
        s.call("SUBSCRIBE", "__keyevent@0__:evicted")
        subs[name] = s
    pair2.check("SET", "victim", "v")
    pair2.check("CONFIG", "RESETSTAT")
    try:
        for c in (pair2.ref, pair2.ver):
            c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
            c.call("CONFIG", "SET", "maxmemory", "1")
        pair2.check("PING")
        assert subs["ref"].read() == subs["ver"].read()
        for c in (pair2.ref, pair2.ver):
            c.call("CONFIG", "SET", "maxmemory", "0")
        pair2.check("EXISTS", "victim")
        info = pair2.ver.call("INFO", "stats").value
        assert b"evicted_keys:1\r\n" in info
    finally:
        for c in (pair2.ref, pair2.ver):
            c.call("CONFIG", "SET", "maxmemory", "0")
            c.call("CONFIG", "SET", "maxmemory-policy", "noeviction")
        for s in subs.values():
            s.close()


def test_lowering_maxmemory_evicts_after_the_command_and_after_exec(pair2):
    """CONFIG SET maxmemory starts evicting by itself, no write needed (Redis's
    startEvictionTimeProc), and inside MULTI only once EXEC is done."""
    from support import wait_for
    try:
        for c in (pair2.ref, pair2.ver):
            c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
        pair2.check("MSET", "a", "1", "b", "2")
        pair2.check("CONFIG", "SET", "maxmemory", "1")
        for c in (pair2.ref, pair2.ver):
            wait_for(lambda: c.call("DBSIZE").value == 0, "eviction without a write")
            c.call("CONFIG", "SET", "maxmemory", "0")
        pair2.check("MULTI")
        pair2.check("INCR", "x")
        pair2.check("CONFIG", "SET", "maxmemory", "1")
        pair2.check("INCR", "x")
        assert pair2.check("EXEC").value[2].value == 2
        for c in (pair2.ref, pair2.ver):
            wait_for(lambda: c.call("DBSIZE").value == 0, "eviction after EXEC")
    finally:
        for c in (pair2.ref, pair2.ver):
            c.call("CONFIG", "SET", "maxmemory", "0")
            c.call("CONFIG", "SET", "maxmemory-policy", "noeviction")


# -- MEMORY ------------------------------------------------------------------------------------

def test_memory_errors_and_help(pair):
    pair.check("SET", "k", "v")
    pair.run("""
        MEMORY HELP
        MEMORY
        MEMORY FOO
        MEMORY USAGE
        MEMORY USAGE nokey
        MEMORY USAGE k SAMPLES
        MEMORY USAGE k SAMPLES x
        MEMORY USAGE k SAMPLES -1
        MEMORY USAGE k FOO 1
        MEMORY USAGE k SAMPLES 1 SAMPLES
        MEMORY STATS extra
        MEMORY DOCTOR extra
        MEMORY PURGE extra
        MEMORY MALLOC-STATS extra
        MEMORY PURGE
        HSET h f v
    """)
    # Everything COMMAND INFO says but the key-spec flags (the table derives RO+access
    # for every read-only command; Redis gives MEMORY USAGE RO alone).
    ref, ver = pair.both("COMMAND", "INFO", "memory")
    ref_subs = {e.value[0].value: e.value[:8] for e in ref.value[0].value[9].value}
    ver_subs = {e.value[0].value: e.value[:8] for e in ver.value[0].value[9].value}
    assert set(ver_subs) == set(ref_subs)      # (Redis's order is its dict's, seeded per process)
    for name in ref_subs:
        assert ver_subs[name] == ref_subs[name], name
    for args in (("MEMORY", "USAGE", "k"), ("MEMORY", "USAGE", "k", "SAMPLES", "0"),
                 ("MEMORY", "DOCTOR"), ("MEMORY", "MALLOC-STATS")):
        ref, ver = pair.both(*args)
        assert ref.kind == ver.kind, (args, ref, ver)


def _names(frame):
    if frame.kind == "%":
        return [k for k, _ in frame.value]
    return [frame.value[i] for i in range(0, len(frame.value), 2)]


def _as_dict(frame):
    if frame.kind == "%":
        return {k.value: v for k, v in frame.value}
    items = frame.value
    return {items[i].value: items[i + 1] for i in range(0, len(items), 2)}


def test_memory_stats_shape(pair):
    pair.check("SET", "k", "v")
    pair.check("SET", "t", "v", "EX", "100")
    ref, ver = pair.both("MEMORY", "STATS")
    assert ref.kind == ver.kind
    assert _names(ver) == _names(ref)
    r, v = _as_dict(ref), _as_dict(ver)
    for name in r:
        assert r[name].kind == v[name].kind, (name, r[name], v[name])
    assert v[b"keys.count"].value == 2
    assert _names(v[b"db.0"]) == _names(r[b"db.0"])
    assert v[b"dataset.bytes"].value > 0 and v[b"overhead.total"].value > 0


def _info_fields(client, section):
    text = client.call("INFO", section).value
    if isinstance(text, tuple):
        text = text[1]
    return [line.split(b":", 1)[0] for line in text.split(b"\r\n") if line and not line.startswith(b"#")]


def test_info_memory_has_redis_fields_in_order(pair2):
    assert _info_fields(pair2.ver, "memory") == _info_fields(pair2.ref, "memory")
    stats = _info_fields(pair2.ver, "stats")
    for field in (b"evicted_keys", b"evicted_clients", b"total_eviction_exceeded_time",
                  b"current_eviction_exceeded_time"):
        assert field in stats


def test_info_memory_values_follow_the_data(pair2):
    def used():
        text = pair2.ver.call("INFO", "memory").value
        fields = dict(line.split(b":", 1) for line in text.split(b"\r\n") if b":" in line)
        return fields
    before = used()
    pair2.ver.call("SET", "big", "x" * 100000)
    after = used()
    grown = int(after[b"used_memory"]) - int(before[b"used_memory"])
    assert 99000 <= grown < 120000
    assert int(after[b"used_memory_dataset"]) >= 99000
    assert after[b"maxmemory_policy"] == b"noeviction"
    pair2.ver.call("DEL", "big")
    assert int(used()[b"used_memory"]) - int(before[b"used_memory"]) < 2000



def test_used_memory_follows_keys_across_databases(pair2):
    """The total the maxmemory check reads is kept apart from the databases' own counts:
    moving, swapping and flushing databases must leave it equal to their sum."""
    c = pair2.ver

    def used():
        text = c.call("INFO", "memory").value
        return int(dict(line.split(b":", 1) for line in text.split(b"\r\n") if b":" in line)[b"used_memory"])
    try:
        before = used()
        c.call("SELECT", "5")
        c.call("SET", "big", "x" * 100000)
        c.call("SET", "other", "y" * 50000, "EX", "1000")
        grown = used() - before
        assert 149000 <= grown < 180000
        c.call("SWAPDB", "5", "0")
        assert abs(used() - before - grown) < 2000
        c.call("SELECT", "0")
        c.call("MOVE", "big", "3")
        assert abs(used() - before - grown) < 2000
        c.call("FLUSHDB")                   # db 0: `other`
        assert 99000 <= used() - before < 120000
        c.call("SELECT", "3")
        c.call("FLUSHDB")                   # db 3: `big`
        assert abs(used() - before) < 2000
        # A write in one database evicts the keys of another to stay under the limit.
        for i in range(40):
            c.call("SET", "k%d" % i, "z" * 10000)
        c.call("SELECT", "0")
        c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
        c.call("CONFIG", "SET", "maxmemory", str(used() - 200000))
        c.call("SET", "new", "n" * 1000)
        assert int(c.call("DBSIZE").value) == 1
        c.call("SELECT", "3")
        assert int(c.call("DBSIZE").value) < 25
    finally:
        c.call("CONFIG", "SET", "maxmemory", "0")
        c.call("CONFIG", "SET", "maxmemory-policy", "noeviction")
        c.call("FLUSHALL")
        c.call("SELECT", "0")


# Vermilion's numbers are its own memory (CPython objects), which for tiny values is
# more than Redis's encodings: these are the measured gaps (docs/memory.md), kept as
# regression bounds; strings, hashes, lists, sets and zsets (small ones packed as a
# listpack, large lists as packed nodes, large sets in refitted tables) and streams of
# some size are within about 2x.
@pytest.mark.parametrize("setup,key,bound", [
    (["SET", "s", "x" * 3], "s", 2.5),
    (["SET", "s", "x" * 1000], "s", 1.5),
    (["SET", "s", "x" * 100000], "s", 1.2),
    (["HSET", "h", "a", "1", "b", "2"], "h", 2.7),
    (["HSET", "h", "f0", "value0", "f1", "value1", "f2", "value2", "f3", "value3", "f4", "value4"], "h", 2.0),
    (["RPUSH", "l", "element0", "element1", "element2", "element3", "element4"], "l", 1.4),
    (["RPUSH", "l", *["element:%d" % j for j in range(100)]], "l", 1.2),
    (["ZADD", "z", "0", "member0", "1", "member1", "2", "member2", "3", "member3", "4", "member4"], "z", 2.4),
    (["ZADD", "z", *[a for j in range(100) for a in (str(j), "member:%d" % j)]], "z", 1.2),
    (["SADD", "st", "member0", "member1", "member2", "member3", "member4"], "st", 0.7),
    (["SADD", "st", "0", "1", "2", "3", "4"], "st", 3.0),
    ("hash_big", "h", 2.2), ("zset_big", "z", 2.2), ("list_big", "l", 1.2), ("set_big", "st", 2.0),
    ("set_5000", "st", 2.0),
    ("stream_big", "x", 2.0),
])
def test_memory_usage_compared_with_redis(pair2, setup, key, bound):
    if isinstance(setup, list):
        pair2.check(*setup)
    else:
        for i in range(0, 5000 if setup == "set_5000" else 2000, 200):
            chunk = range(i, i + 200)
            if setup == "hash_big":
                pair2.check("HSET", "h", *[a for j in chunk for a in ("field:%d" % j, "value:%d" % j)])
            elif setup == "zset_big":
                pair2.check("ZADD", "z", *[a for j in chunk for a in (str(j), "member:%d" % j)])
            elif setup == "list_big":
                pair2.check("RPUSH", "l", *["element:%d" % j for j in chunk])
            elif setup in ("set_big", "set_5000"):
                pair2.check("SADD", "st", *["member:%d" % j for j in chunk])
            else:
                for j in chunk:
                    pair2.check("XADD", "x", "%d-1" % (j + 1), "field", "value:%d" % j)
    for samples in ("5", "0"):
        ref, ver = pair2.both("MEMORY", "USAGE", key, "SAMPLES", samples)
        assert 0.5 <= ver.value / ref.value <= bound, (samples, ref.value, ver.value)


@pytest.mark.parametrize("fill", ["string", "hash", "zset", "list", "set", "stream"])
def test_memory_usage_agrees_with_used_memory(pair2, fill):
    c = pair2.ver
    def counted():
        text = c.call("INFO", "memory").value
        f = dict(line.split(b":", 1) for line in text.split(b"\r\n") if b":" in line)
        return int(f[b"used_memory"]) - int(f[b"mem_not_counted_for_evict"])
    before = counted()
    if fill == "string":
        c.call("SET", "k", "x" * 5000)
    else:
        for i in range(0, 1000, 100):
            chunk = range(i, i + 100)
            if fill == "hash":
                c.call("HSET", "k", *[a for j in chunk for a in ("f%d" % j, "v" * 20)])
            elif fill == "zset":
                c.call("ZADD", "k", *[a for j in chunk for a in (str(j), "m%d" % j)])
            elif fill == "list":
                c.call("RPUSH", "k", *["e%d" % j for j in chunk])
            elif fill == "set":
                c.call("SADD", "k", *["m%d" % j for j in chunk])
            else:
                for j in chunk:
                    c.call("XADD", "k", "*", "f", "v%d" % j)
    grown = counted() - before
    usage = c.call("MEMORY", "USAGE", "k", "SAMPLES", "0").value
    assert 0.85 <= usage / grown <= 1.15, (usage, grown)


# -- client eviction ---------------------------------------------------------------------------

def test_maxmemory_clients_values(pair):
    pair.run("""
        CONFIG SET maxmemory-clients 101%
        CONFIG SET maxmemory-clients abc
        CONFIG SET maxmemory-clients -1
        CONFIG SET maxmemory-clients -5%
        CONFIG SET maxmemory-clients 10%
        CONFIG GET maxmemory-clients
        CONFIG SET maxmemory-clients 0%
        CONFIG GET maxmemory-clients
        CONFIG SET maxmemory-clients 200kb
        CONFIG GET maxmemory-clients
        CONFIG SET maxmemory-clients 0
        CLIENT NO-EVICT maybe
        CLIENT NO-EVICT on
        CLIENT NO-EVICT off
    """)


def _stat(client, name: bytes) -> int:
    text = client.call("INFO", "stats").value
    return int(dict(line.split(b":", 1) for line in text.split(b"\r\n") if b":" in line)[name])


def test_the_biggest_client_is_evicted_and_no_evict_exempts(pair2):
    """A client stuck halfway through a 400 KB argument is over maxmemory-clients 200kb: it
    is closed, the control connection (NO-EVICT) and a small idle client stay, on both."""
    import socket
    import time
    seen = {}
    for name, c in (("ref", pair2.ref), ("ver", pair2.ver)):
        port = c.sock.getpeername()[1]
        c.call("CONFIG", "RESETSTAT")
        c.call("CLIENT", "NO-EVICT", "on")
        c.call("CONFIG", "SET", "maxmemory-clients", "200kb")
        idle = RawClient(port)
        idle.call("CLIENT", "SETNAME", "idle")
        big = socket.create_connection(("127.0.0.1", port))
        try:
            big.sendall(b"*2\r\n$3\r\nGET\r\n$400000\r\n" + b"x" * 300000)
            deadline = time.monotonic() + 20
            while _stat(c, b"evicted_clients") == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            big.settimeout(20)
            try:
                closed = big.recv(1) == b""
            except ConnectionResetError:    # closed with bytes still unread: the same to a client
                closed = True
            seen[name] = (_stat(c, b"evicted_clients"), closed, idle.call("PING").value)
        finally:
            c.call("CONFIG", "SET", "maxmemory-clients", "0")
            c.call("CLIENT", "NO-EVICT", "off")
            big.close()
            idle.close()
    assert seen["ver"] == seen["ref"] == (1, True, b"PONG"), seen


# -- a pipelined fill at the limit (its own server: RSS is measured) ----------------------------

def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_pipelined_fill_at_the_limit_holds_memory():
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="vermilion-mem-")
    proc = subprocess.Popen(
        [sys.executable, "-m", "vermilion", "server", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", workdir, "--maxmemory", "2mb",
         "--maxmemory-policy", "allkeys-lru"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        c = RawClient(port, timeout=60)
        c.call("SET", "warm", "x")
        start_rss = _rss(proc.pid)
        value = b"v" * 100
        batch = 1000
        for b in range(50):
            payload = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$100\r\n%s\r\n" % (len(k), k, value)
                               for k in (b"key:%d:%d" % (b, i) for i in range(batch)))
            c.send_raw(payload)
            for _ in range(batch):
                reply = c.read()
                assert reply.kind == "+", reply
        info = c.call("INFO", "memory").value
        fields = dict(line.split(b":", 1) for line in info.split(b"\r\n") if b":" in line)
        counted = int(fields[b"used_memory"]) - int(fields[b"mem_not_counted_for_evict"])
        assert counted <= 2 * 1024 * 1024 * 1.1
        evicted = int(dict(line.split(b":", 1) for line in c.call("INFO", "stats").value.split(b"\r\n")
                           if b":" in line)[b"evicted_keys"])
        assert evicted > 40000
        # 50k keys unevicted would take ~17 MB; the process grew by far less.
        assert _rss(proc.pid) - start_rss < 8 * 1024 * 1024
        c.close()
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)
