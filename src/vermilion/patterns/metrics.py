"""Prometheus metrics for ``StreamWorker`` (needs the ``vermilion[metrics]`` extra).

    from prometheus_client import start_http_server
    from vermilion.patterns.metrics import PrometheusMetrics

    metrics = PrometheusMetrics()                 # the default registry
    StreamWorker(r, "jobs", "g", handle, prometheus=metrics).start()
    start_http_server(9100)

Every series has the labels ``stream`` and ``group``. Counters:
``vermilion_stream_processed_total``, ``_failed_total``, ``_timed_out_total``,
``_retried_total``, ``_dead_lettered_total``, ``_reclaimed_total``; gauges:
``vermilion_stream_in_flight``, ``_stuck_threads``, ``_lag``, ``_pending``,
``_oldest_pending_age_seconds`` (updated with each heartbeat); histogram:
``vermilion_stream_handler_duration_seconds`` (one observation per handler
call, a batch being one call).
"""

from __future__ import annotations

from typing import Any

_COUNTERS = {
    "processed": "Entries whose handler succeeded (acked)",
    "failed": "Failed deliveries (the handler raised or timed out)",
    "timed_out": "Deliveries abandoned after handler_timeout",
    "retried": "Entries delivered again to this worker after a failure",
    "dead_lettered": "Entries moved to the dead-letter stream",
    "reclaimed": "Entries taken over from stalled or dead consumers",
}
_GAUGES = {
    "in_flight": "Entries being handled now by this worker",
    "stuck_threads": "Handler threads still running a call abandoned after handler_timeout",
    "lag": "Entries in the stream the group has not read yet",
    "pending": "Entries delivered to the group and not acked",
    "oldest_pending_age": "Age in seconds of the oldest pending entry",
}


class PrometheusMetrics:
    """The metric families; one instance can serve many workers (by labels)."""

    def __init__(self, registry: Any = None, namespace: str = "vermilion",
                 buckets: tuple[float, ...] | None = None):
        try:
            import prometheus_client as pc
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("PrometheusMetrics needs prometheus_client: "
                              "pip install 'vermilion[metrics]'") from exc
        kw: dict[str, Any] = {"namespace": namespace, "subsystem": "stream",
                              "labelnames": ("stream", "group")}
        if registry is not None:
            kw["registry"] = registry
        self.counters = {n: pc.Counter(n, doc, **kw) for n, doc in _COUNTERS.items()}
        self.gauges_ = {
            n: pc.Gauge(n + ("_seconds" if n == "oldest_pending_age" else ""), doc, **kw)
            for n, doc in _GAUGES.items()}
        hist_kw = dict(kw)
        if buckets is not None:
            hist_kw["buckets"] = buckets
        self.duration_ = pc.Histogram("handler_duration_seconds",
                                      "Seconds per handler call", **hist_kw)

    def bind(self, stream: str, group: str) -> "BoundMetrics":
        return BoundMetrics(self, stream, group)


class BoundMetrics:
    """The series of one (stream, group)."""

    def __init__(self, families: PrometheusMetrics, stream: str, group: str):
        self._counters = {n: c.labels(stream, group) for n, c in families.counters.items()}
        self._gauges = {n: g.labels(stream, group) for n, g in families.gauges_.items()}
        self._duration = families.duration_.labels(stream, group)

    def count(self, name: str, n: int = 1) -> None:
        counter = self._counters.get(name)
        if counter is not None and n:
            counter.inc(n)

    def duration(self, seconds: float) -> None:
        self._duration.observe(seconds)

    def gauges(self, m: Any) -> None:
        for name, gauge in self._gauges.items():
            value = getattr(m, name, None)
            if value is not None:
                gauge.set(value)
