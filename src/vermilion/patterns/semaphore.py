"""Counting semaphores and read-write locks, with the ``Lock``'s machinery.

``Semaphore(client, name, limit)``: at most ``limit`` holders at once. Each
permit has its own TTL, measured by the server, so the permit of a holder that
crashed or froze returns to the pool when its TTL runs out; every grant comes
with a fencing token that strictly increases, as with ``Lock``. One object is
one would-be holder (threads each make their own; ``with Semaphore(...)``).

``ReadWriteLock(client, name)``: ``with rw.read():`` for many readers at once,
``with rw.write():`` for one writer alone. Writers are preferred: once a writer
waits, new readers wait behind it, so a steady stream of readers cannot starve
writers. Readers and the writer each have a TTL (and an optional watchdog);
every grant, read or write, takes a fencing token from one counter.

Both block like ``Lock`` (woken by a release through the wake-up list, polling
as the fallback), support ``watchdog=True``, ``on_lost``, ``timeout`` and raise
``LockNotOwned`` when a ``with`` block ends after its permit was lost.

Keys (one hash tag per instance, so they work on Redis Cluster):
``semaphore:{name}`` (sorted set: owner -> expiry), ``semaphore:{name}:fence``,
``semaphore:{name}:wake``, ``semaphore:{name}:waiters``; ``rwlock:{name}:readers`` (sorted set),
``rwlock:{name}:writer``, ``rwlock:{name}:waiting`` (writers waiting),
``rwlock:{name}:fence``, ``rwlock:{name}:wake``.
"""

from __future__ import annotations

from typing import Any, Generator

from . import _scripts as S
from ._ops import call, run_sync
from ._util import ms, tagged, to_str
from .lock import Lock

Steps = Generator[Any, Any, Any]

# How long a waiting writer keeps new readers out without trying again (it
# renews this on every attempt and withdraws it when it gives up).
WRITER_INTENT = 10.0


class SemaphoreSteps:
    """Server steps of a semaphore permit; mixed in before a face's ``Lock``."""

    key: str
    fence_key: str
    wake_key: str
    waiters_key: str
    ttl: float
    notify: bool
    limit: int

    def _setup(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self.limit = limit

    def _try_acquire(self, owner: str) -> Steps:
        keys = [self.key, self.fence_key]
        if self.notify:
            keys.append(self.waiters_key)
        ok, value = yield S.SEMAPHORE_ACQUIRE(keys, [owner, ms(self.ttl), self.limit])
        return (True, int(value)) if ok else (False, max(0, int(value)) / 1000)

    def _extend(self, owner: str, ttl: float) -> Steps:
        return bool((yield S.SEMAPHORE_EXTEND([self.key], [owner, ms(ttl)])))

    def _release(self, owner: str) -> Steps:
        keys = [self.key, self.wake_key, self.waiters_key] if self.notify else [self.key]
        return bool((yield S.SEMAPHORE_RELEASE(keys, [owner, max(1000, ms(self.ttl))])))

    def _owner_now(self) -> Steps:
        owner = getattr(self, "owner", None)
        if owner is None:
            return None
        ok = yield S.SEMAPHORE_EXTEND([self.key], [owner, 0])
        return owner if ok else None

    def _holders(self) -> Steps:
        sec, usec = yield call("time")
        now_ms = int(sec) * 1000 + int(usec) // 1000
        return (yield call("zcount", self.key, f"({now_ms}", "+inf"))


class Semaphore(SemaphoreSteps, Lock):
    """A counting semaphore on ``redis.Redis`` (see the module doc).

        with Semaphore(r, "api-quota", limit=5, ttl=30) as permit:
            call_the_api(fence=permit.fence)
    """

    def __init__(self, client: Any, name: str, limit: int, ttl: float = 30.0,
                 *, prefix: str = "semaphore:", **options: Any):
        self._setup(limit)
        super().__init__(client, name, ttl, prefix=prefix, **options)

    def holders(self) -> int:
        """Permits currently held (expired ones are not counted)."""
        return int(run_sync(self.client, self._holders()))


class RWSteps:
    """Server steps of one side of a read-write lock."""

    key: str
    fence_key: str
    wake_key: str
    ttl: float
    notify: bool
    mode: str
    readers_key: str
    writer_key: str
    waiting_key: str

    def _rw_keys(self, name: str, prefix: str) -> None:
        base = tagged(prefix, name)
        self.readers_key, self.writer_key = base + ":readers", base + ":writer"
        self.waiting_key = base + ":waiting"
        self.fence_key, self.wake_key = base + ":fence", base + ":wake"
        self.key = self.readers_key if self.mode == "read" else self.writer_key

    def _try_acquire(self, owner: str) -> Steps:
        script = S.RW_READ_ACQUIRE if self.mode == "read" else S.RW_WRITE_ACQUIRE
        ok, value = yield script(
            [self.readers_key, self.writer_key, self.waiting_key, self.fence_key,
             self.wake_key], [owner, ms(self.ttl), ms(WRITER_INTENT)])
        return (True, int(value)) if ok else (False, max(0, int(value)) / 1000)

    def _give_up(self, owner: str) -> Steps:
        if self.mode == "write":
            yield S.RW_WRITE_WITHDRAW([self.waiting_key], [owner])
        return None

    def _extend(self, owner: str, ttl: float) -> Steps:
        if self.mode == "read":
            return bool((yield S.SEMAPHORE_EXTEND([self.readers_key], [owner, ms(ttl)])))
        return bool((yield S.LOCK_EXTEND([self.writer_key], [owner, ms(ttl)])))

    def _release(self, owner: str) -> Steps:
        ttl_ms = max(1000, ms(self.ttl))
        if self.mode == "read":
            keys = [self.readers_key, self.wake_key] if self.notify else [self.readers_key]
            return bool((yield S.SEMAPHORE_RELEASE(keys, [owner, ttl_ms])))
        keys = [self.writer_key, self.wake_key] if self.notify else [self.writer_key]
        return bool((yield S.LOCK_RELEASE(keys, [owner, ttl_ms])))

    def _owner_now(self) -> Steps:
        owner = getattr(self, "owner", None)
        if owner is None:
            return None
        if self.mode == "read":
            ok = yield S.SEMAPHORE_EXTEND([self.readers_key], [owner, 0])
            return owner if ok else None
        return to_str((yield call("get", self.writer_key)))


class _RWSide(RWSteps, Lock):
    def __init__(self, client: Any, name: str, mode: str, ttl: float, prefix: str,
                 **options: Any):
        self.mode = mode
        super().__init__(client, name, ttl, prefix=prefix, **options)
        self._rw_keys(name, prefix)


class ReadWriteLock:
    """Many readers or one writer, on ``redis.Redis`` (see the module doc).

        rw = ReadWriteLock(r, "catalog", ttl=30)
        with rw.read():  ...      # shared
        with rw.write(): ...      # exclusive; waiting writers keep new readers out

    ``read()``/``write()`` make a new holder each call, so one ``ReadWriteLock``
    can be shared by threads; the options (``ttl``, ``timeout``, ``watchdog``...)
    given here apply to every holder, and each call may override them.
    """

    side_class: Any = _RWSide

    def __init__(self, client: Any, name: str, ttl: float = 30.0, *,
                 prefix: str = "rwlock:", **options: Any):
        self.client, self.name, self.ttl, self.prefix = client, name, ttl, prefix
        self.options = options

    def read(self, **options: Any) -> Any:
        return self.side_class(self.client, self.name, "read", options.pop("ttl", self.ttl),
                               self.prefix, **{**self.options, **options})

    def write(self, **options: Any) -> Any:
        return self.side_class(self.client, self.name, "write", options.pop("ttl", self.ttl),
                               self.prefix, **{**self.options, **options})
