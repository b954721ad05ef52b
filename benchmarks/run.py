#!/usr/bin/env python3
"""Benchmark Vermilion against real Redis in one run.

Starts redis-server and the Vermilion server (same options, free ports, separate data
directories), runs each test against both servers alternately for a number of rounds, takes
medians and prints a table with the ratio vermilion/redis and the targets.

    python benchmarks/run.py                       # foundation suite
    python benchmarks/run.py --suite streams --suite pubsub
    python benchmarks/run.py --suite all --quick   # smoke run of everything
    python benchmarks/run.py --list                # suites and their entries

See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from vbench.runner import (Options, Runner, failure_notes, log, report_json, summary,  # noqa: E402
                           table)
from vbench.servers import REPO_ROOT, stop_all  # noqa: E402
from vbench.suites import SUITES  # noqa: E402

QUICK_REQUESTS = 20_000
QUICK_ROUNDS = 1
QUICK_SCALE = 0.1


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Benchmark Vermilion against redis-server.",
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="suites: " + ", ".join(SUITES) + ", all")
    p.add_argument("--suite", action="append", metavar="NAME",
                   help="suite to run (repeatable, or comma-separated; 'all' for every suite; "
                        "default: foundation)")
    p.add_argument("--tests", metavar="A,B", help="only these entries (case-insensitive names, "
                   "e.g. SET,GET; 'SET' also matches 'SET aof=everysec')")
    p.add_argument("--pipeline", metavar="1,16", default="1,16",
                   help="pipeline depths for redis-benchmark tests (default 1,16)")
    p.add_argument("-n", "--requests", type=int, help="requests per redis-benchmark run (default 200000)")
    p.add_argument("--rounds", type=int, help="rounds per test and server; medians are reported (default 3)")
    p.add_argument("-c", "--clients", type=int, default=50, help="parallel connections (default 50)")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: -n {QUICK_REQUESTS}, {QUICK_ROUNDS} round, data sets x{QUICK_SCALE}")
    p.add_argument("--scale", type=float, help="multiply preloaded data-set sizes (1M members...) by this")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per measurement")
    p.add_argument("--json", metavar="PATH", help="also write the JSON results here")
    p.add_argument("--no-save", action="store_true", help="don't write benchmarks/results/<timestamp>.json")
    p.add_argument("--fail-on-target", action="store_true", help="exit 1 if a target fails")
    p.add_argument("--list", action="store_true", help="list suites and entries, then exit")
    p.add_argument("--keep-data", action="store_true", help="keep the temporary data directories")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("--redis-cmd", help="redis-server command (default /usr/bin/redis-server)")
    p.add_argument("--benchmark-bin", default="redis-benchmark", help=argparse.SUPPRESS)
    # Development aid: run the 'vermilion' side with another command, e.g. redis-server itself.
    p.add_argument("--vermilion-cmd", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def list_suites() -> None:
    for s in SUITES.values():
        print(f"{s.name}: {s.description}")
        for e in s.entries:
            target = ", ".join((f'P{p} {t}' if p is not None else str(t)) for p, t in e.targets.items())
            cfg = f" [{e.config}: {s.configs[e.config]}]" if e.config != "default" else ""
            iso = " [fresh server per run]" if e.isolated else ""
            print(f"  {e.name:<20} {e.describe()}{cfg}{iso}" + (f"  target: {target}" if target else ""))
        print()


def _sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list:
        list_suites()
        return 0
    names: list[str] = []
    for item in args.suite or ["foundation"]:
        names += [x.strip() for x in item.split(",") if x.strip()]
    if "all" in names:
        names = list(SUITES)
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        print(f"unknown suite(s): {', '.join(unknown)}; known: {', '.join(SUITES)}", file=sys.stderr)
        return 2
    if not shutil.which(args.benchmark_bin):
        print(f"{args.benchmark_bin} not found on PATH", file=sys.stderr)
        return 2

    opts = Options(
        requests=args.requests or (QUICK_REQUESTS if args.quick else 200_000),
        rounds=args.rounds or (QUICK_ROUNDS if args.quick else 3),
        clients=args.clients,
        pipelines=tuple(int(x) for x in args.pipeline.split(",") if x.strip()),
        scale=args.scale if args.scale is not None else (QUICK_SCALE if args.quick else 1.0),
        quick=args.quick, timeout=args.timeout,
        tests={t.strip().lower() for t in args.tests.split(",")} if args.tests else None,
        redis_cmd=args.redis_cmd, vermilion_cmd=args.vermilion_cmd,
        benchmark_bin=args.benchmark_bin, keep_data=args.keep_data, verbose=args.verbose)

    # SIGTERM behaves like Ctrl-C: stop the servers, keep what was measured.
    signal.signal(signal.SIGTERM, _sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored

    started = time.time()
    tmpdir = Path(tempfile.mkdtemp(prefix="vermilion-bench-"))
    runner = Runner(opts, tmpdir)
    interrupted = False
    log(f"requests={opts.requests} rounds={opts.rounds} clients={opts.clients} "
        f"pipelines={','.join(map(str, opts.pipelines))} scale={opts.scale} data={tmpdir}")
    try:
        for name in names:
            results = runner.run_suite(SUITES[name])
            if results:
                print(f"\n[{name}]")
                print(table(results), flush=True)
    except KeyboardInterrupt:
        interrupted = True
        log("\ninterrupted: stopping servers")
    finally:
        stop_all()
        if not opts.keep_data:
            shutil.rmtree(tmpdir, ignore_errors=True)
        else:
            log(f"data kept in {tmpdir}")

    if runner.results:
        if interrupted or len(names) > 1:
            print("\n" + ("[all, partial]" if interrupted else "[all]"))
            print(table(runner.results))
        print(summary(runner.results))
        notes = failure_notes(runner.results)
        if notes:
            print("not measured:\n" + notes)
        doc = report_json(runner, opts, names, started, interrupted, REPO_ROOT)
        paths = []
        if not args.no_save:
            stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started))
            paths.append(HERE / "results" / f"{stamp}.json")
        if args.json:
            paths.append(Path(args.json))
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(doc, indent=2) + "\n")
            print(f"results written to {path}")
    if interrupted:
        return 130
    if args.fail_on_target and any(r.verdict == "FAIL" for r in runner.results):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
