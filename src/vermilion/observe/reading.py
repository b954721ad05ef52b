"""What a metrics scrape reads of the streams on the server's loop (observe/metrics.py
decides which streams and when; this module only reads them).

Compiled with Cython (it is in `_native.COMPILED_MODULES`): with every exported
stream written between two scrapes, reading their numbers is most of the scrape's
loop time, and in compiled code each field of a stream is a C read instead of an
attribute lookup. It runs as Python too (`VERMILION_PURE_PYTHON=1`), with the same
results.

The numbers are XINFO's, read from the stream's own counters (not its entries):
XINFO STREAM's length, radix-tree keys and nodes, last-generated-id, groups,
max-deleted-entry-id, first and last entry IDs and entries-added; XINFO GROUPS'
consumers, pending, last-delivered-id, entries-read and lag; XINFO CONSUMERS'
pending and seen time (the idle time is computed from it off the loop). IDs are
kept as their milliseconds part (redis_exporter's form).

What the loop does per stream is kept to copying integers and references into
flat lists, appended in place: no tuple, dict or label is made per stream, so a
scrape adds next to nothing for Python's cyclic collector to track (a collection
run on the loop by a scrape's allocations cost more than the reading itself) and
touches no object it does not read. `Layout` (in the metrics thread) turns the
lists into rows.
"""
from __future__ import annotations

# No exported stream expires before this (ms): a TTL beyond every clock.
NEVER = 1 << 62

# Integers per stream in `ints`: the database index, then the numbers in the
# order of exporter.STREAM_FAMILIES.
STREAM_INTS = 10
# Integers per group: the numbers in the order of exporter.GROUP_FAMILIES.
GROUP_INTS = 5


def read_streams(selected: list, previous: tuple | None) -> tuple:
    """(ints, names, members, valid until, kept, refs) for the `selected` streams
    ((db index, key, stream, expiry ms or None), in export order), groups and
    consumers in name order.

    `ints` holds STREAM_INTS integers per stream, each followed by GROUP_INTS per
    group; `names` the stream's key, then each group's name followed by its
    consumers' names; `members` the consumers themselves (`consumer_ints` reads
    their pending counts and seen times at each scrape). `valid until` is the
    earliest expiry among the streams (NEVER without one).

    `previous` is an earlier call's result: a stream's radix-tree node count and
    first and last entry IDs are copied from it while the stream is the same object
    with the same length, entries-added and node count, and the same last, first
    and max-deleted ID objects (every change of its entries replaces one of them or
    changes a count). `kept` maps id(stream) to its place in `refs`, which holds
    per stream its offset in `ints` and those three ID objects."""
    ints = []
    names = []
    members = []
    kept = {}
    refs = []
    valid_until = NEVER
    if previous is not None:
        old_ints = previous[0]
        old_kept = previous[4]
        old_refs = previous[5]
    else:
        old_ints = []
        old_kept = {}
        old_refs = []
    for index, key, s, when in selected:
        if when is not None and when < valid_until:
            valid_until = when
        groups = s.groups
        ngroups = len(groups)
        last_id = s.last_id
        first_id = s.first_id
        max_deleted = s.max_deleted_id
        length = s.length
        added = s.entries_added
        nodes = s.node_count
        at = len(ints)
        # A freed stream's id can be reused, but only by an object that does not
        # hold the very same ID objects with the same counts (a copy, whose
        # numbers are the same).
        old = -1
        ref = old_kept.get(id(s))
        if ref is not None and old_refs[ref + 1] is last_id and old_refs[ref + 2] is first_id \
                and old_refs[ref + 3] is max_deleted:
            old = old_refs[ref]
            if old_ints[old + 1] != length or old_ints[old + 2] != nodes or old_ints[old + 9] != added:
                old = -1
        kept[id(s)] = len(refs)
        refs.append(at)
        refs.append(last_id)
        refs.append(first_id)
        refs.append(max_deleted)
        ints.append(index)
        ints.append(length)
        ints.append(nodes)
        ints.append(old_ints[old + 3] if old >= 0 else s.rax_nodes())
        ints.append(last_id[0])
        ints.append(ngroups)
        ints.append(max_deleted[0])
        if old >= 0:
            ints.append(old_ints[old + 7])
            ints.append(old_ints[old + 8])
        else:
            last = s.last_valid_id()
            ints.append(first_id[0] if length else 0)
            ints.append(last[0] if last is not None else 0)
        ints.append(added)
        names.append(key)
        if not ngroups:
            continue
        for gname in (groups if ngroups == 1 else sorted(groups)):
            g = groups[gname]
            consumers = g.consumers
            # XINFO's nil entries-read and lag (unknown) are exported as 0, as
            # redis_exporter reads them.
            lag = s.lag(g)
            entries_read = g.entries_read
            ints.append(len(consumers))
            ints.append(len(g.pel))
            ints.append(g.last_id[0])
            ints.append(entries_read if entries_read > 0 else 0)
            ints.append(lag if lag is not None else 0)
            names.append(gname)
            if consumers:
                for cname in (consumers if len(consumers) == 1 else sorted(consumers)):
                    names.append(cname)
                    members.append(consumers[cname])
    return ints, names, members, valid_until, kept, refs


def consumer_ints(members: list) -> list:
    """Each consumer's pending count and seen time (ms), in turn."""
    out = []
    for c in members:
        out.append(len(c.pel))
        out.append(c.seen_time)
    return out


def command_activity(commands: tuple) -> tuple:
    """(calls of all `commands` together, the commands with calls, rejected or
    failed calls, the commands with a latency histogram), in `commands`' order.

    INFO stats, commandstats and latencystats each read these of every command and
    subcommand (368), which a metrics scrape does on the loop: compiled, a
    command's calls and histogram are C fields (as Python attributes, each read
    makes an object: the histogram a memoryview)."""
    total = 0
    active = []
    histograms = []
    for c in commands:
        calls = c.calls
        total += calls
        if calls or c.rejected_calls or c.failed_calls:
            active.append(c)
        if c.histogram is not None:
            histograms.append(c)
    return total, active, histograms
