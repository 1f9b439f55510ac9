"""Provider-native prompt caching through the origin, against the simulator's caching
behaviour (not scripted usage): OpenAI and Gemini cache a repeated long prefix by themselves,
Anthropic caches what `cache_control` marks. The saving must reach the receipt header and the
usage row, and Anthropic markers must reach the provider untouched (or, opted in with
X-Prism-Auto-Cache: on, be placed on a long system prompt)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from origin.providers.anthropic import AUTO_CACHE_MIN_CHARS, auto_cache_marked
from shared.pricing import TokenUsage, cost_for_model
from tests.test_cache_helpers import chat

# Long enough for automatic caching (>= 1024 prompt tokens at the simulator's 4 chars a token).
MANUAL = " ".join(f"Rule {i}: answer politely, cite the handbook, never guess." for i in range(90))
assert len(MANUAL) > AUTO_CACHE_MIN_CHARS


def body(model: str, question: str, system: Any = MANUAL) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": question}],
    }


def saving_of(model: str, response: Any) -> Decimal:
    """The native saving the shared pricing gives for the usage the client was shown."""
    usage = response.json()["usage"]
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    shown = TokenUsage(
        prompt_tokens=usage["prompt_tokens"],
        completion_tokens=usage["completion_tokens"],
        cache_read_tokens=cached,
    )
    return cost_for_model(model, shown).native_saved_cents


@pytest.fixture
async def project(make_project: Any) -> Any:
    return await make_project("native")


async def ask_twice(
    origin: Any, project: Any, model: str, system: Any = MANUAL, **headers: str
) -> tuple[Any, Any]:
    # Different questions behind the same long prefix; Prism's own cache stays out of it.
    first = await chat(
        origin, project, body(model, "First question?", system), X_Prism_Cache="no-store", **headers
    )
    second = await chat(
        origin,
        project,
        body(model, "Second question?", system),
        X_Prism_Cache="no-store",
        **headers,
    )
    assert first.status_code == second.status_code == 200
    return first, second


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gemini-2.5-flash"])
async def test_automatic_provider_cache_saving_on_receipt_and_row(
    origin_server, project, sim, model
):
    first, second = await ask_twice(origin_server, project, model)
    assert first.headers["x-prism-native-cache-saved-cents"] == "0"
    cached = second.json()["usage"]["prompt_tokens_details"]["cached_tokens"]
    assert cached > 0 and cached % 128 == 0  # the simulator caches whole 128-token blocks
    saved = Decimal(second.headers["x-prism-native-cache-saved-cents"])
    assert saved == saving_of(model, second) > 0
    rows = {r["request_id"]: r for r in await origin_server.rows(project.id, expect=2)}
    row = rows[second.headers["x-prism-request-id"]]
    assert row["native_cache_saved_cents"] == saved
    assert row["tokens_cache_read"] == cached


def marked_system() -> list[dict[str, Any]]:
    return [{"type": "text", "text": MANUAL, "cache_control": {"type": "ephemeral"}}]


async def test_anthropic_markers_pass_untouched_and_the_read_is_saved(origin_server, project, sim):
    model = "claude-haiku-4-5"
    first, second = await ask_twice(origin_server, project, model, system=marked_system())
    upstream = [r["body"] for r in sim.requests("anthropic")]
    assert [b["system"] for b in upstream] == [marked_system()] * 2
    saved = Decimal(second.headers["x-prism-native-cache-saved-cents"])
    assert saved == saving_of(model, second) > 0
    rows = {r["request_id"]: r for r in await origin_server.rows(project.id, expect=2)}
    written = rows[first.headers["x-prism-request-id"]]
    read = rows[second.headers["x-prism-request-id"]]
    assert written["tokens_cache_write"] > 0 and written["native_cache_saved_cents"] == 0
    assert read["tokens_cache_read"] > 0 and read["native_cache_saved_cents"] == saved


@pytest.mark.parametrize(("header", "marked"), [("on", True), ("off", False), (None, False)])
async def test_anthropic_auto_cache_marks_a_long_system_prompt_only_when_asked(
    origin_server, project, sim, header, marked
):
    model = "claude-haiku-4-5"
    extra = {"X_Prism_Auto_Cache": header} if header else {}
    _, second = await ask_twice(origin_server, project, model, **extra)
    [system, _] = [r["body"]["system"] for r in sim.requests("anthropic")]
    assert ("cache_control" in system[-1]) is marked
    saved = Decimal(second.headers["x-prism-native-cache-saved-cents"])
    assert (saved > 0) is marked


async def test_auto_cache_leaves_a_clients_own_markers_alone(origin_server, project, sim):
    question = [{"type": "text", "text": "Question?", "cache_control": {"type": "ephemeral"}}]
    request = {
        "model": "claude-haiku-4-5",
        "messages": [{"role": "system", "content": MANUAL}, {"role": "user", "content": question}],
    }
    response = await chat(
        origin_server, project, request, X_Prism_Auto_Cache="on", X_Prism_Cache="no-store"
    )
    assert response.status_code == 200
    [upstream] = [r["body"] for r in sim.requests("anthropic")]
    assert all("cache_control" not in block for block in upstream["system"])
    assert upstream["messages"][-1]["content"] == question


SHORT = "Be brief."
AUTO_CASES = [
    ("long system prompt", [{"role": "system", "content": MANUAL}], True),
    (
        "long prompt over two system messages",
        [{"role": "system", "content": MANUAL[:3000]}, {"role": "developer", "content": MANUAL}],
        True,
    ),
    ("short system prompt", [{"role": "system", "content": SHORT}], False),
    ("no system prompt", [], False),
    (
        "client marker on a message",
        [{"role": "system", "content": MANUAL, "cache_control": {"type": "ephemeral"}}],
        False,
    ),
]


@pytest.mark.parametrize(
    ("prefix", "changed"), [c[1:] for c in AUTO_CASES], ids=[c[0] for c in AUTO_CASES]
)
def test_auto_cache_marked_table(prefix: list[dict[str, Any]], changed: bool) -> None:
    original = {"model": "m", "messages": [*prefix, {"role": "user", "content": "hi"}]}
    out = auto_cache_marked(original)
    assert (out is not original) is changed
    if changed:
        systems = [m for m in out["messages"] if m["role"] in ("system", "developer")]
        assert systems[-1]["cache_control"] == {"type": "ephemeral"}
        assert all("cache_control" not in m for m in systems[:-1])
        assert "cache_control" not in original["messages"][len(prefix) - 1]  # not mutated


def test_auto_cache_respects_markers_on_tools() -> None:
    tool = {"type": "function", "function": {"name": "f"}, "cache_control": {"type": "ephemeral"}}
    original = {
        "messages": [{"role": "system", "content": MANUAL}, {"role": "user", "content": "hi"}],
        "tools": [tool],
    }
    assert auto_cache_marked(original) is original
