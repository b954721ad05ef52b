"""Connection commands: PING, ECHO, SELECT, QUIT, RESET, HELLO, AUTH and CLIENT."""
from __future__ import annotations

from .. import REDIS_VERSION
from ..engine.errors import INVALID_DB, SYNTAX, WRONGPASS, CommandError
from ..engine.replies import NO_REPLY, OK, PONG, Status, Verbatim
from ..engine.table import command, container
from ._args import parse_int
from ._help import help_reply

# -- PING / ECHO / SELECT / QUIT -------------------------------------------------------------


@command("ping", arity=-1, flags="fast", acl="connection", group="connection",
         summary="Returns the server's liveliness response.",
         args="[message]",
         tips=("request_policy:all_shards", "response_policy:all_succeeded"))
def ping(client, args):
    if len(args) > 2:
        raise CommandError("ERR wrong number of arguments for 'ping' command")
    if client.gate & 4:  # RESP2 subscribed mode answers with a message-shaped array
        return [b"pong", args[1] if len(args) == 2 else b""]
    return args[1] if len(args) == 2 else PONG


@command("echo", arity=2, flags="fast loading stale", acl="connection", group="connection",
         summary="Returns the given string.",
         args="message")
def echo(client, args):
    return args[1]


@command("select", arity=2, flags="loading stale fast", acl="connection", group="connection",
         summary="Changes the selected database.",
         args="index:i")
def select(client, args):
    index = parse_int(args[1])
    dbs = client.engine.dbs
    if not 0 <= index < len(dbs):
        raise CommandError(INVALID_DB)
    client.db = dbs[index]
    return OK


@command("quit", arity=-1, flags="allow_busy noscript loading stale fast no_auth", acl="connection",
         group="connection", summary="Closes the connection.")
def quit_(client, args):
    client.send(OK)
    client.close()
    return NO_REPLY


# -- AUTH / HELLO / RESET ---------------------------------------------------------------------


@command("auth", arity=-2, flags="noscript loading stale fast no_auth allow_busy", acl="connection",
         group="connection", summary="Authenticates the connection.",
         args="[username@6.0.0] password")
def auth(client, args):
    if len(args) > 3:
        raise CommandError(SYNTAX)
    acl = client.engine.acl
    if len(args) == 2:
        if acl.default.nopass:
            raise CommandError("ERR AUTH <password> called without any password configured for "
                               "the default user. Are you sure your configuration is correct?")
        user, password = b"default", args[1]
    else:
        user, password = args[1], args[2]
    if not acl.authenticate(client, user, password, args):
        raise CommandError(WRONGPASS)
    return OK


@command("hello", arity=-1, flags="noscript loading stale fast no_auth allow_busy", acl="connection",
         group="connection", summary="Handshakes with the server.",
         args="[arguments(protover:i [AUTH=username_password(username password)] "
              "[SETNAME=clientname])]",
         since="6.0.0")
def hello(client, args):
    proto = None
    if len(args) >= 2:
        try:
            proto = parse_int(args[1])
        except CommandError:
            raise CommandError("ERR Protocol version is not an integer or out of range") from None
        if proto not in (2, 3):
            raise CommandError("NOPROTO unsupported protocol version")
    i = 2
    setname = None
    while i < len(args):
        opt = args[i].lower()
        if opt == b"auth" and i + 2 < len(args):
            if not client.engine.acl.authenticate(client, args[i + 1], args[i + 2], args):
                raise CommandError(WRONGPASS)
            i += 3
        elif opt == b"setname" and i + 1 < len(args):
            setname = args[i + 1]
            _validate_name(setname)
            i += 2
        else:
            raise CommandError("ERR Syntax error in HELLO option '%s'" % args[i].decode("utf-8", "replace"))
    if not client.authenticated and client.engine.requirepass is not None:
        raise CommandError("NOAUTH HELLO must be called with the client already authenticated, "
                           "otherwise the HELLO AUTH <user> <pass> option can be used to "
                           "authenticate the client and select the RESP protocol version at the same time")
    if setname is not None:
        client.name = setname or None
    if proto is not None:
        client.resp3 = proto == 3
    client.update_gate()
    return {
        b"server": b"redis",
        b"version": REDIS_VERSION.encode(),
        b"proto": 3 if client.resp3 else 2,
        b"id": client.id,
        b"mode": b"standalone",
        b"role": b"master",
        b"modules": [],
    }


@command("reset", arity=1, flags="noscript loading stale fast no_auth allow_busy", acl="connection",
         group="connection", summary="Resets the connection.",
         since="6.2.0")
def reset(client, args):
    engine = client.engine
    for hook in engine.disconnect_hooks:
        hook(client)          # drops MULTI, WATCH, subscriptions, blocked state
    client.db = engine.dbs[0]
    client.resp3 = False
    client.name = None
    client.reply_mode = 0
    client.no_evict = client.no_touch = False
    engine.remove_monitor(client)
    # Back to the default user, authenticated only if it needs no password (resetCommand).
    client.user = engine.acl.default
    client.authenticated = engine.requirepass is None
    engine.acl.update_client(client)
    return Status(b"RESET")


# -- CLIENT ------------------------------------------------------------------------------------

container("client", arity=-2, flags="sentinel", group="connection",
          summary="A container for client connection commands.",
          since="2.4.0")


@command("client|id", arity=2, flags="noscript loading stale", acl="connection",
         summary="Returns the unique client ID of the connection.",
         since="5.0.0")
def client_id(client, args):
    return client.id


def _validate_name(name: bytes) -> None:
    if any(c < 33 or c > 126 for c in name):
        raise CommandError("ERR Client names cannot contain spaces, newlines or special characters.")


@command("client|setname", arity=3, flags="noscript loading stale", acl="connection",
         summary="Sets the connection name.",
         args="connection-name",
         since="2.6.9")
def client_setname(client, args):
    _validate_name(args[2])
    client.name = args[2] or None
    return OK


@command("client|getname", arity=2, flags="noscript loading stale", acl="connection",
         summary="Returns the name of the connection.",
         since="2.6.9")
def client_getname(client, args):
    return client.name


@command("client|setinfo", arity=4, flags="noscript loading stale", acl="connection", since="7.2.0",
         summary="Sets information specific to the client or connection.")
def client_setinfo(client, args):
    # Added in Redis 7.2; redis-py and node-redis send it on connect, so we accept it.
    attr = args[2].lower()
    value = args[3]
    if any(c < 33 or c > 126 for c in value):
        raise CommandError("ERR %s cannot contain spaces, newlines or special characters."
                           % attr.decode("utf-8", "replace"))
    if attr == b"lib-name":
        client.lib_name = value or None
    elif attr == b"lib-ver":
        client.lib_ver = value or None
    else:
        raise CommandError("ERR Unrecognized option '%s'" % args[2].decode("utf-8", "replace"))
    return OK


def client_info_line(client, now_ms: int, current: list | None = None) -> bytes:
    """One CLIENT LIST / CLIENT INFO line. `current` is the request the client is
    running (its own CLIENT LIST/INFO): Redis still holds it in the query buffer and
    its arguments in argv, so qbuf and argv-mem count it."""
    flags = client_flags(client)
    multi = len(client.multi) if client.multi is not None else -1
    qbuf = client.query_buffer_bytes()
    argv_mem = 0
    if current:
        qbuf += len(b"*%d\r\n" % len(current)) + sum(len(b"$%d\r\n" % len(a)) + len(a) + 2
                                                      for a in current)
        argv_mem = sum(map(len, current))
    omem = client.output_bytes()
    cmd = client.last_command
    return (
        "id=%d addr=%s laddr=%s fd=%d name=%s age=%d idle=%d flags=%s db=%d sub=%d psub=%d "
        "ssub=%d multi=%d qbuf=%d qbuf-free=%d argv-mem=%d multi-mem=0 rbs=16384 rbp=0 obl=0 "
        "oll=0 omem=%d tot-mem=%d events=r cmd=%s user=%s redir=%d resp=%d"
        % (client.id, client.addr, client.laddr, client.fd,
           (client.name or b"").decode("utf-8", "replace"),
           (now_ms - client.created_ms) // 1000, (now_ms - client.last_interaction_ms) // 1000,
           flags, client.db.index, len(client.channels), len(client.patterns),
           len(client.shard_channels), multi, qbuf, 0, argv_mem, omem, omem + qbuf + 16384,
           cmd.decode() if isinstance(cmd, bytes) else cmd,
           client.user if client.user is not None else "(superuser)",
           client.tracking.redirect if client.tracking is not None else -1,
           3 if client.resp3 else 2)
    ).encode() + (b" lib-name=%s lib-ver=%s" % (client.lib_name or b"", client.lib_ver or b"")
                  if client.lib_name or client.lib_ver else b"")


def client_type(client) -> bytes:
    """Redis's getClientType: what CLIENT LIST/KILL TYPE and output limits call a client."""
    kind = client.kind
    if kind == "replica":
        return b"slave"
    if kind == "master":
        return b"master"
    return b"pubsub" if client.subscription_count else b"normal"


_TYPES = {b"normal": b"normal", b"pubsub": b"pubsub", b"master": b"master",
          b"replica": b"slave", b"slave": b"slave"}


def client_flags(client) -> str:
    flags = "S" if client.kind == "replica" else "M" if client.kind == "master" else ""
    if client in client.engine.monitors:
        flags += "O"
    if client.subscription_count:
        flags += "P"
    if client.multi is not None:
        flags += "x"
    if client.blocked is not None:
        flags += "b"
    tracking = client.tracking
    if tracking is not None:
        flags += "t" + ("R" if tracking.broken else "") + ("B" if tracking.bcast else "")
    if client.dirty_cas:
        flags += "d"
    if client.no_evict:
        flags += "e"
    if client.no_touch:
        flags += "T"
    if client.closing:
        flags += "A"
    return flags or "N"


@command("client|info", arity=2, flags="noscript loading stale", acl="connection",
         summary="Returns information about the connection.",
         since="6.2.0",
         tips=("nondeterministic_output",))
def client_info(client, args):
    return Verbatim(client_info_line(client, client.engine.clock.ms(), args) + b"\n")


@command("client|list", arity=-2, flags="admin noscript loading stale", acl="connection",
         summary="Lists open connections.",
         args="[TYPE=normal_master_replica_pubsub(NORMAL|MASTER|REPLICA|PUBSUB)@5.0.0] "
              "[ID=id(client-id:i...)@6.2.0]",
         since="2.4.0",
         tips=("nondeterministic_output",))
def client_list(client, args):
    engine = client.engine
    clients = list(engine.clients.values())
    i = 2
    while i < len(args):
        opt = args[i].lower()
        if opt == b"type" and i + 1 < len(args):
            kind = _TYPES.get(args[i + 1].lower())
            if kind is not None:
                clients = [c for c in clients if client_type(c) == kind]
            else:
                raise CommandError("ERR Unknown client type '%s'" % args[i + 1].decode("utf-8", "replace"))
            i += 2
        elif opt == b"id" and i + 1 < len(args):
            ids = set()
            for raw in args[i + 1:]:
                try:
                    ids.add(parse_int(raw))
                except CommandError:
                    raise CommandError("ERR Invalid client ID") from None
                if ids and min(ids) <= 0:
                    raise CommandError("ERR Invalid client ID")
            clients = [c for c in clients if c.id in ids]
            i = len(args)
        else:
            raise CommandError(SYNTAX)
    now = engine.clock.ms()
    return Verbatim(b"".join(client_info_line(c, now, args if c is client else None) + b"\n"
                             for c in sorted(clients, key=lambda c: c.id)))


@command("client|kill", arity=-3, flags="admin noscript loading stale", acl="connection",
         summary="Terminates open connections.",
         args="filter('ip:port':s~2.8.12|new-format([ID=client-id:i@2.8.12]|"
              "[TYPE=normal_master_slave_pubsub(NORMAL|MASTER@3.2.0|SLAVE|REPLICA@5.0.0|"
              "PUBSUB)@2.8.12]|[USER=username]|[ADDR='ip:port':s]|[LADDR='ip:port':s@6.2.0]|"
              "[SKIPME=yes/no])...)",
         since="2.4.0")
def client_kill(client, args):
    engine = client.engine
    if len(args) == 3:
        # Old form: CLIENT KILL addr:port
        for other in list(engine.clients.values()):
            if other.addr == args[2].decode("utf-8", "replace"):
                _kill(client, other)
                return OK
        raise CommandError("ERR No such client")
    filters = []
    skipme = True
    i = 2
    while i < len(args):
        if i + 1 >= len(args):
            raise CommandError(SYNTAX)
        opt, val = args[i].lower(), args[i + 1]
        text = val.decode("utf-8", "replace")
        if opt == b"id":
            try:
                wanted = parse_int(val)
            except CommandError:
                raise CommandError("ERR client-id should be greater than 0") from None
            if wanted <= 0:
                raise CommandError("ERR client-id should be greater than 0")
            filters.append(lambda c, w=wanted: c.id == w)
        elif opt == b"addr":
            filters.append(lambda c, w=text: c.addr == w)
        elif opt == b"laddr":
            filters.append(lambda c, w=text: c.laddr == w)
        elif opt == b"user":
            wanted = client.engine.acl.users.get(val.decode("latin-1"))
            if wanted is None:
                raise CommandError("ERR No such user '%s'" % text)
            filters.append(lambda c, w=wanted: c.user is w)
        elif opt == b"type":
            kind = _TYPES.get(val.lower())
            if kind is not None:
                filters.append(lambda c, k=kind: client_type(c) == k)
            else:
                raise CommandError("ERR Unknown client type '%s'" % text)
        elif opt == b"skipme":
            if val.lower() == b"yes":
                skipme = True
            elif val.lower() == b"no":
                skipme = False
            else:
                raise CommandError(SYNTAX)
        elif opt == b"maxage":
            age = parse_int(val)
            now = engine.clock.ms()
            filters.append(lambda c, a=age: (now - c.created_ms) // 1000 >= a)
        else:
            raise CommandError(SYNTAX)
        i += 2
    killed = 0
    for other in list(engine.clients.values()):
        if skipme and other is client:
            continue
        if all(f(other) for f in filters):
            _kill(client, other)
            killed += 1
    return killed


def _kill(killer, victim) -> None:
    if victim is killer:
        # Redis lets the reply go out first when a client kills itself.
        victim.engine.loop.call_soon(victim.close)
    else:
        victim.close()


@command("client|reply", arity=3, flags="noscript loading stale", acl="connection",
         summary="Instructs the server whether to reply to commands.",
         args="on_off_skip(ON|OFF|SKIP)",
         since="3.2.0")
def client_reply(client, args):
    mode = args[2].lower()
    if mode == b"on":
        client.reply_mode = 0
        return OK
    if mode == b"off":
        client.reply_mode = 1
        return NO_REPLY
    if mode == b"skip":
        if client.reply_mode == 0:
            client.reply_mode = 2
        return NO_REPLY
    raise CommandError(SYNTAX)


def _on_off(arg: bytes) -> bool:
    low = arg.lower()
    if low == b"on":
        return True
    if low == b"off":
        return False
    raise CommandError(SYNTAX)


@command("client|no-evict", arity=3, flags="admin noscript loading stale", acl="connection",
         summary="Sets the client eviction mode of the connection.",
         args="enabled(ON|OFF)",
         since="7.0.0")
def client_no_evict(client, args):
    client.no_evict = _on_off(args[2])
    return OK


@command("client|no-touch", arity=3, flags="noscript loading stale", acl="connection", since="7.2.0",
         summary="Controls whether commands sent by the client affect the LRU/LFU of accessed keys.")
def client_no_touch(client, args):
    client.no_touch = _on_off(args[2])
    return OK


@command("client|unblock", arity=-3, flags="admin noscript loading stale", acl="connection",
         summary="Unblocks a client blocked by a blocking command from a different connection.",
         args="client-id:i [timeout_error(TIMEOUT|ERROR)]",
         since="5.0.0")
def client_unblock(client, args):
    target_id = parse_int(args[2])
    error = False
    if len(args) == 4:
        how = args[3].lower()
        if how == b"error":
            error = True
        elif how != b"timeout":
            raise CommandError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    elif len(args) > 4:
        raise CommandError(SYNTAX)
    target = client.engine.clients.get(target_id)
    if target is None or target.blocked is None or client.engine.blocking is None:
        return 0
    client.engine.blocking.unblock(target, error=error)
    return 1


@command("client|pause", arity=-3, flags="admin noscript loading stale", acl="connection",
         summary="Suspends commands processing.",
         args="timeout:i [mode(WRITE|ALL)@6.2.0]",
         since="2.9.50")
def client_pause(client, args):
    timeout = parse_int(args[2], "ERR timeout is not an integer or out of range")
    if timeout < 0:
        raise CommandError("ERR timeout is negative")
    mode = "all"
    if len(args) == 4:
        low = args[3].lower()
        if low not in (b"write", b"all"):
            raise CommandError("ERR CLIENT PAUSE mode must be WRITE or ALL")
        mode = low.decode()
    elif len(args) > 4:
        raise CommandError(SYNTAX)
    client.engine.pause_clients(mode, client.engine.clock.ms() + timeout)
    return OK


@command("client|unpause", arity=2, flags="admin noscript loading stale", acl="connection",
         summary="Resumes processing commands from paused clients.",
         since="6.2.0")
def client_unpause(client, args):
    client.engine.unpause_clients()
    return OK


@command("client|help", arity=2, flags="loading stale", acl="connection",
         summary="Returns helpful text about the different subcommands.",
         since="5.0.0")
def client_help(client, args):
    return help_reply("CLIENT", [
        "ID", "    Return the ID of the current connection.",
        "SETNAME <name>", "    Set the name of the current connection.",
        "GETNAME", "    Return the name of the current connection.",
        "SETINFO <LIB-NAME|LIB-VER> <value>", "    Record the client library name or version.",
        "INFO", "    Return information about the current connection.",
        "LIST [TYPE <normal|master|replica|pubsub>] [ID <id> [<id> ...]]",
        "    Return information about client connections.",
        "KILL <ip:port> | KILL <option> <value> [<option> <value> ...]",
        "    Close connections chosen by ID, ADDR, LADDR, USER, TYPE, MAXAGE or SKIPME.",
        "REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
        "NO-EVICT (ON|OFF)", "    Protect the current connection from client eviction.",
        "NO-TOUCH (ON|OFF)", "    Leave key access times untouched by this connection.",
        "UNBLOCK <id> [TIMEOUT|ERROR]", "    Unblock a client blocked in a blocking command.",
        "PAUSE <timeout> [WRITE|ALL]", "    Suspend clients (all, or those sending writes) for <timeout> ms.",
        "UNPAUSE", "    Resume paused clients.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]] [OPTIN] [OPTOUT] [NOLOOP]",
        "    Turn server-assisted client-side caching (invalidation messages) on or off.",
        "CACHING (YES|NO)", "    In OPTIN/OPTOUT mode: track, or do not track, the next command's keys.",
        "GETREDIR", "    Return the ID invalidation messages are redirected to (-1: tracking off).",
        "TRACKINGINFO", "    Return the tracking flags, redirection and prefixes of this connection.",
    ])
