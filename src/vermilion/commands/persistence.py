"""Persistence commands: SAVE, BGSAVE, BGREWRITEAOF, DUMP, RESTORE, and the DEBUG
subcommands RELOAD, LOADAOF, DIGEST and DIGEST-VALUE.

The machinery lives in ``persistence/`` (RDB format, AOF, child processes);
LASTSAVE stays in commands/server.py and reads ``engine.lastsave``, which the
saves below keep up to date.
"""
from __future__ import annotations

import logging

from ..engine.engine import extension
from ..engine.errors import SYNTAX, CommandError
from ..engine.replies import OK, Status
from ..engine.table import command
from ..persistence.manager import Persistence
from ..persistence.rdb import RdbError, check_payload, dump_payload, load_payload, load_rdb_all
from ._args import parse_int

log = logging.getLogger("vermilion")

BUSYKEY = "BUSYKEY Target key name already exists."
BAD_PAYLOAD = "ERR DUMP payload version or checksum are wrong"
_RESTORE_ARGS = ("key:k0 ttl:i serialized-value [REPLACE@3.0.0] [ABSTTL@5.0.0] "
                 "[IDLETIME=seconds:i@5.0.0] [FREQ=frequency:i@5.0.0]")
_RESTORE_COMPLEXITY = ("O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. "
                       "For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). "
                       "However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).")


@command("save", arity=1, flags="admin noscript no_async_loading no_multi", group="server",
         summary="Synchronously saves the database(s) to disk.",
         complexity="O(N) where N is the total number of keys in all databases")
def save(client, args):
    p = client.engine.persistence
    if p.child is not None and p.child.kind == "rdb":
        raise CommandError("ERR Background save already in progress")
    if not p.save():
        raise CommandError("ERR")
    return OK


@command("bgsave", arity=-1, flags="admin noscript no_async_loading", group="server",
         summary="Asynchronously saves the database(s) to disk.",
         complexity="O(N) where N is the total number of keys in all databases",
         args="[SCHEDULE@3.2.2]")
def bgsave(client, args):
    schedule = False
    if len(args) > 1:
        if len(args) == 2 and args[1].lower() == b"schedule":
            schedule = True
        else:
            raise CommandError(SYNTAX)
    p = client.engine.persistence
    if p.child is not None and p.child.kind == "rdb":
        raise CommandError("ERR Background save already in progress")
    if p.child is not None:
        if schedule:
            p.bgsave_scheduled = True
            return Status(b"Background saving scheduled")
        raise CommandError("ERR Another child process is active (AOF?): can't BGSAVE right now. "
                           "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.")
    if not p.bgsave():
        raise CommandError("ERR")
    return Status(b"Background saving started")


@command("bgrewriteaof", arity=1, flags="admin noscript no_async_loading", group="server",
         summary="Asynchronously rewrites the append-only file to disk.",
         complexity="O(1)")
def bgrewriteaof(client, args):
    p = client.engine.persistence
    if p.child is not None and p.child.kind == "aof":
        raise CommandError("ERR Background append only file rewriting already in progress")
    if p.child is not None or client.engine.in_exec:
        # (Inside EXEC nothing forks: the cron starts it after the transaction.)
        p.aof_rewrite_scheduled = True
        return Status(b"Background append only file rewriting scheduled")
    if not p.start_rewrite():
        raise CommandError("ERR Can't execute an AOF background rewriting. Please check the "
                           "server logs for more information.")
    return Status(b"Background append only file rewriting started")


@command("dump", arity=2, flags="readonly", keys=(1, 1, 1), acl="keyspace", group="generic",
         since="2.6.0", tips=("nondeterministic_output",),
         summary="Returns a serialized representation of the value stored at a key.",
         complexity="O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).",
         args="key:k0")
def dump(client, args):
    value = client.db.get(args[1])
    if value is None:
        return None
    return dump_payload(value, client.engine.config.values)


@command("restore", arity=-4, flags="write denyoom", keys=(1, 1, 1), acl="keyspace dangerous",
         group="generic", since="2.6.0",
         summary="Creates a key from the serialized representation of a value.",
         complexity=_RESTORE_COMPLEXITY,
         args=_RESTORE_ARGS)
def restore(client, args):
    replace = absttl = False
    idle = freq = None
    j = 4
    n = len(args)
    while j < n:
        opt = args[j].lower()
        more = n - j - 1
        if opt == b"replace":
            replace = True
        elif opt == b"absttl":
            absttl = True
        elif opt == b"idletime" and more >= 1 and freq is None:
            idle = parse_int(args[j + 1])
            if idle < 0:
                raise CommandError("ERR Invalid IDLETIME value, must be >= 0")
            j += 1
        elif opt == b"freq" and more >= 1 and idle is None:
            freq = parse_int(args[j + 1])
            if freq < 0 or freq > 255:
                raise CommandError("ERR Invalid FREQ value, must be >= 0 and <= 255")
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1
    db = client.db
    key = args[1]
    engine = client.engine
    if not replace and db.get(key) is not None:
        raise CommandError(BUSYKEY)
    ttl = parse_int(args[2])
    if ttl < 0:
        raise CommandError("ERR Invalid TTL value, must be >= 0")
    payload = args[3]
    if not check_payload(payload):
        raise CommandError(BAD_PAYLOAD)
    try:
        value = load_payload(payload, engine.config.values)
    except RdbError:
        raise CommandError("ERR Bad data format") from None
    deleted = db.delete(key) if replace else False
    now = engine.clock.ms()
    if ttl and not absttl:
        ttl += now
    if ttl and ttl < now:
        # Already expired: nothing is created (a replaced key is deleted).
        if deleted:
            engine.dirty += 1
            engine.notify(db, "g", b"del", key)
            engine.rewrite([b"UNLINK" if engine.config["lazyfree-lazy-server-del"] else b"DEL", key])
        return OK
    db.add(key, value)
    if ttl:
        db.set_expire(key, ttl)
        if not absttl:
            engine.rewrite([args[0], key, b"%d" % ttl, payload, *args[4:], b"ABSTTL"])
    if (idle is not None or freq is not None) and db.track:
        from ..engine.keyspace import TRACK_LFU
        if freq is not None and db.track == TRACK_LFU:
            db.access[key] = ((now // 60000) & 0xFFFF) << 8 | freq
        elif idle is not None and db.track != TRACK_LFU:
            db.access[key] = now - idle * 1000
    engine.dirty += 1
    engine.notify(db, "g", b"restore", key)
    if value.__class__ is not bytes:
        engine.signal_ready(db, key)
    return OK


@command("restore-asking", arity=-4, flags="write denyoom asking", keys=(1, 1, 1),
         acl="keyspace dangerous", group="server", since="3.0.0",
         summary="An internal command for migrating keys in a cluster",
         complexity=_RESTORE_COMPLEXITY, doc_flags="syscmd", args=_RESTORE_ARGS)
def restore_asking(client, args):
    # What MIGRATE sends to a cluster node; without a cluster, RESTORE itself.
    return restore(client, args)


# -- DEBUG subcommands --------------------------------------------------------------------------

def debug_reload(client, args):
    """DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save the RDB and load it back."""
    save_first, flush, merge = True, True, False
    for opt in args[2:]:
        o = opt.lower()
        if o == b"merge":
            merge = True
        elif o == b"noflush":
            flush = False
        elif o == b"nosave":
            save_first = False
        else:
            raise CommandError("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
    engine = client.engine
    p = engine.persistence
    if save_first and not p.save():
        raise CommandError("ERR Error trying to save the DB, can't reload")
    path = p.rdb_path()
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        result = load_rdb_all(data, config_values=engine.config.values, now_ms=engine.clock.ms(),
                              check_crc=engine.config["rdbchecksum"])
    except (OSError, RdbError) as err:
        log.warning("Error loading %s: %s", path, err)
        raise CommandError("ERR Error trying to load the RDB dump, check server logs.") from None
    if flush:
        with engine.tracking.flush():
            for db in engine.dbs:
                db.clear()
        scripts = getattr(engine, "scripts", None)
        if scripts is not None and result.functions:
            scripts.libraries.clear()
            scripts.functions.clear()
    if merge or not flush:
        for index, (table, expires) in result.dbs.items():
            db = engine.dbs[index]
            for key, value in table.items():
                if merge or db.data.get(key) is None:
                    db.set(key, value)
                    when = expires.get(key)
                    if when is not None:
                        db.set_expire(key, when)
        p.load_functions(result.functions)
    else:
        try:
            p.install(result)
        except RdbError as err:
            raise CommandError("ERR Error trying to load the RDB dump, check server logs.") from err
    return OK


def debug_loadaof(client, args):
    """DEBUG LOADAOF: flush the AOF (when it is on), empty the dataset, replay the AOF
    files on disk (Redis loads them with appendonly off too)."""
    engine = client.engine
    p = engine.persistence
    if p.aof_on:
        p.writer.sync_now()
    elif not p.reread_manifest():
        raise CommandError("ERR Error loading the AOF: no AOF manifest in the data directory")
    for db in engine.dbs:
        db.clear()
    sinks, engine.sinks = engine.sinks, []
    try:
        p.load_aof_all()
    except Exception as err:                 # noqa: BLE001 - StartupError, RdbError
        raise CommandError("ERR Error loading the AOF: %s" % err) from None
    finally:
        engine.sinks = sinks
    return OK


def debug_digest(client, args):
    from ..persistence.digest import dataset_digest
    if len(args) != 2:
        raise CommandError("ERR unknown subcommand or wrong number of arguments for 'digest'. "
                           "Try DEBUG HELP.")
    return Status(dataset_digest(client.engine.dbs).encode())


def debug_digest_value(client, args):
    from ..persistence.digest import key_digest
    return [Status(key_digest(client.db, key).encode()) for key in args[2:]]


@extension
def _setup(engine) -> None:
    Persistence(engine)
    engine.debug_subcommands[b"reload"] = debug_reload
    engine.debug_subcommands[b"loadaof"] = debug_loadaof
    engine.debug_subcommands[b"digest"] = debug_digest
    engine.debug_subcommands[b"digest-value"] = debug_digest_value
    engine.debug_help.append([
        "RELOAD [option ...]",
        "    Save the RDB on disk and reload it back to memory. Options: MERGE, NOFLUSH, NOSAVE.",
        "LOADAOF",
        "    Flush the AOF buffers on disk and reload the AOF in memory.",
        "DIGEST",
        "    Output a hex signature representing the current DB content.",
        "DIGEST-VALUE <key> [<key> ...]",
        "    Output a hex signature of the values of all the specified keys.",
    ])
