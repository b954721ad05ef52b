"""Server-side sessions for Flask.

    from vermilion.integrations.flask import VermilionSessionInterface
    app.session_interface = VermilionSessionInterface(SessionStore(redis.Redis(...), "myapp"))

    session["cart"] = [...]              # as usual
    session.login(user.id)               # at login: new id, bound to the user
    session.logout_everywhere()          # e.g. after a password change

The cookie holds only the session id. Cookie options default to HttpOnly,
SameSite=Lax and Secure when the request came over HTTPS; the cookie name,
domain and path come from Flask's ``SESSION_COOKIE_*`` settings.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin

from ._sessions import COOKIE_DEFAULTS, ServerSession, open_sync, save_sync


class FlaskSession(ServerSession, SessionMixin):
    """``flask.session`` when the Vermilion interface is installed."""


class VermilionSessionInterface(SessionInterface):
    def __init__(self, store: Any, *, httponly: bool = COOKIE_DEFAULTS["httponly"],
                 samesite: str | None = COOKIE_DEFAULTS["samesite"],
                 secure: bool | None = COOKIE_DEFAULTS["secure"]):
        self.store, self.httponly, self.samesite, self.secure = store, httponly, samesite, secure

    def open_session(self, app: Flask, request: Request) -> FlaskSession:
        return open_sync(self.store, request.cookies.get(self.get_cookie_name(app)), FlaskSession)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        from flask import request
        assert isinstance(session, FlaskSession)
        name, domain, path = (self.get_cookie_name(app), self.get_cookie_domain(app),
                              self.get_cookie_path(app))
        sent = request.cookies.get(name)
        if not session.changed:
            if sent is not None and session.sid is None:  # names a session that is gone
                response.delete_cookie(name, domain=domain, path=path)
            return
        sid = save_sync(self.store, session)
        if sid is None:
            if sent is not None:
                response.delete_cookie(name, domain=domain, path=path)
            return
        secure = request.is_secure if self.secure is None else self.secure
        response.set_cookie(name, sid, max_age=self.store.absolute_ms // 1000, domain=domain,
                            path=path, secure=secure, httponly=self.httponly,
                            samesite=self.samesite)
        response.vary.add("Cookie")
