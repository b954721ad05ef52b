"""Argument parsing shared by every family: Redis's integer/float rules and errors."""
from __future__ import annotations

import math

from ..engine.errors import NOT_FLOAT, NOT_INTEGER, SYNTAX, CommandError

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


def parse_float(arg: bytes, error: str = NOT_FLOAT) -> float:
    """Redis's strtold-based parsing: no spaces, 'inf'/'-inf' allowed, NaN refused."""
    if not arg or arg[0] in b" \t\r\n\v\f" or arg[-1] in b" \t\r\n\v\f":
        raise CommandError(error)
    try:
        value = float(arg)
    except ValueError:
        raise CommandError(error) from None
    if math.isnan(value):
        raise CommandError(error)
    if b"_" in arg:  # Python accepts digit separators; strtod does not
        raise CommandError(error)
    return value


def syntax_error() -> CommandError:
    return CommandError(SYNTAX)


def upper(arg: bytes) -> bytes:
    return arg.upper()
