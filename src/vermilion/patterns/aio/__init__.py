"""The asyncio face of ``vermilion.patterns``: same names, same semantics, on
``redis.asyncio.Redis``; every method that talks to the server is a coroutine."""

from .._ops import AsyncFace
from .._pubsub_core import Gap, Message
from ..errors import (LockError, LockLost, LockNotAcquired, LockNotOwned, PatternError, Retry,
                      Unrecoverable)
from ..synchronized import synchronized
from ..leaderboard import Entry, LeaderboardCore, RotatingLeaderboardCore, Standing
from ..ratelimit import RateLimiterCore, RateLimitResult
from ..redlock import RedlockResult
from ..sessions import SessionStoreCore
from .lock import FencedStore, Lock
from .pubsub import Subscriber
from .redlock import Lease, Redlock
from .semaphore import ReadWriteLock, Semaphore
from .streams import (DeadLetter, DeadLetters, StreamEntry, StreamProducer, StreamWorker,
                      WorkerMetrics)


class RateLimiter(RateLimiterCore, AsyncFace):
    __doc__ = RateLimiterCore.__doc__


class SessionStore(SessionStoreCore, AsyncFace):
    __doc__ = SessionStoreCore.__doc__  # type: ignore[assignment]


class Leaderboard(LeaderboardCore, AsyncFace):
    __doc__ = LeaderboardCore.__doc__  # type: ignore[assignment]


class RotatingLeaderboard(RotatingLeaderboardCore):
    __doc__ = RotatingLeaderboardCore.__doc__
    board_class = Leaderboard


__all__ = [
    "Lock", "FencedStore", "Redlock", "Lease", "RedlockResult", "Semaphore", "ReadWriteLock",
    "StreamWorker", "StreamProducer", "DeadLetters", "StreamEntry", "DeadLetter", "WorkerMetrics",
    "RateLimiter", "RateLimitResult", "SessionStore",
    "Leaderboard", "RotatingLeaderboard", "Entry", "Standing",
    "Subscriber", "Message", "Gap",
    "PatternError", "LockError", "LockLost", "LockNotAcquired", "LockNotOwned",
    "Retry", "Unrecoverable", "synchronized",
]
