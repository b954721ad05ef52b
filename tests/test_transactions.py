"""MULTI / EXEC / DISCARD / WATCH / UNWATCH, compared frame by frame with redis-server.

Two-client scenarios (a WATCHed key changed by someone else) open a second
connection to each server through `Both`. Propagation (EXEC's effects wrapped in
MULTI/EXEC) is checked on Vermilion alone with a test sink.
"""
from __future__ import annotations

import time

import pytest

from rawclient import RawClient
from support import same_on_both, wait_for
from vermilion.engine.table import COMMANDS


def needs(*names: str) -> None:
    missing = [n for n in names if n not in COMMANDS]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")


class Both:
    """A second connection to each server (same protocol as the pair)."""

    def __init__(self, reference_server, vermilion_process_server, resp: int):
        self.ref = RawClient(reference_server.port)
        self.ver = RawClient(vermilion_process_server.port)
        if resp == 3:
            self.ref.call("HELLO", "3")
            self.ver.call("HELLO", "3")

    def check(self, *args):
        expected, actual = self.ref.call(*args), self.ver.call(*args)
        assert actual == expected, f"{args!r}: redis={expected!r} vermilion={actual!r}"
        return actual

    def close(self):
        self.ref.close()
        self.ver.close()


@pytest.fixture
def other(pair, reference_server, vermilion_process_server):
    both = Both(reference_server, vermilion_process_server, pair.resp)
    yield both
    both.close()


# -- queueing and EXEC ------------------------------------------------------------------------


def test_basic_transaction(pair):
    pair.run("""
    MULTI
    SET a 1
    INCR a
    GET a
    EXEC
    GET a
    """)


def test_runtime_errors_are_returned_in_place(pair):
    pair.run("""
    MULTI
    SET a x
    INCR a
    GET a
    INCRBY a notanumber
    APPEND a y
    EXEC
    """)


def test_empty_transaction_and_errors_outside_multi(pair):
    pair.run("""
    EXEC
    DISCARD
    MULTI
    EXEC
    MULTI
    DISCARD
    EXEC
    """)


def test_nested_multi_does_not_abort(pair):
    pair.run("""
    MULTI
    MULTI
    SET a 1
    EXEC
    GET a
    """)


def test_watch_inside_multi_is_refused_but_does_not_abort(pair):
    pair.run("""
    MULTI
    WATCH a
    SET a 2
    EXEC
    """)


@pytest.mark.parametrize("bad", [["NOSUCHCMD", "x"], ["GET"], ["SET", "a"], ["CLIENT", "NOSUCH"],
                                 ["CONFIG", "GET"], ["MULTI", "x"], ["SHUTDOWN"],
                                 ["MODULE", "LOAD", "/nonexistent.so"]])
def test_queue_time_error_aborts_exec(pair, bad):
    pair.check("MULTI")
    pair.check(*bad)
    pair.check("SET", "a", "1")
    pair.check_error("EXEC")
    pair.check("EXISTS", "a")


def test_queue_time_checks_follow_the_server_mid_transaction(pair, other):
    """Queueing is checked against the server's state when each command arrives: a
    maxmemory set by another client while this one queues refuses the next command
    (-OOM, the transaction is flagged), and once lifted queueing goes on as before."""
    pair.check("MULTI")
    pair.check("SET", "a", "1")
    other.check("CONFIG", "SET", "maxmemory", "1")
    try:
        pair.check_error("SET", "b", "2")
        pair.check_error("GET", "a")
    finally:
        other.check("CONFIG", "SET", "maxmemory", "0")
    pair.check("SET", "c", "3")
    pair.check_error("EXEC")
    pair.check("EXISTS", "a", "b", "c")


def test_exec_with_arguments_is_execabort(pair):
    pair.run("""
    EXEC x
    MULTI
    SET a 1
    EXEC x
    EXEC
    EXISTS a
    """)


def test_arity_errors_of_discard_and_multi(pair):
    pair.run("""
    DISCARD x
    MULTI x
    MULTI
    DISCARD x
    DISCARD
    """)


def test_select_inside_multi_persists(pair):
    pair.run("""
    MULTI
    SELECT 1
    SET a 1
    EXEC
    GET a
    SELECT 0
    GET a
    """)


def test_scripts_and_pings_inside_multi(pair):
    pair.run("""
    MULTI
    EVAL "return redis.call('SET', KEYS[1], ARGV[1])" 1 a b
    PING
    ECHO hi
    GET a
    EXEC
    """)


def test_reset_leaves_multi(pair):
    pair.run("""
    MULTI
    SET a 1
    RESET
    EXEC
    EXISTS a
    """)


# -- WATCH -----------------------------------------------------------------------------------


def test_watch_untouched_key_executes(pair):
    pair.run("""
    SET k 1
    WATCH k
    MULTI
    INCR k
    EXEC
    """)


def test_watched_key_changed_by_other_client(pair, other):
    pair.check("SET", "k", "1")
    pair.check("WATCH", "k")
    other.check("SET", "k", "2")
    pair.check("MULTI")
    pair.check("GET", "k")
    pair.check("EXEC")
    pair.check("GET", "k")


def test_watched_key_changed_while_queueing(pair, other):
    pair.check("WATCH", "k")
    pair.check("MULTI")
    pair.check("SET", "k", "mine")
    other.check("SET", "k", "theirs")
    pair.check("EXEC")
    pair.check("GET", "k")


def test_watched_key_changed_by_same_client(pair):
    pair.run("""
    WATCH k
    SET k 1
    MULTI
    PING
    EXEC
    """)


def test_same_value_still_counts_as_a_change(pair, other):
    pair.check("SET", "k", "v")
    pair.check("WATCH", "k")
    other.check("SET", "k", "v")
    pair.check("MULTI")
    pair.check("PING")
    pair.check("EXEC")


def test_unwatch_and_discard_forget_watches(pair, other):
    pair.check("WATCH", "k")
    pair.check("UNWATCH")
    other.check("SET", "k", "1")
    pair.check("MULTI")
    pair.check("PING")
    pair.check("EXEC")
    pair.check("WATCH", "k")
    pair.check("MULTI")
    pair.check("DISCARD")
    other.check("SET", "k", "2")
    pair.check("MULTI")
    pair.check("PING")
    pair.check("EXEC")


def test_exec_unwatches(pair, other):
    pair.check("WATCH", "k")
    pair.check("MULTI")
    pair.check("PING")
    pair.check("EXEC")
    other.check("SET", "k", "1")
    pair.check("MULTI")
    pair.check("PING")
    pair.check("EXEC")


def test_noop_writes_do_not_touch(pair, other):
    pair.check("WATCH", "nokey")
    other.check("DEL", "nokey")
    other.check("EXPIRE", "nokey", "100")
    pair.check("MULTI")
    pair.check("PING")
    pair.check("EXEC")


def test_watch_is_per_database(pair, other):
    pair.check("WATCH", "k")
    other.check("SELECT", "1")
    other.check("SET", "k", "1")
    pair.check("MULTI")
    pair.check("PING")
    pair.check("EXEC")


@pytest.mark.parametrize("write", [["DEL", "k"], ["EXPIRE", "k", "100"], ["PERSIST", "k"],
                                   ["APPEND", "k", "x"], ["INCR", "n"], ["RENAME", "k", "n"],
                                   ["RENAME", "n", "k"], ["FLUSHDB"], ["FLUSHALL"],
                                   ["SWAPDB", "0", "1"], ["SET", "k", "2", "KEEPTTL"]])
def test_writes_that_touch_watched_keys(pair, other, write):
    needs(write[0].lower())
    pair.check("SET", "k", "1", "EX", "1000")
    pair.check("SET", "n", "5")
    pair.check("WATCH", "k", "n")
    other.check(*write)
    pair.check("MULTI")
    pair.check("PING")
    pair.check("EXEC")


def test_flushdb_without_the_watched_key_does_not_touch(pair, other):
    pair.check("SET", "other", "1")
    pair.check("WATCH", "k")
    other.check("FLUSHDB")
    pair.check("MULTI")
    pair.check("PING")
    pair.check("EXEC")


def test_swapdb_brings_a_watched_key_in(pair, other):
    other.check("SELECT", "1")
    other.check("SET", "k", "from-db1")
    pair.check("WATCH", "k")
    other.check("SWAPDB", "0", "1")
    pair.check("MULTI")
    pair.check("GET", "k")
    pair.check("EXEC")


def test_watched_key_expiring_aborts_exec(pair):
    pair.check("SET", "k", "1", "PX", "50")
    pair.check("WATCH", "k")
    time.sleep(0.12)
    pair.check("MULTI")
    pair.check("GET", "k")
    pair.check("EXEC")


def test_key_already_expired_when_watched(pair):
    pair.check("SET", "k", "1", "PX", "20")
    time.sleep(0.06)
    pair.check("WATCH", "k")
    pair.check("MULTI")
    pair.check("GET", "k")
    pair.check("EXEC")


def test_watch_arity(pair):
    pair.check_error("WATCH")


def test_script_write_touches_watched_key(pair, other):
    pair.check("WATCH", "k")
    other.check("EVAL", "return redis.call('SET', KEYS[1], 'x')", "1", "k")
    pair.check("MULTI")
    pair.check("PING")
    pair.check("EXEC")


def test_blocking_command_inside_exec_does_not_block(pair):
    needs("blpop")
    pair.run("""
    MULTI
    BLPOP nolist 0
    EXEC
    """)


# -- Vermilion-only: cleanup and propagation --------------------------------------------------


def test_disconnect_forgets_watches(vermilion_process_server):
    srv = vermilion_process_server
    c = RawClient(srv.port)
    c.call("WATCH", "gone1", "gone2")
    c.call("MULTI")
    c.close()
    deadline = time.time() + 2
    while time.time() < deadline:
        watched = srv.call_in_loop(lambda: dict(srv.engine.dbs[0].watched))
        if b"gone1" not in watched and b"gone2" not in watched:
            break
        time.sleep(0.01)
    assert b"gone1" not in watched and b"gone2" not in watched


def test_exec_effects_propagate_as_one_block(vermilion_process_server):
    srv = vermilion_process_server
    seen: list = []

    def sink(db, argv):
        seen.append((db, [bytes(a) for a in argv]))

    srv.call_in_loop(srv.engine.sinks.append, sink)
    try:
        c = RawClient(srv.port)
        c.call("FLUSHALL")
        del seen[:]
        for cmd in (("MULTI",), ("SET", "a", "1"), ("GET", "a"), ("INCR", "a"), ("EXEC",)):
            c.call(*cmd)
        c.call("MULTI")
        c.call("SET", "b", "1")
        c.call("EXEC")
        c.call("MULTI")
        c.call("GET", "b")
        c.call("EXEC")
        c.close()
    finally:
        srv.call_in_loop(srv.engine.sinks.remove, sink)
    assert seen == [
        (0, [b"MULTI"]), (0, [b"SET", b"a", b"1"]), (0, [b"INCR", b"a"]), (0, [b"EXEC"]),
        (0, [b"SET", b"b", b"1"]),
    ]


def test_monitor_order_of_exec_and_scripts(reference_server, vermilion_process_server):
    """MONITOR shows queued commands before EXEC, and EVAL before the commands it runs."""
    import re

    def lines(port):
        m = RawClient(port)
        m.call("MONITOR")
        c = RawClient(port)
        c.call("EVAL", "redis.call('SET', KEYS[1], 'x') return redis.call('GET', KEYS[1])", "1", "k")
        c.call("MULTI")
        c.call("SET", "a", "1")
        c.call("INCR", "a")
        c.call("EXEC")
        c.call("ECHO", "end")
        out = []
        while True:
            text = m.read().value
            out.append(re.sub(rb"^[0-9.]+ \[(\d+) (lua|[^\]]+)\]",
                              lambda x: b"[" + x.group(1) + (b" lua]" if x.group(2) == b"lua" else b"]"), text))
            if b'"end"' in text:
                break
        m.close()
        c.close()
        return out

    assert lines(vermilion_process_server.port) == lines(reference_server.port)


def test_client_pause_write_holds_exec_with_writes(pair, other):
    pair.check("MULTI")
    pair.check("GET", "a")
    other.check("CLIENT", "PAUSE", "300", "WRITE")
    pair.check("EXEC")                      # read-only transaction: not held
    pair.check("MULTI")
    # The write is queued before the pause, so only EXEC is held.
    pair.check("SET", "a", "1")
    other.check("CLIENT", "PAUSE", "300", "WRITE")
    import time as _time
    start = _time.time()
    pair.check("EXEC")
    assert _time.time() - start > 0.2      # held until the pause ended, on both servers
    other.check("CLIENT", "UNPAUSE")


def _exec_on_a_replica_gone_stale(port: int):
    """Commands queued while serving, run by EXEC once the server is a stale replica
    (replica-serve-stale-data no, its master unreachable): the transaction is aborted
    unless every queued command serves stale data."""
    c, admin = RawClient(port), RawClient(port)
    out = []
    try:
        admin.call("CONFIG", "SET", "replica-serve-stale-data", "no")
        c.call("SET", "xx", "1")
        for queued in (("GET", "xx"), ("PING",), ("INFO", "server")):
            out += [c.call("MULTI"), c.call(*queued)]
            admin.call("REPLICAOF", "127.0.0.1", "1")
            reply = c.call("EXEC")
            out.append(reply if reply[0] == "-" else ("*", len(reply[1])))
            admin.call("REPLICAOF", "NO", "ONE")
        out += [c.call("MULTI"), c.call("GET", "xx"), c.call("EXEC")]
    finally:
        admin.call("REPLICAOF", "NO", "ONE")
        admin.call("CONFIG", "SET", "replica-serve-stale-data", "yes")
        c.close()
        admin.close()
    return out


def test_exec_on_a_replica_gone_stale(private_ports):
    same_on_both(private_ports, _exec_on_a_replica_gone_stale)


def _aof_rewrites_inside_exec(port: int):
    """BGREWRITEAOF and CONFIG SET appendonly yes inside EXEC are scheduled, then run
    once the transaction is over (with the AOF off, BGREWRITEAOF still rewrites)."""
    c = RawClient(port)

    def field(section: str, name: str) -> str:
        for line in c.call("INFO", section)[1].decode().splitlines():
            if line.startswith(name + ":"):
                return line.split(":", 1)[1]
        raise KeyError(name)

    def idle() -> bool:
        return field("persistence", "aof_rewrite_in_progress") == "0" and \
            field("persistence", "aof_rewrite_scheduled") == "0"

    out = []
    try:
        wait_for(idle, "no rewrite running")
        forks = int(field("stats", "total_forks"))
        out += [c.call("MULTI"), c.call("SET", "foo", "bar"), c.call("BGREWRITEAOF"),
                c.call("EXEC")]
        wait_for(lambda: int(field("stats", "total_forks")) > forks, "the rewrite to start")
        wait_for(idle, "the rewrite to end")
        out.append(field("persistence", "aof_last_bgrewrite_status"))
        forks = int(field("stats", "total_forks"))
        out += [c.call("MULTI"), c.call("SET", "foo", "bar"),
                c.call("CONFIG", "SET", "appendonly", "yes"), c.call("EXEC")]
        wait_for(lambda: int(field("stats", "total_forks")) > forks, "the rewrite to start")
        wait_for(idle, "the rewrite to end")
        wait_for(lambda: field("persistence", "aof_enabled") == "1", "the AOF on")
    finally:
        c.call("CONFIG", "SET", "appendonly", "no")
        c.close()
    return out


def test_aof_rewrites_inside_exec(private_ports):
    same_on_both(private_ports, _aof_rewrites_inside_exec)
