"""DEBUG DIGEST and DEBUG DIGEST-VALUE, computed exactly as Redis 7.0 does
(debug.c), so the same dataset gives the same 40 hex digits on Vermilion and on
redis-server -- which is how the interoperability tests compare whole datasets.

Per key: SHA1-mix the key, the type number, then the value (list elements in
order, set members xor-ed so order does not matter, hash fields and zset
members each in their own sub-digest xor-ed in, scores printed with %.17g,
stream entries as "ms.seq" then fields and values -- consumer groups are not
part of Redis's digest), and "!!expire!!" xor-ed in when the key has a TTL.
Keys are xor-ed together per database, and each non-empty database first
mixes in its index.
"""
from __future__ import annotations

import hashlib

from ..types.collections import Hash, List, Set
from ..types.sortedset import SortedSet
from ..types.stream import Stream

_OBJ_TYPES = {bytes: 0, bytearray: 0, List: 1, Set: 2, SortedSet: 3, Hash: 4, Stream: 6}
_ZERO = bytes(20)


def _xor(digest: bytearray, data: bytes) -> None:
    h = hashlib.sha1(data).digest()
    for j in range(20):
        digest[j] ^= h[j]


def _mix(digest: bytearray, data: bytes) -> None:
    _xor(digest, data)
    digest[:] = hashlib.sha1(bytes(digest)).digest()


def value_digest(digest: bytearray, value, has_ttl: bool) -> None:
    """xorObjectDigest: mix `value` into `digest`."""
    cls = value.__class__
    _mix(digest, _OBJ_TYPES[cls].to_bytes(4, "big"))
    if cls is bytes or cls is bytearray:
        _mix(digest, bytes(value))
    elif cls is List:
        for item in value:
            _mix(digest, item)
    elif cls is Set:
        for member in value:
            _xor(digest, member)
    elif cls is SortedSet:
        for member, score in value.items():
            ele = bytearray(20)
            _mix(ele, member)
            _mix(ele, b"%.17g" % score)
            _xor(digest, bytes(ele))
    elif cls is Hash:
        for field, v in value.items():
            ele = bytearray(20)
            _mix(ele, field)
            _mix(ele, v)
            _xor(digest, bytes(ele))
    elif cls is Stream:
        for sid, fields in value.range():
            _mix(digest, b"%d.%d" % (sid[0], sid[1]))
            for x in fields:
                _mix(digest, x)
    if has_ttl:
        _xor(digest, b"!!expire!!")


def dataset_digest(dbs) -> str:
    final = bytearray(20)
    for db in dbs:
        if not db.data:
            continue
        _mix(final, db.index.to_bytes(4, "big"))
        expires = db.expires
        for key, value in db.data.items():
            d = bytearray(20)
            _mix(d, key)
            value_digest(d, value, key in expires)
            _xor(final, bytes(d))
    return final.hex()


def key_digest(db, key: bytes) -> str:
    value = db.peek(key)
    if value is None:
        return _ZERO.hex()
    d = bytearray(20)
    value_digest(d, value, key in db.expires)
    return d.hex()
