"""The server's own Prometheus collector: INFO, SLOWLOG, LATENCY and XINFO numbers
read from the engine on its event loop, named as redis_exporter names them.

A scrape is split in two (docs/dashboard.md gives what each part costs):

* on the loop, in one turn, `EngineCollector.snapshot` copies plain values into a
  `Snapshot`: the first step of INFO's split sections (commands.server.READINGS;
  the fields are written from the values in the metrics thread), the other
  sections as INFO makes them, and each exported stream's numbers read from the
  stream itself into flat lists (compiled: observe/reading.py). No command is
  dispatched, no text is parsed back: every number of a scrape is of one moment
  between two commands. What cannot have changed since the previous scrape is reused
  (`EngineCollector.keyspace_stamp`): at rest only the consumers' idle times are
  computed again. The mean TTLs are O(1) (`commands.server.avg_ttl`);
* in the metrics thread, before the snapshot: the process's RSS and CPU times, and
  the glob matching of the streams to export (on a copy of the keys the loop takes
  in a turn of its own, at most every DISCOVERY_SECONDS); after it, INFO
  latencystats' percentiles of the commands whose histograms changed (from the
  copies the snapshot holds);
* in the metrics thread, `Encoder` describes the snapshot's families (`exporter.Spec`)
  and has prometheus_client format them, one family at a time: a family equal to
  the previous scrape's is not formatted again, its bytes (prometheus_client's)
  are reused. The worker gives the GIL up after each family it formats, so the
  loop never waits for more than one family's formatting.

`Snapshot` is also a prometheus_client collector: registered in a registry, its
families come out of `generate_latest` byte for byte as `Encoder` writes them.

Streams are exported for keys matching `metrics-streams` (glob patterns, all
databases), at most `metrics-streams-max` of them per scrape (redis_exporter's
check-streams, without a round trip per stream). A new stream matching a glob
pattern is exported from the first scrape DISCOVERY_SECONDS after the last walk.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Iterator, NamedTuple

from prometheus_client.core import Metric

from ..commands.server import READINGS, SECTIONS, avg_ttl, commands_activity, cpu_usage, latency_inputs, latency_lines, mean_ttl
from ..engine.memory import rss_bytes
from ..types.glob import glob_match
from ..types.stream import Stream
from .exporter import CONFIG_GAUGES, Spec, info_specs, label_value, metric, stream_specs
from .reading import GROUP_INTS, STREAM_INTS, consumer_ints, read_streams, select_streams

# What a scrape reads of INFO: redis_exporter asks for INFO ALL; these are the
# sections that carry numbers (keyspace is read by `EngineCollector.keyspace`;
# latencystats' lines are computed in the metrics thread from `latency_inputs`).
INFO_SECTIONS = ("server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                 "commandstats", "errorstats")


class Snapshot:
    """The numbers of one scrape, copied on the event loop: plain values (INFO's
    fields, the streams' numbers), which the encoding reads from another thread."""

    __slots__ = ("sections", "latency_inputs", "keyspace", "databases", "config", "slowlog",
                 "latency", "streams", "consumers", "taken", "now", "now_ms")

    def keyspace_fields(self) -> list[tuple[str, str]]:
        """INFO keyspace's fields as of the snapshot's time: the mean TTL the loop
        read (O(1)), or computed here from the TTLs it copied (when one had passed)."""
        return [(f"db{index}", f"keys={keys},expires={expires},"
                               f"avg_ttl={ttls if type(ttls) is int else mean_ttl(ttls, self.now_ms)}")
                for index, keys, expires, ttls in self.keyspace]

    def specs(self) -> Iterator[Spec]:
        yield Spec("gauge", "up", "1 while the server answers scrapes", (), (((), 1),))
        sections = {name: READINGS[name][1](values) if name in READINGS else values
                    for name, values in self.sections.items()}
        yield from info_specs({**sections, "latencystats": latency_lines(self.latency_inputs),
                               "keyspace": self.keyspace_fields()}, self.now, self.databases)
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
        streams, groups, consumer_labels = self.streams.rows()
        consumers = self.consumers
        now = self.now_ms
        rows = []
        for i, labels in enumerate(consumer_labels):
            idle = now - consumers[2 * i + 1]
            rows.append((labels, (consumers[2 * i], idle / 1e3 if idle > 0 else 0.0)))
        yield from stream_specs(streams, groups, rows)
        yield Spec("gauge", "exporter_last_scrape_duration_seconds",
                   "Loop time the previous scrape took on the server", (), (((), self.taken),))

    def families(self, openmetrics: bool = False) -> Iterator[Metric]:
        """prometheus_client's families (for OpenMetrics, or the text format)."""
        return (metric(spec, openmetrics) for spec in self.specs())

    def collect(self) -> Iterator[Metric]:       # a prometheus_client collector
        return self.families()

    def describe(self) -> list:
        return []


class StreamRows:
    """The exported streams' numbers as `reading.read_streams` copied them on the
    loop (flat lists of integers and names), made into (labels, numbers) rows in
    the metrics thread, once per reading (scrapes at rest share one)."""

    __slots__ = ("read", "_rows", "_lock")

    def __init__(self, read: tuple):
        self.read = read
        self._rows: tuple | None = None
        self._lock = threading.Lock()

    def rows(self) -> tuple[list, list, list]:
        """(stream rows, group rows, consumer labels), as exporter.stream_specs takes them
        (the consumers' numbers are each scrape's own)."""
        with self._lock:
            if self._rows is None:
                self._rows = self._make()
            return self._rows

    def _make(self) -> tuple[list, list, list]:
        ints, names = self.read[0], self.read[1]
        streams: list = []
        groups: list = []
        consumers: list = []
        at = n = 0
        while at < len(ints):
            labels = (f"db{ints[at]}", names[n])
            n += 1
            numbers = tuple(ints[at + 1:at + STREAM_INTS])
            streams.append((labels, numbers))
            at += STREAM_INTS
            for _ in range(numbers[4]):         # the group count
                group = labels + (names[n],)
                n += 1
                numbers = tuple(ints[at:at + GROUP_INTS])
                groups.append((group, numbers))
                at += GROUP_INTS
                for _ in range(numbers[0]):     # the consumer count
                    consumers.append(group + (names[n],))
                    n += 1
        return streams, groups, consumers


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


class _Discovery(NamedTuple):
    """The streams a walk of the keyspace found for glob patterns."""
    found: list            # (db index, key), at most `limit`
    wanted: tuple          # (patterns, limit) it was made for
    stamp: tuple           # EngineCollector.keyspace_stamp when the keys were copied
    at: float              # time.monotonic() of the walk (or of its last confirmation)


def _literal(patterns: tuple) -> bool:
    return all(not any(c in p for c in b"*?[\\") for p in patterns)


class EngineCollector:
    """Takes snapshots of one engine; `snapshot` runs on the engine's loop.

    What the loop does per scrape is kept small by reusing what cannot have changed
    since the previous scrape, as `keyspace_stamp` tells: then the streams' and
    groups' numbers are the previous scrape's (the consumers' idle times are read
    again). Whatever needs no engine state (latency percentiles from copied
    histograms, matching keys to glob patterns, the text) runs in the metrics thread."""

    # Streams found by glob patterns are looked for again (every key's type) when
    # the keyspace changed and the last walk is this old, or the patterns changed.
    # The walk runs in the metrics thread, keys and all (nothing is asked of the
    # loop: see list_keys); a literal `metrics-streams` list is looked up directly
    # at every scrape.
    DISCOVERY_SECONDS = 10.0
    DISCOVERY_SLICE = 1024          # keys matched between two GIL releases

    def __init__(self, engine):
        self.engine = engine
        self.last_scrape_seconds = 0.0      # loop time the previous snapshot took
        self._discovered: _Discovery | None = None
        # The previous scrape's reading of the streams and what it was read under:
        # (stamp, wanted, found, StreamRows).
        self._rows: tuple | None = None
        self._encoders: dict[str, Encoder] = {}
        engine.config.listeners.append(self._config_changed)

    def _config_changed(self, changed: set) -> None:
        if "metrics-streams" in changed or "metrics-streams-max" in changed:
            self._discovered = None     # CONFIG SET looks for the streams again

    def encoder(self, generate: Callable, content_type: str) -> Encoder:
        """The Encoder of one format (one per content type, each with its kept bytes)."""
        encoder = self._encoders.get(content_type)
        if encoder is None:     # two first scrapes at once may both make one: one is kept
            encoder = self._encoders.setdefault(content_type, Encoder(
                generate, content_type.startswith("application/openmetrics-text")))
        return encoder

    def keyspace_stamp(self) -> tuple:
        """Equal to an earlier stamp while no key can have been added, removed,
        changed in any way or given a TTL since: every write moves `engine.dirty`
        (which also decides what reaches the AOF and the replicas: a write that did
        not move it would be missing there too), an expiry or an eviction moves its
        counter, and FLUSHDB, SWAPDB and loading replace a database's dicts whole.
        The dicts are named by id, not held (a flushed dataset is not kept alive);
        a new dict at a freed one's address with every counter equal is a reload
        of the same data (DEBUG RELOAD), whose numbers are the same."""
        engine = self.engine
        dicts = []
        for db in engine.dbs:
            dicts.append(db.data)
            dicts.append(db.expires)
        stats = engine.stats
        return (engine.dirty, stats.expired_keys, stats.evicted_keys, tuple(map(id, dicts)),
                tuple(map(len, dicts)))

    @staticmethod
    def measure() -> dict[str, dict]:
        """What INFO measures of the process rather than reads from the engine (RSS,
        CPU times): the scrape handler takes them in the metrics thread just before
        the snapshot, which passes them to INFO's sections."""
        return {"memory": {"rss": rss_bytes()}, "cpu": {"usage": cpu_usage()}}

    def snapshot(self, measured: dict[str, dict] | None = None) -> Snapshot:
        started = time.thread_time()
        engine = self.engine
        snap = Snapshot()
        snap.now = time.time()
        snap.now_ms = engine.clock.ms()
        measured = measured or {}
        # Every command's counters, read once for two sections.
        activity = commands_activity()
        shared = {"commandstats": {"activity": activity}}
        # The split sections' values are formatted in the metrics thread (Snapshot.specs).
        snap.sections = {name: (READINGS[name][0] if name in READINGS else SECTIONS[name])(
            engine, **measured.get(name, shared.get(name, {}))) for name in INFO_SECTIONS}
        snap.latency_inputs = latency_inputs(engine, activity)
        stamp = self.keyspace_stamp()
        snap.keyspace = self.keyspace(snap.now_ms)
        snap.databases = len(engine.dbs)
        config = engine.config
        snap.config = [(name, config[name]) for name in CONFIG_GAUGES if config.get(name) is not None]
        slowlog = engine.slowlog
        newest = slowlog[0] if slowlog else None
        snap.slowlog = (len(slowlog), newest.id if newest else 0, newest.duration if newest else 0)
        snap.latency = engine.latency.latest()
        self.take_streams(snap, stamp)
        snap.taken = self.last_scrape_seconds
        self.last_scrape_seconds = time.thread_time() - started
        return snap

    def keyspace(self, now: int) -> list[tuple]:
        """(db index, keys, keys with a TTL, mean TTL) of each database holding keys;
        instead of the mean, a copy of the TTLs when one has passed (rare: the
        expiry cycle deletes such keys within a tick), for the metrics thread."""
        out = []
        for db in self.engine.dbs:
            data = db.data
            if data:
                expires = db.expires
                mean = avg_ttl(db, now)
                out.append((db.index, len(data), len(expires),
                            mean if mean is not None else list(expires.values())))
        return out

    def take_streams(self, snap: Snapshot, stamp: tuple) -> None:
        """The numbers of the exported streams, their groups and consumers (groups
        and consumers in name order) as XINFO STREAM, GROUPS and CONSUMERS give them.

        While the keyspace is unchanged (`stamp`), no exported stream has reached
        its TTL and the selection is the same, every number but the consumers'
        pending counts and seen times is the previous scrape's. Otherwise every
        stream is read again, its entry-derived numbers reused while its own
        counters are the same (reading.read_streams)."""
        now = self.engine.clock.ms()
        wanted = self._wanted()
        found = self._discovered.found if self._discovered is not None else None
        rows = self._rows
        if rows is not None and rows[0] == stamp and rows[1] == wanted and rows[2] is found \
                and now <= rows[3].read[3]:
            streams = rows[3]
        else:
            selected = self.stream_keys(wanted)
            streams = StreamRows(read_streams(selected, rows[3].read if rows is not None else None))
            found = self._discovered.found if self._discovered is not None else None
            self._rows = (stamp, wanted, found, streams)
        snap.streams = streams
        snap.consumers = consumer_ints(streams.read[2])

    def _wanted(self) -> tuple[tuple[bytes, ...], int]:
        config = self.engine.config
        return tuple(p.encode() for p in config["metrics-streams"].split()), config["metrics-streams-max"]

    def stream_keys(self, wanted: tuple | None = None) -> list[tuple[int, bytes, Stream, int | None]]:
        """(db index, key, stream, expiry time or None) of the streams to export,
        at most `metrics-streams-max` in all."""
        patterns, limit = wanted if wanted is not None else self._wanted()
        if not patterns or limit <= 0:
            return []
        dbs = self.engine.dbs
        if _literal(patterns):
            candidates = [(db.index, p) for db in dbs if db.data for p in patterns]
        else:
            found = self._discovered
            if found is None or found.wanted != (patterns, limit):
                # Not prepared by the metrics thread (a snapshot taken directly):
                # the walk runs here.
                self.discover(self.list_keys(), give_up_gil=False)
                found = self._discovered
            candidates = found.found
        return select_streams(dbs, candidates, self.engine.clock.ms(), limit)

    def discovery_due(self) -> bool:
        """Whether the streams matching glob patterns are to be looked for again
        before the next snapshot. Called from the metrics thread: when the last walk
        is DISCOVERY_SECONDS old, it reads the keyspace stamp itself (counters, the
        dicts' ids and sizes: each read is atomic under the GIL, and one racing a
        write at worst sees it at the next scrape), so that a keyspace unchanged
        since the walk costs the loop nothing."""
        wanted = self._wanted()
        patterns, limit = wanted
        if not patterns or limit <= 0 or _literal(patterns):
            return False
        found = self._discovered
        if found is None or found.wanted != wanted:
            return True
        if time.monotonic() - found.at < self.DISCOVERY_SECONDS:
            return False
        if found.stamp == self.keyspace_stamp():
            self._discovered = found._replace(at=time.monotonic())
            return False
        return True

    def list_keys(self) -> tuple | None:
        """Each database's dict and a copy of its keys, for `discover`; None when
        the last walk stands after all (same patterns, the keyspace unchanged since).

        Called from the metrics thread, not on the loop: the stamp is read first (a
        change after it shows at the next check), then each copy is one C call
        (`list(dict)`: no Python code runs in it, so no other thread runs while it
        copies), and `discover` looks each matching key's value up in the dict
        itself, one atomic lookup at a time. The loop then spends nothing on a walk;
        it waits for the GIL at most as long as one copy (about 4 ns a key warm). The
        values found are only candidates: each snapshot checks them again
        (`reading.select_streams`)."""
        wanted = self._wanted()
        stamp = self.keyspace_stamp()
        found = self._discovered
        if found is not None and found.wanted == wanted and found.stamp == stamp:
            self._discovered = found._replace(at=time.monotonic())
            return None
        return wanted, stamp, [(db.index, db.data, list(db.data)) for db in self.engine.dbs if db.data]

    def discover(self, listing: tuple | None, give_up_gil: bool = True) -> None:
        """The streams among the copied keys that match the patterns, in database
        and key order, at most `limit`. Runs in the metrics thread, giving the GIL
        up every DISCOVERY_SLICE keys."""
        if listing is None:
            return
        (patterns, limit), stamp, dbs = listing
        found: list[tuple[int, bytes]] = []
        step = self.DISCOVERY_SLICE
        for index, data, keys in dbs:
            get = data.get
            for start in range(0, len(keys), step):
                for key in keys[start:start + step]:
                    if type(get(key)) is Stream and any(glob_match(p, key) for p in patterns):
                        found.append((index, key))
                if len(found) >= limit:
                    break
                if give_up_gil:
                    time.sleep(0)
            if len(found) >= limit:
                break
        self._discovered = _Discovery(found[:limit], (patterns, limit), stamp, time.monotonic())


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
