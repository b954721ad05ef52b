"""Run suites against both servers alternately; aggregate, print and save the results."""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .model import BenchError, BenchTimeout, Context, Entry, Measurement, Unsupported
from .resp import ReplyError
from .servers import KINDS, Server, ServerStartError, default_command
from .suites import Suite


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields), idle


def machine_busy(seconds: float = 0.5) -> Optional[float]:
    """Fraction of all CPUs busy over ``seconds`` (None where /proc/stat is missing)."""
    try:
        t0, i0 = _cpu_times()
        time.sleep(seconds)
        t1, i1 = _cpu_times()
    except (OSError, ValueError, IndexError):
        return None
    return 1.0 - (i1 - i0) / (t1 - t0) if t1 > t0 else 0.0


def warn_if_busy(where: str) -> Optional[float]:
    busy = machine_busy()
    if busy is not None and busy > 0.15:
        log(f"   !! the machine is {busy:.0%} busy before {where} with nothing of ours running: "
            f"other load will skew the numbers")
    return busy


@dataclass
class Options:
    requests: int = 200_000
    rounds: int = 3
    clients: int = 50
    pipelines: tuple = (1, 16)
    scale: float = 1.0
    quick: bool = False
    timeout: float = 600.0
    start_timeout: float = 60.0
    tests: Optional[set] = None
    redis_cmd: Optional[str] = None
    vermilion_cmd: Optional[str] = None
    benchmark_bin: str = "redis-benchmark"
    keep_data: bool = False
    verbose: bool = False


@dataclass
class Side:
    """One server's runs of one (entry, pipeline)."""
    values: list = field(default_factory=list)
    status: str = "ok"          # ok | unsupported | error | timeout | crashed | not-run
    errors: list = field(default_factory=list)
    extra: list = field(default_factory=list)

    def fail(self, status: str, msg: str) -> None:
        if self.status == "ok":
            self.status = status
        self.errors.append(msg)

    @property
    def median(self) -> Optional[float]:
        return statistics.median(self.values) if self.values else None

    def as_json(self):
        return {"median": self.median, "values": self.values, "status": self.status,
                "errors": self.errors, "extra": self.extra}


@dataclass
class Result:
    suite: str
    entry: Entry
    pipeline: Optional[int]
    unit: str = ""
    higher_is_better: bool = True
    sides: dict = field(default_factory=lambda: {k: Side() for k in KINDS})

    @property
    def ratio(self) -> Optional[float]:
        r, v = self.sides["redis"].median, self.sides["vermilion"].median
        if r is None or v is None or r == 0:
            return None
        return v / r

    @property
    def target(self):
        return self.entry.target_for(self.pipeline)

    @property
    def verdict(self) -> str:
        t = self.target
        if t is None:
            return "-"
        ratio = self.ratio
        if ratio is None or self.sides["vermilion"].status != "ok" or self.sides["redis"].status != "ok":
            return "n/a"
        return "PASS" if t.check(ratio) else "FAIL"

    def as_json(self):
        t = self.target
        return {"suite": self.suite, "test": self.entry.name, "kind": self.entry.kind,
                "config": self.entry.config, "description": self.entry.describe(),
                "pipeline": self.pipeline, "unit": self.unit, "higher_is_better": self.higher_is_better,
                "redis": self.sides["redis"].as_json(), "vermilion": self.sides["vermilion"].as_json(),
                "ratio": self.ratio, "target": t.as_json() if t else None, "verdict": self.verdict}


def classify(exc: BaseException, server: Optional[Server]) -> str:
    try:
        import redis
        if isinstance(exc, redis.ResponseError):
            return "unsupported"
    except ImportError:  # pragma: no cover
        pass
    if isinstance(exc, (Unsupported, ReplyError)):
        return "unsupported"
    if isinstance(exc, BenchTimeout):
        return "timeout"
    if server is not None and not server.running():
        return "crashed"
    return "error"


class Runner:
    def __init__(self, opts: Options, tmpdir: Path):
        self.opts = opts
        self.tmpdir = tmpdir
        self.results: list[Result] = []
        self.server_info: dict[str, dict] = {}
        self._seq = 0
        self._flush_warned: set[str] = set()
        self.busy: dict[str, Optional[float]] = {}  # suite -> CPU busy fraction before it ran

    # -- servers ----------------------------------------------------------------------------------
    def command(self, kind: str) -> list[str]:
        return default_command(kind, self.opts.redis_cmd, self.opts.vermilion_cmd)

    def new_server(self, kind: str, datadir: Path, options: dict) -> Server:
        return Server(kind, self.command(kind), datadir, options)

    def _note_info(self, s: Server) -> None:
        if s.kind in self.server_info:
            return
        try:
            info = s.info("server")
            self.server_info[s.kind] = {
                "command": s.command, "version": info.get("redis_version"),
                "vermilion_version": info.get("vermilion_version"),
                "startup_seconds": s.last_ready_seconds}
        except Exception as e:
            self.server_info[s.kind] = {"command": s.command, "info_error": str(e)}

    # -- suites ---------------------------------------------------------------------------------------
    def run_suite(self, suite: Suite) -> list[Result]:
        entries = [e for e in suite.entries if self.selected(e)]
        out: list[Result] = []
        if not entries:
            return out
        log(f"== suite {suite.name}: {suite.description}")
        self.busy[suite.name] = warn_if_busy(f"suite {suite.name}")
        for config in suite.config_names():
            group = [e for e in entries if e.config == config]
            if group:
                out += self.run_config(suite, config, suite.configs[config], group)
        return out

    def selected(self, e: Entry) -> bool:
        if not self.opts.tests:
            return True
        name = e.name.lower()
        return name in self.opts.tests or name.split()[0] in self.opts.tests

    def run_config(self, suite: Suite, config: str, options: dict, entries: list[Entry]) -> list[Result]:
        servers: dict[str, Optional[Server]] = {k: None for k in KINDS}
        start_errors: dict[str, str] = {}
        base = self.tmpdir / suite.name / config
        if any(not e.isolated for e in entries):
            for kind in KINDS:
                s = self.new_server(kind, base / kind, options)
                try:
                    s.start(timeout=self.opts.start_timeout)
                    servers[kind] = s
                    self._note_info(s)
                    opt = f" {options}" if options else ""
                    log(f"   {kind} started on port {s.port} (pid {s.pid}, config {config}{opt})")
                except ServerStartError as e:
                    start_errors[kind] = f"server failed to start: {e}"
                    log(f"   !! {kind}: {e}")
        out = []
        try:
            for e in entries:
                out += self.run_entry(suite, e, servers, start_errors, options, base)
        finally:
            for s in servers.values():
                if s is not None:
                    s.stop()
        return out

    # -- one entry ----------------------------------------------------------------------------------
    def pipelines_for(self, e: Entry) -> list:
        if e.pipelines is None:
            return list(self.opts.pipelines)
        return [p for p in e.pipelines if p is None or p in self.opts.pipelines]

    def context(self, e: Entry, server: Server, kind: str, pipeline) -> Context:
        return Context(server=server, kind=kind, pipeline=pipeline,
                       requests=max(1, int(self.opts.requests * e.requests_factor)),
                       clients=self.opts.clients, scale=self.opts.scale, quick=self.opts.quick,
                       tmpdir=self.tmpdir, timeout=self.opts.timeout,
                       benchmark_bin=self.opts.benchmark_bin, params=dict(e.params))

    def run_entry(self, suite: Suite, e: Entry, servers, start_errors, options, base) -> list[Result]:
        pipelines = self.pipelines_for(e)
        if not pipelines:
            return []
        results = {p: Result(suite.name, e, p, unit=e.unit) for p in pipelines}
        self.results += results.values()
        blocked: dict[str, tuple[str, str]] = {}   # kind -> (status, message): skip its runs

        for kind in KINDS:
            if kind in start_errors:
                blocked[kind] = ("error", start_errors[kind])
        if not e.isolated:
            for kind in KINDS:
                if kind in blocked:
                    continue
                s = servers[kind]
                try:
                    self.ensure_running(s)
                    ctx = self.context(e, s, kind, pipelines[0] if pipelines else None)
                    if e.flush:
                        self.flushall(s)
                    for step in e.setup:
                        t0 = time.perf_counter()
                        step(ctx)
                        if self.opts.verbose:
                            log(f"   setup {getattr(step, '__name__', step)} on {kind}: "
                                f"{time.perf_counter() - t0:.1f}s")
                except KeyboardInterrupt:
                    raise
                except Exception as exc:
                    status = classify(exc, s)
                    detail = str(exc) if status == "unsupported" else f"{type(exc).__name__}: {exc}"
                    blocked[kind] = (status, f"setup: {detail}")
                    log(f"   {e.name}: {kind} setup -> {status}: {shorten(str(exc))}")
                    self.recover(s, status)

        for p in pipelines:
            res = results[p]
            for rnd in range(self.opts.rounds):
                order = KINDS if rnd % 2 == 0 else tuple(reversed(KINDS))
                for kind in order:
                    side = res.sides[kind]
                    if kind in blocked:
                        status, msg = blocked[kind]
                        if not side.errors:
                            side.fail(status, msg)
                        continue
                    m, status, msg = self.measure_once(e, kind, p, servers.get(kind), options, base, rnd)
                    label = f"   {e.name:<20} P={p if p is not None else '-':<3} round {rnd + 1}/{self.opts.rounds} {kind:<9}"
                    if m is not None:
                        side.values.append(m.value)
                        side.extra.append(m.extra)
                        res.unit, res.higher_is_better = m.unit, m.higher_is_better
                        log(f"{label} {fmt_value(m.value, m.unit)} {m.unit}")
                    else:
                        side.fail(status, msg)
                        blocked[kind] = (status, msg)
                        log(f"{label} {status}: {shorten(msg)}")
        return list(results.values())

    def measure_once(self, e: Entry, kind: str, pipeline, server: Optional[Server], options, base, rnd):
        """Returns (Measurement, 'ok', '') or (None, status, message)."""
        own = None
        try:
            if e.isolated:
                self._seq += 1
                d = base / f"{safe(e.name)}-{kind}-{self._seq}"
                own = server = self.new_server(kind, d, options)
                server.start(timeout=self.opts.start_timeout)
                self._note_info(server)
            else:
                self.ensure_running(server)
            ctx = self.context(e, server, kind, pipeline)
            if e.isolated:
                for step in e.setup:
                    step(ctx)
            for step in e.before_each:
                step(ctx)
            m = e.measure(ctx)
            if not isinstance(m, Measurement):
                raise BenchError(f"scenario returned {m!r}, not a Measurement")
            if server.running() is False:
                return None, "crashed", "server exited during the measurement"
            return m, "ok", ""
        except KeyboardInterrupt:
            raise
        except ServerStartError as exc:
            return None, "error", f"server failed to start: {exc}"
        except Exception as exc:
            if server is not None and server.proc is not None and not isinstance(exc, (Unsupported, BenchTimeout)):
                try:  # give a dying server a moment, so a crash is reported as one
                    server.proc.wait(0.5)
                except subprocess.TimeoutExpired:
                    pass
            status = classify(exc, server)
            msg = str(exc) if status == "unsupported" else f"{type(exc).__name__}: {exc}"
            if status == "error" and self.opts.verbose:
                msg += "\n" + traceback.format_exc()
            if status == "crashed" and server is not None:
                msg += "\n" + server.log_tail()
            if not e.isolated:
                self.recover(server, status)
            return None, status, msg
        finally:
            if own is not None:
                own.stop()
                if not self.opts.keep_data:
                    shutil.rmtree(own.datadir, ignore_errors=True)

    def ensure_running(self, s: Server) -> None:
        if s is None:
            raise BenchError("server not running")
        if not s.running():
            log(f"   restarting {s.kind} (it exited)")
            s.stop()
            s.start(timeout=self.opts.start_timeout, port=s.port)

    def recover(self, s: Optional[Server], status: str) -> None:
        if s is not None and status == "crashed":
            try:
                self.ensure_running(s)
            except Exception as exc:
                log(f"   !! could not restart {s.kind}: {exc}")

    def flushall(self, s: Server) -> None:
        try:
            with s.raw(timeout=self.opts.timeout) as c:
                r = c.call("FLUSHALL", raise_errors=False)
            if isinstance(r, ReplyError) and s.kind not in self._flush_warned:
                self._flush_warned.add(s.kind)
                log(f"   (FLUSHALL on {s.kind}: {r}; data from earlier tests stays)")
        except (OSError, ConnectionError) as exc:
            log(f"   (FLUSHALL on {s.kind} failed: {exc})")


def shorten(msg: str, limit: int = 160) -> str:
    first, _, rest = msg.partition("\n")
    if len(first) > limit:
        first = first[:limit] + "..."
    return first + ("\n" + rest if rest else "")


def safe(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name)


# -- formatting --------------------------------------------------------------------------------------

def fmt_value(v: Optional[float], unit: str) -> str:
    if v is None:
        return "-"
    if unit == "MB":
        return f"{v:,.1f}"
    if unit == "s":
        return f"{v:,.2f}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:,.2f}"


def fmt_side(side: Side, unit: str) -> str:
    if side.status == "ok":
        return fmt_value(side.median, unit)
    if side.median is not None:
        return f"{fmt_value(side.median, unit)} ({side.status})"
    return side.status


def table(results: list[Result]) -> str:
    header = ["suite", "test", "P", "redis", "vermilion", "unit", "ratio", "target", "result"]
    rows = []
    for r in results:
        rows.append([r.suite, r.entry.name, "-" if r.pipeline is None else str(r.pipeline),
                     fmt_side(r.sides["redis"], r.unit), fmt_side(r.sides["vermilion"], r.unit),
                     r.unit or "-", "-" if r.ratio is None else f"{r.ratio:.2f}x",
                     str(r.target) if r.target else "-", r.verdict])
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]
    right = {2, 3, 4, 6}
    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    out = [line(header), line(["-" * w for w in widths])]
    out += [line(row) for row in rows]
    return "\n".join(out)


def summary(results: list[Result]) -> str:
    counts: dict[str, int] = {}
    for r in results:
        if r.target is not None:
            counts[r.verdict] = counts.get(r.verdict, 0) + 1
    unsupported = sum(1 for r in results if r.sides["vermilion"].status == "unsupported")
    failed = sum(1 for r in results if r.sides["vermilion"].status not in ("ok", "unsupported"))
    parts = [f"targets: {counts.get('PASS', 0)} pass, {counts.get('FAIL', 0)} fail, {counts.get('n/a', 0)} n/a"]
    parts.append(f"vermilion: {unsupported} unsupported, {failed} errors")
    return "; ".join(parts)


def failure_notes(results: list[Result], limit: int = 110) -> str:
    """One line per (entry, server) that did not measure cleanly: its first error."""
    lines, seen = [], set()
    for r in results:
        for kind, side in r.sides.items():
            if side.status == "ok" or not side.errors:
                continue
            key = (r.suite, r.entry.name, kind)
            if key in seen:
                continue
            seen.add(key)
            first = side.errors[0].strip().splitlines()[0] if side.errors[0].strip() else ""
            if len(first) > limit:
                first = first[:limit] + "..."
            lines.append(f"  {r.suite}/{r.entry.name} on {kind}: {side.status}: {first}")
    return "\n".join(lines)


def git_commit(repo: Path) -> Optional[str]:
    try:
        return subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip() or None
    except Exception:
        return None


def report_json(runner: Runner, opts: Options, suites: list[str], started: float, interrupted: bool,
                repo: Path) -> dict:
    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "duration_seconds": round(time.time() - started, 1),
        "interrupted": interrupted,
        "suites": suites,
        "options": {"requests": opts.requests, "rounds": opts.rounds, "clients": opts.clients,
                    "pipelines": list(opts.pipelines), "scale": opts.scale, "quick": opts.quick,
                    "tests": sorted(opts.tests) if opts.tests else None},
        "host": {"platform": platform.platform(), "python": sys.version.split()[0],
                 "cpus": os.cpu_count()},
        "git_commit": git_commit(repo),
        "servers": runner.server_info,
        "cpu_busy_before_suite": runner.busy,
        "results": [r.as_json() for r in runner.results],
    }
