"""What the dashboard shows, read from any Redis-protocol server with redis.asyncio.

A `Source` is one set of credentials: every read and every action goes through
its client, so the server's ACL rules decide what it may see and do. Nothing
here knows whether the server is Vermilion or Redis, except that a Source made
by the server itself (`local_engine`) can also list pattern subscriptions,
which no Redis command reports.

Replies are read raw (RESP2, bytes) wherever redis-py's parsers differ between
versions; names are shown decoded as UTF-8 and identified by their hex bytes,
so binary keys can be opened and acted on.
"""
from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

# Caps: what one page shows, and what one refresh may cost the server.
MAX_STREAMS = 200           # streams listed
SCAN_ROUNDS = 200           # SCAN calls (COUNT 1000) to discover them
STREAM_KEYS_TTL = 5.0       # seconds the discovered stream names are reused
MAX_CHANNELS = 500          # channels listed on the Pub/Sub page
MAX_COUNTED_CHANNELS = 10_000   # channels whose message rate is tracked
KEYS_PAGE = 100             # keys per page of the key browser
PREVIEW_ITEMS = 50          # elements of a collection previewed
PREVIEW_BYTES = 1024        # bytes of a string previewed
VALUE_CHARS = 200           # characters of one element or field shown
HISTORY = 300               # one-second samples kept for the live charts (5 minutes)
DEAD_SUFFIX = b":dead"
CLIENT_NAME = "vermilion-dashboard"

CONFIG_ESSENTIALS = ("port", "bind", "databases", "maxclients", "maxmemory", "maxmemory-policy",
                     "timeout", "appendonly", "appendfsync", "save", "dir", "dbfilename",
                     "notify-keyspace-events", "slowlog-log-slower-than", "latency-monitor-threshold")


def text(value: Any, limit: int | None = None) -> str:
    if isinstance(value, bytes):
        out = value.decode("utf-8", "backslashreplace")
    else:
        out = str(value)
    if limit is not None and len(out) > limit:
        out = out[:limit] + "…"
    return out


def pairs(flat: list) -> dict[str, Any]:
    """A RESP2 flat map as a dict with text keys."""
    return {text(flat[i]): flat[i + 1] for i in range(0, len(flat) - 1, 2)}


def id_ms(sid: Any) -> int | None:
    if not sid:
        return None
    try:
        return int(text(sid).split("-", 1)[0])
    except ValueError:
        return None


def dead_letter_source(key: bytes) -> bytes | None:
    """The stream a dead-letter stream belongs to: ``{events}:dead`` -> ``events``
    (the patterns library puts it in the stream's hash slot), ``a{b}:dead`` -> ``a{b}``."""
    if not key.endswith(DEAD_SUFFIX) or len(key) == len(DEAD_SUFFIX):
        return None
    base = key[:-len(DEAD_SUFFIX)]
    if base.startswith(b"{") and base.endswith(b"}") and base.count(b"{") == 1:
        return base[1:-1]
    return base


def entry_json(entry) -> dict:
    """A stream entry as redis-py returns it: (id, {field: value}) or (id, [f, v, ...])."""
    sid, body = entry[0], entry[1] or []
    flat = [x for pair in body.items() for x in pair] if isinstance(body, dict) else body
    fields = [[text(flat[i], VALUE_CHARS), text(flat[i + 1], VALUE_CHARS)]
              for i in range(0, min(len(flat), 2 * 20) - 1, 2)]
    return {"id": text(sid), "fields": fields, "more": max(len(flat) // 2 - 20, 0)}


class Source:
    """One authenticated view of a server: its client, live samples and rates."""

    def __init__(self, client: aioredis.Redis, local_engine: Any = None):
        self.client = client
        self.local_engine = local_engine
        self.samples: deque[dict] = deque(maxlen=HISTORY)
        self.listeners: set[asyncio.Queue] = set()
        self._sampler: asyncio.Task | None = None
        self._previous: tuple[float, dict] | None = None
        self._stream_keys: tuple[float, list[bytes]] = (0.0, [])
        self._added: dict[bytes, tuple[float, int, float | None]] = {}
        self.pubsub = PubSubRates(client)
        self.last_used = time.monotonic()
        self.user: str | None = None        # the ACL user a browser logged in as

    async def close(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
        await self.pubsub.close()
        await self.client.aclose() if hasattr(self.client, "aclose") else await self.client.close()

    # -- overview and the live samples ---------------------------------------------------

    async def overview(self) -> dict:
        info = await self.client.info("all")
        config: dict[str, str] = {}
        try:
            config = {k: text(v) for k, v in pairs(
                await self.client.execute_command("CONFIG", "GET", *CONFIG_ESSENTIALS)).items()}
        except ResponseError as err:
            config = {"error": str(err)}
        keyspace = {k: v for k, v in info.items() if k.startswith("db") and isinstance(v, dict)}
        persistence = {k: info.get(k) for k in (
            "loading", "rdb_changes_since_last_save", "rdb_bgsave_in_progress", "rdb_last_save_time",
            "rdb_last_bgsave_status", "aof_enabled", "aof_rewrite_in_progress",
            "aof_last_bgrewrite_status", "aof_last_write_status")}
        server = {k: info.get(k) for k in (
            "redis_version", "vermilion_version", "redis_mode", "os", "process_id", "tcp_port",
            "uptime_in_seconds", "connected_clients", "blocked_clients", "used_memory",
            "used_memory_human", "used_memory_peak_human", "maxmemory_human", "total_commands_processed",
            "instantaneous_ops_per_sec", "keyspace_hits", "keyspace_misses", "expired_keys",
            "evicted_keys", "pubsub_channels", "pubsub_patterns", "role", "connected_slaves")}
        return {"server": server, "config": config, "persistence": persistence,
                "keyspace": keyspace, "replication": replication(info), "history": list(self.samples)}

    async def sample(self) -> dict:
        """One point of the live charts: rates over the time since the previous one."""
        # Only the sections the charts use: INFO's keyspace section walks the TTLs.
        info = await self.client.execute_command("INFO", "clients", "memory", "stats")
        now = time.time()
        point: dict[str, Any] = {"t": int(now * 1000), "memory": info.get("used_memory", 0),
                                 "clients": info.get("connected_clients", 0)}
        previous = self._previous
        self._previous = (now, info)
        if previous is None:
            point.update(ops=info.get("instantaneous_ops_per_sec", 0), hit_ratio=None,
                         net_in=0.0, net_out=0.0)
            return point
        then, old = previous
        dt = max(now - then, 1e-3)

        def rate(name: str) -> float:
            return max(info.get(name, 0) - old.get(name, 0), 0) / dt

        hits = info.get("keyspace_hits", 0) - old.get("keyspace_hits", 0)
        misses = info.get("keyspace_misses", 0) - old.get("keyspace_misses", 0)
        point.update(ops=round(rate("total_commands_processed"), 1),
                     hit_ratio=round(hits / (hits + misses), 4) if hits + misses > 0 else None,
                     net_in=round(rate("total_net_input_bytes") / 1024, 2),
                     net_out=round(rate("total_net_output_bytes") / 1024, 2))
        return point

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=100)
        self.listeners.add(queue)
        if self._sampler is None or self._sampler.done():
            self._sampler = asyncio.get_running_loop().create_task(self._sample_forever())
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self.listeners.discard(queue)

    async def _sample_forever(self) -> None:
        """One sample a second while a browser listens; each goes to every listener."""
        while self.listeners:
            started = time.monotonic()
            try:
                point = await self.sample()
                self.samples.append(point)
            except (RedisError, OSError) as err:
                point = {"t": int(time.time() * 1000), "error": str(err)}
            for queue in list(self.listeners):
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait(point)
            await asyncio.sleep(max(1.0 - (time.monotonic() - started), 0.05))
        self._previous = None

    # -- streams -----------------------------------------------------------------------------

    async def stream_keys(self) -> list[bytes]:
        when, keys = self._stream_keys
        if time.monotonic() - when < STREAM_KEYS_TTL:
            return keys
        found: set[bytes] = set()
        cursor = 0
        for _ in range(SCAN_ROUNDS):
            cursor, batch = await self.client.scan(cursor, count=1000, _type="stream")
            found.update(batch)
            if not cursor or len(found) >= MAX_STREAMS:
                break
        keys = sorted(found)[:MAX_STREAMS]
        self._stream_keys = (time.monotonic(), keys)
        return keys

    async def server_ms(self) -> int:
        seconds, micros = await self.client.time()
        return seconds * 1000 + micros // 1000

    async def streams(self) -> dict:
        keys = await self.stream_keys()
        now_ms = await self.server_ms()
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.execute_command("XINFO", "STREAM", key)
            pipe.execute_command("XINFO", "GROUPS", key)
        replies = await pipe.execute(raise_on_error=False) if keys else []
        streams, groups_of = [], []
        for i, key in enumerate(keys):
            info, groups = replies[2 * i], replies[2 * i + 1]
            if isinstance(info, Exception):
                continue        # gone since the scan, or not readable by this user
            fields = pairs(info)
            streams.append(self._stream_json(key, fields))
            groups_of.append((key, [] if isinstance(groups, Exception) else [pairs(g) for g in groups]))
        await self._fill_groups(streams, groups_of, now_ms)
        listed = set(keys)      # rates of streams no longer listed are forgotten
        self._added = {k: v for k, v in self._added.items() if k in listed}
        by_name = {s["key"]: s for s in streams}
        for s in streams:
            source = dead_letter_source(bytes.fromhex(s["key"]))
            if source is not None:
                s["dead_letters_of"] = text(source)
                origin = by_name.get(source.hex())
                if origin is not None:
                    origin["dead_letters"] = s["length"]
                    origin["dead_letter_key"] = s["key"]
        return {"streams": streams, "capped": len(keys) >= MAX_STREAMS, "time": now_ms}

    def _stream_json(self, key: bytes, fields: dict) -> dict:
        first, last = fields.get("first-entry"), fields.get("last-entry")
        added = int(fields.get("entries-added") or 0)
        now = time.monotonic()
        then = self._added.get(key)
        rate = None
        if then is not None:
            t0, n0, previous_rate = then
            if now - t0 >= 0.5:
                rate = round((added - n0) / (now - t0), 2)
                self._added[key] = (now, added, rate)
            else:
                rate = previous_rate
        else:
            self._added[key] = (now, added, None)
        return {"key": key.hex(), "name": text(key), "length": fields.get("length", 0),
                "first_id": text(first[0]) if first else None,
                "last_id": text(last[0]) if last else None,
                "last_generated_id": text(fields.get("last-generated-id", b"")),
                "entries_added": added, "rate": rate, "groups": [], "dead_letters": None,
                "dead_letters_of": None}

    async def _fill_groups(self, streams: list[dict], groups_of: list, now_ms: int) -> None:
        pipe = self.client.pipeline(transaction=False)
        plan = []
        for stream, (key, groups) in zip(streams, groups_of):
            for g in groups:
                pipe.execute_command("XINFO", "CONSUMERS", key, g["name"])
                pipe.xpending_range(key, g["name"], "-", "+", 1)
                plan.append((stream, g))
        replies = await pipe.execute(raise_on_error=False) if plan else []
        for j, (stream, g) in enumerate(plan):
            consumers, oldest = replies[2 * j], replies[2 * j + 1]
            group = {"name": text(g["name"]), "pending": g.get("pending", 0),
                     "lag": g.get("lag"), "entries_read": g.get("entries-read"),
                     "last_delivered_id": text(g.get("last-delivered-id", b"")),
                     "consumers": [], "oldest_pending": None}
            if not isinstance(consumers, Exception):
                group["consumers"] = [{"name": text(c["name"]), "pending": c.get("pending", 0),
                                       "idle": c.get("idle", 0)}
                                      for c in (pairs(raw) for raw in consumers)]
            if not isinstance(oldest, Exception) and oldest:
                first = oldest[0]
                sid = text(first["message_id"])
                born = id_ms(sid)
                group["oldest_pending"] = {
                    "id": sid, "consumer": text(first["consumer"]),
                    "age": max(now_ms - born, 0) if born is not None else None,
                    "idle": first["time_since_delivered"], "deliveries": first["times_delivered"]}
            stream["groups"].append(group)

    async def stream(self, key: bytes) -> dict:
        """One stream: its latest entries, and each group's pending entries."""
        info = pairs(await self.client.execute_command("XINFO", "STREAM", key))
        out = self._stream_json(key, info)
        now_ms = await self.server_ms()
        await self._fill_groups([out], [(key, [pairs(g) for g in
                                               await self.client.execute_command("XINFO", "GROUPS", key)])],
                                now_ms)
        latest = await self.client.execute_command("XREVRANGE", key, "+", "-", "COUNT", 20)
        out["entries"] = [entry_json(e) for e in latest]
        for group in out["groups"]:
            pending = await self.client.xpending_range(key, group["name"], "-", "+", PREVIEW_ITEMS)
            group["pending_entries"] = [
                {"id": text(p["message_id"]), "consumer": text(p["consumer"]),
                 "idle": p["time_since_delivered"], "deliveries": p["times_delivered"]}
                for p in pending]
        source = dead_letter_source(key)
        out["dead_letters_of"] = text(source) if source is not None else None
        return out

    # -- pub/sub ---------------------------------------------------------------------------------

    async def pubsub_view(self) -> dict:
        channels = (await self.client.execute_command("PUBSUB", "CHANNELS"))[:MAX_CHANNELS]
        counts = pairs(await self.client.execute_command("PUBSUB", "NUMSUB", *channels)) if channels else {}
        numpat = await self.client.execute_command("PUBSUB", "NUMPAT")
        rates, rate_error = await self.pubsub.rates()
        own = 1 if self.pubsub.active else 0
        patterns = None
        if self.local_engine is not None:
            patterns = []
            for pattern, (_match, subscribers) in list(self.local_engine.pubsub.patterns.entries.items()):
                n = len(subscribers) - (own if pattern == b"*" else 0)
                if n > 0:
                    patterns.append({"name": text(pattern), "subscribers": n,
                                     "rate": self.pubsub.pattern_rate(pattern)})
        return {
            "channels": sorted(({"name": text(c), "subscribers": counts.get(text(c), 0),
                                 "rate": rates.get(c, 0.0)} for c in channels),
                               key=lambda c: (-c["subscribers"], c["name"])),
            "numpat": max(numpat - own, 0), "patterns": patterns,
            "published": [{"name": text(c), "rate": r} for c, r in sorted(rates.items()) if r],
            "rate_error": rate_error, "capped": len(channels) >= MAX_CHANNELS}

    # -- keys ------------------------------------------------------------------------------------

    async def keys(self, pattern: str, kind: str, cursor: int) -> dict:
        found: list[bytes] = []
        for _ in range(20):
            cursor, batch = await self.client.scan(cursor, match=pattern or "*", count=500,
                                                   _type=kind or None)
            found.extend(batch)
            if not cursor or len(found) >= KEYS_PAGE:
                break
        pipe = self.client.pipeline(transaction=False)
        for key in found:
            pipe.type(key)
            pipe.pttl(key)
        replies = await pipe.execute(raise_on_error=False) if found else []
        rows = []
        for i, key in enumerate(found):
            kind_of, ttl = replies[2 * i], replies[2 * i + 1]
            if isinstance(kind_of, Exception) or kind_of == b"none":
                continue
            rows.append({"key": key.hex(), "name": text(key, VALUE_CHARS), "type": text(kind_of),
                         "ttl": ttl if isinstance(ttl, int) else None})
        return {"cursor": cursor, "keys": rows}

    async def key(self, key: bytes) -> dict:
        c = self.client
        kind = text(await c.type(key))
        out: dict[str, Any] = {"key": key.hex(), "name": text(key), "type": kind,
                               "ttl": await c.pttl(key), "size": None, "preview": None}
        if kind == "string":
            out["size"] = await c.strlen(key)
            out["preview"] = text(await c.getrange(key, 0, PREVIEW_BYTES - 1))
        elif kind == "list":
            out["size"] = await c.llen(key)
            out["preview"] = [text(v, VALUE_CHARS) for v in await c.lrange(key, 0, PREVIEW_ITEMS - 1)]
        elif kind == "hash":
            out["size"] = await c.hlen(key)
            _, items = await c.hscan(key, 0, count=PREVIEW_ITEMS)
            out["preview"] = [[text(f, VALUE_CHARS), text(v, VALUE_CHARS)]
                              for f, v in list(items.items())[:PREVIEW_ITEMS]]
        elif kind == "set":
            out["size"] = await c.scard(key)
            _, items = await c.sscan(key, 0, count=PREVIEW_ITEMS)
            out["preview"] = sorted(text(v, VALUE_CHARS) for v in items)[:PREVIEW_ITEMS]
        elif kind == "zset":
            out["size"] = await c.zcard(key)
            out["preview"] = [[text(m, VALUE_CHARS), s] for m, s in
                              await c.zrange(key, 0, PREVIEW_ITEMS - 1, withscores=True)]
        elif kind == "stream":
            out["size"] = await c.xlen(key)
            out["preview"] = [entry_json(e) for e in
                              await c.execute_command("XREVRANGE", key, "+", "-", "COUNT", 20)]
        out["capped"] = isinstance(out["size"], int) and kind != "string" and out["size"] > PREVIEW_ITEMS
        return out

    # -- clients, slowlog, latency -------------------------------------------------------------

    async def clients(self) -> dict:
        out: dict[str, Any] = {}
        raw = await self.client.execute_command("CLIENT", "LIST")
        rows = []
        for line in text(raw).splitlines():
            row: dict[str, Any] = {}
            for part in line.split(" "):
                name, _, value = part.partition("=")
                row[name] = int(value) if value.lstrip("-").isdigit() else value
            if row:
                rows.append(row)
        out["clients"] = rows
        out["slowlog"] = out["latency"] = out["histogram"] = None
        errors = {}
        try:
            out["slowlog"] = [{"id": e[0], "time": e[1], "duration": e[2],
                               "command": " ".join(text(a, 64) for a in e[3]),
                               "client": text(e[4]) if len(e) > 4 else "",
                               "name": text(e[5]) if len(e) > 5 else ""}
                              for e in await self.client.execute_command("SLOWLOG", "GET", 50)]
        except ResponseError as err:
            errors["slowlog"] = str(err)
        try:
            out["latency"] = [{"event": text(e[0]), "time": e[1], "latest": e[2], "max": e[3]}
                              for e in await self.client.execute_command("LATENCY", "LATEST")]
        except ResponseError as err:
            errors["latency"] = str(err)
        try:
            out["histogram"] = _histogram(await self.client.execute_command("LATENCY", "HISTOGRAM"))
        except ResponseError as err:
            errors["histogram"] = str(err)
        out["errors"] = errors
        return out

    # -- write actions ----------------------------------------------------------------------------

    async def act(self, action: str, args: dict) -> Any:
        c = self.client
        if action == "client-kill":
            return await c.execute_command("CLIENT", "KILL", "ID", int(args["id"]))
        if action == "key-delete":
            return await c.delete(bytes.fromhex(args["key"]))
        if action == "xack":
            return await c.xack(bytes.fromhex(args["key"]), args["group"], args["id"])
        if action == "xclaim":
            claimed = await c.xclaim(bytes.fromhex(args["key"]), args["group"], args["consumer"],
                                     0, [args["id"]], justid=True)
            return [text(i) for i in claimed]
        if action == "replay":
            from ..patterns.aio.streams import DeadLetters
            dead = bytes.fromhex(args["key"])
            entry = await c.execute_command("XRANGE", dead, args["id"], args["id"])
            if not entry:
                raise ResponseError("no such dead letter")
            fields = entry[0][1]
            target = (fields.get(b"stream") if isinstance(fields, dict) else pairs(fields).get("stream")) \
                or dead_letter_source(dead)
            if not target:
                raise ResponseError("this entry does not name its stream")
            return await DeadLetters(c, target, dead).replay([args["id"]])  # type: ignore[arg-type]
        raise KeyError(action)


def replication(info: dict) -> dict:
    """INFO replication as the Overview shows it: the role, a replica's link to its
    primary, a primary's replicas with their acknowledged offsets, how many bytes
    each is behind and the seconds since its last acknowledgement."""
    out = {k: info.get(k) for k in (
        "role", "connected_slaves", "master_repl_offset", "master_host", "master_port",
        "master_link_status", "master_last_io_seconds_ago", "master_sync_in_progress",
        "slave_repl_offset", "slave_read_only", "master_failover_state")}
    primary_offset = info.get("master_repl_offset") or 0
    replicas = []
    for key in sorted((k for k in info if k.startswith("slave") and k[5:].isdigit()), key=lambda k: int(k[5:])):
        link = info[key]
        if not isinstance(link, dict):
            continue
        offset = link.get("offset", 0)
        replicas.append({"address": f"{link.get('ip')}:{link.get('port')}", "state": link.get("state"),
                         "offset": offset, "behind": max(primary_offset - offset, 0), "lag": link.get("lag")})
    out["replicas"] = replicas
    return out


def _histogram(reply: list) -> list[dict]:
    """LATENCY HISTOGRAM: per command, its calls and the cumulative buckets."""
    out = []
    for name, body in pairs(reply).items():
        fields = pairs(body)
        buckets = fields.get("histogram_usec") or []
        out.append({"command": name, "calls": fields.get("calls", 0),
                    "buckets": [[buckets[i], buckets[i + 1]] for i in range(0, len(buckets) - 1, 2)]})
    return sorted(out, key=lambda h: -h["calls"])


class PubSubRates:
    """Messages per second per channel, seen through the dashboard's own
    ``PSUBSCRIBE *`` (held while the Pub/Sub page is polled, dropped a minute
    after its last poll); no Redis command reports per-channel traffic."""

    IDLE_SECONDS = 60.0

    def __init__(self, client: aioredis.Redis):
        self.client = client
        self.counts: dict[bytes, int] = {}
        self.snapshots: deque[tuple[float, dict[bytes, int]]] = deque(maxlen=6)
        self.task: asyncio.Task | None = None
        self.error: str | None = None
        self.polled = 0.0
        self.ready = asyncio.Event()

    @property
    def active(self) -> bool:
        return self.task is not None and not self.task.done() and self.ready.is_set()

    async def rates(self) -> tuple[dict[bytes, float], str | None]:
        now = time.monotonic()
        self.polled = now
        if self.task is None or self.task.done():
            self.ready.clear()
            self.error = None
            self.task = asyncio.get_running_loop().create_task(self._listen())
            try:
                await asyncio.wait_for(self.ready.wait(), 2.0)
            except asyncio.TimeoutError:
                pass
        if not self.snapshots or now - self.snapshots[-1][0] >= 1.0:
            self.snapshots.append((now, dict(self.counts)))
        then, old = self.snapshots[0]
        dt = now - then
        if dt < 0.5:
            return {c: 0.0 for c in self.counts}, self.error
        return {c: round((n - old.get(c, 0)) / dt, 2) for c, n in self.counts.items()}, self.error

    def pattern_rate(self, pattern: bytes) -> float:
        from ..types.glob import glob_match
        if len(self.snapshots) < 2:
            return 0.0
        (t0, old), (t1, new) = self.snapshots[0], self.snapshots[-1]
        total = sum(n - old.get(c, 0) for c, n in new.items() if glob_match(pattern, c))
        return round(total / max(t1 - t0, 1e-3), 2)

    async def _listen(self) -> None:
        pubsub = self.client.pubsub()
        try:
            await pubsub.psubscribe("*")
            while time.monotonic() - self.polled < self.IDLE_SECONDS:
                message = await pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                if message["type"] == "psubscribe":
                    self.ready.set()
                elif message["type"] == "pmessage":
                    channel = message["channel"]
                    if channel in self.counts or len(self.counts) < MAX_COUNTED_CHANNELS:
                        self.counts[channel] = self.counts.get(channel, 0) + 1
        except (RedisError, OSError) as err:
            self.error = f"message rates unavailable: {err}"
        finally:
            self.ready.set()
            await (pubsub.aclose() if hasattr(pubsub, "aclose") else pubsub.close())

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except (asyncio.CancelledError, Exception):
                pass
