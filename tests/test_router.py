"""The router: table cells, explicit choices, tier-up, provider and capability filtering."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from origin.providers.openai import VENDORS
from origin.routing.buckets import BUCKETS, VISION, buckets_of, membership
from origin.routing.candidates import (
    FILE_PROVIDERS,
    NO_FUNCTIONS_PROVIDERS,
    NO_LOGIT_BIAS_PROVIDERS,
    NO_LOGPROBS_PROVIDERS,
    ONE_CHOICE_PROVIDERS,
)
from origin.routing.classifier import TASK_TYPES, Classification
from origin.routing.router import LOW_CONFIDENCE, RouteDecision, Router
from origin.routing.table import ROUTING_TABLE
from shared import headers as H
from shared.catalog import MODELS, ModelInfo, resolve
from shared.errors import InvalidRequest, ModelNotFound
from shared.options import ROUTED_MODES as MODES

ROUTER = Router()
CATALOG_PROVIDERS = frozenset(m["provider"] for m in MODELS.values())
ALL = CATALOG_PROVIDERS
CHAT = {"messages": [{"role": "user", "content": "hi"}]}
TOOLS = {**CHAT, "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}
JSON_MODE = {**CHAT, "response_format": {"type": "json_object"}}
PDF_PART = {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0="}}


def sure(task: str = "simple", tokens: int = 10) -> Classification:
    return Classification(task, 0.9, ("test-signal",), tokens)


def route(
    body: dict[str, Any] | None = None,
    *,
    mode: str = "balanced",
    available: frozenset[str] = ALL,
    prefer: str | None = None,
    requested: str | None = None,
    cls: Classification | None = None,
    router: Router = ROUTER,
) -> RouteDecision:
    return router.route(
        body or CHAT,
        mode=mode,
        available=available,
        prefer=prefer,
        requested_model=requested,
        classification=cls or sure(),
    )


# ---- the table ---------------------------------------------------------------------------

ARTICLE_TABLE = [
    ("eco", "simple", "groq/llama-3.1-8b-instant"),
    ("balanced", "simple", "groq/llama-3.1-8b-instant"),
    ("sport", "simple", "claude-opus-4-7"),
    ("eco", "code", "codestral-latest"),
    ("balanced", "code", "codestral-latest"),
    ("sport", "code", "mistral-medium-latest"),
    ("eco", "reasoning", "groq/llama-3.1-8b-instant"),
    ("balanced", "reasoning", "groq/qwen3-32b"),
    ("sport", "reasoning", "claude-opus-4-7"),
    ("eco", "complex", "groq/llama-3.3-70b-versatile"),
    ("balanced", "complex", "gpt-4o"),
    ("sport", "complex", "gemini-2.5-pro"),
]


@pytest.mark.parametrize(("mode", "task", "model"), ARTICLE_TABLE)
def test_each_cell_picks_its_first_candidate_when_every_provider_is_available(
    mode: str, task: str, model: str
) -> None:
    decision = route(mode=mode, cls=sure(task))
    assert (decision.model, decision.reason) == (model, f"table:{mode}/{task}")
    assert (decision.provider, decision.upstream) == (
        MODELS[model]["provider"],
        MODELS[model]["upstream"],
    )
    assert (decision.task_type, decision.confidence, decision.mode) == (task, 0.9, mode)
    assert decision.signals == ("test-signal",)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("task", TASK_TYPES)
def test_every_cell_has_four_candidates_from_three_providers_all_in_the_catalog(
    mode: str, task: str
) -> None:
    names = ROUTING_TABLE[mode][task]
    canonical = [resolve(n) for n in names]
    assert None not in canonical, names
    assert len(set(canonical)) >= 4
    assert len({MODELS[c]["provider"] for c in canonical if c}) >= 3


def test_the_table_spans_the_major_providers() -> None:
    used = {
        MODELS[resolve(n) or ""]["provider"]
        for cells in ROUTING_TABLE.values()
        for names in cells.values()
        for n in names
    }
    assert used >= {
        "openai",
        "anthropic",
        "gemini",
        "deepseek",
        "xai",
        "mistral",
        "groq",
        "cerebras",
        "fireworks",
    }


def test_a_table_naming_an_unknown_model_is_rejected_when_the_router_is_built() -> None:
    table = {mode: dict(cells) for mode, cells in ROUTING_TABLE.items()}
    table["eco"]["simple"] = ("no-such-model",)
    with pytest.raises(ValueError, match="no-such-model"):
        Router(table)


def test_fallbacks_are_the_rest_of_the_cell_then_the_bucket() -> None:
    decision = route(mode="sport", cls=sure("reasoning"))
    expected = [resolve(n) for n in ROUTING_TABLE["sport"]["reasoning"]][1:]
    models = [m for m, _ in decision.fallbacks]
    assert models[: len(expected)] == expected
    chosen = buckets_of(decision.model, MODELS[decision.model])
    assert all(set(chosen) & set(buckets_of(m, MODELS[m])) for m in models[len(expected) :])
    assert len(set(models)) == len(models) and decision.model not in models
    assert all(p == MODELS[m]["provider"] for m, p in decision.fallbacks)


# ---- explicit choices --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "model", "provider", "reason"),
    [
        ({"prefer": "gpt-5-4-mini"}, "gpt-5.4-mini", "openai", "prefer"),
        (
            {"prefer": "claude-opus", "requested": "gpt-4o"},
            "claude-opus-4-7",
            "anthropic",
            "prefer",
        ),
        ({"requested": "gpt-4o"}, "gpt-4o", "openai", "requested"),
        ({"requested": "claude-haiku"}, "claude-haiku-4-5", "anthropic", "requested"),
        ({"requested": "groq/qwen3-32b"}, "groq/qwen3-32b", "groq", "requested"),
        ({"requested": "openai/gpt-4o"}, "gpt-4o", "openai", "requested"),
        ({"requested": " gpt-4o "}, "gpt-4o", "openai", "requested"),
        ({"requested": "auto"}, "groq/llama-3.1-8b-instant", "groq", "table:balanced/simple"),
        ({"requested": "AUTO"}, "groq/llama-3.1-8b-instant", "groq", "table:balanced/simple"),
        ({"requested": ""}, "groq/llama-3.1-8b-instant", "groq", "table:balanced/simple"),
        ({"requested": None}, "groq/llama-3.1-8b-instant", "groq", "table:balanced/simple"),
        (
            {"requested": "ollama/llama3.2:3b", "available": ALL | {"ollama"}},
            "ollama/llama3.2:3b",
            "ollama",
            "requested:custom",
        ),
        (
            {"prefer": "vllm/qwen", "available": frozenset({"vllm"})},
            "vllm/qwen",
            "vllm",
            "prefer:custom",
        ),
    ],
)
def test_explicit_choices(kwargs: dict[str, Any], model: str, provider: str, reason: str) -> None:
    decision = route(**kwargs)
    assert (decision.model, decision.provider, decision.reason) == (model, provider, reason)
    assert decision.model not in {m for m, _ in decision.fallbacks}


def test_a_custom_provider_model_is_sent_upstream_as_named() -> None:
    decision = route(requested="ollama/llama3.2:3b", available=frozenset({"ollama"}))
    assert (decision.upstream, decision.fallbacks) == ("llama3.2:3b", ())


@pytest.mark.parametrize(
    ("kwargs", "first"),
    [
        # the bucket mate closest in price comes first, whichever provider it is from
        ({"requested": "gpt-4o"}, ("gemini-2.5-pro", "gemini")),
        ({"prefer": "gpt-4o-mini"}, ("grok-3-mini", "xai")),
        ({"requested": "claude-sonnet"}, ("sonar-pro", "perplexity")),
        ({"requested": "groq-llama-8b"}, ("gpt-4o-mini", "openai")),
    ],
)
def test_a_named_model_fails_over_across_providers_within_its_bucket(
    kwargs: dict[str, Any], first: tuple[str, str]
) -> None:
    decision = route(**kwargs)
    assert decision.fallbacks[0] == first
    own = MODELS[decision.model]["bucket"]
    assert {p for _, p in decision.fallbacks} - {decision.provider}
    # Its own catalog bucket's mates come before mates from its other buckets.
    in_own = [own in buckets_of(m, MODELS[m]) for m, _ in decision.fallbacks]
    assert in_own == sorted(in_own, reverse=True)


@pytest.mark.parametrize("name", ["gpt-4o", "claude-sonnet", "groq-llama-8b"])
def test_a_strict_pin_never_fails_over(name: str) -> None:
    decision = ROUTER.route(
        CHAT,
        mode="balanced",
        available=ALL,
        prefer=None,
        requested_model=name,
        classification=sure(),
        strict=True,
    )
    assert decision.fallbacks == ()


@pytest.mark.parametrize(
    ("body", "feature"),
    [
        (TOOLS, "tools"),
        (JSON_MODE, "json"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "what is this"},
                            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}},
                        ],
                    }
                ]
            },
            "vision",
        ),
    ],
)
def test_failover_targets_have_every_feature_the_request_uses(
    body: dict[str, Any], feature: str
) -> None:
    for name in ("gpt-4o-mini", "claude-sonnet", "sonar"):
        try:
            decision = route(body, requested=name)
        except InvalidRequest:
            continue
        for model, _ in decision.fallbacks:
            if feature == "vision":
                assert model in VISION
            else:
                assert MODELS[model][feature]  # type: ignore[literal-required]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("task", TASK_TYPES)
def test_json_mode_requests_only_reach_models_with_a_json_mode(mode: str, task: str) -> None:
    """Claude has none: sport/simple, a Claude cell, answers JSON mode from another model."""
    decision = route(JSON_MODE, mode=mode, cls=sure(task))
    for model in (decision.model, *(m for m, _ in decision.fallbacks)):
        assert MODELS[model]["json"], model


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("task", TASK_TYPES)
@pytest.mark.parametrize(
    ("extra", "unable"),
    [
        ({"n": 2}, ONE_CHOICE_PROVIDERS),
        ({"logprobs": True}, NO_LOGPROBS_PROVIDERS),
        ({"logit_bias": {"1": -100}}, NO_LOGIT_BIAS_PROVIDERS),
        ({"functions": [{"name": "f", "parameters": {}}]}, NO_FUNCTIONS_PROVIDERS),
        (
            {"messages": [{"role": "user", "content": [PDF_PART]}]},
            CATALOG_PROVIDERS - FILE_PROVIDERS,
        ),
    ],
    ids=["n=2", "logprobs", "logit_bias", "functions", "pdf"],
)
def test_what_only_some_providers_return_reaches_only_them(
    mode: str, task: str, extra: dict[str, Any], unable: frozenset[str]
) -> None:
    """sport/simple is a Claude cell: model "auto" with n=2 was sent to Claude, which has no
    n, and the client got a 400 for a model it never chose."""
    decision = route({**CHAT, **extra}, mode=mode, cls=sure(task))
    for _, provider in ((decision.model, decision.provider), *decision.fallbacks):
        assert provider not in unable, (decision.model, provider)
    named = route({**CHAT, **extra}, requested="gpt-4o-mini", cls=sure(task))
    assert not {p for _, p in named.fallbacks} & unable


def test_the_logprobs_list_is_what_the_adapters_refuse() -> None:
    """A provider missing here would be routed a logprobs request it answers with a 400."""
    dropped = {name for name, vendor in VENDORS.items() if "logprobs" in vendor.drops}
    assert NO_LOGPROBS_PROVIDERS == dropped | {"anthropic", "gemini"}


def test_the_logit_bias_list_is_what_the_adapters_refuse() -> None:
    dropped = {name for name, vendor in VENDORS.items() if "logit_bias" in vendor.drops}
    assert NO_LOGIT_BIAS_PROVIDERS == dropped | {"anthropic", "gemini"}


def test_failover_respects_the_context_window() -> None:
    decision = route(requested="gpt-4o-mini", cls=sure(tokens=150_000))
    assert decision.fallbacks
    assert all(MODELS[m]["context"] >= 150_000 for m, _ in decision.fallbacks)


def test_every_catalog_model_is_in_a_bucket_and_every_bucket_is_used() -> None:
    table = membership()
    assert set(table) == set(BUCKETS)
    assert all(table[b] for b in BUCKETS)
    assert set(MODELS) == {m for ms in table.values() for m in ms}


@pytest.mark.parametrize(
    ("kwargs", "error", "code", "param", "text"),
    [
        ({"requested": "gpt-99"}, ModelNotFound, "model_not_found", "model", "gpt-99"),
        ({"requested": "openai/gpt-99"}, ModelNotFound, "model_not_found", "model", "gpt-99"),
        (
            {"requested": "ollama/llama3"},
            ModelNotFound,
            "model_not_found",
            "model",
            "ollama/llama3",
        ),
        (
            {"requested": "claude-opus", "available": frozenset({"openai"})},
            InvalidRequest,
            "provider_not_configured",
            "model",
            "no key configured for provider anthropic",
        ),
        (
            {"prefer": "claude-opus", "available": frozenset({"openai"})},
            InvalidRequest,
            "provider_not_configured",
            H.MODEL_PREFER,
            "no key configured for provider anthropic",
        ),
        ({"prefer": "gpt-99"}, InvalidRequest, "invalid_header", H.MODEL_PREFER, H.MODEL_PREFER),
        (
            {"available": frozenset()},
            InvalidRequest,
            "no_providers_configured",
            None,
            "no provider keys configured for this project",
        ),
        (
            {"requested": "gpt-4o", "available": frozenset()},
            InvalidRequest,
            "no_providers_configured",
            None,
            "no provider keys configured for this project",
        ),
        (
            {"available": frozenset({"ollama"})},
            InvalidRequest,
            "no_routable_provider",
            "model",
            "custom provider",
        ),
        ({"mode": "turbo"}, InvalidRequest, "invalid_header", H.MODE, H.MODE),
    ],
)
def test_choices_that_cannot_be_honoured(
    kwargs: dict[str, Any], error: type[Exception], code: str, param: str | None, text: str
) -> None:
    with pytest.raises(error) as caught:
        route(**kwargs)
    exc = caught.value
    assert isinstance(exc, InvalidRequest | ModelNotFound)
    assert (exc.code, exc.param) == (code, param)
    assert text in exc.message
    assert exc.status == (404 if error is ModelNotFound else 400)


def test_an_unknown_model_error_lists_none_of_the_projects_providers() -> None:
    with pytest.raises(ModelNotFound) as caught:
        route(requested="gpt-99", available=frozenset({"openai", "acme-internal"}))
    assert "openai" not in caught.value.message and "acme" not in caught.value.message


# ---- tier-up, provider and capability filtering ------------------------------------------


@pytest.mark.parametrize(
    ("mode", "confidence", "model", "reason"),
    [
        ("eco", 0.59, "groq/qwen3-32b", "tier-up:low-confidence;table:balanced/reasoning"),
        ("balanced", 0.2, "claude-opus-4-7", "tier-up:low-confidence;table:sport/reasoning"),
        ("sport", 0.1, "claude-opus-4-7", "table:sport/reasoning"),
        ("eco", LOW_CONFIDENCE, "groq/llama-3.1-8b-instant", "table:eco/reasoning"),
        ("balanced", 0.95, "groq/qwen3-32b", "table:balanced/reasoning"),
    ],
)
def test_low_confidence_routes_one_mode_up(
    mode: str, confidence: float, model: str, reason: str
) -> None:
    decision = route(mode=mode, cls=Classification("reasoning", confidence, (), 10))
    assert (decision.model, decision.reason, decision.mode) == (model, reason, mode)


@pytest.mark.parametrize(
    ("mode", "task", "available", "model", "reason"),
    [
        ("balanced", "simple", {"openai"}, "gpt-4o-mini", "alternate:balanced/simple"),
        (
            "balanced",
            "simple",
            {"anthropic", "xai"},
            "claude-haiku-4-5",
            "alternate:balanced/simple",
        ),
        (
            "eco",
            "complex",
            {"cerebras", "fireworks"},
            "cerebras/llama-3.3-70b",
            "alternate:eco/complex",
        ),
        ("sport", "code", {"deepseek"}, "deepseek-chat", "alternate:sport/code"),
        ("sport", "simple", {"mistral"}, "codestral-latest", "fallback:provider-unavailable"),
        ("balanced", "complex", {"perplexity"}, "sonar-pro", "fallback:provider-unavailable"),
        ("eco", "reasoning", {"anthropic"}, "claude-sonnet-4-6", "fallback:provider-unavailable"),
        ("balanced", "code", {"openai", "ollama"}, "gpt-5.4-mini", "alternate:balanced/code"),
    ],
)
def test_only_providers_the_project_holds_keys_for_are_used(
    mode: str, task: str, available: set[str], model: str, reason: str
) -> None:
    decision = route(mode=mode, available=frozenset(available), cls=sure(task))
    assert (decision.model, decision.reason) == (model, reason)
    assert all(p in available for _, p in decision.fallbacks)


def _catalog_with(model: str, **changes: Any) -> dict[str, ModelInfo]:
    models = dict(MODELS)
    models[model] = ModelInfo(**{**MODELS[model], **changes})  # type: ignore[typeddict-item]
    return models


@pytest.mark.parametrize(
    ("body", "cls", "available", "router", "model", "reason"),
    [
        (
            TOOLS,
            sure(),
            {"openai", "perplexity"},
            ROUTER,
            "gpt-4o-mini",
            "alternate:balanced/simple",
        ),
        (
            JSON_MODE,
            sure(),
            {"openai"},
            Router(models=_catalog_with("gpt-4o-mini", json=False)),
            "gpt-5.4-mini",
            "alternate:balanced/simple",
        ),
        (
            CHAT,
            sure("complex", 150_000),
            ALL,
            ROUTER,
            "gemini-2.5-pro",
            "alternate:balanced/complex",
        ),
        (
            {**CHAT, "max_tokens": 10_000},
            sure("complex", 120_000),
            ALL,
            ROUTER,
            "gemini-2.5-pro",
            "alternate:balanced/complex",
        ),
        (CHAT, sure("complex", 120_000), ALL, ROUTER, "gpt-4o", "table:balanced/complex"),
        (
            CHAT,
            sure("complex", 300_000),
            {"groq", "openai"},
            ROUTER,
            "gpt-5.4",
            "fallback:capability",
        ),
        (
            CHAT,
            sure("reasoning", 130_000),
            {"mistral"},
            ROUTER,
            "codestral-latest",
            "fallback:provider-unavailable;below-bucket",
        ),
        (CHAT, sure("code", 10), {"mistral"}, ROUTER, "codestral-latest", "table:balanced/code"),
    ],
)
def test_candidates_that_cannot_serve_the_request_are_skipped(
    body: dict[str, Any],
    cls: Classification,
    available: set[str],
    router: Router,
    model: str,
    reason: str,
) -> None:
    decision = route(body, available=frozenset(available), cls=cls, router=router)
    assert (decision.model, decision.reason) == (model, reason)


@pytest.mark.parametrize(
    ("body", "cls", "available", "text"),
    [
        (TOOLS, sure(), {"perplexity"}, "tools"),
        ({**CHAT, "n": 3}, sure(), {"anthropic", "groq"}, "n > 1"),
        (CHAT, sure("complex", 2_000_000), ALL, "2000000 tokens"),
    ],
)
def test_no_capable_model_is_a_clear_400(
    body: dict[str, Any], cls: Classification, available: set[str], text: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        route(body, available=frozenset(available), cls=cls)
    assert caught.value.code == "no_capable_model" and text in caught.value.message


# ---- properties --------------------------------------------------------------------------

classifications = st.builds(
    Classification,
    st.sampled_from(TASK_TYPES),
    st.floats(0.0, 1.0),
    st.just(()),
    st.integers(0, 1_200_000),
)
provider_sets = st.frozensets(st.sampled_from(sorted(CATALOG_PROVIDERS)), min_size=1).flatmap(
    lambda s: st.sets(st.sampled_from(["ollama", "vllm"])).map(s.union)
)


@settings(max_examples=500, deadline=None)
@given(
    available=provider_sets,
    mode=st.sampled_from(MODES),
    cls=classifications,
    tools=st.booleans(),
    json=st.booleans(),
    max_tokens=st.none() | st.integers(1, 50_000),
)
def test_auto_routing_uses_only_available_providers(
    available: frozenset[str],
    mode: str,
    cls: Classification,
    tools: bool,
    json: bool,
    max_tokens: int | None,
) -> None:
    body: dict[str, Any] = dict(TOOLS if tools else CHAT)
    if json:
        body["response_format"] = {"type": "json_schema", "json_schema": {}}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    need = cls.est_tokens + (max_tokens or 0)
    servable = [
        m
        for m, info in MODELS.items()
        if info["provider"] in available
        and (info["tools"] or not tools)
        and (info["json"] or not json)
        and need <= info["context"]
    ]
    try:
        decision = route(body, mode=mode, available=available, cls=cls)
    except InvalidRequest as exc:
        assert not servable and exc.code == "no_capable_model"
        return
    assert decision.provider in available and decision.model in servable
    assert decision.model not in {m for m, _ in decision.fallbacks}
    assert all(p in available and m in servable for m, p in decision.fallbacks)
    assert len({m for m, _ in decision.fallbacks}) == len(decision.fallbacks)
