"""Where the bytes of small collections go: 10,000 values of each shape, measured.

Each value is built with the type the keyspace stores (types/), the same way the
commands build it, and measured two ways: tracemalloc's growth while building them
(with their keys in a dict standing in for the database), and sys.getsizeof of each
part of one value. Shapes as benchmarks/memory_accounting.py: 5 fields/elements.

    python benchmarks/collection_bytes.py [--count 10000]
"""
from __future__ import annotations

import argparse
import gc
import sys
import tracemalloc

from vermilion.types.collections import Hash, List, Set
from vermilion.types.sortedset import SortedSet

LIMITS = {"hash-max-listpack-entries": 512, "hash-max-listpack-value": 64,
          "set-max-intset-entries": 512}


def build(shape: str):
    if shape == "hash":
        h = Hash()
        for j in range(5):
            h[b"f%d" % j] = b"value%d" % j
        h.check_encoding(LIMITS)
        return h
    if shape == "list":
        lst = List()
        lst.extend(b"element%d" % j for j in range(5))
        return lst
    if shape == "set":
        s = Set()
        s.add_members([b"member%d" % j for j in range(5)])  # as SADD does
        s.check_encoding(LIMITS, s)
        return s
    z = SortedSet()
    for j in range(5):
        z.insert(b"member%d" % j, float(j))
    return z


def parts(value) -> dict:
    """sys.getsizeof of each part of one value (elements summed)."""
    size = sys.getsizeof
    if isinstance(value, Hash):
        data = getattr(value, "data", value)
        if isinstance(data, dict):
            return {"Hash object": size(value) if data is not value else 0, "dict": size(data),
                    "fields+values": sum(size(f) + size(v) for f, v in data.items())}
        return {"Hash object": size(value), "packed bytes": size(data)}
    if isinstance(value, (SortedSet, List, Set)):
        name = type(value).__name__
        data = value.data
        if isinstance(data, bytes):
            return {f"{name} object": size(value), "packed bytes": size(data)}
        if isinstance(value, Set):
            return {f"{name} object": size(value), "SetTable": size(data),
                    "members": sum(size(m) for m in data)}
        if isinstance(value, List):
            return {f"{name} object": size(value), "deque": size(data),
                    "elements": sum(size(m) for m in data)}
        return {f"{name} object": size(value), "ZSetIndex object": size(data),
                "scores dict": size(data.scores),
                "members": sum(size(m) for m in data.scores),
                "score floats": sum(size(s) for s in data.scores.values()),
                "order index": size(data.order),
                "sort keys": sum(size(k) for k in data.order)}
    raise TypeError(value)


def measure(shape: str, count: int) -> tuple[float, dict]:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    db = {}
    for i in range(count):
        db[b"key:%d" % i] = build(shape)
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    keys = sum(sys.getsizeof(k) for k in db) / count
    slot = (sys.getsizeof(db) / count)
    return grown / count, {"key bytes": keys, "db dict slot": slot, **parts(db[b"key:0"])}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    for shape in ("hash", "list", "set", "zset"):
        per_key, breakdown = measure(shape, args.count)
        detail = ", ".join(f"{k} {v:.0f}" for k, v in breakdown.items())
        print(f"{shape:5} {per_key:7.0f} B/key (tracemalloc)  {detail}")


if __name__ == "__main__":
    main()
