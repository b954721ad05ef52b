"""One implementation, two faces: operations are written once as generators.

An *op* is a generator method that yields descriptions of Redis calls (``Call``,
``Script``, or a list of ``Call`` for one pipeline round trip) and receives their
replies; it returns the op's result. It never touches a client itself, so the
same code runs under ``run_sync`` (redis.Redis, thread-safe because it keeps no
state between calls) and under ``run_async`` (redis.asyncio.Redis).

A class that mixes in ``SyncFace`` or ``AsyncFace`` gets every ``@op`` method
replaced by a plain or ``async`` method with the same name, signature and doc.
Ops must not call other public ops (those are wrapped in the face class); they
compose private generator helpers with ``yield from``.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from dataclasses import dataclass, field
from typing import (Any, Awaitable, Callable, Concatenate, Generator, Generic, Iterator, ParamSpec,
                    TypeVar, Union, overload)

from redis.exceptions import DataError, NoScriptError, ResponseError

from ._util import gc_paused


@dataclass(frozen=True)
class Call:
    """A redis-py client method call, described rather than made."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def call(method: str, *args: Any, **kwargs: Any) -> Call:
    return Call(method, args, kwargs)


class Script:
    """A Lua script, run with EVALSHA and re-sent with EVAL when the server lacks it."""

    def __init__(self, source: str):
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def __call__(self, keys: Any, args: Any = ()) -> "RunScript":
        return RunScript(self, tuple(keys), tuple(args))


@dataclass(frozen=True)
class RunScript:
    script: Script
    keys: tuple[Any, ...]
    args: tuple[Any, ...]


class RawUnsupported(Exception):
    """The client cannot run a ``Packed`` step (a cluster client, one pinned to a
    single connection, a non-UTF-8 encoding): the op takes another way."""


@dataclass(frozen=True)
class Packed:
    """Commands already packed as RESP (UTF-8), sent in one write on a plain
    ``redis.Redis``/``redis.asyncio.Redis``, as MULTI ... EXEC with
    ``transaction``. It skips redis-py's per-command and per-argument packing and
    its reply callbacks, which cost the client more than the server's work for
    commands sent in bulk or with many arguments. The reply: EXEC's list, or the
    list of the ``count`` replies; the first error reply raises ``ResponseError``
    (after every reply was read, so the connection stays usable)."""

    payload: bytes
    count: int  # commands in payload
    transaction: bool = False
    # For a large reply: turns the result (as above) into what the op receives,
    # called as the reply is read, with the garbage collector paused over both
    # (see _util.gc_paused; the sync face also waits for the reply to arrive first).
    parse: Callable[[Any], Any] | None = None


def encode_arg(x: Any) -> bytes:
    """One argument encoded as redis-py encodes it (UTF-8)."""
    if isinstance(x, (bytes, bytearray, memoryview)):
        return bytes(x)
    if isinstance(x, str):
        return x.encode()
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return repr(x).encode()
    raise DataError(f"Invalid input of type: '{type(x).__name__}'. "
                    "Convert to a bytes, string, int or float first.")


def pack(*args: Any) -> bytes:
    """One command as RESP."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if type(a) is bytes else encode_arg(a)
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


# What an op yields: one call, one script, a list of calls for one pipeline, or
# packed commands.
Step = Union[Call, RunScript, list[Call], Packed]

_MULTI = b"*1\r\n$5\r\nMULTI\r\n"
_EXEC = b"*1\r\n$4\r\nEXEC\r\n"


def _raw_pool(client: Any, cls: type) -> Any:
    pool = getattr(client, "connection_pool", None)
    if (not isinstance(client, cls) or pool is None
            or getattr(client, "connection", None) is not None):
        raise RawUnsupported()
    encoding = str(pool.get_encoder().encoding).lower().replace("-", "").replace("_", "")
    if encoding != "utf8":
        raise RawUnsupported()
    return pool


def _frames(step: Packed) -> tuple[list[bytes], int]:
    """What to send, and how many replies come back."""
    if step.transaction:
        return [_MULTI, step.payload, _EXEC], step.count + 2
    return [step.payload], step.count


def _packed_result(step: Packed, replies: list[Any]) -> Any:
    for r in replies:  # a refused command (queued or not), EXECABORT
        if isinstance(r, ResponseError):
            raise r
    if not step.transaction:
        return replies
    for r in replies[-1]:
        if isinstance(r, ResponseError):
            raise r
    return replies[-1]


def _packed_sync(client: Any, step: Packed) -> Any:
    import redis
    pool = _raw_pool(client, redis.Redis)
    try:
        conn = pool.get_connection()
    except TypeError:  # redis-py < 5.3 wants a command name
        conn = pool.get_connection("MULTI")
    frames, n = _frames(step)

    def read() -> list[Any]:
        replies: list[Any] = []
        for _ in range(n):
            try:
                replies.append(conn.read_response())
            except ResponseError as exc:
                replies.append(exc)
        return replies

    def attempt() -> Any:
        conn.send_packed_command(frames)
        if step.parse is None:
            return read()
        conn.can_read(timeout=getattr(conn, "socket_timeout", None))  # not paused while waiting
        with gc_paused():
            try:
                return _Parsed(step.parse(_packed_result(step, read())))
            except ResponseError as exc:  # every reply was read: the connection is fine
                return _Parsed(exc)

    def failed(error: Exception) -> None:
        conn.disconnect()

    try:
        # Connection errors are retried as redis-py retries its own commands.
        retry = getattr(conn, "retry", None)
        replies = attempt() if retry is None else retry.call_with_retry(attempt, failed)
    except BaseException:
        conn.disconnect()  # replies may be left unread
        raise
    finally:
        pool.release(conn)
    if type(replies) is _Parsed:
        if isinstance(replies.value, ResponseError):
            raise replies.value
        return replies.value
    return _packed_result(step, replies)


class _Parsed:
    """A Packed step's result already parsed (or the error reply it raised)."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


async def _packed_async(client: Any, step: Packed) -> Any:
    import redis.asyncio
    pool = _raw_pool(client, redis.asyncio.Redis)
    try:
        conn = await pool.get_connection()
    except TypeError:  # redis-py < 5.3 wants a command name
        conn = await pool.get_connection("MULTI")
    frames, n = _frames(step)

    async def attempt() -> list[Any]:
        await conn.send_packed_command(frames)
        replies: list[Any] = []
        for _ in range(n):
            try:
                replies.append(await conn.read_response())
            except ResponseError as exc:
                replies.append(exc)
        return replies

    async def failed(error: Exception) -> None:
        await conn.disconnect()

    try:
        retry = getattr(conn, "retry", None)
        replies = await (attempt() if retry is None else retry.call_with_retry(attempt, failed))
    except BaseException:  # cancelled, or the connection failed: replies may be unread
        await conn.disconnect()
        raise
    finally:
        await pool.release(conn)
    result = _packed_result(step, replies)
    if step.parse is None:
        return result
    # Here only the parse is paused: reading may wait, and other tasks run meanwhile.
    with gc_paused():
        return step.parse(result)


# An op: a generator of steps that receives each step's reply and returns its result.
Op = Generator[Step, Any, Any]


def _needs_eval(exc: Exception) -> bool:
    # NOSCRIPT is the normal first-use case; "unknown command" lets servers that
    # only implement EVAL still run every pattern.
    return isinstance(exc, NoScriptError) or (
        isinstance(exc, ResponseError) and "unknown command" in str(exc).lower()
    )


def _script_sync(client: Any, run: RunScript) -> Any:
    argv = (*run.keys, *run.args)
    try:
        return client.evalsha(run.script.sha, len(run.keys), *argv)
    except ResponseError as exc:
        if not _needs_eval(exc):
            raise
    return client.eval(run.script.source, len(run.keys), *argv)


async def _script_async(client: Any, run: RunScript) -> Any:
    argv = (*run.keys, *run.args)
    try:
        return await client.evalsha(run.script.sha, len(run.keys), *argv)
    except ResponseError as exc:
        if not _needs_eval(exc):
            raise
    return await client.eval(run.script.source, len(run.keys), *argv)


def _exec_sync(client: Any, step: Step) -> Any:
    if isinstance(step, RunScript):
        return _script_sync(client, step)
    if isinstance(step, Packed):
        return _packed_sync(client, step)
    if isinstance(step, Call):
        return getattr(client, step.method)(*step.args, **step.kwargs)
    with client.pipeline(transaction=False) as pipe:
        for c in step:
            getattr(pipe, c.method)(*c.args, **c.kwargs)
        return pipe.execute()


async def _exec_async(client: Any, step: Step) -> Any:
    if isinstance(step, RunScript):
        return await _script_async(client, step)
    if isinstance(step, Packed):
        return await _packed_async(client, step)
    if isinstance(step, Call):
        return await getattr(client, step.method)(*step.args, **step.kwargs)
    async with client.pipeline(transaction=False) as pipe:
        for c in step:
            getattr(pipe, c.method)(*c.args, **c.kwargs)
        return await pipe.execute()


def _single(step: Step) -> Op:
    return (yield step)


def _as_gen(gen: Any) -> Op:
    # A bare step (one Call/Script) is the simplest op of all.
    if inspect.isgenerator(gen):
        return gen  # type: ignore[return-value]  # any generator is driven as an op
    return _single(gen)


def run_sync(client: Any, gen: Any) -> Any:
    """Drive an op generator (or a single step) to completion with a blocking client."""
    gen = _as_gen(gen)
    try:
        step = next(gen)
        while True:
            try:
                reply = _exec_sync(client, step)
            except Exception as exc:  # let the op decide (e.g. BUSYGROUP is fine)
                step = gen.throw(exc)
            else:
                step = gen.send(reply)
    except StopIteration as stop:
        return stop.value


async def run_async(client: Any, gen: Any) -> Any:
    """Drive an op generator (or a single step) to completion with an asyncio client."""
    gen = _as_gen(gen)
    try:
        step = next(gen)
        while True:
            try:
                reply = await _exec_async(client, step)
            except Exception as exc:
                step = gen.throw(exc)
            else:
                step = gen.send(reply)
    except StopIteration as stop:
        return stop.value


P = ParamSpec("P")
R = TypeVar("R")
#: What an op is: a generator of steps whose return value is the op's result.
Steps = Generator[Any, Any, R]


class OpMethod(Generic[P, R]):
    """An ``@op`` method as the faces see it; for type checkers it is the method
    the face makes of it: blocking on a ``SyncFace``, a coroutine on an ``AsyncFace``.
    (At run time each face class replaces it with a plain or ``async`` function.)"""

    _vermilion_op = True

    def __init__(self, fn: Callable[Concatenate[Any, P], Steps[R]]):
        self.fn = fn
        # (typeshed types update_wrapper's first argument as a function; a descriptor works)
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    @overload
    def __get__(self, obj: None, owner: type) -> "OpMethod[P, R]": ...
    @overload
    def __get__(self, obj: "SyncFace", owner: type) -> Callable[P, R]: ...
    @overload
    def __get__(self, obj: "AsyncFace", owner: type) -> Callable[P, Awaitable[R]]: ...

    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return self
        return functools.partial(self.fn, obj)  # the generator, on a class without a face


def op(fn: Callable[Concatenate[Any, P], Steps[R]]) -> OpMethod[P, R]:
    """Mark a generator method as an op, to be wrapped by the face classes."""
    return OpMethod(fn)


def _ops_of(cls: type) -> Iterator[tuple[str, Callable[..., Any]]]:
    for name in dir(cls):
        fn = getattr(cls, name, None)
        if fn is not None and getattr(fn, "_vermilion_op", False):
            generator: Callable[..., Any] = getattr(fn, "fn", fn)
            yield name, generator


class SyncFace:
    """Mixin: every ``@op`` of the class becomes a blocking method."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, fn in _ops_of(cls):
            setattr(cls, name, _sync_method(fn))


class AsyncFace:
    """Mixin: every ``@op`` of the class becomes a coroutine method."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, fn in _ops_of(cls):
            setattr(cls, name, _async_method(fn))


def _sync_method(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return run_sync(self.client, fn(self, *args, **kwargs))

    setattr(method, "_vermilion_op", False)
    return method


def _async_method(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(fn)
    async def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return await run_async(self.client, fn(self, *args, **kwargs))

    setattr(method, "_vermilion_op", False)
    return method
