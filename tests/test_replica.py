"""Replication, replica side: Vermilion replicating from a real redis-server 7.0.

Every test starts its own servers on loopback ports (a redis-server process, and
Vermilion embedded in this process) and waits on replication state (INFO
fields), never on a fixed delay.
"""
from __future__ import annotations

import contextlib
import random
import re
import threading

import pytest
import redis

import vermilion
from vermilion.patterns import Lock, LockNotReplicated
from vermilion.pytest_plugin import vermilion_replicated_factory
from persistence_support import vermilion as vermilion_process
from rawclient import RawClient
from support import RedisProcess, require_reference, same_on_both, wait_for


def link_up(client) -> bool:
    return client.info("replication").get("master_link_status") == "up"


def wait_caught_up(primary, replica, timeout: float = 30.0) -> int:
    """The replica applied everything the primary produced so far."""
    target = primary.info("replication")["master_repl_offset"]
    wait_for(lambda: replica.info("replication").get("slave_repl_offset", -1) >= target,
             f"replica offset {target}", timeout)
    return target


@contextlib.contextmanager
def synced_replica(primary_port: int, **options):
    """An embedded Vermilion replica of the server on `primary_port`, in sync: (server, client)."""
    with vermilion.embedded(replicaof=("127.0.0.1", primary_port), **options) as server:
        client = server.client()
        server.wait_replicated()
        try:
            yield server, client
        finally:
            client.close()


@pytest.fixture(params=["disk", "diskless"])
def redis_primary(request):
    binary = require_reference()
    proc = RedisProcess(binary, "--repl-diskless-sync", "yes" if request.param == "diskless" else "no",
                        "--repl-diskless-sync-delay", "0")
    yield proc
    proc.stop()


@pytest.fixture
def plain_redis_primary():
    proc = RedisProcess(require_reference(), "--repl-diskless-sync-delay", "0")
    yield proc
    proc.stop()


def fill(r) -> None:
    """Every data type, in small and large encodings, streams with groups and PELs."""
    r.set("str", "hello")
    r.set("int", 12345)
    r.set("ttl", "v", ex=1000)
    r.rpush("list:small", *"abc")
    r.rpush("list:big", *range(300))
    r.hset("hash:small", mapping={"f1": "v1", "f2": 2})
    r.hset("hash:big", mapping={f"f{i}": "x" * (i % 70) for i in range(200)})
    r.sadd("set:int", *range(50))
    r.sadd("set:str", *[f"m{i}" for i in range(200)])
    r.zadd("zset:small", {"a": 1, "b": 2.5, "c": -3})
    r.zadd("zset:big", {f"m{i}": i / 7 for i in range(300)})
    r.pfadd("hll", *[f"e{i}" for i in range(100)])
    for i in range(40):
        r.xadd("stream", {"n": i, "pad": "x" * (i % 5)})
    r.xgroup_create("stream", "g1", id="0")
    r.xgroup_create("stream", "g2", id="$")
    r.xreadgroup("g1", "alice", {"stream": ">"}, count=10)
    r.xreadgroup("g1", "bob", {"stream": ">"}, count=5)
    pending = r.xpending_range("stream", "g1", "-", "+", 3)
    r.xack("stream", "g1", *[p["message_id"] for p in pending])
    r.execute_command("SELECT", 0)
    other = redis.Redis(port=r.connection_pool.connection_kwargs["port"], db=3)
    other.set("in-db-3", "yes")
    other.hset("h3", "a", "b")
    other.close()


class Writer(threading.Thread):
    """Writes of every kind against the primary until stopped (MULTI, scripts, SELECT)."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port = port
        self.stop_event = threading.Event()
        self.count = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        r = redis.Redis(port=self.port)
        r3 = redis.Redis(port=self.port, db=3)
        try:
            i = 0
            while not self.stop_event.is_set():
                i += 1
                p = r.pipeline(transaction=(i % 3 == 0))
                p.incr("counter")
                p.xadd("stream", {"w": i})
                p.hincrby("hash:small", "f2", 1)
                p.lpush("list:big", i)
                p.ltrim("list:big", 0, 400)
                p.zincrby("zset:big", 1.5, f"m{i % 300}")
                p.sadd("set:str", f"w{i}")
                p.set(f"short:{i}", i, px=30)          # expires on the primary: DELs follow
                p.execute()
                r.eval("redis.call('set', KEYS[1], ARGV[1]); return redis.call('incr', KEYS[2])",
                       2, "script:last", "script:n", i)
                r3.rpush("l3", i)
                if i % 7 == 0:
                    r.xreadgroup("g1", "carol", {"stream": ">"}, count=2)
                self.count += 1
        except BaseException as err:  # reported by the test
            self.error = err
        finally:
            r.close()
            r3.close()

    def finish(self) -> None:
        self.stop_event.set()
        self.join(30)
        if self.error is not None:
            raise self.error


def _groups(client, key):
    out = []
    for g in client.xinfo_groups(key):
        name = g["name"]
        pending = client.xpending_range(key, name, "-", "+", 10000)
        consumers = sorted((c["name"], c["pending"]) for c in client.xinfo_consumers(key, name))
        # entries-read is left out: Redis propagates XREADGROUP as XCLAIM ... LASTID,
        # which does not carry it, so a real Redis replica shows it as nil too.
        out.append((name, g["last-delivered-id"], g["pending"],
                    [(p["message_id"], p["consumer"], p["times_delivered"]) for p in pending],
                    consumers))
    return out


def assert_same_dataset(primary, replica) -> int:
    """Every key of every database equal: DEBUG DIGEST-VALUE per key (Redis's own
    digest), TTLs, and for streams the consumer groups, PELs and consumers, which
    Redis's digest leaves out."""
    assert primary.execute_command("DEBUG", "DIGEST") == replica.execute_command("DEBUG", "DIGEST")
    compared = 0
    for db in range(16):
        p = redis.Redis(port=primary.connection_pool.connection_kwargs["port"], db=db)
        r = redis.Redis(port=replica.connection_pool.connection_kwargs["port"], db=db)
        try:
            keys = sorted(p.keys("*"))
            assert sorted(r.keys("*")) == keys, f"db {db}"
            for key in keys:
                assert r.execute_command("DEBUG", "DIGEST-VALUE", key) == \
                    p.execute_command("DEBUG", "DIGEST-VALUE", key), key
                assert r.type(key) == p.type(key)
                if p.type(key) == b"stream":
                    assert _groups(r, key) == _groups(p, key), key
                    assert r.xinfo_stream(key)["last-generated-id"] == \
                        p.xinfo_stream(key)["last-generated-id"]
                compared += 1
        finally:
            p.close()
            r.close()
    return compared


def test_replicates_redis_every_type_during_writes(redis_primary):
    primary = redis.Redis(port=redis_primary.port)
    fill(primary)
    writer = Writer(redis_primary.port)
    writer.start()
    wait_for(lambda: writer.count >= 20, what="writes before the sync")
    with vermilion.embedded(replicaof=("127.0.0.1", redis_primary.port),
                            config={"enable-debug-command": "yes"}) as server:
        replica = server.client()
        server.wait_replicated()
        done = writer.count
        wait_for(lambda: writer.count >= done + 30, what="writes after the sync")
        writer.finish()
        # Freeze the primary's expiry so both datasets stand still for the comparison.
        primary.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        offset = wait_caught_up(primary, replica)
        # The writer's 30 ms keys: once the primary hides them all, so does the replica
        # (same clock), and KEYS agrees on both; they are still in both datasets.
        wait_for(lambda: not primary.keys("short:*"), what="short keys logically expired")
        assert assert_same_dataset(primary, replica) > 10
        info = replica.info("replication")
        assert info["role"] == "slave" and info["master_port"] == redis_primary.port
        assert info["slave_repl_offset"] == offset and info["master_sync_in_progress"] == 0
        assert info["master_replid"] == primary.info("replication")["master_replid"]
        role = replica.execute_command("ROLE")
        assert role[:4] == [b"slave", b"127.0.0.1", redis_primary.port, b"connected"]
        assert role[4] == offset
        # The primary sees us with our listening port, online, acknowledging our offset.
        seen = wait_for(lambda: [v for k, v in primary.info("replication").items()
                                 if k.startswith("slave") and isinstance(v, dict)
                                 and v.get("offset") == offset], what="the replica's ACK")
        assert seen[0]["port"] == server.port and seen[0]["state"] == "online"
        replica.close()
    primary.close()


def test_replica_refuses_writes_and_hides_expired_keys(plain_redis_primary):
    primary = redis.Redis(port=plain_redis_primary.port)
    primary.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    primary.set("soon", "v", px=200)
    primary.set("kept", "v")
    with synced_replica(plain_redis_primary.port, config={"enable-debug-command": "yes"}) \
            as (server, replica):
        with pytest.raises(redis.ReadOnlyError, match="You can't write against a read only replica"):
            replica.set("x", 1)
        # Inside MULTI the refusal aborts the transaction, as on Redis.
        one = server.client(single_connection_client=True)
        assert one.execute_command("MULTI") == b"OK"
        with pytest.raises(redis.ReadOnlyError):
            one.execute_command("SET", "x", 1)
        with pytest.raises(redis.exceptions.ExecAbortError, match="previous errors"):
            one.execute_command("EXEC")
        one.close()
        assert replica.get("kept") == b"v"
        # Scripts run, but their writes are refused (Redis's scriptCall), pcall included.
        with pytest.raises(redis.ReadOnlyError, match="read only replica. script: "):
            replica.eval("return redis.call('set', 'x', 1)", 0)
        with pytest.raises(redis.ReadOnlyError, match="^You can't write against a read only replica.$"):
            replica.eval("return redis.pcall('set', 'x', 1)", 0)
        assert replica.eval("#!lua flags=no-writes\nreturn redis.call('get', 'kept')", 0) == b"v"
        with pytest.raises(redis.ReadOnlyError, match="^You can't write against a read only replica.$"):
            replica.eval("#!lua\nreturn redis.call('get', 'kept')", 0)    # may write: not run
        # Logically expired: hidden from reads, but the key stays until the primary's DEL.
        wait_for(lambda: replica.get("soon") is None, what="expiry on the replica's clock")
        assert replica.dbsize() == 2 and replica.exists("soon") == 0
        assert primary.dbsize() == 2    # the primary has not deleted it either
        primary.get("soon")             # the primary expires it now and propagates DEL
        wait_for(lambda: replica.dbsize() == 1, what="the primary's DEL")
        replica.close()
    primary.close()


def test_partial_resync_after_link_drops(plain_redis_primary):
    primary = redis.Redis(port=plain_redis_primary.port)
    primary.set("a", 1)
    with synced_replica(plain_redis_primary.port) as (server, replica):
        wait_caught_up(primary, replica)
        full_before = primary.info("stats")["sync_full"]
        # The stream selected db 3 before the link drops, and does not select it again.
        primary3 = redis.Redis(port=plain_redis_primary.port, db=3)
        primary3.set("in-3", "before")
        wait_caught_up(primary, replica)
        # The primary drops us; we come back with PSYNC <replid> <offset+1>.
        primary.client_kill_filter(_type="replica")
        primary3.set("in-3", "after")
        primary.set("b", 2)
        wait_for(lambda: primary.info("stats")["sync_partial_ok"] >= 1, what="a partial resync")
        wait_for(lambda: link_up(replica), what="link up")
        wait_caught_up(primary, replica)
        assert replica.mget("a", "b") == [b"1", b"2"]
        with redis.Redis(port=server.port, db=3) as replica3:
            assert replica3.get("in-3") == b"after"
        primary3.close()
        # We drop the link ourselves: partial again.
        replica.client_kill_filter(_type="master")
        primary.set("c", 3)
        wait_for(lambda: primary.info("stats")["sync_partial_ok"] >= 2, what="a second partial resync")
        wait_caught_up(primary, replica)
        assert replica.get("c") == b"3"
        assert primary.info("stats")["sync_full"] == full_before
        replica.close()
    primary.close()


def test_replicaof_no_one_promotes_and_shifts_ids(plain_redis_primary):
    primary = redis.Redis(port=plain_redis_primary.port)
    primary.set("a", 1)
    with synced_replica(plain_redis_primary.port) as (server, replica):
        offset = wait_caught_up(primary, replica)
        old_id = primary.info("replication")["master_replid"]
        assert replica.execute_command("REPLICAOF", "127.0.0.1", plain_redis_primary.port) == \
            b"OK Already connected to specified master"
        assert replica.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
        info = replica.info("replication")
        assert info["role"] == "master" and info["master_replid2"] == old_id
        assert info["second_repl_offset"] == offset + 1 and info["master_replid"] != old_id
        assert replica.set("written", "after promotion")
        assert replica.execute_command("ROLE")[0] == b"master"
        assert replica.get("a") == b"1"
        # Redis, now pointed at us, continues its history from our replid2.
        primary.replicaof("127.0.0.1", server.port)
        wait_for(lambda: link_up(primary), what="redis replicating from vermilion")
        replica.close()
    primary.close()


def test_stale_data_and_link_down_fields():
    with vermilion.embedded() as nowhere:
        dead_port = nowhere.port
    with vermilion.embedded(replicaof=("127.0.0.1", dead_port)) as server:
        r = server.client()
        info = wait_for(lambda: (lambda i: i if "master_link_down_since_seconds" in i else None)(
            r.info("replication")), what="INFO of a replica whose master is down")
        assert info["master_link_status"] == "down" and info["master_last_io_seconds_ago"] == -1
        assert info["slave_repl_offset"] == 1 and info["master_link_down_since_seconds"] == -1
        assert r.execute_command("ROLE")[3] in (b"connect", b"connecting")
        assert r.get("k") is None       # serve-stale-data yes (the default): served
        r.config_set("replica-serve-stale-data", "no")
        with pytest.raises(redis.ResponseError, match="^Link with MASTER is down and "
                                                      "replica-serve-stale-data is set to 'no'.$"):
            r.get("k")
        assert r.echo("x") == b"x" and r.info("replication")["role"] == "slave"   # stale-flagged commands run
        with pytest.raises(redis.ResponseError, match="^Link with MASTER is down"):
            r.ping()                    # PING is not flagged stale
        r.close()


def test_writable_replica_expires_its_own_keys():
    with vermilion.embedded() as nowhere:
        dead_port = nowhere.port
    with vermilion.embedded(replicaof=("127.0.0.1", dead_port)) as server:
        r = server.client()
        r.config_set("replica-read-only", "no")
        before = r.info("stats")["expired_keys"]
        r.set("mine", "v", px=1)
        # Written here, so expired here by the active cycle (the master would never DEL it).
        wait_for(lambda: r.info("stats")["expired_keys"] == before + 1, what="active expiry")
        assert r.get("mine") is None and r.dbsize() == 0
        r.close()


def test_replicaof_errors():
    with vermilion.embedded() as server:
        r = server.client()
        for port in ("x", "70000", "-1"):
            with pytest.raises(redis.ResponseError, match="^Invalid master port$"):
                r.execute_command("REPLICAOF", "127.0.0.1", port)
        with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
            r.execute_command("SLAVEOF", "no", "one", "x")
        assert r.execute_command("SLAVEOF", "no", "one") is True   # redis-py reads +OK as True
        assert r.execute_command("ROLE")[0] == b"master"
        r.close()


def test_lock_waits_for_replicas():
    with vermilion.embedded_replicated(1) as servers:
        primary = servers.primary.client()
        lock = Lock(primary, "wait-lock", ttl=30, min_replicas=1, replica_timeout=10)
        fence = lock.acquire(blocking=False)
        assert fence is not None
        replica = servers.replicas[0].client()
        assert replica.get(lock.key) is not None   # acknowledged: on the replica already
        assert lock.release()
        # Two replicas cannot acknowledge: the grant is taken back.
        greedy = Lock(primary, "wait-lock", ttl=30, min_replicas=2, replica_timeout=0.05)
        with pytest.raises(LockNotReplicated) as err:
            greedy.acquire(blocking=False)
        assert err.value.acked < 2 and primary.get(lock.key) is None
        primary.close()
        replica.close()


def test_replica_restart_continues_from_its_rdb(plain_redis_primary, tmp_path):
    """A replica's shutdown RDB records its primary's id, offset and selected db: restarted
    from it, the replica continues with PSYNC (the primary counts a partial sync), as a
    restarted Redis replica does."""
    primary = redis.Redis(port=plain_redis_primary.port)
    fill(primary)
    options = dict(replicaof=("127.0.0.1", plain_redis_primary.port), dir=str(tmp_path),
                   config={"enable-debug-command": "yes", "save": "3600 1"})
    with vermilion.embedded(**options) as server:
        server.wait_replicated()
        wait_caught_up(primary, server.client())
    primary.set("while-down", 1)
    primary.delete("str")
    with vermilion.embedded(**options) as server:
        server.wait_replicated()
        replica = server.client()
        wait_caught_up(primary, replica)
        stats = primary.info("stats")
        assert (stats["sync_full"], stats["sync_partial_ok"]) == (1, 1)
        assert assert_same_dataset(primary, replica) > 10
        assert replica.get("while-down") == b"1" and replica.exists("str") == 0
        replica.close()
    primary.close()


def test_vermilion_to_vermilion_chained_and_failover():
    debug = {"enable-debug-command": "yes"}
    with vermilion.embedded_replicated(1, config=debug) as servers:
        primary = servers.primary.client()
        fill(primary)
        replica_server = servers.replicas[0]
        # A replica of the replica sees the primary's stream byte for byte.
        with vermilion.embedded(replicaof=replica_server, config=debug) as sub_server:
            sub_server.wait_replicated()
            sub = sub_server.client()
            primary.set("late", "write")
            servers.wait_in_sync()
            offset = primary.info("replication")["master_repl_offset"]
            wait_for(lambda: sub.info("replication")["slave_repl_offset"] == offset,
                     what="the chained replica")
            assert sub.info("replication")["master_replid"] == \
                primary.info("replication")["master_replid"]
            assert sub.get("late") == b"write"
            assert sub.execute_command("DEBUG", "DIGEST") == primary.execute_command("DEBUG", "DIGEST")
            # FAILOVER TO the replica: the primary hands over and follows it.
            assert primary.execute_command("FAILOVER", "TO", "127.0.0.1", replica_server.port,
                                           "TIMEOUT", 10000) == b"OK"
            wait_for(lambda: (lambda i: i["role"] == "slave" and i["master_link_status"] == "up"
                              and i["master_failover_state"] == "no-failover")(
                primary.info("replication")), what="the old primary following the new one")
            new_primary = replica_server.client()
            assert new_primary.info("replication")["role"] == "master"
            new_primary.set("after", "failover")
            wait_for(lambda: primary.get("after") == b"failover" and sub.get("after") == b"failover",
                     what="writes on the new primary reaching both")
            sub.close()
            new_primary.close()
        primary.close()


def test_loading_while_syncing_and_masterauth(tmp_path):
    """-LOADING for data commands while the RDB loads (key-load-delay slows it down, as
    in Redis's own tests), INFO and PING still served; AUTH with masteruser/masterauth.
    The replica is a process of its own: its loader sleeps per key."""
    proc = RedisProcess(require_reference(), "--repl-diskless-sync-delay", "0",
                        "--requirepass", "secret")
    server = vermilion_process(str(tmp_path), "--save", "", "--masterauth", "secret",
                               "--masteruser", "default", "--key-load-delay", "100000")
    try:
        primary = redis.Redis(port=proc.port, password="secret")
        primary.execute_command("DEBUG", "POPULATE", 20)
        server.start()
        replica = server.client()
        replica.set("old", "data")      # dropped by the full sync
        assert replica.replicaof("127.0.0.1", proc.port)
        # Loading takes 20 x 100 ms: caught in its first half, there is time to ask.
        wait_for(lambda: (lambda i: i["loading"] == 1 and float(i["loading_loaded_perc"]) < 50)(
            replica.info("persistence")), what="loading")
        # A raw connection: redis-py retries LOADING replies by itself.
        raw = RawClient(server.port)
        assert raw.call("GET", "key:1") == ("-", b"LOADING Redis is loading the dataset in memory")
        # PING too, as on Redis (it has no `loading` flag); INFO answers.
        assert raw.call("PING") == ("-", b"LOADING Redis is loading the dataset in memory")
        assert b"master_sync_in_progress:1" in raw.call("INFO", "replication").value
        raw.close()
        wait_for(lambda: link_up(replica), what="the link")
        assert replica.dbsize() == 20 and replica.get("key:1") == b"value:1"
        assert replica.get("old") is None
        wait_caught_up(primary, replica)
        replica.close()
        primary.close()
    finally:
        server.kill()
        proc.stop()


replicated = vermilion_replicated_factory(2, scope="module")


def test_pytest_helper_starts_a_synced_primary_with_replicas(replicated):
    primary = replicated.primary.client()
    primary.set("through", "the fixture")
    replicated.wait_in_sync()
    for server in replicated.replicas:
        with server.client() as replica:
            assert replica.get("through") == b"the fixture"
            assert replica.info("replication")["master_port"] == replicated.primary.port
    assert primary.info("replication")["connected_slaves"] == 2
    primary.close()


def test_info_and_role_as_a_redis_replica_shows_them(plain_redis_primary):
    """The same primary, a redis-server replica and a Vermilion replica: INFO replication
    lists the same fields in the same order, and ROLE has the same shape."""
    primary = redis.Redis(port=plain_redis_primary.port)
    primary.set("k", "v")
    reference = RedisProcess(require_reference(), "--replicaof", "127.0.0.1",
                             str(plain_redis_primary.port))
    try:
        with vermilion.embedded(replicaof=("127.0.0.1", plain_redis_primary.port)) as server:
            ours = server.client()
            theirs = redis.Redis(port=reference.port)
            for replica in (ours, theirs):
                wait_for(lambda r=replica: link_up(r), what="both replicas in sync")
            wait_caught_up(primary, ours)
            wait_caught_up(primary, theirs)
            mine, ref = ours.info("replication"), theirs.info("replication")
            assert list(mine) == list(ref)          # the same fields, in the same order
            for field in ("role", "master_host", "master_port", "master_link_status",
                          "master_sync_in_progress", "slave_repl_offset", "slave_priority",
                          "slave_read_only", "replica_announced", "connected_slaves",
                          "master_replid", "master_repl_offset", "repl_backlog_active"):
                assert mine[field] == ref[field], field
            role_mine, role_ref = ours.execute_command("ROLE"), theirs.execute_command("ROLE")
            assert role_mine[:4] == role_ref[:4] and role_mine[4] == role_ref[4]
            theirs.close()
            ours.close()
    finally:
        reference.stop()
        primary.close()


def test_repointed_replica_continues_with_partial_resync():
    """What Sentinel does after a promotion: the other replica, pointed at the promoted
    one, continues its history there (PSYNC from the master it leaves, now cached)."""
    with vermilion.embedded_replicated(2) as servers:
        primary = servers.primary.client()
        primary.set("a", 1)
        servers.wait_in_sync()
        primary.close()
        # The primary fails, as when Sentinel promotes: while it lived, a ping could reach one
        # replica before the other, and a replica ahead of the promoted one needs a full sync.
        servers.primary.stop()
        promoted, other = (s.client() for s in servers.replicas)
        wait_for(lambda: not link_up(promoted) and not link_up(other), what="both links down")
        assert (promoted.info("replication")["slave_repl_offset"]
                == other.info("replication")["slave_repl_offset"])
        assert promoted.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
        other.replicaof("127.0.0.1", servers.replicas[0].port)
        wait_for(lambda: link_up(other) and
                 other.info("replication")["master_port"] == servers.replicas[0].port,
                 what="the other replica on the promoted one")
        stats = promoted.info("stats")
        assert stats["sync_partial_ok"] == 1 and stats["sync_full"] == 0
        promoted.set("b", 2)
        wait_for(lambda: other.get("b") == b"2", what="the new primary's writes")
        for c in (promoted, other):
            c.close()


def test_replicaof_unblocks_blocked_clients():
    with vermilion.embedded() as nowhere:
        dead_port = nowhere.port
    with vermilion.embedded() as server:
        blocked = RawClient(server.port)
        blocked.send("BLPOP", "list", "0")
        r = server.client()
        wait_for(lambda: r.info("clients")["blocked_clients"] == 1, what="the BLPOP to block")
        assert r.replicaof("127.0.0.1", dead_port)
        assert blocked.read() == ("-", b"UNBLOCKED force unblock from blocking operation, "
                                       b"instance state changed (master -> replica?)")
        blocked.close()
        r.close()


def test_client_pause_holds_the_master_stream(plain_redis_primary):
    # As Redis: CLIENT PAUSE WRITE on a replica holds the master's writes too; they are
    # received (slave_read_repl_offset) but applied only after the pause, in order.
    primary = redis.Redis(port=plain_redis_primary.port)
    with synced_replica(plain_redis_primary.port) as (server, replica):
        primary.set("foo", "bar")
        applied = wait_caught_up(primary, replica)
        assert applied > 0
        replica.execute_command("CLIENT", "PAUSE", "100000", "WRITE")
        primary.set("foo2", "bar2")
        primary.incr("n")
        target = primary.info("replication")["master_repl_offset"]
        wait_for(lambda: replica.info("replication")["slave_read_repl_offset"] == target,
                 "the stream received")
        assert replica.info("replication")["slave_repl_offset"] == applied
        assert replica.get("foo2") is None
        replica.execute_command("CLIENT", "UNPAUSE")
        wait_caught_up(primary, replica)
        assert replica.get("foo2") == b"bar2" and replica.get("n") == b"1"
    primary.close()


def _script_outlives_its_replica(port: int):
    """min-replicas-to-write 1: a script writes, then loops until the replica is gone and
    writes again. The replica leaving is seen while the script is busy, and the second
    write is not refused (a script that wrote is not failed halfway)."""
    primary = redis.Redis(port=port)
    caller = redis.Redis(port=port)
    primary.config_set("busy-reply-threshold", 10)
    result = {}
    try:
        with synced_replica(port) as (server, replica):
            wait_for(lambda: primary.info("replication")["connected_slaves"] == 1, "the replica")
            primary.config_set("min-replicas-to-write", 1)

            def writable():
                try:
                    return primary.set("probe", 1)
                except redis.exceptions.ResponseError:
                    return False        # NOREPLICAS until the replica counts as good

            wait_for(writable, "the replica to count as good")
            script = """
                redis.call('set', KEYS[1], 'script value')
                while true do
                    local info = redis.call('info', 'replication')
                    if string.match(info, 'connected_slaves:0') then
                        redis.call('set', KEYS[1], 'after')
                        break
                    end
                end
                return 1"""
            worker = threading.Thread(target=lambda: result.update(r=caller.eval(script, 1, "x")))
            worker.start()

            def busy():
                try:
                    primary.ping()
                except redis.exceptions.BusyLoadingError:
                    return True
                except redis.exceptions.ResponseError as e:
                    return str(e).startswith("BUSY")
                return False

            wait_for(busy, "the script to be busy")
            replica.execute_command("REPLICAOF", "NO", "ONE")
            worker.join(30)
        return result.get("r"), primary.get("x")
    finally:
        primary.config_set("min-replicas-to-write", 0)
        primary.config_set("busy-reply-threshold", 5000)
        primary.close()
        caller.close()


def test_script_outlives_its_replica(private_ports):
    assert same_on_both(private_ports, _script_outlives_its_replica) == (1, b"after")


@pytest.mark.parametrize("kind", ["vermilion", "redis"])
def test_repl_diskless_load_decides_where_the_rdb_goes(plain_redis_primary, tmp_path, kind):
    """repl-diskless-load: `disabled` (the default) keeps the primary's RDB as dbfilename,
    with the primary's history in it; `swapdb` loads it from memory; `on-empty-db` writes
    it only when the replica had keys. The same steps on a Vermilion and a Redis replica."""
    from persistence_support import redis_server
    primary = redis.Redis(port=plain_redis_primary.port)
    primary.set("from-primary", 1)
    start = vermilion_process if kind == "vermilion" else redis_server
    server = start(str(tmp_path), "--save", "").start()
    dump = tmp_path / "dump.rdb"
    replica = server.client()
    try:
        full = 0
        for mode, own_key, written in (("disabled", False, True), ("swapdb", True, False),
                                       ("on-empty-db", True, True), ("on-empty-db", False, False)):
            replica.execute_command("REPLICAOF", "NO", "ONE")
            replica.flushall()
            if own_key:
                replica.set("own", 1)
            if dump.exists():
                dump.unlink()
            replica.config_set("repl-diskless-load", mode)
            replica.execute_command("REPLICAOF", "127.0.0.1", str(plain_redis_primary.port))
            full += 1
            wait_for(lambda: link_up(replica) and primary.info("stats")["sync_full"] == full,
                     f"a full sync with {mode}")
            assert replica.get("from-primary") == b"1" and replica.exists("own") == 0
            assert dump.exists() == written, mode
            if written:     # the primary's snapshot: its id (its first replica made it)
                assert primary.info("replication")["master_replid"].encode() in dump.read_bytes()
    finally:
        replica.close()
        server.kill()
        primary.close()


def test_bind_source_addr_is_the_address_the_master_sees():
    # As a Redis replica with the same setting: the master lists it from 127.0.0.2 (which
    # Redis's protected mode does not count as loopback).
    proc = RedisProcess(require_reference(), "--protected-mode", "no")
    primary = redis.Redis(port=proc.port)
    try:
        with synced_replica(proc.port, config={"bind-source-addr": "127.0.0.2"}):
            wait_for(lambda: primary.info("replication").get("connected_slaves") == 1,
                     "the replica")
            assert primary.info("replication")["slave0"]["ip"] == "127.0.0.2"
    finally:
        primary.close()
        proc.stop()


def _slow_snapshot_primary(sync: str) -> RedisProcess:
    """A redis-server whose snapshot for replicas takes about a second (rdb-key-save-delay
    per key), holding values far larger than one socket read."""
    proc = RedisProcess(require_reference(), "--repl-diskless-sync", "yes" if sync == "diskless" else "no",
                        "--repl-diskless-sync-delay", "0")
    r = redis.Redis(port=proc.port)
    fill(r)
    r.set("big:str", b"\x01\x02" * 1_500_000)
    r.hset("big:hash", mapping={f"f{i}": "v" * 300 for i in range(5000)})
    r.rpush("big:list", *[b"x" * 1000 for _ in range(3000)])
    # A Redis replica loading from the socket answers clients every 2 MB it loads: these
    # keep the transfer long enough, and its bytes spread, for both replicas to be seen
    # loading while the primary still writes the snapshot.
    # (Random bytes: LZF would shrink repeated ones to nothing.)
    rnd = random.Random(5)
    pipe = r.pipeline(transaction=False)
    for i in range(250):
        pipe.set(f"k:{i}", rnd.randbytes(65536))
    pipe.execute()
    if sync == "diskless":
        r.config_set("rdb-key-save-delay", 5000)    # microseconds per key
    r.close()
    return proc


@pytest.mark.parametrize("kind,sync", [("vermilion", "diskless"), ("redis", "diskless"),
                                       ("vermilion", "disk")])
def test_diskless_load_parses_the_rdb_as_it_arrives(tmp_path, kind, sync):
    """repl-diskless-load on-empty-db: a replica with no keys loads the primary's RDB from
    the socket. From a disk-less primary it is loading while the primary is still
    producing the snapshot (it does not wait for the whole file), as a Redis replica is;
    values spanning many reads arrive whole and every key is equal after the sync."""
    from persistence_support import redis_server
    proc = _slow_snapshot_primary(sync)
    primary = redis.Redis(port=proc.port)
    start = vermilion_process if kind == "vermilion" else redis_server
    server = start(str(tmp_path), "--save", "", "--repl-diskless-load", "on-empty-db").start()
    replica = server.client()
    try:
        replica.execute_command("REPLICAOF", "127.0.0.1", str(proc.port))
        if sync == "diskless":
            # The replica's state first: if it loads while the primary's snapshot child
            # still runs, it loaded before the primary had sent the whole file.
            wait_for(lambda: replica.info("persistence")["loading"] == 1 and
                     primary.info("persistence")["rdb_bgsave_in_progress"] == 1,
                     "the replica loading during the primary's snapshot",
                     ignore=(redis.exceptions.BusyLoadingError,))
        wait_for(lambda: link_up(replica), "the sync", timeout=120)
        primary.config_set("rdb-key-save-delay", 0)
        wait_caught_up(primary, replica)
        assert assert_same_dataset(primary, replica) > 250
        assert not (tmp_path / "dump.rdb").exists()     # loaded from the socket
    finally:
        replica.close()
        server.kill()
        primary.close()
        proc.stop()


def _sync_temp_file(directory):
    """(path, inode) of the replica's temp-<time>.<pid>.rdb holding bytes, or None."""
    for path in directory.iterdir():
        if re.fullmatch(r"temp-\d+\.\d+\.rdb", path.name):
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            if st.st_size:
                return path, st.st_ino
    return None


@pytest.mark.parametrize("kind", ["vermilion", "redis"])
def test_disk_load_writes_the_rdb_to_a_temp_file_as_it_arrives(tmp_path, kind):
    """repl-diskless-load disabled (the default): the primary's RDB goes to
    temp-<time>.<pid>.rdb in `dir` as it arrives, while the replica still serves its old
    data; a transfer cut short removes it; a complete one is renamed to dbfilename and
    loaded from there, no temp file left. The same on a Redis replica."""
    from persistence_support import redis_server
    proc = _slow_snapshot_primary("diskless")
    primary = redis.Redis(port=proc.port)
    start = vermilion_process if kind == "vermilion" else redis_server
    server = start(str(tmp_path), "--save", "", "--repl-diskless-load", "disabled").start()
    replica = server.client()
    try:
        replica.set("old", "mine")
        replica.execute_command("REPLICAOF", "127.0.0.1", str(proc.port))

        def receiving():
            found = _sync_temp_file(tmp_path)
            # The primary's snapshot child still running after the GET: the transfer was
            # not complete when the replica served its old data.
            return found if found and replica.get("old") == b"mine" and \
                primary.info("persistence")["rdb_bgsave_in_progress"] == 1 else None

        path, inode = wait_for(receiving, "the RDB arriving in a temp file")
        assert replica.info("persistence")["loading"] == 0
        primary.client_kill_filter(_type="replica")
        primary.config_set("rdb-key-save-delay", 0)

        def removed():
            try:
                return path.stat().st_ino != inode
            except FileNotFoundError:
                return True
        wait_for(removed, "the cut transfer's temp file removed")
        wait_for(lambda: link_up(replica), "the sync", timeout=120,
                 ignore=(redis.exceptions.BusyLoadingError,))
        wait_caught_up(primary, replica)
        assert assert_same_dataset(primary, replica) > 250
        assert replica.exists("old") == 0
        assert _sync_temp_file(tmp_path) is None
        assert not [p for p in tmp_path.iterdir() if p.name.startswith("temp-")]
        # dbfilename is the primary's snapshot, with the primary's history.
        assert primary.info("replication")["master_replid"].encode() in \
            (tmp_path / "dump.rdb").read_bytes()
    finally:
        replica.close()
        server.kill()
        primary.close()
        proc.stop()


@pytest.mark.parametrize("kind", ["vermilion", "redis"])
def test_a_cut_full_sync_keeps_sub_replicas_and_the_cached_master(plain_redis_primary, tmp_path,
                                                                 kind):
    """A replica that starts a full sync from another primary (disk-based load) keeps its own
    replicas and its cached primary until the transfer is complete, as Redis 7.0 does: when
    the transfer is cut, its replica is still attached with the same history, and going back
    to the first primary continues with PSYNC."""
    from persistence_support import redis_server
    first = redis.Redis(port=plain_redis_primary.port)
    first.set("a", "b")
    start = vermilion_process if kind == "vermilion" else redis_server
    server = start(str(tmp_path / "middle"), "--save", "").start()
    middle = server.client()
    sub = RedisProcess(require_reference())
    sub_client = redis.Redis(port=sub.port)
    other = _slow_snapshot_primary("diskless")
    other_client = redis.Redis(port=other.port)
    try:
        middle.execute_command("REPLICAOF", "127.0.0.1", str(plain_redis_primary.port))
        wait_for(lambda: link_up(middle), "the middle replica's sync")
        sub_client.execute_command("REPLICAOF", "127.0.0.1", str(server.port))
        wait_for(lambda: link_up(sub_client) and sub_client.get("a") == b"b", "the sub-replica")
        middle.execute_command("REPLICAOF", "127.0.0.1", str(other.port))
        wait_for(lambda: other_client.info("persistence")["rdb_bgsave_in_progress"] == 1 and
                 "wait_bgsave" in str(other_client.info("replication").get("slave0", "")),
                 "the full sync from the other primary started")
        other.stop()
        replid = first.info("replication")["master_replid"]
        assert middle.info("replication")["master_replid"] == replid
        assert sub_client.info("replication")["master_replid"] == replid
        assert middle.info("replication")["connected_slaves"] == 1
        partial = first.info("stats")["sync_partial_ok"]
        middle.execute_command("REPLICAOF", "127.0.0.1", str(plain_redis_primary.port))
        wait_for(lambda: link_up(middle), "the middle replica back")
        assert first.info("stats")["sync_partial_ok"] == partial + 1
        assert middle.info("stats")["sync_full"] == 1 and middle.info("stats")["sync_partial_ok"] == 0
        first.set("after", 1)
        wait_for(lambda: sub_client.get("after") == b"1", "the write through the chain")
    finally:
        for c in (middle, sub_client, other_client, first):
            c.close()
        server.kill()
        sub.stop()
        other.stop()


@pytest.mark.parametrize("kind", ["vermilion", "redis"])
def test_swapdb_serves_the_old_data_while_the_same_history_loads(plain_redis_primary, tmp_path,
                                                                kind):
    """repl-diskless-load swapdb, as Redis 7.0: a full sync of a history other than the
    replica's answers -LOADING during the load (loading:1); a full sync that continues the
    replica's own history (its backlog overrun) keeps serving the old data meanwhile
    (async_loading:1, loading:0) but for no_async_loading commands, then swaps it."""
    from persistence_support import redis_server
    primary = redis.Redis(port=plain_redis_primary.port)
    rnd = random.Random(7)
    pipe = primary.pipeline(transaction=False)
    for i in range(100):        # random bytes: the RDB is not compressed to nothing
        pipe.set(f"k:{i}", rnd.randbytes(1000))
    pipe.set("version", 1)
    pipe.execute()
    start = vermilion_process if kind == "vermilion" else redis_server
    # A Redis replica serves clients during a load every loading-process-events-interval-bytes.
    server = start(str(tmp_path), "--save", "", "--repl-diskless-load", "swapdb",
                   "--key-load-delay", "10000", "--loading-process-events-interval-bytes",
                   "1024").start()
    replica = server.client()
    # A raw connection for what is asked during a load: redis-py retries LOADING replies.
    raw = RawClient(server.port)
    loading = ("-", b"LOADING Redis is loading the dataset in memory")

    def load_state():
        info = raw.call("INFO", "persistence").value.decode()
        return (int(re.search(r"^loading:(\d)", info, re.M).group(1)),
                int(re.search(r"^async_loading:(\d)", info, re.M).group(1)))
    try:
        replica.set("own", 1)
        replica.execute_command("REPLICAOF", "127.0.0.1", str(plain_redis_primary.port))
        wait_for(lambda: load_state() == (1, 0), "a load answering -LOADING")
        assert raw.call("GET", "own") == loading
        wait_for(lambda: link_up(replica), "the first sync", ignore=(redis.exceptions.BusyLoadingError,))
        wait_caught_up(primary, replica)
        assert replica.mget("own", "version") == [None, b"1"]
        # The link drops and the primary's backlog moves past the replica's offset: the
        # next sync is a full one of the same history. The replica must not reconnect in
        # between (it would continue partially): a password keeps it out meanwhile, and
        # Redis trims a backlog only past blocks no replica holds, so the writes go on until
        # the backlog starts after the replica's offset.
        offset = replica.info("replication")["slave_repl_offset"]
        primary.config_set("repl-backlog-size", 16384)
        primary.config_set("requirepass", "keep-the-replica-out")
        try:
            primary.client_kill_filter(_type="replica")
            wait_for(lambda: primary.info("replication")["connected_slaves"] == 0,
                     "the replica's link closed")
            i = 0
            while primary.info("replication")["repl_backlog_first_byte_offset"] <= offset + 1:
                primary.set(f"filler:{i % 8}", rnd.randbytes(65536))
                i += 1
            primary.set("version", 2)
        finally:
            primary.config_set("requirepass", "")

        wait_for(lambda: load_state() == (0, 1), "a load serving the old data")
        assert raw.call("GET", "version").value == b"1"
        assert raw.call("BGSAVE") == loading
        assert raw.call("REPLICAOF", "NO", "ONE") == loading
        assert raw.call("CONFIG", "SET", "appendonly", "no") == loading
        raw.call("MULTI")
        assert raw.call("REPLICAOF", "NO", "ONE") == loading    # refused before it is queued
        assert raw.call("EXEC") == ("-", b"EXECABORT Transaction discarded because of "
                                         b"previous errors.")
        # Still loading after those answers: they were given during the load.
        assert load_state() == (0, 1)
        wait_for(lambda: link_up(replica), "the second sync")
        # The new data set is the one served (not the offset: redis-server 7.0.15 now and then
        # reports slave_repl_offset -1 after an async load, with its link up).
        wait_for(lambda: replica.get("version") == b"2", "the loaded data set served")
        assert primary.info("stats")["sync_full"] == 2
    finally:
        raw.close()
        replica.close()
        server.kill()
        primary.close()


@pytest.mark.parametrize("kind", ["vermilion", "redis"])
def test_master_stream_applied_despite_misconf(tmp_path, kind):
    """A replica that cannot save (stop-writes-on-bgsave-error) refuses its own clients'
    writes with -MISCONF but applies its master's, as Redis 7.0 with
    replica-ignore-disk-write-errors yes (the master client is never refused)."""
    from persistence_support import redis_server
    proc = RedisProcess(require_reference(), "--repl-diskless-sync-delay", "0")
    primary = redis.Redis(port=proc.port)
    start = vermilion_process if kind == "vermilion" else redis_server
    server = start(str(tmp_path), "--save", "3600 1", "--replica-read-only", "no",
                   "--replica-ignore-disk-write-errors", "yes", "--enable-protected-configs", "yes",
                   "--repl-diskless-load", "on-empty-db").start()
    replica = server.client()
    try:
        # The snapshot's name is a directory: every BGSAVE fails at its rename, even as root.
        (tmp_path / "blocked.rdb" / "x").mkdir(parents=True)
        replica.config_set("dbfilename", "blocked.rdb")
        replica.execute_command("REPLICAOF", "127.0.0.1", str(proc.port))
        wait_for(lambda: link_up(replica), "the sync")
        replica.bgsave()
        wait_for(lambda: replica.info("persistence")["rdb_last_bgsave_status"] == "err",
                 "a failed BGSAVE")
        with pytest.raises(redis.ResponseError, match="MISCONF"):
            replica.set("own", 1)
        primary.set("from-primary", 1)
        primary.incr("counter")
        wait_caught_up(primary, replica)
        assert replica.mget("from-primary", "counter", "own") == [b"1", b"1", None]
    finally:
        replica.close()
        server.kill()
        primary.close()
        proc.stop()


def test_streaming_rdb_parse_equals_whole_parse(plain_redis_primary):
    """load_rdb(streaming=True) fed a real Redis RDB in reads of any size (down to one
    byte) yields what parsing the whole file yields; a truncated stream or a bad
    checksum is refused as the whole-file parse refuses it."""
    import os
    from vermilion.persistence import rdb
    r = redis.Redis(port=plain_redis_primary.port)
    fill(r)
    r.set("big", random.Random(3).randbytes(300_000))
    r.save()
    data = open(os.path.join(plain_redis_primary.dir, "dump.rdb"), "rb").read()
    r.close()

    def streamed(payload: bytes, sizes: list, seed: int = 0) -> rdb.Loaded:
        gen = rdb.load_rdb(b"", streaming=True, keep_expired=True, progress_every=7)
        rnd = random.Random(seed)
        pos, sent = 0, None
        try:
            while True:
                step = gen.send(sent)
                sent = None
                if step == rdb.NEED_MORE:
                    n = rnd.choice(sizes)
                    sent, pos = payload[pos:pos + n], pos + n
        except StopIteration as stop:
            return stop.value

    whole = rdb.load_rdb_all(data, keep_expired=True)
    # Reads cut the file anywhere: inside every kind of value, the stream's PELs included.
    cuts = [([1], 0), ([4096], 0), ([1 << 20], 0)] + [([3, 50, 7, 333, 1000], seed)
                                                     for seed in range(12)]
    for sizes, seed in cuts:
        got = streamed(data, sizes, seed)
        assert got.aux == whole.aux and got.keys_loaded == whole.keys_loaded
        assert got.dbs.keys() == whole.dbs.keys()
        for index, (table, expires) in whole.dbs.items():
            assert got.dbs[index][1] == expires
            assert got.dbs[index][0].keys() == table.keys()
            for key, value in table.items():
                assert type(got.dbs[index][0][key]) is type(value)
                if isinstance(value, bytes):
                    assert got.dbs[index][0][key] == value
    # Cut at every third byte of the stream with groups (its PELs are read as raw IDs).
    at = data.find(b"\x06stream")
    assert at > 0
    for cut in range(at, min(at + 2500, len(data)), 3):
        parts = [data[cut:], data[:cut]]
        gen = rdb.load_rdb(b"", streaming=True, keep_expired=True)
        sent = None
        try:
            while True:
                gen.send(sent)
                sent = parts.pop() if parts else b""
        except StopIteration as stop:
            assert stop.value.keys_loaded == whole.keys_loaded, cut
    with pytest.raises(rdb.RdbError, match="Short read"):
        streamed(data[:-3], [4096])
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 0xFF
    with pytest.raises(rdb.RdbError):
        streamed(bytes(bad), [4096])


def test_stream_commands_longer_than_a_read(plain_redis_primary):
    """The stream's commands are split as they arrive: values of several hundred KB (more
    than a read, so the incremental parser takes them) between pipelines of small writes
    and a transaction arrive whole, in order, and the offsets match the primary's."""
    primary = redis.Redis(port=plain_redis_primary.port)
    rnd = random.Random(9)
    try:
        with synced_replica(plain_redis_primary.port,
                            config={"enable-debug-command": "yes"}) as (_, replica):
            for round_ in range(3):
                pipe = primary.pipeline(transaction=False)
                for i in range(500):
                    pipe.set(f"small:{i}", f"{round_}:{i}")
                pipe.set(f"big:{round_}", rnd.randbytes(300_000 + round_))
                pipe.rpush("order", round_)
                pipe.execute()
                tx = primary.pipeline(transaction=True)
                tx.incr("tx")
                tx.append(f"big:{round_}", b"!")
                tx.execute()
            target = wait_caught_up(primary, replica)
            assert replica.info("replication")["master_repl_offset"] == target
            assert assert_same_dataset(primary, replica) == 505
    finally:
        primary.close()
