"""Test session fixtures: a real redis-server (the reference) and an embedded Vermilion.

Differential tests send the same commands to both and compare replies frame by
frame. Without redis-server on PATH they skip on a laptop, but fail in CI
(CI=true), where the reference must be present.
"""
from __future__ import annotations

import pytest

from rawclient import RawClient, normalize

from support import IN_CI, RedisProcess, free_port, require_reference, wait_port  # noqa: F401


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
    # DEBUG is refused by default (enable-debug-command no); the reference server
    # is started with it allowed, and so is this one.
    with vermilion.embedded(config={"enable-debug-command": "yes"}) as server:
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


@pytest.fixture
def ports(reference_server, vermilion_process_server):
    """Both servers' ports, each emptied: for scenarios run with support.same_on_both."""
    out = []
    for port in (reference_server.port, vermilion_process_server.port):
        c = RawClient(port)
        c.call("FLUSHALL")
        c.close()
        out.append(port)
    return out


@pytest.fixture
def private_ports():
    """A redis-server and a Vermilion of the test's own, for scenarios that change a
    server's role, replication or AOF state (the session's servers must keep theirs:
    other tests compare their replication offsets)."""
    import vermilion
    ref = RedisProcess(require_reference())
    try:
        with vermilion.embedded(config={"enable-debug-command": "yes"}) as server:
            yield (ref.port, server.port)
    finally:
        ref.stop()
