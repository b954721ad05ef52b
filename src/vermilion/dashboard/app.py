"""The dashboard's web application (aiohttp): pages, JSON API, live samples, actions.

Security model (docs/dashboard.md):

* It binds 127.0.0.1 unless told otherwise. While it listens on loopback only, a
  request whose Host header is not a loopback name is refused (a page on another
  site cannot reach it by DNS rebinding).
* Every call to the server is made with the credentials of the browser's session
  (or those in `--url`), so the server's ACL decides what is shown and allowed.
  A server that wants a password gets a login form; the session cookie is
  HttpOnly and SameSite=Strict, and sessions live in this process only.
* Write actions exist only with `write=True`. They are POSTs that must carry the
  `X-Vermilion-Dashboard` header and a JSON body, which a cross-site form cannot
  send; the page asks for confirmation before each.
* Pages load only the bundled assets (Content-Security-Policy 'self').
"""
from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections import OrderedDict
from importlib import resources
from typing import Any
from urllib.parse import urlparse

import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import AuthenticationError, NoPermissionError, RedisError, ResponseError

from .source import CLIENT_NAME, Source

COOKIE = "vermilion_dashboard"
MAX_SESSIONS = 32
ACTION_HEADER = "X-Vermilion-Dashboard"
ASSETS = {"app.js": "text/javascript", "charts.js": "text/javascript", "style.css": "text/css",
          "index.html": "text/html"}
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")
ACTIONS = ("client-kill", "key-delete", "xack", "xclaim", "replay")
MAX_BODY = 64 * 1024
REPROBE_SECONDS = 10.0


class Dashboard:
    """The state of one dashboard: its target server and the browsers' sessions."""

    def __init__(self, url: str, write: bool = False, local_engine: Any = None,
                 client_options: dict | None = None):
        self.url = url
        self.write = write
        self.local_engine = local_engine
        self.client_options = dict(client_options or {})
        parsed = urlparse(url)
        self.target = parsed.hostname or parsed.path or url
        if parsed.port:
            self.target += f":{parsed.port}"
        self.url_credentials = bool(parsed.username or parsed.password)
        self.shared: Source | None = None
        self.needs_auth: bool | None = None
        self.sessions: OrderedDict[str, Source] = OrderedDict()
        self.streams: set[asyncio.Task] = set()     # open server-sent-event responses
        self.probed_at = 0.0

    def client(self, username: str | None = None, password: str | None = None) -> aioredis.Redis:
        options: dict[str, Any] = {"protocol": 2, "client_name": CLIENT_NAME,
                                   "socket_connect_timeout": 5, "socket_timeout": 30,
                                   **self.client_options}
        if username:
            options["username"] = username
        if password is not None:
            options["password"] = password
        return aioredis.Redis.from_url(self.url, **options)

    async def probe(self) -> None:
        """Whether the server lets an unauthenticated client in. It may change: a
        NOAUTH resets this, and the anonymous connection is re-checked with a new
        one every REPROBE_SECONDS (a connection opened before `requirepass` was set
        stays authenticated, and must not keep showing data to everyone)."""
        if self.needs_auth is False and not self.url_credentials and \
                time.monotonic() - self.probed_at > REPROBE_SECONDS:
            self.probed_at = time.monotonic()
            fresh = self.client()
            try:
                await fresh.ping()
            except AuthenticationError:
                await self.reset_shared()
            finally:
                await _close(fresh)
        if self.needs_auth is not None:
            return
        self.probed_at = time.monotonic()
        client = self.client()
        try:
            await client.ping()
        except AuthenticationError:
            await _close(client)
            self.needs_auth = True
            return
        except Exception:
            await _close(client)
            raise
        self.needs_auth = False
        self.shared = Source(client, self.local_engine)

    def session(self, request: web.Request) -> Source | None:
        source = self.sessions.get(request.cookies.get(COOKIE, ""))
        if source is not None:
            self.sessions.move_to_end(request.cookies[COOKIE])
        return source

    async def source_for(self, request: web.Request) -> Source | None:
        """The browser's own session (logged in as some ACL user), else the shared
        connection when the server lets anyone in."""
        await self.probe()
        return self.session(request) or self.shared

    async def login(self, username: str, password: str) -> str:
        client = self.client(username or None, password)
        try:
            await client.ping()
        except BaseException:
            await _close(client)
            raise
        token = secrets.token_urlsafe(32)
        self.sessions[token] = Source(client, self.local_engine)
        self.sessions[token].user = username or "default"
        while len(self.sessions) > MAX_SESSIONS:
            _, oldest = self.sessions.popitem(last=False)
            await oldest.close()
        return token

    async def logout(self, token: str) -> None:
        source = self.sessions.pop(token, None)
        if source is not None:
            await source.close()

    async def reset_shared(self) -> None:
        if self.shared is not None:
            shared, self.shared = self.shared, None
            await shared.close()
        self.needs_auth = None

    async def close(self) -> None:
        for task in list(self.streams):
            task.cancel()
        await self.reset_shared()
        for token in list(self.sessions):
            await self.logout(token)


def _asset(name: str) -> bytes:
    return resources.files("vermilion.dashboard").joinpath("static", name).read_bytes()


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data, default=str), status=status,
                        content_type="application/json")


def _key(request: web.Request) -> bytes:
    try:
        return bytes.fromhex(request.query.get("key", ""))
    except ValueError:
        raise web.HTTPBadRequest(text="key must be hex") from None


def create_app(dashboard: Dashboard, bind: str = "127.0.0.1") -> web.Application:
    hosts = [h.lstrip("-") for h in bind.split()] or ["127.0.0.1"]
    loopback_only = all(h in LOOPBACK_NAMES for h in hosts)

    @web.middleware
    async def guard(request: web.Request, handler):
        if loopback_only:
            name = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
            if name not in LOOPBACK_NAMES:
                return web.Response(status=421, text="this dashboard answers on loopback names only")
        if request.method == "POST" and (request.headers.get(ACTION_HEADER) != "1"
                                         or request.content_type != "application/json"):
            return web.Response(status=403, text=f"POST needs the {ACTION_HEADER} header and a JSON body")
        try:
            response = await handler(request)
        except AuthenticationError as err:
            await dashboard.reset_shared()
            response = _json({"error": str(err), "login": True}, 401)
        except NoPermissionError as err:
            response = _json({"error": str(err)}, 403)
        except (RedisError, OSError) as err:
            response = _json({"error": str(err)}, 502)
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    async def need_source(request: web.Request) -> Source:
        source = await dashboard.source_for(request)
        if source is None:
            raise web.HTTPUnauthorized(text=json.dumps({"error": "login required", "login": True}),
                                       content_type="application/json")
        source.last_used = time.monotonic()
        return source

    async def index(request):
        return web.Response(body=_asset("index.html"), content_type="text/html")

    async def asset(request):
        name = request.match_info["name"]
        if name not in ASSETS:
            raise web.HTTPNotFound()
        return web.Response(body=_asset(name), content_type=ASSETS[name],
                            headers={"Cache-Control": "no-cache"})

    async def session(request):
        await dashboard.probe()
        source = await dashboard.source_for(request)
        own = dashboard.session(request)
        return _json({"auth_required": bool(dashboard.needs_auth), "logged_in": source is not None,
                      "user": own.user if own is not None else None,
                      "write": dashboard.write, "target": dashboard.target})

    async def login(request):
        body = await _body(request)
        try:
            token = await dashboard.login(str(body.get("username") or ""), str(body.get("password") or ""))
        except (AuthenticationError, ResponseError) as err:
            return _json({"error": str(err)}, 401)
        response = _json({"ok": True})
        response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/")
        return response

    async def logout(request):
        await dashboard.logout(request.cookies.get(COOKIE, ""))
        response = _json({"ok": True})
        response.del_cookie(COOKIE, path="/")
        return response

    async def overview(request):
        return _json(await (await need_source(request)).overview())

    async def events(request):
        source = await need_source(request)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                               "Cache-Control": "no-cache"})
        await response.prepare(request)
        queue = source.subscribe()
        task = asyncio.current_task()
        if task is not None:
            dashboard.streams.add(task)
        try:
            await response.write(b"event: history\ndata: " +
                                 json.dumps(list(source.samples)).encode() + b"\n\n")
            while True:
                point = await queue.get()
                await response.write(b"data: " + json.dumps(point).encode() + b"\n\n")
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            source.unsubscribe(queue)
            if task is not None:
                dashboard.streams.discard(task)
        return response

    async def streams(request):
        return _json(await (await need_source(request)).streams())

    async def stream(request):
        return _json(await (await need_source(request)).stream(_key(request)))

    async def pubsub(request):
        return _json(await (await need_source(request)).pubsub_view())

    async def keys(request):
        q = request.query
        try:
            cursor = int(q.get("cursor", "0"))
        except ValueError:
            raise web.HTTPBadRequest(text="cursor must be an integer") from None
        kind = q.get("type", "")
        if kind not in ("", "string", "list", "hash", "set", "zset", "stream"):
            raise web.HTTPBadRequest(text="unknown type")
        return _json(await (await need_source(request)).keys(q.get("pattern", "*")[:1024], kind, cursor))

    async def key(request):
        return _json(await (await need_source(request)).key(_key(request)))

    async def clients(request):
        return _json(await (await need_source(request)).clients())

    async def action(request):
        name = request.match_info["name"]
        if not dashboard.write:
            return _json({"error": "write actions are disabled (start with --dashboard-write yes)"}, 403)
        if name not in ACTIONS:
            raise web.HTTPNotFound()
        source = await need_source(request)
        body = await _body(request)
        try:
            result = await source.act(name, body)
        except (KeyError, ValueError, TypeError) as err:
            return _json({"error": f"bad arguments: {err}"}, 400)
        except ResponseError as err:
            return _json({"error": str(err)}, 409)
        return _json({"ok": True, "result": result})

    app = web.Application(middlewares=[guard], client_max_size=MAX_BODY)
    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", asset)
    app.router.add_get("/api/session", session)
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/logout", logout)
    app.router.add_get("/api/overview", overview)
    app.router.add_get("/api/events", events)
    app.router.add_get("/api/streams", streams)
    app.router.add_get("/api/stream", stream)
    app.router.add_get("/api/pubsub", pubsub)
    app.router.add_get("/api/keys", keys)
    app.router.add_get("/api/key", key)
    app.router.add_get("/api/clients", clients)
    app.router.add_post("/api/action/{name}", action)
    return app


async def _body(request: web.Request) -> dict:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="the body must be JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return body


async def _close(client: aioredis.Redis) -> None:
    await (client.aclose() if hasattr(client, "aclose") else client.close())
