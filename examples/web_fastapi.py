"""FastAPI with server-side sessions and rate limiting, in a few lines.

Runs the app through FastAPI's test client; ``--serve`` serves it with uvicorn
(if installed) on http://127.0.0.1:8000.
"""

import sys

import redis.asyncio
from _connect import parse_args, servers
from fastapi import FastAPI, Request

from vermilion.integrations.ratelimit import RateLimitMiddleware
from vermilion.integrations.starlette import SessionMiddleware
from vermilion.patterns import aio


def make_app(url: str) -> FastAPI:
    r = redis.asyncio.Redis.from_url(url)
    app = FastAPI()
    app.add_middleware(SessionMiddleware, store=aio.SessionStore(r, "fastapi-demo"))
    app.add_middleware(RateLimitMiddleware, limiter=aio.RateLimiter(r, "fastapi-demo",
                                                                    "5/second;100/minute"),
                       headers="ietf")

    @app.get("/")
    async def home(request: Request):
        request.session["visits"] = request.session.get("visits", 0) + 1
        return {"visits": request.session["visits"], "user": request.session.user}

    @app.get("/login/{user}")
    async def login(user: str, request: Request):
        request.session.login(user)
        return "logged in"

    return app


def main():
    serve = "--serve" in sys.argv
    if serve:
        sys.argv.remove("--serve")
    args = parse_args(__doc__)
    with servers([args.url] if args.url else []) as (url,):
        if serve:
            import uvicorn
            uvicorn.run(make_app(url))
            return
        from fastapi.testclient import TestClient
        with TestClient(make_app(url)) as browser:
            for path in ["/", "/login/bob", "/"]:
                r = browser.get(path)
                print(f"GET {path:12} {r.status_code} {r.json()}  RateLimit: {r.headers['ratelimit']}")
            codes = [browser.get("/").status_code for _ in range(6)]
            print("6 quick requests:", codes)


if __name__ == "__main__":
    main()
