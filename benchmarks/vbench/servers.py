"""Start and stop redis-server / the Vermilion server on free ports."""

from __future__ import annotations

import atexit
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from .resp import RawConn, ReplyError

REPO_ROOT = Path(__file__).resolve().parents[2]
SRC_DIR = REPO_ROOT / "src"

KINDS = ("redis", "vermilion")

_LIVE: "set[Server]" = set()


class ServerStartError(Exception):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def default_command(kind: str, redis_cmd: str | None = None, vermilion_cmd: str | None = None) -> list[str]:
    if kind == "redis":
        return shlex.split(redis_cmd) if redis_cmd else ["/usr/bin/redis-server"]
    if vermilion_cmd:
        return shlex.split(vermilion_cmd)
    return [sys.executable, "-m", "vermilion", "server"]


def server_env() -> dict:
    env = dict(os.environ)
    if SRC_DIR.is_dir():
        old = env.get("PYTHONPATH")
        env["PYTHONPATH"] = str(SRC_DIR) + (os.pathsep + old if old else "")
    return env


def build_args(port: int, options: dict[str, str], datadir: Path | None = None) -> list[str]:
    """``--port P --save '' --appendonly no [--dir D]`` plus overrides, each option once."""
    merged = {"save": "", "appendonly": "no"}
    if datadir is not None:
        merged["dir"] = str(datadir)  # Vermilion's default dir is not the cwd
    merged.update(options)
    args = ["--port", str(port)]
    for k, v in merged.items():
        args += [f"--{k}", str(v)]
    return args


class Server:
    """One server process.  ``kind`` is 'redis' or 'vermilion'."""

    def __init__(self, kind: str, command: list[str], datadir: Path, options: dict[str, str] | None = None,
                 host: str = "127.0.0.1"):
        self.kind = kind
        self.command = list(command)
        self.datadir = Path(datadir).resolve()
        self.options = dict(options or {})
        self.host = host
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.logfile = None
        self._pid: int | None = None
        self.last_ready_seconds: float | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def argv(self) -> list[str]:
        return self.command + build_args(self.port, self.options, self.datadir)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self, timeout: float = 60.0, port: int | None = None) -> float:
        """Start the process and wait until it answers PING.  Returns seconds until ready."""
        if self.running():
            raise RuntimeError("already running")
        self.datadir.mkdir(parents=True, exist_ok=True)
        if port is not None:
            self.port = port
        elif self.port is None:
            self.port = free_port()
        self.logfile = open(self.datadir / f"{self.kind}-server.log", "ab")
        t0 = time.perf_counter()
        # New session: a Ctrl-C in the terminal reaches only the driver, which stops us in order.
        self.proc = subprocess.Popen(self.argv, cwd=self.datadir, stdin=subprocess.DEVNULL,
                                     stdout=self.logfile, stderr=subprocess.STDOUT,
                                     env=server_env(), start_new_session=True)
        _LIVE.add(self)
        self._pid = None
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        self.last_ready_seconds = time.perf_counter() - t0
        return self.last_ready_seconds

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerStartError(
                    f"{self.kind} server exited with code {self.proc.returncode} during startup: "
                    f"{' '.join(shlex.quote(a) for a in self.argv)}\n{self.log_tail()}")
            try:
                with RawConn(self.host, self.port, timeout=2.0) as c:
                    reply = c.call("PING", raise_errors=False)
                if isinstance(reply, ReplyError):
                    last = str(reply)
                    if not str(reply).startswith("LOADING"):
                        raise ServerStartError(f"{self.kind} server answered PING with: {reply}")
                elif reply in (b"PONG", "PONG"):
                    return
                else:
                    last = repr(reply)
            except (OSError, ConnectionError) as e:
                last = str(e)
            time.sleep(0.01)
        raise ServerStartError(f"{self.kind} server not ready after {timeout:.0f}s ({last})\n{self.log_tail()}")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (graceful: Redis flushes the AOF), then SIGKILL after ``timeout``."""
        proc = self.proc
        if proc is not None:
            if proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                except ProcessLookupError:
                    pass
        if self.logfile is not None:
            self.logfile.close()
            self.logfile = None
        _LIVE.discard(self)

    def restart(self, timeout: float = 60.0) -> float:
        self.stop()
        return self.start(timeout=timeout, port=self.port)

    # -- introspection ----------------------------------------------------------------------------
    def raw(self, timeout: float | None = 120.0) -> RawConn:
        return RawConn(self.host, self.port, timeout=timeout)

    @property
    def pid(self) -> int | None:
        """The server's pid: INFO's process_id if it gives one (a wrapper may sit in between)."""
        if self._pid is None and self.running():
            self._pid = self.proc.pid
            try:
                info = self.info("server")
                if "process_id" in info:
                    self._pid = int(info["process_id"])
            except Exception:
                pass
        return self._pid

    def info(self, section: str = "server") -> dict[str, str]:
        with self.raw(timeout=10) as c:
            reply = c.call("INFO", section)
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        out = {}
        for line in text.splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                out[k] = v
        return out

    def rss_kb(self) -> int:
        pid = self.pid
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("VmRSS not found")

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = (self.datadir / f"{self.kind}-server.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join("    | " + l for l in text.splitlines()[-lines:])

    def __repr__(self):
        return f"<Server {self.kind} port={self.port} pid={self.proc.pid if self.proc else None}>"


def stop_all() -> None:
    for s in list(_LIVE):
        try:
            s.stop(timeout=10)
        except Exception:
            pass


atexit.register(stop_all)
