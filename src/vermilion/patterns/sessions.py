"""Server-side sessions: one hash per session, read and written field by field.

* IDs are 256 random bits from ``secrets`` (URL-safe text): unguessable.
* Lifetimes: ``idle`` (sliding: every read or write pushes expiry to now+idle)
  capped by ``absolute`` (counted from creation, never extended), both enforced
  by the server's TTL, so an abandoned session disappears on its own.
* Writes go to fields (``HSET``), never read-modify-write a whole blob, so two
  requests of one session updating different fields do not undo each other.
  Each value goes through the store's serializer (JSON by default; msgpack or
  your own), except integers, which are kept as decimal text so ``incr``
  (``HINCRBY``) works on them under any serializer.
* No operation creates a missing session: after ``destroy``, expiry or
  ``destroy_user``, reads return None and writes return False. Nothing brings
  it back.
* ``regenerate`` moves a session to a fresh id atomically (call it at login,
  against session fixation).
* ``destroy_user`` ("log out everywhere") is one script: it deletes every
  session of the user and bumps the user's *generation*. Any login the server
  ran before it is deleted by it; a login it runs afterwards is a new session,
  unless the login passes the ``generation`` it read before authenticating
  (``store.generation(user)``), which is then stale and the login is refused
  with ``LoginRevoked``. That is how a password change or an account lock wins
  against a login that was already in flight.

All keys of one store share the hash tag ``{<namespace>}`` (one Redis Cluster
slot), because regeneration and log-out-everywhere touch several keys at once.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any, Iterable, Mapping, Protocol

from . import _scripts as S
from ._ops import Steps, SyncFace, call, op
from ._util import ms, tagged, to_str
from .errors import PatternError

_INT = re.compile(rb"-?[0-9]+")


class LoginRevoked(PatternError):
    """A login carried a generation older than the user's: they were logged out
    everywhere after it was read. Authenticate again."""


class Serializer(Protocol):
    """How session values become bytes and back (``dumps``/``loads``)."""

    def dumps(self, value: Any) -> bytes | str: ...

    def loads(self, data: bytes) -> Any: ...


class JSONSerializer:
    """The default: JSON text (str, numbers, bools, None, lists, dicts)."""

    def dumps(self, value: Any) -> str:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def loads(self, data: bytes) -> Any:
        return json.loads(data)


class MsgpackSerializer:
    """msgpack (``pip install vermilion[msgpack]``); needs a client with
    ``decode_responses=False``, since msgpack data is not text."""

    def __init__(self) -> None:
        import msgpack
        self._msgpack = msgpack

    def dumps(self, value: Any) -> bytes:
        out: bytes = self._msgpack.packb(value, use_bin_type=True)
        return out

    def loads(self, data: bytes) -> Any:
        return self._msgpack.unpackb(data, raw=False)


class StringSerializer:
    """Values stored as plain text, as stores without a serializer kept them."""

    def dumps(self, value: Any) -> str:
        return str(value)

    def loads(self, data: bytes) -> Any:
        return data.decode()


SERIALIZERS: dict[str, type] = {"json": JSONSerializer, "msgpack": MsgpackSerializer,
                                "string": StringSerializer}


class SessionStoreCore:
    __doc__ = __doc__

    def __init__(self, client: Any, namespace: str = "session", *, idle: float = 1800.0,
                 absolute: float = 86400.0, serializer: str | Serializer = "json"):
        self.client = client
        self.base = tagged("", namespace)
        self.idle_ms = 0 if not idle else ms(idle)  # 0: no sliding expiry
        self.absolute_ms = ms(absolute)
        if isinstance(serializer, str):
            if serializer not in SERIALIZERS:
                raise ValueError(f"serializer must be one of {sorted(SERIALIZERS)} or an object "
                                 "with dumps() and loads()")
            self.serializer: Serializer = SERIALIZERS[serializer]()
        else:
            self.serializer = serializer

    def key(self, sid: str) -> str:
        return f"{self.base}:s:{sid}"

    def user_key(self, user: str) -> str:
        return f"{self.base}:u:{user}"

    def generation_key(self, user: str) -> str:
        return f"{self.base}:g:{user}"

    # -- values ----------------------------------------------------------------------

    def encode(self, value: Any) -> bytes | str:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # decimal text: what HINCRBY reads and writes
        return self.serializer.dumps(value)

    def decode(self, raw: Any) -> Any:
        if raw is None:
            return None
        data = raw.encode() if isinstance(raw, str) else bytes(raw)
        if _INT.fullmatch(data):
            return int(data)
        return self.serializer.loads(data)

    def _flat(self, data: Mapping[str, Any]) -> list[Any]:
        self._check_fields(data)
        return [x for k, v in data.items() for x in (k, self.encode(v))]

    @staticmethod
    def _check_fields(names: Iterable[str]) -> None:
        for n in names:
            if str(n).startswith(":"):
                raise ValueError(f"field names starting with ':' are reserved: {n!r}")

    @staticmethod
    def _generation_arg(generation: int | None) -> str:
        return "" if generation is None else str(int(generation))

    # -- operations ----------------------------------------------------------------------

    @op
    def create(self, data: Mapping[str, Any] | None = None, *, user: str | None = None,
               generation: int | None = None) -> Steps[str]:
        """Create a session with ``data``, optionally bound to ``user``; returns its id.

        ``generation``: the user's generation read before authenticating; the
        login is refused (``LoginRevoked``) if the user was logged out
        everywhere since."""
        flat = self._flat(data or {})
        while True:
            sid = secrets.token_urlsafe(32)
            keys = [self.key(sid)]
            if user:
                keys += [self.user_key(user), self.generation_key(user)]
            args = [self.idle_ms, self.absolute_ms, user or "", sid,
                    self._generation_arg(generation), *flat]
            r = yield S.SESSION_CREATE(keys, args)
            if r == -3:
                raise LoginRevoked(f"user {user!r} was logged out everywhere during this login")
            if r:
                return sid

    @op
    def get(self, sid: str, field: str) -> Steps[Any]:
        """One field's value (None if the field or the session does not exist)."""
        reply = yield S.SESSION_GET([self.key(sid)], [self.idle_ms, field])
        return None if reply is None else self.decode(reply[0])

    @op
    def get_many(self, sid: str, *fields: str) -> Steps[dict[str, Any] | None]:
        """Several fields at once (missing ones are None); None if no session."""
        reply = yield S.SESSION_GET([self.key(sid)], [self.idle_ms, *fields])
        return None if reply is None else {f: self.decode(v) for f, v in zip(fields, reply)}

    @op
    def get_all(self, sid: str) -> Steps[dict[str, Any] | None]:
        """All of the session's data (our ':' fields left out); None if no session."""
        reply = yield S.SESSION_GET([self.key(sid)], [self.idle_ms])
        if reply is None:
            return None
        out = {}
        for k, v in zip(reply[::2], reply[1::2]):
            name = to_str(k) or ""
            if not name.startswith(":"):
                out[name] = self.decode(v)
        return out

    @op
    def load(self, sid: str) -> Steps[tuple[dict[str, Any], str | None] | None]:
        """``(data, user)`` in one read (what a web request starts with); None if
        no session. Counts as activity, like every read."""
        reply = yield S.SESSION_GET([self.key(sid)], [self.idle_ms])
        if reply is None:
            return None
        data, user = {}, None
        for k, v in zip(reply[::2], reply[1::2]):
            name = to_str(k) or ""
            if name == ":user":
                user = to_str(v) or None
            elif not name.startswith(":"):
                data[name] = self.decode(v)
        return data, user

    @op
    def set(self, sid: str, data: Mapping[str, Any]) -> Steps[bool]:
        """Write fields; False (and nothing written) if the session does not exist."""
        flat = self._flat(data)
        if not flat:
            raise ValueError("nothing to set")
        return bool((yield S.SESSION_UPDATE([self.key(sid)], [self.idle_ms, "set", *flat])))

    @op
    def update(self, sid: str, set: Mapping[str, Any] | None = None,
               delete: Iterable[str] = ()) -> Steps[bool]:
        """Write some fields and remove others in one atomic step (what a web
        request changed); False (and nothing written) if the session does not exist."""
        flat = self._flat(set or {})
        gone = [d for d in delete if d not in (set or {})]
        self._check_fields(gone)
        args = [self.idle_ms, "update", len(gone), *gone, *flat]
        return bool((yield S.SESSION_UPDATE([self.key(sid)], args)))

    @op
    def delete(self, sid: str, *fields: str) -> Steps[int | None]:
        """Remove fields; how many existed, or None if no session."""
        self._check_fields(fields)
        r = yield S.SESSION_UPDATE([self.key(sid)], [self.idle_ms, "del", *fields])
        return None if r is None else int(r)

    @op
    def incr(self, sid: str, field: str, amount: int = 1) -> Steps[int | None]:
        """Add to an integer field; its new value, or None if no session."""
        self._check_fields([field])
        r = yield S.SESSION_UPDATE([self.key(sid)], [self.idle_ms, "incr", field, int(amount)])
        return None if r is None else int(r)

    @op
    def touch(self, sid: str) -> Steps[bool]:
        """Mark activity (slides the idle expiry); False if no session."""
        return bool((yield S.SESSION_UPDATE([self.key(sid)], [self.idle_ms, "touch"])))

    @op
    def exists(self, sid: str) -> Steps[bool]:
        return bool((yield call("exists", self.key(sid))))

    @op
    def ttl(self, sid: str) -> Steps[float | None]:
        """Seconds until the session expires if left alone; None if it does not exist."""
        left = yield call("pttl", self.key(sid))
        return None if left < 0 else float(left) / 1000

    @op
    def user(self, sid: str) -> Steps[str | None]:
        """The user the session is bound to, if any."""
        return to_str((yield call("hget", self.key(sid), ":user"))) or None

    @op
    def generation(self, user: str) -> Steps[int]:
        """The user's generation: read it before checking credentials and pass it
        to ``create``/``regenerate``, so a log-out-everywhere in between wins."""
        return int((yield call("get", self.generation_key(user))) or 0)

    @op
    def regenerate(self, sid: str, *, user: str | None = None,
                   generation: int | None = None) -> Steps[str | None]:
        """Move the session to a new id (same data and expiry); optionally bind ``user``.

        Returns the new id, or None if the session no longer exists. A session
        already bound to a different user cannot be rebound: destroy it instead.
        ``generation`` as for ``create``.
        """
        while True:
            new = secrets.token_urlsafe(32)
            r = yield from self._move(sid, new, user, generation)
            if r != -1:
                return new if r == 1 else None

    @op
    def bind(self, sid: str, user: str, *, generation: int | None = None) -> Steps[bool]:
        """Bind the session to ``user`` keeping its id (when the id was just
        regenerated by other means); False if the session does not exist."""
        return (yield from self._move(sid, sid, user, generation)) == 1

    def _move(self, sid: str, new: str, user: str | None, generation: int | None) -> Steps[int]:
        args = [self.base, sid, new, user or "", self.idle_ms, self._generation_arg(generation)]
        r = int((yield S.SESSION_REGENERATE([self.key(sid), self.key(new)], args)))
        if r == -2:
            raise ValueError("session is bound to another user; destroy it instead")
        if r == -3:
            raise LoginRevoked(f"user {user!r} was logged out everywhere during this login")
        return r

    @op
    def destroy(self, sid: str) -> Steps[bool]:
        """Delete the session; True if it existed."""
        return bool((yield S.SESSION_DESTROY([self.key(sid)], [self.base, sid])))

    @op
    def sessions_of(self, user: str) -> Steps[list[str]]:
        """Ids of the user's live sessions."""
        ids = [to_str(x) or "" for x in (yield call("zrange", self.user_key(user), 0, -1))]
        if not ids:
            return []
        alive = yield [call("exists", self.key(i)) for i in ids]
        return [i for i, a in zip(ids, alive) if a]

    @op
    def destroy_user(self, user: str) -> Steps[int]:
        """Log ``user`` out everywhere, atomically; returns how many live sessions
        were deleted. See the module doc for what it guarantees against logins."""
        keys = [self.user_key(user), self.generation_key(user)]
        # The generation outlives every session a stale login could create.
        keep = max(self.absolute_ms, 86_400_000)
        return int((yield S.SESSION_DESTROY_ALL(keys, [self.base, keep])))


class SessionStore(SessionStoreCore, SyncFace):
    __doc__ = SessionStoreCore.__doc__  # type: ignore[assignment]
