"""Instructions per request of the real server under redis-benchmark, counted by callgrind.

CPU time per request moves by tens of percent on a shared machine; instruction counts
do not. This starts `vermilion server` under `valgrind --tool=callgrind` with
instrumentation off, warms it up with one redis-benchmark run, counts only a second
run (callgrind_control -i on/off), and reports the server's instructions per request:
the whole path (socket reads, parsing, dispatch, the command, replies, writes, the
event loop), with the same random keys, pipelining and clients as cpu_per_request.py.

    python benchmarks/server_instructions.py --tests APPSET,APPGET
    python benchmarks/server_instructions.py --tests APPSET,APPGET --user "~app:* +@read +@write"

Needs valgrind (apt install valgrind) and redis-benchmark.
"""
from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpu_per_request import BENCH_PASSWORD, BENCH_USER, TESTS  # noqa: E402
from vbench.servers import free_port, server_env  # noqa: E402


def _total(path: str) -> int:
    """The instruction total callgrind wrote in a dump file."""
    found = {}
    with open(path) as fh:
        for line in fh:
            if line.startswith(("summary:", "totals:")):
                key, value = line.split()[:2]
                found[key] = int(value)
    if not found:
        raise RuntimeError(f"no total in {path}")
    # A dump requested by callgrind_control can carry "summary: 0" and the count in totals.
    return found.get("totals:") or found.get("summary:", 0)


def start_replica(port: int, work: str) -> subprocess.Popen:
    """A redis-server replica of the server on `port`, synced: writes then pay for the stream."""
    rport = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(rport), "--save", "", "--appendonly", "no",
                             "--dir", work, "--dbfilename", "replica.rdb", "--replicaof", "127.0.0.1",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while "master_link_status:up" not in subprocess.run(
            ["redis-cli", "-p", str(rport), "INFO", "replication"], capture_output=True, text=True).stdout:
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError("the replica did not sync")
        time.sleep(0.5)
    return proc


def measure(python: str, tests: list[str], user: str | None, requests: int, pipeline: int,
            clients: int, keep: str | None = None, replica: bool = False) -> dict[str, float]:
    port = free_port()
    work = tempfile.mkdtemp(prefix="callgrind-server-")
    out_file = os.path.join(work, "callgrind.out.%p")
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out_file}",
           python, "-m", "vermilion", "server", "--port", str(port), "--save", "", "--appendonly", "no",
           "--dir", work]
    env = {**server_env(), "PYTHONHASHSEED": "0"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    results = {}
    try:
        deadline = time.monotonic() + 300
        while subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True,
                             text=True).stdout.strip() != "PONG":
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the server under valgrind did not start")
            time.sleep(0.5)
        if replica:
            replica_proc = start_replica(port, work)
        auth: list[str] = []
        if user:
            subprocess.run(["redis-cli", "-p", str(port), "ACL", "SETUSER", BENCH_USER, "on",
                            ">" + BENCH_PASSWORD, *user.split()], check=True, capture_output=True)
            auth = ["--user", BENCH_USER, "-a", BENCH_PASSWORD]
        bench = ["redis-benchmark", "-p", str(port), *auth, "-c", str(clients), "-r", "100000",
                 "-P", str(pipeline), "-q"]
        for name in tests:
            subprocess.run(["redis-cli", "-p", str(port), "FLUSHALL"], capture_output=True)
            subprocess.run([*bench, "-n", str(requests), *TESTS[name]], capture_output=True, check=True)
            subprocess.run(["callgrind_control", "--zero", str(proc.pid)], capture_output=True, check=True)
            subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], capture_output=True, check=True)
            subprocess.run([*bench, "-n", str(requests), *TESTS[name]], capture_output=True, check=True)
            subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], capture_output=True, check=True)
            before = set(glob.glob(os.path.join(work, "callgrind.out.*")))
            subprocess.run(["callgrind_control", "--dump=" + name, str(proc.pid)], capture_output=True,
                           check=True)
            dumps = sorted(set(glob.glob(os.path.join(work, "callgrind.out.*"))) - before,
                           key=os.path.getmtime)
            results[name] = _total(dumps[-1]) / requests
            if keep:
                os.makedirs(keep, exist_ok=True)
                shutil.copy(dumps[-1], os.path.join(keep, f"callgrind.{name}.out"))
    finally:
        if replica:
            replica_proc.kill()
            replica_proc.wait()
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--tests", default="APPSET,APPGET")
    p.add_argument("--user", default=None, help="ACL rules of the benchmark user (default: the default user)")
    p.add_argument("-n", "--requests", type=int, default=20_000)
    p.add_argument("-P", "--pipeline", type=int, default=16)
    p.add_argument("-c", "--clients", type=int, default=50)
    p.add_argument("--replica", action="store_true", help="with a redis-server replica attached")
    p.add_argument("--keep", default=None, help="copy each test's callgrind dump into this directory "
                                                "(for callgrind_annotate)")
    opts = p.parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is needed (apt install valgrind)", file=sys.stderr)
        return 2
    names = [t for t in opts.tests.split(",") if t]
    res = measure(opts.python, names, opts.user, opts.requests, opts.pipeline, opts.clients, opts.keep,
                  opts.replica)
    who = f"ACL user '{opts.user}'" if opts.user else "default user"
    print(f"# instructions per request, -P {opts.pipeline}, -c {opts.clients}, -n {opts.requests}, {who}"
          f"{', one replica' if opts.replica else ''}")
    for name in names:
        print(f"{name:<8} {res[name]:10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
