"""Large lists (types/collections.QuickList) against a plain Python list as the model.

Every operation the list commands use, in random sequences that cross node bounds
(128 elements, 8 KB), with elements of every length class (short, 255+ bytes, longer
than a node); after each step the contents, the node invariants and the counts the
memory accounting reads must hold.
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vermilion.types.collections import (LIST_PACKED_BYTES, LIST_PACKED_ENTRIES, QUICKLIST_NODE,
                                         List, QuickList, _lp_count)


def _check(ql: QuickList, model: list) -> None:
    assert len(ql) == len(model) and bool(ql) == bool(model)
    assert list(ql) == model and list(reversed(ql)) == model[::-1]
    sealed = packed = 0
    for node in ql.nodes:
        assert node                                  # no empty node is kept
        if type(node) is tuple:
            count, data = node
            assert count == _lp_count(data)
            assert count <= LIST_PACKED_ENTRIES and (count == 1 or len(data) <= LIST_PACKED_BYTES)
            sealed += count
            packed += QUICKLIST_NODE + ((len(data) + 48) & -16)
    assert (ql.sealed, ql.packed) == (sealed, packed)


_values = st.one_of(st.binary(max_size=12), st.binary(min_size=250, max_size=300),
                    st.just(b"z" * (LIST_PACKED_BYTES + 10)))
_ops = st.lists(st.tuples(st.sampled_from(["append", "appendleft", "pop", "popleft", "set", "insert",
                                           "get", "slice", "index", "bulk"]),
                          st.integers(0, 10**6), _values), max_size=60)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 700), _ops)
def test_quicklist_matches_a_list(start, ops):
    model = [b"e%d" % i for i in range(start)]
    ql = QuickList(model)
    _check(ql, model)
    for op, n, v in ops:
        size = len(model)
        if op == "append":
            ql.append(v)
            model.append(v)
        elif op == "appendleft":
            ql.appendleft(v)
            model.insert(0, v)
        elif op == "bulk":                       # enough pushes to seal a node at either end
            for i in range(n % 300):
                if n & 1:
                    ql.append(b"b%d" % i)
                    model.append(b"b%d" % i)
                else:
                    ql.appendleft(b"b%d" % i)
                    model.insert(0, b"b%d" % i)
        elif not size:
            continue
        elif op == "pop":
            for _ in range(1 + n % 200):
                if model:
                    assert ql.pop() == model.pop()
        elif op == "popleft":
            for _ in range(1 + n % 200):
                if model:
                    assert ql.popleft() == model.pop(0)
        elif op == "set":
            ql[n % size] = v
            model[n % size] = v
            ql[-1] = v
            model[-1] = v
        elif op == "insert":
            ql.insert(n % (size + 1), v)
            model.insert(n % (size + 1), v)
        elif op == "get":
            assert ql[n % size] == model[n % size] and ql[-1 - n % size] == model[-1 - n % size]
        elif op == "slice":
            a = n % size
            b = a + (n // 7) % (size - a)
            assert ql.slice(a, b) == model[a:b + 1]
        elif op == "index":
            target = model[n % size]
            assert ql.index(target) == model.index(target)
        _check(ql, model)
    copy = ql.copy()
    ql.append(b"after copy")
    _check(copy, model)


def test_list_moves_to_quicklist_past_the_packed_bounds():
    lst = List()
    lst.extend(b"%d" % i for i in range(LIST_PACKED_ENTRIES))
    assert lst.packed
    lst.append(b"one more")
    assert type(lst.data) is QuickList and len(lst) == LIST_PACKED_ENTRIES + 1
    big = List([b"x" * 100] * 100)                  # 10 KB: past the byte bound
    assert type(big.data) is QuickList and list(big) == [b"x" * 100] * 100


def test_pushed_elements_are_packed():
    """Pushed one by one from both ends, all but the open end nodes are sealed, and
    each element costs ~10 bytes besides its own (a deque of bytes objects: ~56)."""
    ql = QuickList()
    for i in range(100_000):
        if i & 1:
            ql.append(b"element:%d" % i)
        else:
            ql.appendleft(b"element:%d" % i)
    assert ql.size - ql.sealed <= 2 * LIST_PACKED_ENTRIES
    assert ql.memory() < 100_000 * (len(b"element:99999") + 12)
    assert ql[0] == b"element:99998" and ql[-1] == b"element:99999" and ql[49_999] == b"element:0"
