"""The request parser of record: Redis's framing rules, limits and error texts.

The connection runs the plainly framed requests a read starts with itself
(server/framing.py, the fast path). This parser takes over for everything else,
judged the way Redis does: quoted inline commands, a command that straddles
reads (so size limits are checked on the header, before the body arrives),
clients not yet authenticated (smaller limits), and malformed input (so the
client gets Redis's exact ``Protocol error`` text).
"""
from __future__ import annotations

INLINE_MAX = 64 * 1024          # Redis's PROTO_INLINE_MAX_SIZE
MULTIBULK_MAX = 2**31 - 1       # INT_MAX
UNAUTH_MULTIBULK_MAX = 10       # before AUTH, Redis refuses larger requests
UNAUTH_BULK_MAX = 16384


from ..engine.errors import ProtocolError  # noqa: F401  (re-exported for the server)


_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_HEX = b"0123456789abcdefABCDEF"


def split_inline(line: bytes) -> list[bytes] | None:
    """Split an inline command the way Redis's sdssplitargs does; None on unbalanced quotes."""
    args: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in b" \n\r\t\v\f":
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        in_dq = in_sq = False
        while True:
            if in_dq:
                if i >= n:
                    return None
                c = line[i]
                if c == 92 and i + 3 < n and line[i + 1] in b"xX" and line[i + 2] in _HEX and line[i + 3] in _HEX:
                    cur.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == 92 and i + 1 < n:
                    i += 1
                    cur.append(_ESCAPES.get(line[i], line[i]))
                elif c == 34:
                    # A closing quote must be followed by a space or the end.
                    if i + 1 < n and line[i + 1] not in b" \n\r\t\v\f":
                        return None
                    in_dq = False
                    i += 1
                    break
                else:
                    cur.append(c)
            elif in_sq:
                if i >= n:
                    return None
                c = line[i]
                if c == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    cur.append(39)
                elif c == 39:
                    if i + 1 < n and line[i + 1] not in b" \n\r\t\v\f":
                        return None
                    in_sq = False
                    i += 1
                    break
                else:
                    cur.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                # isspace() separates words, but only these end one (\v and \f do not).
                if c in b" \n\r\t":
                    break
                if c == 34:
                    in_dq = True
                elif c == 39:
                    in_sq = True
                else:
                    cur.append(c)
            i += 1
        args.append(bytes(cur))


def _parse_int(digits: bytes) -> int | None:
    # Redis's string2ll: optional '-', digits only, no leading '+', no spaces.
    if not digits or len(digits) > 20:
        return None
    body = digits[1:] if digits[:1] == b"-" else digits
    if not body.isdigit():
        return None
    if len(body) > 1 and body[:1] == b"0":
        return None
    return int(digits)


class RequestParser:
    """Incremental parser over a private buffer; resumes mid-command across reads."""

    __slots__ = ("buf", "pos", "_args", "_remaining", "_bulklen", "max_bulk", "authenticated")

    def __init__(self, max_bulk: int = 512 * 1024 * 1024):
        self.buf = bytearray()
        self.pos = 0
        self._args: list[bytes] | None = None   # args of the command being read
        self._remaining = 0                      # bulks still expected for it
        self._bulklen = -1                       # length of the bulk being read, -1 = header next
        self.max_bulk = max_bulk
        self.authenticated = True

    def feed(self, data) -> None:
        if self.pos and self.pos == len(self.buf):
            self.buf.clear()
            self.pos = 0
        self.buf += data

    def pending(self) -> int:
        """Bytes received but not yet turned into a command."""
        return len(self.buf) - self.pos

    def partial_bytes(self) -> int:
        """Bytes of the arguments already read of a command still incomplete (Redis
        counts them as the client's argv memory)."""
        args = self._args
        return sum(map(len, args)) if args else 0

    def at_boundary(self) -> bool:
        return self._args is None and self.pos >= len(self.buf)

    def next_command(self) -> list[bytes] | None:
        """Return the next complete command, [] for an empty one, None if more data is needed."""
        buf = self.buf
        if self._args is None:
            if self.pos >= len(buf):
                return None
            if buf[self.pos] != 42:  # '*'
                return self._inline()
            nl = buf.find(b"\r", self.pos)
            if nl < 0:
                if len(buf) - self.pos > INLINE_MAX:
                    raise ProtocolError("too big mbulk count string")
                return None
            if nl + 1 >= len(buf):
                return None
            count = _parse_int(bytes(buf[self.pos + 1:nl]))
            if count is None or count > MULTIBULK_MAX:
                raise ProtocolError("invalid multibulk length")
            if count > UNAUTH_MULTIBULK_MAX and not self.authenticated:
                raise ProtocolError("unauthenticated multibulk length")
            self.pos = nl + 2
            if count <= 0:
                return []
            self._args = []
            self._remaining = count
            self._bulklen = -1
        args = self._args
        while self._remaining:
            if self._bulklen < 0:
                nl = buf.find(b"\r", self.pos)
                if nl < 0:
                    if len(buf) - self.pos > INLINE_MAX:
                        raise ProtocolError("too big bulk count string")
                    return None
                if nl + 1 >= len(buf):
                    return None
                if buf[self.pos] != 36:  # '$'
                    raise ProtocolError("expected '$', got '%s'" % chr(buf[self.pos]))
                size = _parse_int(bytes(buf[self.pos + 1:nl]))
                if size is None or size < 0 or size > self.max_bulk:
                    raise ProtocolError("invalid bulk length")
                if size > UNAUTH_BULK_MAX and not self.authenticated:
                    raise ProtocolError("unauthenticated bulk length")
                self.pos = nl + 2
                self._bulklen = size
            end = self.pos + self._bulklen
            if end + 2 > len(buf):
                return None
            args.append(bytes(buf[self.pos:end]))
            self.pos = end + 2
            self._bulklen = -1
            self._remaining -= 1
        self._args = None
        self._compact()
        return args

    def _inline(self) -> list[bytes] | None:
        buf = self.buf
        nl = buf.find(b"\n", self.pos)
        # Redis looks for the newline with strchr, which stops at a NUL: a line with a
        # NUL in it is never complete, and waits until the buffer is too big.
        nul = buf.find(b"\0", self.pos, nl if nl >= 0 else len(buf))
        if nl < 0 or nul >= 0:
            if len(buf) - self.pos > INLINE_MAX:
                raise ProtocolError("too big inline request")
            return None
        end = nl - 1 if nl > self.pos and buf[nl - 1] == 13 else nl
        args = split_inline(bytes(buf[self.pos:end]))
        if args is None:
            raise ProtocolError("unbalanced quotes in request")
        self.pos = nl + 1
        self._compact()
        return args

    def _compact(self) -> None:
        if self.pos > 65536 and self.pos * 2 > len(self.buf):
            del self.buf[:self.pos]
            self.pos = 0
