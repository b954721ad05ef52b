"""How well used_memory tracks reality, and how Vermilion's memory compares with Redis's.

For each data shape, a fresh server (Vermilion in a subprocess; redis-server for the
comparison) is filled with N keys, and we report:

* Vermilion's RSS growth (measured, /proc) and used_memory growth (accounted): their
  ratio is the accounting error the constants in engine/memory.py are calibrated on
  (target: within +-25%);
* Redis's used_memory growth for the same fill, and Vermilion's RSS growth / that
  (target: at most 2x).

    python benchmarks/memory_accounting.py [--keys 1000000] [--shapes string,hash,...]
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

import redis

VALUE = b"v" * 100


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fill(r: redis.Redis, shape: str, n: int) -> None:
    batch = 2000
    if shape in ("hash1m", "set1m", "zset1m", "list1m", "stream1m"):
        for start in range(0, n, batch):
            p = r.pipeline(transaction=False)
            for i in range(start, min(start + batch, n)):
                m = b"member:%d" % i
                if shape == "hash1m":
                    p.hset("big", m, b"value:%d" % i)
                elif shape == "set1m":
                    p.sadd("big", m)
                elif shape == "zset1m":
                    p.zadd("big", {m: i})
                elif shape == "list1m":
                    p.rpush("big", m)
                else:
                    p.xadd("big", {"field": b"value:%d" % i})
            p.execute()
        return
    for start in range(0, n, batch):
        p = r.pipeline(transaction=False)
        for i in range(start, min(start + batch, n)):
            k = b"key:%d" % i
            if shape == "string":
                p.set(k, VALUE)
            elif shape == "string_ttl":
                p.set(k, VALUE, ex=100000)
            elif shape == "hash":
                p.hset(k, mapping={b"f%d" % j: b"value%d" % j for j in range(5)})
            elif shape == "list":
                p.rpush(k, *[b"element%d" % j for j in range(5)])
            elif shape == "set":
                p.sadd(k, *[b"member%d" % j for j in range(5)])
            elif shape == "zset":
                p.zadd(k, {b"member%d" % j: j for j in range(5)})
            elif shape == "stream":
                p.xadd(k, {"field": "value"})
        p.execute()


def _info(r: redis.Redis) -> dict:
    return r.info("memory")


def _start(kind: str, port: int, workdir: str) -> subprocess.Popen:
    if kind == "redis":
        cmd = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
               "--dir", workdir]
        env = None
    else:
        cmd = [sys.executable, "-m", "vermilion", "server", "--port", str(port), "--save", "",
               "--appendonly", "no", "--dir", workdir]
        env = dict(os.environ)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            redis.Redis(port=port).ping()
            return proc
        except redis.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{kind} did not start")


def measure(kind: str, shape: str, n: int) -> dict:
    workdir = tempfile.mkdtemp(prefix="memacct-")
    port = _free_port()
    proc = _start(kind, port, workdir)
    try:
        r = redis.Redis(port=port)
        before = _info(r)
        _fill(r, shape, n)
        after = _info(r)
        return {
            "rss": after["used_memory_rss"] - before["used_memory_rss"],
            "used": after["used_memory"] - before["used_memory"],
        }
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--shapes", default="string,string_ttl,hash,list,set,zset,stream,"
                                        "hash1m,set1m,zset1m,list1m,stream1m")
    ap.add_argument("--no-redis", action="store_true")
    args = ap.parse_args()
    print(f"{'shape':<11} {'keys':>8} {'V rss MB':>9} {'V used MB':>9} {'used/rss':>8} "
          f"{'R used MB':>9} {'Vrss/Rused':>10}")
    for shape in args.shapes.split(","):
        v = measure("vermilion", shape, args.keys)
        r = None if args.no_redis else measure("redis", shape, args.keys)
        ratio = v["used"] / v["rss"] if v["rss"] else float("nan")
        rline = f"{r['used'] / 2**20:9.1f} {v['rss'] / r['used']:10.2f}" if r else ""
        print(f"{shape:<11} {args.keys:>8} {v['rss'] / 2**20:9.1f} {v['used'] / 2**20:9.1f} "
              f"{ratio:8.2f} {rline}", flush=True)


if __name__ == "__main__":
    main()
