"""Server instructions per entry of the stream worker's cycle, without sockets.

What `patterns_bench.py --only "stream c8"` asks of the server per 500 entries:
the producer's MULTI + 500 ``XADD s * i <16 bytes>`` + EXEC (one packed
`add_many` chunk), then 5 x ``XREADGROUP GROUP g c COUNT 100 STREAMS s >`` and 5 x
``XACK`` of the 100 IDs read. The requests are fed to a socketless Connection
(as `micro_dispatch.py` does), so only the server's own work is counted.

Instruction counts are steady on a busy machine where CPU time is not. Run the
script twice under callgrind, counting only inside the server's entry points
(the compiled Connection.data_received and Server.flush_pending, so this
script's own work, such as reading the IDs to ack, is left out), with
``--cycles`` 2 and 12, and divide the difference of the totals by 10 x 500
entries: set-up cancels out.

    for n in 2 12; do PYTHONHASHSEED=0 valgrind --tool=callgrind \\
        --toggle-collect='__pyx_pw_*Connection_*data_received' \\
        --toggle-collect='__pyx_pw_*Server_*flush_pending' \\
        --callgrind-out-file=/tmp/cycle.$n python benchmarks/stream_cycle.py --cycles $n; done
    python benchmarks/stream_cycle.py --diff /tmp/cycle.2 /tmp/cycle.12 --cycles-diff 10

``--part queue`` feeds only MULTI + 500 XADD + DISCARD (the cost of queueing),
``--part exec`` the producer's whole transaction, ``--part read`` adds the reads,
``--part all`` (default) the acks too. ``--run`` prints CPU time per entry instead
(no valgrind; noisy on a shared machine).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from micro_dispatch import NullTransport, encode, make_connection  # noqa: E402

ENTRIES = 500           # per cycle, as one add_many chunk (patterns ADD_MANY_CHUNK)
COUNT = 100             # per XREADGROUP, as the benchmark's worker (batch_size 100)


def cycle_requests(part: str) -> list[bytes]:
    """One cycle's requests, in the order the server gets them; XACK's IDs are
    filled in from the XREADGROUP replies (see `run`), so None marks them."""
    xadd = encode(b"XADD", b"s", b"*", b"i", b"x" * 16)
    out = [encode(b"MULTI") + xadd * ENTRIES + encode(b"DISCARD" if part == "queue" else b"EXEC")]
    if part in ("read", "all"):
        for _ in range(ENTRIES // COUNT):
            out.append(encode(b"XREADGROUP", b"GROUP", b"g", b"c", b"COUNT", COUNT,
                              b"STREAMS", b"s", b">"))
            if part == "all":
                out.append(None)
    return out


class Capture(NullTransport):
    """The transport: keeps the last reply bytes (XREADGROUP's, for the IDs to ack)."""

    last = b""

    def write(self, data):
        self.last = data


def ids_in(reply: bytes) -> list[bytes]:
    """Entry IDs in an XREADGROUP reply (RESP2: each entry's ID is a bulk string
    of the form ms-seq right after an array header of 2)."""
    out = []
    parts = reply.split(b"\r\n")
    for n, p in enumerate(parts):
        if p == b"*2" and n + 2 < len(parts) and parts[n + 1].startswith(b"$") \
                and b"-" in parts[n + 2] and parts[n + 2][:1].isdigit():
            out.append(parts[n + 2])
    return out


def run(cycles: int, part: str) -> float:
    conn = make_connection()
    transport = Capture()
    conn.transport = transport
    end_turn = conn.engine.loop.end_turn
    conn.data_received(encode(b"XGROUP", b"CREATE", b"s", b"g", b"$", b"MKSTREAM"))
    end_turn()
    requests = cycle_requests(part)
    start = time.process_time()
    for _ in range(cycles):
        for req in requests:
            if req is None:
                ids = ids_in(transport.last)
                assert len(ids) == COUNT, len(ids)
                req = encode(b"XACK", b"s", b"g", *ids)
            conn.data_received(req)
            end_turn()
        if part == "exec":
            # Keep the stream's size bounded like the worker's acks would not: the
            # counts then do not depend on the number of cycles.
            conn.data_received(encode(b"XTRIM", b"s", b"MAXLEN", b"0"))
            end_turn()
    return (time.process_time() - start) / (cycles * ENTRIES) * 1e6


def total(path: str) -> int:
    with open(path) as fh:
        for line in fh:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError(f"no total in {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cycles", type=int, default=20)
    ap.add_argument("--part", choices=("queue", "exec", "read", "all"), default="all")
    ap.add_argument("--run", action="store_true", help="print CPU time per entry")
    ap.add_argument("--diff", nargs=2, metavar=("FEW", "MANY"),
                    help="two callgrind outputs: print instructions per entry")
    ap.add_argument("--cycles-diff", type=int, default=20, help="MANY's cycles - FEW's")
    args = ap.parse_args()
    if args.diff:
        few, many = (total(p) for p in args.diff)
        print(f"{(many - few) / (args.cycles_diff * ENTRIES):,.0f} instructions per entry")
        return
    us = run(args.cycles, args.part)
    if args.run:
        print(f"{us:.2f} us of CPU per entry ({args.part})")


if __name__ == "__main__":
    main()
