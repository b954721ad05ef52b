"""Server-side sessions: one hash per session, read and written field by field.

* IDs are 256 random bits from ``secrets`` (URL-safe text): unguessable.
* Lifetimes: ``idle`` (sliding: every read or write pushes expiry to now+idle)
  capped by ``absolute`` (counted from creation, never extended), both enforced
  by the server's TTL, so an abandoned session disappears on its own.
* Writes go to fields (``HSET``), never read-modify-write a whole blob, so two
  requests of one session updating different fields do not undo each other.
* No operation creates a missing session: after ``destroy``, expiry or
  ``destroy_user``, reads return None and writes return False. Nothing brings
  it back.
* ``regenerate`` moves a session to a fresh id atomically (call it at login,
  against session fixation); ``destroy_user`` ("log out everywhere") deletes
  every session of a user, retrying if one is created or renamed meanwhile.

All keys of one store share the hash tag ``{<namespace>}`` (one Redis Cluster
slot), because regeneration and log-out-everywhere touch several keys at once.
"""

from __future__ import annotations

import secrets

from . import _scripts as S
from ._ops import SyncFace, call, op
from ._util import ms, tagged, to_str

_RETRY = 16  # optimistic retries of multi-key steps when the user's index moved


class SessionStoreCore:
    __doc__ = __doc__

    def __init__(self, client, namespace: str = "session", *, idle: float = 1800.0,
                 absolute: float = 86400.0):
        self.client = client
        self.base = tagged("", namespace)
        self.idle_ms = 0 if not idle else ms(idle)  # 0: no sliding expiry
        self.absolute_ms = ms(absolute)

    def key(self, sid: str) -> str:
        return f"{self.base}:s:{sid}"

    def user_key(self, user: str) -> str:
        return f"{self.base}:u:{user}"

    @staticmethod
    def _check_fields(names):
        for n in names:
            if str(n).startswith(":"):
                raise ValueError(f"field names starting with ':' are reserved: {n!r}")

    def _user_of(self, sid: str):
        return to_str((yield call("hget", self.key(sid), ":user"))) or ""

    @op
    def create(self, data: dict | None = None, *, user: str | None = None) -> str:
        """Create a session with ``data``, optionally bound to ``user``; returns its id."""
        data = data or {}
        self._check_fields(data)
        flat = [x for kv in data.items() for x in kv]
        while True:
            sid = secrets.token_urlsafe(32)
            keys = [self.key(sid)] + ([self.user_key(user)] if user else [])
            args = [self.idle_ms, self.absolute_ms, user or "", sid, *flat]
            if (yield S.SESSION_CREATE(keys, args)):
                return sid

    @op
    def get(self, sid: str, field: str):
        """One field's value (None if the field or the session does not exist)."""
        reply = yield S.SESSION_GET([self.key(sid)], [self.idle_ms, field])
        return None if reply is None else reply[0]

    @op
    def get_many(self, sid: str, *fields: str) -> dict | None:
        """Several fields at once (missing ones are None); None if no session."""
        reply = yield S.SESSION_GET([self.key(sid)], [self.idle_ms, *fields])
        return None if reply is None else dict(zip(fields, reply))

    @op
    def get_all(self, sid: str) -> dict | None:
        """All of the session's data (our ':' fields left out); None if no session."""
        reply = yield S.SESSION_GET([self.key(sid)], [self.idle_ms])
        if reply is None:
            return None
        pairs = zip(reply[::2], reply[1::2])
        return {to_str(k): v for k, v in pairs if not to_str(k).startswith(":")}

    @op
    def set(self, sid: str, data: dict) -> bool:
        """Write fields; False (and nothing written) if the session does not exist."""
        self._check_fields(data)
        flat = [x for kv in data.items() for x in kv]
        if not flat:
            raise ValueError("nothing to set")
        return bool((yield S.SESSION_UPDATE([self.key(sid)], [self.idle_ms, "set", *flat])))

    @op
    def delete(self, sid: str, *fields: str) -> int | None:
        """Remove fields; how many existed, or None if no session."""
        self._check_fields(fields)
        return (yield S.SESSION_UPDATE([self.key(sid)], [self.idle_ms, "del", *fields]))

    @op
    def incr(self, sid: str, field: str, amount: int = 1) -> int | None:
        """Add to an integer field; its new value, or None if no session."""
        self._check_fields([field])
        return (yield S.SESSION_UPDATE([self.key(sid)], [self.idle_ms, "incr", field, int(amount)]))

    @op
    def touch(self, sid: str) -> bool:
        """Mark activity (slides the idle expiry); False if no session."""
        return bool((yield S.SESSION_UPDATE([self.key(sid)], [self.idle_ms, "touch"])))

    @op
    def exists(self, sid: str) -> bool:
        return bool((yield call("exists", self.key(sid))))

    @op
    def ttl(self, sid: str) -> float | None:
        """Seconds until the session expires if left alone; None if it does not exist."""
        left = yield call("pttl", self.key(sid))
        return None if left < 0 else left / 1000

    @op
    def user(self, sid: str) -> str | None:
        """The user the session is bound to, if any."""
        return (yield from self._user_of(sid)) or None

    @op
    def regenerate(self, sid: str, *, user: str | None = None) -> str | None:
        """Move the session to a new id (same data and expiry); optionally bind ``user``.

        Returns the new id, or None if the session no longer exists. A session
        already bound to a different user cannot be rebound: destroy it instead.
        """
        for _ in range(_RETRY):
            seen = yield from self._user_of(sid)
            if user and seen and seen != user:
                raise ValueError("session is bound to another user; destroy it instead")
            new = secrets.token_urlsafe(32)
            bound = user or seen
            keys = [self.key(sid), self.key(new)] + ([self.user_key(bound)] if bound else [])
            r = yield S.SESSION_REGENERATE(keys, [sid, new, seen, user or "", self.idle_ms])
            if r == 1:
                return new
            if r == 0:
                return None
        raise RuntimeError("session kept changing during regenerate")

    @op
    def destroy(self, sid: str) -> bool:
        """Delete the session; True if it existed."""
        for _ in range(_RETRY):
            seen = yield from self._user_of(sid)
            keys = [self.key(sid)] + ([self.user_key(seen)] if seen else [])
            r = yield S.SESSION_DESTROY(keys, [sid, seen])
            if r != -2:
                return r == 1
        raise RuntimeError("session kept changing during destroy")

    @op
    def sessions_of(self, user: str) -> list[str]:
        """Ids of the user's live sessions."""
        ids = [to_str(x) for x in (yield call("zrange", self.user_key(user), 0, -1))]
        if not ids:
            return []
        alive = yield [call("exists", self.key(i)) for i in ids]
        return [i for i, a in zip(ids, alive) if a]

    @op
    def destroy_user(self, user: str) -> int:
        """Log ``user`` out everywhere; returns how many live sessions were deleted."""
        for _ in range(_RETRY):
            ids = [to_str(x) for x in (yield call("zrange", self.user_key(user), 0, -1))]
            keys = [self.user_key(user)] + [self.key(i) for i in ids]
            r = yield S.SESSION_DESTROY_ALL(keys, ids)
            if r >= 0:
                return r
        raise RuntimeError("sessions kept changing during destroy_user")


class SessionStore(SessionStoreCore, SyncFace):
    __doc__ = SessionStoreCore.__doc__
