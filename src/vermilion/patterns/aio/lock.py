"""asyncio face of ``vermilion.patterns.lock`` (same semantics, see there)."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from typing import TYPE_CHECKING, Any, Self

from redis.exceptions import RedisError

from .._ops import AsyncFace, run_async
from .._util import new_token
from ..errors import LockError, LockLost, LockNotAcquired
from ..lock import FencedStoreCore, LockCore

log = logging.getLogger("vermilion.patterns.lock")


class Lock(LockCore):
    """Lock on ``redis.asyncio.Redis`` with fencing tokens and an optional watchdog.

    With ``cancel_on_lost=True`` a lost lock also cancels the task that acquired
    it; inside ``async with lock:`` that cancellation surfaces as ``LockLost``.
    ``on_lost`` may be a plain function or a coroutine function.
    """

    def __init__(self, client: Any, name: str, ttl: float = 30.0, *, cancel_on_lost: bool = False,
                 **options: Any):
        super().__init__(client, name, ttl, **options)
        self.cancel_on_lost = cancel_on_lost
        self.lost_event = asyncio.Event()
        self._watchdog_task: asyncio.Task[Any] | None = None
        self._watchdog_stop: asyncio.Event | None = None
        self._guarded: asyncio.Task[Any] | None = None
        self._cancelled_by_us = False

    async def acquire(self, blocking: bool = True, timeout: float | None = None) -> int | None:
        """Acquire; returns the fencing token, or None if not acquired in time."""
        if self.held:
            if self.reentrant and self._holder is asyncio.current_task():
                self.depth += 1
                return self.fence
            raise LockError(f"{self.key} is already held by this Lock object")
        deadline = None if timeout is None else time.monotonic() + timeout
        owner, attempt = new_token(), 0
        while True:
            sent_at = time.monotonic()
            ok, value = await run_async(self.client, self._try_acquire(owner))
            if ok:
                self._start_holding(owner, value, sent_at)
                self._holder = asyncio.current_task()
                self.lost_event.clear()
                self._guarded, self._cancelled_by_us = asyncio.current_task(), False
                if self.watchdog:
                    self._watchdog_stop = asyncio.Event()
                    self._watchdog_task = asyncio.create_task(self._watch(owner, self._watchdog_stop))
                return int(value)
            wait = self._next_wait(attempt, value, deadline) if blocking else None
            if wait is None:
                await run_async(self.client, self._give_up(owner))
                return None
            block = self._notify_wait(value, deadline)
            if block is None or not await run_async(self.client, self._await_release(block)):
                await asyncio.sleep(wait)
            attempt += 1

    async def release(self) -> bool:
        """Release; True if we still owned it."""
        owner = self.owner
        if owner is None:
            raise LockError(f"{self.key} is not held by this Lock object")
        if self.depth > 1:
            self.depth -= 1
            return self.held
        await self._stop()
        self.owner, self._guarded, self.depth, self._holder = None, None, 0, None
        return bool(await run_async(self.client, self._release(owner)))

    async def extend(self, ttl: float | None = None) -> bool:
        """Reset the TTL; False means the lock is lost."""
        ttl = self.ttl if ttl is None else ttl
        owner = self.owner
        if owner is None:
            raise LockError(f"{self.key} is not held by this Lock object")
        sent_at = time.monotonic()
        if await run_async(self.client, self._extend(owner, ttl)):
            self._expires_at = sent_at + ttl
            return True
        await self._mark_lost("extend refused: the lock expired or has another owner")
        return False

    async def owned(self) -> bool:
        owner = self.owner
        return owner is not None and await run_async(self.client, self._owner_now()) == owner

    async def __aenter__(self) -> Self:
        if await self.acquire(timeout=self.timeout) is None:
            raise LockNotAcquired(f"could not acquire {self.key} within {self.timeout}s")
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self.owner is not None and self.depth > 1:
            await self.release()
            return
        cancelled_by_us = self._cancelled_by_us
        released = True
        if self.owner is not None:
            released = await asyncio.shield(self.release())
        if exc_type is asyncio.CancelledError and cancelled_by_us:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            raise LockLost(self.lost_reason or "lock lost") from exc
        self._lost_on_exit(released, exc_type)

    async def _stop(self) -> None:
        # The watchdog is told to stop, not cancelled: cancelling a redis-py command in
        # flight can leave its connection out of step with the server (redis-py
        # #2624, #2665), and the release that follows would then hang or read the
        # renewal's reply. A renewal under way finishes first (socket_timeout bounds it).
        task, self._watchdog_task = self._watchdog_task, None
        if self._watchdog_stop is not None:
            self._watchdog_stop.set()
        if task is not None and task is not asyncio.current_task():
            await asyncio.gather(task, return_exceptions=True)

    async def _watch(self, owner: str, stop: asyncio.Event) -> None:
        async def pause(seconds: float) -> bool:
            """Sleep up to `seconds`; True if the lock is being released meanwhile."""
            try:
                await asyncio.wait_for(stop.wait(), max(0.0, seconds))
                return True
            except asyncio.TimeoutError:
                return stop.is_set()

        period = self.ttl / 3
        renewed_at = self._expires_at - self.ttl
        while True:
            if await pause(renewed_at + period - time.monotonic()):
                return
            if self.max_renewals is not None and self.renewals >= self.max_renewals:
                if await pause(self._expires_at - time.monotonic()):
                    return
                await self._mark_lost(f"renewal cap of {self.max_renewals} reached; TTL ran out")
                return
            sent_at = time.monotonic()
            try:
                ok = await run_async(self.client, self._extend(owner, self.ttl))
            except RedisError as exc:
                if time.monotonic() >= self._expires_at:
                    await self._mark_lost(f"could not renew before expiry: {exc}")
                    return
                if await pause(min(period / 4, 0.5)):
                    return
                continue
            if not ok:
                await self._mark_lost("renewal refused: the lock expired or has another owner")
                return
            self.renewals += 1
            self._expires_at = sent_at + self.ttl
            renewed_at = sent_at

    async def _mark_lost(self, reason: str) -> None:
        if self.lost_reason is not None or self.owner is None:
            return
        self.lost_reason = reason
        log.warning("lock %s lost: %s", self.key, reason)
        if self.on_lost is not None:
            try:
                result = self.on_lost(self, reason)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("on_lost callback of lock %s failed", self.key)
        self.lost_event.set()
        task = self._guarded
        if self.cancel_on_lost and task is not None and not task.done():
            self._cancelled_by_us = True
            task.cancel(f"lock {self.key} lost: {reason}")


class FencedStore(FencedStoreCore, AsyncFace):
    __doc__ = FencedStoreCore.__doc__

    if TYPE_CHECKING:
        async def write(self, record: str, token: int, fields: dict[Any, Any]) -> bool: ...
        async def read(self, record: str) -> dict[str, Any]: ...
