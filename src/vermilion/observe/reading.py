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
pending and idle. IDs are kept as their milliseconds part (redis_exporter's form).
"""
from __future__ import annotations

# No exported stream expires before this (ms): a TTL beyond every clock.
NEVER = 1 << 62


def read_streams(selected: list, known: dict, now: int) -> tuple:
    """(kept, streams, groups, consumers, valid until) for the `selected` streams
    ((db index, key, stream, expiry ms or None), in export order), groups and
    consumers in name order.

    `known` is the previous call's `kept`: (db index, key) -> (stamp, labels,
    numbers, {group name: (stamp, labels, numbers, {consumer name: labels})}).
    A stream's numbers are reused while its stamp (length, entries-added, last and
    max-deleted IDs, node and group counts) is the same: every change of its
    entries changes one of them, so the first and last entry IDs and the
    radix-tree numbers are the same too. A group's numbers are reused while those
    and its own counters are. Rows are (labels, numbers); a consumer's row is
    (labels, consumer), whose idle time `consumer_rows` reads at each scrape.
    `valid until` is the earliest expiry among the streams (NEVER without one)."""
    kept = {}
    streams = []
    groups_out = []
    consumers = []
    valid_until = NEVER
    for index, key, s, when in selected:
        if when is not None and when < valid_until:
            valid_until = when
        groups = s.groups
        ngroups = len(groups)
        last_id = s.last_id
        max_deleted = s.max_deleted_id
        nodes = s.node_count
        stamp = (s.length, s.entries_added, last_id, max_deleted, nodes, ngroups)
        name = (index, key)
        entry = known.get(name)
        if entry is None or entry[0] != stamp:
            first = s.first_entry_id()
            last = s.last_valid_id()
            # StreamIDs are (ms, seq): [0] is the milliseconds part.
            entry = (stamp, (f"db{index}", key), (
                s.length, nodes, s.rax_nodes(), last_id[0], ngroups, max_deleted[0],
                first[0] if first is not None else 0, last[0] if last is not None else 0,
                s.entries_added), {} if entry is None else entry[3])
        kept[name] = entry
        streams.append((entry[1], entry[2]))
        if not ngroups:
            continue
        known_groups = entry[3]
        for gname in (groups if ngroups == 1 else sorted(groups)):
            g = groups[gname]
            members = g.consumers
            gstamp = (stamp, g.last_id, g.entries_read, len(g.pel), len(members))
            gentry = known_groups.get(gname)
            if gentry is None or gentry[0] != gstamp:
                # XINFO's nil entries-read and lag (unknown) are exported as 0, as
                # redis_exporter reads them.
                lag = s.lag(g)
                entries_read = g.entries_read
                gentry = known_groups[gname] = (gstamp, entry[1] + (gname,), (
                    len(members), len(g.pel), g.last_id[0], entries_read if entries_read > 0 else 0,
                    lag if lag is not None else 0), {} if gentry is None else gentry[3])
            groups_out.append((gentry[1], gentry[2]))
            if members:
                labels = gentry[3]
                for cname in (members if len(members) == 1 else sorted(members)):
                    cl = labels.get(cname)
                    if cl is None:
                        cl = labels[cname] = gentry[1] + (cname,)
                    consumers.append((cl, members[cname]))
    return kept, streams, groups_out, consumers, valid_until


def consumer_rows(consumers: list, now: int) -> list:
    """(labels, (pending, idle seconds)) of each (labels, consumer)."""
    out = []
    for labels, c in consumers:
        idle = now - c.seen_time
        out.append((labels, (len(c.pel), idle / 1e3 if idle > 0 else 0.0)))
    return out
