"""Fixtures for the patterns tests: real redis-server processes (single, farms of
independent servers for Redlock, a 3-node cluster) and, when it is importable and
working, the embedded Vermilion server.

redis-server missing: the tests that need it are skipped, unless CI=true.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import redis
import redis.asyncio

SRC = Path(__file__).resolve().parents[2] / "src"
if str(SRC) not in sys.path:  # until the project is installed in the environment
    sys.path.insert(0, str(SRC))

from patterns_support import (  # noqa: F401  (shared with the test modules)
    IN_CI, REDIS_CLI, REDIS_SERVER, RedisProc, _no_redis, connect, free_port, wait_until,
)


def pytest_configure(config):
    config.addinivalue_line("markers", "cluster: needs a local Redis Cluster (3 redis-server)")
    config.addinivalue_line("markers", "needs(*features): server features the test uses")


@pytest.fixture(scope="session")
def redis_proc():
    proc = RedisProc()
    yield proc
    proc.kill()


@pytest.fixture
def redis_farm():
    """``redis_farm(n)`` starts n fresh independent servers, killed after the test."""
    procs = []

    def start(n: int) -> list[RedisProc]:
        new = [RedisProc() for _ in range(n)]
        procs.extend(new)
        return new

    yield start
    for p in procs:
        p.kill()


# ------------------------------------------------------------ the backends


class Backend:
    def __init__(self, kind: str, url: str, client: redis.Redis):
        self.kind, self.url, self._probe_client = kind, url, client
        self._missing: dict[str, bool] = {}

    @property
    def cluster(self) -> bool:
        return self.kind == "cluster"

    def connect(self, **options):
        """A new client of this server (a cluster client for the cluster)."""
        return connect(self.url, self.cluster, **options)

    def aconnect(self, **options):
        return connect(self.url, self.cluster, asyncio=True, **options)

    def missing(self, feature: str) -> str | None:
        """Why the server cannot run tests needing ``feature`` yet (None: it can).

        Only for a server under construction: an 'unknown command' or a wrong
        answer to a one-line probe skips the test with the reason.
        """
        if self.cluster:  # real Redis: the specification, not probed
            return None
        if feature not in self._missing:
            try:
                ok = _PROBES[feature](self._probe_client)
                self._missing[feature] = None if ok else f"answers {feature} probe wrongly"
            except redis.RedisError as exc:
                self._missing[feature] = f"{feature}: {type(exc).__name__}: {exc}"[:300]
        return self._missing[feature]


# Every command the patterns' scripts call, as a script would call it.
_SCRIPT_CALLS = [
    ("TIME",), ("SET", "p:k", "v", "NX", "PX", "1000"), ("INCR", "p:n"), ("PTTL", "p:k"),
    ("PEXPIRE", "p:k", "1000"), ("PEXPIREAT", "p:k", "99999999999999"), ("GET", "p:k"),
    ("EXISTS", "p:k"), ("HSET", "p:h", "a", "1"), ("HGET", "p:h", "a"), ("HMGET", "p:h", "a"),
    ("HGETALL", "p:h"), ("HINCRBY", "p:h", "n", "1"), ("HKEYS", "p:h"), ("HDEL", "p:h", "n"),
    ("RENAME", "p:h", "p:h2"), ("ZADD", "p:z", "GT", "INCR", "1", "m"),
    ("ZADD", "p:z", "NX", "2", "n"), ("ZREMRANGEBYSCORE", "p:z", "-inf", "0"), ("ZCARD", "p:z"),
    ("ZRANGE", "p:z", "0", "-1", "WITHSCORES"), ("ZRANGEBYSCORE", "p:z", "(1", "+inf", "WITHSCORES"),
    ("ZCOUNT", "p:z", "1", "1"), ("ZSCORE", "p:z", "m"), ("ZRANK", "p:z", "m"),
    ("ZREVRANK", "p:z", "m"), ("ZREVRANGE", "p:z", "0", "1", "WITHSCORES"), ("ZREM", "p:z", "n"),
    ("DEL", "p:k"),
]
_STREAM_SCRIPT_CALLS = [
    ("XADD", "p:s", "MAXLEN", "~", "100", "*", "a", "1"), ("XRANGE", "p:s", "-", "+"),
    ("XPENDING", "p:s", "g", "-", "+", "1", "c"), ("XCLAIM", "p:s", "g", "c", "0", "0-1", "JUSTID"),
    ("XACK", "p:s", "g", "0-1"), ("XDEL", "p:s", "0-1"),
]
_PCALL = ("local r = redis.pcall(unpack(ARGV)) "
          "if type(r) == 'table' and r.err then return r.err end return 'ok'")


def _script_calls(c, calls) -> bool:
    bad = []
    for cmd in calls:
        out = c.eval(_PCALL, 0, *cmd)
        if out not in (b"ok", "ok"):
            bad.append(f"{cmd[0]}: {out!r}")
    if bad:
        raise redis.ResponseError("in scripts: " + "; ".join(bad))
    return True


def _probe_eval(c) -> bool:
    if c.eval("return {1, string.format('%d', 1234567890123456)}", 0) != [1, b"1234567890123456"]:
        return False
    return _script_calls(c, _SCRIPT_CALLS)


def _probe_streams(c) -> bool:
    c.delete("p:s")
    c.xgroup_create("p:s", "g", id="0", mkstream=True)
    c.xadd("p:s", {"a": 1})
    c.xreadgroup("g", "c", {"p:s": ">"}, count=1, block=10)
    ok = (c.xautoclaim("p:s", "g", "c2", 0)[0] in (b"0-0", "0-0")
          and c.xinfo_groups("p:s")[0].get("lag") is not None
          and c.xpending("p:s", "g")["pending"] == 1)
    return ok and _script_calls(c, _STREAM_SCRIPT_CALLS)


def _probe_pubsub(c) -> bool:
    ps = c.pubsub()
    try:
        ps.subscribe("p:ch")
        ps.get_message(timeout=1)
        c.publish("p:ch", "x")
        ps.ping("hc")
        kinds = [ps.get_message(timeout=1) for _ in range(2)]
        return [k and k["type"] for k in kinds] == ["message", "pong"]
    finally:
        ps.close()


_PROBES = {"eval": _probe_eval, "streams": _probe_streams, "pubsub": _probe_pubsub}


@pytest.fixture(scope="session")
def vermilion_url():
    try:
        import vermilion
        cm = vermilion.embedded()
        srv = cm.__enter__()
        client = redis.Redis.from_url(srv.url)
        client.ping()
        client.set("vermilion:probe", "1")  # basic commands must work before we test on it
        client.flushall()
    except Exception as exc:  # under construction: skip, do not fail
        pytest.skip(f"embedded Vermilion not available: {type(exc).__name__}: {exc}")
    yield srv.url
    try:
        cm.__exit__(None, None, None)
    except Exception:
        pass


@pytest.fixture(params=["redis", "vermilion"])
def backend(request):
    """The server a test runs on: real Redis and embedded Vermilion, and also the
    local Redis Cluster for a test marked ``@ALL_SETUPS`` (patterns_support)."""
    if request.param == "cluster":
        nodes = request.getfixturevalue("cluster_nodes")
        url = "redis://%s:%d" % nodes[0]
    elif request.param == "redis":
        url = request.getfixturevalue("redis_proc").url
    else:
        url = request.getfixturevalue("vermilion_url")
    b = _backends.get(url)
    if b is None:  # probe each server once per session
        b = _backends[url] = Backend(request.param, url,
                                     connect(url, request.param == "cluster", socket_timeout=2))
    for mark in request.node.iter_markers("needs"):
        for feature in mark.args:
            why = b.missing(feature)
            if why:
                pytest.skip(f"{request.param} is not ready: {why}")
    b._probe_client.flushall()
    yield b


_backends: dict[str, Backend] = {}


@pytest.fixture
def r(backend):
    client = backend.connect(decode_responses=True, socket_timeout=10)
    yield client
    client.close()


@pytest.fixture
async def ar(backend):
    client = backend.aconnect(decode_responses=True, socket_timeout=10)
    yield client
    await client.aclose()


@pytest.fixture
def uid():
    """A short unique name so tests never share keys."""
    return uuid.uuid4().hex[:8]


# ------------------------------------------------------------ Redis Cluster


@pytest.fixture(scope="session")
def cluster_nodes():
    """Three masters joined with ``redis-cli --cluster create``; yields [(host, port)]."""
    if not os.path.exists(REDIS_SERVER) or not os.path.exists(REDIS_CLI):
        _no_redis("redis-server / redis-cli not installed")
    procs = []
    try:
        for _ in range(3):
            workdir = tempfile.mkdtemp(prefix="vermilion-cluster-")
            procs.append(RedisProc("--cluster-enabled", "yes", "--cluster-config-file",
                                   "nodes.conf", "--cluster-node-timeout", "2000",
                                   workdir=workdir, port=free_port(cluster=True)))
        addrs = [f"127.0.0.1:{p.port}" for p in procs]
        out = subprocess.run([REDIS_CLI, "--cluster", "create", *addrs, "--cluster-replicas",
                              "0", "--cluster-yes"], capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise RuntimeError(out.stdout + out.stderr)
        deadline = time.monotonic() + 15
        while True:
            infos = [redis.Redis(port=p.port, decode_responses=True).cluster("info")
                     for p in procs]
            if all(i.get("cluster_state") == "ok" for i in infos):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster not ok: {infos}")
            time.sleep(0.1)
    except Exception as exc:
        for p in procs:
            p.kill()
        if IN_CI:
            pytest.fail(f"cluster setup failed: {exc}")
        pytest.skip(f"cluster setup failed: {exc}")
    yield [("127.0.0.1", p.port) for p in procs]
    for p in procs:
        p.kill()


@pytest.fixture
def rc(cluster_nodes):
    from redis.cluster import ClusterNode, RedisCluster
    client = RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in cluster_nodes],
                          decode_responses=True)
    yield client
    client.close()


@pytest.fixture
async def arc(cluster_nodes):
    from redis.asyncio.cluster import ClusterNode, RedisCluster
    client = RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in cluster_nodes],
                          decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def _django_configured():
    django = pytest.importorskip("django")
    from django.conf import settings
    if not settings.configured:
        settings.configure(
            DEBUG=False, SECRET_KEY="test", ROOT_URLCONF="django_app", ALLOWED_HOSTS=["*"],
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth",
                            "django.contrib.sessions"],
            MIDDLEWARE=["vermilion.integrations.django.SessionMiddleware"],
            SESSION_ENGINE="vermilion.integrations.django",
            DATABASES={}, USE_TZ=True)
        django.setup()
    return settings


@pytest.fixture
def django_settings(_django_configured, backend, uid):
    """Django configured to keep its sessions on the test's backend."""
    from django.test import override_settings
    with override_settings(VERMILION_SESSIONS={"url": backend.url, "namespace": f"dj-{uid}",
                                               "idle": 60, "absolute": 3600}):
        yield _django_configured
