"""Failover by the real redis-sentinel: three sentinels watch a Vermilion primary
with two Vermilion replicas; the primary is SIGKILLed; the sentinels promote one
replica (MULTI, REPLICAOF NO ONE, CONFIG REWRITE, CLIENT KILL TYPE normal/pubsub,
EXEC) and repoint the other, and clients that ask Sentinel for the master keep
working. Every process is started here, on loopback ports, and killed in teardown.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest
import redis
from redis.sentinel import Sentinel

from vermilion.patterns import Lock, StreamProducer, StreamWorker

from persistence_support import vermilion
from support import IN_CI, free_port, wait_for as wait_until, wait_port

MASTER_NAME = "mymaster"


def sentinel_binary() -> str:
    path = shutil.which("redis-sentinel") or \
        ("/usr/bin/redis-sentinel" if os.path.exists("/usr/bin/redis-sentinel") else None)
    if path is None:
        if IN_CI:
            pytest.fail("redis-sentinel is required in CI")
        pytest.skip("redis-sentinel not installed")
    return path


def wait_for(predicate, what: str = "condition"):
    # The servers restart or fail over meanwhile: their errors mean "not yet".
    return wait_until(predicate, what, 60.0, (redis.ConnectionError, redis.TimeoutError,
                                              redis.ResponseError))


class SentinelProcess:
    def __init__(self, binary: str, directory: str, master_port: int):
        self.port = free_port()
        self.conf = os.path.join(directory, f"sentinel-{self.port}.conf")
        with open(self.conf, "w") as fh:
            fh.write(f"port {self.port}\nbind 127.0.0.1\ndir {directory}\n"
                     f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n"
                     f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
                     f"sentinel failover-timeout {MASTER_NAME} 5000\n"
                     f"sentinel parallel-syncs {MASTER_NAME} 2\n")
        self.log = os.path.join(directory, f"sentinel-{self.port}.log")
        self.proc = subprocess.Popen([binary, self.conf, "--logfile", self.log],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def topology():
    binary = sentinel_binary()
    directory = tempfile.mkdtemp(prefix="sentinel-test-")
    servers, sentinels = [], []
    try:
        for name in ("a", "b", "c"):
            sub = os.path.join(directory, name)
            os.makedirs(sub)
            conf = os.path.join(sub, "vermilion.conf")
            with open(conf, "w") as fh:
                fh.write("repl-diskless-sync-delay 0\n")
            # A config file, because Sentinel sends CONFIG REWRITE after REPLICAOF.
            server = vermilion(sub, "--config", conf, "--save", "")
            server.conf = conf
            servers.append(server)
        primary, replicas = servers[0], servers[1:]
        primary.start()
        for replica in replicas:
            replica.extra += ["--replicaof", "127.0.0.1", str(primary.port)]
            replica.start()
        for replica in replicas:
            wait_for(lambda r=replica: r.client().info("replication")["master_link_status"] == "up",
                     what="replicas in sync")
        for _ in range(3):
            sentinels.append(SentinelProcess(binary, directory, primary.port))
        yield primary, replicas, sentinels
    finally:
        for sentinel in sentinels:
            sentinel.stop()
        for server in servers:
            server.kill()
        shutil.rmtree(directory, ignore_errors=True)


def test_sentinel_fails_vermilion_over(topology):
    primary, replicas, sentinels = topology
    s0 = sentinels[0].client()
    # Every sentinel knows both replicas and the two other sentinels.
    for sentinel in sentinels:
        c = sentinel.client()
        wait_for(lambda c=c: len(c.sentinel_slaves(MASTER_NAME)) == 2 and
                 c.sentinel_master(MASTER_NAME)["num-other-sentinels"] == 2,
                 what="sentinel discovery")
        c.close()
    client = Sentinel([("127.0.0.1", s.port) for s in sentinels], socket_timeout=5)
    master = client.master_for(MASTER_NAME, socket_timeout=5)
    assert client.discover_master(MASTER_NAME) == ("127.0.0.1", primary.port)
    master.set("before", "failover")
    # A stream worker reading through Sentinel's view of the master.
    seen = []
    worker = StreamWorker(master, "jobs", "workers",
                          lambda entry: seen.append(entry.fields.get(b"n", entry.fields.get("n"))),
                          block=0.05, retry_base=0.02).start()
    producer = StreamProducer(master, "jobs")
    producer.add({"n": "before"})
    wait_for(lambda: b"before" in seen, what="the worker before the failover")
    # A lock granted with WAIT on both replicas survives the failover.
    lock = Lock(master, "job", ttl=60, min_replicas=2, replica_timeout=10)
    fence = lock.acquire(blocking=False)
    assert fence is not None
    wait_for(lambda: all(r.client().get("before") == b"failover" for r in replicas),
             what="replication before the failover")

    primary.kill()      # SIGKILL: no goodbye to anyone
    new_addr = wait_for(lambda: (lambda a: a if a and a[1] != primary.port else None)(
        s0.sentinel_get_master_addr_by_name(MASTER_NAME)), what="a new master")
    promoted = next(r for r in replicas if r.port == int(new_addr[1]))
    other = next(r for r in replicas if r is not promoted)
    p = promoted.client()
    wait_for(lambda: p.info("replication")["role"] == "master", what="the promotion")
    # The promoted Vermilion accepts writes; the other replica follows it.
    assert p.set("after", "failover")
    o = other.client()
    wait_for(lambda: o.info("replication").get("master_port") == promoted.port and
             o.info("replication")["master_link_status"] == "up", what="the other replica repointed")
    wait_for(lambda: o.get("after") == b"failover", what="replication from the new master")
    assert o.get("before") == b"failover" and p.get("before") == b"failover"
    # Sentinel rewrote the promoted server's config: no replicaof line any more.
    with open(promoted.conf) as fh:
        assert "replicaof" not in fh.read()
    # A redis-py client that asks Sentinel finds the new master by itself.
    wait_for(lambda: master.set("through", "sentinel"), what="redis-py's Sentinel client")
    assert p.get("through") == b"sentinel"
    # The worker reconnects (through Sentinel) to the new master and goes on.
    producer.add({"n": "after"})
    wait_for(lambda: b"after" in seen, what="the worker after the failover")
    worker.stop(timeout=5)
    assert Lock(master, "job", ttl=60).acquire(blocking=False) is None   # still held
    assert lock.release()           # the holder releases it on the new primary
    assert Lock(master, "job", ttl=60).acquire(blocking=False) > fence
    s0.close()
    p.close()
    o.close()
