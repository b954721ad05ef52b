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

    def add(self, event: str, ms: int, now: int | None = None) -> None:
        if now is None:
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

    def graph(self, event: str, now: int | None = None) -> str | None:
        """LATENCY GRAPH: the event's samples as Redis's 4-row sparkline, 80 columns per
        band, each column labelled with how long ago its sample was taken."""
        entry = self.events.get(event)
        if entry is None or not entry[0]:
            return None
        samples, peak = entry
        now = int(time.time()) if now is None else now
        values = [ms for _, ms in samples]
        labels = [_ago(now - t) for t, _ in samples]
        head = "%s - high %d ms, low %d ms (all time high %d ms)\n" % (
            event, max(values), min(values), peak[0])
        out = [head, "-" * GRAPH_COLUMNS + "\n"]
        for start in range(0, len(values), GRAPH_COLUMNS):
            if start:
                out.append("\n")
            out.append(_sparkline(values, labels, start, min(GRAPH_COLUMNS, len(values) - start)))
        return "".join(out)


GRAPH_COLUMNS = 80
_GRAPH_ROWS = 4
_FILL = "_o#"


def _ago(seconds: int) -> str:
    if seconds < 60:
        return "%ds" % seconds
    if seconds < 3600:
        return "%dm" % (seconds // 60)
    if seconds < 86400:
        return "%dh" % (seconds // 3600)
    return "%dd" % (seconds // 86400)


def _sparkline(values: list, labels: list, offset: int, length: int) -> str:
    """One band of a filled sparkline (sparklineRenderRange with SPARKLINE_FILL): the
    scale spans the whole sequence's min..max; rows of bars, a blank row, then the
    labels written downwards."""
    low, high = min(values), max(values)
    span = (high - low) or 1
    steps = len(_FILL) * _GRAPH_ROWS
    levels = []
    for j in range(offset, offset + length):
        step = int(int((values[j] - low) * steps) / span)
        levels.append(min(max(step, 0), steps - 1))
    lines = []
    for row in range(_GRAPH_ROWS):
        chars = []
        for step in levels:
            index = step - (_GRAPH_ROWS - row - 1) * len(_FILL)
            chars.append(_FILL[index] if 0 <= index < len(_FILL) else "|" if index >= len(_FILL) else " ")
        lines.append("".join(chars))
    lines.append(" " * length)
    band = labels[offset:offset + length]
    for row in range(max(len(label) for label in band)):
        lines.append("".join(label[row] if row < len(label) else " " for label in band))
    return "".join(line + "\n" for line in lines)
