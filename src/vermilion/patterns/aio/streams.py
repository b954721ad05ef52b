"""asyncio face of ``vermilion.patterns.streams`` (same options and guarantees).

The handler may be a coroutine function or a plain function (run in a thread).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time

from redis.exceptions import RedisError

from .._ops import AsyncFace, run_async
from .._streams_core import (DeadLetter, DeadLettersCore, StreamEntry, StreamProducerCore,
                             WorkerBase, WorkerMetrics)
from .._util import backoff, ms

log = logging.getLogger("vermilion.patterns.streams")

__all__ = ["StreamWorker", "StreamProducer", "DeadLetters", "StreamEntry", "DeadLetter",
           "WorkerMetrics"]


class StreamProducer(StreamProducerCore, AsyncFace):
    __doc__ = StreamProducerCore.__doc__


class DeadLetters(DeadLettersCore, AsyncFace):
    __doc__ = DeadLettersCore.__doc__


class StreamWorker(WorkerBase):
    """A consumer-group worker on ``redis.asyncio.Redis``.

        worker = StreamWorker(r, "events", "email-service", handle, concurrency=4)
        worker.start()              # a background task; or: await worker.run()
        ...
        await worker.stop(timeout=10)
    """

    def __init__(self, client, stream: str, group: str, handler, **options):
        super().__init__(client, stream, group, handler, **options)
        self.dead_letters = DeadLetters(client, stream, self.dead_letter_stream)
        self._is_async = inspect.iscoroutinefunction(handler)
        self._slots: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task] = set()
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._reading = False
        self._task: asyncio.Task | None = None
        self._grace = 10.0
        self._next_heartbeat = 0.0
        self._next_claim = 0.0
        self.drained: bool | None = None

    def _x(self, gen):
        return run_async(self.client, gen)

    # ---- lifecycle

    def start(self) -> "StreamWorker":
        self._task = asyncio.create_task(self.run(), name=f"stream-worker:{self.consumer}")
        return self

    async def stop(self, timeout: float = 10.0) -> bool:
        """Stop reading; give in-flight handlers ``timeout`` seconds, then cancel them
        (their entries stay pending). True if everything finished in time."""
        self._grace = timeout
        self._stopping.set()
        self._wake.set()
        if self._task is None:
            return True
        if self._task is not None:
            if self._reading:  # a blocked XREADGROUP can be abandoned safely
                self._reader.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        return bool(self.drained)

    async def run(self) -> None:
        self._stopping.clear()
        self._slots = asyncio.Semaphore(self.concurrency)
        errors, started = 0, False
        try:
            while not self._stopping.is_set():
                try:
                    if errors or not started:
                        await self._x(self._ensure_group(self.start_id))
                        await self._catch_up()
                        started = True
                    await self._step()
                    errors = 0
                except RedisError as exc:
                    log.warning("stream worker %s: %s; retrying", self.consumer, exc)
                    await asyncio.sleep(backoff(errors, 0.1, 5.0))
                    errors += 1
                except asyncio.CancelledError:
                    if not self._stopping.is_set():
                        raise
        finally:
            self.drained = await self._drain(time.monotonic() + self._grace)

    # ---- the control loop

    async def _step(self):
        await self._service()
        for entry_id in self._due_retries():
            entry = await self._x(self._retry(entry_id))
            if entry is not None:
                self.stats.retried += 1
                await self._submit(entry)
        if time.monotonic() >= self._next_claim:
            await self._reclaim_some()
        free = self.concurrency - len(self._in_flight)
        if free == 0:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self._until_timer())
            except asyncio.TimeoutError:
                pass
            return
        block = min(self.block, self._until_timer(), self._next_retry_in())
        self._reader = asyncio.ensure_future(
            self._x(self._read(">", min(self.count, free), max(1, ms(block)))))
        self._reading = True
        try:
            entries = await self._reader
        finally:
            self._reading = False
        for entry in entries:
            await self._submit(entry)

    async def _catch_up(self):
        last = "0"
        while not self._stopping.is_set():
            entries = await self._x(self._read(last, self.count, None))
            if not entries:
                return
            for entry in entries:
                if entry.id not in self._in_flight and entry.id not in self._retry_ids:
                    await self._submit(entry)
            last = entries[-1].id

    async def _reclaim_some(self):
        limit = max(1, self.concurrency - len(self._in_flight))
        entries, deleted, self._claim_cursor = await self._x(
            self._reclaim(ms(self.claim_idle), self._claim_cursor, limit))
        self.stats.deleted += len(deleted)
        self.stats.reclaimed += len(entries)
        self._next_claim = time.monotonic() + (
            self.claim_interval if self._claim_cursor == "0-0" else 0.0)
        for entry in self._accept_claimed(entries):
            await self._submit(entry)

    async def _service(self):
        if time.monotonic() < self._next_heartbeat:
            return
        self._next_heartbeat = time.monotonic() + self.heartbeat_every
        lost = await self._x(self._heartbeat(list(self._in_flight)))
        self._lost.update(lost)
        self.stats.lost += len(lost)

    def _until_timer(self) -> float:
        return max(0.001, min(self._next_heartbeat, self._next_claim) - time.monotonic())

    async def _submit(self, entry: StreamEntry):
        while True:
            try:
                await asyncio.wait_for(self._slots.acquire(), self._until_timer())
                break
            except asyncio.TimeoutError:
                await self._service()
        self._in_flight[entry.id] = entry
        task = asyncio.create_task(self._process(entry))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self, deadline: float) -> bool:
        while self._tasks and time.monotonic() < deadline:
            try:
                await self._service()
            except RedisError:
                pass
            await asyncio.wait(set(self._tasks), timeout=min(0.05, max(0.0, deadline - time.monotonic())))
        leftover = list(self._tasks)
        for t in leftover:
            t.cancel()
        await asyncio.gather(*leftover, return_exceptions=True)
        return not leftover

    # ---- one entry

    async def _process(self, entry: StreamEntry):
        try:
            verdict = self._verdict(entry)
            if verdict == "ack":
                await self._x(self._ack(entry.id))
                self.stats.deleted += 1
            elif verdict == "dead":
                await self._bury(entry, self._giving_up(entry))
            else:
                try:
                    if self._is_async:
                        await self.handler(entry)
                    else:
                        await asyncio.to_thread(self.handler, entry)
                except Exception as exc:
                    self.stats.failed += 1
                    log.info("handler failed on %s (delivery %d): %r", entry.id,
                             entry.deliveries, exc)
                    delay = self._after_failure(entry)
                    if delay is None:
                        await self._bury(entry, repr(exc))
                    else:
                        self._schedule_retry(entry.id, delay)
                else:
                    if entry.id not in self._lost:
                        await self._x(self._ack(entry.id))
                    self.stats.processed += 1
        except RedisError as exc:
            log.warning("stream worker %s lost track of %s: %s", self.consumer, entry.id, exc)
        finally:
            self._in_flight.pop(entry.id, None)
            self._lost.discard(entry.id)
            self._slots.release()
            self._wake.set()

    async def _bury(self, entry: StreamEntry, error: str):
        if await self._x(self._dead_letter(entry, error)) is not None:
            self.stats.dead_lettered += 1

    async def metrics(self) -> WorkerMetrics:
        m = WorkerMetrics(**{**self.stats.__dict__, "in_flight": len(self._in_flight)})
        return await self._x(self._server_metrics(m))
