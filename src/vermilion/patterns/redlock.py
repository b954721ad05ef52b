"""Redlock: one lock over N independent Redis-protocol servers.

What it does: a lease is granted only when a majority (N//2+1) of the servers
accepted it, within a validity time computed as TTL - time spent acquiring -
clock drift (TTL*1% + 2 ms). With a majority required, any two grants share a
server, so as long as each server keeps its keys and the clocks run at roughly
the same *rate* (no big jumps), two clients do not hold the same lease at once
*within its validity*. Losing a minority of servers changes nothing.

A lease may be kept alive by a watchdog (``acquire(..., watchdog=True)``) that
extends it on a quorum every ttl/3 and reports the first failure as a loss; the
asyncio face can also cancel the task holding it (``cancel_on_lost=True``).
Leaving ``with lease:`` after the lease was lost or its validity ran out raises
``LockNotOwned`` (``raise_on_lost=False``: a warning instead).

What it does not do:

* It does not protect a holder that is paused (GC, swap, SIGSTOP, a slow
  network) past the validity it computed: it will keep acting as the holder
  while someone else holds the lease. No lease can, on its own.
* It gives no fencing token: counters on independent servers cannot yield one
  number that grows with every grant. When correctness matters (not only
  efficiency, "don't do the work twice"), use a single-server ``Lock`` whose
  fencing tokens the protected resource checks, or a consensus system.
* It assumes servers do not forget: a server restarting without persistence
  (or fsync) can vote again for a lease it already granted. Delay restarts by a
  TTL, or run with ``appendfsync always``.
* A wall-clock jump on a server (NTP step, manual change) can expire its keys
  early and break the majority argument.

Use it to avoid duplicate work across machines when one Redis is not trusted
to stay up; do not use it as the only guard of money or data.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable

import redis

from . import _scripts as S
from ._ops import run_sync
from ._util import ms, new_token
from .errors import LockError, LockNotAcquired, LockNotOwned

log = logging.getLogger(__name__)

DRIFT_FACTOR = 0.01
DRIFT_FIXED = 0.002  # seconds: covers the expiry granularity of a server


def quorum(n: int) -> int:
    """Votes needed among n servers: a strict majority."""
    return n // 2 + 1


def validity(ttl: float, elapsed: float, drift_factor: float = DRIFT_FACTOR) -> float:
    """Seconds the lease can be trusted after it was *requested*."""
    return ttl - elapsed - (ttl * drift_factor + DRIFT_FIXED)


@dataclass
class RedlockResult:
    """The outcome of one Redlock round (acquire or extend)."""

    acquired: bool
    validity: float  # seconds from the start of the round; <= 0 means none
    votes_for: list[str] = field(default_factory=list)
    votes_against: dict[str, str] = field(default_factory=dict)  # node -> reason
    attempts: int = 1
    elapsed: float = 0.0

    def __bool__(self) -> bool:
        return self.acquired


def node_name(client: Any, index: int) -> str:
    """host:port (or socket path) of a redis-py client, for reporting votes."""
    try:
        kw = client.connection_pool.connection_kwargs
        if "path" in kw:
            return str(kw["path"])
        return f"{kw.get('host', 'localhost')}:{kw.get('port', 6379)}"
    except AttributeError:
        return f"node{index}"


def tally(names: list[str], replies: list[Any], n_needed: int, ttl: float, elapsed: float,
          drift_factor: float) -> RedlockResult:
    """Turn per-node replies (True/False/exception/None=timeout) into a result."""
    result = RedlockResult(False, validity(ttl, elapsed, drift_factor), elapsed=elapsed)
    for name, reply in zip(names, replies):
        if reply is True:
            result.votes_for.append(name)
        elif reply is None:
            result.votes_against[name] = "timeout"
        elif isinstance(reply, BaseException):
            result.votes_against[name] = f"error: {reply}"
        else:
            result.votes_against[name] = "held by another owner"
    result.acquired = len(result.votes_for) >= n_needed and result.validity > 0
    return result


class RedlockBase:
    """Configuration shared by both faces."""

    def __init__(self, nodes: Any, *, ttl: float = 10.0, retry_count: int = 3,
                 retry_delay: float = 0.2, retry_jitter: float = 0.1,
                 node_timeout: float | None = None, drift_factor: float = DRIFT_FACTOR,
                 prefix: str = "lock:"):
        if not nodes:
            raise ValueError("Redlock needs at least one node")
        self._owned: list[Any] = []  # clients we made from URLs, closed by close()
        self.clients = [self._client(n, node_timeout) for n in nodes]
        self.names = [node_name(c, i) for i, c in enumerate(self.clients)]
        self.ttl = ttl
        self.retry_count, self.retry_delay, self.retry_jitter = retry_count, retry_delay, retry_jitter
        self.node_timeout = node_timeout
        self.drift_factor = drift_factor
        self.prefix = prefix
        self.quorum = quorum(len(self.clients))

    _client_class: Any = redis.Redis

    def _client(self, node: Any, node_timeout: float | None) -> Any:
        if not isinstance(node, str):
            return node
        # URL given: make a client whose socket gives up soon after we stop waiting.
        t = max(0.5, 4 * (node_timeout or 0.1))
        client = self._client_class.from_url(node, socket_timeout=t, socket_connect_timeout=t)
        self._owned.append(client)
        return client

    def _timeout(self, ttl: float) -> float:
        # Much smaller than the TTL: a slow node must not eat the validity.
        return self.node_timeout or max(0.01, min(0.25, ttl / 20))

    def _keys(self, resources: Any) -> list[str]:
        resources = [resources] if isinstance(resources, str) else list(resources)
        return [self.prefix + r for r in resources]

    def _pause(self) -> float:
        return self.retry_delay + random.uniform(0, self.retry_jitter)


_SKIPPED = object()  # a call that waited past its deadline and was never sent


class _Lane:
    """The threads that talk to one node.

    At most ``width`` calls are in flight; when a frozen node holds them all, new
    calls count as timeouts at once instead of queueing behind the stuck ones.
    A call that starts after its deadline is not sent: its vote would not count.
    """

    def __init__(self, client: Any, width: int, name: str):
        self.client, self.width = client, width
        self.busy = 0
        self._mutex = threading.Lock()
        self._pool = ThreadPoolExecutor(width, thread_name_prefix=f"redlock:{name}")

    def submit(self, run: Any, deadline: float) -> Future[Any] | None:
        with self._mutex:
            if self.busy >= self.width:
                return None
            self.busy += 1
        return self._pool.submit(self._call, run, deadline)

    def _call(self, run: Any, deadline: float) -> Any:
        try:
            if time.monotonic() >= deadline:
                return _SKIPPED
            return run_sync(self.client, run)
        finally:
            with self._mutex:
                self.busy -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class LeaseCore:
    """State of a Redlock lease shared by both faces."""

    def __init__(self, redlock: Any, keys: list[str], token: str, ttl: float,
                 result: RedlockResult, started: float, *, on_lost: Callable[..., Any] | None = None,
                 raise_on_lost: bool = True):
        self.redlock, self.keys, self.token, self.ttl = redlock, keys, token, ttl
        self.result = result
        self.valid_until = started + result.validity  # monotonic
        self._renewed_at = started
        self.on_lost, self.raise_on_lost = on_lost, raise_on_lost
        self.renewals = 0
        self.lost_reason: str | None = None
        self.released = False

    @property
    def validity(self) -> float:
        """Seconds left before the lease must be considered gone."""
        return max(0.0, self.valid_until - time.monotonic())

    @property
    def lost(self) -> bool:
        """True once the watchdog failed to renew on a quorum."""
        return self.lost_reason is not None

    def _renewal_failed(self, result: RedlockResult) -> str:
        return (f"renewal reached {len(result.votes_for)}/{len(self.redlock.clients)} nodes, "
                f"quorum {self.redlock.quorum}")

    def _check_exit(self, exc_type: Any) -> None:
        """After ``with``: the block ran past the lease if it was lost or ran out."""
        if self.lost_reason is None and time.monotonic() < self.valid_until:
            return
        why = self.lost_reason or "its validity ran out before the block ended"
        if self.raise_on_lost and exc_type is None:
            raise LockNotOwned(f"Redlock lease on {self.keys} was lost: {why}")
        log.warning("Redlock lease on %s was lost: %s", self.keys, why)


class Lease(LeaseCore):
    """A Redlock lease held by this process (sync face).

    With ``watchdog=True`` (on ``acquire``) a thread extends it on a quorum every
    ttl/3; the first renewal without a quorum (or after the validity ran out)
    marks it lost: ``lost``, ``lost_event``, ``on_lost(lease, reason)``.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lost_event = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def release(self) -> int:
        """Release on every node; returns how many nodes deleted a key."""
        self._stop.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=self.redlock._timeout(self.ttl) * 4 + 5)
        self.released = True
        released: int = self.redlock._release(self.keys, self.token)
        return released

    def extend(self, ttl: float | None = None) -> RedlockResult:
        """Extend on a quorum; on failure the lease is over (validity becomes 0)."""
        result: RedlockResult = self.redlock._extend(self, self.ttl if ttl is None else ttl)
        return result

    def _start_watchdog(self) -> None:
        self._thread = threading.Thread(target=self._watch, daemon=True,
                                        name=f"redlock-watchdog:{self.keys[0]}")
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(max(0.0, self._renewed_at + self.ttl / 3 - time.monotonic())):
            started = time.monotonic()
            try:
                result = self.extend()
            except LockError as exc:
                self._mark_lost(str(exc))
                return
            if self._stop.is_set():
                return
            if not result.acquired:
                self._mark_lost(self._renewal_failed(result))
                return
            self.renewals += 1
            self._renewed_at = started

    def _mark_lost(self, reason: str) -> None:
        if self.lost_reason is not None or self.released:
            return
        self.lost_reason = reason
        log.warning("Redlock lease on %s lost: %s", self.keys, reason)
        if self.on_lost is not None:
            try:
                self.on_lost(self, reason)
            except Exception:
                log.exception("on_lost callback of a Redlock lease failed")
        self.lost_event.set()

    def __enter__(self) -> "Lease":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.release()
        self._check_exit(exc_type)


class Redlock(RedlockBase):
    """Redlock over ``redis.Redis`` clients or URLs; nodes are asked in parallel.

        redlock = Redlock(["redis://a", "redis://b", "redis://c"])
        with redlock.acquire("payment:txn-99", ttl=5) as lease:
            ...   # lease.validity seconds left; lease.result.votes_for
    """

    def __init__(self, nodes: Any, *, max_in_flight: int = 64, **options: Any):
        super().__init__(nodes, **options)
        # One lane of threads per node: calls stuck on a frozen node occupy only
        # that node's lane, so the other nodes keep answering within their timeout
        # however many threads share this object.
        self._lanes = [_Lane(c, max_in_flight, n) for c, n in zip(self.clients, self.names)]

    def _fan_out(self, script: Any, keys: list[str], args: list[Any], timeout: float,
                 wait_on: list[bool] | None = None) -> list[Any]:
        """Run a script on every node; None for nodes that did not answer in time.

        With ``wait_on``, the calls to the other nodes are sent but not waited for."""
        deadline = time.monotonic() + timeout
        futures = [lane.submit(script(keys, args), deadline) for lane in self._lanes]
        waited = [f for i, f in enumerate(futures)
                  if f is not None and (wait_on is None or wait_on[i])]
        wait(waited, timeout=timeout)
        out: list[Any] = []
        for f in futures:
            if f is None or not f.done():
                out.append(None)
            elif f.exception() is not None:
                out.append(f.exception())
            else:
                value = f.result()
                out.append(None if value is _SKIPPED else bool(value))
        return out

    def try_acquire(self, resources: Any, ttl: float | None = None, *, watchdog: bool = False,
                    on_lost: Callable[..., Any] | None = None,
                    raise_on_lost: bool = True) -> tuple[Lease | None, RedlockResult]:
        """Acquire with retries; returns (lease or None, result of the last round).

        ``watchdog=True`` keeps extending the lease on a quorum until released."""
        ttl = ttl or self.ttl
        keys, token = self._keys(resources), new_token()
        for attempt in range(1, self.retry_count + 2):
            started = time.monotonic()
            replies = self._fan_out(S.REDLOCK_ACQUIRE, keys, [token, ms(ttl)], self._timeout(ttl))
            result = tally(self.names, replies, self.quorum, ttl,
                           time.monotonic() - started, self.drift_factor)
            result.attempts = attempt
            if result.acquired:
                lease = Lease(self, keys, token, ttl, result, started, on_lost=on_lost,
                              raise_on_lost=raise_on_lost)
                if watchdog:
                    lease._start_watchdog()
                return lease, result
            # Undo partial grants everywhere, including nodes that timed out:
            # their SET may still land. Only the nodes that answered are waited
            # for, so a frozen node costs this attempt one node timeout, not two.
            self._release(keys, token, [r is not None for r in replies])
            if attempt <= self.retry_count:
                time.sleep(self._pause())
        return None, result

    def acquire(self, resources: Any, ttl: float | None = None, **options: Any) -> Lease:
        """Acquire or raise ``LockNotAcquired`` (its ``result`` tells who voted how);
        ``options`` as for ``try_acquire``."""
        lease, result = self.try_acquire(resources, ttl, **options)
        if lease is None:
            raise LockNotAcquired(
                f"Redlock on {resources!r}: {len(result.votes_for)}/{len(self.clients)} votes, "
                f"quorum {self.quorum}, validity {result.validity:.3f}s", result)
        return lease

    def _release(self, keys: list[str], token: str, wait_on: list[bool] | None = None) -> int:
        replies = self._fan_out(S.REDLOCK_RELEASE, keys, [token], self._timeout(self.ttl),
                                wait_on)
        return sum(1 for r in replies if r is True)

    def _extend(self, lease: Lease, ttl: float) -> RedlockResult:
        if lease.valid_until <= time.monotonic():
            raise LockError("cannot extend a Redlock lease whose validity has run out")
        started = time.monotonic()
        replies = self._fan_out(S.REDLOCK_EXTEND, lease.keys, [lease.token, ms(ttl)],
                                self._timeout(ttl))
        result = tally(self.names, replies, self.quorum, ttl, time.monotonic() - started,
                       self.drift_factor)
        lease.result = result
        lease.ttl = ttl
        lease.valid_until = started + result.validity if result.acquired else 0.0
        return result

    def close(self) -> None:
        for lane in self._lanes:
            lane.close()
        for c in self._owned:
            c.close()
