"""x87 extended precision ("long double") arithmetic, as INCRBYFLOAT, HINCRBYFLOAT and
the blocking commands' timeouts (BLPOP 0.5) see it. The only long double code: plain
doubles (strtod, ZADD scores) are in ``numeric.py``.

Redis parses both operands with strtold, adds them as 80-bit long doubles (64-bit
significand, 15-bit exponent on x86-64) and prints the sum with ``%.17Lf`` before
stripping trailing zeros. A Python float (53-bit) gives different digits, e.g.
ten times ``INCRBYFLOAT k 0.1`` is ``1`` in Redis and ``0.9999999999999999`` in
doubles, and ``1e400`` is finite. So values are kept exactly as ``(m, e)`` pairs,
meaning ``m * 2**e`` with ``|m| < 2**64``, and every step rounds like the FPU:
to nearest, ties to even, with gradual underflow below ``2**-16382``.

Guarantees: ``parse`` accepts exactly what Redis's string2ld accepts (glibc strtold
grammar, whole string, no leading space, no NaN, no overflow or underflow to zero,
shorter than 5120 bytes); ``add`` and ``format_human`` are bit-exact with glibc on
x86-64. Infinity is returned as the float ``INF`` so callers can test ``is INF``.
"""
from __future__ import annotations

import re

INF = float("inf")
NEG_INF = float("-inf")

_MANT_BITS = 64
_MIN_EXP = -16445            # the least significant bit of the smallest subnormal
_OVERFLOW_BITS = 16384       # values >= 2**16384 are infinite
_MAX_CHARS = 5 * 1024        # MAX_LONG_DOUBLE_CHARS in Redis

# strtold's grammar (C locale). The whole argument must match; a prefix match
# would leave `eptr` short of the end, which Redis refuses.
_DECIMAL = re.compile(rb"([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\Z")
_HEX = re.compile(rb"([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?\Z")
_INF = re.compile(rb"([+-]?)(?:inf|infinity)\Z", re.IGNORECASE)


def _int(digits: bytes, base: int = 10) -> int:
    """int(digits) for any length (Python refuses > 4300 decimal digits in one go)."""
    if len(digits) <= 4000:
        return int(digits, base) if digits else 0
    head, tail = digits[:-4000], digits[-4000:]
    return _int(head, base) * base ** 4000 + int(tail, base)


_CHUNK = 10 ** 4000


def _decimal(n: int) -> bytes:
    """The decimal digits of n >= 0, for any size."""
    if n < _CHUNK:
        return b"%d" % n
    high, low = divmod(n, _CHUNK)
    return _decimal(high) + (b"%d" % low).rjust(4000, b"0")


def _exponent(text: bytes | None) -> int:
    # Exponents beyond a billion only matter by their sign: the value is 0 or infinite.
    if not text:
        return 0
    digits = text.lstrip(b"+-").lstrip(b"0")
    value = (int(digits) if digits else 0) if len(digits) < 10 else 10 ** 9
    return -value if text[:1] == b"-" else value


def _round(num: int, den: int):
    """num/den (den > 0) rounded to the nearest long double, ties to even."""
    if num == 0:
        return (0, 0)
    negative = num < 0
    a = -num if negative else num
    # floor(log2(a/den)), then the exponent of the significand's last bit.
    k = a.bit_length() - den.bit_length()
    if (a >= den << k) if k >= 0 else ((a << -k) >= den):
        top = k
    else:
        top = k - 1
    e = max(top - (_MANT_BITS - 1), _MIN_EXP)
    if e >= 0:
        q, r = divmod(a, den << e)
        half = den << e
    else:
        q, r = divmod(a << -e, den)
        half = den
    twice = 2 * r
    if twice > half or (twice == half and q & 1):
        q += 1
    if q == 0:
        return (0, 0)
    if q.bit_length() > _MANT_BITS:
        q >>= 1
        e += 1
    if q and e + q.bit_length() > _OVERFLOW_BITS:
        return NEG_INF if negative else INF
    return (-q if negative else q, e)


def _from_decimal(digits: bytes, exp10: int):
    mant = _int(digits)
    if mant == 0:
        return (0, 0)
    magnitude = len(digits.lstrip(b"0")) + exp10     # value < 10**magnitude
    if magnitude > 4934:
        return INF
    if magnitude < -4953:
        return None                                   # underflows to zero: ERANGE
    value = _round(mant * 10 ** exp10, 1) if exp10 >= 0 else _round(mant, 10 ** -exp10)
    return None if value == (0, 0) else value


def parse(arg: bytes):
    """The long double strtold reads from `arg`, or None where Redis says "not a valid float".

    Returns an ``(m, e)`` pair, or INF / NEG_INF.
    """
    if not arg or len(arg) >= _MAX_CHARS:
        return None
    m = _DECIMAL.match(arg)
    if m is not None:
        sign, whole, frac, exp = m.groups()
        frac = frac or b""
        if not whole and not frac:
            return None
        value = _from_decimal(whole + frac, _exponent(exp) - len(frac))
    else:
        m = _HEX.match(arg)
        if m is not None:
            sign, whole, frac, exp = m.groups()
            frac = frac or b""
            if not whole and not frac:
                return None
            mant = _int(whole + frac, 16)
            exp2 = _exponent(exp) - 4 * len(frac)
            if mant == 0:
                value = (0, 0)
            elif exp2 + mant.bit_length() > _OVERFLOW_BITS + 1:
                value = INF
            elif exp2 + mant.bit_length() < _MIN_EXP - 1:
                value = None
            else:
                value = _round(mant << exp2, 1) if exp2 >= 0 else _round(mant, 1 << -exp2)
                if value == (0, 0):
                    value = None
        else:
            m = _INF.match(arg)
            if m is None:
                return None
            return NEG_INF if m.group(1) == b"-" else INF
    if value is None or value is INF:
        return None              # strtold's ERANGE: overflow (HUGE_VAL) or underflow to zero
    if value == (0, 0) or sign != b"-":
        return value
    return (-value[0], value[1])


def is_inf(value) -> bool:
    return value is INF or value is NEG_INF


def add(x, y):
    """x + y rounded to a long double (INF / NEG_INF on overflow, None for NaN)."""
    if is_inf(x) or is_inf(y):
        if is_inf(x) and is_inf(y) and x is not y:
            return None
        return x if is_inf(x) else y
    (m1, e1), (m2, e2) = x, y
    e = min(e1, e2)
    total = (m1 << (e1 - e)) + (m2 << (e2 - e))
    if e >= 0:
        return _round(total << e, 1)
    return _round(total, 1 << -e)


def scale(value, factor: int):
    """value * factor rounded to a long double (INF / NEG_INF on overflow)."""
    if is_inf(value):
        return value if factor > 0 else (NEG_INF if value is INF else INF)
    m, e = value
    if e >= 0:
        return _round((m * factor) << e, 1)
    return _round(m * factor, 1 << -e)


def ceil(value) -> int:
    """ceill() of a finite long double, as an int."""
    m, e = value
    return m << e if e >= 0 else -((-m) >> -e)


def format_human(value) -> bytes:
    """Redis's ld2string(LD_STR_HUMAN): ``%.17Lf`` without trailing zeros; ``-0`` is ``0``."""
    if value is INF:
        return b"inf"
    if value is NEG_INF:
        return b"-inf"
    m, e = value
    a = -m if m < 0 else m
    scaled = a * 100000000000000000          # 10**17: the 17 decimals of %.17Lf
    if e >= 0:
        n = scaled << e
    else:
        n, r = divmod(scaled, 1 << -e)
        twice = 2 * r
        if twice > (1 << -e) or (twice == (1 << -e) and n & 1):
            n += 1
    text = _decimal(n).rjust(18, b"0")
    text = (text[:-17] + b"." + text[-17:]).rstrip(b"0")
    if text.endswith(b"."):
        text = text[:-1]
    if m < 0 and text != b"0":
        text = b"-" + text
    return text
