"""Server commands: CONFIG, COMMAND, INFO, SLOWLOG, LATENCY, DEBUG, TIME, MONITOR, SHUTDOWN."""
from __future__ import annotations

import time

import pytest

from rawclient import RawClient
from support import same_on_both


def as_dict(frame):
    """CONFIG GET reply as {name: value}, whichever protocol shaped it."""
    if frame.kind == "%":
        return {k.value: v.value for k, v in frame.value}
    items = [f.value for f in frame.value]
    return dict(zip(items[::2], items[1::2]))


def test_config_get_patterns(pair):
    for pattern in ("maxclients", "max*", "*max-*-entries*", "hash-max-ziplist-*", "lua-time-limit",
                    "save", "client-output-buffer-limit", "notify-keyspace-events", "nosuch", "databases",
                    "appendfsync", "slowlog-*", "proto-max-bulk-len", "timeout", "hz"):
        ref, ver = pair.both("CONFIG", "GET", pattern)
        assert ver.kind == ref.kind
        r, v = as_dict(ref), as_dict(ver)
        if pattern == "save":   # our reference runs with save "" from its command line
            continue
        assert v == r, pattern
    ref, ver = pair.both("CONFIG", "GET", "hz", "maxclients", "hz")
    assert as_dict(ver) == as_dict(ref)


def test_config_set_errors_match(pair):
    pair.run("""
        CONFIG SET maxclients abc
        CONFIG SET hz -1
        CONFIG SET appendfsync foo
        CONFIG SET daemonize no
        CONFIG SET foo bar
        CONFIG SET maxmemory 1x
        CONFIG SET hz 5 hz 6
        CONFIG SET activerehashing maybe
        CONFIG SET maxclients 0
        CONFIG SET notify-keyspace-events Q
        CONFIG SET client-output-buffer-limit "foo 1 2 3"
        CONFIG SET databases 3
        CONFIG SET proto-max-bulk-len 10
        CONFIG SET hz
        CONFIG SET save abc
        CONFIG SET proc-title-template {invalid-var}
        CONFIG SET proc-title-template {title
        CONFIG SET proc-title-template "title}"
        CONFIG SET proc-title-template ""
        CONFIG SET proc-title-template {title}
        CONFIG SET proc-title-template "{{literal}} {port}"
        CONFIG GET proc-title-template
        CONFIG SET proc-title-template "{title} {listen-addr} {server-mode}"
        CONFIG SET maxmemory-clients 200%
        CONFIG SET maxmemory-clients abc
        CONFIG SET maxmemory 10000001 maxmemory-clients 200% client-query-buffer-limit invalid
        CONFIG GET maxmemory
        CONFIG SET latency-tracking-info-percentiles "1 2 300"
        CONFIG FOO
    """)


def test_config_set_is_atomic_and_round_trips(pair):
    pair.run("""
        CONFIG SET hz 20 maxmemory 1gb
        CONFIG GET hz
        CONFIG GET maxmemory
        CONFIG SET hz 30 maxclients abc
        CONFIG GET hz
        CONFIG SET lua-time-limit 1234
        CONFIG GET busy-reply-threshold
        CONFIG SET notify-keyspace-events KEA
        CONFIG GET notify-keyspace-events
        CONFIG SET notify-keyspace-events Kx
        CONFIG GET notify-keyspace-events
        CONFIG SET notify-keyspace-events ""
        CONFIG SET client-output-buffer-limit "pubsub 1mb 512kb 10"
        CONFIG GET client-output-buffer-limit
        CONFIG SET client-output-buffer-limit "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        CONFIG SET maxmemory 0 hz 10 maxclients 10000 busy-reply-threshold 5000
    """)


def test_config_rewrite_without_file(pair):
    pair.check("CONFIG", "REWRITE")


def test_config_resetstat(pair):
    pair.check("CONFIG", "RESETSTAT")


def test_command_count_and_info_shape(pair2, vermilion_process_server):
    c = RawClient(vermilion_process_server.port)
    count = c.call("COMMAND", "COUNT").value
    assert count > 30
    assert len(c.call("COMMAND").value) == count
    # COMMAND INFO of commands both servers have must agree on name, arity, flags, keys.
    names = ["get", "set", "ping", "echo", "config", "client", "info", "select", "mget", "del"]
    ref, ver = pair2.both("COMMAND", "INFO", *names)
    for r, v in zip(ref.value, ver.value):
        if v.kind == "*" and v.value is not None and r.value is not None:
            assert v.value[0] == r.value[0]            # name
            assert v.value[1] == r.value[1], r.value[0]  # arity
            assert v.value[3:6] == r.value[3:6], r.value[0]  # first/last/step
    pair2.check("COMMAND", "INFO", "nosuchcommand")
    pair2.check("COMMAND", "GETKEYS", "get", "k")
    pair2.check("COMMAND", "GETKEYS", "set", "a", "b")
    pair2.check("COMMAND", "GETKEYS", "mget", "a", "b", "c")
    pair2.check("COMMAND", "GETKEYS", "ping", "x")
    pair2.check("COMMAND", "GETKEYS", "nosuch", "x")
    pair2.check("COMMAND", "GETKEYS", "get", "a", "b")
    pair2.check("COMMAND", "FOO")


def _info_rows(reply) -> dict:
    """COMMAND INFO entries (and their subcommands) as {name: (arity, flags, keys, categories)}."""
    rows = {}
    for entry in reply.value:
        if entry.value is None:
            continue
        fields = entry.value
        rows[fields[0].value] = (
            fields[1].value,
            {f.value for f in fields[2].value},
            [f.value for f in fields[3:6]],
            {c.value for c in fields[6].value},
        )
        rows.update(_info_rows(fields[9]))
    return rows


def test_command_info_matches_redis_for_every_command(pair2):
    """Every command and subcommand of our table that Redis 7.0 also has: same arity, flags,
    legacy key range (first/last/step, also for movable keys) and ACL categories."""
    names = [f.value for f in pair2.ver.call("COMMAND", "LIST").value]
    ref, ver = pair2.both("COMMAND", "INFO", *names)
    expected, actual = _info_rows(ref), _info_rows(ver)
    common = sorted(set(expected) & set(actual))
    assert len(common) > 200
    for name in common:
        assert actual[name] == expected[name], name
    # Commands with movable keys whose first key is fixed report it, the others 0 0 0.
    rows = _info_rows(pair2.ver.call("COMMAND", "INFO", "zunionstore", "eval", "xread", "zunion"))
    assert [rows[n][2] for n in (b"zunionstore", b"eval", b"xread", b"zunion")] == \
        [[1, 1, 1], [0, 0, 0], [0, 0, 0], [0, 0, 0]]


@pytest.mark.parametrize("line", [
    # movable keys (a getkeys function): none found is an error, except for the
    # commands whose keys are optional (EVAL/FCALL: no_mandatory_keys)
    "XREAD COUNT 1", "XREAD COUNT 1 STREAMS", "XREAD COUNT 1 STREAMS a", "XREAD STREAMS a b c",
    "XREAD STREAMS a b c d e", "XREAD COUNT streams STREAMS a b", "XREAD BLOCK 0 STREAMS a b 0 0",
    "XREADGROUP GROUP g c STREAMS a b", "XREADGROUP GROUP g c STREAMS a",
    "XREADGROUP GROUP g streams STREAMS a b", "XREADGROUP GROUP g c COUNT 1 x y",
    "EVAL s 0", "EVAL s 0 a", "EVAL s 1 a", "EVAL s 2 a b c", "EVAL s 5 a", "EVAL s x",
    "EVAL s -1 a", "EVAL s 1x a", "EVAL s +1 a", "EVAL s 4294967297 a", "EVALSHA s 1 a",
    "EVAL_RO s 1 a", "FCALL f 0", "FCALL f 1 k", "FCALL_RO f 1 k",
    "ZUNIONSTORE d 0 a", "ZUNIONSTORE d 1 a", "ZUNIONSTORE d 2 a", "ZUNIONSTORE d x a",
    "ZUNIONSTORE d 2 a b WEIGHTS 1 2", "ZINTERSTORE d 1 a", "ZDIFFSTORE d 2 a b",
    "ZUNION 0 a", "ZUNION 2 a b", "ZINTER 1 a", "ZDIFF 3 a b",
    "LMPOP 0 LEFT", "LMPOP 1 a LEFT", "LMPOP 2 a b LEFT", "LMPOP 3 a b LEFT",
    "BLMPOP 0 0 LEFT", "BLMPOP 0 1 a LEFT", "ZMPOP 1 a MIN", "BZMPOP 0 2 a b MIN",
    "SINTERCARD 0 a", "SINTERCARD 2 a b", "ZINTERCARD 2 a", "ZINTERCARD 1 a LIMIT 2",
    # fixed keys, subcommands, and the checks before any key is looked for
    "MSET a 1 b 2", "MSET a 1 b", "DEL a b c", "BLPOP a b 0", "LMOVE a b LEFT RIGHT",
    "XINFO STREAM k", "XGROUP CREATE k g 0", "OBJECT ENCODING k", "OBJECT ENCODING",
    "OBJECT FOO k", "Object Encoding k", "CONFIG GET x", "CONFIG GET", "CONFIG FOO x", "CONFIG",
    "PING", "PING x y", "GET", "GET a b", "nosuch x",
])
def test_command_getkeys_like_redis(pair2, line):
    args = line.split()
    pair2.check("COMMAND", "GETKEYS", *args)
    pair2.check("COMMAND", "GETKEYSANDFLAGS", *args)


def test_command_docs_and_list(vermilion_process_server):
    c = RawClient(vermilion_process_server.port)
    docs = c.call("COMMAND", "DOCS", "get")
    assert docs.kind == "*" and docs.value[0].value == b"get"
    fields = [f.value for f in docs.value[1].value]
    assert b"summary" in fields and b"group" in fields and b"since" in fields
    names = {f.value for f in c.call("COMMAND", "LIST").value}
    assert {b"get", b"set", b"config"} <= names
    filtered = {f.value for f in c.call("COMMAND", "LIST", "FILTERBY", "PATTERN", "config*").value}
    assert b"config|get" in filtered and b"get" not in filtered
    assert c.call("COMMAND", "LIST", "FILTERBY", "ACLCAT", "string").value


def test_info_sections(vermilion_process_server):
    c = RawClient(vermilion_process_server.port)
    text = c.call("INFO").value.decode()
    for section in ("# Server", "# Clients", "# Memory", "# Persistence", "# Stats",
                    "# Replication", "# CPU", "# Keyspace"):
        assert section in text
    fields = dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)
    assert fields["redis_version"] == "7.0.15"
    assert int(fields["used_memory"]) > 800_000     # an empty server counts as Redis's (~876 KB)
    assert int(fields["connected_clients"]) >= 1
    assert "# Commandstats" not in text
    everything = c.call("INFO", "everything").value.decode()
    assert "# Commandstats" in everything and "cmdstat_info:calls=" in everything
    only = c.call("INFO", "server", "clients").value.decode()
    assert only.startswith("# Server") and "# Clients" in only and "# Memory" not in only
    assert c.call("INFO", "nosuchsection").value == b""


def test_info_commandstats_and_errorstats(vermilion_process_server):
    c = RawClient(vermilion_process_server.port)
    c.call("CONFIG", "RESETSTAT")
    c.call("PING")
    c.call("PING")
    c.call("ECHO")                      # arity: rejected
    c.call("NOSUCHCOMMAND")
    c.call("SELECT", "99")              # runtime error: failed
    text = c.call("INFO", "commandstats", "errorstats").value.decode()
    assert "cmdstat_ping:calls=2," in text
    assert "cmdstat_echo:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0" in text
    assert "cmdstat_select:calls=1," in text and "failed_calls=1" in text
    assert "errorstat_ERR:count=3" in text


def test_keyspace_info_and_used_memory_grows():
    import vermilion
    # DEBUG is refused by default; "local" allows it from this loopback client.
    with vermilion.embedded(config={"enable-debug-command": "local"}) as server:
        r = server.client()
        before = r.info("memory")["used_memory"]
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        pipe = r.pipeline(transaction=False)
        for i in range(50_000):
            pipe.execute_command("SET", f"mem:{i}", "x" * 100)
        pipe.execute()
        info = r.info("keyspace")
        assert info["db0"]["keys"] == 50_000
        assert r.info("memory")["used_memory"] > before + 2_000_000
        r.close()


def test_slowlog(pair2):
    for c in (pair2.ref, pair2.ver):
        c.call("SLOWLOG", "RESET")
        c.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
        c.call("ECHO", "x" * 200)
        c.call("CONFIG", "SET", "slowlog-log-slower-than", "10000")
    ref, ver = pair2.both("SLOWLOG", "GET", "2")
    assert len(ver.value) == len(ref.value) == 2
    # id, timestamp, duration vary; the logged arguments and shapes must agree
    assert [e.value[3] for e in ver.value] == [e.value[3] for e in ref.value]
    pair2.check("SLOWLOG", "GET", "-2")
    pair2.check("SLOWLOG", "GET", "x")
    pair2.check("SLOWLOG", "RESET")
    pair2.check("SLOWLOG", "LEN")


def _slowlog_of_a_served_blpop(port):
    """Slowlog entries (arguments only) around a BLPOP that blocks, is served from inside
    an EXEC, and a second one that times out."""
    admin, waiter = RawClient(port), RawClient(port)
    try:
        admin.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
        admin.call("SLOWLOG", "RESET")
        waiter.send("BLPOP", "slow:l", "0")
        deadline = time.monotonic() + 10
        while b"blocked_clients:1\r\n" not in admin.call("INFO", "clients").value:
            assert time.monotonic() < deadline, "BLPOP never blocked"
        # (how many INFO polls that took varies: they are left out)
        while_blocked = [e.value[3].value for e in admin.call("SLOWLOG", "GET", "-1").value
                         if e.value[3].value[0].value != b"INFO"]
        admin.call("MULTI")
        admin.call("LPUSH", "slow:l", "foo")
        admin.call("SLOWLOG", "RESET")
        admin.call("EXEC")
        served = waiter.read().value
        after = [e.value[3].value for e in admin.call("SLOWLOG", "GET", "-1").value]
        admin.call("SLOWLOG", "RESET")
        waiter.call("BLPOP", "slow:l", "0.01")
        timed_out = [e.value[3].value for e in admin.call("SLOWLOG", "GET", "-1").value]
        admin.call("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        return while_blocked, served, after, timed_out
    finally:
        admin.close()
        waiter.close()


def test_slowlog_logs_a_blocked_command_when_it_is_served(ports):
    # Redis logs a blocking command once it is served, under its own arguments (the
    # LPOP it propagates is not what the client sent), and not when it times out.
    while_blocked, served, after, timed_out = same_on_both(ports, _slowlog_of_a_served_blpop)
    assert [e.value for e in served] == [b"slow:l", b"foo"]
    assert [a.value for a in after[0]] == [b"BLPOP", b"slow:l", b"0"]


def test_time_and_lastsave(pair):
    ref, ver = pair.both("TIME")
    assert ver.kind == ref.kind and len(ver.value) == 2
    assert abs(int(ver.value[0].value) - int(ref.value[0].value)) <= 2
    ref, ver = pair.both("LASTSAVE")
    assert ver.kind == ref.kind == ":"


def test_latency_commands(pair):
    pair.check("LATENCY", "LATEST")
    pair.check("LATENCY", "HISTORY", "command")
    pair.check("LATENCY", "RESET")
    ref, ver = pair.both("LATENCY", "DOCTOR")
    assert ver.kind == ref.kind


def test_debug(pair):
    pair.check("DEBUG", "SLEEP", "0")
    pair.check("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    pair.check("DEBUG", "SLEEP", "abc")
    pair.check("DEBUG", "NOSUCH")


def test_debug_sleep_blocks_the_server(vermilion_process_server):
    a = RawClient(vermilion_process_server.port)
    b = RawClient(vermilion_process_server.port)
    a.send("DEBUG", "SLEEP", "0.2")
    time.sleep(0.02)
    start = time.monotonic()
    assert b.call("PING").value == b"PONG"
    assert time.monotonic() - start > 0.1
    assert a.read().value == b"OK"


def test_monitor(vermilion_process_server):
    m = RawClient(vermilion_process_server.port)
    assert m.call("MONITOR").value == b"OK"
    c = RawClient(vermilion_process_server.port)
    c.call("ECHO", 'say "hi"\n')
    line = m.read()
    assert line.kind == "+"
    assert line.value.endswith(b'"ECHO" "say \\"hi\\"\\n"'), line.value
    assert b"[0 127.0.0.1:" in line.value


def test_role(pair):
    # A master with no replica attached. Its replication offset is only comparable on
    # servers that saw the same replicas (earlier tests SYNC with the reference).
    ref, ver = pair.both("ROLE")
    assert ver.kind == ref.kind == "*"
    assert [ver.value[0], ver.value[2]] == [ref.value[0], ref.value[2]]
    assert ver.value[1].kind == ref.value[1].kind == ":"


def test_shutdown_stops_the_server():
    import vermilion
    server = vermilion.embedded().start()
    c = RawClient(server.port)
    c.send("SHUTDOWN", "NOSAVE")
    assert c.closed_by_server(5)
    server._thread.join(5)
    assert not server._thread.is_alive()
    server.stop()


def test_shutdown_syntax(pair):
    pair.check("SHUTDOWN", "FOO")
    pair.check("SHUTDOWN", "SAVE", "NOSAVE")


def test_keyspace_hits_and_misses(pair2):
    for c in (pair2.ref, pair2.ver):
        c.call("CONFIG", "RESETSTAT")
        c.call("SET", "hm:a", "1")
        c.call("GET", "hm:a")
        c.call("GET", "hm:missing")
        c.call("MGET", "hm:a", "hm:b", "hm:c")
        c.call("EXISTS", "hm:a")
        c.call("SET", "hm:b", "2")        # writes do not count
    stats = []
    for c in (pair2.ref, pair2.ver):
        text = c.call("INFO", "stats").value.decode()
        fields = dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)
        stats.append((fields["keyspace_hits"], fields["keyspace_misses"]))
    assert stats[1] == stats[0]


def _config_listeners(port: int):
    from support import connect, free_port
    c = connect(port)
    seen = [c.call("CONFIG", "GET", "*").value.__len__() > 0]
    names = [f.value for f in c.call("CONFIG", "GET", "*").value[::2]]
    seen.append(b"key-load-delay" in names)                      # hidden from patterns
    seen.append(c.call("CONFIG", "GET", "key-load-delay").value)   # shown by name
    seen.append(c.call("CONFIG", "GET", "rdb-key-save-delay").value)
    # A port another socket holds: refused with the apply error, everything rolled back.
    import socket
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    busy = holder.getsockname()[1]
    before = c.call("CONFIG", "GET", "maxmemory").value
    err = c.call("CONFIG", "SET", "maxmemory", "10000001", "port", str(busy))
    seen.append(err)
    seen.append(c.call("CONFIG", "GET", "maxmemory").value == before)
    seen.append(c.call("CONFIG", "SET", "bind", "999.999.999.999"))
    seen.append(c.call("CONFIG", "GET", "bind").value)
    holder.close()
    # Moving to a free port: the new one answers.
    new_port = free_port()
    seen.append(c.call("CONFIG", "SET", "port", str(new_port)))
    c.close()
    c = connect(new_port)
    seen.append(c.call("PING"))
    c.call("CONFIG", "SET", "port", str(port))
    c.close()
    c = connect(port)
    seen.append(c.call("CONFIG", "SET", "shutdown-on-sigterm", "force now nosave"))
    seen.append(c.call("CONFIG", "GET", "shutdown-on-sigterm").value)
    c.call("CONFIG", "SET", "shutdown-on-sigterm", "default")
    c.close()
    return seen


def test_config_set_port_and_bind_apply_or_roll_back(ports):
    from support import same_on_both
    same_on_both(ports, _config_listeners)


def test_command_list_has_subcommands(pair):
    pair.check("COMMAND", "LIST", "FILTERBY", "PATTERN", "config|re*", unordered=True)
    pair.check("COMMAND", "LIST", "FILTERBY", "ACLCAT", "@scripting")
    for name in (b"client|list", b"config|get", b"set"):
        assert name in [f.value for f in pair.ver.call("COMMAND", "LIST").value]
    scripting = [f.value for f in pair.ver.call("COMMAND", "LIST", "FILTERBY", "ACLCAT", "scripting").value]
    assert b"script|kill" in scripting and b"eval" in scripting and b"set" not in scripting


def _latency_monitor(port: int):
    from support import connect
    c = connect(port)
    seen = [c.call("LATENCY", "RESET").value, c.call("LATENCY", "LATEST").value]
    c.call("CONFIG", "SET", "latency-monitor-threshold", "50")
    try:
        c.call("DEBUG", "SLEEP", "0.1")
        latest = c.call("LATENCY", "LATEST").value
        seen.append([(e.value[0].value, e.value[2].value >= 50, e.value[3].value >= 50) for e in latest])
        history = c.call("LATENCY", "HISTORY", "command").value
        seen.append([(len(h.value), h.value[1].value >= 50) for h in history])
        seen.append(c.call("LATENCY", "HISTORY", "no-such-event").value)
        seen.append(c.call("LATENCY", "RESET", "no-such-event").value)
        seen.append(c.call("LATENCY", "RESET").value)
        seen.append(c.call("LATENCY", "LATEST").value)
    finally:
        c.call("CONFIG", "SET", "latency-monitor-threshold", "0")
        c.close()
    return seen


def test_latency_monitor_records_slow_commands(ports):
    from support import same_on_both
    seen = same_on_both(ports, _latency_monitor)
    assert seen[2] == [(b"command", True, True)]


def test_latency_monitor_records_a_slow_fork(monkeypatch, tmp_path):
    # Redis samples the "fork" event when fork() takes latency-monitor-threshold or
    # more. A sleep before the real fork makes this one take at least 20 ms.
    import os
    import time as _time

    import vermilion
    from support import connect, wait_for
    real_fork = os.fork

    def slow_fork():
        _time.sleep(0.02)
        return real_fork()

    monkeypatch.setattr(os, "fork", slow_fork)
    config = {"latency-monitor-threshold": "10", "save": "", "dir": str(tmp_path)}
    with vermilion.embedded(config=config) as server:
        c = connect(server.port)
        try:
            c.call("SET", "k", "v")
            assert c.call("BGSAVE").value == b"Background saving started"
            wait_for(lambda: b"rdb_bgsave_in_progress:0" in c.call("INFO", "persistence").value,
                     "the background save to end")
            latest = {e.value[0].value: e.value[2].value for e in c.call("LATENCY", "LATEST").value}
            assert latest.get(b"fork", 0) >= 20
            assert [s.value[1].value >= 20 for s in c.call("LATENCY", "HISTORY", "fork").value] == [True]
        finally:
            c.close()


@pytest.mark.parametrize("policy, events", [
    ("everysec", {b"aof-write"}),
    ("always", {b"aof-write", b"aof-fsync-always"}),
])
def test_latency_monitor_records_slow_aof_writes(monkeypatch, tmp_path, policy, events):
    # The AOF's writes and (with appendfsync always) fsyncs are sampled as Redis's
    # aof-write and aof-fsync-always events; a disk made slow (20 ms per write and
    # fsync, for the AOF module only) makes each sample certain.
    import os
    import time as _time
    import types

    import vermilion
    from support import connect, wait_for
    from vermilion.persistence import aof

    def slow(call):
        def slowed(*args):
            _time.sleep(0.02)
            return call(*args)
        return slowed

    disk = types.SimpleNamespace(**{n: getattr(os, n) for n in dir(os) if not n.startswith("__")})
    disk.write, disk.fsync = slow(os.write), slow(os.fsync)
    if hasattr(os, "fdatasync"):
        disk.fdatasync = slow(os.fdatasync)
    monkeypatch.setattr(aof, "os", disk)
    config = {"appendonly": "yes", "appendfsync": policy, "save": "", "dir": str(tmp_path)}
    with vermilion.embedded(config=config) as server:
        c = connect(server.port)
        try:
            c.call("CONFIG", "SET", "latency-monitor-threshold", "10")
            c.call("SET", "k", "v")

            def sampled():
                latest = {e.value[0].value: e.value[2].value
                          for e in c.call("LATENCY", "LATEST").value}
                return latest if set(latest) >= events else None

            latest = wait_for(sampled, "the AOF latency samples")
            assert all(latest[event] >= 20 for event in events)
        finally:
            c.close()


def test_debug_populate(pair2):
    pair2.check("DEBUG", "POPULATE", "3")
    pair2.check("DEBUG", "POPULATE", "2", "pre", "12")
    pair2.check("SET", "key:5", "mine")
    pair2.check("DEBUG", "POPULATE", "7")
    pair2.check("MGET", "key:0", "key:5", "key:6", "pre:1")
    pair2.check("DBSIZE")
    pair2.check_error("DEBUG", "POPULATE", "-1")
    pair2.check_error("DEBUG", "POPULATE", "x")
    pair2.check_error("DEBUG", "POPULATE", "1", "p", "-3")


def _oom_score_sequence(port, pid):
    """oom_score_adj of the server process through Redis's oom-score-adj configurations."""
    path = f"/proc/{pid}/oom_score_adj"

    def score():
        with open(path) as fh:
            return int(fh.read())

    def set_score(value):
        with open(path, "w") as fh:
            fh.write(f"{value}\n")

    c = RawClient(port)
    try:
        out = [c.call("CONFIG", "GET", "oom-score-adj"), c.call("CONFIG", "GET", "oom-score-adj-values")]
        for bad in ("-2001 -2001 -2001", "2001 0 0", "1 2", "a b c"):
            out.append(c.call("CONFIG", "SET", "oom-score-adj-values", bad))
        out.append(c.call("CONFIG", "SET", "oom-score-adj", "maybe"))
        set_score(22)
        out.append(c.call("CONFIG", "SET", "oom-score-adj-values", "9 9 9"))
        out.append(score())     # untouched while oom-score-adj is no
        out.append(c.call("CONFIG", "SET", "oom-score-adj", "yes"))
        out.append(score())     # 22 + 9
        out.append(c.call("CONFIG", "SET", "oom-score-adj-values", "15 20 30"))
        out.append(score())
        out.append(c.call("CONFIG", "SET", "oom-score-adj", "absolute"))
        out.append(score())
        out.append(c.call("CONFIG", "SET", "oom-score-adj-values", "1500 0 0"))
        out.append(score())     # clamped to 1000
        out.append(c.call("CONFIG", "SET", "oom-score-adj", "no"))
        out.append(score())     # back to 22
        out += [c.call("CONFIG", "GET", "oom-score-adj"), c.call("CONFIG", "GET", "oom-score-adj-values")]
        # A replica takes the second class, and a master again the first.
        out.append(c.call("CONFIG", "SET", "oom-score-adj-values", "15 20 30"))
        out.append(c.call("CONFIG", "SET", "oom-score-adj", "yes"))
        out.append(c.call("REPLICAOF", "localhost", "1"))
        out.append(score())     # 22 + 20
        out.append(c.call("REPLICAOF", "NO", "ONE"))
        out.append(score())     # 22 + 15
        out.append(c.call("CONFIG", "SET", "oom-score-adj", "no"))
        out.append(score())
        return out
    finally:
        c.close()


def test_oom_score_adj(tmp_path):
    import subprocess
    import sys
    from support import RedisProcess, free_port, require_reference, wait_port
    ref = RedisProcess(require_reference())
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "vermilion", "server", "--port", str(port),
                             "--save", "", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        expected = _oom_score_sequence(ref.port, ref.proc.pid)
        assert _oom_score_sequence(port, proc.pid) == expected
        assert expected[10] == 31 and expected[16] == 1000 and expected[18] == 22
    finally:
        ref.stop()
        proc.kill()
        proc.wait()
