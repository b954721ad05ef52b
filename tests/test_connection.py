"""Connection commands compared with real redis-server (RESP2 and RESP3)."""
from __future__ import annotations

import time

import pytest

from rawclient import RawClient


def test_ping_echo(pair):
    pair.run("""
        PING
        PING hello
        PING a b
        ECHO
        ECHO "with space"
        ECHO a b
    """)
    pair.check("PING", "")
    pair.check("ECHO", "")


def test_select(pair):
    pair.run("""
        SELECT 0
        SELECT 15
        SELECT 16
        SELECT -1
        SELECT x
        SELECT 01
        SELECT 1 2
    """)


def test_hello(pair):
    for args in (("HELLO", "4"), ("HELLO", "x"), ("HELLO", "3", "foo"),
                 ("HELLO", "3", "AUTH", "default"), ("HELLO", "3", "AUTH", "bob", "pw"),
                 ("HELLO", "2", "SETNAME", "bad name")):
        pair.check(*args)
    ref, ver = pair.both("HELLO")
    strip = lambda f: [x for x in f.value if x[0].value != b"id"] if f.kind == "%" else \
        [x for i, x in enumerate(f.value) if i not in (6, 7)]
    assert strip(ver) == strip(ref)
    ref, ver = pair.both("HELLO", "3", "SETNAME", "myname")
    assert strip(ver) == strip(ref)
    pair.check("CLIENT", "GETNAME")
    ref, ver = pair.both("HELLO", "2")
    assert strip(ver) == strip(ref)
    pair.check("PING")


def test_auth_without_password(pair):
    pair.run("""
        AUTH foo
        AUTH default foo
        AUTH bob foo
        AUTH a b c
    """)


def test_client_commands(pair):
    pair.run("""
        CLIENT SETNAME abc
        CLIENT GETNAME
        CLIENT SETNAME "a b"
        CLIENT SETNAME ""
        CLIENT GETNAME
        CLIENT REPLY FOO
        CLIENT NO-EVICT maybe
        CLIENT NO-EVICT on
        CLIENT NO-EVICT off
        CLIENT KILL 1.2.3.4:5
        CLIENT KILL ID 999999
        CLIENT KILL ID abc
        CLIENT KILL ID 0
        CLIENT KILL ADDR 1.2.3.4:5 SKIPME yes
        CLIENT KILL foo bar
        CLIENT KILL ADDR
        CLIENT KILL TYPE foo
        CLIENT LIST TYPE foo
        CLIENT LIST ID abc
        CLIENT LIST foo
        CLIENT PAUSE abc
        CLIENT PAUSE -1
        CLIENT PAUSE 10 xx
        CLIENT UNPAUSE
        CLIENT UNBLOCK 99999
        CLIENT UNBLOCK 99999 foo
        CLIENT UNBLOCK abc
        CLIENT GETREDIR
        CLIENT FOO
        CLIENT
    """)


def _fields(line: bytes) -> dict:
    return dict(item.split(b"=", 1) for item in line.strip().split(b" "))


def test_client_list_and_info_fields(pair):
    ref, ver = pair.both("CLIENT", "INFO")
    rf, vf = _fields(ref.value), _fields(ver.value)
    assert ver.kind == ref.kind
    missing = set(rf) - set(vf)
    assert not missing, missing
    assert vf[b"cmd"] == rf[b"cmd"] == b"client|info"
    assert vf[b"resp"] == rf[b"resp"]
    ref, ver = pair.both("CLIENT", "LIST", "ID", "1", "2")
    assert ver.kind == ref.kind


def test_client_id_and_kill_by_id(vermilion_process_server):
    a = RawClient(vermilion_process_server.port)
    b = RawClient(vermilion_process_server.port)
    b_id = b.call("CLIENT", "ID").value
    assert a.call("CLIENT", "KILL", "ID", str(b_id)).value == 1
    assert b.closed_by_server()
    assert a.call("CLIENT", "KILL", "ID", str(b_id)).value == 0


def test_client_kill_addr(vermilion_process_server):
    a = RawClient(vermilion_process_server.port)
    b = RawClient(vermilion_process_server.port)
    info = _fields(b.call("CLIENT", "INFO").value)
    assert a.call("CLIENT", "KILL", info[b"addr"]).value == b"OK"
    assert b.closed_by_server()


def test_client_reply_off_skip_on(pair):
    for c in (pair.ref, pair.ver):
        c.send("CLIENT", "REPLY", "OFF")
        c.send("PING")
        c.send("CLIENT", "REPLY", "SKIP")
        c.send("ECHO", "skipped")
        c.send("CLIENT", "REPLY", "ON")
        c.send("ECHO", "seen")
    assert pair.ref.read() == pair.ver.read()   # OK from CLIENT REPLY ON
    assert pair.ref.read() == pair.ver.read()   # "seen"


def test_client_reply_skip_only_next(pair):
    for c in (pair.ref, pair.ver):
        c.send("CLIENT", "REPLY", "SKIP")
        c.send("ECHO", "a")
        c.send("ECHO", "b")
    assert pair.ref.read() == pair.ver.read() == ("$", b"b")


def test_quit_replies_ok_then_closes(pair):
    assert pair.check("QUIT").value == b"OK"
    assert pair.ver.closed_by_server()


def test_reset(pair):
    pair.check("SELECT", "3")
    pair.check("CLIENT", "SETNAME", "x")
    pair.check("RESET")
    pair.check("CLIENT", "GETNAME")
    ref, ver = pair.both("CLIENT", "INFO")
    assert _fields(ver.value)[b"db"] == _fields(ref.value)[b"db"] == b"0"
    assert _fields(ver.value)[b"resp"] == b"2"


def test_requirepass_flow(vermilion_process_server, reference_server):
    for port in (reference_server.port, vermilion_process_server.port):
        admin = RawClient(port)
        admin.call("CONFIG", "SET", "requirepass", "pw")
        try:
            c = RawClient(port)
            replies = [c.call("PING"), c.call("AUTH", "bad"), c.call("AUTH", "default", "bad"),
                       c.call("HELLO", "3"), c.call("AUTH", "pw"), c.call("PING")]
            if port == reference_server.port:
                expected = replies
            else:
                assert replies == expected
            d = RawClient(port)
            hello = d.call("HELLO", "3", "AUTH", "default", "pw")
            assert hello.kind == "%"
        finally:
            admin.call("AUTH", "pw")
            admin.call("CONFIG", "SET", "requirepass", "")


def test_client_pause_all_postpones(vermilion_process_server):
    a = RawClient(vermilion_process_server.port)
    b = RawClient(vermilion_process_server.port)
    assert a.call("CLIENT", "PAUSE", "200").value == b"OK"
    start = time.monotonic()
    b.send("PING")
    b.send("ECHO", "after")
    assert b.read().value == b"PONG"
    assert b.read().value == b"after"
    assert 0.15 < time.monotonic() - start < 1.5


def test_client_pause_write_lets_reads_through(vermilion_process_server):
    a = RawClient(vermilion_process_server.port)
    b = RawClient(vermilion_process_server.port)
    assert a.call("CLIENT", "PAUSE", "5000", "WRITE").value == b"OK"
    try:
        start = time.monotonic()
        assert b.call("ECHO", "read").value == b"read"
        assert time.monotonic() - start < 0.5
    finally:
        a.call("CLIENT", "UNPAUSE")


def test_client_setinfo(vermilion_process_server):
    # Redis 7.2's CLIENT SETINFO, sent by redis-py and node-redis on connect.
    c = RawClient(vermilion_process_server.port)
    assert c.call("CLIENT", "SETINFO", "LIB-NAME", "mylib").value == b"OK"
    assert c.call("CLIENT", "SETINFO", "LIB-VER", "1.2").value == b"OK"
    assert c.call("CLIENT", "SETINFO", "foo", "1").kind == "-"
    assert b"lib-name=mylib" in c.call("CLIENT", "INFO").value


def _info_field(c, field: str) -> int:
    for line in c.call("INFO", "clients", "stats").value.decode().splitlines():
        if line.startswith(field + ":"):
            return int(line.split(":", 1)[1])
    raise KeyError(field)


def _wait_blocked(c, n: int) -> int:
    deadline = time.monotonic() + 10
    while _info_field(c, "blocked_clients") != n and time.monotonic() < deadline:
        time.sleep(0.005)
    return _info_field(c, "blocked_clients")


def _pause_write_scenario(port: int):
    from support import connect
    admin = connect(port)
    seen = []
    try:
        w3 = connect(port)
        w3.call("MULTI")
        w3.call("SET", "b", "2")           # queued before the pause (queueing a write waits)
        admin.call("SET", "k", "v", "PX", "1")
        admin.call("CLIENT", "PAUSE", "60000", "WRITE")
        # Reads and read-only scripts run; writes, plain scripts and EXEC of writes wait,
        # counted in blocked_clients.
        r = connect(port)
        seen.append(r.call("EVAL", "#!lua flags=no-writes\nreturn 1", "0").value)
        r.call("MULTI")
        r.call("EVAL", "#!lua flags=no-writes\nreturn 2", "0")
        seen.append(r.call("EXEC").value)
        w1, w2 = connect(port), connect(port)
        w1.send("SET", "a", "1")
        w2.send("EVAL", "return 3", "0")
        w3.send("EXEC")
        seen.append(("blocked", _wait_blocked(admin, 3)))
        # The key's time has come, but during the pause it only expires logically.
        deadline = time.monotonic() + 10
        while r.call("GET", "k").value is not None and time.monotonic() < deadline:
            time.sleep(0.005)
        seen.append(("expired_keys", _info_field(admin, "expired_keys")))
        admin.call("CLIENT", "UNPAUSE")
        seen += [w1.read().value, w2.read().value, w3.read().value]
        seen.append(("blocked after", _wait_blocked(admin, 0)))
        r.call("GET", "k")
        seen.append(("expired_keys after", _info_field(admin, "expired_keys")))
    finally:
        admin.call("CLIENT", "UNPAUSE")
        admin.close()
    return seen


def test_pause_write_holds_writes_scripts_and_exec(ports):
    from support import same_on_both
    for port in ports:
        c = RawClient(port)
        c.call("CONFIG", "RESETSTAT")
        c.close()
    same_on_both(ports, _pause_write_scenario)
