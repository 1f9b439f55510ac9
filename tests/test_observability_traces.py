"""Traces, captured with the OpenTelemetry SDK's in-memory exporter from the origin app
served in this process against the real stack: a request's spans for the cache lookup,
the routing decision, each provider attempt and the ledger write, with GenAI attributes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from origin.app import create_app
from origin.observability.tracing import Tracing
from origin.settings import Settings


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture(scope="module")
async def traced(
    origin_env: dict[str, str], exporter: InMemorySpanExporter
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings.from_env(origin_env), tracing=Tracing.to_exporter(exporter))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://origin") as client:
            yield client


def spans_of(exporter: InMemorySpanExporter, request_id: str) -> list[ReadableSpan]:
    """Every span in the trace whose server span carries `request_id`."""
    spans = exporter.get_finished_spans()
    (root,) = [
        s
        for s in spans
        if (s.attributes or {}).get("prism.request_id") == request_id and s.kind == SpanKind.SERVER
    ]
    trace_id = root.context.trace_id
    return [s for s in spans if s.context.trace_id == trace_id]


async def test_a_failed_over_request_is_one_trace(traced, exporter, make_project, sim) -> None:
    project = await make_project("traces")
    sim.script({"kind": "status", "status": 503}, provider="openai")
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "trace me"}]}
    headers = {"Authorization": f"Bearer {project.api_key}"}
    response = await traced.post("/v1/chat/completions", json=body, headers=headers)
    assert response.status_code == 200
    spans = spans_of(exporter, response.headers["x-prism-request-id"])
    by_name: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)

    (root,) = by_name["POST /v1/chat/completions"]
    assert root.parent is None
    attrs: dict[str, Any] = dict(root.attributes or {})
    assert attrs["http.response.status_code"] == 200
    assert attrs["gen_ai.provider.name"] == response.headers["x-prism-provider"]
    assert attrs["gen_ai.usage.input_tokens"] == response.json()["usage"]["prompt_tokens"]
    assert attrs["gen_ai.usage.output_tokens"] == response.json()["usage"]["completion_tokens"]
    assert attrs["prism.cost_cents"] == float(response.headers["x-prism-cost-cents"])

    (lookup,) = by_name["prism.cache.lookup"]
    assert lookup.attributes["prism.cache_status"] == "miss"
    (route,) = by_name["prism.route"]
    assert route.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    # A named model's route needs no task type: it is labelled while the provider works.
    assert "prism.task_type" not in route.attributes
    (label,) = by_name["prism.classify"]
    assert label.attributes["prism.task_type"] == response.headers["x-prism-task-type"]

    attempts = sorted(
        (s for s in spans if s.kind == SpanKind.CLIENT and s.name.startswith("chat ")),
        key=lambda s: s.start_time or 0,
    )
    assert len(attempts) == 2
    first, second = attempts
    assert first.attributes["gen_ai.provider.name"] == "openai"
    assert first.attributes["error.type"] == "upstream_unavailable"
    assert first.status.status_code == StatusCode.ERROR
    assert second.attributes["gen_ai.provider.name"] == response.headers["x-prism-provider"]
    assert second.attributes["gen_ai.operation.name"] == "chat"
    assert second.attributes["gen_ai.usage.input_tokens"] > 0
    (ledger,) = by_name["prism.ledger.record"]
    assert ledger.attributes["prism.cache_status"] == "miss"
    for child in (lookup, route, label, first, second, ledger):
        assert child.parent is not None and child.parent.span_id == root.context.span_id


def test_tracing_is_off_without_an_endpoint() -> None:
    off = Tracing.from_endpoint("")
    assert not off.enabled
    with off.span("anything") as span:
        assert not span.is_recording()
    on = Tracing.from_endpoint("http://127.0.0.1:4318")
    assert on.enabled
    on.shutdown()
