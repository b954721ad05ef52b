"""The pure data-structure types, without a socket: SortedSet against a naive model,
the scan cursors' guarantee, the random pool, Redis's number parsing and long doubles.
"""
from __future__ import annotations

import math
import random
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from vermilion.types.collections import Hash, List, RandomPool, Set, is_int64, random_distinct
from vermilion.types import longdouble
from vermilion.types.numeric import parse_double, parse_range_double
from vermilion.types.scan import scan_step
from vermilion.types.sortedset import LEX_EXCL, LEX_INCL, LEX_MAX, LEX_MIN, SortedSet, parse_lex

# -- SortedSet vs a model -------------------------------------------------------------------------

scores = st.sampled_from([0.0, -0.0, 1.0, 1.5, -2.0, math.inf, -math.inf, 0.1, 1e-300, 2.0])
members = st.sampled_from([b"a", b"b", b"c", b"d", b"", b"aa", b"\xff"])
ops = st.lists(st.one_of(
    st.tuples(st.just("set"), members, scores),
    st.tuples(st.just("remove"), members),
    st.tuples(st.just("pop"), st.integers(0, 3), st.booleans()),
), max_size=40)


def model_order(model: dict) -> list:
    return sorted((s, m) for m, s in model.items())


@settings(max_examples=200, deadline=None)
@given(ops, st.booleans())
def test_matches_model(operations, big):
    zs = SortedSet()
    zs.big = big
    model: dict = {}
    for op in operations:
        if op[0] == "set":
            _, m, s = op
            if not big and s == 0.0:
                s = 0.0          # listpacks store -0 as the integer 0
            assert zs.set(m, s) == (m not in model)
            model[m] = s
        elif op[0] == "remove":
            assert zs.remove(op[1]) == (op[1] in model)
            model.pop(op[1], None)
        else:
            _, n, from_max = op
            expected = model_order(model)
            expected = expected[::-1][:n] if from_max else expected[:n]
            assert zs.pop(n, from_max) == expected
            for _, m in expected:
                del model[m]
        order = model_order(model)
        assert zs.by_rank(0, len(order) - 1) if order else True
        assert (zs.by_rank(0, len(order) - 1) if order else []) == order
        assert dict(zs.items()) == model
        for i, (s, m) in enumerate(order):
            assert zs.rank(m) == i
            assert zs.rank(m, reverse=True) == len(order) - 1 - i


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(members, scores, max_size=7), scores, st.booleans(), scores, st.booleans(),
       st.integers(-1, 4), st.integers(-1, 4), st.booleans())
def test_score_ranges(model, lo, lo_ex, hi, hi_ex, offset, count, big):
    zs = SortedSet()
    zs.big = big
    for m, s in model.items():
        zs.insert(m, s)

    def inside(s):
        return (s > lo if lo_ex else s >= lo) and (s < hi if hi_ex else s <= hi)

    expected = [item for item in (zs.by_rank(0, len(zs) - 1) if len(zs) else []) if inside(item[0])]
    assert zs.count_by_score(lo, lo_ex, hi, hi_ex) == len(expected)
    fwd = expected[offset:] if offset >= 0 else []
    rev = expected[::-1][offset:] if offset >= 0 else []
    if count >= 0:
        fwd, rev = fwd[:count], rev[:count]
    assert zs.range_by_score(lo, lo_ex, hi, hi_ex, False, offset, count) == fwd
    assert zs.range_by_score(lo, lo_ex, hi, hi_ex, True, offset, count) == rev


lex_bounds = st.sampled_from([b"-", b"+", b"[a", b"(a", b"[b", b"(b", b"[", b"(", b"[aa", b"[\xff"])


@settings(max_examples=200, deadline=None)
@given(st.lists(members, unique=True, max_size=7), lex_bounds, lex_bounds, st.integers(0, 3),
       st.integers(-1, 3))
def test_lex_ranges_equal_scores_small_and_big_agree(names, lo_arg, hi_arg, offset, count):
    lo, hi = parse_lex(lo_arg), parse_lex(hi_arg)
    results = []
    for big in (False, True):
        zs = SortedSet()
        zs.big = big
        for m in names:
            zs.insert(m, 0.0)
        results.append((zs.range_by_lex(lo, hi, False, offset, count),
                        zs.range_by_lex(lo, hi, True, offset, count),
                        zs.count_by_lex(lo, hi), zs.lex_span(lo, hi)))
    assert results[0] == results[1]

    def inside(m):
        ok_lo = lo[0] == LEX_MIN or (lo[0] == LEX_INCL and m >= lo[1]) or (lo[0] == LEX_EXCL and m > lo[1])
        ok_hi = hi[0] == LEX_MAX or (hi[0] == LEX_INCL and m <= hi[1]) or (hi[0] == LEX_EXCL and m < hi[1])
        return ok_lo and ok_hi and lo[0] != LEX_MAX and hi[0] != LEX_MIN

    expected = [(0.0, m) for m in sorted(names) if inside(m)]
    assert results[0][2] == len(expected)
    fwd = expected[offset:]
    assert results[0][0] == (fwd if count < 0 else fwd[:count])


def test_parse_lex():
    assert parse_lex(b"-") == (LEX_MIN, b"")
    assert parse_lex(b"+") == (LEX_MAX, b"")
    assert parse_lex(b"[x") == (LEX_INCL, b"x")
    assert parse_lex(b"(x") == (LEX_EXCL, b"x")
    for bad in (b"x", b"", b"-x", b"++"):
        assert parse_lex(bad) is None


def test_remove_span_and_copy_are_independent():
    zs = SortedSet()
    for i in range(10):
        zs.insert(b"m%d" % i, float(i))
    copy = zs.copy()
    assert zs.remove_span(2, 5) == 3
    assert len(zs) == 7 and len(copy) == 10
    assert zs.members_in_order() == [b"m0", b"m1", b"m5", b"m6", b"m7", b"m8", b"m9"]


def test_minus_zero_kept_in_skiplist_only():
    small, big = SortedSet(), SortedSet()
    big.big = True
    small.insert(b"a", -0.0)
    big.insert(b"a", -0.0)
    assert math.copysign(1, small.score(b"a")) == 1
    assert math.copysign(1, big.score(b"a")) == -1


# -- scan cursors ----------------------------------------------------------------------------------

class Owner(set):
    __slots__ = ("scans",)

    def __init__(self, *args):
        super().__init__(*args)
        self.scans = None


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 50), st.lists(st.tuples(st.booleans(), st.integers(0, 300)), max_size=60),
       st.integers(0, 300))
def test_scan_returns_every_stable_member(count, churn, size):
    owner = Owner(range(size))
    stable = set(range(0, size, 3))          # never removed
    seen, cursor, steps = set(), 0, 0
    while True:
        cursor, chunk = scan_step(owner, cursor, count)
        seen.update(m for m in chunk if m in owner)
        if steps < len(churn):
            add, value = churn[steps]
            if add:
                owner.add(1000 + value)
            elif value % 3:
                owner.discard(value)
        steps += 1
        if cursor == 0:
            break
        assert steps < 10_000
    assert stable <= seen
    assert owner.scans is None            # a finished scan leaves no snapshot behind


def test_scan_unknown_cursor_restarts():
    owner = Owner(range(100))
    cursor, chunk = scan_step(owner, 0, 10)
    assert cursor and len(chunk) == 10
    cursor2, chunk2 = scan_step(owner, 12345, 10)    # never issued: starts over
    assert cursor2 != 0 and len(chunk2) == 10
    seen = set(chunk2)
    while cursor2:
        cursor2, chunk2 = scan_step(owner, cursor2, 10)
        seen.update(chunk2)
    assert seen == set(range(100))


def test_scan_cursor_fits_signed_64_bits():
    owner = Owner(range(50))
    cursor, _ = scan_step(owner, 0, 1)
    assert 0 < cursor < 2**62


# -- random pool ----------------------------------------------------------------------------------

def test_random_pool_tracks_changes_exactly():
    for packed in (True, False):
        s = Set([b"%d" % i for i in range(10)])
        if not packed:
            table = s.table()
            table.pool = RandomPool(table)
        s.remove_member(b"3")
        s.remove_member(b"4")
        s.add_member(b"3")
        s.add_member(b"42")
        assert s.packed is packed
        picks = {s.random_member() for _ in range(2000)}
        assert picks == set(s)
        popped = {s.pop_random() for _ in range(len(s))}
        assert popped == {b"%d" % i for i in range(10)} - {b"4"} | {b"42"}
        assert not s


def test_random_distinct():
    for big in (False, True):
        h = Hash.from_dict({b"f%d" % i: b"v" for i in range(100)}, big)
        for count in (1, 10, 40, 99):
            got = h.random_fields(count)
            assert len(got) == len(set(got)) == count and set(got) <= set(h)
    for n in (100, 1000):                       # packed, then a SetTable
        s = Set([b"%d" % i for i in range(n)])
        assert s.packed is (n == 100)
        got = s.random_members(10)
        assert len(set(got)) == 10 and set(got) <= set(s)


def test_random_is_roughly_uniform():
    random.seed(7)
    for n in (10, 130):                         # packed, then a SetTable
        s = Set([b"%d" % i for i in range(n)])
        counts = [0] * n
        for _ in range(500 * n):
            counts[int(s.random_member())] += 1
        assert max(counts) < 1.3 * min(counts)


@settings(max_examples=200, deadline=None)
@given(ops)
def test_packed_and_converted_agree(operations):
    """A packed set converted at any point answers as one that stayed packed."""
    packed, other = SortedSet(), SortedSet()
    for i, op in enumerate(operations):
        if i == len(operations) // 2:
            other.convert()
        for zs in (packed, other):
            if op[0] == "set":
                zs.set(op[1], op[2])
            elif op[0] == "remove":
                zs.remove(op[1])
        if op[0] == "pop":
            assert packed.pop(op[1], op[2]) == other.pop(op[1], op[2])
        n = len(packed)
        assert n == len(other)
        assert packed.by_rank(0, n - 1) == other.by_rank(0, n - 1) if n else True
        assert packed.items_desc() == other.items_desc()
        for m in (b"a", b"aa", b"\xff"):
            assert packed.score(m) == other.score(m)
            assert packed.rank(m, True) == other.rank(m, True)


# -- lists, hashes, sets -----------------------------------------------------------------------------

list_values = st.one_of(st.binary(max_size=4), st.binary(min_size=250, max_size=300),
                        st.just(b"x" * 5000))
list_ops = st.lists(st.one_of(
    st.tuples(st.sampled_from(["append", "appendleft"]), list_values),
    st.tuples(st.sampled_from(["extend", "extendleft"]), st.lists(list_values, max_size=70)),
    st.tuples(st.sampled_from(["pop", "popleft", "clear"])),
    st.tuples(st.just("set"), st.integers(-300, 300), list_values),
    st.tuples(st.just("insert"), st.integers(0, 300), list_values),
), max_size=30)


@settings(max_examples=150, deadline=None)
@given(list_ops)
def test_list_matches_deque(operations):
    """List, packed or past its bounds, behaves as a deque of the same elements."""
    from collections import deque
    lst, model = List(), deque()
    for op in operations:
        name = op[0]
        if name in ("pop", "popleft"):
            if model:
                assert getattr(lst, name)() == getattr(model, name)()
        elif name == "clear":
            lst.clear()
            model.clear()
        elif name == "set":
            if -len(model) <= op[1] < len(model):
                lst[op[1]] = op[2]
                model[op[1]] = op[2]
        elif name == "insert":
            index = min(op[1], len(model))
            lst.insert(index, op[2])
            model.insert(index, op[2])
        else:
            getattr(lst, name)(op[1])
            getattr(model, name)(op[1])
        assert len(lst) == len(model) and bool(lst) == bool(model)
        assert list(lst) == list(model) and list(reversed(lst)) == list(reversed(model))
        if model:
            assert lst[0] == model[0] and lst[-1] == model[-1]
            assert lst.slice(len(model) // 3, len(model) - 1) == list(model)[len(model) // 3:]
            assert lst.index(model[-1]) == model.index(model[-1])
        copy = lst.copy()
        assert list(copy) == list(model)



def test_list_slice_from_either_end():
    items = [b"%d" % i for i in range(300)]
    lst = List(items[:100])
    big = List(items)               # past the packed bounds: a deque
    for start, stop in [(0, 99), (0, 0), (99, 99), (10, 20), (80, 95), (3, 97)]:
        assert lst.slice(start, stop) == items[start:stop + 1]
        assert big.slice(start + 150, stop + 150) == items[start + 150:stop + 151]
    assert lst.encoding(None) == "quicklist" and lst.copy() == lst


def test_encodings_are_one_way():
    limits = {"hash-max-listpack-entries": 2, "hash-max-listpack-value": 3, "set-max-intset-entries": 2}
    h = Hash()
    h[b"a"] = b"1"
    h.check_encoding(limits, b"a", b"1")
    assert h.encoding(None) == "listpack"
    h[b"b"] = b"1234"
    h.check_encoding(limits, b"b", b"1234")
    assert h.encoding(None) == "hashtable"
    del h[b"b"]
    assert h.encoding(None) == "hashtable" and h.copy().encoding(None) == "hashtable"
    s = Set({b"1", b"2"})
    s.check_encoding(limits, s)
    assert s.encoding(None) == "intset" and s.members_in_order() == [b"1", b"2"]
    s.add_member(b"x")
    s.check_encoding(limits, [b"x"])
    assert s.encoding(None) == "hashtable"


def test_is_int64():
    for good in (b"0", b"-1", b"9223372036854775807", b"-9223372036854775808", b"12"):
        assert is_int64(good)
    for bad in (b"", b"-", b"-0", b"01", b"+1", b" 1", b"1 ", b"9223372036854775808",
                b"-9223372036854775809", b"1.0", b"0x1"):
        assert not is_int64(bad)


# -- numbers ---------------------------------------------------------------------------------------

def test_parse_double_like_strtod():
    assert parse_double(b"1.5") == 1.5
    assert parse_double(b"0x10") == 16.0
    assert parse_double(b"0x1p3") == 8.0
    assert parse_double(b"inf") == math.inf and parse_double(b"-Infinity") == -math.inf
    assert parse_double(b"4e-320") == 4e-320
    for bad in (b"", b" 1", b"1 ", b"1e400", b"1e-400", b"nan", b"1_0", b"1e", b"0x", b"abc"):
        assert parse_double(bad) is None, bad


def test_parse_range_double():
    assert parse_range_double(b"") == 0.0
    assert parse_range_double(b" 5") == 5.0
    assert parse_range_double(b"1e400") == math.inf
    for bad in (b" ", b"5 ", b"nan", b"x"):
        assert parse_range_double(bad) is None


def test_long_double_arithmetic_and_format():
    ld, add, fmt = longdouble.parse, longdouble.add, longdouble.format_human

    def exact(value):
        m, e = value
        return Fraction(m) * Fraction(2) ** e
    assert fmt(add(ld(b"0.1"), ld(b"0.2"))) == b"0.3"
    assert fmt(ld(b"1e30")) == b"1000000000000000000024696061952"
    assert fmt(ld(b"-1e-20")) == b"0"
    assert fmt(add(ld(b"1.23"), ld(b"0.000001"))) == b"1.230001"
    assert ld(b"inf") == math.inf and longdouble.is_inf(add(ld(b"inf"), ld(b"1")))
    assert add(ld(b"inf"), ld(b"-inf")) is None                  # NaN
    assert ld(b"1e5000") is None and ld(b"1e-5000") is None and ld(b"nan") is None
    assert exact(ld(b"0x1.8p1")) == Fraction(3)


def test_long_double_scale_and_ceil():
    ld = longdouble.parse
    assert longdouble.ceil(longdouble.scale(ld(b"0.1"), 1000)) == 100
    assert longdouble.ceil(longdouble.scale(ld(b"0.0001"), 1000)) == 1
    assert longdouble.ceil(longdouble.scale(ld(b"-0.0015"), 1000)) == -1
    assert longdouble.ceil(longdouble.scale(ld(b"12345678.9"), 1000)) == 12345678900
    assert longdouble.scale(ld(b"1e4931"), 1000) is longdouble.INF


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False), st.floats(allow_nan=False))
def test_score_prefix_orders_like_the_numbers(a, b):
    from vermilion.types.sortedset import key_score, score_prefix
    pa, pb = score_prefix(a), score_prefix(b)
    assert (pa < pb) == (a < b) and (pa == pb) == (a == b)
    assert key_score(pa + b"member") == a
