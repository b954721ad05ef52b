"""Lazy freeing: UNLINK, FLUSHDB/FLUSHALL ASYNC, and DEL/FLUSH* under lazyfree-lazy-user-*.

Redis frees a value whose "free effort" is above 64 allocations in a background
thread (lazyfree.c), so the command that removed it answers without paying for
the free; smaller values are freed at once. Python's deallocation holds the
interpreter, so here the values are kept in a queue and released on a later
turn of the event loop, after the command's reply has been written: the command
still does not pay for the free, the server as a whole does, a moment later.

The effort is Redis's lazyfreeGetFreeEffort: the element count of a hashtable
set or hash and of a skiplist zset, the node count of a list (estimated from the
list-max-listpack-size fill and a few sampled elements) and of a stream (plus its
groups' PELs, the first group's standing for all), 1 for everything else.
``lazyfree_pending_objects`` and ``lazyfreed_objects`` (INFO memory) count
values as Redis does, and a flushed database counts its keys.
"""
from __future__ import annotations

from itertools import islice

LAZYFREE_THRESHOLD = 64
_FILL_BYTES = {-1: 4096, -2: 8192, -3: 16384, -4: 32768, -5: 65536}


def _list_nodes(value, config) -> int:
    n = len(value)
    if not n:
        return 0
    fill = config["list-max-listpack-size"]
    if fill > 0:
        return -(-n // fill)
    sample = list(islice(value, 4)) + list(islice(reversed(value), 4))
    per_entry = sum(len(e) for e in sample) / len(sample) + 2
    return max(1, int(n * per_entry) // _FILL_BYTES.get(fill, 65536) + 1)


def free_effort(value, config) -> int:
    """How many allocations freeing `value` takes, as Redis estimates it."""
    cls = value.__class__
    if cls is bytes or cls is bytearray:
        return 1
    kind = value.type_name
    if kind == "list":
        return _list_nodes(value, config)
    if kind == "stream":
        effort = value.node_count
        groups = value.groups
        if groups:
            first = next(iter(groups.values()))
            effort += len(groups) * (1 + len(first.pel))
        return effort
    if kind in ("set", "hash", "zset") and value.encoding(config) in ("hashtable", "skiplist"):
        return len(value)
    return 1


class LazyFree:
    """The queue of values waiting to be released, and Redis's two counters."""

    def __init__(self, engine):
        self.engine = engine
        self.queue: list = []
        self.pending = 0            # lazyfree_pending_objects
        self.freed = 0              # lazyfreed_objects (CONFIG RESETSTAT clears it)

    def free(self, value) -> None:
        """Release a value removed from the keyspace (Redis's freeObjAsync)."""
        if free_effort(value, self.engine.config) > LAZYFREE_THRESHOLD:
            self._defer(value, 1)

    def free_database(self, data: dict) -> None:
        """Release a whole flushed database's data (Redis's emptyDbAsync)."""
        if data:
            self._defer(data, len(data))

    def _defer(self, obj, count: int) -> None:
        self.queue.append((obj, count))
        self.pending += count
        loop = self.engine.loop
        if len(self.queue) == 1:
            if loop is not None:
                loop.call_soon(self._release)
            else:
                self._release()

    def _release(self) -> None:
        queue, self.queue = self.queue, []
        count = sum(c for _, c in queue)
        queue.clear()           # the values' last references go here
        self.pending -= count
        self.freed += count
