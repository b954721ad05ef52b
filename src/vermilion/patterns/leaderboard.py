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

Member data (``add(..., data={...})``, ``member_data``) lives in a hash beside
the board, ``<board key>:data``: written in the same script as the score, only
for members on the board, removed with the member or the board, and always
expiring with the board.

Merging (``merge``) runs ZUNIONSTORE/ZINTERSTORE with weights; on Redis
Cluster the boards merged must share a hash tag (name them ``"{game}:daily"``,
``"{game}:weekly"``, ...).

Rotating boards (``RotatingLeaderboard``) keep one key per UTC day or ISO week,
all sharing the board's hash tag, each expiring ``keep`` periods after its
period ends; the expiry is set in the same script as every write.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from . import _scripts as S
from ._ops import Steps, SyncFace, call, op
from ._util import colocated, has_hash_tag, tagged, to_str

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


def _flags(gt: bool, lt: bool, nx: bool, xx: bool) -> str:
    if gt and lt:
        raise ValueError("gt and lt exclude each other")
    return " ".join(f for f, on in (("GT", gt), ("LT", lt), ("NX", nx), ("XX", xx)) if on)


def _entries(pairs: Iterable[Any], first: int) -> list[Entry]:
    return [Entry(to_str(m) or "", float(s), first + i + 1) for i, (m, s) in enumerate(pairs)]


def _bound(x: float | str) -> str:
    if isinstance(x, str) and x in ("-inf", "+inf", "inf"):
        return x
    v = float(x)
    return repr(v) if math.isfinite(v) else ("+inf" if v > 0 else "-inf")


class LeaderboardCore:
    __doc__ = __doc__

    def __init__(self, client: Any, name: str, *, descending: bool = True,
                 key: str | None = None, expire_at_ms: int = 0):
        self.client = client
        self.name = name
        self.key = key or tagged("leaderboard:", name)
        self.data_key = (self.key + ":data" if has_hash_tag(self.key)
                         else colocated(self.key, ":data"))
        self.descending = descending
        self.expire_at_ms = expire_at_ms  # set by rotating boards

    def _keys(self) -> list[str]:
        return [self.key, self.data_key]

    def _add(self, mode: str, flags: str, pairs: Sequence[Any],
             data: Mapping[str, Any] | None = None) -> Steps[Any]:
        flat = [x for m, d in (data or {}).items() for x in (m, json.dumps(d))]
        args = [self.expire_at_ms, flags, mode, len(flat) // 2, *flat, *pairs]
        return (yield S.LEADERBOARD_ADD(self._keys(), args))

    @op
    def add(self, member: str, score: float, *, data: Any = None, gt: bool = False,
            lt: bool = False, nx: bool = False, xx: bool = False) -> Steps[float | None]:
        """Set a score (``gt``: only if higher, ``lt``: only if lower, ``nx``: only
        new members, ``xx``: only existing) and optionally the member's data (any
        JSON value); returns the member's score afterwards."""
        r = yield from self._add("score", _flags(gt, lt, nx, xx), [score, member],
                                 None if data is None else {member: data})
        return None if r is None else float(r)

    @op
    def add_many(self, scores: Mapping[str, float], *, data: Mapping[str, Any] | None = None,
                 gt: bool = False, lt: bool = False, nx: bool = False,
                 xx: bool = False) -> Steps[int]:
        """Set many scores (and data, by member) at once; returns how many members are new."""
        pairs = [x for m, s in scores.items() for x in (s, m)]
        return int((yield from self._add("count", _flags(gt, lt, nx, xx), pairs, data)))

    @op
    def incr(self, member: str, amount: float = 1, *, gt: bool = False,
             lt: bool = False) -> Steps[float | None]:
        """Add ``amount``; returns the new score, or None when ``gt``/``lt`` refused it."""
        r = yield from self._add("incr", _flags(gt, lt, False, False), [amount, member])
        return None if r is None else float(r)

    @op
    def score(self, member: str) -> Steps[float | None]:
        r = yield call("zscore", self.key, member)
        return None if r is None else float(r)

    @op
    def remove(self, *members: str) -> Steps[int]:
        """Remove members and their data; how many were on the board."""
        return int((yield S.LEADERBOARD_REMOVE(self._keys(), members)))

    @op
    def size(self) -> Steps[int]:
        return int((yield call("zcard", self.key)))

    # -- member data -------------------------------------------------------------------

    @op
    def set_member_data(self, member: str, data: Any) -> Steps[bool]:
        """Store ``data`` (any JSON value) for a member on the board; False if it is not."""
        r = yield S.LEADERBOARD_SET_DATA(self._keys(), [member, json.dumps(data)])
        return bool(r)

    @op
    def member_data(self, member: str) -> Steps[Any]:
        raw = yield call("hget", self.data_key, member)
        return None if raw is None else json.loads(raw)

    @op
    def members_data(self, members: Sequence[str]) -> Steps[dict[str, Any]]:
        raws = yield call("hmget", self.data_key, list(members))
        return {m: None if v is None else json.loads(v) for m, v in zip(members, raws)}

    # -- reading -----------------------------------------------------------------------

    def _range(self, start: int, stop: int) -> Steps[list[Entry]]:
        pairs = yield call("zrange", self.key, start, stop, desc=self.descending, withscores=True)
        return _entries(pairs, start)

    @op
    def top(self, n: int = 10) -> Steps[list[Entry]]:
        return (yield from self._range(0, n - 1))

    @op
    def page(self, page: int, per_page: int = 20) -> Steps[list[Entry]]:
        """Page ``page`` (1-based) of ``per_page`` entries."""
        if page < 1:
            raise ValueError("pages start at 1")
        first = (page - 1) * per_page
        return (yield from self._range(first, first + per_page - 1))

    @op
    def total_pages(self, per_page: int = 20) -> Steps[int]:
        if per_page < 1:
            raise ValueError("per_page must be >= 1")
        return math.ceil(int((yield call("zcard", self.key))) / per_page)

    @op
    def page_for(self, member: str, per_page: int = 20) -> Steps[int | None]:
        """The page (1-based) ``member`` is on; None if not on the board."""
        if per_page < 1:
            raise ValueError("per_page must be >= 1")
        pos = yield call("zrevrank" if self.descending else "zrank", self.key, member)
        return None if pos is None else int(pos) // per_page + 1

    @op
    def ranked_in_list(self, members: Sequence[str]) -> Steps[list[Entry | None]]:
        """Score and standard rank of each member, in the order given (None when
        absent), read in one step."""
        if not members:
            return []
        r = yield S.LEADERBOARD_RANKED_IN_LIST([self.key], [int(self.descending), *members])
        return [None if int(pos) < 0 else Entry(m, float(s), int(pos) + 1)
                for m, (s, pos) in zip(members, r)]

    @op
    def range_by_score(self, low: float | str, high: float | str, *, offset: int = 0,
                       count: int | None = None) -> Steps[list[Entry]]:
        """Members scoring between ``low`` and ``high`` (inclusive, ``"-inf"``/``"+inf"``
        allowed), in board order, with their standard ranks."""
        r = yield S.LEADERBOARD_SCORE_RANGE([self.key], [
            _bound(low), _bound(high), int(offset), -1 if count is None else int(count),
            int(self.descending)])
        first, flat = int(r[0]), r[1:]
        return _entries(zip(flat[::2], flat[1::2]), first)

    @op
    def count_between(self, low: float | str, high: float | str) -> Steps[int]:
        return int((yield call("zcount", self.key, _bound(low), _bound(high))))

    @op
    def standing(self, member: str, *, dense: bool = False) -> Steps[Standing | None]:
        """Score, all ranks and percentile of ``member`` (None if absent)."""
        r = yield S.LEADERBOARD_RANK([self.key], [member, int(self.descending), int(dense)])
        if r is None:
            return None
        score, pos, better, equal, total, distinct = r
        return Standing(member, float(score), pos + 1, better + 1,
                        distinct + 1 if distinct >= 0 else None, total,
                        percentile_rank(better, equal, total))

    @op
    def rank(self, member: str, method: str = "standard") -> Steps[int | None]:
        """1-based rank under ``method`` (see the module doc for tie rules)."""
        if method not in RANK_METHODS:
            raise ValueError(f"method must be one of {RANK_METHODS}")
        r = yield S.LEADERBOARD_RANK([self.key], [member, int(self.descending),
                                                  int(method == "dense")])
        if r is None:
            return None
        _, pos, better, _, _, distinct = r
        ranks = {"standard": pos + 1, "competition": better + 1, "dense": distinct + 1}
        return int(ranks[method])

    @op
    def percentile(self, member: str) -> Steps[float | None]:
        r = yield S.LEADERBOARD_RANK([self.key], [member, int(self.descending), 0])
        return None if r is None else percentile_rank(r[2], r[3], r[4])

    @op
    def around(self, member: str, n: int = 2) -> Steps[list[Entry]]:
        """Up to ``n`` entries on each side of ``member``, and the member itself."""
        r = yield S.LEADERBOARD_AROUND([self.key], [member, n, int(self.descending)])
        if r is None:
            return []
        first, flat = r[0], r[1:]
        return _entries(zip(flat[::2], flat[1::2]), first)

    # -- the board as a whole ----------------------------------------------------------------

    @op
    def merge(self, sources: Sequence["LeaderboardCore"], *,
              weights: Sequence[float] | None = None, aggregate: str = "sum",
              how: str = "union") -> Steps[int]:
        """Replace this board with the union (``how="union"``) or intersection
        (``"intersection"``) of ``sources`` (this board may be one of them), each
        source's scores multiplied by its weight and combined by ``aggregate``
        (sum, min, max). Member data follows. Returns the new size."""
        if how not in ("union", "intersection"):
            raise ValueError("how must be 'union' or 'intersection'")
        if aggregate.lower() not in ("sum", "min", "max"):
            raise ValueError("aggregate must be sum, min or max")
        if not sources:
            raise ValueError("nothing to merge")
        if weights is not None and len(weights) != len(sources):
            raise ValueError("one weight per source")
        keys = self._keys() + [k for b in sources for k in b._keys()]
        args = ["union" if how == "union" else "inter", aggregate.upper(), self.expire_at_ms,
                *(weights or ())]
        return int((yield S.LEADERBOARD_MERGE(keys, args)))

    @op
    def delete(self) -> Steps[bool]:
        """Delete the board and its member data; True if it existed."""
        return bool((yield call("delete", *self._keys())))

    @op
    def expire(self, seconds: float) -> Steps[bool]:
        """Give the board (and its member data) a TTL; False if there is no board."""
        return bool((yield S.LEADERBOARD_EXPIRE(self._keys(), [max(1, int(seconds * 1000))])))

    @op
    def ttl(self) -> Steps[float | None]:
        """Seconds left before the board expires; None without a TTL or a board."""
        left = int((yield call("pttl", self.key)))
        return None if left < 0 else left / 1000


class Leaderboard(LeaderboardCore, SyncFace):
    __doc__ = LeaderboardCore.__doc__  # type: ignore[assignment]


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

    board_class: Any = None  # set by each face

    def __init__(self, client: Any, name: str, *, period: str = "daily", keep: int = 1,
                 descending: bool = True, clock: Callable[[], dt.datetime] | None = None):
        period_bounds(period, dt.datetime.now(dt.timezone.utc))  # validates ``period``
        self.client = client
        self.name, self.period, self.keep, self.descending = name, period, keep, descending
        self.base = tagged("leaderboard:", name)
        self.clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))

    def at(self, when: dt.datetime) -> Any:
        """The board of the period containing ``when`` (UTC)."""
        label, end = period_bounds(self.period, when)
        expire = end + self.keep * _PERIODS[self.period]
        return self.board_class(self.client, self.name, descending=self.descending,
                                key=f"{self.base}:{label}",
                                expire_at_ms=int(expire.timestamp() * 1000))

    def current(self) -> Any:
        return self.at(self.clock())

    def previous(self, n: int = 1) -> Any:
        return self.at(self.clock() - n * _PERIODS[self.period])


class RotatingLeaderboard(RotatingLeaderboardCore):
    __doc__ = RotatingLeaderboardCore.__doc__
    board_class = Leaderboard
