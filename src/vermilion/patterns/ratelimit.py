"""Rate limiters: sliding log, sliding-window counter, GCRA and fixed window.

Every check is one Lua script, so check-and-record is atomic however many
clients hammer the same key, and it reads the *server's* clock, so clients
with skewed clocks agree. A rejected request records nothing (a client that
keeps retrying while limited does not push its own limit further away), and
keys carry a TTL of at most two windows, so idle identities cost nothing.

Which one:

=================  ==========================================  ================
strategy           behaviour                                   memory per key
=================  ==========================================  ================
``sliding_log``    exact: at most ``limit`` in any window       one entry per unit
``sliding_window`` approximate sliding window (weighted         two counters
                   previous window); never above ``limit``
                   if the traffic is uniform, smooth edges
``gcra``           token bucket: bursts up to ``burst``, then  one timestamp
                   one unit every ``window/limit``
``fixed_window``   at most ``limit`` per aligned window; up to  one counter
                   2x at a window edge
=================  ==========================================  ================

Each identity's key is ``<prefix>{<name>:<identity>}``: its own hash tag, so a
check (a single-key script) works on Redis Cluster and identities spread over
the cluster instead of piling onto one slot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from . import _scripts as S
from ._ops import SyncFace, call, op
from ._util import new_token, tagged

STRATEGIES = {
    "sliding_log": S.RATE_SLIDING_LOG,
    "sliding_window": S.RATE_SLIDING_WINDOW,
    "gcra": S.RATE_GCRA,
    "fixed_window": S.RATE_FIXED_WINDOW,
}


@dataclass(frozen=True)
class RateLimitResult:
    allowed: bool
    limit: int
    remaining: int  # units still available now (after this request if allowed)
    retry_after: float  # seconds until this request would be allowed; 0 if allowed, inf if never
    reset_after: float  # seconds until the limiter is back to its full allowance

    def __bool__(self):
        return self.allowed

    def headers(self) -> dict[str, str]:
        """Conventional HTTP headers for this result."""
        h = {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(self.remaining),
             "RateLimit-Reset": str(math.ceil(self.reset_after))}
        if not self.allowed and math.isfinite(self.retry_after):
            h["Retry-After"] = str(math.ceil(self.retry_after))
        return h


def parse_result(limit: int, reply) -> RateLimitResult:
    allowed, remaining, retry_us, reset_us = (int(x) for x in reply)
    return RateLimitResult(
        allowed=bool(allowed), limit=limit, remaining=max(0, remaining),
        retry_after=math.inf if retry_us < 0 else retry_us / 1e6,
        reset_after=max(0, reset_us) / 1e6)


class RateLimiterCore:
    """``RateLimiter(client, "api", limit=100, window=60)``; ``hit(user_id)``.

    ``burst`` (GCRA only) is how many units may pass at once; default ``limit``.
    """

    def __init__(self, client, name: str, limit: int, window: float, *,
                 strategy: str = "sliding_window", burst: int | None = None,
                 prefix: str = "ratelimit:"):
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; one of {sorted(STRATEGIES)}")
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.client = client
        self.name, self.limit, self.window = name, int(limit), float(window)
        self.strategy = strategy
        self.burst = int(burst if burst is not None else limit)
        self.prefix = prefix
        self._script = STRATEGIES[strategy]

    def key(self, identity: str) -> str:
        return tagged(self.prefix, f"{self.name}:{identity}")

    @op
    def hit(self, identity: str, cost: int = 1) -> RateLimitResult:
        """Count a request of weight ``cost`` for ``identity`` if it fits; say whether it did."""
        if cost < 1:
            raise ValueError("cost must be >= 1")
        args = [self.limit, int(self.window * 1e6), int(cost)]
        args.append(self.burst if self.strategy == "gcra" else new_token())
        reply = yield self._script([self.key(identity)], args)
        return parse_result(self.limit, reply)

    @op
    def reset(self, identity: str) -> None:
        """Forget everything recorded for ``identity``."""
        yield call("delete", self.key(identity))


class RateLimiter(RateLimiterCore, SyncFace):
    __doc__ = RateLimiterCore.__doc__
