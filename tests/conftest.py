"""Test session fixtures: a real redis-server (the reference) and an embedded Vermilion.

Differential tests send the same commands to both and compare replies frame by
frame. Without redis-server on PATH they skip on a laptop, but fail in CI
(CI=true), where the reference must be present.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from rawclient import RawClient, normalize

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listening on {port}")


def reference_binary() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None)


def require_reference():
    binary = reference_binary()
    if binary is None:
        if IN_CI:
            pytest.fail("redis-server (the reference) is required in CI")
        pytest.skip("redis-server not installed")
    return binary


class RedisProcess:
    """A real redis-server started for the test session."""

    def __init__(self, binary: str, *extra: str):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="ref-redis-")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--enable-debug-command", "yes", *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def reference_server():
    binary = require_reference()
    server = RedisProcess(binary)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def vermilion_process_server():
    """The embedded server shared by the session (state is reset per test by `pair`)."""
    import vermilion
    with vermilion.embedded() as server:
        yield server


def _reset(port: int) -> None:
    c = RawClient(port)
    try:
        c.call("FLUSHALL")
        c.call("CONFIG", "SET", "notify-keyspace-events", "")
    finally:
        c.close()


class Pair:
    """The same connection opened to both servers; `check` compares their replies."""

    def __init__(self, ref_port: int, ver_port: int, resp: int):
        self.ref = RawClient(ref_port)
        self.ver = RawClient(ver_port)
        self.resp = resp
        if resp == 3:
            self.ref.call("HELLO", "3")
            self.ver.call("HELLO", "3")

    def both(self, *args):
        return self.ref.call(*args), self.ver.call(*args)

    def check(self, *args, unordered: bool = False):
        """Send `args` to both; assert identical replies; return the reply."""
        expected, actual = self.both(*args)
        if unordered:
            assert normalize(actual, True) == normalize(expected, True), (args, expected, actual)
        else:
            assert actual == expected, f"{args!r}: redis={expected!r} vermilion={actual!r}"
        return actual

    def check_error(self, *args):
        """Both must fail, with the same error text."""
        reply = self.check(*args)
        assert reply.kind == "-", (args, reply)
        return reply

    def run(self, script: str):
        """Check a block of commands, one per line (split like redis-cli does)."""
        from vermilion.server.parser import split_inline
        for line in script.strip().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                self.check(*split_inline(line.encode()))

    def close(self):
        self.ref.close()
        self.ver.close()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def pair(request, reference_server, vermilion_process_server):
    _reset(reference_server.port)
    _reset(vermilion_process_server.port)
    p = Pair(reference_server.port, vermilion_process_server.port, request.param)
    yield p
    p.close()


@pytest.fixture
def pair2(reference_server, vermilion_process_server):
    """RESP2 only, for tests whose subject is not the protocol."""
    _reset(reference_server.port)
    _reset(vermilion_process_server.port)
    p = Pair(reference_server.port, vermilion_process_server.port, 2)
    yield p
    p.close()
