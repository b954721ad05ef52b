"""Callgrind instructions per command of `micro_dispatch.py`'s workloads, on any interpreter.

Time per command moves by tens of percent on a shared machine; the instructions an
interpreter executes for it do not. Each workload runs in a child process under
`valgrind --tool=callgrind`, fed to a Connection without sockets (micro_dispatch's
NullTransport and TurnLoop): warm-up rounds first, then the measured rounds inside one
`functools.reduce` call, and callgrind counts only that call (`--toggle-collect`):
the request path, the handler, the end of turn's flush, and one Python call per round.

    python benchmarks/dispatch_instructions.py --only GET,HSET_BIG
    python benchmarks/dispatch_instructions.py --python ~/.pyenv/versions/3.12.1/bin/python --only GET
    VERMILION_PURE_PYTHON=1 python benchmarks/dispatch_instructions.py --only SET

--python runs the children on another interpreter: it must import this checkout's
`vermilion` (its venv's editable install, or PYTHONPATH=src) and find its compiled
modules built for it. Needs valgrind (apt install valgrind).
"""
from __future__ import annotations

import argparse
import functools
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import micro_dispatch as md  # noqa: E402
from server_instructions import _total  # noqa: E402

WARMUP = 100


def child(name: str, pipeline: int, rounds: int) -> None:
    conn = md.make_connection()
    for request in md.SETUP.get(name, list)():
        conn.data_received(request)
        conn.engine.loop.end_turn()
    make = md.WORKLOADS[name]
    chunks = [b"".join(make((WARMUP + i) * pipeline + j) for j in range(pipeline))
              for i in range(WARMUP + rounds)]
    end_turn = conn.engine.loop.end_turn
    feed = conn.data_received
    for chunk in chunks[:WARMUP]:
        feed(chunk)
        end_turn()
    from vermilion import _native
    print(_native.describe(), flush=True)

    def step(_, chunk):
        feed(chunk)
        end_turn()

    functools.reduce(step, chunks[WARMUP:], None)     # what callgrind counts


def measure(python: str, name: str, pipeline: int, rounds: int, keep: str | None) -> tuple[float, str]:
    work = tempfile.mkdtemp(prefix="dispatch-instr-")
    out = os.path.join(work, "callgrind.out")
    try:
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", "--collect-atstart=no",
             "--toggle-collect=functools_reduce", f"--callgrind-out-file={out}",
             python, os.path.abspath(__file__), "--child", name, "-P", str(pipeline),
             "--rounds", str(rounds)],
            capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        if proc.returncode != 0:
            raise RuntimeError(f"{name}: the child failed:\n{proc.stderr[-2000:]}")
        if keep:
            os.makedirs(keep, exist_ok=True)
            shutil.copy(out, os.path.join(keep, f"callgrind.{name}.out"))
        return _total(out) / (rounds * pipeline), proc.stdout.strip()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--only", default="GET,SET,HSET_BIG", help="comma-separated workloads of micro_dispatch")
    p.add_argument("-P", "--pipeline", type=int, default=16)
    p.add_argument("--rounds", type=int, default=200, help="measured rounds (after %d warm-up rounds)" % WARMUP)
    p.add_argument("--keep", default=None, help="copy each workload's callgrind dump into this directory")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    opts = p.parse_args(argv)
    if opts.child:
        child(opts.child, opts.pipeline, opts.rounds)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is needed (apt install valgrind)", file=sys.stderr)
        return 2
    names = [n for n in opts.only.split(",") if n]
    unknown = [n for n in names if n not in md.WORKLOADS]
    if unknown:
        p.error(f"unknown workloads: {', '.join(unknown)}")
    version = subprocess.run([opts.python, "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    described = ""
    rows = []
    for name in names:
        count, described = measure(opts.python, name, opts.pipeline, opts.rounds, opts.keep)
        rows.append((name, count))
    print(f"# Python {version} ({described}), -P {opts.pipeline}, {opts.rounds} rounds, "
          f"instructions per command")
    for name, count in rows:
        print(f"{name:<14} {count:10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
