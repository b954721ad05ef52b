"""Pure parts of the Subscriber shared by both faces: routing, gaps, health checks."""

from __future__ import annotations

import time
from typing import Any, Callable
from dataclasses import dataclass

from redis.backoff import NoBackoff
from redis.retry import Retry

from ._util import new_token, to_str


class HealthCheckFailed(ConnectionError):
    """The server did not answer our PING in time: treat the connection as dead."""


@dataclass(frozen=True)
class Message:
    channel: str
    data: object  # as the client decodes it
    pattern: str | None = None  # the pattern that matched, for pattern subscriptions


@dataclass(frozen=True)
class Gap:
    """A period without a working subscription; messages published then were missed."""

    started_at: float  # wall-clock time the connection was found broken
    ended_at: float  # wall-clock time we were subscribed again
    attempts: int  # reconnection attempts it took
    error: str

    @property
    def duration(self) -> float:
        return self.ended_at - self.started_at


def pubsub_connection_kwargs(client: Any) -> dict[str, Any]:
    """The client's connection settings, without redis-py's own retries.

    redis-py would otherwise reconnect and resubscribe silently, and we could
    neither notice nor report the gap.
    """
    kwargs = dict(client.connection_pool.connection_kwargs)
    kwargs["retry"] = Retry(NoBackoff(), 0)
    kwargs.pop("health_check_interval", None)  # ours waits for the reply
    return kwargs


class SubscriberState:
    """Handlers, health-check bookkeeping and gap tracking of one subscriber."""

    def __init__(self, *, on_gap: Callable[..., Any] | None = None,
                 on_error: Callable[..., Any] | None = None, health_check_interval: float = 5.0,
                 health_check_timeout: float = 2.0, backoff_base: float = 0.1,
                 backoff_cap: float = 5.0):
        self.channels: dict[str, Any] = {}
        self.patterns: dict[str, Any] = {}
        self.on_gap, self.on_error = on_gap, on_error
        self.hc_interval, self.hc_timeout = health_check_interval, health_check_timeout
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self.received = 0
        self.reconnects = 0
        self._ping_token: str | None = None
        self._ping_sent = 0.0
        self._last_ping = 0.0
        self._gap_start: float | None = None
        self._gap_error = ""
        self._attempts = 0

    def route(self, msg: dict[str, Any]) -> tuple[Any, Message] | None:
        """(handler, Message) for a pub/sub message dict, or None if it is not data."""
        kind = to_str(msg.get("type"))
        if kind == "message":
            channel = to_str(msg["channel"])
            return self.channels.get(channel), Message(channel, msg["data"])
        if kind == "pmessage":
            pattern = to_str(msg["pattern"])
            return self.patterns.get(pattern), Message(to_str(msg["channel"]), msg["data"], pattern)
        return None

    # health check: PING with a unique payload, answered in order on the same socket

    def ping_due(self) -> str | None:
        t = time.monotonic()
        if self._ping_token is None and t - self._last_ping >= self.hc_interval:
            self._ping_token, self._ping_sent = new_token(), t
            return self._ping_token
        return None

    def is_pong(self, msg: dict[str, Any]) -> bool:
        if to_str(msg.get("type")) != "pong":
            return False
        if to_str(msg.get("data")) == self._ping_token:
            self._ping_token, self._last_ping = None, time.monotonic()
        return True

    def check_overdue(self) -> None:
        if self._ping_token and time.monotonic() - self._ping_sent > self.hc_timeout:
            raise HealthCheckFailed(f"no PONG within {self.hc_timeout}s")

    def reset_connection_state(self) -> None:
        self._ping_token, self._last_ping = None, time.monotonic()

    # gaps

    def broken(self, exc: BaseException) -> None:
        if self._gap_start is None:
            self._gap_start, self._gap_error = time.time(), f"{type(exc).__name__}: {exc}"
        self._attempts += 1

    def healed(self) -> Gap | None:
        if self._gap_start is None:
            self._attempts = 0
            return None
        gap = Gap(self._gap_start, time.time(), self._attempts, self._gap_error)
        self._gap_start, self._attempts = None, 0
        self.reconnects += 1
        return gap
