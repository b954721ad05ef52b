"""Shared by the examples: connect to ``--url``, or start an embedded Vermilion server.

    python examples/leaderboard.py                          # embedded server
    python examples/leaderboard.py --url redis://localhost:6379/0
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

try:
    import vermilion  # noqa: F401
except ImportError:  # running from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import redis


def parse_args(description: str, many: bool = False) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    if many:
        parser.add_argument("--url", action="append", default=[],
                            help="a server URL (repeat for several); default: embedded servers")
    else:
        parser.add_argument("--url", help="server URL (default: start an embedded Vermilion)")
    return parser.parse_args()


@contextlib.contextmanager
def servers(urls: list[str], n: int = 1):
    """Yield n server URLs: the ones given, or n embedded Vermilion servers."""
    if urls:
        yield urls
        return
    try:
        import vermilion
        with contextlib.ExitStack() as stack:
            out = []
            for _ in range(n):
                srv = stack.enter_context(vermilion.embedded())
                probe = redis.Redis.from_url(srv.url)
                probe.set("example:probe", "1")  # is the embedded server ready for this?
                probe.eval("return 1", 0)
                out.append(srv.url)
            yield out
    except Exception as exc:
        sys.exit(f"the embedded Vermilion server cannot run this example yet ({exc}); "
                 "pass --url redis://host:port")


@contextlib.contextmanager
def connect(url: str | None, *, asyncio: bool = False):
    """Yield a decoded redis-py client for ``url`` or for an embedded server."""
    with servers([url] if url else [], 1) as (u,):
        cls = redis.asyncio.Redis if asyncio else redis.Redis
        yield cls.from_url(u, decode_responses=True)
