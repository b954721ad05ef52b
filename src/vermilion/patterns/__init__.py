"""Reliable messaging and coordination patterns for any Redis-protocol server.

Built on redis-py only: the same code runs on embedded Vermilion, on Redis or
Valkey, and (every pattern keeps the keys it updates together under one hash
tag) on Redis Cluster. This module is the blocking face, on ``redis.Redis``;
``vermilion.patterns.aio`` has the same names on ``redis.asyncio.Redis``.

See docs/patterns.md for what each pattern guarantees and what it does not.
"""

from ._pubsub_core import Gap, Message
from .errors import (LockError, LockLost, LockNotAcquired, LockNotOwned, LockNotReplicated, PatternError, Retry,
                     Unrecoverable)
from .synchronized import synchronized
from .leaderboard import Entry, Leaderboard, RotatingLeaderboard, Standing
from .lock import FencedStore, Lock
from .pubsub import Subscriber
from .ratelimit import RateLimiter, RateLimitResult
from .redlock import Lease, Redlock, RedlockResult
from .semaphore import ReadWriteLock, Semaphore
from .sessions import SessionStore
from .streams import (DeadLetter, DeadLetters, StreamEntry, StreamProducer, StreamWorker,
                      WorkerMetrics)

__all__ = [
    "Lock", "FencedStore", "Redlock", "Lease", "RedlockResult", "Semaphore", "ReadWriteLock",
    "StreamWorker", "StreamProducer", "DeadLetters", "StreamEntry", "DeadLetter", "WorkerMetrics",
    "RateLimiter", "RateLimitResult", "SessionStore",
    "Leaderboard", "RotatingLeaderboard", "Entry", "Standing",
    "Subscriber", "Message", "Gap",
    "PatternError", "LockError", "LockNotAcquired", "LockLost", "LockNotOwned",
    "LockNotReplicated",
    "Retry", "Unrecoverable", "synchronized",
]
