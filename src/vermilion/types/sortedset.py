"""The sorted set: members with double scores, ordered by (score, member bytes).

Two structures, as Redis keeps a dict beside its skiplist:

* ``scores``: member -> score (a float), for ZSCORE and ZADD in O(1);
* ``order``: the *sort keys* in order, for rank, insert, delete and
  range-by-score in O(log n). That is ``vermilion._sortedkeys.SortedKeys`` (C)
  when it is built, else ``sortedcontainers.SortedList``: the C type implements
  the part of SortedList's interface used here, with the same results
  (tests/test_sortedkeys.py), at about a third of the cost per rank lookup.

A sort key is one bytes object: a 9-byte order-preserving encoding of the score
followed by the member. Comparing two keys is then a single memcmp, which is
Redis's order exactly (score first, ties by member bytes, a prefix before its
extensions), and it costs one memory access per comparison instead of the
three a (score, member) tuple needs — on a 1M-member set that halves the time of
a rank lookup. The encoding: non-negative scores are ``b"\\x01"`` + the IEEE
double big-endian (those bytes already sort like the numbers); negative ones are
``b"\\x00"`` + the bytes inverted. -0.0 is encoded as 0.0, so the two compare
equal as in Redis (the dict keeps the sign ZSCORE reports).

Scores are never NaN (the commands refuse NaN input and NaN results).

Lexicographic ranges (ZRANGEBYLEX and friends) are specified by Redis only when
all scores are equal. For small sets (listpack in Redis) this module reproduces
Redis's listpack walk exactly even with mixed scores: the first element, in score
order, that is >= min, then onwards while <= max. For large sets it uses a binary
search, which agrees with that walk whenever the scores are equal.

``big`` records Redis's one-way listpack -> skiplist conversion (OBJECT ENCODING).
"""
from __future__ import annotations

import random
import struct

from sortedcontainers import SortedList

from .._native import native_module

_c_index = native_module("_sortedkeys")
# The ordered index type: bytes keys in byte order, with positions.
OrderedKeys = _c_index.SortedKeys if _c_index is not None else SortedList

_PACK = struct.Struct(">Bd").pack
_UNPACK = struct.Struct(">Bd").unpack
_UNPACK_FROM = struct.Struct(">Bd").unpack_from
_INVERT = bytes(255 - i for i in range(256))
_PREFIX = 9

# A lex bound: (kind, value). Kinds: -inf, +inf, inclusive, exclusive.
LEX_MIN = 0
LEX_MAX = 1
LEX_INCL = 2
LEX_EXCL = 3


_NEG_INF = float("-inf")
_POS_INF = float("inf")


def score_prefix(score: float) -> bytes:
    """The 9 bytes that order scores like Redis (-0.0 == 0.0)."""
    score += 0.0                       # -0.0 + 0.0 is 0.0
    if score >= 0:
        return _PACK(1, score)
    return _PACK(255, score).translate(_INVERT)


def _sort_key(score: float, member: bytes) -> bytes:
    """The sort key of a member: its score's prefix, then the member."""
    return score_prefix(score) + member


# The C build makes the key in one allocation (same bytes; tests/test_sortedkeys.py).
sort_key = _c_index.sort_key if _c_index is not None else _sort_key


def _after(prefix: bytes) -> bytes:
    """The smallest 9-byte prefix greater than `prefix` (every key with it sorts before)."""
    return (int.from_bytes(prefix, "big") + 1).to_bytes(_PREFIX, "big")


def key_score(key: bytes) -> float:
    """The score encoded at the front of a sort key."""
    if key[0]:
        return _UNPACK_FROM(key)[1]
    return _UNPACK(key[:_PREFIX].translate(_INVERT))[1]


class SortedSet:
    __slots__ = ("scores", "order", "big", "scans", "mem", "unit")
    type_name = "zset"

    def __init__(self):
        self.mem = self.unit = 0    # memory accounting (engine/memory.py)
        self.scores: dict[bytes, float] = {}
        self.order = OrderedKeys()
        self.big = False        # skiplist encoding (one-way conversion from listpack)
        self.scans = None       # ZSCAN snapshots (types/scan.py)

    def __len__(self) -> int:
        return len(self.scores)

    def __contains__(self, member) -> bool:
        return member in self.scores

    def __iter__(self):
        return iter(self.scores)

    def encoding(self, config) -> str:
        return "skiplist" if self.big else "listpack"

    def copy(self) -> "SortedSet":
        new = SortedSet()
        new.scores = dict(self.scores)
        new.order = OrderedKeys(self.order)
        new.big = self.big
        return new

    def check_encoding(self, values: dict, members=()) -> None:
        """Convert to skiplist past zset-max-listpack-entries / -value."""
        if len(self.scores) > values["zset-max-listpack-entries"]:
            self.big = True
            return
        limit = values["zset-max-listpack-value"]
        for m in members:
            if len(m) > limit:
                self.big = True
                return

    # -- decoding ---------------------------------------------------------------------

    def _item(self, key: bytes) -> tuple[float, bytes]:
        member = key[_PREFIX:]
        return self.scores[member], member

    def _items(self, keys) -> list:
        scores = self.scores
        out = []
        for key in keys:
            member = key[_PREFIX:]
            out.append((scores[member], member))
        return out

    # -- updates ---------------------------------------------------------------------

    def insert(self, member: bytes, score: float) -> None:
        """Add a member known to be absent.

        A listpack stores integral scores as integers, so -0.0 reads back as 0 in
        Redis until the set is a skiplist; we normalise it the same way.
        """
        if score == 0.0 and not self.big:
            score = 0.0
        self.scores[member] = score
        self.order.add(sort_key(score, member))

    def update(self, member: bytes, old: float, new: float) -> None:
        """Change the score of a present member."""
        if old != new:
            if new == 0.0 and not self.big:
                new = 0.0
            order = self.order
            order.remove(sort_key(old, member))
            self.scores[member] = new
            order.add(sort_key(new, member))

    def set(self, member: bytes, score: float) -> bool:
        """Insert or update; True when the member is new."""
        old = self.scores.get(member)
        if old is None:
            self.insert(member, score)
            return True
        self.update(member, old, score)
        return False

    def remove(self, member: bytes) -> bool:
        score = self.scores.pop(member, None)
        if score is None:
            return False
        self.order.remove(sort_key(score, member))
        return True

    def pop(self, count: int, from_max: bool) -> list[tuple[float, bytes]]:
        """Remove and return up to `count` (score, member) from the min or max end."""
        order, scores = self.order, self.scores
        size = len(order)
        n = min(count, size)
        if n == 0:
            return []
        if n == 1:
            key = order.pop(-1 if from_max else 0)
            member = key[_PREFIX:]
            return [(scores.pop(member), member)]
        if from_max:
            keys = list(order.islice(size - n, size, reverse=True))
            del order[size - n:]
        else:
            keys = list(order.islice(0, n))
            del order[:n]
        out = []
        for key in keys:
            member = key[_PREFIX:]
            out.append((scores.pop(member), member))
        return out

    # -- reads -----------------------------------------------------------------------------

    def rank(self, member: bytes, reverse: bool = False):
        score = self.scores.get(member)
        if score is None:
            return None
        r = self.order.bisect_left(sort_key(score, member))
        return len(self.order) - 1 - r if reverse else r

    def by_rank(self, start: int, stop: int, reverse: bool = False) -> list:
        """(score, member) for ranks start..stop inclusive (already clamped)."""
        order = self.order
        if reverse:
            n = len(order)
            return self._items(order.islice(n - 1 - stop, n - start, reverse=True))
        return self._items(order.islice(start, stop + 1))

    def items_desc(self) -> list:
        """Every (score, member), highest first (Redis's zuiNext walks from the tail)."""
        return self._items(reversed(self.order))

    def members_in_order(self) -> list:
        return [key[_PREFIX:] for key in self.order]

    def score_span(self, lo: float, lo_ex: bool, hi: float, hi_ex: bool) -> tuple[int, int]:
        """[begin, end) indexes of the members with score in the range."""
        order = self.order
        # Every score is >= -inf and <= +inf: the usual open ends need no search.
        if lo == _NEG_INF and not lo_ex:
            begin = 0
        else:
            p = score_prefix(lo)
            begin = order.bisect_left(_after(p) if lo_ex else p)
        if hi == _POS_INF and not hi_ex:
            end = len(order)
        else:
            p = score_prefix(hi)
            end = order.bisect_left(p if hi_ex else _after(p))
        return begin, max(begin, end)

    def count_by_score(self, lo, lo_ex, hi, hi_ex) -> int:
        begin, end = self.score_span(lo, lo_ex, hi, hi_ex)
        return end - begin

    def range_by_score(self, lo, lo_ex, hi, hi_ex, reverse=False, offset=0, count=-1) -> list:
        begin, end = self.score_span(lo, lo_ex, hi, hi_ex)
        if offset < 0:
            return []
        if reverse:
            stop = end - offset
            start = begin if count < 0 else max(begin, stop - count)
            if stop <= start:
                return []
            return self._items(self.order.islice(start, stop, reverse=True))
        start = begin + offset
        stop = end if count < 0 else min(end, start + count)
        if stop <= start:
            return []
        return self._items(self.order.islice(start, stop))

    # -- lexicographic ranges -------------------------------------------------------------

    def _member_at(self, i: int) -> bytes:
        return self.order[i][_PREFIX:]

    def _lex_first(self, lo, hi):
        """Index of the first element in the lex range, or None (zzlFirstInLexRange)."""
        order = self.order
        n = len(order)
        if n == 0 or not lex_range_possible(lo, hi):
            return None
        if not lex_gte_min(self._member_at(-1), lo) or not lex_lte_max(self._member_at(0), hi):
            return None
        if self.big:
            i = self._lex_bisect_min(lo)
        else:
            i = 0
            while i < n and not lex_gte_min(order[i][_PREFIX:], lo):
                i += 1
        if i >= n or not lex_lte_max(self._member_at(i), hi):
            return None
        return i

    def _lex_last(self, lo, hi):
        order = self.order
        n = len(order)
        if n == 0 or not lex_range_possible(lo, hi):
            return None
        if not lex_gte_min(self._member_at(-1), lo) or not lex_lte_max(self._member_at(0), hi):
            return None
        if self.big:
            i = self._lex_bisect_max(hi) - 1
        else:
            i = n - 1
            while i >= 0 and not lex_lte_max(order[i][_PREFIX:], hi):
                i -= 1
        if i < 0 or not lex_gte_min(self._member_at(i), lo):
            return None
        return i

    def _lex_bisect_min(self, lo) -> int:
        """First index >= lo, assuming every score equals the first one's."""
        kind, value = lo
        if kind == LEX_MIN:
            return 0
        if kind == LEX_MAX:
            return len(self.order)
        key = self.order[0][:_PREFIX] + value
        if kind == LEX_INCL:
            return self.order.bisect_left(key)
        return self.order.bisect_right(key)

    def _lex_bisect_max(self, hi) -> int:
        """Index just past the last element <= hi."""
        kind, value = hi
        if kind == LEX_MAX:
            return len(self.order)
        if kind == LEX_MIN:
            return 0
        key = self.order[0][:_PREFIX] + value
        if kind == LEX_INCL:
            return self.order.bisect_right(key)
        return self.order.bisect_left(key)

    def range_by_lex(self, lo, hi, reverse=False, offset=0, count=-1) -> list:
        """(score, member) pairs, walking like Redis: skip `offset`, then stop at the bound."""
        order = self.order
        if offset < 0:
            return []
        if reverse:
            i = self._lex_last(lo, hi)
            if i is None:
                return []
            if self.big:
                stop = i - offset + 1
                start = self._lex_bisect_min(lo)
                if count >= 0:
                    start = max(start, stop - count)
                return self._items(order.islice(start, stop, reverse=True)) if stop > start else []
            out = []
            i -= offset
            while i >= 0 and count != 0:
                key = order[i]
                if not lex_gte_min(key[_PREFIX:], lo):
                    break
                out.append(self._item(key))
                count -= 1
                i -= 1
            return out
        i = self._lex_first(lo, hi)
        if i is None:
            return []
        i += offset
        if self.big:
            end = self._lex_bisect_max(hi)
            if count >= 0:
                end = min(end, i + count)
            return self._items(order.islice(i, end)) if end > i else []
        out = []
        n = len(order)
        while i < n and count != 0:
            key = order[i]
            if not lex_lte_max(key[_PREFIX:], hi):
                break
            out.append(self._item(key))
            count -= 1
            i += 1
        return out

    def count_by_lex(self, lo, hi) -> int:
        i = self._lex_first(lo, hi)
        if i is None:
            return 0
        if self.big:
            return max(0, self._lex_bisect_max(hi) - i)
        order = self.order
        n = len(order)
        count = 0
        while i < n and lex_lte_max(order[i][_PREFIX:], hi):
            count += 1
            i += 1
        return count

    def lex_span(self, lo, hi):
        """[begin, end) indexes ZREMRANGEBYLEX deletes."""
        i = self._lex_first(lo, hi)
        if i is None:
            return 0, 0
        return i, i + self.count_by_lex(lo, hi)

    def remove_span(self, begin: int, end: int) -> int:
        """Delete order[begin:end]; returns how many."""
        if end <= begin:
            return 0
        order, scores = self.order, self.scores
        for key in order.islice(begin, end):
            del scores[key[_PREFIX:]]
        del order[begin:end]
        return end - begin

    # -- random ------------------------------------------------------------------------------

    def random_item(self) -> tuple[float, bytes]:
        order = self.order
        return self._item(order[random.randrange(len(order))])

    def item_at(self, index: int) -> tuple[float, bytes]:
        return self._item(self.order[index])


def lex_range_possible(lo, hi) -> bool:
    """zslParseLexRange's sanity: an empty range (min > max, or equal with an exclusive end)."""
    lk, lv = lo
    hk, hv = hi
    if lk == LEX_MAX or hk == LEX_MIN:
        return False
    if lk == LEX_MIN or hk == LEX_MAX:
        return True
    if lv > hv:
        return False
    if lv == hv and (lk == LEX_EXCL or hk == LEX_EXCL):
        return False
    return True


def lex_gte_min(member: bytes, lo) -> bool:
    kind, value = lo
    if kind == LEX_MIN:
        return True
    if kind == LEX_MAX:
        return False
    return member >= value if kind == LEX_INCL else member > value


def lex_lte_max(member: bytes, hi) -> bool:
    kind, value = hi
    if kind == LEX_MAX:
        return True
    if kind == LEX_MIN:
        return False
    return member <= value if kind == LEX_INCL else member < value


def parse_lex(arg: bytes):
    """A ZRANGEBYLEX bound, or None when invalid ("-", "+", "[x", "(x")."""
    if arg == b"-":
        return (LEX_MIN, b"")
    if arg == b"+":
        return (LEX_MAX, b"")
    if arg[:1] == b"[":
        return (LEX_INCL, arg[1:])
    if arg[:1] == b"(":
        return (LEX_EXCL, arg[1:])
    return None
