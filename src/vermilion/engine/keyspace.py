"""Databases: the key -> value maps, expiry, and the hooks every write goes through.

Values are plain Python objects: strings are ``bytes`` (``bytearray`` once APPEND or
SETRANGE made them mutable, which is also what OBJECT ENCODING reports as ``raw``);
the other types live in ``types/``.

Expiry is stored per key as an absolute Unix time in milliseconds. A key past its
time is deleted when it is next looked up (lazy expiry) or by the active expiry
cycle. Redis samples random keys with a TTL because its dict can do that in O(1);
a Python dict cannot, so each database keeps a heap of (when, key) instead. The
active cycle pops only keys that are really due, so it frees every expired key
without touching the live ones; stale heap entries (TTL changed or removed) are
skipped and the heap is rebuilt when they outnumber the live ones.
"""
from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from .errors import WRONGTYPE, CommandError

if TYPE_CHECKING:
    from .engine import Engine


class Database:
    __slots__ = ("index", "data", "expires", "heap", "engine", "watched", "avg_ttl")

    def __init__(self, index: int, engine: "Engine"):
        self.index = index
        self.engine = engine
        self.data: dict = {}
        self.expires: dict[bytes, int] = {}
        self.heap: list[tuple[int, bytes]] = []
        # key -> set of clients WATCHing it (MULTI/EXEC); empty in the common case.
        self.watched: dict[bytes, set] = {}

    # -- reads -------------------------------------------------------------

    def get(self, key: bytes):
        """The live value at `key`, or None (expiring it first if it is due)."""
        if self.expires and key in self.expires and self.expires[key] <= self.engine.clock.ms():
            self.expire_now(key)
            return None
        return self.data.get(key)

    def get_typed(self, key: bytes, cls):
        """The value at `key` if it is a `cls`; None if missing; WRONGTYPE otherwise."""
        value = self.get(key)
        if value is None or value.__class__ is cls:
            return value
        raise CommandError(WRONGTYPE)

    def get_string(self, key: bytes):
        value = self.get(key)
        if value is None or value.__class__ is bytes or value.__class__ is bytearray:
            return value
        raise CommandError(WRONGTYPE)

    def exists(self, key: bytes) -> bool:
        return self.get(key) is not None

    def __len__(self) -> int:
        return len(self.data)

    # -- writes ------------------------------------------------------------

    def set(self, key: bytes, value, keep_ttl: bool = False) -> None:
        """Store `value`, dropping any TTL unless keep_ttl (the SET semantics)."""
        self.data[key] = value
        if not keep_ttl and self.expires:
            self.expires.pop(key, None)
        if self.watched:
            self.engine.touch_watched(self, key)

    def add(self, key: bytes, value) -> None:
        """Store a new value at a key known to be absent (e.g. first push creates a list)."""
        self.data[key] = value
        if self.watched:
            self.engine.touch_watched(self, key)

    def modified(self, key: bytes) -> None:
        """Tell watchers a value was changed in place (HSET, LPUSH, APPEND ...)."""
        if self.watched:
            self.engine.touch_watched(self, key)

    def delete(self, key: bytes) -> bool:
        if self.data.pop(key, None) is None:
            return False
        if self.expires:
            self.expires.pop(key, None)
        if self.watched:
            self.engine.touch_watched(self, key)
        return True

    def pop(self, key: bytes):
        """Remove and return the value (for RENAME, MOVE, GETDEL)."""
        value = self.data.pop(key, None)
        if value is not None:
            self.expires.pop(key, None)
            if self.watched:
                self.engine.touch_watched(self, key)
        return value

    def set_expire(self, key: bytes, when_ms: int) -> None:
        self.expires[key] = when_ms
        heapq.heappush(self.heap, (when_ms, key))
        if self.watched:
            self.engine.touch_watched(self, key)

    def persist(self, key: bytes) -> bool:
        if self.expires.pop(key, None) is None:
            return False
        if self.watched:
            self.engine.touch_watched(self, key)
        return True

    def ttl_ms(self, key: bytes) -> int | None:
        """Absolute expiry of `key` in ms, or None when it has none."""
        return self.expires.get(key)

    def clear(self) -> int:
        removed = len(self.data)
        if self.watched:
            for key in list(self.watched):
                if key in self.data:
                    self.engine.touch_watched(self, key)
        self.data = {}
        self.expires = {}
        self.heap = []
        return removed

    # -- expiry --------------------------------------------------------------

    def expire_now(self, key: bytes) -> None:
        """Delete a key whose time has come, telling persistence and listeners."""
        self.data.pop(key, None)
        self.expires.pop(key, None)
        engine = self.engine
        engine.stats.expired_keys += 1
        if self.watched:
            engine.touch_watched(self, key)
        engine.key_expired(self, key)

    def active_expire(self, now_ms: int, budget: int) -> int:
        """Delete up to `budget` due keys; returns how many were deleted."""
        heap, expires = self.heap, self.expires
        done = 0
        while heap and heap[0][0] <= now_ms and done < budget:
            when, key = heapq.heappop(heap)
            if expires.get(key) == when:
                self.expire_now(key)
                done += 1
        if len(heap) > 2 * len(expires) + 1024:
            self.heap = [(when, key) for key, when in expires.items()]
            heapq.heapify(self.heap)
        return done

    def has_due_keys(self, now_ms: int) -> bool:
        heap = self.heap
        return bool(heap) and heap[0][0] <= now_ms
