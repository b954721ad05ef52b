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

from ..types.stream import _FLAG_DELETED, Stream

try:
    import cython
except ImportError:
    from .. import _compiling as cython

# No exported stream expires before this (ms): a TTL beyond every clock.
NEVER = 1 << 62

# Integers per stream in `ints`: the database index, then the numbers in the
# order of exporter.STREAM_FAMILIES.
STREAM_INTS = 10
# Integers per group: the numbers in the order of exporter.GROUP_FAMILIES.
GROUP_INTS = 5

# An entry's flag bit once deleted (it stays in its node): a C constant compiled.
DELETED = _FLAG_DELETED


def select_streams(dbs: list, candidates: list, now: int, limit: int) -> list:
    """(db index, key, stream, expiry time or None) of the `candidates` ((db index,
    key)) that are streams not past their TTL at `now` (ms), at most `limit`."""
    out = []
    for index, key in candidates:
        db = dbs[index]
        value = db.data.get(key)
        if type(value) is not Stream:
            continue
        expires = db.expires
        when = expires.get(key) if expires else None
        if when is not None and now > when:
            continue
        out.append((index, key, value, when))
        if len(out) >= limit:
            break
    return out


def read_streams(selected: list, previous: tuple | None) -> tuple:
    """(ints, names, members, valid until, refs) for the `selected` streams
    ((db index, key, stream, expiry ms or None), in export order), groups and
    consumers in name order.

    `ints` holds STREAM_INTS integers per stream, each followed by GROUP_INTS per
    group; `names` the stream's key, then each group's name followed by its
    consumers' names; `members` the consumers themselves (`consumer_ints` reads
    their pending counts and seen times at each scrape). `valid until` is the
    earliest expiry among the streams (NEVER without one).

    Every number is a counter or ID the stream keeps, copied, but two: the last
    live entry's ID is read from the tail node (its last entry, live unless XDEL
    flagged it: only then does `Stream.last_valid_id` walk back), and the
    radix-tree node count (`Stream.rax_nodes`, O(nodes)) is copied from
    `previous`, an earlier call's result, while the stream is the same object with
    the same number of nodes and the same first and last node keys (nodes are
    appended, dropped or removed, never re-keyed, so those three identify the set).
    `refs` holds four items per stream: its id, its offset in `ints` and those two key
    objects. A stream is looked for at its own place in `previous` (the selection
    keeps its order between scrapes; one that moved is read as new)."""
    ints = []
    names = []
    members = []
    refs = []
    valid_until = NEVER
    if previous is not None:
        old_ints = previous[0]
        old_refs = previous[4]
    else:
        old_ints = []
        old_refs = []
    for index, key, s, when in selected:
        if when is not None and when < valid_until:
            valid_until = when
        groups = s.groups
        ngroups = len(groups)
        length = s.length
        keys = s._keys
        head = s._head
        nodes = len(keys) - head
        first_key = keys[head] if nodes else None
        last_key = keys[len(keys) - 1] if nodes else None
        ident = id(s)
        at = len(refs)
        rax = -1
        if at < len(old_refs) and old_refs[at] == ident and old_refs[at + 2] is first_key \
                and old_refs[at + 3] is last_key:
            old = old_refs[at + 1]
            if old_ints[old + 2] == nodes:
                rax = old_ints[old + 3]
        if rax < 0:
            rax = s.rax_nodes()
        last_ms = 0
        if length:
            tail = s._nodes[len(keys) - 1]
            flags = tail.flags
            top = len(flags) - 1
            if top >= 0 and not flags[top] & DELETED:
                last_ms = tail.ms + tail.msd[top]
            else:
                last_ms = cython.cast(tuple, s.last_valid_id())[0]
        refs.append(ident)
        refs.append(len(ints))
        refs.append(first_key)
        refs.append(last_key)
        ints.append(index)
        ints.append(length)
        ints.append(nodes)
        ints.append(rax)
        # The last ID's milliseconds are a field of their own (Stream.last_id makes a
        # StreamID when read, once after each append). The other IDs are StreamID
        # tuples, read as tuples (indexed through their class, each read would be a
        # Python-level __getitem__ call).
        ints.append(s._last_ms)
        ints.append(ngroups)
        ints.append(cython.cast(tuple, s.max_deleted_id)[0])
        ints.append(cython.cast(tuple, s.first_id)[0] if length else 0)
        ints.append(last_ms)
        ints.append(s.entries_added)
        names.append(key)
        # A single group (or consumer) is read straight from its dict's items: one
        # walk of the dict's table, no iterator object and no lookup by name.
        if ngroups == 1:
            for gname, g in groups.items():
                _read_group(s, gname, g, ints, names, members)
        elif ngroups:
            for gname in sorted(groups):
                _read_group(s, gname, groups[gname], ints, names, members)
    return ints, names, members, valid_until, refs


def _read_group(s: Stream, gname: bytes, g, ints: list, names: list, members: list) -> None:
    """One group's GROUP_INTS numbers, its name and its consumers' names (in name
    order), appended to `read_streams`' lists."""
    consumers = g.consumers
    # XINFO's nil entries-read and lag (unknown) are exported as 0, as
    # redis_exporter reads them.
    lag = s.lag(g)
    entries_read = g.entries_read
    ints.append(len(consumers))
    ints.append(len(g.pel))
    ints.append(cython.cast(tuple, g.last_id)[0])
    ints.append(entries_read if entries_read > 0 else 0)
    ints.append(lag if lag is not None else 0)
    names.append(gname)
    if len(consumers) == 1:
        for cname, c in consumers.items():
            names.append(cname)
            members.append(c)
    elif consumers:
        for cname in sorted(consumers):
            names.append(cname)
            members.append(consumers[cname])


def consumer_ints(members: list) -> list:
    """Each consumer's pending count and seen time (ms), in turn."""
    out = []
    for c in members:
        out.append(len(c.pel))
        out.append(c.seen_time)
    return out


def command_activity(commands: tuple) -> tuple:
    """(the commands with calls, rejected or failed calls, the commands with a
    latency histogram), in `commands`' order.

    INFO commandstats and latencystats each read these of every command and
    subcommand (368), which a metrics scrape does on the loop: compiled, a
    command's calls and histogram are C fields (as Python attributes, each read
    makes an object: the histogram a memoryview)."""
    active = []
    histograms = []
    for c in commands:
        if c.calls or c.rejected_calls or c.failed_calls:
            active.append(c)
        if c.histogram is not None:
            histograms.append(c)
    return active, histograms
