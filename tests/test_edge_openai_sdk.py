"""The official openai SDK pointed at the edge (the Worker in the Workers Pyodide under Node),
in front of the real origin on Hypercorn, with Postgres, Redis, the stand-ins and the simulator.

Each test has its own project, so cache entries and rows never leak between tests.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest
import redis.asyncio as aioredis
from starlette.datastructures import Headers

from infra.local.proc import Service
from shared.cache_entry import exact_key, vector_namespace
from shared.fingerprint import fingerprint
from shared.options import parse_options
from shared.tags import parse_tags
from tests.fixtures.edge import EdgeServer

MODEL = "gpt-4o-mini"
# Bounds waits that only a bug would make long.
DEADLINE_S = 30.0


@pytest.fixture(scope="module")
def edge(edge_server: EdgeServer, origin_server: Any, edge_bindings: dict[str, str]) -> Service:
    return edge_server(origin_server.url, **edge_bindings)


@pytest.fixture
async def project(make_project: Any) -> Any:
    return await make_project("edge-sdk")


@pytest.fixture
async def sdk(edge: Service, project: Any) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=f"{edge.url}/v1", api_key=project.api_key, max_retries=0)
    yield client
    await client.close()


@pytest.fixture
async def direct(origin_server: Any, project: Any) -> AsyncIterator[openai.AsyncOpenAI]:
    """The same SDK talking to the origin itself, bypassing the edge."""
    client = openai.AsyncOpenAI(
        base_url=origin_server.base_url, api_key=project.api_key, max_retries=0
    )
    yield client
    await client.close()


class Stored:
    """Waits (bounded) until the origin's background store has written an entry."""

    def __init__(self, redis_url: str, vector: Any) -> None:
        self.redis_url, self.vector = redis_url, vector

    async def exact(self, project_id: str, text: str, headers: dict[str, Any]) -> None:
        options = parse_options(
            Headers(
                raw=[
                    (k.lower().encode(), v if isinstance(v, bytes) else v.encode())
                    for k, v in headers.items()
                ]
            )
        )
        key = exact_key(
            project_id,
            fingerprint(
                project_id,
                body(text),
                mode=options.mode,
                model_prefer=options.model_prefer,
                version=options.cache_version,
            ),
        )
        client = aioredis.Redis.from_url(self.redis_url)
        try:
            await _until(lambda: client.exists(key))
        finally:
            await client.aclose()

    async def vectors(self, project_id: str, count: int) -> None:
        url = f"{self.vector.url}/range/{vector_namespace(project_id)}"
        auth = {"Authorization": f"Bearer {self.vector.token}"}
        async with httpx.AsyncClient(timeout=10) as http:

            async def enough() -> bool:
                reply = await http.post(url, json={"cursor": "0", "limit": 100}, headers=auth)
                return len(reply.json()["result"]["vectors"]) >= count

            await _until(enough)


async def _until(check: Any) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while not await check():
        assert loop.time() < deadline, "the origin did not get there in time"
        await asyncio.sleep(0.05)


@pytest.fixture
def stored(redis_server: Any, upstash_vector: Any) -> Stored:
    return Stored(redis_server.url, upstash_vector)


def body(text: str) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}]}


async def ask(
    sdk: openai.AsyncOpenAI, text: str, headers: dict[str, Any] | None = None, **extra: Any
) -> Any:
    return await sdk.chat.completions.with_raw_response.create(
        **body(text), extra_headers=headers or {}, **extra
    )


async def streamed(sdk: openai.AsyncOpenAI, text: str, **extra: Any) -> tuple[str, Any, Any]:
    """(text, usage chunk or None, response headers) of a streamed completion."""
    raw = await sdk.chat.completions.with_raw_response.create(**body(text), stream=True, **extra)
    parts, usage = [], None
    async for chunk in raw.parse():
        if chunk.choices:
            parts.append(chunk.choices[0].delta.content or "")
        usage = chunk.usage or usage
    return "".join(parts), usage, raw.headers


async def test_identical_request_is_an_edge_hit_after_an_origin_miss(
    sdk: openai.AsyncOpenAI, project: Any, sim: Any, stored: Stored, origin_server: Any
) -> None:
    text = f"What is the boiling point of water? ({uuid.uuid4().hex[:8]})"
    first = await ask(sdk, text)
    assert first.headers["x-prism-cache-status"] == "miss"
    assert first.headers["x-prism-provider"] == "openai"
    await stored.exact(project.id, text, {})
    second = await ask(sdk, text)
    headers = second.headers
    assert headers["x-prism-cache-status"] == "hit-exact-edge"
    assert (headers["x-prism-provider"], headers["x-prism-model"]) == ("cache", MODEL)
    assert headers["x-prism-cache-saved-cents"] == first.headers["x-prism-cost-cents"]
    assert "x-prism-cache-similarity" not in headers
    answer = second.parse()
    assert answer.choices[0].message.content == first.parse().choices[0].message.content
    assert answer.id == f"chatcmpl-{headers['x-prism-request-id']}"
    # The SDK's own request id (x-request-id) is the receipt's, on a hit and through to a miss.
    assert answer._request_id == headers["x-prism-request-id"]
    assert first.parse()._request_id == first.headers["x-prism-request-id"]
    assert len(sim.requests()) == 1
    rows = await origin_server.rows(project.id, expect=2)
    assert sorted((r["request_id"], r["cache_status"]) for r in rows) == sorted(
        [
            (first.headers["x-prism-request-id"], "miss"),
            (headers["x-prism-request-id"], "hit-exact-edge"),
        ]
    )


async def test_paraphrase_is_a_semantic_hit_at_the_edge(
    sdk: openai.AsyncOpenAI, project: Any, sim: Any, stored: Stored, origin_server: Any
) -> None:
    first = await ask(sdk, "How do I reset my password?")
    await stored.vectors(project.id, 1)
    await stored.exact(project.id, "How do I reset my password?", {})
    second = await ask(sdk, "How can I reset my password?")
    headers = second.headers
    assert headers["x-prism-cache-status"] == "hit-semantic-edge"
    assert 0.95 <= float(headers["x-prism-cache-similarity"]) <= 1.0
    assert second.parse().choices[0].message.content == first.parse().choices[0].message.content
    rows = await origin_server.rows(project.id, expect=2)
    assert sorted(r["cache_status"] for r in rows) == ["hit-semantic-edge", "miss"]


async def test_streaming_through_the_edge_for_a_miss_and_a_hit(
    sdk: openai.AsyncOpenAI, project: Any, sim: Any, stored: Stored, origin_server: Any
) -> None:
    text = f"Tell me about streams ({uuid.uuid4().hex[:8]})"
    options = {"stream_options": {"include_usage": True}}
    missed, miss_usage, miss_headers = await streamed(sdk, text, **options)
    assert miss_headers["x-prism-cache-status"] == "miss" and missed
    await stored.exact(project.id, text, {})
    hit, hit_usage, hit_headers = await streamed(sdk, text, **options)
    assert hit_headers["x-prism-cache-status"] == "hit-exact-edge"
    assert hit_headers["content-type"].startswith("text/event-stream")
    assert hit == missed
    assert hit_usage.completion_tokens == miss_usage.completion_tokens
    plain, no_usage, _ = await streamed(sdk, text)
    assert plain == missed and no_usage is None
    rows = await origin_server.rows(project.id, expect=3)
    assert [r["was_streaming"] for r in rows] == [True, True, True]
    assert sorted(r["cache_status"] for r in rows) == ["hit-exact-edge", "hit-exact-edge", "miss"]


async def test_bad_key_is_refused_at_the_edge_and_never_reaches_the_origin(
    edge: Service, sdk: openai.AsyncOpenAI, origin_server: Any, sim: Any
) -> None:
    refused, admitted = uuid.uuid4().hex, uuid.uuid4().hex
    bad = openai.AsyncOpenAI(
        base_url=f"{edge.url}/v1", api_key="prism_sk_" + refused, max_retries=0
    )
    with pytest.raises(openai.AuthenticationError) as caught:
        await bad.chat.completions.create(**body("hi"), extra_headers={"User-Agent": refused})
    await bad.close()
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"
    assert caught.value.request_id == caught.value.response.headers["x-prism-request-id"]
    # The origin's access log names each request's User-Agent: the good one's, not the bad one's.
    await sdk.chat.completions.create(
        **body(f"hi {admitted}"), extra_headers={"User-Agent": admitted}
    )

    async def logged() -> bool:
        return admitted in origin_server.service.log_path.read_text(errors="replace")

    await _until(logged)
    assert refused not in origin_server.service.log_path.read_text(errors="replace")
    assert len(sim.requests()) == 1


async def test_edge_and_origin_hit_rows_are_the_same_row(
    edge: Service,
    project: Any,
    sim: Any,
    stored: Stored,
    origin_server: Any,
) -> None:
    # Both rows are cache-hit rows (the origin's from its own cache), so every column is
    # comparable; against a miss row only the attribution columns would be.
    tags = "team = growth ,feature=onbo\u00a0arding,x=1=2, emoji=🚀,team=dup,empty=,=v," + ",".join(
        f"k{i}={'v' * 70}" for i in range(12)
    )
    # Raw UTF-8 on the wire (the SDK only sends ASCII): both tiers must read the same bytes
    # into the same tags.
    headers: dict[str, Any] = {
        "Authorization": f"Bearer {project.api_key}",
        "X-Prism-Mode": "eco",
        "X-Prism-Tags": tags.encode(),
        "X-Prism-Session": "sess-42",
    }
    text = f"Summarise the onboarding flow ({uuid.uuid4().hex[:8]})"
    async with httpx.AsyncClient(timeout=DEADLINE_S) as http:

        async def post(base: str) -> httpx.Response:
            reply = await http.post(f"{base}/v1/chat/completions", json=body(text), headers=headers)
            assert reply.status_code == 200, reply.text
            return reply

        await post(origin_server.url)
        await stored.exact(project.id, text, headers)
        at_origin, at_edge = await post(origin_server.url), await post(edge.url)
    assert at_origin.headers["x-prism-cache-status"] == "hit-exact"
    assert at_edge.headers["x-prism-cache-status"] == "hit-exact-edge"
    rows = {r["request_id"]: r for r in await origin_server.rows(project.id, expect=3)}
    assert len(rows) == 3, [(r["request_id"], r["cache_status"]) for r in rows.values()]
    origin_row = rows[at_origin.headers["x-prism-request-id"]]
    edge_row = rows[at_edge.headers["x-prism-request-id"]]
    differ = {
        "request_id",
        "created_at",
        "cache_status",
        "provider",
        "cost_provider_cents",
        "cost_total_cents",
        "latency_ms",
    }
    assert {k: v for k, v in edge_row.items() if k not in differ} == {
        k: v for k, v in origin_row.items() if k not in differ
    }
    assert edge_row["request_tags"].encode() == origin_row["request_tags"].encode()
    # Servers read header bytes as Latin-1 (Starlette, and Node under the edge alike).
    assert json.loads(edge_row["request_tags"]) == parse_tags(tags.encode().decode("latin-1"))
    assert (edge_row["mode"], edge_row["session_id"]) == ("eco", "sess-42")
    assert edge_row["cache_saved_cents"] > Decimal(0)


async def test_edge_hits_answer_during_a_postgrest_outage_and_their_rows_arrive_after(
    sdk: openai.AsyncOpenAI,
    project: Any,
    sim: Any,
    stored: Stored,
    origin_server: Any,
    postgrest_outage: Any,
) -> None:
    text = f"Which rows survive an outage? ({uuid.uuid4().hex[:8]})"
    first = await ask(sdk, text)
    await stored.exact(project.id, text, {})
    await origin_server.rows(project.id, expect=1)
    hits = []
    async with postgrest_outage():
        for _ in range(3):
            hits.append((await ask(sdk, text)).headers)
        _, _, stream_headers = await streamed(sdk, text)
        hits.append(stream_headers)
    assert [h["x-prism-cache-status"] for h in hits] == ["hit-exact-edge"] * 4
    rows = await origin_server.rows(project.id, expect=5)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["request_id"]] = counts.get(row["request_id"], 0) + 1
    expected = [first.headers["x-prism-request-id"], *(h["x-prism-request-id"] for h in hits)]
    assert counts == dict.fromkeys(expected, 1)


async def test_models_retrieve_through_the_edge(
    edge: Service, sdk: openai.AsyncOpenAI, direct: openai.AsyncOpenAI
) -> None:
    for model_id in (MODEL, "groq/llama-3.1-8b-instant"):
        assert await sdk.models.retrieve(model_id) == await direct.models.retrieve(model_id)
    with pytest.raises(openai.NotFoundError) as caught:
        await sdk.models.retrieve("no-such-model")
    assert caught.value.code == "model_not_found"


async def test_a_method_the_origin_refuses_keeps_its_allow_header_through_the_edge(
    edge: Service,
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.delete(f"{edge.url}/v1/models")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD"}


async def test_an_edge_hit_says_what_is_left_of_the_budgets_as_an_origin_hit_does(
    edge: Service, project: Any, sim: Any, stored: Stored, origin_server: Any
) -> None:
    admin = {"Authorization": f"Bearer {origin_server.env['PRISM_ADMIN_TOKEN']}"}
    budgets = f"{origin_server.url}/admin/v1/projects/{project.id}/budgets"
    headers = {"Authorization": f"Bearer {project.api_key}", "X-Prism-Tags": "feature=search"}
    text = f"Which budgets cover me? ({uuid.uuid4().hex[:8]})"
    async with httpx.AsyncClient(timeout=DEADLINE_S) as http:

        async def budget(**fields: Any) -> str:
            made = await http.post(budgets, json=fields, headers=admin)
            assert made.status_code == 201, made.text
            return str(made.json()["id"])

        async def post(base: str) -> httpx.Response:
            reply = await http.post(f"{base}/v1/chat/completions", json=body(text), headers=headers)
            assert reply.status_code == 200, reply.text
            return reply

        async def both_hits() -> tuple[httpx.Response, httpx.Response]:
            """An origin hit once it shows the spend settled, then an edge hit."""
            at_origin = await post(origin_server.url)
            for _ in range(100):
                if at_origin.headers["x-prism-budget-remaining-cents"] == settled:
                    break
                await asyncio.sleep(0.05)
                at_origin = await post(origin_server.url)
            return at_origin, await post(edge.url)

        await budget(limit_cents=500, period="day", action="block", tag="feature=search")
        await budget(limit_cents=3, period="week", action="block", tag="feature=chat")
        missed = await post(origin_server.url)
        settled = missed.headers["x-prism-budget-remaining-cents"]
        await stored.exact(project.id, text, headers)
        at_origin, at_edge = await both_hits()
        assert at_edge.headers["x-prism-cache-status"] == "hit-exact-edge"
        assert at_origin.headers["x-prism-cache-status"] == "hit-exact"
        # What is left of the search budget after the miss; the chat budget does not cover it.
        assert Decimal(499) < Decimal(settled) < Decimal(500)
        assert at_edge.headers["x-prism-budget-remaining-cents"] == settled
        assert "x-prism-budget-warning" not in at_edge.headers
        assert "x-prism-budget-warning" not in at_origin.headers

        # A warn budget the miss has already spent past: nothing left, and a warning, at both.
        warned = await budget(limit_cents="0.000001", period="month", action="warn")
        settled = "0"
        at_origin, at_edge = await both_hits()
    assert at_origin.headers["x-prism-budget-remaining-cents"] == "0"
    assert at_edge.headers["x-prism-budget-remaining-cents"] == "0"
    warning = at_edge.headers["x-prism-budget-warning"]
    assert warning == at_origin.headers["x-prism-budget-warning"]
    assert warning.startswith(f"budget={warned}; scope=project; period=month; action=warn; used=")
