"""LOLWUT [VERSION v] [args ...]: Redis's computer art (types/lolwut.py).

As in Redis 7.0, the art depends on the version asked for, not on the server's:
``VERSION 5`` (and 4.9) draws Schotter, ``VERSION 6`` (and 5.9) the skyline, and
anything else, including no VERSION, answers "Redis ver. 7.0.15" only. The
version is read as a C long and printed as an unsigned int (so 2**32 + 5 is 5).
The art's randomness comes from one glibc-style ``rand()`` per engine, seeded
at startup as redis-server seeds its own.
"""
from __future__ import annotations

from .. import REDIS_VERSION
from ..engine.engine import extension
from ..engine.errors import NOT_INTEGER
from ..engine.replies import Verbatim
from ..engine.table import command
from ..types import lolwut as art
from ._args import parse_int


@extension
def _install(engine) -> None:
    engine.lolwut_random = art.server_random()


def _long_args(args: list, defaults: list[int], limits: list[tuple[int, int]]) -> list[int]:
    values = list(defaults)
    for i in range(len(defaults)):
        if len(args) > i + 1:
            values[i] = parse_int(args[i + 1], NOT_INTEGER)
    return [min(max(v, lo), hi) for v, (lo, hi) in zip(values, limits)]


@command("lolwut", arity=-1, flags="readonly fast", acl="", group="server", since="5.0.0",
         summary="Displays computer art and the Redis version",
         args="[VERSION=version:i]")
def lolwut(client, args):
    version = REDIS_VERSION
    if len(args) >= 3 and args[1].lower() == b"version":
        version = "%d.0.0" % (parse_int(args[2], NOT_INTEGER) & 0xFFFFFFFF)
        args = args[2:]
    rng = client.engine.lolwut_random
    if version[:2] == "5." and version[2:3] != "9" or version[:3] == "4.9":
        cols, per_row, per_col = _long_args(args, [66, 8, 12], [(1, 1000), (1, 200), (1, 200)])
        return Verbatim(art.version5(rng, cols, per_row, per_col, REDIS_VERSION))
    if version[:2] == "6." and version[2:3] != "9" or version[:3] == "5.9":
        cols, rows = _long_args(args, [80, 20], [(1, 1000), (1, 1000)])
        return Verbatim(art.version6(rng, cols, rows, REDIS_VERSION))
    return Verbatim(b"Redis ver. " + REDIS_VERSION.encode() + b"\n")
