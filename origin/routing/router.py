"""Choosing the model for one request among the providers its project holds keys for.

An explicit choice wins: the X-Prism-Model-Prefer header, then a concrete `model` in the body.
Otherwise ("auto" or no model) the classifier's task type picks a cell of the routing table
for the request's mode; a classification we're unsure of is routed one mode up, because a
too-weak model fails silently while a too-strong one only costs more. Everything the table
says is resolved against the catalog once, when the Router is built, so route() only filters
a handful of precomputed candidates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from origin.routing.candidates import (
    Candidate,
    Needs,
    candidate,
    mates,
    needs_of,
    refuse_unhonoured,
)
from origin.routing.classifier import TASK_TYPES, Classification
from origin.routing.table import ROUTING_TABLE
from shared import headers as H
from shared.catalog import MODELS, ModelInfo, resolve
from shared.errors import InvalidRequest, ModelNotFound
from shared.options import ROUTED_MODES
from shared.text import clean

# Below this classifier confidence the request is routed as if one mode higher.
LOW_CONFIDENCE: Final = 0.6
MODE_UP: Final = {"eco": "balanced", "balanced": "sport", "sport": "sport"}
# When no cell candidate is usable: catalog buckets as groups tried in order, cheapest model
# first within a group. The first group is what fits the task; the last one takes whatever
# the project's keys can still serve, since a weaker answer beats refusing the request.
FALLBACK_BUCKETS: Final[dict[str, tuple[tuple[str, ...], ...]]] = {
    "simple": (("small", "medium", "code", "reasoning", "large"),),
    "code": (("code",), ("medium", "large", "reasoning"), ("small",)),
    "reasoning": (("large", "reasoning", "medium"), ("code", "small")),
    "complex": (("large", "reasoning", "medium"), ("code", "small")),
}
AUTO_NAMES: Final = frozenset({"", "auto"})


def pins(requested_model: object, prefer: str | None) -> bool:
    """Whether the request names its model (or prefers one) instead of leaving it to routing:
    then the task type only labels the request and never changes where it goes."""
    if prefer:
        return True
    return isinstance(requested_model, str) and requested_model.strip().lower() not in AUTO_NAMES


@dataclass(frozen=True, slots=True)
class RouteDecision:
    model: str  # canonical catalog id, or "provider/model" for a custom provider
    provider: str
    upstream: str
    task_type: str
    confidence: float
    mode: str
    reason: str  # ";"-separated machine-readable parts, e.g. "table:balanced/simple"
    signals: tuple[str, ...]
    # (catalog id, provider), best first: the rest of the cell, then the chosen model's
    # bucket mates across providers (none for a strict pin, X-Prism-Fallback: none)
    fallbacks: tuple[tuple[str, str], ...]


class Router:
    def __init__(
        self,
        table: Mapping[str, Mapping[str, tuple[str, ...]]] = ROUTING_TABLE,
        models: Mapping[str, ModelInfo] = MODELS,
    ) -> None:
        self._models = {mid: candidate(mid, info) for mid, info in models.items()}
        self._providers = frozenset(c.provider for c in self._models.values())
        self._cells = {
            (mode, task): self._cell(table[mode][task])
            for mode in ROUTED_MODES
            for task in TASK_TYPES
        }
        by_cost = sorted(self._models.values(), key=lambda c: (c.cost, c.model))
        self._fallback = {
            task: tuple(c for group in groups for c in by_cost if c.bucket in group)
            for task, groups in FALLBACK_BUCKETS.items()
        }
        bucket_mates = {
            b: tuple(c for c in by_cost if b in c.buckets)
            for b in {b for c in by_cost for b in c.buckets}
        }
        # Every request extends its route with these: ordered once, not on each request.
        self._mates_of = {c.model: mates(c, bucket_mates) for c in self._models.values()}

    def _cell(self, names: tuple[str, ...]) -> tuple[Candidate, ...]:
        out: dict[str, Candidate] = {}
        for name in names:
            canonical = resolve(name)
            if canonical is None or canonical not in self._models:
                raise ValueError(f"routing table names {name!r}, which the catalog lacks")
            out.setdefault(canonical, self._models[canonical])
        return tuple(out.values())

    def route(
        self,
        body: Mapping[str, Any],
        *,
        mode: str,
        available: frozenset[str],
        prefer: str | None,
        requested_model: str | None,
        classification: Classification,
        strict: bool = False,
    ) -> RouteDecision:
        """`strict` (X-Prism-Fallback: none) keeps a named model from failing over at all."""
        if not available:
            raise InvalidRequest(
                "no provider keys configured for this project", code="no_providers_configured"
            )
        if mode not in MODE_UP:
            raise InvalidRequest(
                f"{H.MODE} must be one of {', '.join(ROUTED_MODES)}.",
                code="invalid_header",
                param=H.MODE,
            )
        needs = needs_of(body, classification)
        if prefer:
            decision = self._pinned(prefer, "prefer", mode, available, needs, classification)
        elif isinstance(requested_model, str) and pins(requested_model, None):
            decision = self._pinned(
                requested_model.strip(), "requested", mode, available, needs, classification
            )
        else:
            return self._extended(
                self._auto(mode, available, needs, classification), available, needs
            )
        if strict:
            return replace(decision, fallbacks=())
        return self._extended(decision, available, needs)

    def _extended(
        self, decision: RouteDecision, available: frozenset[str], needs: Needs
    ) -> RouteDecision:
        """The decision's fallbacks followed by its model's bucket mates, across providers."""
        chosen = self._models.get(decision.model)
        if chosen is None:
            return decision
        seen = {decision.model, *(m for m, _ in decision.fallbacks)}
        extra = [
            (c.model, c.provider)
            for c in self._mates_of[chosen.model]
            if c.model not in seen and c.provider in available and needs.met_by(c)
        ]
        return replace(decision, fallbacks=(*decision.fallbacks, *extra))

    def _auto(
        self, mode: str, available: frozenset[str], needs: Needs, cls: Classification
    ) -> RouteDecision:
        task = cls.task_type if cls.task_type in FALLBACK_BUCKETS else "simple"
        tier_up = cls.confidence < LOW_CONFIDENCE and MODE_UP[mode] != mode
        cell_mode = MODE_UP[mode] if tier_up else mode
        prefix = "tier-up:low-confidence;" if tier_up else ""
        cell = self._cells[(cell_mode, task)]
        usable = [c for c in cell if c.provider in available and needs.met_by(c)]
        if usable:
            kind = "table" if usable[0] is cell[0] else "alternate"
            return _decision(usable, f"{prefix}{kind}:{cell_mode}/{task}", mode, cls)
        usable = [c for c in self._fallback[task] if c.provider in available and needs.met_by(c)]
        if not usable:
            raise self._unservable(available, needs)
        held = any(c.provider in available for c in cell)
        why = "capability" if held else "provider-unavailable"
        weaker = ";below-bucket" if usable[0].bucket not in FALLBACK_BUCKETS[task][0] else ""
        return _decision(usable, f"{prefix}fallback:{why}{weaker}", mode, cls)

    def _pinned(
        self,
        name: str,
        source: str,
        mode: str,
        available: frozenset[str],
        needs: Needs,
        cls: Classification,
    ) -> RouteDecision:
        shown = clean(name)[:100]
        where = H.MODEL_PREFER if source == "prefer" else "model"
        found = self._lookup(name)
        if found is None:
            provider, _, upstream = name.partition("/")
            if upstream and provider in available and provider not in self._providers:
                return RouteDecision(
                    name,
                    provider,
                    upstream,
                    cls.task_type,
                    cls.confidence,
                    mode,
                    f"{source}:custom",
                    cls.signals,
                    (),
                )
            if source == "prefer":
                raise InvalidRequest(
                    f"{H.MODEL_PREFER} names an unknown model {shown!r}.",
                    code="invalid_header",
                    param=where,
                )
            raise ModelNotFound(
                f"The model {shown!r} does not exist or is not available to this project.",
                param="model",
            )
        if found.provider not in available:
            raise InvalidRequest(
                f"no key configured for provider {found.provider} (needed by {where} {shown!r})",
                code="provider_not_configured",
                param=where,
            )
        refuse_unhonoured(found, needs)
        return _decision([found], source, mode, cls)

    def _lookup(self, name: str) -> Candidate | None:
        canonical = resolve(name)
        if canonical is None:
            # "openai/gpt-4o" style: a catalog provider's prefix on one of its own models.
            provider, _, rest = name.partition("/")
            canonical = resolve(rest) if rest and provider in self._providers else None
            if canonical is not None and self._models[canonical].provider != provider:
                canonical = None
        return self._models.get(canonical) if canonical is not None else None

    def _unservable(self, available: frozenset[str], needs: Needs) -> InvalidRequest:
        if not available & self._providers:
            return InvalidRequest(
                "automatic routing needs a key for a catalog provider; name a "
                "model as '<provider>/<model>' to use a custom provider",
                code="no_routable_provider",
                param="model",
            )
        asked = (
            ("tools", needs.tools),
            ("JSON mode", needs.json),
            ("images", needs.vision),
            ("n > 1", needs.choices),
            ("logprobs", needs.logprobs),
            ("functions", needs.functions),
            ("files", needs.files),
            ("reasoning_effort", needs.reasoning),
            ("logit_bias", needs.logit_bias),
        )
        wants = [w for w, on in asked if on]
        wants.append(f"about {needs.tokens} tokens of context")
        return InvalidRequest(
            "no model from this project's providers can serve this request "
            f"(needs {', '.join(wants)})",
            code="no_capable_model",
        )


def _decision(
    usable: list[Candidate], reason: str, mode: str, cls: Classification
) -> RouteDecision:
    chosen = usable[0]
    return RouteDecision(
        chosen.model,
        chosen.provider,
        chosen.upstream,
        cls.task_type,
        cls.confidence,
        mode,
        reason,
        cls.signals,
        tuple((c.model, c.provider) for c in usable[1:]),
    )
