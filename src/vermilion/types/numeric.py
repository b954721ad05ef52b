"""Redis's number parsing and formatting where Python's own differs.

Redis parses doubles with C's ``strtod`` and ``long double`` values (HINCRBYFLOAT,
INCRBYFLOAT) with ``strtold`` on x86-64's 80-bit extended format. Python's
``float()`` accepts things strtod refuses (``1_000``, surrounding spaces) and
refuses things it accepts (hex floats ``0x1p3``), and it has no 80-bit type; so:

* ``strtod_prefix`` reproduces strtod: how many bytes it consumes and the value,
  with the ERANGE cases (overflow to inf, underflow to 0) reported.
* ``parse_double`` is Redis's getDoubleFromObject (ZADD scores, WEIGHTS ...).
* ``parse_range_double`` is zslParseRange's lenient strtod (leading spaces and
  the empty string are accepted, overflow gives inf).
* Long doubles are exact ``Fraction``s rounded to a 64-bit significand after each
  operation, which is what the x87 unit computes; ``format_long_double`` prints
  them the way Redis's ld2string(LD_STR_HUMAN) does (``%.17Lf``, trailing zeros
  trimmed).
"""
from __future__ import annotations

import math
import re
from fractions import Fraction

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


def parse_double(arg: bytes):
    """getDoubleFromObject: the whole string, no leading space, no overflow, not NaN.

    Returns the float or None when Redis would refuse it.
    """
    try:
        value = float(arg)
    except ValueError:
        value = None
    if value is not None:
        # Python accepts what strtod does not: spaces around, digit separators.
        if arg[0] in _SPACE or arg[-1] in _SPACE or b"_" in arg or value != value:
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
    value, end, _ = strtod_prefix(arg)
    if end != len(arg) or value != value:
        return None
    return value


# -- long double (x87 80-bit) ----------------------------------------------------------------

_LD_MANT = 64
_LD_MAX_EXP = 16384


_LD_MIN_QUANTUM = -16445        # exponent of the smallest subnormal (2**-16445)


def round_long_double(value: Fraction):
    """Round an exact rational to the nearest 80-bit extended value (ties to even).

    Returns a Fraction (0 when it underflows), or +/-inf (a float) on overflow.
    """
    if value == 0:
        return Fraction(0)
    neg = value < 0
    a = -value if neg else value
    num, den = a.numerator, a.denominator
    e = num.bit_length() - den.bit_length()
    if (num << -e if e < 0 else num) < (den << e if e > 0 else den):
        e -= 1                              # now 2**e <= a < 2**(e+1)
    if e >= _LD_MAX_EXP:
        return -math.inf if neg else math.inf
    qexp = max(e - (_LD_MANT - 1), _LD_MIN_QUANTUM)   # 64 significant bits, fewer if subnormal
    n, d = (num << -qexp, den) if qexp < 0 else (num, den << qexp)
    q, r = divmod(n, d)
    if 2 * r > d or (2 * r == d and q & 1):
        q += 1
    if q == 0:
        return Fraction(0)
    result = Fraction(q, 1 << -qexp) if qexp < 0 else Fraction(q << qexp)
    if q.bit_length() + qexp > _LD_MAX_EXP:
        return -math.inf if neg else math.inf
    return -result if neg else result


def parse_long_double(arg: bytes):
    """strtold as Redis's string2ld uses it: the whole string, no leading space, no
    overflow or underflow to zero, not NaN. Returns a Fraction, +/-inf, or None.
    """
    if not arg or len(arg) >= 5 * 1024 or arg[0] in _SPACE:
        return None
    kind, m = _scan_number(arg, 0)
    if kind is None or m.end() != len(arg):
        return None
    text = m.group(0)
    if kind == "inf":
        if text.lstrip(b"+-")[:1] in (b"n", b"N"):
            return None
        return -math.inf if text[:1] == b"-" else math.inf
    if kind == "hex":
        sign, whole, frac, only_frac, exp = m.groups()
        if whole is not None:
            digits, frac_len = whole + frac, len(frac)
        else:
            digits, frac_len = only_frac, len(only_frac)
        exact = Fraction(int(digits, 16), 16 ** frac_len)
        power = max(min(int(exp or b"0"), 40000), -40000)   # beyond that: inf or 0 anyway
        exact = exact * (1 << power) if power >= 0 else exact / (1 << -power)
        if sign == b"-":
            exact = -exact
    else:
        exact = _exact_decimal(text)
    value = round_long_double(exact)
    if isinstance(value, float):
        return None         # ERANGE: overflow
    if value == 0 and exact != 0:
        return None         # ERANGE: underflow to zero
    return value


def add_long_double(a, b):
    """a + b in long double arithmetic; None when the result is NaN or infinite."""
    if isinstance(a, float) or isinstance(b, float):
        return None         # an infinity is involved: the sum is inf or NaN
    result = round_long_double(a + b)
    return None if isinstance(result, float) else result


def format_long_double(value: Fraction) -> bytes:
    """ld2string(LD_STR_HUMAN): "%.17Lf" with trailing zeros (and a bare '.') removed."""
    neg = value < 0
    a = -value if neg else value
    scaled = a * 10 ** 17
    q, r = divmod(scaled.numerator, scaled.denominator)
    twice = 2 * r
    if twice > scaled.denominator or (twice == scaled.denominator and q & 1):
        q += 1
    digits = _decimal_digits(q).rjust(18, "0")
    text = digits[:-17] + "." + digits[-17:]
    text = text.rstrip("0").rstrip(".")
    if neg:
        text = "-" + text
    if text == "-0":
        text = "0"
    return text.encode()


def _decimal_digits(n: int) -> str:
    """str(n) for a non-negative int of any size (Python caps str() at 4300 digits)."""
    if n < 10**4000:
        return str(n)
    chunk = 10**1000
    parts = []
    while n:
        n, rest = divmod(n, chunk)
        parts.append(rest)
    head = str(parts.pop())
    return head + "".join(str(p).rjust(1000, "0") for p in reversed(parts))


def _int_of(digits: bytes) -> int:
    """int(digits) for any length (Python caps int() of text at 4300 digits)."""
    if len(digits) < 4000:
        return int(digits) if digits else 0
    value = 0
    for i in range(0, len(digits), 1000):
        piece = digits[i:i + 1000]
        value = value * 10 ** len(piece) + int(piece)
    return value


def _exact_decimal(text: bytes) -> Fraction:
    """The exact value of a decimal strtod literal ([+-]digits[.digits][e[+-]digits])."""
    neg = text[:1] == b"-"
    body = text.lstrip(b"+-")
    mant, _, exp = body.lower().partition(b"e")
    whole, _, frac = mant.partition(b".")
    power = (int(exp) if exp else 0) - len(frac)
    digits = (whole + frac).lstrip(b"0")
    if not digits:
        return Fraction(0)
    magnitude = power + len(digits)          # value < 10**magnitude
    if magnitude > 5000:                     # far past LDBL_MAX: overflows when rounded
        return Fraction(-(10**5000) if neg else 10**5000)
    if magnitude < -5000:                    # far below the smallest subnormal
        return Fraction(-1 if neg else 1, 10**5000)
    n = _int_of(digits)
    value = Fraction(n * 10 ** power) if power >= 0 else Fraction(n, 10 ** -power)
    return -value if neg else value
