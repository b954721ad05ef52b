"""vermilion._sortedkeys.SortedKeys against sortedcontainers.SortedList, its reference.

SortedSet (types/sortedset.py) runs on either; these tests drive both with the same
operations and require the same results. A small `load` makes leaves split and merge
after a handful of operations, so the leaf bookkeeping and the Fenwick tree over leaf
lengths are exercised by short sequences.
"""
from __future__ import annotations

import os

import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sortedcontainers import SortedList

try:
    from vermilion._sortedkeys import SortedKeys
except ImportError:  # pragma: no cover - the CI requires the build (below)
    SortedKeys = None

needs_c = pytest.mark.skipif(SortedKeys is None and os.environ.get("CI") != "true",
                             reason="vermilion._sortedkeys is not built")

# Short keys collide often; the shared heads make keys that tie on their first 8
# bytes (the prefix the C searches compare before reading a key) and keys that are
# prefixes of each other, around that 8-byte boundary.
keys = st.builds(lambda head, tail: head + tail,
                 st.sampled_from([b"", b"", b"abcdefg", b"abcdefgh", b"abcdefgh\x00", b"\xff" * 9]),
                 st.binary(min_size=0, max_size=3))


@needs_c
def test_built_in_ci():
    assert SortedKeys is not None, "the C sorted-set index must be built in CI"


@needs_c
class SortedKeysMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.c = SortedKeys(load=4)
        self.ref = SortedList()

    @rule(key=keys)
    def add(self, key):
        self.c.add(key)
        self.ref.add(key)

    @rule(key=keys)
    def remove(self, key):
        if key in self.ref:
            self.c.remove(key)
            self.ref.remove(key)
        else:
            with pytest.raises(ValueError):
                self.c.remove(key)

    @rule(key=keys)
    def discard(self, key):
        self.c.discard(key)
        self.ref.discard(key)

    @rule(key=keys)
    def bisect(self, key):
        assert self.c.bisect_left(key) == self.ref.bisect_left(key)
        assert self.c.bisect_right(key) == self.ref.bisect_right(key)
        assert (key in self.c) == (key in self.ref)

    @precondition(lambda self: len(self.ref) > 0)
    @rule(data=st.data())
    def pop(self, data):
        i = data.draw(st.integers(-len(self.ref), len(self.ref) - 1))
        assert self.c.pop(i) == self.ref.pop(i)

    @precondition(lambda self: len(self.ref) > 0)
    @rule(front=st.booleans())
    def pop_end(self, front):
        if front:
            assert self.c.pop(0) == self.ref.pop(0)
        else:
            assert self.c.pop() == self.ref.pop()

    @rule(data=st.data())
    def getitem(self, data):
        n = len(self.ref)
        i = data.draw(st.integers(-n - 2, n + 2))
        if -n <= i < n:
            assert self.c[i] == self.ref[i]
        else:
            with pytest.raises(IndexError):
                self.c[i]

    @rule(start=st.none() | st.integers(-12, 40), stop=st.none() | st.integers(-12, 40),
          reverse=st.booleans())
    def islice(self, start, stop, reverse):
        assert list(self.c.islice(start, stop, reverse=reverse)) == \
            list(self.ref.islice(start, stop, reverse=reverse))

    @rule(start=st.none() | st.integers(-12, 40), stop=st.none() | st.integers(-12, 40))
    def delete_slice(self, start, stop):
        del self.c[start:stop]
        del self.ref[start:stop]

    @rule(key=keys, n=st.integers(1, 30))
    def add_many(self, key, n):
        # Runs of one key and its neighbours: duplicates across leaf boundaries.
        for i in range(n):
            k = key + bytes([i % 3])
            self.c.add(k)
            self.ref.add(k)

    @invariant()
    def same_contents(self):
        assert len(self.c) == len(self.ref)
        assert list(self.c) == list(self.ref)
        assert list(reversed(self.c)) == list(reversed(self.ref))
        lengths = self.c._leaf_lengths()
        assert sum(lengths) == len(self.ref)
        assert all(0 < n <= 2 * 4 for n in lengths)


TestSortedKeysMachine = SortedKeysMachine.TestCase
TestSortedKeysMachine.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)


@needs_c
@given(st.lists(keys, max_size=200))
def test_constructor_sorts_and_copies(items):
    c = SortedKeys(items, load=4)
    assert list(c) == sorted(items)
    copy = SortedKeys(c)
    c.clear()
    assert list(copy) == sorted(items) and len(c) == 0


@needs_c
def test_positions_on_a_large_index():
    """Ranks stay right across thousands of leaves while the tree is updated in place."""
    c, ref = SortedKeys(load=16), SortedList()
    for i in range(20000):
        k = b"%08d" % ((i * 7919) % 20000)
        c.add(k)
        ref.add(k)
    for i in range(0, 20000, 97):
        k = b"%08d" % i
        assert c.bisect_left(k) == ref.bisect_left(k) == i
        assert c[i] == ref[i]
    for i in range(0, 20000, 3):
        c.remove(b"%08d" % i)
        ref.remove(b"%08d" % i)
    assert [c[i] for i in range(0, len(ref), 101)] == [ref[i] for i in range(0, len(ref), 101)]
    del c[100:5000]
    del ref[100:5000]
    assert list(c) == list(ref)


@needs_c
def test_refuses_what_is_not_bytes():
    c = SortedKeys()
    with pytest.raises(TypeError):
        c.add("text")
    with pytest.raises(TypeError):
        SortedKeys([b"a", 1])
    with pytest.raises(IndexError):
        c.pop()
    with pytest.raises(ValueError):
        SortedKeys(load=1)


@needs_c
@given(st.floats(allow_nan=False) | st.integers(-2**53, 2**53), st.binary(max_size=12))
def test_sort_key_matches_the_python_encoding(score, member):
    from vermilion._sortedkeys import sort_key
    from vermilion.types.sortedset import _sort_key
    assert sort_key(score, member) == _sort_key(float(score), member)


@needs_c
def test_sort_keys_order_like_scores_then_members():
    from vermilion._sortedkeys import sort_key
    scores = [-float("inf"), -1e300, -2.5, -1.0, -5e-324, 0.0, 5e-324, 1.0, 2.5, 1e300, float("inf")]
    keys = [sort_key(s, b"m") for s in scores]
    assert keys == sorted(keys)
    assert sort_key(-0.0, b"m") == sort_key(0.0, b"m")
    assert sort_key(1.0, b"a") < sort_key(1.0, b"ab") < sort_key(1.0, b"b")


# -- the C API (vermilion/_sortedkeys.h), as types/sortedset.py's index_add / index_remove
# reach it: compiled with the C index built they call the capsule's functions, otherwise
# SortedKeys.add / .remove (or SortedList's) and sort_key as Python calls.

scores = (st.floats(allow_nan=False) | st.integers(-2**53, 2**53).map(float)
          | st.sampled_from([0.0, -0.0, 1.0, -1.0, float("inf"), float("-inf")]))


def test_index_updates_take_the_c_api_when_compiled_and_built():
    from vermilion import _native
    from vermilion.types import sortedset
    compiled = "vermilion.types.sortedset" in _native.compiled_modules()
    if compiled and SortedKeys is not None:
        assert sortedset.index_calls() == "C API"
        assert sortedset.OrderedKeys is SortedKeys
        # The capsule's functions check the index's type as SortedKeys.add's callers
        # rely on: an index of another type is refused, not misread.
        with pytest.raises(TypeError):
            sortedset.index_add(SortedList(), 1.0, b"m")
    else:
        assert sortedset.index_calls() == "Python"
    if os.environ.get("CI") == "true" and os.environ.get("VERMILION_PURE_PYTHON", "") in ("", "0"):
        assert sortedset.index_calls() == "C API"


class IndexApiMachine(RuleBasedStateMachine):
    """index_add / index_remove on the index type in use (SortedKeys at a leaf size of 4
    when built) against SortedList of the pure-Python sort keys."""

    def __init__(self):
        super().__init__()
        from vermilion.types import sortedset
        self.sortedset = sortedset
        self.index = SortedKeys(load=4) if SortedKeys is not None else SortedList()
        self.ref = SortedList()
        self.items: list[tuple[float, bytes]] = []

    @rule(score=scores, member=keys)
    def add(self, score, member):
        self.sortedset.index_add(self.index, score, member)
        self.ref.add(self.sortedset._sort_key(score, member))
        self.items.append((score, member))

    @precondition(lambda self: self.items)
    @rule(data=st.data())
    def remove_present(self, data):
        score, member = self.items.pop(data.draw(st.integers(0, len(self.items) - 1)))
        # -0.0 and 0.0 make one key: either removes the other's entry, as in Redis.
        self.sortedset.index_remove(self.index, -score if score == 0 else score, member)
        self.ref.remove(self.sortedset._sort_key(score, member))

    @rule(score=scores, member=keys)
    def remove_absent(self, score, member):
        key = self.sortedset._sort_key(score, member)
        if key not in self.ref:
            with pytest.raises(ValueError):
                self.sortedset.index_remove(self.index, score, member)

    @rule(score=scores, member=keys)
    def rank(self, score, member):
        key = self.sortedset.sort_key(score, member)
        assert key == self.sortedset._sort_key(score, member)
        assert self.index.bisect_left(key) == self.ref.bisect_left(key)

    @invariant()
    def same_contents(self):
        assert list(self.index) == list(self.ref)


TestIndexApiMachine = IndexApiMachine.TestCase
TestIndexApiMachine.settings = settings(max_examples=100, stateful_step_count=50, deadline=None)


def test_index_api_refuses_what_is_not_bytes():
    from vermilion.types import sortedset
    index = SortedKeys() if SortedKeys is not None else SortedList()
    with pytest.raises(TypeError):
        sortedset.index_add(index, 1.0, "text")
    assert len(index) == 0
