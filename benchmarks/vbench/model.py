"""Entry types of a suite, targets, measurements and the per-run context."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

from .resp import RawConn, ReplyError


# -- outcomes -------------------------------------------------------------------------------------

class Unsupported(Exception):
    """The server rejected a command the entry needs (unknown command, syntax error, ...)."""


class BenchError(Exception):
    """Anything else that went wrong in one measurement."""


class BenchTimeout(BenchError):
    pass


@dataclass
class Measurement:
    value: float
    unit: str
    higher_is_better: bool = True
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """A bound on the ratio vermilion/redis: ``>= 0.9`` for throughput, ``<= 3`` for memory."""
    op: str
    value: float

    def check(self, ratio: float) -> bool:
        return ratio >= self.value if self.op == ">=" else ratio <= self.value

    def __str__(self):
        return f"{self.op}{self.value:g}x"

    def as_json(self):
        return {"op": self.op, "value": self.value}


def at_least(v: float) -> Target:
    return Target(">=", v)


def at_most(v: float) -> Target:
    return Target("<=", v)


# -- context handed to setup steps and measurements ----------------------------------------------

@dataclass
class Context:
    server: "object"            # servers.Server
    kind: str                    # 'redis' or 'vermilion'
    pipeline: Optional[int]
    requests: int                # -n (already scaled by the entry's requests_factor)
    clients: int                 # -c
    scale: float                 # 1.0, or smaller with --quick: multiply data-set sizes by it
    quick: bool
    tmpdir: Path
    timeout: float
    benchmark_bin: str = "redis-benchmark"
    params: dict = field(default_factory=dict)   # the entry's params

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        return self.server.url

    def size(self, n: int) -> int:
        """A data-set size, shrunk under --quick."""
        return max(1, int(n * self.scale))

    def raw(self, timeout: float | None = None) -> RawConn:
        return RawConn(self.host, self.port, timeout=timeout or self.timeout)

    def redis(self, **kw):
        import redis
        kw.setdefault("socket_timeout", self.timeout)
        return redis.Redis(host=self.host, port=self.port, **kw)

    def benchmark_argv(self, *extra: str, clients: int | None = None, requests: int | None = None,
                       pipeline: int | None = None) -> list[str]:
        return [self.benchmark_bin, "-h", self.host, "-p", str(self.port),
                "-c", str(clients if clients is not None else self.clients),
                "-n", str(requests if requests is not None else self.requests),
                "-P", str(pipeline if pipeline is not None else (self.pipeline or 1)),
                "--csv", "-q", *extra]


SetupFn = Callable[[Context], None]


# -- redis-benchmark output ------------------------------------------------------------------------

_ERR_RE = re.compile(r"Error from server:\s*(.*)")


def check_benchmark_failure(proc: subprocess.CompletedProcess) -> None:
    """Raise Unsupported / BenchError for a failed redis-benchmark run."""
    out = (proc.stdout or "") + "\n" + (proc.stderr or "")
    m = _ERR_RE.search(out)
    if m:
        raise Unsupported(m.group(1).strip())
    if proc.returncode != 0:
        tail = " | ".join(l for l in out.strip().splitlines()[-3:])
        raise BenchError(f"redis-benchmark exited with {proc.returncode}: {tail}")


def parse_benchmark_csv(text: str, test: str | None) -> dict:
    rows = [r for r in csv.reader(io.StringIO(text)) if r]
    if not rows:
        raise BenchError("redis-benchmark printed no CSV")
    header, data = rows[0], rows[1:]
    if header[:2] != ["test", "rps"]:
        raise BenchError(f"unexpected redis-benchmark CSV header: {header}")
    if test is not None:
        want = test.upper()
        data = [r for r in data if r[0].upper() == want or r[0].upper().startswith(want + " ")]
    else:
        data = [r for r in data if "needed to benchmark" not in r[0]]
    if not data:
        raise BenchError(f"test {test!r} not found in redis-benchmark output:\n{text}")
    row = dict(zip(header, data[-1]))
    return row


def run_benchmark(ctx: Context, args: Sequence[str], test: str | None = None, **kw) -> dict:
    """Run redis-benchmark with ``args`` after the common options; return the CSV row."""
    argv = ctx.benchmark_argv(*args, **kw)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=ctx.timeout)
    except subprocess.TimeoutExpired:
        raise BenchTimeout(f"redis-benchmark did not finish within {ctx.timeout:.0f}s")
    check_benchmark_failure(proc)
    return parse_benchmark_csv(proc.stdout, test)


# -- entries ------------------------------------------------------------------------------------

@dataclass
class Entry:
    name: str
    description: str = ""
    config: str = "default"
    pipelines: Optional[tuple] = None          # None: the CLI's --pipeline list; (None,): no pipeline
    targets: dict = field(default_factory=dict)  # pipeline (or None = any) -> Target
    setup: Sequence[SetupFn] = ()               # once per server (per fresh server if isolated)
    before_each: Sequence[SetupFn] = ()         # before every measurement
    flush: bool = True                           # FLUSHALL before setup
    isolated: bool = False                       # a fresh server per measurement
    requests_factor: float = 1.0                 # -n multiplier for this entry
    params: dict = field(default_factory=dict)
    unit: str = ""                               # shown when no measurement succeeded

    kind = "entry"

    def target_for(self, pipeline) -> Optional[Target]:
        if pipeline in self.targets:
            return self.targets[pipeline]
        return self.targets.get(None)

    def measure(self, ctx: Context) -> Measurement:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        return self.description


@dataclass
class BenchTest(Entry):
    """A redis-benchmark run: a built-in test (``-t``) or a raw command line."""
    test: Optional[str] = None                  # built-in test name for -t
    command: Optional[Sequence[str]] = None     # custom command argv
    random: Optional[int] = None                # -r keyspace
    data_size: Optional[int] = None             # -d
    unit: str = "rps"

    kind = "redis-benchmark"

    def __post_init__(self):
        if (self.test is None) == (self.command is None):
            raise ValueError(f"{self.name}: give exactly one of test= or command=")

    def benchmark_args(self) -> list[str]:
        args: list[str] = []
        if self.random:
            args += ["-r", str(self.random)]
        if self.data_size:
            args += ["-d", str(self.data_size)]
        if self.test:
            args += ["-t", self.test]
        else:
            args += list(self.command)
        return args

    def measure(self, ctx: Context) -> Measurement:
        row = run_benchmark(ctx, self.benchmark_args(), self.test)
        extra = {k: float(v) for k, v in row.items() if k.endswith("_ms")}
        extra["csv_test"] = row["test"]
        return Measurement(float(row["rps"]), "rps", True, extra)

    def describe(self) -> str:
        if self.description:
            return self.description
        what = f"-t {self.test}" if self.test else " ".join(self.command)
        return what + (f" (-r {self.random})" if self.random else "")


@dataclass
class Scenario(Entry):
    """A custom Python measurement: ``fn(ctx) -> Measurement``."""
    fn: Optional[Callable[[Context], Measurement]] = None
    pipelines: Optional[tuple] = (None,)

    kind = "scenario"

    def measure(self, ctx: Context) -> Measurement:
        return self.fn(ctx)


def which(binary: str) -> str | None:
    return shutil.which(binary)
