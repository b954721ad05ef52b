"""Server CPU per request, Vermilion against redis-server, with redis-benchmark.

On a shared machine requests/s move with everyone else's load; the CPU time the
server process itself spent (utime + stime from /proc/<pid>/stat) divided by the
requests it answered moves far less. Both servers run in the same invocation,
alternating, on the same workload:

    python benchmarks/cpu_per_request.py                      # SET, GET at -P 1 and -P 16
    python benchmarks/cpu_per_request.py --tls                # the same over TLS (same certificates)
    python benchmarks/cpu_per_request.py -t set,incr -P 1 16 32 -n 200000 --rounds 3

--tls makes a throw-away CA and server certificate with the openssl command, starts
both servers with TLS only (port 0, tls-port N, tls-auth-clients no) and runs
`redis-benchmark --tls`. The ratio column is Redis CPU / Vermilion CPU per request,
so 0.5 means Vermilion spends twice Redis's CPU per request.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_certs(d: str) -> dict:
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


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def start(kind: str, port: int, certs: dict | None, datadir: str) -> subprocess.Popen:
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", datadir]
    if certs:
        common += ["--port", "0", "--tls-port", str(port), "--tls-cert-file", certs["cert"],
                   "--tls-key-file", certs["key"], "--tls-ca-cert-file", certs["ca"],
                   "--tls-auth-clients", "no"]
    else:
        common += ["--port", str(port)]
    cmd = ["redis-server", *common] if kind == "redis" else [sys.executable, "-m", "vermilion", "server", *common]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc


def bench(port: int, test: str, pipeline: int, requests: int, clients: int, certs: dict | None) -> float:
    cmd = ["redis-benchmark", "-p", str(port), "-t", test, "-n", str(requests), "-c", str(clients),
           "-P", str(pipeline), "-r", "100000", "-q", "--csv"]
    if certs:
        cmd += ["--tls", "--cacert", certs["ca"]]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=600).stdout
    for line in out.splitlines():
        parts = [p.strip('"') for p in line.split(",")]
        if len(parts) > 1 and parts[0] != "test":
            return float(parts[1])
    raise RuntimeError(f"no result from redis-benchmark: {out!r}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-t", "--tests", default="set,get")
    ap.add_argument("-P", "--pipelines", type=int, nargs="+", default=[1, 16])
    ap.add_argument("-n", "--requests", type=int, default=100_000)
    ap.add_argument("-c", "--clients", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--tls", action="store_true", help="both servers serve TLS only; redis-benchmark --tls")
    args = ap.parse_args()
    if shutil.which("redis-benchmark") is None or shutil.which("redis-server") is None:
        print("redis-server and redis-benchmark are required", file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="cpu-bench-")
    certs = make_certs(tmp) if args.tls else None
    servers = {}
    try:
        for kind in ("redis", "vermilion"):
            port = free_port()
            datadir = os.path.join(tmp, kind)
            os.mkdir(datadir)
            servers[kind] = (start(kind, port, certs, datadir), port)
        print(f"{'test':<8} {'-P':>3}  {'redis us/req':>12} {'verm us/req':>12} {'ratio':>6}  "
              f"{'redis rps':>10} {'verm rps':>10}" + ("   (TLS)" if certs else ""))
        for test in args.tests.split(","):
            for pipeline in args.pipelines:
                cpu = {"redis": [], "vermilion": []}
                rps = {"redis": [], "vermilion": []}
                for _ in range(args.rounds):
                    for kind, (proc, port) in servers.items():
                        before = cpu_seconds(proc.pid)
                        rps[kind].append(bench(port, test, pipeline, args.requests, args.clients, certs))
                        cpu[kind].append((cpu_seconds(proc.pid) - before) / args.requests * 1e6)
                r, v = min(cpu["redis"]), min(cpu["vermilion"])
                print(f"{test:<8} {pipeline:>3}  {r:>12.2f} {v:>12.2f} {r / v:>6.2f}  "
                      f"{max(rps['redis']):>10.0f} {max(rps['vermilion']):>10.0f}", flush=True)
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
