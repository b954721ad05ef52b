"""asyncio face of ``vermilion.patterns.semaphore`` (same semantics, see there)."""

from __future__ import annotations

from typing import Any

from .._ops import run_async
from ..semaphore import ReadWriteLock as _SyncReadWriteLock
from ..semaphore import RWSteps, SemaphoreSteps
from .lock import Lock


class Semaphore(SemaphoreSteps, Lock):
    """A counting semaphore on ``redis.asyncio.Redis``: ``async with``."""

    def __init__(self, client: Any, name: str, limit: int, ttl: float = 30.0,
                 *, prefix: str = "semaphore:", **options: Any):
        self._setup(limit)
        super().__init__(client, name, ttl, prefix=prefix, **options)

    async def holders(self) -> int:
        """Permits currently held (expired ones are not counted)."""
        return int(await run_async(self.client, self._holders()))


class _RWSide(RWSteps, Lock):
    def __init__(self, client: Any, name: str, mode: str, ttl: float, prefix: str,
                 **options: Any):
        self.mode = mode
        super().__init__(client, name, ttl, prefix=prefix, **options)
        self._rw_keys(name, prefix)


class ReadWriteLock(_SyncReadWriteLock):
    """Many readers or one writer on ``redis.asyncio.Redis``:
    ``async with rw.read():`` / ``async with rw.write():``."""

    side_class = _RWSide
