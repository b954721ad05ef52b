"""ACL users, selectors and their rules, as Redis 7.0 defines them (acl.c).

Pure data and algorithms: no sockets, no engine. The command table is seen
through a `Catalog` (commands, subcommands and their categories), built once
from the table and handed in, so every rule here can be unit-tested alone.

Guarantees, mirroring Redis 7.0:

* A selector allows a command when the command's bit is set (or the selector
  has ``allcommands``), or a ``+cmd|firstarg`` rule names the first argument;
  ``no_auth`` commands (AUTH, HELLO) are always allowed. Changing a container
  command changes all its subcommands; ``+@all`` also sets a "future commands"
  bit that only ``-@all``/``nocommands`` clears, which decides whether the
  rules are described from ``+@all`` or from ``-@all``.
* A key passes a selector when the selector has ``allkeys``, or some pattern
  carries every permission the key needs (read for a key the command reads,
  write for one it inserts, updates or deletes) and glob-matches the key.
  A channel passes when the selector has ``allchannels`` or a pattern matches
  it (a PSUBSCRIBE pattern must equal an allowed pattern literally).
* A user may run a command when any of its selectors (the root one and the
  ``(...)`` ones) allows the command and every key and channel in it.
* Passwords are kept only as SHA-256 hex digests.
* Every rule string is parsed into a staged copy; a user is changed only
  when all the rules of one SETUSER (or one file) were valid.
"""
from __future__ import annotations

import hashlib
import hmac

from .glob import compile_glob

# Permission a key needs (from the key-spec flags of the command) and that a
# key pattern grants (``%R~`` / ``%W~`` / ``~``).
READ = 1
WRITE = 2
ALL_PERMS = READ | WRITE

# Check outcomes, in Redis's order (the numerically larger one is reported
# when no selector allows the command).
OK = 0
DENIED_CMD = 1
DENIED_KEY = 2
DENIED_AUTH = 3
DENIED_CHANNEL = 4

CATEGORIES = (
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
    "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking",
    "dangerous", "connection", "transaction", "scripting",
)

_FUTURE_BIT = 1   # bit 0: set only by +@all, "this selector allows commands added later"

_HEX = frozenset("0123456789abcdef")
_SPACES = frozenset(" \t\n\v\f\r\x00")


class RuleError(ValueError):
    """A rule was refused; `str()` is Redis's reason text."""


ERR_UNKNOWN = "Unknown command or category name in ACL"
ERR_SYNTAX = "Syntax error"
ERR_KEYS_AFTER_ALL = ("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid "
                      "and does not have any effect. Try 'resetkeys' to start with an empty list "
                      "of patterns")
ERR_CHANNELS_AFTER_ALL = ("Adding a pattern after the * pattern (or the 'allchannels' flag) is not "
                          "valid and does not have any effect. Try 'resetchannels' to start with an "
                          "empty list of channels")
ERR_NO_SUCH_PASS = "The password you are trying to remove from the user does not exist"
ERR_BAD_HASH = ("The password hash must be exactly 64 characters and contain only lowercase "
                "hexadecimal characters")
ERR_FIRSTARG_OF_SUB = "Allowing first-arg of a subcommand is not supported"
ERR_DUPLICATE_USER = "Duplicate user found. A user can only be defined once in config files"


class UnknownName(RuleError):
    """An unknown command or category (config files report these in more detail)."""


def hash_password(password: bytes) -> str:
    return hashlib.sha256(password).hexdigest()


def _rule_digest(op: str) -> str:
    """The SHA-256 hex digest a ``>pass``/``<pass`` (hashed here) or ``#hash``/``!hash``
    (checked, kept as given) rule names."""
    if op[0] in (">", "<"):
        return hash_password(op[1:].encode("latin-1"))
    digest = op[1:]
    if len(digest) != 64 or not set(digest) <= _HEX:
        raise RuleError(ERR_BAD_HASH)
    return digest


def has_spaces(text: str) -> bool:
    return any(c in _SPACES for c in text)


def _lower(text: str) -> str:
    # C's tolower over bytes (text holds one character per byte).
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = {c: c + 32 for c in range(65, 91)}


class Catalog:
    """The command table as the ACL rules see it.

    `commands` are the top-level rows of the table in declaration order; each
    has `fullname`, `categories`, `subcommands` (dict or None) and `no_auth`.
    Every command and subcommand gets a bit; per category, `members` holds the
    bits of the commands in it and `change` what ``+@cat`` sets (a command in
    the category changes its subcommands too, as ACLChangeSelectorPerm does).
    """

    def __init__(self, commands: list):
        self.commands = list(commands)
        self.bit: dict = {}            # command object -> bit
        self.by_name: dict[str, object] = {}
        self.family: dict = {}         # command -> its bit | its subcommands' bits
        self.order: list = []          # every command, subcommands after their parent
        self.members = {c: 0 for c in CATEGORIES}
        self.change = {c: 0 for c in CATEGORIES}
        self.cat_commands: dict[str, list] = {c: [] for c in CATEGORIES}
        bit = 2
        for cmd in self.commands:
            for c in [cmd, *((cmd.subcommands or {}).values())]:
                self.bit[c] = bit
                self.by_name[c.fullname] = c
                self.order.append(c)
                bit <<= 1
        self.all_bits = bit - 1
        for cmd in self.order:
            fam = self.bit[cmd]
            for sub in (cmd.subcommands or {}).values():
                fam |= self.bit[sub]
            self.family[cmd] = fam
            for cat in cmd.categories:
                if cat in self.members:
                    self.members[cat] |= self.bit[cmd]
                    self.change[cat] |= fam
                    self.cat_commands[cat].append(cmd)

    def lookup(self, name: str):
        """ACLLookupCommand: ``get`` or ``config|get``, case-insensitive."""
        return self.by_name.get(_lower(name))


class Selector:
    __slots__ = ("root", "allowed", "allcommands", "firstargs", "allkeys", "patterns",
                 "allchannels", "channels", "_matchers")

    def __init__(self, root: bool = False, allchannels: bool = False):
        self.root = root
        self.allowed = 0                    # command bits (bit 0: future commands)
        self.allcommands = False
        self.firstargs: dict = {}           # command -> [first args allowed], +select|0
        self.allkeys = False
        self.patterns: list = []            # [pattern str, READ|WRITE]
        self.allchannels = allchannels      # acl-pubsub-default allchannels
        self.channels: list[str] = []
        self._matchers = None

    def copy(self) -> "Selector":
        new = Selector(self.root)
        new.allowed = self.allowed
        new.allcommands = self.allcommands
        new.firstargs = {k: list(v) for k, v in self.firstargs.items()}
        new.allkeys = self.allkeys
        new.patterns = [list(p) for p in self.patterns]
        new.allchannels = self.allchannels
        new.channels = list(self.channels)
        return new

    @property
    def unrestricted(self) -> bool:
        return self.allcommands and self.allkeys and self.allchannels

    # -- rules -------------------------------------------------------------------------

    def _change(self, cat: Catalog, cmd, allow: bool) -> None:
        # ACLChangeSelectorPerm: the command, its subcommands, and its first args reset.
        if allow:
            self.allowed |= cat.family[cmd]
        else:
            self.allowed &= ~cat.family[cmd]
            self.allcommands = False
        self.firstargs.pop(cmd, None)

    def apply(self, op: str, cat: Catalog) -> None:
        """ACLSetSelector: one selector rule; raises RuleError with Redis's reason."""
        self._matchers = None
        low = _lower(op)
        if low in ("allkeys", "~*"):
            self.allkeys = True
            self.patterns = []
        elif low == "resetkeys":
            self.allkeys = False
            self.patterns = []
        elif low in ("allchannels", "&*"):
            self.allchannels = True
            self.channels = []
        elif low == "resetchannels":
            self.allchannels = False
            self.channels = []
        elif low in ("allcommands", "+@all"):
            self.allowed = cat.all_bits | _FUTURE_BIT
            self.allcommands = True
            self.firstargs = {}
        elif low in ("nocommands", "-@all"):
            self.allowed = 0
            self.allcommands = False
            self.firstargs = {}
        elif op[:1] in ("~", "%"):
            if self.allkeys:
                raise RuleError(ERR_KEYS_AFTER_ALL)
            flags = 0
            offset = 1
            if op[0] == "%":
                while offset < len(op):
                    ch = op[offset].upper()
                    if ch == "R" and not flags & READ:
                        flags |= READ
                    elif ch == "W" and not flags & WRITE:
                        flags |= WRITE
                    elif op[offset] == "~":
                        offset += 1
                        break
                    else:
                        raise RuleError(ERR_SYNTAX)
                    offset += 1
                # "%RW" without a "~" adds an empty pattern with those flags, as Redis
                # does; a "%" granting nothing is refused.
                if not flags:
                    raise RuleError(ERR_SYNTAX)
            else:
                flags = ALL_PERMS
            pattern = op[offset:]
            if has_spaces(pattern):
                raise RuleError(ERR_SYNTAX)
            for p in self.patterns:
                if p[0] == pattern:
                    p[1] |= flags
                    break
            else:
                self.patterns.append([pattern, flags])
            self.allkeys = False
        elif op[:1] == "&":
            if self.allchannels:
                raise RuleError(ERR_CHANNELS_AFTER_ALL)
            pattern = op[1:]
            if has_spaces(pattern):
                raise RuleError(ERR_SYNTAX)
            if pattern not in self.channels:
                self.channels.append(pattern)
            self.allchannels = False
        elif op[:1] == "+" and op[1:2] != "@":
            if "|" not in op:
                cmd = cat.lookup(op[1:])
                if cmd is None:
                    raise UnknownName(ERR_UNKNOWN)
                self._change(cat, cmd, True)
                return
            head, sub = op[1:].rsplit("|", 1)
            cmd = cat.lookup(head)
            if cmd is None:
                raise UnknownName(ERR_UNKNOWN)
            if getattr(cmd, "parent", None) is not None:
                raise RuleError(ERR_FIRSTARG_OF_SUB)
            if not sub:
                raise RuleError(ERR_SYNTAX)
            if cmd.subcommands is not None:
                subcmd = cat.lookup(op[1:])
                if subcmd is None:
                    raise UnknownName(ERR_UNKNOWN)
                self._change(cat, subcmd, True)
            else:
                allowed = self.firstargs.setdefault(cmd, [])
                if not any(_lower(a) == _lower(sub) for a in allowed):
                    allowed.append(sub)
        elif op[:1] == "-" and op[1:2] != "@":
            cmd = cat.lookup(op[1:])
            if cmd is None:
                raise UnknownName(ERR_UNKNOWN)
            self._change(cat, cmd, False)
        elif op[:1] in ("+", "-") and op[1:2] == "@":
            name = _lower(op[2:])
            if name not in cat.change:
                raise UnknownName(ERR_UNKNOWN)
            allow = op[0] == "+"
            for cmd in cat.cat_commands[name]:
                self._change(cat, cmd, allow)
            if not allow:
                self.allcommands = False
        else:
            raise RuleError(ERR_SYNTAX)

    # -- checks --------------------------------------------------------------------------

    def allows_command(self, cat: Catalog, cmd, args: list) -> bool:
        if self.allcommands or cmd.no_auth or self.allowed & cat.bit[cmd]:
            return True
        allowed = self.firstargs.get(cmd)
        if not allowed or len(args) < 2:
            return False
        arg = args[2 if getattr(cmd, "parent", None) is not None else 1]
        text = _lower(arg.decode("latin-1"))
        return any(_lower(a) == text for a in allowed)

    def matchers(self) -> list:
        m = self._matchers
        if m is None:
            m = self._matchers = [(compile_glob(p.encode("latin-1")), f) for p, f in self.patterns]
        return m

    def allows_key(self, key: bytes, need: int) -> bool:
        if self.allkeys:
            return True
        for match, flags in self.matchers():
            if flags & need == need and match(key):
                return True
        return False

    def allows_all_keys(self, need: int) -> bool:
        """ACLSelectorHasUnrestrictedKeyAccess: a ``*`` pattern with the permissions."""
        if self.allkeys:
            return True
        return any(p == "*" and f & need == need for p, f in self.patterns)

    def allows_channel(self, channel: bytes, is_pattern: bool) -> bool:
        if self.allchannels:
            return True
        return channel_in_list(self.channels, channel, is_pattern)

    def check(self, cat: Catalog, cmd, args: list, keys, channels) -> tuple[int, int]:
        """ACLSelectorCheckCmd: (OK or DENIED_*, position of the refused argument).

        `keys()` and `channels()` compute [(position, need)] / [(position, is_pattern)]
        lazily; they are asked only when this selector restricts keys or channels.
        """
        if not self.allows_command(cat, cmd, args):
            return DENIED_CMD, 0
        if not self.allkeys:
            for pos, need in keys():
                if not self.allows_key(args[pos], need):
                    return DENIED_KEY, pos
        if not self.allchannels:
            for pos, is_pattern in channels():
                if not channel_in_list(self.channels, args[pos], is_pattern):
                    return DENIED_CHANNEL, pos
        return OK, 0

    # -- description ------------------------------------------------------------------------

    def describe_commands(self, cat: Catalog) -> str:
        """ACLDescribeSelectorCommandRules: +@all or -@all, then the categories that
        fit best, then single commands, reproducing exactly this selector's bits."""
        rules = []
        fake = Selector()
        additive = not self.allowed & _FUTURE_BIT
        if additive:
            rules.append("-@all")
        else:
            rules.append("+@all")
            fake.apply("+@all", cat)
        temp = self.allowed
        applied = set()
        while True:
            best = None
            mindiff, maxsame = 1 << 62, 0
            for name in CATEGORIES:
                if name in applied:
                    continue
                members = cat.members[name]
                on = bin(temp & members).count("1")
                off = bin(members).count("1") - on
                diff, same = (off, on) if additive else (on, off)
                if same > diff and (diff < mindiff or (diff == mindiff and same > maxsame)):
                    best, mindiff, maxsame = name, diff, same
            if best is None:
                break
            op = ("+@" if additive else "-@") + best
            fake.apply(op, cat)
            # temp gets the inverse rule so the next pass sees what is left to explain.
            if additive:
                temp &= ~cat.change[best]
            else:
                temp |= cat.change[best]
            rules.append(op)
            applied.add(best)
        for cmd in cat.order:
            bit = cat.bit[cmd]
            user_on = bool(self.allowed & bit)
            if user_on != bool(fake.allowed & bit):
                rules.append(("+" if user_on else "-") + cmd.fullname)
                fake._change(cat, cmd, user_on)
            if not user_on:
                for arg in self.firstargs.get(cmd, ()):
                    rules.append("+%s|%s" % (cmd.fullname, arg))
        return " ".join(rules)

    def describe_keys(self) -> str:
        if self.allkeys:
            return "~*"
        return " ".join(_pattern_text(p, f) for p, f in self.patterns)

    def describe_channels(self) -> str:
        if self.allchannels:
            return "&*"
        return " ".join("&" + c for c in self.channels)

    def describe(self, cat: Catalog) -> str:
        """ACLDescribeSelector: keys, channels, commands, as ACL LIST shows them."""
        parts = []
        if self.allkeys:
            parts.append("~*")
        else:
            parts.extend(_pattern_text(p, f) for p, f in self.patterns)
        if self.allchannels:
            parts.append("&*")
        else:
            parts.append("resetchannels")
            parts.extend("&" + c for c in self.channels)
        parts.append(self.describe_commands(cat))
        return " ".join(parts)


def _pattern_text(pattern: str, flags: int) -> str:
    if flags == ALL_PERMS:
        return "~" + pattern
    return ("%R~" if flags == READ else "%W~") + pattern


def channel_in_list(channels: list[str], channel: bytes, is_pattern: bool) -> bool:
    text = channel.decode("latin-1")
    for pattern in channels:
        if is_pattern:
            if pattern == text:
                return True
        elif compile_glob(pattern.encode("latin-1"))(channel):
            return True
    return False


def merge_selector_args(args: list[str]) -> list[str]:
    """ACLMergeSelectorArguments: ``(`` ... ``)`` spread over several words become one.

    Raises ValueError(index of the opening word) when a parenthesis is not closed.
    """
    merged: list[str] = []
    opening = -1
    current = ""
    for i, op in enumerate(args):
        if op[:1] == "(" and op[-1:] != ")":
            current = op
            opening = i
            continue
        if opening != -1:
            current += " " + op
            if op[-1:] == ")":
                opening = -1
                merged.append(current)
            continue
        merged.append(op)
    if opening != -1:
        raise ValueError(opening)
    return merged


def split_selector(text: str) -> list[str]:
    """The words inside ``(...)`` (sdssplitargs: quotes allowed)."""
    from ..server.parser import split_inline
    words = split_inline(text.encode("latin-1"))
    if words is None:
        return []
    return [w.decode("latin-1") for w in words]


class User:
    __slots__ = ("name", "enabled", "nopass", "sanitize", "passwords", "selectors", "_description")

    def __init__(self, name: str, pubsub_default_all: bool = False):
        self.name = name
        self.enabled = False
        self.nopass = False
        self.sanitize = None            # None, "sanitize-payload" or "skip-sanitize-payload"
        self.passwords: list[str] = []  # SHA-256 hex digests
        self.selectors = [Selector(root=True, allchannels=pubsub_default_all)]
        self._description = None

    def __str__(self) -> str:
        return self.name          # CLIENT LIST's user=

    @property
    def root(self) -> Selector:
        return self.selectors[0]

    @property
    def unrestricted(self) -> bool:
        """Every command, key and channel: such a user costs no check at dispatch."""
        return self.root.unrestricted

    def copy(self, name: str | None = None) -> "User":
        new = User(self.name if name is None else name)
        new.copy_from(self)
        return new

    def copy_from(self, other: "User") -> None:
        self.enabled = other.enabled
        self.nopass = other.nopass
        self.sanitize = other.sanitize
        self.passwords = list(other.passwords)
        self.selectors = [s.copy() for s in other.selectors]
        self._description = None

    def apply(self, op: str, cat: Catalog, pubsub_default_all: bool = False) -> None:
        """ACLSetUser: one rule (user flags, passwords, selectors or a root-selector rule)."""
        self._description = None
        if not op:
            return
        low = _lower(op)
        if low == "on":
            self.enabled = True
        elif low == "off":
            self.enabled = False
        elif low == "skip-sanitize-payload":
            self.sanitize = "skip-sanitize-payload"
        elif low == "sanitize-payload":
            self.sanitize = "sanitize-payload"
        elif low == "nopass":
            self.nopass = True
            self.passwords = []
        elif low == "resetpass":
            self.nopass = False
            self.passwords = []
        elif op[0] in (">", "#"):
            digest = _rule_digest(op)
            if digest not in self.passwords:
                self.passwords.append(digest)
            self.nopass = False
        elif op[0] in ("<", "!"):
            digest = _rule_digest(op)
            if digest not in self.passwords:
                raise RuleError(ERR_NO_SUCH_PASS)
            self.passwords.remove(digest)
        elif op[0] == "(" and op[-1] == ")":
            selector = Selector(allchannels=pubsub_default_all)
            for word in split_selector(op[1:-1]):
                selector.apply(word, cat)
            self.selectors.append(selector)
        elif low == "clearselectors":
            del self.selectors[1:]
        elif low == "reset":
            self.passwords = []
            self.nopass = False
            root = self.root
            root.apply("resetkeys", cat)
            root.apply("resetchannels", cat)
            if pubsub_default_all:
                root.apply("allchannels", cat)
            self.enabled = False
            self.sanitize = "sanitize-payload"
            del self.selectors[1:]
            root.apply("-@all", cat)
        else:
            self.root.apply(op, cat)

    def check_password(self, password: bytes) -> bool:
        """ACLCheckUserCredentials, after the user was found."""
        if not self.enabled:
            return False
        if self.nopass:
            return True
        digest = hash_password(password)
        ok = False
        for stored in self.passwords:
            ok |= hmac.compare_digest(stored, digest)
        return ok

    def _outcomes(self, cat: Catalog, cmd, args: list, keys, channels):
        """(selector, outcome, position) of each selector in turn; `keys()` is asked
        at most once for all of them."""
        cache = []

        def cached_keys():
            if not cache:
                cache.append(keys())
            return cache[0]

        for selector in self.selectors:
            result, pos = selector.check(cat, cmd, args, cached_keys, channels)
            yield selector, result, pos

    def check(self, cat: Catalog, cmd, args: list, keys, channels) -> tuple[int, int]:
        """ACLCheckAllUserCommandPerm: OK when a selector allows it all; else the most
        relevant refusal (channel over key over command; the later argument)."""
        error, last = DENIED_CMD, 0
        for _, result, pos in self._outcomes(cat, cmd, args, keys, channels):
            if result == OK:
                return OK, 0
            if result > error or (result == error and pos > last):
                error, last = result, pos
        return error, last

    def has_unrestricted_key_access(self, cat: Catalog, cmd, args: list, keys, need: int) -> bool:
        """ACLUserCheckCmdWithUnrestrictedKeyAccess: some selector allows the command and
        every key with `need` (SORT's BY and GET patterns require it for READ)."""
        return any(result == OK and selector.allows_all_keys(need)
                   for selector, result, _ in self._outcomes(cat, cmd, args, keys, tuple))

    def describe(self, cat: Catalog) -> str:
        """ACLDescribeUser: what ACL LIST and ACL SAVE write after ``user <name>``."""
        if self._description is None:
            parts = ["on" if self.enabled else "off"]
            if self.nopass:
                parts.append("nopass")
            if self.sanitize:
                parts.append(self.sanitize)
            parts.extend("#" + p for p in self.passwords)
            text = " ".join(parts) + " " + self.root.describe(cat)
            for selector in self.selectors[1:]:
                text += " (%s)" % selector.describe(cat)
            self._description = text
        return self._description

    def flags(self) -> list[str]:
        out = ["on" if self.enabled else "off"]
        if self.nopass:
            out.append("nopass")
        if self.sanitize == "skip-sanitize-payload":
            out.append("skip-sanitize-payload")
        elif self.sanitize:
            out.append("sanitize-payload")
        return out

    def channel_patterns(self) -> tuple[bool, list[str]]:
        """(any selector allows every channel, every channel pattern of every selector)."""
        if any(s.allchannels for s in self.selectors):
            return True, []
        return False, [c for s in self.selectors for c in s.channels]


def set_user(user: User, rules: list[str], cat: Catalog, pubsub_default_all: bool) -> User:
    """ACLStringSetUser's validation: apply `rules` to a copy; return the copy.

    Raises RuleError with Redis's full message ("Error in ACL SETUSER modifier
    '...': ..." or the unmatched parenthesis text); `user` is never touched.
    """
    try:
        merged = merge_selector_args(rules)
    except ValueError as err:
        raise RuleError("Unmatched parenthesis in acl selector starting at '%s'."
                        % rules[err.args[0]]) from None
    staged = user.copy()
    for op in merged:
        try:
            staged.apply(op, cat, pubsub_default_all)
        except RuleError as err:
            raise RuleError("Error in ACL SETUSER modifier '%s': %s" % (op, err)) from None
    return staged


def default_user(cat: Catalog) -> User:
    """ACLCreateDefaultUser: everything allowed, no password."""
    user = User("default")
    for op in ("+@all", "~*", "&*", "on", "nopass"):
        user.apply(op, cat)
    return user
