"""OpenTelemetry spans for streams (needs the ``vermilion[tracing]`` extra).

    from vermilion.patterns.tracing import StreamTracing
    tracing = StreamTracing()                     # the global tracer provider
    StreamProducer(r, "jobs", tracing=tracing).add({...})
    StreamWorker(r, "jobs", "g", handle, tracing=tracing)

The producer starts a ``<stream> publish`` span (kind PRODUCER) around each add
and writes its W3C trace context into the entry's fields (``traceparent``, and
``tracestate`` when there is one), so the context travels with the entry. The
worker starts a ``<stream> process`` span (kind CONSUMER) per handler call, with
a link to the producer's span of every entry it handles (a batch links to all of
them), and makes it current while the handler runs, so the handler's own spans
are its children. A failing handler marks the span as an error and records the
exception. Attributes follow OpenTelemetry's messaging conventions.
"""

from __future__ import annotations

from typing import Any, Iterable, cast

TRACE_FIELDS = ("traceparent", "tracestate")


class _FieldsGetter:
    """Reads trace context from entry fields, whatever the client's decoding."""

    def get(self, carrier: dict[Any, Any], key: str) -> list[str] | None:
        value = carrier.get(key)
        if value is None:
            value = carrier.get(key.encode())
        if value is None:
            return None
        return [value.decode() if isinstance(value, bytes) else str(value)]

    def keys(self, carrier: dict[Any, Any]) -> list[str]:
        return [k.decode() if isinstance(k, bytes) else str(k) for k in carrier]


class StreamTracing:
    """The tracer and propagator that producers and workers share."""

    def __init__(self, tracer_provider: Any = None):
        try:
            from opentelemetry import propagate, trace
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("StreamTracing needs opentelemetry-api: "
                              "pip install 'vermilion[tracing]'") from exc
        self._trace, self._propagate = trace, propagate
        self.tracer = trace.get_tracer("vermilion.patterns", tracer_provider=tracer_provider)
        self._getter = _FieldsGetter()

    # ---- producer

    def publish(self, stream: str, fields: dict[Any, Any]) -> tuple[Any, dict[Any, Any]]:
        """Start the publish span; returns it and the fields with its context added."""
        span = self.tracer.start_span(f"{stream} publish", kind=self._trace.SpanKind.PRODUCER,
                                      attributes={"messaging.system": "redis",
                                                  "messaging.operation.type": "publish",
                                                  "messaging.destination.name": stream})
        carrier: dict[str, str] = {}
        self._propagate.inject(carrier, context=self._trace.set_span_in_context(span))
        out = {k: v for k, v in fields.items() if k not in TRACE_FIELDS}
        out.update(carrier)
        return span, out

    @staticmethod
    def published(span: Any, entry_id: str | None) -> None:
        if entry_id is not None:
            span.set_attribute("messaging.message.id", entry_id)
        span.end()

    # ---- worker

    def process(self, stream: str, group: str, entries: Iterable[Any]) -> Any:
        """The span of one handler call, linked to the producers' spans."""
        entries = list(entries)
        links = []
        for entry in entries:
            ctx = self._propagate.extract(entry.fields, getter=cast(Any, self._getter))
            span_ctx = self._trace.get_current_span(ctx).get_span_context()
            if span_ctx.is_valid:
                links.append(self._trace.Link(span_ctx, {"messaging.message.id": entry.id}))
        attributes: dict[str, Any] = {
            "messaging.system": "redis", "messaging.operation.type": "process",
            "messaging.destination.name": stream, "messaging.consumer.group.name": group,
            "messaging.batch.message_count": len(entries)}
        if len(entries) == 1:
            attributes["messaging.message.id"] = entries[0].id
            attributes["messaging.redis.delivery_count"] = entries[0].deliveries
        return self.tracer.start_span(f"{stream} process", kind=self._trace.SpanKind.CONSUMER,
                                      links=links, attributes=attributes)

    def use(self, span: Any) -> Any:
        """Context manager: ``span`` is current inside, and ended on exit."""
        return self._trace.use_span(span, end_on_exit=True, record_exception=True,
                                    set_status_on_exception=True)
