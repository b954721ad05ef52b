"""Small pure helpers shared by every pattern: key naming, backoff, decoding.

Nothing here talks to a server, so both faces (sync and asyncio) use it as is.
"""

from __future__ import annotations

import gc
import os
import random
import socket
import threading
import uuid
from contextlib import contextmanager
from typing import Any, Iterator


def to_str(value: Any) -> Any:
    """Decode a reply value whatever the client's ``decode_responses`` setting is."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode()
    return str(value)


def has_hash_tag(key: str) -> bool:
    """True if Redis Cluster would hash only part of ``key`` (a non-empty ``{...}``)."""
    start = key.find("{")
    if start < 0:
        return False
    end = key.find("}", start + 1)
    return end > start + 1


def tagged(prefix: str, name: str) -> str:
    """Build the base key of one pattern instance: ``prefix{name}``.

    Every key an instance uses starts with this base, so all of them hash to one
    Redis Cluster slot and multi-key scripts work there. A name that already holds
    a hash tag is kept as is, so callers can choose the slot themselves.
    """
    if has_hash_tag(name):
        return prefix + name
    if "}" in name:
        raise ValueError(f"name {name!r} has a '}}' but no usable hash tag")
    return f"{prefix}{{{name}}}"


def colocated(key: str, suffix: str) -> str:
    """A key that hashes to the same cluster slot as ``key`` (which we cannot rename).

    ``events`` -> ``{events}:dead``: the tag ``{events}`` hashes exactly like the
    tag-less key ``events``. A key with its own tag keeps it: ``a{b}`` -> ``a{b}:dead``.
    """
    if has_hash_tag(key):
        return key + suffix
    if "}" in key:
        raise ValueError(f"key {key!r} has a '}}' but no usable hash tag; add one")
    return f"{{{key}}}{suffix}"


def backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random.

    The fixed half keeps retries from hammering; the random half spreads clients
    that failed together so they do not retry in lockstep.
    """
    delay: float = min(cap, base * (2 ** max(0, attempt)))
    return delay / 2 + random.uniform(0, delay / 2)


def new_token() -> str:
    """A value no other client will produce: 128 random bits, hex."""
    return uuid.uuid4().hex


def default_consumer_name() -> str:
    """host-pid-random: readable in XINFO CONSUMERS, unique across restarts."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def ms(seconds: float) -> int:
    """Seconds (float, our public unit) to whole milliseconds (the wire unit), at least 1."""
    return max(1, int(round(seconds * 1000)))


# gc_paused: how many threads are inside, and whether the collector was on when
# the first of them came in.
_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_resume = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold back Python's cyclic garbage collector while a large reply is parsed
    and turned into objects.

    A reply of hundreds of stream entries allocates thousands of lists at once;
    collections triggered in the middle of that find them all alive, promote them
    to older generations and soon run full collections over the whole process
    heap, which cost several times the parse itself. Paused, the next collection
    runs after the reply's temporary lists are freed. Use it only around code that
    does not block (never around a wait for the network). Reference counting
    frees objects as usual meanwhile; only cycles wait. The collector is turned
    back on when the last thread leaves, if it was on when the first came in (an
    application that turns it off for good should do so while no reply is being
    parsed).
    """
    global _gc_pausers, _gc_resume
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_resume = gc.isenabled()
            if _gc_resume:
                gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_resume:
                gc.enable()
