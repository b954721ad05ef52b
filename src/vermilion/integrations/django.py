"""A Django session engine on Vermilion (or Redis): ``SESSION_ENGINE``.

    SESSION_ENGINE = "vermilion.integrations.django"
    VERMILION_SESSIONS = {"url": "redis://localhost:6379/0", "namespace": "django",
                          "idle": 1800, "absolute": 86400, "serializer": "json"}
    # optional, for Secure cookies whenever the request is HTTPS:
    MIDDLEWARE = [..., "vermilion.integrations.django.SessionMiddleware", ...]  # in place of Django's

Django's ``login()`` regenerates the id (``cycle_key``: one atomic rename on
the server) and the session is bound to the logged-in user when saved, so
``request.session.logout_everywhere()`` ends every session of that user.
Lifetimes are the store's (idle and absolute, enforced by the server's TTL);
``set_expiry`` only changes the cookie's own expiry.
"""

from __future__ import annotations

from typing import Any

import redis
from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, SessionBase, UpdateError
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponse

from ..patterns.sessions import SessionStore as Store

_stores: dict[tuple[tuple[str, Any], ...], Store] = {}
_USER_KEY = "_auth_user_id"


def get_store() -> Store:
    """The store ``VERMILION_SESSIONS`` describes (one per distinct setting)."""
    conf = dict(getattr(settings, "VERMILION_SESSIONS", {}))
    ident = tuple(sorted((k, repr(v)) for k, v in conf.items()))
    store = _stores.get(ident)
    if store is None:
        client = conf.pop("client", None) or redis.Redis.from_url(
            conf.pop("url", "redis://localhost:6379/0"))
        conf.pop("url", None)
        store = _stores[ident] = Store(client, conf.pop("namespace", "django"), **conf)
    return store


class SessionStore(SessionBase):
    _session_key: str | None

    def __init__(self, session_key: str | None = None):
        super().__init__(session_key)
        self._snapshot: dict[str, Any] = {}
        self._user: str | None = None

    @property
    def store(self) -> Store:
        return get_store()

    def load(self) -> dict[str, Any]:
        key = self.session_key
        loaded = self.store.load(key) if key else None
        if loaded is None:
            self._session_key = None
            self._snapshot, self._user = {}, None
            return {}
        data, self._user = loaded
        self._snapshot = {k: self.store.encode(v) for k, v in data.items()}
        return data

    def exists(self, session_key: str | None) -> bool:
        return session_key is not None and self.store.exists(session_key)

    def create(self) -> None:
        data = self._get_session(no_load=True) if hasattr(self, "_session_cache") else {}
        user = str(data[_USER_KEY]) if _USER_KEY in data else None
        self._session_key = self.store.create(data, user=user)
        self._snapshot = {k: self.store.encode(v) for k, v in data.items()}
        self._user = user
        self.modified = True

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            self.create()
            return
        if must_create:
            raise CreateError  # our ids are drawn by the store, never by the caller
        data = self._get_session(no_load=False)
        to_set = {k: v for k, v in data.items() if self._snapshot.get(k) != self.store.encode(v)}
        to_delete = [k for k in self._snapshot if k not in data]
        if (to_set or to_delete) and not self.store.update(self.session_key, set=to_set,
                                                           delete=to_delete):
            raise UpdateError  # deleted meanwhile (logged out everywhere): do not resurrect
        self._snapshot = {k: self.store.encode(v) for k, v in data.items()}
        user = str(data[_USER_KEY]) if _USER_KEY in data else None
        if user and user != self._user:
            self.store.bind(self.session_key, user)
            self._user = user

    def delete(self, session_key: str | None = None) -> None:
        key = session_key or self.session_key
        if key:
            self.store.destroy(key)

    def cycle_key(self) -> None:
        """A new id for the same session, in one atomic rename (at login)."""
        key = self.session_key
        new = self.store.regenerate(key) if key else None
        if new is None:
            super().cycle_key()
            return
        data = self._session
        self._session_key = new
        self._session_cache = data

    def logout_everywhere(self) -> int:
        """End every session of the logged-in user (this one too); how many ended."""
        user = self._user or (str(self.get(_USER_KEY)) if self.get(_USER_KEY) else None)
        n = self.store.destroy_user(user) if user else 0
        self.flush()
        return n

    @classmethod
    def clear_expired(cls) -> None:
        """Nothing to do: sessions expire on the server by themselves."""


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's session middleware, plus a Secure cookie for every HTTPS request
    (Django's own sets Secure only from ``SESSION_COOKIE_SECURE``)."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        response = super().process_response(request, response)
        name = settings.SESSION_COOKIE_NAME
        if request.is_secure() and name in response.cookies:
            response.cookies[name]["secure"] = True
        return response
