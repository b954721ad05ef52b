"""Busy scripts: past busy-reply-threshold other clients get BUSY, SCRIPT/FUNCTION KILL work.

Each scenario runs against the real redis-server and Vermilion in turn, and the
replies every client sees must be the same. The threshold is lowered to 100 ms
with CONFIG SET for the duration of a test and restored afterwards (both servers
are shared by the whole session).
"""
from __future__ import annotations

import time

import pytest

from rawclient import RawClient

SPIN = "local i = 0 while true do i = i + 1 end"
# Writes, then spins for ~1.5 s using TIME (so the test ends even though it cannot be killed).
WRITE_THEN_SPIN = """
redis.call('SET', KEYS[1], 'written')
local t = redis.call('TIME')
local start = tonumber(t[1]) * 1000000 + tonumber(t[2])
while true do
  local n = redis.call('TIME')
  if tonumber(n[1]) * 1000000 + tonumber(n[2]) - start > 1500000 then break end
end
return 'done'
"""
PCALL_SPIN = "while true do pcall(function() local i = 0 while true do i = i + 1 end end) end"
LIB = """#!lua name=busylib
redis.register_function('spin', function() local i = 0 while true do i = i + 1 end end)
"""


@pytest.fixture
def servers(reference_server, vermilion_process_server):
    ports = {"redis": reference_server.port, "vermilion": vermilion_process_server.port}
    for port in ports.values():
        c = RawClient(port)
        c.call("FLUSHALL")
        c.call("FUNCTION", "FLUSH")
        c.call("CONFIG", "SET", "busy-reply-threshold", "100")
        c.close()
    yield ports
    for port in ports.values():
        c = RawClient(port)
        deadline = time.time() + 10
        while time.time() < deadline:        # a script may still be finishing
            if c.call("CONFIG", "SET", "busy-reply-threshold", "5000").kind == "+":
                break
            time.sleep(0.05)
        c.call("FUNCTION", "FLUSH")
        c.close()


def _scenario(port: int, start: list, during: list, wait: float = 0.35) -> list:
    """Start `start` on one connection, then send `during` from another; collect replies."""
    caller, other = RawClient(port), RawClient(port)
    other.call("PING")       # make sure the server has registered it before the script starts
    try:
        caller.send(*start)
        time.sleep(wait)
        seen = []
        for cmd in during:
            if cmd == "NEW":               # a fresh connection (redis-cli SCRIPT KILL)
                fresh = RawClient(port)
                seen.append(("fresh SCRIPT KILL", fresh.call("SCRIPT", "KILL")))
                fresh.close()
            else:
                seen.append((cmd, other.call(*cmd)))
        seen.append(("caller", caller.read()))
        seen.append(("after", caller.call("PING"), other.call("PING")))
        return seen
    finally:
        caller.close()
        other.close()


def _compare(servers, start, during, **kw):
    results = {name: _scenario(port, start, during, **kw) for name, port in servers.items()}
    assert results["vermilion"] == results["redis"]
    return results["vermilion"]


def test_busy_replies_and_script_kill(servers):
    seen = _compare(servers, ("EVAL", SPIN, "0"), [
        ("GET", "x"), ("PING",), ("MULTI",), ("GET", "x"), ("EXEC",), ("DISCARD",),
        ("FUNCTION", "STATS"), ("FUNCTION", "KILL"), ("SHUTDOWN",), ("SCRIPT", "LOAD", "return 1"),
        ("CLIENT", "ID"), ("WATCH", "x"), ("UNWATCH",), ("SCRIPT", "KILL"),
    ])
    assert seen[0][1].value.startswith(b"BUSY")
    assert seen[-2][1].value.startswith(b"ERR Script killed by user")


def test_second_kill_while_unwinding(servers):
    """A SCRIPT KILL right after the first one may find the script still unwinding (OK)
    or already gone (NOTBUSY): timing decides, in Redis too."""
    for port in servers.values():
        caller, other = RawClient(port), RawClient(port)
        other.call("PING")
        caller.send("EVAL", SPIN, "0")
        time.sleep(0.35)
        assert other.call("SCRIPT", "KILL").value == b"OK"
        assert other.call("SCRIPT", "KILL").value in (b"OK", b"NOTBUSY No scripts in execution right now.")
        assert caller.read().value.startswith(b"ERR Script killed by user")
        caller.close()
        other.close()


def test_script_kill_from_a_new_connection(servers):
    seen = _compare(servers, ("EVAL", SPIN, "0"), [("GET", "x"), "NEW"])
    assert seen[1][1].value == b"OK"


def test_pcall_cannot_swallow_the_kill(servers):
    _compare(servers, ("EVAL", PCALL_SPIN, "0"), [("SCRIPT", "KILL")])


def test_script_that_wrote_is_unkillable(servers):
    seen = _compare(servers, ("EVAL", WRITE_THEN_SPIN, "1", "k"), [
        ("SCRIPT", "KILL"), ("FUNCTION", "KILL"), ("GET", "k"),
    ], wait=0.3)
    assert seen[0][1].value.startswith(b"UNKILLABLE")
    assert seen[-2][1].value == b"done"


def test_function_kill(servers):
    for port in servers.values():
        c = RawClient(port)
        assert c.call("FUNCTION", "LOAD", LIB).value == b"busylib"
        c.close()
    _compare(servers, ("FCALL", "spin", "0"), [
        ("GET", "x"), ("SCRIPT", "KILL"), ("FUNCTION", "KILL"),
    ])


def test_function_stats_while_busy(servers):
    """The running function is reported (its duration differs, so it is checked apart)."""
    shapes = {}
    for name, port in servers.items():
        c = RawClient(port)
        c.call("FUNCTION", "LOAD", LIB)
        c.close()
        caller, other = RawClient(port), RawClient(port)
        other.call("PING")
        caller.send("FCALL", "spin", "0")
        time.sleep(0.35)
        stats = other.call("FUNCTION", "STATS")
        running = stats.value[1].value
        fields = {running[i].value: running[i + 1] for i in range(0, len(running), 2)}
        assert fields[b"duration_ms"].value >= 100
        shapes[name] = (fields[b"name"], fields[b"command"], stats.value[2])
        other.call("FUNCTION", "KILL")
        caller.read()
        caller.close()
        other.close()
    assert shapes["vermilion"] == shapes["redis"]


def test_fast_scripts_are_not_busy(servers):
    """Below the threshold nothing changes: a script that finishes quickly just replies."""
    for port in servers.values():
        c = RawClient(port)
        assert c.call("EVAL", "local i = 0 while i < 1000 do i = i + 1 end return i", "0").value == 1000
        c.close()


def test_shutdown_nosave_ends_a_busy_script():
    """On a private server: SHUTDOWN NOSAVE (and only NOSAVE) stops the server mid-script."""
    import vermilion
    srv = vermilion.embedded(config={"busy-reply-threshold": "100"}).start()
    try:
        caller, other = RawClient(srv.port), RawClient(srv.port)
        other.call("PING")
        caller.send("EVAL", SPIN, "0")
        time.sleep(0.35)
        assert other.call("SHUTDOWN").value.startswith(b"BUSY")
        other.send("SHUTDOWN", "NOSAVE")
        assert other.closed_by_server(5)
        assert caller.closed_by_server(5)
    finally:
        srv.stop()
