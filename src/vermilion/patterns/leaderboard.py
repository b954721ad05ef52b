"""Leaderboards on a sorted set: scores, ranks under three tie rules, pages.

Ranks are 1-based. With scores alice 100, bob 90, carol 90, dave 80
(higher is better):

=============  =========================================  =====================
method         rule                                       alice bob carol dave
=============  =========================================  =====================
``standard``   position in the board; ties are ordered    1     3   2     4
               by member name, descending (as ZREVRANK)
               - unique ranks, like a row number
``competition``  1 + members with a strictly better       1     2   2     4
               score ("1224")
``dense``      1 + distinct better scores ("1223");        1     2   2     3
               costs O(members ranked above)
=============  =========================================  =====================

(For an ascending board, ``descending=False``, ties are ordered by member name
ascending, as ZRANK does.)

``percentile`` is the percentile rank: 100 * (worse + equal/2) / total, where
``equal`` counts the member itself; the best of 4 distinct scores gets 87.5.

Rotating boards (``RotatingLeaderboard``) keep one key per UTC day or ISO week,
all sharing the board's hash tag, each expiring ``keep`` periods after its
period ends; the expiry is set in the same script as every write.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from . import _scripts as S
from ._ops import SyncFace, call, op
from ._util import tagged, to_str

RANK_METHODS = ("standard", "competition", "dense")


@dataclass(frozen=True)
class Entry:
    member: str
    score: float
    rank: int  # standard (positional) rank, 1-based


@dataclass(frozen=True)
class Standing:
    """Everything about one member's place, read in one step."""

    member: str
    score: float
    standard: int
    competition: int
    dense: int | None  # None unless asked for (it costs O(better members))
    total: int
    percentile: float


def percentile_rank(better: int, equal: int, total: int) -> float:
    worse = total - better - equal
    return 100.0 * (worse + equal / 2) / total


def _flags(gt, lt, nx, xx) -> str:
    if gt and lt:
        raise ValueError("gt and lt exclude each other")
    return " ".join(f for f, on in (("GT", gt), ("LT", lt), ("NX", nx), ("XX", xx)) if on)


def _entries(pairs, first: int) -> list[Entry]:
    return [Entry(to_str(m), float(s), first + i + 1) for i, (m, s) in enumerate(pairs)]


class LeaderboardCore:
    __doc__ = __doc__

    def __init__(self, client, name: str, *, descending: bool = True, key: str | None = None,
                 expire_at_ms: int = 0):
        self.client = client
        self.name = name
        self.key = key or tagged("leaderboard:", name)
        self.descending = descending
        self.expire_at_ms = expire_at_ms  # set by rotating boards

    def _add(self, mode, flags, pairs):
        args = [self.expire_at_ms, flags, mode, *pairs]
        return (yield S.LEADERBOARD_ADD([self.key], args))

    @op
    def add(self, member: str, score: float, *, gt=False, lt=False, nx=False, xx=False):
        """Set a score (``gt``: only if higher, ``lt``: only if lower, ``nx``: only
        new members, ``xx``: only existing); returns the member's score afterwards."""
        r = yield from self._add("score", _flags(gt, lt, nx, xx), [score, member])
        return None if r is None else float(r)

    @op
    def add_many(self, scores: dict, *, gt=False, lt=False, nx=False, xx=False) -> int:
        """Set many scores at once; returns how many members are new."""
        pairs = [x for m, s in scores.items() for x in (s, m)]
        return int((yield from self._add("count", _flags(gt, lt, nx, xx), pairs)))

    @op
    def incr(self, member: str, amount: float = 1, *, gt=False, lt=False):
        """Add ``amount``; returns the new score, or None when ``gt``/``lt`` refused it."""
        r = yield from self._add("incr", _flags(gt, lt, False, False), [amount, member])
        return None if r is None else float(r)

    @op
    def score(self, member: str) -> float | None:
        return (yield call("zscore", self.key, member))

    @op
    def remove(self, *members: str) -> int:
        return (yield call("zrem", self.key, *members))

    @op
    def size(self) -> int:
        return (yield call("zcard", self.key))

    def _range(self, start: int, stop: int):
        pairs = yield call("zrange", self.key, start, stop, desc=self.descending, withscores=True)
        return _entries(pairs, start)

    @op
    def top(self, n: int = 10) -> list[Entry]:
        return (yield from self._range(0, n - 1))

    @op
    def page(self, page: int, per_page: int = 20) -> list[Entry]:
        """Page ``page`` (1-based) of ``per_page`` entries."""
        if page < 1:
            raise ValueError("pages start at 1")
        first = (page - 1) * per_page
        return (yield from self._range(first, first + per_page - 1))

    @op
    def standing(self, member: str, *, dense: bool = False) -> Standing | None:
        """Score, all ranks and percentile of ``member`` (None if absent)."""
        r = yield S.LEADERBOARD_RANK([self.key], [member, int(self.descending), int(dense)])
        if r is None:
            return None
        score, pos, better, equal, total, distinct = r
        return Standing(member, float(score), pos + 1, better + 1,
                        distinct + 1 if distinct >= 0 else None, total,
                        percentile_rank(better, equal, total))

    @op
    def rank(self, member: str, method: str = "standard") -> int | None:
        """1-based rank under ``method`` (see the module doc for tie rules)."""
        if method not in RANK_METHODS:
            raise ValueError(f"method must be one of {RANK_METHODS}")
        r = yield S.LEADERBOARD_RANK([self.key], [member, int(self.descending),
                                                  int(method == "dense")])
        if r is None:
            return None
        _, pos, better, _, _, distinct = r
        return {"standard": pos + 1, "competition": better + 1, "dense": distinct + 1}[method]

    @op
    def percentile(self, member: str) -> float | None:
        r = yield S.LEADERBOARD_RANK([self.key], [member, int(self.descending), 0])
        return None if r is None else percentile_rank(r[2], r[3], r[4])

    @op
    def around(self, member: str, n: int = 2) -> list[Entry]:
        """Up to ``n`` entries on each side of ``member``, and the member itself."""
        r = yield S.LEADERBOARD_AROUND([self.key], [member, n, int(self.descending)])
        if r is None:
            return []
        first, flat = r[0], r[1:]
        return _entries(zip(flat[::2], flat[1::2]), first)


class Leaderboard(LeaderboardCore, SyncFace):
    __doc__ = LeaderboardCore.__doc__


# ---------------------------------------------------------------- rotation

_PERIODS = {"daily": dt.timedelta(days=1), "weekly": dt.timedelta(weeks=1)}


def period_bounds(period: str, when: dt.datetime) -> tuple[str, dt.datetime]:
    """(label, UTC end) of the ``period`` containing ``when``: '2024-05-09' or '2024-W19'."""
    when = when.astimezone(dt.timezone.utc) if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
    day = dt.datetime(when.year, when.month, when.day, tzinfo=dt.timezone.utc)
    if period == "daily":
        return day.strftime("%Y-%m-%d"), day + _PERIODS["daily"]
    if period == "weekly":
        monday = day - dt.timedelta(days=day.weekday())
        year, week, _ = monday.isocalendar()
        return f"{year}-W{week:02d}", monday + _PERIODS["weekly"]
    raise ValueError(f"period must be one of {sorted(_PERIODS)}")


class RotatingLeaderboardCore:
    """Daily or weekly boards: ``current()`` is this period's, ``previous(1)`` the last."""

    board_class = None  # set by each face

    def __init__(self, client, name: str, *, period: str = "daily", keep: int = 1,
                 descending: bool = True, clock=None):
        period_bounds(period, dt.datetime.now(dt.timezone.utc))  # validates ``period``
        self.client = client
        self.name, self.period, self.keep, self.descending = name, period, keep, descending
        self.base = tagged("leaderboard:", name)
        self.clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))

    def at(self, when: dt.datetime):
        """The board of the period containing ``when`` (UTC)."""
        label, end = period_bounds(self.period, when)
        expire = end + self.keep * _PERIODS[self.period]
        return self.board_class(self.client, self.name, descending=self.descending,
                                key=f"{self.base}:{label}",
                                expire_at_ms=int(expire.timestamp() * 1000))

    def current(self):
        return self.at(self.clock())

    def previous(self, n: int = 1):
        return self.at(self.clock() - n * _PERIODS[self.period])


class RotatingLeaderboard(RotatingLeaderboardCore):
    __doc__ = RotatingLeaderboardCore.__doc__
    board_class = Leaderboard
