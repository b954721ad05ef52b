"""Command families, one module each; importing a module declares its commands.

The engine imports this package once to fill the command table.
"""
from . import (  # noqa: F401
    acl, connection, server, strings, bits, keys,
    hashes, lists, sets, zsets, streams, pubsub, transactions, scripting,
    persistence, memory, hyperloglog, geo, sort, lolwut, replication, replica, tracking,
    migrate, cluster,
)
