"""Rate limiting in real frameworks, through their own test clients: the decorator,
the ASGI middleware (Starlette, FastAPI) and the WSGI middleware (Flask, Django)."""

import asyncio
import math
import time

import pytest
import redis

from vermilion.integrations.ratelimit import (RateLimitExceeded, RateLimitMiddleware,
                                              WSGIRateLimitMiddleware, rate_limited)
from vermilion.patterns import RateLimiter, aio

pytestmark = pytest.mark.needs("eval")


def test_decorator_sync_and_keys(r, uid):
    limiter = RateLimiter(r, uid, "2/minute")

    @rate_limited(limiter, key=lambda user, **_: user)
    def export(user, fmt="csv"):
        return f"{user}.{fmt}"

    assert export("ann") == "ann.csv" and export("ann", fmt="json") == "ann.json"
    with pytest.raises(RateLimitExceeded) as err:
        export("ann")
    assert err.value.result.retry_after > 0 and "rate limit" in str(err.value)
    assert export("bob") == "bob.csv"  # keyed per user
    assert export.__name__ == "export"


async def test_decorator_async(ar, uid):
    limiter = aio.RateLimiter(ar, uid, "3/minute", strategy="gcra")

    @rate_limited(limiter, cost=2)
    async def work():
        return "done"

    assert await work() == "done"
    with pytest.raises(RateLimitExceeded):
        await work()
    assert await limiter.test(f"{__name__}.test_decorator_async.<locals>.work")

    @rate_limited(limiter)
    def wrong():
        pass

    with pytest.raises(TypeError, match="blocking"):
        wrong()


def _starlette_app(backend, uid, **options):
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def home(request):
        return PlainTextResponse("hello")

    limiter = aio.RateLimiter(redis.asyncio.Redis.from_url(backend.url), uid, "3/minute")
    app = Starlette(routes=[Route("/", home), Route("/health", home)])
    return RateLimitMiddleware(app, limiter, **options)


@pytest.mark.parametrize("style", ["legacy", "ietf", "draft"])
def test_asgi_middleware_on_starlette(backend, uid, style):
    from starlette.testclient import TestClient
    skip_health = lambda scope: None if scope["path"] == "/health" else scope["client"][0]  # noqa
    app = _starlette_app(backend, uid, headers=style, key=skip_health)
    with TestClient(app) as client:
        oks = [client.get("/") for _ in range(3)]
        refused = client.get("/")
        health = [client.get("/health") for _ in range(5)]
    assert [x.status_code for x in oks] == [200] * 3 and oks[0].text == "hello"
    assert refused.status_code == 429 and refused.text == "Too Many Requests"
    assert all(h.status_code == 200 for h in health)  # key None: not limited
    assert 1 <= int(refused.headers["retry-after"]) <= 120  # a sliding window's estimate
    if style == "legacy":
        assert [x.headers["x-ratelimit-remaining"] for x in oks] == ["2", "1", "0"]
        assert oks[0].headers["x-ratelimit-limit"] == "3"
        assert int(refused.headers["x-ratelimit-reset"]) >= time.time()  # an epoch time
    elif style == "ietf":
        assert oks[0].headers["ratelimit-policy"] == '"3-per-60s";q=3;w=60'
        assert oks[1].headers["ratelimit"].startswith('"3-per-60s";r=1;t=')
    else:
        assert oks[2].headers["ratelimit-remaining"] == "0"
        assert 0 < int(oks[2].headers["ratelimit-reset"]) <= 120


def test_asgi_middleware_on_fastapi_keyed_by_header(backend, uid):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    app = FastAPI()

    @app.get("/items")
    async def items():
        return {"items": [1]}

    limiter = aio.RateLimiter(redis.asyncio.Redis.from_url(backend.url), uid,
                              "2/second;3/minute", strategy="sliding_log")
    key = lambda scope: dict(scope["headers"]).get(b"x-api-key", b"anon").decode()  # noqa
    app.add_middleware(RateLimitMiddleware, limiter=limiter, key=key, headers=None)
    with TestClient(app) as client:
        a = [client.get("/items", headers={"x-api-key": "a"}).status_code for _ in range(3)]
        b = client.get("/items", headers={"x-api-key": "b"})
    assert a == [200, 200, 429] and b.status_code == 200 and b.json() == {"items": [1]}
    assert "x-ratelimit-limit" not in b.headers  # headers=None


def test_wsgi_middleware_on_flask(backend, uid):
    from flask import Flask
    app = Flask(__name__)

    @app.route("/")
    def home():
        return "hi"

    limiter = RateLimiter(redis.Redis.from_url(backend.url), uid, "2/minute")
    app.wsgi_app = WSGIRateLimitMiddleware(app.wsgi_app, limiter)
    client = app.test_client()
    got = [client.get("/", environ_base={"REMOTE_ADDR": "10.0.0.1"}) for _ in range(3)]
    other = client.get("/", environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert [x.status_code for x in got] == [200, 200, 429] and other.status_code == 200
    assert got[0].headers["X-RateLimit-Remaining"] == "1" and got[0].text == "hi"
    assert got[2].headers["Retry-After"] and got[2].text == "Too Many Requests"


def test_wsgi_middleware_on_django(backend, uid, django_settings):
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import Client
    limiter = RateLimiter(redis.Redis.from_url(backend.url), uid, "2/minute")
    wrapped = WSGIRateLimitMiddleware(WSGIHandler(), limiter, headers="ietf")

    class WrappedClient(Client):  # Django's test client, on the wrapped WSGI app
        def __init__(self):
            super().__init__()
            self.handler_app = wrapped

        def request(self, **request):
            environ = self._base_environ(**request)
            out = {}

            def start(status, headers, exc_info=None):
                out["status"], out["headers"] = int(status.split()[0]), dict(headers)

            body = b"".join(self.handler_app(environ, start))
            return out["status"], out["headers"], body

    client = WrappedClient()
    got = [client.get("/hello/") for _ in range(3)]
    assert [g[0] for g in got] == [200, 200, 429]
    assert got[0][2] == b"hello" and got[0][1]["RateLimit-Policy"] == '"2-per-60s";q=2;w=60'
    assert got[2][2] == b"Too Many Requests"


def test_middleware_refuses_unknown_header_style(r, uid):
    with pytest.raises(ValueError):
        RateLimitMiddleware(None, None, headers="x-custom")


def test_decorator_on_views_keys_by_client_address(backend, uid, django_settings):
    from flask import Flask
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    app = Flask(__name__)

    @app.errorhandler(RateLimitExceeded)
    def too_many(exc):
        return "slow down", 429, exc.result.headers("legacy")

    @app.route("/")
    @rate_limited(RateLimiter(redis.Redis.from_url(backend.url), uid, "1/minute"))
    def home():
        return "hi"

    client = app.test_client()
    codes = [client.get("/", environ_base={"REMOTE_ADDR": a}).status_code
             for a in ("1.1.1.1", "1.1.1.1", "2.2.2.2")]
    assert codes == [200, 429, 200]
    assert client.get("/", environ_base={"REMOTE_ADDR": "2.2.2.2"}).headers["Retry-After"]

    @rate_limited(aio.RateLimiter(redis.asyncio.Redis.from_url(backend.url), uid + "s",
                                  "1/minute"))
    async def view(request):
        return PlainTextResponse("hi")

    star = Starlette(routes=[Route("/", view)],
                     exception_handlers={RateLimitExceeded: lambda req, exc: PlainTextResponse(
                         "slow down", 429)})
    with TestClient(star) as tc:
        assert [tc.get("/").status_code for _ in range(2)] == [200, 429]

    from django.test import RequestFactory
    limited = rate_limited(RateLimiter(redis.Redis.from_url(backend.url), uid + "d",
                                       "1/minute"))(lambda request: "ok")
    rf = RequestFactory()
    assert limited(rf.get("/", REMOTE_ADDR="3.3.3.3")) == "ok"
    with pytest.raises(RateLimitExceeded):
        limited(rf.get("/", REMOTE_ADDR="3.3.3.3"))
    assert limited(rf.get("/", REMOTE_ADDR="4.4.4.4")) == "ok"
