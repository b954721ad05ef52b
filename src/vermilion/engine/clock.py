"""The one source of time for the engine, replaceable in tests."""
from __future__ import annotations

import time


class Clock:
    """Wall-clock time in milliseconds (what expiry and stream IDs are measured in)."""

    def ms(self) -> int:
        return time.time_ns() // 1_000_000

    def us(self) -> int:
        return time.time_ns() // 1_000


class FakeClock(Clock):
    """A clock tests move by hand, so expiry and idle times are tested without sleeping."""

    def __init__(self, start_ms: int = 1_700_000_000_000):
        self.now_us = start_ms * 1000

    def ms(self) -> int:
        return self.now_us // 1000

    def us(self) -> int:
        return self.now_us

    def advance(self, ms: float) -> None:
        self.now_us += int(ms * 1000)
