"""Rewrite the tail calls of a compiled Lua 5.1 chunk into ordinary calls.

Why: in Redis, redis.call and the library functions are C functions, and Lua never
replaces the caller's frame when it tail-calls a C function, so an error raised by
`return redis.call(...)` is reported at the script's line ("on @user_script:1.").
Our redis.* wrappers are Lua functions; a tail call into them would drop the
script's frame and the position with it. Lua 5.1 compiles ``return f(x)`` to
``TAILCALL A B 0; RETURN A 0``, and ``CALL A B 0; RETURN A 0`` is exactly the
non-tail form of the same statement, so flipping the opcode keeps the meaning (the
only cost: unbounded tail recursion in a script now grows the Lua stack).

The dump layout (lundump.c) is read with the sizes from its header.
"""
from __future__ import annotations

import struct

OP_CALL = 28
OP_TAILCALL = 29


class _Reader:
    def __init__(self, data: bytearray):
        self.data = data
        self.pos = 0
        if data[:4] != b"\x1bLua" or data[4] != 0x51:
            raise ValueError("not a Lua 5.1 chunk")
        little, self.int_size, self.size_t, self.instr_size, self.num_size = \
            data[6], data[7], data[8], data[9], data[10]
        self.endian = "<" if little else ">"
        self.pos = 12

    def int(self) -> int:
        size = self.int_size
        value = int.from_bytes(self.data[self.pos:self.pos + size], "little" if self.endian == "<" else "big",
                               signed=True)
        self.pos += size
        return value

    def string(self) -> None:
        size = int.from_bytes(self.data[self.pos:self.pos + self.size_t],
                              "little" if self.endian == "<" else "big")
        self.pos += self.size_t + size

    def function(self) -> None:
        data = self.data
        self.string()                       # source
        self.pos += 2 * self.int_size + 4   # linedefined, lastlinedefined, nups, params, vararg, stack
        count = self.int()
        fmt = self.endian + "I"
        for _ in range(count):
            (ins,) = struct.unpack_from(fmt, data, self.pos)
            if ins & 0x3F == OP_TAILCALL:
                struct.pack_into(fmt, data, self.pos, (ins & ~0x3F) | OP_CALL)
            self.pos += self.instr_size
        for _ in range(self.int()):         # constants
            kind = data[self.pos]
            self.pos += 1
            if kind == 1:
                self.pos += 1
            elif kind == 3:
                self.pos += self.num_size
            elif kind == 4:
                self.string()
        for _ in range(self.int()):         # nested prototypes
            self.function()
        lines = self.int()                              # line info
        self.pos += lines * self.int_size
        for _ in range(self.int()):                     # local variables
            self.string()
            self.pos += 2 * self.int_size
        for _ in range(self.int()):                     # upvalue names
            self.string()


def untail(chunk: bytes) -> bytes:
    data = bytearray(chunk)
    _Reader(data).function()
    return bytes(data)
