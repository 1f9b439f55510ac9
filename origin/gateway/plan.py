"""The call plan: which models a request tries, in what order, and when a hedge starts."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from origin.gateway.attempts import Target, destination
from origin.gateway.call import Call
from origin.gateway.fusion import ROUTING_MODE as FUSION_ROUTING
from origin.observability.tracing import Tracing
from origin.routing.classifier import UNLABELLED, Classification, classify, estimate
from origin.routing.health import HealthBoard
from origin.routing.router import Router, pins
from origin.tenancy.keyring import Keyring
from shared.catalog import MODELS
from shared.errors import InvalidRequest, PrismError

# Models tried per request, the routed one included (hedges count too).
MAX_ATTEMPTS = 4
# The hedge delay when neither the client gave one nor the model has latency history.
DEFAULT_HEDGE_S = 1.0
PROBE_HEDGE_S = 0.2


class Planner:
    def __init__(self, router: Router, health: HealthBoard, tracing: Tracing) -> None:
        self.router, self.health, self.tracing = router, health, tracing

    def route(self, call: Call, keyring: Keyring) -> None:
        self._routed(call, keyring, classify(call.body))

    def route_unlabelled(self, call: Call, keyring: Keyring) -> None:
        """Route; a request naming its model owes its task type (`Call.pay_label`), which the
        dispatcher labels once the provider request is written: on the request's path,
        classifying took a fifth of what the gateway adds to a call."""
        if self.route_pinned(call, keyring):
            self.owe_label(call)
        else:
            self.route(call, keyring)

    def owe_label(self, call: Call) -> None:
        """A request `route_pinned` routed goes to its provider: its task type is paid once
        the provider request is written (`Call.pay_label`), not before."""
        call.owed_label = partial(self.label, call)

    def route_pinned(self, call: Call, keyring: Keyring) -> bool:
        """Route a request that names its model before its cache lookup, from the prompt's
        size alone (spend control reserves its worst case alongside the lookup, in the same
        round trip); `label` adds the task type if it goes to a provider. False, with nothing
        routed, for a request left to routing or one whose route fails (it is routed, and
        fails, after its lookup as before)."""
        if call.options.mode == "fusion" or not pins(
            call.body.get("model"), call.options.model_prefer
        ):
            return False
        try:
            self._routed(call, keyring, estimate(call.body))
        except PrismError:
            return False
        return True

    def label(self, call: Call) -> None:
        """The task type of a request `route_pinned` routed: the same route, now labelled."""
        with self.tracing.span("prism.classify") as span:
            found = classify(call.body)
            if span.is_recording():
                span.set_attributes(
                    {"prism.task_type": found.task_type, "prism.task_confidence": found.confidence}
                )
        if call.decision is not None:
            call.decision = replace(
                call.decision,
                task_type=found.task_type,
                confidence=found.confidence,
                signals=found.signals,
            )
        call.receipt.task_type, call.receipt.confidence = found.task_type, found.confidence

    def _routed(self, call: Call, keyring: Keyring, classification: Classification) -> None:
        with self.tracing.span("prism.route") as span:
            self._decide(call, keyring, classification)
            if span.is_recording():
                span.set_attributes(
                    {
                        "gen_ai.request.model": str(call.body.get("model")),
                        "prism.mode": call.options.mode,
                        "prism.route.model": call.receipt.model,
                        "prism.route.reason": call.receipt.route_reason,
                    }
                )
                if classification.task_type != UNLABELLED:  # else on its prism.classify span
                    span.set_attribute("prism.task_type", classification.task_type)

    def _decide(self, call: Call, keyring: Keyring, classification: Classification) -> None:
        try:
            decision = self.router.route(
                call.body,
                mode=FUSION_ROUTING if call.options.mode == "fusion" else call.options.mode,
                available=keyring.available,
                prefer=call.options.model_prefer,
                requested_model=call.body.get("model"),
                classification=classification,
                strict=call.options.strict_model,
            )
        except InvalidRequest as exc:
            if keyring.unusable and exc.code in KEYLESS:
                raise unusable_keys(keyring.unusable) from None
            raise
        call.decision = decision
        where = keyring.endpoints.get
        ordered = [
            Target(
                decision.model,
                decision.provider,
                decision.upstream,
                destination(where(decision.provider)),
            )
        ]
        for model, provider in decision.fallbacks:
            target = Target(
                model, provider, MODELS[model]["upstream"], destination(where(provider))
            )
            if target not in ordered and provider in keyring.endpoints:
                ordered.append(target)
        by_key = {t.key: t for t in ordered}
        call.candidates = [by_key[k] for k in self.health.order(by_key)]
        call.targets = call.candidates[:MAX_ATTEMPTS]
        call.attempts = [(t.model, t.provider, t.upstream) for t in call.targets]
        receipt = call.receipt
        receipt.task_type, receipt.confidence = decision.task_type, decision.confidence
        receipt.route_reason = decision.reason
        receipt.model, receipt.provider = decision.model, decision.provider

    def hedge_s(self, call: Call) -> float | None:
        options, targets = call.options, call.targets
        if len(targets) < 2:
            return None
        first = targets[0].key
        if self.health.weight(first) < 1.0:
            # A probe of a model that was failing, or a degraded one keeping its place: if it
            # fails or hangs again, the next one answers after about its usual time instead
            # of after the first one's deadline.
            return self.health.p90_s(targets[1].key) or PROBE_HEDGE_S
        wanted = options.hedge if options.hedge is not None else options.mode == "sport"
        if wanted:
            if options.hedge_delay_ms is not None:
                return options.hedge_delay_ms / 1000
            return self.health.p90_s(first) or DEFAULT_HEDGE_S
        if call.stream or options.hedge is False:
            return None  # a stream's attempts are cut at their first-byte deadline instead
        return self._hung_after_s(first)

    def _hung_after_s(self, key: str) -> float | None:
        """A whole answer has no first token to cut at: once the model's first-byte deadline
        has passed the attempt counts as hung, and the next model starts alongside it instead
        of the request waiting out the transport's timeout. Only for a model with a failure
        in its window: a spotless one takes the racer's cheaper path without a hedge (its
        first hang costs the timeout once and counts). None without a deadline of its own
        (no history, or health routing off)."""
        if not self.health.stats(key).fail:
            return None
        deadline = self.health.deadline_s(key)
        return deadline if deadline < self.health.config.max_deadline_s else None


# What the router says when the providers a request needs have no key; with a stored key this
# origin cannot use, that is the gateway's configuration, not the client's request.
KEYLESS = frozenset({"no_providers_configured", "provider_not_configured", "no_routable_provider"})


def unusable_keys(providers: frozenset[str]) -> PrismError:
    return PrismError(
        f"This project's provider key for {', '.join(sorted(providers))} cannot be used by the "
        "gateway: it does not decrypt with this origin's PRISM_MASTER_KEY (was it changed?) or "
        "its base URL is no longer allowed. Add the key again, or restore the master key.",
        code="provider_key_unusable",
    )
