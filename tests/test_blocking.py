"""Blocking pops (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP)
and the engine/blocking.py mechanism behind them.

Scenarios with several connections run the same steps against the real
redis-server and Vermilion and compare everything each connection observed:
FIFO service, serving after EXEC, pipelined input held while blocked, CLIENT
UNBLOCK, wrong types at serve time. Timing (wake latency, timeout precision) is
measured on Vermilion.
"""
from __future__ import annotations

import time

import pytest

from rawclient import RawClient, encode_command
from vermilion.engine.table import COMMANDS


from support import connect, quiet, same_on_both, settle  # noqa: E402,F401


# -- scenarios ---------------------------------------------------------------------------------


def fifo_scenario(port, resp):
    waiters = [connect(port, resp) for _ in range(3)]
    for i, w in enumerate(waiters):
        w.send("BLPOP", "q", "other", 0)
        settle(port)
    assert all(quiet(w) for w in waiters)
    pusher = connect(port, resp)
    seen = [pusher.call("RPUSH", "q", "a", "b")]
    seen += [waiters[0].read(), waiters[1].read()]
    assert quiet(waiters[2])
    seen.append(pusher.call("RPUSH", "other", "c", "d"))
    seen.append(waiters[2].read())
    seen.append(pusher.call("LRANGE", "other", 0, -1))
    seen.append(pusher.call("EXISTS", "q"))
    for c in waiters + [pusher]:
        c.close()
    return seen


@pytest.mark.parametrize("resp", [2, 3])
def test_fifo_order(ports, resp):
    same_on_both(ports, fifo_scenario, resp)


def multi_scenario(port):
    waiter = connect(port)
    waiter.send("BLPOP", "l", 0)
    settle(port)
    a = connect(port)
    seen = [a.call("MULTI"), a.call("RPUSH", "l", "first"), a.call("RPUSH", "l", "second"),
            a.call("LPOP", "l"), a.call("EXEC")]
    seen.append(waiter.read())            # served after EXEC: the list then holds only "second"
    seen.append(a.call("EXISTS", "l"))
    waiter.close()
    a.close()
    return seen


def test_push_inside_multi_serves_after_exec(ports):
    if "multi" not in COMMANDS:
        pytest.skip("needs MULTI")
    same_on_both(ports, multi_scenario)


def pipeline_scenario(port):
    waiter = connect(port)
    waiter.send("BLPOP", "l", 0)
    settle(port)
    a = connect(port)
    a.send_raw(encode_command(["RPUSH", "l", "x"]) + encode_command(["LPOP", "l"]))
    seen = [a.read(), a.read(), waiter.read()]
    waiter.close()
    a.close()
    return seen


def test_served_right_after_the_pushing_command(ports):
    same_on_both(ports, pipeline_scenario)


def held_input_scenario(port):
    waiter = connect(port)
    waiter.send_raw(encode_command(["BLPOP", "l", 0]) + encode_command(["PING"])
                    + encode_command(["ECHO", "after"]))
    settle(port)
    held = quiet(waiter)
    a = connect(port)
    seen = [held, a.call("RPUSH", "l", "v"), waiter.read(), waiter.read(), waiter.read()]
    # A second blocking command queued behind a first one blocks in turn.
    waiter.send_raw(encode_command(["BLPOP", "l", 0]) + encode_command(["BLPOP", "l", 0])
                    + encode_command(["PING"]))
    settle(port)
    seen.append(a.call("RPUSH", "l", "1"))
    seen.append(waiter.read())
    settle(port)
    seen.append(quiet(waiter))
    seen.append(a.call("RPUSH", "l", "2"))
    seen += [waiter.read(), waiter.read()]
    waiter.close()
    a.close()
    return seen


def test_pipelined_input_waits_while_blocked(ports):
    same_on_both(ports, held_input_scenario)


def input_after_the_block_scenario(port):
    # The blocking command ends its read, and the next commands arrive in later reads
    # while the client is blocked: they wait too, and run in order once it is served.
    waiter = connect(port)
    waiter.send_raw(encode_command(["RPUSH", "other", "1"]) + encode_command(["BLPOP", "l", 0]))
    first = waiter.read()
    settle(port)
    waiter.send_raw(encode_command(["PING"]))
    settle(port)
    waiter.send_raw(encode_command(["ECHO", "after"]) + encode_command(["LLEN", "l"]))
    settle(port)
    held = quiet(waiter)
    a = connect(port)
    seen = [first, held, a.call("RPUSH", "l", "v"), waiter.read(), waiter.read(), waiter.read(),
            waiter.read(), waiter.call("PING")]
    waiter.close()
    a.close()
    return seen


def test_input_arriving_while_blocked_waits(ports):
    same_on_both(ports, input_after_the_block_scenario)


def blmove_chain_scenario(port, resp):
    mover = connect(port, resp)
    mover.send("BLMOVE", "src", "dst", "RIGHT", "LEFT", 0)
    settle(port)
    popper = connect(port, resp)
    popper.send("BRPOPLPUSH", "dst", "final", 0)
    settle(port)
    a = connect(port, resp)
    seen = [a.call("RPUSH", "src", "x", "y")]
    seen += [mover.read(), popper.read()]
    seen += [a.call("LRANGE", "src", 0, -1), a.call("LRANGE", "dst", 0, -1),
             a.call("LRANGE", "final", 0, -1)]
    for c in (mover, popper, a):
        c.close()
    return seen


@pytest.mark.parametrize("resp", [2, 3])
def test_blmove_serves_the_next_waiter(ports, resp):
    same_on_both(ports, blmove_chain_scenario, resp)


def blmpop_scenario(port, resp):
    w1 = connect(port, resp)
    w1.send("BLMPOP", 0, 2, "a", "b", "RIGHT", "COUNT", 2)
    settle(port)
    w2 = connect(port, resp)
    w2.send("BRPOP", "b", "a", 0)
    settle(port)
    p = connect(port, resp)
    seen = [p.call("RPUSH", "b", 1, 2, 3), w1.read(), w2.read(), p.call("EXISTS", "b")]
    for c in (w1, w2, p):
        c.close()
    return seen


@pytest.mark.parametrize("resp", [2, 3])
def test_blmpop_served_later(ports, resp):
    same_on_both(ports, blmpop_scenario, resp)


def zset_scenario(port, resp):
    w1 = connect(port, resp)
    w1.send("BZPOPMIN", "z", "y", 0)
    settle(port)
    w2 = connect(port, resp)
    w2.send("BZMPOP", 0, 1, "z", "MAX", "COUNT", 5)
    settle(port)
    w3 = connect(port, resp)
    w3.send("BZPOPMAX", "z", 0)
    settle(port)
    p = connect(port, resp)
    seen = [p.call("ZADD", "z", 1, "a", 2, "b", 3, "c", 1.5, "d"), w1.read(), w2.read()]
    seen.append(quiet(w3))
    seen.append(p.call("ZADD", "z", "inf", "top"))
    seen.append(w3.read())
    seen.append(p.call("EXISTS", "z"))
    for c in (w1, w2, w3, p):
        c.close()
    return seen


@pytest.mark.parametrize("resp", [2, 3])
def test_sorted_set_blocking_pops(ports, resp):
    same_on_both(ports, zset_scenario, resp)


def type_change_scenario(port):
    w = connect(port)
    w.send("BLPOP", "k", 0)
    settle(port)
    z = connect(port)
    z.send("BZPOPMIN", "k", 0)
    settle(port)
    a = connect(port)
    seen = [a.call("SET", "k", "string")]
    seen.append(quiet(w) and quiet(z))
    seen += [a.call("DEL", "k"), a.call("ZADD", "k", 5, "m"), z.read()]
    seen.append(quiet(w))
    seen += [a.call("RPUSH", "k", "v"), w.read()]
    # BLMOVE whose destination is of the wrong type when it is served.
    m = connect(port)
    m.send("BLMOVE", "s", "str", "LEFT", "LEFT", 0)
    settle(port)
    seen += [a.call("SET", "str", "x"), a.call("RPUSH", "s", "e"), m.read(),
             a.call("LRANGE", "s", 0, -1)]
    for c in (w, z, a, m):
        c.close()
    return seen


def test_type_checks_when_served(ports):
    same_on_both(ports, type_change_scenario)


def unblock_scenario(port, resp):
    w = connect(port, resp)
    wid = w.call("CLIENT", "ID").value
    w.send("BLPOP", "l", 0)
    settle(port)
    a = connect(port, resp)
    seen = [a.call("CLIENT", "UNBLOCK", wid), w.read()]
    w.send("BZPOPMIN", "z", 0)
    settle(port)
    seen += [a.call("CLIENT", "UNBLOCK", wid, "ERROR"), w.read()]
    w.send("BLMOVE", "a", "b", "LEFT", "LEFT", 0)
    settle(port)
    seen += [a.call("CLIENT", "UNBLOCK", wid, "TIMEOUT"), w.read()]
    seen += [a.call("CLIENT", "UNBLOCK", wid), a.call("CLIENT", "UNBLOCK", 999999),
             a.call("CLIENT", "UNBLOCK", wid, "FOO"), a.call("CLIENT", "UNBLOCK", "x")]
    seen.append(w.call("PING"))
    w.close()
    a.close()
    return seen


@pytest.mark.parametrize("resp", [2, 3])
def test_client_unblock(ports, resp):
    same_on_both(ports, unblock_scenario, resp)


def disconnect_scenario(port):
    w = connect(port)
    w.send("BLPOP", "l", 0)
    settle(port)
    w.close()
    time.sleep(0.05)
    w2 = connect(port)
    w2.send("BRPOP", "l", 0)
    settle(port)
    a = connect(port)
    seen = [a.call("RPUSH", "l", "one", "two"), w2.read(), a.call("LRANGE", "l", 0, -1)]
    w2.close()
    a.close()
    return seen


def test_disconnect_while_blocked_leaves_nothing(ports, vermilion_process_server):
    same_on_both(ports, disconnect_scenario)
    blocking = vermilion_process_server.engine.blocking
    deadline = time.time() + 2
    while (blocking.waiting or blocking.blocked_clients) and time.time() < deadline:
        time.sleep(0.01)
    assert not blocking.waiting and blocking.blocked_clients == 0


def multi_nonblocking_scenario(port, resp):
    a = connect(port, resp)
    seen = [a.call("MULTI")]
    for cmd in (["BLPOP", "l", 0], ["BRPOP", "l", 1], ["BLMOVE", "l", "d", "LEFT", "LEFT", 0],
                ["BRPOPLPUSH", "l", "d", 0], ["BLMPOP", 0, 1, "l", "LEFT"], ["BZPOPMIN", "z", 0],
                ["BZPOPMAX", "z", 0], ["BZMPOP", 0, 1, "z", "MIN"], ["RPUSH", "l", "x"],
                ["BLPOP", "l", 0]):
        seen.append(a.call(*cmd))
    seen.append(a.call("EXEC"))
    a.close()
    return seen


@pytest.mark.parametrize("resp", [2, 3])
def test_blocking_commands_inside_multi_do_not_block(ports, resp):
    if "multi" not in COMMANDS:
        pytest.skip("needs MULTI")
    same_on_both(ports, multi_nonblocking_scenario, resp)


def script_scenario(port):
    a = connect(port)
    seen = [a.call("EVAL", "return redis.call('blmpop', 0, 1, 'l', 'left')", 0),
            a.call("EVAL", "return redis.call('bzmpop', 0, 1, 'z', 'min')", 0),
            a.call("EVAL", "return redis.call('blpop', 'l', 0)", 0),
            a.call("EVAL", "redis.call('rpush', 'l', 'v'); return redis.call('blmpop', 0, 1, 'l', 'left')", 0)]
    a.close()
    return seen


def test_blocking_commands_inside_scripts(ports):
    if "eval" not in COMMANDS:
        pytest.skip("needs EVAL")
    same_on_both(ports, script_scenario)


def client_list_scenario(port):
    w = connect(port)
    w.call("CLIENT", "SETNAME", "waiter")
    w.send("BLPOP", "l", 0)
    settle(port)
    a = connect(port)
    line = [x for x in a.call("CLIENT", "LIST").value.split(b"\n") if b"name=waiter" in x][0]
    flags = [f for f in line.split() if f.startswith(b"flags=") or f.startswith(b"cmd=")]
    a.call("RPUSH", "l", "x")
    w.read()
    w.close()
    a.close()
    return flags


def test_client_list_shows_blocked(ports):
    same_on_both(ports, client_list_scenario)


# -- timing (Vermilion) ------------------------------------------------------------------------


def test_wakes_within_milliseconds(vermilion_process_server):
    port = vermilion_process_server.port
    w = connect(port)
    w.call("DEL", "wake")
    latencies = []
    for _ in range(20):
        w.send("BLPOP", "wake", 0)
        settle(port)
        p = RawClient(port)
        start = time.perf_counter()
        p.call("RPUSH", "wake", "x")
        reply = w.read()
        latencies.append(time.perf_counter() - start)
        assert reply.value[1].value == b"x"
        p.close()
    w.close()
    latencies.sort()
    # Woken by the push itself, not by a periodic check (the cron runs every 100 ms):
    # the median wake-up is far below one period even on a busy machine.
    assert latencies[len(latencies) // 2] < 0.04, latencies


@pytest.mark.parametrize("timeout,cmd", [(0.1, ["BLPOP", "nokey"]), (0.25, ["BZPOPMIN", "nokey"]),
                                         (0.05, ["BRPOPLPUSH", "nokey", "dst"])])
def test_timeout_precision(vermilion_process_server, timeout, cmd):
    c = connect(vermilion_process_server.port)
    elapsed = []
    for _ in range(5):      # the best of five, so a busy test machine does not decide
        start = time.perf_counter()
        reply = c.call(*cmd, timeout)
        elapsed.append(time.perf_counter() - start)
        assert reply.kind == "*" and reply.value is None
    assert all(e >= timeout - 0.002 for e in elapsed), elapsed
    # A timer of its own, not the 10 Hz cron: the best attempt beats one cron period.
    assert min(elapsed) < timeout + 0.09, elapsed
    c.close()


def test_timeout_replies_match(ports):
    def scenario(port, resp):
        c = connect(port, resp)
        out = [c.call("BLPOP", "a", "b", 0.01), c.call("BRPOP", "a", 0.01),
               c.call("BLMOVE", "a", "b", "LEFT", "LEFT", 0.01), c.call("BRPOPLPUSH", "a", "b", 0.01),
               c.call("BLMPOP", 0.01, 1, "a", "LEFT"), c.call("BZPOPMIN", "z", 0.01),
               c.call("BZMPOP", 0.01, 1, "z", "MAX", "COUNT", 2), c.call("BLPOP", "a", 0.001)]
        c.close()
        return out
    for resp in (2, 3):
        same_on_both(ports, scenario, resp)


def test_served_pops_propagate_as_non_blocking(vermilion_process_server):
    engine = vermilion_process_server.engine
    captured = []

    def sink(db_index, argv):
        captured.append([a if isinstance(a, bytes) else str(a).encode() for a in argv])

    port = vermilion_process_server.port
    a = connect(port)
    a.call("FLUSHALL")
    engine.sinks.append(sink)
    try:
        w = connect(port)
        w.send("BLPOP", "l", 0)
        settle(port)
        a.call("RPUSH", "l", "x", "y")
        w.read()
        w.send("BLMOVE", "s", "d", "RIGHT", "LEFT", 0)
        settle(port)
        a.call("RPUSH", "s", "e")
        w.read()
        w.send("BZMPOP", 0, 1, "z", "MIN", "COUNT", 3)
        settle(port)
        a.call("ZADD", "z", 1, "m")
        w.read()
        a.call("RPUSH", "l2", "v")
        a.call("BRPOP", "l2", 0)
        settle(port)
        w.close()
    finally:
        engine.sinks.remove(sink)
    a.close()
    assert captured == [
        [b"RPUSH", b"l", b"x", b"y"], [b"LPOP", b"l"],
        [b"RPUSH", b"s", b"e"], [b"LMOVE", b"s", b"d", b"RIGHT", b"LEFT"],
        [b"ZADD", b"z", b"1", b"m"], [b"ZPOPMIN", b"z", b"1"],
        [b"RPUSH", b"l2", b"v"], [b"RPOP", b"l2"],
    ], captured


def test_many_waiters_on_many_keys(vermilion_process_server):
    """A client blocked on several keys is served once, from the key that got data."""
    port = vermilion_process_server.port
    waiters = []
    for i in range(20):
        w = connect(port)
        w.send("BLPOP", f"k{i % 5}", f"k{(i + 1) % 5}", 0)
        waiters.append(w)
    settle(port)
    p = connect(port)
    p.call("RPUSH", "k0", *range(100))
    got = []
    for i, w in enumerate(waiters):
        if i % 5 in (0, 4):                  # waits on k0
            reply = w.read()
            got.append(int(reply.value[1].value))
        else:
            assert quiet(w, 0.01)
    assert got == sorted(got) and len(got) == 8
    assert p.call("LLEN", "k0").value == 92
    for w in waiters:
        w.close()
    p.call("DEL", "k0")
    p.close()


def served_events_scenario(port):
    a = connect(port)
    a.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
    listener = connect(port)
    listener.call("PSUBSCRIBE", "__keyevent@0__:*")
    w1 = connect(port)
    w1.send("BLMOVE", "src", "dst", "LEFT", "RIGHT", 0)
    settle(port)
    w2 = connect(port)
    w2.send("BZPOPMAX", "z", 0)
    settle(port)
    a.call("RPUSH", "src", "v")
    a.call("ZADD", "z", 1, "m")
    w1.read()
    w2.read()
    a.call("SET", "sentinel", "x")
    events = []
    while True:
        frame = listener.read()
        event, key = frame.value[2].value, frame.value[3].value
        if key == b"sentinel":
            break
        events.append((event, key))
    a.call("CONFIG", "SET", "notify-keyspace-events", "")
    for c in (a, listener, w1, w2):
        c.close()
    return events


def test_served_clients_notify_like_redis(ports):
    same_on_both(ports, served_events_scenario)


def other_db_scenario(port):
    w = connect(port)
    w.call("SELECT", 1)
    w.send("BLPOP", "k", 0)
    settle(port)
    a = connect(port)
    seen = [a.call("RPUSH", "k", "db0")]
    settle(port)
    seen.append(quiet(w))
    seen += [a.call("SELECT", 1), a.call("RPUSH", "k", "db1"), w.read(), a.call("SELECT", 0),
             a.call("LLEN", "k")]
    w.close()
    a.close()
    return seen


def test_blocking_is_per_database(ports):
    same_on_both(ports, other_db_scenario)


def reply_mode_scenario(port):
    w = connect(port)
    a = connect(port)
    w.send_raw(encode_command(["CLIENT", "REPLY", "SKIP"]) + encode_command(["BLPOP", "l", 0])
               + encode_command(["PING"]))
    settle(port)
    a.call("RPUSH", "l", "x")
    seen = [w.read()]           # the served BLPOP reply is skipped: PONG
    w.send_raw(encode_command(["CLIENT", "REPLY", "OFF"]) + encode_command(["BLPOP", "l", 0])
               + encode_command(["CLIENT", "REPLY", "ON"]) + encode_command(["ECHO", "on"]))
    settle(port)
    a.call("RPUSH", "l", "y")
    seen += [w.read(), w.read()]
    w.close()
    a.close()
    return seen


def test_client_reply_modes_with_blocked_replies(ports):
    same_on_both(ports, reply_mode_scenario)


def script_push_scenario(port):
    w = connect(port)
    w.send("BLPOP", "l", 0)
    settle(port)
    a = connect(port)
    seen = [a.call("EVAL", "redis.call('rpush', KEYS[1], 'a'); redis.call('rpush', KEYS[1], 'b'); "
                           "return redis.call('lpop', KEYS[1])", 1, "l"),
            w.read(), a.call("EXISTS", "l")]
    w.close()
    a.close()
    return seen


def test_push_inside_script_serves_after_the_script(ports):
    if "eval" not in COMMANDS:
        pytest.skip("needs EVAL")
    same_on_both(ports, script_push_scenario)


# -- failed_calls of a blocked command answered with an error -------------------------------------

def _cmdstat(c, name):
    for line in c.call("INFO", "commandstats").value.split(b"\r\n"):
        if line.startswith(b"cmdstat_%s:" % name.encode()):
            fields = dict(kv.split(b"=") for kv in line.split(b":", 1)[1].split(b","))
            return {k: fields[k] for k in (b"calls", b"failed_calls", b"rejected_calls")}
    return None


def _until_blocked(c):
    while b"blocked_clients:0\r\n" in c.call("INFO", "clients").value:
        pass


XREADGROUP = ("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
UNBLOCKED_BY = [
    ("group destroyed", XREADGROUP, [("XGROUP", "DESTROY", "s", "g")]),
    ("stream deleted", XREADGROUP, [("DEL", "s")]),
    ("stream replaced", XREADGROUP, [("SET", "s", "x")]),
    ("blmove destination type", ("BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"), [("LPUSH", "src", "v")]),
    ("brpoplpush destination type", ("BRPOPLPUSH", "src", "dst", "0"), [("LPUSH", "src", "v")]),
    ("client unblock error", ("BLPOP", "l", "0"), [("CLIENT", "UNBLOCK", "ID", "ERROR")]),
    ("client unblock timeout", ("BZPOPMIN", "z", "0"), [("CLIENT", "UNBLOCK", "ID", "TIMEOUT")]),
    ("client unblock xread", ("XREAD", "BLOCK", "0", "STREAMS", "s", "$"), [("CLIENT", "UNBLOCK", "ID", "ERROR")]),
    ("served normally", ("BLPOP", "l", "0"), [("LPUSH", "l", "v")]),
]


@pytest.mark.parametrize("case", UNBLOCKED_BY, ids=[c[0] for c in UNBLOCKED_BY])
def test_failed_calls_of_blocked_commands(ports, case):
    """Redis counts an error that answers a blocked command in its failed_calls (and
    every CLIENT UNBLOCK, even with the timeout reply); a timeout or data does not."""
    _, block, actions = case

    def scenario(port):
        a, b = RawClient(port), RawClient(port)
        b.call("CONFIG", "RESETSTAT")
        b.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        b.call("SET", "dst", "string")
        aid = a.call("CLIENT", "ID").value
        a.send(*block)
        _until_blocked(b)
        for action in actions:
            b.call(*[str(aid) if x == "ID" else x for x in action])
        reply = a.read()
        name = block[0].lower()
        stats = [_cmdstat(b, name), _cmdstat(b, "lpush")]
        # A natural timeout is not a failure.
        a.call("BLPOP", "nothing", "0.01")
        stats.append(_cmdstat(b, "blpop"))
        a.close()
        b.close()
        return reply, stats
    same_on_both(ports, scenario)
def test_blocked_command_answered_after_resetstat(ports):
    """A command blocked before CONFIG RESETSTAT and answered with an error after it
    shows in INFO commandstats (its failed call), as in Redis."""
    def scenario(port):
        a, b = RawClient(port), RawClient(port)
        aid = a.call("CLIENT", "ID").value
        a.send("BLPOP", "l", "0")
        _until_blocked(b)
        b.call("CONFIG", "RESETSTAT")
        b.call("CLIENT", "UNBLOCK", str(aid), "ERROR")
        reply = a.read()
        stats = _cmdstat(b, "blpop")
        a.close()
        b.close()
        return reply, stats
    same_on_both(ports, scenario)


def _unblock_error_counts_failed_call(port: int):
    from support import connect
    admin, blocked = connect(port), connect(port)
    admin.call("CONFIG", "RESETSTAT")
    cid = blocked.call("CLIENT", "ID").value
    blocked.send("BLPOP", "nolist", "0")
    import time
    deadline = time.monotonic() + 10
    while b"blocked_clients:1" not in admin.call("INFO", "clients").value and time.monotonic() < deadline:
        time.sleep(0.005)
    admin.call("CLIENT", "UNBLOCK", str(cid), "ERROR")
    seen = [blocked.read()]
    stats = admin.call("INFO", "commandstats").value.decode()
    line = [x for x in stats.splitlines() if x.startswith("cmdstat_blpop:")][0]
    seen.append([f for f in line.split(",") if f.startswith(("rejected_calls", "failed_calls"))])
    seen.append([x for x in admin.call("INFO", "errorstats").value.decode().splitlines() if "UNBLOCKED" in x])
    admin.close()
    blocked.close()
    return seen


def test_unblock_with_error_is_a_failed_call(ports):
    from support import same_on_both
    same_on_both(ports, _unblock_error_counts_failed_call)
