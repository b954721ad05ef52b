"""Per-command latency histograms with the buckets of Redis 7.0's HdrHistogram.

Redis records every call's duration, in whole microseconds times 1,000, into an
HdrHistogram of 1 ns .. 1 s with 2 significant figures, and reports percentiles
(INFO latencystats) and a log-2 iteration from 1,024 ns (LATENCY HISTOGRAM) of
it. The values it prints are bucket bounds, not the recorded values, so the
same bucket layout is needed to print the same numbers; this module has that
layout (256 sub-buckets, 23 buckets, 3,072 counters) and nothing else of the
library.

Recording is on the request path, so the counters are an array of C integers
that the engine increments by index (compiled, a typed memoryview: no Python
integer is made per call): the first FAST_US slots count calls by their exact
microsecond, the remaining slots are the HdrHistogram counters for slower calls
(`record_slow`). A call's microsecond maps to exactly one HdrHistogram counter,
so folding the fast slots in at report time gives the counts Redis has.
"""
from __future__ import annotations

from array import array
from bisect import bisect_left
from itertools import accumulate, compress

LOWEST = 1                  # ns; a 0 us call is recorded as 1 ns
HIGHEST = 1_000_000_000     # ns; slower calls are recorded as 1 s
_HALF_MAGNITUDE = 7         # log2(sub-bucket half count) for 2 significant figures
_HALF = 1 << _HALF_MAGNITUDE
_SUB_MASK = (_HALF << 1) - 1
COUNTERS = 3072             # (buckets needed for HIGHEST + 1) * _HALF

FAST_US = 1024              # calls under this many microseconds are counted per microsecond
SIZE = FAST_US + COUNTERS


def _bucket(value: int) -> int:
    return (value | _SUB_MASK).bit_length() - (_HALF_MAGNITUDE + 1)


def index_of(value: int) -> int:
    """The counter of a value in ns (Redis's counts_index_for)."""
    bucket = _bucket(value)
    return ((bucket + 1) << _HALF_MAGNITUDE) + (value >> bucket) - _HALF


def value_at(index: int) -> int:
    """The lowest value that counter `index` holds."""
    bucket = (index >> _HALF_MAGNITUDE) - 1
    sub = (index & (_HALF - 1)) + _HALF
    if bucket < 0:
        sub -= _HALF
        bucket = 0
    return sub << bucket


def lowest_equivalent(value: int) -> int:
    bucket = _bucket(value)
    return (value >> bucket) << bucket


def highest_equivalent(value: int) -> int:
    bucket = _bucket(value)
    sub = value >> bucket
    width = 1 << (bucket + 1 if sub >= _HALF << 1 else bucket)
    return (sub << bucket) + width - 1


def _ns(usec: int) -> int:
    return min(max(usec * 1000, LOWEST), HIGHEST)


# The counter of each per-microsecond slot, and of every slot.
_FAST_INDEX = [index_of(_ns(usec)) for usec in range(FAST_US)]
_SLOT_COUNTER = _FAST_INDEX + list(range(COUNTERS))


def new() -> array:
    return array("q", bytes(8 * SIZE))


def record(cmd, usec: int) -> None:
    """Count a call of `cmd` that took `usec` microseconds (Engine.call inlines this)."""
    counts = cmd.histogram
    if counts is None:
        counts = cmd.histogram = new()
    if usec < FAST_US:
        counts[usec] += 1
    else:
        record_slow(counts, usec)


def record_slow(counts, usec: int) -> None:
    """Count a call of `usec` microseconds (FAST_US or more)."""
    counts[FAST_US + index_of(_ns(usec))] += 1


def _array(counts):
    """The array of counters (compiled code hands a typed memoryview of it, which
    would slice and iterate at Python speed; `snapshot`'s bytes are read back)."""
    if isinstance(counts, array):
        return counts
    if isinstance(counts, bytes):
        out = array("q")
        out.frombytes(counts)
        return out
    return getattr(counts, "base", counts)


def snapshot(counts) -> bytes:
    """The counters' bytes: equal snapshots, equal histograms."""
    return _array(counts).tobytes()


def copy(counts) -> array:
    """A copy of the counters, which `percentiles` reads like the original (as it
    reads a `snapshot`)."""
    return _array(counts)[:]


def counters(counts) -> list:
    """The HdrHistogram counters: the slow slots plus the per-microsecond ones folded in."""
    counts = _array(counts)
    out = list(counts[FAST_US:SIZE])
    fast_index = _FAST_INDEX
    for usec in compress(range(FAST_US), counts[:FAST_US]):
        out[fast_index[usec]] += counts[usec]
    return out


# Every non-zero byte to 1: bytes.find then jumps from one non-empty slot to the next.
_MARK = bytes([0] + [1] * 255)


def _used_slots(counts: array) -> list[int]:
    """The indexes of the non-zero slots, in order (C loops over the bytes; one
    Python step per non-zero slot)."""
    size = counts.itemsize
    marks = counts.tobytes().translate(_MARK)
    used: list[int] = []
    at = marks.find(1)
    while at != -1:
        slot = at // size
        used.append(slot)
        at = marks.find(1, (slot + 1) * size)
    return used


def percentiles(counts, ps) -> list[int]:
    """hdr_value_at_percentile of the histogram `counts` (record's slots) for each
    of `ps`: the highest value of the first counter where the count reaches p%; 0
    for an empty histogram.

    Reads only the non-empty slots (found in the array's bytes, with no integer
    made per empty slot): their HdrHistogram counters never decrease in slot order
    (record_slow only fills counters above those of the per-microsecond slots), so
    the first slot whose running count reaches p% is in the counter the folded
    histogram would reach it in. INFO latencystats, read by every metrics scrape,
    calls this for each command that ran."""
    counts = _array(counts)
    used = _used_slots(counts)
    if not used:
        return [0 for _ in ps]
    running = list(accumulate([counts[i] for i in used]))
    total = running[-1]
    out = []
    for p in ps:
        wanted = max(int(min(p, 100.0) / 100 * total + 0.5), 1)
        value = value_at(_SLOT_COUNTER[used[bisect_left(running, wanted)]])
        out.append(lowest_equivalent(value) if p == 0.0 else highest_equivalent(value))
    return out


def log_buckets(hdr: list, total: int) -> list[tuple[int, int]]:
    """LATENCY HISTOGRAM's rows: (bucket upper bound in us, cumulative count) at each
    power of two from 1,024 ns, as hdr_iter_log_init(1024, 2) iterates, keeping the rows
    whose cumulative count grew."""
    rows = []
    level = 1024
    level_low = lowest_equivalent(level)
    index = -1
    value = 0
    cumulative = 0
    previous = 0
    while cumulative < total or (index < COUNTERS and value_at(index + 1) > level_low):
        while value < level_low:
            index += 1
            if index >= COUNTERS:
                break
            cumulative += hdr[index]
            value = value_at(index)
        else:
            if cumulative > previous:
                rows.append((highest_equivalent(value) // 1000, cumulative))
            previous = cumulative
            level *= 2
            level_low = lowest_equivalent(level)
            continue
        # Past the last counter: the iterator reports the last step once more, then ends.
        if cumulative > previous:
            rows.append((highest_equivalent(value) // 1000, cumulative))
        break
    return rows
