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


class _Engine:
    def __init__(self):
        self.config = {"repl-backlog-size": 100, "repl-backlog-ttl": 3600,
                       "min-replicas-max-lag": 10}
        self.sinks = []
        self.loop = None


def test_psync_after_promotion_serves_the_old_history_up_to_the_switch():
    from vermilion.engine.replication import Replication
    repl = Replication(_Engine())
    repl.create_backlog()
    old = repl.replid
    repl.feed(b"x" * 30)                       # offsets 1..30
    assert repl.can_continue(old, 31) and repl.can_continue(old, 1)
    assert not repl.can_continue(old, 32) and not repl.can_continue("?", 1)
    repl.shift_replid()                        # promotion: old history valid up to 31
    assert (repl.replid2, repl.second_replid_offset) == (old, 31)
    repl.feed(b"y" * 10)
    assert repl.can_continue(old, 31) and repl.can_continue(repl.replid, 41)
    assert not repl.can_continue(old, 32)       # the old primary never sent byte 31+
    assert repl.backlog.since(31) == b"y" * 10
    repl.feed(b"z" * 200)                      # the backlog (100 bytes) moved past them
    assert not repl.can_continue(old, 31) and not repl.can_continue(repl.replid, 41)
    assert repl.can_continue(repl.replid, 241 - 100)
