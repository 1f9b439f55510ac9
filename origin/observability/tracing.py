"""OpenTelemetry traces: on when OTEL_EXPORTER_OTLP_ENDPOINT is set, otherwise free.

Spans: the HTTP request (server), the cache lookup, the routing decision, each provider
attempt (client, named `chat <model>` as the GenAI conventions ask) and the ledger write,
with `gen_ai.*` attributes. The provider is this object's own, never the global one, so a
test can hand it an in-memory exporter. When tracing is off, `span()` returns one shared
no-op context whose span ignores attributes: no SDK object is touched per request.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from contextlib import AbstractContextManager

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Status, StatusCode

from shared.usage import UsageRow

AttributeValue = str | bool | int | float
SERVICE_NAME = "prism-origin"
_OFF: AbstractContextManager[Span] = contextlib.nullcontext(INVALID_SPAN)


class Tracing:
    def __init__(self, provider: TracerProvider | None = None) -> None:
        self._provider = provider
        self._tracer = provider.get_tracer("prism.origin") if provider is not None else None

    @classmethod
    def from_endpoint(cls, endpoint: str) -> Tracing:
        """OTLP over HTTP to `endpoint`, batched off the request path; off when empty.

        The exporter reads the other standard OTEL_EXPORTER_OTLP_* variables (headers,
        timeout) itself."""
        if not endpoint:
            return cls()
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider = _provider()
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        return cls(provider)

    @classmethod
    def to_exporter(cls, exporter: SpanExporter) -> Tracing:
        """Every span handed to `exporter` as it ends (tests use the in-memory exporter)."""
        provider = _provider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        return cls(provider)

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    def span(
        self,
        name: str,
        attributes: Mapping[str, AttributeValue] | None = None,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
    ) -> AbstractContextManager[Span]:
        """A child of the current span; exceptions leaving it mark it as an error."""
        if self._tracer is None:
            return _OFF
        return self._tracer.start_as_current_span(name, kind=kind, attributes=attributes)

    def shutdown(self) -> None:
        """Send what is still batched; called once at shutdown."""
        if self._provider is not None:
            self._provider.shutdown()


def _provider() -> TracerProvider:
    return TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))


def failed(span: Span, error_type: str) -> None:
    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR))


def row_attributes(row: UsageRow) -> dict[str, AttributeValue]:
    """What a usage row says, as span attributes (GenAI names where they exist)."""
    attributes: dict[str, AttributeValue] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": row.provider,
        "gen_ai.response.model": row.model_used,
        "gen_ai.usage.input_tokens": row.tokens_in,
        "gen_ai.usage.output_tokens": row.tokens_out,
        "gen_ai.usage.cache_read.input_tokens": row.tokens_cache_read,
        "prism.request_id": row.request_id,
        "prism.mode": row.mode,
        "prism.task_type": row.task_type,
        "prism.cache_status": row.cache_status,
        "prism.cost_cents": float(row.cost_total_cents),
    }
    if row.error_code:
        attributes["error.type"] = row.error_code
    return attributes
