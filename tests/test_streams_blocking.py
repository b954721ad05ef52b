"""XREAD / XREADGROUP with BLOCK, on engine/blocking.py.

Scenarios with several connections run the same steps against the real
redis-server and Vermilion and compare everything each connection observed
(replies, order of service, errors given to readers whose stream or group
disappears, CLIENT UNBLOCK). Timing (wake latency, timeout precision, BLOCK 0)
and "nothing left behind" are checked on Vermilion.
"""
from __future__ import annotations

import time

import pytest

from rawclient import encode_command


from support import connect, quiet, same_on_both, settle  # noqa: E402,F401


def closing(*clients):
    for c in clients:
        c.close()


# -- served by XADD -------------------------------------------------------------------------------


def xread_scenario(port, resp):
    w1, w2, w3, a = (connect(port, resp) for _ in range(4))
    a.call("XADD", "s", "1-1", "f", "v")
    w1.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    w2.send("XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "nokey", "s", "0", "1-1")
    w3.send("XREAD", "BLOCK", "0", "STREAMS", "s", "5-0")
    settle(port)
    seen = [quiet(w1), quiet(w2), quiet(w3)]
    seen.append(a.call("XADD", "s", "2-1", "f", "v"))
    seen += [w1.read(), w2.read(), quiet(w3)]
    seen.append(a.call("XADD", "nokey", "1-1", "a", "b"))   # w2 was answered already
    w2.send("XREAD", "BLOCK", "0", "STREAMS", "nokey", "s", "$", "$")
    settle(port)
    seen.append(a.call("XADD", "s", "3-1", "x", "y", "z", "w"))
    seen.append(w2.read())
    seen.append(a.call("XADD", "s", "5-1", "f", "v"))
    seen.append(w3.read())
    closing(w1, w2, w3, a)
    return seen


@pytest.mark.parametrize("resp", [2, 3])
def test_xread_woken_by_xadd(ports, resp):
    same_on_both(ports, xread_scenario, resp)


def xreadgroup_scenario(port, resp):
    """Readers of one group are served in the order they blocked, one entry each;
    a reader of another group gets every entry."""
    a = connect(port, resp)
    a.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    a.call("XGROUP", "CREATE", "s", "other", "$")
    readers = [connect(port, resp) for _ in range(3)]
    for i, r in enumerate(readers):
        r.send("XREADGROUP", "GROUP", "g", f"c{i}", "COUNT", "5", "BLOCK", "0", "STREAMS", "s", ">")
        settle(port)
    watcher = connect(port, resp)
    watcher.send("XREADGROUP", "GROUP", "other", "w", "NOACK", "BLOCK", "0", "STREAMS", "s", ">")
    settle(port)
    seen = [a.call("XINFO", "GROUPS", "s")]         # blocked readers are not consumers yet
    seen.append(a.call("XADD", "s", "1-1", "n", "1"))
    seen += [readers[0].read(), quiet(readers[1]), quiet(readers[2]), watcher.read()]
    seen.append(a.call("MULTI"))
    seen.append(a.call("XADD", "s", "2-1", "n", "2"))
    seen.append(a.call("XADD", "s", "3-1", "n", "3"))
    seen.append(a.call("EXEC"))
    seen += [readers[1].read(), quiet(readers[2])]
    seen.append(a.call("XADD", "s", "4-1", "n", "4"))
    seen.append(readers[2].read())
    seen.append(a.call("XPENDING", "s", "g"))
    seen.append(a.call("XINFO", "GROUPS", "s"))
    closing(a, watcher, *readers)
    return seen


@pytest.mark.parametrize("resp", [2, 3])
def test_xreadgroup_fifo_and_groups(ports, resp):
    same_on_both(ports, xreadgroup_scenario, resp)


def multikey_scenario(port):
    a = connect(port)
    for key in ("a", "b"):
        a.call("XGROUP", "CREATE", key, "g", "$", "MKSTREAM")
    r = connect(port)
    r.send("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "a", "b", ">", ">")
    settle(port)
    seen = [a.call("XADD", "b", "1-1", "f", "v"), r.read()]
    r.send("XREAD", "BLOCK", "0", "STREAMS", "a", "b", "$", "$")
    settle(port)
    seen += [a.call("XADD", "a", "7-7", "f", "v"), r.read()]
    seen.append(a.call("XPENDING", "b", "g"))
    closing(a, r)
    return seen


def test_multiple_keys_serve_the_readied_one(ports):
    same_on_both(ports, multikey_scenario)


def setid_scenario(port):
    """XGROUP SETID does not wake anybody; the next XADD serves from the new ID."""
    a = connect(port)
    a.call("XADD", "s", "1-1", "f", "v")
    a.call("XADD", "s", "2-1", "f", "v")
    a.call("XGROUP", "CREATE", "s", "g", "$")
    r = connect(port)
    r.send("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    settle(port)
    seen = [a.call("XGROUP", "SETID", "s", "g", "0"), quiet(r)]
    seen += [a.call("XADD", "s", "3-1", "f", "v"), r.read()]
    closing(a, r)
    return seen


def test_setid_does_not_wake(ports):
    same_on_both(ports, setid_scenario)


def pipeline_scenario(port):
    """Commands pipelined after a blocking read wait until it is answered."""
    r = connect(port)
    r.send_raw(encode_command(["XREAD", "BLOCK", "0", "STREAMS", "s", "$"])
               + encode_command(["XLEN", "s"]) + encode_command(["PING"]))
    settle(port)
    seen = [quiet(r)]
    a = connect(port)
    seen.append(a.call("XADD", "s", "1-1", "f", "v"))
    seen += [r.read(), r.read(), r.read()]
    closing(a, r)
    return seen


def test_pipelined_input_waits(ports):
    same_on_both(ports, pipeline_scenario)


# -- errors when the stream or the group goes away --------------------------------------------------


DISAPPEARING = [
    [("DEL", "s")],
    [("XGROUP", "DESTROY", "s", "g")],
    [("SET", "s", "x")],
    [("FLUSHALL",)],
    [("FLUSHDB",)],
    [("RENAME", "s", "s2")],
    [("XADD", "s2", "1-1", "f", "v"), ("RENAME", "s2", "s")],
    [("MULTI",), ("DEL", "s"), ("XADD", "s", "1-1", "f", "v"), ("EXEC",)],
    [("MULTI",), ("XGROUP", "DESTROY", "s", "g"), ("XGROUP", "CREATE", "s", "g", "0"),
     ("XADD", "s", "1-1", "f", "v"), ("EXEC",)],
    [("XGROUP", "DELCONSUMER", "s", "g", "c"), ("XADD", "s", "1-1", "f", "v")],
    [("XGROUP", "DESTROY", "s", "other")],
    [("DEL", "unrelated")],
]


def disappearing_scenario(port, resp, actions):
    a = connect(port, resp)
    a.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    a.call("XGROUP", "CREATE", "s", "other", "$")
    a.call("SET", "unrelated", "x")
    r = connect(port, resp)
    r.send("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    x = connect(port, resp)
    x.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")    # XREAD is never woken with an error
    settle(port)
    seen = [a.call(*args) for args in actions]
    seen.append(r.read() if not quiet(r, 0.2) else "blocked")
    seen.append(x.read() if not quiet(x, 0.05) else "blocked")
    seen.append(a.call("EXISTS", "s"))
    closing(a, r, x)
    return seen


@pytest.mark.parametrize("actions", DISAPPEARING, ids=lambda a: "+".join(" ".join(c) for c in a))
def test_xreadgroup_woken_with_error(ports, actions):
    for resp in (2, 3):
        same_on_both(ports, disappearing_scenario, resp, actions)


def expiry_scenario(port):
    a = connect(port)
    a.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    r = connect(port)
    r.send("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    settle(port)
    seen = [a.call("PEXPIRE", "s", "20")]
    r.sock.settimeout(3)
    seen.append(r.read())                 # the active expiry cycle deletes it: no access needed
    closing(a, r)
    return seen


def test_xreadgroup_woken_when_stream_expires(ports):
    same_on_both(ports, expiry_scenario)


def xread_recreated_scenario(port):
    """A blocked XREAD survives its key being deleted or replaced by another type."""
    a = connect(port)
    a.call("XADD", "s", "5-1", "f", "v")
    r = connect(port)
    r.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    settle(port)
    seen = [a.call("DEL", "s"), quiet(r), a.call("SET", "s", "str"), quiet(r), a.call("DEL", "s")]
    seen += [a.call("XADD", "s", "1-1", "f", "v"), quiet(r)]       # not after 5-1 yet
    seen += [a.call("XADD", "s", "6-1", "f", "v"), r.read()]
    closing(a, r)
    return seen


def test_xread_survives_key_replacement(ports):
    same_on_both(ports, xread_recreated_scenario)


# -- timeouts, BLOCK 0, CLIENT UNBLOCK, MULTI ------------------------------------------------------


def unblock_scenario(port, resp):
    a = connect(port, resp)
    a.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    seen = []
    for how in ("TIMEOUT", "ERROR", None):
        r = connect(port, resp)
        rid = r.call("CLIENT", "ID").value
        r.send("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
        settle(port)
        seen.append(a.call("CLIENT", "UNBLOCK", rid, *([how] if how else [])))
        seen.append(r.read())
        seen.append(a.call("CLIENT", "UNBLOCK", rid))
        seen.append(r.call("PING"))
        r.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        settle(port)
        seen.append(a.call("CLIENT", "UNBLOCK", rid, *([how] if how else [])))
        seen.append(r.read())
        r.close()
    seen.append(a.call("XINFO", "GROUPS", "s"))
    a.close()
    return seen


@pytest.mark.parametrize("resp", [2, 3])
def test_client_unblock(ports, resp):
    same_on_both(ports, unblock_scenario, resp)


def timeout_scenario(port, resp):
    r = connect(port, resp)
    r.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    seen = [r.call("XREAD", "BLOCK", "50", "STREAMS", "s", "$"),
            r.call("XREADGROUP", "GROUP", "g", "c", "BLOCK", "50", "STREAMS", "s", ">"),
            r.call("XREAD", "BLOCK", "1", "STREAMS", "nokey", "0"),
            r.call("XINFO", "GROUPS", "s")]
    r.close()
    return seen


@pytest.mark.parametrize("resp", [2, 3])
def test_timeouts(ports, resp):
    same_on_both(ports, timeout_scenario, resp)


def test_timeout_precision_and_wake_latency(vermilion_process_server):
    port = vermilion_process_server.port
    r, a = connect(port), connect(port)
    r.call("DEL", "s")
    for ms in (30, 120):
        elapsed = []
        for _ in range(3):          # the best of three, so a busy machine does not decide
            t0 = time.perf_counter()
            assert r.call("XREAD", "BLOCK", str(ms), "STREAMS", "s", "$").value is None
            elapsed.append((time.perf_counter() - t0) * 1000)
        assert min(elapsed) >= ms - 1, elapsed            # (timers tick in ms)
        assert min(elapsed) < ms + 90, elapsed            # a timer, not the 10 Hz cron
    latencies = []
    for i in range(20):
        r.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        settle(port)
        t0 = time.perf_counter()
        a.call("XADD", "s", "*", "n", str(i))
        assert r.read().kind == "*"
        latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    # Milliseconds: the median round trip (XADD, then the reader's reply) is a
    # fraction of a ms on an idle machine; the bounds leave room for a busy one.
    assert latencies[len(latencies) // 2] < 40, latencies     # the push wakes it, not a poll
    closing(r, a)


def test_block_zero_waits_forever(vermilion_process_server):
    port = vermilion_process_server.port
    r, a = connect(port), connect(port)
    a.call("DEL", "s")
    a.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    r.send("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    assert quiet(r, 0.6)
    a.call("XADD", "s", "1-1", "f", "v")
    assert r.read().value[0].value[0].value == b"s"
    closing(r, a)


def test_disconnect_leaves_nothing_behind(vermilion_process_server):
    server = vermilion_process_server
    port = server.port
    a = connect(port)
    a.call("FLUSHALL")
    a.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    readers = [connect(port) for _ in range(4)]
    readers[0].send("XREADGROUP", "GROUP", "g", "c0", "BLOCK", "0", "STREAMS", "s", "t", ">", ">")
    readers[1].send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    readers[2].send("XREADGROUP", "GROUP", "g", "c2", "BLOCK", "100000", "STREAMS", "s", ">")
    readers[3].send("XREADGROUP", "GROUP", "g", "c3", "BLOCK", "30", "STREAMS", "s", ">")
    settle(port)

    def state():
        engine = server.engine
        blocking = engine.blocking
        return (blocking.blocked_clients, dict(blocking.waiting), dict(blocking._watches),
                {k: set(v) for k, v in engine.dbs[0].watched.items()})

    blocked = server.call_in_loop(state)
    assert blocked[0] == 3 and blocked[1] and blocked[2]
    for r in readers:
        r.close()
    time.sleep(0.1)
    settle(port)
    assert server.call_in_loop(state) == (0, {}, {}, {})
    # WATCH still works on the key afterwards, and nobody was made a consumer.
    a.call("WATCH", "s")
    assert a.call("XINFO", "CONSUMERS", "s", "g").value == []
    a.call("UNWATCH")
    assert server.call_in_loop(state) == (0, {}, {}, {})
    a.close()


def test_watch_and_blocked_reader_share_a_key(vermilion_process_server):
    """A WATCHing client and a blocked XREADGROUP on the same key do not disturb each other."""
    port = vermilion_process_server.port
    a, w, r = connect(port), connect(port), connect(port)
    a.call("FLUSHALL")
    a.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    w.call("WATCH", "s")
    r.send("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    settle(port)
    w.call("MULTI")
    w.call("PING")
    assert w.call("EXEC").value == [("+", b"PONG")]      # blocking did not touch the key
    w.call("WATCH", "s")
    a.call("XADD", "s", "1-1", "f", "v")
    assert r.read().kind == "*"
    w.call("MULTI")
    w.call("PING")
    assert w.call("EXEC").value is None                   # the XADD did
    closing(a, w, r)


def added_then_deleted_scenario(port, resp):
    """An entry added and deleted in one transaction: the readers find nothing new."""
    a = connect(port, resp)
    a.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    r, x = connect(port, resp), connect(port, resp)
    r.send("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    x.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    settle(port)
    seen = [a.call("MULTI"), a.call("XADD", "s", "1-1", "f", "v"), a.call("XDEL", "s", "1-1"),
            a.call("EXEC")]
    seen += [r.read() if not quiet(r, 0.1) else "blocked", x.read() if not quiet(x) else "blocked"]
    seen += [a.call("XINFO", "GROUPS", "s"), a.call("XADD", "s", "2-1", "f", "v")]
    seen += [r.read() if not quiet(r, 0.1) else "blocked", x.read() if not quiet(x) else "blocked"]
    closing(a, r, x)
    return seen


@pytest.mark.parametrize("resp", [2, 3])
def test_added_then_deleted_in_multi(ports, resp):
    same_on_both(ports, added_then_deleted_scenario, resp)


def swapdb_scenario(port, other_has_stream):
    a = connect(port)
    a.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    a.call("SELECT", "1")
    a.call("FLUSHDB")
    if other_has_stream:
        a.call("XADD", "s", "5-5", "f", "v")
        a.call("XGROUP", "CREATE", "s", "g", "0")
    a.call("SELECT", "0")
    r, x = connect(port), connect(port)
    r.send("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    x.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    settle(port)
    seen = [a.call("SWAPDB", "0", "1")]
    seen += [r.read() if not quiet(r, 0.2) else "blocked", x.read() if not quiet(x) else "blocked"]
    a.call("SELECT", "1")
    a.call("FLUSHDB")
    closing(a, r, x)
    return seen


@pytest.mark.parametrize("other_has_stream", [True, False])
def test_swapdb(ports, other_has_stream):
    same_on_both(ports, swapdb_scenario, other_has_stream)
