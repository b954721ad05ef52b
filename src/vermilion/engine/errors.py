"""Error replies shared by every command family, with Redis 7.0's exact texts."""
from __future__ import annotations


class ProtocolError(Exception):
    """The client broke the protocol: reply ``-ERR Protocol error: ...`` and close."""


class CommandError(Exception):
    """Raised by a handler to fail the command with an error reply.

    ``message`` is the whole error line without the leading ``-``; its first word
    (``ERR``, ``WRONGTYPE``, ``BUSYGROUP`` ...) is the error code INFO errorstats counts.
    """

    __slots__ = ("message",)

    def __init__(self, message: str | bytes):
        if isinstance(message, str):
            message = message.encode()
        self.message = message
        super().__init__(message)


class CountedError(CommandError):
    """A script's error whose error stats were counted where it happened: a redis.call()
    that was refused or failed. The script command counts it as a failed call only, so
    INFO errorstats see one error (Redis's ERR_REPLY_FLAG_NO_STATS_UPDATE)."""

    __slots__ = ()


WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "ERR syntax error"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
OVERFLOW = "ERR increment or decrement would overflow"
NO_SUCH_KEY = "ERR no such key"
INVALID_EXPIRE = "ERR invalid expire time in '{}' command"
OUT_OF_RANGE = "ERR index out of range"
INVALID_DB = "ERR DB index is out of range"
NOT_POSITIVE = "ERR value is out of range, must be positive"
NAN_OR_INF = "ERR increment would produce NaN or Infinity"
NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."


def wrong_arity(name: str) -> CommandError:
    return CommandError(f"ERR wrong number of arguments for '{name}' command")


def unknown_subcommand(sub: bytes, container: str) -> CommandError:
    return CommandError(
        "ERR unknown subcommand '%s'. Try %s HELP." % (_shown(sub, 128), container.upper())
    )


def subcommand_syntax(args: list) -> CommandError:
    """addReplySubcommandSyntaxError: the subcommand as sent (``%.128s``, so cut at
    128 bytes or a NUL) and the container upper-cased: a known subcommand with the
    wrong arguments (PUBSUB NUMPAT x, FUNCTION RESTORE a b c)."""
    return CommandError(b"ERR unknown subcommand or wrong number of arguments for '%s'. Try %s HELP."
                        % (args[1][:128].split(b"\0", 1)[0], args[0].upper()))


def _shown(arg: bytes, limit: int) -> str:
    # Redis prints at most `limit` bytes of a client's argument inside error texts.
    return arg[:limit].decode("utf-8", "replace")


def unknown_command(args: list) -> CommandError:
    # Redis quotes arguments while the text so far is shorter than 128 bytes,
    # each cut to the room that is left.
    shown = b""
    for arg in args[1:]:
        if len(shown) >= 128:
            break
        shown += b"'" + arg[: 128 - len(shown)] + b"' "
    name = args[0][:128] if args else b""
    return CommandError(b"ERR unknown command '" + name + b"', with args beginning with: " + shown)
