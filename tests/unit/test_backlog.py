"""The replication backlog against a plain bytes model of what it must hold."""
from __future__ import annotations

from hypothesis import given, strategies as st

from vermilion.engine.replication import Backlog


@given(st.integers(1, 64), st.lists(st.one_of(st.binary(max_size=100), st.integers(1, 80)),
                                    max_size=40))
def test_backlog_holds_the_newest_bytes(size, steps):
    backlog = Backlog(size, 1)
    stream = b""            # everything ever appended (offset 1 is its first byte)
    held = b""              # what the backlog must hold
    for step in steps:
        if isinstance(step, int):               # CONFIG SET repl-backlog-size
            size = step
            backlog.resize(size)
            held = held[-size:]
        else:
            backlog.append(step)
            stream += step
            held = (held + step)[-size:]
        assert backlog.histlen == len(held)
        assert backlog.first_offset == 1 + len(stream) - len(held)
        for offset in range(backlog.first_offset, len(stream) + 2):
            assert backlog.since(offset) == stream[offset - 1:]
