"""Tests for vermilion.types.glob: unit cases, a slow reference model of
Redis's stringmatchlen checked with hypothesis, and a differential test that
compares KEYS results of a real redis-server with the matcher."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
from hypothesis import given, settings, strategies as st

from vermilion.types.glob import compile_glob, glob_match, matches_everything


# ---------------------------------------------------------------------------
# A deliberately naive model of Redis's matcher, written from its documented
# behaviour: one recursive walk, no compilation.  Exponential on hostile
# inputs, so only used with short strings.

def _signed(b: int) -> int:
    return b - 256 if b >= 128 else b


def _low(c: int) -> int:
    return c + 32 if 65 <= c <= 90 else c


def reference_match(p: bytes, s: bytes, nocase: bool = False) -> bool:
    def eq(a: int, b: int) -> bool:
        return _low(a) == _low(b) if nocase else a == b

    def rec(pi: int, si: int) -> bool:
        while pi < len(p) and si < len(s):
            c = p[pi]
            if c == ord("*"):
                while pi + 1 < len(p) and p[pi + 1] == ord("*"):
                    pi += 1
                if pi == len(p) - 1:
                    return True
                return any(rec(pi + 1, k) for k in range(si, len(s)))
            if c == ord("?"):
                si += 1
            elif c == ord("["):
                pi += 1
                neg = pi < len(p) and p[pi] == ord("^")
                if neg:
                    pi += 1
                hit = False
                while True:
                    rem = len(p) - pi
                    if rem >= 2 and p[pi] == ord("\\"):
                        pi += 1
                        hit |= p[pi] == s[si]
                    elif rem == 0:
                        pi -= 1
                        break
                    elif p[pi] == ord("]"):
                        break
                    elif rem >= 3 and p[pi + 1] == ord("-"):
                        lo, hi, ch = _signed(p[pi]), _signed(p[pi + 2]), _signed(s[si])
                        if lo > hi:
                            lo, hi = hi, lo
                        if nocase:
                            lo, hi, ch = _low(lo), _low(hi), _low(ch)
                        hit |= lo <= ch <= hi
                        pi += 2
                    else:
                        hit |= eq(p[pi], s[si])
                    pi += 1
                if hit == neg:
                    return False
                si += 1
            else:
                if c == ord("\\") and len(p) - pi >= 2:
                    pi += 1
                if not eq(p[pi], s[si]):
                    return False
                si += 1
            pi += 1
            if si == len(s):
                while pi < len(p) and p[pi] == ord("*"):
                    pi += 1
                break
        return pi == len(p) and si == len(s)

    return rec(0, 0)


# ---------------------------------------------------------------------------
# Unit cases

CASES = [
    # pattern, string, expected
    (b"", b"", True),
    (b"", b"a", False),
    (b"*", b"", False),  # stringmatchlen("*", "") is 0 (KEYS special-cases "*")
    (b"**", b"", False),
    (b"*", b"anything", True),
    (b"***", b"x", True),
    (b"a*", b"a", True),
    (b"a*", b"abc", True),
    (b"a*", b"ba", False),
    (b"*a", b"bca", True),
    (b"*a", b"ab", False),
    (b"*b*", b"abc", True),
    (b"*b*", b"ac", False),
    (b"a*c", b"ac", True),
    (b"a*c", b"abbbc", True),
    (b"a*c", b"abbbcd", False),
    (b"a*b*c", b"axbxc", True),
    (b"a*b*c", b"axcxb", False),
    (b"h?llo", b"hello", True),
    (b"h?llo", b"hllo", False),
    (b"?", b"", False),
    (b"??", b"\x00\xff", True),
    (b"h[ae]llo", b"hallo", True),
    (b"h[ae]llo", b"hillo", False),
    (b"h[^e]llo", b"hallo", True),
    (b"h[^e]llo", b"hello", False),
    (b"h[a-b]llo", b"hbllo", True),
    (b"h[a-b]llo", b"hcllo", False),
    (b"h[z-a]llo", b"hqllo", True),  # reversed range
    (b"[0-9][0-9]", b"42", True),
    (b"[0-9]", b"a", False),
    (b"\\*", b"*", True),
    (b"\\*", b"a", False),
    (b"\\?x", b"?x", True),
    (b"\\[a]", b"[a]", True),
    (b"\\\\", b"\\", True),
    (b"a\\", b"a\\", True),  # trailing backslash is literal
    (b"[\\]]", b"]", True),
    (b"[\\^a]", b"^", True),
    (b"[\\-]", b"-", True),
    (b"[a-]", b"^", True),  # range 'a'..']' reversed -> ']'..'a', class unterminated
    (b"[a-]", b"-", False),
    (b"[]a]", b"a]", False),  # "[]" is an empty class
    (b"[]", b"x", False),
    (b"[^]", b"x", True),
    (b"[abc", b"b", True),  # unterminated class runs to the end
    (b"[abc", b"d", False),
    (b"[abc", b"bc", False),
    (b"[^", b"z", True),
    (b"[", b"[", False),
    (b"[", b"", False),
    (b"x[", b"x", False),
    (b"[\\", b"\\", True),
    (b"[a\\", b"\\", True),
    (b"[\\a", b"a", True),
    (b"a[", b"a[", False),
    (b"[a-\xff]", b"\xff", True),  # signed-char bounds: -1..97
    (b"[a-\xff]", b"\x00", True),
    (b"[a-\xff]", b"b", False),
    (b"[a-\xff]", b"\x80", False),
    (b"[\x80-\xfe]", b"\x90", True),
    (b"[\x00-\x02]", b"\x01", True),
    (b"a\x00b", b"a\x00b", True),
    (b"*\x00", b"x\x00", True),
    (b"\xff*", b"\xff\xfe", True),
    (b"*.*", b"a.b", True),  # regex metacharacters are literal
    (b"a.c", b"abc", False),
    (b"(a|b)", b"(a|b)", True),
    (b"a+", b"aa", False),
    (b"$^", b"$^", True),
    (b"line\n*", b"line\nnext\n", True),
    (b"*\n", b"abc\n", True),
]


@pytest.mark.parametrize("pattern,string,expected", CASES)
def test_cases(pattern: bytes, string: bytes, expected: bool) -> None:
    assert glob_match(pattern, string) is expected
    assert reference_match(pattern, string) is expected


NOCASE_CASES = [
    (b"HELLO", b"hello", True),
    (b"h*O", b"HellO", True),
    (b"*LL*", b"hello", True),
    (b"he*", b"HEllo", True),
    (b"*LO", b"hello", True),
    (b"h?LLO", b"HeLlo", True),
    (b"[A-C]x", b"bX", True),
    (b"[a-c]", b"B", True),
    (b"[^A]", b"a", False),
    (b"[\\A]", b"a", False),  # escaped bytes stay case-sensitive
    (b"[\\A]", b"A", True),
    (b"[A-z]", b"_", False),  # bounds lowered after the swap: a..z only
    (b"[A-z]", b"Q", True),
    (b"\xc9", b"\xe9", False),  # only ASCII letters fold
    (b"x", b"X", True),
]


@pytest.mark.parametrize("pattern,string,expected", NOCASE_CASES)
def test_nocase(pattern: bytes, string: bytes, expected: bool) -> None:
    assert glob_match(pattern, string, nocase=True) is expected
    assert reference_match(pattern, string, nocase=True) is expected


def test_case_sensitive_by_default() -> None:
    assert not glob_match(b"HELLO", b"hello")
    assert not glob_match(b"[A-C]", b"b")
    assert glob_match(b"[A-z]", b"_")


def test_compile_is_cached_and_reusable() -> None:
    m = compile_glob(b"user:*:name")
    assert m is compile_glob(b"user:*:name")
    assert m(b"user:42:name") and not m(b"user:42:age")
    assert compile_glob(b"a*", True) is not compile_glob(b"a*", False)


def test_bytearray_and_memoryview_pattern_inputs() -> None:
    assert glob_match(bytearray(b"a*"), b"abc")
    assert compile_glob(memoryview(b"*b?"))(b"abc")
    assert compile_glob(bytearray(b"x")) is compile_glob(b"x")


def test_matches_everything() -> None:
    assert matches_everything(b"*")
    assert not matches_everything(b"**")
    assert not matches_everything(b"a*")


def test_hostile_pattern_is_fast() -> None:
    # Exponential for a naive backtracking matcher; must stay quick here.
    pattern = b"*a" * 30 + b"*b"
    m = compile_glob(pattern)
    t0 = time.perf_counter()
    assert not m(b"a" * 20000)
    assert m(b"a" * 100 + b"b")
    assert time.perf_counter() - t0 < 1.0


_ALPHABET = b"ab*?[]^-\\\x00\xffA"


@settings(max_examples=400, deadline=None)
@given(
    st.binary(max_size=8).map(lambda b: bytes(_ALPHABET[x % len(_ALPHABET)] for x in b)),
    st.binary(max_size=7).map(lambda b: bytes(b"abA-]^\\[\x00\xff*"[x % 11] for x in b)),
    st.booleans(),
)
def test_against_reference_model(pattern: bytes, string: bytes, nocase: bool) -> None:
    assert glob_match(pattern, string, nocase) == reference_match(pattern, string, nocase)


# ---------------------------------------------------------------------------
# Differential test against a real redis-server: KEYS <pattern>.

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def real_redis():
    exe = shutil.which("redis-server")
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is required on PATH when CI=true")
        pytest.skip("redis-server not on PATH")
    redis = pytest.importorskip("redis")
    port = _free_port()
    tmp = tempfile.mkdtemp(prefix="vermilion-glob-")
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", tmp],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    try:
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.02)
        yield client
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


AWKWARD_KEYS = [
    b"", b"a", b"b", b"A", b"ab", b"abc", b"aBc", b"hello", b"hallo", b"hxllo", b"hllo",
    b"heeello", b"*", b"?", b"[", b"]", b"[a]", b"\\", b"a\\", b"\\*", b"-", b"^", b"a-b",
    b"\x00", b"a\x00b", b"\xff", b"\x80", b"\xfe\xff", b"\x7f", b"\x01", b"_", b"`", b"z",
    b"Z", b"user:1:name", b"user:22:name", b"user::name", b"user:1:age", b"line\nbreak",
    b" ", b"a b", b"}", b"{", b"|", b"0", b"9", b"09", b".", b"a.c",
]

HAND_PATTERNS = [
    b"*", b"**", b"?", b"??", b"a*", b"*a", b"*b*", b"a?c", b"h?llo", b"h*llo", b"h[ae]llo",
    b"h[^e]llo", b"h[a-b]llo", b"h[z-a]llo", b"[", b"[]", b"[]a]", b"[^]", b"[abc", b"[^",
    b"\\", b"a\\", b"\\*", b"\\?", b"\\[a]", b"[\\]]", b"[\\", b"[a-]", b"[-a]", b"[a-\xff]",
    b"[\x80-\xff]", b"[\x00-\x01]", b"a\x00*", b"*\x00*", b"[\x00]", b"user:*:name",
    b"user:?:name", b"user:[0-9]*:name", b"*:*:*", b"[A-z]", b"[Z-a]", b"[^a-z]", b"line\n*",
    b"*\n*", b"[ -/]", b"*[", b"a[", b"[[]", b"[]]", b"[!a]", b"*.*", b"[0-9][0-9]",
    b"\xff", b"[\xff]", b"?\x00?", b"[a-c-e]", b"[---]", b"[\\-]", b"[a\\-z]",
]


def test_differential_keys(real_redis) -> None:
    r = real_redis
    r.flushall()
    pipe = r.pipeline(transaction=False)
    for k in AWKWARD_KEYS:
        pipe.set(k, b"1")
    pipe.execute()
    rng = random.Random(7)
    alphabet = b"ab*?[]^-\\\x00\xffhel:0AZz_`"
    patterns = list(HAND_PATTERNS)
    for _ in range(300):
        patterns.append(bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 6))))
    mismatches = []
    for pat in patterns:
        got = set(r.execute_command("KEYS", pat))
        if matches_everything(pat):
            want = set(AWKWARD_KEYS)
        else:
            m = compile_glob(pat)
            want = {k for k in AWKWARD_KEYS if m(k)}
        if got != want:
            mismatches.append((pat, sorted(got ^ want)))
    assert not mismatches


def test_differential_config_get_nocase(real_redis) -> None:
    """CONFIG GET matches parameter names with nocase=1."""
    r = real_redis
    raw = r.execute_command("CONFIG", "GET", "*")
    items = raw.items() if isinstance(raw, dict) else zip(raw[::2], raw[1::2])
    names = {k if isinstance(k, bytes) else k.encode() for k, _ in items}
    patterns = [b"MAXMEMORY*", b"*Max*", b"s?ve", b"[A-C]*", b"*-[M-N]*", b"Stream-Node-*",
                b"*ENTRIES", b"[^a-z]*", b"*[\\-]*", b"p?RT", b"lua-*", b"[z-a]*"]
    for pat in patterns:
        raw = r.execute_command("CONFIG", "GET", pat)
        items = raw.items() if isinstance(raw, dict) else zip(raw[::2], raw[1::2])
        got = {k if isinstance(k, bytes) else k.encode() for k, _ in items}
        m = compile_glob(pat, nocase=True)
        assert got == {n for n in names if m(n)}, pat
