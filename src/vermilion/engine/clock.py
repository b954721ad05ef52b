"""The one source of time for the engine, replaceable in tests."""
from __future__ import annotations

import time

try:
    import cython
except ImportError:                 # not compiled and no Cython: the declarations do nothing
    from .. import _compiling as cython


class Clock:
    """Wall-clock time in milliseconds (what expiry and stream IDs are measured in).

    Compiled, a C class (clock.pxd): a caller that declares its clock local as
    ``Clock`` calls ``ms()`` as a C function, which reads CLOCK_REALTIME (the
    clock ``time.time_ns()`` reads) without a Python call or an int object on the
    way. A subclass (FakeClock) overrides both methods as Python methods do."""

    def ms(self) -> int:
        if cython.compiled:
            clock_gettime(CLOCK_REALTIME, cython.address(ts))  # noqa: F821 (clock.pxd)
            return ts.tv_sec * 1000 + ts.tv_nsec // 1000000  # noqa: F821
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
