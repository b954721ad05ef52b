"""Helpers shared by the test modules (``conftest`` is not a unique module name)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 60.0) -> None:
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


def require_reference() -> str:
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


def wait_for(predicate, what: str = "condition", timeout: float = 30.0, ignore: tuple = ()):
    """Poll servers' state (never a fixed sleep) until `predicate()` is truthy; return it.
    Exceptions in `ignore` count as "not yet" (a server that is restarting)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except ignore:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def connect(port: int, resp: int = 2):
    """A raw connection, switched to RESP3 when asked."""
    from rawclient import RawClient
    c = RawClient(port)
    if resp == 3:
        c.call("HELLO", "3")
    return c


def quiet(client, wait: float = 0.05) -> bool:
    """True if nothing arrives on `client` within `wait` seconds (it is blocked)."""
    client.sock.settimeout(wait)
    try:
        chunk = client.sock.recv(1 << 16)
    except (socket.timeout, BlockingIOError):
        return True
    finally:
        client.sock.settimeout(10)
    client.buf += chunk
    return False


def settle(port: int) -> None:
    """Round-trip on a fresh connection: earlier commands of other clients are done."""
    c = connect(port)
    c.call("PING")
    c.close()


def same_on_both(ports, scenario, *args):
    """Run scenario(port, *args) on redis-server then Vermilion; both must observe the same."""
    ref = scenario(ports[0], *args)
    ver = scenario(ports[1], *args)
    assert ver == ref, f"redis={ref!r}\nvermilion={ver!r}"
    return ver
