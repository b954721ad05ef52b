#!/usr/bin/env python3
"""Instructions per SET while maxmemory evicts continuously, in process (no sockets).

A Connection (micro_dispatch.py's, its output discarded) is fed pipelined SETs of
random keys out of 1M with 100-byte values under ``maxmemory`` and a policy, first
``--fill`` commands to get past the limit, then ``--measure`` more. Run it twice under
callgrind, with and without the measured part (``--baseline`` builds the same requests
but does not send them), and divide the difference by ``--measure``: the count per command is the same whatever else the machine does, and
the fill is not counted.

    for run in --baseline ""; do PYTHONHASHSEED=0 valgrind --tool=callgrind \\
        --callgrind-out-file=/tmp/evict$run python benchmarks/eviction_instructions.py $run; done
    callgrind_annotate /tmp/evict | head; callgrind_annotate /tmp/evict--baseline | head

Without valgrind it prints CPU time per measured command and evictions per command.
``--maxmemory 0`` measures plain SET (no limit) the same way.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from micro_dispatch import encode, make_connection  # noqa: E402

VALUE = b"x" * 100


def chunks(start: int, count: int, pipeline: int) -> list[bytes]:
    # A fixed pseudo-random key sequence (an LCG over 1M keys), the same in every run.
    out = []
    for base in range(start, start + count, pipeline):
        out.append(b"".join(encode(b"SET", b"key:%d" % ((i * 2654435761) % 1_000_003), VALUE)
                            for i in range(base, base + pipeline)))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--maxmemory", default="5mb")
    p.add_argument("--policy", default="allkeys-lru")
    p.add_argument("-P", "--pipeline", type=int, default=16)
    p.add_argument("--fill", type=int, default=20_000)
    p.add_argument("--measure", type=int, default=8000)
    p.add_argument("--baseline", action="store_true", help="build the measured requests, send none")
    opts = p.parse_args()
    conn = make_connection()
    engine = conn.engine
    # The clients' totals are taken again every 10 ms of wall-clock time (engine/memory.py):
    # in real time once per thousands of commands, under valgrind (~50x slower) every few
    # dozen, which would count a cost the server does not pay and vary from run to run.
    # One connection, no client comes or goes: hold that clock still.
    import vermilion.engine.memory as memory_module
    memory_module._monotonic_ns = lambda: 0
    engine.config.set_many([("maxmemory", opts.maxmemory), ("maxmemory-policy", opts.policy)])
    end_turn = engine.loop.end_turn
    fill = chunks(0, opts.fill, opts.pipeline)
    measure = chunks(opts.fill, opts.measure, opts.pipeline)
    for chunk in fill:
        conn.data_received(chunk)
        end_turn()
    before = engine.stats.evicted_keys
    start = time.process_time()
    for chunk in [] if opts.baseline else measure:
        conn.data_received(chunk)
        end_turn()
    elapsed = time.process_time() - start
    if not opts.baseline:
        evicted = engine.stats.evicted_keys - before
        print(f"{elapsed / opts.measure * 1e6:.2f} us/cmd, {evicted / opts.measure:.2f} evictions/cmd, "
              f"{len(engine.dbs[0].data)} keys")
    return 0


if __name__ == "__main__":
    sys.exit(main())
