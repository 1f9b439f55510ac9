"""Routing that survives bad providers, end to end through the official openai SDK.

The simulator plays provider A (OpenAI, gpt-4o-mini) badly in each scenario; every other
provider answers normally. This module runs its own origin with short health windows and
deadlines, on its own Redis database, so its health history touches no other test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.fixtures.origin import OriginHandle, start_origin

A_MODEL, A = "gpt-4o-mini", "openai"
A_KEY = f"{A}:{A_MODEL}"
HELLO = [{"role": "user", "content": "Say hello to the gateway"}]


@pytest.fixture(scope="module")
def origin(
    origin_env: dict[str, str], pg: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OriginHandle]:
    env = {
        **origin_env,
        "REDIS_URL": origin_env["REDIS_URL"].rsplit("/", 1)[0] + "/3",
        "PRISM_DATA_DIR": str(tmp_path_factory.mktemp("route-origin-data")),
        "PRISM_FIRST_BYTE_TIMEOUT_S": "2",
        "PRISM_HEALTH_PROBE_S": "1",
        "PRISM_HEALTH_WINDOW_S": "6",
        "PRISM_HEALTH_MIN_SAMPLES": "3",
        "PRISM_CACHE": "off",
    }
    service = start_origin(env, tmp_path_factory.mktemp("route-origin-logs"))
    try:
        yield OriginHandle(service, env, pg.dsn)
    finally:
        service.stop()


@pytest.fixture
def admin(origin: OriginHandle) -> Iterator[httpx.Client]:
    token = origin.env["PRISM_ADMIN_TOKEN"]
    with httpx.Client(
        base_url=f"{origin.url}/admin/v1", headers={"authorization": f"Bearer {token}"}
    ) as client:
        client.post("/health/reset").raise_for_status()
        yield client


@pytest.fixture
async def project(make_project: Any) -> Any:
    return await make_project("route")


def sdk(origin: OriginHandle, project: Any, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=origin.base_url,
        api_key=project.api_key,
        max_retries=0,
        default_headers=headers,
        timeout=30,
    )


def weight(admin: httpx.Client, key: str) -> float:
    models = admin.get("/health").json()["models"]
    return float(models[key]["weight"]) if key in models else 1.0


def ask(client: openai.OpenAI, model: str = A_MODEL) -> tuple[str, float, Any]:
    started = time.perf_counter()
    raw = client.chat.completions.with_raw_response.create(model=model, messages=HELLO)
    elapsed = time.perf_counter() - started
    assert raw.parse().choices[0].message.content.startswith("Simulated")
    return raw.headers["x-prism-provider"], elapsed, raw.headers


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def test_a_failing_provider_is_routed_around_drops_to_zero_and_comes_back(
    origin: OriginHandle, project: Any, sim: Any, admin: httpx.Client
) -> None:
    sim.script({"kind": "status", "status": 500}, provider=A, times=1000)
    client = sdk(origin, project)
    providers = [ask(client)[0] for _ in range(5)]
    assert A not in providers  # every request succeeded through another provider
    assert weight(admin, A_KEY) == 0.0  # within min_samples (3) failures
    gauge = f'prism_model_health_weight{{model="{A_MODEL}",provider="{A}"}} 0.0'
    deadline = time.monotonic() + 5
    while gauge not in httpx.get(f"{origin.url}/metrics").text:  # published about once a second
        assert time.monotonic() < deadline, "the weight never reached /metrics"
        time.sleep(0.1)
    before = len(sim.requests(A))
    answers = [ask(client) for _ in range(10)]
    assert A not in [provider for provider, _, _ in answers]
    tried_a = len(sim.requests(A)) - before
    assert tried_a <= 2  # only the occasional probe still reaches A
    # A skipped untried is health routing, not a failover: only probes that failed count.
    reasons = [headers["x-prism-route-reason"] for _, _, headers in answers]
    assert sum("failover:" in r for r in reasons) == tried_a
    assert sum(";health:" in r for r in reasons) == len(answers) - tried_a
    sim.reset()  # A heals
    deadline = time.monotonic() + 20
    while ask(client)[0] != A:  # a probe finds it answering, then the old failures age out
        assert time.monotonic() < deadline, "A never came back"
        time.sleep(0.2)
    while weight(admin, A_KEY) < 1.0:  # the failures age out of the 6 s window
        assert time.monotonic() < deadline, "A never got its full weight back"
        ask(client)
        time.sleep(0.2)
    assert [ask(client)[0] for _ in range(5)] == [A] * 5


def test_a_hung_provider_costs_little_once_detected(
    origin: OriginHandle, project: Any, sim: Any, admin: httpx.Client
) -> None:
    client = sdk(origin, project)
    assert ask(client)[0] == A  # A's history: a first-byte deadline of 1 s
    sim.script({"kind": "hang"}, provider=A, times=1000)
    first = [ask(client) for _ in range(3)]  # each waits for A's deadline, then B answers
    assert all(p != A for p, _, _ in first)
    assert weight(admin, A_KEY) == 0.0
    sim.reset()  # records only; the hang goes on
    sim.script({"kind": "hang"}, provider=A, times=1000)
    started = time.monotonic()
    after = [ask(client) for _ in range(10)]
    elapsed = time.monotonic() - started
    assert all(p != A for p, _, _ in after)
    # Once detected, A adds nothing to a request: the route skips it, so the call goes
    # straight to B. The only calls A still gets are probes (one per PRISM_HEALTH_PROBE_S,
    # 1 s), and every probe is hedged, so it costs B's usual time, never A's deadline.
    probes = [h for _, _, h in after if "x-prism-hedge" in h]
    assert len(sim.requests(A)) == len(probes) <= 1 + int(elapsed)
    assert all(h["x-prism-hedge"] == f"fired:{h['x-prism-model']}" for h in probes)
    assert len(probes) < len(after)


async def test_a_whole_answer_that_hangs_is_hedged_at_its_deadline_and_counts_as_failed(
    origin: OriginHandle, project: Any, sim: Any, admin: httpx.Client
) -> None:
    client = sdk(origin, project)
    # A's history: one failure in twenty (full weight, but not spotless); a 1 s deadline.
    assert [ask(client)[0] for _ in range(19)] == [A] * 19
    sim.script({"kind": "status", "status": 500}, provider=A)
    assert ask(client)[0] != A
    assert weight(admin, A_KEY) == 1.0
    sim.script({"kind": "hang"}, provider=A)  # one call in a while hangs (a chaos provider)
    provider, _, headers = ask(client)
    # Not a wait for the transport's 2 s timeout and a failover: at A's deadline the next
    # model started alongside, answered, and A's call was closed.
    assert provider != A
    assert headers["x-prism-hedge"] == f"fired:{headers['x-prism-model']}"
    await wait_for(lambda: sim.requests(A)[-1]["cancelled"] is True)
    rows = await origin.rows(project.id, expect=22)
    (loser,) = [r for r in rows if r["parent_request_id"] is not None]
    assert (loser["provider"], loser["error_code"]) == (A, "hedge_lost")
    assert loser["parent_request_id"] == headers["x-prism-request-id"]
    # Closed before A reported anything: its usage is unknown and flagged so, not a silent 0.
    assert (loser["usage_reported"], loser["success"]) == (False, False)
    # The abandoned call had waited past its deadline: it was hung, and A's health says so.
    assert weight(admin, A_KEY) < 1.0


@pytest.mark.parametrize("chunks", [0, 1], ids=["headers-only", "role-chunk-only"])
async def test_a_stream_cut_before_its_first_chunk_is_served_by_another_provider(
    origin: OriginHandle, project: Any, sim: Any, admin: httpx.Client, chunks: int
) -> None:
    # A answers 200 and closes before any content: after its headers alone, or after the
    # role-only first chunk (content "") that OpenAI streams open with.
    sim.script({"kind": "disconnect", "after_chunks": chunks}, provider=A)
    response = sdk(origin, project).chat.completions.with_raw_response.create(
        model=A_MODEL, messages=HELLO, stream=True
    )
    assert response.headers["x-prism-provider"] != A
    text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
    assert text.startswith("Simulated")
    assert len(sim.requests(A)) == 1  # A was tried and cut off
    rows = await origin.rows(project.id, expect=1)
    assert [(r["success"], r["provider"]) for r in rows] == [
        (True, response.headers["x-prism-provider"])
    ]


async def test_a_stream_that_fails_after_its_first_chunk_ends_with_an_error_event(
    origin: OriginHandle, project: Any, sim: Any, admin: httpx.Client
) -> None:
    sim.script({"kind": "disconnect", "after_chunks": 3}, provider=A)
    stream = sdk(origin, project).chat.completions.create(
        model=A_MODEL, messages=HELLO, stream=True
    )
    text = ""
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            text += (chunk.choices[0].delta.content or "") if chunk.choices else ""
    assert text  # the first chunks did arrive
    assert "broke off the stream before the answer ended" in caught.value.message
    assert "Error" not in caught.value.message  # the HTTP library's words stay in the log
    rows = await origin.rows(project.id, expect=1)
    assert len(rows) == 1
    row = rows[0]
    assert (row["success"], row["error_code"], row["provider"]) == (
        False,
        "upstream_stream_interrupted",
        A,
    )
    # What was delivered is on the row, estimated and flagged since A never reported usage.
    assert row["tokens_out"] > 0 and row["usage_reported"] is False
    assert row["cost_total_cents"] > 0


def test_a_provider_that_breaks_every_stream_midway_loses_its_weight(
    origin: OriginHandle, project: Any, sim: Any, admin: httpx.Client
) -> None:
    # Each stream's first token came (its attempt counted a success then) and then the
    # answer broke: the provider failed every answer, and once kept its full weight for it.
    sim.script({"kind": "disconnect", "after_chunks": 3}, provider=A, times=4)
    client = sdk(origin, project, **{"X-Prism-Fallback": "none"})
    for _ in range(4):
        with pytest.raises(openai.APIError, match="broke off the stream"):
            list(client.chat.completions.create(model=A_MODEL, messages=HELLO, stream=True))
    assert weight(admin, A_KEY) < 1.0


async def test_a_hedge_answers_from_the_fast_provider_and_cancels_the_slow_one(
    origin: OriginHandle, project: Any, sim: Any, admin: httpx.Client
) -> None:
    sim.script({"kind": "slow_first_chunk", "delay_ms": 2000}, provider=A)
    client = sdk(origin, project, **{"X-Prism-Hedge": "300"})
    started = time.perf_counter()
    response = client.chat.completions.with_raw_response.create(
        model=A_MODEL, messages=HELLO, stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
    elapsed = time.perf_counter() - started
    headers = response.headers
    assert text.startswith("Simulated") and headers["x-prism-provider"] != A
    assert headers["x-prism-hedge"] == f"fired:{headers['x-prism-model']}"
    assert elapsed >= 0.3  # B started only at the hedge delay
    # A's first token was 2 s away when B's answer won, and A's call was closed.
    await wait_for(lambda: [r["cancelled"] for r in sim.requests(A)] == [True])
    rows = await origin.rows(project.id, expect=2)
    by_id = {r["request_id"]: r for r in rows}
    winner = by_id[headers["x-prism-request-id"]]
    assert winner["success"] is True and winner["parent_request_id"] is None
    (loser,) = [r for r in rows if r is not winner]
    assert (loser["provider"], loser["error_code"]) == (A, "hedge_lost")
    assert loser["parent_request_id"] == winner["request_id"]
    # Closed before A reported anything: its usage is unknown and flagged so, not a silent 0.
    assert (loser["usage_reported"], loser["success"]) == (False, False)
    assert winner["usage_reported"] is True


async def test_a_client_that_leaves_before_the_first_byte_releases_the_upstream_call(
    origin: OriginHandle, project: Any, sim: Any, admin: httpx.Client
) -> None:
    sim.script({"kind": "slow_first_byte", "delay_ms": 10_000}, provider=A)
    body = {"model": A_MODEL, "messages": HELLO, "stream": True}
    headers = {"authorization": f"Bearer {project.api_key}", "X-Prism-Fallback": "none"}
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(
                f"{origin.base_url}/chat/completions",
                json=body,
                headers=headers,
                timeout=httpx.Timeout(5, read=0.5),
            )
    # The origin closed its call to A well before A's 10 s were up.
    await wait_for(lambda: [r["cancelled"] for r in sim.requests(A)] == [True], timeout=5)
    rows = await origin.rows(project.id, expect=1)
    assert [(r["success"], r["error_code"]) for r in rows] == [(False, "client_disconnected")]


def test_a_strict_pin_does_not_fail_over(
    origin: OriginHandle, project: Any, sim: Any, admin: httpx.Client
) -> None:
    sim.script({"kind": "status", "status": 503, "retry_after": 7}, provider=A, times=5)
    client = sdk(origin, project, **{"X-Prism-Fallback": "none"})
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model=A_MODEL, messages=HELLO)
    assert caught.value.status_code == 503
    # The provider's own wait, so the SDK's retry does not come back before it.
    assert caught.value.response.headers["retry-after"] == "7"
    assert {r["provider"] for r in sim.requests()} == {A}


def test_health_is_visible_in_the_admin_api(
    origin: OriginHandle, project: Any, sim: Any, admin: httpx.Client
) -> None:
    ask(sdk(origin, project))
    view = admin.get("/health").json()
    assert view["models"][A_KEY]["samples"] >= 1
    assert view["models"][A_KEY]["weight"] == 1.0
    assert A_MODEL in view["buckets"]["small"]
    assert httpx.get(f"{origin.url}/admin/v1/health").status_code == 401
