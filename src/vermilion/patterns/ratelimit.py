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

Several limits at once, written as the ``limits`` package writes them
(``RateLimiter(r, "api", "10/second;100/minute;1000/hour")``), are checked and
consumed in the same script: a request passes only if it fits every limit,
and is then counted against all of them.

Each identity's keys are ``<prefix>{<name>:<identity>}`` (one limit) or that
followed by ``:<limit>/<window µs>`` (a limit string): their own hash tag, so
a check works on Redis Cluster and identities spread over the cluster instead
of piling onto one slot.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from . import _scripts as S
from ._ops import Steps, SyncFace, call, op
from ._util import new_token, tagged
from .errors import PatternError

STRATEGIES = ("sliding_log", "sliding_window", "gcra", "fixed_window")
HEADER_STYLES = ("draft", "legacy", "ietf")

# The units of the ``limits`` package (a month is 30 days, a year 12 such months).
_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "month": 30 * 86400,
          "year": 12 * 30 * 86400}
_ITEM = re.compile(r"\s*([0-9]+)\s*(?:/|per)\s*([0-9]+)?\s*([a-z]+?)s?\s*", re.IGNORECASE)
_SEPARATORS = re.compile(r"[;,|]")


class RateLimitParseError(ValueError, PatternError):
    """A limit string that does not read as ``<count>/<unit>`` items."""


@dataclass(frozen=True)
class Limit:
    """One limit: ``amount`` units per ``window`` seconds (``text`` as written)."""

    amount: int
    window: float
    text: str

    @property
    def slug(self) -> str:
        return f"{self.amount}/{int(self.window * 1e6)}"


def parse_limits(text: str) -> list[Limit]:
    """``"10/second;100/minute;1000 per 2 hours"`` -> a list of ``Limit``.

    Items are separated by ``;``, ``,`` or ``|``; each is ``<count>/<unit>``,
    ``<count> per <unit>`` or with a multiplier, ``<count>/<n> <unit>``; units
    are second, minute, hour, day, month, year (plurals allowed)."""
    if not isinstance(text, str) or not text.strip():
        raise RateLimitParseError(f"empty rate limit string {text!r}")
    out = []
    for part in _SEPARATORS.split(text):
        m = _ITEM.fullmatch(part)
        unit = m.group(3).lower() if m else ""
        if not m or unit not in _UNITS:
            raise RateLimitParseError(
                f"cannot parse rate limit {part.strip()!r} in {text!r}: expected "
                "'<count>/<unit>', '<count> per <unit>' or '<count>/<n> <unit>' with unit one "
                f"of {', '.join(_UNITS)} (items separated by ';')")
        amount, multiple = int(m.group(1)), int(m.group(2) or 1)
        if amount < 1 or multiple < 1:
            raise RateLimitParseError(f"rate limit {part.strip()!r} in {text!r} must be positive")
        out.append(Limit(amount, float(multiple * _UNITS[unit]), part.strip()))
    return out


@dataclass(frozen=True)
class RateLimitResult:
    allowed: bool
    limit: int
    remaining: int  # units still available now (after this request if allowed)
    retry_after: float  # seconds until this request would be allowed; 0 if allowed, inf if never
    reset_after: float  # seconds until the limiter is back to its full allowance
    window: float = 0.0  # the limit's window in seconds
    #: one result per limit when several were checked (the fields above are the
    #: binding one's: the refusing limit with the longest wait, else the tightest)
    limits: tuple["RateLimitResult", ...] = field(default=(), compare=False)
    checked_at: float = field(default_factory=time.time, compare=False)  # epoch seconds

    def __bool__(self) -> bool:
        return self.allowed

    @property
    def reset_at(self) -> float:
        """Epoch seconds at which the limiter is back to its full allowance."""
        return self.checked_at + self.reset_after

    def headers(self, style: str = "draft") -> dict[str, str]:
        """HTTP headers for this result.

        ``draft``: ``RateLimit-Limit/Remaining/Reset`` (reset in seconds from now);
        ``legacy``: ``X-RateLimit-Limit/Remaining/Reset`` (reset as epoch seconds,
        as GitHub, Flask-Limiter and slowapi send them); ``ietf``: the structured
        ``RateLimit`` and ``RateLimit-Policy`` fields of the IETF httpapi draft,
        with a policy per limit. All add ``Retry-After`` to a refusal.
        """
        if style == "draft":
            h = {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(self.remaining),
                 "RateLimit-Reset": str(math.ceil(self.reset_after))}
        elif style == "legacy":
            h = {"X-RateLimit-Limit": str(self.limit),
                 "X-RateLimit-Remaining": str(self.remaining),
                 "X-RateLimit-Reset": str(math.ceil(self.reset_at))}
        elif style == "ietf":
            each = self.limits or (self,)
            h = {"RateLimit-Policy": ", ".join(
                     f'"{_policy(x)}";q={x.limit};w={math.ceil(x.window)}' for x in each),
                 "RateLimit": f'"{_policy(self)}";r={self.remaining};'
                              f't={math.ceil(self.reset_after)}'}
        else:
            raise ValueError(f"header style must be one of {HEADER_STYLES}")
        if not self.allowed and math.isfinite(self.retry_after):
            h["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return h


def _policy(r: RateLimitResult) -> str:
    return f"{r.limit}-per-{math.ceil(r.window)}s"


def parse_result(limit: int, reply: Sequence[Any], window: float = 0.0) -> RateLimitResult:
    allowed, remaining, retry_us, reset_us = (int(x) for x in reply)
    return RateLimitResult(
        allowed=bool(allowed), limit=limit, remaining=max(0, remaining),
        retry_after=math.inf if retry_us < 0 else retry_us / 1e6,
        reset_after=max(0, reset_us) / 1e6, window=window)


def combine(results: list[RateLimitResult]) -> RateLimitResult:
    """The result of several limits checked together (see ``RateLimitResult.limits``)."""
    if len(results) == 1:
        return results[0]
    allowed = all(r.allowed for r in results)
    if allowed:
        bind = min(results, key=lambda r: (r.remaining, -r.reset_after))
        retry = 0.0
    else:
        refused = [r for r in results if not r.allowed]
        bind = max(refused, key=lambda r: r.retry_after)
        retry = bind.retry_after
    return RateLimitResult(allowed, bind.limit, bind.remaining, retry, bind.reset_after,
                           bind.window, tuple(results), bind.checked_at)


class RateLimitExceeded(PatternError):
    """Raised by ``rate_limited`` functions; ``result`` says when to retry."""

    def __init__(self, result: RateLimitResult):
        super().__init__(f"rate limit exceeded ({result.limit} per {result.window:g}s); "
                         f"retry after {result.retry_after:.3f}s")
        self.result = result


class RateLimiterCore:
    """``RateLimiter(client, "api", limit=100, window=60)``; ``hit(user_id)``.

    ``limit`` may instead be a string of one or more limits,
    ``"10/second;100/minute"`` (then no ``window``). ``burst`` (GCRA only) is how
    many units may pass at once; default: each limit's count.
    """

    def __init__(self, client: Any, name: str, limit: int | str, window: float | None = None,
                 *, strategy: str = "sliding_window", burst: int | None = None,
                 prefix: str = "ratelimit:"):
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; one of {sorted(STRATEGIES)}")
        if isinstance(limit, str):
            if window is not None:
                raise ValueError("a limit string carries its own windows: leave window out")
            self.limits = parse_limits(limit)
            self._suffixed = True
        else:
            if window is None or limit < 1 or window <= 0:
                raise ValueError("limit must be >= 1 and window > 0")
            self.limits = [Limit(int(limit), float(window), f"{int(limit)}/{window:g}s")]
            self._suffixed = False
        self.client = client
        self.name = name
        self.limit, self.window = self.limits[0].amount, self.limits[0].window
        self.strategy = strategy
        self.burst = burst
        self.prefix = prefix

    def keys(self, identity: str) -> list[str]:
        base = tagged(self.prefix, f"{self.name}:{identity}")
        if not self._suffixed:
            return [base]
        return [f"{base}:{lim.slug}" for lim in self.limits]

    def key(self, identity: str) -> str:
        """The key of the first limit (the only one for a single limit)."""
        return self.keys(identity)[0]

    def _check(self, identity: str, cost: int, mode: str) -> Steps[RateLimitResult]:
        if cost < 1:
            raise ValueError("cost must be >= 1")
        args: list[Any] = [mode, int(cost), new_token()]
        for lim in self.limits:
            burst = self.burst if self.burst is not None else lim.amount
            args += [self.strategy, lim.amount, int(lim.window * 1e6), int(burst)]
        reply = yield S.RATE_LIMIT(self.keys(identity), args)
        results = [parse_result(lim.amount, r, lim.window) for lim, r in zip(self.limits, reply)]
        return combine(results)

    @op
    def hit(self, identity: str, cost: int = 1) -> Steps[RateLimitResult]:
        """Count a request of weight ``cost`` for ``identity`` if it fits every
        limit; say whether it did."""
        return (yield from self._check(identity, cost, "hit"))

    @op
    def peek(self, identity: str, cost: int = 1) -> Steps[RateLimitResult]:
        """What ``hit`` would answer now, recording nothing; ``remaining`` is what
        is left before the request."""
        return (yield from self._check(identity, cost, "peek"))

    @op
    def test(self, identity: str, cost: int = 1) -> Steps[bool]:
        """Would a request of weight ``cost`` pass now? Records nothing."""
        return (yield from self._check(identity, cost, "peek")).allowed

    @op
    def reset(self, identity: str) -> Steps[None]:
        """Forget everything recorded for ``identity``."""
        yield call("delete", *self.keys(identity))


class RateLimiter(RateLimiterCore, SyncFace):
    __doc__ = RateLimiterCore.__doc__
