"""The server's own Prometheus collector: INFO, SLOWLOG, LATENCY and XINFO numbers
read from the engine on its event loop, named as redis_exporter names them.

A scrape runs the same functions INFO and XINFO run (no command is dispatched,
no text is parsed back) on the loop, copying plain values into a `Snapshot`;
building prometheus_client's families from it and writing the exposition (most of
the work: a few microseconds per sample) happen in a worker thread. See
docs/dashboard.md for what a scrape costs at 10,000 keys and 100 streams.

Streams are exported for keys matching `metrics-streams` (glob patterns, all
databases), at most `metrics-streams-max` of them per scrape (redis_exporter's
check-streams, without a round trip per stream). A new stream matching a glob
pattern is exported within DISCOVERY_SECONDS.
"""
from __future__ import annotations

import time
from typing import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from ..commands.server import SECTIONS
from ..types.glob import glob_match
from ..types.stream import Stream
from .exporter import CONFIG_GAUGES, PREFIX, StreamFamilies, info_families

# What a scrape reads of INFO: redis_exporter asks for INFO ALL; these are the
# sections that carry numbers.
INFO_SECTIONS = ("server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                 "commandstats", "errorstats", "keyspace")


class Snapshot:
    """The numbers of one scrape, copied on the event loop: plain values (INFO's
    fields, XINFO's replies), which the encoding may read from another thread."""

    __slots__ = ("sections", "config", "slowlog", "latency", "streams", "taken")

    def families(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(PREFIX + "up", "1 while the server answers scrapes")
        up.add_metric([], 1.0)
        yield up
        yield from info_families(self.sections)
        for name, value in self.config:
            family = GaugeMetricFamily(PREFIX + "config_" + name.replace("-", "_"), f"config {name}")
            family.add_metric([], float(value))
            yield family
        length, last_id, last_duration = self.slowlog
        for name, doc, number in (
                ("slowlog_length", "Entries in the slow log", length),
                ("slowlog_last_id", "ID of the newest slow log entry", last_id),
                ("last_slow_execution_duration_seconds",
                 "Duration of the newest slow log entry, in seconds", last_duration / 1e6)):
            family = GaugeMetricFamily(PREFIX + name, doc)
            family.add_metric([], float(number))
            yield family
        last = GaugeMetricFamily(PREFIX + "latency_spike_last", "Unix time of the latest spike of each latency event",
                                 labels=["event_name"])
        duration = GaugeMetricFamily(PREFIX + "latency_spike_duration_seconds",
                                     "Duration of the latest spike of each latency event, in seconds", labels=["event_name"])
        for event, when, latest, _peak in self.latency:
            name = event.decode() if isinstance(event, bytes) else str(event)
            last.add_metric([name], float(when))
            duration.add_metric([name], latest / 1e3)
        yield last
        yield duration
        streams = StreamFamilies()
        for db, key, info, groups in self.streams:
            streams.add_stream(db, key, info)
            for group, consumers in groups:
                streams.add_group(db, key, group, consumers)
        yield from streams
        took = GaugeMetricFamily(PREFIX + "exporter_last_scrape_duration_seconds",
                                 "Loop time the previous scrape took on the server")
        took.add_metric([], self.taken)
        yield took

    def collect(self) -> Iterator[Metric]:       # a prometheus_client collector
        return self.families()

    def describe(self) -> list:
        return []


class EngineCollector:
    """Takes snapshots of one engine; `snapshot` runs on the engine's loop."""

    # Stream discovery looks at every value's type: it is redone at most this often,
    # and after CONFIG SET metrics-streams (a literal `metrics-streams` list is looked
    # up at every scrape); the streams found are re-read, and re-checked, every scrape.
    DISCOVERY_SECONDS = 10.0

    def __init__(self, engine):
        self.engine = engine
        self.last_scrape_seconds = 0.0      # loop time the previous snapshot took
        self._found: list[tuple[int, bytes]] = []
        self._found_key = None
        self._found_at = float("-inf")
        engine.config.listeners.append(self._config_changed)

    def _config_changed(self, changed: set) -> None:
        if "metrics-streams" in changed or "metrics-streams-max" in changed:
            self._found_at = float("-inf")      # CONFIG SET rediscovers at the next scrape

    def snapshot(self) -> Snapshot:
        started = time.thread_time()
        engine = self.engine
        snap = Snapshot()
        snap.sections = {name: SECTIONS[name](engine) for name in INFO_SECTIONS}
        config = engine.config
        snap.config = [(name, config[name]) for name in CONFIG_GAUGES if config.get(name) is not None]
        slowlog = engine.slowlog
        newest = slowlog[0] if slowlog else None
        snap.slowlog = (len(slowlog), newest.id if newest else 0, newest.duration if newest else 0)
        snap.latency = engine.latency.latest()
        now = engine.clock.ms()
        streams = []
        for index, key, stream in self.stream_keys():
            groups = [(group, Stream.info_consumers(stream.groups[group[b"name"]], now))
                      for group in stream.info_groups()]
            streams.append((f"db{index}", key.decode("utf-8", "replace"), stream_numbers(stream), groups))
        snap.streams = streams
        snap.taken = self.last_scrape_seconds
        self.last_scrape_seconds = time.thread_time() - started
        return snap

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


def stream_numbers(s: Stream) -> dict[bytes, object]:
    """XINFO STREAM's numbers without its first and last entries' fields (decoding
    them is most of XINFO's cost, and the metrics export only their IDs)."""
    first, last = s.first_entry_id(), s.last_valid_id()
    return {
        b"length": s.length, b"radix-tree-keys": s.node_count, b"radix-tree-nodes": s.rax_nodes(),
        b"last-generated-id": s.last_id.encode(), b"max-deleted-entry-id": s.max_deleted_id.encode(),
        b"entries-added": s.entries_added, b"groups": len(s.groups),
        b"first-entry": (first.encode(),) if first is not None else None,
        b"last-entry": (last.encode(),) if last is not None else None,
    }


def exposition(snapshot: Snapshot, accept: str | None) -> tuple[bytes, str]:
    """(body, content type) of one scrape, in the format the scraper accepts. Reads
    only the snapshot: the scrape handler runs it in a worker thread."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import choose_encoder

    registry = CollectorRegistry(auto_describe=False)
    registry.register(snapshot)
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
