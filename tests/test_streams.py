"""Stream commands without consumer groups, compared frame by frame with a real
redis-server 7.0 (RESP2 and RESP3): XADD (IDs, NOMKSTREAM, MAXLEN/MINID, = / ~,
LIMIT), XTRIM, XLEN, XRANGE, XREVRANGE, XDEL, XREAD (without blocking: see
test_streams_blocking.py), XSETID, XINFO STREAM, and what the generic key
commands, WATCH, keyspace events and COMMAND see of a stream.

Consumer groups are in test_streams_groups.py. Helpers shared by the stream
test modules (time masking, state comparison) live here.
"""
from __future__ import annotations

import time

import pytest

from rawclient import Frame, RawClient

# Keys of XINFO replies whose values are clocks (absolute or relative ms).
TIME_KEYS = {b"seen-time", b"idle"}
INFO_KEYS = {
    b"length", b"radix-tree-keys", b"radix-tree-nodes", b"last-generated-id",
    b"max-deleted-entry-id", b"entries-added", b"recorded-first-entry-id", b"groups",
    b"first-entry", b"last-entry", b"entries", b"name", b"last-delivered-id", b"entries-read",
    b"lag", b"pel-count", b"pending", b"consumers", b"seen-time", b"idle",
}


def _flat_map(frame) -> bool:
    v = frame.value
    return (frame.kind == "*" and v and len(v) % 2 == 0
            and all(k.kind == "$" and k.value in INFO_KEYS for k in v[0::2]))


def _mask_rows(frame):
    """PEL rows: [id, consumer, time, count] (group) or [id, time, count] (consumer)."""
    if frame.kind != "*" or frame.value is None:
        return frame
    rows = []
    for row in frame.value:
        cells = list(row.value)
        at = 2 if len(cells) == 4 else 1
        cells[at] = Frame((cells[at].kind, "T"))
        rows.append(Frame((row.kind, cells)))
    return Frame((frame.kind, rows))


def mask_times(frame):
    """A frame with every clock value of XINFO/XPENDING replaced by "T"."""
    kind, value = frame
    if kind == "%":
        pairs = []
        for k, v in value:
            if k.value in TIME_KEYS:
                v = Frame((v.kind, "T"))
            elif k.value == b"pending":
                v = _mask_rows(v)
            else:
                v = mask_times(v)
            pairs.append((k, v))
        return Frame((kind, pairs))
    if kind == "*" and value is not None:
        if _flat_map(frame):
            out = []
            for k, v in zip(value[0::2], value[1::2]):
                if k.value in TIME_KEYS:
                    v = Frame((v.kind, "T"))
                elif k.value == b"pending":
                    v = _mask_rows(v)
                else:
                    v = mask_times(v)
                out += [k, v]
            return Frame((kind, out))
        return Frame((kind, [mask_times(x) for x in value]))
    return frame


def check_masked(pair, *args):
    """Send to both servers; compare with clock values masked (XINFO, XPENDING)."""
    expected, actual = pair.both(*args)
    if args[0].upper() == "XPENDING" and expected.kind == "*" and len(args) > 3:
        expected, actual = _mask_rows(expected), _mask_rows(actual)
    else:
        expected, actual = mask_times(expected), mask_times(actual)
    assert actual == expected, f"{args!r}: redis={expected!r} vermilion={actual!r}"
    return actual


def run_masked(pair, script: str) -> None:
    from vermilion.server.parser import split_inline
    for line in script.strip().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            check_masked(pair, *[a.decode() if isinstance(a, bytes) else a
                                 for a in split_inline(line.encode())])


def fill(pair, key: str, n: int, start: int = 1, field: str = "f") -> None:
    """XADD n entries with explicit IDs start-1 .. start+n-1-1 on both servers."""
    for i in range(start, start + n):
        pair.check("XADD", key, f"{i}-1", field, str(i))


# -- XADD -----------------------------------------------------------------------------------------


def test_xadd_explicit_ids(pair):
    pair.run("""
    XADD s 1-1 f v
    XADD s 1-1 f v
    XADD s 1-0 f v
    XADD s 1-2 a 1 b 2 c 3
    XADD s 5 f v
    XADD s 5-* f v
    XADD s 5-* f v
    XADD s 6-* f v
    XADD s 4-* f v
    XADD s 0-0 f v
    XADD s 0 f v
    XADD t 0-* f v
    XADD t 0-* f v
    XADD u 0-1 f v
    XADD s 18446744073709551615-* f v
    XADD s 18446744073709551615-* f v
    XLEN s
    XRANGE s - +
    XRANGE t - +
    """)


def test_xadd_id_syntax(pair):
    pair.run("""
    XADD s abc f v
    XADD s 1-a f v
    XADD s - f v
    XADD s + f v
    XADD s -1 f v
    XADD s 1--1 f v
    XADD s 18446744073709551616 f v
    XADD s 1-18446744073709551616 f v
    XADD s *-1 f v
    XADD s 1-** f v
    XADD s 007-3 f v
    XADD s "+8" f v
    XADD s "9- 1" f v
    XADD s 10.5 f v
    XADD s 10-*-1 f v
    XRANGE s - +
    """)


def test_xadd_arity_and_errors(pair):
    pair.run("""
    XADD s * f
    XADD s * f v g
    XADD s 1-1 f
    XADD s 0-0 f
    XADD s 0-0 f v x
    XADD s MAXLEN 5 * f
    XADD s NOMKSTREAM
    XADD s NOMKSTREAM MAXLEN 5
    XADD s MAXLEN
    XADD s MAXLEN 5 f v
    XADD s
    SET str x
    XADD str * f v
    XADD str 0-0 f v
    XADD str 1-1 f
    EXISTS s
    """)
    pair.check("XADD", "s", "1-1", "f", "")
    pair.check("XADD", "s", "2-1", "", "")
    pair.check("XADD", "s", "3-1", b"bin\x00\xff", b"\r\n" * 50)
    pair.check("XRANGE", "s", "-", "+")


def test_xadd_nomkstream(pair):
    pair.run("""
    XADD s NOMKSTREAM * f v
    EXISTS s
    XADD s NOMKSTREAM 1-1 f v
    XADD s 2-1 f v
    XADD s NOMKSTREAM 3-1 f v
    XADD s NOMKSTREAM NOMKSTREAM 4-1 f v
    XADD s MAXLEN 1 NOMKSTREAM 5-1 f v
    XADD s NOMKSTREAM MAXLEN = 1 6-1 f v
    XRANGE s - +
    XADD nokey NOMKSTREAM 0-0 f v
    """)


def test_xadd_exhausted(pair):
    pair.run("""
    XADD s 18446744073709551615-18446744073709551615 f v
    XADD s * f v
    XADD s 18446744073709551615-* f v
    XADD s 1-1 f v
    XINFO STREAM s
    XADD t 18446744073709551615-18446744073709551614 f v
    XADD t * f v
    XADD t * f v
    """)


def test_xadd_auto_ids(pair):
    """`*` IDs come from each server's clock: compare their shape and order."""
    ids = []
    for _ in range(5):
        ref, ver = pair.both("XADD", "s", "*", "f", "v")
        assert ref.kind == ver.kind == "$"
        ids.append(ver.value)
    ms = [int(i.split(b"-")[0]) for i in ids]
    assert abs(ms[0] - time.time() * 1000) < 5000
    parsed = [tuple(map(int, i.split(b"-"))) for i in ids]
    assert parsed == sorted(set(parsed))
    # An ID in the future: `*` continues from it (sequence + 1), on both.
    pair.check("XADD", "f", "99999999999999-5", "f", "v")
    pair.check("XADD", "f", "*", "f", "v")
    pair.check("XADD", "f", "99999999999999-*", "f", "v")
    pair.check("XADD", "f", "*", "f", "v")
    pair.check("XLEN", "s")


def test_xadd_maxlen_minid(pair):
    fill(pair, "s", 10)
    pair.run("""
    XADD s MAXLEN 5 11-1 f v
    XLEN s
    XRANGE s - +
    XADD s MAXLEN = 3 12-1 f v
    XRANGE s - +
    XADD s MINID 11 13-1 f v
    XRANGE s - +
    XADD s MINID = 12-1 14-1 f v
    XRANGE s - +
    XADD s MAXLEN 0 15-1 f v
    XLEN s
    XINFO STREAM s
    XADD s MAXLEN -1 16-1 f v
    XADD s MAXLEN x 16-1 f v
    XADD s MAXLEN 1 MINID 0 16-1 f v
    XADD s MINID 0 MAXLEN 1 16-1 f v
    XADD s MAXLEN 1 MAXLEN 1 16-1 f v
    XADD s MINID - 16-1 f v
    XADD s MINID + 16-1 f v
    XADD s MINID x 16-1 f v
    XADD s MAXLEN ~ 16-1 f v
    XADD s MAXLEN = 16-1 f v
    XADD s maxlen ~ 1 16-1 f v
    XADD s mInId = 0 17-1 f v
    XLEN s
    """)


def test_xadd_limit_errors(pair):
    pair.run("""
    XADD s LIMIT 0 * f v
    XADD s LIMIT 5 * f v
    XADD s MAXLEN 5 LIMIT 5 * f v
    XADD s MAXLEN = 5 LIMIT 5 * f v
    XADD s MAXLEN ~ 5 LIMIT -1 * f v
    XADD s MAXLEN ~ 5 LIMIT x * f v
    XADD s LIMIT 5 MAXLEN ~ 5 1-1 f v
    XADD s MAXLEN ~ 5 LIMIT 5 LIMIT 0 2-1 f v
    XLEN s
    """)


def test_xadd_approximate_trim_follows_nodes(pair):
    """`~` trims whole macro nodes only (100 entries / 4096 bytes each by default):
    the length after each approximate trim is Redis's."""
    for i in range(1, 451):
        pair.check("XADD", "s", f"{i}-1", "field", f"value-{i}")
    for args in (("XADD", "s", "MAXLEN", "~", "300", "451-1", "f", "v"),
                 ("XLEN", "s"),
                 ("XADD", "s", "MAXLEN", "~", "10", "LIMIT", "150", "452-1", "f", "v"),
                 ("XLEN", "s"),
                 ("XADD", "s", "MAXLEN", "~", "10", "LIMIT", "99", "453-1", "f", "v"),
                 ("XLEN", "s"),
                 ("XADD", "s", "MINID", "~", "350", "454-1", "f", "v"),
                 ("XLEN", "s"),
                 ("XADD", "s", "MINID", "~", "400", "LIMIT", "1000", "455-1", "f", "v"),
                 ("XLEN", "s"),
                 ("XINFO", "STREAM", "s"),
                 ("XTRIM", "s", "MAXLEN", "~", "0"),
                 ("XINFO", "STREAM", "s")):
        pair.check(*args)
    # Big values fill a node by bytes before entries.
    for i in range(1, 60):
        pair.check("XADD", "b", f"{i}-1", "f", "x" * 300)
    pair.check("XINFO", "STREAM", "b")
    pair.check("XADD", "b", "MAXLEN", "~", "20", "60-1", "f", "v")
    pair.check("XLEN", "b")
    pair.check("XINFO", "STREAM", "b")


def test_xadd_node_config(pair):
    try:
        pair.run("""
        CONFIG SET stream-node-max-entries 3
        CONFIG SET stream-node-max-bytes 0
        """)
        fill(pair, "s", 20)
        pair.run("""
        XINFO STREAM s
        XADD s MAXLEN ~ 7 21-1 f v
        XLEN s
        XINFO STREAM s
        CONFIG SET stream-node-max-entries 0
        CONFIG SET stream-node-max-bytes 100
        """)
        fill(pair, "t", 20)
        pair.run("""
        XINFO STREAM t
        XTRIM t MAXLEN ~ 5
        XINFO STREAM t
        """)
    finally:
        pair.both("CONFIG", "SET", "stream-node-max-entries", "100")
        pair.both("CONFIG", "SET", "stream-node-max-bytes", "4096")


# -- XTRIM ----------------------------------------------------------------------------------------


def test_xtrim(pair):
    fill(pair, "s", 250)
    pair.run("""
    XTRIM nokey MAXLEN 0
    XTRIM s MAXLEN 300
    XTRIM s MAXLEN 240
    XLEN s
    XTRIM s MAXLEN ~ 200
    XLEN s
    XTRIM s MAXLEN ~ 100
    XLEN s
    XTRIM s MINID 150
    XRANGE s - + COUNT 2
    XTRIM s MINID ~ 180
    XLEN s
    XTRIM s MINID ~ 210
    XLEN s
    XTRIM s MINID = 220-1
    XTRIM s MAXLEN = 5
    XRANGE s - +
    XTRIM s MAXLEN ~ 0 LIMIT 1
    XTRIM s MAXLEN 0
    XINFO STREAM s
    XTRIM s MINID ~ 0
    """)


def test_xtrim_errors(pair):
    fill(pair, "s", 5)
    pair.run("""
    XTRIM s
    XTRIM s MAXLEN
    XTRIM s FOO 1
    XTRIM s LIMIT 5
    XTRIM s LIMIT 0
    XTRIM s MAXLEN 1 LIMIT 5
    XTRIM s MAXLEN ~ 1 LIMIT -5
    XTRIM s MAXLEN -1
    XTRIM s MAXLEN x
    XTRIM s MAXLEN ~ x
    XTRIM s MAXLEN ~
    XTRIM s MINID x
    XTRIM s MINID -
    XTRIM s MAXLEN 1 MINID 1
    XTRIM s MAXLEN 1 NOMKSTREAM
    XTRIM s MAXLEN 1 *
    XTRIM s MAXLEN 1 EXTRA
    XTRIM s maxlen ~ 1 limit 100
    SET str x
    XTRIM str MAXLEN 1
    XTRIM str FOO
    XLEN s
    """)


def test_xtrim_after_xdel_tombstones(pair):
    fill(pair, "s", 12)
    pair.run("""
    XDEL s 3-1 5-1 7-1
    XTRIM s MINID 6
    XINFO STREAM s
    XTRIM s MAXLEN 3
    XINFO STREAM s
    XRANGE s - +
    """)


# -- XLEN / XRANGE / XREVRANGE / XDEL -------------------------------------------------------------


def test_xrange_xrevrange(pair):
    fill(pair, "s", 10)
    pair.run("""
    XRANGE s - +
    XREVRANGE s + -
    XRANGE s 3 5
    XRANGE s 3-1 5-1
    XRANGE s (3-1 (5-1
    XREVRANGE s (5-1 (3-1
    XRANGE s (3 5
    XRANGE s 3 (5
    XRANGE s - + COUNT 3
    XREVRANGE s + - COUNT 3
    XRANGE s - + COUNT 0
    XRANGE s - + COUNT -5
    XREVRANGE s + - COUNT 0
    XRANGE s - + COUNT 3 COUNT 1
    XRANGE s - + count 2
    XRANGE s 5 3
    XREVRANGE s 3 5
    XRANGE s 5 5
    XRANGE s 5-1 5-1
    XRANGE s (5-1 5-1
    XRANGE s (- +
    XRANGE s - (+
    XRANGE s (0-0 +
    XRANGE s - (0-0
    XRANGE s (18446744073709551615-18446744073709551615 +
    XREVRANGE s (0-0 -
    XRANGE s ( +
    XRANGE s x +
    XRANGE s - x
    XRANGE s - + COUNT
    XRANGE s - + COUNT x
    XRANGE s - + FOO 1
    XRANGE s - + LIMIT 1
    XRANGE nokey - +
    XRANGE nokey - + COUNT 0
    XREVRANGE nokey + -
    XRANGE nokey x +
    SET str v
    XRANGE str - +
    XRANGE str - + COUNT 0
    XRANGE s 18446744073709551615 +
    XRANGE s 0 18446744073709551615
    """)


def test_xrange_many_nodes(pair):
    for i in range(1, 260):
        pair.check("XADD", "s", f"{i // 3}-{i}", *(["f", str(i)] if i % 7 else ["g", str(i), "h", "x"]))
    pair.run("""
    XRANGE s 20 40
    XREVRANGE s 40 20 COUNT 7
    XRANGE s (50-150 + COUNT 5
    XREVRANGE s (50-151 - COUNT 5
    XDEL s 30-90 30-91 30-92 31-93
    XRANGE s 29 32
    XREVRANGE s 32 29
    XLEN s
    """)


def test_xlen_xdel(pair):
    fill(pair, "s", 5)
    pair.run("""
    XLEN s
    XLEN nokey
    XDEL s 2-1
    XDEL s 2-1
    XDEL s 1-1 3-1 99-1
    XLEN s
    XDEL s x
    XDEL s 4-1 x
    XLEN s
    XDEL s -
    XDEL s +
    XDEL nokey x
    XDEL nokey 1-1
    XRANGE s - +
    XINFO STREAM s
    XDEL s 4-1 5-1
    XLEN s
    EXISTS s
    XINFO STREAM s
    XADD s 1-1 f v
    XADD s 6-1 f v
    SET str v
    XLEN str
    XDEL str 1-1
    XDEL str x
    """)


# -- XREAD (no blocking) --------------------------------------------------------------------------


def test_xread(pair):
    fill(pair, "a", 5)
    fill(pair, "b", 3, start=10)
    pair.run("""
    XREAD STREAMS a 0
    XREAD STREAMS a 3
    XREAD STREAMS a 3-1
    XREAD STREAMS a 5-1
    XREAD STREAMS a $
    XREAD COUNT 2 STREAMS a 0
    XREAD COUNT 0 STREAMS a 0
    XREAD COUNT -1 STREAMS a 0
    XREAD COUNT 1 COUNT 2 STREAMS a 0
    XREAD STREAMS a b 0 0
    XREAD STREAMS a b 4 0
    XREAD STREAMS a b 5-1 11-1
    XREAD STREAMS a b $ $
    XREAD STREAMS nokey a 0 0
    XREAD STREAMS nokey $
    XREAD COUNT 1 STREAMS a b nokey 0 0 0
    xread count 1 streams a 0
    XREAD BLOCK 100 STREAMS a 0
    XREAD BLOCK 0 COUNT 1 STREAMS b 10
    """)


def test_xread_errors(pair):
    fill(pair, "a", 2)
    pair.run("""
    XREAD STREAMS a
    XREAD STREAMS a b 0
    XREAD STREAMS
    XREAD a 0
    XREAD COUNT 1 a 0
    XREAD COUNT x STREAMS a 0
    XREAD COUNT STREAMS a 0
    XREAD BLOCK x STREAMS a 0
    XREAD BLOCK -1 STREAMS a 0
    XREAD BLOCK 1.5 STREAMS a 0
    XREAD GROUP g c STREAMS a 0
    XREAD NOACK STREAMS a 0
    XREAD STREAMS a >
    XREAD STREAMS a x
    XREAD STREAMS a -
    XREAD STREAMS a +
    XREAD FOO STREAMS a 0
    SET str v
    XREAD STREAMS str 0
    XREAD STREAMS a str 0 x
    XREAD STREAMS a str x 0
    XREAD STREAMS a str $ 0
    XREAD COUNT 1 BLOCK 10 STREAMS a b c 0
    """)


def test_xread_in_multi_and_scripts(pair):
    fill(pair, "a", 2)
    pair.run("""
    MULTI
    XREAD BLOCK 0 STREAMS a $
    XREAD BLOCK 0 STREAMS a 0
    XREAD STREAMS nokey 0
    EXEC
    EVAL "return redis.call('XREAD','STREAMS','a','0')" 0
    EVAL "return redis.call('XREAD','COUNT','1','STREAMS','a','0')" 0
    EVAL "return redis.pcall('XREAD','BLOCK','0','STREAMS','a','$')" 0
    EVAL "return redis.pcall('xread','BLOCK','x','STREAMS','a','$')" 0
    """)


# -- XSETID ---------------------------------------------------------------------------------------


def test_xsetid(pair):
    fill(pair, "s", 3)
    pair.run("""
    XSETID s 10-0
    XINFO STREAM s
    XADD s 10-* f v
    XADD s 10-0 f v
    XSETID s 3-1
    XSETID s 2-0
    XSETID s 3-0
    XSETID s 100 ENTRIESADDED 50 MAXDELETEDID 50
    XINFO STREAM s
    XSETID s 100 ENTRIESADDED 2
    XSETID s 100 ENTRIESADDED -1
    XSETID s 100 ENTRIESADDED x
    XSETID s 100 MAXDELETEDID 200
    XSETID s 100 MAXDELETEDID x
    XSETID s 100 MAXDELETEDID 0-0
    XSETID s 100 MAXDELETEDID 99 ENTRIESADDED -1
    XSETID s 100 ENTRIESADDED -1 MAXDELETEDID 200
    XSETID s 100 FOO
    XSETID s 100 ENTRIESADDED
    XSETID s x
    XSETID s -
    XSETID s +
    XSETID nokey 1-1
    XSETID nokey 1-1 ENTRIESADDED -1
    XSETID nokey x
    XINFO STREAM s
    XDEL s 1-1
    XSETID s 1-0
    XSETID s 100 MAXDELETEDID 0-5
    XINFO STREAM s
    SET str v
    XSETID str 1-1
    """)
    pair.run("""
    XADD e 5-5 f v
    XDEL e 5-5
    XSETID e 1-1
    XSETID e 1-1 ENTRIESADDED 0
    XINFO STREAM e
    XADD e 6-* f v
    """)


# -- XINFO STREAM (groups in test_streams_groups.py) -------------------------------------------------


def test_xinfo_stream(pair):
    pair.run("""
    XINFO STREAM nokey
    XINFO STREAM nokey FULL
    XADD s 1-1 f v
    XINFO STREAM s
    XINFO STREAM s FULL
    XINFO stream s full count 1
    XINFO STREAM s FULL COUNT 0
    XINFO STREAM s FULL COUNT -1
    XINFO STREAM s FULL COUNT x
    XINFO STREAM s COUNT 5
    XINFO STREAM s FULL COUNT
    XINFO STREAM s FULL FULL
    XINFO STREAM s FOO
    XINFO STREAM s FULL COUNT 1 COUNT 2
    XINFO STREAM
    XINFO
    XINFO FOO s
    XINFO HELP
    XINFO help
    XINFO HELP x
    SET str v
    XINFO STREAM str
    XINFO STREAM str FOO
    XINFO GROUPS str
    XINFO CONSUMERS str g
    """)
    fill(pair, "big", 25)
    pair.run("""
    XINFO STREAM big
    XINFO STREAM big FULL
    XINFO STREAM big FULL COUNT -1
    XINFO STREAM big FULL COUNT 0
    XINFO STREAM big FULL COUNT 3
    XDEL big 1-1 25-1
    XINFO STREAM big
    """)


def test_xinfo_radix_tree_nodes(pair):
    """radix-tree-nodes models Redis's rax over the node master IDs."""
    ms = [1, 2, 3, 255, 256, 257, 65535, 65536, 10**9, 10**12, 10**13 + 7]
    for i, m in enumerate(ms):
        for j in range(101):
            pair.check("XADD", "s", f"{m * 1000 + i}-{j}", "f", "v")
        pair.check("XINFO", "STREAM", "s")


# -- generic key commands, WATCH, keyspace events, COMMAND -----------------------------------------


def test_type_encoding_copy_rename(pair):
    fill(pair, "s", 3)
    pair.run("""
    TYPE s
    OBJECT ENCODING s
    XGROUP CREATE s g 0
    XREADGROUP GROUP g c COUNT 2 STREAMS s >
    COPY s s2
    COPY s s2
    XADD s 10-1 f v
    XACK s g 1-1
    XLEN s2
    XPENDING s2 g
    XPENDING s g
    XREADGROUP GROUP g c2 STREAMS s2 >
    XINFO GROUPS s
    XINFO GROUPS s2
    RENAME s2 s3
    XINFO GROUPS s3
    DEL s s3
    TYPE s
    """)
    pair.check("SCAN", "0", "TYPE", "stream", unordered=True)
    pair.check("XADD", "x", "1-1", "f", "v")
    check_masked(pair, "XINFO", "STREAM", "x", "FULL")


def test_copy_keeps_pel_state(pair):
    fill(pair, "s", 6)
    pair.run("""
    XGROUP CREATE s g 0
    XGROUP CREATE s h $
    XREADGROUP GROUP g a COUNT 2 STREAMS s >
    XREADGROUP GROUP g b COUNT 2 STREAMS s >
    XDEL s 2-1
    COPY s c
    XACK c g 1-1
    XCLAIM c g b 0 3-1
    XREADGROUP GROUP g a STREAMS c 0
    XREADGROUP GROUP g a STREAMS s 0
    XPENDING s g - + 10
    XPENDING c g - + 10
    """.replace("XPENDING s g - + 10", "XPENDING s g").replace("XPENDING c g - + 10", "XPENDING c g"))
    check_masked(pair, "XPENDING", "s", "g", "-", "+", "10")
    check_masked(pair, "XPENDING", "c", "g", "-", "+", "10")
    check_masked(pair, "XINFO", "STREAM", "c", "FULL")
    check_masked(pair, "XINFO", "STREAM", "s", "FULL")


def test_watch_sees_what_redis_touches(pair2, reference_server, vermilion_process_server):
    """WATCH is touched by XADD/XTRIM/XDEL that change something, by key creation
    (MKSTREAM), and not by group commands or reads (Redis 7.0)."""
    from vermilion.server.parser import split_inline
    commands = [
        "XADD s 9-1 f v", "XADD s MAXLEN 1 9-1 f v", "XTRIM s MAXLEN 100", "XTRIM s MAXLEN 1",
        "XDEL s 1-1", "XDEL s 9-9", "XGROUP CREATE s g2 0", "XGROUP SETID s g 0",
        "XGROUP DESTROY s g", "XGROUP CREATECONSUMER s g c2", "XGROUP DELCONSUMER s g c",
        "XREADGROUP GROUP g c2 STREAMS s >", "XREADGROUP GROUP g c STREAMS s 0", "XACK s g 1-1",
        "XCLAIM s g c2 0 1-1", "XCLAIM s g c2 0 1-1 LASTID 5-5", "XAUTOCLAIM s g c2 0 0",
        "XSETID s 10-10", "XREAD STREAMS s 0", "XGROUP CREATE new g $ MKSTREAM",
        "XADD s NOMKSTREAM 9-1 f v", "XADD other NOMKSTREAM 9-1 f v",
    ]
    for line in commands:
        args = split_inline(line.encode())
        results = []
        for conn, port in ((pair2.ref, reference_server.port), (pair2.ver, vermilion_process_server.port)):
            other = RawClient(port)
            try:
                conn.call("FLUSHALL")
                for setup in ("XADD s 1-1 f v", "XADD s 2-1 f v", "XGROUP CREATE s g 0",
                              "XREADGROUP GROUP g c COUNT 1 STREAMS s >"):
                    conn.call(*split_inline(setup.encode()))
                conn.call("WATCH", args[1] if args[0] != b"XGROUP" else args[2])
                reply = other.call(*args)
                conn.call("MULTI")
                conn.call("PING")
                results.append((reply.kind, conn.call("EXEC").value is None))
            finally:
                other.close()
        assert results[0] == results[1], (line, results)


def test_keyspace_events(pair, reference_server, vermilion_process_server):
    subs = [RawClient(reference_server.port), RawClient(vermilion_process_server.port)]
    try:
        pair.both("CONFIG", "SET", "notify-keyspace-events", "KEA")
        for sub in subs:
            sub.call("PSUBSCRIBE", "__keyevent@0__:*")
        script = """
        XADD s 1-1 f v
        XADD s 2-1 f v
        XADD s MAXLEN 1 3-1 f v
        XADD s MAXLEN 5 4-1 f v
        XTRIM s MAXLEN 0
        XTRIM s MAXLEN 0
        XADD s 5-1 f v
        XDEL s 5-1
        XDEL s 5-1
        XGROUP CREATE s g 0
        XGROUP CREATE s g 0
        XGROUP CREATE m g $ MKSTREAM
        XGROUP SETID s g 0
        XGROUP CREATECONSUMER s g c
        XGROUP CREATECONSUMER s g c
        XADD s 6-1 f v
        XREADGROUP GROUP g r STREAMS s >
        XREADGROUP GROUP g r2 STREAMS s >
        XREADGROUP GROUP g h STREAMS s 0
        XCLAIM s g k 0 6-1
        XCLAIM s g k2 0 99-1
        XAUTOCLAIM s g a 0 0
        XAUTOCLAIM s g a2 99999999 0
        XACK s g 6-1
        XGROUP DELCONSUMER s g c
        XGROUP DELCONSUMER s g nobody
        XGROUP DESTROY s g
        XGROUP DESTROY s g
        XSETID s 100-1
        XADD s NOMKSTREAM 200-1 f v
        XADD z NOMKSTREAM 200-1 f v
        DEL s
        PUBLISH done x
        """
        pair.run(script)
        events = []
        for sub in subs:
            got = []
            sub.call("SUBSCRIBE", "done")
            while True:
                frame = sub.read()
                if frame.value[0].value == b"subscribe":
                    break
                got.append((frame.value[2].value, frame.value[3].value))
            events.append(got)
        assert events[1] == events[0]
        assert (b"__keyevent@0__:xgroup-createconsumer", b"s") in events[0]
    finally:
        for sub in subs:
            sub.close()
        pair.both("CONFIG", "SET", "notify-keyspace-events", "")


STREAM_COMMANDS = ["xadd", "xlen", "xrange", "xrevrange", "xdel", "xtrim", "xread", "xreadgroup",
                   "xgroup", "xack", "xpending", "xclaim", "xautoclaim", "xinfo", "xsetid"]


@pytest.mark.parametrize("name", STREAM_COMMANDS)
def test_command_info(pair2, name):
    """Arity, flags, key positions, ACL categories and tips as Redis declares them
    (key specs are rendered by the server family and not compared)."""
    ref, ver = pair2.both("COMMAND", "INFO", name)

    def strip(info):
        fields = list(info.value[0].value)
        fields[8] = None
        if len(fields) > 9:
            fields[9] = sorted((tuple(sub.value[:8]) for sub in fields[9].value), key=repr)
        return fields

    assert strip(ver) == strip(ref)


def test_command_getkeys(pair2):
    pair2.run("""
    COMMAND GETKEYS XREAD STREAMS a b 0 0
    COMMAND GETKEYS XREAD COUNT 5 BLOCK 0 STREAMS a 0
    COMMAND GETKEYS XREADGROUP GROUP g c COUNT 1 NOACK STREAMS a b c 0 0 0
    COMMAND GETKEYS XREADGROUP GROUP streams streams STREAMS streams >
    COMMAND GETKEYS XADD s * f v
    COMMAND GETKEYS XGROUP CREATE s g $
    COMMAND GETKEYS XINFO STREAM s
    COMMAND GETKEYS XINFO HELP
    COMMAND GETKEYS XREAD STREAMS a b 0
    COMMAND GETKEYS XREAD STREAMS a b c 0 0
    COMMAND GETKEYS XREAD FOO STREAMS a 0
    COMMAND GETKEYS XREAD COUNT streams STREAMS a 0
    COMMAND GETKEYS XREAD BLOCK 0 streams a b 0 0
    COMMAND GETKEYS XREADGROUP GROUP g streams STREAMS a >
    COMMAND GETKEYS XREADGROUP GROUP g c streams a b c 0
    """)
    # (Without a STREAMS keyword Redis answers "Invalid arguments specified for
    # command"; that text belongs to COMMAND GETKEYS in the server family.)


# -- the XADD hot path of the type ------------------------------------------------------------------


def test_add_pair_builds_the_same_nodes_as_add():
    """Stream.add_pair (XADD key * field value appended in place) leaves exactly
    the state Stream.add would: same node cuts, listpack sizes, IDs, entries."""
    import random

    from vermilion.types.stream import Stream

    class General(Stream):
        __slots__ = ()

        def add_pair(self, *args):
            return None

    def state(s):
        return ([(n.ms, n.seq, n.fields, list(n.msd), list(n.sq), bytes(n.flags), bytes(n.blob),
                  n.live, n.dead, n.lpbytes) for n in s._nodes[s._head:]],
                s.last_id, s.length, s.entries_added, s.first_id, s.range())

    rng = random.Random(7)
    for trial in range(60):
        fast, slow = Stream(), General()
        now = rng.randrange(1, 10**13)
        limits = rng.choice([(100, 4096), (3, 0), (0, 200), (50, 1000)])
        for _ in range(rng.randrange(1, 600)):
            if rng.random() < 0.6:
                now += rng.choice([0, 0, 0, 1, 1, 2, 200, 10**6])
            fields = [rng.choice([b"f", b"f", b"g"]),
                      rng.choice([b"v", b"", b"x" * 63, b"x" * 64, b"12", b"-", b"abc"])]
            if rng.random() < 0.05:
                fields += [b"h", b"1"]
            spec = None if rng.random() < 0.95 else (now + 5, rng.choice([None, 0, 7]))
            results = []
            for s in (fast, slow):
                try:
                    results.append(s.add(fields, spec, now, node_max_entries=limits[0],
                                         node_max_bytes=limits[1]))
                except Exception as exc:
                    results.append(repr(exc))
            assert results[0] == results[1]
            if rng.random() < 0.03 and fast.length:
                victim = rng.choice(list(fast.iter_ids()))
                fast.delete([victim])
                slow.delete([victim])
            if rng.random() < 0.02:
                maxlen = rng.randrange(0, 50)
                fast.trim("maxlen", maxlen, True, 0)
                slow.trim("maxlen", maxlen, True, 0)
        assert state(fast) == state(slow), trial
