"""Replication, primary side, against real redis-server 7.0.

Raw replicas (SYNC, PSYNC by hand) run the same scenario on redis-server and on
Vermilion and compare what they see; real redis-server replicas of a Vermilion
primary (processes started here, on loopback, killed in teardown) sync during
writes and must end with the same dataset. Every wait polls the servers' state.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time

import pytest
import redis

from persistence_support import (diff, populate, redis_server, snapshot, vermilion,
                                 without_read_counters)
from rawclient import RawClient, attach_replica, read_stream_until
from support import require_reference, same_on_both, wait_for as _wait_for


def _read_line(sock: socket.socket, buf: bytearray) -> bytes:
    while b"\r\n" not in buf:
        chunk = sock.recv(1 << 16)
        assert chunk, "connection closed"
        buf += chunk
    i = buf.index(b"\r\n")
    # Newlines before a reply keep a replica's link alive while its snapshot is made.
    line = bytes(buf[:i]).lstrip(b"\n")
    del buf[:i + 2]
    return line


def _read_exact(sock: socket.socket, buf: bytearray, n: int) -> bytes:
    while len(buf) < n:
        chunk = sock.recv(1 << 16)
        assert chunk, "connection closed"
        buf += chunk
    data = bytes(buf[:n])
    del buf[:n]
    return data


def _read_command(sock, buf) -> list[bytes]:
    head = _read_line(sock, buf)
    while head == b"":          # a newline is a keepalive while the payload is made
        head = _read_line(sock, buf)
    assert head[:1] == b"*", head
    out = []
    for _ in range(int(head[1:])):
        size = int(_read_line(sock, buf)[1:])
        out.append(_read_exact(sock, buf, size + 2)[:-2])
    out[0] = out[0].lower()
    return out


def _sync_stream(port: int):
    c = RawClient(port)
    c.call("CONFIG", "SET", "repl-ping-replica-period", "3600")   # no PING in what we compare
    c.call("SET", "before", "1")
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"SYNC\r\n")
    buf = bytearray()
    head = _read_line(s, buf)
    while head == b"":
        head = _read_line(s, buf)
    payload = _read_exact(s, buf, int(head[1:]))
    c.call("SET", "foo", "bar")
    c.call("MULTI")
    c.call("INCR", "n")
    c.call("RPUSH", "l", "a", "b")
    c.call("EXEC")
    c.call("EVAL", "redis.call('set', 'x', '1'); redis.call('del', 'x')", "0")
    c.call("SELECT", "2")
    c.call("SET", "other", "db")
    c.call("GET", "other")                     # reads are not propagated
    c.call("DEL", "other")
    seen = [_read_command(s, buf) for _ in range(12)]
    s.close()
    c.close()
    return payload[:5], seen


def test_sync_sends_rdb_then_propagated_writes(ports):
    magic, seen = same_on_both(ports, _sync_stream)
    assert magic == b"REDIS"
    assert seen[0] == [b"select", b"0"]


# -- PSYNC, REPLCONF, WAIT: the primary as a fake replica sees it ---------------------------------

def _psync_stream(port: int):
    """A replica's handshake by hand: REPLCONF, PSYNC ? -1 with capa eof (diskless),
    the $EOF-framed RDB, the first ACK, then a WAIT answered through GETACK/ACK."""
    c = RawClient(port)
    c.call("CONFIG", "RESETSTAT")
    c.call("CONFIG", "SET", "repl-ping-replica-period", "3600")
    c.call("CONFIG", "SET", "repl-diskless-sync", "yes")
    c.call("CONFIG", "SET", "repl-diskless-sync-delay", "0")
    c.call("SET", "before", "1")
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    buf = bytearray()
    replies = []
    for cmd in (b"REPLCONF listening-port 7777", b"REPLCONF capa eof capa psync2",
                b"REPLCONF ip-address 10.1.2.3"):
        s.sendall(cmd + b"\r\n")
        replies.append(_read_line(s, buf))
    s.sendall(b"PSYNC ? -1\r\n")
    head = _read_line(s, buf)
    while head == b"":
        head = _read_line(s, buf)
    word, replid, offset = head.split()
    preamble = _read_line(s, buf)
    assert preamble.startswith(b"$EOF:") and len(preamble) == 45, preamble
    mark = preamble[5:]
    while not bytes(buf).endswith(mark) and mark not in buf:
        chunk = s.recv(1 << 16)
        assert chunk
        buf += chunk
    end = buf.index(mark) + len(mark)
    rdb = bytes(buf[:end - len(mark)])
    del buf[:end]
    info = RawClient(port)

    def replica_line():
        text = info.call("INFO", "replication").value.decode()
        return dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)["slave0"]
    # The stream starts at the first ACK after the primary saw the snapshot finish.
    slave0 = _wait_for(lambda: next((line for line in (replica_line(),) if "state=online" in line),
                                    None), "the replica online")
    base = int(offset)
    s.sendall(b"*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$%d\r\n%d\r\n" % (len(offset), base))
    c.call("SET", "after", "2")
    first = _read_command(s, buf)
    second = _read_command(s, buf)
    # WAIT blocks until this replica acknowledges: the primary asks with GETACK.
    c.send("WAIT", "1", "5000")
    getack = _read_command(s, buf)
    consumed = base + len(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n") + \
        len(b"*3\r\n$3\r\nSET\r\n$5\r\nafter\r\n$1\r\n2\r\n") + len(b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n")
    s.sendall(b"*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$%d\r\n%d\r\n" % (len(str(consumed)), consumed))
    waited = c.read()
    role = info.call("ROLE")
    stats = [line for line in info.call("INFO", "stats").value.decode().split("\r\n")
             if line.startswith("sync_")]
    s.close()
    info.close()
    c.close()
    # The snapshot names its history and the db the stream has selected, as Redis's does.
    aux = [field in rdb for field in (b"repl-stream-db", b"repl-id(" + replid, b"repl-offset")]
    return (replies, word, len(replid), rdb[:5], aux, slave0.split(",")[:2], first, second, getack,
            waited, role.value[0], [r.value for r in role.value[2].value], stats)


def test_psync_full_diskless_then_stream_wait_and_getack(ports):
    result = same_on_both(ports, _psync_stream)
    assert result[1] == b"+FULLRESYNC"
    assert result[4] == [True, True, True]
    assert result[9] == (":", 1)


# -- a real redis-server replicating from Vermilion ------------------------------------------------

def _info(r, section="replication") -> dict:
    return {k: v for k, v in r.info(section).items()}


def _dataset(r) -> dict:
    """persistence_support.snapshot without consumers' seen-time (a replica sets it
    from its own clock when it applies the XCLAIM a read propagates) and groups'
    read counters (the XCLAIM does not carry them): Redis 7.0 replicating from Redis
    differs there as well."""
    out = without_read_counters(snapshot(r))
    for entry in out.values():
        if isinstance(entry, list) and entry and entry[0] == b"stream":
            for group in entry[3][b"groups"]:
                for consumer in group[b"consumers"]:
                    consumer.pop(b"seen-time", None)
    return out


def _in_sync(primary, replica) -> bool:
    rinfo = _info(replica)
    pinfo = _info(primary)
    return rinfo.get("master_link_status") == "up" and \
        rinfo["master_repl_offset"] == pinfo["master_repl_offset"]


class _Writer(threading.Thread):
    """Writes of every type while a sync runs; stops on request."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.r = redis.Redis(port=port, socket_timeout=30)
        self.stop = threading.Event()
        self.count = 0

    def run(self):
        i = 0
        while not self.stop.is_set():
            p = self.r.pipeline(transaction=i % 3 == 0)
            p.set(f"w:s:{i % 50}", i)
            p.incr("w:counter")
            p.rpush("w:list", i)
            p.hset("w:hash", f"f{i % 20}", i)
            p.zadd("w:zset", {f"m{i % 30}": i})
            p.sadd("w:set", i % 40)
            p.xadd("w:stream", {"i": i}, maxlen=100, approximate=False)
            p.pexpire(f"w:s:{i % 50}", 100000)
            p.set(f"w:ttl:{i % 10}", i, px=3)           # expires on the primary: DEL follows
            p.eval("redis.call('incr', KEYS[1]); return redis.call('lpush', KEYS[2], ARGV[1])",
                   2, "w:lua", "w:lualist", i)
            p.execute()
            if i % 7 == 0:
                self.r.xreadgroup("wg", "c1", {"w:stream": ">"}, count=2)
            i += 1
            self.count = i


def _start_pair(tmp_path, *primary_conf):
    require_reference()
    primary = vermilion(os.path.join(tmp_path, "p"), "--repl-diskless-sync-delay", "0",
                        *primary_conf).start()
    return primary


def _replica(tmp_path, primary, name="r"):
    return redis_server(os.path.join(tmp_path, name), "--replicaof", "127.0.0.1",
                        str(primary.port), "--save", "", "--repl-diskless-sync-delay", "0").start()


@pytest.mark.parametrize("diskless", ["yes", "no"])
def test_redis_replica_syncs_during_writes_and_resumes(tmp_path, diskless):
    primary = _start_pair(str(tmp_path), "--repl-diskless-sync", diskless,
                          "--rdb-key-save-delay", "20")
    replica = None
    writer = None
    try:
        pr = primary.client()
        populate(pr)
        pr.execute_command("DEBUG", "POPULATE", "3000", "bulk")
        pr.xgroup_create("w:stream", "wg", id="$", mkstream=True)
        writer = _Writer(primary.port)
        writer.start()
        replica = _replica(str(tmp_path), primary)
        rr = replica.client()
        _wait_for(lambda: _info(rr).get("master_link_status") == "up", "the link")
        _wait_for(lambda: writer.count > 20, "writes after the sync")
        writer.stop.set()
        writer.join()
        # The short-lived keys are deleted on the primary (active expiry): their DELs are
        # in the stream the replica must reach (DBSIZE counts keys not deleted yet).
        _wait_for(lambda: not pr.keys("w:ttl:*") and pr.dbsize() == len(pr.keys("*")),
                  "the short TTLs deleted")
        _wait_for(lambda: _in_sync(pr, rr), "equal offsets")
        assert diff(_dataset(pr), _dataset(rr)) == []
        info = _info(pr)
        assert info["role"] == "master" and info["connected_slaves"] == 1
        assert info["slave0"]["state"] == "online"
        assert info["slave0"]["port"] == replica.port
        assert info["repl_backlog_active"] == 1
        assert pr.info("stats")["sync_full"] == 1
        role = pr.execute_command("ROLE")
        assert role[0] == b"master" and role[2][0][1] == str(replica.port).encode()
        assert b"flags=S" in pr.execute_command("CLIENT", "LIST", "TYPE", "replica")
        # WAIT: the replica acknowledges this connection's write.
        pr.set("waited", "1")
        assert pr.execute_command("WAIT", "1", "10000") == 1
        assert pr.execute_command("WAIT", "2", "100") == 1      # the timeout answers the count
        # Partial resync: the link is cut, writes continue, the replica comes back.
        p = pr.pipeline(transaction=False)
        p.execute_command("CLIENT", "KILL", "TYPE", "replica")
        p.set("during", "the cut")
        p.execute()
        _wait_for(lambda: pr.info("stats")["sync_partial_ok"] == 1, "+CONTINUE")
        _wait_for(lambda: _in_sync(pr, rr), "equal offsets after +CONTINUE")
        assert rr.get("during") == b"the cut"
        assert pr.info("stats")["sync_full"] == 1
        assert diff(_dataset(pr), _dataset(rr)) == []
    finally:
        if writer is not None:
            writer.stop.set()
        for proc in (replica, primary):
            if proc is not None:
                proc.kill()


def test_full_resync_when_the_backlog_is_exceeded(tmp_path):
    primary = _start_pair(str(tmp_path), "--repl-backlog-size", "16384")
    replica = None
    try:
        pr = primary.client()
        pr.set("k", "v")
        replica = _replica(str(tmp_path), primary)
        rr = replica.client()
        _wait_for(lambda: _in_sync(pr, rr), "the first sync")
        p = pr.pipeline(transaction=False)
        p.execute_command("CLIENT", "KILL", "TYPE", "replica")
        p.set("big", "x" * 40000)         # more than the backlog holds
        p.execute()
        _wait_for(lambda: pr.info("stats")["sync_full"] == 2, "a second full sync")
        _wait_for(lambda: _in_sync(pr, rr), "equal offsets")
        stats = pr.info("stats")
        assert stats["sync_partial_err"] == 1 and stats["sync_partial_ok"] == 0
        assert rr.get("big") == b"x" * 40000
        info = _info(pr)
        assert info["repl_backlog_histlen"] == 16384
        assert info["repl_backlog_first_byte_offset"] == info["master_repl_offset"] - 16384 + 1
        # The same fields, in the same order, as a redis-server primary with one replica.
        reference = redis_server(os.path.join(str(tmp_path), "ref"),
                                 "--repl-diskless-sync-delay", "0").start()
        ref_replica = _replica(str(tmp_path), reference, "ref-r")
        ref = reference.client()
        _wait_for(lambda: _in_sync(ref, ref_replica.client()), "the reference pair")

        def shape(port):
            raw = RawClient(port)
            text = raw.call("INFO", "replication").value.decode()
            raw.close()
            fields = [line.split(":", 1) for line in text.split("\r\n")[1:] if line]
            return [(k, [kv.split("=")[0] for kv in v.split(",")] if k == "slave0" else None)
                    for k, v in fields]
        assert shape(primary.port) == shape(reference.port)
        reference.kill()
        ref_replica.kill()
        # A graceful shutdown waits for the replica to acknowledge the last write.
        p = pr.pipeline(transaction=False)
        p.set("last", "write")
        p.execute_command("SHUTDOWN", "NOSAVE")
        with pytest.raises(redis.ConnectionError):
            p.execute()
        primary.wait_exit()
        assert rr.get("last") == b"write"
    finally:
        for proc in (replica, primary):
            if proc is not None:
                proc.kill()


# -- replies and errors, differential -------------------------------------------------------------

def test_replconf_psync_and_role_replies(pair):
    pair.run("""
    REPLCONF
    REPLCONF listening-port
    REPLCONF listening-port 6380
    REPLCONF listening-port x
    REPLCONF LISTENING-PORT 1 ip-address 10.0.0.1 capa eof capa psync2 capa other
    REPLCONF rdb-only 0
    REPLCONF rdb-only 2
    REPLCONF rdb-only x
    REPLCONF rdb-filter-only functions
    REPLCONF rdb-filter-only "functions other"
    REPLCONF rdb-filter-only ""
    REPLCONF nosuch 1
    REPLCONF capa eof nosuch 1
    PSYNC ? x
    PSYNC a
    SYNC extra
    ROLE
    MULTI
    PSYNC ? -1
    EXEC
    EVAL "return redis.call('replconf', 'capa', 'eof')" 0
    EVAL "return redis.call('psync', '?', '-1')" 0
    """)
    pair.check_error("REPLCONF", "ip-address", "x" * 256)
    pair.check("REPLCONF", "ip-address", "x" * 255)


def test_min_replicas_to_write_refuses_writes(pair):
    try:
        pair.run("""
        CONFIG SET min-replicas-to-write 1
        SET k v
        GET k
        MULTI
        SET k v
        GET k
        EXEC
        MULTI
        GET k
        EXEC
        EVAL "return redis.call('get', 'k')" 0
        EVAL "return redis.call('set', 'k', 'v')" 0
        EVAL "return redis.pcall('set', 'k', 'v')" 0
        CONFIG SET min-replicas-max-lag 0
        SET k v
        CONFIG SET min-replicas-max-lag 10
        CONFIG SET min-replicas-to-write 0
        SET k v
        """)
    finally:
        pair.both("CONFIG", "SET", "min-replicas-to-write", "0")
        pair.both("CONFIG", "SET", "min-replicas-max-lag", "10")


def test_wait_counts_no_replica_and_client_types(pair):
    pair.run("""
    SET k v
    WAIT 0 0
    WAIT 1 1
    CLIENT LIST TYPE replica
    CLIENT LIST TYPE slave
    CLIENT LIST TYPE master
    CLIENT KILL TYPE replica
    CLIENT KILL TYPE master
    CLIENT KILL TYPE slave SKIPME no
    """)


def _held_stream_limit(port: int):
    """A replica that never reads: the stream held for it counts against
    client-output-buffer-limit replica, and crossing the hard limit drops it."""
    c = RawClient(port)
    c.call("CONFIG", "SET", "client-output-buffer-limit", "replica 1mb 0 0")
    c.call("CONFIG", "SET", "repl-diskless-sync", "yes")
    c.call("CONFIG", "SET", "repl-diskless-sync-delay", "0")
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"REPLCONF capa eof\r\n")
    buf = bytearray()
    _read_line(s, buf)
    s.sendall(b"PSYNC ? -1\r\n")
    _wait_for(lambda: b"connected_slaves:1" in c.call("INFO", "replication").value, "the replica")
    for _ in range(30):
        c.call("SET", "big", "x" * 100000)
    gone = _wait_for(lambda: b"connected_slaves:0" in c.call("INFO", "replication").value,
                     "the replica dropped")
    c.call("CONFIG", "SET", "client-output-buffer-limit", "replica 256mb 64mb 60")
    c.call("DEL", "big")
    s.close()
    c.close()
    return gone


def test_replica_output_limit_drops_a_replica_that_does_not_read(ports):
    assert same_on_both(ports, _held_stream_limit)


def test_failover_argument_errors(pair):
    pair.run("""
    FAILOVER ABORT
    FAILOVER abort extra
    FAILOVER TIMEOUT 0
    FAILOVER TIMEOUT -5
    FAILOVER TIMEOUT x
    FAILOVER TIMEOUT 10 TIMEOUT 20
    FAILOVER TO host
    FAILOVER TO host x
    FAILOVER FORCE FORCE
    FAILOVER nosuch
    FAILOVER
    FAILOVER FORCE
    FAILOVER TO 127.0.0.1 1 TIMEOUT 10 FORCE
    """)


def _fake_replica(port: int, capa: bytes = b"eof"):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    buf = bytearray()
    s.sendall(b"REPLCONF capa " + capa + b"\r\n")
    assert _read_line(s, buf) == b"+OK"
    s.sendall(b"PSYNC ? -1\r\n")
    return s, buf


def _shared_snapshot(port: int):
    """repl-diskless-sync-max-replicas: the second replica starts the (otherwise long
    delayed) snapshot, and both get it at the same offset; then an online replica
    that stops acknowledging is dropped after repl-timeout."""
    c = RawClient(port)
    c.call("CONFIG", "SET", "repl-diskless-sync-delay", "60")
    c.call("CONFIG", "SET", "repl-diskless-sync-max-replicas", "2")
    c.call("SET", "k", "v")
    a, abuf = _fake_replica(port)
    _wait_for(lambda: b"connected_slaves:1" in c.call("INFO", "replication").value, "one replica")
    b, bbuf = _fake_replica(port)
    heads = [_read_line(a, abuf).split()[::2], _read_line(b, bbuf).split()[::2]]
    for s, buf in ((a, abuf), (b, bbuf)):
        mark = _read_line(s, buf)[5:]
        while mark not in buf:
            buf += s.recv(1 << 16)
    c.call("CONFIG", "SET", "repl-diskless-sync-delay", "0")
    c.call("CONFIG", "SET", "repl-diskless-sync-max-replicas", "0")
    c.call("CONFIG", "SET", "repl-timeout", "1")
    _wait_for(lambda: b"connected_slaves:0" in c.call("INFO", "replication").value,
              "silent replicas dropped")
    c.call("CONFIG", "SET", "repl-timeout", "60")
    a.close()
    b.close()
    c.close()
    return heads[0] == heads[1], heads[0][0]


def test_diskless_max_replicas_and_repl_timeout(ports):
    assert same_on_both(ports, _shared_snapshot) == (True, b"+FULLRESYNC")


def _cli_rdb(port: int, tmp: str):
    """redis-cli --rdb / --functions-rdb: REPLCONF rdb-only and rdb-filter-only."""
    r = redis.Redis(port=port)
    r.config_set("repl-diskless-sync-delay", 0)
    r.flushall()
    r.set("cli:key", "value")
    r.function_load("#!lua name=clilib\nredis.register_function('clif', function() return 1 end)",
                    replace=True)
    seen = []
    for option in ("--rdb", "--functions-rdb"):
        path = os.path.join(tmp, f"{port}{option}.rdb")
        done = subprocess.run(["redis-cli", "-p", str(port), option, path], capture_output=True,
                              timeout=60)
        with open(path, "rb") as f:
            data = f.read()
        seen.append((done.returncode, data[:5], b"cli:key" in data, b"clilib" in data))
    _wait_for(lambda: r.info("replication")["connected_slaves"] == 0, "rdb-only replicas gone")
    r.function_delete("clilib")
    r.close()
    return seen


def test_redis_cli_rdb_and_functions_rdb(ports, tmp_path):
    assert same_on_both(ports, _cli_rdb, str(tmp_path)) == [
        (0, b"REDIS", True, True), (0, b"REDIS", False, True)]


def _backlog_ttl(port: int):
    """repl-backlog-ttl: the backlog of a primary without replicas is freed, with a new id."""
    c = RawClient(port)
    c.call("CONFIG", "SET", "repl-backlog-ttl", "1")
    s, buf = _fake_replica(port)
    _wait_for(lambda: b"repl_backlog_active:1" in c.call("INFO", "replication").value, "a backlog")
    before = c.call("INFO", "replication").value
    s.close()
    _wait_for(lambda: b"repl_backlog_active:0" in c.call("INFO", "replication").value,
              "the backlog freed")
    after = c.call("INFO", "replication").value
    c.call("CONFIG", "SET", "repl-backlog-ttl", "3600")
    c.close()

    def field(text, name):
        return text.split(name + b":")[1].split(b"\r\n")[0]
    return field(before, b"master_replid") != field(after, b"master_replid"), \
        field(after, b"repl_backlog_histlen")


def test_backlog_freed_after_ttl_without_replicas(ports):
    assert same_on_both(ports, _backlog_ttl) == (True, b"0")


# -- the replication history kept in RDB files ----------------------------------------------

def _start(kind: str, directory: str, *conf: str):
    return (vermilion if kind == "vermilion" else redis_server)(directory, *conf).start()


@pytest.mark.parametrize("kind", ["vermilion", "redis"])
def test_restarted_primary_continues_its_replicas_history(tmp_path, kind):
    """SHUTDOWN's RDB records the primary's replication id and offset: restarted from it,
    the primary accepts its replica's PSYNC, and streams the DEL of a key that expired
    while it was down (Redis 7.0's behaviour; the same scenario runs on both)."""
    require_reference()
    primary = _start(kind, os.path.join(tmp_path, "p"), "--save", "", "--repl-diskless-sync-delay", "0")
    replica = None
    try:
        pr = primary.client()
        replica = _replica(str(tmp_path), primary)
        rr = replica.client()
        pr.set("k", "v")
        pr.rpush("l", 1, 2, 3)
        pr.execute_command("SET", "expiring", "x", "PX", "300")
        expires_at = time.time() + 0.3
        _wait_for(lambda: _in_sync(pr, rr), "the replica in sync")
        before = _info(pr)
        with socket.create_connection(("127.0.0.1", primary.port), timeout=30) as s:
            s.sendall(b"SHUTDOWN SAVE\r\n")
            assert s.recv(64) == b""                # closed, no error reply
        primary.wait_exit()
        _wait_for(lambda: time.time() > expires_at + 0.01, "the key's expiry time")
        primary.start()
        pr = primary.client()
        _wait_for(lambda: _info(pr, "stats")["sync_partial_ok"] == 1, "+CONTINUE after the restart")
        info = _info(pr)
        assert info["master_replid2"] == before["master_replid"]
        assert before["master_repl_offset"] < info["second_repl_offset"] <= info["master_repl_offset"] + 1
        assert _info(pr, "stats")["sync_full"] == 0
        pr.set("after", "restart")
        _wait_for(lambda: _in_sync(pr, rr), "the replica in sync after the restart")
        assert _info(rr)["master_replid"] == info["master_replid"]
        assert rr.get("after") == b"restart" and rr.lrange("l", 0, -1) == [b"1", b"2", b"3"]
        # The DEL of the expired key reached the replica (a replica keeps such keys until then).
        assert rr.dbsize() == pr.dbsize() == 3
    finally:
        for proc in (replica, primary):
            if proc is not None:
                proc.kill()


def test_rdb_replication_fields_read_by_both_servers(tmp_path):
    """The repl-id/repl-offset/repl-stream-db fields of an RDB saved by a primary with a
    replica, written by either server, restore the same history in either server; a
    Redis replica repointed to the server that loaded Redis's RDB continues with PSYNC."""
    require_reference()
    for source in ("redis", "vermilion"):
        base = os.path.join(tmp_path, source)
        primary = _start(source, os.path.join(base, "src"), "--save", "",
                         "--repl-diskless-sync-delay", "0", "--repl-ping-replica-period", "3600")
        replica = None
        loaded: dict = {}
        try:
            pr = primary.client()
            replica = _replica(base, primary)
            rr = replica.client()
            pr.set("a", "1")
            pr.execute_command("SELECT", "5")       # the stream's db is 5 when saved
            pr.set("b", "2")
            _wait_for(lambda: _in_sync(pr, rr), "the replica in sync")
            # The sync's snapshot child may not be reaped yet (either server then
            # answers SAVE with -ERR Background save already in progress).
            _wait_for(lambda: pr.info("persistence")["rdb_bgsave_in_progress"] == 0,
                      "the sync's snapshot child reaped")
            saved = _info(pr)
            pr.execute_command("SAVE")
            primary.kill()
            for kind in ("redis", "vermilion"):
                directory = os.path.join(base, "load-" + kind)
                os.makedirs(directory)
                shutil.copy(os.path.join(base, "src", "dump.rdb"), directory)
                loaded[kind] = _start(kind, directory, "--save", "")
            infos = {kind: _info(proc.client()) for kind, proc in loaded.items()}
            for info in infos.values():
                assert info["master_replid2"] == saved["master_replid"]
                assert info["second_repl_offset"] == saved["master_repl_offset"] + 1
                assert info["master_repl_offset"] == saved["master_repl_offset"]
                assert info["master_replid"] != saved["master_replid"]
            if source == "redis":
                target = loaded["vermilion"]
                rr.execute_command("REPLICAOF", "127.0.0.1", str(target.port))
                tr = target.client()
                _wait_for(lambda: _info(tr, "stats")["sync_partial_ok"] == 1, "+CONTINUE")
                tr.execute_command("SELECT", "5")
                tr.set("c", "3")
                _wait_for(lambda: _in_sync(tr, rr), "the repointed replica in sync")
                assert _info(tr, "stats")["sync_full"] == 0
                assert redis.Redis(port=replica.port, db=5).get("c") == b"3"
        finally:
            for proc in (replica, primary, *loaded.values()):
                if proc is not None:
                    proc.kill()


@pytest.mark.parametrize("kind", ["vermilion", "redis"])
def test_replica_joins_a_running_disk_snapshot(tmp_path, kind):
    """A replica asking for a full sync while a disk snapshot for another one is being
    made shares it: the same +FULLRESYNC offset, the same RDB, then the same stream."""
    require_reference()
    # 30 keys at 30 ms each: the snapshot takes about a second.
    primary = _start(kind, str(tmp_path), "--save", "", "--repl-diskless-sync", "no",
                     "--rdb-key-save-delay", "30000", "--repl-ping-replica-period", "3600")
    try:
        pr = primary.client()
        for i in range(30):
            pr.set(f"k{i}", i)
        socks = []
        for _ in range(2):
            s = socket.create_connection(("127.0.0.1", primary.port), timeout=30)
            s.sendall(b"*3\r\n$8\r\nREPLCONF\r\n$4\r\ncapa\r\n$6\r\npsync2\r\n")
            buf = bytearray()
            assert _read_line(s, buf) == b"+OK"
            socks.append((s, buf))
        first, second = socks
        first[0].sendall(b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n")
        line1 = _read_line(*first)
        assert line1.startswith(b"+FULLRESYNC")
        assert _info(pr, "persistence")["rdb_bgsave_in_progress"] == 1
        pr.set("during", "the snapshot")          # held for the first replica
        second[0].sendall(b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n")
        line2 = _read_line(*second)
        assert line2 == line1                     # same id, same offset
        assert _info(pr, "persistence")["rdb_bgsave_in_progress"] == 1
        pr.set("after", "joining")
        payloads = []
        for s, buf in socks:
            head = _read_line(s, buf)
            while head == b"":
                head = _read_line(s, buf)
            payloads.append(_read_exact(s, buf, int(head[1:])))
        assert payloads[0] == payloads[1] and payloads[0][:5] == b"REDIS"
        for s, buf in socks:
            commands = [_read_command(s, buf) for _ in range(4)]
            # Each replica's setup makes the next write select its database again.
            assert commands == [[b"select", b"0"], [b"set", b"during", b"the snapshot"],
                                [b"select", b"0"], [b"set", b"after", b"joining"]]
            s.close()
        assert _info(pr, "stats")["sync_full"] == 2
    finally:
        primary.kill()


def _debug_replicate_stream(port: int):
    """What a replica attached with SYNC receives around DEBUG REPLICATE (PINGs left out),
    and whether the primary itself ran the command."""
    replica = attach_replica(port)
    client = RawClient(port)
    out = [client.call("SET", "before", "1"),
           client.call("DEBUG", "REPLICATE", "SET", "diverged", "x"),
           client.call("DEBUG", "REPLICATE", "fake-command-1", "a"),
           client.call("DEBUG", "REPLICATE"),
           client.call("SET", "stream:end", "1"),
           client.call("EXISTS", "diverged")]
    seen = read_stream_until(replica, b"stream:end")
    client.close()
    replica.close()
    return out, seen


def test_debug_replicate_feeds_only_the_replicas(private_ports):
    out, seen = same_on_both(private_ports, _debug_replicate_stream)
    assert [b"SET", b"diverged", b"x"] in seen and [b"fake-command-1", b"a"] in seen
    assert out[-1] == (":", 0)


def _publish_stream(port: int):
    """What a replica receives for PUBLISH and SPUBLISH: alone, alone in MULTI (one
    command is not wrapped), with a write in MULTI, and from a script."""
    replica = attach_replica(port)
    client = RawClient(port)
    out = [client.call("SELECT", "3"),
           client.call("PUBLISH", "news", "one")]
    client.call("MULTI")
    client.call("PUBLISH", "news", "two")
    out.append(client.call("EXEC"))
    client.call("MULTI")
    client.call("SPUBLISH", "shard", "three")
    client.call("SET", "k", "v")
    out.append(client.call("EXEC"))
    out.append(client.call("EVAL", "redis.call('publish', 'news', 'four'); return 1", "0"))
    out.append(client.call("SET", "stream:end", "1"))
    seen = read_stream_until(replica, b"stream:end")
    client.close()
    replica.close()
    return out, seen


def test_publish_goes_to_the_replicas(private_ports):
    out, seen = same_on_both(private_ports, _publish_stream)
    assert [b"PUBLISH", b"news", b"one"] in seen and [b"SPUBLISH", b"shard", b"three"] in seen


def _spop_stream(port: int):
    """SPOP with a count: one SREM per member in one MULTI/EXEC (members masked: they
    are random), a whole set popped as DEL."""
    replica = attach_replica(port)
    client = RawClient(port)
    out = [client.call("SADD", "set", "a", "b", "c", "d", "e"),
           client.call("SPOP", "set", "3").kind,
           client.call("SPOP", "set", "1").kind,
           client.call("SPOP", "set", "5").kind,
           client.call("SET", "stream:end", "1")]
    seen = read_stream_until(replica, b"stream:end")
    client.close()
    replica.close()
    return out, [argv[:2] if argv[0].upper() == b"SREM" and len(argv) == 3 else argv
                 for argv in seen]


def test_spop_with_count_propagates_as_redis(private_ports):
    out, seen = same_on_both(private_ports, _spop_stream)
    assert [b"MULTI"] in [[a.upper() for a in argv] for argv in seen]
