"""``@synchronized``: run a function while holding a ``Lock``.

One decorator for both faces: a coroutine function gets an asyncio ``Lock`` (its
client must be a ``redis.asyncio.Redis``), a plain function a blocking one. Each
call makes its own ``Lock`` object, so concurrent calls contend for the lock
like separate holders do.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, TypeVar, Union, cast

F = TypeVar("F", bound=Callable[..., Any])
LockName = Union[str, Callable[..., str]]


def synchronized(client: Any, name: LockName, **lock_options: Any) -> Callable[[F], F]:
    """Decorate a function so that each call holds the lock ``name``.

    ``name`` may be a function of the call's arguments, for one lock per
    resource: ``@synchronized(r, lambda account, amount: f"account:{account}")``.
    ``lock_options`` go to ``Lock`` (``ttl``, ``timeout``, ``watchdog``,
    ``reentrant``...). A call that cannot get the lock within ``timeout`` raises
    ``LockNotAcquired``; one whose lock was lost on the way raises ``LockNotOwned``.
    """

    def lock_name(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        return name(*args, **kwargs) if callable(name) else name

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):
            from .aio.lock import Lock as AsyncLock

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                async with AsyncLock(client, lock_name(args, kwargs), **lock_options):
                    return await fn(*args, **kwargs)

            return cast(F, run_async)

        from .lock import Lock

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with Lock(client, lock_name(args, kwargs), **lock_options):
                return fn(*args, **kwargs)

        return cast(F, run)

    return decorate
