"""Helpers for the persistence tests: Vermilion and redis-server as real processes
in a directory of their own, a dataset covering every type and encoding, and a
full comparison of two servers' contents."""
from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time

import redis

from support import free_port, reference_binary


class ServerProcess:
    """A server process (vermilion or redis-server) with its own data directory."""

    def __init__(self, kind: str, directory: str, *extra: str, port: int | None = None):
        self.kind = kind
        self.dir = directory
        self.extra = list(extra)
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.log = os.path.join(directory, f"{kind}.log")

    def argv(self) -> list[str]:
        base = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir]
        if self.kind == "vermilion":
            # Both servers allow DEBUG (DIGEST, RELOAD ...); the default refuses it.
            return [sys.executable, "-m", "vermilion", "server", *base, "--enable-debug-command",
                    "yes", *self.extra]
        return [reference_binary(), *base, "--enable-debug-command", "yes", *self.extra]

    def start(self, wait: bool = True, timeout: float = 60.0) -> "ServerProcess":
        os.makedirs(self.dir, exist_ok=True)
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(self.argv(), stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        logf.close()
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until PING answers PONG (not LOADING); fails if the process exits."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"{self.kind} not ready after {timeout}s:\n{self.log_text()}")

    def client(self, **kw) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=30, **kw)

    def log_text(self) -> str:
        try:
            with open(self.log, errors="replace") as fh:
                return fh.read()
        except OSError:
            return ""

    def wait_exit(self, timeout: float = 30.0) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        """SIGTERM (graceful: AOF flushed, RDB saved per config) and wait."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def vermilion(directory: str, *extra: str, **kw) -> ServerProcess:
    return ServerProcess("vermilion", directory, *extra, **kw)


def redis_server(directory: str, *extra: str, **kw) -> ServerProcess:
    return ServerProcess("redis", directory, *extra, **kw)


LIBRARY = ("#!lua name=mylib\n"
           "redis.register_function('myfunc', function(keys, args) return args[1] end)")


def populate(r: redis.Redis, seed: int = 7, functions: bool = True) -> None:
    """Every type in every encoding Redis 7.0 writes, TTLs, several databases,
    streams with deleted entries, groups, consumers and pending entries."""
    rnd = random.Random(seed)
    r.set("s:int", 12345)
    r.set("s:neg", -5)
    r.set("s:bigint", 12345678901234)
    r.set("s:short", "hello")
    r.set("s:long", "a" * 1000)                                # LZF in Redis's files
    r.set("s:bin", bytes(rnd.randrange(256) for _ in range(200)))
    r.set("s:empty", "")
    r.set("s:ttl", "v")
    r.pexpireat("s:ttl", 4102444800000)
    r.set("s:text", "hello world " * 30)
    r.rpush("l:small", "a", "b", 1, 2, -3, 10 ** 15, -(2 ** 63), 2 ** 63 - 1)
    r.rpush("l:big", *[("item-%d-" % i) + "x" * (i % 50) for i in range(3000)])
    r.rpush("l:huge", "z" * 20000, "y")
    r.sadd("set:int", 1, 2, 3, -7, 2 ** 40)
    r.sadd("set:bigint", *range(700))
    r.sadd("set:wide", *range(-200, 100), 70000, 2 ** 40)        # an intset past 128 members
    r.sadd("set:str", "a", "b", "c", "12a")
    r.hset("h:small", mapping={"f1": "v1", "f2": 2, "f3": "x" * 30, "-1": "0"})
    r.hset("h:big", mapping={f"field{i}": f"value{i}" for i in range(600)})
    r.hset("h:longval", mapping={"f": "x" * 100})
    r.zadd("z:small", {"a": 1, "b": 2.5, "c": -3, "d": float("inf"), "e": 0.1, "f": 1e20,
                       "g": -0.0, "h": 4503599627370497, "i": float("-inf"), "j": 1.0 / 3})
    r.zadd("z:big", {f"m{i}": i * 1.5 for i in range(300)})
    r.zadd("z:long", {"x" * 100: 1})
    r.pexpireat("z:small", 4102444800123)
    for i in range(250):
        r.xadd("st:big", {"f": i, "g": "v" * (i % 7)}, id=f"{1000 + i}-{i % 3}")
    r.xadd("st:big", {"other": "fields", "n": 1}, id="2000-0")
    r.xdel("st:big", "1005-2", "1100-1")
    r.xgroup_create("st:big", "g1", id="0")
    r.xgroup_create("st:big", "g2", id="$")
    r.xreadgroup("g1", "alice", {"st:big": ">"}, count=10)
    r.xreadgroup("g1", "bob", {"st:big": ">"}, count=5)
    r.xack("st:big", "g1", "1001-1", "1003-0")
    r.xclaim("st:big", "g1", "carol", 0, ["1004-1"])
    r.xgroup_createconsumer("st:big", "g2", "idle")
    r.xadd("st:empty", {"a": 1}, id="5-5")
    r.xdel("st:empty", "5-5")
    r.xgroup_create("st:empty", "g", id="$")
    r.xadd("st:small", {"k": "v"}, id="77-1")
    r.execute_command("XGROUP", "CREATE", "st:small", "late", "0", "ENTRIESREAD", "1")
    c = r.connection_pool.get_connection()
    try:
        for db, key in ((3, "db3:key"), (15, "db15:key")):
            c.send_command("SELECT", db)
            c.read_response()
            c.send_command("SET", key, f"in db {db}")
            c.read_response()
            c.send_command("RPUSH", key + ":list", "x", "y")
            c.read_response()
        c.send_command("SELECT", 0)
        c.read_response()
    finally:
        r.connection_pool.release(c)
    if functions:
        r.function_load(LIBRARY, replace=True)


def snapshot(r: redis.Redis, dbs=(0, 3, 15)) -> dict:
    """Everything observable about a dataset: per key type, encoding, absolute
    expiry, DUMP-independent contents, full stream state; plus the digest."""
    out = {"digest": r.execute_command("DEBUG", "DIGEST")}
    c = r.connection_pool.get_connection()
    try:
        def call(*args):
            c.send_command(*args)
            return c.read_response()
        for db in dbs:
            call("SELECT", db)
            for key in sorted(call("KEYS", "*")):
                kind = call("TYPE", key)
                entry = [kind, call("OBJECT", "ENCODING", key), call("PEXPIRETIME", key)]
                if kind == b"string":
                    entry.append(call("GET", key))
                elif kind == b"list":
                    entry.append(call("LRANGE", key, 0, -1))
                elif kind == b"set":
                    entry.append(sorted(call("SMEMBERS", key)))
                elif kind == b"hash":
                    entry.append(call("HGETALL", key))
                elif kind == b"zset":
                    entry.append(call("ZRANGE", key, 0, -1, "WITHSCORES"))
                elif kind == b"stream":
                    entry.append(call("XINFO", "STREAM", key, "FULL"))
                out[(db, key)] = entry
        call("SELECT", 0)
    finally:
        r.connection_pool.release(c)
    out["functions"] = r.execute_command("FUNCTION", "LIST", "WITHCODE")
    return out


def without_read_counters(snap: dict) -> dict:
    """Groups without entries-read and lag: Redis 7.0 propagates a read without NOACK
    as XCLAIMs, which carry the group's last ID but not its read counter, so after a
    replay of such reads the counter is unknown (nil), on Redis as here."""
    out = {}
    for k, v in snap.items():
        if isinstance(v, list) and v and v[0] == b"stream":
            info = dict(v[3])
            info[b"groups"] = [{f: x for f, x in g.items() if f not in (b"entries-read", b"lag")}
                               for g in info[b"groups"]]
            v = v[:3] + [info]
        out[k] = v
    return out


def diff(a: dict, b: dict) -> list:
    keys = sorted(set(a) | set(b), key=repr)
    return [(k, a.get(k), b.get(k)) for k in keys if a.get(k) != b.get(k)]


def copy_tree(src: str, dst: str) -> None:
    shutil.copytree(src, dst, dirs_exist_ok=True)
