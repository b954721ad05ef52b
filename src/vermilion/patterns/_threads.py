"""Threads for synchronous handler calls, which a time limit cannot stop.

Python cannot kill a thread, so a handler call abandoned after
``handler_timeout`` keeps running in its thread until it returns. The pool
keeps ``size`` threads available for new calls: each abandoned call that is
still running gets a replacement thread, for up to ``max_stuck`` such calls at
once. Past that cap there is no replacement and ``abandon`` says so: the caller
keeps that call's concurrency slot taken until it returns (``future``'s done
callbacks run then), so the worker runs with fewer slots instead of starting
threads without bound. A thread whose abandoned call returns leaves the pool if
it was replaced, and goes back to work otherwise.

The threads are daemons: a call that never returns does not keep the process
from exiting once the worker has stopped.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import Any, Callable


class HandlerCall:
    """One call submitted to the pool."""

    __slots__ = ("future", "fn", "args", "abandoned", "replaced")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]):
        self.future: Future[Any] = Future()
        self.fn, self.args = fn, args
        self.abandoned = False  # past its time limit, still running
        self.replaced = False  # ... and another thread serves in its place


class HandlerThreads:
    def __init__(self, size: int, max_stuck: int, name: str):
        self.size, self.max_stuck, self.name = size, max_stuck, name
        self._queue: queue.SimpleQueue[HandlerCall | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self.stuck = 0  # abandoned calls still running
        self._replaced = 0  # of which have a replacement thread
        self._threads = 0  # live threads
        for _ in range(size):
            self._spawn()

    def _spawn(self) -> None:
        # Under self._lock, or before the pool is shared.
        self._threads += 1
        threading.Thread(target=self._serve, name=f"{self.name}-{self._threads}",
                         daemon=True).start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> HandlerCall:
        call = HandlerCall(fn, args)
        self._queue.put(call)
        return call

    def abandon(self, call: HandlerCall) -> bool:
        """The caller gives up on ``call``. True if no thread is lost to it (it had
        not started, had returned, or a replacement thread was started)."""
        with self._lock:
            if call.future.cancel() or call.future.done():
                return True
            call.abandoned = True
            self.stuck += 1
            if self._replaced >= self.max_stuck:
                return False
            call.replaced = True
            self._replaced += 1
            self._spawn()
            return True

    def shutdown(self) -> None:
        """Threads leave once idle; running calls are not waited for."""
        with self._lock:
            serving = self._threads - self._replaced
        for _ in range(serving):
            self._queue.put(None)

    def _serve(self) -> None:
        while True:
            call = self._queue.get()
            if call is None:
                with self._lock:
                    self._threads -= 1
                return
            if not call.future.set_running_or_notify_cancel():
                continue
            try:
                result = call.fn(*call.args)
            except BaseException as exc:  # handed to whoever waits on the future
                call.future.set_exception(exc)
            else:
                call.future.set_result(result)
            with self._lock:
                if not call.abandoned:
                    continue
                self.stuck -= 1
                if call.replaced:
                    self._replaced -= 1
                    self._threads -= 1
                    return
