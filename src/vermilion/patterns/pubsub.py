"""A pub/sub subscriber that survives disconnections, and says what it missed.

Pub/sub delivers only to connected subscribers: a message published while the
connection is down is gone. This subscriber cannot change that, but it:

* reconnects with exponential backoff and jitter and resubscribes to every
  channel and pattern (waiting for the server's confirmations);
* detects dead connections that TCP would not report for minutes (a frozen
  server, a silently dropped link) with a PING whose PONG it waits for;
* reports each outage through ``on_gap(Gap)`` once it is subscribed again, so
  the application can resynchronise from a durable source (a stream, a table).

Handlers run one at a time, in the subscriber's thread (or task), in order.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any, Callable

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ._pubsub_core import Gap, HealthCheckFailed, Message, SubscriberState, pubsub_connection_kwargs
from ._util import backoff

log = logging.getLogger(__name__)

__all__ = ["Subscriber", "Message", "Gap"]

_BROKEN = (RedisConnectionError, RedisTimeoutError, OSError, HealthCheckFailed)


class Subscriber(SubscriberState):
    """``Subscriber(r, on_gap=...)``; ``.subscribe("orders", fn)``; ``.psubscribe("orders.*", fn)``;
    ``.start()`` runs it in a daemon thread; ``.stop()``. Handlers get a ``Message``."""

    def __init__(self, client: redis.Redis, **options: Any):
        super().__init__(**options)
        pool = client.connection_pool
        self._client = redis.Redis(connection_pool=pool.__class__(
            connection_class=pool.connection_class, **pubsub_connection_kwargs(client)))
        self._changes: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self.connected = threading.Event()  # set while subscribed
        self._thread: threading.Thread | None = None

    # ---- subscriptions (any thread, before or after start)

    def subscribe(self, channel: str, handler: Callable[..., Any]) -> "Subscriber":
        self.channels[channel] = handler
        self._changes.put(("subscribe", channel))
        return self

    def psubscribe(self, pattern: str, handler: Callable[..., Any]) -> "Subscriber":
        self.patterns[pattern] = handler
        self._changes.put(("psubscribe", pattern))
        return self

    def unsubscribe(self, channel: str) -> None:
        self.channels.pop(channel, None)
        self._changes.put(("unsubscribe", channel))

    def punsubscribe(self, pattern: str) -> None:
        self.patterns.pop(pattern, None)
        self._changes.put(("punsubscribe", pattern))

    # ---- lifecycle

    def start(self) -> "Subscriber":
        self._thread = threading.Thread(target=self.run, name="subscriber", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._client.close()

    def run(self) -> None:
        while not self._stopping.is_set():
            ps = self._client.pubsub()
            try:
                self._connect(ps)
                gap = self.healed()
                if gap is not None:  # before "connected": let the app resync first
                    log.warning("pub/sub gap of %.3fs healed", gap.duration)
                    self._call(self.on_gap, gap)
                self.connected.set()
                self._pump(ps)
            except _BROKEN as exc:
                self.connected.clear()
                self.broken(exc)
                self._stopping.wait(backoff(self._attempts - 1, self.backoff_base, self.backoff_cap))
            finally:
                try:
                    ps.close()
                except Exception:
                    pass
        self.connected.clear()

    # ---- internals

    def _connect(self, ps: Any) -> None:
        """Subscribe to everything and wait until the server confirmed it all."""
        while not self.channels and not self.patterns:  # nothing to listen to yet
            if self._stopping.wait(0.05):
                return
        self._drain_changes()
        channels, patterns = list(self.channels), list(self.patterns)
        if channels:
            ps.subscribe(*channels)
        if patterns:
            ps.psubscribe(*patterns)
        self.reset_connection_state()
        expected = len(channels) + len(patterns)
        deadline = time.monotonic() + self.hc_timeout
        while expected > 0:
            if time.monotonic() > deadline:
                raise HealthCheckFailed("subscriptions not confirmed in time")
            msg = ps.get_message(timeout=0.05)
            if msg and msg["type"] in ("subscribe", "psubscribe"):
                expected -= 1
            elif msg:
                self._dispatch(msg)

    def _pump(self, ps: Any) -> None:
        while not self._stopping.is_set():
            self._apply_changes(ps)
            token = self.ping_due()
            if token:
                ps.ping(token)
            self.check_overdue()
            msg = ps.get_message(timeout=0.05)
            if msg is not None and not self.is_pong(msg):
                self._dispatch(msg)

    def _drain_changes(self) -> None:
        try:
            while True:
                self._changes.get_nowait()
        except queue.Empty:
            pass

    def _apply_changes(self, ps: Any) -> None:
        try:
            while True:
                kind, name = self._changes.get_nowait()
                getattr(ps, kind)(name)
        except queue.Empty:
            pass

    def _dispatch(self, msg: dict[str, Any]) -> None:
        routed = self.route(msg)
        if routed is None:
            return
        handler, message = routed
        self.received += 1
        if handler is not None:
            self._call(handler, message)

    def _call(self, fn: Callable[..., Any] | None, arg: Any) -> None:
        if fn is None:
            return
        try:
            fn(arg)
        except Exception as exc:
            log.exception("subscriber callback failed")
            if self.on_error is not None:
                self.on_error(exc)
