"""LOLWUT's computer art, drawn as Redis 7.0 draws it (lolwut5.c, lolwut6.c).

* Version 5: Georg Nees's "Schotter" (1968), squares that rotate and drift more
  with every row, rendered with braille characters (2x4 pixels each).
* Version 6: a city skyline in the four grays of a terminal, as in the 8-bit
  game Plaguemon.

Both take their randomness from C's ``rand()``; ``CRandom`` is glibc's
generator (the additive feedback ``random_r`` of TYPE_3), seeded as redis-server
seeds it at startup (``time ^ pid ^ usec``), so the same seed draws the same art.
Schotter's geometry is computed in C ``float`` (32-bit) arithmetic in Redis,
with ``double`` libm calls in between; ``_f32`` rounds every such step the way
the C code does, so the pixels agree exactly.
"""
from __future__ import annotations

import math
import os
import struct
import time

RAND_MAX = 2147483647
_PACK_F = struct.Struct("f")


def _f32(x: float) -> float:
    """The float nearest to x (what assigning a double to a C float gives)."""
    return _PACK_F.unpack(_PACK_F.pack(x))[0]


def _c_round(x: float) -> float:
    """C's round(): halves away from zero."""
    if x < 0:
        return -_c_round(-x)
    f = math.floor(x)
    return f + 1.0 if x - f >= 0.5 else f


class CRandom:
    """glibc's rand(): 34 words seeded by a Lehmer generator, then
    r[i] = r[i-31] + r[i-3] (mod 2**32), 310 results dropped, each result r >> 1."""

    __slots__ = ("_r", "_i")

    def __init__(self, seed: int = 1):
        self.seed(seed)

    def seed(self, seed: int) -> None:
        seed &= 0xFFFFFFFF
        if seed == 0:
            seed = 1
        word = seed - (1 << 32) if seed >= 1 << 31 else seed     # an int32_t
        r = [word]
        for _ in range(1, 31):
            hi = int(word / 127773)                 # C division truncates
            lo = word - hi * 127773
            word = 16807 * lo - 2836 * hi
            if word < 0:
                word += 2147483647
            r.append(word)
        r = [w & 0xFFFFFFFF for w in r]
        r += r[:3]                                  # r[31..33] = r[0..2]
        self._r = r
        self._i = 0
        for _ in range(310):
            self._next()

    def _next(self) -> int:
        r = self._r
        value = (r[-31] + r[-3]) & 0xFFFFFFFF
        r.append(value)
        del r[0]
        return value >> 1

    def rand(self) -> int:
        return self._next()


def server_random() -> CRandom:
    """A generator seeded like redis-server's main(): time ^ pid ^ microseconds
    (srandom, which glibc's rand() shares its state with)."""
    now = time.time()
    return CRandom(int(now) ^ os.getpid() ^ int(now * 1e6) % 1000000)


class Canvas:
    """Pixels of a few colours; drawing outside is ignored, reading outside gives 0."""

    __slots__ = ("width", "height", "pixels")

    def __init__(self, width: int, height: int, color: int = 0):
        self.width = width
        self.height = height
        self.pixels = bytearray([color]) * (width * height)

    def set(self, x: int, y: int, color: int) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            self.pixels[x + y * self.width] = color

    def get(self, x: int, y: int) -> int:
        if 0 <= x < self.width and 0 <= y < self.height:
            return self.pixels[x + y * self.width]
        return 0

    def line(self, x1: int, y1: int, x2: int, y2: int, color: int) -> None:
        """Bresenham, from (x1, y1) to (x2, y2) inclusive."""
        dx = abs(x2 - x1)
        dy = abs(y2 - y1)
        sx = 1 if x1 < x2 else -1
        sy = 1 if y1 < y2 else -1
        err = dx - dy
        while True:
            self.set(x1, y1, color)
            if x1 == x2 and y1 == y2:
                break
            e2 = err * 2
            if e2 > -dy:
                err -= dy
                x1 += sx
            if e2 < dx:
                err += dx
                y1 += sy

    def square(self, x: int, y: int, size: float, angle: float, color: int) -> None:
        """A square centred at (x, y), rotated by `angle`: its corners sit on the
        circle through them, starting at 45 degrees plus the rotation."""
        size = _f32(size / 1.4142135623)
        size = _f32(_c_round(size))
        k = _f32(math.pi / 4 + angle)
        px, py = [], []
        for _ in range(4):
            px.append(int(_c_round(math.sin(k) * size + x)))
            py.append(int(_c_round(math.cos(k) * size + y)))
            k = _f32(k + math.pi / 2)
        for j in range(4):
            self.line(px[j], py[j], px[(j + 1) % 4], py[(j + 1) % 4], color)


# -- version 5 ---------------------------------------------------------------------------------------

def schotter(rng: CRandom, cols: int, per_row: int, per_col: int) -> Canvas:
    width = cols * 2
    padding = 2 if width > 4 else 0
    side = _f32(float(width - padding * 2) / _f32(float(per_row)))
    height = int(_f32(_f32(side * _f32(float(per_col))) + padding * 2))
    canvas = Canvas(width, height)
    rand_max = _f32(float(RAND_MAX))
    half = _f32(side / 2)
    for y in range(per_col):
        for x in range(per_row):
            sx = int(_f32(_f32(_f32(x * side) + half) + padding))
            sy = int(_f32(_f32(_f32(y * side) + half) + padding))
            angle = 0.0
            if y > 1:
                r = []
                for _ in range(3):
                    v = _f32(_f32(float(rng.rand())) / rand_max)
                    v = _f32(v / _f32(float(per_col)))
                    r.append(_f32(v * y))
                for i in range(3):
                    if rng.rand() % 2:
                        r[i] = -r[i]
                angle = r[0]
                sx = int(_f32(sx + _f32(_f32(r[1] * side) / 3)))
                sy = int(_f32(sy + _f32(_f32(r[2] * side) / 3)))
            canvas.square(sx, sy, side, angle, 1)
    return canvas


def render_braille(canvas: Canvas) -> bytes:
    """Each 2x4 block of pixels as one braille character (U+2800 + dot bits)."""
    out = bytearray()
    get = canvas.get
    for y in range(0, canvas.height, 4):
        for x in range(0, canvas.width, 2):
            dots = (get(x, y) | get(x, y + 1) << 1 | get(x, y + 2) << 2 | get(x + 1, y) << 3
                    | get(x + 1, y + 1) << 4 | get(x + 1, y + 2) << 5 | get(x, y + 3) << 6
                    | get(x + 1, y + 3) << 7)
            out += chr(0x2800 + dots).encode()
        if y != canvas.height - 1:
            out += b"\n"
    return bytes(out)


def version5(rng: CRandom, cols: int, per_row: int, per_col: int, redis_version: str) -> bytes:
    art = render_braille(schotter(rng, cols, per_row, per_col))
    return art + b"\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. " + \
        redis_version.encode() + b"\n"


# -- version 6 ---------------------------------------------------------------------------------------

_GRAYS = (b"0;30;40m", b"0;90;100m", b"0;37;47m", b"0;97;107m")


def _skyscraper(canvas: Canvas, rng: CRandom, xoff: int, width: int, height: int,
                windows: bool, color: int) -> None:
    start_y = canvas.height - 1
    end_y = start_y - height + 1
    for y in range(start_y, end_y - 1, -1):
        for x in range(xoff, xoff + width):
            if y == end_y and (x <= xoff + 1 or x >= xoff + width - 2):
                continue                       # the roof is four pixels narrower
            c = color
            if windows and xoff + 1 < x < xoff + width - 2 and end_y + 1 < y < start_y - 1:
                relx = x - (xoff + 1)
                rely = y - (end_y + 1)
                # Windows two pixels wide, one tall (terminal cells are not square).
                if (relx // 2) % 2 and rely % 2:
                    while True:
                        c = 1 + rng.rand() % 2
                        if c != color:
                            break
                    if relx % 2:
                        c = canvas.get(x - 1, y)
            canvas.set(x, y, c)


def skyline(rng: CRandom, cols: int, rows: int) -> Canvas:
    canvas = Canvas(cols, rows, 3)
    h = canvas.height
    # Background towers without windows, lighter ones behind.
    for color in (2, 1):
        offset = -10
        while offset < canvas.width:
            offset += rng.rand() % 8
            xoff = offset
            width = 10 + rng.rand() % 9
            if color == 2:
                height = h // 2 + (rng.rand() % h) // 2
            else:
                height = h // 2 + (rng.rand() % h) // 3
            _skyscraper(canvas, rng, xoff, width, height, False, color)
            offset += width // 2 if color == 2 else width + 1
    offset = -10
    while offset < canvas.width:
        offset += rng.rand() % 8
        xoff = offset
        width = 5 + rng.rand() % 14
        if width % 4:
            width += width % 3
        height = h // 3 + (rng.rand() % h) // 2
        _skyscraper(canvas, rng, xoff, width, height, True, 0)
        offset += width + 5
    return canvas


def render_grays(canvas: Canvas) -> bytes:
    out = []
    for y in range(canvas.height):
        for x in range(canvas.width):
            c = canvas.get(x, y)
            out.append(b"\033[%b \033[0m" % (_GRAYS[c] if c < 4 else _GRAYS[0]))
        if y != canvas.height - 1:
            out.append(b"\n")
    return b"".join(out)


def version6(rng: CRandom, cols: int, rows: int, redis_version: str) -> bytes:
    art = render_grays(skyline(rng, cols, rows))
    return art + (b"\nDedicated to the 8 bit game developers of past and present.\n"
                  b"Original 8 bit image from Plaguemon by hikikomori. Redis ver. ") + \
        redis_version.encode() + b"\n"
