"""Reliable stream processing: ``StreamWorker``, ``StreamProducer``, ``DeadLetters``.

See ``_streams_core`` for the delivery guarantees; this module is the threaded
face: one control thread reads, reclaims, retries, promotes delayed entries,
enforces ``handler_timeout`` and sends heartbeats, and a pool of threads runs
the handler, at most ``concurrency`` calls (or batches) at a time.
"""

from __future__ import annotations

import builtins
import logging
import signal
import threading
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Callable, Iterable

from redis.exceptions import RedisError

from ._ops import SyncFace, run_sync
from ._threads import HandlerCall, HandlerThreads
from ._streams_core import (DeadLetter, DeadLettersCore, StreamEntry, StreamProducerCore,
                            WorkerBase, WorkerMetrics)
from ._util import backoff, ms

log = logging.getLogger(__name__)

__all__ = ["StreamWorker", "StreamProducer", "DeadLetters", "StreamEntry", "DeadLetter",
           "WorkerMetrics"]


class StreamProducer(StreamProducerCore, SyncFace):
    __doc__ = StreamProducerCore.__doc__

    if TYPE_CHECKING:
        def add(self, fields: dict[Any, Any], *, delay: float | None = None,
                idempotency_key: str | None = None) -> str: ...
        def add_many(self, items: Iterable[dict[Any, Any]]) -> list[str]: ...
        def delayed_count(self) -> int: ...


class DeadLetters(DeadLettersCore, SyncFace):
    __doc__ = DeadLettersCore.__doc__

    if TYPE_CHECKING:
        def list(self, count: int = 100, start: str = "-") -> builtins.list[DeadLetter]: ...
        def count(self) -> int: ...
        def replay(self, ids: Iterable[str] | None = None, count: int = 100) -> builtins.list[str]: ...
        def purge(self, ids: Iterable[str] | None = None) -> int: ...


class _Job:
    """One handler call: a single entry, or a batch."""

    __slots__ = ("entries", "deadline", "state", "call")

    def __init__(self, entries: list[StreamEntry], deadline: float | None):
        self.entries, self.deadline = entries, deadline
        self.state = "running"  # -> "finishing" (handler returned) | "abandoned" (timed out)
        self.call: HandlerCall | None = None


class StreamWorker(WorkerBase):
    """A consumer-group worker on ``redis.Redis``.

        worker = StreamWorker(r, "events", "email-service", handle, concurrency=4)
        worker.start()          # or worker.run() to block this thread
        ...
        worker.stop(timeout=10) # stop reading, finish in-flight work, then return

    ``handle(entry)`` gets a ``StreamEntry`` (with ``batch_size=N``: a list of up to
    N entries, acked together); returning acks it, raising retries it with
    backoff until ``max_deliveries``, then it goes to ``worker.dead_letters``.
    The client's ``socket_timeout`` (if any) must exceed ``block`` (seconds).
    """

    def __init__(self, client: Any, stream: str, group: str, handler: Callable[..., Any],
                 **options: Any):
        super().__init__(client, stream, group, handler, **options)
        self.dead_letters = DeadLetters(client, stream, self.dead_letter_stream)
        self._mutex = threading.Lock()
        self._slots = threading.Semaphore(self.concurrency)
        self._slot_freed = threading.Event()
        self._stopping = threading.Event()
        self._done = threading.Event()
        self._jobs: set[_Job] = set()
        self._thread: threading.Thread | None = None
        self._pool: HandlerThreads | None = None
        self._next_heartbeat = 0.0
        self._next_claim = 0.0
        self._started = False
        self._running = False
        self.drained: bool | None = None  # after a stop: did in-flight work finish in time?

    def _x(self, gen: Any) -> Any:
        return run_sync(self.client, gen)

    # ---- lifecycle

    def start(self) -> "StreamWorker":
        self._thread = threading.Thread(target=self.run, kwargs={"handle_signals": False},
                                        name=f"stream-worker:{self.consumer}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> bool:
        """Stop reading; wait up to ``timeout`` (default: ``grace``) for in-flight
        handlers. What does not finish stays pending, marked idle so another worker
        reclaims it at once. Returns True if everything in flight finished."""
        if timeout is not None:
            self.grace = timeout
        self._stopping.set()
        self._slot_freed.set()
        if not self._running:
            return True
        self._done.wait(self.grace + self.block + 5)
        return bool(self.drained)

    def run(self, handle_signals: bool | None = None) -> None:
        """Process until ``stop()``, SIGTERM or SIGINT; then drain within ``grace``
        seconds and return normally. Signals are handled when called from the
        main thread (``handle_signals=None``) or when asked to."""
        self._stopping.clear()
        self._done.clear()
        self._running = True
        self._pool = HandlerThreads(self.concurrency, self.max_stuck_threads,
                                    f"stream-handler:{self.consumer}")
        restore = self._install_signals(handle_signals)
        errors = 0
        try:
            while not self._stopping.is_set():
                try:
                    if errors or not self._started:
                        self._x(self._ensure_group(self.start_id))
                        self._catch_up()
                        self._started = True
                    self._step()
                    errors = 0
                except RedisError as exc:
                    log.warning("stream worker %s: %s; retrying", self.consumer, exc)
                    self._stopping.wait(backoff(errors, 0.1, 5.0))
                    errors += 1
        except KeyboardInterrupt:
            pass
        finally:
            try:
                self.drained = self._drain(time.monotonic() + self.grace)
            finally:
                if self._pool is not None:
                    self._pool.shutdown()
                for sig, previous in restore:
                    signal.signal(sig, previous)
                self._running = False
                self._done.set()

    def _install_signals(self, handle: bool | None) -> list[tuple[int, Any]]:
        if handle is False or threading.current_thread() is not threading.main_thread():
            return []

        def on_signal(signum: int, frame: Any) -> None:
            log.info("stream worker %s: signal %d, draining", self.consumer, signum)
            self._stopping.set()
            self._slot_freed.set()

        return [(sig, signal.signal(sig, on_signal)) for sig in (signal.SIGTERM, signal.SIGINT)]

    # ---- the control loop

    def _step(self) -> None:
        self._service()
        self._expire_jobs()
        if self._promote_due():
            self._promoted(self._x(self._promote()))
        with self._mutex:
            due = self._due_retries()
        retried = []
        for entry_id in due:
            entry = self._x(self._retry(entry_id))
            if entry is not None:
                self._count("retried")
                retried.append(entry)
        for chunk in self._chunks(retried):
            self._submit(chunk)
        if time.monotonic() >= self._next_claim:
            self._reclaim_some()
        free = self._free()
        if free == 0:
            self._slot_freed.wait(self._until_timer())
            self._slot_freed.clear()
            return
        if self._stopping.is_set():
            return
        block = min(self.block, self._until_timer(), self._next_retry_in(),
                    max(0.001, self._next_promote - time.monotonic()))
        entries = self._x(self._read(">", self._read_count(free), max(1, ms(block))))
        for chunk in self._chunks(entries):
            self._submit(chunk)

    def _catch_up(self) -> None:
        """Re-read our own pending entries (ID 0) before taking new ones."""
        last = "0"
        while not self._stopping.is_set():
            with self._mutex:
                self._reading_pending()
            entries = self._x(self._read(last, self.count, None))
            with self._mutex:
                fresh = self._fresh_pending(entries)
            if not entries:
                return
            for chunk in self._chunks(fresh):
                self._submit(chunk)
            last = entries[-1].id

    def _reclaim_some(self) -> None:
        limit = max(1, self._free() * (self.batch_size or 1))
        with self._mutex:
            self._reading_pending()
        entries, deleted, self._claim_cursor = self._x(
            self._reclaim(ms(self.claim_idle), self._claim_cursor, limit))
        with self._mutex:
            self._count_deleted(deleted)
            self._observe("reclaimed", len(entries))
        # A sweep cut short by our capacity continues as soon as slots free up.
        self._next_claim = time.monotonic() + (
            self.claim_interval if self._claim_cursor == "0-0" else 0.0)
        with self._mutex:
            accepted = self._accept_claimed(entries)
        for chunk in self._chunks(accepted):
            self._submit(chunk)

    def _service(self) -> None:
        """Heartbeats for entries in flight or waiting for a retry, due every
        claim_idle/3; gauges for the metrics exporter."""
        if time.monotonic() < self._next_heartbeat:
            return
        self._next_heartbeat = time.monotonic() + self.heartbeat_every
        with self._mutex:
            ids = self._heartbeat_ids()
        lost = self._x(self._heartbeat(ids))
        with self._mutex:
            self._heartbeat_lost(lost)
        if self.prometheus is not None:
            self.prometheus.gauges(self.metrics())

    def _expire_jobs(self) -> None:
        """Abandon handler calls past handler_timeout: a timeout failure each."""
        if self.handler_timeout is None:
            return
        now, expired = time.monotonic(), []
        with self._mutex:
            for job in self._jobs:
                if job.state == "running" and job.deadline is not None and job.deadline <= now:
                    job.state = "abandoned"
                    expired.append(job)
            for job in expired:
                self._forget(job)
        for job in expired:
            log.warning("stream worker %s: handler timed out on %s", self.consumer,
                        [e.id for e in job.entries])
            self._count("failed", len(job.entries))
            self._count("timed_out", len(job.entries))
            for entry in job.entries:
                self._failed(entry, None, timed_out=True)
            assert job.call is not None and self._pool is not None
            if self._pool.abandon(job.call):
                self._free_slot()
            else:
                log.warning("stream worker %s: %d handler threads are stuck in abandoned "
                            "calls (max_stuck_threads); running with fewer slots until "
                            "they return", self.consumer, self._pool.stuck)
                job.call.future.add_done_callback(self._free_slot)

    def _free_slot(self, _: "Future[Any] | None" = None) -> None:
        self._slots.release()
        self._slot_freed.set()

    def _forget(self, job: _Job) -> None:
        # Under self._mutex: the job's entries leave the heartbeat and the slot count.
        self._jobs.discard(job)
        self._settle(job.entries)

    def _until_timer(self) -> float:
        t = time.monotonic()
        nxt = min(self._next_heartbeat, self._next_claim)
        if self.handler_timeout is not None:
            with self._mutex:
                deadlines = [j.deadline for j in self._jobs if j.deadline is not None]
            if deadlines:
                nxt = min(nxt, min(deadlines))
        return max(0.001, nxt - t)

    def _free(self) -> int:
        with self._mutex:
            return self.concurrency - len(self._jobs)

    def _submit(self, entries: list[StreamEntry]) -> None:
        while not self._slots.acquire(timeout=self._until_timer()):
            self._service()
            self._expire_jobs()
        deadline = (None if self.handler_timeout is None
                    else time.monotonic() + self.handler_timeout)
        job = _Job(entries, deadline)
        with self._mutex:
            for e in entries:
                self._in_flight[e.id] = e
            self._jobs.add(job)
        assert self._pool is not None
        job.call = self._pool.submit(self._process, job)

    def _drain(self, deadline: float) -> bool:
        while self._jobs and time.monotonic() < deadline:
            try:
                self._service()
                self._expire_jobs()
            except RedisError:
                pass
            self._slot_freed.wait(min(0.05, max(0.0, deadline - time.monotonic())))
            self._slot_freed.clear()
        with self._mutex:
            waiting = list(self._retry_ids)  # no retries while draining: hand them over
            self._retry_ids.clear()
            self._retry_heap.clear()
            left = [j for j in self._jobs if j.state == "running"]
            for job in left:
                job.state = "abandoned"  # a late return must not ack what we hand over
                self._forget(job)
        try:
            self._x(self._release_ids(waiting + [e.id for j in left for e in j.entries]))
        except RedisError as exc:
            log.warning("stream worker %s: could not release pending entries: %s",
                        self.consumer, exc)
        return not left

    # ---- one job (pool thread)

    def _process(self, job: _Job) -> None:
        live: list[StreamEntry] = []
        try:
            if self._runnable(job.entries):
                live = job.entries
            else:
                for entry in job.entries:
                    verdict = self._verdict(entry)
                    if verdict == "ack":
                        self._x(self._ack(entry.id))
                        with self._mutex:
                            self._count_deleted([entry.id])
                    elif verdict == "dead":
                        self._bury(entry, self._giving_up(entry))
                    else:
                        live.append(entry)
            if not live:
                return
            started = time.perf_counter()
            try:
                self._call_handler(live)
            except Exception as exc:
                if not self._finishing(job, started):
                    return
                self._count("failed", len(live))
                log.info("handler failed on %s (delivery %d): %r", live[0].id,
                         live[0].deliveries, exc)
                for entry in live:
                    self._failed(entry, exc)
            else:
                if not self._finishing(job, started):
                    return
                with self._mutex:
                    ids = self._ack_ids(live)
                self._x(self._ack_many(ids))
                self._count("processed", len(live))
        except RedisError as exc:
            # The entries stay pending: our catch-up or a reclaimer will see them again.
            log.warning("stream worker %s lost track of %s: %s", self.consumer,
                        [e.id for e in job.entries], exc)
        finally:
            with self._mutex:
                abandoned = job.state == "abandoned"
                if not abandoned:
                    self._forget(job)
            if not abandoned:  # else _expire_jobs or _drain decided about the slot
                self._free_slot()

    def _call_handler(self, live: list[StreamEntry]) -> None:
        arg: Any = live if self.batch_size is not None else live[0]
        if self.tracing is None:
            self.handler(arg)
            return
        with self.tracing.use(self.tracing.process(self.stream, self.group, live)):
            self.handler(arg)

    def _finishing(self, job: _Job, started: float) -> bool:
        """The handler returned: claim the outcome, unless the job was abandoned."""
        with self._mutex:
            if job.state == "abandoned":
                return False
            job.state = "finishing"
        if self.prometheus is not None:
            self.prometheus.duration(time.perf_counter() - started)
        return True

    def _failed(self, entry: StreamEntry, exc: BaseException | None,
                timed_out: bool = False) -> None:
        delay, reason = self._decide(entry, exc, timed_out)
        if delay is None:
            self._bury(entry, reason)
        else:
            with self._mutex:
                self._schedule_retry(entry.id, delay)

    def _bury(self, entry: StreamEntry, error: str) -> None:
        if self._x(self._dead_letter(entry, error)) is not None:
            self._count("dead_lettered")

    def _count(self, name: str, n: int = 1) -> None:
        with self._mutex:
            self._observe(name, n)

    def _stuck_threads(self) -> int:
        return 0 if self._pool is None else self._pool.stuck

    def metrics(self) -> WorkerMetrics:
        """Local counters plus the group's lag, pending count and oldest pending entry."""
        with self._mutex:
            m = WorkerMetrics(**{**self.stats.__dict__, "in_flight": len(self._in_flight),
                                 "stuck_threads": self._stuck_threads()})
        result: WorkerMetrics = self._x(self._server_metrics(m))
        return result
