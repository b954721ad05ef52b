"""asyncio face of ``vermilion.patterns.redlock`` (same semantics and caveats)."""

from __future__ import annotations

import asyncio
import time

import redis.asyncio

from .. import _scripts as S
from .._ops import run_async
from .._util import ms, new_token
from ..errors import LockError, LockNotAcquired
from ..redlock import Lease as _SyncLease
from ..redlock import RedlockBase, RedlockResult, tally


class Lease(_SyncLease):
    """A Redlock lease held by this task."""

    async def release(self) -> int:
        return await self.redlock._release(self.keys, self.token)

    async def extend(self, ttl: float | None = None) -> RedlockResult:
        return await self.redlock._extend(self, self.ttl if ttl is None else ttl)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.release()


class Redlock(RedlockBase):
    """Redlock over ``redis.asyncio.Redis`` clients or URLs."""

    _client_class = redis.asyncio.Redis

    async def _one(self, client, run, timeout):
        try:
            return bool(await asyncio.wait_for(run_async(client, run), timeout))
        except asyncio.TimeoutError:
            return None
        except Exception as exc:  # a node's failure is a vote against, not our failure
            return exc

    async def _fan_out(self, script, keys, args, timeout: float) -> list:
        return await asyncio.gather(*(self._one(c, script(keys, args), timeout)
                                      for c in self.clients))

    async def try_acquire(self, resources, ttl: float | None = None):
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
                return Lease(self, keys, token, ttl, result, started), result
            await self._release(keys, token)
            if attempt <= self.retry_count:
                await asyncio.sleep(self._pause())
        return None, result

    async def acquire(self, resources, ttl: float | None = None) -> Lease:
        lease, result = await self.try_acquire(resources, ttl)
        if lease is None:
            raise LockNotAcquired(
                f"Redlock on {resources!r}: {len(result.votes_for)}/{len(self.clients)} votes, "
                f"quorum {self.quorum}, validity {result.validity:.3f}s", result)
        return lease

    async def _release(self, keys, token) -> int:
        replies = await self._fan_out(S.REDLOCK_RELEASE, keys, [token], self._timeout(self.ttl))
        return sum(1 for r in replies if r is True)

    async def _extend(self, lease, ttl: float) -> RedlockResult:
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

    async def close(self):
        for c in self._owned:
            await c.aclose()
