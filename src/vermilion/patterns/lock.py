"""A single-server lock with fencing tokens and an optional watchdog.

Guarantees, on one Redis-protocol server that does not lose writes:

* Mutual exclusion while the TTL runs: acquire is ``SET NX PX`` (inside a
  script), so at most one owner token is stored at a time.
* Release and extend check the owner token atomically, so a holder whose lock
  expired can never delete or prolong the next holder's lock.
* Every successful acquire returns a *fencing token*, a number that strictly
  increases with every grant of this lock name. A TTL alone cannot stop a holder
  that was paused (GC, swap, SIGSTOP) past expiry from writing after the next
  holder started; a resource that rejects tokens lower than the highest it has
  seen can (see ``FencedStore``). This is the sound way to use any lease.

Waiters block on the lock's wake-up list (``BLPOP``), which a release fills, so
the next waiter tries again as soon as the lock is free rather than at its next
poll; the blocking wait never outlasts the holder's TTL or the caller's
deadline, and polling with backoff remains the fallback (``notify=False``, or a
server without BLPOP).

With ``reentrant=True`` the thread (asyncio: the task) holding the lock may
acquire it again; each acquire needs its own release, and only the last one
releases on the server. The TTL is the outer holding's: use the watchdog.

Leaving ``with lock:`` when the lock was lost or found no longer ours raises
``LockNotOwned`` (a ``LockLost``): the block ran without mutual exclusion.
``raise_on_lost=False`` turns that into a warning in the log.

Replication. Redis replicates asynchronously: a lock granted by a primary that
dies before its replicas received the grant is gone after a failover, and a
second client can then acquire it (docs/replication.md, "The lost-write window").
``min_replicas=n`` closes most of that window: the grant and ``WAIT n`` go in one
round trip on one connection, and unless ``n`` replicas acknowledged it within
``replica_timeout`` the grant is released and ``LockNotReplicated`` raised. It
is still not a consensus protocol (a replica that acknowledged may not be the one
promoted); fencing tokens remain the safe guard for the resource.

The watchdog (off by default) renews the TTL every ttl/3, timed from the moment
the acquire was *sent* (the earliest the server could have started the TTL),
stops at the first refused renewal and reports the loss through ``lost``,
``lost_event`` and ``on_lost``. It cannot help a paused process: fencing can.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Self

from redis.exceptions import RedisError, ResponseError

from . import _scripts as S
from ._ops import Op, SyncFace, call, op, run_sync
from ._util import backoff, ms, new_token, tagged, to_str
from .errors import LockError, LockNotAcquired, LockNotOwned, LockNotReplicated

log = logging.getLogger(__name__)


class LockCore:
    """State and server steps shared by the sync and asyncio locks."""

    def __init__(self, client: Any, name: str, ttl: float = 30.0, *, timeout: float | None = None,
                 retry_base: float = 0.05, retry_cap: float = 1.0, watchdog: bool = False,
                 max_renewals: int | None = None, on_lost: Callable[..., Any] | None = None,
                 prefix: str = "lock:", reentrant: bool = False, notify: bool = True,
                 raise_on_lost: bool = True, min_replicas: int = 0, replica_timeout: float = 1.0):
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.client = client
        self.name = name
        self.key = tagged(prefix, name)
        self.fence_key = self.key + ":fence"  # same hash tag: one slot on a cluster
        self.wake_key = self.key + ":wake"
        self.waiters_key = self.key + ":waiters"  # set while someone may be waiting
        self.reentrant, self.notify, self.raise_on_lost = reentrant, notify, raise_on_lost
        self.depth = 0  # acquires not yet matched by a release (reentrant locks)
        self._holder: object = None  # thread id / task that holds it
        self.ttl = ttl
        self.min_replicas, self.replica_timeout = min_replicas, replica_timeout
        self.timeout = timeout  # default wait for the context manager (None: forever)
        self.retry_base, self.retry_cap = retry_base, retry_cap
        self.watchdog = watchdog
        self.max_renewals = max_renewals
        self.on_lost = on_lost
        self.owner: str | None = None  # our random token stored in the key while held
        self.fence: int | None = None  # fencing token of the current holding
        self.renewals = 0
        self.lost_reason: str | None = None
        self._expires_at = 0.0  # monotonic; conservative (measured from send time)

    # ---- server steps (generators driven by either face)

    def _try_acquire(self, owner: str) -> Op:
        """One attempt. Returns (True, fence) or (False, seconds the holder has left)."""
        keys = [self.key, self.fence_key]
        if self.notify:
            keys.append(self.waiters_key)
        args = [owner, ms(self.ttl)]
        if not self.min_replicas:
            ok, value = yield S.LOCK_ACQUIRE(keys, args)
        else:
            # One pipeline, so WAIT runs on the connection that made the grant (WAIT
            # counts that connection's own writes).
            (ok, value), acked = yield [
                call("eval", S.LOCK_ACQUIRE.source, len(keys), *keys, *args),
                call("wait", self.min_replicas, max(1, ms(self.replica_timeout)))]
            if ok and acked < self.min_replicas:
                yield from self._release(owner)
                raise LockNotReplicated(f"{self.key}: granted, but only {acked} of "
                                        f"{self.min_replicas} replicas acknowledged it", acked)
        return (True, int(value)) if ok else (False, max(0, int(value)) / 1000)

    def _extend(self, owner: str, ttl: float) -> Op:
        return bool((yield S.LOCK_EXTEND([self.key], [owner, ms(ttl)])))

    def _release(self, owner: str) -> Op:
        if self.notify:
            return bool((yield S.LOCK_RELEASE([self.key, self.wake_key, self.waiters_key],
                                              [owner, max(1000, ms(self.ttl))])))
        return bool((yield S.LOCK_RELEASE([self.key], [owner])))

    def _await_release(self, seconds: float) -> Op:
        """Block until a release signal or ``seconds``; False if the server cannot."""
        try:
            yield call("blpop", [self.wake_key], timeout=round(seconds, 3))
        except ResponseError:
            self.notify = False  # e.g. a server without BLPOP: poll from now on
            return False
        return True

    def _give_up(self, owner: str) -> Op:
        """An acquire that stops waiting; subclasses withdraw what it registered."""
        return None
        yield  # a generator, like every server step

    def _owner_now(self) -> Op:
        return to_str((yield call("get", self.key)))

    # ---- local bookkeeping shared by both faces

    def _start_holding(self, owner: str, fence: int, sent_at: float) -> None:
        self.owner, self.fence, self.depth = owner, fence, 1
        self.renewals, self.lost_reason = 0, None
        self._expires_at = sent_at + self.ttl

    def _next_wait(self, attempt: int, holder_left: float, deadline: float | None) -> float | None:
        """Seconds to sleep before the next attempt, or None if the deadline is past."""
        wait = backoff(attempt, self.retry_base, self.retry_cap)
        if holder_left > 0:  # no point sleeping past the holder's expiry
            wait = min(wait, holder_left + 0.001)
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            wait = min(wait, left)
        return wait

    def _notify_wait(self, holder_left: float, deadline: float | None) -> float | None:
        """How long to block on the wake-up list; None: poll instead."""
        if not self.notify or holder_left <= 0.01:
            return None
        wait = min(holder_left + 0.001, self._block_cap())
        if deadline is not None:
            wait = min(wait, deadline - time.monotonic())
        return wait if wait >= 0.01 else None

    def _block_cap(self) -> float:
        # A blocking call must end before the client's socket timeout fires.
        pool = getattr(self.client, "connection_pool", None)
        timeout = getattr(pool, "connection_kwargs", {}).get("socket_timeout")
        return 5.0 if timeout is None else max(0.0, min(5.0, timeout * 0.8))

    def _lost_on_exit(self, released: bool, exc_type: Any) -> None:
        """After the outermost ``with`` exit: raise LockNotOwned if the lock was lost."""
        if released and self.lost_reason is None:
            return
        why = self.lost_reason or "it expired or was taken before the block ended"
        if self.raise_on_lost and exc_type is None:
            raise LockNotOwned(f"{self.key} was not owned when the block ended: {why}")
        log.warning("lock %s was not owned when the block ended: %s", self.key, why)

    @property
    def held(self) -> bool:
        """True while this object believes it holds the lock and its TTL has not run out."""
        return (self.owner is not None and self.lost_reason is None
                and time.monotonic() < self._expires_at)

    @property
    def lost(self) -> bool:
        """True once the watchdog or an extend found the lock gone while we held it."""
        return self.lost_reason is not None

    def remaining(self) -> float:
        """Seconds of validity left by our own (conservative) clock; 0 if not held."""
        return max(0.0, self._expires_at - time.monotonic()) if self.owner else 0.0

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key!r} fence={self.fence} held={self.held}>"


class Lock(LockCore):
    """Blocking lock on ``redis.Redis``. See the module doc for the guarantees.

    One ``Lock`` object is one would-be holder; threads that compete should each
    use their own object (the object itself is safe to share with its watchdog).

        with Lock(r, "cron:daily-report", ttl=30) as lock:
            store.write(..., fence=lock.fence)
    """

    def __init__(self, client: Any, name: str, ttl: float = 30.0, **options: Any):
        super().__init__(client, name, ttl, **options)
        self._state = threading.RLock()
        self.lost_event = threading.Event()
        self._stop_watchdog = threading.Event()
        self._watchdog_thread: threading.Thread | None = None

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> int | None:
        """Acquire; returns the fencing token, or None if not acquired in time.

        ``timeout=None`` with ``blocking=True`` waits as long as it takes.
        Between attempts it sleeps with exponential backoff and jitter, never
        longer than the current holder's remaining TTL.
        """
        with self._state:
            if self.held:
                if self.reentrant and self._holder == threading.get_ident():
                    self.depth += 1
                    return self.fence
                raise LockError(f"{self.key} is already held by this Lock object")
        deadline = None if timeout is None else time.monotonic() + timeout
        owner, attempt = new_token(), 0
        while True:
            sent_at = time.monotonic()
            ok, value = run_sync(self.client, self._try_acquire(owner))
            if ok:
                with self._state:
                    self._start_holding(owner, value, sent_at)
                    self._holder = threading.get_ident()
                    self.lost_event.clear()
                    if self.watchdog:
                        self._start_watchdog()
                return int(value)
            wait = self._next_wait(attempt, value, deadline) if blocking else None
            if wait is None:
                run_sync(self.client, self._give_up(owner))
                return None
            block = self._notify_wait(value, deadline)
            if block is None or not run_sync(self.client, self._await_release(block)):
                time.sleep(wait)
            attempt += 1

    def release(self) -> bool:
        """Release; True if we still owned it (False: it had expired or been taken)."""
        with self._state:
            owner = self.owner
            if owner is None:
                raise LockError(f"{self.key} is not held by this Lock object")
            if self.depth > 1:
                self.depth -= 1
                return self.held
            self._stop()
            self.owner, self.depth, self._holder = None, 0, None
        return bool(run_sync(self.client, self._release(owner)))

    def extend(self, ttl: float | None = None) -> bool:
        """Reset the TTL to ``ttl`` (default: the lock's); False means the lock is lost."""
        ttl = self.ttl if ttl is None else ttl
        with self._state:
            owner = self.owner
            if owner is None:
                raise LockError(f"{self.key} is not held by this Lock object")
        sent_at = time.monotonic()
        ok = bool(run_sync(self.client, self._extend(owner, ttl)))
        if ok:
            with self._state:
                self._expires_at = sent_at + ttl
        else:
            self._mark_lost("extend refused: the lock expired or has another owner")
        return ok

    def owned(self) -> bool:
        """Ask the server whether our token is still the one stored (a snapshot)."""
        owner = self.owner
        return owner is not None and run_sync(self.client, self._owner_now()) == owner

    def __enter__(self) -> Self:
        if self.acquire(timeout=self.timeout) is None:
            raise LockNotAcquired(f"could not acquire {self.key} within {self.timeout}s")
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self.owner is None:
            return
        outermost = self.depth <= 1
        released = self.release()
        if outermost:
            self._lost_on_exit(released, exc_type)

    # ---- watchdog

    def _start_watchdog(self) -> None:
        self._stop_watchdog = threading.Event()
        self._watchdog_thread = threading.Thread(
            target=self._watch, args=(self.owner, self._stop_watchdog),
            name=f"lock-watchdog:{self.name}", daemon=True)
        self._watchdog_thread.start()

    def _stop(self) -> None:
        self._stop_watchdog.set()
        t = self._watchdog_thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=5)
        self._watchdog_thread = None

    def _watch(self, owner: str, stop: threading.Event) -> None:
        """Renew at ttl/3 after the last successful renewal (or the acquire) was sent."""
        period = self.ttl / 3
        renewed_at = self._expires_at - self.ttl
        while True:
            if stop.wait(max(0.0, renewed_at + period - time.monotonic())):
                return
            if self.max_renewals is not None and self.renewals >= self.max_renewals:
                # Let it run out, and say so when it does (unless released first).
                if stop.wait(max(0.0, self._expires_at - time.monotonic())):
                    return
                self._mark_lost(f"renewal cap of {self.max_renewals} reached; TTL ran out")
                return
            sent_at = time.monotonic()
            try:
                ok = run_sync(self.client, self._extend(owner, self.ttl))
            except RedisError as exc:
                # A network blip is not a refusal: retry until the lock would have expired.
                if time.monotonic() >= self._expires_at:
                    self._mark_lost(f"could not renew before expiry: {exc}")
                    return
                if stop.wait(min(period / 4, 0.5)):
                    return
                continue
            if stop.is_set():
                return
            if not ok:
                self._mark_lost("renewal refused: the lock expired or has another owner")
                return
            with self._state:
                self.renewals += 1
                self._expires_at = sent_at + self.ttl
            renewed_at = sent_at

    def _mark_lost(self, reason: str) -> None:
        with self._state:
            if self.lost_reason is not None or self.owner is None:
                return
            self.lost_reason = reason  # ``lost`` is true from here on
        log.warning("lock %s lost: %s", self.key, reason)
        if self.on_lost is not None:
            try:
                self.on_lost(self, reason)
            except Exception:
                log.exception("on_lost callback of lock %s failed", self.key)
        self.lost_event.set()  # after the callback, so waiters see its effects


class FencedStoreCore:
    """A resource that refuses writes carrying a stale fencing token.

    Each guarded record is a hash holding your fields plus ``:fence``, the
    highest token that has written it. A write whose token is lower was made by
    a holder whose lock has since been granted to someone else (it was paused,
    or its TTL ran out mid-work), and is rejected, atomically.

    This is the pattern to copy into whatever you protect (a SQL ``UPDATE ...
    WHERE fence <= :token``, an object-store precondition): the lock only hands
    out tokens, the resource must check them.
    """

    def __init__(self, client: Any, prefix: str = "fenced:"):
        self.client = client
        self.prefix = prefix

    @op
    def write(self, record: str, token: int, fields: dict[Any, Any]) -> Any:
        """Write ``fields`` if ``token`` is not older than the newest writer's."""
        flat = [x for kv in fields.items() for x in kv]
        ok, _ = yield S.FENCED_WRITE([self.prefix + record], [int(token), *flat])
        return bool(ok)

    @op
    def read(self, record: str) -> Any:
        """The record's fields (``:fence`` included: the token of the last writer)."""
        raw = yield call("hgetall", self.prefix + record)
        return {to_str(k): v for k, v in raw.items()}


class FencedStore(FencedStoreCore, SyncFace):
    __doc__ = FencedStoreCore.__doc__

    if TYPE_CHECKING:
        def write(self, record: str, token: int, fields: dict[Any, Any]) -> bool: ...
        def read(self, record: str) -> dict[str, Any]: ...
