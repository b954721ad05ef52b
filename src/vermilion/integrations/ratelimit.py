"""Rate limiting for functions and web apps, on ``vermilion.patterns.RateLimiter``.

    limiter = RateLimiter(r, "api", "10/second;100/minute")

    @rate_limited(limiter, key=lambda user, **kw: user)      # raises RateLimitExceeded
    def export(user, fmt): ...

    app = RateLimitMiddleware(app, aio.RateLimiter(ar, "api", "100/minute"))       # ASGI
    app.wsgi_app = WSGIRateLimitMiddleware(app.wsgi_app, limiter, headers="ietf")  # WSGI

The middlewares key each request with ``key`` (default: the client address),
answer a refused request with ``429 Too Many Requests`` and its headers, and
add the headers to every response they let through (``headers=None``: none).
"""

from __future__ import annotations

import functools
import inspect
import sys
from typing import (Any, Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence,
                    TypeVar, cast)

from ..patterns.ratelimit import HEADER_STYLES, RateLimitExceeded, RateLimitResult

F = TypeVar("F", bound=Callable[..., Any])
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

__all__ = ["rate_limited", "request_address", "RateLimitMiddleware", "WSGIRateLimitMiddleware",
           "RateLimitExceeded", "client_address", "wsgi_client_address"]

_BODY = b"Too Many Requests"


def _check_style(headers: str | None) -> None:
    if headers is not None and headers not in HEADER_STYLES:
        raise ValueError(f"headers must be None or one of {HEADER_STYLES}")


def request_address(args: Sequence[Any], kwargs: Mapping[str, Any]) -> str | None:
    """The client address of the web request a view was called for, if any: a
    Starlette/FastAPI ``Request`` or a Django ``HttpRequest`` among the
    arguments, or Flask's current request."""
    for value in (*args, *kwargs.values()):
        client = getattr(value, "client", None)
        if client is not None and hasattr(value, "scope"):
            return str(getattr(client, "host", None) or client[0])
        meta = getattr(value, "META", None)
        if isinstance(meta, dict) and "REMOTE_ADDR" in meta:
            return str(meta["REMOTE_ADDR"])
    flask = sys.modules.get("flask")
    if flask is not None and flask.has_request_context():
        return str(flask.request.remote_addr or "unknown")
    return None


def rate_limited(limiter: Any, *, key: Callable[..., str] | None = None,
                 cost: int = 1) -> Callable[[F], F]:
    """Limit calls of a function; a refused call raises ``RateLimitExceeded``.

    ``key(*args, **kwargs)`` names the caller. By default it is the client
    address when the function is a web view (see ``request_address``), each
    view limited on its own, else one limit for all calls of the function. A
    coroutine function needs a ``vermilion.patterns.aio.RateLimiter``, a plain
    function a ``vermilion.patterns.RateLimiter``. In a web app, turn
    ``RateLimitExceeded`` into a 429 with an error handler
    (``exc.result.headers("legacy")`` gives the headers).
    """

    def decorate(fn: F) -> F:
        name = f"{fn.__module__}.{fn.__qualname__}"

        def identity(args: Any, kwargs: Any) -> str:
            if key is not None:
                return str(key(*args, **kwargs))
            address = request_address(args, kwargs)
            return name if address is None else f"{name}:{address}"

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                result = await limiter.hit(identity(args, kwargs), cost)
                if not result.allowed:
                    raise RateLimitExceeded(result)
                return await fn(*args, **kwargs)
            return cast(F, async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = limiter.hit(identity(args, kwargs), cost)
            if inspect.isawaitable(result):
                getattr(result, "close", lambda: None)()
                raise TypeError("a plain function needs a blocking RateLimiter, "
                                "not vermilion.patterns.aio.RateLimiter")
            if not result.allowed:
                raise RateLimitExceeded(result)
            return fn(*args, **kwargs)
        return cast(F, wrapper)

    return decorate


def client_address(scope: Scope) -> str:
    """The default ASGI key: the peer's address (put a proxy-aware key in front
    of a reverse proxy, e.g. one that reads X-Forwarded-For from the scope)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def wsgi_client_address(environ: dict[str, Any]) -> str:
    """The default WSGI key: ``REMOTE_ADDR``."""
    return str(environ.get("REMOTE_ADDR") or "unknown")


class RateLimitMiddleware:
    """ASGI middleware: ``RateLimitMiddleware(app, aio_limiter, key=..., headers="legacy")``.

    Only HTTP requests are limited (websocket and lifespan pass through).
    ``key(scope)`` returns the identity, or None to let the request through
    unlimited (e.g. for health checks). ``cost(scope)`` weighs a request.
    """

    def __init__(self, app: ASGIApp, limiter: Any, *,
                 key: Callable[[Scope], str | None] = client_address,
                 headers: str | None = "legacy",
                 cost: Callable[[Scope], int] | int = 1):
        _check_style(headers)
        self.app, self.limiter, self.key, self.headers, self.cost = app, limiter, key, headers, cost

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        identity = self.key(scope)
        if identity is None:
            await self.app(scope, receive, send)
            return
        cost = self.cost(scope) if callable(self.cost) else self.cost
        result: RateLimitResult = await self.limiter.hit(identity, cost)
        extra = [(k.lower().encode(), v.encode())
                 for k, v in (result.headers(self.headers) if self.headers else {}).items()]
        if not result.allowed:
            await send({"type": "http.response.start", "status": 429,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                    (b"content-length", str(len(_BODY)).encode()), *extra]})
            await send({"type": "http.response.body", "body": _BODY})
            return
        if not extra:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class WSGIRateLimitMiddleware:
    """WSGI middleware (Flask: ``app.wsgi_app = WSGIRateLimitMiddleware(app.wsgi_app, ...)``;
    Django: wrap ``get_wsgi_application()``). Same options as the ASGI one, with
    ``key(environ)``, on a blocking ``RateLimiter``."""

    def __init__(self, app: WSGIApp, limiter: Any, *,
                 key: Callable[[dict[str, Any]], str | None] = wsgi_client_address,
                 headers: str | None = "legacy",
                 cost: Callable[[dict[str, Any]], int] | int = 1):
        _check_style(headers)
        self.app, self.limiter, self.key, self.headers, self.cost = app, limiter, key, headers, cost

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        identity = self.key(environ)
        if identity is None:
            return self.app(environ, start_response)
        cost = self.cost(environ) if callable(self.cost) else self.cost
        result: RateLimitResult = self.limiter.hit(identity, cost)
        extra = list((result.headers(self.headers) if self.headers else {}).items())
        if not result.allowed:
            start_response("429 Too Many Requests",
                           [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(_BODY))), *extra])
            return [_BODY]
        if not extra:
            return self.app(environ, start_response)

        def start_with_headers(status: str, headers: list[tuple[str, str]],
                               exc_info: Any = None) -> Any:
            return start_response(status, [*headers, *extra], exc_info)

        return self.app(environ, start_with_headers)
