#!/usr/bin/env python3
"""Server CPU time per request, Vermilion against real Redis, in one run.

At -P 16 on a 2-core machine redis-benchmark itself saturates a core before
either server does, so requests/s mostly measures the client. What the server
spends is measured directly instead: the server process's utime+stime (from
/proc/PID/stat) before and after one redis-benchmark run, divided by the
requests it served.

    python benchmarks/cpu_per_request.py                      # this interpreter
    python benchmarks/cpu_per_request.py --python python3.12  # Vermilion on another one
    python benchmarks/cpu_per_request.py --tests SET,GET -P 1 --json out.json
    python benchmarks/cpu_per_request.py --tests APPSET,APPGET --user "~app:* +@read +@write"
    python benchmarks/cpu_per_request.py --tls --tests SET,GET -P 1   # both servers TLS only

--user RULES creates an ACL user with those rules (and a password) on both
servers and makes redis-benchmark authenticate as it, so ACL checks are paid on
every request; compare with the same tests run without --user.

--tls makes a throw-away CA and server certificate with the openssl command, starts
both servers on them with TLS only (port 0, tls-port, tls-auth-clients no) and runs
`redis-benchmark --tls` (and redis-cli --tls for PING/FLUSHALL).

Each test runs against both servers alternately for --rounds rounds (15 by
default: on this 2-core virtual machine a 5-round median of one test still moved by
0.1-0.3 between runs minutes apart, Redis's own figure as much as ours); the
median of each side is printed with the ratio Vermilion/Redis (lower is
better for CPU, higher for requests/s).
"""
from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from vbench.servers import free_port, server_env  # noqa: E402

EVAL_SET = "return redis.call('SET', KEYS[1], ARGV[1])"
# Ten redis.call()s (five SET, five GET) against the same loop without them:
# (EVAL10 - EVAL0) / 10 is what one redis.call costs the server.
EVAL_10_CALLS = ("for i = 1, 5 do redis.call('SET', KEYS[1], ARGV[1]); "
                 "redis.call('GET', KEYS[1]) end return 1")
EVAL_NO_CALLS = "for i = 1, 5 do local a, b = KEYS[1], ARGV[1] end return 1"

# name -> redis-benchmark arguments after the common options
TESTS: dict[str, list[str]] = {
    "SET": ["-t", "set"],
    "GET": ["-t", "get"],
    "INCR": ["-t", "incr"],
    "LPUSH": ["-t", "lpush"],
    "SADD": ["-t", "sadd"],
    # SADD to many small sets (redis-benchmark's SADD grows one big set).
    "SADDSMALL": ["SADD", "set:__rand_int__", "m:__rand_int__"],
    "HSET": ["-t", "hset"],
    "ZADD": ["-t", "zadd"],
    "XADD": ["XADD", "bench:stream", "MAXLEN", "~", "10000", "*", "f", "v"],
    "PUBLISH": ["PUBLISH", "bench:ch", "hello"],
    "EVAL": ["EVAL", EVAL_SET, "1", "key:__rand_int__", "v"],
    "EVAL10": ["EVAL", EVAL_10_CALLS, "1", "key:__rand_int__", "v"],
    "EVAL0": ["EVAL", EVAL_NO_CALLS, "1", "key:__rand_int__", "v"],
    # SET/GET on keys a user limited to ~app:* may touch (for --user).
    "APPSET": ["SET", "app:__rand_int__", "xxx"],
    "APPGET": ["GET", "app:__rand_int__"],
    "APPHSET": ["HSET", "app:hash", "f:__rand_int__", "v"],
    "APPXADD": ["XADD", "app:stream", "MAXLEN", "~", "10000", "*", "f", "v"],
    # Sparse for the first ~1500 distinct elements, dense after (PFCOUNT needs a
    # preloaded key: see the vbench `hyperloglog` suite).
    "PFADD": ["PFADD", "bench:hll", "el:__rand_int__"],
}

def make_certs(d: str) -> dict:
    """A CA and a server certificate it signs (EC keys: quick to make)."""
    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=bench-ca")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "1")
    return {name: os.path.join(d, f) for name, f in
            (("ca", "ca.crt"), ("cert", "server.crt"), ("key", "server.key"))}


# Client-side TLS options of redis-cli / redis-benchmark ([] without --tls).
CLIENT_TLS: list[str] = []

BENCH_USER = "bench"
BENCH_PASSWORD = "bench-password"

CLK_TCK = os.sysconf("SC_CLK_TCK")


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


try:
    _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    _LIBC.clock_getcpuclockid
except (OSError, AttributeError):
    _LIBC = None


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds, to the nanosecond.

    /proc/PID/stat gives utime and stime in clock ticks (10 ms): over a run of 300,000
    requests one tick is 0.033 us per request, 5% of a GET. The kernel splits the same
    total, the run time the scheduler counted for all the process's threads (exited ones
    included), into those two fields; the process's CPU clock (clock_getcpuclockid +
    clock_gettime) reads that total in nanoseconds. Falls back to the ticks when the
    clock cannot be read."""
    if _LIBC is not None:
        clock = ctypes.c_int()
        ts = _Timespec()
        if _LIBC.clock_getcpuclockid(pid, ctypes.byref(clock)) == 0 and \
                _LIBC.clock_gettime(clock.value, ctypes.byref(ts)) == 0:
            return ts.tv_sec + ts.tv_nsec / 1e9
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def wait_ready(port: int, deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        r = subprocess.run(["redis-cli", "-p", str(port), *CLIENT_TLS, "PING"], capture_output=True, text=True)
        if r.stdout.strip() == "PONG":
            return
        time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not answer PING")


class Server:
    def __init__(self, kind: str, python: str, user_rules: str | None = None, certs: dict | None = None):
        self.kind = kind
        self.auth: list[str] = []
        self.python = python
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix=f"cpubench-{kind}-")
        listen = ["--port", str(self.port)]
        if certs:
            listen = ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", certs["cert"],
                      "--tls-key-file", certs["key"], "--tls-ca-cert-file", certs["ca"],
                      "--tls-auth-clients", "no"]
        common = [*listen, "--save", "", "--appendonly", "no", "--dir", self.dir]
        if kind == "redis":
            cmd = [shutil.which("redis-server") or "/usr/bin/redis-server", *common]
        else:
            cmd = [python, "-m", "vermilion", "server", *common]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env=server_env())
        wait_ready(self.port)
        if user_rules:
            subprocess.run(["redis-cli", "-p", str(self.port), *CLIENT_TLS, "ACL", "SETUSER", BENCH_USER, "on",
                            ">" + BENCH_PASSWORD, *user_rules.split()], check=True,
                           capture_output=True)
            self.auth = ["--user", BENCH_USER, "-a", BENCH_PASSWORD]

    def implementation(self) -> str:
        if self.kind == "redis":
            return "redis"
        r = subprocess.run([self.python, "-c", "import importlib, vermilion._native as n; [importlib.import_module(m) for m in n.COMPILED_MODULES]; print(n.describe())"],
                           capture_output=True, text=True, env=server_env())
        return r.stdout.strip() or "?"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_one(server: Server, args: list[str], requests: int, pipeline: int, clients: int) -> tuple[float, float]:
    """(server CPU microseconds per request, requests per second) for one benchmark run."""
    subprocess.run(["redis-cli", "-p", str(server.port), *CLIENT_TLS, "FLUSHALL"],
                   capture_output=True)
    before = cpu_seconds(server.proc.pid)
    t0 = time.monotonic()
    out = subprocess.run(["redis-benchmark", "-p", str(server.port), *CLIENT_TLS, *server.auth,
                          "-c", str(clients),
                          "-n", str(requests), "-r", "100000", "-P", str(pipeline), "-q", *args],
                         capture_output=True, text=True, check=True).stdout
    elapsed = time.monotonic() - t0
    used = cpu_seconds(server.proc.pid) - before
    m = re.findall(r"([\d.]+) requests per second", out)
    rps = float(m[-1]) if m else requests / elapsed
    return used * 1e6 / requests, rps


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--python", default=sys.executable, help="interpreter that runs Vermilion")
    p.add_argument("--tests", default=",".join(TESTS), help="comma-separated subset of " + ",".join(TESTS))
    p.add_argument("-P", "--pipeline", type=int, default=16)
    p.add_argument("-n", "--requests", type=int, default=300_000)
    p.add_argument("-c", "--clients", type=int, default=50)
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--json", help="write the results here too")
    p.add_argument("--user", metavar="RULES",
                   help="benchmark as an ACL user with these rules, e.g. \"~app:* +@read +@write\"")
    p.add_argument("--tls", action="store_true", help="both servers TLS only, on the same certificates")
    opts = p.parse_args(argv)
    names = [t.strip().upper() for t in opts.tests.split(",") if t.strip()]
    unknown = [n for n in names if n not in TESTS]
    if unknown:
        p.error(f"unknown tests: {', '.join(unknown)}")

    version = subprocess.run([opts.python, "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    certs = None
    if opts.tls:
        certs = make_certs(tempfile.mkdtemp(prefix="cpubench-tls-"))
        CLIENT_TLS[:] = ["--tls", "--cacert", certs["ca"]]
    servers = {kind: Server(kind, opts.python, opts.user, certs) for kind in ("redis", "vermilion")}
    results: dict[str, dict] = {}
    try:
        impl = servers["vermilion"].implementation()
        print(f"# Python {version} (Vermilion loop: {impl}){', TLS' if certs else ''}, -P {opts.pipeline}, -c {opts.clients}, "
              f"-n {opts.requests}, median of {opts.rounds}"
              + (f", ACL user '{opts.user}'" if opts.user else ", default user"))
        print(f"{'test':<8} {'V us/req':>9} {'R us/req':>9} {'CPU V/R':>8} {'V req/s':>10} {'R req/s':>10} {'rps V/R':>8}")
        for name in names:
            samples: dict[str, list[tuple[float, float]]] = {"redis": [], "vermilion": []}
            for _ in range(opts.rounds):
                for kind in ("redis", "vermilion"):
                    samples[kind].append(run_one(servers[kind], TESTS[name], opts.requests,
                                                 opts.pipeline, opts.clients))
            med = {k: (statistics.median(c for c, _ in v), statistics.median(r for _, r in v))
                   for k, v in samples.items()}
            (vc, vr), (rc, rr) = med["vermilion"], med["redis"]
            results[name] = {"vermilion_us": vc, "redis_us": rc, "cpu_ratio": vc / rc,
                             "vermilion_rps": vr, "redis_rps": rr, "rps_ratio": vr / rr}
            print(f"{name:<8} {vc:9.2f} {rc:9.2f} {vc / rc:8.2f} {vr:10.0f} {rr:10.0f} {vr / rr:8.2f}",
                  flush=True)
    finally:
        for s in servers.values():
            s.stop()
    if opts.json:
        Path(opts.json).write_text(json.dumps({"python": version, "loop": impl, "pipeline": opts.pipeline,
                                               "user": opts.user, "tls": bool(certs), "results": results},
                                              indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
