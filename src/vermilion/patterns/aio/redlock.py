"""asyncio face of ``vermilion.patterns.redlock`` (same semantics and caveats)."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from typing import Any, Callable

import redis.asyncio

from .. import _scripts as S
from .._ops import run_async
from .._util import ms, new_token
from ..errors import LockError, LockLost, LockNotAcquired
from ..redlock import LeaseCore, RedlockBase, RedlockResult, tally

log = logging.getLogger("vermilion.patterns.redlock")


class Lease(LeaseCore):
    """A Redlock lease held by this task (see the sync ``Lease``).

    With ``cancel_on_lost=True`` (on ``acquire``) a lost lease also cancels the
    task that acquired it; inside ``async with lease:`` that surfaces as ``LockLost``.
    """

    def __init__(self, *args: Any, cancel_on_lost: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lost_event = asyncio.Event()
        self.cancel_on_lost = cancel_on_lost
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._guarded = asyncio.current_task()
        self._cancelled_by_us = False

    async def release(self) -> int:
        self._stop.set()
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            await asyncio.gather(task, return_exceptions=True)
        self.released = True
        released: int = await self.redlock._release(self.keys, self.token)
        return released

    async def extend(self, ttl: float | None = None) -> RedlockResult:
        result: RedlockResult = await self.redlock._extend(self, self.ttl if ttl is None else ttl)
        return result

    def _start_watchdog(self) -> None:
        self._task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            try:
                wait = max(0.0, self._renewed_at + self.ttl / 3 - time.monotonic())
                await asyncio.wait_for(self._stop.wait(), wait)
                return
            except asyncio.TimeoutError:
                pass
            started = time.monotonic()
            try:
                result = await self.extend()
            except LockError as exc:
                await self._mark_lost(str(exc))
                return
            if self._stop.is_set():
                return
            if not result.acquired:
                await self._mark_lost(self._renewal_failed(result))
                return
            self.renewals += 1
            self._renewed_at = started

    async def _mark_lost(self, reason: str) -> None:
        if self.lost_reason is not None or self.released:
            return
        self.lost_reason = reason
        log.warning("Redlock lease on %s lost: %s", self.keys, reason)
        if self.on_lost is not None:
            try:
                out = self.on_lost(self, reason)
                if inspect.isawaitable(out):
                    await out
            except Exception:
                log.exception("on_lost callback of a Redlock lease failed")
        self.lost_event.set()
        task = self._guarded
        if self.cancel_on_lost and task is not None and not task.done():
            self._cancelled_by_us = True
            task.cancel(f"Redlock lease on {self.keys} lost: {reason}")

    async def __aenter__(self) -> "Lease":
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        cancelled_by_us = self._cancelled_by_us
        await asyncio.shield(self.release())
        if exc_type is asyncio.CancelledError and cancelled_by_us:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            raise LockLost(self.lost_reason or "Redlock lease lost") from exc
        self._check_exit(exc_type)


class Redlock(RedlockBase):
    """Redlock over ``redis.asyncio.Redis`` clients or URLs."""

    _client_class: Any = redis.asyncio.Redis

    def __init__(self, nodes: Any, **options: Any):
        super().__init__(nodes, **options)
        self._background: set[asyncio.Future[Any]] = set()  # releases not waited for

    async def _one(self, client: Any, run: Any, timeout: float) -> Any:
        try:
            return bool(await asyncio.wait_for(run_async(client, run), timeout))
        except asyncio.TimeoutError:
            return None
        except Exception as exc:  # a node's failure is a vote against, not our failure
            return exc

    async def _fan_out(self, script: Any, keys: list[str], args: list[Any], timeout: float,
                       wait_on: list[bool] | None = None) -> list[Any]:
        """Run a script on every node; None for nodes that did not answer in time.

        With ``wait_on``, the calls to the other nodes run in the background."""
        waited = []
        for i, c in enumerate(self.clients):
            call = self._one(c, script(keys, args), timeout)
            if wait_on is None or wait_on[i]:
                waited.append((i, call))
            else:
                task = asyncio.ensure_future(call)
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        out: list[Any] = [None] * len(self.clients)
        for (i, _), reply in zip(waited, await asyncio.gather(*(c for _, c in waited))):
            out[i] = reply
        return out

    async def try_acquire(self, resources: Any, ttl: float | None = None, *,
                          watchdog: bool = False, on_lost: Callable[..., Any] | None = None,
                          raise_on_lost: bool = True,
                          cancel_on_lost: bool = False) -> tuple[Lease | None, RedlockResult]:
        """Acquire with retries; returns (lease or None, result of the last round)."""
        ttl = ttl or self.ttl
        keys, token = self._keys(resources), new_token()
        for attempt in range(1, self.retry_count + 2):
            started = time.monotonic()
            replies = await self._fan_out(S.REDLOCK_ACQUIRE, keys, [token, ms(ttl)],
                                          self._timeout(ttl))
            result = tally(self.names, replies, self.quorum, ttl,
                           time.monotonic() - started, self.drift_factor)
            result.attempts = attempt
            if result.acquired:
                lease = Lease(self, keys, token, ttl, result, started, on_lost=on_lost,
                              raise_on_lost=raise_on_lost, cancel_on_lost=cancel_on_lost)
                if watchdog:
                    lease._start_watchdog()
                return lease, result
            await self._release(keys, token, [r is not None for r in replies])
            if attempt <= self.retry_count:
                await asyncio.sleep(self._pause())
        return None, result

    async def acquire(self, resources: Any, ttl: float | None = None, **options: Any) -> Lease:
        """Acquire or raise ``LockNotAcquired``; ``options`` as for ``try_acquire``."""
        lease, result = await self.try_acquire(resources, ttl, **options)
        if lease is None:
            raise LockNotAcquired(
                f"Redlock on {resources!r}: {len(result.votes_for)}/{len(self.clients)} votes, "
                f"quorum {self.quorum}, validity {result.validity:.3f}s", result)
        return lease

    async def _release(self, keys: list[str], token: str,
                       wait_on: list[bool] | None = None) -> int:
        replies = await self._fan_out(S.REDLOCK_RELEASE, keys, [token], self._timeout(self.ttl),
                                      wait_on)
        return sum(1 for r in replies if r is True)

    async def _extend(self, lease: Lease, ttl: float) -> RedlockResult:
        if lease.valid_until <= time.monotonic():
            raise LockError("cannot extend a Redlock lease whose validity has run out")
        started = time.monotonic()
        replies = await self._fan_out(S.REDLOCK_EXTEND, lease.keys, [lease.token, ms(ttl)],
                                      self._timeout(ttl))
        result = tally(self.names, replies, self.quorum, ttl, time.monotonic() - started,
                       self.drift_factor)
        lease.result, lease.ttl = result, ttl
        lease.valid_until = started + result.validity if result.acquired else 0.0
        return result

    async def close(self) -> None:
        if self._background:  # each ends within its node timeout
            await asyncio.gather(*self._background, return_exceptions=True)
        for c in self._owned:
            await c.aclose()
