"""Vermilion: a Redis-compatible data server and a library of Redis patterns."""

__version__ = "0.1.0"
# The Redis version we emulate; reported by INFO, HELLO and Lua's redis.REDIS_VERSION.
REDIS_VERSION = "7.0.15"

# Before anything imports a compiled module: a compiled build older than its
# source is never used (see _native.py).
from ._native import install_import_hook  # noqa: E402

install_import_hook()


# Imported before `embedded` is defined: loading the submodule binds the package
# attribute `embedded` to the module, which would otherwise replace the function
# below the first time it ran (and break every later `vermilion.embedded()`).
from .embedded import EmbeddedServer  # noqa: E402


def embedded(**kwargs):
    """Start the server inside this process: ``with vermilion.embedded() as srv: srv.client()``."""
    return EmbeddedServer(**kwargs)


def embedded_replicated(replicas: int = 1, **kwargs):
    """A primary with `replicas` replicas, all in this process and synced:
    ``with vermilion.embedded_replicated(2) as rs: rs.primary.client()``."""
    from .embedded import ReplicatedServers
    return ReplicatedServers(replicas, **kwargs)
