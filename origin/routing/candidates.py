"""The catalog's models as the router filters them, and what a request needs of one.

Everything here is resolved once, when the Router is built (a candidate per catalog model,
each model's bucket mates in order), except a request's needs, read from its body; route()
then only compares the two. Kept apart from origin.routing.router so the choosing there
reads without the bookkeeping that makes it cheap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from origin.routing.buckets import VISION, buckets_of
from origin.routing.classifier import Classification
from shared.catalog import ModelInfo
from shared.errors import InvalidRequest

# What a provider's API cannot give back whatever the model, so a request asking for it is
# never routed or failed over there: more than one choice (Anthropic has no `n`, Groq refuses
# n > 1, Perplexity ignores it), token logprobs or logit_bias (the adapters refuse a request
# for them there, origin.providers.content.refuse_logprobs and refuse_logit_bias; tests hold
# the lists together), or a `function_call` answer to the deprecated `functions` (only
# OpenAI's format has one). Whether a model takes reasoning_effort is the catalog's.
ONE_CHOICE_PROVIDERS = frozenset({"anthropic", "groq", "perplexity"})
NO_LOGPROBS_PROVIDERS = frozenset({"anthropic", "gemini", "groq", "mistral", "perplexity"})
NO_LOGIT_BIAS_PROVIDERS = NO_LOGPROBS_PROVIDERS | {"deepseek", "cerebras"}
NO_FUNCTIONS_PROVIDERS = frozenset({"anthropic", "gemini"})
# Whose vision models read a document sent as an OpenAI `file` part (a PDF): OpenAI's own,
# and Claude's and Gemini's through their adapters.
FILE_PROVIDERS = frozenset({"openai", "anthropic", "gemini"})


@dataclass(frozen=True, slots=True)
class Candidate:
    model: str
    provider: str
    upstream: str
    bucket: str
    context: int
    tools: bool
    json: bool
    cost: float  # blended $/M tokens, only for ordering fallbacks
    buckets: tuple[str, ...] = ()
    vision: bool = False
    choices: bool = True  # can answer with n > 1 choices
    logprobs: bool = True
    functions: bool = True  # takes the deprecated functions / function_call
    files: bool = False  # reads `file` content parts
    reasoning: bool = False  # takes reasoning_effort
    logit_bias: bool = True


@dataclass(frozen=True, slots=True)
class Needs:
    tools: bool
    json: bool
    tokens: int
    vision: bool = False
    choices: bool = False  # n > 1
    logprobs: bool = False
    functions: bool = False
    files: bool = False
    reasoning: bool = False  # reasoning_effort
    logit_bias: bool = False

    def met_by(self, c: Candidate) -> bool:
        return (
            (c.tools or not self.tools)
            and (c.json or not self.json)
            and (c.vision or not self.vision)
            and (c.choices or not self.choices)
            and (c.logprobs or not self.logprobs)
            and (c.functions or not self.functions)
            and (c.files or not self.files)
            and (c.reasoning or not self.reasoning)
            and (c.logit_bias or not self.logit_bias)
            and self.tokens <= c.context
        )


def candidate(model: str, info: ModelInfo) -> Candidate:
    prices = info["prices"]
    cost = (3 * float(prices[0]) + float(prices[1])) / 4  # a typical 3:1 input:output blend
    return Candidate(
        model,
        info["provider"],
        info["upstream"],
        info["bucket"],
        info["context"],
        info["tools"],
        info["json"],
        cost,
        buckets_of(model, info),
        model in VISION,
        info["provider"] not in ONE_CHOICE_PROVIDERS,
        info["provider"] not in NO_LOGPROBS_PROVIDERS,
        info["provider"] not in NO_FUNCTIONS_PROVIDERS,
        info["provider"] in FILE_PROVIDERS and model in VISION,
        info["reasoning"],
        info["provider"] not in NO_LOGIT_BIAS_PROVIDERS,
    )


def needs_of(body: Mapping[str, Any], cls: Classification) -> Needs:
    tools = any(isinstance(body.get(k), list) and body[k] for k in ("tools", "functions"))
    fmt = body.get("response_format")
    json = isinstance(fmt, Mapping) and fmt.get("type") in ("json_object", "json_schema")
    out = body.get("max_completion_tokens", body.get("max_tokens"))
    reserve = out if isinstance(out, int) and not isinstance(out, bool) and out > 0 else 0
    n = body.get("n")
    many = isinstance(n, int) and not isinstance(n, bool) and n > 1
    return Needs(
        bool(tools),
        json,
        cls.est_tokens + reserve,
        _uses_part(body, "image_url"),
        many,
        body.get("logprobs") is True,
        bool(body.get("functions")) or body.get("function_call") is not None,
        _uses_part(body, "file"),
        body.get("reasoning_effort") is not None,
        bool(body.get("logit_bias")),  # an empty map biases nothing
    )


def refuse_unhonoured(c: Candidate, needs: Needs) -> None:
    """A 400 naming reasoning_effort for a model the client named that cannot take it, as
    its own API would answer (OpenAI's does for gpt-4o), rather than an answer that ignored
    it. Whether a model takes it is the catalog's, so it is refused here, not by an adapter
    (those refuse what a whole provider cannot do, origin.providers.content)."""
    if needs.reasoning and not c.reasoning:
        raise InvalidRequest(
            f"{c.model} does not take reasoning_effort; leave it out or use a model that "
            "can (model 'auto' picks one)",
            param="reasoning_effort",
        )


def _uses_part(body: Mapping[str, Any], kind: str) -> bool:
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, list) and any(
            isinstance(p, Mapping) and p.get("type") == kind for p in content
        ):
            return True
    return False


def mates(
    found: Candidate, bucket_mates: dict[str, tuple[Candidate, ...]]
) -> tuple[Candidate, ...]:
    """Models sharing a bucket with `found`: its own bucket first, closest price first."""
    out: dict[str, Candidate] = {}
    for bucket in found.buckets:
        ordered = sorted(
            bucket_mates[bucket],
            key=lambda c: (abs(math.log((c.cost + 1e-6) / (found.cost + 1e-6))), c.model),
        )
        for c in ordered:
            if c is not found:
                out.setdefault(c.model, c)
    return tuple(out.values())
