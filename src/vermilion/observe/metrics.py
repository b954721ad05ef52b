"""The server's own Prometheus collector: INFO, SLOWLOG, LATENCY and XINFO numbers
read from the engine on its event loop, named as redis_exporter names them.

A scrape runs the same functions INFO and XINFO run (no command is dispatched,
no text is parsed back), so its cost is that of computing the numbers: see
docs/dashboard.md for what it costs at 10,000 keys and 100 streams.

Streams are exported for keys matching `metrics-streams` (glob patterns, all
databases), at most `metrics-streams-max` of them per scrape (redis_exporter's
check-streams, without a round trip per stream).
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


class EngineCollector:
    """A prometheus_client collector of one engine; `collect` runs on its loop."""

    def __init__(self, engine):
        self.engine = engine
        self.last_scrape_seconds = 0.0      # loop time the previous scrape took

    def describe(self) -> list:
        return []       # unchecked registration: the families depend on the data

    def collect(self) -> Iterator[Metric]:
        engine = self.engine
        up = GaugeMetricFamily(PREFIX + "up", "Information about the Redis instance")
        up.add_metric([], 1.0)
        yield up
        yield from info_families({name: SECTIONS[name](engine) for name in INFO_SECTIONS})
        config = engine.config
        for name in CONFIG_GAUGES:
            value = config.get(name)
            if value is not None:
                family = GaugeMetricFamily(PREFIX + "config_" + name.replace("-", "_"),
                                           f"config {name}")
                family.add_metric([], float(value))
                yield family
        yield from self._slowlog()
        yield from self._latency()
        yield from self.streams()
        took = GaugeMetricFamily(PREFIX + "exporter_last_scrape_duration_seconds",
                                 "Time the previous scrape took on the server's event loop")
        took.add_metric([], self.last_scrape_seconds)
        yield took

    def _slowlog(self) -> Iterator[Metric]:
        slowlog = self.engine.slowlog
        newest = slowlog[0] if slowlog else None
        for name, doc, value in (
                ("slowlog_length", "Total slowlog", len(slowlog)),
                ("slowlog_last_id", "Last id of slowlog", newest.id if newest else 0),
                ("last_slow_execution_duration_seconds",
                 "The amount of time needed for last slow execution, in seconds",
                 newest.duration / 1e6 if newest else 0)):
            family = GaugeMetricFamily(PREFIX + name, doc)
            family.add_metric([], float(value))
            yield family

    def _latency(self) -> Iterator[Metric]:
        last = GaugeMetricFamily(PREFIX + "latency_spike_last", "When the latency spike last occurred",
                                 labels=["event_name"])
        duration = GaugeMetricFamily(PREFIX + "latency_spike_duration_seconds",
                                     "Length of the last latency spike in seconds", labels=["event_name"])
        for event, when, latest, _peak in self.engine.latency.latest():
            name = event.decode() if isinstance(event, bytes) else str(event)
            last.add_metric([name], float(when))
            duration.add_metric([name], latest / 1e3)
        yield last
        yield duration

    def stream_keys(self) -> list[tuple[int, bytes, Stream]]:
        """(db index, key, stream) of the streams to export, in key order of each
        database, at most `metrics-streams-max` in all."""
        config = self.engine.config
        patterns = [p.encode() for p in config["metrics-streams"].split()]
        limit = config["metrics-streams-max"]
        if not patterns or limit <= 0:
            return []
        literal = all(not any(c in p for c in b"*?[\\") for p in patterns)
        now = self.engine.clock.ms()
        found = []
        for db in self.engine.dbs:
            data = db.data
            if not data:
                continue
            expires = db.expires
            if literal:
                candidates = ((p, data.get(p)) for p in patterns)
            else:
                candidates = iter(data.items())
            for key, value in candidates:
                if type(value) is not Stream:
                    continue
                if not literal and not any(glob_match(p, key) for p in patterns):
                    continue
                when = expires.get(key) if expires else None
                if when is not None and now > when:
                    continue
                found.append((db.index, key, value))
                if len(found) >= limit:
                    return found
        return found

    def streams(self) -> Iterator[Metric]:
        families = StreamFamilies()
        now = self.engine.clock.ms()
        for index, key, stream in self.stream_keys():
            db, name = f"db{index}", key.decode("utf-8", "replace")
            families.add_stream(db, name, stream.info())
            for group in stream.info_groups():
                consumers = Stream.info_consumers(stream.groups[group[b"name"]], now)
                families.add_group(db, name, group, consumers)
        yield from families


def exposition(collector: EngineCollector, accept: str | None) -> tuple[bytes, str]:
    """(body, content type) of one scrape, in the format the scraper accepts."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import choose_encoder

    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    encoder, content_type = choose_encoder(accept or "")
    started = time.perf_counter()
    body = encoder(registry)
    collector.last_scrape_seconds = time.perf_counter() - started
    return body, content_type
