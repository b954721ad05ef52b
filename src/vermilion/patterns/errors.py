"""Exceptions of the patterns library (all importable from ``vermilion.patterns``).

The lock errors subclass redis-py's ``redis.exceptions.LockError``, so code that
already catches redis-py's lock errors keeps working when it switches to ours.
"""

from __future__ import annotations

from typing import Any

import redis.exceptions


class PatternError(Exception):
    """Base class of every error raised by vermilion.patterns."""


class LockError(PatternError, redis.exceptions.LockError):
    """A lock was used the wrong way (e.g. released without being held)."""


class LockNotAcquired(LockError):
    """A blocking acquire gave up; ``result`` holds the last attempt's details if any."""

    def __init__(self, message: str, result: Any = None):
        super().__init__(message)
        self.result = result


class LockNotReplicated(LockError):
    """A lock made with ``min_replicas`` was granted, but fewer replicas than that
    acknowledged the grant within ``replica_timeout`` (WAIT): it could vanish in a
    failover, so it was released again. ``acked`` is how many replicas had it."""

    def __init__(self, message: str, acked: int):
        super().__init__(message)
        self.acked = acked


class LockLost(LockError):
    """The lock expired or was taken while its holder still believed it held it."""


class LockNotOwned(LockLost, redis.exceptions.LockNotOwnedError):
    """Leaving a ``with`` block found the lock no longer ours: the work inside ran
    (at least partly) without mutual exclusion. Raised by ``__exit__`` unless the
    lock was made with ``raise_on_lost=False``."""


# ---- steering a StreamWorker from inside a handler


class HandlerSignal(PatternError):
    """Base of the exceptions a stream handler raises to choose the outcome."""


class Retry(HandlerSignal):
    """Deliver the entry again after ``delay`` seconds (None: the worker's backoff).

    Counts as a failed delivery: after ``max_deliveries`` the entry is dead-lettered
    with ``reason`` recorded.
    """

    def __init__(self, reason: str = "retry requested", *, delay: float | None = None):
        super().__init__(reason)
        self.reason, self.delay = reason, delay


class Unrecoverable(HandlerSignal):
    """Move the entry to the dead-letter stream now, without retries; ``reason``
    is stored in the dead letter's ``error`` field."""

    def __init__(self, reason: str = "unrecoverable"):
        super().__init__(reason)
        self.reason = reason

