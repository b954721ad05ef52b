"""The latency monitor (LATENCY LATEST / HISTORY / RESET / DOCTOR), as Redis 7.0's.

With `latency-monitor-threshold` N > 0 (milliseconds), an event that lasts N ms or
more is sampled: `command` and `fast-command` (a command's run time), `expire-cycle`
(one active-expiry pass). Each event keeps its last 160 samples, at most one per
second (a second sample in the same second keeps the larger latency), and its
all-time maximum.
"""
from __future__ import annotations

import time
from collections import deque

HISTORY_LEN = 160


class LatencyMonitor:
    def __init__(self):
        self.events: dict[str, tuple[deque, list]] = {}    # name -> (samples, [max])

    def add(self, event: str, ms: int) -> None:
        now = int(time.time())
        entry = self.events.get(event)
        if entry is None:
            entry = self.events[event] = (deque(maxlen=HISTORY_LEN), [0])
        samples, peak = entry
        if samples and samples[-1][0] == now:
            if ms > samples[-1][1]:
                samples[-1] = (now, ms)
        else:
            samples.append((now, ms))
        if ms > peak[0]:
            peak[0] = ms

    def latest(self) -> list:
        return [[name.encode(), samples[-1][0], samples[-1][1], peak[0]]
                for name, (samples, peak) in self.events.items() if samples]

    def history(self, event: str) -> list:
        entry = self.events.get(event)
        return [] if entry is None else [[t, ms] for t, ms in entry[0]]

    def reset(self, names: list[str] | None = None) -> int:
        if names is None:
            n = len(self.events)
            self.events.clear()
            return n
        return sum(self.events.pop(name, None) is not None for name in names)

    def summary(self) -> list[tuple[str, int, int, int]]:
        """(event, samples, average ms, max ms) per event, for LATENCY DOCTOR."""
        out = []
        for name, (samples, peak) in self.events.items():
            if samples:
                out.append((name, len(samples), sum(ms for _, ms in samples) // len(samples), peak[0]))
        return out
