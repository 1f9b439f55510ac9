"""reasoning_effort as a routing need: only models whose API takes it are routed it.

Unlike n, logprobs or logit_bias, which a whole provider cannot give, whether a model takes
reasoning_effort is per model (OpenAI's gpt-5 family does, its gpt-4o does not), so it is
the catalog's `reasoning` flag."""

from __future__ import annotations

from typing import Any

import pytest

from origin.routing.classifier import TASK_TYPES, Classification
from origin.routing.router import RouteDecision, Router
from shared.catalog import MODELS
from shared.errors import InvalidRequest
from shared.options import ROUTED_MODES as MODES

ROUTER = Router()
ALL = frozenset(m["provider"] for m in MODELS.values())
THINK = {"messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "low"}
REASONING = frozenset(m for m, info in MODELS.items() if info["reasoning"])


def route(
    body: dict[str, Any],
    *,
    mode: str = "balanced",
    task: str = "simple",
    requested: str | None = None,
    available: frozenset[str] = ALL,
) -> RouteDecision:
    return ROUTER.route(
        body,
        mode=mode,
        available=available,
        prefer=None,
        requested_model=requested,
        classification=Classification(task, 0.9, ("test-signal",), 10),
    )


def test_the_catalog_says_which_models_take_reasoning_effort() -> None:
    """The flags the catalog rests on its providers' documentation for (see its comments)."""
    assert sorted(REASONING) == [
        "claude-haiku-4-5",
        "claude-opus-4-7",
        "claude-sonnet-4-6",
        "gemini-2.5-flash",
        "gemini-2.5-pro",
        "gpt-5.4",
        "gpt-5.4-mini",
        "gpt-5.5",
        "grok-3-mini",
        "groq/qwen3-32b",
    ]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("task", TASK_TYPES)
def test_auto_routes_reasoning_effort_only_to_models_that_take_it(mode: str, task: str) -> None:
    """balanced/simple is Groq's Llama 8B, which answers reasoning_effort with a 400."""
    decision = route(THINK, mode=mode, task=task)
    for model in (decision.model, *(m for m, _ in decision.fallbacks)):
        assert model in REASONING, (mode, task, model)


@pytest.mark.parametrize("named", ["gpt-5.4-mini", "claude-haiku", "gemini-flash"])
def test_a_named_model_fails_over_only_to_models_that_take_it(named: str) -> None:
    decision = route(THINK, requested=named)
    assert decision.fallbacks
    assert {m for m, _ in decision.fallbacks} <= REASONING


@pytest.mark.parametrize(
    "named", ["gpt-4o", "groq-llama-8b", "deepseek-chat", "deepseek-reasoner", "grok-4", "sonar"]
)
def test_a_named_model_that_cannot_take_it_is_a_400_naming_it(named: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        route(THINK, requested=named)
    assert caught.value.param == "reasoning_effort"
    assert caught.value.status == 400


def test_without_reasoning_effort_a_named_model_is_routed_as_before() -> None:
    body = {"messages": THINK["messages"]}
    assert route(body, requested="gpt-4o").model == "gpt-4o"


def test_no_model_that_takes_it_is_the_usual_no_capable_model_400() -> None:
    with pytest.raises(InvalidRequest) as caught:
        route(THINK, available=frozenset({"mistral", "deepseek", "cerebras"}))
    assert caught.value.code == "no_capable_model"
    assert "reasoning_effort" in caught.value.message
