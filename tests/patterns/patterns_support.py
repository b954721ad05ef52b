"""Helpers shared by the patterns tests and their conftest.

They live in their own module because ``conftest`` is not a unique module name
when the whole suite runs (tests/conftest.py is imported first).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import redis


REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
IN_CI = os.environ.get("CI", "").lower() == "true"

# The three setups the issue asks every feature to be tested on. A test taking
# the `backend` fixture (or `r`/`ar`) runs on real Redis and Vermilion; marked
# with this, also on the local 3-master Redis Cluster (its keys must then share
# a slot per multi-key operation, as the patterns' own keys do).
ALL_SETUPS = pytest.mark.parametrize("backend", ["redis", "vermilion", "cluster"], indirect=True)


def connect(url: str, cluster: bool = False, asyncio: bool = False, **options):
    """A redis-py client of ``url``; with ``cluster``, of the cluster it is a node of."""
    if asyncio:
        import redis.asyncio
        import redis.asyncio.cluster
        kind = redis.asyncio.cluster.RedisCluster if cluster else redis.asyncio.Redis
    else:
        import redis.cluster
        kind = redis.cluster.RedisCluster if cluster else redis.Redis
    return kind.from_url(url, **options)


def _no_redis(reason: str):
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


def free_port(cluster: bool = False) -> int:
    """A free port; for a cluster node, also free at port+10000 (its cluster bus)."""
    if not cluster:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    import random
    while True:
        port = random.randint(20000, 40000)
        try:
            for p in (port, port + 10000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue


class RedisProc:
    """One redis-server child process we can stop, freeze and bring back."""

    def __init__(self, *extra: str, port: int | None = None, workdir: str | None = None):
        if not os.path.exists(REDIS_SERVER):
            _no_redis(f"{REDIS_SERVER} not installed")
        self.port = port or free_port()
        self.extra = extra
        self.workdir = workdir or tempfile.mkdtemp(prefix="vermilion-redis-")
        self.proc: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self):
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", self.workdir, *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=self.port, socket_timeout=0.5).ping()
                return
            except redis.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server on {self.port} did not start")
                time.sleep(0.02)

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(5)

    def restart(self):
        self.kill()
        self.start()


def wait_until(predicate, timeout: float = 5.0, interval: float = 0.01):
    """Poll ``predicate`` until true; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
