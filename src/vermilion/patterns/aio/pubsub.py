"""asyncio face of ``vermilion.patterns.pubsub`` (same behaviour, see there).

Handlers, ``on_gap`` and ``on_error`` may be plain functions or coroutine
functions; coroutines are awaited.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from typing import Any, Callable

import redis.asyncio
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .._pubsub_core import Gap, HealthCheckFailed, Message, SubscriberState, pubsub_connection_kwargs
from .._util import backoff

log = logging.getLogger("vermilion.patterns.pubsub")

__all__ = ["Subscriber", "Message", "Gap"]

_BROKEN = (RedisConnectionError, RedisTimeoutError, OSError, HealthCheckFailed)


class Subscriber(SubscriberState):
    """``Subscriber(r)``; ``.subscribe(ch, fn)``; ``.start()`` (a task); ``await .stop()``."""

    def __init__(self, client: redis.asyncio.Redis, **options: Any):
        super().__init__(**options)
        pool = client.connection_pool
        self._client = redis.asyncio.Redis(connection_pool=pool.__class__(
            connection_class=pool.connection_class, **pubsub_connection_kwargs(client)))
        self._changes: list[tuple[str, str]] = []
        self._stopping = asyncio.Event()
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def subscribe(self, channel: str, handler: Callable[..., Any]) -> "Subscriber":
        self.channels[channel] = handler
        self._changes.append(("subscribe", channel))
        return self

    def psubscribe(self, pattern: str, handler: Callable[..., Any]) -> "Subscriber":
        self.patterns[pattern] = handler
        self._changes.append(("psubscribe", pattern))
        return self

    def unsubscribe(self, channel: str) -> None:
        self.channels.pop(channel, None)
        self._changes.append(("unsubscribe", channel))

    def punsubscribe(self, pattern: str) -> None:
        self.patterns.pop(pattern, None)
        self._changes.append(("punsubscribe", pattern))

    def start(self) -> "Subscriber":
        self._task = asyncio.create_task(self.run(), name="subscriber")
        return self

    async def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pass
        await self._client.aclose()

    async def run(self) -> None:
        while not self._stopping.is_set():
            ps = self._client.pubsub()
            try:
                await self._connect(ps)
                gap = self.healed()
                if gap is not None:  # before "connected": let the app resync first
                    log.warning("pub/sub gap of %.3fs healed", gap.duration)
                    await self._call(self.on_gap, gap)
                self.connected.set()
                await self._pump(ps)
            except _BROKEN as exc:
                self.connected.clear()
                self.broken(exc)
                try:
                    await asyncio.wait_for(self._stopping.wait(), backoff(
                        self._attempts - 1, self.backoff_base, self.backoff_cap))
                except asyncio.TimeoutError:
                    pass
            finally:
                try:
                    await ps.aclose()
                except Exception:
                    pass
        self.connected.clear()

    async def _connect(self, ps: Any) -> None:
        while not self.channels and not self.patterns:
            if self._stopping.is_set():
                return
            await asyncio.sleep(0.05)
        self._changes.clear()
        channels, patterns = list(self.channels), list(self.patterns)
        if channels:
            await ps.subscribe(*channels)
        if patterns:
            await ps.psubscribe(*patterns)
        self.reset_connection_state()
        expected = len(channels) + len(patterns)
        deadline = time.monotonic() + self.hc_timeout
        while expected > 0:
            if time.monotonic() > deadline:
                raise HealthCheckFailed("subscriptions not confirmed in time")
            msg = await ps.get_message(timeout=0.05)
            if msg and msg["type"] in ("subscribe", "psubscribe"):
                expected -= 1
            elif msg:
                await self._dispatch(msg)

    async def _pump(self, ps: Any) -> None:
        while not self._stopping.is_set():
            while self._changes:
                kind, name = self._changes.pop(0)
                await getattr(ps, kind)(name)
            token = self.ping_due()
            if token:
                await ps.ping(token)
            self.check_overdue()
            msg = await ps.get_message(timeout=0.05)
            if msg is not None and not self.is_pong(msg):
                await self._dispatch(msg)

    async def _dispatch(self, msg: dict[str, Any]) -> None:
        routed = self.route(msg)
        if routed is None:
            return
        handler, message = routed
        self.received += 1
        if handler is not None:
            await self._call(handler, message)

    async def _call(self, fn: Callable[..., Any] | None, arg: Any) -> None:
        if fn is None:
            return
        try:
            result = fn(arg)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            log.exception("subscriber callback failed")
            if self.on_error is not None:
                try:
                    result = self.on_error(exc)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    log.exception("subscriber on_error callback failed")
