"""reasoning_effort end to end: the official openai SDK against the origin and the simulator.

The simulator refuses what the real APIs refuse (reasoning_effort to a model without it,
values a model does not take), so an answer here shows Prism never sent it there.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest

from shared.catalog import MODELS

HELLO = [{"role": "user", "content": "Say hello to the gateway"}]


@pytest.fixture
async def project(make_project: Any) -> Any:
    return await make_project("reasoning")


def client(origin_server: Any, project: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=origin_server.base_url, api_key=project.api_key, max_retries=0)


def sent_bodies(sim: Any) -> list[dict[str, Any]]:
    return [r["body"] for r in sim.requests() if isinstance(r["body"], dict)]


@pytest.mark.parametrize("mode", ["eco", "balanced", "sport"])
def test_auto_sends_reasoning_effort_only_to_models_that_take_it(
    origin_server: Any, project: Any, sim: Any, mode: str
) -> None:
    """eco and balanced route a simple question to Groq's Llama, which refuses it."""
    completion = client(origin_server, project).chat.completions.create(
        model="auto", messages=HELLO, reasoning_effort="low", extra_headers={"X-Prism-Mode": mode}
    )
    assert completion.choices[0].message.content
    assert completion.model in {m for m, info in MODELS.items() if info["reasoning"]}


@pytest.mark.parametrize("model", ["gpt-4o", "groq-llama-8b", "deepseek-chat", "grok-4"])
def test_a_named_model_that_cannot_take_it_is_a_400_naming_it(
    origin_server: Any, project: Any, sim: Any, model: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(origin_server, project).chat.completions.create(
            model=model, messages=HELLO, reasoning_effort="high"
        )
    assert caught.value.body["param"] == "reasoning_effort"
    assert sim.requests() == []


@pytest.mark.parametrize(
    ("model", "effort", "sent"),
    [
        ("gpt-5.4-mini", "minimal", "minimal"),
        ("grok-3-mini", "medium", "high"),
        # Gemini 2.5 Pro cannot stop thinking: "none" is its least budget, not 0 (a 400).
        ("gemini-2.5-pro", "none", 128),
        ("gemini-2.5-flash", "none", 0),
    ],
)
def test_a_model_that_takes_it_gets_a_value_it_takes(
    origin_server: Any, project: Any, sim: Any, model: str, effort: str, sent: str | int
) -> None:
    client(origin_server, project).chat.completions.create(
        model=model, messages=HELLO, reasoning_effort=effort  # type: ignore[arg-type]
    )
    [body] = sent_bodies(sim)
    if "generationConfig" in body:
        assert body["generationConfig"]["thinkingConfig"] == {"thinkingBudget": sent}
    else:
        assert body["reasoning_effort"] == sent
