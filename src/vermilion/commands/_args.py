"""Argument parsing shared by every family: Redis's integer rules and errors.

Doubles are parsed by ``types/numeric.py`` (strtod), long doubles by
``types/longdouble.py`` (strtold).
"""
from __future__ import annotations

from typing import Callable

from ..engine.errors import NOT_INTEGER, SYNTAX, CommandError

_MAX = 2**63 - 1
_MIN = -(2**63)


def parse_int(arg: bytes, error: str = NOT_INTEGER) -> int:
    """Redis's string2ll: optional '-', digits, no '+', no spaces, no leading zeros, 64-bit."""
    n = len(arg)
    if 0 < n <= 20 and (arg.isdigit() or (arg[0] == 45 and n > 1 and arg[1:].isdigit())):
        if (arg[0] == 48 and n > 1) or (n > 2 and arg[0] == 45 and arg[1] == 48):
            raise CommandError(error)
        value = int(arg)
        if _MIN <= value <= _MAX and arg != b"-0":
            return value
    raise CommandError(error)


NUMKEYS_NOT_POSITIVE = "ERR numkeys should be greater than 0"
COUNT_NOT_POSITIVE = "ERR count should be greater than 0"


def parse_numkeys(arg: bytes) -> int:
    """numkeys of LMPOP, ZMPOP, SINTERCARD ...: an integer >= 1, one error for anything else."""
    try:
        numkeys = parse_int(arg)
    except CommandError:
        numkeys = 0
    if numkeys <= 0:
        raise CommandError(NUMKEYS_NOT_POSITIVE)
    return numkeys


def parse_mpop(args: list, first: int, direction: Callable[[bytes], bool]):
    """``numkeys key [key ...] <direction> [COUNT n]`` from args[first] (LMPOP LEFT|RIGHT,
    ZMPOP MIN|MAX and their blocking forms): (keys, direction(arg), count), count 1
    when not given. `direction` raises the syntax error for a word it does not know."""
    numkeys = parse_numkeys(args[first])
    where_idx = first + numkeys + 1
    if where_idx >= len(args):
        raise CommandError(SYNTAX)
    where = direction(args[where_idx])
    count = -1
    j = where_idx + 1
    while j < len(args):
        if count == -1 and args[j].lower() == b"count" and j + 1 < len(args):
            try:
                count = parse_int(args[j + 1])
            except CommandError:
                raise CommandError(COUNT_NOT_POSITIVE) from None
            if count <= 0:
                raise CommandError(COUNT_NOT_POSITIVE)
            j += 2
        else:
            raise CommandError(SYNTAX)
    return args[first + 1:where_idx], where, (1 if count == -1 else count)


_RANDOM_COUNT_RANGE = ("ERR value is out of range, value must between -9223372036854775807 and "
                       "9223372036854775807")


def parse_random_count(args: list, option: bytes | None = None) -> tuple[int, bool]:
    """SRANDMEMBER / HRANDFIELD / ZRANDMEMBER ``key count [option]``: (count, with option).

    Redis refuses LLONG_MIN (it negates the count), and with WITHVALUES/WITHSCORES a
    negative count whose doubled reply length would overflow.
    """
    flag = False
    if len(args) == 4 and option is not None:
        if args[3].lower() != option:
            raise CommandError(SYNTAX)
        flag = True
    elif len(args) > 3:
        raise CommandError(SYNTAX)
    count = parse_int(args[2])
    if count == _MIN:
        raise CommandError(_RANDOM_COUNT_RANGE)
    if flag and count < -(_MAX // 2):
        raise CommandError("ERR value is out of range")
    return count, flag
