"""asyncio face of ``vermilion.patterns.streams`` (same options and guarantees).

The handler may be a coroutine function or a plain function (run in one of the
worker's own threads, ``concurrency`` of them). ``handler_timeout`` cancels a
coroutine handler; a plain one keeps its thread until it returns, and its result
is ignored: see ``_threads`` for how such threads are replaced, and capped.
"""

from __future__ import annotations

import asyncio
import builtins
import inspect
import logging
import signal
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable

from redis.exceptions import RedisError

from .._ops import AsyncFace, run_async
from .._threads import HandlerThreads
from .._streams_core import (DeadLetter, DeadLettersCore, StreamEntry, StreamProducerCore,
                             WorkerBase, WorkerMetrics)
from .._util import backoff, ms

log = logging.getLogger("vermilion.patterns.streams")

__all__ = ["StreamWorker", "StreamProducer", "DeadLetters", "StreamEntry", "DeadLetter",
           "WorkerMetrics"]


class _HandlerTimedOut(Exception):
    """The handler ran past handler_timeout and was cancelled."""


class StreamProducer(StreamProducerCore, AsyncFace):
    __doc__ = StreamProducerCore.__doc__

    if TYPE_CHECKING:
        async def add(self, fields: dict[Any, Any], *, delay: float | None = None,
                      idempotency_key: str | None = None) -> str: ...
        async def add_many(self, items: Iterable[dict[Any, Any]]) -> list[str]: ...
        async def delayed_count(self) -> int: ...


class DeadLetters(DeadLettersCore, AsyncFace):
    __doc__ = DeadLettersCore.__doc__

    if TYPE_CHECKING:
        async def list(self, count: int = 100, start: str = "-") -> builtins.list[DeadLetter]: ...
        async def count(self) -> int: ...
        async def replay(self, ids: Iterable[str] | None = None, count: int = 100) -> builtins.list[str]: ...
        async def purge(self, ids: Iterable[str] | None = None) -> int: ...


class StreamWorker(WorkerBase):
    """A consumer-group worker on ``redis.asyncio.Redis``.

        worker = StreamWorker(r, "events", "email-service", handle, concurrency=4)
        worker.start()              # a background task; or: await worker.run()
        ...
        await worker.stop(timeout=10)

    At most ``concurrency`` handler tasks (or batches, with ``batch_size``) run
    at once.
    """

    def __init__(self, client: Any, stream: str, group: str, handler: Callable[..., Any],
                 **options: Any):
        super().__init__(client, stream, group, handler, **options)
        self.dead_letters = DeadLetters(client, stream, self.dead_letter_stream)
        self._is_async = inspect.iscoroutinefunction(handler)
        self._slots: asyncio.Semaphore | None = None
        self._pool: HandlerThreads | None = None
        self._held = 0  # slots kept by hung synchronous calls past max_stuck_threads
        self._tasks: dict[asyncio.Task[None], list[StreamEntry]] = {}
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._reading = False
        self._reader: asyncio.Future[Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self._next_heartbeat = 0.0
        self._next_claim = 0.0
        self.drained: bool | None = None

    def _x(self, gen: Any) -> Any:
        return run_async(self.client, gen)

    # ---- lifecycle

    def start(self) -> "StreamWorker":
        self._task = asyncio.create_task(self.run(), name=f"stream-worker:{self.consumer}")
        return self

    async def stop(self, timeout: float | None = None) -> bool:
        """Stop reading; give in-flight handlers ``timeout`` seconds (default:
        ``grace``), then cancel them (their entries stay pending, marked idle for
        other workers). True if everything finished in time."""
        if timeout is not None:
            self.grace = timeout
        self._request_stop()
        if self._task is None:
            return True
        await asyncio.gather(self._task, return_exceptions=True)
        return bool(self.drained)

    def _request_stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._reading and self._reader is not None:  # a blocked XREADGROUP can be abandoned
            self._reader.cancel()

    async def run(self, handle_signals: bool = False) -> None:
        """Process until ``stop()`` (or SIGTERM/SIGINT with ``handle_signals``),
        then drain within ``grace`` seconds and return normally."""
        self._stopping.clear()
        self._slots = asyncio.Semaphore(self.concurrency)
        self._held = 0
        if not self._is_async:
            self._pool = HandlerThreads(self.concurrency, self.max_stuck_threads,
                                        f"stream-handler:{self.consumer}")
        loop = asyncio.get_running_loop()
        signals = [signal.SIGTERM, signal.SIGINT] if handle_signals else []
        for sig in signals:
            loop.add_signal_handler(sig, self._request_stop)
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
            for sig in signals:
                loop.remove_signal_handler(sig)
            self.drained = await self._drain(time.monotonic() + self.grace)
            if self._pool is not None:
                self._pool.shutdown()

    # ---- the control loop

    async def _step(self) -> None:
        await self._service()
        if self._promote_due():
            self._promoted(await self._x(self._promote()))
        retried = []
        for entry_id in self._due_retries():
            entry = await self._x(self._retry(entry_id))
            if entry is not None:
                self._observe("retried")
                retried.append(entry)
        for chunk in self._chunks(retried):
            await self._submit(chunk)
        if time.monotonic() >= self._next_claim:
            await self._reclaim_some()
        free = self._free()
        if free == 0:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self._until_timer())
            except asyncio.TimeoutError:
                pass
            return
        block = min(self.block, self._until_timer(), self._next_retry_in(),
                    max(0.001, self._next_promote - time.monotonic()))
        self._reader = asyncio.ensure_future(
            self._x(self._read(">", self._read_count(free), max(1, ms(block)))))
        self._reading = True
        try:
            entries = await self._reader
        finally:
            self._reading = False
        for chunk in self._chunks(entries):
            await self._submit(chunk)

    async def _catch_up(self) -> None:
        last = "0"
        while not self._stopping.is_set():
            self._reading_pending()
            entries = await self._x(self._read(last, self.count, None))
            fresh = self._fresh_pending(entries)
            if not entries:
                return
            for chunk in self._chunks(fresh):
                await self._submit(chunk)
            last = entries[-1].id

    async def _reclaim_some(self) -> None:
        limit = max(1, self._free() * (self.batch_size or 1))
        self._reading_pending()
        entries, deleted, self._claim_cursor = await self._x(
            self._reclaim(ms(self.claim_idle), self._claim_cursor, limit))
        self._count_deleted(deleted)
        self._observe("reclaimed", len(entries))
        self._next_claim = time.monotonic() + (
            self.claim_interval if self._claim_cursor == "0-0" else 0.0)
        for chunk in self._chunks(self._accept_claimed(entries)):
            await self._submit(chunk)

    async def _service(self) -> None:
        if time.monotonic() < self._next_heartbeat:
            return
        self._next_heartbeat = time.monotonic() + self.heartbeat_every
        lost = await self._x(self._heartbeat(self._heartbeat_ids()))
        self._heartbeat_lost(lost)
        if self.prometheus is not None:
            self.prometheus.gauges(await self.metrics())

    def _free(self) -> int:
        return max(0, self.concurrency - len(self._tasks) - self._held)

    def _until_timer(self) -> float:
        return max(0.001, min(self._next_heartbeat, self._next_claim) - time.monotonic())

    async def _submit(self, entries: list[StreamEntry]) -> None:
        assert self._slots is not None
        while True:
            try:
                if self._held and self._free() == 0:  # wait for a hung call to return
                    self._wake.clear()
                    await asyncio.wait_for(self._wake.wait(), self._until_timer())
                    continue
                await asyncio.wait_for(self._slots.acquire(), self._until_timer())
                break
            except asyncio.TimeoutError:
                await self._service()
        for e in entries:
            self._in_flight[e.id] = e
        task = asyncio.create_task(self._process(entries))
        self._tasks[task] = entries

    async def _drain(self, deadline: float) -> bool:
        while self._tasks and time.monotonic() < deadline:
            try:
                await self._service()
            except RedisError:
                pass
            await asyncio.wait(set(self._tasks),
                               timeout=min(0.05, max(0.0, deadline - time.monotonic())))
        leftover = list(self._tasks)
        left_ids = [e.id for t in leftover for e in self._tasks.get(t, [])]
        for t in leftover:
            t.cancel()
        await asyncio.gather(*leftover, return_exceptions=True)
        waiting = list(self._retry_ids)
        self._retry_ids.clear()
        self._retry_heap.clear()
        try:
            # A read that stop() cancelled may have been served: its entries are ours
            # on the server, unseen here. No handler runs any more, so everything
            # still pending for us goes back.
            pending = await self._x(self._own_pending())
            await self._x(self._release_ids(list(dict.fromkeys(waiting + left_ids + pending))))
        except RedisError as exc:
            log.warning("stream worker %s: could not release pending entries: %s",
                        self.consumer, exc)
        return not leftover

    # ---- one job

    async def _call_handler(self, live: list[StreamEntry]) -> None:
        if self.tracing is None:
            await self._run_handler(live)
            return
        with self.tracing.use(self.tracing.process(self.stream, self.group, live)):
            await self._run_handler(live)

    async def _run_handler(self, live: list[StreamEntry]) -> None:
        arg: Any = live if self.batch_size is not None else live[0]
        thread_call = None
        if self._is_async:
            call = self.handler(arg)
        else:
            assert self._pool is not None
            thread_call = self._pool.submit(self.handler, arg)
            call = asyncio.wrap_future(thread_call.future)
        if self.handler_timeout is None:
            await call
            return
        try:
            async with asyncio.timeout(self.handler_timeout) as scope:
                await call
        except TimeoutError:
            if not scope.expired():  # the handler's own TimeoutError
                raise
            if thread_call is not None:
                self._abandon(thread_call)
            raise _HandlerTimedOut() from None

    def _abandon(self, thread_call: Any) -> None:
        assert self._pool is not None and self._slots is not None
        if self._pool.abandon(thread_call):
            return
        log.warning("stream worker %s: %d handler threads are stuck in abandoned calls "
                    "(max_stuck_threads); running with fewer slots until they return",
                    self.consumer, self._pool.stuck)
        # The hung call keeps a slot: taken now, given back when it returns.
        self._held += 1
        loop = asyncio.get_running_loop()

        def returned() -> None:
            self._held -= 1
            self._wake.set()

        def on_return(_: Any) -> None:
            try:
                loop.call_soon_threadsafe(returned)
            except RuntimeError:  # the loop is closed: nothing left to give back
                pass

        thread_call.future.add_done_callback(on_return)

    async def _process(self, entries: list[StreamEntry]) -> None:
        try:
            live = entries if self._runnable(entries) else []
            for entry in ([] if live else entries):
                verdict = self._verdict(entry)
                if verdict == "ack":
                    await self._x(self._ack(entry.id))
                    self._count_deleted([entry.id])
                elif verdict == "dead":
                    await self._bury(entry, self._giving_up(entry))
                else:
                    live.append(entry)
            if not live:
                return
            started = time.perf_counter()
            try:
                await self._call_handler(live)
            except _HandlerTimedOut:
                self._observe("failed", len(live))
                self._observe("timed_out", len(live))
                log.warning("stream worker %s: handler timed out on %s", self.consumer,
                            [e.id for e in live])
                for entry in live:
                    await self._failed(entry, None, timed_out=True)
            except Exception as exc:
                if self.prometheus is not None:
                    self.prometheus.duration(time.perf_counter() - started)
                self._observe("failed", len(live))
                log.info("handler failed on %s (delivery %d): %r", live[0].id,
                         live[0].deliveries, exc)
                for entry in live:
                    await self._failed(entry, exc)
            else:
                if self.prometheus is not None:
                    self.prometheus.duration(time.perf_counter() - started)
                await self._x(self._ack_many(self._ack_ids(live)))
                self._observe("processed", len(live))
        except RedisError as exc:
            log.warning("stream worker %s lost track of %s: %s", self.consumer,
                        [e.id for e in entries], exc)
        finally:
            self._settle(entries)
            task = asyncio.current_task()
            if task is not None:
                self._tasks.pop(task, None)
            assert self._slots is not None
            self._slots.release()
            self._wake.set()

    async def _failed(self, entry: StreamEntry, exc: BaseException | None,
                      timed_out: bool = False) -> None:
        delay, reason = self._decide(entry, exc, timed_out)
        if delay is None:
            await self._bury(entry, reason)
        else:
            self._schedule_retry(entry.id, delay)

    async def _bury(self, entry: StreamEntry, error: str) -> None:
        if await self._x(self._dead_letter(entry, error)) is not None:
            self._observe("dead_lettered")

    async def metrics(self) -> WorkerMetrics:
        m = WorkerMetrics(**{**self.stats.__dict__, "in_flight": len(self._in_flight),
                             "stuck_threads": 0 if self._pool is None else self._pool.stuck})
        result: WorkerMetrics = await self._x(self._server_metrics(m))
        return result
