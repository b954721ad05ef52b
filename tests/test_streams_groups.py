"""Consumer groups, compared frame by frame with a real redis-server 7.0 (RESP2 and
RESP3): XGROUP (CREATE/SETID/DESTROY/CREATECONSUMER/DELCONSUMER/HELP), XREADGROUP
(``>``, history, COUNT, NOACK), XACK, XPENDING (summary, range, IDLE, consumer),
XCLAIM (IDLE, TIME, RETRYCOUNT, FORCE, JUSTID, LASTID), XAUTOCLAIM (COUNT, JUSTID,
deleted entries, cursor), XINFO GROUPS/CONSUMERS/STREAM FULL, entries-read and lag.

Clock values (idle times, delivery and seen times) are masked; everything that
depends on them is made deterministic with IDLE/TIME far from "now".

The last tests check the effects: what the embedded server propagates for a
consumer-group workload is what Redis 7.0.15 propagates (the replication streams
compared), and replayed into a fresh Vermilion and a fresh redis-server it gives
the same stream, groups and PELs on both (XINFO STREAM FULL, delivery times included).
"""
from __future__ import annotations

import time

from rawclient import RawClient, attach_replica, read_stream_until
from support import RedisProcess, require_reference, same_on_both, wait_for
from test_streams import check_masked, fill, mask_times, run_masked


def setup_group(pair, n: int = 5, group: str = "g", start: str = "0") -> None:
    fill(pair, "s", n)
    pair.check("XGROUP", "CREATE", "s", group, start)


# -- XGROUP ---------------------------------------------------------------------------------------


def test_xgroup_create(pair):
    pair.run("""
    XGROUP CREATE s g $
    XGROUP CREATE s g $ MKSTREAM
    XGROUP CREATE s g $ MKSTREAM
    XGROUP CREATE s g2 0 MKSTREAM
    XGROUP CREATE s g3 5-5
    XGROUP CREATE s g4 5 ENTRIESREAD 3
    XGROUP CREATE s g5 $ ENTRIESREAD -1
    XGROUP CREATE s g6 $ MKSTREAM ENTRIESREAD 0
    XGROUP CREATE s g7 $ ENTRIESREAD 2 MKSTREAM
    XGROUP CREATE s g8 $ MKSTREAM MKSTREAM
    XGROUP CREATE s g9 $ MKSTREAM MKSTREAM MKSTREAM MKSTREAM
    XGROUP CREATE s g9 $ ENTRIESREAD -2
    XGROUP CREATE s g9 $ ENTRIESREAD x
    XGROUP CREATE s g9 $ ENTRIESREAD
    XGROUP CREATE s g9 $ FOO
    XGROUP CREATE s g9 $ MKSTREAM ENTRIESREAD 5 MKSTREAM
    XGROUP CREATE s g9 -
    XGROUP CREATE s g9 +
    XGROUP CREATE s g9 x
    XGROUP CREATE s g9 18446744073709551615-18446744073709551615
    XGROUP CREATE s ""  0
    XGROUP CREATE s
    XGROUP CREATE s g
    XGROUP CREATE nokey g $
    XGROUP CREATE nokey g x
    XGROUP CREATE nokey g $ ENTRIESREAD -5
    XGROUP CREATE nokey g $ FOO
    XGROUP create nokey2 g 7-7 mkstream
    XINFO GROUPS s
    XINFO GROUPS nokey2
    XINFO STREAM nokey2
    SET str v
    XGROUP CREATE str g $
    XGROUP CREATE str g $ MKSTREAM
    XGROUP CREATE str g x MKSTREAM
    """)


def test_xgroup_setid_destroy_consumers(pair):
    setup_group(pair)
    pair.run("""
    XGROUP SETID s g 3
    XGROUP SETID s g $
    XGROUP SETID s g -
    XGROUP SETID s g +
    XGROUP SETID s g 3 ENTRIESREAD 2
    XINFO GROUPS s
    XGROUP SETID s g 3 ENTRIESREAD -1
    XGROUP SETID s g 3 ENTRIESREAD -5
    XGROUP SETID s g 3 ENTRIESREAD x
    XGROUP SETID s g 3 ENTRIESREAD
    XGROUP SETID s g 3 FOO 1
    XGROUP SETID s g 3 ENTRIESREAD 1 ENTRIESREAD 2
    XGROUP SETID s g x
    XGROUP SETID s nog 0
    XGROUP SETID s nog 0 ENTRIESREAD -5
    XGROUP SETID nokey g 0
    XGROUP SETID nokey g 0 ENTRIESREAD -5
    XGROUP SETID s g
    XINFO GROUPS s
    XGROUP CREATECONSUMER s g alice
    XGROUP CREATECONSUMER s g alice
    XGROUP CREATECONSUMER s g bob
    XGROUP CREATECONSUMER s nog alice
    XGROUP CREATECONSUMER nokey g alice
    XGROUP CREATECONSUMER s g
    XGROUP CREATECONSUMER s g a b
    XINFO GROUPS s
    XGROUP DELCONSUMER s g alice
    XGROUP DELCONSUMER s g alice
    XGROUP DELCONSUMER s nog alice
    XGROUP DELCONSUMER nokey g alice
    XGROUP DESTROY s nog
    XGROUP DESTROY nokey g
    XGROUP DESTROY s g
    XGROUP DESTROY s g
    XGROUP DESTROY s
    XINFO GROUPS s
    XGROUP HELP
    XGROUP help
    XGROUP HELP x
    XGROUP
    XGROUP FOO s g
    SET str v
    XGROUP SETID str g 0
    XGROUP DESTROY str g
    XGROUP CREATECONSUMER str g c
    XGROUP DELCONSUMER str g c
    """)


def test_xgroup_delconsumer_drops_pending(pair):
    setup_group(pair, 6)
    pair.run("""
    XREADGROUP GROUP g a COUNT 2 STREAMS s >
    XREADGROUP GROUP g b COUNT 3 STREAMS s >
    XPENDING s g
    XGROUP DELCONSUMER s g b
    XPENDING s g
    XINFO GROUPS s
    XREADGROUP GROUP g b STREAMS s 0
    XCLAIM s g a 0 3-1
    XPENDING s g
    """)


# -- XREADGROUP -----------------------------------------------------------------------------------


def test_xreadgroup_new_entries(pair):
    setup_group(pair, 6)
    pair.run("""
    XREADGROUP GROUP g a COUNT 2 STREAMS s >
    XREADGROUP GROUP g b COUNT 1 STREAMS s >
    XREADGROUP GROUP g a STREAMS s >
    XREADGROUP GROUP g a STREAMS s >
    XREADGROUP GROUP g c STREAMS s >
    XINFO GROUPS s
    XPENDING s g
    XADD s 7-1 f v
    XREADGROUP GROUP g c COUNT 0 STREAMS s >
    XREADGROUP GROUP g c COUNT -3 STREAMS s >
    XADD s 8-1 f v
    xreadgroup group g c count 5 streams s >
    XPENDING s g
    """)
    check_masked(pair, "XINFO", "CONSUMERS", "s", "g")


def test_xreadgroup_history(pair):
    setup_group(pair, 6)
    pair.run("""
    XREADGROUP GROUP g a COUNT 4 STREAMS s >
    XREADGROUP GROUP g a STREAMS s 0
    XREADGROUP GROUP g a STREAMS s 0
    XREADGROUP GROUP g a COUNT 2 STREAMS s 0
    XREADGROUP GROUP g a STREAMS s 2-1
    XREADGROUP GROUP g a STREAMS s 2
    XREADGROUP GROUP g a STREAMS s 99
    XREADGROUP GROUP g a STREAMS s 18446744073709551615-18446744073709551614
    XREADGROUP GROUP g a STREAMS s 18446744073709551615-18446744073709551615
    XREADGROUP GROUP g nobody STREAMS s 0
    XREADGROUP GROUP g nobody2 COUNT 1 STREAMS s 0
    XDEL s 2-1 3-1
    XREADGROUP GROUP g a STREAMS s 0
    XREADGROUP GROUP g a COUNT 1 STREAMS s 1-1
    XACK s g 1-1
    XREADGROUP GROUP g a STREAMS s 0
    XREADGROUP GROUP g a NOACK STREAMS s 0
    """)
    check_masked(pair, "XPENDING", "s", "g", "-", "+", "10")
    check_masked(pair, "XINFO", "CONSUMERS", "s", "g")


def test_xreadgroup_noack(pair):
    setup_group(pair, 4)
    pair.run("""
    XREADGROUP GROUP g a NOACK COUNT 2 STREAMS s >
    XPENDING s g
    XINFO GROUPS s
    XREADGROUP GROUP g b NOACK STREAMS s >
    XREADGROUP GROUP g c NOACK STREAMS s >
    XREADGROUP NOACK GROUP g d STREAMS s >
    XREADGROUP GROUP g e COUNT 1 NOACK NOACK STREAMS s >
    XPENDING s g
    XINFO GROUPS s
    XADD s 9-1 f v
    XREADGROUP GROUP g e STREAMS s >
    XPENDING s g
    """)
    check_masked(pair, "XINFO", "CONSUMERS", "s", "g")


def test_xreadgroup_multiple_streams(pair):
    fill(pair, "a", 3)
    fill(pair, "b", 3, start=5)
    pair.run("""
    XGROUP CREATE a g 0
    XGROUP CREATE b g $
    XREADGROUP GROUP g c STREAMS a b > >
    XREADGROUP GROUP g c STREAMS a b 0 0
    XADD b 9-1 f v
    XREADGROUP GROUP g c COUNT 1 STREAMS a b > >
    XREADGROUP GROUP g c STREAMS b a > 0
    XREADGROUP GROUP g c STREAMS a b > >
    XGROUP CREATE b h 0
    XREADGROUP GROUP h c STREAMS a b > >
    XREADGROUP GROUP g c STREAMS a nokey > >
    XREADGROUP GROUP g c STREAMS a b > $
    XREADGROUP GROUP g c STREAMS a a > >
    """)
    # The same key twice: Redis's RESP3 map then repeats the key, which a reply
    # dict cannot (a known divergence, see _read_reply); RESP2 is an array.
    if pair.resp == 2:
        pair.check("XREADGROUP", "GROUP", "g", "d", "STREAMS", "a", "a", "0", "0")
        pair.check("XREAD", "STREAMS", "a", "a", "0", "1-1")


def test_xreadgroup_errors(pair):
    setup_group(pair, 2)
    pair.run("""
    XREADGROUP GROUP g c STREAMS s
    XREADGROUP GROUP g c STREAMS s $
    XREADGROUP GROUP g c STREAMS s x
    XREADGROUP GROUP g c STREAMS s -
    XREADGROUP GROUP nog c STREAMS s >
    XREADGROUP GROUP g c STREAMS nokey >
    XREADGROUP GROUP g c STREAMS nokey x
    XREADGROUP GROUP g c STREAMS s nokey > >
    XREADGROUP GROUP g STREAMS s >
    XREADGROUP GROUP g c d STREAMS s >
    XREADGROUP COUNT 1 STREAMS s > > >
    XREADGROUP COUNT 1 BLOCK 10 STREAMS s >
    XREADGROUP GROUP g c COUNT x STREAMS s >
    XREADGROUP GROUP g c BLOCK -1 STREAMS s >
    XREADGROUP GROUP g c BLOCK x STREAMS s >
    XREADGROUP GROUP g c FOO STREAMS s >
    XREADGROUP GROUP g c STREAMS s a > >
    XREADGROUP GROUP g c NOACK
    SET str v
    XREADGROUP GROUP g c STREAMS str >
    XREADGROUP GROUP g c STREAMS s str > >
    XREADGROUP GROUP g c STREAMS str s > >
    EVAL "return redis.pcall('XREADGROUP','GROUP','g','c','BLOCK','0','STREAMS','s','>')" 0
    EVAL "return redis.call('XREADGROUP','GROUP','g','c','COUNT','1','STREAMS','s','>')" 0
    MULTI
    XREADGROUP GROUP g c BLOCK 0 STREAMS s >
    XREADGROUP GROUP g c BLOCK 0 STREAMS s 0
    EXEC
    """)


def test_redelivery_after_setid(pair):
    """An entry still pending when XGROUP SETID moved the group back is
    re-assigned to whoever reads it with `>`, its delivery count back to 1."""
    setup_group(pair, 4)
    pair.run("""
    XREADGROUP GROUP g a STREAMS s >
    XREADGROUP GROUP g a STREAMS s 0
    XGROUP SETID s g 2-1
    XREADGROUP GROUP g b COUNT 1 STREAMS s >
    XPENDING s g
    XREADGROUP GROUP g b STREAMS s >
    XPENDING s g
    XREADGROUP GROUP g a STREAMS s 0
    XINFO GROUPS s
    """)
    check_masked(pair, "XPENDING", "s", "g", "-", "+", "10")


# -- XACK / XPENDING ------------------------------------------------------------------------------


def test_xack(pair):
    setup_group(pair, 5)
    pair.run("""
    XREADGROUP GROUP g a STREAMS s >
    XACK s g 1-1
    XACK s g 1-1
    XACK s g 2-1 3-1 3-1 99-1
    XACK s g 4 x
    XACK s g -
    XACK s nog 4-1
    XACK nokey g 4-1
    XACK nokey g x
    XACK s nog x
    XPENDING s g
    XACK s g 4-1 5-1
    XPENDING s g
    SET str v
    XACK str g 1-1
    """)


def test_xack_id_forms(pair):
    # The plain digits forms are parsed by a C loop; everything else goes to the full
    # parser: both must take and refuse exactly what Redis does, all or nothing.
    setup_group(pair, 5)
    pair.check("XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", ">")
    for ids in (["01-1"], ["2-01"], ["3"], ["3-"], ["-3"], ["3-1-1"], [" 3-1"], ["3-1 "],
                ["+3-1"], ["3-+1"], ["3-1\0"], ["4-18446744073709551615"],
                ["18446744073709551615-0"], ["18446744073709551616-0"],
                ["99999999999999999999-1"], ["4-99999999999999999999"], ["", "4-1"],
                ["4-1", "5-x"], ["00000000000000000004-1"], ["4-00000000000000000001"],
                ["5-1", "5-1"]):
        pair.check("XACK", "s", "g", *ids)
        pair.check("XPENDING", "s", "g")


def test_xpending(pair):
    setup_group(pair, 8)
    pair.run("""
    XPENDING s g
    XPENDING s g - + 10
    XREADGROUP GROUP g a COUNT 3 STREAMS s >
    XREADGROUP GROUP g b COUNT 2 STREAMS s >
    XREADGROUP GROUP g c NOACK COUNT 1 STREAMS s >
    XPENDING s g
    XPENDING s nog
    XPENDING nokey g
    XPENDING s g - + 0
    XPENDING s g - + -1
    XPENDING s g - + x
    XPENDING s g x + 10
    XPENDING s g - x 10
    XPENDING s g ( + 10
    XPENDING s g (18446744073709551615-18446744073709551615 + 10
    XPENDING s g - (0-0 10
    XPENDING s g -
    XPENDING s g - +
    XPENDING s g IDLE 0 - +
    XPENDING s g IDLE x - + 10
    XPENDING s g IDLE 0 - + x
    XPENDING s g - + 10 a b c d
    XPENDING s nog - + 10
    XPENDING nokey g - + 10
    XGROUP CREATE s empty $
    XPENDING s empty
    XPENDING s empty - + 10
    SET str v
    XPENDING str g
    XPENDING str g - + 10
    """)
    for args in (("-", "+", "10"), ("-", "+", "2"), ("(1-1", "+", "10"), ("2", "4", "10"),
                 ("-", "(4-1", "10"), ("-", "+", "10", "a"), ("-", "+", "10", "b"),
                 ("-", "+", "10", "c"), ("-", "+", "10", "nobody"), ("-", "+", "1", "b"),
                 ("IDLE", "0", "-", "+", "10"), ("IDLE", "-5", "-", "+", "10"),
                 ("IDLE", "3600000", "-", "+", "10"), ("IDLE", "0", "-", "+", "10", "a"),
                 ("-", "+", "10", "a", "extra")):
        check_masked(pair, "XPENDING", "s", "g", *args)


def test_xpending_idle_filter(pair):
    """IDLE filters on delivery time: make entries old with XCLAIM IDLE/TIME."""
    setup_group(pair, 6)
    pair.run("""
    XREADGROUP GROUP g a STREAMS s >
    XCLAIM s g a 0 1-1 2-1 IDLE 500000
    XCLAIM s g b 0 3-1 TIME 1000
    XCLAIM s g b 0 4-1 TIME 99999999999999
    """)
    for args in (("IDLE", "100000", "-", "+", "10"), ("IDLE", "100000", "-", "+", "1"),
                 ("IDLE", "100000", "-", "+", "10", "b"), ("IDLE", "600000", "-", "+", "10"),
                 ("IDLE", "100000", "(1-1", "+", "10")):
        check_masked(pair, "XPENDING", "s", "g", *args)


# -- XCLAIM ---------------------------------------------------------------------------------------


def test_xclaim(pair):
    setup_group(pair, 8)
    pair.run("""
    XREADGROUP GROUP g a COUNT 4 STREAMS s >
    XCLAIM s g b 0 1-1
    XCLAIM s g b 0 1-1 2-1 99-1
    XCLAIM s g b 3600000 3-1
    XCLAIM s g b -5 3-1
    XCLAIM s g c 0 5-1
    XCLAIM s g c 0 5-1 FORCE
    XCLAIM s g c 0 6-1 FORCE JUSTID
    XCLAIM s g c 0 99-1 FORCE
    XCLAIM s g c 0 4-1 JUSTID
    XCLAIM s g c 0 4-1 RETRYCOUNT 7
    XCLAIM s g c 0 4-1 RETRYCOUNT -5 JUSTID
    XCLAIM s g c 0 4-1 RETRYCOUNT 0
    XCLAIM s g c 0 4-1 4-1 4-1
    XCLAIM s g d 0 1-1 2-1 JUSTID FORCE
    XPENDING s g
    XCLAIM s g e 0 7-1 LASTID 7-1
    XINFO GROUPS s
    XCLAIM s g e 0 1-1 LASTID 20-1
    XINFO GROUPS s
    XCLAIM s g e 0 99-1 LASTID 30-1
    XINFO GROUPS s
    XCLAIM s g e 0 IDLE 5 LASTID 40-1
    XINFO GROUPS s
    XCLAIM s g e 0 1-1 LASTID 2-1
    XINFO GROUPS s
    XCLAIM s g nobody 0 99-1
    XCLAIM s g nobody 3600000 1-1
    xclaim s g nobody2 0 1-1 justid force idle 10 time 20 retrycount 3 lastid 1-1
    """)
    check_masked(pair, "XPENDING", "s", "g", "-", "+", "20")
    check_masked(pair, "XINFO", "CONSUMERS", "s", "g")


def test_xclaim_deleted_entries(pair):
    setup_group(pair, 5)
    pair.run("""
    XREADGROUP GROUP g a STREAMS s >
    XDEL s 2-1 4-1
    XCLAIM s g b 0 1-1 2-1 3-1 4-1
    XPENDING s g
    XCLAIM s g b 0 2-1 FORCE
    XTRIM s MAXLEN 0
    XCLAIM s g b 0 1-1 JUSTID
    XPENDING s g
    XINFO GROUPS s
    """)


def test_xclaim_errors(pair):
    setup_group(pair, 2)
    pair.run("""
    XREADGROUP GROUP g a STREAMS s >
    XCLAIM s g c x 1-1
    XCLAIM s g c 0 1-1 FOO
    XCLAIM s g c 0 1-1 IDLE x
    XCLAIM s g c 0 1-1 TIME x
    XCLAIM s g c 0 1-1 RETRYCOUNT x
    XCLAIM s g c 0 1-1 LASTID x
    XCLAIM s g c 0 1-1 LASTID -
    XCLAIM s g c 0 1-1 LASTID
    XCLAIM s g c 0 1-1 IDLE
    XCLAIM s g c 0 1-1 FORCE 2-1
    XCLAIM s g c 0 +
    XCLAIM s g c 0 IDLE 5
    XCLAIM s nog c 0 1-1
    XCLAIM s nog c x 1-1
    XCLAIM nokey g c 0 1-1
    XCLAIM s g c
    XCLAIM s g c 0
    SET str v
    XCLAIM str g c 0 1-1
    XCLAIM str g c x 1-1
    """)


def test_xclaim_idle_and_time(pair):
    """Delivery time set by IDLE/TIME (bogus values -> now), checked through the
    IDLE filters of XPENDING and XAUTOCLAIM."""
    setup_group(pair, 6)
    pair.run("""
    XREADGROUP GROUP g a STREAMS s >
    XCLAIM s g b 0 1-1 IDLE 1000000
    XCLAIM s g b 0 2-1 TIME 5
    XCLAIM s g b 0 3-1 TIME -10
    XCLAIM s g b 0 4-1 IDLE -1000000
    XCLAIM s g b 0 5-1 TIME 99999999999999 IDLE 2000000
    XCLAIM s g b 500000 1-1 2-1 3-1 4-1 5-1 6-1 JUSTID
    XCLAIM s g c 500000 1-1 2-1 3-1 4-1 5-1 6-1 JUSTID
    XAUTOCLAIM s g d 500000 0 JUSTID
    XCLAIM s g e 0 6-1 IDLE 3000000
    XAUTOCLAIM s g d 500000 0
    """)
    check_masked(pair, "XPENDING", "s", "g", "-", "+", "10")


# -- XAUTOCLAIM -----------------------------------------------------------------------------------


def test_xautoclaim(pair):
    setup_group(pair, 12)
    pair.run("""
    XAUTOCLAIM s g a 0 0
    XREADGROUP GROUP g a STREAMS s >
    XAUTOCLAIM s g b 0 0 COUNT 3
    XAUTOCLAIM s g b 0 4-1 COUNT 3
    XAUTOCLAIM s g b 0 (4-1 COUNT 3
    XAUTOCLAIM s g c 0 10 COUNT 10
    XAUTOCLAIM s g c 0 0 COUNT 2 JUSTID
    XAUTOCLAIM s g c 0 - COUNT 1
    XAUTOCLAIM s g c 0 + COUNT 1
    XAUTOCLAIM s g c 0 18446744073709551615 COUNT 1
    XAUTOCLAIM s g d 3600000 0
    XAUTOCLAIM s g d 3600000 0 COUNT 1
    XAUTOCLAIM s g d -1 0 COUNT 1
    XAUTOCLAIM s g d 0 0 COUNT 1 COUNT 2
    XAUTOCLAIM s g d 0 0 justid count 3
    XPENDING s g
    XINFO GROUPS s
    """)
    check_masked(pair, "XINFO", "CONSUMERS", "s", "g")


def test_xautoclaim_deleted_entries_and_attempts(pair):
    setup_group(pair, 30)
    pair.run("""
    XREADGROUP GROUP g a STREAMS s >
    XDEL s 2-1 3-1 10-1
    XAUTOCLAIM s g b 0 0 COUNT 2
    XAUTOCLAIM s g b 0 0 COUNT 2
    XAUTOCLAIM s g b 0 0 COUNT 5 JUSTID
    XPENDING s g
    XTRIM s MAXLEN 5
    XAUTOCLAIM s g c 0 0 COUNT 3
    XPENDING s g
    XCLAIM s g old 0 26-1 27-1 IDLE 5000000
    XAUTOCLAIM s g d 4000000 0 COUNT 1
    XAUTOCLAIM s g d 4000000 0 COUNT 2
    XAUTOCLAIM s g e 4000000 0 COUNT 100
    XPENDING s g
    """)
    # 10 * COUNT PEL entries are examined at most: the cursor stops there.
    fill(pair, "t", 40)
    pair.run("""
    XGROUP CREATE t g 0
    XREADGROUP GROUP g a STREAMS t >
    XCLAIM t g old 0 35-1 IDLE 5000000
    XAUTOCLAIM t g b 4000000 0 COUNT 1
    XAUTOCLAIM t g b 4000000 0 COUNT 3
    XAUTOCLAIM t g b 4000000 0 COUNT 4
    """)


def test_xautoclaim_errors(pair):
    setup_group(pair, 2)
    pair.run("""
    XAUTOCLAIM s g c 0 0 COUNT 0
    XAUTOCLAIM s g c 0 0 COUNT -1
    XAUTOCLAIM s g c 0 0 COUNT x
    XAUTOCLAIM s g c 0 0 COUNT 576460752303423488
    XAUTOCLAIM s g c 0 0 COUNT
    XAUTOCLAIM s g c x 0
    XAUTOCLAIM s g c 0 x
    XAUTOCLAIM s g c 0 (
    XAUTOCLAIM s g c 0 (18446744073709551615-18446744073709551615
    XAUTOCLAIM s g c 0 0 FOO
    XAUTOCLAIM s g c 0 0 JUSTID FOO
    XAUTOCLAIM s nog c 0 0
    XAUTOCLAIM nokey g c 0 0
    XAUTOCLAIM nokey g c x 0
    XAUTOCLAIM nokey g c 0 0 FOO
    XAUTOCLAIM s g c 0
    SET str v
    XAUTOCLAIM str g c 0 0
    XAUTOCLAIM str g c 0 x
    """)


# -- XINFO GROUPS / CONSUMERS / STREAM FULL, entries-read and lag -----------------------------------


def test_xinfo_groups_consumers_full(pair):
    setup_group(pair, 15)
    pair.run("""
    XGROUP CREATE s h $
    XGROUP CREATE s i 5-1
    XREADGROUP GROUP g a COUNT 3 STREAMS s >
    XREADGROUP GROUP g b COUNT 2 STREAMS s >
    XREADGROUP GROUP i a NOACK COUNT 2 STREAMS s >
    XINFO GROUPS s
    XINFO CONSUMERS s nog
    XINFO CONSUMERS nokey g
    XINFO GROUPS nokey
    XINFO CONSUMERS s
    XINFO GROUPS s x
    """)
    run_masked(pair, """
    XINFO CONSUMERS s g
    XINFO CONSUMERS s h
    XINFO CONSUMERS s i
    XINFO STREAM s FULL
    XINFO STREAM s FULL COUNT 1
    XINFO STREAM s FULL COUNT 0
    XINFO STREAM s FULL COUNT -1
    """)


def test_lag_and_entries_read(pair):
    """entries-read and lag (Redis 7.0.15), with tombstones, SETID and trims."""
    fill(pair, "s", 10)
    pair.run("""
    XGROUP CREATE s g 0
    XGROUP CREATE s h $
    XGROUP CREATE s i 5-1
    XGROUP CREATE s j 0 ENTRIESREAD 3
    XINFO GROUPS s
    XREADGROUP GROUP g a COUNT 3 STREAMS s >
    XREADGROUP GROUP i a COUNT 1 STREAMS s >
    XREADGROUP GROUP j a COUNT 1 STREAMS s >
    XINFO GROUPS s
    XDEL s 5-1
    XINFO GROUPS s
    XREADGROUP GROUP g a COUNT 3 STREAMS s >
    XINFO GROUPS s
    XREADGROUP GROUP g a STREAMS s >
    XINFO GROUPS s
    XADD s 20-1 f v
    XINFO GROUPS s
    XGROUP SETID s h 0
    XINFO GROUPS s
    XGROUP SETID s h 3-1 ENTRIESREAD 3
    XINFO GROUPS s
    XTRIM s MAXLEN 4
    XINFO GROUPS s
    XREADGROUP GROUP h a COUNT 1 STREAMS s >
    XINFO GROUPS s
    XSETID s 30-1 ENTRIESADDED 40 MAXDELETEDID 25-1
    XINFO GROUPS s
    XTRIM s MAXLEN 0
    XINFO GROUPS s
    XINFO STREAM s
    """)


# -- effects: replaying what the server propagated rebuilds the same groups and PELs -----------------


def _mask_seen(frame):
    """Only consumer seen-times differ after a replay (they are the replay's clock)."""
    from rawclient import Frame
    kind, value = frame
    if kind == "%":
        return Frame((kind, [(k, Frame((v.kind, "T")) if k.value == b"seen-time" else _mask_seen(v))
                             for k, v in value]))
    if kind == "*" and value is not None:
        out = []
        for i, x in enumerate(value):
            if i and value[i - 1].kind == "$" and value[i - 1].value == b"seen-time":
                x = Frame((x.kind, "T"))
            out.append(_mask_seen(x))
        return Frame((kind, out))
    return frame


def test_effects_replay_rebuilds_groups_and_pels(vermilion_process_server):
    import vermilion
    server = vermilion_process_server
    captured: list = []

    def sink(db_index, argv):
        captured.append((db_index, list(argv)))

    c = RawClient(server.port)
    blocked = RawClient(server.port)
    c.call("FLUSHALL")
    server.call_in_loop(lambda: server.engine.sinks.append(sink))
    workload = [
        ("XADD", "s", "*", "f", "v"), ("XADD", "s", "*", "a", "1", "b", "2"),
        ("XGROUP", "CREATE", "s", "g", "0"), ("XGROUP", "CREATE", "s", "h", "$"),
        ("XGROUP", "CREATE", "m", "g", "$", "MKSTREAM"),
    ]
    workload += [("XADD", "s", "*", "n", str(i)) for i in range(150)]
    workload += [
        ("XADD", "s", "MAXLEN", "~", "120", "*", "f", "v"),
        ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "10", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "bob", "COUNT", "5", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "nick", "NOACK", "COUNT", "5", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "3", "STREAMS", "s", "0"),
        ("XREADGROUP", "GROUP", "g", "hist", "STREAMS", "s", "0"),
        ("XREADGROUP", "GROUP", "h", "carol", "STREAMS", "s", ">"),
    ]
    try:
        for args in workload:
            assert c.call(*args).kind != "-", args
        ids = [f.value[0].value for f in c.call("XRANGE", "s", "-", "+", "COUNT", "30").value]
        steps = [
            ("XACK", "s", "g", ids[0], ids[1]),
            ("XDEL", "s", ids[2], ids[12]),
            ("XCLAIM", "s", "g", "bob", "0", ids[2], ids[3], ids[4]),
            ("XCLAIM", "s", "g", "dave", "0", ids[5], "IDLE", "100000", "RETRYCOUNT", "9"),
            ("XCLAIM", "s", "g", "dave", "0", ids[20], "FORCE", "JUSTID"),
            ("XCLAIM", "s", "g", "dave", "0", ids[6], "TIME", "12345"),
            ("XCLAIM", "s", "h", "x", "0", ids[0], "LASTID", "99999999999999-0"),
            ("XAUTOCLAIM", "s", "g", "erin", "0", "0", "COUNT", "4"),
            ("XAUTOCLAIM", "s", "g", "erin", "0", "0", "COUNT", "3", "JUSTID"),
            ("XGROUP", "SETID", "s", "g", ids[8]),
            ("XREADGROUP", "GROUP", "g", "frank", "COUNT", "4", "STREAMS", "s", ">"),
            ("XGROUP", "CREATECONSUMER", "s", "g", "idle"),
            ("XGROUP", "DELCONSUMER", "s", "g", "hist"),
            ("XTRIM", "s", "MINID", "~", ids[25]),
            ("XTRIM", "s", "MAXLEN", "100"),
            ("XAUTOCLAIM", "s", "g", "grace", "0", "0", "COUNT", "50"),
            ("XGROUP", "CREATE", "s", "k", "0", "ENTRIESREAD", "5"),
            ("XREADGROUP", "GROUP", "k", "k1", "NOACK", "COUNT", "2", "STREAMS", "s", ">"),
            ("XREADGROUP", "GROUP", "g", "henry", "COUNT", "3", "STREAMS", "s", ">"),
            ("XREADGROUP", "GROUP", "g", "henry", "COUNT", "2", "STREAMS", "s", "0"),
            ("XREADGROUP", "GROUP", "g", "henry", "STREAMS", "s", "0"),
        ]
        for args in steps:
            assert c.call(*args).kind != "-", args
        # A blocked reader served by a later XADD propagates its PEL changes too.
        c.call("XGROUP", "CREATE", "s", "late", "$")
        blocked.send("XREADGROUP", "GROUP", "late", "waiter", "BLOCK", "0", "STREAMS", "s", ">")
        wait_for(lambda: b"blocked_clients:1\r\n" in c.call("INFO", "clients").value,
                 "a blocked reader")
        c.call("XADD", "s", "*", "last", "one")
        assert blocked.read().kind in "*%"
        c.call("MULTI")
        c.call("XADD", "s", "*", "in", "multi")
        c.call("XREADGROUP", "GROUP", "g", "zed", "STREAMS", "s", ">")
        c.call("EXEC")
        c.call("XSETID", "s", "99999999999999-5", "ENTRIESADDED", "1000")
        expected = {key: c.call("XINFO", "STREAM", key, "FULL", "COUNT", "0") for key in ("s", "m")}
    finally:
        server.call_in_loop(lambda: server.engine.sinks.remove(sink))
        c.close()
        blocked.close()

    assert any(argv[0] == b"XCLAIM" for _, argv in captured)
    assert not any(argv[0] in (b"XREADGROUP", b"XAUTOCLAIM") for _, argv in captured)
    assert all(argv[2] != b"*" for _, argv in captured if argv[0] == b"XADD")

    def replay(port: int) -> list:
        r = RawClient(port)
        for db_index, argv in captured:
            reply = r.call(*argv)
            assert reply.kind != "-", (argv, reply)
        full = [_mask_seen(r.call("XINFO", "STREAM", key, "FULL", "COUNT", "0")) for key in expected]
        entries = [r.call("XRANGE", key, "-", "+") for key in expected]
        r.close()
        return full, entries

    # The effects are Redis 7.0's, which do not carry everything (entries-read,
    # consumers created by history reads, their delivery counts): a Redis replica
    # applying them must end where a Vermilion one does, with the primary's entries.
    ref = RedisProcess(require_reference())
    try:
        on_redis = replay(ref.port)
    finally:
        ref.stop()
    with vermilion.embedded() as fresh:
        on_vermilion = replay(fresh.port)
    assert on_vermilion == on_redis
    r = RawClient(server.port)
    assert on_vermilion[1] == [r.call("XRANGE", key, "-", "+") for key in expected]
    r.close()


def test_error_texts_with_binary_names(pair):
    """Names in error texts are the raw bytes, cut at a NUL byte (Redis's "%s")."""
    key = b"k\xff\xfe"
    pair.check("XADD", key, "1-1", "f", "v")
    pair.check("XGROUP", "CREATE", key, "g", "0")
    pair.check("XREADGROUP", "GROUP", b"g\xff", "c", "STREAMS", key, ">")
    pair.check("XREADGROUP", "GROUP", b"g\x00tail", "c", "STREAMS", b"missing\x00tail", ">")
    pair.check("XPENDING", key, b"n\xff\x00x")
    pair.check("XGROUP", "SETID", key, b"n\xff", "0")
    pair.check("XINFO", "CONSUMERS", key, b"n\x00\xff")
    pair.check("XCLAIM", key, "g", "c", "0", "1-1", b"OPT\xff\x00x")
    pair.check("XAUTOCLAIM", key, b"n\xff", "c", "0", "0")
    pair.check("XGROUP", "CREATE", key, "g2", "$", b"\xffbad")
    pair.check("XINFO", "STREAM", key, b"full\xff")
    pair.check("xGroup", "Create", key, "g2", "$", "FOO")


def _group_replication_stream(port: int):
    """What a replica receives for consumer-group reads and claims, with each XCLAIM's
    TIME (the server's clock) checked and masked."""
    replica = attach_replica(port)
    c = RawClient(port)
    blocked = RawClient(port)
    before = int(time.time() * 1000)
    out = [c.call("SELECT", "2")]
    for args in [
        ("XADD", "s", "1-0", "a", "1"), ("XADD", "s", "2-0", "b", "2"),
        ("XADD", "s", "3-0", "c", "3"), ("XADD", "s", "4-0", "d", "4"),
        ("XGROUP", "CREATE", "s", "g", "0"),
        # Several XCLAIMs outside MULTI are wrapped in one; one alone is not.
        ("XREADGROUP", "GROUP", "g", "c1", "COUNT", "2", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "c1", "COUNT", "1", "STREAMS", "s", ">"),
        # History reads propagate nothing; NOACK creates the consumer and moves the ID.
        ("XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "0"),
        ("XREADGROUP", "GROUP", "g", "c2", "NOACK", "STREAMS", "s", ">"),
        ("XADD", "s", "5-0", "e", "5"),
        ("XREADGROUP", "GROUP", "g", "c2", "NOACK", "STREAMS", "s", ">"),
        # XCLAIM: IDs as written ("2" for 2-0), a deleted entry under its old owner.
        ("XDEL", "s", "2-0"),
        ("XCLAIM", "s", "g", "c3", "0", "3-0", "2", "1-0", "TIME", "1000", "RETRYCOUNT", "7"),
        ("XCLAIM", "s", "g", "c3", "0", "9-0", "LASTID", "20-0"),
        ("XDEL", "s", "1-0"),
        ("XAUTOCLAIM", "s", "g", "c4", "0", "0-0", "COUNT", "5"),
    ]:
        out.append(c.call(*args))
    # Served after blocking: its XCLAIM follows the XADD that served it.
    blocked.send("SELECT", "2")
    out.append(blocked.read())
    out.append(c.call("XGROUP", "CREATE", "s", "late", "$"))
    blocked.send("XREADGROUP", "GROUP", "late", "w", "BLOCK", "0", "STREAMS", "s", ">")
    wait_for(lambda: b"blocked_clients:1\r\n" in c.call("INFO", "clients").value, "a blocked reader")
    out.append(c.call("XADD", "s", "30-0", "f", "6"))
    out.append(blocked.read())
    c.call("MULTI")
    c.call("XADD", "s", "31-0", "g", "7")
    c.call("XREADGROUP", "GROUP", "g", "c5", "STREAMS", "s", ">")
    c.call("XREADGROUP", "GROUP", "late", "c6", "NOACK", "STREAMS", "s", ">")
    out.append(c.call("EXEC"))
    out.append(c.call("SET", "stream:end", "1"))
    seen = read_stream_until(replica, b"stream:end")
    after = int(time.time() * 1000)
    for argv in seen:
        if argv[0].upper() == b"XCLAIM":
            at = argv.index(b"TIME") + 1
            if argv[at] not in (b"1000", b"0"):
                assert before <= int(argv[at]) <= after, argv
                argv[at] = b"<now>"
    c.close()
    blocked.close()
    replica.close()
    return out, seen


def test_group_commands_propagate_as_redis(private_ports):
    """XREADGROUP, XCLAIM and XAUTOCLAIM feed replicas (and the AOF, the same effects)
    exactly Redis 7.0.15's commands: XCLAIM per entry with the LASTID of that moment,
    XGROUP CREATECONSUMER/SETID for NOACK reads only, MULTI/EXEC around several."""
    out, seen = same_on_both(private_ports, _group_replication_stream)
    names = [argv[0].upper() for argv in seen]
    assert b"XREADGROUP" not in names and b"XAUTOCLAIM" not in names and b"MULTI" in names
    assert [b"CREATECONSUMER", b"s", b"g", b"c2"] in [argv[1:] for argv in seen]
