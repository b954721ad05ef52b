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
_PACK_F = struct.Struct("f").pack
_UNPACK_F = struct.Struct("f").unpack


def _f32(x: float) -> float:
    """The float nearest to x (what assigning a double to a C float gives)."""
    return _UNPACK_F(_PACK_F(x))[0]


def _c_round(x: float) -> float:
    """C's round(): halves away from zero."""
    if x < 0:
        return -_c_round(-x)
    f = math.floor(x)
    return f + 1.0 if x - f >= 0.5 else f


class CRandom:
    """glibc's rand(): 31 words seeded by a Lehmer generator, then an additive
    lagged Fibonacci step (word[f] += word[r], f running 3 words ahead of r, both
    wrapping), the first 310 results dropped, each result the sum >> 1."""

    __slots__ = ("_w", "_f", "_r")

    def __init__(self, seed: int = 1):
        self.seed(seed)

    def seed(self, seed: int) -> None:
        seed &= 0xFFFFFFFF
        if seed == 0:
            seed = 1
        word = seed - (1 << 32) if seed >= 1 << 31 else seed     # an int32_t
        w = [word]
        for _ in range(1, 31):
            hi = int(word / 127773)                 # C division truncates
            lo = word - hi * 127773
            word = 16807 * lo - 2836 * hi
            if word < 0:
                word += 2147483647
            w.append(word)
        self._w = [x & 0xFFFFFFFF for x in w]
        self._f = 3
        self._r = 0
        for _ in range(310):
            self.rand()

    def rand(self) -> int:
        w = self._w
        f = self._f
        r = self._r
        value = w[f] = (w[f] + w[r]) & 0xFFFFFFFF
        self._f = f + 1 if f < 30 else 0
        self._r = r + 1 if r < 30 else 0
        return value >> 1


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
        width, height, pixels = self.width, self.height, self.pixels
        dx = abs(x2 - x1)
        dy = abs(y2 - y1)
        sx = 1 if x1 < x2 else -1
        sy = 1 if y1 < y2 else -1
        err = dx - dy
        while True:
            if 0 <= x1 < width and 0 <= y1 < height:
                pixels[x1 + y1 * width] = color
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
        circle through them, starting at 45 degrees plus the rotation. `size` is
        the side already reduced to that circle's radius (see square_radius)."""
        k = _f32(math.pi / 4 + angle)
        px, py = [], []
        for _ in range(4):
            px.append(int(_c_round(math.sin(k) * size + x)))
            py.append(int(_c_round(math.cos(k) * size + y)))
            k = _f32(k + math.pi / 2)
        for j in range(4):
            self.line(px[j], py[j], px[(j + 1) % 4], py[(j + 1) % 4], color)


def square_radius(side: float) -> float:
    """lwDrawSquare's size: the side over sqrt(2), rounded, in float arithmetic."""
    return _f32(_c_round(_f32(side / 1.4142135623)))


# -- version 5 ---------------------------------------------------------------------------------------

def schotter(rng: CRandom, cols: int, per_row: int, per_col: int) -> Canvas:
    width = cols * 2
    padding = 2 if width > 4 else 0
    side = _f32(float(width - padding * 2) / _f32(float(per_row)))
    height = int(_f32(_f32(side * _f32(float(per_col))) + padding * 2))
    canvas = Canvas(width, height)
    rand_max = _f32(float(RAND_MAX))
    cols_f = _f32(float(per_col))
    half = _f32(side / 2)
    radius = square_radius(side)
    centres_x = [int(_f32(_f32(_f32(x * side) + half) + padding)) for x in range(per_row)]
    for y in range(per_col):
        sy0 = int(_f32(_f32(_f32(y * side) + half) + padding))
        for x in range(per_row):
            sx = centres_x[x]
            sy = sy0
            angle = 0.0
            if y > 1:
                r = [_f32(_f32(_f32(_f32(float(rng.rand())) / rand_max) / cols_f) * y)
                     for _ in range(3)]
                for i in range(3):
                    if rng.rand() % 2:
                        r[i] = -r[i]
                angle = r[0]
                sx = int(_f32(sx + _f32(_f32(r[1] * side) / 3)))
                sy = int(_f32(sy + _f32(_f32(r[2] * side) / 3)))
            canvas.square(sx, sy, radius, angle, 1)
    return canvas


# Braille U+2800 + dots in UTF-8 is E2, A0 | dots >> 6, 80 | dots & 0x3F.
_BRAILLE_2 = bytes(0xA0 | (b >> 6) for b in range(256))
_BRAILLE_3 = bytes(0x80 | (b & 0x3F) for b in range(256))


def render_braille(canvas: Canvas) -> bytes:
    """Each 2x4 block of pixels as one braille character (U+2800 + dot bits).

    Pixels are 0 or 1, so a row's even (or odd) pixels read as one big integer
    have a single bit per byte; shifting that integer by k < 8 moves every bit
    to bit k of its own byte, and OR-ing the eight shifted rows of a block
    gives every character's dot byte at once. Rows below the canvas read as 0.
    """
    width, height = canvas.width, canvas.height
    pixels = canvas.pixels
    half = (width + 1) // 2
    blank = bytes(width + 1)

    def row(y: int) -> bytes:
        if y >= height:
            return blank
        return bytes(pixels[y * width:(y + 1) * width]) + b"\0"

    lines = []
    for y in range(0, height, 4):
        rows = [row(y + i) for i in range(4)]
        even = [int.from_bytes(r[0:2 * half:2], "big") for r in rows]
        odd = [int.from_bytes(r[1:2 * half + 1:2], "big") for r in rows]
        dots = (even[0] | even[1] << 1 | even[2] << 2 | odd[0] << 3 | odd[1] << 4
                | odd[2] << 5 | even[3] << 6 | odd[3] << 7).to_bytes(half, "big")
        line = bytearray(3 * half)
        line[0::3] = b"\xe2" * half
        line[1::3] = dots.translate(_BRAILLE_2)
        line[2::3] = dots.translate(_BRAILLE_3)
        lines.append(bytes(line))
        if y != height - 1:
            lines.append(b"\n")
    return b"".join(lines)


def version5(rng: CRandom, cols: int, per_row: int, per_col: int, redis_version: str) -> bytes:
    art = render_braille(schotter(rng, cols, per_row, per_col))
    return art + b"\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. " + \
        redis_version.encode() + b"\n"


# -- version 6 ---------------------------------------------------------------------------------------

_GRAYS = (b"0;30;40m", b"0;90;100m", b"0;37;47m", b"0;97;107m")


def _skyscraper(canvas: Canvas, rng: CRandom, xoff: int, width: int, height: int,
                windows: bool, color: int) -> None:
    """One tower: rows filled with its colour (the roof four pixels narrower), then,
    with windows, the window pixels in Redis's order, each drawing rand() (also the
    ones off the canvas, so the sequence stays Redis's)."""
    cw = canvas.width
    pixels = canvas.pixels
    start_y = canvas.height - 1
    end_y = start_y - height + 1
    fill = bytes([color])
    # Window columns: relx = x - (xoff + 1) with (relx // 2) odd, inside the walls.
    window_x = [x for x in range(xoff + 2, xoff + width - 2) if ((x - xoff - 1) // 2) % 2]
    for y in range(start_y, end_y - 1, -1):
        lo, hi = (xoff + 2, xoff + width - 2) if y == end_y else (xoff, xoff + width)
        if 0 <= y < canvas.height:
            a, b = max(lo, 0), min(hi, cw)
            if a < b:
                pixels[y * cw + a:y * cw + b] = fill * (b - a)
        if not windows or not end_y + 1 < y < start_y - 1 or not (y - end_y - 1) % 2:
            continue
        for x in window_x:
            while True:
                c = 1 + rng.rand() % 2
                if c != color:
                    break
            if (x - xoff - 1) % 2:
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


_GRAY_CELLS = [b"\033[%b \033[0m" % (_GRAYS[c] if c < 4 else _GRAYS[0]) for c in range(256)]


def render_grays(canvas: Canvas) -> bytes:
    """Each pixel as a space with its gray as both foreground and background."""
    width = canvas.width
    pixels = canvas.pixels
    cell = _GRAY_CELLS.__getitem__
    rows = [b"".join(map(cell, pixels[y * width:(y + 1) * width])) for y in range(canvas.height)]
    return b"\n".join(rows)


def version6(rng: CRandom, cols: int, rows: int, redis_version: str) -> bytes:
    art = render_grays(skyline(rng, cols, rows))
    return art + (b"\nDedicated to the 8 bit game developers of past and present.\n"
                  b"Original 8 bit image from Plaguemon by hikikomori. Redis ver. ") + \
        redis_version.encode() + b"\n"
