"""CRC-64 as Redis computes it (crc64.c): the Jones polynomial, reflected,
initial value 0 and no final xor (RevEng's "CRC-64/REDIS"; check value of
b"123456789" is 0xe9c6d914c4b8d9ca).

Every RDB file and DUMP payload ends with this checksum. A C implementation is
used when the optional ``anycrc`` package is installed (several GB/s); the
pure-Python table loop below is the fallback (~10 MB/s), which is fine for DUMP
payloads and test-sized files but is the largest single cost of loading a big
RDB without it (see docs/persistence.md).
"""
from __future__ import annotations

_POLY = 0x95AC9329AC4BC9B5        # 0xad93d23594c935a9 bit-reversed


def _table() -> list[int]:
    out = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        out.append(c)
    return out


_TABLE = _table()


def crc64_py(data, crc: int = 0) -> int:
    """CRC-64/REDIS of `data`, continuing from `crc` (pure Python)."""
    t = _TABLE
    for b in bytes(data) if not isinstance(data, (bytes, bytearray)) else data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


try:                                   # optional C accelerator
    import anycrc as _anycrc
    _MODEL = _anycrc.Model("CRC64-REDIS")
    if _MODEL.calc(b"123456789") != 0xE9C6D914C4B8D9CA:     # pragma: no cover
        raise ImportError("unexpected CRC64-REDIS model")

    def crc64(data, crc: int = 0) -> int:
        """CRC-64/REDIS of `data`, continuing from `crc`."""
        if not data:
            return crc
        return _MODEL.calc(data, crc) if crc else _MODEL.calc(data)

    ACCELERATED = True
except Exception:                      # ImportError, or an incompatible version
    crc64 = crc64_py
    ACCELERATED = False
