"""Write steps shared by the collection families (hashes, sets, sorted sets)."""
from __future__ import annotations


def remove_members(client, args: list, cls, remove, klass: str, event: bytes) -> int:
    """HDEL / SREM / ZREM: remove args[2:] from the `cls` value at args[1].

    `remove(value, member) -> bool` removes one member. One keyspace event and one
    dirty count per removed member, and the key goes when the collection empties.
    """
    db = client.db
    key = args[1]
    value = db.get_typed(key, cls)
    if value is None:
        return 0
    removed = 0
    for member in args[2:]:
        if remove(value, member):
            removed += 1
            if not value:
                break
    if removed:
        engine = client.engine
        engine.dirty += removed
        if engine.notify_flags:
            engine.notify(db, klass, event, key)
        db.shrunk(key, value)
    return removed
