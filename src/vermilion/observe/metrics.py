"""The server's own Prometheus collector: INFO, SLOWLOG, LATENCY and XINFO numbers
read from the engine on its event loop, named as redis_exporter names them.

A scrape is split in two (docs/dashboard.md gives what each part costs):

* on the loop, `EngineCollector.snapshot` runs the functions INFO runs (no
  command is dispatched, no text is parsed back) and reads each exported stream's
  numbers from the stream itself, copying plain values into a `Snapshot`; a
  stream's and a group's numbers are kept from one scrape to the next while the
  counters that move with any change of them are the same;
* in a worker thread, `Encoder` describes the snapshot's families (`exporter.Spec`)
  and has prometheus_client format them, one family at a time: a family equal to
  the previous scrape's is not formatted again, its bytes (prometheus_client's)
  are reused. The worker gives the GIL up after each family it formats, so the
  loop never waits for more than one family's formatting.

`Snapshot` is also a prometheus_client collector: registered in a registry, its
families come out of `generate_latest` byte for byte as `Encoder` writes them.

Streams are exported for keys matching `metrics-streams` (glob patterns, all
databases), at most `metrics-streams-max` of them per scrape (redis_exporter's
check-streams, without a round trip per stream). A new stream matching a glob
pattern is exported within DISCOVERY_SECONDS.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Iterator

from prometheus_client.core import Metric

from ..commands.server import SECTIONS
from ..types.glob import glob_match
from ..types.stream import Stream
from .exporter import CONFIG_GAUGES, Spec, info_specs, label_value, metric, stream_specs

# What a scrape reads of INFO: redis_exporter asks for INFO ALL; these are the
# sections that carry numbers (keyspace is read by `EngineCollector.keyspace`).
INFO_SECTIONS = ("server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                 "commandstats", "errorstats", "latencystats")


class Snapshot:
    """The numbers of one scrape, copied on the event loop: plain values (INFO's
    fields, the streams' numbers), which the encoding reads from another thread."""

    __slots__ = ("sections", "databases", "config", "slowlog", "latency", "streams", "groups",
                 "consumers", "taken", "now")

    def specs(self) -> Iterator[Spec]:
        yield Spec("gauge", "up", "1 while the server answers scrapes", (), (((), 1),))
        yield from info_specs(self.sections, self.now, self.databases)
        for name, number in self.config:
            yield Spec("gauge", "config_" + name.replace("-", "_"), f"config {name}", (), (((), number),))
        length, last_id, last_duration = self.slowlog
        for name, doc, number in (
                ("slowlog_length", "Entries in the slow log", length),
                ("slowlog_last_id", "ID of the newest slow log entry", last_id),
                ("last_slow_execution_duration_seconds",
                 "Duration of the newest slow log entry, in seconds", last_duration / 1e6)):
            yield Spec("gauge", name, doc, (), (((), number),))
        events = [((label_value(event),), when, latest) for event, when, latest, _peak in self.latency]
        yield Spec("gauge", "latency_spike_last", "Unix time of the latest spike of each latency event",
                   ("event_name",), tuple((labels, when) for labels, when, _ in events))
        yield Spec("gauge", "latency_spike_duration_seconds",
                   "Duration of the latest spike of each latency event, in seconds",
                   ("event_name",), tuple((labels, latest / 1e3) for labels, _, latest in events))
        yield from stream_specs(self.streams, self.groups, self.consumers)
        yield Spec("gauge", "exporter_last_scrape_duration_seconds",
                   "Loop time the previous scrape took on the server", (), (((), self.taken),))

    def families(self, openmetrics: bool = False) -> Iterator[Metric]:
        """prometheus_client's families (for OpenMetrics, or the text format)."""
        return (metric(spec, openmetrics) for spec in self.specs())

    def collect(self) -> Iterator[Metric]:       # a prometheus_client collector
        return self.families()

    def describe(self) -> list:
        return []


class _Family:
    """A registry of one family, for prometheus_client's writers."""

    __slots__ = ("family",)

    def __init__(self, family: Metric):
        self.family = family

    def collect(self) -> list[Metric]:
        return [self.family]


class Encoder:
    """Writes snapshots in one exposition format with prometheus_client's writer
    `generate` (its generate_latest, or OpenMetrics'), family by family. Each
    family's bytes are kept while its Spec is unchanged: at 100 streams most of a
    scrape's families are the previous scrape's (only what moved is formatted).

    Runs in a worker thread, which holds the GIL while it works: it gives it up
    after each CHUNK samples it formats, and when it has reused families for HOLD
    seconds, so the loop waits for no more than about that. A family of more
    samples is formatted CHUNK rows at a time, each part by the writer, the parts
    after the first without the HELP and TYPE lines the writer repeats. Scrapes
    that overlap are encoded one after the other."""

    CHUNK = 10
    HOLD = 0.0001

    def __init__(self, generate: Callable, openmetrics: bool):
        self.generate = generate
        self.openmetrics = openmetrics
        self._lock = threading.Lock()
        self._known: dict[str, tuple[Spec, bytes]] = {}
        # OpenMetrics ends an exposition with "# EOF", which only the last family
        # may carry: the writer's own ending, taken from an empty registry.
        self._eof = generate(_Empty()) if openmetrics else b""

    def _format(self, spec: Spec) -> bytes:
        body = self.generate(_Family(metric(spec, self.openmetrics)))
        return body[:len(body) - len(self._eof)]

    def format(self, spec: Spec) -> bytes:
        """The family's exposition, giving the GIL up after each part."""
        rows, chunk = spec.rows, self.CHUNK
        if len(rows) <= chunk:
            body = self._format(spec)
            time.sleep(0)           # the loop takes the GIL here if it waits for it
            return body
        parts = []
        for start in range(0, len(rows), chunk):
            part = self._format(spec._replace(rows=rows[start:start + chunk]))
            parts.append(part if start == 0 else _samples_only(part))
            time.sleep(0)
        return b"".join(parts)

    def encode(self, snapshot: Snapshot) -> bytes:
        with self._lock:
            known = self._known
            kept: dict[str, tuple[Spec, bytes]] = {}
            parts = []
            clock = time.perf_counter
            held = clock()
            for spec in snapshot.specs():
                entry = known.get(spec.name)
                if entry is None or entry[0] != spec:
                    entry = (spec, self.format(spec))
                    held = clock()
                elif clock() - held > self.HOLD:
                    time.sleep(0)
                    held = clock()
                kept[spec.name] = entry
                parts.append(entry[1])
            self._known = kept
            parts.append(self._eof)
            return b"".join(parts)


def _samples_only(body: bytes) -> bytes:
    """A family's exposition without its leading comment lines (HELP, TYPE, UNIT;
    a sample line starts with the metric's name)."""
    at = 0
    while body.startswith(b"#", at):
        at = body.index(b"\n", at) + 1
    return body[at:]


class _Empty:
    def collect(self) -> list:
        return []


class EngineCollector:
    """Takes snapshots of one engine; `snapshot` runs on the engine's loop."""

    # Stream discovery looks at every value's type: it is redone at most this often,
    # and after CONFIG SET metrics-streams (a literal `metrics-streams` list is looked
    # up at every scrape); the streams found are re-read, and re-checked, every scrape.
    DISCOVERY_SECONDS = 10.0

    # INFO keyspace's mean TTL reads every TTL (about 0.2 ms at 10,000 keys with one);
    # a scrape recomputes it when a database's count of keys with a TTL changed or
    # after this many seconds, and reuses it otherwise (Redis's own figure is an
    # estimate its expire cycle refreshes). Key counts are read every scrape.
    TTL_SECONDS = 5.0

    def __init__(self, engine):
        self.engine = engine
        self.last_scrape_seconds = 0.0      # loop time the previous snapshot took
        self._found: list[tuple[int, bytes]] = []
        self._found_key = None
        self._found_at = float("-inf")
        # (db index, key) -> (stamp, labels, numbers, {group name: (stamp, labels,
        #                     numbers, {consumer name: labels})})
        self._streams: dict[tuple[int, bytes], tuple] = {}
        self._ttl_stamp: tuple = ()
        self._ttl_at = float("-inf")
        self._avg_ttl: dict[str, str] = {}
        self._encoders: dict[str, Encoder] = {}
        engine.config.listeners.append(self._config_changed)

    def _config_changed(self, changed: set) -> None:
        if "metrics-streams" in changed or "metrics-streams-max" in changed:
            self._found_at = float("-inf")      # CONFIG SET rediscovers at the next scrape

    def encoder(self, generate: Callable, content_type: str) -> Encoder:
        """The Encoder of one format (one per content type, each with its kept bytes)."""
        encoder = self._encoders.get(content_type)
        if encoder is None:     # two first scrapes at once may both make one: one is kept
            encoder = self._encoders.setdefault(content_type, Encoder(
                generate, content_type.startswith("application/openmetrics-text")))
        return encoder

    def snapshot(self) -> Snapshot:
        started = time.thread_time()
        engine = self.engine
        snap = Snapshot()
        snap.now = time.time()
        sections = {name: SECTIONS[name](engine) for name in INFO_SECTIONS}
        sections["keyspace"] = self.keyspace()
        snap.sections = sections
        snap.databases = len(engine.dbs)
        config = engine.config
        snap.config = [(name, config[name]) for name in CONFIG_GAUGES if config.get(name) is not None]
        slowlog = engine.slowlog
        newest = slowlog[0] if slowlog else None
        snap.slowlog = (len(slowlog), newest.id if newest else 0, newest.duration if newest else 0)
        snap.latency = engine.latency.latest()
        self.take_streams(snap)
        snap.taken = self.last_scrape_seconds
        self.last_scrape_seconds = time.thread_time() - started
        return snap

    def take_streams(self, snap: Snapshot) -> None:
        """The numbers of the exported streams, their groups and consumers (groups
        and consumers in name order) as XINFO STREAM, GROUPS and CONSUMERS give them.

        A stream's numbers are kept from one scrape to the next while its length,
        entries-added, last and max-deleted IDs, node and group counts are the same
        (every change of its entries changes one of them, so the first and last
        entry IDs and the radix-tree numbers are the same too); a group's while
        those and its own counters are. Consumers' are read every scrape (their
        idle time moves)."""
        now = self.engine.clock.ms()
        known, kept = self._streams, {}
        streams: list[tuple] = []
        groups_out: list[tuple] = []
        consumers_out: list[tuple] = []
        for index, key, s in self.stream_keys():
            groups = s.groups
            stamp = (s.length, s.entries_added, s.last_id, s.max_deleted_id, s.node_count, len(groups))
            entry = known.get((index, key))
            if entry is None or entry[0] != stamp:
                first, last = s.first_entry_id(), s.last_valid_id()
                entry = (stamp, (f"db{index}", key), (
                    s.length, s.node_count, s.rax_nodes(), s.last_id.ms, len(groups), s.max_deleted_id.ms,
                    first.ms if first is not None else 0, last.ms if last is not None else 0,
                    s.entries_added), {})
            kept[(index, key)] = entry
            streams.append((entry[1], entry[2]))
            if not groups:
                continue
            known_groups = entry[3]
            for name in (groups if len(groups) == 1 else sorted(groups)):
                g = groups[name]
                gstamp = (g.last_id, g.entries_read, len(g.pel), len(g.consumers))
                gentry = known_groups.get(name)
                if gentry is None or gentry[0] != gstamp:
                    # XINFO's nil entries-read and lag (unknown) are exported as 0,
                    # as redis_exporter reads them.
                    gentry = known_groups[name] = (gstamp, entry[1] + (name,), (
                        len(g.consumers), len(g.pel), g.last_id.ms, max(g.entries_read, 0),
                        s.lag(g) or 0), {})
                groups_out.append((gentry[1], gentry[2]))
                consumers = g.consumers
                if consumers:
                    labels = gentry[3]
                    for cname in (consumers if len(consumers) == 1 else sorted(consumers)):
                        c = consumers[cname]
                        cl = labels.get(cname)
                        if cl is None:
                            cl = labels[cname] = gentry[1] + (cname,)
                        idle = now - c.seen_time
                        consumers_out.append((cl, (len(c.pel), idle / 1e3 if idle > 0 else 0.0)))
        self._streams = kept
        snap.streams, snap.groups, snap.consumers = streams, groups_out, consumers_out

    def keyspace(self) -> list[tuple[str, str]]:
        """INFO keyspace's fields, the mean TTLs possibly from an earlier scrape."""
        dbs = [db for db in self.engine.dbs if db.data]
        stamp = tuple((db.index, len(db.expires)) for db in dbs)
        clock = time.monotonic()
        if stamp != self._ttl_stamp or clock - self._ttl_at >= self.TTL_SECONDS:
            pairs = SECTIONS["keyspace"](self.engine)
            self._avg_ttl = {db: value.rsplit("avg_ttl=", 1)[1].split(",", 1)[0] for db, value in pairs}
            self._ttl_stamp, self._ttl_at = stamp, clock
            return pairs
        avg = self._avg_ttl
        return [(f"db{db.index}", f"keys={len(db.data)},expires={len(db.expires)},"
                                  f"avg_ttl={avg.get(f'db{db.index}', 0)}") for db in dbs]

    def stream_keys(self) -> list[tuple[int, bytes, Stream]]:
        """(db index, key, stream) of the streams to export, at most
        `metrics-streams-max` in all."""
        config = self.engine.config
        patterns = [p.encode() for p in config["metrics-streams"].split()]
        limit = config["metrics-streams-max"]
        if not patterns or limit <= 0:
            return []
        literal = all(not any(c in p for c in b"*?[\\") for p in patterns)
        wanted = (tuple(patterns), limit)
        clock = time.monotonic()
        if literal:
            candidates = [(db.index, p) for db in self.engine.dbs if db.data for p in patterns]
        elif wanted != self._found_key or clock - self._found_at >= self.DISCOVERY_SECONDS:
            candidates = self._discover(patterns, limit)
            self._found, self._found_key, self._found_at = candidates, wanted, clock
        else:
            candidates = self._found
        now = self.engine.clock.ms()
        dbs = self.engine.dbs
        out = []
        for index, key in candidates:
            db = dbs[index]
            value = db.data.get(key)
            if type(value) is not Stream:
                continue
            when = db.expires.get(key) if db.expires else None
            if when is not None and now > when:
                continue
            out.append((index, key, value))
            if len(out) >= limit:
                break
        return out

    def _discover(self, patterns: list[bytes], limit: int) -> list[tuple[int, bytes]]:
        found = []
        for db in self.engine.dbs:
            for key, value in db.data.items():
                if type(value) is Stream and any(glob_match(p, key) for p in patterns):
                    found.append((db.index, key))
                    if len(found) >= limit:
                        return found
        return found


def wants_openmetrics(accept: str) -> bool:
    """Whether to answer in OpenMetrics: only when the scraper does not take the
    text format. Prometheus asks for both (OpenMetrics first) and gets the text
    format, as redis_exporter serves it, so the latency summary's quantile labels
    are INFO's ("99.9") that redis_exporter's dashboards query (OpenMetrics
    requires fractions)."""
    types = {part.split(";", 1)[0].strip().lower() for part in accept.split(",")}
    return "application/openmetrics-text" in types and not types & {"text/plain", "*/*", "text/*"}


def exposition(collector: EngineCollector, snapshot: Snapshot, accept: str | None) -> tuple[bytes, str]:
    """(body, content type) of one scrape, in the format the scraper accepts,
    written by prometheus_client. Reads only the snapshot and the encoders' kept
    bytes: the scrape handler runs it in a worker thread."""
    from prometheus_client.exposition import choose_encoder

    accept = accept or ""
    generate, content_type = choose_encoder(accept if wants_openmetrics(accept) else "")
    return collector.encoder(generate, content_type).encode(snapshot), content_type
