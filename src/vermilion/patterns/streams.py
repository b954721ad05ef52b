"""Reliable stream processing: ``StreamWorker``, ``StreamProducer``, ``DeadLetters``.

See ``_streams_core`` for the delivery guarantees; this module is the threaded
face: one control thread reads, reclaims, retries and sends heartbeats, and a
pool of ``concurrency`` threads runs the handler.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from redis.exceptions import RedisError

from ._ops import SyncFace, run_sync
from ._streams_core import (DeadLetter, DeadLettersCore, StreamEntry, StreamProducerCore,
                            WorkerBase, WorkerMetrics)
from ._util import backoff, ms

log = logging.getLogger(__name__)

__all__ = ["StreamWorker", "StreamProducer", "DeadLetters", "StreamEntry", "DeadLetter",
           "WorkerMetrics"]


class StreamProducer(StreamProducerCore, SyncFace):
    __doc__ = StreamProducerCore.__doc__


class DeadLetters(DeadLettersCore, SyncFace):
    __doc__ = DeadLettersCore.__doc__


class StreamWorker(WorkerBase):
    """A consumer-group worker on ``redis.Redis``.

        worker = StreamWorker(r, "events", "email-service", handle, concurrency=4)
        worker.start()          # or worker.run() to block this thread
        ...
        worker.stop(timeout=10) # stop reading, finish in-flight work, then return

    ``handle(entry)`` gets a ``StreamEntry``; returning acks it, raising retries it
    with backoff until ``max_deliveries``, then it goes to ``worker.dead_letters``.
    The client's ``socket_timeout`` (if any) must exceed ``block``.
    """

    def __init__(self, client, stream: str, group: str, handler, **options):
        super().__init__(client, stream, group, handler, **options)
        self.dead_letters = DeadLetters(client, stream, self.dead_letter_stream)
        self._mutex = threading.Lock()
        self._slots = threading.Semaphore(self.concurrency)
        self._slot_freed = threading.Event()
        self._stopping = threading.Event()
        self._done = threading.Event()
        self._grace = 10.0
        self._thread: threading.Thread | None = None
        self._next_heartbeat = 0.0
        self._next_claim = 0.0
        self._started = False
        self._running = False
        self.drained: bool | None = None  # after a stop: did in-flight work finish in time?

    def _x(self, gen):
        return run_sync(self.client, gen)

    # ---- lifecycle

    def start(self) -> "StreamWorker":
        self._thread = threading.Thread(target=self.run, name=f"stream-worker:{self.consumer}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop reading; wait up to ``timeout`` for in-flight handlers (their entries
        stay pending if they do not finish, for a later run or another worker).
        Returns True if everything in flight finished."""
        self._grace = timeout
        self._stopping.set()
        self._slot_freed.set()
        if not self._running:
            return True
        self._done.wait(timeout + self.block + 5)
        return bool(self.drained)

    def run(self) -> None:
        """Process until ``stop()``; call from the thread that should do the reading."""
        self._stopping.clear()
        self._done.clear()
        self._running = True
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="stream-handler")
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
            self.drained = self._drain(time.monotonic() + self._grace)
            self._pool.shutdown(wait=False)
            self._running = False
            self._done.set()

    # ---- the control loop

    def _step(self):
        self._service()
        with self._mutex:
            due = self._due_retries()
        for entry_id in due:
            entry = self._x(self._retry(entry_id))
            if entry is not None:
                self._count("retried")
                self._submit(entry)
        if time.monotonic() >= self._next_claim:
            self._reclaim_some()
        free = self._free()
        if free == 0:
            self._slot_freed.wait(self._until_timer())
            self._slot_freed.clear()
            return
        block = min(self.block, self._until_timer(), self._next_retry_in())
        for entry in self._x(self._read(">", min(self.count, free), max(1, ms(block)))):
            self._submit(entry)

    def _catch_up(self):
        """Re-read our own pending entries (ID 0) before taking new ones."""
        last = "0"
        while not self._stopping.is_set():
            entries = self._x(self._read(last, self.count, None))
            if not entries:
                return
            for entry in entries:
                if entry.id not in self._in_flight and entry.id not in self._retry_ids:
                    self._submit(entry)
            last = entries[-1].id

    def _reclaim_some(self):
        limit = max(1, self._free())
        entries, deleted, self._claim_cursor = self._x(
            self._reclaim(ms(self.claim_idle), self._claim_cursor, limit))
        with self._mutex:
            self.stats.deleted += len(deleted)
            self.stats.reclaimed += len(entries)
        # A sweep cut short by our capacity continues as soon as slots free up.
        self._next_claim = time.monotonic() + (
            self.claim_interval if self._claim_cursor == "0-0" else 0.0)
        with self._mutex:
            accepted = self._accept_claimed(entries)
        for entry in accepted:
            self._submit(entry)

    def _service(self):
        """Heartbeats for entries in flight, due every claim_idle/3."""
        if time.monotonic() < self._next_heartbeat:
            return
        self._next_heartbeat = time.monotonic() + self.heartbeat_every
        with self._mutex:
            ids = list(self._in_flight)
        lost = self._x(self._heartbeat(ids))
        if lost:
            with self._mutex:
                self._lost.update(lost)
                self.stats.lost += len(lost)

    def _until_timer(self) -> float:
        t = time.monotonic()
        return max(0.001, min(self._next_heartbeat, self._next_claim) - t)

    def _free(self) -> int:
        with self._mutex:
            return self.concurrency - len(self._in_flight)

    def _submit(self, entry: StreamEntry):
        while not self._slots.acquire(timeout=self._until_timer()):
            self._service()
        with self._mutex:
            self._in_flight[entry.id] = entry
        self._pool.submit(self._process, entry)

    def _drain(self, deadline: float) -> bool:
        while self._in_flight and time.monotonic() < deadline:
            try:
                self._service()
            except RedisError:
                pass
            self._slot_freed.wait(min(0.05, max(0.0, deadline - time.monotonic())))
            self._slot_freed.clear()
        return not self._in_flight

    # ---- one entry (pool thread)

    def _process(self, entry: StreamEntry):
        try:
            verdict = self._verdict(entry)
            if verdict == "ack":
                self._x(self._ack(entry.id))
                self._count("deleted")
            elif verdict == "dead":
                self._bury(entry, self._giving_up(entry))
            else:
                try:
                    self.handler(entry)
                except Exception as exc:
                    self._count("failed")
                    log.info("handler failed on %s (delivery %d): %r", entry.id,
                             entry.deliveries, exc)
                    delay = self._after_failure(entry)
                    if delay is None:
                        self._bury(entry, repr(exc))
                    else:
                        with self._mutex:
                            self._schedule_retry(entry.id, delay)
                else:
                    if entry.id not in self._lost:  # its new owner will ack it
                        self._x(self._ack(entry.id))
                    self._count("processed")
        except RedisError as exc:
            # The entry stays pending: our catch-up or a reclaimer will see it again.
            log.warning("stream worker %s lost track of %s: %s", self.consumer, entry.id, exc)
        finally:
            with self._mutex:
                self._in_flight.pop(entry.id, None)
                self._lost.discard(entry.id)
            self._slots.release()
            self._slot_freed.set()

    def _bury(self, entry: StreamEntry, error: str):
        if self._x(self._dead_letter(entry, error)) is not None:
            self._count("dead_lettered")

    def _count(self, name: str, n: int = 1):
        with self._mutex:
            setattr(self.stats, name, getattr(self.stats, name) + n)

    def metrics(self) -> WorkerMetrics:
        """Local counters plus the group's lag, pending count and oldest pending entry."""
        with self._mutex:
            m = WorkerMetrics(**{**self.stats.__dict__, "in_flight": len(self._in_flight)})
        return self._x(self._server_metrics(m))
