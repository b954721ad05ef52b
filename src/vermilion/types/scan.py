"""Cursors for HSCAN, SSCAN and ZSCAN over collections in their general encoding.

Redis's guarantee, which this keeps: an element present in the collection from
the start to the end of a full iteration is returned at least once. Elements
added or removed meanwhile may or may not be returned, and an element may be
returned more than once. (Small collections never get here: like Redis with a
listpack or intset, the commands answer them whole, with cursor 0.)

A Python dict or set cannot be walked from a position, so a scan works on a
snapshot: cursor 0 copies the member list (a list of references, 8 bytes per
member, made at C speed) and later calls walk it by position. The cursor packs
the snapshot's id (high bits) and the position (low 32 bits). Members that left
the collection are skipped by the caller when it reads their value; members added
after the snapshot are not returned, which the contract allows.

Snapshots live on the collection (``owner.scans``), at most ``MAX_SNAPSHOTS`` of
them (least recently used go first) and are dropped when their scan completes. A
cursor whose snapshot is gone (evicted, or the key was copied/rewritten) starts a
fresh scan from the beginning: elements may repeat, none is skipped.
"""
from __future__ import annotations

MAX_SNAPSHOTS = 16
_POS_BITS = 32
_POS_MASK = (1 << _POS_BITS) - 1
_ID_LIMIT = 1 << 30          # keeps every cursor below 2**62: safe for signed clients
_next_id = 0


def _new_id() -> int:
    global _next_id
    _next_id = _next_id % (_ID_LIMIT - 1) + 1
    return _next_id


def scan_step(owner, cursor: int, count: int, members=None) -> tuple[int, list]:
    """One SCAN call over `owner` (which has a ``scans`` slot).

    Returns (next cursor, candidate members); the caller drops the ones no longer
    present and applies MATCH. `members` is the iterable to snapshot (defaults to
    iterating `owner`).
    """
    scans = owner.scans
    if scans is None:
        scans = owner.scans = {}
    sid, pos = cursor >> _POS_BITS, cursor & _POS_MASK
    snap = scans.pop(sid, None) if cursor else None
    if snap is None:
        sid, pos = _new_id(), 0
        snap = list(owner if members is None else members)
        while len(scans) >= MAX_SNAPSHOTS:
            del scans[next(iter(scans))]
    end = pos + max(count, 1)
    chunk = snap[pos:end]
    if end >= len(snap):
        if not scans:
            owner.scans = None
        return 0, chunk
    scans[sid] = snap            # re-inserted: most recently used
    return (sid << _POS_BITS) | end, chunk
