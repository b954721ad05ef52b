"""Command introspection and latency tracking against redis-server 7.0: COMMAND INFO and
COMMAND DOCS of every command, GETKEYSANDFLAGS, INFO latencystats, LATENCY HISTOGRAM
and LATENCY GRAPH."""
from __future__ import annotations

import re

import pytest

from rawclient import RawClient

# Cluster commands Vermilion does not have.
NOT_HERE: set = set()
# Redis 7.2 subcommands Vermilion also answers (redis-py 5 sends CLIENT SETINFO on connect).
NEWER = {b"client|setinfo", b"client|no-touch"}
# Prose: Vermilion's own words or none (docs/compatibility.md).
PROSE = {b"summary", b"complexity", b"history", b"notes"}


def plain(frame, maps: bool):
    """A frame as Python values; with `maps`, RESP2 flat arrays given as maps are read
    as maps too (the caller says where maps are)."""
    kind, value = frame
    if kind in "%|":
        return {k.value: plain(v, maps) for k, v in value}
    if kind == "~":
        return sorted((plain(v, maps) for v in value), key=repr)
    if kind == "*" and value is not None:
        return [plain(v, maps) for v in value]
    return value


def as_map(value):
    """A map reply as a dict, whatever the protocol (RESP2 sends maps as flat arrays)."""
    if isinstance(value, dict):
        return value
    return dict(zip(value[::2], value[1::2]))


def info_rows(entries, resp2: bool) -> dict:
    """COMMAND INFO entries and their subcommands, by name, in a form both protocols share:
    sets sorted, maps as dicts, key specs without Redis's free-text notes."""
    rows = {}
    for entry in entries:
        if entry is None:
            continue
        name, arity, flags, first, last, step, cats, tips, specs, subs = entry
        specs = [{k: (as_map(v) if isinstance(v, (list, dict)) and k != b"flags" else v)
                  for k, v in as_map(spec).items() if k not in PROSE} for spec in specs]
        for spec in specs:
            for part in (b"begin_search", b"find_keys"):
                spec[part][b"spec"] = as_map(spec[part][b"spec"])
            spec[b"flags"] = sorted(spec[b"flags"])
        # (RESP3 sends the specs as a set: their order is compared in RESP2)
        specs = specs if resp2 else sorted(specs, key=repr)
        rows[name] = (arity, sorted(flags), first, last, step, sorted(cats), sorted(tips), specs)
        rows.update(info_rows(subs, resp2))
    return rows


def test_command_info_equals_redis_for_every_command(pair):
    """Every command redis-server lists (but the cluster/replication ones): same arity,
    flags, legacy key range, ACL categories, tips, key specs and subcommands."""
    ref, ver = pair.both("COMMAND", "INFO")
    resp2 = pair.resp == 2
    expected, actual = info_rows(plain(ref, True), resp2), info_rows(plain(ver, True), resp2)
    missing = {n for n in set(expected) - set(actual) if n.split(b"|")[0] not in NOT_HERE}
    assert not missing
    assert set(actual) - set(expected) == NEWER
    for name in sorted(set(expected) & set(actual)):
        if name.split(b"|")[0] not in NOT_HERE:
            assert actual[name] == expected[name], name
    assert pair.ver.call("COMMAND", "COUNT").value == len(plain(ver, True))


def docs_rows(docs: dict, into: dict) -> dict:
    for name, doc in docs.items():
        doc = as_map(doc)
        into[name] = {k: v for k, v in doc.items() if k not in PROSE and k != b"subcommands"}
        if b"arguments" in doc:
            into[name][b"arguments"] = args_plain(doc[b"arguments"])
        if b"subcommands" in doc:
            docs_rows(as_map(doc[b"subcommands"]), into)
    return into


def args_plain(args: list) -> list:
    out = []
    for arg in args:
        arg = as_map(arg)
        if b"arguments" in arg:
            arg[b"arguments"] = args_plain(arg[b"arguments"])
        if b"flags" in arg:
            arg[b"flags"] = sorted(arg[b"flags"])
        out.append(arg)
    return out


def test_command_docs_equals_redis_for_every_command(pair):
    """COMMAND DOCS: arguments (names, types, tokens, flags, key spec indexes, since,
    nesting), group, since and deprecation notes equal Redis's for every command."""
    ref, ver = pair.both("COMMAND", "DOCS")
    expected, actual = docs_rows(as_map(plain(ref, True)), {}), docs_rows(as_map(plain(ver, True)), {})
    assert {n for n in set(expected) - set(actual) if n.split(b"|")[0] not in NOT_HERE} == set()
    for name in sorted(set(expected) & set(actual)):
        if name.split(b"|")[0] not in NOT_HERE:
            assert actual[name] == expected[name], name
    # Named commands, subcommands, unknown names.
    names = ("set", "xadd", "client|kill", "nosuch", "config|get", "georadius", "getset", "config")
    ref, ver = pair.both("COMMAND", "DOCS", *names)
    assert docs_rows(as_map(plain(ver, True)), {}) == docs_rows(as_map(plain(ref, True)), {})


@pytest.mark.parametrize("line", [
    "SET k1 v1", "SET k1 v1 GET", "SET k1 v1 EX 10 GET", "MSET k1 v1 k2 v2", "LMOVE k1 k2 left right",
    "SORT k1 STORE k2", "SORT k1", "SORT_RO k1", "EVAL s 2 a b", "EVAL s 0", "FCALL f 1 a",
    "XREAD STREAMS a b 1 2", "XREADGROUP GROUP g c STREAMS a 0", "BITFIELD k GET u8 0",
    "BITFIELD k SET u8 0 1", "BITOP AND d a b", "ZUNIONSTORE d 2 a b", "GEORADIUS k 0 0 1 m STORE d",
    "GEOSEARCHSTORE d s FROMLONLAT 0 0 BYRADIUS 1 m", "RENAME a b", "COPY a b", "EXISTS a b",
    "OBJECT ENCODING k", "MEMORY USAGE k", "XGROUP CREATE k g 0", "LCS a b", "PFMERGE d a b",
    "BLMPOP 0 2 a b LEFT", "DEL a b", "SPUBLISH c m", "SMOVE a b m", "GETEX k PERSIST",
])
def test_command_getkeysandflags_like_redis(pair2, line):
    pair2.check("COMMAND", "GETKEYSANDFLAGS", *line.split())


def test_command_getkeys_many_keys(pair2):
    keys = [f"key{i}" for i in range(300)]
    pair2.check("COMMAND", "GETKEYS", "MSET", *[x for k in keys for x in (k, "v")])
    pair2.check("COMMAND", "GETKEYS", "EVAL", "return 1", "300", *keys)
    pair2.check("COMMAND", "GETKEYSANDFLAGS", "DEL", *keys)


def test_command_info_of_invalid_subcommands(pair):
    pair.check("COMMAND", "INFO", "get|key", "config|get|key", "config|nosuch", "config|get")


# -- latency tracking ---------------------------------------------------------------------

def _fresh(pair, *config):
    for c in (pair.ref, pair.ver):
        assert c.call("CONFIG", "SET", "latency-tracking", "yes", *config).value == b"OK"
        assert c.call("CONFIG", "RESETSTAT").value == b"OK"


def _latencystats(client) -> dict:
    text = client.call("INFO", "latencystats").value
    text = text.decode() if isinstance(text, bytes) else text[1].decode()
    return dict(line.split(":", 1) for line in text.split("\r\n") if line.startswith("latency_"))


def _shape(value: str) -> list:
    """`p50=0.001,p99=2.047` -> [(p50, bucket-bound digits)]: the percentile names and that
    each value is printed with three decimals."""
    return [(k, bool(re.fullmatch(r"\d+\.\d{3}", v))) for k, v in
            (item.split("=") for item in value.split(","))] if value else []


def test_info_latencystats_like_redis(pair):
    _fresh(pair)
    for c in (pair.ref, pair.ver):
        c.call("SET", "a", "1")
        c.call("GET", "a")
        c.call("CONFIG", "GET", "maxmemory")
    ref, ver = _latencystats(pair.ref), _latencystats(pair.ver)
    assert set(ver) == set(ref) >= {"latency_percentiles_usec_set", "latency_percentiles_usec_get",
                                    "latency_percentiles_usec_config|get"}
    assert {k: _shape(v) for k, v in ver.items()} == {k: _shape(v) for k, v in ref.items()}
    # Other percentiles, and none at all.
    _fresh(pair, "latency-tracking-info-percentiles", "0 12.5 100")
    for c in (pair.ref, pair.ver):
        c.call("SET", "a", "1")
    assert _shape(_latencystats(pair.ver)["latency_percentiles_usec_set"]) == \
        [("p0", True), ("p12.5", True), ("p100", True)]
    pair.check("CONFIG", "GET", "latency-tracking-info-percentiles")
    _fresh(pair, "latency-tracking-info-percentiles", "")
    assert _latencystats(pair.ver) == _latencystats(pair.ref)
    pair.check("CONFIG", "GET", "latency-tracking-info-percentiles")
    for bad in ("101", "-1", "abc", "50 x", "1_0", " 5"):
        pair.check_error("CONFIG", "SET", "latency-tracking-info-percentiles", bad)
    # Tracking off records nothing.
    _fresh(pair, "latency-tracking-info-percentiles", "50 99 99.9")
    for c in (pair.ref, pair.ver):
        c.call("CONFIG", "SET", "latency-tracking", "no")
        c.call("CONFIG", "RESETSTAT")
        c.call("SET", "a", "1")
    assert _latencystats(pair.ver) == _latencystats(pair.ref) == {}
    _fresh(pair)


def _histogram(client, *names) -> dict:
    reply = plain(client.call("LATENCY", "HISTOGRAM", *names), True)
    out = {}
    for name, body in as_map(reply).items():
        body = as_map(body)
        out[name] = (body[b"calls"], as_map(body[b"histogram_usec"]))
    return out


def test_latency_histogram_like_redis(pair):
    _fresh(pair)
    # Only CONFIG RESETSTAT ran since the reset (timings differ: shapes are compared).
    assert set(_histogram(pair.ver)) == set(_histogram(pair.ref)) == {b"config|resetstat"}
    pair.check("LATENCY", "HISTOGRAM", "set", "nosuch")
    for c in (pair.ref, pair.ver):
        for i in range(20):
            c.call("SET", "k%d" % i, "v")
        c.call("CONFIG", "GET", "maxmemory")
        c.call("CONFIG", "SET", "maxmemory", "0")
    for names in [("set",), ("set", "nosuch", "get"), ("config",), ("config|get", "CONFIG|set"), ()]:
        ref, ver = _histogram(pair.ref, *names), _histogram(pair.ver, *names)
        assert set(ver) == set(ref), names
        for name in ref:
            assert ver[name][0] == ref[name][0]    # calls
            # rows by bucket bound, with cumulative counts up to `calls`
            for hist in (ver[name][1], ref[name][1]):
                assert list(hist) == sorted(hist)
                counts = list(hist.values())
                assert counts == sorted(counts) and counts[-1] == ver[name][0]
    # LATENCY RESET leaves the histograms; CONFIG RESETSTAT drops them.
    pair.check("LATENCY", "RESET")
    assert set(_histogram(pair.ver)) == set(_histogram(pair.ref))
    _fresh(pair)
    pair.check("LATENCY", "HISTOGRAM", "set")
    pair.check_error("LATENCY", "GRAPH")
    pair.check_error("LATENCY", "GRAPH", "nosuch")


def test_latency_histogram_buckets_are_redis_hdr_buckets():
    """The values Redis prints: HdrHistogram bucket bounds at 2 significant figures."""
    from vermilion.types import latencyhistogram as lh
    counts = lh.new()
    for usec in (0, 1, 1, 3, 900, 1000, 5000, 2_000_000):
        if usec < lh.FAST_US:
            counts[usec] += 1
        else:
            lh.record_slow(counts, usec)
    hdr = lh.counters(counts)
    total = sum(hdr)
    # What Redis 7.0.15's deps/hdr_histogram gives for the same recordings (in ns, a
    # duration of N us being recorded as N * 1000 ns, 0 as 1 ns, more than 1 s as 1 s).
    assert lh.percentiles(counts, (0, 50, 99, 99.9, 100, 12.5)) == \
        [1, 3007, 1002438655, 1002438655, 1002438655, 1]
    assert lh.percentiles(lh.new(), (0, 50)) == [0, 0]
    assert lh.log_buckets(hdr, total) == [(1, 3), (4, 4), (1056, 6), (8454, 7), (1073741, 8)]


def test_latency_percentiles_read_the_used_slots_only():
    """percentiles() skips the empty slots; it gives what walking the folded
    HdrHistogram counters gives, for recordings of any durations and counts."""
    import random
    from vermilion.types import latencyhistogram as lh

    def walk(counts, p):
        hdr = lh.counters(counts)
        wanted = max(int(min(p, 100.0) / 100 * sum(hdr) + 0.5), 1)
        seen = 0
        for index, n in enumerate(hdr):
            seen += n
            if seen >= wanted:
                value = lh.value_at(index)
                return lh.lowest_equivalent(value) if p == 0.0 else lh.highest_equivalent(value)
        return 0

    ps = (0.0, 0.1, 25.0, 50.0, 99.0, 99.9, 100.0)
    rnd = random.Random(22)
    for _ in range(300):
        counts = lh.new()
        for _ in range(rnd.choice([0, 1, 3, 40])):
            usec = rnd.choice([0, 1, rnd.randrange(1024), rnd.randrange(1000, 10**5), 10**7])
            times = rnd.choice([1, 255, 256, 70_000, 2**33 + 1])
            if usec < lh.FAST_US:
                counts[usec] += times
            else:
                for _ in range(min(times, 3)):
                    lh.record_slow(counts, usec)
        assert lh.percentiles(counts, ps) == [walk(counts, p) for p in ps]


def test_latency_graph_like_redis(reference_server, vermilion_process_server):
    """LATENCY GRAPH draws Redis's sparkline: Redis's own samples, drawn by both."""
    from vermilion.engine.latency import LatencyMonitor
    ref = RawClient(reference_server.port)
    ver = RawClient(vermilion_process_server.port)
    try:
        assert ref.call("LATENCY", "GRAPH", "command") == ver.call("LATENCY", "GRAPH", "command")
        ref.call("CONFIG", "SET", "latency-monitor-threshold", "1")
        ref.call("LATENCY", "RESET")
        # Samples in three different seconds (one sample per second is kept).
        while len(ref.call("LATENCY", "HISTORY", "command").value) < 3:
            ref.call("DEBUG", "SLEEP", "0.05")
        while True:
            before = int(ref.call("TIME").value[0].value)
            graph = ref.call("LATENCY", "GRAPH", "command").value
            if int(ref.call("TIME").value[0].value) == before:
                break
        monitor = LatencyMonitor()
        for sample in ref.call("LATENCY", "HISTORY", "command").value:
            t, ms = (f.value for f in sample.value)
            monitor.add("command", ms, now=t)
        assert monitor.graph("command", now=before).encode() == graph
    finally:
        ref.call("CONFIG", "SET", "latency-monitor-threshold", "0")
        ref.call("LATENCY", "RESET")
        ref.close()
        ver.close()


def test_blocked_command_is_counted_when_answered(pair2, reference_server, vermilion_process_server):
    from support import connect
    _fresh(pair2)
    for port, c in ((reference_server.port, pair2.ref), (vermilion_process_server.port, pair2.ver)):
        waiter = connect(port)
        try:
            waiter.send("BLPOP", "latency:list", "0")
            while b"blocked_clients:1" not in c.call("INFO", "clients").value:
                pass
            # Blocked: not in the histogram yet (its call is counted in commandstats).
            assert b"blpop" not in _histogram(c, "blpop")
            c.call("LPUSH", "latency:list", "x")
            assert waiter.read().kind == "*"
            assert _histogram(c, "blpop")[b"blpop"][0] == 1
        finally:
            waiter.close()


def test_argument_notation_reads_back():
    """Every declared argument list renders to a notation that parses to the same lists;
    malformed notations are refused at import time, not served."""
    from vermilion.engine import argsyntax
    from vermilion.engine.table import COMMANDS
    import vermilion.commands  # noqa: F401  (fills the table)
    seen = 0
    for cmd in COMMANDS.values():
        for c in [cmd, *(cmd.subcommands or {}).values()]:
            assert argsyntax.parse(argsyntax.render(c.arguments)) == c.arguments, c.fullname
            seen += bool(c.arguments)
    assert seen > 250
    assert argsyntax.parse("key:k0 [x:i...@1.0] 'a b'=c:-") == [
        {"name": "key", "type": "key", "key_spec_index": 0},
        {"name": "x", "type": "integer", "since": "1.0", "flags": ["optional", "multiple"]},
        {"name": "c", "type": "pure-token", "token": "a b"}]
    for bad in ("key:k", "x:z", "[a", "g(a b|c)", "x:-", "g(a"):
        with pytest.raises((ValueError, IndexError)):
            argsyntax.parse(bad)
