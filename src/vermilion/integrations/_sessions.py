"""What the framework session backends share: the request's session object and
how its changes are written back, once, whatever the framework.

A request loads its session in one read (which also slides the idle expiry).
At the end of the request only what changed is written, as one atomic
``update`` (fields set and fields removed together), so two concurrent
requests of one session that change different keys do not undo each other.
A session that disappeared meanwhile (expired, logged out everywhere) is not
written back: the response deletes the cookie instead.
"""

from __future__ import annotations

from typing import Any, TypeVar

from ..patterns.sessions import SessionStoreCore

#: Cookie defaults: not readable from scripts, not sent on cross-site
#: subrequests, and Secure whenever the request came over HTTPS.
COOKIE_DEFAULTS: dict[str, Any] = {"httponly": True, "samesite": "Lax", "secure": None}


class ServerSession(dict[str, Any]):
    """A dict of the session's data, plus what to do with the session itself.

    ``login(user)`` regenerates the id (against session fixation) and binds the
    user, ``regenerate()`` only changes the id, ``logout()`` destroys this
    session and ``logout_everywhere()`` every session of its user. All take
    effect when the response is sent.
    """

    def __init__(self, store: SessionStoreCore, sid: str | None = None,
                 data: dict[str, Any] | None = None, user: str | None = None):
        super().__init__(data or {})
        self.store, self.sid, self.user = store, sid, user
        self.new = sid is None
        self._snapshot = {k: store.encode(v) for k, v in self.items()}
        self._login: str | None = None
        self._generation: int | None = None
        self._regenerate = self._destroy = self._destroy_all = False

    def login(self, user: str, *, generation: int | None = None) -> None:
        self._login, self._generation = str(user), generation

    def regenerate(self) -> None:
        self._regenerate = True

    def logout(self) -> None:
        self.clear()
        self._destroy = True

    def logout_everywhere(self) -> None:
        self.clear()
        self._destroy = self._destroy_all = True

    def changes(self) -> tuple[dict[str, Any], list[str]]:
        """(fields to set, fields to delete) since the session was loaded."""
        changed = {k: v for k, v in self.items() if self._snapshot.get(k) != self.store.encode(v)}
        return changed, [k for k in self._snapshot if k not in self]

    @property
    def changed(self) -> bool:
        s, d = self.changes()
        return bool(s or d or self._login or self._regenerate or self._destroy)


S = TypeVar("S", bound=ServerSession)


def open_sync(store: Any, sid: str | None, cls: type[S]) -> S:
    loaded = store.load(sid) if sid else None
    return cls(store) if loaded is None else cls(store, sid, *loaded)


async def open_async(store: Any, sid: str | None, cls: type[S]) -> S:
    loaded = await store.load(sid) if sid else None
    return cls(store) if loaded is None else cls(store, sid, *loaded)


# The save is written once for both faces as a generator of store calls, each
# yielded as (method name, args, kwargs); the drivers below make the calls.

def _save_steps(s: ServerSession) -> Any:
    """Yields store calls; returns the id the cookie must carry (None: delete it)."""
    if s._destroy:
        if s._destroy_all and s.user:
            yield "destroy_user", (s.user,), {}
        if s.sid:
            yield "destroy", (s.sid,), {}
        return None
    to_set, to_delete = s.changes()
    sid = s.sid
    if sid is not None and (s._login or s._regenerate):
        sid = yield "regenerate", (sid,), {"user": s._login, "generation": s._generation}
        if sid is None and not s._login:
            return None  # gone meanwhile: nothing to regenerate
    if sid is None:
        if not s and not s._login:
            return None  # an empty anonymous session is not worth storing
        return (yield "create", (dict(s),), {"user": s._login, "generation": s._generation})
    if to_set or to_delete:
        if not (yield "update", (sid,), {"set": to_set, "delete": to_delete}):
            return None  # expired or logged out meanwhile: do not bring it back
    return sid


def save_sync(store: Any, s: ServerSession) -> str | None:
    gen = _save_steps(s)
    try:
        name, args, kwargs = next(gen)
        while True:
            name, args, kwargs = gen.send(getattr(store, name)(*args, **kwargs))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def save_async(store: Any, s: ServerSession) -> str | None:
    gen = _save_steps(s)
    try:
        name, args, kwargs = next(gen)
        while True:
            name, args, kwargs = gen.send(await getattr(store, name)(*args, **kwargs))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
