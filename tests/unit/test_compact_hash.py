"""The packed (listpack) form of small hashes against a dict, operation by operation."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from vermilion.types.collections import Hash

LIMITS = {"hash-max-listpack-entries": 10_000, "hash-max-listpack-value": 10_000}

# Short strings, strings around the one-byte length boundary (254/255), and bytes
# that look like length headers (0xff).
strings = st.one_of(
    st.binary(max_size=6),
    st.sampled_from([b"", b"\xff", b"\xff\xff\xff\xff\xff", b"a" * 254, b"b" * 255, b"c" * 300]),
)
ops = st.lists(st.tuples(st.sampled_from(["set", "del", "small", "pairs"]), strings, strings), max_size=40)


@settings(max_examples=150, deadline=None)
@given(ops)
def test_packed_hash_behaves_as_a_dict(steps):
    h, model = Hash(), {}
    for op, field, value in steps:
        if op == "set":
            assert h.set_field(field, value) == (field not in model)
            model[field] = value
        elif op == "small":
            assert h.set_small(field, value, LIMITS) == (field not in model)
            model[field] = value
        elif op == "pairs":
            new = len({field, value} - model.keys())
            assert h.set_pairs([b"HSET", b"k", field, value, value, field], 2, LIMITS) == new
            model[field] = value
            model[value] = field
        else:
            assert h.del_field(field) == (model.pop(field, None) is not None)
        assert not h.big
        assert len(h) == len(model) and bool(h) == bool(model)
        assert list(h.items()) == list(model.items())
        assert h.get(field) == model.get(field) and (field in h) == (field in model)
    assert h.as_dict() == model and list(h) == list(model) and list(h.values()) == list(model.values())
    h.convert()
    assert h.big and h.data == model and list(h.data) == list(model)


def test_limits_convert_one_way():
    limits = {"hash-max-listpack-entries": 3, "hash-max-listpack-value": 4}
    h = Hash()
    for i in range(3):
        h.set_small(b"f%d" % i, b"v", limits)
    assert h.encoding(None) == "listpack"
    h.set_small(b"f0", b"12345", limits)        # a value over the limit
    assert h.encoding(None) == "hashtable" and h[b"f0"] == b"12345"
    g = Hash()
    assert g.set_pairs([b"HSET", b"g"] + [b"x%d" % i for i in range(8)], 2, limits) == 4
    assert g.big and list(g.items()) == [(b"x0", b"x1"), (b"x2", b"x3"), (b"x4", b"x5"), (b"x6", b"x7")]
    copy = g.copy()
    copy[b"new"] = b"v"
    assert b"new" not in g and copy.big


def test_small_hash_costs_a_bytes_object():
    h = Hash({b"f%d" % i: b"value%d" % i for i in range(5)})
    assert h.data.__class__ is bytes and len(h.data) == 5 * (1 + 2 + 1 + 6)


def test_set_table_is_refitted_as_it_grows():
    """A set grown one member at a time keeps a table no larger than CPython sizes for
    a set built at once, where CPython's own fourfold growth leaves a larger one."""
    import sys

    from vermilion.types.collections import Set, SetTable
    def table(c) -> int:
        return sys.getsizeof(c) - sys.getsizeof(type(c)())

    s = Set()
    plain = set()
    for i in range(20000):
        m = b"member:%d" % i
        s.add_member(m)
        plain.add(m)
        if i + 1 in (200, 2457, 5000, 20000):
            assert type(s.data) is SetTable and s.data == plain
            assert table(s.data) <= table(set(plain))
            if i + 1 >= 5000:
                assert table(s.data) < table(plain)
    assert s.remove_member(b"member:7") and b"member:7" not in s and len(s) == 19999
    copy = s.copy()
    assert copy.data == s.data and table(copy.data) <= table(set(plain))
