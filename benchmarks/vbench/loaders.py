"""Setup steps: each helper returns a ``fn(ctx)`` to put in an entry's setup/before_each.

Errors from the server (an unknown command, say) propagate as ``ReplyError``; the runner
reports the entry as unsupported on that server.
"""

from __future__ import annotations

from .model import Context

BATCH = 1000  # members per variadic command


def _key(fmt: str, i: int) -> str:
    return fmt.format(i)


def strings(prefix: str = "key:", count: int = 100_000, value: str = "xxx", digits: int = 12):
    """MSET ``{prefix}{i:012d}`` = value for i in range(count) (redis-benchmark's key names)."""
    def step(ctx: Context):
        n = ctx.size(count)
        def cmds():
            for start in range(0, n, BATCH):
                args = ["MSET"]
                for i in range(start, min(n, start + BATCH)):
                    args += [f"{prefix}{i:0{digits}d}", value]
                yield args
        with ctx.raw() as c:
            c.bulk_raise(cmds(), batch=50)
    step.__name__ = f"strings({prefix}*, {count})"
    return step


def zset(key: str, count: int = 1_000_000, member_fmt: str = "element:{:012d}"):
    """ZADD key i member(i) for i in range(count)."""
    def step(ctx: Context):
        n = ctx.size(count)
        _zadd_range(ctx, key, 0, n, member_fmt)
        _expect(ctx, "ZCARD", key, n)
    step.__name__ = f"zset({key}, {count})"
    return step


def zset_refill_prefix(key: str, count: int = 1_000_000, member_fmt: str = "element:{:012d}"):
    """Top a zset built by :func:`zset` back up after ZPOPMIN took its lowest members."""
    def step(ctx: Context):
        n = ctx.size(count)
        with ctx.raw() as c:
            card = c.call("ZCARD", key)
        if card < n:
            _zadd_range(ctx, key, 0, n - card, member_fmt)
    step.__name__ = f"zset_refill({key})"
    return step


def _zadd_range(ctx, key, lo, hi, member_fmt):
    def cmds():
        for start in range(lo, hi, BATCH):
            args = ["ZADD", key]
            for i in range(start, min(hi, start + BATCH)):
                args += [str(i), member_fmt.format(i)]
            yield args
    with ctx.raw() as c:
        c.bulk_raise(cmds(), batch=20)


def hash_(key: str, count: int, field_fmt: str = "field:{}", value_fmt: str = "value:{}"):
    def step(ctx: Context):
        n = ctx.size(count)
        def cmds():
            for start in range(0, n, BATCH):
                args = ["HSET", key]
                for i in range(start, min(n, start + BATCH)):
                    args += [field_fmt.format(i), value_fmt.format(i)]
                yield args
        with ctx.raw() as c:
            c.bulk_raise(cmds(), batch=20)
        _expect(ctx, "HLEN", key, n)
    step.__name__ = f"hash({key}, {count})"
    return step


def set_(key: str, count: int, member_fmt: str = "member:{}"):
    def step(ctx: Context):
        n = ctx.size(count)
        def cmds():
            for start in range(0, n, BATCH):
                yield ["SADD", key, *(member_fmt.format(i) for i in range(start, min(n, start + BATCH)))]
        with ctx.raw() as c:
            c.bulk_raise(cmds(), batch=20)
        _expect(ctx, "SCARD", key, n)
    step.__name__ = f"set({key}, {count})"
    return step


def stream(key: str, count: int, fields=("f", "v"), scaled: bool = True):
    """XADD key * f v, ``count`` times."""
    def step(ctx: Context):
        n = ctx.size(count) if scaled else count
        with ctx.raw() as c:
            c.bulk_raise((("XADD", key, "*", *fields) for _ in range(n)), batch=2000)
        _expect(ctx, "XLEN", key, n)
    step.__name__ = f"stream({key}, {count})"
    return step


def list_at_least(key: str, count: int | None = None, value: str = "xxx"):
    """Make sure list ``key`` holds at least ``count`` (default: the run's -n) elements."""
    def step(ctx: Context):
        n = count if count is not None else ctx.requests
        with ctx.raw() as c:
            have = c.call("LLEN", key)
            missing = n - have
            if missing > 0:
                c.bulk_raise((["RPUSH", key, *([value] * min(BATCH, missing - s))]
                              for s in range(0, missing, BATCH)), batch=50)
    step.__name__ = f"list_at_least({key})"
    return step


def command(*args):
    """Run one command (e.g. SCRIPT LOAD); its error makes the entry unsupported."""
    def step(ctx: Context):
        with ctx.raw() as c:
            c.call(*args)
    step.__name__ = " ".join(str(a) for a in args)[:60]
    return step


def _expect(ctx: Context, cmd: str, key: str, n: int):
    from .model import BenchError
    with ctx.raw() as c:
        got = c.call(cmd, key)
    if got != n:
        raise BenchError(f"preload check failed: {cmd} {key} = {got}, expected {n}")
