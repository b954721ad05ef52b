"""Redis's glob-style pattern matcher, on bytes.

Used by KEYS, SCAN/HSCAN/SSCAN/ZSCAN MATCH, PSUBSCRIBE/PUBSUB CHANNELS and
CONFIG GET.  The semantics are those of Redis's ``stringmatchlen()``
(util.c), including its corner cases:

* ``*`` matches any run of bytes (also the empty run), ``?`` exactly one byte.
* ``\\x`` matches ``x`` literally; a lone ``\\`` at the very end of the
  pattern matches a backslash.
* ``[abc]``, ``[^abc]``, ``[a-z]``.  A reversed range ``[z-a]`` is the same as
  ``[a-z]``.  Range bounds are compared as C *signed* chars, exactly as Redis
  does on x86/ARM64 Linux, so a range with one bound >= 0x80 covers a
  surprising set (``[a-\\xff]`` is ``\\xff`` plus ``\\x00``..``a``).  Inside a
  class ``\\`` escapes the next byte, ``-`` right before ``]`` makes a range
  ending in ``]`` (``[a-]`` is the range ``]``..``a``, and then the class is
  unterminated), and ``[]`` is an empty class that never matches.
* An unterminated class (``[abc`` with no ``]``) extends to the end of the
  pattern and still matches one byte; a lone ``[`` never matches.
* ``nocase`` folds ASCII letters only (C locale ``tolower``).  Escaped bytes
  inside a class are still compared case-sensitively, as in Redis.
* The empty string is matched only by the empty pattern: ``stringmatchlen("*",
  "")`` is 0.  Redis's KEYS and SCAN treat the pattern ``*`` as "match
  everything" before calling the matcher (so an empty key name is listed);
  callers that want that behaviour must check :func:`matches_everything`
  first, exactly as Redis does.

Patterns are compiled once (LRU-cached) into a predicate.  Patterns without
wildcards become plain comparisons (equality, prefix, suffix, substring);
everything else becomes one Python ``re`` over bytes where every pattern
token consumes exactly one byte.  Between stars the pieces are matched with
atomic groups ``(?>.*?piece)``: for fixed-length pieces the leftmost
placement is always the best one, so no backtracking into earlier pieces is
ever needed and a hostile pattern such as ``*a*a*a*a*b`` stays linear-ish
(Redis guards against the same blow-up with its ``skipLongerMatches``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Callable

__all__ = ["compile_glob", "glob_match", "matches_everything"]

Matcher = Callable[[bytes], bool]

_SPECIAL = frozenset(b"*?[\\")

# Token kinds produced by _tokenize.  Every token but STAR consumes one byte.
_STAR = 0
_LITERAL = 1  # value: the byte
_ANY = 2
_CLASS = 3  # value: frozenset of matching bytes (already resolved, nocase applied)


def _signed(b: int) -> int:
    """The value a byte has as a C ``char`` (signed on the platforms Redis ships for)."""
    return b - 256 if b >= 128 else b


def _lower(c: int) -> int:
    """C-locale ``tolower`` on an int that may be negative (signed char)."""
    return c + 32 if 65 <= c <= 90 else c


def _class_set(items: list[tuple[int, int, int]], negate: bool, nocase: bool) -> frozenset[int]:
    """Resolve a bracket class to the set of bytes it matches, by asking Redis's
    rules once for every possible byte (256 x class length, at compile time only)."""
    matched = set()
    for b in range(256):
        sb = _signed(b)
        hit = False
        for kind, x, y in items:
            if kind == 0:  # escaped byte: compared case-sensitively even with nocase
                if x == b:
                    hit = True
                    break
            elif kind == 1:  # range x-y, signed-char comparison, bounds swapped if reversed
                start, end, c = _signed(x), _signed(y), sb
                if start > end:
                    start, end = end, start
                if nocase:
                    start, end, c = _lower(start), _lower(end), _lower(c)
                if start <= c <= end:
                    hit = True
                    break
            else:  # plain byte
                if (_lower(x) == _lower(b)) if nocase else (x == b):
                    hit = True
                    break
        if hit != negate:
            matched.add(b)
    return frozenset(matched)


def _tokenize(pattern: bytes, nocase: bool) -> list[tuple[int, object]]:
    """Split a pattern into tokens, walking it the way stringmatchlen does."""
    tokens: list[tuple[int, object]] = []
    n = len(pattern)
    i = 0
    while i < n:
        c = pattern[i]
        if c == 0x2A:  # '*' (runs of stars collapse into one)
            if not tokens or tokens[-1][0] != _STAR:
                tokens.append((_STAR, None))
            i += 1
        elif c == 0x3F:  # '?'
            tokens.append((_ANY, None))
            i += 1
        elif c == 0x5C:  # '\\'
            if n - i >= 2:
                tokens.append((_LITERAL, pattern[i + 1]))
                i += 2
            else:  # trailing backslash matches itself
                tokens.append((_LITERAL, c))
                i += 1
        elif c == 0x5B:  # '['
            j = i + 1
            negate = j < n and pattern[j] == 0x5E  # '^'
            if negate:
                j += 1
            items: list[tuple[int, int, int]] = []
            while True:
                rem = n - j
                if rem >= 2 and pattern[j] == 0x5C:
                    j += 1
                    items.append((0, pattern[j], 0))
                elif rem == 0:
                    # Unterminated class: Redis steps back onto the last byte so
                    # that the outer loop finishes exactly at the pattern's end.
                    j -= 1
                    break
                elif pattern[j] == 0x5D:  # ']'
                    break
                elif rem >= 3 and pattern[j + 1] == 0x2D:  # 'x-y'
                    items.append((1, pattern[j], pattern[j + 2]))
                    j += 2
                else:
                    items.append((2, pattern[j], 0))
                j += 1
            tokens.append((_CLASS, _class_set(items, negate, nocase)))
            i = j + 1
        else:
            tokens.append((_LITERAL, c))
            i += 1
    return tokens


def _byte_class_regex(members: frozenset[int]) -> bytes:
    if not members:
        return b"(?!)"
    if len(members) == 256:
        return b"."
    parts = []
    ordered = sorted(members)
    start = prev = ordered[0]
    for b in ordered[1:] + [None]:  # type: ignore[operator]
        if b is not None and b == prev + 1:
            prev = b
            continue
        if start == prev:
            parts.append(b"\\x%02x" % start)
        else:
            parts.append(b"\\x%02x-\\x%02x" % (start, prev))
        if b is not None:
            start = prev = b
    return b"[" + b"".join(parts) + b"]"


def _token_regex(kind: int, value: object, nocase: bool) -> bytes:
    if kind == _ANY:
        return b"."
    if kind == _CLASS:
        return _byte_class_regex(value)  # type: ignore[arg-type]
    b = value  # _LITERAL
    if nocase and (65 <= b <= 90 or 97 <= b <= 122):  # type: ignore[operator]
        return b"[\\x%02x\\x%02x]" % (b & ~0x20, b | 0x20)  # type: ignore[operator]
    return b"\\x%02x" % b  # type: ignore[str-format]


def _literal_fast_path(tokens: list[tuple[int, object]], nocase: bool) -> Matcher | None:
    """Plain comparisons for patterns that are literal apart from a leading and/or
    trailing star (``abc``, ``abc*``, ``*abc``, ``*abc*``, ``*``, empty)."""
    if not tokens:  # the empty pattern matches only the empty string
        return lambda s: not s
    lead = tokens[0][0] == _STAR
    trail = len(tokens) > 1 and tokens[-1][0] == _STAR
    inner = tokens[int(lead): len(tokens) - int(trail)]
    if any(kind != _LITERAL for kind, _ in inner):
        return None
    if not inner:  # "*": anything but the empty string
        return lambda s: bool(s)
    lit = bytes(value for _, value in inner)  # type: ignore[misc]
    n = len(lit)
    if nocase:
        low = lit.lower()  # bytes.lower() folds ASCII only, like C-locale tolower
        if lead and trail:
            return lambda s: low in s.lower()
        if lead:
            return lambda s: len(s) >= n and s[len(s) - n:].lower() == low
        if trail:
            return lambda s: s[:n].lower() == low
        return lambda s: len(s) == n and s.lower() == low
    if lead and trail:
        return lambda s: lit in s
    if lead:
        return lambda s: s.endswith(lit)
    if trail:
        return lambda s: s.startswith(lit)
    return lambda s: s == lit


def compile_glob(pattern: bytes, nocase: bool = False) -> Matcher:
    """Compile a Redis glob pattern into a predicate ``f(string) -> bool``.

    Same result as Redis's ``stringmatchlen(pattern, string, nocase)`` for every
    input; compiled patterns are cached, so calling this per request is cheap.
    """
    if type(pattern) is not bytes:
        pattern = bytes(pattern)
    return _compile(pattern, bool(nocase))


@lru_cache(maxsize=4096)
def _compile(pattern: bytes, nocase: bool) -> Matcher:
    tokens = _tokenize(pattern, nocase)
    fast = _literal_fast_path(tokens, nocase)
    if fast is not None:
        return fast

    # Split into fixed-length pieces separated by stars.
    pieces: list[bytes] = [b""]
    for kind, value in tokens:
        if kind == _STAR:
            pieces.append(b"")
        else:
            pieces[-1] += _token_regex(kind, value, nocase)
    if len(pieces) == 1:
        body = pieces[0]
    else:
        body = pieces[0] + b"".join(b"(?>.*?" + p + b")" for p in pieces[1:-1]) + b".*" + pieces[-1]
    fullmatch = re.compile(body, re.DOTALL).fullmatch

    def match(s: bytes) -> bool:
        # stringmatchlen never matches an empty string against a non-empty pattern.
        return bool(s) and fullmatch(s) is not None

    return match


def glob_match(pattern: bytes, string: bytes, nocase: bool = False) -> bool:
    """Redis ``stringmatchlen`` semantics: does ``string`` match ``pattern``?"""
    return compile_glob(pattern, nocase)(string)


def matches_everything(pattern: bytes) -> bool:
    """True for the pattern KEYS and SCAN short-circuit as "all keys" (``*``).

    Redis checks this before calling the matcher, which is why ``KEYS *``
    lists the empty key name while ``KEYS **`` does not.
    """
    return pattern == b"*"
