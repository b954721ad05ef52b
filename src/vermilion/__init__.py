"""Vermilion: a Redis-compatible data server and a library of Redis patterns."""

__version__ = "0.1.0"
# The Redis version we emulate; reported by INFO, HELLO and Lua's redis.REDIS_VERSION.
REDIS_VERSION = "7.0.15"


def embedded(**kwargs):
    """Start the server inside this process: ``with vermilion.embedded() as srv: srv.client()``."""
    from .embedded import EmbeddedServer
    return EmbeddedServer(**kwargs)
