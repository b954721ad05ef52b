"""MIGRATE: move (or copy) keys to another server with DUMP payloads and RESTORE.

As in Redis 7.0 (cluster.c, migrateCommand), MIGRATE is synchronous: the
server does nothing else while it connects, sends and reads the replies, each
of those steps bounded by the command's timeout (milliseconds). That is what
makes it atomic: no other client can change or read a key between its
serialization and its deletion here, and it works unchanged inside MULTI,
Lua scripts and functions. A plain blocking socket is used for it; the event
loop is stalled for at most the timeout per step, exactly as redis-server's.

Connections are cached per "host:port" (at most 64; a random one is dropped
for a new one) with the database last selected on them, so a second MIGRATE
to the same target skips SELECT. The cron closes connections unused for more
than 10 seconds; INFO shows their number as `migrate_cached_sockets`.
"""
from __future__ import annotations

import errno
import random
import select
import socket
import time

from ..engine.engine import extension
from ..engine.errors import SYNTAX, CommandError
from ..engine.replies import OK, Status
from ..engine.table import _atoi, command
from ..persistence.aof import encode_command
from ..persistence.rdb import dump_payload
from ._args import parse_int

CACHE_ITEMS = 64
CACHE_TTL = 10          # seconds without use before the cron closes a connection
_CHUNK = 64 * 1024      # bytes written per timed send
_LINE_MAX = 1024        # a reply line longer than this is cut, as in Redis

NOKEY = Status(b"NOKEY")
KEYS_NEED_EMPTY_KEY = ("ERR When using MIGRATE KEYS option, the key argument must be set to "
                       "the empty string")


class _Timeout(Exception):
    """An I/O step exceeded the timeout (Redis: errno ETIMEDOUT, never retried)."""


class _Broken(Exception):
    """The connection failed or was closed (retried once on a new connection)."""


class CachedSocket:
    __slots__ = ("sock", "last_dbid", "last_use", "buf", "broken")

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.broken = False      # an I/O step failed: closed after this MIGRATE
        self.last_dbid = -1
        self.last_use = time.time()
        self.buf = b""

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def write(self, data: bytes, timeout: float) -> None:
        sock = self.sock
        view = memoryview(data)
        try:
            for pos in range(0, len(data), _CHUNK):
                # One timed send per chunk, like syncWrite: the timeout bounds each
                # 64 KB, not the whole payload.
                sock.settimeout(timeout)
                sock.sendall(view[pos:pos + _CHUNK])
        except socket.timeout:
            raise _Timeout() from None
        except OSError:
            raise _Broken() from None

    def read_line(self, timeout: float) -> bytes:
        """One reply line without its CRLF (syncReadLine), cut to _LINE_MAX bytes."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Timeout()
            try:
                self.sock.settimeout(left)
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise _Timeout() from None
            except OSError:
                raise _Broken() from None
            if not chunk:
                raise _Broken()
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            raise _Broken()       # an empty line is a read failure for syncReadLine's callers
        return line[:_LINE_MAX - 1]


class MigrateSockets:
    """The connection cache of one engine."""

    def __init__(self):
        self.cached: dict[bytes, CachedSocket] = {}

    def get(self, host: bytes, port: bytes, timeout: float,
            tls_values: dict | None = None) -> CachedSocket | None:
        """The cached connection to host:port, or a new one (over TLS with the client
        context of `tls_values` when given); None when it cannot be made."""
        name = host + b":" + port
        cs = self.cached.get(name)
        if cs is not None:
            cs.last_use = time.time()
            return cs
        if len(self.cached) >= CACHE_ITEMS:
            victim = random.choice(list(self.cached))
            self.cached.pop(victim).close()
        sock = _connect(host, port, timeout)
        if sock is None:
            return None
        if tls_values is not None:
            # connTLSBlockingConnect: the handshake, bounded by the timeout, is part of
            # connecting; a failed one (or a context that cannot be built) is a failed
            # connection.
            from ..server.tls import TLSConfigError, build_client_context
            try:
                sock.getpeername()      # connected: else ssl would leave it plaintext
                sock.settimeout(timeout)
                sock = build_client_context(tls_values).wrap_socket(sock)
            except (OSError, ValueError, TLSConfigError):
                sock.close()
                return None
        cs = self.cached[name] = CachedSocket(sock)
        return cs

    def close(self, host: bytes, port: bytes) -> None:
        cs = self.cached.pop(host + b":" + port, None)
        if cs is not None:
            cs.close()

    def close_idle(self, _now_ms: int) -> None:
        if self.cached:
            now = time.time()
            for name, cs in list(self.cached.items()):
                if now - cs.last_use > CACHE_TTL:
                    del self.cached[name]
                    cs.close()

    def close_all(self) -> None:
        for cs in self.cached.values():
            cs.close()
        self.cached.clear()


def _connect(host: bytes, port: bytes, timeout: float) -> socket.socket | None:
    """connBlockingConnect: None only when no connection could even be started (a
    name that does not resolve ...). A connection refused or still pending after the
    timeout is returned, as Redis does, and fails at the first write."""
    try:
        # Redis hands the host to getaddrinfo as a C string: it ends at a NUL byte.
        infos = socket.getaddrinfo(host.split(b"\0", 1)[0].decode("latin-1"), _atoi(port) & 0xFFFF,
                                   type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        return None
    for family, kind, proto, _, address in infos:
        try:
            sock = socket.socket(family, kind, proto)
        except OSError:
            continue
        sock.setblocking(False)
        err = sock.connect_ex(address)
        if err in (0, errno.EINPROGRESS):
            poller = select.poll()      # not select(): descriptors may exceed FD_SETSIZE
            poller.register(sock, select.POLLOUT)
            poller.poll(timeout * 1000)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
            return sock
        sock.close()
    return None


@extension
def _setup(engine) -> None:
    engine.migrate_sockets = MigrateSockets()
    engine.add_cron_task(engine.migrate_sockets.close_idle)


def _migrate_keys(args: list) -> list[int]:
    # migrateGetKeys: argv[3], or every argument after KEYS when argv[3] is empty. AUTH's
    # password and AUTH2's user and password are skipped: a password may read "KEYS".
    if len(args) > 6 and not args[3]:
        i = 6
        while i < len(args):
            option = args[i].lower()
            if option == b"keys":
                return list(range(i + 1, len(args)))
            i += 2 if option == b"auth" else 3 if option == b"auth2" else 1
    return [3]


@command("migrate", arity=-6, flags="write", keys=(3, 3, 1), getkeys=_migrate_keys,
         acl="keyspace dangerous", group="generic", since="2.6.0",
         tips=("nondeterministic_output",),
         summary="Atomically transfers a key from one Redis instance to another.",
         complexity="This command actually executes a DUMP+DEL in the source instance, and a RESTORE in the target instance. See the pages of these commands for time complexity. Also an O(N) data transfer between the two instances is performed.",
         args="host port:i key_or_empty_string(key:k0|''=empty_string:-) destination-db:i timeout:i "
              "[COPY@3.0.0] [REPLACE@3.0.0] [authentication([AUTH=password@4.0.7]|"
              "[AUTH2=username_password(username password)@6.0.0])] [KEYS=key:k1...@3.0.6]")
def migrate(client, args):
    copy = replace = False
    username = password = None
    first_key, num_keys = 3, 1
    n = len(args)
    j = 6
    while j < n:
        opt = args[j].lower()
        more = n - 1 - j
        if opt == b"copy":
            copy = True
        elif opt == b"replace":
            replace = True
        elif opt == b"auth":
            if not more:
                raise CommandError(SYNTAX)
            j += 1
            password = args[j]
        elif opt == b"auth2":
            if more < 2:
                raise CommandError(SYNTAX)
            username, password = args[j + 1], args[j + 2]
            j += 2
        elif opt == b"keys":
            if args[3]:
                raise CommandError(KEYS_NEED_EMPTY_KEY)
            first_key, num_keys = j + 1, n - j - 1
            break
        else:
            raise CommandError(SYNTAX)
        j += 1
    timeout_ms = parse_int(args[5])
    dbid = parse_int(args[4])
    if timeout_ms <= 0:
        timeout_ms = 1000
    # poll() and socket timeouts take at most a C int of milliseconds (24 days).
    timeout = min(timeout_ms, 2**31 - 1) / 1000

    db = client.db
    found = [key for key in args[first_key:first_key + num_keys] if db.get(key) is not None]
    if not found:
        return NOKEY
    engine = client.engine
    sockets: MigrateSockets = engine.migrate_sockets
    host, port = args[1], args[2]
    # tls-cluster: Redis 7.0's MIGRATE connects with TLS, cluster mode or not.
    tls_values = engine.config.values if engine.config["tls-cluster"] else None
    may_retry = True
    while True:
        cs = sockets.get(host, port, timeout, tls_values)
        if cs is None:
            raise CommandError("IOERR error or timeout connecting to the client")
        outcome = _transfer(client, cs, found, dbid, timeout, copy, replace, username, password,
                            may_retry)
        if cs.broken:
            sockets.close(host, port)
        if outcome == "retry":
            may_retry = False
            continue
        if outcome is not None:
            raise outcome
        return OK


def _transfer(client, cs: CachedSocket, keys: list, dbid: int, timeout: float, copy: bool,
              replace: bool, username, password, may_retry: bool):
    """One attempt: None on success, "retry", or the CommandError to reply."""
    engine = client.engine
    db = client.db
    out = []
    if password is not None:
        out.append(encode_command([b"AUTH", password] if username is None
                                  else [b"AUTH", username, password]))
    select = cs.last_dbid != dbid
    if select:
        out.append(encode_command([b"SELECT", b"%d" % dbid]))
    sent = []
    now = engine.clock.ms()
    config = engine.config.values
    for key in keys:
        ttl = 0
        expireat = db.ttl_ms(key)
        if expireat is not None:
            ttl = expireat - now
            if ttl < 0:
                continue
            ttl = max(ttl, 1)
        value = db.peek(key)
        if value is None:
            continue
        restore = [b"RESTORE", key, b"%d" % ttl, dump_payload(value, config)]
        if replace:
            restore.append(b"REPLACE")
        out.append(encode_command(restore))
        sent.append(key)

    try:
        cs.write(b"".join(out), timeout)
    except (_Timeout, _Broken) as err:
        cs.broken = True
        if err.__class__ is _Broken and may_retry:
            return "retry"
        return CommandError("IOERR error or timeout writing to target instance")
    try:
        auth_reply = cs.read_line(timeout) if password is not None else b"+"
        select_reply = cs.read_line(timeout) if select else b"+"
    except (_Timeout, _Broken) as err:
        cs.broken = True
        if err.__class__ is _Broken and may_retry:
            return "retry"
        return CommandError("IOERR error or timeout reading to target instance")

    error = None
    socket_error = None
    deleted = []
    answered = 0
    for key in sent:
        try:
            reply = cs.read_line(timeout)
        except (_Timeout, _Broken) as err:
            socket_error = err
            cs.broken = True
            break
        answered += 1
        if auth_reply[:1] == b"-" or select_reply[:1] == b"-" or reply[:1] == b"-":
            if error is None:
                # After an error the target's selected database is unknown.
                cs.last_dbid = -1
                bad = auth_reply if auth_reply[:1] == b"-" else \
                    select_reply if select_reply[:1] == b"-" else reply
                error = CommandError("ERR Target instance replied with error: "
                                     + bad[1:].decode("utf-8", "surrogateescape"))
        elif not copy:
            db.delete(key)
            engine.notify(db, "g", b"del", key)
            engine.dirty += 1
            deleted.append(key)
    if error is None and socket_error is not None and not answered and may_retry and \
            socket_error.__class__ is _Broken:
        # Nothing reached the target yet: the cached connection was probably closed by it.
        return "retry"
    if deleted:
        # Replicas and the AOF see the keys the target acknowledged as deleted.
        engine.rewrite([b"DEL", *deleted])
    if error is not None:
        return error
    if socket_error is not None:
        return CommandError("IOERR error or timeout reading to target instance")
    cs.last_dbid = dbid
    return None
