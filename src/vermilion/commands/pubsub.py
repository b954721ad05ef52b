"""Pub/Sub: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB and keyspace events.

Every engine gets a `PubSub` hub (``engine.pubsub``) holding the subscription
indexes (types/pubsub.py). Guarantees, as in Redis 7.0:

* PUBLISH delivers to the channel's subscribers (``message``, in subscription
  order), then to the subscribers of every matching pattern (``pmessage``); a
  client on both gets both, and the reply counts every delivery.
* A message is encoded once per protocol: RESP2 and RESP3 frames differ only in
  the first byte (``*`` array / ``>`` push), and every subscriber of a protocol
  gets the same bytes object (Connection.push queues it; one write per
  subscriber per event-loop turn).
* Confirmations: one frame per channel named, or, for "unsubscribe from
  everything", one per subscription dropped or a single one with a null name.
  The count in a frame is the client's channels + patterns (shard channels
  count only for SSUBSCRIBE/SUNSUBSCRIBE).
* A RESP2 client with any subscription (channel, pattern or shard channel) may
  only run (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PING, QUIT and RESET (client.gate
  bit 4 routes it through `_subscribed_gate`); RESP3 clients run anything.
* RESET and disconnect drop every subscription, so PUBSUB counts stay exact.

Keyspace notifications: command families call ``engine.notify(db, klass, event,
key)`` once per event; when notify-keyspace-events enables the class, the hub
publishes ``__keyspace@<db>__:<key>`` -> event and ``__keyevent@<db>__:<event>``
-> key.
"""
from __future__ import annotations

try:
    import cython
except ImportError:                 # not compiled and no Cython: the declarations do nothing
    from .. import _compiling as cython

from ..engine.core import ClientCore

from ..engine.engine import extension
from ..engine.errors import CommandError, subcommand_syntax
from ..engine.replies import NO_REPLY, Push
from ..engine.table import command, container
from ..types.pubsub import ChannelIndex, PatternIndex
from ._help import help_reply

# Commands a RESP2 client in subscribed mode may still run.
SUBSCRIBED_MODE_ALLOWED = frozenset({
    "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe",
    "ping", "quit", "reset",
})
GATE_PUBSUB = 4


def _frame(kind: bytes, *parts: bytes) -> bytes:
    """The body of a push of bulk strings, without its type byte (``*`` or ``>``)."""
    out = [b"%d\r\n$%d\r\n%b\r\n" % (len(parts) + 1, len(kind), kind)]
    for part in parts:
        out.append(b"$%d\r\n%b\r\n" % (len(part), part))
    return b"".join(out)


class PubSub:
    """One engine's subscriptions and message delivery (``engine.pubsub``)."""

    def __init__(self, engine):
        self.engine = engine
        self.channels = ChannelIndex()
        self.patterns = PatternIndex()
        self.shard_channels = ChannelIndex()
        # The index dicts themselves, one attribute lookup away for PUBLISH.
        self.channel_subscribers = self.channels.subscribers
        self.pattern_entries = self.patterns.entries
        # Keyspace notifications, from notify-keyspace-events.
        self.event_classes = ""
        self.keyspace = False
        self.keyevent = False

    # -- counts (INFO, PUBSUB) -----------------------------------------------------------------

    def channel_count(self) -> int:
        return len(self.channels)

    def pattern_count(self) -> int:
        return len(self.patterns)

    def shard_channel_count(self) -> int:
        return len(self.shard_channels)

    # -- delivery --------------------------------------------------------------------------------

    def publish(self, channel: bytes, message: bytes) -> int:
        """Deliver `message` to subscribers of `channel` and of matching patterns."""
        subs = self.channel_subscribers.get(channel)
        entries = self.pattern_entries
        receivers = 0
        if subs:
            body = _frame(b"message", channel, message)
            r2, r3 = b"*" + body, b">" + body
            for client in subs:
                client.push(r3 if client.resp3 else r2)
            receivers = len(subs)
        if entries:
            for pattern, (match, subs) in entries.items():
                if match(channel):
                    body = _frame(b"pmessage", pattern, channel, message)
                    r2, r3 = b"*" + body, b">" + body
                    for client in subs:
                        client.push(r3 if client.resp3 else r2)
                    receivers += len(subs)
        return receivers

    def spublish(self, channel: bytes, message: bytes) -> int:
        subs = self.shard_channels.subscribers.get(channel)
        if not subs:
            return 0
        body = _frame(b"smessage", channel, message)
        r2, r3 = b"*" + body, b">" + body
        for client in subs:
            client.push(r3 if client.resp3 else r2)
        return len(subs)

    # -- keyspace notifications ------------------------------------------------------------

    def configure_events(self, flags: str) -> None:
        """Apply notify-keyspace-events (already expanded: ``A`` became g$lshzxetd)."""
        self.keyspace = "K" in flags
        self.keyevent = "E" in flags
        self.event_classes = "".join(c for c in flags if c not in "KE")
        # engine.notify only calls us while this is nonzero.
        self.engine.notify_flags = 1 if (self.keyspace or self.keyevent) and self.event_classes else 0

    def keyspace_event(self, db, klass: str, event: bytes, key: bytes) -> None:
        if klass not in self.event_classes:
            return
        if self.keyspace:
            self.publish(b"__keyspace@%d__:%b" % (db.index, key), event)
        if self.keyevent:
            self.publish(b"__keyevent@%d__:%b" % (db.index, event), key)

    # -- per-client cleanup -----------------------------------------------------------------

    def drop_client(self, client) -> None:
        """Remove every subscription of `client` (disconnect, RESET)."""
        if client.channels:
            for name in list(client.channels):
                self.channels.unsubscribe(client.channels, client, name)
        if client.patterns:
            for name in list(client.patterns):
                self.patterns.unsubscribe(client.patterns, client, name)
        if client.shard_channels:
            for name in list(client.shard_channels):
                self.shard_channels.unsubscribe(client.shard_channels, client, name)
        client.update_gate()


@extension
def _setup(engine) -> None:
    hub = PubSub(engine)
    engine.pubsub = hub
    engine.add_gate_hook(_subscribed_gate)
    engine.disconnect_hooks.append(hub.drop_client)

    def config_changed(changed=None):
        if changed is None or "notify-keyspace-events" in changed:
            hub.configure_events(engine.config["notify-keyspace-events"])

    config_changed()
    engine.config.listeners.append(config_changed)


def _subscribed_gate(client, cmd, args):
    if client.gate & GATE_PUBSUB and cmd.fullname not in SUBSCRIBED_MODE_ALLOWED:
        return client.engine.reject(cmd, CommandError(
            "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
            "are allowed in this context" % cmd.fullname))
    return None


# -- replies ------------------------------------------------------------------------------------

def _reply(client, frames: list):
    """Send all confirmations but the last, which is the command's reply.

    `send` joins the client's current batch, so the frames keep their place among
    the replies; returning the last one keeps a single confirmation an ordinary
    reply (inside EXEC it becomes an element of the result array, as in Redis).
    """
    if client.reply_mode and not client.deny_blocking:
        # Confirmations are pushes (Redis's CLIENT_PUSHING), which CLIENT REPLY
        # OFF/SKIP does not silence; SKIP is used up by this command all the same.
        for frame in frames:
            client.send(frame)
        if client.reply_mode == 2:
            client.reply_mode = 0
        return NO_REPLY
    for frame in frames[:-1]:
        client.send(frame)
    return frames[-1] if frames else NO_REPLY


def _count(client) -> int:
    return len(client.channels) + len(client.patterns)


def _subscribe(client, args, index, owned_attr: str, kind: bytes, shard: bool):
    owned = getattr(client, owned_attr)
    frames = []
    for name in args[1:]:
        index.subscribe(owned, client, name)
        frames.append(Push([kind, name, len(owned) if shard else _count(client)]))
    client.update_gate()
    return _reply(client, frames)


def _unsubscribe(client, args, index, owned_attr: str, kind: bytes, shard: bool):
    owned = getattr(client, owned_attr)
    names = args[1:] if len(args) > 1 else list(owned)
    frames = []
    for name in names:
        index.unsubscribe(owned, client, name)
        frames.append(Push([kind, name, len(owned) if shard else _count(client)]))
    if not frames:
        frames.append(Push([kind, None, len(owned) if shard else _count(client)]))
    client.update_gate()
    return _reply(client, frames)


def _refuse_if_deny_blocking(client, name: str, allowed_in_multi: bool) -> None:
    # Clients that expect exactly one reply per command (EXEC sets deny_blocking)
    # cannot enter subscribed mode; Redis keeps SUBSCRIBE/PSUBSCRIBE inside MULTI
    # working for backward compatibility, but not SSUBSCRIBE.
    if getattr(client, "deny_blocking", False) and not (allowed_in_multi and client.multi is not None):
        raise CommandError(f"ERR {name} isn't allowed for a DENY BLOCKING client")


# -- commands -------------------------------------------------------------------------------

@command("subscribe", arity=-2, flags="pubsub noscript loading stale", group="pubsub",
         since="2.0.0", complexity="O(N) where N is the number of channels to subscribe to.",
         summary="Listens for messages published to channels.",
         args="channel...")
def subscribe(client, args):
    _refuse_if_deny_blocking(client, "SUBSCRIBE", allowed_in_multi=True)
    return _subscribe(client, args, client.engine.pubsub.channels, "channels", b"subscribe", False)


@command("unsubscribe", arity=-1, flags="pubsub noscript loading stale", group="pubsub",
         since="2.0.0", complexity="O(N) where N is the number of clients already subscribed to a channel.",
         summary="Stops listening to messages posted to channels.",
         args="[channel...]")
def unsubscribe(client, args):
    return _unsubscribe(client, args, client.engine.pubsub.channels, "channels", b"unsubscribe", False)


@command("psubscribe", arity=-2, flags="pubsub noscript loading stale", group="pubsub",
         since="2.0.0", complexity="O(N) where N is the number of patterns to subscribe to.",
         summary="Listens for messages published to channels that match one or more patterns.",
         args="pattern(pattern:p)...")
def psubscribe(client, args):
    _refuse_if_deny_blocking(client, "PSUBSCRIBE", allowed_in_multi=True)
    return _subscribe(client, args, client.engine.pubsub.patterns, "patterns", b"psubscribe", False)


@command("punsubscribe", arity=-1, flags="pubsub noscript loading stale", group="pubsub",
         since="2.0.0",
         complexity="O(N) where N is the number of patterns to unsubscribe.",
         summary="Stops listening to messages published to channels that match one or more patterns.",
         args="[pattern:p...]")
def punsubscribe(client, args):
    return _unsubscribe(client, args, client.engine.pubsub.patterns, "patterns", b"punsubscribe", False)


@command("ssubscribe", arity=-2, flags="pubsub noscript loading stale", keys=(1, -1, 1),
         group="pubsub", since="7.0.0",
         complexity="O(N) where N is the number of shard channels to subscribe to.",
         summary="Listens for messages published to shard channels.",
         args="shardchannel...")
def ssubscribe(client, args):
    _refuse_if_deny_blocking(client, "SSUBSCRIBE", allowed_in_multi=False)
    return _subscribe(client, args, client.engine.pubsub.shard_channels, "shard_channels",
                      b"ssubscribe", True)


@command("sunsubscribe", arity=-1, flags="pubsub noscript loading stale", keys=(1, -1, 1),
         group="pubsub", since="7.0.0",
         complexity="O(N) where N is the number of clients already subscribed to a shard channel.",
         summary="Stops listening to messages posted to shard channels.",
         args="[shardchannel...]")
def sunsubscribe(client, args):
    return _unsubscribe(client, args, client.engine.pubsub.shard_channels, "shard_channels",
                        b"sunsubscribe", True)


@command("publish", arity=3, flags="pubsub loading stale fast may_replicate", group="pubsub", since="2.0.0",
         complexity="O(N+M) where N is the number of clients subscribed to the receiving channel "
                    "and M is the total number of subscribed patterns (by any client).",
         summary="Posts a message to a channel.",
         args="channel message")
@cython.locals(client=ClientCore)
def publish(client, args):
    engine = client.engine
    if engine.sinks:
        engine.propagate_to_replicas(client.db.index, args)
    hub = engine.pubsub
    if hub.pattern_entries or args[1] in hub.channel_subscribers:
        return hub.publish(args[1], args[2])
    return 0                # nobody listens: the common case in PUBLISH benchmarks


@command("spublish", arity=3, flags="pubsub loading stale fast may_replicate", keys=(1, 1, 1), group="pubsub",
         since="7.0.0",
         complexity="O(N) where N is the number of clients subscribed to the receiving shard channel.",
         summary="Post a message to a shard channel",
         args="shardchannel message")
def spublish(client, args):
    engine = client.engine
    if engine.sinks:
        engine.propagate_to_replicas(client.db.index, args)
    return engine.pubsub.spublish(args[1], args[2])


# -- PUBSUB introspection --------------------------------------------------------------------

container("pubsub", arity=-2, group="pubsub", since="2.8.0",
          summary="A container for Pub/Sub commands.")


@command("pubsub|channels", arity=-2, flags="pubsub loading stale", group="pubsub", since="2.8.0",
         complexity="O(N) where N is the number of active channels, and assuming constant time "
                    "pattern matching (relatively short channels and patterns)",
         summary="Returns the active channels.",
         args="[pattern:p]")
def pubsub_channels(client, args):
    if len(args) > 3:
        raise subcommand_syntax(args)
    return client.engine.pubsub.channels.names(args[2] if len(args) == 3 else None)


@command("pubsub|shardchannels", arity=-2, flags="pubsub loading stale", group="pubsub",
         since="7.0.0",
         complexity="O(N) where N is the number of active shard channels, and assuming constant "
                    "time pattern matching (relatively short shard channels).",
         summary="Returns the active shard channels.",
         args="[pattern:p]")
def pubsub_shardchannels(client, args):
    if len(args) > 3:
        raise subcommand_syntax(args)
    return client.engine.pubsub.shard_channels.names(args[2] if len(args) == 3 else None)


@command("pubsub|numsub", arity=-2, flags="pubsub loading stale", group="pubsub", since="2.8.0",
         complexity="O(N) for the NUMSUB subcommand, where N is the number of requested channels",
         summary="Returns a count of subscribers to channels.",
         args="[channel...]")
def pubsub_numsub(client, args):
    # A flat array in RESP3 too (Redis 7.0 replies with an array, not a map).
    index = client.engine.pubsub.channels
    out = []
    for name in args[2:]:
        out += (name, index.count(name))
    return out


@command("pubsub|shardnumsub", arity=-2, flags="pubsub loading stale", group="pubsub",
         since="7.0.0",
         complexity="O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels",
         summary="Returns the count of subscribers of shard channels.",
         args="[shardchannel...]")
def pubsub_shardnumsub(client, args):
    index = client.engine.pubsub.shard_channels
    out = []
    for name in args[2:]:
        out += (name, index.count(name))
    return out


@command("pubsub|numpat", arity=2, flags="pubsub loading stale", group="pubsub", since="2.8.0",
         complexity="O(1)", summary="Returns a count of unique pattern subscriptions.")
def pubsub_numpat(client, args):
    return client.engine.pubsub.pattern_count()


_HELP = [
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
]


@command("pubsub|help", arity=2, flags="loading stale", group="pubsub", since="6.2.0",
         complexity="O(1)", summary="Returns helpful text about the different subcommands.")
def pubsub_help(client, args):
    return help_reply("PUBSUB", _HELP)
