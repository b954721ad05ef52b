"""Redis's parsing of doubles where Python's own differs.

Redis parses doubles with C's ``strtod``. Python's ``float()`` accepts things
strtod refuses (``1_000``, surrounding spaces) and refuses things it accepts (hex
floats ``0x1p3``); so:

* ``strtod_prefix`` reproduces strtod: how many bytes it consumes and the value,
  with the ERANGE cases (overflow to inf, underflow to 0) reported.
* ``parse_double`` is Redis's getDoubleFromObject (ZADD scores, WEIGHTS ...).
* ``parse_range_double`` is zslParseRange's lenient strtod (leading spaces and
  the empty string are accepted, overflow gives inf).

Long doubles (``strtold``: INCRBYFLOAT, HINCRBYFLOAT, blocking timeouts) are in
``longdouble.py``.
"""
from __future__ import annotations

import math
import re

try:
    import cython
except ImportError:                 # not compiled and no Cython: the declarations do nothing
    from .. import _compiling as cython

_SPACE = b" \t\n\v\f\r"

_DEC = re.compile(rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_HEX = re.compile(rb"([+-]?)0[xX](?:([0-9a-fA-F]+)\.?([0-9a-fA-F]*)|\.([0-9a-fA-F]+))(?:[pP]([+-]?[0-9]+))?")
_INF = re.compile(rb"([+-]?)(?:inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?)", re.IGNORECASE)


def _scan_number(s: bytes, i: int):
    """Match a strtod number at s[i:]: (kind, match) or (None, None)."""
    m = _HEX.match(s, i)
    if m:
        return "hex", m
    m = _DEC.match(s, i)
    if m:
        # "1e" or "1e+" : strtod stops before the dangling exponent (the regex
        # already excludes it).
        return "dec", m
    m = _INF.match(s, i)
    if m:
        return "inf", m
    return None, None


def strtod_prefix(s: bytes, skip_space: bool = True):
    """(value, end, erange) as C strtod: end == start means nothing was parsed."""
    i = 0
    if skip_space:
        while i < len(s) and s[i] in _SPACE:
            i += 1
    kind, m = _scan_number(s, i)
    if kind is None:
        return 0.0, 0, False
    text = m.group(0)
    if kind == "inf":
        low = text.lower().lstrip(b"+-")
        value = math.nan if low.startswith(b"nan") else math.inf
        if text[:1] == b"-":
            value = -value
        return value, m.end(), False
    if kind == "hex":
        sign, whole, frac, only_frac, exp = m.groups()
        mant = (whole or b"") + b"." + (frac if whole is not None else only_frac or b"")
        hexstr = b"0x" + mant + b"p" + (exp or b"0")
        try:
            value = float.fromhex(hexstr.decode())
        except OverflowError:
            value = math.inf
        if sign == b"-":
            value = -value
        digits = (whole or b"") + (frac or b"") + (only_frac or b"")
    else:
        value = float(text)
        mant = text.split(b"e")[0].split(b"E")[0]
        digits = mant
    erange = math.isinf(value) or (value == 0.0 and any(c in b"123456789abcdefABCDEF" for c in digits))
    return value, m.end(), erange


@cython.cfunc
@cython.locals(arg=bytes, n=cython.Py_ssize_t, i=cython.Py_ssize_t, c=cython.Py_ssize_t,
               value=cython.longlong)
def _small_integer(arg: bytes):
    """The double of an optionally signed decimal integer of 1-15 digits, or None for
    any other string. strtod reads such a string to the same double: it is below 2**53,
    so the integer converts exactly (and "-0" is -0.0, as strtod gives)."""
    n = len(arg)
    if n == 0 or n > 16:
        return None
    i = 1 if arg[0] == 45 or arg[0] == 43 else 0     # "-" or "+"
    if i == n or n - i > 15:
        return None
    value = 0
    while i < n:
        c = arg[i] - 48
        if c < 0 or c > 9:
            return None
        value = value * 10 + c
        i += 1
    if arg[0] == 45:
        return -float(value)
    return float(value)


@cython.cfunc
@cython.locals(arg=bytes, n=cython.Py_ssize_t, i=cython.Py_ssize_t, c=cython.Py_ssize_t)
def _strtod_reads_whole(arg: bytes) -> cython.bint:
    """False when float() would read `arg` (not empty) but strtod would not: a space
    (_SPACE) at either end or a digit separator. (`b"_" in arg` raises and clears a
    TypeError inside CPython before it searches: this loop costs a fraction.)"""
    n = len(arg)
    c = arg[0]
    if c == 32 or 9 <= c <= 13:
        return False
    c = arg[n - 1]
    if c == 32 or 9 <= c <= 13:
        return False
    for i in range(n):
        if arg[i] == 95:        # "_"
            return False
    return True


def parse_double(arg: bytes):
    """getDoubleFromObject: the whole string, no leading space, no overflow, not NaN.

    Returns the float or None when Redis would refuse it.
    """
    if cython.compiled and type(arg) is bytes:
        # Integral scores, the usual ones, without float()'s machinery.
        value = _small_integer(arg)
        if value is not None:
            return value
    try:
        value = float(arg)
    except ValueError:
        value = None
    if value is not None:
        # Python accepts what strtod does not: spaces around, digit separators.
        if value != value or not _strtod_reads_whole(arg if type(arg) is bytes else bytes(arg)):
            return None
        if value == math.inf or value == -math.inf:
            return value if arg.lstrip(b"+-")[:1] in (b"i", b"I") else None  # overflow
        if value == 0.0 and _has_nonzero_digit(arg):
            return None    # underflow
        return value
    if not arg or arg[0] in _SPACE:
        return None
    value, end, erange = strtod_prefix(arg, skip_space=False)
    if end != len(arg) or value != value:
        return None
    if erange and (math.isinf(value) or value == 0.0):
        return None
    return value


def _has_nonzero_digit(arg: bytes) -> bool:
    mant = arg.split(b"e")[0].split(b"E")[0]
    return any(c in b"123456789" for c in mant)


def parse_range_double(arg: bytes):
    """zslParseRange's strtod: leading spaces ok, "" is 0, overflow is inf; NaN refused."""
    if not arg:
        return 0.0
    # The common case (a decimal number, inf, -inf) without the scan: without spaces
    # around or digit separators, whatever float() reads whole strtod reads whole, to
    # the same value (both round to nearest; overflow and underflow give inf and 0,
    # which this parse keeps). What float() refuses (hex floats...) takes the scan.
    if _strtod_reads_whole(arg if type(arg) is bytes else bytes(arg)):
        try:
            value = float(arg)
        except ValueError:
            pass
        else:
            return None if value != value else value
    value, end, _ = strtod_prefix(arg)
    if end != len(arg) or value != value:
        return None
    return value
