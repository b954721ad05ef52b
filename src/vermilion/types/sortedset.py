"""The sorted set: members with double scores, ordered by (score, member bytes).

Two encodings, as Redis 7.0 has (OBJECT ENCODING reports which):

* packed (``listpack``): while within zset-max-listpack-entries / -value, the
  whole set is one bytes object, its entries in order (see "the compact
  encoding" below). Every operation walks it, as Redis walks its listpack.
* ``ZSetIndex`` (``skiplist``): ``scores`` (member -> score, a float) for ZSCORE
  and ZADD in O(1), beside ``order``, the *sort keys* in order, for rank,
  insert, delete and range-by-score in O(log n). That is
  ``vermilion._sortedkeys.SortedKeys`` (C) when it is built, else
  ``sortedcontainers.SortedList``: the C type implements the part of
  SortedList's interface used here, with the same results
  (tests/test_sortedkeys.py), at about a third of the cost per rank lookup.

The conversion is one way (``big``), as Redis's. ``SortedSet`` holds either and
answers the same methods on both; the range reads are written once (``_Ranges``)
over a sequence of sort keys, which a packed set gives by decoding itself.

A sort key is one bytes object: a 9-byte order-preserving encoding of the score
followed by the member. Comparing two keys is then a single memcmp, which is
Redis's order exactly (score first, ties by member bytes, a prefix before its
extensions), and it costs one memory access per comparison instead of the
three a (score, member) tuple needs — on a 1M-member set that halves the time of
a rank lookup. The encoding: non-negative scores are ``b"\\x01"`` + the IEEE
double big-endian (those bytes already sort like the numbers); negative ones are
``b"\\x00"`` + the bytes inverted. -0.0 is encoded as 0.0, so the two compare
equal as in Redis (the skiplist's dict keeps the sign ZSCORE reports).

Scores are never NaN (the commands refuse NaN input and NaN results).

Lexicographic ranges (ZRANGEBYLEX and friends) are specified by Redis only when
all scores are equal. For small sets (listpack in Redis) this module reproduces
Redis's listpack walk exactly even with mixed scores: the first element, in score
order, that is >= min, then onwards while <= max. For large sets it uses a binary
search, which agrees with that walk whenever the scores are equal.
"""
from __future__ import annotations

import random
import struct
from bisect import bisect_left, bisect_right

from sortedcontainers import SortedList

from .._native import native_module

try:
    import cython
except ImportError:                 # not compiled and no Cython: the declarations do nothing
    from .. import _compiling as cython

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

# Compiled, with the C index built, the skiplist encoding's inserts and deletes go
# through the index's C API (_sortedkeys.h: the same functions as SortedKeys.add /
# .remove and sort_key, without a Python call each); sortedset.pxd declares the
# pointer, NULL when the C index is not built or predates the API (a failed optional
# rebuild leaves the previous build's module): the Python calls below then run.
if cython.compiled and getattr(_c_index, "_C_API", None) is not None:
    _index_api = vermilion_sortedkeys_api(_c_index._C_API)  # noqa: F821 (sortedset.pxd)


def index_add(order, score: float, member: bytes) -> None:
    """Insert the sort key of (score, member) into `order`, an OrderedKeys."""
    if cython.compiled:
        if _index_api != cython.NULL:  # noqa: F821 (sortedset.pxd)
            _index_api.add(order, _index_api.sort_key(score, member))  # noqa: F821
            return
    order.add(sort_key(score, member))


def index_remove(order, score: float, member: bytes) -> None:
    """Remove the sort key of (score, member) from `order`; ValueError when absent."""
    if cython.compiled:
        if _index_api != cython.NULL:  # noqa: F821 (sortedset.pxd)
            _index_api.remove(order, _index_api.sort_key(score, member))  # noqa: F821
            return
    order.remove(sort_key(score, member))


def index_calls() -> str:
    """How index_add / index_remove reach the index: "C API" or "Python" (for tests)."""
    if cython.compiled:
        if _index_api != cython.NULL:  # noqa: F821 (sortedset.pxd)
            return "C API"
    return "Python"


def _after(prefix: bytes) -> bytes:
    """The smallest 9-byte prefix greater than `prefix` (every key with it sorts before)."""
    return (int.from_bytes(prefix, "big") + 1).to_bytes(_PREFIX, "big")


def key_score(key: bytes) -> float:
    """The score encoded at the front of a sort key."""
    if key[0]:
        return _UNPACK_FROM(key)[1]
    return _UNPACK(key[:_PREFIX].translate(_INVERT))[1]


# -- the compact encoding -------------------------------------------------------------------
#
# A small sorted set is one bytes object, as Redis keeps a listpack: its entries in
# sort-key order, each
#
#     member length | tag | score bytes | member
#
# The length is one byte, or 0xFF and four big-endian bytes from 255 bytes on. The
# score is its 9-byte sort-key prefix, stored short: the tag holds the prefix's first
# byte (the sign) in bit 4 and, in bits 0-3, how many of the other 8 bytes follow;
# the bytes left out are the trailing ones that equal the filler (0x00 for a
# non-negative score, 0xFF for a negative one, whose bytes are inverted), which an
# integral score has many of (3.0 is 0x4008 followed by six zero bytes). So the prefix,
# and the exact score, are rebuilt from the entry (only -0.0's sign is lost, as a
# listpack stores 0). Lookups walk the entries (bounded by zset-max-listpack-entries);
# a write builds a new bytes object. Past the limits the set converts to
# ``ZSetIndex``, one way.

_LEN1 = [bytes((i,)) for i in range(255)]
_AT, _RANK, _REVRANK = 0, 1, 2          # what _zp_find answers
_TAG = [bytes((i,)) for i in range(32)]
_FILL = (b"\xff" * 8, b"\x00" * 8)      # by sign byte: negative (inverted), non-negative


@cython.locals(key=bytes, n=cython.Py_ssize_t, sign=cython.Py_ssize_t, k=cython.Py_ssize_t,
               fill=cython.Py_ssize_t)
def _zp_entry(key: bytes) -> bytes:
    """The packed entry of a sort key."""
    n = len(key) - _PREFIX
    sign = key[0]
    fill = 0 if sign else 255
    k = 8
    while k and key[k] == fill:       # the trailing filler bytes are left out
        k -= 1
    head = _LEN1[n] if n < 255 else b"\xff" + n.to_bytes(4, "big")
    return b"".join((head, _TAG[sign << 4 | k], key[1:1 + k], key[_PREFIX:]))


def _zp_pack(keys) -> bytes:
    """The packed form of sort keys already in order."""
    return b"".join([_zp_entry(k) for k in keys])


@cython.cfunc
@cython.locals(data=bytes, pos=cython.Py_ssize_t, tag=cython.Py_ssize_t, k=cython.Py_ssize_t)
def _zp_prefix(data: bytes, pos: cython.Py_ssize_t) -> bytes:
    """The 9-byte sort-key prefix of the entry whose tag is at data[pos]."""
    tag = data[pos]
    k = tag & 15
    if tag >> 4:
        return b"\x01" + data[pos + 1:pos + 1 + k] + _FILL[1][k:]
    return b"\x00" + data[pos + 1:pos + 1 + k] + _FILL[0][k:]


@cython.cfunc
@cython.inline
@cython.locals(data=bytes, i=cython.Py_ssize_t, ln=cython.Py_ssize_t)
def _zp_len(data: bytes, i: cython.Py_ssize_t) -> cython.Py_ssize_t:
    """The member length in the entry header at data[i]. The header is one byte when
    the length is below 255, else 0xFF and four big-endian bytes: 1 + 4 * (ln >= 255).
    Every walker reads headers through here (compiled: inlined C, no object)."""
    ln = data[i]
    if ln == 255:
        ln = data[i + 1] << 24 | data[i + 2] << 16 | data[i + 3] << 8 | data[i + 4]
    return ln


@cython.cfunc
@cython.inline
@cython.locals(data=bytes, tag=cython.Py_ssize_t, ln=cython.Py_ssize_t)
def _zp_end(data: bytes, tag: cython.Py_ssize_t, ln: cython.Py_ssize_t) -> cython.Py_ssize_t:
    """The end of the entry whose tag is at data[tag] and whose member is ln bytes."""
    return tag + 1 + (data[tag] & 15) + ln


@cython.cfunc
@cython.locals(data=bytes, tag=cython.Py_ssize_t, ln=cython.Py_ssize_t, key=bytes,
               sign=cython.Py_ssize_t, k=cython.Py_ssize_t, j=cython.Py_ssize_t,
               a=cython.Py_ssize_t, b=cython.Py_ssize_t, fill=cython.Py_ssize_t,
               m=cython.Py_ssize_t, p=cython.Py_ssize_t)
def _zp_cmp(data: bytes, tag: cython.Py_ssize_t, ln: cython.Py_ssize_t, key: bytes) -> cython.int:
    """-1, 0 or 1 as the entry whose tag is at data[tag] (member of ln bytes) sorts
    before, as or after the sort key `key`: its stored score bytes are compared in
    place (the left-out ones as the filler), then its member, with no prefix rebuilt."""
    sign = data[tag] >> 4
    a = key[0]
    if sign != a:
        return -1 if sign < a else 1
    k = data[tag] & 15
    fill = 0 if sign else 255
    for j in range(8):
        a = data[tag + 1 + j] if j < k else fill
        b = key[1 + j]
        if a != b:
            return -1 if a < b else 1
    p = tag + 1 + k
    m = len(key) - _PREFIX
    for j in range(ln if ln < m else m):
        a = data[p + j]
        b = key[_PREFIX + j]
        if a != b:
            return -1 if a < b else 1
    return (ln > m) - (ln < m)


@cython.cfunc
@cython.locals(data=bytes, member=bytes, i=cython.Py_ssize_t, n=cython.Py_ssize_t,
               ln=cython.Py_ssize_t, mlen=cython.Py_ssize_t, tag=cython.Py_ssize_t,
               k=cython.Py_ssize_t, j=cython.Py_ssize_t, count=cython.Py_ssize_t,
               rank=cython.Py_ssize_t, want=cython.Py_ssize_t)
def _zp_find(data: bytes, member: bytes, want: cython.Py_ssize_t) -> cython.Py_ssize_t:
    """One walk for `member`. Found: the start of its entry (want == _AT), its rank
    (_RANK) or the number of entries after it (_REVRANK, the walk goes on to the end).
    Absent: -1 - the number of entries (the walk went to the end)."""
    i = 0
    n = len(data)
    mlen = len(member)
    count = 0
    rank = -1
    while i < n:
        ln = _zp_len(data, i)
        tag = i + (1 if ln < 255 else 5)
        k = data[tag] & 15
        if ln == mlen and rank < 0:
            j = 0
            while j < mlen and data[tag + 1 + k + j] == member[j]:
                j += 1
            if j == mlen:
                if want == _AT:
                    return i
                if want == _RANK:
                    return count
                rank = count
        i = tag + 1 + k + ln
        count += 1
    if rank >= 0:
        return count - 1 - rank
    return -1 - count


@cython.cfunc
@cython.locals(data=bytes, key=bytes, i=cython.Py_ssize_t, stop=cython.Py_ssize_t,
               ln=cython.Py_ssize_t, tag=cython.Py_ssize_t)
def _zp_place(data: bytes, key: bytes, i: cython.Py_ssize_t, stop: cython.Py_ssize_t) -> cython.Py_ssize_t:
    """Where an entry with sort key `key` goes among the entries from data[i] up to
    data[stop] (entry boundaries): the start of the first greater one, else stop."""
    while i < stop:
        ln = _zp_len(data, i)
        tag = i + (1 if ln < 255 else 5)
        if _zp_cmp(data, tag, ln, key) > 0:
            return i
        i = _zp_end(data, tag, ln)
    return stop


@cython.locals(data=bytes, i=cython.Py_ssize_t, n=cython.Py_ssize_t, ln=cython.Py_ssize_t,
               k=cython.Py_ssize_t, tag=cython.Py_ssize_t)
def _zp_keys(data: bytes) -> list:
    """Every sort key of the packed form, in order."""
    out = []
    i = 0
    n = len(data)
    while i < n:
        ln = _zp_len(data, i)
        tag = i + (1 if ln < 255 else 5)
        k = data[tag] & 15
        out.append(_zp_prefix(data, tag) + data[tag + 1 + k:tag + 1 + k + ln])
        i = tag + 1 + k + ln
    return out


@cython.locals(data=bytes, i=cython.Py_ssize_t, n=cython.Py_ssize_t, count=cython.Py_ssize_t)
def _zp_count(data: bytes) -> int:
    """The number of entries."""
    i = 0
    n = len(data)
    count = 0
    while i < n:
        ln = _zp_len(data, i)
        i = _zp_end(data, i + (1 if ln < 255 else 5), ln)
        count += 1
    return count


@cython.cfunc
@cython.locals(data=bytes, cut=cython.Py_ssize_t, cut_end=cython.Py_ssize_t, entry=bytes,
               at=cython.Py_ssize_t, n=cython.Py_ssize_t, size=cython.Py_ssize_t,
               e=cython.Py_ssize_t, out=bytes, src=cython.p_char, dst=cython.p_char)
def _zp_splice(data: bytes, cut: cython.Py_ssize_t, cut_end: cython.Py_ssize_t, entry: bytes,
               at: cython.Py_ssize_t) -> bytes:
    """`data` without its bytes [cut, cut_end) (an entry, or nothing when equal) and with
    `entry` inserted at `at`, an entry boundary outside the cut: one new bytes object."""
    n = len(data)
    e = len(entry)
    if cython.compiled:
        size = n - (cut_end - cut) + e
        out = PyBytes_FromStringAndSize(cython.NULL, size)  # noqa: F821 (sortedset.pxd)
        src = PyBytes_AS_STRING(data)  # noqa: F821
        dst = PyBytes_AS_STRING(out)  # noqa: F821
        if at <= cut:
            memcpy(dst, src, at)  # noqa: F821
            memcpy(dst + at, PyBytes_AS_STRING(entry), e)  # noqa: F821
            memcpy(dst + at + e, src + at, cut - at)  # noqa: F821
            memcpy(dst + e + cut, src + cut_end, n - cut_end)  # noqa: F821
        else:
            memcpy(dst, src, cut)  # noqa: F821
            memcpy(dst + cut, src + cut_end, at - cut_end)  # noqa: F821
            memcpy(dst + cut + at - cut_end, PyBytes_AS_STRING(entry), e)  # noqa: F821
            memcpy(dst + cut + at - cut_end + e, src + at, n - at)  # noqa: F821
        return out
    if at <= cut:
        return b"".join((data[:at], entry, data[at:cut], data[cut_end:]))
    return b"".join((data[:cut], data[cut_end:at], entry, data[at:]))


@cython.cfunc
@cython.locals(data=bytes, member=bytes, start=cython.Py_ssize_t, end=cython.Py_ssize_t,
               at=cython.Py_ssize_t, ln=cython.Py_ssize_t, tag=cython.Py_ssize_t)
def _zp_move(data: bytes, start: cython.Py_ssize_t, member: bytes, old: float, new: float) -> bytes:
    """`data` with the entry at `start` (`member`, score `old`) given score `new`: the
    new place is searched on the side the score moved to only."""
    ln = _zp_len(data, start)
    tag = start + (1 if ln < 255 else 5)
    end = _zp_end(data, tag, ln)
    key = sort_key(new + 0.0, member)
    if new > old:
        at = _zp_place(data, key, end, len(data))
    else:
        at = _zp_place(data, key, 0, start)
    return _zp_splice(data, start, end, _zp_entry(key), at)


@cython.cfunc
@cython.locals(data=bytes, start=cython.Py_ssize_t, ln=cython.Py_ssize_t, tag=cython.Py_ssize_t,
               k=cython.Py_ssize_t, j=cython.Py_ssize_t, sign=cython.Py_ssize_t,
               bits=cython.ulonglong, value=cython.double)
def _score_of(data: bytes, start: cython.Py_ssize_t) -> float:
    """The score of the entry that starts at data[start]."""
    ln = _zp_len(data, start)
    tag = start + (1 if ln < 255 else 5)
    if cython.compiled:
        # The IEEE bits from the stored bytes and the filler (inverted when negative).
        k = data[tag] & 15
        sign = data[tag] >> 4
        bits = 0
        for j in range(8):
            bits = bits << 8 | (data[tag + 1 + j] if j < k else (0 if sign else 255))
        if not sign:
            bits = ~bits
        memcpy(cython.address(value), cython.address(bits), 8)  # noqa: F821 (sortedset.pxd)
        return value
    return key_score(_zp_prefix(data, tag))


class _Keys(list):
    """Sort keys in a plain list, with the part of SortedKeys's interface the range
    reads use: a packed set decoded for one read."""

    __slots__ = ()

    def bisect_left(self, key) -> int:
        return bisect_left(self, key)

    def bisect_right(self, key) -> int:
        return bisect_right(self, key)

    def islice(self, start=None, stop=None, reverse=False) -> list:
        part = self[start:stop]
        if reverse:
            part.reverse()
        return part


class _Ranges:
    """The reads by rank, score and lex range, over ``order`` (sort keys in order)
    and ``_item`` (a sort key's (score, member)): shared by the two encodings."""

    __slots__ = ()

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

    def random_item(self) -> tuple[float, bytes]:
        order = self.order
        return self._item(order[random.randrange(len(order))])

    def item_at(self, index: int) -> tuple[float, bytes]:
        return self._item(self.order[index])

    def _items(self, keys) -> list:
        item = self._item
        return [item(key) for key in keys]


class _Packed(_Ranges):
    """A packed set decoded for one read: its sort keys in a list."""

    __slots__ = ("order",)
    big = False

    def __init__(self, data: bytes):
        self.order = _Keys(_zp_keys(data))

    def _item(self, key: bytes) -> tuple:
        return key_score(key), key[_PREFIX:]


class ZSetIndex(_Ranges):
    """The skiplist encoding: ``scores`` (member -> score) beside ``order`` (the sort
    keys in order), as Redis keeps a dict beside its skiplist. Also what only such
    sets carry: ZSCAN snapshots and the sampled element size."""

    __slots__ = ("scores", "order", "scans", "unit")
    big = True

    def __init__(self, scores=None, order=None):
        self.scores: dict = {} if scores is None else scores
        self.order = OrderedKeys() if order is None else order
        self.scans = None       # ZSCAN snapshots (types/scan.py)
        self.unit = 0           # memory accounting (engine/memory.py)

    def __iter__(self):
        return iter(self.scores)

    def __contains__(self, member) -> bool:
        return member in self.scores

    def _item(self, key: bytes) -> tuple:
        member = key[_PREFIX:]
        return self.scores[member], member

    def _items(self, keys) -> list:
        scores = self.scores
        out = []
        for key in keys:
            member = key[_PREFIX:]
            out.append((scores[member], member))
        return out


# SortedSet.add: its flags (Redis's ZADD_IN_*) and outcomes.
ZADD_NX, ZADD_XX, ZADD_GT, ZADD_LT, ZADD_INCR = 1, 2, 4, 8, 16
SKIPPED, ADDED, UPDATED, SAME, NAN = 0, 1, 2, 3, 4
_NO_LIMIT = 1 << 62


class SortedSet:
    """A Redis sorted set: ``data`` is the packed bytes (listpack encoding) or, once
    converted, a ZSetIndex (skiplist encoding). The methods work on either; the hot
    handlers reach ``data.scores`` / ``data.order`` directly when ``big``.

    Two slots only (the data and its counted size): what only converted sets need
    lives on their ZSetIndex, so a small set is this object and one bytes object.
    """

    __slots__ = ("data", "mem")
    type_name = "zset"

    def __init__(self):
        self.mem = 0            # memory accounting (engine/memory.py)
        self.data = b""

    @classmethod
    def from_items(cls, items, big: bool) -> "SortedSet":
        """A set of (score, member) items with distinct members, in the given encoding."""
        z = cls()
        if big:
            scores = {}
            for score, member in items:
                scores[member] = score
            z.data = ZSetIndex(scores, OrderedKeys([sort_key(score, member) for score, member in items]))
        else:
            keys = [sort_key(score + 0.0, member) for score, member in items]
            keys.sort()
            z.data = _zp_pack(keys)
        return z

    # -- encoding ---------------------------------------------------------------------------

    @property
    def big(self) -> bool:
        return type(self.data) is not bytes

    @big.setter
    def big(self, value: bool) -> None:
        if value and type(self.data) is bytes:
            self.convert()

    def convert(self) -> None:
        """To the skiplist encoding (one way)."""
        data = self.data
        if type(data) is bytes:
            keys = _zp_keys(data)
            scores = {}
            for key in keys:
                scores[key[_PREFIX:]] = key_score(key)
            self.data = ZSetIndex(scores, OrderedKeys(keys))

    def encoding(self, config) -> str:
        return "skiplist" if type(self.data) is not bytes else "listpack"

    def check_encoding(self, values: dict, members=()) -> None:
        """Convert to skiplist past zset-max-listpack-entries / -value."""
        if type(self.data) is not bytes:
            return
        limit = values["zset-max-listpack-value"]
        for m in members:
            if len(m) > limit:
                self.convert()
                return
        if len(self) > values["zset-max-listpack-entries"]:
            self.convert()

    def copy(self) -> "SortedSet":
        new = SortedSet()
        data = self.data
        if type(data) is bytes:
            new.data = data
        else:
            new.data = ZSetIndex(dict(data.scores), OrderedKeys(data.order))
        return new

    def _view(self):
        data = self.data
        return _Packed(data) if type(data) is bytes else data

    # -- membership -------------------------------------------------------------------------

    def __len__(self) -> int:
        data = self.data
        if type(data) is bytes:
            return _zp_count(data)
        return len(data.scores)

    def __bool__(self) -> bool:
        data = self.data
        return len(data) != 0 if type(data) is bytes else len(data.scores) != 0

    def __contains__(self, member) -> bool:
        data = self.data
        if type(data) is bytes:
            return _zp_find(data, member, _AT) >= 0
        return member in data.scores

    def __iter__(self):
        """The members (in order while packed)."""
        data = self.data
        if type(data) is bytes:
            return iter([key[_PREFIX:] for key in _zp_keys(data)])
        return iter(data.scores)

    def score(self, member: bytes):
        """The score of `member`, or None."""
        data = self.data
        if type(data) is not bytes:
            return data.scores.get(member)
        start = _zp_find(data, member, _AT)
        if start < 0:
            return None
        return _score_of(data, start)

    def items(self) -> list:
        """Every (member, score)."""
        data = self.data
        if type(data) is not bytes:
            return list(data.scores.items())
        return [(key[_PREFIX:], key_score(key)) for key in _zp_keys(data)]

    # -- updates ----------------------------------------------------------------------------

    def insert(self, member: bytes, score: float) -> None:
        """Add a member known to be absent.

        A listpack stores integral scores as integers, so -0.0 reads back as 0 in
        Redis until the set is a skiplist; the packed form's prefix does the same.
        """
        data = self.data
        if type(data) is not bytes:
            data.scores[member] = score
            index_add(data.order, score, member)
            return
        key = sort_key(score + 0.0, member)
        at = _zp_place(data, key, 0, len(data))
        self.data = _zp_splice(data, at, at, _zp_entry(key), at)

    @cython.locals(start=cython.Py_ssize_t, flags=cython.Py_ssize_t, packed=cython.bint)
    def add(self, member: bytes, score: float, flags: int, max_entries: int, max_value: int) -> tuple:
        """ZADD's step for one member, as Redis's zsetAdd: (outcome, new score).

        flags: ZADD_NX / ZADD_XX / ZADD_GT / ZADD_LT / ZADD_INCR. Outcomes: ADDED,
        UPDATED, SAME (processed, score unchanged), SKIPPED (nothing done: NX on a
        member, XX on a non-member, GT/LT refusing), NAN (INCR's result; nothing
        done). A packed set converts before an insert that would pass max_entries
        or a member longer than max_value, as Redis does; updates never convert.
        Packed, the member is found in one walk (which counts the entries when it is
        absent) and its new place is searched only on the side its score moved to.
        """
        data = self.data
        packed = type(data) is bytes
        start = -1
        if packed:
            start = _zp_find(data, member, _AT)
            old = None if start < 0 else _score_of(data, start)
        else:
            old = data.scores.get(member)
        if old is None:
            if flags & ZADD_XX:
                return SKIPPED, None
            if packed:
                if -1 - start < max_entries and len(member) <= max_value:
                    key = sort_key(score + 0.0, member)
                    at = _zp_place(data, key, 0, len(data))
                    self.data = _zp_splice(data, at, at, _zp_entry(key), at)
                    return ADDED, score
                self.convert()
                data = self.data
            data.scores[member] = score
            index_add(data.order, score, member)
            return ADDED, score
        if flags & ZADD_NX:
            return SKIPPED, None
        if flags & ZADD_INCR:
            score += old
            if score != score:
                return NAN, None
        if (flags & ZADD_LT and score >= old) or (flags & ZADD_GT and score <= old):
            return SKIPPED, None
        if score == old:
            return SAME, score
        if packed:
            self.data = _zp_move(data, start, member, old, score)
        else:
            order = data.order
            index_remove(order, old, member)
            data.scores[member] = score
            index_add(order, score, member)
        return UPDATED, score

    def set(self, member: bytes, score: float) -> bool:
        """Insert or update, keeping the encoding; True when the member is new."""
        return self.add(member, score, 0, _NO_LIMIT, _NO_LIMIT)[0] == ADDED

    def remove(self, member: bytes) -> bool:
        data = self.data
        if type(data) is not bytes:
            score = data.scores.pop(member, None)
            if score is None:
                return False
            index_remove(data.order, score, member)
            return True
        start = _zp_find(data, member, _AT)
        if start < 0:
            return False
        ln = _zp_len(data, start)
        self.data = data[:start] + data[_zp_end(data, start + (1 if ln < 255 else 5), ln):]
        return True

    def pop(self, count: int, from_max: bool) -> list:
        """Remove and return up to `count` (score, member) from the min or max end."""
        data = self.data
        if type(data) is not bytes:
            return _pop_index(data, count, from_max)
        keys = _zp_keys(data)
        n = min(count, len(keys))
        if n <= 0:
            return []
        if from_max:
            taken = keys[len(keys) - n:]
            taken.reverse()
            del keys[len(keys) - n:]
        else:
            taken = keys[:n]
            del keys[:n]
        self.data = _zp_pack(keys)
        return [(key_score(key), key[_PREFIX:]) for key in taken]

    def remove_span(self, begin: int, end: int) -> int:
        """Delete the members of ranks begin..end-1; returns how many."""
        if end <= begin:
            return 0
        data = self.data
        if type(data) is not bytes:
            order, scores = data.order, data.scores
            for key in order.islice(begin, end):
                del scores[key[_PREFIX:]]
            del order[begin:end]
            return end - begin
        keys = _zp_keys(data)
        del keys[begin:end]
        self.data = _zp_pack(keys)
        return end - begin

    # -- reads ------------------------------------------------------------------------------

    def rank(self, member: bytes, reverse: bool = False):
        data = self.data
        if type(data) is not bytes:
            score = data.scores.get(member)
            if score is None:
                return None
            order = data.order
            r = order.bisect_left(sort_key(score, member))
            return len(order) - 1 - r if reverse else r
        r = _zp_find(data, member, _REVRANK if reverse else _RANK)
        return None if r < 0 else r

    def by_rank(self, start: int, stop: int, reverse: bool = False) -> list:
        """(score, member) for ranks start..stop inclusive (already clamped)."""
        return self._view().by_rank(start, stop, reverse)

    def items_desc(self) -> list:
        """Every (score, member), highest first (Redis's zuiNext walks from the tail)."""
        return self._view().items_desc()

    def members_in_order(self) -> list:
        return self._view().members_in_order()

    def score_span(self, lo, lo_ex, hi, hi_ex) -> tuple:
        return self._view().score_span(lo, lo_ex, hi, hi_ex)

    def count_by_score(self, lo, lo_ex, hi, hi_ex) -> int:
        return self._view().count_by_score(lo, lo_ex, hi, hi_ex)

    def range_by_score(self, lo, lo_ex, hi, hi_ex, reverse=False, offset=0, count=-1) -> list:
        return self._view().range_by_score(lo, lo_ex, hi, hi_ex, reverse, offset, count)

    def range_by_lex(self, lo, hi, reverse=False, offset=0, count=-1) -> list:
        return self._view().range_by_lex(lo, hi, reverse, offset, count)

    def count_by_lex(self, lo, hi) -> int:
        return self._view().count_by_lex(lo, hi)

    def lex_span(self, lo, hi):
        return self._view().lex_span(lo, hi)

    def random_item(self) -> tuple:
        return self._view().random_item()

    def item_at(self, index: int) -> tuple:
        return self._view().item_at(index)

    def __eq__(self, other) -> bool:
        return isinstance(other, SortedSet) and sorted(self.items()) == sorted(other.items())

    __hash__ = None

    def __repr__(self) -> str:
        return f"SortedSet({self.items()!r})"


def _pop_index(index: ZSetIndex, count: int, from_max: bool) -> list:
    """Remove and return up to `count` (score, member) from an end of a skiplist set."""
    order, scores = index.order, index.scores
    size = len(order)
    n = min(count, size)
    if n <= 0:
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
