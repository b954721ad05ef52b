"""Server-side sessions for Starlette and FastAPI (``request.session`` as usual).

    from vermilion.integrations.starlette import SessionMiddleware
    app.add_middleware(SessionMiddleware, store=aio.SessionStore(redis.asyncio.Redis(...), "app"))

    request.session["cart"] = [...]
    request.session.login(user_id)          # at login: new id, bound to the user
    request.session.logout_everywhere()

Cookie defaults: HttpOnly, SameSite=Lax, Secure when the request is HTTPS.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

from ._sessions import COOKIE_DEFAULTS, ServerSession, open_async, save_async
from .ratelimit import ASGIApp, Message, Receive, Scope, Send


class SessionMiddleware:
    def __init__(self, app: ASGIApp, store: Any, *, cookie_name: str = "session",
                 path: str = "/", domain: str | None = None,
                 httponly: bool = COOKIE_DEFAULTS["httponly"],
                 samesite: str | None = COOKIE_DEFAULTS["samesite"],
                 secure: bool | None = COOKIE_DEFAULTS["secure"]):
        self.app, self.store, self.cookie_name = app, store, cookie_name
        self.path, self.domain, self.httponly = path, domain, httponly
        self.samesite, self.secure = samesite, secure

    def _sid(self, scope: Scope) -> str | None:
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                jar: SimpleCookie = SimpleCookie()
                jar.load(value.decode("latin-1"))
                if self.cookie_name in jar:
                    return jar[self.cookie_name].value
        return None

    def _cookie(self, scope: Scope, sid: str | None) -> bytes:
        jar: SimpleCookie = SimpleCookie()
        jar[self.cookie_name] = sid or ""
        morsel = jar[self.cookie_name]
        morsel["path"] = self.path
        morsel["max-age"] = str(self.store.absolute_ms // 1000) if sid else "0"
        if self.domain:
            morsel["domain"] = self.domain
        if self.httponly:
            morsel["httponly"] = True
        if self.samesite:
            morsel["samesite"] = self.samesite
        if self.secure or (self.secure is None and scope.get("scheme") in ("https", "wss")):
            morsel["secure"] = True
        return morsel.OutputString().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        sent = self._sid(scope)
        session = await open_async(self.store, sent, ServerSession)
        scope["session"] = session
        # a cookie naming a session that is gone (expired, logged out) is deleted
        stale = sent is not None and session.sid is None

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and (session.changed or stale):
                sid = await save_async(self.store, session) if session.changed else None
                if sid is not None or sent is not None:
                    message = dict(message)
                    message["headers"] = [*message.get("headers", ()),
                                          (b"set-cookie", self._cookie(scope, sid))]
            await send(message)

        await self.app(scope, receive, send_with_cookie)
