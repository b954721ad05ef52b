"""Streams <-> Redis's RDB stream layout (RDB_TYPE_STREAM_LISTPACKS_2).

Redis keeps a stream as a radix tree of listpack "macro nodes" keyed by the
node's master ID; ``types/stream.py`` keeps the same nodes (cut at the same
places, with the same tombstones), so a node converts one-to-one:

    master entry: count, deleted, num-fields, field_1 .. field_N, 0
    each entry:   flags, ms-diff, seq-diff,
                  [num-fields, field_1, value_1 ..]   (no SAMEFIELDS flag)
                  | value_1 .. value_N                (SAMEFIELDS: master's fields)
                  lp-count

Deleted entries stay in their node with the DELETED flag, so XINFO's node
counts and approximate trimming behave the same after a round trip.

This module reaches into ``types/stream.py``'s node internals (``_Node``'s
arrays and blob) on purpose: it is the one place that builds nodes wholesale
instead of entry by entry. ``tests/test_rdb.py`` round-trips streams through
XINFO STREAM FULL to catch any drift between the two.
"""
from __future__ import annotations

from ..types.stream import (
    PendingEntry, Stream, StreamConsumer, StreamGroup, StreamID,
    _FLAG_DELETED, _FLAG_SAMEFIELDS, _Node, _push, _put_len,
)
from .compact import EncodingError, lp_build, lp_decode, lp_int, lp_str

U64 = (1 << 64) - 1


def _s64(v: int) -> int:
    v &= U64
    return v - (1 << 64) if v >> 63 else v


def node_listpack(node: _Node) -> bytes:
    """The listpack Redis would hold for this node."""
    els = [lp_int(node.live), lp_int(node.dead), lp_int(len(node.fields))]
    els += [lp_str(f) for f in node.fields]
    els.append(lp_int(0))
    data = node.data()
    nf = len(node.fields)
    flags, msd, sq, base_seq = node.flags, node.msd, node.sq, node.seq
    for i in range(len(flags)):
        fl = flags[i]
        els.append(lp_int(fl))
        els.append(lp_int(msd[i]))
        els.append(lp_int(_s64(sq[i] - base_seq)))
        kv = node.fields_at(data, i)
        if fl & _FLAG_SAMEFIELDS:
            els += [lp_str(v) for v in kv[1::2]]
            els.append(lp_int(nf + 3))
        else:
            n = len(kv) >> 1
            els.append(lp_int(n))
            els += [lp_str(x) for x in kv]
            els.append(lp_int(2 * n + 4))
    return lp_build(els, len(els))


def stream_nodes(s: Stream):
    """(16-byte master ID key, listpack) for every node, in ID order."""
    for node in s._nodes[s._head:]:
        yield (node.ms.to_bytes(8, "big") + node.seq.to_bytes(8, "big"), node_listpack(node))


def node_from_listpack(master: bytes, lp) -> _Node:
    """Rebuild one node from its RDB form (raises EncodingError when malformed)."""
    if len(master) != 16:
        raise EncodingError("stream node key is not 16 bytes")
    ms = int.from_bytes(master[:8], "big")
    seq = int.from_bytes(master[8:], "big")
    els = lp_decode(lp)
    if len(els) < 4:
        raise EncodingError("empty stream listpack")
    count, deleted, nf = els[0], els[1], els[2]
    if nf.__class__ is not int or nf < 0 or len(els) < 4 + nf:
        raise EncodingError("bad stream master entry")
    names = tuple(x if x.__class__ is bytes else b"%d" % x for x in els[3:3 + nf])
    if els[3 + nf] != 0:
        raise EncodingError("bad stream master entry terminator")
    node = _Node(StreamID(ms, seq), names)
    blob = bytearray()
    offs, msds, sqs, flags = node.offs, node.msd, node.sq, node.flags
    p = 4 + nf
    n = len(els)
    while p < n:
        fl, dms, dseq = els[p], els[p + 1], els[p + 2]
        p += 3
        try:
            offs.append(len(blob))
        except OverflowError:
            offs = node.offs = _push(offs, len(blob))
        try:
            msds.append(dms)
        except OverflowError:
            msds = node.msd = _push(msds, dms)
        eseq = (seq + dseq) & U64
        try:
            sqs.append(eseq)
        except OverflowError:
            sqs = node.sq = _push(sqs, eseq)
        if fl & _FLAG_SAMEFIELDS:
            values = els[p:p + nf]
            p += nf
            flags.append(fl & (_FLAG_SAMEFIELDS | _FLAG_DELETED))
        else:
            k = els[p]
            p += 1
            values = els[p:p + 2 * k]
            p += 2 * k
            flags.append(fl & _FLAG_DELETED)
            _put_len(blob, k)
        for v in values:
            if v.__class__ is not bytes:
                v = b"%d" % v
            _put_len(blob, len(v))
            blob += v
        p += 1                                   # lp-count
    if p != n:
        raise EncodingError("stream listpack entry past the end")
    node.blob = bytes(blob)
    node.live, node.dead = count, deleted
    node.lpbytes = len(lp)
    return node


def build_stream(nodes: list[_Node], length: int, last_id: StreamID, first_id: StreamID,
                 max_deleted: StreamID, entries_added: int) -> Stream:
    s = Stream()
    s._nodes = nodes
    s._keys = [(nd.ms << 64) | nd.seq for nd in nodes]
    s.length = length
    s.last_id = last_id
    s.first_id = first_id
    s.max_deleted_id = max_deleted
    s.entries_added = entries_added
    return s


def add_group(s: Stream, name: bytes, last_id: StreamID, entries_read: int,
              pel: list[tuple[int, int, int]], consumers: list[tuple[bytes, int, list[int]]]) -> None:
    """Attach a consumer group read from a file: `pel` is [(id key, delivery time,
    delivery count)] and each consumer (name, seen time, [id keys it owns])."""
    g = StreamGroup(name, last_id, entries_read)
    entries = [(k, PendingEntry(None, t, c)) for k, t, c in pel]
    g.pel.extend(entries)
    gd = g.pel._d
    for cname, seen, owned in consumers:
        c = StreamConsumer(cname, seen)
        g.consumers[cname] = c
        items = []
        for k in owned:
            nack = gd.get(k)
            if nack is None:
                raise EncodingError("consumer PEL entry not in the group PEL")
            nack.consumer = c
            items.append((k, nack))
        c.pel.extend(items)
    for nack in gd.values():
        if nack.consumer is None:
            raise EncodingError("group PEL entry without an owner")
    s.groups[name] = g
