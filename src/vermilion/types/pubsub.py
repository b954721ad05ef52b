"""Pub/Sub subscription bookkeeping: who listens to which channel or pattern.

Two views are kept in step, as Redis does:

* the server side, here: channel -> subscribers and pattern -> (matcher,
  subscribers), so PUBLISH finds its receivers with one dict lookup plus one
  compiled-matcher call per distinct pattern;
* the client side, a dict of names owned by each client (``client.channels``,
  ``client.patterns``, ``client.shard_channels``), so counts in replies and
  "unsubscribe from everything" cost nothing extra.

Subscribers are kept in insertion-ordered dicts (used as ordered sets): a
message reaches the subscribers of a channel in the order they subscribed, and
a client's patterns are listed in subscription order, as in Redis 7.0 (where
``c->pubsub_patterns`` is a list). A channel or pattern with no subscriber left
is removed from the index, so PUBSUB CHANNELS / NUMPAT count only live ones.

Nothing here does I/O; subscribers are any hashable objects. The top-level
dicts (`ChannelIndex.subscribers`, `PatternIndex.entries`) are only ever
mutated, never replaced, so a publisher may keep a direct reference to them.
"""
from __future__ import annotations

from typing import Callable, Hashable, Iterator

from .glob import compile_glob

Matcher = Callable[[bytes], bool]


class ChannelIndex:
    """Exact-name subscriptions (channels, and shard channels in a second index)."""

    __slots__ = ("subscribers",)

    def __init__(self) -> None:
        self.subscribers: dict[bytes, dict[Hashable, None]] = {}

    def subscribe(self, owned: dict, subscriber: Hashable, channel: bytes) -> bool:
        """Add `subscriber` to `channel`; False if it was already subscribed."""
        if channel in owned:
            return False
        owned[channel] = None
        subs = self.subscribers.get(channel)
        if subs is None:
            self.subscribers[channel] = {subscriber: None}
        else:
            subs[subscriber] = None
        return True

    def unsubscribe(self, owned: dict, subscriber: Hashable, channel: bytes) -> bool:
        """Remove `subscriber` from `channel`; False if it was not subscribed."""
        if channel not in owned:
            return False
        del owned[channel]
        subs = self.subscribers.get(channel)
        if subs is not None:
            subs.pop(subscriber, None)
            if not subs:
                del self.subscribers[channel]
        return True

    def count(self, channel: bytes) -> int:
        subs = self.subscribers.get(channel)
        return len(subs) if subs else 0

    def names(self, pattern: bytes | None = None) -> list[bytes]:
        """Active channels, optionally only those matching a glob pattern."""
        if pattern is None:
            return list(self.subscribers)
        match = compile_glob(pattern)
        return [name for name in self.subscribers if match(name)]

    def __len__(self) -> int:
        return len(self.subscribers)


class PatternIndex:
    """Glob-pattern subscriptions; each distinct pattern is compiled once."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        # pattern -> (matcher, subscribers); a tuple so PUBLISH unpacks it cheaply.
        self.entries: dict[bytes, tuple[Matcher, dict[Hashable, None]]] = {}

    def subscribe(self, owned: dict, subscriber: Hashable, pattern: bytes) -> bool:
        if pattern in owned:
            return False
        owned[pattern] = None
        entry = self.entries.get(pattern)
        if entry is None:
            self.entries[pattern] = (compile_glob(pattern), {subscriber: None})
        else:
            entry[1][subscriber] = None
        return True

    def unsubscribe(self, owned: dict, subscriber: Hashable, pattern: bytes) -> bool:
        if pattern not in owned:
            return False
        del owned[pattern]
        entry = self.entries.get(pattern)
        if entry is not None:
            entry[1].pop(subscriber, None)
            if not entry[1]:
                del self.entries[pattern]
        return True

    def matching(self, channel: bytes) -> Iterator[tuple[bytes, dict[Hashable, None]]]:
        """(pattern, subscribers) for every pattern that matches `channel`."""
        for pattern, (match, subs) in self.entries.items():
            if match(channel):
                yield pattern, subs

    def __len__(self) -> int:
        return len(self.entries)
