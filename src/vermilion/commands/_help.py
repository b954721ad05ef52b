"""The HELP subcommands' reply (CLIENT HELP, XINFO HELP, OBJECT HELP ...), one shape for all.

Redis's addReplyHelp: a title naming the container, the family's entries (a usage
line, then its description indented by four spaces), and HELP itself last; every
line is a status reply.
"""
from __future__ import annotations

from ..engine.replies import Status

_TAIL = (Status(b"HELP"), Status(b"    Prints this help."))


def help_reply(name: str, lines: list[str]) -> list[Status]:
    """``NAME <subcommand> ... Subcommands are:``, the entries, then HELP."""
    head = Status(b"%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:" % name.encode())
    return [head, *(Status(line.encode()) for line in lines), *_TAIL]
