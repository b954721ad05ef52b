"""ACL: users, the permission check at every entrance, and the ACL command.

The rules themselves live in `types/acl.py`; this module owns the users of one
engine (`engine.acl`, an `Acl`), decides which clients pay for checks, and
answers ACL SETUSER/GETUSER/DELUSER/USERS/LIST/WHOAMI/CAT/GENPASS/DRYRUN/LOG/
LOAD/SAVE/HELP as Redis 7.0 does.

Which clients are checked: a client whose user allows every command, key and
channel (the default user, unless changed) carries no GATE_ACL bit and takes
the dispatch fast path untouched. Every other client has the bit, so each of
its commands passes `gate` (below) at dispatch (after NOAUTH, before MULTI
queueing and pub/sub mode, as in Redis's processCommand). EXEC checks each
queued command again, and redis.call inside scripts and functions checks the
calling client's user (`Acl.script_refusal`).
"""
from __future__ import annotations

import logging
import os
import secrets
import time

try:
    import cython
except ImportError:
    from .. import _compiling as cython

from ..engine.core import AclPlan, ClientCore
from ..engine.engine import extension
from ..engine.errors import CommandError, subcommand_syntax
from ..engine.keyspecs import key_access
from ..engine.replies import OK, ErrorReply, RespSet
from ..engine.table import COMMANDS, command, container
from ..types import acl as rules
from ._args import parse_int
from ._help import help_reply

_REASON = {rules.DENIED_CMD: "command", rules.DENIED_KEY: "key",
           rules.DENIED_CHANNEL: "channel", rules.DENIED_AUTH: "auth"}

NO_ACL_FILE = ("ERR This Redis instance is not configured to use an ACL file. You may want to "
               "specify users via the ACL SETUSER command and then issue a CONFIG REWRITE "
               "(assuming you have a Redis configuration file set) in order to store users in "
               "the Redis configuration.")

_LOG_GROUPING_MS = 60000

log = logging.getLogger("vermilion")


def channel_access(cmd, args: list) -> list:
    """[(position, is_pattern)] of the channels a command publishes or subscribes to."""
    name = cmd.fullname
    if name in ("publish", "spublish"):
        return [(1, False)]
    if name in ("subscribe", "ssubscribe"):
        return [(i, False) for i in range(1, len(args))]
    if name == "psubscribe":
        return [(i, True) for i in range(1, len(args))]
    return []


def _text(arg: bytes) -> str:
    # One character per byte: rules, names and patterns keep their exact bytes.
    return arg.decode("latin-1")


def _bytes(text: str) -> bytes:
    return text.encode("latin-1")


# Why EXEC and redis.call refuse a command whose check failed where it runs.
_EXEC_REASONS = {
    rules.DENIED_CMD: "no permission to execute the command or subcommand",
    rules.DENIED_KEY: "no permission to touch the specified keys",
    rules.DENIED_CHANNEL: "no permission to access one of the channels used as arguments",
}
_SCRIPT_REASONS = {
    rules.DENIED_CMD: "can't run this command or subcommand",
    rules.DENIED_KEY: "can't access at least one of the keys mentioned in the command arguments",
    rules.DENIED_CHANNEL: "can't publish to the channel mentioned in the command",
}

def _fixed_keys(cmd):
    """[(position, access)] when a command's keys sit at fixed positions whatever its
    arguments (GET, SET without options' effect on access, HSET, INCR ...): () for no
    keys; None when they depend on the arguments."""
    from ..engine.keyspecs import SPECS, access_bits
    specs = SPECS.get(cmd.fullname)
    if specs is None:
        return () if cmd.first_key <= 0 and cmd.getkeys is None else None
    out = []
    for bs, fk, access, extra in specs:
        if extra or bs[0] != "i" or fk[0] != "r" or fk[1] != 0:
            return None
        out.append((bs[1], access_bits(access)))
    return tuple(out)


_GLOB_SPECIAL = frozenset("*?[\\")


def _key_plan(selector, pos: int, need: int) -> tuple:
    """One key of an AclPlan: (position, prefixes, matchers)."""
    granting = [(p, m) for (p, f), (m, _) in zip(selector.patterns, selector.matchers())
                if f & need == need]
    if all(len(p) > 1 and p[-1] == "*" and not _GLOB_SPECIAL & set(p[:-1]) for p, _ in granting):
        return pos, tuple(_bytes(p[:-1]) for p, _ in granting), ()
    return pos, None, tuple(m for _, m in granting)


class LogEntry:
    __slots__ = ("count", "reason", "context", "object", "username", "ctime", "cinfo")


class Acl:
    """The users of one engine, the ACL log, and the checks."""

    def __init__(self, engine):
        self.engine = engine
        self.catalog = rules.Catalog(list(COMMANDS.values()))
        self.default = rules.default_user(self.catalog)
        self.users: dict[str, rules.User] = {"default": self.default}
        self.log: list[LogEntry] = []        # newest first
        # user -> [its AclPlan of each command, at Command.acl_index, or None]; each
        # list keeps its identity (cleared in place when rules change) because
        # clients hold their user's (acl_plans).
        self.plans: dict = {}

    # -- configuration -------------------------------------------------------------------

    @property
    def pubsub_default_all(self) -> bool:
        return self.engine.config["acl-pubsub-default"] == "allchannels"

    def set_requirepass(self, password: str) -> None:
        """ACLUpdateDefaultUserPassword: requirepass is the default user's password."""
        user = self.default
        user.apply("resetpass", self.catalog)
        if password:
            user.apply(">" + password.encode("utf-8", "surrogateescape").decode("latin-1"),
                       self.catalog)
        else:
            user.apply("nopass", self.catalog)
        self.user_changed(user)

    def load_configured(self, definitions: list) -> None:
        """ACLLoadConfiguredUsers: the `user` directives of the config, at startup."""
        for name, ops in definitions:
            if rules.has_spaces(name):
                raise rules.RuleError("Spaces not allowed in ACL usernames")
            user = self.users.get(name)
            if user is None:
                user = self.users[name] = rules.User(name, self.pubsub_default_all)
            else:
                user.apply("reset", self.catalog, self.pubsub_default_all)
            for op in rules.merge_selector_args(ops):
                try:
                    user.apply(op, self.catalog, self.pubsub_default_all)
                except rules.RuleError as err:
                    raise rules.RuleError("Error loading ACL rule '%s' for the user named '%s': %s"
                                          % (op, name, err)) from None
        self.refresh_gates()

    # -- authentication ------------------------------------------------------------------

    @property
    def auth_required(self) -> bool:
        """Redis's authRequired() for a client not authenticated yet."""
        user = self.default
        return not user.nopass or not user.enabled

    def authenticate(self, client, username: bytes, password: bytes, context_args) -> bool:
        """ACLAuthenticateUser: switch `client` to the user, or log the failure."""
        user = self.users.get(_text(username))
        if user is not None and user.check_password(password):
            client.authenticated = True
            client.user = user
            self.update_client(client)
            return True
        self.add_log(client, rules.DENIED_AUTH, "toplevel" if client.multi is None else "multi",
                     _text(context_args[0]), _text(username))
        return False

    # -- gates -----------------------------------------------------------------------------

    def update_client(self, client) -> None:
        """Set or clear the client's GATE_ACL bit after its user or the user's rules changed."""
        user = client.user
        # No user: the master's stream, which Redis runs unchecked (as the superuser).
        client.acl_restricted = user is not None and not user.unrestricted
        plans = self.plans.get(user)
        if plans is None:
            plans = self.plans[user] = []
        client.acl_plans = plans
        client.update_gate()

    def forget_plans(self) -> None:
        for plans in self.plans.values():
            plans[:] = [None] * len(plans)

    def refresh_gates(self) -> None:
        self.forget_plans()
        engine = self.engine
        engine.requirepass = True if self.auth_required else None
        for client in list(engine.clients.values()):
            self.update_client(client)

    def user_changed(self, user) -> None:
        self.forget_plans()
        if user is self.default:
            self.engine.requirepass = True if self.auth_required else None
        for client in list(self.engine.clients.values()):
            if client.user is user:
                self.update_client(client)
            elif user is self.default:
                client.update_gate()

    # -- checks ------------------------------------------------------------------------------

    def check(self, user, cmd, args: list) -> tuple[int, int]:
        return user.check(self.catalog, cmd, args, lambda: key_access(cmd, args),
                          lambda: channel_access(cmd, args))

    def full_key_access(self, client, cmd, args: list, need: int = rules.READ) -> bool:
        """Whether the client's user may touch any key for this command (SORT refuses BY
        and GET patterns otherwise: "BY option of SORT denied due to insufficient ACL
        permissions."). Inside a script the caller's user decides, as for redis.call."""
        if client.kind == "script":
            scripts = getattr(self.engine, "scripts", None)
            ctx = scripts.ctx if scripts is not None else None
            if ctx is None or ctx.caller is None:
                return False
            client = ctx.caller
        user = client.user
        if user is None or user.unrestricted:
            return True
        return user.has_unrestricted_key_access(self.catalog, cmd, args,
                                                lambda: key_access(cmd, args), need)

    def _plan(self, client, cmd) -> AclPlan:
        """The AclPlan of this client's user for `cmd`, decided once (until rules change).

        Only a one-selector user without first-argument rules gets a plan that can
        pass, for a command it may run that has no channels and does not block (a
        blocking command's check is remembered for its wakeup): "allowed" when the
        command has no keys or the user has allkeys, else key patterns when its
        keys sit at fixed positions (SET: for the plain three-argument form only,
        as its options change what it does to the key).
        """
        user = client.user
        plans = self.plans.get(user)
        if plans is None:
            plans = self.plans[user] = []
        client.acl_plans = plans
        plan = None
        # Protected commands (DEBUG, MODULE LOAD) always take the full path, which
        # refuses them first as Redis does.
        if len(user.selectors) == 1 and not cmd.is_blocking and "protected" not in cmd.flags and \
                not channel_access(cmd, [b""] * 3):
            sel = user.root
            if sel.allows_command(self.catalog, cmd, []) and not sel.firstargs:
                fixed = _fixed_keys(cmd)
                if sel.allkeys or fixed == ():
                    plan = AclPlan(allowed=True)
                elif fixed is not None:
                    plan = AclPlan(keys=tuple(_key_plan(sel, pos, need) for pos, need in fixed))
                elif cmd.fullname == "set":
                    plan = AclPlan(keys=(_key_plan(sel, 1, rules.WRITE),), nargs=3)
        if plan is None:
            plan = AclPlan()
        if cmd.acl_index >= len(plans):
            plans.extend([None] * (cmd.acl_index + 1 - len(plans)))
        plans[cmd.acl_index] = plan
        return plan

    def _deny(self, client, cmd, args, result, pos):
        client.last_command = cmd.fullname     # Redis sets lastcmd before the check
        self.log_denial(client, cmd, args, result, pos,
                        "multi" if client.multi is not None else "toplevel")
        if result == rules.DENIED_CMD:
            text = "NOPERM this user has no permissions to run the '%s' command" % cmd.fullname
        elif result == rules.DENIED_KEY:
            text = "NOPERM this user has no permissions to access one of the keys used as arguments"
        else:
            text = ("NOPERM this user has no permissions to access one of the channels used as "
                    "arguments")
        return self.engine.reject(cmd, CommandError(text))

    def wakeup_refusal(self, client):
        """A blocked client about to be served: its command is checked again, so rules
        changed while it waited apply (Redis 7.2 re-runs the command's checks too)."""
        call = client.acl_blocking_call
        if call is None:
            return None
        cmd, args = call
        result, pos = self.check(client.user, cmd, args)
        if result == rules.OK:
            return None
        return self._deny(client, cmd, args, result, pos)

    def recheck(self, client, cmd, args: list, context: str, reasons: dict):
        """A command checked again where it runs (EXEC, a script): None, or the
        reason from `reasons` for the refusal, which is logged."""
        result, pos = self.check(client.user, cmd, args)
        if result == rules.OK:
            return None
        self.log_denial(client, cmd, args, result, pos, context)
        return reasons[result]

    def exec_refusal(self, client, cmd, args: list):
        """EXEC: a queued command is checked again, as rules may have changed since."""
        reason = self.recheck(client, cmd, args, "multi", _EXEC_REASONS)
        if reason is None:
            return None
        text = ("NOPERM ACLs rules changed between the moment the transaction was accumulated "
                "and the EXEC call. This command is no longer allowed for the following reason: "
                + reason)
        # The refused command is never called: Redis counts the error as a failed call
        # of EXEC, the call that is running (its call() sees the error count grow).
        return self.engine.failed(COMMANDS["exec"], CommandError(text))

    def script_refusal(self, caller, cmd, args: list):
        """redis.call: the caller's user must allow it (scriptVerifyACL)."""
        reason = self.recheck(caller, cmd, args, "lua", _SCRIPT_REASONS)
        if reason is None:
            return None
        return ErrorReply(b"ERR The user executing the script " + reason.encode())

    # -- the log -----------------------------------------------------------------------------

    def log_denial(self, client, cmd, args, result, pos, context) -> None:
        obj = cmd.fullname if result == rules.DENIED_CMD else _text(args[pos])
        self.add_log(client, result, context, obj, client.user.name)

    def add_log(self, client, reason: int, context: str, obj: str, username: str) -> None:
        """addACLLogEntry: a similar entry of the last minute is bumped instead."""
        from .connection import client_info_line
        now = int(time.time() * 1000)
        cinfo = client_info_line(client, self.engine.clock.ms())
        log = self.log
        for i, entry in enumerate(log[:10]):
            if entry.reason == reason and entry.context == context and \
                    abs(entry.ctime - now) <= _LOG_GROUPING_MS and entry.object == obj and \
                    entry.username == username:
                entry.count += 1
                entry.ctime = now
                entry.cinfo = cinfo
                del log[i]
                log.insert(0, entry)
                return
        entry = LogEntry()
        entry.count, entry.reason, entry.context = 1, reason, context
        entry.object, entry.username, entry.ctime, entry.cinfo = obj, username, now, cinfo
        log.insert(0, entry)
        del log[max(self.engine.config["acllog-max-len"], 0):]

    # -- users -------------------------------------------------------------------------------

    def setuser(self, name: str, ops: list[str]) -> None:
        user = self.users.get(name)
        base = user if user is not None else rules.User(name, self.pubsub_default_all)
        staged = rules.set_user(base, ops, self.catalog, self.pubsub_default_all)
        if user is None:
            self.users[name] = staged
            return
        self.kill_pubsub_clients_if_needed(staged, user)
        user.copy_from(staged)
        self.user_changed(user)

    def kill_pubsub_clients_if_needed(self, new, original) -> None:
        """ACLKillPubsubClientsIfNeeded: subscribers that lost a channel are disconnected."""
        all_new, upcoming = new.channel_patterns()
        if all_new:
            return
        all_old, old = original.channel_patterns()
        if not all_old and all(c in upcoming for c in old):
            return
        for client in list(self.engine.clients.values()):
            if client.user is not original or not client.subscription_count:
                continue
            kill = any(not rules.channel_in_list(upcoming, p, True) for p in client.patterns) or \
                any(not rules.channel_in_list(upcoming, c, False) for c in client.channels) or \
                any(not rules.channel_in_list(upcoming, c, False) for c in client.shard_channels)
            if kill:
                if getattr(client, "batch", None) is not None or not hasattr(client, "abort"):
                    # The caller revoking its own channels: closed after this reply,
                    # nothing it pipelined behind runs (redis-server 7.0.15 crashes
                    # here; 7.2 closes it after the reply, as this does).
                    client.close()
                else:
                    client.abort()

    def drop_user_clients(self, user, current) -> None:
        """ACLFreeUserAndKillClients: connections of a deleted user are closed."""
        self.plans.pop(user, None)
        for client in list(self.engine.clients.values()):
            if client.user is user:
                client.user = self.default
                client.authenticated = False
                self.update_client(client)
                if client is current and getattr(client, "batch", None) is None:
                    self.engine.loop.call_soon(client.close)
                else:
                    # The caller, inside its own batch, closes after this reply: like
                    # Redis's CLOSE_AFTER_COMMAND, nothing it pipelined after runs
                    # (as the default user it was just switched to).
                    client.close()

    def describe(self, user) -> str:
        return "user %s %s" % (user.name, user.describe(self.catalog))

    def sorted_users(self) -> list:
        # Redis keeps users in a radix tree: byte order of the names.
        return [self.users[n] for n in sorted(self.users, key=_bytes)]

    # -- the ACL file ------------------------------------------------------------------------

    def load_file(self, path: str, current=None) -> str | None:
        """ACLLoadFromFile: the new users, or Redis's error text with nothing changed."""
        shown = self.engine.config["aclfile"]
        try:
            with open(in_dir(self.engine.config, path), "rb") as fh:
                data = fh.read()
        except OSError as err:
            return "Error loading ACLs, opening file '%s': %s" % (path, err.strerror)
        catalog = self.catalog
        users: dict[str, rules.User] = {}
        errors = ""
        for number, raw in enumerate(data.decode("latin-1").split("\n"), 1):
            line = raw.strip(" \t\r\n")
            if not line:
                continue
            argv = line.split(" ")
            if argv[0] != "user" or len(argv) < 2:
                errors += ("%s:%d should start with user keyword followed by the username. "
                           % (shown, number))
                continue
            name = argv[1]
            if rules.has_spaces(name):
                errors += "'%s:%d: username '%s' contains invalid characters. " % (shown, number, name)
                continue
            if name in users:
                errors += "WARNING: Duplicate user '%s' found on line %d. " % (name, number)
                continue
            user = users[name] = rules.User(name, self.pubsub_default_all)
            try:
                merged = rules.merge_selector_args(argv[2:])
            except ValueError:
                errors += "%s:%d: Unmatched parenthesis in selector definition." % (shown, number)
                merged = []
            syntax_error = False
            for op in merged:
                op = op.strip("\t\r\n")
                try:
                    user.apply(op, catalog, self.pubsub_default_all)
                except rules.UnknownName as err:
                    errors += "%s:%d: Error in applying operation '%s': %s. " % (shown, number, op, err)
                except rules.RuleError as err:
                    if not syntax_error:
                        errors += "%s:%d: %s. " % (shown, number, err)
                        syntax_error = True
        if errors:
            return errors + ("WARNING: ACL errors detected, no change to the previously active "
                             "ACL rules was performed")
        new_default = users.pop("default", None) or rules.default_user(catalog)
        old = self.users
        self.default.copy_from(new_default)
        self.users = {"default": self.default, **users}
        for name, user in old.items():
            if name != "default":
                self.drop_user_clients(user, current)
        self.user_changed(self.default)
        return None

    def save_file(self, path: str) -> bool:
        path = in_dir(self.engine.config, path)
        text = "".join(self.describe(u) + "\n" for u in self.sorted_users())
        tmp = "%s.tmp-%d-%d" % (path, os.getpid(), int(time.time() * 1000))
        try:
            with open(tmp, "wb") as fh:
                fh.write(_bytes(text))
            os.replace(tmp, path)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            return False
        return True


@cython.locals(client=ClientCore, plan=AclPlan, plans=list)
def gate(client, cmd, args):
    """The dispatch check of a GATE_ACL client (processCommand): None, or the refusal
    to send. Engine.execute tries the client's plan for `cmd` itself and calls this
    when there is none yet or it did not pass; the gatekeeper (MULTI, a busy server)
    calls this directly."""
    plans = client.acl_plans
    plan = plans[cmd.acl_index] if cmd.acl_index < len(plans) else None
    if plan is None:
        plan = client.engine.acl._plan(client, cmd)
    if plan.passes(args):
        return None
    engine = client.engine
    if "protected" in cmd.flags and engine.protected_gate is not None:
        err = engine.protected_gate(client, cmd)      # Redis checks it before ACL
        if err is not None:
            return engine.reject(cmd, err)
    acl = engine.acl
    if cmd.is_blocking:         # blocking commands always take this path
        client.acl_blocking_call = (cmd, args)
    result, pos = acl.check(client.user, cmd, args)
    if result == rules.OK:
        return None
    return acl._deny(client, cmd, args, result, pos)


@extension
def _setup(engine) -> None:
    acl = engine.acl = Acl(engine)
    engine.acl_gate = gate
    config = engine.config
    acl.set_requirepass(config["requirepass"])

    def changed(names) -> None:
        if names is None or "requirepass" in names:
            acl.set_requirepass(config["requirepass"])
        # Whether new connections must authenticate follows the default user, not the
        # requirepass text the engine copies on every change.
        engine.requirepass = True if acl.auth_required else None

    config.listeners.append(changed)
    if config.acl_users and config["aclfile"]:
        raise rules.RuleError(
            "Configuring Redis with users defined in redis.conf and at the same setting an ACL "
            "file path is invalid. This setup is very likely to lead to configuration errors and "
            "security holes, please define either an ACL file or declare users directly in your "
            "redis.conf, but not both.")
    try:
        acl.load_configured(config.acl_users)
    except rules.RuleError as err:
        log.warning("%s", err)
        raise rules.RuleError("Critical error while loading ACLs. Exiting.") from None
    if config["aclfile"]:
        errors = acl.load_file(config["aclfile"])
        if errors:
            raise rules.RuleError("Aborting Redis startup because of ACL errors: " + errors)


def in_dir(config, path: str) -> str:
    """A relative aclfile is inside `dir`: Redis changes into `dir` while it reads the
    config file, before it opens the ACL file."""
    return os.path.join(config["dir"] or ".", path)


# -- the ACL command ------------------------------------------------------------------------

container("acl", arity=-2, flags="sentinel", group="server", since="6.0.0",
          summary="A container for Access List Control commands.")

_ADMIN = "admin noscript loading stale sentinel"
_PLAIN = "noscript loading stale sentinel"


@command("acl|setuser", arity=-3, flags=_ADMIN, since="6.0.0",
         summary="Creates and modifies an ACL user and its rules.",
         args="username [rule...]")
def acl_setuser(client, args):
    name = _text(args[2])
    if rules.has_spaces(name):
        raise CommandError("ERR Usernames can't contain spaces or null characters")
    try:
        client.engine.acl.setuser(name, [_text(a) for a in args[3:]])
    except rules.RuleError as err:
        raise CommandError("ERR " + str(err)) from None
    return OK


@command("acl|deluser", arity=-3, flags=_ADMIN, since="6.0.0",
         summary="Deletes ACL users, and terminates their connections.",
         args="username...")
def acl_deluser(client, args):
    acl = client.engine.acl
    names = [_text(a) for a in args[2:]]
    if "default" in names:
        raise CommandError("ERR The 'default' user cannot be removed")
    deleted = 0
    for name in names:
        user = acl.users.pop(name, None)
        if user is not None:
            acl.drop_user_clients(user, client)
            deleted += 1
    return deleted


def _selector_fields(selector, catalog) -> dict:
    return {b"commands": _bytes(selector.describe_commands(catalog)),
            b"keys": _bytes(selector.describe_keys()),
            b"channels": _bytes(selector.describe_channels())}


@command("acl|getuser", arity=3, flags=_ADMIN, since="6.0.0",
         summary="Lists the ACL rules of a user.",
         args="username")
def acl_getuser(client, args):
    acl = client.engine.acl
    user = acl.users.get(_text(args[2]))
    if user is None:
        return None
    reply = {b"flags": RespSet(_bytes(f) for f in user.flags()),
             b"passwords": [_bytes(p) for p in user.passwords]}
    reply.update(_selector_fields(user.root, acl.catalog))
    reply[b"selectors"] = [_selector_fields(s, acl.catalog) for s in user.selectors[1:]]
    return reply


@command("acl|users", arity=2, flags=_ADMIN, since="6.0.0", summary="Lists all ACL users.")
def acl_users(client, args):
    return [_bytes(u.name) for u in client.engine.acl.sorted_users()]


@command("acl|list", arity=2, flags=_ADMIN, since="6.0.0",
         summary="Dumps the effective rules in ACL file format.")
def acl_list(client, args):
    acl = client.engine.acl
    return [_bytes(acl.describe(u)) for u in acl.sorted_users()]


@command("acl|whoami", arity=2, flags=_PLAIN, since="6.0.0",
         summary="Returns the authenticated username of the current connection.")
def acl_whoami(client, args):
    return _bytes(client.user.name)


@command("acl|load", arity=2, flags=_ADMIN, since="6.0.0",
         summary="Reloads the rules from the configured ACL file.")
def acl_load(client, args):
    acl = client.engine.acl
    path = client.engine.config["aclfile"]
    if not path:
        raise CommandError(NO_ACL_FILE)
    errors = acl.load_file(path, client)
    if errors:
        raise CommandError("ERR " + errors)
    return OK


@command("acl|save", arity=2, flags=_ADMIN, since="6.0.0",
         summary="Saves the effective ACL rules in the configured ACL file.")
def acl_save(client, args):
    path = client.engine.config["aclfile"]
    if not path:
        raise CommandError(NO_ACL_FILE)
    if not client.engine.acl.save_file(path):
        raise CommandError("ERR There was an error trying to save the ACLs. Please check the "
                           "server logs for more information")
    return OK


@command("acl|cat", arity=-2, flags=_PLAIN, since="6.0.0",
         summary="Lists the ACL categories, or the commands inside a category.",
         args="[categoryname]")
def acl_cat(client, args):
    if len(args) == 2:
        return [_bytes(c) for c in rules.CATEGORIES]
    if len(args) != 3:
        raise subcommand_syntax(args)
    name = _text(args[2]).lower()
    catalog = client.engine.acl.catalog
    if name not in catalog.cat_commands:
        raise CommandError("ERR Unknown category '%s'" % _text(args[2][:128]))
    return [_bytes(c.fullname) for c in catalog.cat_commands[name]]


@command("acl|genpass", arity=-2, flags=_PLAIN, since="6.0.0",
         summary="Generates a pseudorandom, secure password that can be used to identify ACL users.",
         args="[bits:i]")
def acl_genpass(client, args):
    if len(args) > 3:
        raise subcommand_syntax(args)
    bits = parse_int(args[2]) if len(args) == 3 else 256
    if bits <= 0 or bits > 4096:
        raise CommandError("ERR ACL GENPASS argument must be the number of bits for the output "
                           "password, a positive number up to 4096")
    chars = (bits + 3) // 4
    return secrets.token_hex((chars + 1) // 2)[:chars].encode()


def _age(entry, now_ms: int) -> float:
    return (now_ms - entry.ctime) / 1000


@command("acl|log", arity=-2, flags=_ADMIN, since="6.0.0",
         summary="Lists recent security events generated due to ACL rules.",
         args="[operation(count:i|RESET)]")
def acl_log(client, args):
    acl = client.engine.acl
    if len(args) > 3:
        raise subcommand_syntax(args)
    count = 10
    if len(args) == 3:
        if args[2].lower() == b"reset":
            acl.log.clear()
            return OK
        count = max(parse_int(args[2]), 0)
    now = int(time.time() * 1000)
    out = []
    for entry in acl.log[:count]:
        out.append({
            b"count": entry.count,
            b"reason": _REASON[entry.reason].encode(),
            b"context": entry.context.encode(),
            b"object": _bytes(entry.object),
            b"username": _bytes(entry.username),
            b"age-seconds": _age(entry, now),
            b"client-info": entry.cinfo,
        })
    return out


@command("acl|dryrun", arity=-4, flags=_ADMIN, since="7.0.0",
         summary="Simulates the execution of a command by a user, without executing the command.",
         args="username command [arg...]")
def acl_dryrun(client, args):
    engine = client.engine
    acl = engine.acl
    user = acl.users.get(_text(args[2]))
    if user is None:
        raise CommandError("ERR User '%s' not found" % _text(args[2]))
    argv = args[3:]
    cmd = engine.find_command(argv[0])
    if cmd is not None and cmd.subcommands is not None and len(argv) > 1:
        cmd = cmd.subcommands.get(argv[1].lower())
    if cmd is None:
        raise CommandError("ERR Command '%s' not found" % _text(argv[0]))
    if (cmd.arity > 0 and cmd.arity != len(argv)) or len(argv) < -cmd.arity:
        raise CommandError("ERR wrong number of arguments for '%s' command" % cmd.fullname)
    result, pos = acl.check(user, cmd, argv)
    if result == rules.DENIED_CMD:
        return b"This user has no permissions to run the '%s' command" % cmd.fullname.encode()
    if result == rules.DENIED_KEY:
        return b"This user has no permissions to access the '%s' key" % argv[pos]
    if result == rules.DENIED_CHANNEL:
        return b"This user has no permissions to access the '%s' channel" % argv[pos]
    return OK


@command("acl|help", arity=2, flags="loading stale sentinel", since="6.0.0",
         summary="Returns helpful text about the different subcommands.")
def acl_help(client, args):
    return help_reply("ACL", [
        "CAT [<category>]", "    List the categories, or the commands of one category.",
        "DELUSER <username> [<username> ...]", "    Delete users and close their connections.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Tell whether the user may run the command, without running it.",
        "GETUSER <username>", "    Show the rules of a user.",
        "GENPASS [<bits>]", "    Return a random password of <bits> bits (256 by default).",
        "LIST", "    Show every user in ACL file format.",
        "LOAD", "    Replace the users with those of the ACL file.",
        "LOG [<count> | RESET]", "    Show (or clear) the log of refused commands and logins.",
        "SAVE", "    Write the users to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]", "    Create or change a user.",
        "USERS", "    List the user names.",
        "WHOAMI", "    Return the user of this connection.",
    ])
